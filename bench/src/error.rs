//! The one error type of the bench crate.

/// Why a bench step failed. Messages name files, fields and counts, never record content.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A file could not be read or written, or a child process could not be run.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A workload file does not match its manifest.
    #[error("workload check failed: {0}")]
    Workload(String),
    /// A workload document could not be parsed or mapped (line number and field only).
    #[error("document {line} of {file}: {reason}")]
    Document {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The store refused something.
    #[error("store: {0}")]
    Store(#[from] ipc_core::store::StoreError),
    /// A sync failed.
    #[error("sync: {0}")]
    Sync(#[from] ipc_core::sync::engine::SyncError),
    /// The model refused a mapped value.
    #[error("model: {0}")]
    Model(#[from] ipc_core::model::ModelError),
    /// A JSON value could not be (de)serialised.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// An HTTP exchange failed or answered unexpectedly.
    #[error("http: {0}")]
    Http(String),
    /// A child process misbehaved (exited, printed something unexpected).
    #[error("child process {name}: {reason}")]
    Child {
        /// Which child.
        name: String,
        /// What happened.
        reason: String,
    },
    /// A measured run did not verify (counts differ, sync incomplete).
    #[error("verification failed: {0}")]
    Verify(String),
    /// The server failed.
    #[error("server: {0}")]
    Server(String),
}

/// Result with [`BenchError`].
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

impl BenchError {
    /// An I/O error with context.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io {
            what: what.into(),
            source,
        }
    }
}
