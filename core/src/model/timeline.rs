//! Timeline events: life events linked to mood changes, gathered in the initial phase.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::dates::check_life_date;
use super::enums::MoodChange;
use super::error::Result;
use super::ids::{ClientId, CourseId, TimelineEventId};
use super::text::{check_multiline, clean_multiline, SHORT_TEXT_MAX};

/// A life event on the client's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    /// Identity.
    pub id: TimelineEventId,
    /// The course whose timeline this is.
    pub course_id: CourseId,
    /// The client.
    pub client_id: ClientId,
    /// When it happened: not in the future, within `MAX_AGE_YEARS` of today.
    pub date: NaiveDate,
    /// What happened, 1..=[`SHORT_TEXT_MAX`] chars, multi-line.
    pub event: String,
    /// How mood changed around it.
    pub mood_change: MoodChange,
}

/// Input for [`TimelineEvent::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimelineEvent {
    /// See [`TimelineEvent::course_id`].
    pub course_id: CourseId,
    /// See [`TimelineEvent::client_id`].
    pub client_id: ClientId,
    /// See [`TimelineEvent::date`].
    pub date: NaiveDate,
    /// See [`TimelineEvent::event`].
    pub event: String,
    /// See [`TimelineEvent::mood_change`].
    pub mood_change: MoodChange,
}

impl TimelineEvent {
    /// Create an event with a fresh id, trimming text.
    pub fn new(input: NewTimelineEvent, today: NaiveDate) -> Result<Self> {
        let event = Self {
            id: TimelineEventId::new(),
            course_id: input.course_id,
            client_id: input.client_id,
            date: input.date,
            event: clean_multiline("event", &input.event, SHORT_TEXT_MAX)?,
            mood_change: input.mood_change,
        };
        event.validate(today)?;
        Ok(event)
    }

    /// Check every rule on a stored or updated event.
    pub fn validate(&self, today: NaiveDate) -> Result<()> {
        check_life_date("date", self.date, today)?;
        check_multiline("event", &self.event, SHORT_TEXT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::Reason;
    use crate::model::test_support::{assert_rejected, date, days, text_of_len, today};

    fn make(f: impl FnOnce(&mut NewTimelineEvent)) -> Result<TimelineEvent> {
        let mut input = NewTimelineEvent {
            course_id: CourseId::new(),
            client_id: ClientId::new(),
            date: date(1998, 3, 1),
            event: " Lost job ZQX ".into(),
            mood_change: MoodChange::Worse,
        };
        f(&mut input);
        TimelineEvent::new(input, today())
    }

    #[test]
    fn valid_event() {
        let e = make(|_| {}).unwrap();
        assert_eq!(e.event, "Lost job ZQX");
        assert!(e.validate(today()).is_ok());
    }

    #[test]
    fn date_rules() {
        assert!(make(|n| n.date = today()).is_ok());
        assert_rejected(make(|n| n.date = days(1)), "date", Reason::InFuture);
        assert!(make(|n| n.date = date(1904, 1, 1)).is_ok());
        let r = make(|n| n.date = date(1903, 12, 31));
        assert_rejected(r, "date", Reason::TooFarInPast);
    }

    #[test]
    fn event_text_rules() {
        assert!(make(|n| n.event = text_of_len(SHORT_TEXT_MAX)).is_ok());
        let r = make(|n| n.event = text_of_len(SHORT_TEXT_MAX + 1));
        assert_rejected(
            r,
            "event",
            Reason::TooLong {
                max: SHORT_TEXT_MAX,
            },
        );
        assert_rejected(make(|n| n.event = "\n".into()), "event", Reason::Empty);
    }
}
