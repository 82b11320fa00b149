//! Sync building blocks: the hybrid logical clock, operations and the merge rule. The sync
//! engine and wire types join them with the sync issue; nothing here does I/O.

pub mod columns;
pub mod engine;
pub mod enrol;
pub mod hlc;
#[cfg(feature = "http")]
pub mod http;
pub mod merge;
pub mod op;
pub mod wire;
