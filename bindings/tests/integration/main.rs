//! Integration tests of the facade, called from Rust exactly as the shells call it: one
//! binary, a module per area. The shells' traits are implemented here in Rust (a memory
//! keystore, an HTTP transport on ureq, failing variants of both), and sync runs against the
//! real server router on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod callbacks;
mod course;
mod lifecycle;
mod support;
mod sync;
