//! The `ipc` command line of ipc-kit, as a library so later tools and tests can reuse its
//! parts: the command-line surface ([`args`]), the commands ([`commands`]), PIN input
//! ([`pin`]), opening the store ([`store_access`]), output formats ([`output`]), errors and
//! exit codes ([`error`]), and the synthetic demo caseload ([`demo`]).

pub mod args;
pub mod commands;
pub mod demo;
pub mod error;
pub mod output;
pub mod pin;
pub mod store_access;

pub use error::{exit, CliError};
