//! The server's error type: storage, configuration and admin failures, each with a message
//! that says what to do. Messages never carry personal data (names, tokens, op bodies).

use ipc_core::model::{ClientId, DeviceId, Role, WorkerId};

/// Result of a server operation.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// Why a server operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The storage URL is neither `sqlite:PATH`, a path, nor `postgres://…`.
    #[error("storage URL not understood ({0}); use sqlite:PATH, a file path, or postgres://USER@HOST:PORT/DB")]
    BadStorageUrl(String),
    /// SQLite failed.
    #[error("SQLite storage failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL failed.
    #[error("PostgreSQL storage failed: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// No PostgreSQL connection could be had from the pool.
    #[error("PostgreSQL connection pool: {0}")]
    Pool(String),
    /// The database was written by a newer server.
    #[error("the database schema is version {found}, newer than this server supports ({supported}); upgrade the server")]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A stored value could not be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// No such worker.
    #[error("no worker with id {0}")]
    UnknownWorker(WorkerId),
    /// No such device.
    #[error("no device with id {0}")]
    UnknownDevice(DeviceId),
    /// The client belongs to another organisation.
    #[error("client {0} belongs to another organisation")]
    ForeignClient(ClientId),
    /// Clients are assigned to workers only.
    #[error("clients can only be assigned to workers, not to a {0}")]
    NotAWorker(Role),
    /// The issuer may not issue an enrolment code for that worker.
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// An argument is out of range.
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    /// The system random generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A background task panicked or was cancelled.
    #[error("a storage task did not finish")]
    Task,
    /// I/O (binding the listener, serving).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<deadpool_postgres::PoolError> for ServerError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        ServerError::Pool(e.to_string())
    }
}
