//! Screenings: the eligibility decision before a course, with the responses it used.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::check_recorded_date;
use super::enums::ScreeningOutcome;
use super::error::Result;
use super::ids::{ClientId, ResponseId, ScreeningId};
use super::text::{
    check_optional_multiline, check_unique, clean_optional_multiline, SHORT_TEXT_MAX,
};

/// A screening of a client for IPC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Screening {
    /// Identity.
    pub id: ScreeningId,
    /// Who was screened.
    pub client_id: ClientId,
    /// When: `EARLIEST_DATE..=today`.
    pub date: NaiveDate,
    /// Questionnaire responses used (may be empty), unique.
    pub response_ids: Vec<ResponseId>,
    /// The decision.
    pub outcome: ScreeningOutcome,
    /// Free-text note, ≤ [`SHORT_TEXT_MAX`] chars, multi-line.
    pub note: Option<String>,
}

/// Input for [`Screening::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewScreening {
    /// See [`Screening::client_id`].
    pub client_id: ClientId,
    /// See [`Screening::date`].
    pub date: NaiveDate,
    /// See [`Screening::response_ids`].
    pub response_ids: Vec<ResponseId>,
    /// See [`Screening::outcome`].
    pub outcome: ScreeningOutcome,
    /// See [`Screening::note`]; blank means none.
    pub note: Option<String>,
}

impl Screening {
    /// Create a screening with a fresh id.
    pub fn new(input: NewScreening, today: NaiveDate) -> Result<Self> {
        let screening = Self {
            id: ScreeningId::new(),
            client_id: input.client_id,
            date: input.date,
            response_ids: input.response_ids,
            outcome: input.outcome,
            note: clean_optional_multiline("note", input.note.as_deref(), SHORT_TEXT_MAX)?,
        };
        screening.validate(today)?;
        Ok(screening)
    }

    /// Check every rule on a stored or updated screening.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_recorded_date("date", self.date, today)?;
        check_unique("response_ids", &self.response_ids)?;
        check_optional_multiline("note", self.note.as_deref(), SHORT_TEXT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::Reason;
    use crate::model::test_support::{assert_rejected, date, days, text_of_len, today};

    fn make(f: impl FnOnce(&mut NewScreening)) -> Result<Screening> {
        let mut input = NewScreening {
            client_id: ClientId::new(),
            date: today(),
            response_ids: vec![ResponseId::new(), ResponseId::new()],
            outcome: ScreeningOutcome::Eligible,
            note: Some(" first line ZQX\nsecond ".into()),
        };
        f(&mut input);
        Screening::new(input, today())
    }

    #[test]
    fn valid_screening() {
        let s = make(|_| {}).unwrap();
        assert_eq!(s.note.as_deref(), Some("first line ZQX\nsecond"));
        assert!(make(|n| {
            n.response_ids.clear();
            n.note = Some("   ".into());
        })
        .is_ok_and(|s| s.note.is_none()));
    }

    #[test]
    fn date_rules() {
        assert_rejected(make(|n| n.date = days(1)), "date", Reason::InFuture);
        assert!(make(|n| n.date = date(2000, 1, 1)).is_ok());
        let r = make(|n| n.date = date(1999, 12, 31));
        assert_rejected(r, "date", Reason::TooFarInPast);
    }

    #[test]
    fn response_ids_unique() {
        let r = make(|n| n.response_ids.push(n.response_ids[0]));
        assert_rejected(r, "response_ids", Reason::Duplicate);
    }

    #[test]
    fn note_limit() {
        assert!(make(|n| n.note = Some(text_of_len(SHORT_TEXT_MAX))).is_ok());
        let r = make(|n| n.note = Some(text_of_len(SHORT_TEXT_MAX + 1)));
        assert_rejected(
            r,
            "note",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
        let r = make(|n| n.note = Some("ZQX\u{0}".into()));
        assert_rejected(r, "note", Reason::ControlCharacters);
    }
}
