//! ipc-bench: the sync benchmarks of ipc-kit (issue 4, section 5).
//!
//! - [`workload`]: reads the PouchDB peer's workload (`node peer.js gen`) and checks it
//!   against its manifest.
//! - [`import`]: maps every field of those documents to the domain (client, course, session,
//!   questionnaire response, plus an encrypted extra for what the model has no place for)
//!   and writes them through the store's one write path.
//! - [`device`]: creates, enrols and opens a device store the way a phone would.
//! - [`procfs`]: memory and CPU of the current process (Linux `/proc`).
//! - [`stats`]: medians, ranges and percentiles.
//! - [`children`]: the counting link proxy and the bench server as child processes.
//! - [`load`]: the simulated devices of the server load test (wire types only, no store).
//!
//! Binaries: `ipc-bench-sync` (the side-by-side run), `ipc-bench-client` (one measured
//! device process), `ipc-bench-server` (the server on a storage URL, with bench set-up),
//! `ipc-bench-load` (N concurrent devices against a running server).

pub mod children;
pub mod device;
pub mod error;
pub mod import;
pub mod load;
pub mod procfs;
pub mod stats;
pub mod workload;

pub use error::{BenchError, Result};
