//! The `ipc` command.
fn main() {}
