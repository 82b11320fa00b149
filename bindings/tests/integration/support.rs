//! Fixtures: the shells' traits implemented in Rust (a memory keystore, an HTTP transport on
//! ureq, a transport and a keystore that fail), a minimal executor for the async calls, and
//! a `TestServer` running the real sync router on an ephemeral loopback port.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use ipc_bindings::foreign::{HttpRequest, HttpResponse, HttpTransport, SecretStore};
use ipc_bindings::records::WorkerInput;
use ipc_bindings::types::Role;
use ipc_bindings::{create_store, IpcError, IpcStore};
use ipc_core::model::{Role as CoreRole, WorkerId};
use ipc_server::{admin, serve_with_shutdown, AnyStorage, ServerConfig};
use tokio::sync::oneshot;

pub const PIN: &str = "2468";

/// The platform keystore, in memory.
#[derive(Default)]
pub struct MemoryKeystore(Mutex<HashMap<String, Vec<u8>>>);

impl SecretStore for MemoryKeystore {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, IpcError> {
        Ok(self.0.lock().unwrap().get(&name).cloned())
    }
    fn put(&self, name: String, secret: Vec<u8>) -> Result<(), IpcError> {
        let mut map = self.0.lock().unwrap();
        match map.get(&name) {
            Some(old) if *old == secret => Ok(()),
            Some(_) => Err(IpcError::Conflict {
                detail: "different secret".into(),
            }),
            None => {
                map.insert(name, secret);
                Ok(())
            }
        }
    }
    fn delete(&self, name: String) -> Result<(), IpcError> {
        self.0.lock().unwrap().remove(&name);
        Ok(())
    }
}

/// The platform HTTP stack: ureq, plain HTTP to loopback.
pub struct UreqHttp {
    agent: ureq::Agent,
    pub requests: AtomicU32,
}

impl UreqHttp {
    pub fn new() -> Arc<UreqHttp> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .build()
            .into();
        Arc::new(UreqHttp {
            agent,
            requests: AtomicU32::new(0),
        })
    }
}

impl HttpTransport for UreqHttp {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, IpcError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        assert_eq!(request.method, "POST");
        let mut r = self.agent.post(&request.url);
        for h in &request.headers {
            r = r.header(&h.name, &h.value);
        }
        let mut response = r.send(&request.body[..]).map_err(|e| IpcError::Network {
            detail: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| IpcError::Network {
                detail: e.to_string(),
            })?;
        Ok(HttpResponse { status, body })
    }

    fn decodes_brotli(&self) -> Result<bool, IpcError> {
        Ok(false)
    }
}

/// A transport that always fails with `error` (what a shell's exception becomes).
pub struct FailingHttp {
    pub error: IpcError,
    pub attempts: AtomicU32,
}

impl FailingHttp {
    pub fn new(error: IpcError) -> Arc<FailingHttp> {
        Arc::new(FailingHttp {
            error,
            attempts: AtomicU32::new(0),
        })
    }
}

impl HttpTransport for FailingHttp {
    fn send(&self, _: HttpRequest) -> Result<HttpResponse, IpcError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Err(self.error.clone())
    }

    fn decodes_brotli(&self) -> Result<bool, IpcError> {
        Err(self.error.clone())
    }
}

/// A transport that answers every request with a fixed status and body.
pub struct FixedHttp(pub u16, pub Vec<u8>);

impl HttpTransport for FixedHttp {
    fn send(&self, _: HttpRequest) -> Result<HttpResponse, IpcError> {
        Ok(HttpResponse {
            status: self.0,
            body: self.1.clone(),
        })
    }

    fn decodes_brotli(&self) -> Result<bool, IpcError> {
        Ok(false)
    }
}

pub fn worker(name: &str, role: Role) -> WorkerInput {
    WorkerInput {
        display_name: name.into(),
        role,
        team: "team-a".into(),
        worker_id: None,
    }
}

/// A new unlocked store in a temporary folder.
pub struct Device {
    pub dir: tempfile::TempDir,
    pub path: String,
    pub keystore: Arc<MemoryKeystore>,
    pub store: Arc<IpcStore>,
    pub recovery_code: String,
}

pub fn device(role: Role) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipc.db").to_str().unwrap().to_string();
    let keystore = Arc::new(MemoryKeystore::default());
    let created = create_store(
        path.clone(),
        keystore.clone(),
        PIN.into(),
        worker("Synthetic Worker", role),
    )
    .unwrap();
    Device {
        dir,
        path,
        keystore,
        store: created.store,
        recovery_code: created.recovery_code,
    }
}

struct Signal(Mutex<bool>, Condvar);

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        *self.0.lock().unwrap() = true;
        self.1.notify_all();
    }
}

/// Run an async facade call to completion on this thread.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let signal = Arc::new(Signal(Mutex::new(false), Condvar::new()));
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        let mut woken = signal.0.lock().unwrap();
        while !*woken {
            woken = signal.1.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// The real sync server on 127.0.0.1:<ephemeral>, on its own runtime, over a fresh SQLite file.
pub struct TestServer {
    pub url: String,
    storage: AnyStorage,
    rt: tokio::runtime::Runtime,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = format!("sqlite:{}", dir.path().join("server.db").display());
        let storage = rt.block_on(ipc_server::open_storage(&url)).unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let s = storage.clone();
        rt.spawn(async move {
            serve_with_shutdown(s, listener, ServerConfig::default(), async {
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
            _dir: dir,
        }
    }

    pub fn add_worker(&self, role: CoreRole) -> WorkerId {
        self.rt
            .block_on(admin::add_worker(
                &self.storage,
                "Synthetic Person",
                "team-a",
                role,
            ))
            .unwrap()
    }

    pub fn code(&self, worker: WorkerId) -> String {
        self.rt
            .block_on(admin::enrol_code(
                &self.storage,
                worker,
                admin::DEFAULT_CODE_TTL,
            ))
            .unwrap()
    }

    /// A new device enrolled as a new worker with `role`.
    pub fn enrolled(&self, role: Role) -> Device {
        let d = device(role);
        let id = self.add_worker(role.into());
        block_on(
            d.store
                .enrol_device(self.url.clone(), self.code(id), UreqHttp::new()),
        )
        .unwrap();
        d
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
