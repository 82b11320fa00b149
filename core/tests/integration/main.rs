//! Integration tests of ipc-core: one binary, one module per area.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod smoke;
mod support;
