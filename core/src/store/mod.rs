//! The encrypted on-device store: one SQLite file, one write path.
//!
//! - [`Store::create`] makes a new store: a random data key wrapped by a PIN-derived key (and
//!   by a recovery code), the worker's identity and an empty schema.
//! - [`Store::open`] opens it locked; [`Store::unlock`] with the PIN makes it usable;
//!   [`Store::lock`] forgets the key.
//! - Every mutation goes through [`Store::write`]: the closure gets a [`Writer`] whose
//!   `create` / `update` / `delete` append an [`Operation`] and fold it into the state with
//!   the same [`apply`](apply::apply) used for received operations, plus an audit record, in
//!   one IMMEDIATE transaction that commits only if the closure succeeds.
//! - Sync reads the outbox ([`Store::outbox`]) and reports acknowledgements
//!   ([`Store::mark_acknowledged`]); received operations go through [`Store::apply_remote`].

pub mod apply;
pub mod attempts;
pub mod audit;
pub mod caseload;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod error;
pub mod keys;
pub mod meta;
pub mod outbox;
pub mod read;
pub mod record;
pub mod schema;
pub mod secret;
pub mod shape;
pub mod spec;
pub mod sync_state;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, TransactionBehavior};
use uuid::Uuid;

use crate::clock::{Clock, SystemClock};
use crate::model::{AuditAction, AuditEntry, DeviceId, OpId, Role, WorkerId};
use crate::sync::hlc::{Hlc, HlcClock};
use crate::sync::op::{Change, EntityKind, FieldMap, Operation};

pub use caseload::CaseloadRow;
pub use error::{Result, StoreError};
pub use read::Filter;
pub use record::Entity;
pub use sync_state::{Enrolment, QuarantinedOp};

use apply::Effect;
use audit::AuditRecord;
use crypto::{Aad, DataKey, FieldCipher};
use keys::{AttemptState, KdfParams, KeyError, Pin, PinPolicy, RecoveryCode, WrappedKey};
use secret::{SecretStore, DEVICE_SECRET_NAME};

/// Runtime settings of a store (not persisted).
#[derive(Clone)]
pub struct StoreConfig {
    /// Wrong-PIN delays and lock-out.
    pub pin_policy: PinPolicy,
    /// The time source.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pin_policy: PinPolicy::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Who uses a new store.
#[derive(Clone, Debug)]
pub struct NewWorker {
    /// The worker's id (from the programme's directory; a new one when working alone).
    pub id: WorkerId,
    /// Display name (encrypted at rest).
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Team (non-personal label).
    pub team: String,
}

/// The fixed identity of a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Random id of the store.
    pub store_id: Uuid,
    /// This device (the HLC node).
    pub device_id: DeviceId,
    /// The worker using it.
    pub worker_id: WorkerId,
}

/// What applying a batch of received operations did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteApplied {
    /// Operations newly stored and folded into the state.
    pub applied: usize,
    /// Operations already stored (ignored).
    pub duplicates: usize,
    /// Operations refused, with the reason (nothing of them was written).
    pub rejected: Vec<(OpId, String)>,
}

struct Unlocked {
    cipher: FieldCipher,
}

struct Inner {
    conn: Connection,
    unlocked: Option<Unlocked>,
}

/// An open store. Safe to share between threads (calls are serialised).
pub struct Store {
    inner: Mutex<Inner>,
    path: PathBuf,
    identity: Mutex<Identity>,
    secrets: Arc<dyn SecretStore>,
    attempts: attempts::AttemptFile,
    config: StoreConfig,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("identity", &self.identity())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Create a new encrypted store at `path` (which must not exist), unlocked. Returns the
    /// recovery code, to be shown once and handed to the supervisor.
    pub fn create(
        path: &Path,
        secrets: Arc<dyn SecretStore>,
        pin: &str,
        worker: &NewWorker,
        kdf: &KdfParams,
        config: StoreConfig,
    ) -> Result<(Store, RecoveryCode)> {
        let pin = Pin::new(pin)?;
        kdf.validate()?;
        let worker_row = crate::model::Worker {
            id: worker.id,
            display_name: worker.display_name.clone(),
            role: worker.role,
            team: worker.team.clone(),
        };
        worker_row.validate()?;
        if secrets.get(DEVICE_SECRET_NAME)?.is_some() {
            return Err(StoreError::AlreadyExists);
        }
        let attempt_file = attempts::AttemptFile::beside(path)?;
        let mut conn = db::create_new(path)?;
        let device_secret = secret::generate_device_secret()?;
        secrets.put(DEVICE_SECRET_NAME, device_secret.as_ref())?;
        let identity = Identity {
            store_id: Uuid::new_v4(),
            device_id: DeviceId::new(),
            worker_id: worker.id,
        };
        let key = DataKey::generate()?;
        let wrapped_pin = keys::wrap_with_pin(
            &key,
            &pin,
            device_secret.as_ref(),
            kdf,
            identity.store_id.as_bytes(),
        )?;
        let recovery = RecoveryCode::generate()?;
        let wrapped_recovery = keys::wrap_with_recovery(
            &key,
            &recovery,
            device_secret.as_ref(),
            identity.store_id.as_bytes(),
        )?;
        let cipher = FieldCipher::new(&key)?;
        let now = config.clock.now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        meta::set(&tx, meta::key::STORE_ID, &identity.store_id.to_string())?;
        meta::set(&tx, meta::key::DEVICE_ID, &identity.device_id.to_string())?;
        meta::set(&tx, meta::key::WORKER_ID, &identity.worker_id.to_string())?;
        meta::set(
            &tx,
            meta::key::CREATED_AT,
            &now.to_rfc3339_opts(SecondsFormat::Millis, true),
        )?;
        meta::set(
            &tx,
            meta::key::HLC,
            &Hlc::zero(identity.device_id).to_string(),
        )?;
        meta::set_json(&tx, meta::key::WRAPPED_PIN, &wrapped_pin)?;
        meta::set_json(&tx, meta::key::WRAPPED_RECOVERY, &wrapped_recovery)?;
        let name = cipher.seal(
            &Aad::field("workers", worker.id.as_bytes(), "display_name"),
            worker_row.display_name.as_bytes(),
        )?;
        tx.execute(
            "INSERT INTO workers (id, display_name, role, team) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                worker.id.to_string(),
                name,
                worker.role.as_str(),
                worker_row.team
            ],
        )?;
        audit::append(
            &tx,
            &AuditRecord {
                at: now,
                actor: identity.worker_id,
                device: identity.device_id,
                action: AuditAction::Create,
                entity: None,
                op_id: None,
                fields: &[],
            },
        )?;
        tx.commit()?;
        // Put the header (application id, version) into the main file, so the pre-open check
        // sees an ipc-kit store even if the process dies right after this.
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        let store = Store {
            inner: Mutex::new(Inner {
                conn,
                unlocked: Some(Unlocked { cipher }),
            }),
            path: path.to_path_buf(),
            identity: Mutex::new(identity),
            secrets,
            attempts: attempt_file,
            config,
        };
        store.attempts.save(&AttemptState::default())?;
        Ok((store, recovery))
    }

    /// Open an existing store, locked. Refuses (and leaves untouched) damaged, foreign and
    /// newer files.
    pub fn open(path: &Path, secrets: Arc<dyn SecretStore>, config: StoreConfig) -> Result<Store> {
        let conn = db::open_existing(path)?;
        let parse = |s: String| Uuid::try_parse(&s).map_err(|_| StoreError::Corrupt);
        let identity = Identity {
            store_id: parse(meta::require(&conn, meta::key::STORE_ID)?)?,
            device_id: DeviceId::from_uuid(parse(meta::require(&conn, meta::key::DEVICE_ID)?)?),
            worker_id: WorkerId::from_uuid(parse(meta::require(&conn, meta::key::WORKER_ID)?)?),
        };
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                unlocked: None,
            }),
            path: path.to_path_buf(),
            identity: Mutex::new(identity),
            secrets,
            attempts: attempts::AttemptFile::beside(path)?,
            config,
        })
    }

    /// The store's identity.
    pub fn identity(&self) -> Identity {
        *self.identity.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the data key is in memory.
    pub fn is_unlocked(&self) -> bool {
        self.lock_inner().unlocked.is_some()
    }

    fn lock_inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written transaction (it rolls
        // back on drop), so the state behind a poisoned lock is consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn device_secret(&self) -> Result<Vec<u8>> {
        self.secrets
            .get(DEVICE_SECRET_NAME)?
            .ok_or(StoreError::DeviceSecretMissing)
    }

    fn audit_now(&self, conn: &Connection, action: AuditAction) -> Result<()> {
        audit::append(
            conn,
            &AuditRecord {
                at: self.config.clock.now(),
                actor: self.identity().worker_id,
                device: self.identity().device_id,
                action,
                entity: None,
                op_id: None,
                fields: &[],
            },
        )
    }

    /// Check a PIN against the wrapped key, applying the attempt policy: the attempt is
    /// saved as a failure (in the counter file, not the database) *before* the check and
    /// cleared on success, so killing the app mid-check still uses up the attempt. A wrong
    /// PIN writes nothing to the database; failures are audited at the next successful unlock.
    fn verify_pin(&self, conn: &Connection, pin: &Pin) -> Result<DataKey> {
        let policy = &self.config.pin_policy;
        let now_ms = self.config.clock.now().timestamp_millis();
        let mut attempts = self.attempts.load()?;
        if attempts.clamp_to_clock(now_ms) {
            self.attempts.save(&attempts)?;
        }
        attempts.check(policy, now_ms).map_err(key_to_store)?;
        // Everything that is not about the PIN is read first: a missing device secret or a
        // damaged key record must not use up attempts.
        let wrapped: WrappedKey =
            meta::get_json(conn, meta::key::WRAPPED_PIN)?.ok_or(StoreError::Corrupt)?;
        let secret = self.device_secret()?;
        let mut failed = attempts;
        failed.record_failure(policy, now_ms);
        self.attempts.save(&failed)?;
        match keys::unwrap_with_pin(&wrapped, pin, &secret, self.identity().store_id.as_bytes()) {
            Ok(key) => {
                for _ in 0..attempts.failures.min(policy.max_attempts) {
                    self.audit_now(conn, AuditAction::UnlockFailed)?;
                }
                self.attempts.save(&AttemptState::default())?;
                Ok(key)
            }
            Err(KeyError::WrongPin) if failed.locked_out => Err(StoreError::LockedOut),
            Err(KeyError::WrongPin) => Err(StoreError::WrongPin {
                attempts_left: failed.attempts_left(policy),
            }),
            Err(e) => {
                // Not a PIN problem (e.g. a damaged wrapped key): do not count it.
                self.attempts.save(&attempts)?;
                Err(e.into())
            }
        }
    }

    /// Unlock with the PIN.
    pub fn unlock(&self, pin: &str) -> Result<()> {
        let pin = Pin::new(pin)?;
        let mut inner = self.lock_inner();
        let key = self.verify_pin(&inner.conn, &pin)?;
        self.audit_now(&inner.conn, AuditAction::Unlock)?;
        let cipher = FieldCipher::new(&key)?;
        inner.unlocked = Some(Unlocked { cipher });
        Ok(())
    }

    /// Forget the data key; the store needs the PIN again.
    pub fn lock(&self) -> Result<()> {
        let mut inner = self.lock_inner();
        if inner.unlocked.take().is_some() {
            self.audit_now(&inner.conn, AuditAction::Lock)?;
        }
        Ok(())
    }

    /// Change the PIN: only the wrapped data key changes (fresh salt, same data key).
    pub fn change_pin(&self, old_pin: &str, new_pin: &str) -> Result<()> {
        let old_pin = Pin::new(old_pin)?;
        let new_pin = Pin::new(new_pin)?;
        let mut inner = self.lock_inner();
        let key = self.verify_pin(&inner.conn, &old_pin)?;
        let wrapped: WrappedKey =
            meta::get_json(&inner.conn, meta::key::WRAPPED_PIN)?.ok_or(StoreError::Corrupt)?;
        let kdf = KdfParams {
            iterations: wrapped.iterations,
        };
        let secret = self.device_secret()?;
        let rewrapped = keys::wrap_with_pin(
            &key,
            &new_pin,
            &secret,
            &kdf,
            self.identity().store_id.as_bytes(),
        )?;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        meta::set_json(&tx, meta::key::WRAPPED_PIN, &rewrapped)?;
        self.audit_now(&tx, AuditAction::ChangePin)?;
        tx.commit()?;
        let cipher = FieldCipher::new(&key)?;
        inner.unlocked = Some(Unlocked { cipher });
        Ok(())
    }

    /// Unlock with the recovery code after a lock-out (or a forgotten PIN) and set a new PIN.
    /// Clears the lock-out.
    pub fn recover(&self, recovery_code: &str, new_pin: &str) -> Result<()> {
        let code = RecoveryCode::parse(recovery_code)?;
        let new_pin = Pin::new(new_pin)?;
        let mut inner = self.lock_inner();
        let wrapped: WrappedKey =
            meta::get_json(&inner.conn, meta::key::WRAPPED_RECOVERY)?.ok_or(StoreError::Corrupt)?;
        let pin_wrapped: WrappedKey =
            meta::get_json(&inner.conn, meta::key::WRAPPED_PIN)?.ok_or(StoreError::Corrupt)?;
        let secret = self.device_secret()?;
        let key = keys::unwrap_with_recovery(
            &wrapped,
            &code,
            &secret,
            self.identity().store_id.as_bytes(),
        )?;
        let kdf = KdfParams {
            iterations: pin_wrapped.iterations,
        };
        let rewrapped = keys::wrap_with_pin(
            &key,
            &new_pin,
            &secret,
            &kdf,
            self.identity().store_id.as_bytes(),
        )?;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        meta::set_json(&tx, meta::key::WRAPPED_PIN, &rewrapped)?;
        self.audit_now(&tx, AuditAction::Recover)?;
        tx.commit()?;
        self.attempts.save(&AttemptState::default())?;
        let cipher = FieldCipher::new(&key)?;
        inner.unlocked = Some(Unlocked { cipher });
        Ok(())
    }

    /// Run `f` in one write transaction; commits only if `f` returns `Ok`.
    /// The closure's error type only has to convert from [`StoreError`], so higher layers
    /// (the course engine) can refuse a step with their own errors and roll everything back.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut inner = self.lock_inner();
        let Inner { conn, unlocked } = &mut *inner;
        let cipher = &unlocked.as_ref().ok_or(StoreError::Locked)?.cipher;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let last = load_hlc(&tx, self.identity().device_id)?;
        let mut w = Writer {
            tx,
            cipher,
            identity: self.identity(),
            hlc: HlcClock::resume(last),
            now: self.config.clock.now(),
            today: self.config.clock.today(),
        };
        let out = f(&mut w)?;
        let Writer { tx, hlc, .. } = w;
        if hlc.last() != last {
            meta::set(&tx, meta::key::HLC, &hlc.last().to_string())?;
        }
        tx.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Run `f` with read access to the unlocked store.
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let inner = self.lock_inner();
        let cipher = &inner.unlocked.as_ref().ok_or(StoreError::Locked)?.cipher;
        let tx = inner
            .conn
            .unchecked_transaction()
            .map_err(StoreError::from)?;
        let out = f(&Reader {
            conn: &tx,
            cipher,
            today: self.config.clock.today(),
        })?;
        tx.finish().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Load one live record.
    pub fn get<E: Entity>(&self, id: Uuid) -> Result<Option<E>> {
        self.read(|r| r.get(id))
    }

    /// Load live records.
    pub fn list<E: Entity>(&self, filter: Filter) -> Result<Vec<E>> {
        self.read(|r| r.list(filter))
    }

    /// Add a record (validated) through the write path, in its own transaction.
    pub fn add<E: Entity>(&self, e: &E) -> Result<Operation> {
        self.write(|w| w.create(e))
    }

    /// The caseload: every live client with the state of their latest course.
    pub fn caseload(&self) -> Result<Vec<CaseloadRow>> {
        self.read(|r| caseload::load(r.conn, r.cipher))
    }

    /// Local operations not yet acknowledged by the server (oldest first, at most `limit`).
    pub fn outbox(&self, limit: u32) -> Result<Vec<Operation>> {
        self.read(|r| outbox::pending(r.conn, r.cipher, limit))
    }

    /// Number of operations waiting in the outbox (works while locked).
    pub fn outbox_len(&self) -> Result<u64> {
        outbox::pending_count(&self.lock_inner().conn)
    }

    /// Every stored operation (local and received), in HLC order.
    pub fn operations(&self) -> Result<Vec<Operation>> {
        self.read(|r| outbox::all(r.conn, r.cipher))
    }

    /// Record the server's acknowledgement of local operations.
    pub fn mark_acknowledged(&self, op_ids: &[OpId]) -> Result<usize> {
        let mut inner = self.lock_inner();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = outbox::mark_acknowledged(&tx, op_ids)?;
        tx.commit()?;
        Ok(n)
    }

    /// Remove acknowledged and received operations from the log (the state keeps the clocks).
    pub fn compact(&self) -> Result<usize> {
        let inner = self.lock_inner();
        outbox::compact(&inner.conn)
    }

    /// Fold operations received from the server into the state, each in its own savepoint:
    /// an invalid one is reported and leaves no trace; the others are applied.
    pub fn apply_remote(&self, ops: &[Operation]) -> Result<RemoteApplied> {
        self.sync_transaction(|tx, cipher, clock, now| apply_remote_in(tx, cipher, clock, now, ops))
    }

    /// Apply a whole sync reply atomically: acknowledgements, refusals (to quarantine),
    /// received operations, clients that left the scope, and the new cursor. A crash before
    /// the commit leaves everything as it was, and the same reply can be applied again.
    pub fn apply_sync_reply(&self, reply: &SyncReply<'_>) -> Result<SyncApplied> {
        let identity = self.identity();
        self.sync_transaction(|tx, cipher, clock, now| {
            let acknowledged = outbox::mark_acknowledged(tx, reply.acked)?;
            let quarantined = sync_state::quarantine(tx, reply.rejected)?;
            let remote = apply_remote_in(tx, cipher, clock, now, reply.ops)?;
            for client in reply.removed {
                sync_state::purge_client(tx, *client)?;
                audit::append(
                    tx,
                    &AuditRecord {
                        at: now,
                        actor: identity.worker_id,
                        device: identity.device_id,
                        action: AuditAction::Purge,
                        entity: Some((EntityKind::Client, client.as_uuid())),
                        op_id: None,
                        fields: &[],
                    },
                )?;
            }
            sync_state::set_cursor(tx, reply.cursor)?;
            Ok(SyncApplied {
                acknowledged,
                quarantined,
                remote,
            })
        })
    }

    fn sync_transaction<T>(
        &self,
        f: impl FnOnce(
            &mut rusqlite::Transaction<'_>,
            &FieldCipher,
            &mut HlcClock,
            DateTime<Utc>,
        ) -> Result<T>,
    ) -> Result<T> {
        let device = self.identity().device_id;
        let mut inner = self.lock_inner();
        let Inner { conn, unlocked } = &mut *inner;
        let cipher = &unlocked.as_ref().ok_or(StoreError::Locked)?.cipher;
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last = load_hlc(&tx, device)?;
        let mut clock = HlcClock::resume(last);
        let out = f(&mut tx, cipher, &mut clock, self.config.clock.now())?;
        if clock.last() != last {
            meta::set(&tx, meta::key::HLC, &clock.last().to_string())?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// The next batch of the outbox: at most `max_ops` operations and about `max_bytes` of
    /// JSON (always at least one operation if any is waiting).
    pub fn outbox_batch(&self, max_ops: u32, max_bytes: usize) -> Result<Vec<Operation>> {
        self.read(|r| outbox::pending_bounded(r.conn, r.cipher, max_ops, max_bytes))
    }

    /// The last sync cursor applied.
    pub fn sync_cursor(&self) -> Result<u64> {
        sync_state::cursor(&self.lock_inner().conn)
    }

    /// The enrolment with a sync server, if any.
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        sync_state::enrolment(&self.lock_inner().conn)
    }

    /// The bearer token (needs the store unlocked).
    pub fn sync_token(&self) -> Result<Option<String>> {
        self.read(|r| sync_state::token(r.conn, r.cipher))
    }

    /// Record a successful enrolment: server, worker identity and token (encrypted). From
    /// now on operations are authored by the server's worker id. At the store's *first*
    /// enrolment, unsent work done before it (authored by the store's local worker id) is
    /// re-authored to the enrolled worker in the same transaction; a store enrolled before
    /// keeps its operations' authors (the server refuses another worker's, visibly).
    pub fn set_enrolment(&self, enrolment: &Enrolment, token: &str) -> Result<()> {
        let mut inner = self.lock_inner();
        let Inner { conn, unlocked } = &mut *inner;
        let cipher = &unlocked.as_ref().ok_or(StoreError::Locked)?.cipher;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let first = sync_state::enrolment(&tx)?.is_none();
        let mut identity = self.identity();
        if first {
            outbox::reauthor(&tx, cipher, identity.worker_id, enrolment.worker_id)?;
        }
        sync_state::set_enrolment(&tx, cipher, enrolment, token)?;
        identity.worker_id = enrolment.worker_id;
        audit::append(
            &tx,
            &AuditRecord {
                at: self.config.clock.now(),
                actor: identity.worker_id,
                device: identity.device_id,
                action: AuditAction::Enrol,
                entity: None,
                op_id: None,
                fields: &[],
            },
        )?;
        tx.commit()?;
        *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = identity;
        Ok(())
    }

    /// Operations the server refused.
    pub fn quarantined(&self) -> Result<Vec<QuarantinedOp>> {
        sync_state::quarantined(&self.lock_inner().conn)
    }

    /// Ids of the clients held on this device.
    pub fn client_ids(&self) -> Result<Vec<crate::model::ClientId>> {
        sync_state::client_ids(&self.lock_inner().conn)
    }

    /// Remove all clinical data from this device (it was revoked). Keys stay, so the worker
    /// can still unlock an empty store.
    pub fn wipe(&self) -> Result<()> {
        let identity = self.identity();
        let mut inner = self.lock_inner();
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        sync_state::wipe(&tx)?;
        audit::append(
            &tx,
            &AuditRecord {
                at: self.config.clock.now(),
                actor: identity.worker_id,
                device: identity.device_id,
                action: AuditAction::Wipe,
                entity: None,
                op_id: None,
                fields: &[],
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The most recent audit entries, newest first.
    pub fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        audit::recent(&self.lock_inner().conn, limit)
    }

    /// Run SQLite's integrity check; `Ok(())` when the database is sound.
    pub fn check_integrity(&self) -> Result<()> {
        let inner = self.lock_inner();
        let result: String = inner
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let fk_violations = {
            let mut stmt = inner.conn.prepare("PRAGMA foreign_key_check")?;
            let mut rows = stmt.query([])?;
            rows.next()?.is_some()
        };
        if result == "ok" && !fk_violations {
            Ok(())
        } else {
            Err(StoreError::Corrupt)
        }
    }
}

/// A sync reply, as the store applies it.
#[derive(Clone, Copy, Debug)]
pub struct SyncReply<'a> {
    /// Local operations the server stored.
    pub acked: &'a [OpId],
    /// Local operations the server refused: (id, code, reason).
    pub rejected: &'a [(OpId, String, String)],
    /// Operations received.
    pub ops: &'a [Operation],
    /// Clients that left this device's scope.
    pub removed: &'a [crate::model::ClientId],
    /// The new cursor.
    pub cursor: u64,
}

/// What applying a sync reply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncApplied {
    /// Local operations newly marked acknowledged.
    pub acknowledged: usize,
    /// Local operations moved to quarantine.
    pub quarantined: usize,
    /// Received operations.
    pub remote: RemoteApplied,
}

fn apply_remote_in(
    tx: &mut rusqlite::Transaction<'_>,
    cipher: &FieldCipher,
    clock: &mut HlcClock,
    now: DateTime<Utc>,
    ops: &[Operation],
) -> Result<RemoteApplied> {
    let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    let mut result = RemoteApplied::default();
    for op in ops {
        let sp = tx.savepoint()?;
        let outcome = (|| -> Result<Option<Effect>> {
            apply::validate(op)?;
            if !outbox::insert(&sp, cipher, op, outbox::Origin::Remote)? {
                return Ok(None);
            }
            let effect = apply::apply(&sp, cipher, op)?;
            record_effect(&sp, now, op, AuditAction::ApplyRemote, &effect)?;
            Ok(Some(effect))
        })();
        match outcome {
            Ok(Some(_)) => {
                sp.commit()?;
                clock.observe(&op.hlc, now_ms);
                result.applied += 1;
            }
            Ok(None) => {
                sp.commit()?;
                result.duplicates += 1;
            }
            Err(e) => {
                drop(sp); // rolls back this operation only
                result.rejected.push((op.op_id, e.to_string()));
            }
        }
    }
    Ok(result)
}

fn key_to_store(e: KeyError) -> StoreError {
    match e {
        KeyError::LockedOut => StoreError::LockedOut,
        KeyError::TooSoon { retry_after_ms } => StoreError::TooSoon { retry_after_ms },
        other => StoreError::Key(other),
    }
}

fn load_hlc(conn: &Connection, device: DeviceId) -> Result<Hlc> {
    match meta::get(conn, meta::key::HLC)? {
        Some(s) => s.parse().map_err(|_| StoreError::Corrupt),
        None => Ok(Hlc::zero(device)),
    }
}

fn record_effect(
    conn: &Connection,
    now: DateTime<Utc>,
    op: &Operation,
    action: AuditAction,
    effect: &Effect,
) -> Result<()> {
    let fields: Vec<String> = match effect {
        Effect::Written(f) => f.clone(),
        Effect::Deleted | Effect::Unchanged => Vec::new(),
    };
    if *effect == Effect::Unchanged && action == AuditAction::ApplyRemote {
        return Ok(());
    }
    audit::append(
        conn,
        &AuditRecord {
            at: now,
            actor: op.author,
            device: op.device_id,
            action,
            entity: Some((op.entity, op.entity_id)),
            op_id: Some(op.op_id),
            fields: &fields,
        },
    )
}

/// Read access shared by [`Reader`] and [`Writer`], so higher layers can run the same
/// queries inside a read or a write transaction.
pub trait Records {
    /// Load one live record.
    fn get<E: Entity>(&self, id: Uuid) -> Result<Option<E>>;
    /// Load live records.
    fn list<E: Entity>(&self, filter: Filter) -> Result<Vec<E>>;
    /// Today's clinical date.
    fn today(&self) -> NaiveDate;
}

impl Records for Reader<'_> {
    fn get<E: Entity>(&self, id: Uuid) -> Result<Option<E>> {
        read::get(self.conn, self.cipher, id)
    }
    fn list<E: Entity>(&self, filter: Filter) -> Result<Vec<E>> {
        read::list(self.conn, self.cipher, filter)
    }
    fn today(&self) -> NaiveDate {
        self.today
    }
}

impl Records for Writer<'_> {
    fn get<E: Entity>(&self, id: Uuid) -> Result<Option<E>> {
        read::get(&self.tx, self.cipher, id)
    }
    fn list<E: Entity>(&self, filter: Filter) -> Result<Vec<E>> {
        read::list(&self.tx, self.cipher, filter)
    }
    fn today(&self) -> NaiveDate {
        self.today
    }
}

impl Reader<'_> {
    /// The `extensions` object of a live record, if it has one.
    pub fn extensions(&self, kind: EntityKind, id: Uuid) -> Result<Option<serde_json::Value>> {
        read::extensions(self.conn, self.cipher, kind, id)
    }
}

/// Read access inside [`Store::read`].
pub struct Reader<'a> {
    /// The connection (inside a read transaction).
    pub conn: &'a Connection,
    /// The field cipher.
    pub cipher: &'a FieldCipher,
    /// Today's clinical date.
    pub today: NaiveDate,
}

/// Write access inside [`Store::write`]: every call appends an operation, applies it and
/// audits it, in the enclosing transaction.
pub struct Writer<'a> {
    tx: rusqlite::Transaction<'a>,
    cipher: &'a FieldCipher,
    identity: Identity,
    hlc: HlcClock,
    now: DateTime<Utc>,
    today: NaiveDate,
}

impl Writer<'_> {
    /// The current instant (from the store's clock).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The store's identity.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// Create a record after validating it.
    pub fn create<E: Entity>(&mut self, e: &E) -> Result<Operation> {
        self.create_with_extensions(e, serde_json::Value::Null)
    }

    /// Create a record with its `extensions` (fields a programme's forms collect that the
    /// model has no place for, keyed by source: `{"cht:session": {…}}`; null for none), in
    /// one operation.
    pub fn create_with_extensions<E: Entity>(
        &mut self,
        e: &E,
        extensions: serde_json::Value,
    ) -> Result<Operation> {
        e.check(self.today)?;
        shape::check_extensions(&extensions)?;
        if read::exists(&self.tx, E::KIND, e.id())? {
            return Err(StoreError::InvalidOperation("a record with that id exists"));
        }
        let mut fields = record::to_fields(e)?;
        if !extensions.is_null() {
            fields.insert(spec::EXTENSIONS.to_string(), extensions);
        }
        self.write_op(E::KIND, e.scope(), e.id(), Change::Create { fields })
    }

    /// The `extensions` object of a live record, if it has one.
    pub fn extensions(&self, kind: EntityKind, id: Uuid) -> Result<Option<serde_json::Value>> {
        read::extensions(&self.tx, self.cipher, kind, id)
    }

    /// Change a record: `f` edits a copy, which is validated; only the fields that changed
    /// are written. Returns the new record.
    pub fn update<E: Entity>(
        &mut self,
        id: Uuid,
        f: impl FnOnce(&mut E) -> Result<()>,
    ) -> Result<E> {
        let old: E = self
            .get(id)?
            .ok_or(StoreError::NoSuchRecord { kind: E::KIND })?;
        let mut new = old.clone();
        f(&mut new)?;
        if new.id() != old.id() || new.scope() != old.scope() {
            return Err(StoreError::InvalidOperation(
                "the id and client of a record cannot change",
            ));
        }
        // An edit must not make the record invalid. A rule the record already broke before
        // the edit (e.g. a date "in the future" written by a device whose clock is ahead) does
        // not block an unrelated edit.
        if let Err(e) = new.check(self.today) {
            if old.check(self.today).err().as_ref() != Some(&e) {
                return Err(e.into());
            }
        }
        let before = record::to_fields(&old)?;
        let fields: FieldMap = record::to_fields(&new)?
            .into_iter()
            .filter(|(k, v)| before.get(k) != Some(v))
            .collect();
        if !fields.is_empty() {
            self.write_op(E::KIND, new.scope(), id, Change::Update { fields })?;
        }
        Ok(new)
    }

    /// Tombstone a record.
    pub fn delete<E: Entity>(&mut self, id: Uuid) -> Result<()> {
        let old: E = self
            .get(id)?
            .ok_or(StoreError::NoSuchRecord { kind: E::KIND })?;
        self.write_op(E::KIND, old.scope(), id, Change::Delete)?;
        Ok(())
    }

    fn write_op(
        &mut self,
        entity: EntityKind,
        scope: crate::model::ClientId,
        entity_id: Uuid,
        change: Change,
    ) -> Result<Operation> {
        let now_ms = u64::try_from(self.now.timestamp_millis()).unwrap_or(0);
        let hlc = self.hlc.tick(now_ms);
        let op = Operation {
            op_id: crate::sync::op::op_id_for(&hlc),
            hlc,
            device_id: self.identity.device_id,
            author: self.identity.worker_id,
            scope,
            entity,
            entity_id,
            change,
        };
        let action = match op.change {
            Change::Create { .. } => AuditAction::Create,
            Change::Update { .. } => AuditAction::Update,
            Change::Delete => AuditAction::Delete,
        };
        // One savepoint per operation: if applying it fails, neither the operation nor any
        // part of its effect stays in the transaction, even if the caller goes on and commits.
        let cipher = self.cipher;
        let now = self.now;
        let sp = self.tx.savepoint()?;
        apply::validate(&op)?;
        outbox::insert(&sp, cipher, &op, outbox::Origin::Local)?;
        let effect = apply::apply(&sp, cipher, &op)?;
        record_effect(&sp, now, &op, action, &effect)?;
        sp.commit()?;
        Ok(op)
    }
}
