//! Integration tests of ipc-core: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod audit;
mod bad_input;
mod crash;
mod extensions;
mod files;
mod merge;
mod migration;
mod outbox;
mod pin;
mod plaintext;
mod smoke;
mod support;
