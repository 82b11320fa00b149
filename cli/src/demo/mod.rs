//! The demo: a synthetic caseload in a real encrypted store, and what is read back from it.
//!
//! - [`names`]: synthetic people, villages and phone numbers;
//! - [`phrases`]: synthetic notes, tasks, inventory and timeline wording;
//! - [`generate`]: plan, build and write the caseload ([`populate`]);
//! - [`privacy`]: the plaintext scan of the database files;
//! - [`Counts`]: what the store holds, read back through the store's decrypting read path.

pub mod generate;
pub mod names;
pub mod phrases;
pub mod privacy;

use ipc_core::model::{
    Attendance, QuestionnaireResponse, Referral, Reminder, ReminderStatus, RiskEvent, RiskStatus,
    Session,
};
use ipc_core::store::{Filter, Store, StoreError};

pub use generate::{populate, DemoSummary, GenerateError, Stage};

/// Record counts read back from a store (live records only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sessions attended.
    pub sessions_held: usize,
    /// Sessions whose latest state is "missed".
    pub sessions_missed: usize,
    /// Sessions planned, not yet held.
    pub sessions_planned: usize,
    /// Questionnaire responses.
    pub questionnaires: usize,
    /// Risk events open.
    pub risk_open: usize,
    /// Risk events assessed.
    pub risk_assessed: usize,
    /// Risk events closed.
    pub risk_closed: usize,
    /// Referrals.
    pub referrals: usize,
    /// Reminders still pending.
    pub reminders_pending: usize,
}

impl Counts {
    /// Count the records of an unlocked store.
    pub fn read(store: &Store) -> Result<Counts, StoreError> {
        let mut c = Counts::default();
        for s in store.list::<Session>(Filter::All)? {
            match s.attendance {
                Some(Attendance::Attended) => c.sessions_held += 1,
                Some(Attendance::Missed) => c.sessions_missed += 1,
                None => c.sessions_planned += 1,
                Some(Attendance::Rescheduled) => {}
            }
        }
        c.questionnaires = store.list::<QuestionnaireResponse>(Filter::All)?.len();
        for r in store.list::<RiskEvent>(Filter::All)? {
            match r.status {
                RiskStatus::Open => c.risk_open += 1,
                RiskStatus::Assessed => c.risk_assessed += 1,
                RiskStatus::Closed => c.risk_closed += 1,
            }
        }
        c.referrals = store.list::<Referral>(Filter::All)?.len();
        c.reminders_pending = store
            .list::<Reminder>(Filter::All)?
            .iter()
            .filter(|r| r.status == ReminderStatus::Pending)
            .count();
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ipc_core::model::{Role, WorkerId};
    use ipc_core::store::keys::{KdfParams, MIN_ITERATIONS};
    use ipc_core::store::secret::FileSecretStore;
    use ipc_core::store::{NewWorker, StoreConfig};

    use super::*;

    #[test]
    fn populate_writes_what_it_reports_and_the_store_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.db");
        let secrets = Arc::new(FileSecretStore::beside(&path).unwrap());
        let worker = NewWorker {
            id: WorkerId::new(),
            display_name: "Worker ZQX".into(),
            role: Role::Worker,
            team: "team".into(),
        };
        let kdf = KdfParams {
            iterations: MIN_ITERATIONS,
        };
        let (store, _) = Store::create(
            &path,
            secrets,
            "246810",
            &worker,
            &kdf,
            StoreConfig::default(),
        )
        .unwrap();
        let summary = populate(&store, 7, 24).unwrap();
        let counts = Counts::read(&store).unwrap();
        assert_eq!(summary.clients, 24);
        assert_eq!(store.caseload().unwrap().len(), 24);
        assert_eq!(counts.sessions_held, summary.sessions_held);
        assert_eq!(counts.sessions_planned, summary.sessions_planned);
        assert!(summary.missed_then_held >= 1);
        assert_eq!(
            counts.sessions_missed,
            summary.stages.get(&Stage::DroppedOut).copied().unwrap_or(0),
            "only a dropped-out client's last appointment stays missed"
        );
        assert!(summary.sessions_missed > summary.missed_then_held);
        assert_eq!(counts.questionnaires, summary.questionnaires);
        assert_eq!(counts.risk_open, summary.risk_open);
        assert_eq!(counts.risk_assessed, summary.risk_assessed);
        assert_eq!(counts.risk_closed, summary.risk_closed);
        assert_eq!(counts.referrals, summary.referrals);
        assert_eq!(counts.reminders_pending, summary.reminders);
        assert_eq!(store.outbox_len().unwrap(), summary.operations);
        let open: u32 = store
            .caseload()
            .unwrap()
            .iter()
            .map(|r| r.open_risk_events)
            .sum();
        assert_eq!(usize::try_from(open).unwrap(), summary.risk_open);

        // While the store is open the data sits in the WAL: the scan must look there, find no
        // name or phone, and yet find clear (non-personal) columns, so it can see plaintext.
        let files = privacy::database_files(&path);
        assert!(files.iter().any(|f| f.to_string_lossy().ends_with("-wal")));
        let mut needles = Vec::new();
        for c in store.list::<ipc_core::model::Client>(Filter::All).unwrap() {
            needles.push(c.display_name);
            needles.extend(c.phone);
        }
        assert!(needles.len() > 24);
        let scan = privacy::scan(&files, &needles).unwrap();
        assert!(scan.found.is_empty(), "plaintext found: {:?}", scan.found);
        let control = privacy::scan(&files, &["attended".to_owned()]).unwrap();
        assert_eq!(
            control.found.len(),
            1,
            "clear columns are visible to the scan"
        );
    }
}
