//! The crate-level error: one enum wrapping each module's error, so callers that span
//! modules (the CLI, the bindings) convert in one place.

use crate::model::ModelError;
use crate::store::StoreError;

/// Result of cross-module calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Any error of the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Storage, keys or encryption.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Validation of a domain value.
    #[error(transparent)]
    Model(#[from] ModelError),
}
