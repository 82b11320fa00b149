//! Where the wrong-PIN counter lives: a small file beside the database
//! (`<db file name>.pin-attempts`), replaced atomically.
//!
//! It is kept out of the database so that a wrong PIN never writes to the store file itself
//! (a failed unlock leaves the data files byte-for-byte as they were), while still surviving
//! restarts: the attempt is saved as failed *before* the PIN is checked. A damaged counter
//! file is read as "locked out" — the recovery code still opens the store — so tampering with
//! it can never grant more attempts.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::error::{Result, StoreError};
use super::keys::AttemptState;

/// The counter file of one store.
#[derive(Clone, Debug)]
pub struct AttemptFile {
    path: PathBuf,
}

impl AttemptFile {
    /// The counter file beside the database at `db_path`.
    pub fn beside(db_path: &Path) -> Result<AttemptFile> {
        let name = db_path.file_name().ok_or(StoreError::InvalidOperation(
            "the store path has no file name",
        ))?;
        let mut file = name.to_os_string();
        file.push(".pin-attempts");
        Ok(AttemptFile {
            path: db_path.with_file_name(file),
        })
    }

    /// Path of the counter file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the state; a missing file means no failures, a damaged one means locked out.
    pub fn load(&self) -> Result<AttemptState> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or(AttemptState {
                failures: u32::MAX,
                last_failure_unix_ms: None,
                locked_out: true,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AttemptState::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Replace the state durably (temporary file, fsync, rename, fsync directory).
    pub fn save(&self, state: &AttemptState) -> Result<()> {
        let mut tmp_name = self.path.as_os_str().to_os_string();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec(state)?)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Directory fsync is best effort (not every platform allows opening a directory).
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_is_clean_damaged_is_locked_and_saves_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let f = AttemptFile::beside(&dir.path().join("x.db")).unwrap();
        assert_eq!(f.load().unwrap(), AttemptState::default());
        let s = AttemptState {
            failures: 3,
            last_failure_unix_ms: Some(5),
            locked_out: false,
        };
        f.save(&s).unwrap();
        assert_eq!(f.load().unwrap(), s);
        assert!(f.path().ends_with("x.db.pin-attempts"));
        fs::write(f.path(), b"garbage").unwrap();
        assert!(f.load().unwrap().locked_out);
    }
}
