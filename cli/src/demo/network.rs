//! The demo's sync act: an embedded sync server (SQLite, on a free local port), workers
//! registered with it, device stores enrolled with one-time codes over HTTP, and syncs over a
//! patchy network — a transport that is sometimes offline and sometimes loses the link (and a
//! reply) part-way through a sync — repeated until every device has synced completely.
//! Which attempts fail is decided by the seed, so a run is reproducible apart from ids and
//! times.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use ipc_core::model::{Role, WorkerId};
use ipc_core::store::Store;
use ipc_core::sync::engine::{
    HttpRequest, HttpResponse, SyncConfig, SyncEngine, SyncError, Transport, TransportError,
};
use ipc_core::sync::http::UreqTransport;
use ipc_server::{admin, AnyStorage, ServerConfig, Stats};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::oneshot;

use crate::commands::serve::runtime;
use crate::commands::sync::{enrol_over, sync_error, HTTP_TIMEOUT};
use crate::error::CliError;

/// Validity of the demo's enrolment codes.
const CODE_TTL: Duration = Duration::from_secs(600);
/// Attempts after which the network is always up (so every device finishes).
const PATCHY_ATTEMPTS: u32 = 4;
/// Most sync attempts per device before the demo gives up.
const MAX_ATTEMPTS: u32 = 12;

/// The sync server running inside the demo process.
pub struct EmbeddedServer {
    rt: tokio::runtime::Runtime,
    storage: AnyStorage,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<ipc_server::Result<()>>>,
}

impl EmbeddedServer {
    /// Start a server on a new SQLite file `db`, listening on a free local port.
    pub fn start(db: &Path) -> Result<EmbeddedServer, CliError> {
        let rt = runtime()?;
        let url = format!("sqlite:{}", db.display());
        let storage = rt.block_on(ipc_server::open_storage(&url))?;
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))
            .map_err(CliError::io("starting the demo's sync server"))?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io("starting the demo's sync server"))?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = rt.spawn(ipc_server::serve_with_shutdown(
            storage.clone(),
            listener,
            ServerConfig {
                // Four devices retrying quickly from one address: no rate limit here.
                rate_per_minute: 0,
                ..ServerConfig::default()
            },
            async {
                let _ = rx.await;
            },
        ));
        Ok(EmbeddedServer {
            rt,
            storage,
            url: format!("http://{addr}"),
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// Register a worker.
    pub fn add_worker(&self, name: &str, team: &str, role: Role) -> Result<WorkerId, CliError> {
        Ok(self
            .rt
            .block_on(admin::add_worker(&self.storage, name, team, role))?)
    }

    /// A one-time enrolment code for `worker`.
    pub fn enrol_code(&self, worker: WorkerId) -> Result<String, CliError> {
        Ok(self
            .rt
            .block_on(admin::enrol_code(&self.storage, worker, CODE_TTL))?)
    }

    /// Enrol `store` (unlocked) for `worker` with a fresh code, over HTTP.
    pub fn enrol(&self, store: &Store, worker: WorkerId) -> Result<(), CliError> {
        let code = self.enrol_code(worker)?;
        let transport = UreqTransport::new(&self.url, HTTP_TIMEOUT);
        enrol_over(store, &transport, &self.url, &code)?;
        Ok(())
    }

    /// The server's counts.
    pub fn stats(&self) -> Result<Stats, CliError> {
        Ok(self.rt.block_on(admin::stats(&self.storage))?)
    }

    /// Stop the server, finishing requests in flight.
    pub fn stop(mut self) -> Result<(), CliError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), CliError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match self.rt.block_on(task) {
                Ok(result) => result?,
                Err(_) => return Err(CliError::Server("the demo's sync server failed".into())),
            }
        }
        Ok(())
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// The network during one sync attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// No signal at all.
    Offline,
    /// `n` requests get through; the next reaches the server but its reply is lost, then
    /// the signal is gone.
    Drops(u32),
    /// Up for the whole sync.
    Online,
}

/// A transport whose link follows a [`Link`] for the current attempt.
pub struct Patchy<'a> {
    inner: &'a dyn Transport,
    left: Mutex<Option<u32>>,
}

impl<'a> Patchy<'a> {
    /// Over `inner`, online until told otherwise.
    pub fn new(inner: &'a dyn Transport) -> Patchy<'a> {
        Patchy {
            inner,
            left: Mutex::new(None),
        }
    }

    /// Set the link for the next attempt.
    pub fn set(&self, link: Link) {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        *left = match link {
            Link::Offline => Some(0),
            // `n` good requests, then one whose reply is lost.
            Link::Drops(n) => Some(n + 1),
            Link::Online => None,
        };
    }
}

impl Transport for Patchy<'_> {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        match *left {
            None => self.inner.send(request),
            Some(0) => Err(TransportError::Unreachable("no signal".into())),
            Some(1) => {
                *left = Some(0);
                // The request reaches the server; the answer never arrives.
                let _ = self.inner.send(request);
                Err(TransportError::Io("link lost before the reply".into()))
            }
            Some(n) => {
                *left = Some(n - 1);
                self.inner.send(request)
            }
        }
    }

    fn accept_encoding(&self) -> &'static str {
        self.inner.accept_encoding()
    }
}

/// What the syncs of one device did, summed over its attempts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceSync {
    /// Sync attempts.
    pub attempts: u32,
    /// Attempts with no signal at all.
    pub offline: u32,
    /// Attempts cut off part-way.
    pub dropped: u32,
    /// Operations sent (an operation resent after a lost reply counts again).
    pub pushed: u64,
    /// Operations the server confirmed.
    pub acknowledged: u64,
    /// Operations received.
    pub pulled: u64,
    /// Round trips that got an answer.
    pub rounds: u32,
    /// The last attempt completed.
    pub complete: bool,
}

/// One device taking part in the sync act.
pub struct Device<'a> {
    /// A label.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its store (unlocked, enrolled).
    pub store: &'a Store,
    /// What its syncs did.
    pub sync: DeviceSync,
    rng: ChaCha8Rng,
}

impl<'a> Device<'a> {
    /// A device whose network luck follows `seed`.
    pub fn new(name: &str, role: Role, store: &'a Store, seed: u64) -> Device<'a> {
        Device {
            name: name.to_owned(),
            role,
            store,
            sync: DeviceSync::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn next_link(&mut self) -> Link {
        if self.sync.attempts >= PATCHY_ATTEMPTS {
            return Link::Online;
        }
        match self.rng.random_range(0..10u8) {
            0..=2 => Link::Offline,
            3..=6 => Link::Drops(self.rng.random_range(0..3u32)),
            _ => Link::Online,
        }
    }

    /// One sync attempt over `server` with this attempt's link. Network failures are
    /// counted (the device tries again later); any other failure stops the demo.
    pub fn attempt(&mut self, server: &dyn Transport, url: &str) -> Result<(), CliError> {
        let link = self.next_link();
        let transport = Patchy::new(server);
        transport.set(link);
        let config = SyncConfig {
            max_batch_ops: 150,
            max_attempts: 2,
            ..SyncConfig::default()
        };
        self.sync.attempts += 1;
        let result = SyncEngine::new(self.store, &transport, config)
            .with_sleep(|_| {})
            .sync(&mut |_| {});
        let (report, failed) = match result {
            Ok(r) => (r, None),
            Err(e @ SyncError::Network { .. }) => match e.done() {
                Some(done) => (done.clone(), Some(e)),
                None => return Err(sync_error(e, url)),
            },
            Err(e) => return Err(sync_error(e, url)),
        };
        self.sync.pushed += report.pushed;
        self.sync.acknowledged += report.acknowledged;
        self.sync.pulled += report.pulled;
        self.sync.rounds += report.rounds;
        self.sync.complete = failed.is_none() && report.complete;
        if failed.is_some() {
            if report.rounds == 0 && link == Link::Offline {
                self.sync.offline += 1;
            } else {
                self.sync.dropped += 1;
            }
        }
        Ok(())
    }
}

/// Sync every device, one attempt each per turn, until all have synced completely.
pub fn sync_all(devices: &mut [Device<'_>], server_url: &str) -> Result<(), CliError> {
    let http = UreqTransport::new(server_url, HTTP_TIMEOUT);
    for _ in 0..MAX_ATTEMPTS {
        let mut all_done = true;
        for d in devices.iter_mut().filter(|d| !d.sync.complete) {
            d.attempt(&http, server_url)?;
            all_done &= d.sync.complete;
        }
        if all_done {
            return Ok(());
        }
    }
    Err(CliError::Server(format!(
        "the demo's devices did not finish syncing in {MAX_ATTEMPTS} attempts"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Mutex<u32>);

    impl Transport for Echo {
        fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
            *self.0.lock().unwrap() += 1;
            Ok(HttpResponse {
                status: 200,
                body: Vec::new(),
            })
        }
    }

    fn request() -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/v1/sync".into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    #[test]
    fn patchy_links_fail_as_told() {
        let echo = Echo(Mutex::new(0));
        let t = Patchy::new(&echo);
        t.set(Link::Offline);
        assert!(matches!(
            t.send(request()),
            Err(TransportError::Unreachable(_))
        ));
        assert_eq!(*echo.0.lock().unwrap(), 0);
        t.set(Link::Drops(2));
        assert!(t.send(request()).is_ok());
        assert!(t.send(request()).is_ok());
        // The third reaches the server, but its reply is lost; then nothing gets through.
        assert!(matches!(t.send(request()), Err(TransportError::Io(_))));
        assert_eq!(*echo.0.lock().unwrap(), 3);
        assert!(t.send(request()).is_err());
        assert_eq!(*echo.0.lock().unwrap(), 3);
        t.set(Link::Online);
        for _ in 0..5 {
            assert!(t.send(request()).is_ok());
        }
    }
}
