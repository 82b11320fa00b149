//! The IPC course protocol: configuration (every threshold with its source), the agenda per
//! session as content data, and the safety flags.

pub mod agenda;
pub mod config;
pub mod flags;
