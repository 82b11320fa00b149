//! The time source. Injected so tests, scenario simulations and demos can run on chosen
//! dates; the phone uses the system clock. Clinical dates are the local date as entered;
//! system timestamps are UTC.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Local, NaiveDate, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Today's local (clinical) date.
    fn today(&self) -> NaiveDate;
}

/// The device's own clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn today(&self) -> NaiveDate {
        Local::now().date_naive()
    }
}

/// A clock that stands still until moved; its local date is its UTC date.
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock {
            millis: AtomicI64::new(at.timestamp_millis()),
        }
    }

    /// Set the time (it may go backwards, as phone clocks do).
    pub fn set(&self, at: DateTime<Utc>) {
        self.millis.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    /// Move the time forward (or backward, when negative) by `ms` milliseconds.
    pub fn advance_ms(&self, ms: i64) {
        self.millis.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst)).unwrap_or_default()
    }
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_both_ways() {
        let start = DateTime::from_timestamp(1_767_600_000, 0).unwrap();
        let c = ManualClock::new(start);
        c.advance_ms(86_400_000);
        assert_eq!(c.today(), start.date_naive().succ_opt().unwrap());
        c.set(start);
        assert_eq!(c.now(), start);
    }
}
