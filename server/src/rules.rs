//! The sync rules, shared by both storage backends and free of I/O: which pushed operations
//! are stored (shape, device, idempotency, role, scope) and how pulled feed rows become a
//! reply page (order, paging, the cursor).
//!
//! A backend loads a [`PushContext`] for the batch, calls [`plan_push`], writes what the plan
//! accepts, then reads candidate feed rows and calls [`assemble_pull`].

use std::collections::{HashMap, HashSet};

use ipc_core::model::{ClientId, OpId, Role, WorkerId};
use ipc_core::store::apply::validate;
use ipc_core::sync::columns::to_columns;
use ipc_core::sync::op::{Change, EntityKind, Operation};
use ipc_core::sync::wire::{PullFormat, RejectCode, Rejected, SyncResponse, PROTOCOL_VERSION};

use crate::storage::DeviceAuth;

/// Reason given for `client_reassigned`.
pub const REASSIGNED: &str =
    "the client was reassigned to another worker; this change was not applied";

/// A client as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientRow {
    /// Its organisation.
    pub org: String,
    /// The worker it is assigned to.
    pub worker: WorkerId,
    /// Its team.
    pub team: String,
}

/// What the database holds about a batch.
#[derive(Debug, Default)]
pub(crate) struct PushContext {
    /// Operations of the batch already stored: id → stored body (JSON).
    pub stored: HashMap<OpId, String>,
    /// Clients the batch touches that exist.
    pub clients: HashMap<ClientId, ClientRow>,
    /// (client, worker) pairs of the batch where the worker was ever assigned the client.
    pub history: HashSet<(ClientId, WorkerId)>,
}

impl PushContext {
    /// Record what `plan` (made for `device`) writes, so that a later batch planned in the same
    /// transaction (group commit) sees it as stored: its operations, the clients it creates
    /// and their assignment history.
    pub(crate) fn absorb(&mut self, device: &DeviceAuth, plan: &PushPlan<'_>) {
        for (op, body) in &plan.accepted {
            self.stored.insert(op.op_id, body.clone());
        }
        for client in &plan.new_clients {
            self.clients.insert(
                *client,
                ClientRow {
                    org: device.org.clone(),
                    worker: device.worker,
                    team: device.team.clone(),
                },
            );
            self.history.insert((*client, device.worker));
        }
    }
}

/// What to do with a batch.
#[derive(Debug, Default)]
pub(crate) struct PushPlan<'a> {
    /// Stored now or before.
    pub acked: Vec<OpId>,
    /// Refused, with reasons.
    pub rejected: Vec<Rejected>,
    /// To store, in order, with their JSON bodies.
    pub accepted: Vec<(&'a Operation, String)>,
    /// Clients to create, assigned to the pushing worker.
    pub new_clients: Vec<ClientId>,
}

fn reject(op: &Operation, code: RejectCode, reason: impl Into<String>) -> Rejected {
    Rejected {
        op_id: op.op_id,
        code,
        reason: reason.into(),
    }
}

/// Whether the role may make this change at all (scope aside).
fn role_allows(role: Role, op: &Operation) -> Result<(), &'static str> {
    match role {
        Role::Admin => Err("an administrator's device may not write client records"),
        Role::Worker if op.entity == EntityKind::SupervisorNote => {
            Err("only a supervisor may write supervisor notes")
        }
        Role::Worker => Ok(()),
        Role::Supervisor
            if op.entity == EntityKind::SupervisorNote
                && matches!(op.change, Change::Create { .. }) =>
        {
            Ok(())
        }
        Role::Supervisor => Err("a supervisor may only add supervisor notes"),
    }
}

/// What can be decided about a pushed operation without the database.
#[derive(Debug)]
pub(crate) enum Checked {
    /// Its op id came earlier in the same batch: decided there.
    Repeat,
    /// Refused whatever the database holds (wrong device, invalid shape).
    Refused(Rejected),
    /// Well formed; its JSON body, ready to store.
    Valid(String),
}

/// The database-free half of [`plan_push`]: device, author, shape and repeats, and each valid
/// operation's JSON body. A server can run it for many pushes in parallel, before the
/// serialised part (the context and the scope rules) runs.
pub(crate) fn check_push(device: &DeviceAuth, ops: &[Operation]) -> Vec<Checked> {
    let mut seen: HashSet<OpId> = HashSet::with_capacity(ops.len());
    ops.iter()
        .map(|op| {
            if !seen.insert(op.op_id) {
                Checked::Repeat
            } else if op.device_id != device.device {
                Checked::Refused(reject(
                    op,
                    RejectCode::Invalid,
                    "the operation was written by another device",
                ))
            } else if op.author != device.worker {
                // The record of who wrote what: a device writes as its own worker (work done
                // before enrolment is re-authored by the store at its first enrolment).
                Checked::Refused(reject(
                    op,
                    RejectCode::Invalid,
                    "the operation names another worker as its author",
                ))
            } else if let Err(e) = validate(op) {
                Checked::Refused(reject(op, RejectCode::Invalid, e.to_string()))
            } else {
                // Serialising an Operation cannot fail (string keys, no custom serialisers).
                Checked::Valid(serde_json::to_string(op).unwrap_or_default())
            }
        })
        .collect()
}

/// Decide every operation of a batch, in order. One refused operation never affects the
/// others; an op id repeated within the batch is decided once.
pub(crate) fn plan_push<'a>(
    device: &DeviceAuth,
    ops: &'a [Operation],
    ctx: &PushContext,
) -> PushPlan<'a> {
    plan_checked(device, ops, check_push(device, ops), ctx)
}

/// [`plan_push`] for a batch already checked by [`check_push`] (`checked[i]` is `ops[i]`'s).
pub(crate) fn plan_checked<'a>(
    device: &DeviceAuth,
    ops: &'a [Operation],
    checked: Vec<Checked>,
    ctx: &PushContext,
) -> PushPlan<'a> {
    let mut plan = PushPlan::default();
    let mut created: HashSet<ClientId> = HashSet::new();
    for (op, check) in ops.iter().zip(checked) {
        let body = match check {
            Checked::Repeat => continue,
            Checked::Refused(r) => {
                plan.rejected.push(r);
                continue;
            }
            Checked::Valid(body) => body,
        };
        if let Some(stored) = ctx.stored.get(&op.op_id) {
            match serde_json::from_str::<Operation>(stored) {
                Ok(stored) if stored == *op => plan.acked.push(op.op_id),
                Ok(_) => plan.rejected.push(reject(
                    op,
                    RejectCode::Conflict,
                    "this operation id is already stored with different content",
                )),
                Err(_) => {
                    tracing::error!(op_id = %op.op_id, "a stored operation body cannot be read");
                    plan.rejected.push(reject(
                        op,
                        RejectCode::Conflict,
                        "this operation id is already stored and cannot be compared",
                    ));
                }
            }
            continue;
        }
        if let Err(reason) = role_allows(device.role, op) {
            plan.rejected
                .push(reject(op, RejectCode::Forbidden, reason));
            continue;
        }
        let client = ctx.clients.get(&op.scope).filter(|c| c.org == device.org);
        let in_scope = match (client, device.role) {
            (_, _) if created.contains(&op.scope) => Ok(()),
            (None, Role::Worker)
                if !ctx.clients.contains_key(&op.scope)
                    && op.entity == EntityKind::Client
                    && matches!(op.change, Change::Create { .. }) =>
            {
                created.insert(op.scope);
                plan.new_clients.push(op.scope);
                Ok(())
            }
            (None, _) => Err((
                RejectCode::OutOfScope,
                "the client is not known to the server or not in your caseload",
            )),
            (Some(c), Role::Worker) if c.worker == device.worker => Ok(()),
            (Some(_), Role::Worker) if ctx.history.contains(&(op.scope, device.worker)) => {
                Err((RejectCode::ClientReassigned, REASSIGNED))
            }
            (Some(c), Role::Supervisor) if c.team == device.team => Ok(()),
            (Some(_), _) => Err((
                RejectCode::OutOfScope,
                "the client is not in your caseload or your team",
            )),
        };
        match in_scope {
            Ok(()) => {
                plan.accepted.push((op, body));
                plan.acked.push(op.op_id);
            }
            Err((code, reason)) => plan.rejected.push(reject(op, code, reason)),
        }
    }
    plan
}

/// The kind of a feed row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FeedKind {
    /// An operation as pushed.
    Op,
    /// An operation replayed to a client's new worker (or team).
    Replay,
    /// A client left the audience's scope.
    Removed,
}

impl FeedKind {
    /// Parse the storage name.
    pub fn parse(s: &str) -> Option<FeedKind> {
        match s {
            "op" => Some(FeedKind::Op),
            "replay" => Some(FeedKind::Replay),
            "removed" => Some(FeedKind::Removed),
            _ => None,
        }
    }
}

/// A feed row the device may see (already filtered by scope and audience), with the body of
/// its operation when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FeedRow {
    /// Position in the organisation's sequence.
    pub seq: i64,
    /// Kind.
    pub kind: FeedKind,
    /// The client concerned.
    pub client: ClientId,
    /// The operation's JSON (op and replay rows).
    pub body: Option<String>,
}

/// One page of a pull.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Page {
    /// Operations, in sequence order.
    pub ops: Vec<Operation>,
    /// Clients that left the scope.
    pub removed: Vec<ClientId>,
    /// The cursor to send next.
    pub cursor: u64,
    /// More rows wait.
    pub more: bool,
}

/// The cursor to read from: the device's, unless it is ahead of the organisation's sequence
/// (the database was restored from a backup, or the device synced with another server), in
/// which case the device starts again from 0 — a replay is harmless, a gap would lose data.
pub(crate) fn start_cursor(cursor: u64, head: i64) -> i64 {
    match i64::try_from(cursor) {
        Ok(c) if c <= head => c,
        _ => {
            tracing::warn!(
                cursor,
                head,
                "device cursor is ahead of the server; restarting from 0"
            );
            0
        }
    }
}

/// Build a page from up to `limit + 1` candidate rows read in one snapshot whose highest
/// sequence number is `head`.
///
/// The device applies a reply's operations before its removals, so a page never carries an
/// operation of a client after that client's removal: the page ends before it and `more` is
/// set. When fewer than `limit` rows matched, the cursor jumps to `head` so an idle device
/// does not rescan the same range.
pub(crate) fn assemble_pull(rows: Vec<FeedRow>, limit: usize, head: i64, from: i64) -> Page {
    let mut page = Page::default();
    let mut last = from;
    let mut cut = false;
    let mut seen_ops: HashSet<OpId> = HashSet::new();
    let total = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        if i >= limit {
            cut = true;
            break;
        }
        match row.kind {
            FeedKind::Removed => {
                if !page.removed.contains(&row.client) {
                    page.removed.push(row.client);
                }
            }
            FeedKind::Op | FeedKind::Replay => {
                if page.removed.contains(&row.client) {
                    cut = true;
                    break;
                }
                match row.body.as_deref().map(serde_json::from_str::<Operation>) {
                    Some(Ok(op)) => {
                        if seen_ops.insert(op.op_id) {
                            page.ops.push(op);
                        }
                    }
                    // A damaged row is reported loudly and skipped: it must not block every
                    // device behind it.
                    _ => tracing::error!(seq = row.seq, "a stored operation cannot be read"),
                }
            }
        }
        last = row.seq;
    }
    let end = if cut || total > limit {
        last
    } else {
        head.max(last)
    };
    page.more = cut || total > limit;
    page.cursor = u64::try_from(end).unwrap_or(0);
    page
}

/// The reply to a sync request, its operations in the format the request asked for: rows
/// in `ops`, or a columnar page in `op_columns` (left out when the page has no operations).
pub(crate) fn response(
    acked: Vec<OpId>,
    rejected: Vec<Rejected>,
    page: Option<Page>,
    request_cursor: u64,
    pull_format: PullFormat,
    now_ms: i64,
) -> SyncResponse {
    let wipe = page.is_none();
    let page = page.unwrap_or(Page {
        cursor: request_cursor,
        ..Page::default()
    });
    let (ops, op_columns) = match pull_format {
        PullFormat::Columns if !page.ops.is_empty() => (Vec::new(), Some(to_columns(&page.ops))),
        PullFormat::Rows | PullFormat::Columns => (page.ops, None),
    };
    SyncResponse {
        version: PROTOCOL_VERSION,
        acked,
        rejected,
        ops,
        removed: page.removed,
        cursor: page.cursor,
        more: page.more,
        server_time_ms: now_ms,
        wipe,
        op_columns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_core::model::DeviceId;
    use ipc_core::sync::hlc::Hlc;
    use ipc_core::sync::op::FieldMap;

    fn device(role: Role) -> DeviceAuth {
        DeviceAuth {
            device: DeviceId::new(),
            org: "default".into(),
            worker: WorkerId::new(),
            role,
            team: "north".into(),
            revoked: false,
            token_hash: [0; 32],
        }
    }

    fn op(d: &DeviceAuth, scope: ClientId, entity: EntityKind, change: Change) -> Operation {
        let change = match change {
            Change::Create { .. } => Change::Create {
                fields: fields(entity, d.worker),
            },
            other => other,
        };
        Operation {
            op_id: OpId::new(),
            hlc: Hlc {
                wall_ms: 1,
                counter: 0,
                node: d.device,
            },
            device_id: d.device,
            author: d.worker,
            scope,
            entity,
            entity_id: if entity == EntityKind::Client {
                scope.as_uuid()
            } else {
                uuid::Uuid::now_v7()
            },
            change,
        }
    }

    /// Valid fields of a new record (synthetic).
    fn fields(kind: EntityKind, w: WorkerId) -> FieldMap {
        let value = match kind {
            EntityKind::Client => serde_json::json!({"display_name": "Synthetic Client",
                "assigned_worker": w, "registered_on": "2026-01-05"}),
            EntityKind::Course => serde_json::json!({"worker_id": w, "enrolled_on": "2026-01-05",
                "planned_sessions": 6, "problem_areas": [], "status": "enrolled"}),
            _ => serde_json::json!({"author": w, "written_at": "2026-01-05T09:00:00Z",
                "text": "Reviewed"}),
        };
        serde_json::from_value(value).unwrap()
    }

    fn create() -> Change {
        Change::Create {
            fields: FieldMap::new(),
        }
    }

    #[test]
    fn a_worker_creates_a_client_and_its_records_in_one_batch() {
        let d = device(Role::Worker);
        let c = ClientId::new();
        let ops = vec![
            op(&d, c, EntityKind::Client, create()),
            op(&d, c, EntityKind::Course, create()),
        ];
        let plan = plan_push(&d, &ops, &PushContext::default());
        assert_eq!(plan.acked, vec![ops[0].op_id, ops[1].op_id]);
        assert_eq!(plan.new_clients, vec![c]);
        assert!(plan.rejected.is_empty());
    }

    #[test]
    fn a_device_writes_only_as_its_own_worker() {
        let d = device(Role::Worker);
        let mut forged = op(&d, ClientId::new(), EntityKind::Client, create());
        forged.author = WorkerId::new();
        let honest = op(&d, ClientId::new(), EntityKind::Client, create());
        let batch = [forged.clone(), honest.clone()];
        let plan = plan_push(&d, &batch, &PushContext::default());
        assert_eq!(plan.acked, vec![honest.op_id]);
        assert_eq!(plan.rejected.len(), 1);
        assert_eq!(plan.rejected[0].op_id, forged.op_id);
        assert_eq!(plan.rejected[0].code, RejectCode::Invalid);
        assert!(plan.rejected[0].reason.contains("author"));
    }

    #[test]
    fn a_group_sees_what_the_pushes_before_it_wrote() {
        let a = device(Role::Worker);
        let b = device(Role::Worker);
        let c = ClientId::new();
        let mut ctx = PushContext::default();
        let first = vec![
            op(&a, c, EntityKind::Client, create()),
            op(&a, c, EntityKind::Course, create()),
        ];
        let plan = plan_push(&a, &first, &ctx);
        ctx.absorb(&a, &plan);
        // The same batch again (a retry that arrived at once): acknowledged, not stored twice.
        let again = plan_push(&a, &first, &ctx);
        assert_eq!(again.acked.len(), 2);
        assert!(again.accepted.is_empty() && again.new_clients.is_empty());
        // Another worker creating the same client id: refused, the first creator keeps it.
        let rival = op(&b, c, EntityKind::Client, create());
        let plan = plan_push(&b, std::slice::from_ref(&rival), &ctx);
        assert!(plan.accepted.is_empty());
        assert_eq!(plan.rejected[0].code, RejectCode::OutOfScope);
        // The first creator's later records for it are in scope.
        let later = [op(&a, c, EntityKind::Course, create())];
        assert_eq!(plan_push(&a, &later, &ctx).accepted.len(), 1);
    }

    #[test]
    fn refusals_do_not_block_the_rest_and_repeats_are_decided_once() {
        let d = device(Role::Worker);
        let c = ClientId::new();
        let mut foreign = op(&d, c, EntityKind::Client, create());
        foreign.device_id = DeviceId::new();
        let note = op(&d, c, EntityKind::SupervisorNote, create());
        let unknown = op(&d, ClientId::new(), EntityKind::Course, create());
        let good = op(&d, c, EntityKind::Client, create());
        let ops = vec![foreign, note, unknown, good.clone(), good.clone()];
        let plan = plan_push(&d, &ops, &PushContext::default());
        let codes: Vec<_> = plan.rejected.iter().map(|r| r.code).collect();
        assert_eq!(
            codes,
            [
                RejectCode::Invalid,
                RejectCode::Forbidden,
                RejectCode::OutOfScope
            ]
        );
        assert_eq!(plan.acked, vec![good.op_id]);
        assert_eq!(plan.accepted.len(), 1);
    }

    #[test]
    fn stored_ops_are_acked_when_identical_and_conflict_otherwise() {
        let d = device(Role::Worker);
        let c = ClientId::new();
        let a = op(&d, c, EntityKind::Client, create());
        let mut b = op(&d, c, EntityKind::Client, create());
        let mut ctx = PushContext::default();
        ctx.stored
            .insert(a.op_id, serde_json::to_string(&a).unwrap());
        ctx.stored
            .insert(b.op_id, serde_json::to_string(&b).unwrap());
        b.hlc.counter = 9;
        let batch = [a.clone(), b.clone()];
        let plan = plan_push(&d, &batch, &ctx);
        assert_eq!(plan.acked, vec![a.op_id]);
        assert!(plan.accepted.is_empty());
        assert_eq!(plan.rejected[0].code, RejectCode::Conflict);
    }

    #[test]
    fn roles_and_scope() {
        let sup = device(Role::Supervisor);
        let worker = device(Role::Worker);
        let admin = device(Role::Admin);
        let mine = ClientId::new();
        let other_team = ClientId::new();
        let mut ctx = PushContext::default();
        ctx.clients.insert(
            mine,
            ClientRow {
                org: "default".into(),
                worker: worker.worker,
                team: "north".into(),
            },
        );
        ctx.clients.insert(
            other_team,
            ClientRow {
                org: "default".into(),
                worker: WorkerId::new(),
                team: "south".into(),
            },
        );
        let ok = op(&sup, mine, EntityKind::SupervisorNote, create());
        let far = op(&sup, other_team, EntityKind::SupervisorNote, create());
        let course = op(&sup, mine, EntityKind::Course, create());
        let batch = [ok.clone(), far, course];
        let plan = plan_push(&sup, &batch, &ctx);
        assert_eq!(plan.acked, vec![ok.op_id]);
        let codes: Vec<_> = plan.rejected.iter().map(|r| r.code).collect();
        assert_eq!(codes, [RejectCode::OutOfScope, RejectCode::Forbidden]);

        let batch = [op(&admin, mine, EntityKind::Course, create())];
        let plan = plan_push(&admin, &batch, &ctx);
        assert_eq!(plan.rejected[0].code, RejectCode::Forbidden);

        let mut ctx2 = PushContext {
            clients: ctx.clients.clone(),
            ..PushContext::default()
        };
        ctx2.history.insert((other_team, worker.worker));
        let batch = [
            op(&worker, other_team, EntityKind::Course, create()),
            op(&worker, mine, EntityKind::Course, create()),
        ];
        let plan = plan_push(&worker, &batch, &ctx2);
        assert_eq!(plan.rejected[0].code, RejectCode::ClientReassigned);
        assert_eq!(plan.rejected[0].reason, REASSIGNED);
        assert_eq!(plan.acked.len(), 1);
    }

    fn row(seq: i64, kind: FeedKind, client: ClientId) -> FeedRow {
        let d = device(Role::Worker);
        let body = (kind != FeedKind::Removed)
            .then(|| serde_json::to_string(&op(&d, client, EntityKind::Client, create())).unwrap());
        FeedRow {
            seq,
            kind,
            client,
            body,
        }
    }

    #[test]
    fn pages_end_at_the_limit_or_jump_to_the_head() {
        let c = ClientId::new();
        let rows: Vec<_> = (1..=3).map(|s| row(s * 10, FeedKind::Op, c)).collect();
        let page = assemble_pull(rows.clone(), 2, 99, 0);
        assert_eq!((page.ops.len(), page.cursor, page.more), (2, 20, true));
        let page = assemble_pull(rows, 3, 99, 0);
        assert_eq!((page.ops.len(), page.cursor, page.more), (3, 99, false));
        let page = assemble_pull(vec![], 3, 99, 50);
        assert_eq!((page.cursor, page.more), (99, false));
    }

    #[test]
    fn an_operation_after_a_removal_of_its_client_starts_the_next_page() {
        let c = ClientId::new();
        let other = ClientId::new();
        let rows = vec![
            row(5, FeedKind::Op, c),
            row(6, FeedKind::Removed, c),
            row(7, FeedKind::Op, other),
            row(8, FeedKind::Replay, c),
        ];
        let page = assemble_pull(rows, 10, 8, 0);
        assert_eq!(page.ops.len(), 2);
        assert_eq!(page.removed, vec![c]);
        assert_eq!((page.cursor, page.more), (7, true));
    }

    #[test]
    fn a_cursor_from_the_future_restarts_from_zero() {
        assert_eq!(start_cursor(5, 10), 5);
        assert_eq!(start_cursor(11, 10), 0);
        assert_eq!(start_cursor(u64::MAX, 10), 0);
    }
}
