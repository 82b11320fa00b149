//! Integration tests of the course engine: scenarios per flag and per refusal, run through
//! the same scenario runner as `ipc simulate`, on real encrypted stores.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod scenarios;
