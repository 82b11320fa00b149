//! The measured path of the sync benchmark, end to end without Node: the fixture workload
//! (from `node peer.js gen --clients 3 --incr 4`) imported into a worker's device, pushed to
//! a real server over HTTP, pulled by a supervisor's device of the same team, and every
//! original document rebuilt field by field from the pulling store; then the incremental
//! documents. The server's counts are checked at each step.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use ipc_bench::import::{self, RecordCounts};
use ipc_bench::{device, workload};
use ipc_core::model::{Role, WorkerId};
use ipc_core::sync::engine::{SyncConfig, SyncEngine};
use ipc_core::sync::http::UreqTransport;

struct Server {
    url: String,
    rt: tokio::runtime::Runtime,
    storage: ipc_server::AnyStorage,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = format!("sqlite:{}", dir.join("server.db").display());
        let storage = rt.block_on(ipc_server::open_storage(&url)).unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        rt.spawn(ipc_server::serve_with_shutdown(
            storage.clone(),
            listener,
            ipc_server::ServerConfig::default(),
            async move {
                let _ = rx.await;
            },
        ));
        Server {
            url: format!("http://127.0.0.1:{port}"),
            rt,
            storage,
            stop: Some(tx),
        }
    }

    fn worker(&self, role: Role) -> (WorkerId, String) {
        self.rt.block_on(async {
            let id = ipc_server::admin::add_worker(&self.storage, "Bench Person", "team-a", role)
                .await
                .unwrap();
            let code = ipc_server::admin::enrol_code(&self.storage, id, Duration::from_secs(600))
                .await
                .unwrap();
            (id, code)
        })
    }

    fn ops(&self) -> u64 {
        self.rt
            .block_on(ipc_server::admin::stats(&self.storage))
            .unwrap()
            .ops
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

fn sync(store: &ipc_core::store::Store, url: &str) -> ipc_core::sync::engine::SyncReport {
    let transport = UreqTransport::new(url, Duration::from_secs(30));
    let report = SyncEngine::new(store, &transport, SyncConfig::default())
        .sync(&mut |_| {})
        .unwrap();
    report
}

#[test]
fn push_pull_incr_through_a_real_server_loses_nothing() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workload-c3");
    let w = workload::load(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (worker, code) = server.worker(Role::Worker);
    let (supervisor, sup_code) = server.worker(Role::Supervisor);

    // The worker's device: enrolled, then the base documents imported.
    std::fs::create_dir_all(dir.path().join("push")).unwrap();
    let push_path = dir.path().join("push/device.db");
    let push = device::create_store(&push_path, worker, Role::Worker, "team-a").unwrap();
    device::enrol(&push, &server.url, &code).unwrap();
    let stats = import::import(&push, "base.jsonl", &w.base).unwrap();
    let base = RecordCounts::expected(&w.base);
    assert_eq!(stats.ops, base.ops());
    drop(push);

    // A fresh process would reopen it: so do we.
    let push = device::open_store(&push_path).unwrap();
    let report = sync(&push, &server.url);
    assert!(report.complete);
    assert_eq!(report.pushed as usize, base.ops());
    assert_eq!(report.acknowledged, report.pushed);
    assert_eq!(server.ops() as usize, base.ops());

    // The supervisor's device pulls everything and can rebuild every document.
    std::fs::create_dir_all(dir.path().join("pull")).unwrap();
    let pull = device::create_store(
        &dir.path().join("pull/device.db"),
        supervisor,
        Role::Supervisor,
        "team-a",
    )
    .unwrap();
    device::enrol(&pull, &server.url, &sup_code).unwrap();
    let report = sync(&pull, &server.url);
    assert!(report.complete);
    assert_eq!(report.pulled as usize, base.ops());
    assert_eq!(import::count_records(&pull).unwrap(), base);
    let originals =
        import::raw_lines(&std::fs::read_to_string(fixture.join("base.jsonl")).unwrap()).unwrap();
    assert_eq!(
        import::verify_lossless(&pull, &originals).unwrap(),
        w.base.len()
    );

    // Incremental documents: one more sync, a handful of operations.
    let incr = import::import(&push, "incr.jsonl", &w.incr).unwrap();
    let report = sync(&push, &server.url);
    assert!(report.complete);
    assert_eq!(report.pushed as usize, incr.ops);
    assert_eq!(
        server.ops() as usize,
        base.ops() + RecordCounts::expected(&w.incr).ops()
    );
}

#[test]
fn a_device_enrolled_for_one_worker_cannot_push_anothers_client() {
    // The load generator's and importer's ops are scoped: a second worker's device that
    // replays the first worker's client gets them refused, not stored.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workload-c3");
    let w = workload::load(&fixture).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (a, code_a) = server.worker(Role::Worker);
    let (b, code_b) = server.worker(Role::Worker);
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let sa =
        device::create_store(&dir.path().join("a/device.db"), a, Role::Worker, "team-a").unwrap();
    device::enrol(&sa, &server.url, &code_a).unwrap();
    import::import(&sa, "base.jsonl", &w.base[..17]).unwrap();
    assert!(sync(&sa, &server.url).complete);
    let sb =
        device::create_store(&dir.path().join("b/device.db"), b, Role::Worker, "team-a").unwrap();
    device::enrol(&sb, &server.url, &code_b).unwrap();
    // The same client (same ids) written again on the second device.
    import::import(&sb, "base.jsonl", &w.base[..17]).unwrap();
    let report = sync(&sb, &server.url);
    // 17 documents: a client and its course, 8 sessions, 8 responses = 18 operations.
    assert_eq!(report.acknowledged, 0);
    assert_eq!(report.quarantined as usize, 18);
    assert_eq!(server.ops(), 18);
}
