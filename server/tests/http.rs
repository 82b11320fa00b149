//! End to end over real HTTP: the real router on an ephemeral loopback port, real ipc-core
//! stores syncing through `SyncEngine` and `UreqTransport`, and raw requests for the error
//! paths (limits, malformed, wrong version, replay, credentials).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use ipc_core::model::{
    Client, ClientId, Course, CourseId, CourseStatus, Modality, NewClient, NewSupervisorNote,
    Phase, ProblemArea, Role, Session, SessionId, Sex, SupervisorNote, WorkerId,
};
use ipc_core::store::keys::KdfParams;
use ipc_core::store::secret::MemorySecretStore;
use ipc_core::store::{Enrolment, Filter, NewWorker, Store, StoreConfig, StoreError};
use ipc_core::sync::engine::{
    HttpRequest, HttpResponse, SyncConfig, SyncEngine, SyncError, Transport,
};
use ipc_core::sync::http::UreqTransport;
use ipc_core::sync::wire::{
    decode, encode, EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, PullFormat, SyncRequest,
    SyncResponse, ENROL_PATH, HEALTH_PATH, PROTOCOL_VERSION, SYNC_PATH,
};
use ipc_server::storage::now_ms;
use ipc_server::{admin, serve_with_shutdown, AnyStorage, ServerConfig, Stats};
use tokio::sync::oneshot;

use common::{Dev, PgTestDb};

// ---------------------------------------------------------------------------------------
// TestServer

/// The real server on 127.0.0.1:<ephemeral>, on its own runtime, over a fresh database.
struct TestServer {
    url: String,
    storage: AnyStorage,
    rt: tokio::runtime::Runtime,
    shutdown: Option<oneshot::Sender<()>>,
    pg: Option<PgTestDb>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    fn sqlite(config: ServerConfig) -> TestServer {
        let (storage, dir) = common::sqlite();
        TestServer::start(AnyStorage::Sqlite(storage), config, None, Some(dir))
    }

    fn postgres(config: ServerConfig, test: &str) -> Option<TestServer> {
        let rt = runtime();
        let db = rt.block_on(PgTestDb::create(test))?;
        drop(rt);
        let storage = AnyStorage::Postgres(db.storage.clone());
        Some(TestServer::start(storage, config, Some(db), None))
    }

    fn start(
        storage: AnyStorage,
        config: ServerConfig,
        pg: Option<PgTestDb>,
        dir: Option<tempfile::TempDir>,
    ) -> TestServer {
        let rt = runtime();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let s = storage.clone();
        rt.spawn(async move {
            serve_with_shutdown(s, listener, config, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            url,
            storage,
            rt,
            shutdown: Some(tx),
            pg,
            _dir: dir,
        }
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    fn transport(&self) -> UreqTransport {
        UreqTransport::new(&self.url, Duration::from_secs(20))
    }

    fn stats(&self) -> Stats {
        self.block_on(admin::stats(&self.storage)).unwrap()
    }

    fn add_worker(&self, role: Role, team: &str) -> WorkerId {
        self.block_on(admin::add_worker(
            &self.storage,
            "Synthetic Person",
            team,
            role,
        ))
        .unwrap()
    }

    fn code(&self, worker: WorkerId) -> String {
        self.block_on(admin::enrol_code(
            &self.storage,
            worker,
            admin::DEFAULT_CODE_TTL,
        ))
        .unwrap()
    }

    /// POST a raw body with optional bearer token.
    fn post(&self, path: &str, token: Option<&str>, body: Vec<u8>) -> HttpResponse {
        let mut headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("Content-Encoding".to_string(), "gzip".to_string()),
        ];
        if let Some(t) = token {
            headers.push(("Authorization".into(), format!("Bearer {t}")));
        }
        self.transport()
            .send(HttpRequest {
                method: "POST".into(),
                path: path.into(),
                headers,
                body,
            })
            .unwrap()
    }

    fn enrol(&self, code: &str, device: ipc_core::model::DeviceId) -> HttpResponse {
        self.post(
            ENROL_PATH,
            None,
            encode(&EnrolRequest {
                version: PROTOCOL_VERSION,
                code: code.into(),
                device_id: device,
            }),
        )
    }

    /// Enrol a device over HTTP with raw requests (no store).
    fn raw_device(&self, role: Role, team: &str) -> Dev {
        let worker = self.add_worker(role, team);
        let device = ipc_core::model::DeviceId::new();
        let r = self.enrol(&self.code(worker), device);
        assert_eq!(r.status, 200);
        let e: EnrolResponse = decode(&r.body).unwrap();
        Dev {
            device,
            worker,
            role,
            team: team.into(),
            token: e.token,
            cursor: 0,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(db) = self.pg.take() {
            self.rt.block_on(db.drop_db());
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn error(r: &HttpResponse) -> ErrorBody {
    decode::<ErrorBody>(&r.body)
        .unwrap_or_else(|e| panic!("status {}: not an ErrorBody: {e}", r.status))
}

fn sync_request(cursor: u64, ops: Vec<ipc_core::sync::op::Operation>) -> SyncRequest {
    SyncRequest {
        version: PROTOCOL_VERSION,
        cursor,
        ops,
        pull_limit: 1000,
        device_time_ms: now_ms(),
        pull_format: PullFormat::Rows,
    }
}

// ---------------------------------------------------------------------------------------
// Phones

struct Phone {
    store: Store,
    _dir: tempfile::TempDir,
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl Phone {
    /// A new store for `worker`, enrolled over HTTP with a fresh code.
    fn enrolled(ts: &TestServer, worker: WorkerId, role: Role, team: &str) -> Phone {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::create(
            &dir.path().join("phone.db"),
            Arc::new(MemorySecretStore::new()),
            "482913",
            &NewWorker {
                id: worker,
                display_name: "Synthetic Person".into(),
                role,
                team: team.into(),
            },
            &KdfParams::insecure_for_tests(1_000),
            StoreConfig::default(),
        )
        .unwrap();
        let r = ts.enrol(&ts.code(worker), store.identity().device_id);
        assert_eq!(r.status, 200, "{:?}", decode::<ErrorBody>(&r.body));
        let e: EnrolResponse = decode(&r.body).unwrap();
        assert_eq!((e.worker_id, e.role, e.team.as_str()), (worker, role, team));
        store
            .set_enrolment(
                &Enrolment {
                    server: ts.url.clone(),
                    worker_id: e.worker_id,
                    role: e.role,
                    team: e.team,
                },
                &e.token,
            )
            .unwrap();
        Phone { store, _dir: dir }
    }

    fn sync(&self, ts: &TestServer) -> Result<ipc_core::sync::engine::SyncReport, SyncError> {
        let transport = ts.transport();
        let mut engine =
            SyncEngine::new(&self.store, &transport, SyncConfig::default()).with_sleep(|_| {});
        engine.sync(&mut |_| {})
    }

    fn worker(&self) -> WorkerId {
        self.store.identity().worker_id
    }

    /// A client with a course and `sessions` planned sessions, written offline.
    fn new_client_with_sessions(&self, sessions: u8) -> ClientId {
        let worker = self.worker();
        let client = Client::new(
            NewClient {
                display_name: "Synthetic Client".into(),
                sex: Some(Sex::Female),
                birth_year: Some(1990),
                phone: None,
                village: Some("Synthetic Village".into()),
                address: None,
                consent: None,
                assigned_worker: worker,
                registered_on: today(),
            },
            today(),
        )
        .unwrap();
        let course = Course {
            id: CourseId::new(),
            client_id: client.id,
            worker_id: worker,
            enrolled_on: today(),
            planned_sessions: 6,
            problem_areas: vec![ProblemArea::Grief],
            dispute_stage: None,
            status: CourseStatus::Initial,
            end_reason: None,
            end_note: None,
            ended_on: None,
            extension_reason: None,
        };
        self.store.add(&client).unwrap();
        self.store.add(&course).unwrap();
        for n in 1..=sessions {
            self.store
                .add(&Session {
                    id: SessionId::new(),
                    course_id: course.id,
                    client_id: client.id,
                    number: n,
                    phase: Phase::Initial,
                    planned_date: Some(today()),
                    held_at: None,
                    attendance: None,
                    modality: Some(Modality::InPerson),
                    steps_done: vec![],
                    steps_skipped: vec![],
                    notes: None,
                    task: None,
                    completed: false,
                })
                .unwrap();
        }
        client.id
    }

    fn rename(&self, client: ClientId, name: &str) {
        self.store
            .write(|w| -> Result<(), StoreError> {
                w.update::<Client>(client.as_uuid(), |c| {
                    c.display_name = name.into();
                    Ok(())
                })?;
                Ok(())
            })
            .unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Scenarios

/// A worker records offline and syncs; their supervisor sees it and adds a note; the worker
/// receives the note.
fn worker_and_supervisor(ts: &TestServer) {
    let worker = ts.add_worker(Role::Worker, "north");
    let supervisor = ts.add_worker(Role::Supervisor, "north");
    let chw = Phone::enrolled(ts, worker, Role::Worker, "north");
    let sup = Phone::enrolled(ts, supervisor, Role::Supervisor, "north");
    let client = chw.new_client_with_sessions(3);
    assert_eq!(chw.store.outbox_len().unwrap(), 5);

    let report = chw.sync(ts).unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!(
        (report.pushed, report.acknowledged, report.quarantined),
        (5, 5, 0)
    );
    assert_eq!(chw.store.outbox_len().unwrap(), 0);
    assert!(!report.clock_skewed);

    let report = sup.sync(ts).unwrap();
    assert!(report.complete);
    assert_eq!(report.pulled, 5);
    assert_eq!(sup.store.client_ids().unwrap(), vec![client]);
    let sessions: Vec<Session> = sup.store.list(Filter::Client(client)).unwrap();
    assert_eq!(sessions.len(), 3);

    let note = SupervisorNote::new(
        NewSupervisorNote {
            client_id: client,
            author: supervisor,
            text: "Reviewed in supervision".into(),
            risk_event: None,
        },
        Utc::now(),
    )
    .unwrap();
    sup.store.add(&note).unwrap();
    let report = sup.sync(ts).unwrap();
    assert_eq!((report.acknowledged, report.quarantined), (1, 0));
    let report = chw.sync(ts).unwrap();
    assert_eq!(report.pulled, 1);
    let notes: Vec<SupervisorNote> = chw.store.list(Filter::All).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].id, note.id);

    // Nothing new: one round trip, nothing moves.
    let report = chw.sync(ts).unwrap();
    assert_eq!((report.rounds, report.pulled, report.pushed), (1, 0, 0));
    assert_eq!(
        ts.stats(),
        Stats {
            ops: 6,
            devices: 2,
            workers: 2,
            clients: 1
        }
    );
}

#[test]
fn worker_and_supervisor_sqlite() {
    worker_and_supervisor(&TestServer::sqlite(ServerConfig::default()));
}

#[test]
fn worker_and_supervisor_postgres() {
    if let Some(ts) = TestServer::postgres(ServerConfig::default(), "http_worker_supervisor") {
        worker_and_supervisor(&ts);
    }
}

/// Reassignment end to end: the new worker's phone gets the history, the old worker's phone
/// removes the client and its later edit is quarantined as `client_reassigned`.
fn reassignment(ts: &TestServer) {
    let a_id = ts.add_worker(Role::Worker, "north");
    let b_id = ts.add_worker(Role::Worker, "north");
    let a = Phone::enrolled(ts, a_id, Role::Worker, "north");
    let b = Phone::enrolled(ts, b_id, Role::Worker, "north");
    let client = a.new_client_with_sessions(2);
    assert!(a.sync(ts).unwrap().complete);
    a.rename(client, "Synthetic Renamed"); // offline, not yet synced
    ts.block_on(admin::assign(&ts.storage, client, b_id))
        .unwrap();

    let report = b.sync(ts).unwrap();
    assert_eq!(report.pulled, 4);
    assert_eq!(b.store.client_ids().unwrap(), vec![client]);

    let report = a.sync(ts).unwrap();
    assert!(report.complete, "{report:?}");
    assert_eq!((report.quarantined, report.removed), (1, 1));
    let q = a.store.quarantined().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].code, "client_reassigned");
    assert!(q[0].reason.contains("reassigned"), "{}", q[0].reason);
    assert!(a.store.client_ids().unwrap().is_empty());
    assert_eq!(ts.stats().ops, 4, "the refused edit was not stored");
}

#[test]
fn reassignment_sqlite() {
    reassignment(&TestServer::sqlite(ServerConfig::default()));
}

#[test]
fn reassignment_postgres() {
    if let Some(ts) = TestServer::postgres(ServerConfig::default(), "http_reassignment") {
        reassignment(&ts);
    }
}

#[test]
fn revoked_phone_pushes_its_last_work_then_wipes_then_is_refused() {
    let ts = TestServer::sqlite(ServerConfig::default());
    let worker = ts.add_worker(Role::Worker, "north");
    let phone = Phone::enrolled(&ts, worker, Role::Worker, "north");
    let client = phone.new_client_with_sessions(1);
    phone.sync(&ts).unwrap();
    phone.rename(client, "Synthetic Last Edit");
    let device = phone.store.identity().device_id;
    let token = phone.store.sync_token().unwrap().unwrap();
    ts.block_on(admin::revoke(&ts.storage, device)).unwrap();

    let report = phone.sync(&ts).unwrap();
    assert!(report.wiped, "{report:?}");
    assert_eq!(
        report.acknowledged, 1,
        "the last edit reached the server first"
    );
    assert_eq!(ts.stats().ops, 4);
    assert!(phone.store.client_ids().unwrap().is_empty());

    let r = ts.post(SYNC_PATH, Some(&token), encode(&sync_request(0, vec![])));
    assert_eq!(r.status, 403);
    let e = error(&r);
    assert_eq!(e.code, ErrorCode::DeviceRevoked);
    assert!(e.message.contains("wipe"));
}

#[test]
fn credentials_are_required_and_checked() {
    let ts = TestServer::sqlite(ServerConfig::default());
    let body = encode(&sync_request(0, vec![]));
    let r = ts.post(SYNC_PATH, None, body.clone());
    assert_eq!((r.status, error(&r).code), (401, ErrorCode::Unauthorized));
    let (forged, _) = ipc_server::auth::new_token().unwrap();
    let r = ts.post(SYNC_PATH, Some(&forged), body.clone());
    assert_eq!((r.status, error(&r).code), (401, ErrorCode::Unauthorized));
    let r = ts.post(SYNC_PATH, Some("not-a-token"), body.clone());
    assert_eq!((r.status, error(&r).code), (401, ErrorCode::Unauthorized));
    // The reply is gzip JSON, or brotli when the HTTP stack asks for it (the Rust transport
    // does, and hands over the decoded JSON).
    let dev = ts.raw_device(Role::Worker, "north");
    let transport = ts.transport();
    for (accept, first_bytes) in [("gzip", &[0x1f, 0x8b][..]), ("br, gzip", &b"{\""[..])] {
        let r = transport
            .send(HttpRequest {
                method: "POST".into(),
                path: SYNC_PATH.into(),
                headers: vec![
                    ("Authorization".into(), format!("Bearer {}", dev.token)),
                    ("Accept-Encoding".into(), accept.into()),
                ],
                body: body.clone(),
            })
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(&r.body[..2], first_bytes, "Accept-Encoding: {accept}");
        let reply: SyncResponse = decode(&r.body).unwrap();
        assert!(!reply.wipe && reply.ops.is_empty());
    }
}

#[test]
fn enrolment_errors_over_http() {
    let ts = TestServer::sqlite(ServerConfig::default());
    let worker = ts.add_worker(Role::Worker, "north");
    let code = ts.code(worker);
    let device = ipc_core::model::DeviceId::new();
    assert_eq!(ts.enrol(&code, device).status, 200);
    let r = ts.enrol(&code, ipc_core::model::DeviceId::new());
    assert_eq!((r.status, error(&r).code), (400, ErrorCode::EnrolCodeUsed));
    let r = ts.enrol("ZZZZ-ZZZZ-ZZZZ", device);
    assert_eq!(
        (r.status, error(&r).code),
        (400, ErrorCode::EnrolCodeInvalid)
    );
    let old = ts
        .block_on(admin::enrol_code_by(
            &ts.storage,
            None,
            worker,
            Duration::from_secs(60),
            now_ms() - 120_000,
        ))
        .unwrap();
    let r = ts.enrol(&old, ipc_core::model::DeviceId::new());
    let e = error(&r);
    assert_eq!((r.status, e.code), (400, ErrorCode::EnrolCodeExpired));
    assert!(e.message.contains("expired"));
    let other = ts.add_worker(Role::Worker, "north");
    let r = ts.enrol(&ts.code(other), device);
    assert_eq!((r.status, error(&r).code), (403, ErrorCode::Unauthorized));
    let r = ts.post(ENROL_PATH, None, b"{\"version\": 1}".to_vec());
    assert_eq!((r.status, error(&r).code), (400, ErrorCode::Malformed));
}

#[test]
fn malformed_wrong_version_and_replayed_requests_change_nothing() {
    let ts = TestServer::sqlite(ServerConfig::default());
    let mut dev = ts.raw_device(Role::Worker, "north");
    let (c, create) = dev.new_client();
    let before = ts.stats();
    let token = dev.token.clone();

    let r = ts.post(SYNC_PATH, Some(&token), b"this is not gzip".to_vec());
    let e = error(&r);
    assert_eq!((r.status, e.code), (400, ErrorCode::Malformed));
    let mut v = serde_json::to_value(sync_request(0, vec![create.clone()])).unwrap();
    v["unexpected"] = serde_json::json!(true);
    let r = ts.post(SYNC_PATH, Some(&token), encode(&v));
    assert_eq!((r.status, error(&r).code), (400, ErrorCode::Malformed));
    let mut wrong = sync_request(0, vec![create.clone()]);
    wrong.version = 2;
    let r = ts.post(SYNC_PATH, Some(&token), encode(&wrong));
    let e = error(&r);
    assert_eq!((r.status, e.code), (400, ErrorCode::VersionUnsupported));
    assert!(e.message.contains('2'), "{}", e.message);
    let good = encode(&sync_request(0, vec![create.clone()]));
    let r = ts.post(SYNC_PATH, Some(&token), good[..good.len() / 2].to_vec());
    assert_eq!((r.status, error(&r).code), (400, ErrorCode::Malformed));
    assert_eq!(ts.stats(), before, "refused requests change nothing");

    // The same request twice (a retry after a lost reply): the same answer, stored once.
    let request = encode(&sync_request(0, vec![create.clone(), dev.edit(c, 1)]));
    let first: SyncResponse =
        decode(&ts.post(SYNC_PATH, Some(&token), request.clone()).body).unwrap();
    let second: SyncResponse = decode(&ts.post(SYNC_PATH, Some(&token), request).body).unwrap();
    assert_eq!(first.acked.len(), 2);
    assert_eq!(first.acked, second.acked);
    assert!(second.rejected.is_empty());
    assert_eq!(ts.stats().ops, before.ops + 2);
    dev.cursor = second.cursor;
}

#[test]
fn body_batch_and_rate_limits_have_clear_errors() {
    let config = ServerConfig {
        max_body_bytes: 16 * 1024,
        max_batch_ops: 10,
        rate_per_minute: 60,
        rate_burst: 5,
        ..ServerConfig::default()
    };
    let ts = TestServer::sqlite(config);
    let dev = ts.raw_device(Role::Worker, "north");
    let token = dev.token.clone();

    let r = ts.post(SYNC_PATH, Some(&token), vec![b'{'; 16 * 1024 + 1]);
    let e = error(&r);
    assert_eq!((r.status, e.code), (413, ErrorCode::BodyTooLarge));
    assert!(e.message.contains("16384"), "{}", e.message);

    let (c, create) = dev.new_client();
    let mut ops = vec![create];
    ops.extend((0..10).map(|i| dev.edit(c, i)));
    let r = ts.post(SYNC_PATH, Some(&token), encode(&sync_request(0, ops)));
    let e = error(&r);
    assert_eq!((r.status, e.code), (413, ErrorCode::BatchTooLarge));
    assert!(
        e.message.contains("11") && e.message.contains("10"),
        "{}",
        e.message
    );
    assert_eq!(ts.stats().ops, 0);

    // The enrolment and two requests used three; two more fit the burst of five; the sixth
    // waits.
    for _ in 0..2 {
        assert_eq!(
            ts.post(SYNC_PATH, Some(&token), encode(&sync_request(0, vec![])))
                .status,
            200
        );
    }
    let r = ts.post(SYNC_PATH, Some(&token), encode(&sync_request(0, vec![])));
    let e = error(&r);
    assert_eq!((r.status, e.code), (429, ErrorCode::RateLimited));
    let wait = e.retry_after_ms.unwrap();
    assert!(wait > 0 && wait <= 1_000, "{wait}");
    // Another device is not affected.
    let other = ts.raw_device(Role::Worker, "north");
    assert_eq!(
        ts.post(
            SYNC_PATH,
            Some(&other.token),
            encode(&sync_request(0, vec![]))
        )
        .status,
        200
    );
}

#[test]
fn the_protocol_limit_applies_by_default() {
    let ts = TestServer::sqlite(ServerConfig::default());
    let dev = ts.raw_device(Role::Worker, "north");
    let (c, create) = dev.new_client();
    let mut ops = vec![create];
    ops.extend((0..1_000).map(|i| dev.edit(c, i)));
    let r = ts.post(SYNC_PATH, Some(&dev.token), encode(&sync_request(0, ops)));
    assert_eq!((r.status, error(&r).code), (413, ErrorCode::BatchTooLarge));
}

#[test]
fn health_reports_status_protocol_and_version() {
    let ts = TestServer::sqlite(ServerConfig::default());
    let r = ts
        .transport()
        .send(HttpRequest {
            method: "GET".into(),
            path: HEALTH_PATH.into(),
            headers: vec![],
            body: vec![],
        })
        .unwrap();
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["protocol"], 1);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
}
