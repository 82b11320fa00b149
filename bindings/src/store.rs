//! [`IpcStore`]: the one object the shells hold. This file owns its lifecycle (create, open,
//! unlock, lock, PIN change, recovery), identity, the read-side lists (caseload, worklist,
//! supervisor queue, case view, the records of one client) and the observer registrations.
//! Writes live in `course.rs`, questionnaires in `instruments.rs`, enrolment and sync in
//! `sync.rs`. Storage calls are synchronous: call them off the main thread.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, RwLock};

use ipc_core::instruments::TranslationPack;
use ipc_core::model::{self as m, CourseId, SessionId};
use ipc_core::protocol::agenda::AgendaTranslation;
use ipc_core::protocol::records::ClientRecords;
use ipc_core::protocol::{Protocol, ProtocolError};
use ipc_core::store::keys::{KdfParams, DEFAULT_KDF_TARGET};
use ipc_core::store::{Entity, Filter, Records, Store, StoreConfig, StoreError, Writer};

use crate::error::Result;
use crate::foreign::{
    observer_failed, CaseloadObserver, ForeignSecrets, Observers, SecretStore, Subscription,
    SyncObserver,
};
use crate::records::{
    parse_client, CaseView, CaseloadItem, ClientInfo, CourseInfo, EnrolmentInfo, InventoryInfo,
    NoteInfo, QuarantinedItem, ReferralInfo, ReviewItem, RiskEventInfo, SessionInfo, SessionPlan,
    StoreIdentity, TimelineInfo, TrajectoryPoint, WorkItem, WorkerInput,
};

/// Translations chosen by the shell (see [`IpcStore::set_translations`]).
#[derive(Default)]
pub(crate) struct Translations {
    pub(crate) agenda: Option<AgendaTranslation>,
    pub(crate) instruments: Vec<TranslationPack>,
}

/// An encrypted on-device store with the IPC protocol: everything a CHW's or supervisor's app
/// reads and records. Safe to share between threads (calls are serialised).
#[derive(uniffi::Object)]
pub struct IpcStore {
    pub(crate) store: Arc<Store>,
    pub(crate) protocol: Arc<Protocol>,
    pub(crate) translations: RwLock<Translations>,
    pub(crate) caseload_observers: Arc<Observers<dyn CaseloadObserver>>,
    pub(crate) sync_observers: Arc<Observers<dyn SyncObserver>>,
    pub(crate) syncing: Arc<AtomicBool>,
}

impl std::fmt::Debug for IpcStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcStore").finish_non_exhaustive()
    }
}

/// A new store and its recovery code.
#[derive(uniffi::Record)]
pub struct NewStore {
    /// The store, unlocked.
    pub store: Arc<IpcStore>,
    /// The recovery code (`XXXXX-XXXXX-…`): show it once, for the supervisor to keep. It
    /// unlocks the store after a lock-out or a forgotten PIN. It is not stored anywhere.
    pub recovery_code: String,
}

impl std::fmt::Debug for NewStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStore").finish_non_exhaustive()
    }
}

/// Create a new encrypted store at `path` (which must not exist) for `worker`, protected by
/// `pin` and the device secret kept in `secrets`. The PIN derivation is calibrated to take
/// about a quarter of a second on this device. Returns the store, unlocked, and its recovery
/// code.
#[uniffi::export]
pub fn create_store(
    path: String,
    secrets: Arc<dyn SecretStore>,
    pin: String,
    worker: WorkerInput,
) -> Result<NewStore> {
    let worker = worker.to_core()?;
    let kdf = KdfParams::calibrate(DEFAULT_KDF_TARGET);
    let (store, code) = Store::create(
        &PathBuf::from(path),
        Arc::new(ForeignSecrets(secrets)),
        &pin,
        &worker,
        &kdf,
        StoreConfig::default(),
    )?;
    Ok(NewStore {
        store: IpcStore::wrap(store)?,
        recovery_code: code.expose_formatted().to_string(),
    })
}

impl IpcStore {
    fn wrap(store: Store) -> Result<Arc<IpcStore>> {
        Ok(Arc::new(IpcStore {
            store: Arc::new(store),
            protocol: Arc::new(Protocol::builtin()?),
            translations: RwLock::new(Translations::default()),
            caseload_observers: Observers::new(),
            sync_observers: Observers::new(),
            syncing: Arc::new(AtomicBool::new(false)),
        }))
    }

    /// Run `f` in one write transaction, then tell the caseload observers.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Writer<'_>, &Protocol) -> Result<T, ProtocolError>,
    ) -> Result<T> {
        let out = self.store.write(|w| f(w, &self.protocol))?;
        self.caseload_changed();
        Ok(out)
    }

    /// Run `f` with read access.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&ipc_core::store::Reader<'_>, &Protocol) -> Result<T, ProtocolError>,
    ) -> Result<T> {
        Ok(self.store.read(|r| f(r, &self.protocol))?)
    }

    /// Tell every caseload observer the caseload now (nothing to do without observers).
    pub(crate) fn caseload_changed(&self) {
        notify_caseload(&self.store, &self.caseload_observers);
    }

    fn list<E: Entity, T: From<E>>(&self, filter: Filter) -> Result<Vec<T>> {
        Ok(self
            .store
            .list::<E>(filter)?
            .into_iter()
            .map(T::from)
            .collect())
    }

    fn client_records(r: &impl Records, id: m::ClientId) -> Result<ClientRecords, ProtocolError> {
        ClientRecords::load(r, id)?.ok_or(ProtocolError::NotFound { what: "client" })
    }

    /// The plan of one session, rendered in the chosen language.
    pub(crate) fn plan_of(&self, session: SessionId) -> Result<SessionPlan> {
        let translations = self.translations.read().unwrap_or_else(|e| e.into_inner());
        self.read(|r, p| {
            let s: m::Session = r
                .get(session.as_uuid())?
                .ok_or(ProtocolError::NotFound { what: "session" })?;
            let rec = Self::client_records(r, s.client_id)?;
            let course = rec
                .courses
                .iter()
                .find(|c| c.id == s.course_id)
                .ok_or(ProtocolError::NotFound { what: "course" })?;
            let steps = p
                .agenda_for(&rec, course, &s)?
                .iter()
                .filter_map(|id| p.agenda.step(id))
                .map(|step| step.render(translations.agenda.as_ref()))
                .collect();
            Ok(SessionPlan::new(&s, steps))
        })
    }
}

/// Send the caseload to every observer (used after writes and after syncs).
pub(crate) fn notify_caseload(store: &Store, observers: &Observers<dyn CaseloadObserver>) {
    if observers.is_empty() {
        return;
    }
    let caseload: Vec<CaseloadItem> = match store.caseload() {
        Ok(rows) => rows.into_iter().map(Into::into).collect(),
        // Locked or failing: the next change will tell them.
        Err(_) => return,
    };
    for o in observers.all() {
        if let Err(e) = o.on_caseload_changed(caseload.clone()) {
            observer_failed("caseload", e);
        }
    }
}

#[uniffi::export]
impl IpcStore {
    /// Open the store at `path`, locked. Refuses (and leaves untouched) damaged, foreign and
    /// newer files.
    #[uniffi::constructor]
    pub fn open(path: String, secrets: Arc<dyn SecretStore>) -> Result<Arc<IpcStore>> {
        let store = Store::open(
            &PathBuf::from(path),
            Arc::new(ForeignSecrets(secrets)),
            StoreConfig::default(),
        )?;
        IpcStore::wrap(store)
    }

    /// Unlock with the PIN. Wrong PINs give `WrongPin`, then `TooSoon` (wait), then
    /// `LockedOut` (use the recovery code).
    pub fn unlock(&self, pin: String) -> Result<()> {
        self.store.unlock(&pin)?;
        self.caseload_changed();
        Ok(())
    }

    /// Forget the key: every call but `unlock`/`recover` fails with `Locked` until unlocked.
    pub fn lock(&self) -> Result<()> {
        Ok(self.store.lock()?)
    }

    /// Whether the store is unlocked.
    pub fn is_unlocked(&self) -> bool {
        self.store.is_unlocked()
    }

    /// Change the PIN (checked like an unlock). The data is not re-encrypted.
    pub fn change_pin(&self, old_pin: String, new_pin: String) -> Result<()> {
        Ok(self.store.change_pin(&old_pin, &new_pin)?)
    }

    /// Unlock with the recovery code after a lock-out or a forgotten PIN, and set a new PIN.
    pub fn recover(&self, recovery_code: String, new_pin: String) -> Result<()> {
        self.store.recover(&recovery_code, &new_pin)?;
        self.caseload_changed();
        Ok(())
    }

    /// The store's identity (works while locked).
    pub fn identity(&self) -> StoreIdentity {
        self.store.identity().into()
    }

    /// The sync server this device is enrolled with, if any (works while locked).
    pub fn enrolment(&self) -> Result<Option<EnrolmentInfo>> {
        Ok(self.store.enrolment()?.map(Into::into))
    }

    /// Changes waiting to be sent (works while locked).
    pub fn outbox_len(&self) -> Result<u64> {
        Ok(self.store.outbox_len()?)
    }

    /// Local changes the server refused, to show the user (works while locked).
    pub fn quarantined(&self) -> Result<Vec<QuarantinedItem>> {
        Ok(self
            .store
            .quarantined()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The caseload: every client with where their latest course stands.
    pub fn caseload(&self) -> Result<Vec<CaseloadItem>> {
        Ok(self.store.caseload()?.into_iter().map(Into::into).collect())
    }

    /// The worker's worklist as of today: clients by urgency, with the reasons.
    pub fn worklist(&self) -> Result<Vec<WorkItem>> {
        self.read(|r, p| p.worklist(r, r.today))
            .map(|l| l.into_iter().map(Into::into).collect())
    }

    /// The supervisor's review queue as of today: unreviewed risk events, flags that need
    /// supervision, early drop-outs and extensions. A note linked to a risk event marks it
    /// reviewed.
    pub fn supervisor_queue(&self) -> Result<Vec<ReviewItem>> {
        self.read(|r, p| p.supervisor_queue(r, r.today))
            .map(|l| l.into_iter().map(Into::into).collect())
    }

    /// The case view of one client: flags, outcome, trajectory and next agenda.
    pub fn case_view(&self, client_id: String) -> Result<CaseView> {
        let id = parse_client(&client_id)?;
        self.read(|r, p| p.case_view(&Self::client_records(r, id)?, r.today))
            .map(Into::into)
    }

    /// The client's scores over time, oldest first (for the outcome chart).
    pub fn trajectory(&self, client_id: String) -> Result<Vec<TrajectoryPoint>> {
        Ok(self.case_view(client_id)?.trajectory)
    }

    /// One client's details.
    pub fn client(&self, client_id: String) -> Result<ClientInfo> {
        let id = parse_client(&client_id)?;
        self.store
            .get::<m::Client>(id.as_uuid())?
            .map(Into::into)
            .ok_or_else(|| {
                StoreError::NoSuchRecord {
                    kind: m::Client::KIND,
                }
                .into()
            })
    }

    /// The client's courses, oldest first.
    pub fn courses(&self, client_id: String) -> Result<Vec<CourseInfo>> {
        self.list::<m::Course, _>(Filter::Client(parse_client(&client_id)?))
    }

    /// The sessions of a course, planned and held, oldest first.
    pub fn sessions(&self, course_id: String) -> Result<Vec<SessionInfo>> {
        let course = CourseId::parse(&course_id)?;
        let mut out: Vec<SessionInfo> =
            self.list::<m::Session, _>(Filter::Course(course.as_uuid()))?;
        out.sort_by_key(|s| s.number);
        Ok(out)
    }

    /// One session with its agenda, in the chosen language.
    pub fn session_plan(&self, session_id: String) -> Result<SessionPlan> {
        self.plan_of(SessionId::parse(&session_id)?)
    }

    /// The interpersonal inventory of a course.
    pub fn inventory(&self, course_id: String) -> Result<Vec<InventoryInfo>> {
        let course = CourseId::parse(&course_id)?;
        self.list::<m::InventoryEntry, _>(Filter::Course(course.as_uuid()))
    }

    /// The timeline of a course.
    pub fn timeline(&self, course_id: String) -> Result<Vec<TimelineInfo>> {
        let course = CourseId::parse(&course_id)?;
        self.list::<m::TimelineEvent, _>(Filter::Course(course.as_uuid()))
    }

    /// The client's risk events, oldest first.
    pub fn risk_events(&self, client_id: String) -> Result<Vec<RiskEventInfo>> {
        self.list::<m::RiskEvent, _>(Filter::Client(parse_client(&client_id)?))
    }

    /// The client's referrals, oldest first.
    pub fn referrals(&self, client_id: String) -> Result<Vec<ReferralInfo>> {
        self.list::<m::Referral, _>(Filter::Client(parse_client(&client_id)?))
    }

    /// The supervisor notes on a client, oldest first.
    pub fn notes(&self, client_id: String) -> Result<Vec<NoteInfo>> {
        self.list::<m::SupervisorNote, _>(Filter::Client(parse_client(&client_id)?))
    }

    /// Observe the caseload: `observer` gets it now (if unlocked) and after every change.
    pub fn subscribe_caseload(&self, observer: Arc<dyn CaseloadObserver>) -> Arc<Subscription> {
        let subscription = self.caseload_observers.add(Arc::clone(&observer));
        if let Ok(rows) = self.store.caseload() {
            if let Err(e) = observer.on_caseload_changed(rows.into_iter().map(Into::into).collect())
            {
                observer_failed("caseload", e);
            }
        }
        subscription
    }

    /// Observe the progress of every sync of this store.
    pub fn subscribe_sync_progress(&self, observer: Arc<dyn SyncObserver>) -> Arc<Subscription> {
        self.sync_observers.add(observer)
    }
}
