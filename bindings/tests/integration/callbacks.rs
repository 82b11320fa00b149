//! Failures of the shells' own code (keystore, HTTP stack, observers) arrive as `IpcError`s
//! the UI can act on, never as panics, and lose nothing.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use ipc_bindings::foreign::{CaseloadObserver, SecretStore, SyncObserver};
use ipc_bindings::records::{CaseloadItem, ClientInput, SyncProgress};
use ipc_bindings::types::Role;
use ipc_bindings::{create_store, IpcError, IpcStore};
use ipc_core::sync::wire::{encode, ErrorBody, ErrorCode, PROTOCOL_VERSION};

use crate::support::{
    block_on, device, worker, FailingHttp, FixedHttp, MemoryKeystore, TestServer, UreqHttp, PIN,
};

/// A keystore whose every call fails with `error`.
struct BrokenKeystore(IpcError);

impl SecretStore for BrokenKeystore {
    fn get(&self, _: String) -> Result<Option<Vec<u8>>, IpcError> {
        Err(self.0.clone())
    }
    fn put(&self, _: String, _: Vec<u8>) -> Result<(), IpcError> {
        Err(self.0.clone())
    }
    fn delete(&self, _: String) -> Result<(), IpcError> {
        Err(self.0.clone())
    }
}

fn storage_code(e: IpcError) -> String {
    match e {
        IpcError::Storage { code, .. } => code,
        other => panic!("expected Storage, got {other:?}"),
    }
}

#[test]
fn a_locked_keystore_refuses_create_and_unlock_without_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipc.db");
    let locked = Arc::new(BrokenKeystore(IpcError::Storage {
        code: "keystore_unavailable".into(),
        detail: "device locked".into(),
    }));
    let e = create_store(
        path.to_str().unwrap().into(),
        locked.clone(),
        PIN.into(),
        worker("Synthetic", Role::Worker),
    )
    .err()
    .unwrap();
    assert_eq!(storage_code(e), "keystore_unavailable");
    assert!(!path.exists(), "nothing was created");

    let d = device(Role::Worker);
    let store = IpcStore::open(d.path.clone(), locked).unwrap();
    assert_eq!(
        storage_code(store.unlock(PIN.into()).unwrap_err()),
        "keystore_unavailable"
    );
    for _ in 0..4 {
        assert!(store.unlock(PIN.into()).is_err());
    }
    // With the keystore back: the failures did not use up PIN attempts.
    let store = IpcStore::open(d.path.clone(), d.keystore.clone()).unwrap();
    assert_eq!(
        store.unlock("0000".into()).unwrap_err(),
        IpcError::WrongPin { attempts_left: 9 }
    );
    store.unlock(PIN.into()).unwrap();
}

#[test]
fn an_unexpected_keystore_exception_is_a_storage_error_without_its_text() {
    let d = device(Role::Worker);
    // What a Kotlin RuntimeException or a Swift error of another type becomes.
    let broken = Arc::new(BrokenKeystore(IpcError::from(
        uniffi::UnexpectedUniFFICallbackError::new("IllegalStateException: ZQX"),
    )));
    let store = IpcStore::open(d.path.clone(), broken).unwrap();
    let e = store.unlock(PIN.into()).unwrap_err();
    assert_eq!(storage_code(e.clone()), "keystore");
    assert!(!format!("{e:?}").contains("ZQX"));
}

#[test]
fn a_keystore_that_already_holds_a_different_secret_is_a_conflict() {
    let keystore = Arc::new(MemoryKeystore::default());
    keystore.put("device".into(), vec![1; 32]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let e = create_store(
        dir.path().join("ipc.db").to_str().unwrap().into(),
        keystore.clone(),
        PIN.into(),
        worker("Synthetic", Role::Worker),
    )
    .err()
    .unwrap();
    assert!(matches!(e, IpcError::Conflict { .. }), "{e:?}");
    assert_eq!(keystore.get("device".into()).unwrap(), Some(vec![1; 32]));
}

#[test]
fn enrolment_failures_map_to_network_and_unauthorized() {
    let d = device(Role::Worker);
    let offline = FailingHttp::new(IpcError::Network {
        detail: "offline".into(),
    });
    let e = block_on(
        d.store
            .enrol_device("http://127.0.0.1:9".into(), "AAAA".into(), offline),
    )
    .unwrap_err();
    assert!(matches!(e, IpcError::Network { .. }), "{e:?}");
    let refused = encode(&ErrorBody {
        version: PROTOCOL_VERSION,
        code: ErrorCode::EnrolCodeExpired,
        message: "the enrolment code has expired".into(),
        retry_after_ms: None,
    });
    let e = block_on(d.store.enrol_device(
        "http://127.0.0.1:9".into(),
        "AAAA".into(),
        Arc::new(FixedHttp(400, refused)),
    ))
    .unwrap_err();
    assert_eq!(
        e,
        IpcError::Unauthorized {
            code: "enrol_code_expired".into(),
            detail: "the enrolment code has expired".into()
        }
    );
    assert!(d.store.enrolment().unwrap().is_none());
}

#[test]
fn a_throwing_transport_gives_network_and_the_outbox_is_kept() {
    let server = TestServer::start();
    let d = server.enrolled(Role::Worker);
    d.store
        .add_client(ClientInput {
            display_name: "Synthetic Client".into(),
            sex: None,
            birth_year: None,
            phone: None,
            village: None,
            address: None,
            consent: None,
        })
        .unwrap();
    let pending = d.store.outbox_len().unwrap();
    assert!(pending > 0);
    // An exception of the shell's own type (IOException, URLError) arrives as Internal.
    let throwing = FailingHttp::new(IpcError::from(uniffi::UnexpectedUniFFICallbackError::new(
        "java.io.IOException",
    )));
    let e = block_on(d.store.sync(throwing.clone())).unwrap_err();
    assert!(matches!(e, IpcError::Network { .. }), "{e:?}");
    assert_eq!(throwing.attempts.load(Ordering::SeqCst), 5, "retried");
    assert_eq!(d.store.outbox_len().unwrap(), pending);
    // Garbage from a captive portal is not success either.
    let e = block_on(d.store.sync(Arc::new(FixedHttp(200, b"<html>".to_vec())))).unwrap_err();
    assert!(matches!(e, IpcError::Network { .. }), "{e:?}");
    assert_eq!(d.store.outbox_len().unwrap(), pending);
    let done = block_on(d.store.sync(UreqHttp::new())).unwrap();
    assert!(done.complete);
    assert_eq!(done.acknowledged, pending);
}

#[test]
fn a_401_is_unauthorized() {
    let server = TestServer::start();
    let d = server.enrolled(Role::Worker);
    let e = block_on(d.store.sync(Arc::new(FixedHttp(401, Vec::new())))).unwrap_err();
    assert!(
        matches!(&e, IpcError::Unauthorized { code, .. } if code == "unauthorized"),
        "{e:?}"
    );
}

struct FailingObserver(Mutex<u32>);

impl SyncObserver for FailingObserver {
    fn on_sync_progress(&self, _: SyncProgress) -> Result<(), IpcError> {
        *self.0.lock().unwrap() += 1;
        Err(IpcError::Internal {
            detail: "observer bug".into(),
        })
    }
}

impl CaseloadObserver for FailingObserver {
    fn on_caseload_changed(&self, _: Vec<CaseloadItem>) -> Result<(), IpcError> {
        *self.0.lock().unwrap() += 1;
        Err(IpcError::Internal {
            detail: "observer bug".into(),
        })
    }
}

#[test]
fn failing_observers_do_not_stop_the_work() {
    let server = TestServer::start();
    let d = server.enrolled(Role::Worker);
    let observer = Arc::new(FailingObserver(Mutex::new(0)));
    let _s1 = d.store.subscribe_sync_progress(observer.clone());
    let _s2 = d.store.subscribe_caseload(observer.clone());
    assert_eq!(*observer.0.lock().unwrap(), 1, "the current caseload first");
    d.store
        .add_client(ClientInput {
            display_name: "Synthetic Client".into(),
            sex: None,
            birth_year: None,
            phone: None,
            village: None,
            address: None,
            consent: None,
        })
        .unwrap();
    assert_eq!(*observer.0.lock().unwrap(), 2);
    let r = block_on(d.store.sync(UreqHttp::new())).unwrap();
    assert!(r.complete);
    assert!(*observer.0.lock().unwrap() >= 4, "progress was reported");
}

/// Answers 400 to everything and remembers the `Accept-Encoding` it was asked to send.
struct Recording {
    brotli: Result<bool, IpcError>,
    accept: Mutex<Vec<String>>,
}

impl ipc_bindings::foreign::HttpTransport for Recording {
    fn send(
        &self,
        request: ipc_bindings::foreign::HttpRequest,
    ) -> Result<ipc_bindings::foreign::HttpResponse, IpcError> {
        for h in request.headers {
            if h.name.eq_ignore_ascii_case("accept-encoding") {
                self.accept.lock().unwrap().push(h.value);
            }
        }
        Ok(ipc_bindings::foreign::HttpResponse {
            status: 400,
            body: encode(&ErrorBody {
                version: PROTOCOL_VERSION,
                code: ErrorCode::EnrolCodeInvalid,
                message: "unknown code".into(),
                retry_after_ms: None,
            }),
        })
    }

    fn decodes_brotli(&self) -> Result<bool, IpcError> {
        self.brotli.clone()
    }
}

#[test]
fn the_shell_says_whether_its_stack_decodes_brotli() {
    let d = device(Role::Worker);
    for (brotli, asked) in [
        (Ok(true), "br, gzip"),
        (Ok(false), "gzip"),
        // A shell that fails to answer gets gzip, which the core always decodes.
        (
            Err(IpcError::Network {
                detail: "boom".into(),
            }),
            "gzip",
        ),
    ] {
        let t = Arc::new(Recording {
            brotli,
            accept: Mutex::new(Vec::new()),
        });
        let e = block_on(d.store.enrol_device(
            "http://127.0.0.1:9".into(),
            "AAAA".into(),
            Arc::clone(&t) as Arc<dyn ipc_bindings::foreign::HttpTransport>,
        ))
        .unwrap_err();
        assert!(matches!(e, IpcError::Unauthorized { .. }), "{e:?}");
        assert_eq!(*t.accept.lock().unwrap(), [asked]);
    }
}
