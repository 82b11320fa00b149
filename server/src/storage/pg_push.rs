//! Pushes into PostgreSQL, with group commit.
//!
//! Sequence numbers must be handed out, and committed, in order (see `postgres.rs`), so a push
//! holds its organisation's row lock through its commit. One push per transaction would
//! therefore cap an organisation at one fsynced commit at a time — about 140 pushes a second
//! on the benchmark machine, whatever the number of cores. Instead one task per server
//! process (the [`Committer`]) takes every push waiting in its queue and stores them in **one
//! transaction**: one lock, one context read, one insert per table, one commit. Each push is
//! still decided on its own by [`rules::plan_push`], in arrival order, against a context that
//! includes what the pushes before it in the group wrote ([`PushContext::absorb`]), so the
//! outcome is the one the pushes would get one after another.
//!
//! Nothing is acknowledged before the group's commit. If a group's transaction fails, each of
//! its pushes is retried alone, so one failing push never fails the others. Several server
//! processes each run their own committer; their groups serialise on the organisation lock.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use deadpool_postgres::Pool;
use ipc_core::model::{ClientId, OpId, WorkerId};
use ipc_core::sync::op::Operation;
use ipc_core::sync::wire::Rejected;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
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

/// The handle to a server process's push committer. Cloning it shares the committer.
///
/// The committer's task runs on the runtime of the first push and is started again, on the
/// caller's runtime, if that runtime has gone (a storage handle may outlive the runtime it
/// was made on, as in tests and admin tools). It stops when the last handle is dropped,
/// after the pushes already queued.
#[derive(Clone)]
pub(crate) struct Committer {
    pool: Pool,
    queue: Arc<Mutex<Option<mpsc::Sender<Job>>>>,
}

impl Committer {
    /// A committer for `pool`; its task starts with the first push.
    pub(crate) fn new(pool: Pool) -> Committer {
        Committer {
            pool,
            queue: Arc::new(Mutex::new(None)),
        }
    }

    fn sender(&self) -> mpsc::Sender<Job> {
        let mut slot = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            Some(queue) if !queue.is_closed() => queue.clone(),
            _ => {
                let (queue, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(self.pool.clone(), rx));
                *slot = Some(queue.clone());
                queue
            }
        }
    }

    /// Store a push; returns once it is committed (or refused, or failed).
    pub(crate) async fn push(&self, push: Push) -> Result<Outcome> {
        let checked = rules::check_push(&push.device, &push.ops);
        let push = Checked { push, checked };
        let (reply, answer) = oneshot::channel();
        self.sender()
            .send(Job { push, reply })
            .await
            .map_err(|_| ServerError::Task)?;
        answer.await.map_err(|_| ServerError::Task)?
    }
}

async fn run(pool: Pool, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut ops = first.push.push.ops.len();
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP && ops < MAX_GROUP_OPS {
            match queue.try_recv() {
                Ok(job) => {
                    ops += job.push.push.ops.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        commit(&pool, jobs).await;
    }
}

/// Store a group and answer each of its pushes.
async fn commit(pool: &Pool, jobs: Vec<Job>) {
    let (mut pushes, replies): (Vec<Checked>, Vec<_>) =
        jobs.into_iter().map(|j| (j.push, j.reply)).unzip();
    match store_group(pool, &mut pushes).await {
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
                let outcome = store_group(pool, std::slice::from_mut(push))
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

/// Store `pushes` in one transaction; one outcome per push, in order. Each push's checks are
/// used up, except when nothing is stored (an error before the first plan), and are
/// recomputed when a push is retried.
async fn store_group(pool: &Pool, pushes: &mut [Checked]) -> Result<Vec<Outcome>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;

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
        let seq: i64 = query_one(
            &tx,
            "SELECT next_seq FROM orgs WHERE id = $1 FOR UPDATE",
            &[org],
        )
        .await?
        .try_get(0)?;
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
    let mut ctx = load_context(&tx, &pushes).await?;
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
        exec(
            &tx,
            "INSERT INTO clients (id, org, worker_id, team, assigned_at_seq, team_since_seq)
             SELECT u.id, u.org, u.worker, u.team, 0, 0
             FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[])
                  AS u(id, org, worker, team)",
            &[
                &rows.client_ids,
                &rows.client_orgs,
                &rows.client_workers,
                &rows.client_teams,
            ],
        )
        .await?;
        exec(
            &tx,
            "INSERT INTO client_history (client_id, worker_id, first_assigned_at)
             SELECT u.id, u.worker, u.at FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[])
                  AS u(id, worker, at)
             ON CONFLICT DO NOTHING",
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
        exec(
            &tx,
            "INSERT INTO ops (op_id, org, seq, client_id, device_id, author, entity_kind,
                              entity_id, hlc, body, received_at)
             SELECT u.op_id, u.org, u.seq, u.client_id, u.device_id, u.author, u.kind,
                    u.entity_id, u.hlc, u.body, u.received_at
             FROM UNNEST($1::uuid[], $2::text[], $3::bigint[], $4::uuid[], $5::uuid[],
                         $6::uuid[], $7::text[], $8::uuid[], $9::text[], $10::text[],
                         $11::bigint[])
                  AS u(op_id, org, seq, client_id, device_id, author, kind, entity_id, hlc,
                       body, received_at)",
            &params,
        )
        .await?;
        let (ids, seqs): (Vec<&str>, Vec<i64>) =
            next.iter().map(|(org, seq)| (org.as_str(), *seq)).unzip();
        exec(
            &tx,
            "UPDATE orgs SET next_seq = u.next FROM UNNEST($1::text[], $2::bigint[]) AS u(id, next)
             WHERE orgs.id = u.id",
            &[&ids, &seqs],
        )
        .await?;
    }
    exec(
        &tx,
        "UPDATE devices SET last_seen_at = u.at
         FROM UNNEST($1::uuid[], $2::bigint[]) AS u(id, at)
         WHERE devices.id = u.id
           AND (devices.last_seen_at IS NULL OR devices.last_seen_at < u.at - 60000)",
        &[&touched, &touched_at],
    )
    .await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// What the database holds about every push of a group: the operations already stored, the
/// clients they touch, and which of those each pushing worker was ever assigned.
async fn load_context(
    tx: &deadpool_postgres::Transaction<'_>,
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
    for row in query(
        tx,
        "SELECT op_id, body FROM ops WHERE op_id = ANY($1)",
        &[&ids],
    )
    .await?
    {
        ctx.stored
            .insert(OpId::from_uuid(row.try_get(0)?), row.try_get(1)?);
    }
    for row in query(
        tx,
        "SELECT id, org, worker_id, team FROM clients WHERE id = ANY($1)",
        &[&scopes],
    )
    .await?
    {
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
        for row in query(
            tx,
            "SELECT h.client_id, h.worker_id FROM client_history h
                 JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(client_id, worker_id)
                   ON h.client_id = u.client_id AND h.worker_id = u.worker_id",
            &[&clients, &workers],
        )
        .await?
        {
            ctx.history.insert((
                ClientId::from_uuid(row.try_get(0)?),
                WorkerId::from_uuid(row.try_get(1)?),
            ));
        }
    }
    Ok(ctx)
}

// Every statement of a group is prepared once per connection (parsed and planned once).

async fn exec(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.execute(&statement, params).await?)
}

async fn query(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query(&statement, params).await?)
}

async fn query_one(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<tokio_postgres::Row> {
    let statement = tx.prepare_cached(sql).await?;
    Ok(tx.query_one(&statement, params).await?)
}
