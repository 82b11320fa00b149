//! Sessions of a course: plan, attendance, agenda steps done or skipped, notes and task.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::course::HARD_MAX_SESSIONS;
use super::dates::{check_recorded_date, check_scheduled_date};
use super::enums::{Attendance, Modality, Phase};
use super::error::{ModelError, Reason, Result};
use super::ids::{ClientId, CourseId, SessionId};
use super::text::{
    check_code, check_codes, check_multiline, check_optional_multiline, check_unique,
    clean_multiline, clean_optional_multiline, NOTE_MAX, SHORT_TEXT_MAX,
};

/// An agenda step that was not done, and why. A value embedded in [`Session`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedStep {
    /// Agenda step code (`[a-z0-9_]`).
    pub step: String,
    /// Why it was skipped (required), ≤ [`SHORT_TEXT_MAX`] chars, multi-line.
    pub reason: String,
}

impl SkippedStep {
    /// Trim the reason, then [`validate`](Self::validate).
    pub fn cleaned(self) -> Result<Self> {
        let step = Self {
            reason: clean_multiline("steps_skipped.reason", &self.reason, SHORT_TEXT_MAX)?,
            ..self
        };
        step.validate()?;
        Ok(step)
    }

    /// Check the step code and reason (reported as `steps_skipped.*`).
    pub fn validate(&self) -> Result<()> {
        check_code("steps_skipped.step", &self.step, &[])?;
        check_multiline("steps_skipped.reason", &self.reason, SHORT_TEXT_MAX)
    }
}

/// One counselling session (planned, held, missed or rescheduled).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Identity.
    pub id: SessionId,
    /// The course it belongs to.
    pub course_id: CourseId,
    /// The client (same as the course's).
    pub client_id: ClientId,
    /// Position in the course: `1..=HARD_MAX_SESSIONS`.
    pub number: u8,
    /// IPC phase.
    pub phase: Phase,
    /// Planned date (may be in the future; not before `EARLIEST_DATE`).
    pub planned_date: Option<NaiveDate>,
    /// When it was held, local time as entered: present iff attended; not in the future.
    pub held_at: Option<NaiveDateTime>,
    /// Attendance, once known.
    pub attendance: Option<Attendance>,
    /// How it was (or will be) delivered.
    pub modality: Option<Modality>,
    /// Agenda step codes done (`[a-z0-9_]`), unique.
    pub steps_done: Vec<String>,
    /// Agenda steps skipped, with reasons; unique, and none also in `steps_done`.
    pub steps_skipped: Vec<SkippedStep>,
    /// Session notes, ≤ [`NOTE_MAX`] chars, multi-line.
    pub notes: Option<String>,
    /// Between-session task, ≤ [`SHORT_TEXT_MAX`] chars, multi-line.
    pub task: Option<String>,
    /// The session record is finished (only for an attended session).
    pub completed: bool,
}

/// Input for [`Session::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// See [`Session::course_id`].
    pub course_id: CourseId,
    /// See [`Session::client_id`].
    pub client_id: ClientId,
    /// See [`Session::number`].
    pub number: u8,
    /// See [`Session::phase`].
    pub phase: Phase,
    /// See [`Session::planned_date`].
    pub planned_date: Option<NaiveDate>,
    /// See [`Session::held_at`].
    pub held_at: Option<NaiveDateTime>,
    /// See [`Session::attendance`].
    pub attendance: Option<Attendance>,
    /// See [`Session::modality`].
    pub modality: Option<Modality>,
    /// See [`Session::steps_done`].
    pub steps_done: Vec<String>,
    /// See [`Session::steps_skipped`].
    pub steps_skipped: Vec<SkippedStep>,
    /// See [`Session::notes`]; blank means none.
    pub notes: Option<String>,
    /// See [`Session::task`]; blank means none.
    pub task: Option<String>,
    /// See [`Session::completed`].
    pub completed: bool,
}

impl Session {
    /// Create a session with a fresh id, trimming free text.
    pub fn new(input: NewSession, today: NaiveDate) -> Result<Self> {
        let session = Self {
            id: SessionId::new(),
            course_id: input.course_id,
            client_id: input.client_id,
            number: input.number,
            phase: input.phase,
            planned_date: input.planned_date,
            held_at: input.held_at,
            attendance: input.attendance,
            modality: input.modality,
            steps_done: input.steps_done,
            steps_skipped: input
                .steps_skipped
                .into_iter()
                .map(SkippedStep::cleaned)
                .collect::<Result<_>>()?,
            notes: clean_optional_multiline("notes", input.notes.as_deref(), NOTE_MAX)?,
            task: clean_optional_multiline("task", input.task.as_deref(), SHORT_TEXT_MAX)?,
            completed: input.completed,
        };
        session.validate(today)?;
        Ok(session)
    }

    /// Check every rule on a stored or updated session.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        let err = |field, reason| Err(ModelError::invalid(field, reason));
        if !(1..=HARD_MAX_SESSIONS).contains(&self.number) {
            let range = Reason::OutOfRange {
                min: 1,
                max: i64::from(HARD_MAX_SESSIONS),
            };
            return err("number", range);
        }
        if let Some(planned) = self.planned_date {
            check_scheduled_date("planned_date", planned)?;
        }
        let attended = self.attendance == Some(Attendance::Attended);
        match self.held_at {
            None if attended => return err("held_at", Reason::Missing),
            Some(_) if !attended => {
                return err(
                    "held_at",
                    Reason::Inconsistent("the session was not attended"),
                );
            }
            Some(held) => check_recorded_date("held_at", held.date(), today)?,
            None => {}
        }
        if self.completed && !attended {
            return err(
                "completed",
                Reason::Inconsistent("the session was not attended"),
            );
        }
        check_codes("steps_done", &self.steps_done, &[])?;
        for skipped in &self.steps_skipped {
            skipped.validate()?;
        }
        check_unique("steps_skipped", self.steps_skipped.iter().map(|s| &s.step))?;
        if self
            .steps_skipped
            .iter()
            .any(|s| self.steps_done.contains(&s.step))
        {
            return err("steps_skipped", Reason::Inconsistent("step is also done"));
        }
        check_optional_multiline("notes", self.notes.as_deref(), NOTE_MAX)?;
        check_optional_multiline("task", self.task.as_deref(), SHORT_TEXT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, at, date, days, text_of_len, today};

    fn skipped(step: &str, reason: &str) -> SkippedStep {
        SkippedStep {
            step: step.into(),
            reason: reason.into(),
        }
    }

    fn make(f: impl FnOnce(&mut NewSession)) -> Result<Session> {
        let mut input = NewSession {
            course_id: CourseId::new(),
            client_id: ClientId::new(),
            number: 2,
            phase: Phase::Middle,
            planned_date: Some(today()),
            held_at: Some(at(today(), 9)),
            attendance: Some(Attendance::Attended),
            modality: Some(Modality::InPerson),
            steps_done: vec!["check_in".into(), "phq9".into()],
            steps_skipped: vec![skipped("role_play", " client tired ZQX ")],
            notes: Some("Notes ZQX\n\tmore".into()),
            task: Some("Call sister ZQX".into()),
            completed: true,
        };
        f(&mut input);
        Session::new(input, today())
    }

    fn not_held(n: &mut NewSession, attendance: Option<Attendance>) {
        n.attendance = attendance;
        n.held_at = None;
        n.completed = false;
    }

    #[test]
    fn valid_sessions() {
        let s = make(|_| {}).unwrap();
        assert_eq!(s.steps_skipped[0].reason, "client tired ZQX");
        assert!(s.validate(today()).is_ok());
        assert!(make(|n| not_held(n, None)).is_ok());
        assert!(make(|n| not_held(n, Some(Attendance::Missed))).is_ok());
        assert!(make(|n| not_held(n, Some(Attendance::Rescheduled))).is_ok());
        assert!(make(|n| n.completed = false).is_ok());
    }

    #[test]
    fn number_range() {
        let range = Reason::OutOfRange { min: 1, max: 16 };
        assert!(make(|n| n.number = 1).is_ok());
        assert!(make(|n| n.number = 16).is_ok());
        assert_rejected(make(|n| n.number = 0), "number", range);
        assert_rejected(make(|n| n.number = 17), "number", range);
    }

    #[test]
    fn planned_date_rules() {
        assert!(make(|n| n.planned_date = Some(days(60))).is_ok());
        assert!(make(|n| n.planned_date = Some(date(2000, 1, 1))).is_ok());
        let r = make(|n| n.planned_date = Some(date(1999, 12, 31)));
        assert_rejected(r, "planned_date", Reason::TooFarInPast);
    }

    #[test]
    fn held_at_rules() {
        assert!(make(|n| n.held_at = Some(at(today(), 23))).is_ok());
        let r = make(|n| n.held_at = Some(at(days(1), 0)));
        assert_rejected(r, "held_at", Reason::InFuture);
        let r = make(|n| n.held_at = Some(at(date(1999, 12, 31), 9)));
        assert_rejected(r, "held_at", Reason::TooFarInPast);
        assert_rejected(make(|n| n.held_at = None), "held_at", Reason::Missing);
        let r = make(|n| {
            n.attendance = Some(Attendance::Missed);
            n.completed = false;
        });
        assert_rejected(
            r,
            "held_at",
            Reason::Inconsistent("the session was not attended"),
        );
    }

    #[test]
    fn completed_needs_attendance() {
        let r = make(|n| {
            not_held(n, Some(Attendance::Rescheduled));
            n.completed = true;
        });
        assert_rejected(
            r,
            "completed",
            Reason::Inconsistent("the session was not attended"),
        );
    }

    #[test]
    fn steps_done_rules() {
        let r = make(|n| n.steps_done.push("phq9".into()));
        assert_rejected(r, "steps_done", Reason::Duplicate);
        let r = make(|n| n.steps_done.push("check-in".into()));
        assert_rejected(r, "steps_done", Reason::InvalidFormat);
        let r = make(|n| n.steps_done.push(String::new()));
        assert_rejected(r, "steps_done", Reason::Empty);
    }

    #[test]
    fn steps_skipped_rules() {
        let r = make(|n| n.steps_skipped.push(skipped("role_play", "again")));
        assert_rejected(r, "steps_skipped", Reason::Duplicate);
        let r = make(|n| n.steps_skipped.push(skipped("phq9", "not needed")));
        assert_rejected(
            r,
            "steps_skipped",
            Reason::Inconsistent("step is also done"),
        );
        let r = make(|n| n.steps_skipped.push(skipped("timeline", "  ")));
        assert_rejected(r, "steps_skipped.reason", Reason::Empty);
        let r = make(|n| n.steps_skipped.push(skipped("Time line", "ZQX")));
        assert_rejected(r, "steps_skipped.step", Reason::InvalidFormat);
        let long = |len| make(move |n| n.steps_skipped = vec![skipped("a", &text_of_len(len))]);
        assert!(long(SHORT_TEXT_MAX).is_ok());
        let r = long(SHORT_TEXT_MAX + 1);
        assert_rejected(
            r,
            "steps_skipped.reason",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
    }

    #[test]
    fn notes_and_task_limits() {
        assert!(make(|n| n.notes = Some(text_of_len(NOTE_MAX))).is_ok());
        let r = make(|n| n.notes = Some(text_of_len(NOTE_MAX + 1)));
        assert_rejected(r, "notes", Reason::TooLong { max: NOTE_MAX });
        assert!(make(|n| n.task = Some(text_of_len(SHORT_TEXT_MAX))).is_ok());
        let r = make(|n| n.task = Some(text_of_len(SHORT_TEXT_MAX + 1)));
        assert_rejected(
            r,
            "task",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
        let r = make(|n| n.task = Some("ZQX\r\nmore".into()));
        assert_rejected(r, "task", Reason::ControlCharacters);
    }

    #[test]
    fn validate_checks_updates() {
        let mut s = make(|_| {}).unwrap();
        s.attendance = Some(Attendance::Missed);
        assert_rejected(
            s.validate(today()),
            "held_at",
            Reason::Inconsistent("the session was not attended"),
        );
    }
}
