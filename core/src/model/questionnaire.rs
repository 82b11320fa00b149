//! Questionnaire responses as stored records. Structure only: which instrument, which
//! items, when. Scoring, bands and flags are computed by `instruments` and stored here.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::dates::{check_scheduled_date, RESPONSE_FUTURE_DAYS};
use super::enums::ResponseContext;
use super::error::{ModelError, Reason, Result};
use super::ids::{ClientId, CourseId, ResponseId, SessionId};
use super::text::{check_code, check_codes, check_text, check_unique, clean_text, VERSION_MAX};

/// Characters allowed in instrument, item, band and flag codes besides `a-z0-9_`.
const CODE_EXTRA: &[char] = &['-'];

/// One answered item. A value embedded in [`QuestionnaireResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Item code within the instrument (`[a-z0-9_-]`, e.g. `phq9_9` or `44260-8`).
    pub item: String,
    /// Answer value; its range is the instrument's business, not checked here.
    pub value: u8,
}

impl Answer {
    /// Validate and return the answer (codes are never trimmed).
    pub fn cleaned(self) -> Result<Self> {
        self.validate()?;
        Ok(self)
    }

    /// Check the item code (reported as `answers.item`).
    pub fn validate(&self) -> Result<()> {
        check_code("answers.item", &self.item, CODE_EXTRA)
    }
}

/// A completed questionnaire (PHQ-9, GAD-7, …) for a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionnaireResponse {
    /// Identity.
    pub id: ResponseId,
    /// Whose answers.
    pub client_id: ClientId,
    /// Course, if given within one (required when `session_id` is set).
    pub course_id: Option<CourseId>,
    /// Session, if given in one (required when `context` is `Session`).
    pub session_id: Option<SessionId>,
    /// Why it was given.
    pub context: ResponseContext,
    /// Instrument code (`[a-z0-9_-]`, ≤ `CODE_MAX`), e.g. `phq9`.
    pub instrument: String,
    /// Instrument definition version, 1..=[`VERSION_MAX`] chars.
    pub instrument_version: String,
    /// Answers, at least one, item codes unique.
    pub answers: Vec<Answer>,
    /// Total score, as computed by the instrument.
    pub total: Option<u16>,
    /// Severity band code (e.g. `moderate`), as computed by the instrument.
    pub band: Option<String>,
    /// Flag codes raised by the instrument (e.g. `item9_positive`), unique.
    pub flags: Vec<String>,
    /// Local date-time as entered: not before `EARLIEST_DATE`, at most
    /// [`RESPONSE_FUTURE_DAYS`] after today.
    pub administered_at: NaiveDateTime,
}

/// Input for [`QuestionnaireResponse::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuestionnaireResponse {
    /// See [`QuestionnaireResponse::client_id`].
    pub client_id: ClientId,
    /// See [`QuestionnaireResponse::course_id`].
    pub course_id: Option<CourseId>,
    /// See [`QuestionnaireResponse::session_id`].
    pub session_id: Option<SessionId>,
    /// See [`QuestionnaireResponse::context`].
    pub context: ResponseContext,
    /// See [`QuestionnaireResponse::instrument`].
    pub instrument: String,
    /// See [`QuestionnaireResponse::instrument_version`].
    pub instrument_version: String,
    /// See [`QuestionnaireResponse::answers`].
    pub answers: Vec<Answer>,
    /// See [`QuestionnaireResponse::total`].
    pub total: Option<u16>,
    /// See [`QuestionnaireResponse::band`].
    pub band: Option<String>,
    /// See [`QuestionnaireResponse::flags`].
    pub flags: Vec<String>,
    /// See [`QuestionnaireResponse::administered_at`].
    pub administered_at: NaiveDateTime,
}

impl QuestionnaireResponse {
    /// Create a response with a fresh id (trims the version; codes must already be exact).
    pub fn new(input: NewQuestionnaireResponse, today: NaiveDate) -> Result<Self> {
        let response = Self {
            id: ResponseId::new(),
            client_id: input.client_id,
            course_id: input.course_id,
            session_id: input.session_id,
            context: input.context,
            instrument: input.instrument,
            instrument_version: clean_text(
                "instrument_version",
                &input.instrument_version,
                VERSION_MAX,
            )?,
            answers: input.answers,
            total: input.total,
            band: input.band,
            flags: input.flags,
            administered_at: input.administered_at,
        };
        response.validate(today)?;
        Ok(response)
    }

    /// Check every structural rule on a stored or incoming response.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_code("instrument", &self.instrument, CODE_EXTRA)?;
        check_text("instrument_version", &self.instrument_version, VERSION_MAX)?;
        if self.answers.is_empty() {
            return Err(ModelError::invalid("answers", Reason::Empty));
        }
        for answer in &self.answers {
            answer.validate()?;
        }
        check_unique("answers", self.answers.iter().map(|a| a.item.as_str()))?;
        if let Some(band) = &self.band {
            check_code("band", band, CODE_EXTRA)?;
        }
        check_codes("flags", &self.flags, CODE_EXTRA)?;
        let day = self.administered_at.date();
        check_scheduled_date("administered_at", day)?;
        let latest = today
            .checked_add_days(chrono::Days::new(RESPONSE_FUTURE_DAYS))
            .unwrap_or(today);
        if day > latest {
            return Err(ModelError::invalid("administered_at", Reason::InFuture));
        }
        if self.context == ResponseContext::Session && self.session_id.is_none() {
            return Err(ModelError::invalid("session_id", Reason::Missing));
        }
        if self.context == ResponseContext::Screening && self.session_id.is_some() {
            return Err(ModelError::invalid(
                "session_id",
                Reason::Inconsistent("a screening response has no session"),
            ));
        }
        if self.session_id.is_some() && self.course_id.is_none() {
            return Err(ModelError::invalid("course_id", Reason::Missing));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, at, date, days, today};
    use crate::model::text::CODE_MAX;

    fn answer(item: &str, value: u8) -> Answer {
        Answer {
            item: item.into(),
            value,
        }
    }

    fn make(f: impl FnOnce(&mut NewQuestionnaireResponse)) -> Result<QuestionnaireResponse> {
        let mut input = NewQuestionnaireResponse {
            client_id: ClientId::new(),
            course_id: Some(CourseId::new()),
            session_id: Some(SessionId::new()),
            context: ResponseContext::Session,
            instrument: "phq9".into(),
            instrument_version: " 1.0 ".into(),
            answers: vec![answer("phq9_1", 2), answer("44260-8", 0)],
            total: Some(2),
            band: Some("minimal".into()),
            flags: vec!["item9_positive".into()],
            administered_at: at(today(), 10),
        };
        f(&mut input);
        QuestionnaireResponse::new(input, today())
    }

    #[test]
    fn valid_response() {
        let r = make(|_| {}).unwrap();
        assert_eq!(r.instrument_version, "1.0");
        assert!(r.validate(today()).is_ok());
        assert!(make(|n| {
            n.band = None;
            n.flags.clear();
            n.total = None;
        })
        .is_ok());
    }

    #[test]
    fn instrument_code_rules() {
        assert!(make(|n| n.instrument = "gad-7_v2".into()).is_ok());
        assert!(make(|n| n.instrument = "a".repeat(CODE_MAX)).is_ok());
        let r = make(|n| n.instrument = "a".repeat(CODE_MAX + 1));
        assert_rejected(r, "instrument", Reason::TooLong { max: CODE_MAX });
        assert_rejected(
            make(|n| n.instrument = String::new()),
            "instrument",
            Reason::Empty,
        );
        for bad in ["PHQ9", "phq 9", "phq9.1", "ZQX"] {
            let r = make(|n| n.instrument = bad.into());
            assert_rejected(r, "instrument", Reason::InvalidFormat);
        }
    }

    #[test]
    fn instrument_version_rules() {
        assert!(make(|n| n.instrument_version = "9".repeat(VERSION_MAX)).is_ok());
        let r = make(|n| n.instrument_version = "9".repeat(VERSION_MAX + 1));
        assert_rejected(
            r,
            "instrument_version",
            Reason::TooLong { max: VERSION_MAX },
        );
        let r = make(|n| n.instrument_version = " ".into());
        assert_rejected(r, "instrument_version", Reason::Empty);
    }

    #[test]
    fn answer_rules() {
        assert!(make(|n| n.answers = vec![answer("a", 255)]).is_ok());
        assert_rejected(make(|n| n.answers.clear()), "answers", Reason::Empty);
        let r = make(|n| n.answers.push(answer("phq9_1", 0)));
        assert_rejected(r, "answers", Reason::Duplicate);
        let r = make(|n| n.answers.push(answer("Item ZQX", 0)));
        assert_rejected(r, "answers.item", Reason::InvalidFormat);
        let r = make(|n| n.answers.push(answer("", 0)));
        assert_rejected(r, "answers.item", Reason::Empty);
        assert!(answer("phq9_2", 1).cleaned().is_ok());
        assert_rejected(
            answer(" x", 1).cleaned(),
            "answers.item",
            Reason::InvalidFormat,
        );
    }

    #[test]
    fn band_and_flag_rules() {
        let r = make(|n| n.band = Some("Moderate ZQX".into()));
        assert_rejected(r, "band", Reason::InvalidFormat);
        assert_rejected(
            make(|n| n.band = Some(String::new())),
            "band",
            Reason::Empty,
        );
        let r = make(|n| n.flags.push("item9_positive".into()));
        assert_rejected(r, "flags", Reason::Duplicate);
        let r = make(|n| n.flags.push("ZQX flag".into()));
        assert_rejected(r, "flags", Reason::InvalidFormat);
    }

    #[test]
    fn administered_at_rules() {
        assert!(make(|n| n.administered_at = at(days(1), 23)).is_ok());
        let r = make(|n| n.administered_at = at(days(2), 0));
        assert_rejected(r, "administered_at", Reason::InFuture);
        assert!(make(|n| n.administered_at = at(date(2000, 1, 1), 0)).is_ok());
        let r = make(|n| n.administered_at = at(date(1999, 12, 31), 23));
        assert_rejected(r, "administered_at", Reason::TooFarInPast);
    }

    #[test]
    fn context_links() {
        let r = make(|n| n.session_id = None);
        assert_rejected(r, "session_id", Reason::Missing);
        let r = make(|n| n.course_id = None);
        assert_rejected(r, "course_id", Reason::Missing);
        let r = make(|n| n.context = ResponseContext::Screening);
        assert_rejected(
            r,
            "session_id",
            Reason::Inconsistent("a screening response has no session"),
        );
        let screening = make(|n| {
            n.context = ResponseContext::Screening;
            n.session_id = None;
            n.course_id = None;
        });
        assert!(screening.is_ok());
        let follow_up = make(|n| {
            n.context = ResponseContext::FollowUp;
            n.session_id = None;
        });
        assert!(follow_up.is_ok());
    }

    #[test]
    fn serde_round_trip() {
        let r = make(|_| {}).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<QuestionnaireResponse>(&json).unwrap(),
            r
        );
    }
}
