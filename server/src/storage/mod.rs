//! Storage behind one trait, with two backends that pass one conformance suite: SQLite (the
//! embedded default: one file) and PostgreSQL (a programme's server).
//!
//! The trait speaks in whole use cases (enrol a device, sync a batch, reassign a client), each
//! one database transaction. The rules that decide what a push may store and what a pull
//! returns live once, in [`crate::rules`]; a backend only loads what the rules need and writes
//! what they decide. Secrets never reach storage in clear: codes and tokens arrive hashed.

mod pg_push;
pub mod postgres;
pub mod sqlite;

use std::future::Future;

use ipc_core::model::{ClientId, DeviceId, Role, WorkerId};
use ipc_core::sync::wire::{SyncRequest, SyncResponse};
use serde::Serialize;

use crate::error::{Result, ServerError};

pub use postgres::PgStorage;
pub use sqlite::SqliteStorage;

/// The organisation created at first open; the admin commands work on it.
pub const DEFAULT_ORG: &str = "default";

/// SHA-256 of a secret (enrolment code or device token).
pub type SecretHash = [u8; 32];

/// A worker (CHW, supervisor or admin) as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Worker {
    /// Identity.
    pub id: WorkerId,
    /// Organisation.
    pub org: String,
    /// Name shown to admins (staff data; never logged).
    pub display_name: String,
    /// Team (supervisors see their team's clients).
    pub team: String,
    /// What they may do.
    pub role: Role,
    /// When added (Unix ms, server clock).
    pub created_at_ms: i64,
}

/// An authenticated device and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceAuth {
    /// The device.
    pub device: DeviceId,
    /// Its organisation.
    pub org: String,
    /// The worker it belongs to.
    pub worker: WorkerId,
    /// The worker's role.
    pub role: Role,
    /// The worker's team.
    pub team: String,
    /// The device was revoked: it may push its last work, then must wipe.
    pub revoked: bool,
    /// SHA-256 of its current token (compared in constant time by [`crate::auth`]).
    pub token_hash: SecretHash,
}

/// A device as listed for admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// The device.
    pub id: DeviceId,
    /// Its worker.
    pub worker: WorkerId,
    /// Enrolled at (Unix ms; the first enrolment).
    pub created_at_ms: i64,
    /// Last sync (Unix ms, to the minute), if any since the last enrolment.
    pub last_seen_at_ms: Option<i64>,
    /// Revoked at (Unix ms), if revoked.
    pub revoked_at_ms: Option<i64>,
}

/// A new one-time enrolment code (hashed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCode {
    /// SHA-256 of the normalised code.
    pub code_hash: SecretHash,
    /// The worker the code enrols a device for.
    pub worker: WorkerId,
    /// Who issued it (`None`: the server's admin command line).
    pub issuer: Option<WorkerId>,
    /// Issued at (Unix ms).
    pub created_at_ms: i64,
    /// Expires at (Unix ms).
    pub expires_at_ms: i64,
}

/// What redeeming an enrolment code gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// The device is enrolled (or re-enrolled with a new token).
    Enrolled(DeviceAuth),
    /// No such code.
    Invalid,
    /// The code expired.
    Expired,
    /// The code was used already.
    Used,
    /// The device is enrolled for another worker; the code was not used.
    DeviceTaken,
}

/// Counts for one organisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Operations stored.
    pub ops: u64,
    /// Devices enrolled and not revoked.
    pub devices: u64,
    /// Workers of every role.
    pub workers: u64,
    /// Clients known.
    pub clients: u64,
}

/// The operations the server needs from a database. Every method is one transaction.
pub trait Storage: Clone + Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Check the database answers (for the health endpoint).
    fn ping(&self) -> impl Future<Output = Result<()>> + Send;

    /// Add a worker to an organisation.
    fn add_worker(
        &self,
        org: &str,
        display_name: &str,
        team: &str,
        role: Role,
        now_ms: i64,
    ) -> impl Future<Output = Result<WorkerId>> + Send;

    /// A worker by id.
    fn worker(&self, id: WorkerId) -> impl Future<Output = Result<Option<Worker>>> + Send;

    /// The workers of an organisation, by team then name.
    fn workers(&self, org: &str) -> impl Future<Output = Result<Vec<Worker>>> + Send;

    /// Store a new enrolment code (its hash).
    fn insert_code(&self, code: &NewCode) -> impl Future<Output = Result<()>> + Send;

    /// Redeem a code for `device` with a new token hash, atomically: a code is used once.
    fn redeem_code(
        &self,
        code_hash: &SecretHash,
        device: DeviceId,
        token_hash: &SecretHash,
        now_ms: i64,
    ) -> impl Future<Output = Result<Redeemed>> + Send;

    /// The device holding this token hash, if any.
    fn device_by_token(
        &self,
        token_hash: &SecretHash,
    ) -> impl Future<Output = Result<Option<DeviceAuth>>> + Send;

    /// One sync round trip for an authenticated device: push its batch, then pull what it
    /// may see (nothing, and `wipe`, for a revoked device). `pull_limit` is already capped.
    fn sync(
        &self,
        device: &DeviceAuth,
        request: SyncRequest,
        now_ms: i64,
    ) -> impl Future<Output = Result<SyncResponse>> + Send;

    /// Assign a client to a worker (creating it if unknown): the new worker's devices get
    /// its whole history, the old worker's devices remove it, and the old worker's later
    /// edits are refused `client_reassigned`.
    fn assign(
        &self,
        client: ClientId,
        worker: WorkerId,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The devices of an organisation, by worker then enrolment time.
    fn devices(&self, org: &str) -> impl Future<Output = Result<Vec<DeviceInfo>>> + Send;

    /// Revoke a device (idempotent). Errors if the device is unknown.
    fn revoke(&self, device: DeviceId, now_ms: i64) -> impl Future<Output = Result<()>> + Send;

    /// Counts for an organisation.
    fn stats(&self, org: &str) -> impl Future<Output = Result<Stats>> + Send;
}

/// Either backend, chosen at run time from a URL (see [`open_storage`]).
#[derive(Clone)]
pub enum AnyStorage {
    /// Embedded SQLite file.
    Sqlite(SqliteStorage),
    /// PostgreSQL server.
    Postgres(PgStorage),
}

impl std::fmt::Debug for AnyStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyStorage({})", self.backend())
    }
}

/// Open the storage named by `url`, creating or migrating its schema:
/// `sqlite:PATH`, `sqlite://PATH` or a bare path for SQLite; `postgres://…` or
/// `postgresql://…` for PostgreSQL.
pub async fn open_storage(url: &str) -> Result<AnyStorage> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(AnyStorage::Postgres(PgStorage::connect(url).await?));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite:") {
        rest.strip_prefix("//").unwrap_or(rest)
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(ServerError::BadStorageUrl(format!("scheme `{scheme}`")));
    } else {
        url
    };
    if path.is_empty() {
        return Err(ServerError::BadStorageUrl("empty path".into()));
    }
    let path = std::path::PathBuf::from(path);
    let storage = tokio::task::spawn_blocking(move || SqliteStorage::open(&path))
        .await
        .map_err(|_| ServerError::Task)??;
    Ok(AnyStorage::Sqlite(storage))
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStorage::Sqlite($s) => $call.await,
            AnyStorage::Postgres($s) => $call.await,
        }
    };
}

impl Storage for AnyStorage {
    fn backend(&self) -> &'static str {
        match self {
            AnyStorage::Sqlite(s) => s.backend(),
            AnyStorage::Postgres(s) => s.backend(),
        }
    }

    async fn ping(&self) -> Result<()> {
        delegate!(self, s => s.ping())
    }

    async fn add_worker(
        &self,
        org: &str,
        display_name: &str,
        team: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<WorkerId> {
        delegate!(self, s => s.add_worker(org, display_name, team, role, now_ms))
    }

    async fn worker(&self, id: WorkerId) -> Result<Option<Worker>> {
        delegate!(self, s => s.worker(id))
    }

    async fn workers(&self, org: &str) -> Result<Vec<Worker>> {
        delegate!(self, s => s.workers(org))
    }

    async fn insert_code(&self, code: &NewCode) -> Result<()> {
        delegate!(self, s => s.insert_code(code))
    }

    async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        device: DeviceId,
        token_hash: &SecretHash,
        now_ms: i64,
    ) -> Result<Redeemed> {
        delegate!(self, s => s.redeem_code(code_hash, device, token_hash, now_ms))
    }

    async fn device_by_token(&self, token_hash: &SecretHash) -> Result<Option<DeviceAuth>> {
        delegate!(self, s => s.device_by_token(token_hash))
    }

    async fn sync(
        &self,
        device: &DeviceAuth,
        request: SyncRequest,
        now_ms: i64,
    ) -> Result<SyncResponse> {
        delegate!(self, s => s.sync(device, request, now_ms))
    }

    async fn assign(&self, client: ClientId, worker: WorkerId, now_ms: i64) -> Result<()> {
        delegate!(self, s => s.assign(client, worker, now_ms))
    }

    async fn devices(&self, org: &str) -> Result<Vec<DeviceInfo>> {
        delegate!(self, s => s.devices(org))
    }

    async fn revoke(&self, device: DeviceId, now_ms: i64) -> Result<()> {
        delegate!(self, s => s.revoke(device, now_ms))
    }

    async fn stats(&self, org: &str) -> Result<Stats> {
        delegate!(self, s => s.stats(org))
    }
}

/// The current time in Unix milliseconds (server clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
