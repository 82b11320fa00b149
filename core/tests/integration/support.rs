//! Shared fixtures: a temporary store with a fast (test-only) KDF and a manual clock.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use ipc_core::clock::ManualClock;
use ipc_core::model::{Client, NewClient, Role, Sex, WorkerId};
use ipc_core::store::keys::{KdfParams, PinPolicy};
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{NewWorker, Store, StoreConfig};

pub const PIN: &str = "482913";

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    pub recovery: String,
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn config(clock: &Arc<ManualClock>) -> StoreConfig {
    StoreConfig {
        pin_policy: PinPolicy::default(),
        clock: clock.clone(),
    }
}

pub fn new_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    let clock = Arc::new(ManualClock::new(start_time()));
    let secrets = Arc::new(FileSecretStore::beside(&path).unwrap());
    let worker = NewWorker {
        id: WorkerId::new(),
        display_name: "Worker Synthetic".into(),
        role: Role::Worker,
        team: "team-a".into(),
    };
    let (store, recovery) = Store::create(
        &path,
        secrets,
        PIN,
        &worker,
        &KdfParams::insecure_for_tests(1_000),
        config(&clock),
    )
    .unwrap();
    let recovery = recovery.expose_formatted().to_string();
    TestStore {
        dir,
        path,
        clock,
        store,
        recovery,
    }
}

/// Open the store at `path` again (locked), as a new app process would.
pub fn reopen(path: &std::path::Path, clock: &Arc<ManualClock>) -> Store {
    let secrets = Arc::new(FileSecretStore::beside(path).unwrap());
    Store::open(path, secrets, config(clock)).unwrap()
}

pub fn client(t: &TestStore, name: &str) -> Client {
    let today: NaiveDate = t.clock.now().date_naive();
    Client::new(
        NewClient {
            display_name: name.into(),
            sex: Some(Sex::Female),
            birth_year: Some(1990),
            phone: Some("0712 345 678".into()),
            village: Some("Kibera".into()),
            address: None,
            consent: None,
            assigned_worker: t.store.identity().worker_id,
            registered_on: today,
        },
        today,
    )
    .unwrap()
}

use ipc_core::clock::Clock;
