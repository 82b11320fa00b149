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
    /// The server's database file.
    pub db: PathBuf,
    inner: Mutex<(AnyStorage, Router)>,
    config: ServerConfig,
}

impl InProcessServer {
    /// Start a server on a new SQLite file in `dir`.
    pub fn start(dir: &Path, config: ServerConfig) -> InProcessServer {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = dir.join("server.db");
        let storage = rt
            .block_on(ipc_server::open_storage(&format!(
                "sqlite:{}",
                db.display()
            )))
            .unwrap();
        let router = ipc_server::router(storage.clone(), config.clone());
        InProcessServer {
            rt,
            db,
            inner: Mutex::new((storage, router)),
            config,
        }
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
        let storage = self
            .rt
            .block_on(ipc_server::open_storage(&format!(
                "sqlite:{}",
                self.db.display()
            )))
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
