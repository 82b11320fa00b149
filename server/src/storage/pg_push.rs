//! Pushes into PostgreSQL, with group commit.
//!
//! Sequence numbers must be handed out, and committed, in order (see `postgres.rs`), so a push
//! holds its organisation's row lock through its commit. One push per transaction would
//! therefore cap an organisation at one fsynced commit at a time — about 140 pushes a second
//! on the benchmark machine, whatever the number of cores. Instead one committer per server
//! process (the [`Committer`]) takes every push waiting in its queue and stores them in **one
//! transaction**: one lock, one context read, one insert per table, one commit. Each push is
//! still decided on its own by [`rules::plan_push`], in arrival order, against a context that
//! includes what the pushes before it in the group wrote ([`PushContext::absorb`]), so the
//! outcome is the one the pushes would get one after another.
//!
//! The committer is the organisation's serial section, so it runs on **its own thread, with
//! its own runtime and its own connection** (not one from the pool): its round trips to
//! PostgreSQL never wait behind request tasks for a turn on the server's runtime, nor behind
//! pulls for a pooled connection. Measured at 200 devices, each of its round trips used to
//! take 20–60 ms under load and a pooled connection 70–180 ms to get (docs/benchmarks.md).
//!
//! Nothing is acknowledged before the group's commit. If a group's transaction fails, each of
//! its pushes is retried alone, so one failing push never fails the others. A lost connection
//! fails the group's pushes (the devices retry) and is made again for the next group. Several
//! server processes each run their own committer; their groups serialise on the organisation
//! lock.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use ipc_core::model::{ClientId, OpId, WorkerId};
use ipc_core::sync::op::Operation;
use ipc_core::sync::wire::Rejected;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

use crate::error::{Result, ServerError};
use crate::rules::{self, ClientRow, PushContext};
use crate::storage::DeviceAuth;

/// Pushes waiting for the committer before a new push waits for room.
const QUEUE: usize = 1024;
/// Most pushes in one transaction.
const MAX_GROUP: usize = 128;
/// Most operations in one transaction (a push carries at most 1,000: the wire's limit).
const MAX_GROUP_OPS: usize = 16_000;
/// How long the committer waits for PostgreSQL to accept a connection, when the URL does not
/// say.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a push returns: the acknowledged ids and the refusals.
pub(crate) type Outcome = (Vec<OpId>, Vec<Rejected>);

/// One push: who sent it, what, when.
pub(crate) struct Push {
    pub device: DeviceAuth,
    pub ops: Vec<Operation>,
    pub now_ms: i64,
}

/// A push with its database-free checks done (by the request's own task, in parallel with
/// other requests, before it queues for the committer).
struct Checked {
    push: Push,
    checked: Vec<rules::Checked>,
}

struct Job {
    push: Checked,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// What the committer's queue carries.
enum Msg {
    /// Store this push.
    Push(Job),
    /// Close the connection once the pushes queued before are stored (a later push opens a
    /// new one).
    Disconnect,
}

/// The handle to a server process's push committer. Cloning it shares the committer; its
/// thread stops, after the pushes already queued, when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct Committer {
    queue: mpsc::Sender<Msg>,
}

impl Committer {
    /// Start the committer's thread for the database `config` names; it connects with the
    /// first push.
    pub(crate) fn start(mut config: tokio_postgres::Config) -> Result<Committer> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (queue, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("ipc-pg-committer".into())
            .spawn(move || runtime.block_on(run(config, rx)))?;
        Ok(Committer { queue })
    }

    /// Close the committer's connection after the pushes already queued (e.g. before the
    /// database is dropped in tests). If the queue is full the connection stays open.
    pub(crate) fn disconnect(&self) {
        let _ = self.queue.try_send(Msg::Disconnect);
    }

    /// Store a push; returns once it is committed (or refused, or failed).
    pub(crate) async fn push(&self, push: Push) -> Result<Outcome> {
        let checked = rules::check_push(&push.device, &push.ops);
        let push = Checked { push, checked };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Msg::Push(Job { push, reply }))
            .await
            .map_err(|_| ServerError::Task)?;
        answer.await.map_err(|_| ServerError::Task)?
    }
}

/// The committer's connection and its statements, prepared once.
struct Conn {
    client: Client,
    lock_org: Statement,
    stored: Statement,
    clients: Statement,
    history: Statement,
    insert_clients: Statement,
    insert_history: Statement,
    insert_ops: Statement,
    next_seq: Statement,
    seen: Statement,
}

impl Conn {
    async fn open(config: &tokio_postgres::Config) -> Result<Conn> {
        let (client, connection) = config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the push committer's PostgreSQL connection failed");
            }
        });
        Ok(Conn {
            lock_org: client.prepare(LOCK_ORG).await?,
            stored: client.prepare(STORED).await?,
            clients: client.prepare(CLIENTS).await?,
            history: client.prepare(HISTORY).await?,
            insert_clients: client.prepare(INSERT_CLIENTS).await?,
            insert_history: client.prepare(INSERT_HISTORY).await?,
            insert_ops: client.prepare(INSERT_OPS).await?,
            next_seq: client.prepare(NEXT_SEQ).await?,
            seen: client.prepare(SEEN).await?,
            client,
        })
    }
}

async fn run(config: tokio_postgres::Config, mut queue: mpsc::Receiver<Msg>) {
    let mut conn: Option<Conn> = None;
    while let Some(msg) = queue.recv().await {
        let first = match msg {
            Msg::Push(job) => job,
            Msg::Disconnect => {
                conn = None;
                continue;
            }
        };
        let mut ops = first.push.push.ops.len();
        let mut jobs = vec![first];
        let mut disconnect = false;
        while jobs.len() < MAX_GROUP && ops < MAX_GROUP_OPS {
            match queue.try_recv() {
                Ok(Msg::Push(job)) => {
                    ops += job.push.push.ops.len();
                    jobs.push(job);
                }
                Ok(Msg::Disconnect) => {
                    disconnect = true;
                    break;
                }
                Err(_) => break,
            }
        }
        commit(&config, &mut conn, jobs).await;
        if disconnect {
            conn = None;
        }
    }
}

/// The open connection, opened again if it was lost.
async fn connection<'c>(
    config: &tokio_postgres::Config,
    conn: &'c mut Option<Conn>,
) -> Result<&'c mut Conn> {
    if conn.as_ref().is_some_and(|c| c.client.is_closed()) {
        *conn = None;
    }
    match conn {
        Some(c) => Ok(c),
        None => Ok(conn.insert(Conn::open(config).await?)),
    }
}

/// Store `pushes` in one transaction on the committer's connection.
async fn store(
    config: &tokio_postgres::Config,
    conn: &mut Option<Conn>,
    pushes: &mut [Checked],
) -> Result<Vec<Outcome>> {
    let c = connection(config, conn).await?;
    let stored = store_group(c, pushes).await;
    if stored.is_err() && c.client.is_closed() {
        *conn = None;
    }
    stored
}

/// Store a group and answer each of its pushes.
async fn commit(config: &tokio_postgres::Config, conn: &mut Option<Conn>, jobs: Vec<Job>) {
    let (mut pushes, replies): (Vec<Checked>, Vec<_>) =
        jobs.into_iter().map(|j| (j.push, j.reply)).unzip();
    match store(config, conn, &mut pushes).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The device may have gone (timeout); its push is committed all the same and
                // will be acknowledged again when it retries.
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) if pushes.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::warn!(pushes = pushes.len(), error = %e, "group commit failed; retrying its pushes one by one");
            for (push, reply) in pushes.iter_mut().zip(replies) {
                let outcome = store(config, conn, std::slice::from_mut(push))
                    .await
                    .and_then(|mut v| v.pop().ok_or(ServerError::Task));
                let _ = reply.send(outcome);
            }
        }
    }
}

/// The rows a group writes, column by column (for `UNNEST`).
#[derive(Default)]
struct Rows<'a> {
    client_ids: Vec<Uuid>,
    client_orgs: Vec<&'a str>,
    client_workers: Vec<Uuid>,
    client_teams: Vec<&'a str>,
    history_at: Vec<i64>,
    op_ids: Vec<Uuid>,
    orgs: Vec<&'a str>,
    seqs: Vec<i64>,
    scopes: Vec<Uuid>,
    devices: Vec<Uuid>,
    authors: Vec<Uuid>,
    kinds: Vec<&'a str>,
    entities: Vec<Uuid>,
    hlcs: Vec<String>,
    bodies: Vec<String>,
    received: Vec<i64>,
}

const LOCK_ORG: &str = "SELECT next_seq FROM orgs WHERE id = $1 FOR UPDATE";
const STORED: &str = "SELECT op_id, body FROM ops WHERE op_id = ANY($1)";
const CLIENTS: &str = "SELECT id, org, worker_id, team FROM clients WHERE id = ANY($1)";
const HISTORY: &str = "SELECT h.client_id, h.worker_id FROM client_history h
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(client_id, worker_id)
       ON h.client_id = u.client_id AND h.worker_id = u.worker_id";
const INSERT_CLIENTS: &str =
    "INSERT INTO clients (id, org, worker_id, team, assigned_at_seq, team_since_seq)
     SELECT u.id, u.org, u.worker, u.team, 0, 0
     FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[]) AS u(id, org, worker, team)";
const INSERT_HISTORY: &str = "INSERT INTO client_history (client_id, worker_id, first_assigned_at)
     SELECT u.id, u.worker, u.at FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[])
          AS u(id, worker, at)
     ON CONFLICT DO NOTHING";
const INSERT_OPS: &str = "INSERT INTO ops (op_id, org, seq, client_id, device_id, author,
                     entity_kind, entity_id, hlc, body, received_at)
     SELECT u.op_id, u.org, u.seq, u.client_id, u.device_id, u.author, u.kind,
            u.entity_id, u.hlc, u.body, u.received_at
     FROM UNNEST($1::uuid[], $2::text[], $3::bigint[], $4::uuid[], $5::uuid[],
                 $6::uuid[], $7::text[], $8::uuid[], $9::text[], $10::text[],
                 $11::bigint[])
          AS u(op_id, org, seq, client_id, device_id, author, kind, entity_id, hlc,
               body, received_at)";
const NEXT_SEQ: &str = "UPDATE orgs SET next_seq = u.next
     FROM UNNEST($1::text[], $2::bigint[]) AS u(id, next)
     WHERE orgs.id = u.id";
const SEEN: &str = "UPDATE devices SET last_seen_at = u.at
     FROM UNNEST($1::uuid[], $2::bigint[]) AS u(id, at)
     WHERE devices.id = u.id
       AND (devices.last_seen_at IS NULL OR devices.last_seen_at < u.at - 60000)";

/// Store `pushes` in one transaction; one outcome per push, in order. Each push's checks are
/// used up, except when nothing is stored (an error before the first plan), and are
/// recomputed when a push is retried.
async fn store_group(conn: &mut Conn, pushes: &mut [Checked]) -> Result<Vec<Outcome>> {
    let started = std::time::Instant::now();
    let tx = conn.client.transaction().await?;

    // The organisation locks come first (sorted, as every writer takes them): every later
    // read sees the commits before ours, and sequence numbers are ours until we commit.
    let orgs: Vec<&str> = pushes
        .iter()
        .map(|p| p.push.device.org.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut next: BTreeMap<String, i64> = BTreeMap::new();
    for org in &orgs {
        let seq: i64 = tx.query_one(&conn.lock_org, &[org]).await?.try_get(0)?;
        next.insert((*org).to_owned(), seq);
    }

    // The checks made before queueing; made again if a failed group used them up.
    let checks: Vec<Vec<rules::Checked>> = pushes
        .iter_mut()
        .map(|p| match std::mem::take(&mut p.checked) {
            c if c.len() == p.push.ops.len() => c,
            _ => rules::check_push(&p.push.device, &p.push.ops),
        })
        .collect();
    let pushes: Vec<&Push> = pushes.iter().map(|p| &p.push).collect();
    let statements = ContextStatements {
        stored: &conn.stored,
        clients: &conn.clients,
        history: &conn.history,
    };
    let mut ctx = load_context(&tx, statements, &pushes).await?;
    let mut rows = Rows::default();
    let mut outcomes = Vec::with_capacity(pushes.len());
    let mut touched: Vec<Uuid> = Vec::with_capacity(pushes.len());
    let mut touched_at: Vec<i64> = Vec::with_capacity(pushes.len());
    for (push, checked) in pushes.iter().zip(checks) {
        let device = &push.device;
        let plan = rules::plan_checked(device, &push.ops, checked, &ctx);
        ctx.absorb(device, &plan);
        let me = device.worker.as_uuid();
        for c in &plan.new_clients {
            rows.client_ids.push(c.as_uuid());
            rows.client_orgs.push(&device.org);
            rows.client_workers.push(me);
            rows.client_teams.push(&device.team);
            rows.history_at.push(push.now_ms);
        }
        let seq = next.get_mut(&device.org).ok_or(ServerError::Task)?;
        for (op, body) in plan.accepted {
            rows.op_ids.push(op.op_id.as_uuid());
            rows.orgs.push(&device.org);
            rows.seqs.push(*seq);
            rows.scopes.push(op.scope.as_uuid());
            rows.devices.push(device.device.as_uuid());
            rows.authors.push(op.author.as_uuid());
            rows.kinds.push(op.entity.as_str());
            rows.entities.push(op.entity_id);
            rows.hlcs.push(op.hlc.to_string());
            rows.bodies.push(body);
            rows.received.push(push.now_ms);
            *seq += 1;
        }
        touched.push(device.device.as_uuid());
        touched_at.push(push.now_ms);
        outcomes.push((plan.acked, plan.rejected));
    }

    if !rows.client_ids.is_empty() {
        tx.execute(
            &conn.insert_clients,
            &[
                &rows.client_ids,
                &rows.client_orgs,
                &rows.client_workers,
                &rows.client_teams,
            ],
        )
        .await?;
        tx.execute(
            &conn.insert_history,
            &[&rows.client_ids, &rows.client_workers, &rows.history_at],
        )
        .await?;
    }
    if !rows.op_ids.is_empty() {
        let params: [&(dyn ToSql + Sync); 11] = [
            &rows.op_ids,
            &rows.orgs,
            &rows.seqs,
            &rows.scopes,
            &rows.devices,
            &rows.authors,
            &rows.kinds,
            &rows.entities,
            &rows.hlcs,
            &rows.bodies,
            &rows.received,
        ];
        tx.execute(&conn.insert_ops, &params).await?;
        let (ids, seqs): (Vec<&str>, Vec<i64>) =
            next.iter().map(|(org, seq)| (org.as_str(), *seq)).unzip();
        tx.execute(&conn.next_seq, &[&ids, &seqs]).await?;
    }
    tx.execute(&conn.seen, &[&touched, &touched_at]).await?;
    tx.commit().await?;
    tracing::debug!(
        pushes = pushes.len(),
        ops = rows.op_ids.len(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        "group committed"
    );
    Ok(outcomes)
}

/// The statements the context read uses.
struct ContextStatements<'a> {
    stored: &'a Statement,
    clients: &'a Statement,
    history: &'a Statement,
}

/// What the database holds about every push of a group: the operations already stored, the
/// clients they touch, and which of those each pushing worker was ever assigned.
async fn load_context(
    tx: &tokio_postgres::Transaction<'_>,
    st: ContextStatements<'_>,
    pushes: &[&Push],
) -> Result<PushContext> {
    let mut ctx = PushContext::default();
    let ids: Vec<Uuid> = pushes
        .iter()
        .flat_map(|p| p.ops.iter().map(|o| o.op_id.as_uuid()))
        .collect();
    let mut pairs: HashSet<(Uuid, Uuid)> = HashSet::new();
    for push in pushes {
        let me = push.device.worker.as_uuid();
        pairs.extend(push.ops.iter().map(|o| (o.scope.as_uuid(), me)));
    }
    let mut scopes: Vec<Uuid> = pairs.iter().map(|(c, _)| *c).collect();
    scopes.sort_unstable();
    scopes.dedup();
    for row in tx.query(st.stored, &[&ids]).await? {
        ctx.stored
            .insert(OpId::from_uuid(row.try_get(0)?), row.try_get(1)?);
    }
    for row in tx.query(st.clients, &[&scopes]).await? {
        ctx.clients.insert(
            ClientId::from_uuid(row.try_get(0)?),
            ClientRow {
                org: row.try_get(1)?,
                worker: WorkerId::from_uuid(row.try_get(2)?),
                team: row.try_get(3)?,
            },
        );
    }
    // Only clients that exist can have a history.
    let (clients, workers): (Vec<Uuid>, Vec<Uuid>) = pairs
        .into_iter()
        .filter(|(c, _)| ctx.clients.contains_key(&ClientId::from_uuid(*c)))
        .unzip();
    if !clients.is_empty() {
        for row in tx.query(st.history, &[&clients, &workers]).await? {
            ctx.history.insert((
                ClientId::from_uuid(row.try_get(0)?),
                WorkerId::from_uuid(row.try_get(1)?),
            ));
        }
    }
    Ok(ctx)
}
