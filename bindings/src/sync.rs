//! Enrolment and sync on [`IpcStore`], over the shell's [`HttpTransport`]. Both are async on
//! the foreign side (`suspend`/`async`) and run the core's blocking code on a thread of their
//! own; sync progress goes to the [`SyncObserver`](crate::foreign::SyncObserver)s and a sync
//! that received changes tells the caseload observers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ipc_core::store::{Enrolment, Store};
use ipc_core::sync::engine::{SyncConfig, SyncEngine, Transport};

use crate::error::{IpcError, Result};
use crate::foreign::{observer_failed, ForeignTransport, HttpTransport};
use crate::records::{EnrolmentInfo, SyncResult};
use crate::store::{notify_caseload, IpcStore};
use crate::task::run_blocking;

/// Clears the "sync running" flag when the sync ends, however it ends.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

#[uniffi::export]
impl IpcStore {
    /// Enrol this device with the sync server at `server_url` using the one-time `code` from
    /// the supervisor (needs the store unlocked). From then on the store works as the
    /// server's worker. Refused codes give `Unauthorized` (`enrol_code_invalid`,
    /// `enrol_code_expired`, `enrol_code_used`); no answer gives `Network`.
    pub async fn enrol_device(
        &self,
        server_url: String,
        code: String,
        transport: Arc<dyn HttpTransport>,
    ) -> Result<EnrolmentInfo> {
        let store = Arc::clone(&self.store);
        run_blocking("ipc-enrol", move || {
            let server = server_url.trim().trim_end_matches('/').to_string();
            let transport = ForeignTransport::new(server.clone(), transport);
            enrol(&store, &transport, server, code.trim()).map(Into::into)
        })
        .await
    }

    /// Send this device's changes and receive what it may see, in as few round trips as
    /// possible. Returns what was done; `complete` is false if anything is left. A failure
    /// (`Network`, `Unauthorized`, …) loses nothing: unsent changes stay in the outbox and
    /// the next sync resumes. Only one sync runs at a time (`Conflict` otherwise).
    pub async fn sync(&self, transport: Arc<dyn HttpTransport>) -> Result<SyncResult> {
        let enrolment = self
            .store
            .enrolment()?
            .ok_or_else(|| IpcError::refused("not_enrolled", "this device is not enrolled"))?;
        if self
            .syncing
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(IpcError::Conflict {
                detail: "a sync is already running".into(),
            });
        }
        let running = Running(Arc::clone(&self.syncing));
        let store = Arc::clone(&self.store);
        let sync_observers = Arc::clone(&self.sync_observers);
        let caseload_observers = Arc::clone(&self.caseload_observers);
        run_blocking("ipc-sync", move || {
            let _running = running;
            let transport = ForeignTransport::new(enrolment.server, transport);
            let mut engine = SyncEngine::new(&store, &transport, SyncConfig::default());
            let outcome = engine.sync(&mut |progress| {
                for o in sync_observers.all() {
                    if let Err(e) = o.on_sync_progress(progress.into()) {
                        observer_failed("sync", e);
                    }
                }
            });
            let report = match &outcome {
                Ok(r) => Some(r),
                Err(e) => e.done(),
            };
            if report.is_some_and(|r| r.pulled > 0 || r.removed > 0 || r.wiped) {
                notify_caseload(&store, &caseload_observers);
            }
            outcome.map(Into::into).map_err(Into::into)
        })
        .await
    }
}

/// Exchange a one-time code for device credentials and record them in the store.
fn enrol(
    store: &Store,
    transport: &dyn Transport,
    server: String,
    code: &str,
) -> Result<Enrolment> {
    Ok(ipc_core::sync::enrol::enrol(
        store, transport, &server, code,
    )?)
}
