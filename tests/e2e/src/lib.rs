//! Harness for the end-to-end tests: the real sync server (router + SQLite storage) in
//! process, real encrypted device stores, and a transport that injects faults between them.
//!
//! Everything runs on one thread in a deterministic order, so a seed reproduces a run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use ipc_core::clock::Clock;
use ipc_core::model::{ClientId, DeviceId, Role, WorkerId};
use ipc_core::store::keys::{KdfParams, PinPolicy};
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{Enrolment, NewWorker, Store, StoreConfig};
use ipc_core::sync::engine::{HttpRequest, HttpResponse, Transport, TransportError};
use ipc_core::sync::wire::{
    decode, encode, EnrolRequest, EnrolResponse, ENROL_PATH, PROTOCOL_VERSION,
};
use ipc_server::{AnyStorage, ServerConfig};
use tower::ServiceExt;

/// The PIN of every test device.
pub const PIN: &str = "428517";

/// A device clock offset from the real one (phones' clocks are often wrong).
#[derive(Debug)]
pub struct OffsetClock {
    /// Offset in milliseconds (positive: ahead).
    pub offset_ms: i64,
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms)
    }
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The sync server, in process, over a SQLite file that survives restarts.
pub struct InProcessServer {
    rt: tokio::runtime::Runtime,
    backend: Backend,
    inner: Mutex<(AnyStorage, Router)>,
    config: ServerConfig,
}

/// Where the server keeps its data.
enum Backend {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database created for this server and dropped with it.
    Postgres {
        /// The database's URL.
        url: String,
        /// The URL of the cluster's maintenance database (to drop ours).
        admin_url: String,
        /// Our database's name.
        name: String,
    },
}

impl Backend {
    fn url(&self) -> String {
        match self {
            Backend::Sqlite(path) => format!("sqlite:{}", path.display()),
            Backend::Postgres { url, .. } => url.clone(),
        }
    }
}

/// The PostgreSQL cluster for tests (`IPC_TEST_POSTGRES_URL`), or `None` when unset — which
/// is a failure when `IPC_REQUIRE_POSTGRES=1` (as `scripts/test` sets it).
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("IPC_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("IPC_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{test}: IPC_REQUIRE_POSTGRES=1 but IPC_TEST_POSTGRES_URL is not set"
            );
            eprintln!("SKIP {test} on PostgreSQL: IPC_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

async fn pg_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl InProcessServer {
    /// Start a server on a new SQLite file in `dir`.
    pub fn start(dir: &Path, config: ServerConfig) -> InProcessServer {
        InProcessServer::on(
            current_thread(),
            Backend::Sqlite(dir.join("server.db")),
            config,
        )
    }

    /// Start a server on a new PostgreSQL database of the test cluster; `None` when no
    /// cluster is configured (see [`postgres_url`]).
    pub fn start_postgres(test: &str, config: ServerConfig) -> Option<InProcessServer> {
        let admin_url = postgres_url(test)?;
        let name = format!("ipc_e2e_{test}_{}", std::process::id());
        let rt = current_thread();
        rt.block_on(async {
            let admin = pg_client(&admin_url).await;
            // Left over from an interrupted run with the same process id: start clean.
            for sql in [
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                format!("CREATE DATABASE \"{name}\""),
            ] {
                admin.batch_execute(&sql).await.unwrap();
            }
        });
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Some(InProcessServer::on(
            rt,
            Backend::Postgres {
                url,
                admin_url,
                name,
            },
            config,
        ))
    }

    fn on(rt: tokio::runtime::Runtime, backend: Backend, config: ServerConfig) -> InProcessServer {
        let storage = rt
            .block_on(ipc_server::open_storage(&backend.url()))
            .unwrap();
        let router = ipc_server::router(storage.clone(), config.clone());
        InProcessServer {
            rt,
            backend,
            inner: Mutex::new((storage, router)),
            config,
        }
    }

    /// The backend's name (`sqlite` or `postgres`).
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }

    /// Every operation id the server stores.
    pub fn stored_op_ids(&self) -> std::collections::BTreeSet<uuid::Uuid> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let mut stmt = conn.prepare("SELECT op_id FROM ops").unwrap();
                let ids: Vec<Vec<u8>> = stmt
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                ids.into_iter()
                    .map(|b| uuid::Uuid::from_slice(&b).unwrap())
                    .collect()
            }
            Backend::Postgres { url, .. } => self.rt.block_on(async {
                let c = pg_client(url).await;
                c.query("SELECT op_id FROM ops", &[])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<_, uuid::Uuid>(0))
                    .collect()
            }),
        }
    }

    /// Every client the server knows: (client, its worker, its team), by id.
    pub fn stored_clients(&self) -> Vec<(ClientId, WorkerId, String)> {
        let rows: Vec<(uuid::Uuid, uuid::Uuid, String)> = match &self.backend {
            Backend::Sqlite(path) => {
                let conn = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let mut stmt = conn
                    .prepare("SELECT id, worker_id, team FROM clients")
                    .unwrap();
                let rows: Vec<(Vec<u8>, Vec<u8>, String)> = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .unwrap()
                    .map(|r| r.unwrap())
                    .collect();
                rows.into_iter()
                    .map(|(c, w, t)| {
                        (
                            uuid::Uuid::from_slice(&c).unwrap(),
                            uuid::Uuid::from_slice(&w).unwrap(),
                            t,
                        )
                    })
                    .collect()
            }
            Backend::Postgres { url, .. } => self.rt.block_on(async {
                let c = pg_client(url).await;
                c.query("SELECT id, worker_id, team FROM clients", &[])
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get(1), r.get(2)))
                    .collect()
            }),
        };
        let mut out: Vec<_> = rows
            .into_iter()
            .map(|(c, w, t)| (ClientId::from_uuid(c), WorkerId::from_uuid(w), t))
            .collect();
        out.sort_by_key(|(c, _, _)| *c);
        out
    }

    /// Run a future on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The storage (for admin calls).
    pub fn storage(&self) -> AnyStorage {
        self.inner.lock().unwrap().0.clone()
    }

    /// Stop and start the server again on the same database (in-memory state, such as rate
    /// limits, is lost as in a real restart).
    pub fn restart(&self) {
        let mut inner = self.inner.lock().unwrap();
        if let AnyStorage::Postgres(pg) = &inner.0 {
            pg.close();
        }
        let storage = self
            .rt
            .block_on(ipc_server::open_storage(&self.backend.url()))
            .unwrap();
        let router = ipc_server::router(storage.clone(), self.config.clone());
        *inner = (storage, router);
    }

    /// Send one request through the router, as the HTTP server would.
    pub fn call(&self, req: &HttpRequest) -> HttpResponse {
        let router = self.inner.lock().unwrap().1.clone();
        let mut builder = axum::http::Request::builder()
            .method(req.method.as_str())
            .uri(req.path.as_str());
        for (k, v) in &req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let request = builder.body(Body::from(req.body.clone())).unwrap();
        self.rt.block_on(async move {
            let resp = router.oneshot(request).await.unwrap();
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec();
            HttpResponse { status, body }
        })
    }

    /// Add a worker to the default organisation.
    pub fn add_worker(&self, name: &str, team: &str, role: Role) -> WorkerId {
        let s = self.storage();
        self.block_on(ipc_server::admin::add_worker(&s, name, team, role))
            .unwrap()
    }

    /// Reassign a client.
    pub fn assign(&self, client: ClientId, worker: WorkerId) {
        let s = self.storage();
        self.block_on(ipc_server::admin::assign(&s, client, worker))
            .unwrap();
    }

    /// Issue a code for `worker` and enrol `store` with it over the router.
    pub fn enrol(&self, store: &Store, worker: WorkerId) -> EnrolResponse {
        let s = self.storage();
        let code = self
            .block_on(ipc_server::admin::enrol_code(
                &s,
                worker,
                std::time::Duration::from_secs(3600),
            ))
            .unwrap();
        let req = EnrolRequest {
            version: PROTOCOL_VERSION,
            code,
            device_id: store.identity().device_id,
        };
        let resp = self.call(&HttpRequest {
            method: "POST".into(),
            path: ENROL_PATH.into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Encoding".into(), "gzip".into()),
            ],
            body: encode(&req),
        });
        assert_eq!(resp.status, 200, "enrolment failed");
        let e: EnrolResponse = decode(&resp.body).unwrap();
        store
            .set_enrolment(
                &Enrolment {
                    server: "in-process".into(),
                    worker_id: e.worker_id,
                    role: e.role,
                    team: e.team.clone(),
                },
                &e.token,
            )
            .unwrap();
        e
    }
}

impl Drop for InProcessServer {
    /// A PostgreSQL database made for this server is dropped with it.
    fn drop(&mut self) {
        if let Backend::Postgres {
            admin_url, name, ..
        } = &self.backend
        {
            if let Ok(inner) = self.inner.lock() {
                if let AnyStorage::Postgres(pg) = &inner.0 {
                    pg.close();
                }
            }
            let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            self.rt.block_on(async {
                let admin = pg_client(admin_url).await;
                let _ = admin.batch_execute(&sql).await;
            });
        }
    }
}

/// A transport straight into the in-process server, no faults.
pub struct Direct<'a>(pub &'a InProcessServer);

impl Transport for Direct<'_> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Ok(self.0.call(&request))
    }
}

/// One simulated phone: an encrypted store on disk that can crash and come back.
pub struct Device {
    /// A label for messages.
    pub name: String,
    /// The store file.
    pub path: PathBuf,
    /// Its clock.
    pub clock: Arc<dyn Clock>,
    /// The store, while the app is running.
    pub store: Option<Store>,
    /// The worker (server id once enrolled).
    pub worker: WorkerId,
    /// Role.
    pub role: Role,
    /// Team.
    pub team: String,
}

impl Device {
    /// Create a store for a new device in `dir`.
    pub fn create(dir: &Path, name: &str, clock: Arc<dyn Clock>, role: Role, team: &str) -> Device {
        let path = dir.join(format!("{name}.db"));
        let secrets = Arc::new(FileSecretStore::beside(&path).unwrap());
        let worker = NewWorker {
            id: WorkerId::new(),
            display_name: format!("Synthetic {name}"),
            role,
            team: team.into(),
        };
        let config = StoreConfig {
            pin_policy: PinPolicy::default(),
            clock: clock.clone(),
        };
        let (store, _) = Store::create(
            &path,
            secrets,
            PIN,
            &worker,
            &KdfParams::insecure_for_tests(1_000),
            config,
        )
        .unwrap();
        Device {
            name: name.into(),
            path,
            clock,
            store: Some(store),
            worker: worker.id,
            role,
            team: team.into(),
        }
    }

    /// The running store.
    pub fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }

    /// The app process dies: the store is dropped without closing anything gracefully.
    pub fn crash(&mut self) {
        self.store = None;
    }

    /// The app starts again: open and unlock.
    pub fn restart(&mut self) {
        let secrets = Arc::new(FileSecretStore::beside(&self.path).unwrap());
        let config = StoreConfig {
            pin_policy: PinPolicy::default(),
            clock: self.clock.clone(),
        };
        let store = Store::open(&self.path, secrets, config).unwrap();
        store.unlock(PIN).unwrap();
        self.store = Some(store);
    }

    /// The device id.
    pub fn id(&self) -> DeviceId {
        self.store().identity().device_id
    }
}
