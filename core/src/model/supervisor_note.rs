//! Supervisor notes on a client (case review, guidance), optionally about a risk event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::Result;
use super::ids::{ClientId, RiskEventId, SupervisorNoteId, WorkerId};
use super::text::{check_multiline, clean_multiline, NOTE_MAX};

/// A note written by a supervisor. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorNote {
    /// Identity.
    pub id: SupervisorNoteId,
    /// The client it is about.
    pub client_id: ClientId,
    /// Who wrote it.
    pub author: WorkerId,
    /// System timestamp of writing (not checked against the clock: notes arrive by sync
    /// from devices whose clocks may differ).
    pub written_at: DateTime<Utc>,
    /// The note, 1..=[`NOTE_MAX`] chars, multi-line.
    pub text: String,
    /// The risk event it is about, if any.
    pub risk_event: Option<RiskEventId>,
}

/// Input for [`SupervisorNote::new`]: every field except the id and `written_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSupervisorNote {
    /// See [`SupervisorNote::client_id`].
    pub client_id: ClientId,
    /// See [`SupervisorNote::author`].
    pub author: WorkerId,
    /// See [`SupervisorNote::text`].
    pub text: String,
    /// See [`SupervisorNote::risk_event`].
    pub risk_event: Option<RiskEventId>,
}

impl SupervisorNote {
    /// Create a note with a fresh id, written `now`, trimming the text.
    pub fn new(input: NewSupervisorNote, now: DateTime<Utc>) -> Result<Self> {
        let note = Self {
            id: SupervisorNoteId::new(),
            client_id: input.client_id,
            author: input.author,
            written_at: now,
            text: clean_multiline("text", &input.text, NOTE_MAX)?,
            risk_event: input.risk_event,
        };
        note.validate()?;
        Ok(note)
    }

    /// Check every rule on a stored or incoming note.
    pub fn validate(&self) -> Result<()> {
        check_multiline("text", &self.text, NOTE_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::Reason;
    use crate::model::test_support::{assert_rejected, text_of_len};

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_718_445_600, 0).unwrap()
    }

    fn make(text: String) -> Result<SupervisorNote> {
        let input = NewSupervisorNote {
            client_id: ClientId::new(),
            author: WorkerId::new(),
            text,
            risk_event: Some(RiskEventId::new()),
        };
        SupervisorNote::new(input, now())
    }

    #[test]
    fn valid_note() {
        let n = make(" Call her tomorrow ZQX\n- check plan ".into()).unwrap();
        assert_eq!(n.text, "Call her tomorrow ZQX\n- check plan");
        assert_eq!(n.written_at, now());
        assert!(n.validate().is_ok());
    }

    #[test]
    fn text_rules() {
        assert!(make(text_of_len(NOTE_MAX)).is_ok());
        let r = make(text_of_len(NOTE_MAX + 1));
        assert_rejected(r, "text", Reason::TooLong { max: NOTE_MAX });
        assert_rejected(make("\n \n".into()), "text", Reason::Empty);
        assert_rejected(make("ZQX\u{7}".into()), "text", Reason::ControlCharacters);
    }
}
