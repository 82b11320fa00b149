//! The PostgreSQL backend (tokio-postgres with a deadpool connection pool; pushes go to the
//! group committer, `pg_push.rs`, which has a connection of its own).
//!
//! Concurrency: a push locks its organisation's row (`SELECT … FOR UPDATE`) before reading
//! anything, so sequence numbers are handed out — and committed — in order (pushes waiting at
//! the same time share one transaction: group commit, `pg_push.rs`); a pull then reads
//! in its own REPEATABLE READ snapshot, which therefore always holds a gap-free prefix of the
//! sequence, and the cursor can jump to the snapshot's head without skipping a later commit.
//! Migrations run at connect time in one transaction under an advisory lock, so several
//! server replicas starting together migrate once.

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use ipc_core::model::{ClientId, DeviceId, Role, WorkerId};
use ipc_core::sync::wire::{SyncRequest, SyncResponse};
use tokio_postgres::{IsolationLevel, NoTls, Row};
use uuid::Uuid;

use crate::error::{Result, ServerError};
use crate::rules::{self, FeedKind, FeedRow};
use crate::storage::pg_push::{Committer, Push};
use crate::storage::{
    DeviceAuth, DeviceInfo, NewCode, Redeemed, SecretHash, Stats, Storage, Worker, DEFAULT_ORG,
};

/// Newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

/// Connections kept by the pool.
const POOL_SIZE: usize = 32;

/// Key of the advisory lock taken while migrating.
const MIGRATION_LOCK: i64 = 0x0069_7063_5f6b_6974;

/// Migration steps: step `i` brings the schema from version `i` to `i + 1` (public so that
/// tests can build an older schema and migrate it).
pub const STEPS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        next_seq BIGINT NOT NULL CHECK (next_seq >= 1),
        created_at BIGINT NOT NULL
    );
    CREATE TABLE workers (
        id UUID PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        display_name TEXT NOT NULL,
        team TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'admin')),
        created_at BIGINT NOT NULL
    );
    CREATE TABLE devices (
        id UUID PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        worker_id UUID NOT NULL REFERENCES workers(id),
        token_hash BYTEA NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT,
        last_seen_at BIGINT
    );
    CREATE TABLE enrol_codes (
        code_hash BYTEA PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        worker_id UUID NOT NULL REFERENCES workers(id),
        created_by UUID,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT,
        used_by_device UUID
    );
    CREATE TABLE clients (
        id UUID PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        worker_id UUID NOT NULL REFERENCES workers(id),
        team TEXT NOT NULL,
        assigned_at_seq BIGINT NOT NULL,
        team_since_seq BIGINT NOT NULL
    );
    CREATE INDEX clients_by_worker ON clients (org, worker_id);
    CREATE INDEX clients_by_team ON clients (org, team);
    CREATE TABLE client_history (
        client_id UUID NOT NULL REFERENCES clients(id),
        worker_id UUID NOT NULL REFERENCES workers(id),
        first_assigned_at BIGINT NOT NULL,
        PRIMARY KEY (client_id, worker_id)
    );
    CREATE TABLE ops (
        op_id UUID PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        seq BIGINT NOT NULL,
        client_id UUID NOT NULL REFERENCES clients(id),
        device_id UUID NOT NULL,
        author UUID NOT NULL,
        entity_kind TEXT NOT NULL,
        entity_id UUID NOT NULL,
        hlc TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        UNIQUE (org, seq)
    );
    CREATE INDEX ops_by_client ON ops (client_id, seq);
    CREATE TABLE feed (
        org TEXT NOT NULL REFERENCES orgs(id),
        seq BIGINT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('op', 'replay', 'removed')),
        client_id UUID NOT NULL,
        op_id UUID REFERENCES ops(op_id),
        audience_worker UUID,
        audience_team TEXT,
        PRIMARY KEY (org, seq)
    );
    CREATE INDEX feed_by_client ON feed (client_id, seq);",
    // 2: pulls driven by the device's own clients and by the audience of replays/removals,
    // instead of a scan of the organisation's feed (see PULL_SQL).
    "CREATE INDEX feed_audience_worker ON feed (audience_worker, seq) WHERE kind <> 'op';
    CREATE INDEX feed_audience_team ON feed (org, audience_team, seq) WHERE kind <> 'op';",
    // 3: an operation's place in the sequence is its own row (`ops.seq`): the feed keeps only
    // replays and removals, so a push writes one row and three index entries per operation
    // instead of two rows and five.
    "DELETE FROM feed WHERE kind = 'op';
    ALTER TABLE feed DROP CONSTRAINT feed_kind_check;
    ALTER TABLE feed ADD CONSTRAINT feed_kind_check CHECK (kind IN ('replay', 'removed'));
    DROP INDEX feed_by_client;",
    // 4: the push rules check every operation's client and organisation under the
    // organisation's lock, in the same transaction that inserts a new client
    // (`rules::plan_checked`, the group committer); the two foreign keys of `ops` repeated that
    // check row by row, each with a KEY SHARE lock on the referenced row. Without them the
    // committer ingests ~25 % more operations per second (docs/benchmarks.md, 2026-12-07).
    "ALTER TABLE ops DROP CONSTRAINT IF EXISTS ops_org_fkey;
    ALTER TABLE ops DROP CONSTRAINT IF EXISTS ops_client_id_fkey;",
];

/// PostgreSQL storage over a connection pool.
#[derive(Clone)]
pub struct PgStorage {
    pool: Pool,
    /// Stores pushes, several to a transaction (group commit).
    committer: Committer,
}

impl std::fmt::Debug for PgStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgStorage")
    }
}

fn role_of(s: &str) -> Result<Role> {
    Role::parse(s).map_err(|_| ServerError::Corrupt("worker role"))
}

fn hash_of(bytes: &[u8]) -> Result<SecretHash> {
    SecretHash::try_from(bytes).map_err(|_| ServerError::Corrupt("token hash"))
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

async fn migrate(client: &mut Object, now_ms: i64) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await?;
    let current: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0)::BIGINT FROM schema_version",
            &[],
        )
        .await?
        .try_get(0)?;
    if current > SCHEMA_VERSION {
        return Err(ServerError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, step) in (1i64..).zip(STEPS) {
        if version > current {
            tx.batch_execute(step).await?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
    }
    tx.execute(
        "INSERT INTO orgs (id, name, next_seq, created_at) VALUES ($1, $2, 1, $3)
         ON CONFLICT (id) DO NOTHING",
        &[&DEFAULT_ORG, &"Default organisation", &now_ms],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

impl PgStorage {
    /// Connect to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB`) and bring the schema up
    /// to date.
    pub async fn connect(url: &str) -> Result<PgStorage> {
        // The URL may hold a password: the error never repeats it.
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| ServerError::BadStorageUrl("malformed PostgreSQL URL".into()))?;
        PgStorage::from_config(config).await
    }

    /// Connect with a parsed configuration and bring the schema up to date.
    pub async fn from_config(config: tokio_postgres::Config) -> Result<PgStorage> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| ServerError::Pool(e.to_string()))?;
        let mut client = pool.get().await?;
        migrate(&mut client, crate::storage::now_ms()).await?;
        drop(client);
        let committer = Committer::start(config)?;
        Ok(PgStorage { pool, committer })
    }

    /// Close every pooled connection, and the committer's once the pushes queued are stored
    /// (e.g. before dropping the database in tests).
    pub fn close(&self) {
        self.pool.close();
        self.committer.disconnect();
    }
}

fn worker_row(row: &Row) -> Result<Worker> {
    Ok(Worker {
        id: WorkerId::from_uuid(row.try_get(0)?),
        org: row.try_get(1)?,
        display_name: row.try_get(2)?,
        team: row.try_get(3)?,
        role: role_of(row.try_get(4)?)?,
        created_at_ms: row.try_get(5)?,
    })
}

const WORKER_COLS: &str = "id, org, display_name, team, role, created_at";

const DEVICE_AUTH_SQL: &str =
    "SELECT d.id, d.org, d.worker_id, w.role, w.team, d.revoked_at, d.token_hash
     FROM devices d JOIN workers w ON w.id = d.worker_id";

fn device_auth_row(row: &Row) -> Result<DeviceAuth> {
    Ok(DeviceAuth {
        device: DeviceId::from_uuid(row.try_get(0)?),
        org: row.try_get(1)?,
        worker: WorkerId::from_uuid(row.try_get(2)?),
        role: role_of(row.try_get(3)?)?,
        team: row.try_get(4)?,
        revoked: row.try_get::<_, Option<i64>>(5)?.is_some(),
        token_hash: hash_of(row.try_get(6)?)?,
    })
}

/// Record when the device was last seen (at most once a minute, to spare writes).
const TOUCH_SQL: &str = "UPDATE devices SET last_seen_at = $2::BIGINT
     WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2::BIGINT - 60000)";

/// The rows a device may see after its cursor. Each branch starts from an index on what the
/// device owns — its worker's clients, its team's clients, the replays and removals addressed
/// to it — so the cost follows the device's scope, not the size of the organisation's feed.
/// Each branch is cut to the page size before the union (the page's rows are among them).
/// Operations are read from `ops` itself (`ops_by_client (client_id, seq)`); the feed holds
/// only replays and removals (the partial indexes' `kind <> 'op'` is always true there, and
/// is repeated so that the planner may use them).
const PULL_SQL: &str = "SELECT seq, kind, client_id, body FROM (
    (SELECT o.seq, 'op' AS kind, o.client_id, o.body
       FROM clients c
       JOIN ops o ON o.client_id = c.id AND o.seq > GREATEST($2, c.assigned_at_seq)
      WHERE c.org = $1 AND c.worker_id = $4 AND o.device_id <> $3
      ORDER BY o.seq LIMIT $7)
    UNION ALL
    (SELECT o.seq, 'op' AS kind, o.client_id, o.body
       FROM clients c
       JOIN ops o ON o.client_id = c.id AND o.seq > GREATEST($2, c.team_since_seq)
      WHERE $5 AND c.org = $1 AND c.team = $6 AND c.worker_id <> $4 AND o.device_id <> $3
      ORDER BY o.seq LIMIT $7)
    UNION ALL
    (SELECT f.seq, f.kind, f.client_id, o.body
       FROM feed f LEFT JOIN ops o ON o.op_id = f.op_id
      WHERE f.kind <> 'op' AND f.audience_worker = $4 AND f.seq > $2
      ORDER BY f.seq LIMIT $7)
    UNION ALL
    (SELECT f.seq, f.kind, f.client_id, o.body
       FROM feed f LEFT JOIN ops o ON o.op_id = f.op_id
      WHERE $5 AND f.kind <> 'op' AND f.org = $1 AND f.audience_team = $6 AND f.seq > $2
        AND f.audience_worker IS DISTINCT FROM $4
      ORDER BY f.seq LIMIT $7)
) page ORDER BY seq LIMIT $7";

async fn pull(
    client: &mut Object,
    device: &DeviceAuth,
    cursor: u64,
    limit: u32,
) -> Result<rules::Page> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let head: i64 = tx
        .query_one(
            "SELECT next_seq - 1 FROM orgs WHERE id = $1",
            &[&device.org],
        )
        .await?
        .try_get(0)?;
    let from = rules::start_cursor(cursor, head);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let is_supervisor = device.role == Role::Supervisor;
    let stmt = tx.prepare_cached(PULL_SQL).await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &device.org,
                &from,
                &device.device.as_uuid(),
                &device.worker.as_uuid(),
                &is_supervisor,
                &device.team,
                &fetch,
            ],
        )
        .await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: &str = row.try_get(1)?;
        out.push(FeedRow {
            seq: row.try_get(0)?,
            kind: FeedKind::parse(kind).ok_or(ServerError::Corrupt("feed kind"))?,
            client: ClientId::from_uuid(row.try_get(2)?),
            body: row.try_get(3)?,
        });
    }
    Ok(rules::assemble_pull(out, limit, head, from))
}

impl Storage for PgStorage {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        let client = self.pool.get().await?;
        client.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn add_worker(
        &self,
        org: &str,
        display_name: &str,
        team: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<WorkerId> {
        let client = self.pool.get().await?;
        let id = WorkerId::new();
        client
            .execute(
                "INSERT INTO workers (id, org, display_name, team, role, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &id.as_uuid(),
                    &org,
                    &display_name,
                    &team,
                    &role.as_str(),
                    &now_ms,
                ],
            )
            .await?;
        Ok(id)
    }

    async fn worker(&self, id: WorkerId) -> Result<Option<Worker>> {
        let client = self.pool.get().await?;
        client
            .query_opt(
                &format!("SELECT {WORKER_COLS} FROM workers WHERE id = $1"),
                &[&id.as_uuid()],
            )
            .await?
            .as_ref()
            .map(worker_row)
            .transpose()
    }

    async fn workers(&self, org: &str) -> Result<Vec<Worker>> {
        let client = self.pool.get().await?;
        client
            .query(
                &format!(
                    "SELECT {WORKER_COLS} FROM workers WHERE org = $1 ORDER BY team, display_name, id"
                ),
                &[&org],
            )
            .await?
            .iter()
            .map(worker_row)
            .collect()
    }

    async fn insert_code(&self, code: &NewCode) -> Result<()> {
        let client = self.pool.get().await?;
        let org: String = client
            .query_opt(
                "SELECT org FROM workers WHERE id = $1",
                &[&code.worker.as_uuid()],
            )
            .await?
            .ok_or(ServerError::UnknownWorker(code.worker))?
            .try_get(0)?;
        client
            .execute(
                "INSERT INTO enrol_codes (code_hash, org, worker_id, created_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &code.code_hash.as_slice(),
                    &org,
                    &code.worker.as_uuid(),
                    &code.issuer.map(|w| w.as_uuid()),
                    &code.created_at_ms,
                    &code.expires_at_ms,
                ],
            )
            .await?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        device: DeviceId,
        token_hash: &SecretHash,
        now_ms: i64,
    ) -> Result<Redeemed> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT org, worker_id, expires_at, used_at FROM enrol_codes
                 WHERE code_hash = $1 FOR UPDATE",
                &[&code_hash.as_slice()],
            )
            .await?
        else {
            return Ok(Redeemed::Invalid);
        };
        let org: String = row.try_get(0)?;
        let worker: Uuid = row.try_get(1)?;
        let expires_at: i64 = row.try_get(2)?;
        let used_at: Option<i64> = row.try_get(3)?;
        if used_at.is_some() {
            return Ok(Redeemed::Used);
        }
        if expires_at <= now_ms {
            return Ok(Redeemed::Expired);
        }
        let dev = device.as_uuid();
        let n = tx
            .execute(
                "UPDATE enrol_codes SET used_at = $2, used_by_device = $3
                 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2",
                &[&code_hash.as_slice(), &now_ms, &dev],
            )
            .await?;
        if n != 1 {
            return Ok(Redeemed::Used);
        }
        // A device enrolled for another worker keeps its owner: the update matches nothing
        // and the transaction is dropped, so the code stays unused.
        let n = tx
            .execute(
                "INSERT INTO devices (id, org, worker_id, token_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash,
                     revoked_at = NULL, last_seen_at = NULL
                 WHERE devices.worker_id = excluded.worker_id",
                &[&dev, &org, &worker, &token_hash.as_slice(), &now_ms],
            )
            .await?;
        if n != 1 {
            return Ok(Redeemed::DeviceTaken);
        }
        let row = tx
            .query_one(&format!("{DEVICE_AUTH_SQL} WHERE d.id = $1"), &[&dev])
            .await?;
        let auth = device_auth_row(&row)?;
        tx.commit().await?;
        Ok(Redeemed::Enrolled(auth))
    }

    async fn device_by_token(&self, token_hash: &SecretHash) -> Result<Option<DeviceAuth>> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(&format!("{DEVICE_AUTH_SQL} WHERE d.token_hash = $1"))
            .await?;
        client
            .query_opt(&stmt, &[&token_hash.as_slice()])
            .await?
            .as_ref()
            .map(device_auth_row)
            .transpose()
    }

    async fn sync(
        &self,
        device: &DeviceAuth,
        request: SyncRequest,
        now_ms: i64,
    ) -> Result<SyncResponse> {
        // The push goes to the committer, which has its own connection; no pooled
        // connection is held while it waits.
        let (acked, rejected) = if request.ops.is_empty() {
            self.pool
                .get()
                .await?
                .execute(TOUCH_SQL, &[&device.device.as_uuid(), &now_ms])
                .await?;
            (Vec::new(), Vec::new())
        } else {
            self.committer
                .push(Push {
                    device: device.clone(),
                    ops: request.ops,
                    now_ms,
                })
                .await?
        };
        let page = if device.revoked {
            None
        } else {
            let mut client = self.pool.get().await?;
            Some(pull(&mut client, device, request.cursor, request.pull_limit).await?)
        };
        Ok(rules::response(
            acked,
            rejected,
            page,
            request.cursor,
            request.pull_format,
            now_ms,
        ))
    }

    async fn assign(&self, client_id: ClientId, worker: WorkerId, now_ms: i64) -> Result<()> {
        let mut client = self.pool.get().await?;
        let target = self
            .worker(worker)
            .await?
            .ok_or(ServerError::UnknownWorker(worker))?;
        if target.role != Role::Worker {
            return Err(ServerError::NotAWorker(target.role));
        }
        let tx = client.transaction().await?;
        let seq: i64 = tx
            .query_one(
                "SELECT next_seq FROM orgs WHERE id = $1 FOR UPDATE",
                &[&target.org],
            )
            .await?
            .try_get(0)?;
        let id = client_id.as_uuid();
        let new = worker.as_uuid();
        let current = tx
            .query_opt(
                "SELECT org, worker_id, team, team_since_seq FROM clients WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?;
        let history = "INSERT INTO client_history (client_id, worker_id, first_assigned_at)
                       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        let Some(row) = current else {
            tx.execute(
                "INSERT INTO clients (id, org, worker_id, team, assigned_at_seq, team_since_seq)
                 VALUES ($1, $2, $3, $4, $5, $5)",
                &[&id, &target.org, &new, &target.team, &(seq - 1)],
            )
            .await?;
            tx.execute(history, &[&id, &new, &now_ms]).await?;
            tx.commit().await?;
            return Ok(());
        };
        let org: String = row.try_get(0)?;
        let old_worker: Uuid = row.try_get(1)?;
        let old_team: String = row.try_get(2)?;
        let team_since: i64 = row.try_get(3)?;
        if org != target.org {
            return Err(ServerError::ForeignClient(client_id));
        }
        if old_worker == new {
            return Ok(());
        }
        let team_changed = old_team != target.team;
        let removed_seq = seq;
        tx.execute(
            "INSERT INTO feed (org, seq, kind, client_id, audience_worker, audience_team)
             VALUES ($1, $2, 'removed', $3, $4, $5)",
            &[
                &org,
                &removed_seq,
                &id,
                &old_worker,
                &team_changed.then_some(old_team.as_str()),
            ],
        )
        .await?;
        let replayed = tx
            .execute(
                "INSERT INTO feed (org, seq, kind, client_id, op_id, audience_worker, audience_team)
                 SELECT $1, $2 + row_number() OVER (ORDER BY o.seq), 'replay', $3, o.op_id, $4, $5
                 FROM ops o WHERE o.client_id = $3",
                &[
                    &org,
                    &removed_seq,
                    &id,
                    &new,
                    &team_changed.then_some(target.team.as_str()),
                ],
            )
            .await?;
        let next = removed_seq + 1 + i64::try_from(replayed).unwrap_or(i64::MAX);
        tx.execute(
            "UPDATE clients SET worker_id = $2, team = $3, assigned_at_seq = $4,
                                team_since_seq = $5
             WHERE id = $1",
            &[
                &id,
                &new,
                &target.team,
                &removed_seq,
                &if team_changed {
                    removed_seq
                } else {
                    team_since
                },
            ],
        )
        .await?;
        tx.execute(history, &[&id, &new, &now_ms]).await?;
        tx.execute(
            "UPDATE orgs SET next_seq = $2 WHERE id = $1",
            &[&org, &next],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn devices(&self, org: &str) -> Result<Vec<DeviceInfo>> {
        let client = self.pool.get().await?;
        client
            .query(
                "SELECT id, worker_id, created_at, last_seen_at, revoked_at FROM devices
                 WHERE org = $1 ORDER BY worker_id, created_at, id",
                &[&org],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(DeviceInfo {
                    id: DeviceId::from_uuid(r.try_get(0)?),
                    worker: WorkerId::from_uuid(r.try_get(1)?),
                    created_at_ms: r.try_get(2)?,
                    last_seen_at_ms: r.try_get(3)?,
                    revoked_at_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    async fn revoke(&self, device: DeviceId, now_ms: i64) -> Result<()> {
        let client = self.pool.get().await?;
        let id = device.as_uuid();
        if client
            .query_opt("SELECT 1 FROM devices WHERE id = $1", &[&id])
            .await?
            .is_none()
        {
            return Err(ServerError::UnknownDevice(device));
        }
        client
            .execute(
                "UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now_ms],
            )
            .await?;
        Ok(())
    }

    async fn stats(&self, org: &str) -> Result<Stats> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM ops WHERE org = $1),
                        (SELECT count(*) FROM devices WHERE org = $1 AND revoked_at IS NULL),
                        (SELECT count(*) FROM workers WHERE org = $1),
                        (SELECT count(*) FROM clients WHERE org = $1)",
                &[&org],
            )
            .await?;
        Ok(Stats {
            ops: count(row.try_get(0)?),
            devices: count(row.try_get(1)?),
            workers: count(row.try_get(2)?),
            clients: count(row.try_get(3)?),
        })
    }
}
