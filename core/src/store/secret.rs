//! The device secret: a random value kept outside the database (the platform keystore on
//! phones, a file beside the database for the CLI) that the store's key hierarchy mixes into
//! every key-encryption key. Owns the [`SecretStore`] trait and its file and memory backends.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::store::crypto::CryptoError;

/// Name under which the store keeps its device secret.
pub const DEVICE_SECRET_NAME: &str = "device";
/// Length of a secret made by [`generate_device_secret`].
pub const DEVICE_SECRET_LEN: usize = 32;

const MAX_NAME_LEN: usize = 64;
/// Upper bound on a secret file's size; anything larger is not one of ours.
const MAX_SECRET_LEN: u64 = 4096;

/// Errors from a [`SecretStore`]. Messages never contain secrets or file paths.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretStoreError {
    /// The keystore is locked or not available (e.g. before first device unlock).
    #[error("secret store is locked or not available")]
    NotAvailable,
    /// A different secret is already stored under this name; it is never overwritten.
    #[error("a different secret is already stored under this name")]
    AlreadyExists,
    /// The name is empty, too long, or has characters other than ASCII letters, digits, `-`, `_`.
    #[error("invalid secret name (use 1-64 ASCII letters, digits, '-' or '_')")]
    InvalidName,
    /// An empty secret was offered to `put`.
    #[error("secret must not be empty")]
    EmptySecret,
    /// The stored secret is unreadable (empty or oversized).
    #[error("stored secret is corrupt")]
    Corrupt,
    /// An I/O error, by kind only.
    #[error("secret store I/O error: {kind}")]
    Io {
        /// What went wrong.
        kind: io::ErrorKind,
    },
    /// Any other failure of a platform keystore; the text must not contain secrets.
    #[error("secret store error: {0}")]
    Other(String),
}

impl From<io::Error> for SecretStoreError {
    fn from(e: io::Error) -> Self {
        SecretStoreError::Io { kind: e.kind() }
    }
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, SecretStoreError>;

/// Named secrets kept outside the database. Phone shells implement it on the platform keystore
/// (Android Keystore-backed storage, iOS Keychain with a this-device-only accessibility class).
///
/// Contract for implementations:
/// - `get` returns `Ok(None)` when nothing is stored under `name`.
/// - `put` stores a new secret; if the same bytes are already stored it succeeds, if different
///   bytes are stored it fails with [`SecretStoreError::AlreadyExists`] and leaves them intact
///   (an overwritten device secret makes the store undecryptable).
/// - `delete` removes the secret and succeeds if there was none.
pub trait SecretStore: Send + Sync {
    /// Reads the secret stored under `name`.
    fn get(&self, name: &str) -> std::result::Result<Option<Vec<u8>>, SecretStoreError>;
    /// Stores `secret` under `name`, refusing to replace a different one.
    fn put(&self, name: &str, secret: &[u8]) -> std::result::Result<(), SecretStoreError>;
    /// Removes the secret stored under `name`.
    fn delete(&self, name: &str) -> std::result::Result<(), SecretStoreError>;
}

/// Generates a fresh 32-byte device secret, zeroized when dropped.
pub fn generate_device_secret(
) -> std::result::Result<Zeroizing<[u8; DEVICE_SECRET_LEN]>, CryptoError> {
    let mut secret = Zeroizing::new([0u8; DEVICE_SECRET_LEN]);
    SystemRandom::new()
        .fill(secret.as_mut())
        .map_err(|_| CryptoError::Rng)?;
    Ok(secret)
}

fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(SecretStoreError::InvalidName)
    }
}

/// Equality without an early exit on the first differing byte.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Keeps each secret in its own file beside the database: secret `name` of `clinic.db` lives in
/// `clinic.db.<name>.secret`. For the CLI and tests; phones use the platform keystore.
///
/// Files are created with mode 0600 on unix and published atomically without ever replacing an
/// existing file (temp file, fsync, hard link to the final name, fsync of the directory), so a
/// crash leaves either no secret or the complete one. Copying the database together with its
/// secret file defeats the device binding: back them up separately.
#[derive(Debug, Clone)]
pub struct FileSecretStore {
    dir: PathBuf,
    db_file_name: String,
}

impl FileSecretStore {
    /// A store for the database at `db_path` (which need not exist yet). Fails with
    /// [`SecretStoreError::InvalidName`] if the path has no UTF-8 file name.
    pub fn beside(db_path: &Path) -> Result<FileSecretStore> {
        let db_file_name = db_path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or(SecretStoreError::InvalidName)?
            .to_owned();
        let dir = match db_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(FileSecretStore { dir, db_file_name })
    }

    /// Path of the file holding secret `name`.
    pub fn path_for(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        Ok(self
            .dir
            .join(format!("{}.{}.secret", self.db_file_name, name)))
    }

    fn read(path: &Path) -> Result<Option<Vec<u8>>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut secret = Vec::new();
        file.take(MAX_SECRET_LEN + 1).read_to_end(&mut secret)?;
        if secret.is_empty() || secret.len() as u64 > MAX_SECRET_LEN {
            secret.fill(0);
            return Err(SecretStoreError::Corrupt);
        }
        Ok(Some(secret))
    }

    fn write_new(&self, temp: &Path, secret: &[u8]) -> io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(temp)?;
        file.write_all(secret)?;
        file.sync_all()
    }

    fn sync_dir(&self) -> io::Result<()> {
        #[cfg(unix)]
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    fn temp_path(&self, name: &str) -> Result<PathBuf> {
        let mut nonce = [0u8; 8];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SecretStoreError::Other("random number generator failed".into()))?;
        let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        Ok(self.dir.join(format!(
            ".{}.{}.secret.tmp-{suffix}",
            self.db_file_name, name
        )))
    }
}

impl SecretStore for FileSecretStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        Self::read(&self.path_for(name)?)
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<()> {
        let path = self.path_for(name)?;
        if secret.is_empty() {
            return Err(SecretStoreError::EmptySecret);
        }
        let temp = self.temp_path(name)?;
        let linked =
            self.write_new(&temp, secret)
                .and_then(|()| match fs::hard_link(&temp, &path) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(e),
                });
        // The temp file holds the secret: remove it whatever happened.
        let removed = fs::remove_file(&temp);
        if linked? {
            removed?;
            self.sync_dir()?;
            return Ok(());
        }
        let existing = Zeroizing::new(Self::read(&path)?.unwrap_or_default());
        if same_secret(&existing, secret) {
            Ok(())
        } else {
            Err(SecretStoreError::AlreadyExists)
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        match fs::remove_file(self.path_for(name)?) {
            Ok(()) => Ok(self.sync_dir()?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Keeps secrets in memory, for tests. Same contract as the file store.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    secrets: Mutex<HashMap<String, Zeroizing<Vec<u8>>>>,
}

impl MemorySecretStore {
    /// An empty store.
    pub fn new() -> MemorySecretStore {
        MemorySecretStore::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<String, Zeroizing<Vec<u8>>>>> {
        self.secrets
            .lock()
            .map_err(|_| SecretStoreError::Other("memory secret store lock poisoned".into()))
    }
}

impl SecretStore for MemorySecretStore {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        check_name(name)?;
        Ok(self.lock()?.get(name).map(|s| s.to_vec()))
    }

    fn put(&self, name: &str, secret: &[u8]) -> Result<()> {
        check_name(name)?;
        if secret.is_empty() {
            return Err(SecretStoreError::EmptySecret);
        }
        let mut secrets = self.lock()?;
        match secrets.get(name) {
            Some(existing) if same_secret(existing, secret) => Ok(()),
            Some(_) => Err(SecretStoreError::AlreadyExists),
            None => {
                secrets.insert(name.to_owned(), Zeroizing::new(secret.to_vec()));
                Ok(())
            }
        }
    }

    fn delete(&self, name: &str) -> Result<()> {
        check_name(name)?;
        self.lock()?.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_store(dir: &tempfile::TempDir) -> FileSecretStore {
        FileSecretStore::beside(&dir.path().join("clinic.db")).unwrap()
    }

    /// The behaviour every backend must share.
    fn check_contract(store: &dyn SecretStore) {
        assert_eq!(store.get(DEVICE_SECRET_NAME).unwrap(), None);
        let secret = generate_device_secret().unwrap();
        store.put(DEVICE_SECRET_NAME, secret.as_ref()).unwrap();
        assert_eq!(
            store.get(DEVICE_SECRET_NAME).unwrap().as_deref(),
            Some(&secret[..])
        );
        // Same bytes again: idempotent. Different bytes: refused and the original is kept.
        store.put(DEVICE_SECRET_NAME, secret.as_ref()).unwrap();
        assert_eq!(
            store.put(DEVICE_SECRET_NAME, &[9; 32]),
            Err(SecretStoreError::AlreadyExists)
        );
        assert_eq!(
            store.get(DEVICE_SECRET_NAME).unwrap().as_deref(),
            Some(&secret[..])
        );
        assert_eq!(store.put("other", b""), Err(SecretStoreError::EmptySecret));
        for bad in ["", "../x", "a/b", "a.b", &"n".repeat(65)] {
            assert_eq!(store.get(bad), Err(SecretStoreError::InvalidName), "{bad}");
            assert_eq!(store.put(bad, b"s"), Err(SecretStoreError::InvalidName));
        }
        store.delete(DEVICE_SECRET_NAME).unwrap();
        assert_eq!(store.get(DEVICE_SECRET_NAME).unwrap(), None);
        store.delete(DEVICE_SECRET_NAME).unwrap();
        store.put(DEVICE_SECRET_NAME, &[9; 32]).unwrap();
    }

    #[test]
    fn memory_store_follows_contract() {
        check_contract(&MemorySecretStore::new());
    }

    #[test]
    fn file_store_follows_contract() {
        let dir = tempfile::tempdir().unwrap();
        check_contract(&file_store(&dir));
    }

    #[test]
    fn file_store_persists_across_instances_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        file_store(&dir)
            .put(DEVICE_SECRET_NAME, b"synthetic")
            .unwrap();
        assert_eq!(
            file_store(&dir).get(DEVICE_SECRET_NAME).unwrap().as_deref(),
            Some(&b"synthetic"[..])
        );
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["clinic.db.device.secret"]);
        // Refused even from a fresh instance.
        assert_eq!(
            file_store(&dir).put(DEVICE_SECRET_NAME, b"different"),
            Err(SecretStoreError::AlreadyExists)
        );
    }

    #[cfg(unix)]
    #[test]
    fn file_store_creates_owner_only_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir);
        store.put(DEVICE_SECRET_NAME, b"synthetic").unwrap();
        let mode = fs::metadata(store.path_for(DEVICE_SECRET_NAME).unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn file_store_reports_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(&dir);
        let path = store.path_for(DEVICE_SECRET_NAME).unwrap();
        fs::write(&path, b"").unwrap();
        assert_eq!(
            store.get(DEVICE_SECRET_NAME),
            Err(SecretStoreError::Corrupt)
        );
        fs::write(&path, vec![1u8; MAX_SECRET_LEN as usize + 1]).unwrap();
        assert_eq!(
            store.get(DEVICE_SECRET_NAME),
            Err(SecretStoreError::Corrupt)
        );
    }

    #[test]
    fn file_store_paths() {
        let store = FileSecretStore::beside(Path::new("/data/clinic.db")).unwrap();
        assert_eq!(
            store.path_for("device").unwrap(),
            Path::new("/data/clinic.db.device.secret")
        );
        let relative = FileSecretStore::beside(Path::new("clinic.db")).unwrap();
        assert_eq!(
            relative.path_for("device").unwrap(),
            Path::new("./clinic.db.device.secret")
        );
        assert_eq!(
            FileSecretStore::beside(Path::new("/")).unwrap_err(),
            SecretStoreError::InvalidName
        );
    }

    #[test]
    fn generated_secrets_are_random() {
        let a = generate_device_secret().unwrap();
        let b = generate_device_secret().unwrap();
        assert_ne!(*a, *b);
        assert_ne!(*a, [0; DEVICE_SECRET_LEN]);
    }

    #[test]
    fn trait_is_object_safe_and_shareable() {
        let store: std::sync::Arc<dyn SecretStore> = std::sync::Arc::new(MemorySecretStore::new());
        assert_eq!(store.get("device").unwrap(), None);
    }
}
