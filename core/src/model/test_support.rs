//! Test-only helpers shared by the model's unit tests: fixed dates, distinctive text and a
//! rejection assertion that also proves errors never echo values.

use std::fmt::Debug;

use chrono::{NaiveDate, NaiveDateTime};

use super::error::{ModelError, Reason, Result};

/// Distinctive marker put into synthetic test values; must never appear in an error.
pub(crate) const MARKER: &str = "ZQX";

/// The fixed "today" used by tests.
pub(crate) fn today() -> NaiveDate {
    date(2024, 6, 15)
}

/// A date from its parts.
pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A local date-time on `date` at `h:00`.
pub(crate) fn at(date: NaiveDate, h: u32) -> NaiveDateTime {
    date.and_hms_opt(h, 0, 0).unwrap()
}

/// Days after (positive) or before (negative) `today()`.
pub(crate) fn days(n: i64) -> NaiveDate {
    today() + chrono::Duration::days(n)
}

/// A text of exactly `n` chars (`n >= 3`), starting with [`MARKER`], multi-byte after it.
pub(crate) fn text_of_len(n: usize) -> String {
    format!("{MARKER}{}", "é".repeat(n - MARKER.len()))
}

/// Assert `r` failed validation of `field` for `reason`, and that neither the error's
/// Display nor its Debug contains [`MARKER`].
#[track_caller]
pub(crate) fn assert_rejected<T: Debug>(r: Result<T>, field: &'static str, reason: Reason) {
    match r {
        Err(e) => {
            assert_eq!(e, ModelError::invalid(field, reason));
            assert!(!e.to_string().contains(MARKER), "value leaked: {e}");
            assert!(!format!("{e:?}").contains(MARKER), "value leaked: {e:?}");
        }
        Ok(v) => panic!("expected {field}: {reason}, got Ok({v:?})"),
    }
}
