//! Shared test support: a fresh SQLite file or a fresh PostgreSQL database per test (the
//! PostgreSQL URL comes from `IPC_TEST_POSTGRES_URL`; without it the test is skipped, unless
//! `IPC_REQUIRE_POSTGRES=1`, then it fails), enrolled synthetic devices, and valid operations.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};

use ipc_core::model::{ClientId, DeviceId, OpId, Role, WorkerId};
use ipc_core::sync::hlc::Hlc;
use ipc_core::sync::op::{Change, EntityKind, FieldMap, Operation};
use ipc_core::sync::wire::{PullFormat, SyncRequest, SyncResponse, MAX_PULL_OPS, PROTOCOL_VERSION};
use ipc_server::storage::now_ms;
use ipc_server::{admin, auth, DeviceAuth, PgStorage, SqliteStorage, Storage};
use tokio_postgres::NoTls;

// ---------------------------------------------------------------------------------------
// Databases

/// A fresh SQLite database in a temporary directory.
pub fn sqlite() -> (SqliteStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqliteStorage::open(&dir.path().join("server.db")).unwrap();
    (storage, dir)
}

/// The PostgreSQL URL for tests, or `None` (after printing why) when the test must be skipped.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("IPC_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("IPC_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("{test}: IPC_REQUIRE_POSTGRES=1 but IPC_TEST_POSTGRES_URL is not set");
            }
            eprintln!("SKIP {test} on PostgreSQL: IPC_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A database created for one test, dropped by [`PgTestDb::drop_db`].
pub struct PgTestDb {
    pub storage: PgStorage,
    pub name: String,
    pub config: tokio_postgres::Config,
    admin_url: String,
}

static DB_COUNTER: AtomicU64 = AtomicU64::new(0);

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to IPC_TEST_POSTGRES_URL");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

impl PgTestDb {
    /// Create a uniquely named database and open the storage on it; `None` if skipped.
    pub async fn create(test: &str) -> Option<PgTestDb> {
        let url = pg_url(test)?;
        let name = format!(
            "ipc_test_{}_{}_{}",
            test.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .take(30)
                .collect::<String>()
                .to_lowercase(),
            std::process::id(),
            DB_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = admin_client(&url).await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let mut config: tokio_postgres::Config = url.parse().unwrap();
        config.dbname(&name);
        let storage = PgStorage::from_config(config.clone()).await.unwrap();
        Some(PgTestDb {
            storage,
            name,
            config,
            admin_url: url,
        })
    }

    /// Close the pool and drop the database.
    pub async fn drop_db(self) {
        self.storage.close();
        let admin = admin_client(&self.admin_url).await;
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Devices and operations

static WALL: AtomicU64 = AtomicU64::new(1_767_600_000_000);

/// An enrolled device with its credentials and pull cursor.
#[derive(Clone, Debug)]
pub struct Dev {
    pub device: DeviceId,
    pub worker: WorkerId,
    pub role: Role,
    pub team: String,
    pub token: String,
    pub cursor: u64,
}

/// Add a worker and enrol a first device for them.
pub async fn enrolled<S: Storage>(s: &S, role: Role, team: &str) -> Dev {
    let worker = admin::add_worker(s, "Synthetic Person", team, role)
        .await
        .unwrap();
    device_for(s, worker).await
}

/// Enrol another device for `worker`.
pub async fn device_for<S: Storage>(s: &S, worker: WorkerId) -> Dev {
    let code = admin::enrol_code(s, worker, admin::DEFAULT_CODE_TTL)
        .await
        .unwrap();
    let device = DeviceId::new();
    let e = auth::enrol(s, &code, device, now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.device.device, device);
    assert_eq!(e.device.worker, worker);
    Dev {
        device,
        worker,
        role: e.device.role,
        team: e.device.team.clone(),
        token: e.token,
        cursor: 0,
    }
}

impl Dev {
    /// An operation of this device.
    pub fn op(
        &self,
        scope: ClientId,
        entity: EntityKind,
        entity_id: uuid::Uuid,
        change: Change,
    ) -> Operation {
        Operation {
            op_id: OpId::new(),
            hlc: Hlc {
                wall_ms: WALL.fetch_add(1, Ordering::Relaxed),
                counter: 0,
                node: self.device,
            },
            device_id: self.device,
            author: self.worker,
            scope,
            entity,
            entity_id,
            change,
        }
    }

    /// A new client and the operation creating it.
    pub fn new_client(&self) -> (ClientId, Operation) {
        let c = ClientId::new();
        let op = self.op(
            c,
            EntityKind::Client,
            c.as_uuid(),
            Change::Create {
                fields: fields(EntityKind::Client, self.worker),
            },
        );
        (c, op)
    }

    /// An update of a client's name.
    pub fn edit(&self, c: ClientId, n: u32) -> Operation {
        let mut fields = FieldMap::new();
        fields.insert(
            "display_name".into(),
            format!("Synthetic Client {n}").into(),
        );
        self.op(
            c,
            EntityKind::Client,
            c.as_uuid(),
            Change::Update { fields },
        )
    }

    /// A new record of `kind` (course or supervisor note) for client `c`.
    pub fn create(&self, c: ClientId, kind: EntityKind) -> Operation {
        self.op(
            c,
            kind,
            uuid::Uuid::now_v7(),
            Change::Create {
                fields: fields(kind, self.worker),
            },
        )
    }

    /// The device as the server authenticates it now.
    pub async fn auth<S: Storage>(&self, s: &S) -> DeviceAuth {
        auth::authenticate(s, &self.token)
            .await
            .unwrap()
            .expect("the device's token is valid")
    }

    /// Push `ops` and pull up to `limit`; the cursor advances.
    pub async fn sync_limit<S: Storage>(
        &mut self,
        s: &S,
        ops: Vec<Operation>,
        limit: u32,
    ) -> SyncResponse {
        self.sync_as(s, ops, limit, PullFormat::Rows).await
    }

    /// Push `ops` and pull up to `limit` in `pull_format`; the cursor advances.
    pub async fn sync_as<S: Storage>(
        &mut self,
        s: &S,
        ops: Vec<Operation>,
        limit: u32,
        pull_format: PullFormat,
    ) -> SyncResponse {
        let auth = self.auth(s).await;
        let r = s
            .sync(
                &auth,
                SyncRequest {
                    version: PROTOCOL_VERSION,
                    cursor: self.cursor,
                    ops,
                    pull_limit: limit,
                    device_time_ms: now_ms(),
                    pull_format,
                },
                now_ms(),
            )
            .await
            .unwrap();
        self.cursor = r.cursor;
        r
    }

    /// Push `ops` and pull (largest page).
    pub async fn sync<S: Storage>(&mut self, s: &S, ops: Vec<Operation>) -> SyncResponse {
        self.sync_limit(s, ops, MAX_PULL_OPS).await
    }

    /// Pull until nothing more waits; every operation and removal received, in order.
    pub async fn pull_all<S: Storage>(&mut self, s: &S) -> (Vec<Operation>, Vec<ClientId>) {
        let mut ops = Vec::new();
        let mut removed = Vec::new();
        loop {
            let r = self.sync(s, vec![]).await;
            ops.extend(r.ops);
            removed.extend(r.removed);
            if !r.more {
                return (ops, removed);
            }
        }
    }
}

/// The fields of a valid new record of `kind` (synthetic data).
pub fn fields(kind: EntityKind, worker: WorkerId) -> FieldMap {
    let w = worker.to_string();
    let value = match kind {
        EntityKind::Client => serde_json::json!({
            "display_name": "Synthetic Client", "assigned_worker": w, "registered_on": "2026-01-05"}),
        EntityKind::Course => serde_json::json!({
            "worker_id": w, "enrolled_on": "2026-01-05", "planned_sessions": 6,
            "problem_areas": [], "status": "enrolled"}),
        EntityKind::SupervisorNote => serde_json::json!({
            "author": w, "written_at": "2026-01-05T09:00:00Z", "text": "Reviewed"}),
        other => panic!("no sample for {other}"),
    };
    match value {
        serde_json::Value::Object(m) => m.into_iter().collect(),
        _ => unreachable!(),
    }
}

/// The op ids of operations.
pub fn ids(ops: &[Operation]) -> Vec<OpId> {
    ops.iter().map(|o| o.op_id).collect()
}
