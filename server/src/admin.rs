//! Administration of an organisation (used by `ipc admin …` and tests): workers, enrolment
//! codes, client assignment, device revocation and counts. Works on the default organisation.

use std::time::Duration;

use ipc_core::model::{ClientId, DeviceId, Role, WorkerId};

use crate::auth;
use crate::error::{Result, ServerError};
use crate::storage::{now_ms, DeviceInfo, NewCode, Stats, Storage, Worker, DEFAULT_ORG};

/// How long an enrolment code is valid unless told otherwise.
pub const DEFAULT_CODE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Longest validity of an enrolment code.
pub const MAX_CODE_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

const NAME_MAX: usize = 200;
const TEAM_MAX: usize = 100;

fn single_line(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Add a worker (CHW, supervisor or admin) to the organisation.
pub async fn add_worker<S: Storage>(
    storage: &S,
    display_name: &str,
    team: &str,
    role: Role,
) -> Result<WorkerId> {
    if !single_line(display_name, NAME_MAX) {
        return Err(ServerError::Invalid(
            "the name must be one line of 1 to 200 characters",
        ));
    }
    if !single_line(team, TEAM_MAX) {
        return Err(ServerError::Invalid(
            "the team must be one line of 1 to 100 characters",
        ));
    }
    storage
        .add_worker(
            DEFAULT_ORG,
            display_name.trim(),
            team.trim(),
            role,
            now_ms(),
        )
        .await
}

/// The organisation's workers.
pub async fn workers<S: Storage>(storage: &S) -> Result<Vec<Worker>> {
    storage.workers(DEFAULT_ORG).await
}

/// Issue a one-time enrolment code for `worker`, valid for `ttl` (from the server's command
/// line, which acts as an admin). Returns the code as shown to the user, `XXXX-XXXX-XXXX`.
pub async fn enrol_code<S: Storage>(
    storage: &S,
    worker: WorkerId,
    ttl: Duration,
) -> Result<String> {
    enrol_code_by(storage, None, worker, ttl, now_ms()).await
}

/// Issue a code on behalf of `issuer` (`None`: the server's command line) at `now_ms`. An
/// admin may enrol anyone of their organisation; a supervisor, workers of their own team
/// (and themselves); nobody else may.
pub async fn enrol_code_by<S: Storage>(
    storage: &S,
    issuer: Option<WorkerId>,
    worker: WorkerId,
    ttl: Duration,
    now_ms: i64,
) -> Result<String> {
    if ttl.is_zero() || ttl > MAX_CODE_TTL {
        return Err(ServerError::Invalid(
            "an enrolment code must be valid for more than 0 seconds and at most 30 days",
        ));
    }
    let target = storage
        .worker(worker)
        .await?
        .ok_or(ServerError::UnknownWorker(worker))?;
    if let Some(issuer_id) = issuer {
        let issuer = storage
            .worker(issuer_id)
            .await?
            .ok_or(ServerError::UnknownWorker(issuer_id))?;
        let allowed = issuer.org == target.org
            && match issuer.role {
                Role::Admin => true,
                Role::Supervisor => {
                    issuer.id == target.id
                        || (target.role == Role::Worker && issuer.team == target.team)
                }
                Role::Worker => false,
            };
        if !allowed {
            return Err(ServerError::NotAllowed(
                "only an admin, or the supervisor of the worker's team, may issue an enrolment code",
            ));
        }
    }
    let (shown, code_hash) = auth::new_code()?;
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    storage
        .insert_code(&NewCode {
            code_hash,
            worker,
            issuer,
            created_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl_ms),
        })
        .await?;
    tracing::info!(worker = %worker, "enrolment code issued");
    Ok(shown)
}

/// Assign a client to a worker (see [`Storage::assign`]).
pub async fn assign<S: Storage>(storage: &S, client: ClientId, worker: WorkerId) -> Result<()> {
    storage.assign(client, worker, now_ms()).await?;
    tracing::info!(client = %client, worker = %worker, "client assigned");
    Ok(())
}

/// The organisation's devices (to find the one to revoke).
pub async fn devices<S: Storage>(storage: &S) -> Result<Vec<DeviceInfo>> {
    storage.devices(DEFAULT_ORG).await
}

/// Revoke a device: its next push is accepted and answered `wipe`; then it is refused.
pub async fn revoke<S: Storage>(storage: &S, device: DeviceId) -> Result<()> {
    storage.revoke(device, now_ms()).await?;
    tracing::info!(device = %device, "device revoked");
    Ok(())
}

/// Counts for the organisation.
pub async fn stats<S: Storage>(storage: &S) -> Result<Stats> {
    storage.stats(DEFAULT_ORG).await
}
