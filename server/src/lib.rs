//! ipc-server: the sync server that phones push to and pull from, and that supervisors and
//! programmes use.
//!
//! - [`http`]: the axum API (`POST /v1/sync`, `POST /v1/enrol`, `GET /health`), limits and
//!   errors; [`serve`] runs it with graceful shutdown, [`router`] gives it to tests.
//! - [`storage`]: the [`Storage`] trait and its SQLite and PostgreSQL backends;
//!   [`open_storage`] picks one from a URL.
//! - [`rules`]: what a push may store and what a pull returns, shared by both backends.
//! - `coding`: reply compression (gzip, or brotli when asked for).
//! - [`auth`]: enrolment codes and device tokens (stored hashed); [`admin`]: workers, codes,
//!   assignment, revocation, counts.

pub mod admin;
pub mod auth;
mod coding;
pub mod config;
pub mod error;
pub mod http;
mod limit;
pub mod rules;
pub mod storage;

pub use config::ServerConfig;
pub use error::{Result, ServerError};
pub use http::{router, serve, serve_with_shutdown};
pub use storage::{
    open_storage, AnyStorage, DeviceAuth, DeviceInfo, PgStorage, SqliteStorage, Stats, Storage,
    Worker,
};

/// Version of the core this server speaks for.
pub fn core_version() -> &'static str {
    ipc_core::VERSION
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_core_version() {
        assert_eq!(super::core_version(), env!("CARGO_PKG_VERSION"));
    }
}
