//! Date rules shared by all entities. Clinical dates are local dates as entered; "today" is
//! the device's local date, passed in by the caller so rules are deterministic and testable.

use chrono::{Datelike, NaiveDate};

use super::error::{ModelError, Reason, Result};

/// Earliest accepted programme date (registration, consent, sessions, …): catches typos
/// such as a two-digit year.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN, // unreachable: 2000-01-01 is a valid date
};

/// How many years back a birth year or a life event may lie.
pub const MAX_AGE_YEARS: i32 = 120;

/// How many days into the future a questionnaire's `administered_at` may lie (tolerates
/// time-zone and clock differences between devices).
pub const RESPONSE_FUTURE_DAYS: u64 = 1;

/// A recorded programme date: `EARLIEST_DATE..=today`.
pub fn check_recorded_date(field: &'static str, date: NaiveDate, today: NaiveDate) -> Result<()> {
    check_scheduled_date(field, date)?;
    if date > today {
        return Err(ModelError::invalid(field, Reason::InFuture));
    }
    Ok(())
}

/// A date that may lie in the future (a plan or a due date): not before `EARLIEST_DATE`.
pub fn check_scheduled_date(field: &'static str, date: NaiveDate) -> Result<()> {
    if date < EARLIEST_DATE {
        return Err(ModelError::invalid(field, Reason::TooFarInPast));
    }
    Ok(())
}

/// A date in someone's life (e.g. a timeline event): not in the future and not more than
/// [`MAX_AGE_YEARS`] calendar years before today's year.
pub fn check_life_date(field: &'static str, date: NaiveDate, today: NaiveDate) -> Result<()> {
    check_year(field, date.year(), today)?;
    if date > today {
        return Err(ModelError::invalid(field, Reason::InFuture));
    }
    Ok(())
}

/// A year (e.g. birth year): `today.year() - MAX_AGE_YEARS ..= today.year()`.
pub fn check_year(field: &'static str, year: i32, today: NaiveDate) -> Result<()> {
    if year > today.year() {
        return Err(ModelError::invalid(field, Reason::InFuture));
    }
    if year < today.year().saturating_sub(MAX_AGE_YEARS) {
        return Err(ModelError::invalid(field, Reason::TooFarInPast));
    }
    Ok(())
}

/// Reject `later` if it is before `earlier` (e.g. an end before its start).
pub fn check_not_before<T: PartialOrd>(
    field: &'static str,
    later: T,
    earlier: T,
    rule: &'static str,
) -> Result<()> {
    if later < earlier {
        return Err(ModelError::invalid(field, Reason::Inconsistent(rule)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, date, days, today};

    #[test]
    fn earliest_date_is_2000_01_01() {
        assert_eq!(EARLIEST_DATE, date(2000, 1, 1));
    }

    #[test]
    fn recorded_date_bounds() {
        assert!(check_recorded_date("d", today(), today()).is_ok());
        assert_rejected(
            check_recorded_date("d", days(1), today()),
            "d",
            Reason::InFuture,
        );
        assert!(check_recorded_date("d", date(2000, 1, 1), today()).is_ok());
        assert_rejected(
            check_recorded_date("d", date(1999, 12, 31), today()),
            "d",
            Reason::TooFarInPast,
        );
    }

    #[test]
    fn scheduled_date_may_be_future() {
        assert!(check_scheduled_date("d", days(400)).is_ok());
        assert!(check_scheduled_date("d", date(2000, 1, 1)).is_ok());
        assert_rejected(
            check_scheduled_date("d", date(1999, 12, 31)),
            "d",
            Reason::TooFarInPast,
        );
    }

    #[test]
    fn year_bounds() {
        assert!(check_year("y", 2024, today()).is_ok());
        assert_rejected(check_year("y", 2025, today()), "y", Reason::InFuture);
        assert!(check_year("y", 1904, today()).is_ok());
        assert_rejected(check_year("y", 1903, today()), "y", Reason::TooFarInPast);
        assert_rejected(
            check_year("y", i32::MIN, today()),
            "y",
            Reason::TooFarInPast,
        );
    }

    #[test]
    fn life_date_bounds() {
        assert!(check_life_date("d", today(), today()).is_ok());
        assert_rejected(
            check_life_date("d", days(1), today()),
            "d",
            Reason::InFuture,
        );
        assert!(check_life_date("d", date(1904, 1, 1), today()).is_ok());
        assert_rejected(
            check_life_date("d", date(1903, 12, 31), today()),
            "d",
            Reason::TooFarInPast,
        );
    }

    #[test]
    fn not_before_rule() {
        assert!(check_not_before("e", today(), today(), "r").is_ok());
        assert_rejected(
            check_not_before("e", days(-1), today(), "r"),
            "e",
            Reason::Inconsistent("r"),
        );
    }
}
