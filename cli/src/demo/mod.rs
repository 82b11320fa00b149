//! The demo: a synthetic caseload in a real encrypted store, made by the course engine, and
//! what is read back from it.
//!
//! - [`names`]: synthetic people, villages and phone numbers;
//! - [`phrases`]: synthetic notes, tasks, inventory and timeline wording;
//! - [`generate`]: plan the caseload, script it as dated engine steps, and run them on a
//!   manual clock ([`populate`]);
//! - [`network`]: the sync act — an embedded server, enrolment, syncs over a patchy network;
//! - [`privacy`]: the plaintext scan of the database files;
//! - [`Counts`]: what the store holds, read back through the store's decrypting read path.

pub mod generate;
pub mod names;
pub mod network;
pub mod phrases;
pub mod privacy;

use ipc_core::model::{
    Attendance, QuestionnaireResponse, Referral, ReferralUrgency, Reminder, ReminderStatus,
    RiskEvent, RiskStatus, Session,
};
use ipc_core::store::{Filter, Store, StoreError};

pub use generate::{history_start, populate, DemoSummary, GenerateError, Stage};

/// Record counts read back from a store (live records only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sessions attended.
    pub sessions_held: usize,
    /// Sessions recorded as missed.
    pub sessions_missed: usize,
    /// Sessions planned, not yet held.
    pub sessions_planned: usize,
    /// Questionnaire responses.
    pub questionnaires: usize,
    /// Risk events waiting for their assessment.
    pub risk_waiting: usize,
    /// Risk events assessed (not closed).
    pub risk_assessed: usize,
    /// Risk events closed.
    pub risk_closed: usize,
    /// Referrals.
    pub referrals: usize,
    /// Urgent referrals.
    pub referrals_urgent: usize,
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
                RiskStatus::Open if r.assessment.is_none() => c.risk_waiting += 1,
                RiskStatus::Open | RiskStatus::Assessed => c.risk_assessed += 1,
                RiskStatus::Closed => c.risk_closed += 1,
            }
        }
        let referrals = store.list::<Referral>(Filter::All)?;
        c.referrals = referrals.len();
        c.referrals_urgent = referrals
            .iter()
            .filter(|r| r.urgency == ReferralUrgency::Urgent)
            .count();
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

    use chrono::{NaiveDate, NaiveTime};
    use ipc_core::clock::ManualClock;
    use ipc_core::model::{Client, RiskOutcome, RiskTrigger, Role, WorkerId};
    use ipc_core::protocol::Protocol;
    use ipc_core::store::keys::{KdfParams, PinPolicy, MIN_ITERATIONS};
    use ipc_core::store::secret::FileSecretStore;
    use ipc_core::store::{NewWorker, StoreConfig};

    use super::*;

    /// A demo store for `today` at 16:00 (the worker's day nearly done).
    fn demo_store(dir: &std::path::Path, today: NaiveDate) -> (Store, Arc<ManualClock>) {
        let path = dir.join("demo.db");
        let secrets = Arc::new(FileSecretStore::beside(&path).unwrap());
        let worker = NewWorker {
            id: WorkerId::new(),
            display_name: "Worker ZQX".into(),
            role: Role::Worker,
            team: "team".into(),
        };
        let clock = Arc::new(ManualClock::new(history_start(today)));
        let config = StoreConfig {
            pin_policy: PinPolicy::default(),
            clock: clock.clone(),
        };
        let kdf = KdfParams {
            iterations: MIN_ITERATIONS,
        };
        let (store, _) = Store::create(&path, secrets, "246810", &worker, &kdf, config).unwrap();
        (store, clock)
    }

    fn four_pm(today: NaiveDate) -> chrono::DateTime<chrono::Utc> {
        today
            .and_time(NaiveTime::from_hms_opt(16, 0, 0).unwrap())
            .and_utc()
    }

    #[test]
    fn populate_runs_the_engine_and_the_store_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let (store, clock) = demo_store(dir.path(), today);
        let summary = populate(&store, &clock, four_pm(today), 7, 24).unwrap();
        assert_eq!(store.read(|r| Ok::<_, StoreError>(r.today)).unwrap(), today);
        let counts = Counts::read(&store).unwrap();
        assert_eq!(summary.clients, 24);
        assert_eq!(store.caseload().unwrap().len(), 24);
        assert_eq!(summary.stages.len(), Stage::ALL.len());
        assert_eq!(counts.sessions_held, summary.sessions_held);
        assert_eq!(counts.sessions_missed, summary.sessions_missed);
        assert!(summary.missed_then_held >= 1);
        assert!(summary.sessions_held >= 30, "{summary:?}");
        assert_eq!(counts.questionnaires, summary.questionnaires);
        assert_eq!(
            summary.courses,
            store
                .list::<ipc_core::model::Course>(Filter::All)
                .unwrap()
                .len()
        );
        assert_eq!(store.outbox_len().unwrap(), summary.operations);
        assert!(summary.days > 20 && summary.steps > 100, "{summary:?}");

        // The risk events: one concern waiting for its assessment; the others assessed with
        // the supervisor contacted; one urgent referral.
        let risks = store.list::<RiskEvent>(Filter::All).unwrap();
        assert_eq!(risks.len(), summary.risk_events);
        assert_eq!(counts.risk_waiting, 1);
        assert_eq!(counts.risk_assessed, summary.risk_assessments);
        let waiting = risks.iter().find(|r| r.assessment.is_none()).unwrap();
        assert_eq!(waiting.trigger, RiskTrigger::WorkerConcern);
        assert!(risks
            .iter()
            .filter_map(|r| r.assessment.as_ref())
            .all(|a| a.supervisor_contacted));
        assert!(risks.iter().any(|r| r.trigger == RiskTrigger::Phq9Item9
            && r.assessment
                .as_ref()
                .is_some_and(|a| a.outcome == RiskOutcome::SafetyPlan)));
        assert_eq!(counts.referrals_urgent, 1);

        // What the worker and the supervisor see: the waiting concern at the top of the
        // worklist; every risk event in the supervisor's queue, the waiting one first.
        let protocol = Protocol::builtin().unwrap();
        let (worklist, queue) = store
            .read(|r| {
                Ok::<_, ipc_core::protocol::ProtocolError>((
                    protocol.worklist(r, today)?,
                    protocol.supervisor_queue(r, today)?,
                ))
            })
            .unwrap();
        assert_eq!(worklist.len(), 24);
        assert_eq!(
            worklist[0].reasons[0],
            "risk event waiting for an assessment"
        );
        assert_eq!(worklist[0].client_id, waiting.client_id);
        let queued_risks: usize = queue
            .iter()
            .flat_map(|i| &i.reasons)
            .filter(|r| r.kind == "risk_event")
            .count();
        assert_eq!(queued_risks, risks.len());
        assert!(queue
            .iter()
            .any(|i| i.reasons.iter().any(|r| r.kind == "early_dropout")));

        // While the store is open the data sits in the WAL: the scan must look there, find no
        // name or phone, and yet find clear (non-personal) columns, so it can see plaintext.
        let files = privacy::database_files(store.path());
        assert!(files.iter().any(|f| f.to_string_lossy().ends_with("-wal")));
        let mut needles = Vec::new();
        for c in store.list::<Client>(Filter::All).unwrap() {
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

    #[test]
    fn small_caseloads_run_through_the_engine() {
        let today = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        for n in [1, 5] {
            let dir = tempfile::tempdir().unwrap();
            let (store, clock) = demo_store(dir.path(), today);
            // Early in the day: steps planned later today still run, and the clock ends at
            // the last of them.
            let early = today.and_time(NaiveTime::MIN).and_utc();
            let summary = populate(&store, &clock, early, 3, n).unwrap();
            assert_eq!(summary.clients, n);
            assert_eq!(store.caseload().unwrap().len(), n);
            assert_eq!(store.read(|r| Ok::<_, StoreError>(r.today)).unwrap(), today);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_caseload_and_worklist() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let view = |seed: u64| {
            let dir = tempfile::tempdir().unwrap();
            let (store, clock) = demo_store(dir.path(), today);
            populate(&store, &clock, four_pm(today), seed, 12).unwrap();
            let protocol = Protocol::builtin().unwrap();
            let mut rows: Vec<String> = store
                .caseload()
                .unwrap()
                .into_iter()
                .map(|r| {
                    format!(
                        "{} {:?} {} {:?} {:?} {}",
                        r.display_name,
                        r.status,
                        r.sessions_held,
                        r.last_held,
                        r.next_planned,
                        r.open_risk_events
                    )
                })
                .collect();
            rows.sort();
            let worklist: Vec<String> = store
                .read(|r| protocol.worklist(r, today))
                .unwrap()
                .into_iter()
                .map(|i| format!("{} {:?}", i.display_name, i.reasons))
                .collect();
            (rows, worklist)
        };
        let a = view(11);
        assert_eq!(a, view(11));
        assert_ne!(a.0, view(12).0);
    }
}
