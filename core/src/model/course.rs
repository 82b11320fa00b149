//! Courses: one IPC episode for a client — plan, problem areas, status and how it ended.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::{check_not_before, check_recorded_date};
use super::enums::{CourseStatus, DisputeStage, EndReason, ProblemArea};
use super::error::{ModelError, Reason, Result};
use super::ids::{ClientId, CourseId, WorkerId};
use super::text::{
    check_optional_multiline, check_unique, clean_optional_multiline, SHORT_TEXT_MAX,
};

/// Hard upper bound on sessions in a course; the protocol configuration narrows the
/// usual range (IPC: 3–8).
pub const HARD_MAX_SESSIONS: u8 = 16;

/// At most this many problem areas per course (usually one, rarely two).
pub const MAX_PROBLEM_AREAS: usize = 2;

const NOT_ENDED: &str = "the course has not ended";

/// One IPC episode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Course {
    /// Identity.
    pub id: CourseId,
    /// Whose course.
    pub client_id: ClientId,
    /// The worker delivering it.
    pub worker_id: WorkerId,
    /// Enrolment date: `EARLIEST_DATE..=today`.
    pub enrolled_on: NaiveDate,
    /// Planned number of sessions: `1..=HARD_MAX_SESSIONS`.
    pub planned_sessions: u8,
    /// Chosen problem areas: at most [`MAX_PROBLEM_AREAS`], no duplicates, may be empty
    /// before the initial phase chooses one.
    pub problem_areas: Vec<ProblemArea>,
    /// Dispute stage; only when `Disputes` is among the problem areas.
    pub dispute_stage: Option<DisputeStage>,
    /// Where the course stands.
    pub status: CourseStatus,
    /// Why it ended: present iff `status` is ended, and matching it.
    pub end_reason: Option<EndReason>,
    /// Note on the ending (≤ [`SHORT_TEXT_MAX`], multi-line); only when ended.
    pub end_note: Option<String>,
    /// End date: present iff ended; not before `enrolled_on`, not after today.
    pub ended_on: Option<NaiveDate>,
    /// Why sessions were added beyond the plan (≤ [`SHORT_TEXT_MAX`], multi-line).
    pub extension_reason: Option<String>,
}

/// Input for [`Course::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCourse {
    /// See [`Course::client_id`].
    pub client_id: ClientId,
    /// See [`Course::worker_id`].
    pub worker_id: WorkerId,
    /// See [`Course::enrolled_on`].
    pub enrolled_on: NaiveDate,
    /// See [`Course::planned_sessions`].
    pub planned_sessions: u8,
    /// See [`Course::problem_areas`].
    pub problem_areas: Vec<ProblemArea>,
    /// See [`Course::dispute_stage`].
    pub dispute_stage: Option<DisputeStage>,
    /// See [`Course::status`] (usually `Enrolled`).
    pub status: CourseStatus,
    /// See [`Course::end_reason`].
    pub end_reason: Option<EndReason>,
    /// See [`Course::end_note`]; blank means none.
    pub end_note: Option<String>,
    /// See [`Course::ended_on`].
    pub ended_on: Option<NaiveDate>,
    /// See [`Course::extension_reason`]; blank means none.
    pub extension_reason: Option<String>,
}

impl Course {
    /// Create a course with a fresh id.
    pub fn new(input: NewCourse, today: NaiveDate) -> Result<Self> {
        let course = Self {
            id: CourseId::new(),
            client_id: input.client_id,
            worker_id: input.worker_id,
            enrolled_on: input.enrolled_on,
            planned_sessions: input.planned_sessions,
            problem_areas: input.problem_areas,
            dispute_stage: input.dispute_stage,
            status: input.status,
            end_reason: input.end_reason,
            end_note: clean_optional_multiline(
                "end_note",
                input.end_note.as_deref(),
                SHORT_TEXT_MAX,
            )?,
            ended_on: input.ended_on,
            extension_reason: clean_optional_multiline(
                "extension_reason",
                input.extension_reason.as_deref(),
                SHORT_TEXT_MAX,
            )?,
        };
        course.validate(today)?;
        Ok(course)
    }

    /// Check every rule on a stored or updated course.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        let err = |field, reason| Err(ModelError::invalid(field, reason));
        check_recorded_date("enrolled_on", self.enrolled_on, today)?;
        if !(1..=HARD_MAX_SESSIONS).contains(&self.planned_sessions) {
            let range = Reason::OutOfRange {
                min: 1,
                max: i64::from(HARD_MAX_SESSIONS),
            };
            return err("planned_sessions", range);
        }
        if self.problem_areas.len() > MAX_PROBLEM_AREAS {
            return err(
                "problem_areas",
                Reason::TooMany {
                    max: MAX_PROBLEM_AREAS,
                },
            );
        }
        check_unique("problem_areas", &self.problem_areas)?;
        if self.dispute_stage.is_some() && !self.problem_areas.contains(&ProblemArea::Disputes) {
            let rule = Reason::Inconsistent("needs the disputes problem area");
            return err("dispute_stage", rule);
        }
        let ended = self.status.is_ended();
        match self.end_reason {
            None if ended => return err("end_reason", Reason::Missing),
            Some(_) if !ended => return err("end_reason", Reason::Inconsistent(NOT_ENDED)),
            Some(reason) if reason.status() != self.status => {
                return err("end_reason", Reason::Inconsistent("does not match status"));
            }
            _ => {}
        }
        match self.ended_on {
            None if ended => return err("ended_on", Reason::Missing),
            Some(_) if !ended => return err("ended_on", Reason::Inconsistent(NOT_ENDED)),
            Some(on) => {
                check_recorded_date("ended_on", on, today)?;
                check_not_before("ended_on", on, self.enrolled_on, "before enrolled_on")?;
            }
            None => {}
        }
        check_optional_multiline("end_note", self.end_note.as_deref(), SHORT_TEXT_MAX)?;
        if self.end_note.is_some() && !ended {
            return err("end_note", Reason::Inconsistent(NOT_ENDED));
        }
        check_optional_multiline(
            "extension_reason",
            self.extension_reason.as_deref(),
            SHORT_TEXT_MAX,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, date, days, text_of_len, today};

    fn new_course() -> NewCourse {
        NewCourse {
            client_id: ClientId::new(),
            worker_id: WorkerId::new(),
            enrolled_on: days(-30),
            planned_sessions: 6,
            problem_areas: vec![ProblemArea::Disputes],
            dispute_stage: Some(DisputeStage::Impasse),
            status: CourseStatus::Middle,
            end_reason: None,
            end_note: None,
            ended_on: None,
            extension_reason: Some(" needs two more ZQX ".into()),
        }
    }

    fn make(f: impl FnOnce(&mut NewCourse)) -> Result<Course> {
        let mut input = new_course();
        f(&mut input);
        Course::new(input, today())
    }

    fn end(n: &mut NewCourse, reason: EndReason) {
        n.status = reason.status();
        n.end_reason = Some(reason);
        n.ended_on = Some(today());
    }

    #[test]
    fn valid_courses() {
        let c = make(|_| {}).unwrap();
        assert_eq!(c.extension_reason.as_deref(), Some("needs two more ZQX"));
        assert!(c.validate(today()).is_ok());
        for &reason in EndReason::ALL {
            assert!(make(|n| end(n, reason)).is_ok(), "{reason}");
        }
        let fresh = make(|n| {
            n.status = CourseStatus::Enrolled;
            n.problem_areas.clear();
            n.dispute_stage = None;
        });
        assert!(fresh.is_ok());
    }

    #[test]
    fn enrolled_on_rules() {
        assert!(make(|n| n.enrolled_on = today()).is_ok());
        let r = make(|n| n.enrolled_on = days(1));
        assert_rejected(r, "enrolled_on", Reason::InFuture);
        assert!(make(|n| n.enrolled_on = date(2000, 1, 1)).is_ok());
        let r = make(|n| n.enrolled_on = date(1999, 12, 31));
        assert_rejected(r, "enrolled_on", Reason::TooFarInPast);
    }

    #[test]
    fn planned_sessions_range() {
        let range = Reason::OutOfRange { min: 1, max: 16 };
        assert!(make(|n| n.planned_sessions = 1).is_ok());
        assert!(make(|n| n.planned_sessions = HARD_MAX_SESSIONS).is_ok());
        assert_rejected(make(|n| n.planned_sessions = 0), "planned_sessions", range);
        assert_rejected(make(|n| n.planned_sessions = 17), "planned_sessions", range);
    }

    #[test]
    fn problem_area_rules() {
        assert!(make(|n| n.problem_areas.push(ProblemArea::Grief)).is_ok());
        let r = make(|n| {
            n.problem_areas
                .extend([ProblemArea::Grief, ProblemArea::Loneliness])
        });
        assert_rejected(r, "problem_areas", Reason::TooMany { max: 2 });
        let r = make(|n| n.problem_areas.push(ProblemArea::Disputes));
        assert_rejected(r, "problem_areas", Reason::Duplicate);
    }

    #[test]
    fn dispute_stage_needs_disputes() {
        let r = make(|n| n.problem_areas = vec![ProblemArea::Grief]);
        assert_rejected(
            r,
            "dispute_stage",
            Reason::Inconsistent("needs the disputes problem area"),
        );
        let ok = make(|n| {
            n.problem_areas = vec![ProblemArea::Grief];
            n.dispute_stage = None;
        });
        assert!(ok.is_ok());
    }

    #[test]
    fn end_reason_iff_ended_and_matching() {
        let r = make(|n| {
            n.status = CourseStatus::Completed;
            n.ended_on = Some(today());
        });
        assert_rejected(r, "end_reason", Reason::Missing);
        let r = make(|n| n.end_reason = Some(EndReason::Moved));
        assert_rejected(r, "end_reason", Reason::Inconsistent(NOT_ENDED));
        let r = make(|n| {
            end(n, EndReason::Moved);
            n.status = CourseStatus::Died;
        });
        assert_rejected(
            r,
            "end_reason",
            Reason::Inconsistent("does not match status"),
        );
    }

    #[test]
    fn ended_on_rules() {
        let r = make(|n| {
            end(n, EndReason::Completed);
            n.ended_on = None;
        });
        assert_rejected(r, "ended_on", Reason::Missing);
        let r = make(|n| n.ended_on = Some(today()));
        assert_rejected(r, "ended_on", Reason::Inconsistent(NOT_ENDED));
        let on = |d| {
            make(move |n| {
                end(n, EndReason::DroppedOut);
                n.ended_on = Some(d);
            })
        };
        assert!(on(days(-30)).is_ok());
        let r = on(days(-31));
        assert_rejected(r, "ended_on", Reason::Inconsistent("before enrolled_on"));
        assert_rejected(on(days(1)), "ended_on", Reason::InFuture);
    }

    #[test]
    fn end_note_rules() {
        let r = make(|n| n.end_note = Some("ZQX".into()));
        assert_rejected(r, "end_note", Reason::Inconsistent(NOT_ENDED));
        let note = |len| {
            make(move |n| {
                end(n, EndReason::Referred);
                n.end_note = Some(text_of_len(len));
            })
        };
        assert!(note(SHORT_TEXT_MAX).is_ok());
        let r = note(SHORT_TEXT_MAX + 1);
        assert_rejected(
            r,
            "end_note",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
    }

    #[test]
    fn extension_reason_limit() {
        assert!(make(|n| n.extension_reason = Some(text_of_len(SHORT_TEXT_MAX))).is_ok());
        let r = make(|n| n.extension_reason = Some(text_of_len(SHORT_TEXT_MAX + 1)));
        assert_rejected(
            r,
            "extension_reason",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
    }

    #[test]
    fn validate_checks_updates() {
        let mut c = make(|_| {}).unwrap();
        c.status = CourseStatus::Completed;
        assert_rejected(c.validate(today()), "end_reason", Reason::Missing);
        c.end_reason = Some(EndReason::Completed);
        c.ended_on = Some(today());
        assert!(c.validate(today()).is_ok());
    }
}
