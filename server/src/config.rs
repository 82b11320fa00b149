//! Server settings: request limits and the per-device rate limit.

use ipc_core::sync::wire::{MAX_BATCH_OPS, MAX_BODY_BYTES, MAX_PULL_OPS};

/// Limits applied to every request. `Default` gives the protocol's limits and 120 requests
/// per minute per device with bursts of 60.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Largest request body (compressed), bytes; capped at the protocol's limit.
    pub max_body_bytes: usize,
    /// Most operations in one push; capped at the protocol's limit.
    pub max_batch_ops: usize,
    /// Most operations in one pull; capped at the protocol's limit.
    pub max_pull_ops: u32,
    /// Sustained requests per minute per device (0 = no rate limit).
    pub rate_per_minute: u32,
    /// Requests a device may make in a burst above the sustained rate.
    pub rate_burst: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: MAX_BODY_BYTES,
            max_batch_ops: MAX_BATCH_OPS,
            max_pull_ops: MAX_PULL_OPS,
            rate_per_minute: 120,
            rate_burst: 60,
        }
    }
}

impl ServerConfig {
    /// The settings with every limit brought within the protocol's.
    pub(crate) fn clamped(mut self) -> Self {
        self.max_body_bytes = self.max_body_bytes.clamp(1, MAX_BODY_BYTES);
        self.max_batch_ops = self.max_batch_ops.clamp(1, MAX_BATCH_OPS);
        self.max_pull_ops = self.max_pull_ops.clamp(1, MAX_PULL_OPS);
        self.rate_burst = self.rate_burst.max(1);
        self
    }
}
