//! Referrals to other services (mental health, medical, social).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::{check_not_before, check_recorded_date};
use super::enums::{ReferralStatus, ReferralUrgency};
use super::error::Result;
use super::ids::{ClientId, CourseId, ReferralId};
use super::text::{
    check_multiline, check_optional, clean_multiline, clean_optional, ADDRESS_MAX, SHORT_TEXT_MAX,
};

/// A referral of a client to another service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Identity.
    pub id: ReferralId,
    /// The client.
    pub client_id: ClientId,
    /// The course it arose in, if any.
    pub course_id: Option<CourseId>,
    /// Why, 1..=[`SHORT_TEXT_MAX`] chars, multi-line.
    pub reason: String,
    /// Where to (service or place), ≤ [`ADDRESS_MAX`] chars, single line.
    pub destination: Option<String>,
    /// How soon.
    pub urgency: ReferralUrgency,
    /// Progress.
    pub status: ReferralStatus,
    /// When created: `EARLIEST_DATE..=today`.
    pub created_on: NaiveDate,
    /// Last status change: `created_on..=today`.
    pub updated_on: NaiveDate,
}

/// Input for [`Referral::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReferral {
    /// See [`Referral::client_id`].
    pub client_id: ClientId,
    /// See [`Referral::course_id`].
    pub course_id: Option<CourseId>,
    /// See [`Referral::reason`].
    pub reason: String,
    /// See [`Referral::destination`]; blank means none.
    pub destination: Option<String>,
    /// See [`Referral::urgency`].
    pub urgency: ReferralUrgency,
    /// See [`Referral::status`].
    pub status: ReferralStatus,
    /// See [`Referral::created_on`].
    pub created_on: NaiveDate,
    /// See [`Referral::updated_on`].
    pub updated_on: NaiveDate,
}

impl Referral {
    /// Create a referral with a fresh id, trimming text.
    pub fn new(input: NewReferral, today: NaiveDate) -> Result<Self> {
        let referral = Self {
            id: ReferralId::new(),
            client_id: input.client_id,
            course_id: input.course_id,
            reason: clean_multiline("reason", &input.reason, SHORT_TEXT_MAX)?,
            destination: clean_optional("destination", input.destination.as_deref(), ADDRESS_MAX)?,
            urgency: input.urgency,
            status: input.status,
            created_on: input.created_on,
            updated_on: input.updated_on,
        };
        referral.validate(today)?;
        Ok(referral)
    }

    /// Check every rule on a stored or updated referral.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_multiline("reason", &self.reason, SHORT_TEXT_MAX)?;
        check_optional("destination", self.destination.as_deref(), ADDRESS_MAX)?;
        check_recorded_date("created_on", self.created_on, today)?;
        check_recorded_date("updated_on", self.updated_on, today)?;
        check_not_before(
            "updated_on",
            self.updated_on,
            self.created_on,
            "before created_on",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::Reason;
    use crate::model::test_support::{assert_rejected, date, days, text_of_len, today};

    fn make(f: impl FnOnce(&mut NewReferral)) -> Result<Referral> {
        let mut input = NewReferral {
            client_id: ClientId::new(),
            course_id: None,
            reason: " PHQ-9 of 22 ZQX ".into(),
            destination: Some("District hospital ZQX".into()),
            urgency: ReferralUrgency::Urgent,
            status: ReferralStatus::Made,
            created_on: days(-2),
            updated_on: today(),
        };
        f(&mut input);
        Referral::new(input, today())
    }

    #[test]
    fn valid_referral() {
        let r = make(|_| {}).unwrap();
        assert_eq!(r.reason, "PHQ-9 of 22 ZQX");
        assert!(r.validate(today()).is_ok());
        assert!(make(|n| n.destination = Some("  ".into())).is_ok_and(|r| r.destination.is_none()));
    }

    #[test]
    fn reason_rules() {
        assert!(make(|n| n.reason = text_of_len(SHORT_TEXT_MAX)).is_ok());
        let r = make(|n| n.reason = text_of_len(SHORT_TEXT_MAX + 1));
        assert_rejected(
            r,
            "reason",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
        assert_rejected(make(|n| n.reason = " ".into()), "reason", Reason::Empty);
    }

    #[test]
    fn destination_rules() {
        assert!(make(|n| n.destination = Some(text_of_len(ADDRESS_MAX))).is_ok());
        let r = make(|n| n.destination = Some(text_of_len(ADDRESS_MAX + 1)));
        assert_rejected(r, "destination", Reason::TooLong { max: ADDRESS_MAX });
        let r = make(|n| n.destination = Some("ZQX\nward".into()));
        assert_rejected(r, "destination", Reason::ControlCharacters);
    }

    #[test]
    fn date_rules() {
        assert!(make(|n| n.created_on = date(2000, 1, 1)).is_ok());
        let r = make(|n| n.created_on = date(1999, 12, 31));
        assert_rejected(r, "created_on", Reason::TooFarInPast);
        let r = make(|n| {
            n.created_on = days(1);
            n.updated_on = days(1);
        });
        assert_rejected(r, "created_on", Reason::InFuture);
        assert_rejected(
            make(|n| n.updated_on = days(1)),
            "updated_on",
            Reason::InFuture,
        );
        assert!(make(|n| n.updated_on = days(-2)).is_ok());
        let r = make(|n| n.updated_on = days(-3));
        assert_rejected(r, "updated_on", Reason::Inconsistent("before created_on"));
    }
}
