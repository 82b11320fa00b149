//! ipc-bindings: the thin FFI facade over `ipc-core` for the phone shells.
//!
//! The uniffi surface arrives with the bindings issue; until then this crate only re-exports
//! the core version so the workspace layout (`bindings → core`) is in place.

/// Version of the core these bindings wrap.
pub fn core_version() -> &'static str {
    ipc_core::VERSION
}

#[cfg(test)]
mod tests {
    #[test]
    fn reports_core_version() {
        assert_eq!(super::core_version(), env!("CARGO_PKG_VERSION"));
    }
}
