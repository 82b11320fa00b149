//! ipc-bindings: the thin uniffi facade over `ipc-core` for the Android and iOS shells
//! (Kotlin package `org.ipckit`, Swift module `IpcKit`).
//!
//! - [`store`]: [`IpcStore`], the one object the shells hold: lifecycle (create, open,
//!   unlock, lock, PIN change, recovery) and the read side (caseload, worklist, supervisor
//!   queue, case view and trajectory, the records of a client).
//! - [`course`]: the write side: clients, screening, courses, sessions, inventory, timeline,
//!   risk, referrals, notes — each one call into the core's course engine.
//! - [`instruments`]: questionnaires for rendering (translations, fallbacks) and scoring.
//! - [`sync`]: enrolment and sync (async on the foreign side).
//! - [`foreign`]: the traits the shells implement (keystore, HTTP, observers).
//! - [`records`], [`types`]: FFI copies of the core's records and enums.
//! - [`error`]: the one public error, [`IpcError`], converted from the core's in one place.
//!
//! Storage calls are synchronous (the shells call them off the main thread); only the calls
//! that touch the network are async. No panic crosses the FFI: uniffi catches them at every
//! exported call (the release profile keeps `panic = "unwind"`), background work catches its
//! own, and every callback returns a result.

uniffi::setup_scaffolding!();

pub mod course;
pub mod error;
pub mod foreign;
pub mod instruments;
pub mod records;
pub mod store;
pub mod sync;
mod task;
pub mod types;

pub use error::IpcError;
pub use store::{create_store, IpcStore, NewStore};

/// Version of the core these bindings wrap.
#[uniffi::export]
pub fn core_version() -> String {
    ipc_core::VERSION.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_core_version() {
        assert_eq!(super::core_version(), env!("CARGO_PKG_VERSION"));
    }
}
