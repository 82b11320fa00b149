//! One scenario per flag and per refusal.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ipc_core::clock::ManualClock;
use ipc_core::model::{Role, WorkerId};
use ipc_core::protocol::simulate::{run, Report, Scenario};
use ipc_core::protocol::Protocol;
use ipc_core::store::keys::{KdfParams, PinPolicy};
use ipc_core::store::secret::MemorySecretStore;
use ipc_core::store::{NewWorker, Store, StoreConfig};

pub fn simulate(json: &str) -> Report {
    simulate_with(&Protocol::builtin().unwrap(), json)
}

pub fn simulate_with(protocol: &Protocol, json: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DateTime::<Utc>::UNIX_EPOCH));
    let config = StoreConfig {
        pin_policy: PinPolicy::default(),
        clock: clock.clone(),
    };
    let worker = NewWorker {
        id: WorkerId::new(),
        display_name: "Sim Worker".into(),
        role: Role::Worker,
        team: "sim".into(),
    };
    let (store, _) = Store::create(
        &dir.path().join("sim.db"),
        Arc::new(MemorySecretStore::new()),
        "123456",
        &worker,
        &KdfParams::insecure_for_tests(1_000),
        config,
    )
    .unwrap();
    let scenario = Scenario::from_json(json).unwrap();
    run(protocol, &store, &clock, &scenario).unwrap()
}

#[test]
fn example_disputes_course() {
    let report = simulate(include_str!(
        "../../../examples/scenarios/disputes-six-sessions.json"
    ));
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert_eq!(report.status, "completed");
}
