//! ipc-core: the offline-first core of ipc-kit, for Interpersonal Counselling (IPC)
//! delivered by community health workers.
//!
//! - [`model`]: the domain types and their validation.
//! - [`instruments`]: questionnaire definitions (PHQ-2, PHQ-9, GAD-7) as data, and scoring.
//! - [`protocol`]: the IPC course — phases, agenda, rules, reminders and flags.
//! - [`store`]: the encrypted SQLite store with its one write path.
//! - [`sync`]: hybrid logical clock, operations and merge.
//!
//! No FFI types and no async runtime live here: the bindings and the server wrap this crate.

pub mod clock;
mod embedded;
pub mod error;
pub mod instruments;
pub mod model;
pub mod protocol;
pub mod store;
pub mod sync;

pub use error::{Error, Result};

/// Version of this crate.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
