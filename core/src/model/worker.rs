//! Workers: the people who use the app (CHWs, supervisors, admins).

use serde::{Deserialize, Serialize};

use super::enums::Role;
use super::error::Result;
use super::ids::WorkerId;
use super::text::{check_text, clean_text, NAME_MAX, TEAM_MAX};

/// A user of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    /// Identity.
    pub id: WorkerId,
    /// Name shown in the app (personal data), 1..=[`NAME_MAX`] chars, single line.
    pub display_name: String,
    /// What the worker may do.
    pub role: Role,
    /// Team name (short, non-personal), 1..=[`TEAM_MAX`] chars, single line.
    pub team: String,
}

/// Input for [`Worker::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorker {
    /// See [`Worker::display_name`].
    pub display_name: String,
    /// See [`Worker::role`].
    pub role: Role,
    /// See [`Worker::team`].
    pub team: String,
}

impl Worker {
    /// Create a worker with a fresh id, trimming text fields.
    pub fn new(input: NewWorker) -> Result<Self> {
        let worker = Self {
            id: WorkerId::new(),
            display_name: clean_text("display_name", &input.display_name, NAME_MAX)?,
            role: input.role,
            team: clean_text("team", &input.team, TEAM_MAX)?,
        };
        worker.validate()?;
        Ok(worker)
    }

    /// Check every rule on a stored or updated worker.
    pub fn validate(&self) -> Result<()> {
        check_text("display_name", &self.display_name, NAME_MAX)?;
        check_text("team", &self.team, TEAM_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::error::Reason;
    use crate::model::test_support::{assert_rejected, text_of_len};

    fn make(f: impl FnOnce(&mut NewWorker)) -> Result<Worker> {
        let mut input = NewWorker {
            display_name: " Grace ZQX ".into(),
            role: Role::Worker,
            team: "Team East".into(),
        };
        f(&mut input);
        Worker::new(input)
    }

    #[test]
    fn valid_worker_is_trimmed() {
        let w = make(|_| {}).unwrap();
        assert_eq!(w.display_name, "Grace ZQX");
        assert_eq!(w.team, "Team East");
        assert!(w.validate().is_ok());
    }

    #[test]
    fn display_name_rules() {
        assert!(make(|n| n.display_name = text_of_len(NAME_MAX)).is_ok());
        let too_long = make(|n| n.display_name = text_of_len(NAME_MAX + 1));
        assert_rejected(too_long, "display_name", Reason::TooLong { max: NAME_MAX });
        assert_rejected(
            make(|n| n.display_name = "  ".into()),
            "display_name",
            Reason::Empty,
        );
        let ctl = make(|n| n.display_name = "ZQX\u{1b}".into());
        assert_rejected(ctl, "display_name", Reason::ControlCharacters);
    }

    #[test]
    fn team_rules() {
        assert!(make(|n| n.team = text_of_len(TEAM_MAX)).is_ok());
        let too_long = make(|n| n.team = text_of_len(TEAM_MAX + 1));
        assert_rejected(too_long, "team", Reason::TooLong { max: TEAM_MAX });
        assert_rejected(make(|n| n.team = String::new()), "team", Reason::Empty);
    }

    #[test]
    fn validate_rejects_untrimmed_stored_text() {
        let mut w = make(|_| {}).unwrap();
        w.team = " Team East".into();
        assert_rejected(w.validate(), "team", Reason::InvalidFormat);
    }

    #[test]
    fn serde_round_trip() {
        let w = make(|n| n.role = Role::Supervisor).unwrap();
        let json = serde_json::to_string(&w).unwrap();
        assert!(json.contains("\"role\":\"supervisor\""));
        assert_eq!(serde_json::from_str::<Worker>(&json).unwrap(), w);
    }
}
