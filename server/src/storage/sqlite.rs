//! The SQLite backend: one file, one connection behind a mutex, every call on the blocking
//! thread pool. WAL, `synchronous = FULL` (a reply is sent only after its commit is on disk),
//! a busy timeout, foreign keys. Schema migrations run at open in one IMMEDIATE transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ipc_core::model::{ClientId, DeviceId, OpId, Role, WorkerId};
use ipc_core::sync::op::Operation;
use ipc_core::sync::wire::SyncRequest;
use ipc_core::sync::wire::SyncResponse;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use uuid::Uuid;

use crate::error::{Result, ServerError};
use crate::rules::{self, ClientRow, FeedKind, FeedRow, PushContext};
use crate::storage::{
    DeviceAuth, DeviceInfo, NewCode, Redeemed, SecretHash, Stats, Storage, Worker, DEFAULT_ORG,
};

/// Newest schema version this build writes.
pub const SCHEMA_VERSION: i64 = 2;

const PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 5000;";

/// Migration steps: step `i` brings the schema from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE orgs (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        next_seq INTEGER NOT NULL CHECK (next_seq >= 1),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE workers (
        id BLOB PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        display_name TEXT NOT NULL,
        team TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'admin')),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE devices (
        id BLOB PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        worker_id BLOB NOT NULL REFERENCES workers(id),
        token_hash BLOB NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        last_seen_at INTEGER
    );
    CREATE TABLE enrol_codes (
        code_hash BLOB PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        worker_id BLOB NOT NULL REFERENCES workers(id),
        created_by BLOB,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        used_by_device BLOB
    );
    CREATE TABLE clients (
        id BLOB PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        worker_id BLOB NOT NULL REFERENCES workers(id),
        team TEXT NOT NULL,
        assigned_at_seq INTEGER NOT NULL,
        team_since_seq INTEGER NOT NULL
    );
    CREATE INDEX clients_by_worker ON clients (org, worker_id);
    CREATE INDEX clients_by_team ON clients (org, team);
    CREATE TABLE client_history (
        client_id BLOB NOT NULL REFERENCES clients(id),
        worker_id BLOB NOT NULL REFERENCES workers(id),
        first_assigned_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, worker_id)
    );
    CREATE TABLE ops (
        op_id BLOB PRIMARY KEY,
        org TEXT NOT NULL REFERENCES orgs(id),
        seq INTEGER NOT NULL,
        client_id BLOB NOT NULL REFERENCES clients(id),
        device_id BLOB NOT NULL,
        author BLOB NOT NULL,
        entity_kind TEXT NOT NULL,
        entity_id BLOB NOT NULL,
        hlc TEXT NOT NULL,
        body TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        UNIQUE (org, seq)
    );
    CREATE INDEX ops_by_client ON ops (client_id, seq);
    CREATE TABLE feed (
        org TEXT NOT NULL REFERENCES orgs(id),
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('op', 'replay', 'removed')),
        client_id BLOB NOT NULL,
        op_id BLOB REFERENCES ops(op_id),
        audience_worker BLOB,
        audience_team TEXT,
        PRIMARY KEY (org, seq)
    );
    CREATE INDEX feed_by_client ON feed (client_id, seq);",
    // 2: pulls driven by the device's own clients and by the audience of replays/removals,
    // instead of a scan of the organisation's feed (see PULL_SQL).
    "CREATE INDEX feed_audience_worker ON feed (audience_worker, seq) WHERE kind <> 'op';
    CREATE INDEX feed_audience_team ON feed (org, audience_team, seq) WHERE kind <> 'op';",
];

/// SQLite storage on one file.
#[derive(Clone)]
pub struct SqliteStorage {
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStorage")
    }
}

fn uuid_at(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let bytes: Vec<u8> = row.get(i)?;
    Uuid::from_slice(&bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn role_at(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Role> {
    let s: String = row.get(i)?;
    Role::parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn hash_at(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<SecretHash> {
    let bytes: Vec<u8> = row.get(i)?;
    SecretHash::try_from(bytes.as_slice()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn count(conn: &Connection, sql: &str, org: &str) -> Result<u64> {
    let n: i64 = conn.query_row(sql, [org], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn migrate(conn: &mut Connection, now_ms: i64) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if current > SCHEMA_VERSION {
        return Err(ServerError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (version, step) in (1..).zip(STEPS) {
        if version > current {
            tx.execute_batch(step)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [version],
            )?;
        }
    }
    tx.execute(
        "INSERT OR IGNORE INTO orgs (id, name, next_seq, created_at) VALUES (?1, ?2, 1, ?3)",
        params![DEFAULT_ORG, "Default organisation", now_ms],
    )?;
    tx.commit()?;
    Ok(())
}

impl SqliteStorage {
    /// Open (or create) the database file and bring its schema up to date. Blocking.
    pub fn open(path: &Path) -> Result<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        conn.execute_batch(PRAGMAS)?;
        migrate(&mut conn, crate::storage::now_ms())?;
        Ok(SqliteStorage {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Run `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|_| ServerError::Task)?
    }
}

fn worker_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Worker> {
    Ok(Worker {
        id: WorkerId::from_uuid(uuid_at(row, 0)?),
        org: row.get(1)?,
        display_name: row.get(2)?,
        team: row.get(3)?,
        role: role_at(row, 4)?,
        created_at_ms: row.get(5)?,
    })
}

const WORKER_COLS: &str = "id, org, display_name, team, role, created_at";

fn load_worker(conn: &Connection, id: WorkerId) -> Result<Option<Worker>> {
    Ok(conn
        .prepare_cached(&format!("SELECT {WORKER_COLS} FROM workers WHERE id = ?1"))?
        .query_row([id.as_bytes().as_slice()], worker_row)
        .optional()?)
}

const DEVICE_AUTH_SQL: &str =
    "SELECT d.id, d.org, d.worker_id, w.role, w.team, d.revoked_at, d.token_hash
     FROM devices d JOIN workers w ON w.id = d.worker_id";

fn device_auth_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceAuth> {
    Ok(DeviceAuth {
        device: DeviceId::from_uuid(uuid_at(row, 0)?),
        org: row.get(1)?,
        worker: WorkerId::from_uuid(uuid_at(row, 2)?),
        role: role_at(row, 3)?,
        team: row.get(4)?,
        revoked: row.get::<_, Option<i64>>(5)?.is_some(),
        token_hash: hash_at(row, 6)?,
    })
}

fn redeem(
    conn: &mut Connection,
    code_hash: &SecretHash,
    device: DeviceId,
    token_hash: &SecretHash,
    now_ms: i64,
) -> Result<Redeemed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let code: Option<(String, Uuid, i64, Option<i64>)> = tx
        .query_row(
            "SELECT org, worker_id, expires_at, used_at FROM enrol_codes WHERE code_hash = ?1",
            [code_hash.as_slice()],
            |r| Ok((r.get(0)?, uuid_at(r, 1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((org, worker, expires_at, used_at)) = code else {
        return Ok(Redeemed::Invalid);
    };
    if used_at.is_some() {
        return Ok(Redeemed::Used);
    }
    if expires_at <= now_ms {
        return Ok(Redeemed::Expired);
    }
    let dev = device.as_bytes().as_slice();
    let owner: Option<Uuid> = tx
        .query_row("SELECT worker_id FROM devices WHERE id = ?1", [dev], |r| {
            uuid_at(r, 0)
        })
        .optional()?;
    if owner.is_some_and(|o| o != worker) {
        return Ok(Redeemed::DeviceTaken);
    }
    let n = tx.execute(
        "UPDATE enrol_codes SET used_at = ?2, used_by_device = ?3
         WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2",
        params![code_hash.as_slice(), now_ms, dev],
    )?;
    if n != 1 {
        return Ok(Redeemed::Used);
    }
    tx.execute(
        "INSERT INTO devices (id, org, worker_id, token_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash,
             revoked_at = NULL, last_seen_at = NULL",
        params![
            dev,
            org,
            worker.as_bytes().as_slice(),
            token_hash.as_slice(),
            now_ms
        ],
    )?;
    let auth = tx.query_row(&format!("{DEVICE_AUTH_SQL} WHERE d.id = ?1"), [dev], |r| {
        device_auth_row(r)
    })?;
    tx.commit()?;
    Ok(Redeemed::Enrolled(auth))
}

fn load_context(
    tx: &Transaction<'_>,
    device: &DeviceAuth,
    ops: &[Operation],
) -> Result<PushContext> {
    let mut ctx = PushContext::default();
    let mut stored = tx.prepare_cached("SELECT body FROM ops WHERE op_id = ?1")?;
    let mut client = tx.prepare_cached("SELECT org, worker_id, team FROM clients WHERE id = ?1")?;
    let mut history =
        tx.prepare_cached("SELECT 1 FROM client_history WHERE client_id = ?1 AND worker_id = ?2")?;
    let me = device.worker.as_bytes().as_slice();
    for op in ops {
        if let Some(body) = stored
            .query_row([op.op_id.as_bytes().as_slice()], |r| r.get::<_, String>(0))
            .optional()?
        {
            ctx.stored.insert(op.op_id, body);
        }
        if ctx.clients.contains_key(&op.scope) {
            continue;
        }
        let scope = op.scope.as_bytes().as_slice();
        if let Some(row) = client
            .query_row([scope], |r| {
                Ok(ClientRow {
                    org: r.get(0)?,
                    worker: WorkerId::from_uuid(uuid_at(r, 1)?),
                    team: r.get(2)?,
                })
            })
            .optional()?
        {
            ctx.clients.insert(op.scope, row);
            if history.exists(params![scope, me])? {
                ctx.history.insert((op.scope, device.worker));
            }
        }
    }
    Ok(ctx)
}

fn push(
    tx: &Transaction<'_>,
    device: &DeviceAuth,
    ops: &[Operation],
    now_ms: i64,
) -> Result<(Vec<OpId>, Vec<ipc_core::sync::wire::Rejected>)> {
    let ctx = load_context(tx, device, ops)?;
    let plan = rules::plan_push(device, ops, &ctx);
    let me = device.worker.as_bytes().as_slice();
    for client in &plan.new_clients {
        let id = client.as_bytes().as_slice();
        tx.execute(
            "INSERT INTO clients (id, org, worker_id, team, assigned_at_seq, team_since_seq)
             VALUES (?1, ?2, ?3, ?4, 0, 0)",
            params![id, device.org, me, device.team],
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO client_history (client_id, worker_id, first_assigned_at)
             VALUES (?1, ?2, ?3)",
            params![id, me, now_ms],
        )?;
    }
    if !plan.accepted.is_empty() {
        let mut seq: i64 = tx.query_row(
            "SELECT next_seq FROM orgs WHERE id = ?1",
            [&device.org],
            |r| r.get(0),
        )?;
        let mut insert_op = tx.prepare_cached(
            "INSERT INTO ops (op_id, org, seq, client_id, device_id, author, entity_kind,
                              entity_id, hlc, body, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let mut insert_feed = tx.prepare_cached(
            "INSERT INTO feed (org, seq, kind, client_id, op_id) VALUES (?1, ?2, 'op', ?3, ?4)",
        )?;
        for (op, body) in &plan.accepted {
            let op_id = op.op_id.as_bytes().as_slice();
            let client = op.scope.as_bytes().as_slice();
            insert_op.execute(params![
                op_id,
                device.org,
                seq,
                client,
                op.device_id.as_bytes().as_slice(),
                op.author.as_bytes().as_slice(),
                op.entity.as_str(),
                op.entity_id.as_bytes().as_slice(),
                op.hlc.to_string(),
                body,
                now_ms
            ])?;
            insert_feed.execute(params![device.org, seq, client, op_id])?;
            seq += 1;
        }
        tx.execute(
            "UPDATE orgs SET next_seq = ?2 WHERE id = ?1",
            params![device.org, seq],
        )?;
    }
    Ok((plan.acked, plan.rejected))
}

/// The rows a device may see after its cursor, each branch driven by an index on what the
/// device owns (its worker's clients, its team's clients, the replays and removals addressed
/// to it) and cut to the page size before the union — the same plan as PostgreSQL's.
const PULL_SQL: &str = "SELECT seq, kind, client_id, body FROM (
    SELECT * FROM (SELECT f.seq, f.kind, f.client_id, o.body
       FROM clients c
       JOIN feed f ON f.client_id = c.id AND f.seq > max(?2, c.assigned_at_seq)
       JOIN ops o ON o.op_id = f.op_id
      WHERE c.org = ?1 AND c.worker_id = ?4 AND f.kind = 'op' AND o.device_id <> ?3
      ORDER BY f.seq LIMIT ?7)
    UNION ALL
    SELECT * FROM (SELECT f.seq, f.kind, f.client_id, o.body
       FROM clients c
       JOIN feed f ON f.client_id = c.id AND f.seq > max(?2, c.team_since_seq)
       JOIN ops o ON o.op_id = f.op_id
      WHERE ?5 AND c.org = ?1 AND c.team = ?6 AND c.worker_id <> ?4
        AND f.kind = 'op' AND o.device_id <> ?3
      ORDER BY f.seq LIMIT ?7)
    UNION ALL
    SELECT * FROM (SELECT f.seq, f.kind, f.client_id, o.body
       FROM feed f LEFT JOIN ops o ON o.op_id = f.op_id
      WHERE f.kind <> 'op' AND f.audience_worker = ?4 AND f.seq > ?2
      ORDER BY f.seq LIMIT ?7)
    UNION ALL
    SELECT * FROM (SELECT f.seq, f.kind, f.client_id, o.body
       FROM feed f LEFT JOIN ops o ON o.op_id = f.op_id
      WHERE ?5 AND f.kind <> 'op' AND f.org = ?1 AND f.audience_team = ?6 AND f.seq > ?2
        AND f.audience_worker IS NOT ?4
      ORDER BY f.seq LIMIT ?7)
) ORDER BY seq LIMIT ?7";

fn pull(tx: &Transaction<'_>, device: &DeviceAuth, cursor: u64, limit: u32) -> Result<rules::Page> {
    let head: i64 = tx.query_row(
        "SELECT next_seq - 1 FROM orgs WHERE id = ?1",
        [&device.org],
        |r| r.get(0),
    )?;
    let from = rules::start_cursor(cursor, head);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
    let mut stmt = tx.prepare_cached(PULL_SQL)?;
    let rows = stmt.query_map(
        params![
            device.org,
            from,
            device.device.as_bytes().as_slice(),
            device.worker.as_bytes().as_slice(),
            device.role == Role::Supervisor,
            device.team,
            i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1),
        ],
        |r| {
            let kind: String = r.get(1)?;
            Ok((
                r.get::<_, i64>(0)?,
                kind,
                ClientId::from_uuid(uuid_at(r, 2)?),
                r.get::<_, Option<String>>(3)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, kind, client, body) = row?;
        let kind = FeedKind::parse(&kind).ok_or(ServerError::Corrupt("feed kind"))?;
        out.push(FeedRow {
            seq,
            kind,
            client,
            body,
        });
    }
    Ok(rules::assemble_pull(out, limit, head, from))
}

fn sync_blocking(
    conn: &mut Connection,
    device: &DeviceAuth,
    request: &SyncRequest,
    now_ms: i64,
) -> Result<SyncResponse> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // When the device was last seen, at most once a minute to spare writes.
    tx.execute(
        "UPDATE devices SET last_seen_at = ?2
         WHERE id = ?1 AND (last_seen_at IS NULL OR last_seen_at < ?2 - 60000)",
        params![device.device.as_bytes().as_slice(), now_ms],
    )?;
    let (acked, rejected) = if request.ops.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        push(&tx, device, &request.ops, now_ms)?
    };
    let page = if device.revoked {
        None
    } else {
        Some(pull(&tx, device, request.cursor, request.pull_limit)?)
    };
    tx.commit()?;
    Ok(rules::response(
        acked,
        rejected,
        page,
        request.cursor,
        request.pull_format,
        now_ms,
    ))
}

fn assign_blocking(
    conn: &mut Connection,
    client: ClientId,
    worker: WorkerId,
    now_ms: i64,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let target = load_worker(&tx, worker)?.ok_or(ServerError::UnknownWorker(worker))?;
    if target.role != Role::Worker {
        return Err(ServerError::NotAWorker(target.role));
    }
    let id = client.as_bytes().as_slice();
    let new = worker.as_bytes().as_slice();
    let seq: i64 = tx.query_row(
        "SELECT next_seq FROM orgs WHERE id = ?1",
        [&target.org],
        |r| r.get(0),
    )?;
    let current: Option<(String, Uuid, String, i64)> = tx
        .query_row(
            "SELECT org, worker_id, team, team_since_seq FROM clients WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, uuid_at(r, 1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let history = "INSERT OR IGNORE INTO client_history (client_id, worker_id, first_assigned_at)
                   VALUES (?1, ?2, ?3)";
    let Some((org, old_worker, old_team, team_since)) = current else {
        tx.execute(
            "INSERT INTO clients (id, org, worker_id, team, assigned_at_seq, team_since_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            params![id, target.org, new, target.team, seq - 1],
        )?;
        tx.execute(history, params![id, new, now_ms])?;
        tx.commit()?;
        return Ok(());
    };
    if org != target.org {
        return Err(ServerError::ForeignClient(client));
    }
    if old_worker == worker.as_uuid() {
        return Ok(());
    }
    let team_changed = old_team != target.team;
    let removed_seq = seq;
    tx.execute(
        "INSERT INTO feed (org, seq, kind, client_id, audience_worker, audience_team)
         VALUES (?1, ?2, 'removed', ?3, ?4, ?5)",
        params![
            org,
            removed_seq,
            id,
            old_worker.as_bytes().as_slice(),
            team_changed.then_some(old_team.as_str())
        ],
    )?;
    let mut next = removed_seq + 1;
    let op_ids: Vec<Vec<u8>> = tx
        .prepare_cached("SELECT op_id FROM ops WHERE client_id = ?1 ORDER BY seq")?
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    {
        let mut replay = tx.prepare_cached(
            "INSERT INTO feed (org, seq, kind, client_id, op_id, audience_worker, audience_team)
             VALUES (?1, ?2, 'replay', ?3, ?4, ?5, ?6)",
        )?;
        for op_id in &op_ids {
            replay.execute(params![
                org,
                next,
                id,
                op_id,
                new,
                team_changed.then_some(target.team.as_str())
            ])?;
            next += 1;
        }
    }
    tx.execute(
        "UPDATE clients SET worker_id = ?2, team = ?3, assigned_at_seq = ?4, team_since_seq = ?5
         WHERE id = ?1",
        params![
            id,
            new,
            target.team,
            removed_seq,
            if team_changed {
                removed_seq
            } else {
                team_since
            }
        ],
    )?;
    tx.execute(history, params![id, new, now_ms])?;
    tx.execute(
        "UPDATE orgs SET next_seq = ?2 WHERE id = ?1",
        params![org, next],
    )?;
    tx.commit()?;
    Ok(())
}

impl Storage for SqliteStorage {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        self.run(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn add_worker(
        &self,
        org: &str,
        display_name: &str,
        team: &str,
        role: Role,
        now_ms: i64,
    ) -> Result<WorkerId> {
        let (org, name, team) = (org.to_string(), display_name.to_string(), team.to_string());
        self.run(move |c| {
            let id = WorkerId::new();
            c.execute(
                "INSERT INTO workers (id, org, display_name, team, role, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    id.as_bytes().as_slice(),
                    org,
                    name,
                    team,
                    role.as_str(),
                    now_ms
                ],
            )?;
            Ok(id)
        })
        .await
    }

    async fn worker(&self, id: WorkerId) -> Result<Option<Worker>> {
        self.run(move |c| load_worker(c, id)).await
    }

    async fn workers(&self, org: &str) -> Result<Vec<Worker>> {
        let org = org.to_string();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {WORKER_COLS} FROM workers WHERE org = ?1 ORDER BY team, display_name, id"
            ))?;
            let rows = stmt.query_map([org], worker_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn insert_code(&self, code: &NewCode) -> Result<()> {
        let code = code.clone();
        self.run(move |c| {
            let org: String = c
                .query_row(
                    "SELECT org FROM workers WHERE id = ?1",
                    [code.worker.as_bytes().as_slice()],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(ServerError::UnknownWorker(code.worker))?;
            c.execute(
                "INSERT INTO enrol_codes (code_hash, org, worker_id, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    code.code_hash.as_slice(),
                    org,
                    code.worker.as_bytes().as_slice(),
                    code.issuer.map(|w| w.as_bytes().to_vec()),
                    code.created_at_ms,
                    code.expires_at_ms
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn redeem_code(
        &self,
        code_hash: &SecretHash,
        device: DeviceId,
        token_hash: &SecretHash,
        now_ms: i64,
    ) -> Result<Redeemed> {
        let (code_hash, token_hash) = (*code_hash, *token_hash);
        self.run(move |c| redeem(c, &code_hash, device, &token_hash, now_ms))
            .await
    }

    async fn device_by_token(&self, token_hash: &SecretHash) -> Result<Option<DeviceAuth>> {
        let token_hash = *token_hash;
        self.run(move |c| {
            Ok(
                c.prepare_cached(&format!("{DEVICE_AUTH_SQL} WHERE d.token_hash = ?1"))?
                    .query_row([token_hash.as_slice()], device_auth_row)
                    .optional()?,
            )
        })
        .await
    }

    async fn sync(
        &self,
        device: &DeviceAuth,
        request: SyncRequest,
        now_ms: i64,
    ) -> Result<SyncResponse> {
        let device = device.clone();
        self.run(move |c| sync_blocking(c, &device, &request, now_ms))
            .await
    }

    async fn assign(&self, client: ClientId, worker: WorkerId, now_ms: i64) -> Result<()> {
        self.run(move |c| assign_blocking(c, client, worker, now_ms))
            .await
    }

    async fn devices(&self, org: &str) -> Result<Vec<DeviceInfo>> {
        let org = org.to_string();
        self.run(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, worker_id, created_at, last_seen_at, revoked_at FROM devices
                 WHERE org = ?1 ORDER BY worker_id, created_at, id",
            )?;
            let rows = stmt.query_map([org], |r| {
                Ok(DeviceInfo {
                    id: DeviceId::from_uuid(uuid_at(r, 0)?),
                    worker: WorkerId::from_uuid(uuid_at(r, 1)?),
                    created_at_ms: r.get(2)?,
                    last_seen_at_ms: r.get(3)?,
                    revoked_at_ms: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn revoke(&self, device: DeviceId, now_ms: i64) -> Result<()> {
        self.run(move |c| {
            let id = device.as_bytes().as_slice();
            let exists = c
                .prepare_cached("SELECT 1 FROM devices WHERE id = ?1")?
                .exists([id])?;
            if !exists {
                return Err(ServerError::UnknownDevice(device));
            }
            c.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, now_ms],
            )?;
            Ok(())
        })
        .await
    }

    async fn stats(&self, org: &str) -> Result<Stats> {
        let org = org.to_string();
        self.run(move |c| {
            Ok(Stats {
                ops: count(c, "SELECT count(*) FROM ops WHERE org = ?1", &org)?,
                devices: count(
                    c,
                    "SELECT count(*) FROM devices WHERE org = ?1 AND revoked_at IS NULL",
                    &org,
                )?,
                workers: count(c, "SELECT count(*) FROM workers WHERE org = ?1", &org)?,
                clients: count(c, "SELECT count(*) FROM clients WHERE org = ?1", &org)?,
            })
        })
        .await
    }
}

/// Test support: the schema version recorded in the file.
#[doc(hidden)]
pub fn schema_version_of(path: &Path) -> Result<i64> {
    let conn = Connection::open(path)?;
    Ok(conn.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?)
}
