//! Reminders: sessions and follow-ups due for a client.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::check_scheduled_date;
use super::enums::{ReminderKind, ReminderStatus};
use super::error::{ModelError, Reason, Result};
use super::ids::{ClientId, CourseId, ReminderId};

/// Something due for a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminder {
    /// Identity.
    pub id: ReminderId,
    /// The client.
    pub client_id: ClientId,
    /// The course; required for `SessionDue`.
    pub course_id: Option<CourseId>,
    /// What is due.
    pub kind: ReminderKind,
    /// When (may be in the future; not before `EARLIEST_DATE`).
    pub due: NaiveDate,
    /// Progress.
    pub status: ReminderStatus,
}

/// Input for [`Reminder::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReminder {
    /// See [`Reminder::client_id`].
    pub client_id: ClientId,
    /// See [`Reminder::course_id`].
    pub course_id: Option<CourseId>,
    /// See [`Reminder::kind`].
    pub kind: ReminderKind,
    /// See [`Reminder::due`].
    pub due: NaiveDate,
    /// See [`Reminder::status`].
    pub status: ReminderStatus,
}

impl Reminder {
    /// Create a reminder with a fresh id.
    pub fn new(input: NewReminder) -> Result<Self> {
        let reminder = Self {
            id: ReminderId::new(),
            client_id: input.client_id,
            course_id: input.course_id,
            kind: input.kind,
            due: input.due,
            status: input.status,
        };
        reminder.validate()?;
        Ok(reminder)
    }

    /// Check every rule on a stored or updated reminder.
    pub fn validate(&self) -> Result<()> {
        check_scheduled_date("due", self.due)?;
        if self.kind == ReminderKind::SessionDue && self.course_id.is_none() {
            return Err(ModelError::invalid("course_id", Reason::Missing));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, date, days};

    fn make(f: impl FnOnce(&mut NewReminder)) -> Result<Reminder> {
        let mut input = NewReminder {
            client_id: ClientId::new(),
            course_id: Some(CourseId::new()),
            kind: ReminderKind::SessionDue,
            due: days(7),
            status: ReminderStatus::Pending,
        };
        f(&mut input);
        Reminder::new(input)
    }

    #[test]
    fn valid_reminders() {
        assert!(make(|_| {}).unwrap().validate().is_ok());
        let follow_up = make(|n| {
            n.kind = ReminderKind::FollowUp;
            n.course_id = None;
        });
        assert!(follow_up.is_ok());
    }

    #[test]
    fn due_rules() {
        assert!(make(|n| n.due = date(2000, 1, 1)).is_ok());
        let r = make(|n| n.due = date(1999, 12, 31));
        assert_rejected(r, "due", Reason::TooFarInPast);
    }

    #[test]
    fn session_due_needs_course() {
        assert_rejected(make(|n| n.course_id = None), "course_id", Reason::Missing);
    }
}
