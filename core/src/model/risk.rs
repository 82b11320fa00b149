//! Risk events: a suicide-risk concern (from PHQ-9 item 9 or the worker's observation),
//! its assessment, and closure.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::dates::{check_not_before, check_recorded_date};
use super::enums::{RiskOutcome, RiskStatus, RiskTrigger};
use super::error::{ModelError, Reason, Result};
use super::ids::{ClientId, CourseId, RiskEventId, SessionId};
use super::text::{check_optional_multiline, clean_optional_multiline, NOTE_MAX, SHORT_TEXT_MAX};

/// The structured risk assessment. A value embedded in [`RiskEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    /// Thoughts of self-harm or suicide.
    pub thoughts: bool,
    /// A plan.
    pub plan: bool,
    /// Intent to act.
    pub intent: bool,
    /// Access to means.
    pub means: bool,
    /// A past attempt.
    pub past_attempt: bool,
    /// The supervisor was contacted.
    pub supervisor_contacted: bool,
    /// What was decided.
    pub outcome: RiskOutcome,
    /// Description of the outcome (≤ [`SHORT_TEXT_MAX`], multi-line); required when
    /// `outcome` is `Other`.
    pub outcome_text: Option<String>,
    /// Assessment note (≤ [`NOTE_MAX`], multi-line).
    pub note: Option<String>,
    /// When assessed, local time as entered: not in the future, not before the event opened.
    pub assessed_at: NaiveDateTime,
}

impl RiskAssessment {
    /// Trim text fields (blank → `None`), then [`validate`](Self::validate).
    pub fn cleaned(self, today: NaiveDate) -> Result<Self> {
        let assessment = Self {
            outcome_text: clean_optional_multiline(
                "assessment.outcome_text",
                self.outcome_text.as_deref(),
                SHORT_TEXT_MAX,
            )?,
            note: clean_optional_multiline("assessment.note", self.note.as_deref(), NOTE_MAX)?,
            ..self
        };
        assessment.validate(today)?;
        Ok(assessment)
    }

    /// Check the assessment's own rules (reported as `assessment.*`).
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_optional_multiline(
            "assessment.outcome_text",
            self.outcome_text.as_deref(),
            SHORT_TEXT_MAX,
        )?;
        if self.outcome == RiskOutcome::Other && self.outcome_text.is_none() {
            return Err(ModelError::invalid(
                "assessment.outcome_text",
                Reason::Missing,
            ));
        }
        check_optional_multiline("assessment.note", self.note.as_deref(), NOTE_MAX)?;
        check_recorded_date("assessment.assessed_at", self.assessed_at.date(), today)
    }
}

/// A suicide-risk event for a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskEvent {
    /// Identity.
    pub id: RiskEventId,
    /// The client.
    pub client_id: ClientId,
    /// Course, if within one (required when `session_id` is set).
    pub course_id: Option<CourseId>,
    /// Session, if raised in one.
    pub session_id: Option<SessionId>,
    /// What raised it.
    pub trigger: RiskTrigger,
    /// When raised, local time as entered: `EARLIEST_DATE..=today`.
    pub opened_at: NaiveDateTime,
    /// What the worker observed (≤ [`NOTE_MAX`], multi-line); required for `WorkerConcern`.
    pub observation: Option<String>,
    /// The assessment; required once `Assessed` or `Closed`.
    pub assessment: Option<RiskAssessment>,
    /// Progress.
    pub status: RiskStatus,
    /// When closed: present iff `Closed`; not before opening or assessment, not in the future.
    pub closed_at: Option<NaiveDateTime>,
}

/// Input for [`RiskEvent::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRiskEvent {
    /// See [`RiskEvent::client_id`].
    pub client_id: ClientId,
    /// See [`RiskEvent::course_id`].
    pub course_id: Option<CourseId>,
    /// See [`RiskEvent::session_id`].
    pub session_id: Option<SessionId>,
    /// See [`RiskEvent::trigger`].
    pub trigger: RiskTrigger,
    /// See [`RiskEvent::opened_at`].
    pub opened_at: NaiveDateTime,
    /// See [`RiskEvent::observation`]; blank means none.
    pub observation: Option<String>,
    /// See [`RiskEvent::assessment`].
    pub assessment: Option<RiskAssessment>,
    /// See [`RiskEvent::status`] (usually `Open`).
    pub status: RiskStatus,
    /// See [`RiskEvent::closed_at`].
    pub closed_at: Option<NaiveDateTime>,
}

impl RiskEvent {
    /// Create a risk event with a fresh id, trimming text.
    pub fn new(input: NewRiskEvent, today: NaiveDate) -> Result<Self> {
        let event = Self {
            id: RiskEventId::new(),
            client_id: input.client_id,
            course_id: input.course_id,
            session_id: input.session_id,
            trigger: input.trigger,
            opened_at: input.opened_at,
            observation: clean_optional_multiline(
                "observation",
                input.observation.as_deref(),
                NOTE_MAX,
            )?,
            assessment: input.assessment.map(|a| a.cleaned(today)).transpose()?,
            status: input.status,
            closed_at: input.closed_at,
        };
        event.validate(today)?;
        Ok(event)
    }

    /// Check every rule on a stored or updated risk event.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        let err = |field, reason| Err(ModelError::invalid(field, reason));
        check_recorded_date("opened_at", self.opened_at.date(), today)?;
        if self.session_id.is_some() && self.course_id.is_none() {
            return err("course_id", Reason::Missing);
        }
        check_optional_multiline("observation", self.observation.as_deref(), NOTE_MAX)?;
        if self.trigger == RiskTrigger::WorkerConcern && self.observation.is_none() {
            return err("observation", Reason::Missing);
        }
        match &self.assessment {
            Some(a) => {
                a.validate(today)?;
                let rule = "before opened_at";
                check_not_before(
                    "assessment.assessed_at",
                    a.assessed_at,
                    self.opened_at,
                    rule,
                )?;
            }
            None if self.status != RiskStatus::Open => return err("assessment", Reason::Missing),
            None => {}
        }
        let closed = self.status == RiskStatus::Closed;
        match self.closed_at {
            None if closed => return err("closed_at", Reason::Missing),
            Some(_) if !closed => {
                return err("closed_at", Reason::Inconsistent("the event is not closed"));
            }
            Some(at) => {
                check_recorded_date("closed_at", at.date(), today)?;
                check_not_before("closed_at", at, self.opened_at, "before opened_at")?;
                if let Some(a) = &self.assessment {
                    check_not_before("closed_at", at, a.assessed_at, "before assessed_at")?;
                }
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, at, date, days, text_of_len, today};

    fn assessment() -> RiskAssessment {
        RiskAssessment {
            thoughts: true,
            plan: false,
            intent: false,
            means: true,
            past_attempt: false,
            supervisor_contacted: true,
            outcome: RiskOutcome::SafetyPlan,
            outcome_text: Some(" ".into()),
            note: Some(" Pesticide stored away ZQX ".into()),
            assessed_at: at(today(), 11),
        }
    }

    fn make(f: impl FnOnce(&mut NewRiskEvent)) -> Result<RiskEvent> {
        let mut input = NewRiskEvent {
            client_id: ClientId::new(),
            course_id: Some(CourseId::new()),
            session_id: Some(SessionId::new()),
            trigger: RiskTrigger::Phq9Item9,
            opened_at: at(today(), 10),
            observation: None,
            assessment: Some(assessment()),
            status: RiskStatus::Closed,
            closed_at: Some(at(today(), 12)),
        };
        f(&mut input);
        RiskEvent::new(input, today())
    }

    fn with_assessment(f: impl FnOnce(&mut RiskAssessment)) -> Result<RiskEvent> {
        make(|n| {
            let mut a = assessment();
            f(&mut a);
            n.assessment = Some(a);
        })
    }

    fn open(n: &mut NewRiskEvent) {
        n.status = RiskStatus::Open;
        n.assessment = None;
        n.closed_at = None;
    }

    #[test]
    fn valid_events() {
        let e = make(|_| {}).unwrap();
        let a = e.assessment.as_ref().unwrap();
        assert_eq!(a.outcome_text, None);
        assert_eq!(a.note.as_deref(), Some("Pesticide stored away ZQX"));
        assert!(e.validate(today()).is_ok());
        assert!(make(open).is_ok());
        let assessed = make(|n| {
            n.status = RiskStatus::Assessed;
            n.closed_at = None;
        });
        assert!(assessed.is_ok());
        let no_course = make(|n| {
            n.course_id = None;
            n.session_id = None;
        });
        assert!(no_course.is_ok());
    }

    #[test]
    fn opened_at_rules() {
        let r = make(|n| {
            open(n);
            n.opened_at = at(days(1), 0);
        });
        assert_rejected(r, "opened_at", Reason::InFuture);
        let r = make(|n| {
            open(n);
            n.opened_at = at(date(1999, 12, 31), 23);
        });
        assert_rejected(r, "opened_at", Reason::TooFarInPast);
    }

    #[test]
    fn session_needs_course() {
        assert_rejected(make(|n| n.course_id = None), "course_id", Reason::Missing);
    }

    #[test]
    fn worker_concern_needs_observation() {
        let r = make(|n| n.trigger = RiskTrigger::WorkerConcern);
        assert_rejected(r, "observation", Reason::Missing);
        let r = make(|n| {
            n.trigger = RiskTrigger::WorkerConcern;
            n.observation = Some("  ".into());
        });
        assert_rejected(r, "observation", Reason::Missing);
        let ok = make(|n| {
            n.trigger = RiskTrigger::WorkerConcern;
            n.observation = Some(text_of_len(NOTE_MAX));
        });
        assert!(ok.is_ok());
        let r = make(|n| n.observation = Some(text_of_len(NOTE_MAX + 1)));
        assert_rejected(r, "observation", Reason::TooLong { max: NOTE_MAX });
    }

    #[test]
    fn assessed_or_closed_needs_assessment() {
        let r = make(|n| n.assessment = None);
        assert_rejected(r, "assessment", Reason::Missing);
        let r = make(|n| {
            n.assessment = None;
            n.status = RiskStatus::Assessed;
            n.closed_at = None;
        });
        assert_rejected(r, "assessment", Reason::Missing);
    }

    #[test]
    fn other_outcome_needs_text() {
        let r = with_assessment(|a| a.outcome = RiskOutcome::Other);
        assert_rejected(r, "assessment.outcome_text", Reason::Missing);
        let ok = with_assessment(|a| {
            a.outcome = RiskOutcome::Other;
            a.outcome_text = Some(text_of_len(SHORT_TEXT_MAX));
        });
        assert!(ok.is_ok());
        let r = with_assessment(|a| a.outcome_text = Some(text_of_len(SHORT_TEXT_MAX + 1)));
        let too_long = Reason::TooLong {
            max: SHORT_TEXT_MAX,
        };
        assert_rejected(r, "assessment.outcome_text", too_long);
    }

    #[test]
    fn assessment_note_limit() {
        assert!(with_assessment(|a| a.note = Some(text_of_len(NOTE_MAX))).is_ok());
        let r = with_assessment(|a| a.note = Some(text_of_len(NOTE_MAX + 1)));
        assert_rejected(r, "assessment.note", Reason::TooLong { max: NOTE_MAX });
    }

    #[test]
    fn assessed_at_rules() {
        let r = with_assessment(|a| a.assessed_at = at(days(1), 0));
        assert_rejected(r, "assessment.assessed_at", Reason::InFuture);
        let r = make(|n| {
            n.closed_at = None;
            n.status = RiskStatus::Assessed;
            if let Some(a) = n.assessment.as_mut() {
                a.assessed_at = at(today(), 9);
            }
        });
        let rule = Reason::Inconsistent("before opened_at");
        assert_rejected(r, "assessment.assessed_at", rule);
        assert!(with_assessment(|a| a.assessed_at = at(today(), 10)).is_ok());
    }

    #[test]
    fn closed_at_rules() {
        assert_rejected(make(|n| n.closed_at = None), "closed_at", Reason::Missing);
        let r = make(|n| n.status = RiskStatus::Assessed);
        assert_rejected(
            r,
            "closed_at",
            Reason::Inconsistent("the event is not closed"),
        );
        let closing = |t| make(move |n| n.closed_at = Some(t));
        assert!(closing(at(today(), 11)).is_ok());
        let r = closing(at(today(), 10));
        assert_rejected(r, "closed_at", Reason::Inconsistent("before assessed_at"));
        assert_rejected(closing(at(days(1), 0)), "closed_at", Reason::InFuture);
        let r = closing(at(today(), 9));
        assert_rejected(r, "closed_at", Reason::Inconsistent("before opened_at"));
    }
}
