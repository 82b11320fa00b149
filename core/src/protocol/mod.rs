//! The IPC course protocol: configuration (every threshold with its source), the agenda per
//! session as content data, the safety flags, and the course engine that applies them.

pub mod agenda;
pub mod case;
pub mod config;
pub mod engine;
pub mod error;
pub mod flags;
pub mod records;
pub mod simulate;
pub mod worklist;

pub use engine::Protocol;
pub use error::ProtocolError;
