//! Errors of the encrypted store. Messages name what went wrong and what to do, never the
//! personal data involved (no names, notes, answers, PINs, keys or file contents).

use crate::model::ModelError;
use crate::store::crypto::CryptoError;
use crate::store::keys::KeyError;
use crate::store::secret::SecretStoreError;
use crate::sync::op::EntityKind;

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No store exists at the path.
    #[error("no store at that path: run `init` first")]
    NotFound,
    /// `create` was asked to overwrite an existing file.
    #[error("a file already exists at that path; refusing to overwrite it")]
    AlreadyExists,
    /// The file is not a SQLite database (or its header is damaged).
    #[error("the file is not a database (or its header is damaged); it was left untouched")]
    NotADatabase,
    /// The file is a SQLite database, but not an ipc-kit store.
    #[error("the file is a database but not an ipc-kit store; it was left untouched")]
    ForeignDatabase,
    /// The database is damaged.
    #[error("the store is damaged; it was left untouched — keep the file and contact support so unsynced data can be recovered")]
    Corrupt,
    /// The store was written by a newer version of the app.
    #[error("the store has schema version {found}, newer than this app supports ({supported}); update the app")]
    NewerSchema {
        /// Version found in the file.
        found: u32,
        /// Highest version this build knows.
        supported: u32,
    },
    /// The device secret for this store is missing from the secret store.
    #[error(
        "the device secret for this store is missing; the store cannot be unlocked on this device"
    )]
    DeviceSecretMissing,
    /// The store is locked: unlock it with the PIN first.
    #[error("the store is locked; unlock it with the PIN first")]
    Locked,
    /// Wrong PIN.
    #[error("wrong PIN ({attempts_left} attempts left before lock-out)")]
    WrongPin {
        /// Attempts left before lock-out.
        attempts_left: u32,
    },
    /// Too many wrong PINs recently: wait.
    #[error("too many wrong PINs; try again in {retry_after_ms} ms")]
    TooSoon {
        /// How long to wait.
        retry_after_ms: u64,
    },
    /// Locked out after too many wrong PINs: use the recovery code.
    #[error("locked out after too many wrong PINs; unlock with the recovery code held by your supervisor")]
    LockedOut,
    /// Key-management failure (bad PIN format, wrong recovery code, …).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Encryption or decryption failure (a ciphertext was damaged or moved).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The platform secret store failed.
    #[error(transparent)]
    Secret(#[from] SecretStoreError),
    /// A value failed validation.
    #[error(transparent)]
    Validation(#[from] ModelError),
    /// The record does not exist (or was deleted).
    #[error("no {kind} with that id")]
    NoSuchRecord {
        /// Kind of the record.
        kind: EntityKind,
    },
    /// Records of this kind are append-only.
    #[error("{kind} records are append-only and cannot be changed")]
    AppendOnly {
        /// Kind of the record.
        kind: EntityKind,
    },
    /// An operation is malformed (unknown field, wrong scope, …).
    #[error("invalid operation: {0}")]
    InvalidOperation(&'static str),
    /// An operation names a field its kind does not have.
    #[error("invalid operation: {kind} has no field `{field}`")]
    UnknownField {
        /// Kind of the record.
        kind: EntityKind,
        /// The field name (a schema name, not a value).
        field: String,
    },
    /// A stored or received value could not be decoded.
    #[error("could not decode a stored value ({0})")]
    Decode(&'static str),
    /// File-system failure.
    #[error("file error: {0}")]
    Io(std::io::ErrorKind),
    /// SQLite failure.
    #[error("database error: {0}")]
    Sqlite(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt,
            Some(ErrorCode::NotADatabase) => StoreError::NotADatabase,
            // Constraint and other messages carry table/column names only: values are always
            // bound as parameters, never spliced into SQL.
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.kind())
    }
}

impl From<serde_json::Error> for StoreError {
    // serde_json messages can quote the offending value; keep only the category.
    fn from(e: serde_json::Error) -> Self {
        StoreError::Decode(match e.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        })
    }
}
