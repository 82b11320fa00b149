//! Enrolment and sync through the facade against the real server: two devices of one team,
//! the caseload observer told about received changes, one sync at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use ipc_bindings::foreign::{CaseloadObserver, HttpRequest, HttpResponse, HttpTransport};
use ipc_bindings::records::{CaseloadItem, ClientInput};
use ipc_bindings::types::{Role, SyncPhase};
use ipc_bindings::IpcError;

use crate::support::{block_on, device, TestServer, UreqHttp};

fn input(name: &str) -> ClientInput {
    ClientInput {
        display_name: name.into(),
        sex: None,
        birth_year: None,
        phone: None,
        village: Some("Kijiji".into()),
        address: None,
        consent: None,
    }
}

#[derive(Default)]
struct Latest(Mutex<Vec<Vec<CaseloadItem>>>);

impl CaseloadObserver for Latest {
    fn on_caseload_changed(&self, caseload: Vec<CaseloadItem>) -> Result<(), IpcError> {
        self.0.lock().unwrap().push(caseload);
        Ok(())
    }
}

#[test]
fn a_device_that_is_not_enrolled_is_refused() {
    let d = device(Role::Worker);
    let e = block_on(d.store.sync(UreqHttp::new())).unwrap_err();
    assert!(
        matches!(&e, IpcError::Refused { code, .. } if code == "not_enrolled"),
        "{e:?}"
    );
}

#[test]
fn the_supervisor_receives_the_workers_clients_and_observers_hear_of_it() {
    let server = TestServer::start();
    let chw = server.enrolled(Role::Worker);
    let sup = server.enrolled(Role::Supervisor);
    assert_eq!(
        chw.store.enrolment().unwrap().unwrap().worker_id,
        chw.store.identity().worker_id
    );
    let client = chw.store.add_client(input("Synthetic Client")).unwrap();
    chw.store
        .raise_concern(client.clone(), "Synthetic observation".into(), None)
        .unwrap();
    let pushed = block_on(chw.store.sync(UreqHttp::new())).unwrap();
    assert!(pushed.complete);
    assert_eq!(pushed.pushed, pushed.acknowledged);
    assert_eq!(chw.store.outbox_len().unwrap(), 0);

    let seen = Arc::new(Latest::default());
    let _subscription = sup.store.subscribe_caseload(seen.clone());
    let pulled = block_on(sup.store.sync(UreqHttp::new())).unwrap();
    assert!(pulled.complete);
    assert_eq!(pulled.pulled, pushed.pushed);
    let updates = seen.0.lock().unwrap();
    assert!(updates[0].is_empty(), "the current (empty) caseload first");
    let last = updates.last().unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].client_id, client);
    assert_eq!(last[0].open_risk_events, 1);
    drop(updates);
    let queue = sup.store.supervisor_queue().unwrap();
    assert_eq!(queue[0].client_id, client);
    assert_eq!(queue[0].reasons[0].kind, "risk_event");
}

/// A transport that holds the first request until released.
struct Gate {
    entered: (Mutex<bool>, Condvar),
    open: AtomicBool,
    inner: Arc<UreqHttp>,
}

impl HttpTransport for Gate {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, IpcError> {
        *self.entered.0.lock().unwrap() = true;
        self.entered.1.notify_all();
        while !self.open.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.inner.send(request)
    }

    fn decodes_brotli(&self) -> Result<bool, IpcError> {
        self.inner.decodes_brotli()
    }
}

#[test]
fn only_one_sync_runs_at_a_time() {
    let server = TestServer::start();
    let chw = server.enrolled(Role::Worker);
    chw.store.add_client(input("Synthetic Client")).unwrap();
    let gate = Arc::new(Gate {
        entered: (Mutex::new(false), Condvar::new()),
        open: AtomicBool::new(false),
        inner: UreqHttp::new(),
    });
    let store = chw.store.clone();
    let g = gate.clone();
    let first = std::thread::spawn(move || block_on(store.sync(g)));
    let mut entered = gate.entered.0.lock().unwrap();
    while !*entered {
        entered = gate.entered.1.wait(entered).unwrap();
    }
    drop(entered);
    let e = block_on(chw.store.sync(UreqHttp::new())).unwrap_err();
    assert!(matches!(e, IpcError::Conflict { .. }), "{e:?}");
    gate.open.store(true, Ordering::SeqCst);
    let r = first.join().unwrap().unwrap();
    assert!(r.complete);
    // The flag is cleared once the first sync has ended.
    assert!(block_on(chw.store.sync(UreqHttp::new())).unwrap().complete);
}

#[test]
fn progress_ends_with_done() {
    #[derive(Default)]
    struct Log(Mutex<Vec<SyncPhase>>);
    impl ipc_bindings::foreign::SyncObserver for Log {
        fn on_sync_progress(&self, p: ipc_bindings::records::SyncProgress) -> Result<(), IpcError> {
            self.0.lock().unwrap().push(p.phase);
            Ok(())
        }
    }
    let server = TestServer::start();
    let chw = server.enrolled(Role::Worker);
    chw.store.add_client(input("Synthetic Client")).unwrap();
    let log = Arc::new(Log::default());
    let subscription = chw.store.subscribe_sync_progress(log.clone());
    block_on(chw.store.sync(UreqHttp::new())).unwrap();
    assert_eq!(
        *log.0.lock().unwrap(),
        vec![SyncPhase::Push, SyncPhase::Done]
    );
    drop(subscription);
    chw.store.add_client(input("Another Synthetic")).unwrap();
    block_on(chw.store.sync(UreqHttp::new())).unwrap();
    assert_eq!(
        log.0.lock().unwrap().len(),
        2,
        "no progress after the subscription ended"
    );
}
