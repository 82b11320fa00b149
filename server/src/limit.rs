//! Per-device request rate limit: a token bucket per device, in memory (each server replica
//! limits what it sees). Full buckets are forgotten when the table grows large.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ipc_core::model::DeviceId;

/// Buckets kept before idle (full) ones are swept.
const SWEEP_AT: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
struct Table {
    buckets: HashMap<DeviceId, Bucket>,
    sweep_at: usize,
}

/// A token bucket per device.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    /// Tokens per millisecond (0: unlimited).
    per_ms: f64,
    burst: f64,
    table: Mutex<Table>,
}

impl RateLimiter {
    /// `per_minute` sustained requests with bursts of `burst`; `per_minute == 0` disables.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_ms: f64::from(per_minute) / 60_000.0,
            burst: f64::from(burst.max(1)),
            table: Mutex::new(Table {
                buckets: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64() * 1000.0;
        b.tokens = (b.tokens + elapsed * self.per_ms).min(self.burst);
        b.at = now;
    }

    /// Take one request from the device's bucket, or say how long to wait.
    pub fn check(&self, device: DeviceId, now: Instant) -> Result<(), Duration> {
        if self.per_ms <= 0.0 {
            return Ok(());
        }
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if table.buckets.len() >= table.sweep_at {
            let mut kept = std::mem::take(&mut table.buckets);
            kept.retain(|_, b| {
                self.refill(b, now);
                b.tokens < self.burst
            });
            table.sweep_at = (kept.len() * 2).max(SWEEP_AT);
            table.buckets = kept;
        }
        let burst = self.burst;
        let bucket = table.buckets.entry(device).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait_ms = ((1.0 - bucket.tokens) / self.per_ms).ceil();
            Err(Duration::from_millis(wait_ms as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_waits_then_refills() {
        let limiter = RateLimiter::new(60, 3); // one per second
        let d = DeviceId::new();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(d, t0).is_ok());
        }
        let wait = limiter.check(d, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        assert!(limiter.check(DeviceId::new(), t0).is_ok(), "per device");
        assert!(limiter.check(d, t0 + Duration::from_millis(1_001)).is_ok());
        assert!(limiter.check(d, t0 + Duration::from_millis(1_002)).is_err());
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, 1);
        let d = DeviceId::new();
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(limiter.check(d, t0).is_ok());
        }
    }
}
