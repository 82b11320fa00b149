//! The storage conformance suite: every case is one generic function over `S: Storage`, run
//! against SQLite (a temporary file) and PostgreSQL (a fresh database per test, from
//! `IPC_TEST_POSTGRES_URL`). Both backends must give the same answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

/// Generate one test per case and backend.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (s, _dir) = crate::common::sqlite();
                    crate::suite::$case(&s).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(db) = crate::common::PgTestDb::create(stringify!($case)).await else {
                        return;
                    };
                    crate::suite::$case(&db.storage).await;
                    db.drop_db().await;
                }
            )*
        }
    };
}

conformance!(
    idempotent_push,
    invalid_operations_do_not_block_the_batch,
    pull_order_paging_and_cursor,
    columnar_pull_equals_row_pull,
    cursor_from_the_future_restarts,
    scope_per_role,
    supervisor_notes,
    reassignment,
    removal_and_return_in_one_pull_are_split,
    enrolment,
    enrolment_code_issuers,
    revocation,
    stats_count_each_thing_once,
    concurrent_pushes_are_never_skipped,
    concurrent_pushes_decide_as_one_after_another,
);

mod suite {
    use std::collections::HashSet;
    use std::time::Duration;

    use ipc_core::model::{ClientId, DeviceId, Role};
    use ipc_core::sync::op::{Change, EntityKind};
    use ipc_core::sync::wire::{PullFormat, RejectCode};
    use ipc_server::auth::{self, EnrolRefusal};
    use ipc_server::storage::now_ms;
    use ipc_server::{admin, ServerError, Stats, Storage};

    use crate::common::{device_for, enrolled, ids};

    const DAY_MS: i64 = 24 * 60 * 60 * 1000;

    pub async fn idempotent_push<S: Storage>(s: &S) {
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (c, create) = w.new_client();
        let edit = w.edit(c, 1);
        let r = w
            .sync(s, vec![create.clone(), create.clone(), edit.clone()])
            .await;
        assert_eq!(
            r.acked,
            vec![create.op_id, edit.op_id],
            "a repeat in one batch is acked once"
        );
        assert!(r.rejected.is_empty(), "{:?}", r.rejected);
        // The same operations again (a retry after a lost reply): acked, stored once.
        let r = w.sync(s, vec![create.clone(), edit.clone()]).await;
        assert_eq!(r.acked, vec![create.op_id, edit.op_id]);
        assert!(r.rejected.is_empty());
        assert_eq!(admin::stats(s).await.unwrap().ops, 2);
        // The same id with other content is a conflict and changes nothing.
        let mut forged = edit.clone();
        forged.change = w.edit(c, 2).change;
        let r = w.sync(s, vec![forged]).await;
        assert!(r.acked.is_empty());
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].code, RejectCode::Conflict);
        assert_eq!(admin::stats(s).await.unwrap().ops, 2);
        // Another device of the worker receives each operation exactly once.
        let mut w2 = device_for(s, w.worker).await;
        let (ops, removed) = w2.pull_all(s).await;
        assert_eq!(ids(&ops), vec![create.op_id, edit.op_id]);
        assert_eq!(ops[1], edit, "the body comes back unchanged");
        assert!(removed.is_empty());
    }

    pub async fn invalid_operations_do_not_block_the_batch<S: Storage>(s: &S) {
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (c, create) = w.new_client();
        let mut other_device = w.edit(c, 1);
        other_device.device_id = DeviceId::new();
        let mut clock_mismatch = w.edit(c, 2);
        clock_mismatch.hlc.node = DeviceId::new();
        let mut unknown_field = w.edit(c, 3);
        unknown_field.change = Change::Update {
            fields: [("no_such_field".to_string(), serde_json::json!(1))]
                .into_iter()
                .collect(),
        };
        let good = w.edit(c, 4);
        let r = w
            .sync(
                s,
                vec![
                    other_device,
                    create.clone(),
                    clock_mismatch,
                    unknown_field,
                    good.clone(),
                ],
            )
            .await;
        assert_eq!(r.acked, vec![create.op_id, good.op_id]);
        let codes: Vec<_> = r.rejected.iter().map(|x| x.code).collect();
        assert_eq!(codes, [RejectCode::Invalid; 3]);
        assert!(r.rejected.iter().all(|x| !x.reason.is_empty()));
        assert!(r.rejected[2].reason.contains("no_such_field"));
        assert_eq!(admin::stats(s).await.unwrap().ops, 2);
    }

    pub async fn pull_order_paging_and_cursor<S: Storage>(s: &S) {
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (c, create) = w.new_client();
        let mut all = vec![create];
        all.extend((0..24).map(|i| w.edit(c, i)));
        for batch in all.chunks(10) {
            let r = w.sync(s, batch.to_vec()).await;
            assert_eq!(r.acked, ids(batch));
            assert!(
                r.ops.is_empty(),
                "a device never gets its own operations back"
            );
        }
        let head = w.cursor;
        assert!(head >= 25);
        let mut w2 = device_for(s, w.worker).await;
        let p1 = w2.sync_limit(s, vec![], 10).await;
        assert_eq!((p1.ops.len(), p1.more), (10, true));
        let p2 = w2.sync_limit(s, vec![], 10).await;
        assert_eq!((p2.ops.len(), p2.more), (10, true));
        assert!(p2.cursor > p1.cursor);
        let p3 = w2.sync_limit(s, vec![], 10).await;
        assert_eq!((p3.ops.len(), p3.more), (5, false));
        assert_eq!(p3.cursor, head, "a short page jumps to the head");
        let got: Vec<_> = [p1.ops, p2.ops, p3.ops].concat();
        assert_eq!(ids(&got), ids(&all), "pull order is push order");
        // Idle: nothing, same cursor.
        let idle = w2.sync(s, vec![]).await;
        assert!(idle.ops.is_empty() && !idle.more);
        assert_eq!(idle.cursor, head);
        assert!(idle.server_time_ms > 0 && !idle.wipe);
        // Another worker's activity moves the head; this device skips it without rescanning.
        let mut other = enrolled(s, Role::Worker, "north").await;
        let (_, oc) = other.new_client();
        other.sync(s, vec![oc]).await;
        let idle = w2.sync(s, vec![]).await;
        assert!(idle.ops.is_empty());
        assert!(idle.cursor > head);
        assert_eq!(idle.cursor, other.cursor);
    }

    /// The same device at the same cursor gets the same page whether it asks for rows or a
    /// columnar page; the columnar reply carries its operations only in `op_columns`, and
    /// no page at all when it has no operations.
    pub async fn columnar_pull_equals_row_pull<S: Storage>(s: &S) {
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (c1, create1) = w.new_client();
        let (c2, create2) = w.new_client();
        let course = w.create(c1, EntityKind::Course);
        let delete = w.op(c1, EntityKind::Course, course.entity_id, Change::Delete);
        let mut all = vec![create1, create2, course];
        all.extend((0..6).map(|i| w.edit(if i % 2 == 0 { c1 } else { c2 }, i)));
        all.push(delete);
        let r = w.sync(s, all.clone()).await;
        assert_eq!(r.acked, ids(&all), "{:?}", r.rejected);
        let mut sup = enrolled(s, Role::Supervisor, "north").await;
        let note = sup.create(c2, EntityKind::SupervisorNote);
        let r = sup.sync(s, vec![note.clone()]).await;
        assert_eq!(r.acked, vec![note.op_id]);
        all.push(note);

        let mut w2 = device_for(s, w.worker).await;
        let mut got = Vec::new();
        for page in 0.. {
            assert!(page < 10, "paging ends");
            let cursor = w2.cursor;
            let mut rows = w2.sync_as(s, vec![], 4, PullFormat::Rows).await;
            w2.cursor = cursor;
            let mut cols = w2.sync_as(s, vec![], 4, PullFormat::Columns).await;
            assert!(rows.op_columns.is_none());
            assert!(cols.ops.is_empty(), "a columnar reply has no rows");
            assert_eq!(cols.op_columns.is_some(), !rows.ops.is_empty());
            assert_eq!(cols.op_count(), rows.ops.len());
            assert_eq!(
                (&cols.removed, cols.cursor, cols.more, cols.wipe),
                (&rows.removed, rows.cursor, rows.more, rows.wipe)
            );
            let row_ops = rows.take_ops().unwrap();
            assert_eq!(
                cols.take_ops().unwrap(),
                row_ops,
                "same operations, same order"
            );
            got.extend(row_ops);
            if !rows.more {
                break;
            }
        }
        assert_eq!(ids(&got), ids(&all));
        // Idle: no page at all.
        let idle = w2.sync_as(s, vec![], 4, PullFormat::Columns).await;
        assert!(idle.op_columns.is_none() && idle.ops.is_empty() && !idle.more);
    }

    pub async fn cursor_from_the_future_restarts<S: Storage>(s: &S) {
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (_, create) = w.new_client();
        w.sync(s, vec![create.clone()]).await;
        let mut w2 = device_for(s, w.worker).await;
        w2.cursor = 1_000_000;
        let r = w2.sync(s, vec![]).await;
        assert_eq!(
            ids(&r.ops),
            vec![create.op_id],
            "a cursor ahead of the server starts again"
        );
        assert_eq!(r.cursor, w.cursor);
    }

    pub async fn scope_per_role<S: Storage>(s: &S) {
        let mut a = enrolled(s, Role::Worker, "north").await;
        let mut b = enrolled(s, Role::Worker, "north").await;
        let mut sn = enrolled(s, Role::Supervisor, "north").await;
        let mut ss = enrolled(s, Role::Supervisor, "south").await;
        let mut admin_dev = enrolled(s, Role::Admin, "office").await;
        let (ca, ca_create) = a.new_client();
        let course = a.create(ca, EntityKind::Course);
        a.sync(s, vec![ca_create.clone(), course.clone()]).await;
        let (cb, cb_create) = b.new_client();
        let r = b.sync(s, vec![cb_create.clone()]).await;
        assert!(r.ops.is_empty(), "B does not see A's client");
        let (ops, _) = a.pull_all(s).await;
        assert!(ops.is_empty(), "A does not see B's client");
        let (ops, _) = sn.pull_all(s).await;
        assert_eq!(
            ids(&ops),
            vec![ca_create.op_id, course.op_id, cb_create.op_id],
            "a supervisor sees the team's clients"
        );
        let (ops, _) = ss.pull_all(s).await;
        assert!(ops.is_empty(), "another team's supervisor sees nothing");
        let (ops, _) = admin_dev.pull_all(s).await;
        assert!(ops.is_empty());
        // Writes outside the scope or the role.
        let r = b.sync(s, vec![b.edit(ca, 1)]).await;
        assert_eq!(r.rejected[0].code, RejectCode::OutOfScope);
        let r = b
            .sync(s, vec![b.create(ClientId::new(), EntityKind::Course)])
            .await;
        assert_eq!(r.rejected[0].code, RejectCode::OutOfScope, "unknown client");
        let r = sn.sync(s, vec![sn.create(ca, EntityKind::Course)]).await;
        assert_eq!(r.rejected[0].code, RejectCode::Forbidden);
        let (cx, cx_create) = sn.new_client();
        let r = sn.sync(s, vec![cx_create]).await;
        assert_eq!(
            r.rejected[0].code,
            RejectCode::Forbidden,
            "supervisors do not create clients"
        );
        let r = admin_dev.sync(s, vec![admin_dev.edit(cb, 1)]).await;
        assert_eq!(r.rejected[0].code, RejectCode::Forbidden);
        assert_eq!(
            admin::stats(s).await.unwrap().clients,
            2,
            "{cx} was not created"
        );
        assert_eq!(admin::stats(s).await.unwrap().ops, 3);
    }

    pub async fn supervisor_notes<S: Storage>(s: &S) {
        let mut a = enrolled(s, Role::Worker, "north").await;
        let mut b = enrolled(s, Role::Worker, "north").await;
        let mut sn = enrolled(s, Role::Supervisor, "north").await;
        let mut ss = enrolled(s, Role::Supervisor, "south").await;
        let (c, create) = a.new_client();
        a.sync(s, vec![create]).await;
        b.pull_all(s).await;
        let note = sn.create(c, EntityKind::SupervisorNote);
        let r = sn.sync(s, vec![note.clone()]).await;
        assert_eq!(r.acked, vec![note.op_id], "{:?}", r.rejected);
        let (ops, _) = a.pull_all(s).await;
        assert_eq!(ids(&ops), vec![note.op_id], "the worker receives the note");
        let (ops, _) = b.pull_all(s).await;
        assert!(ops.is_empty(), "other workers do not");
        let r = a
            .sync(s, vec![a.create(c, EntityKind::SupervisorNote)])
            .await;
        assert_eq!(r.rejected[0].code, RejectCode::Forbidden);
        let r = ss
            .sync(s, vec![ss.create(c, EntityKind::SupervisorNote)])
            .await;
        assert_eq!(
            r.rejected[0].code,
            RejectCode::OutOfScope,
            "another team's client"
        );
        let delete = sn.op(
            c,
            EntityKind::SupervisorNote,
            note.entity_id,
            Change::Delete,
        );
        let r = sn.sync(s, vec![delete]).await;
        assert_eq!(
            r.rejected[0].code,
            RejectCode::Forbidden,
            "supervisors only add notes"
        );
        assert_eq!(admin::stats(s).await.unwrap().ops, 2);
    }

    pub async fn reassignment<S: Storage>(s: &S) {
        let mut a = enrolled(s, Role::Worker, "north").await;
        let mut b = enrolled(s, Role::Worker, "north").await;
        let mut sn = enrolled(s, Role::Supervisor, "north").await;
        let mut c_dev = enrolled(s, Role::Worker, "south").await;
        let mut ss = enrolled(s, Role::Supervisor, "south").await;
        let (x, create) = a.new_client();
        let history = vec![create, a.create(x, EntityKind::Course), a.edit(x, 1)];
        a.sync(s, history.clone()).await;
        for d in [&mut b, &mut sn, &mut c_dev, &mut ss] {
            d.pull_all(s).await;
        }
        let before = admin::stats(s).await.unwrap();

        admin::assign(s, x, b.worker).await.unwrap();
        let (ops, removed) = b.pull_all(s).await;
        assert_eq!(
            ids(&ops),
            ids(&history),
            "the new worker gets the whole history in order"
        );
        assert!(removed.is_empty());
        let (ops, removed) = a.pull_all(s).await;
        assert!(ops.is_empty());
        assert_eq!(
            removed,
            vec![x],
            "the old worker's devices remove the client"
        );
        let (ops, removed) = sn.pull_all(s).await;
        assert!(
            ops.is_empty() && removed.is_empty(),
            "same team: nothing changes for the supervisor"
        );

        let late = a.edit(x, 2);
        let r = a.sync(s, vec![late.clone()]).await;
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].op_id, late.op_id);
        assert_eq!(r.rejected[0].code, RejectCode::ClientReassigned);
        assert_eq!(r.rejected[0].reason, ipc_server::rules::REASSIGNED);
        let r = c_dev.sync(s, vec![c_dev.edit(x, 3)]).await;
        assert_eq!(
            r.rejected[0].code,
            RejectCode::OutOfScope,
            "never assigned: out of scope"
        );
        let by_b = b.edit(x, 4);
        let r = b.sync(s, vec![by_b.clone()]).await;
        assert_eq!(r.acked, vec![by_b.op_id]);
        let (ops, _) = sn.pull_all(s).await;
        assert_eq!(ids(&ops), vec![by_b.op_id]);
        let (ops, _) = a.pull_all(s).await;
        assert!(
            ops.is_empty(),
            "the old worker no longer receives the client"
        );

        // To another team: that team's supervisor gets the history, the old team's loses it.
        admin::assign(s, x, c_dev.worker).await.unwrap();
        let mut full = history.clone();
        full.push(by_b.clone());
        let (ops, removed) = c_dev.pull_all(s).await;
        assert_eq!(ids(&ops), ids(&full));
        assert!(removed.is_empty());
        let (ops, removed) = ss.pull_all(s).await;
        assert_eq!(ids(&ops), ids(&full));
        assert!(removed.is_empty());
        let (ops, removed) = sn.pull_all(s).await;
        assert!(ops.is_empty());
        assert_eq!(removed, vec![x]);
        let (_, removed) = b.pull_all(s).await;
        assert_eq!(removed, vec![x]);

        // Back to the first worker: the history comes back and their edits are accepted.
        admin::assign(s, x, a.worker).await.unwrap();
        let (ops, _) = a.pull_all(s).await;
        assert_eq!(ids(&ops), ids(&full));
        let again = a.edit(x, 5);
        assert_eq!(
            a.sync(s, vec![again.clone()]).await.acked,
            vec![again.op_id]
        );

        // Assigning to the current worker changes nothing.
        let head = a.cursor;
        admin::assign(s, x, a.worker).await.unwrap();
        let r = a.sync(s, vec![]).await;
        assert!(r.ops.is_empty() && r.removed.is_empty());
        assert_eq!(r.cursor, head);

        // Pre-assignment of a client the server has not seen yet.
        let (y, y_create) = b.new_client();
        admin::assign(s, y, b.worker).await.unwrap();
        assert_eq!(
            b.sync(s, vec![y_create.clone()]).await.acked,
            vec![y_create.op_id]
        );
        let r = a.sync(s, vec![a.edit(y, 1)]).await;
        assert_eq!(r.rejected[0].code, RejectCode::OutOfScope);

        // Only workers hold clients.
        assert!(matches!(
            admin::assign(s, x, sn.worker).await,
            Err(ServerError::NotAWorker(Role::Supervisor))
        ));
        assert!(matches!(
            admin::assign(s, x, ipc_core::model::WorkerId::new()).await,
            Err(ServerError::UnknownWorker(_))
        ));
        let after = admin::stats(s).await.unwrap();
        assert_eq!(after.ops, before.ops + 3, "replays store no new operations");
        assert_eq!(after.clients, before.clients + 1);
    }

    pub async fn removal_and_return_in_one_pull_are_split<S: Storage>(s: &S) {
        let mut a = enrolled(s, Role::Worker, "north").await;
        let b = enrolled(s, Role::Worker, "north").await;
        let (x, create) = a.new_client();
        a.sync(s, vec![create.clone()]).await;
        admin::assign(s, x, b.worker).await.unwrap();
        admin::assign(s, x, a.worker).await.unwrap();
        // The device applies a page's operations before its removals: the removal must come
        // in an earlier page than the returning history.
        let first = a.sync(s, vec![]).await;
        assert_eq!(first.removed, vec![x]);
        assert!(first.ops.is_empty());
        assert!(first.more);
        let second = a.sync(s, vec![]).await;
        assert_eq!(ids(&second.ops), vec![create.op_id]);
        assert!(second.removed.is_empty() && !second.more);
    }

    pub async fn enrolment<S: Storage>(s: &S) {
        let worker = admin::add_worker(s, "Synthetic Worker", "north", Role::Worker)
            .await
            .unwrap();
        let other = admin::add_worker(s, "Synthetic Other", "north", Role::Worker)
            .await
            .unwrap();
        let code = admin::enrol_code(s, worker, admin::DEFAULT_CODE_TTL)
            .await
            .unwrap();
        assert_eq!(code.len(), 14);
        let d1 = DeviceId::new();
        let first = auth::enrol(s, &code, d1, now_ms()).await.unwrap().unwrap();
        assert_eq!(
            (
                first.device.worker,
                first.device.role,
                first.device.team.as_str()
            ),
            (worker, Role::Worker, "north")
        );
        assert!(!first.device.revoked);
        assert_eq!(
            auth::authenticate(s, &first.token)
                .await
                .unwrap()
                .map(|d| d.device),
            Some(d1)
        );
        // One time only.
        let again = auth::enrol(s, &code, DeviceId::new(), now_ms())
            .await
            .unwrap();
        assert_eq!(again.unwrap_err(), EnrolRefusal::Used);
        // Typed loosely: lower case without dashes still identifies the (used) code.
        let loose = code.to_lowercase().replace('-', "");
        assert_eq!(
            auth::enrol(s, &loose, DeviceId::new(), now_ms())
                .await
                .unwrap()
                .unwrap_err(),
            EnrolRefusal::Used
        );
        // Expired.
        let old = admin::enrol_code_by(
            s,
            None,
            worker,
            Duration::from_secs(3600),
            now_ms() - DAY_MS,
        )
        .await
        .unwrap();
        assert_eq!(
            auth::enrol(s, &old, DeviceId::new(), now_ms())
                .await
                .unwrap()
                .unwrap_err(),
            EnrolRefusal::Expired
        );
        // Unknown or not a code.
        for bad in ["0000-0000-0000", "hello", ""] {
            assert_eq!(
                auth::enrol(s, bad, DeviceId::new(), now_ms())
                    .await
                    .unwrap()
                    .unwrap_err(),
                EnrolRefusal::Invalid
            );
        }
        // A device enrolled for another worker keeps its owner, and the code stays usable.
        let other_code = admin::enrol_code(s, other, admin::DEFAULT_CODE_TTL)
            .await
            .unwrap();
        assert_eq!(
            auth::enrol(s, &other_code, d1, now_ms())
                .await
                .unwrap()
                .unwrap_err(),
            EnrolRefusal::DeviceTaken
        );
        assert!(auth::enrol(s, &other_code, DeviceId::new(), now_ms())
            .await
            .unwrap()
            .is_ok());
        // The same worker re-enrolling the same device rotates its token.
        let code2 = admin::enrol_code(s, worker, admin::DEFAULT_CODE_TTL)
            .await
            .unwrap();
        let second = auth::enrol(s, &code2, d1, now_ms()).await.unwrap().unwrap();
        assert_ne!(second.token, first.token);
        assert!(auth::authenticate(s, &first.token).await.unwrap().is_none());
        assert!(auth::authenticate(s, &second.token)
            .await
            .unwrap()
            .is_some());
        // A forged token is unknown.
        let (forged, _) = auth::new_token().unwrap();
        assert!(auth::authenticate(s, &forged).await.unwrap().is_none());
        // Codes for unknown workers are refused; TTLs are bounded.
        assert!(matches!(
            admin::enrol_code(s, ipc_core::model::WorkerId::new(), admin::DEFAULT_CODE_TTL).await,
            Err(ServerError::UnknownWorker(_))
        ));
        assert!(matches!(
            admin::enrol_code(s, worker, Duration::ZERO).await,
            Err(ServerError::Invalid(_))
        ));
    }

    pub async fn enrolment_code_issuers<S: Storage>(s: &S) {
        let add = |name: &'static str, team: &'static str, role| async move {
            admin::add_worker(s, name, team, role).await.unwrap()
        };
        let worker = add("Synthetic Worker", "north", Role::Worker).await;
        let sup_north = add("Synthetic Supervisor N", "north", Role::Supervisor).await;
        let sup_south = add("Synthetic Supervisor S", "south", Role::Supervisor).await;
        let other_worker = add("Synthetic Worker 2", "north", Role::Worker).await;
        let admin_id = add("Synthetic Admin", "office", Role::Admin).await;
        let ttl = admin::DEFAULT_CODE_TTL;
        let now = now_ms();
        for (issuer, target, ok) in [
            (sup_north, worker, true),
            (sup_north, sup_north, true),
            (sup_south, worker, false),
            (sup_north, sup_south, false),
            (other_worker, worker, false),
            (admin_id, worker, true),
            (admin_id, sup_south, true),
        ] {
            let r = admin::enrol_code_by(s, Some(issuer), target, ttl, now).await;
            assert_eq!(r.is_ok(), ok, "{issuer} → {target}: {r:?}");
            if !ok {
                assert!(matches!(r, Err(ServerError::NotAllowed(_))));
            }
        }
    }

    pub async fn revocation<S: Storage>(s: &S) {
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (c, create) = w.new_client();
        w.sync(s, vec![create]).await;
        let cursor = w.cursor;
        assert_eq!(admin::stats(s).await.unwrap().devices, 1);
        admin::revoke(s, w.device).await.unwrap();
        admin::revoke(s, w.device).await.unwrap(); // idempotent
        assert!(w.auth(s).await.revoked);
        assert_eq!(admin::stats(s).await.unwrap().devices, 0);
        let listed = admin::devices(s).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!((listed[0].id, listed[0].worker), (w.device, w.worker));
        assert!(listed[0].revoked_at_ms.is_some());
        assert!(
            listed[0].last_seen_at_ms.is_some(),
            "a sync records when the device was seen"
        );
        // The last push is stored, and the reply says wipe with nothing pulled.
        let last = w.edit(c, 1);
        let mut other = device_for(s, w.worker).await;
        let (_, oc) = other.new_client();
        other.sync(s, vec![oc]).await;
        let r = w.sync(s, vec![last.clone()]).await;
        assert_eq!(r.acked, vec![last.op_id]);
        assert!(r.wipe);
        assert!(r.ops.is_empty() && r.removed.is_empty());
        assert_eq!(r.cursor, cursor, "the cursor does not move");
        let r = w.sync(s, vec![]).await;
        assert!(r.wipe && r.ops.is_empty());
        // Unknown devices cannot be revoked.
        assert!(matches!(
            admin::revoke(s, DeviceId::new()).await,
            Err(ServerError::UnknownDevice(_))
        ));
        // A new code re-enrols the (wiped) device.
        let code = admin::enrol_code(s, w.worker, admin::DEFAULT_CODE_TTL)
            .await
            .unwrap();
        let e = auth::enrol(s, &code, w.device, now_ms())
            .await
            .unwrap()
            .unwrap();
        assert!(!e.device.revoked);
    }

    pub async fn stats_count_each_thing_once<S: Storage>(s: &S) {
        assert_eq!(admin::stats(s).await.unwrap(), Stats::default());
        let mut w = enrolled(s, Role::Worker, "north").await;
        let _second = device_for(s, w.worker).await;
        enrolled(s, Role::Supervisor, "north").await;
        let (c1, a) = w.new_client();
        let (_, b) = w.new_client();
        w.sync(s, vec![a.clone(), b, w.edit(c1, 1)]).await;
        w.sync(s, vec![a]).await;
        assert_eq!(
            admin::stats(s).await.unwrap(),
            Stats {
                ops: 3,
                devices: 3,
                workers: 2,
                clients: 2
            }
        );
        let devices = admin::devices(s).await.unwrap();
        assert_eq!(devices.len(), 3);
        assert_eq!(devices.iter().filter(|d| d.worker == w.worker).count(), 2);
        assert!(devices.iter().all(|d| d.revoked_at_ms.is_none()));
        let listed = admin::workers(s).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed
            .iter()
            .any(|x| x.id == w.worker && x.role == Role::Worker));
        assert_eq!(s.worker(w.worker).await.unwrap().unwrap().team, "north");
        s.ping().await.unwrap();
    }

    pub async fn concurrent_pushes_are_never_skipped<S: Storage>(s: &S) {
        const WRITERS: usize = 6;
        const BATCHES: usize = 5;
        const PER_BATCH: usize = 20;
        let mut sup = enrolled(s, Role::Supervisor, "north").await;
        let mut writers = Vec::new();
        for _ in 0..WRITERS {
            writers.push(enrolled(s, Role::Worker, "north").await);
        }
        let mut tasks = Vec::new();
        for mut w in writers {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let (c, create) = w.new_client();
                let mut sent = vec![create.op_id];
                let r = w.sync(&s, vec![create]).await;
                assert_eq!(r.acked.len(), 1, "{:?}", r.rejected);
                for i in 0..BATCHES {
                    let batch: Vec<_> = (0..PER_BATCH)
                        .map(|j| w.edit(c, (i * 100 + j) as u32))
                        .collect();
                    sent.extend(ids(&batch));
                    let r = w.sync(&s, batch).await;
                    assert_eq!(r.acked.len(), PER_BATCH);
                }
                sent
            }));
        }
        // A supervisor pulls while the workers push; the cursor must never skip a commit.
        let mut received = Vec::new();
        let mut done = false;
        while !done {
            done = tasks.iter().all(|t| t.is_finished());
            let (ops, _) = sup.pull_all(s).await;
            received.extend(ops);
            tokio::task::yield_now().await;
        }
        let mut sent = HashSet::new();
        for t in tasks {
            sent.extend(t.await.unwrap());
        }
        let got: HashSet<_> = ids(&received).into_iter().collect();
        assert_eq!(got.len(), received.len(), "no operation twice");
        assert_eq!(got, sent, "every operation exactly once");
        assert_eq!(
            admin::stats(s).await.unwrap().ops as usize,
            WRITERS * (1 + BATCHES * PER_BATCH)
        );
    }
    /// Pushes that arrive together (PostgreSQL stores them in one transaction) are decided as
    /// if they came one after another: two workers creating the same client id — one wins,
    /// the other is refused; a batch sent twice at once — stored once, acknowledged twice;
    /// many devices at once — every operation stored once.
    pub async fn concurrent_pushes_decide_as_one_after_another<S: Storage>(s: &S) {
        // More than the PostgreSQL pool holds (32): pushes waiting must not starve the committer.
        const CROWD: usize = 40;
        let a = enrolled(s, Role::Worker, "north").await;
        let b = enrolled(s, Role::Worker, "north").await;
        let (x, a_create) = a.new_client();
        let b_create = b.op(
            x,
            EntityKind::Client,
            x.as_uuid(),
            Change::Create {
                fields: crate::common::fields(EntityKind::Client, b.worker),
            },
        );
        let a_course = a.create(x, EntityKind::Course);
        let mut crowd = Vec::new();
        for _ in 0..CROWD {
            crowd.push(enrolled(s, Role::Worker, "south").await);
        }
        for _round in 0..3 {
            let mut tasks = tokio::task::JoinSet::new();
            let a_batch = vec![a_create.clone(), a_course.clone()];
            for batch in [a_batch.clone(), a_batch] {
                let (s, mut a) = (s.clone(), a.clone());
                tasks.spawn(async move { ("a", a.sync(&s, batch).await) });
            }
            let (s2, mut b2, op) = (s.clone(), b.clone(), b_create.clone());
            tasks.spawn(async move { ("b", b2.sync(&s2, vec![op]).await) });
            for w in &crowd {
                let (s, mut w) = (s.clone(), w.clone());
                tasks.spawn(async move {
                    let (_, op) = w.new_client();
                    ("crowd", w.sync(&s, vec![op]).await)
                });
            }
            let (mut a_acks, mut b_acks, mut b_refusals, mut crowd_acks) = (0, 0, 0, 0);
            while let Some(done) = tokio::time::timeout(Duration::from_secs(60), tasks.join_next())
                .await
                .expect("concurrent pushes finish (no pool starvation)")
            {
                let (who, r) = done.unwrap();
                match who {
                    "a" => {
                        // Either both of A's are stored (A first), or the client create is
                        // refused because B created it first, and the course with it.
                        a_acks += r.acked.len();
                    }
                    "b" => {
                        b_acks += r.acked.len();
                        b_refusals += r.rejected.len();
                    }
                    _ => {
                        assert_eq!(r.acked.len(), 1, "{:?}", r.rejected);
                        crowd_acks += 1;
                    }
                }
            }
            assert_eq!(crowd_acks, CROWD);
            // Exactly one of the two creators owns the client.
            let owner_is_a = a_acks == 4;
            assert!(
                owner_is_a || b_acks == 1,
                "A acked {a_acks}, B acked {b_acks}"
            );
            assert!(!(owner_is_a && b_acks == 1), "both workers own the client");
            if owner_is_a {
                assert_eq!(b_refusals, 1);
            } else {
                assert_eq!((a_acks, b_refusals), (0, 0));
            }
        }
        // Three rounds: the client create and course once (or B's create once), and one
        // client per crowd device per round.
        let ops = admin::stats(s).await.unwrap().ops as usize;
        assert!(
            ops == 2 + 3 * CROWD || ops == 1 + 3 * CROWD,
            "{ops} operations stored"
        );
    }
}

/// Schema migrations: reopening keeps data; a newer schema is refused.
mod migrations {
    use ipc_core::model::Role;
    use ipc_server::{admin, ServerError, SqliteStorage};

    #[tokio::test]
    async fn sqlite_reopen_keeps_data_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.db");
        let s = SqliteStorage::open(&path).unwrap();
        admin::add_worker(&s, "Synthetic", "north", Role::Worker)
            .await
            .unwrap();
        drop(s);
        let s = SqliteStorage::open(&path).unwrap();
        assert_eq!(admin::stats(&s).await.unwrap().workers, 1);
        drop(s);
        assert_eq!(
            ipc_server::storage::sqlite::schema_version_of(&path).unwrap(),
            2
        );
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute("INSERT INTO schema_version (version) VALUES (99)", [])
            .unwrap();
        assert!(matches!(
            SqliteStorage::open(&path),
            Err(ServerError::SchemaTooNew {
                found: 99,
                supported: 2
            })
        ));
    }

    #[tokio::test]
    async fn open_storage_understands_urls() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.db");
        let s = ipc_server::open_storage(&format!("sqlite:{}", p.display()))
            .await
            .unwrap();
        assert_eq!(ipc_server::Storage::backend(&s), "sqlite");
        let bare = dir.path().join("b.db");
        ipc_server::open_storage(&bare.display().to_string())
            .await
            .unwrap();
        assert!(bare.exists());
        let err = ipc_server::open_storage("mysql://user:secret@host/db")
            .await
            .unwrap_err();
        assert!(matches!(err, ServerError::BadStorageUrl(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
        let err = ipc_server::open_storage("postgres://user:secret@host:notaport/db")
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[tokio::test]
    async fn postgres_reopen_keeps_data_and_refuses_newer_schemas() {
        let Some(db) = crate::common::PgTestDb::create("pg_migrations").await else {
            return;
        };
        admin::add_worker(&db.storage, "Synthetic", "north", Role::Worker)
            .await
            .unwrap();
        // A second server on the same database migrates nothing and sees the data.
        let again = ipc_server::PgStorage::from_config(db.config.clone())
            .await
            .unwrap();
        assert_eq!(admin::stats(&again).await.unwrap().workers, 1);
        again.close();
        let (client, conn) = db.config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let v: i64 = client
            .query_one("SELECT max(version) FROM schema_version", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, ipc_server::storage::postgres::SCHEMA_VERSION);
        client
            .execute("INSERT INTO schema_version VALUES (99)", &[])
            .await
            .unwrap();
        drop(client);
        let err = ipc_server::PgStorage::from_config(db.config.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ServerError::SchemaTooNew {
                    found: 99,
                    supported: ipc_server::storage::postgres::SCHEMA_VERSION
                }
            ),
            "{err}"
        );
        db.drop_db().await;
    }

    /// Version 2 → 3: the feed's rows for operations go (an operation's `ops.seq` is its
    /// place); replays, removals and the operations themselves stay; the feed then refuses
    /// operation rows. (Pulls over the v3 schema: the conformance cases above.)
    #[tokio::test]
    async fn postgres_v2_feed_migrates_to_v3() {
        use ipc_server::storage::postgres::STEPS;
        let Some(db) = crate::common::PgTestDb::create("pg_v2_to_v3").await else {
            return;
        };
        let (client, conn) = db.config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        // Back to an empty database, then the version 2 schema with data written by v2.
        client
            .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            .await
            .unwrap();
        client
            .batch_execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            .await
            .unwrap();
        for (v, step) in (1i64..).zip(&STEPS[..2]) {
            client.batch_execute(step).await.unwrap();
            client
                .execute("INSERT INTO schema_version VALUES ($1)", &[&v])
                .await
                .unwrap();
        }
        let (w, c) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let ops = [uuid::Uuid::now_v7(), uuid::Uuid::now_v7()];
        client
            .batch_execute(&format!(
                "INSERT INTO orgs VALUES ('default', 'Default organisation', 5, 0);
                 INSERT INTO workers VALUES ('{w}', 'default', 'Synthetic', 'north', 'worker', 0);
                 INSERT INTO clients VALUES ('{c}', 'default', '{w}', 'north', 0, 0);
                 INSERT INTO ops VALUES ('{o1}', 'default', 1, '{c}', '{w}', '{w}', 'client', '{c}', 'h1', '{{}}', 0),
                                        ('{o2}', 'default', 2, '{c}', '{w}', '{w}', 'course', '{c}', 'h2', '{{}}', 0);
                 INSERT INTO feed (org, seq, kind, client_id, op_id) VALUES
                     ('default', 1, 'op', '{c}', '{o1}'), ('default', 2, 'op', '{c}', '{o2}');
                 INSERT INTO feed (org, seq, kind, client_id, audience_worker) VALUES
                     ('default', 3, 'removed', '{c}', '{w}');
                 INSERT INTO feed (org, seq, kind, client_id, op_id, audience_worker) VALUES
                     ('default', 4, 'replay', '{c}', '{o1}', '{w}');",
                o1 = ops[0],
                o2 = ops[1],
            ))
            .await
            .unwrap();
        let storage = ipc_server::PgStorage::from_config(db.config.clone())
            .await
            .unwrap();
        let kinds: Vec<String> = client
            .query("SELECT kind FROM feed ORDER BY seq", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(kinds, ["removed", "replay"]);
        let n: i64 = client
            .query_one("SELECT count(*) FROM ops", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 2);
        // The feed may no longer hold operations.
        assert!(client
            .execute(
                &format!(
                    "INSERT INTO feed (org, seq, kind, client_id, op_id) VALUES
                     ('default', 9, 'op', '{c}', '{}')",
                    ops[0]
                ),
                &[]
            )
            .await
            .is_err());
        assert_eq!(admin::stats(&storage).await.unwrap().ops, 2);
        storage.close();
        drop(client);
        db.drop_db().await;
    }
}

/// The push committer (PostgreSQL) has a connection of its own, outside the pool.
mod postgres_committer {
    use std::time::Duration;

    use ipc_core::model::Role;
    use ipc_core::sync::wire::{PullFormat, SyncRequest, MAX_PULL_OPS, PROTOCOL_VERSION};
    use ipc_server::storage::now_ms;
    use ipc_server::{admin, Storage};

    use crate::common::{enrolled, PgTestDb};

    /// When the committer's connection is lost (here its backend is terminated, with the
    /// pool's), a push may fail while the loss is noticed, but none is acknowledged without
    /// being stored; the next push is stored on a new connection, and nothing twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lost_connection_acknowledges_nothing_unstored_and_is_made_again() {
        let Some(db) = PgTestDb::create("pg_committer_reconnect").await else {
            return;
        };
        let s = &db.storage;
        let mut w = enrolled(s, Role::Worker, "north").await;
        let (c, create) = w.new_client();
        assert_eq!(
            w.sync(s, vec![create.clone()]).await.acked,
            vec![create.op_id]
        );
        let auth = w.auth(s).await;

        let (admin_client, conn) = db.config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let killed = admin_client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .len();
        assert!(
            killed >= 2,
            "the committer's and a pooled connection ({killed})"
        );

        let edit = w.edit(c, 1);
        let mut failures = 0;
        let acked = loop {
            let request = SyncRequest {
                version: PROTOCOL_VERSION,
                cursor: 0,
                ops: vec![edit.clone()],
                pull_limit: MAX_PULL_OPS,
                device_time_ms: now_ms(),
                pull_format: PullFormat::Rows,
            };
            match s.sync(&auth, request, now_ms()).await {
                Ok(r) => break r.acked,
                Err(_) if failures < 5 => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("the committer did not reconnect: {e}"),
            }
        };
        assert_eq!(acked, vec![edit.op_id]);
        let stored: i64 = admin_client
            .query_one("SELECT count(*) FROM ops", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored, 2, "each operation once");
        assert_eq!(admin::stats(s).await.unwrap().ops, 2);
        drop(admin_client);
        db.drop_db().await;
    }
}
