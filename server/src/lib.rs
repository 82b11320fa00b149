//! ipc-server: the sync server that supervisors and programmes use.
//!
//! The HTTP server, storage backends and access control arrive with the sync issue; the crate
//! exists now so the dependency direction (`server → core`) is fixed from the start.

/// Version of the core this server speaks for.
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
