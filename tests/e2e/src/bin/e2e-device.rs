//! A device process for the kill tests: `e2e-device DB_PATH URL` opens and unlocks the
//! store, syncs in small batches, and prints `synced <json report>` or `error <message>`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use ipc_core::clock::SystemClock;
use ipc_core::store::keys::PinPolicy;
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{Store, StoreConfig};
use ipc_core::sync::engine::{SyncConfig, SyncEngine};
use ipc_core::sync::http::UreqTransport;

fn main() {
    let mut args = std::env::args().skip(1);
    let db = std::path::PathBuf::from(args.next().expect("db"));
    let url = args.next().expect("url");
    let secrets = Arc::new(FileSecretStore::beside(&db).unwrap());
    let config = StoreConfig {
        pin_policy: PinPolicy::default(),
        clock: Arc::new(SystemClock),
    };
    let store = Store::open(&db, secrets, config).unwrap();
    store.unlock(ipc_e2e::PIN).unwrap();
    let transport = UreqTransport::new(&url, Duration::from_secs(5));
    let sync = SyncConfig {
        max_batch_ops: 7,
        pull_limit: 11,
        max_attempts: 2,
        backoff_base: Duration::from_millis(20),
        backoff_cap: Duration::from_millis(50),
        ..SyncConfig::default()
    };
    let mut engine = SyncEngine::new(&store, &transport, sync);
    let result = engine.sync(&mut |_| {});
    match result {
        Ok(r) => println!("synced {}", serde_json::to_string(&r).unwrap()),
        Err(e) => println!("error {e}"),
    };
}
