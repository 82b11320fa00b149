//! Bad input: every public write refuses invalid input with a typed error and changes nothing
//! (state rows, operations, outbox, audit); a malformed operation in a received batch is
//! rejected alone, leaving no trace, while the valid ones apply; a transaction whose closure
//! fails commits nothing; a locked store refuses writes.

use ipc_core::model::{
    Client, ClientId, Course, CourseStatus, QuestionnaireResponse, ReminderKind, RiskStatus,
    Session, SessionId, SupervisorNote,
};
use ipc_core::store::{Store, StoreError, Writer};
use ipc_core::sync::op::{Change, EntityKind};
use serde_json::json;

use crate::support::*;

/// A store with a client, a course, a session, a response and a supervisor note.
struct Fixture {
    t: TestStore,
    client: Client,
    course: Course,
    session: Session,
    response: QuestionnaireResponse,
    note: SupervisorNote,
    /// Another client with their own course.
    other_course: Course,
}

fn fixture() -> Fixture {
    let t = new_store();
    let today = today(&t);
    let me = t.store.identity().worker_id;
    let client = client(&t, "Amina Synthetic");
    let course = course(client.id, me, today);
    let session = session(&course, 1, today);
    let response = response(&course, today);
    let note = supervisor_note(client.id, me, start_time());
    let other = crate::support::client(&t, "Baraka Synthetic");
    let other_course = crate::support::course(other.id, me, today);
    write(&t.store, |w| {
        w.create(&client)?;
        w.create(&course)?;
        w.create(&session)?;
        w.create(&response)?;
        w.create(&note)?;
        w.create(&other)?;
        w.create(&other_course)?;
        Ok(())
    })
    .unwrap();
    Fixture {
        t,
        client,
        course,
        session,
        response,
        note,
        other_course,
    }
}

type Attempt<'a> = Box<dyn Fn(&mut Writer<'_>) -> Result<(), StoreError> + 'a>;
type Refused<'a> = (&'static str, Attempt<'a>, fn(&StoreError) -> bool);

/// Every refused call, with a check of its error.
fn refused_calls(f: &Fixture) -> Vec<Refused<'_>> {
    let today = today(&f.t);
    let me = f.t.store.identity().worker_id;
    let validation = |e: &StoreError| matches!(e, StoreError::Validation(_));
    let invalid_op = |e: &StoreError| matches!(e, StoreError::InvalidOperation(_));
    let no_such = |e: &StoreError| matches!(e, StoreError::NoSuchRecord { .. });
    let append_only = |e: &StoreError| matches!(e, StoreError::AppendOnly { .. });
    let c = f.client.clone();
    let co = f.course.clone();
    vec![
        (
            "client without name",
            Box::new({
                let mut x = client(&f.t, "x");
                x.display_name = String::new();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "client with a short phone",
            Box::new({
                let mut x = client(&f.t, "x");
                x.phone = Some("12".into());
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "client registered tomorrow",
            Box::new({
                let mut x = client(&f.t, "x");
                x.registered_on = today.succ_opt().unwrap();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "course of 0 sessions",
            Box::new({
                let mut x = course(c.id, me, today);
                x.planned_sessions = 0;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "ended course without reason",
            Box::new({
                let mut x = course(c.id, me, today);
                x.status = CourseStatus::Completed;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "session 0",
            Box::new({
                let mut x = session(&co, 1, today);
                x.number = 0;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "response without answers",
            Box::new({
                let mut x = response(&co, today);
                x.answers.clear();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "inventory closeness 9",
            Box::new({
                let mut x = inventory_entry(&co);
                x.closeness = 9;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "timeline event tomorrow",
            Box::new({
                let mut x = timeline_event(&co, today);
                x.date = today.succ_opt().unwrap();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "closed risk event without assessment",
            Box::new({
                let mut x = risk_event(&co, today);
                x.status = RiskStatus::Closed;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "referral updated before created",
            Box::new({
                let mut x = referral(&co, today);
                x.updated_on = today.pred_opt().unwrap();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "session reminder without course",
            Box::new({
                let mut x = reminder(&co, today);
                x.kind = ReminderKind::SessionDue;
                x.course_id = None;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "empty supervisor note",
            Box::new({
                let mut x = supervisor_note(c.id, me, start_time());
                x.text = " ".into();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "extra data not an object",
            Box::new({
                let mut x = extra(c.id, f.session.id.as_uuid());
                x.data = json!([1, 2]);
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            validation,
        ),
        (
            "create with an existing id",
            Box::new({
                let x = c.clone();
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            invalid_op,
        ),
        (
            "session in another client's course",
            Box::new({
                let mut x = session(&f.other_course, 1, today);
                x.client_id = c.id;
                move |w: &mut Writer<'_>| w.create(&x).map(drop)
            }),
            invalid_op,
        ),
        (
            "update to an invalid name",
            Box::new(move |w: &mut Writer<'_>| {
                w.update::<Client>(c.id.as_uuid(), |x| {
                    x.display_name = "\u{7}".into();
                    Ok(())
                })
                .map(drop)
            }),
            validation,
        ),
        (
            "update changing the id",
            Box::new(move |w: &mut Writer<'_>| {
                w.update::<Session>(f.session.id.as_uuid(), |x| {
                    x.id = SessionId::new();
                    Ok(())
                })
                .map(drop)
            }),
            invalid_op,
        ),
        (
            "update changing the client",
            Box::new(move |w: &mut Writer<'_>| {
                w.update::<Session>(f.session.id.as_uuid(), |x| {
                    x.client_id = ClientId::new();
                    Ok(())
                })
                .map(drop)
            }),
            invalid_op,
        ),
        (
            "update of a missing record",
            Box::new(|w: &mut Writer<'_>| {
                w.update::<Session>(SessionId::new().as_uuid(), |_| Ok(()))
                    .map(drop)
            }),
            no_such,
        ),
        (
            "delete of a missing record",
            Box::new(|w: &mut Writer<'_>| w.delete::<Client>(ClientId::new().as_uuid())),
            no_such,
        ),
        (
            "update of a response",
            Box::new(move |w: &mut Writer<'_>| {
                w.update::<QuestionnaireResponse>(f.response.id.as_uuid(), |x| {
                    x.total = Some(27);
                    Ok(())
                })
                .map(drop)
            }),
            append_only,
        ),
        (
            "update of a supervisor note",
            Box::new(move |w: &mut Writer<'_>| {
                w.update::<SupervisorNote>(f.note.id.as_uuid(), |x| {
                    x.text = "Changed".into();
                    Ok(())
                })
                .map(drop)
            }),
            append_only,
        ),
    ]
}

#[test]
fn invalid_writes_are_refused_and_change_nothing() {
    let f = fixture();
    let before = footprint(&f.t.store);
    for (what, attempt, expected) in refused_calls(&f) {
        let err = write(&f.t.store, |w| attempt(w)).expect_err(what);
        assert!(expected(&err), "{what}: unexpected error {err:?}");
        assert_eq!(footprint(&f.t.store), before, "{what} left a trace");
    }
}

/// A refused call inside a transaction that goes on and commits (a caller that shows the error
/// and continues) must leave no trace of the refused call: only the valid write is committed.
#[test]
fn a_refused_call_leaves_no_trace_in_a_committed_transaction() {
    let f = fixture();
    let mut leaks = Vec::new();
    for (what, attempt, expected) in refused_calls(&f) {
        let before = footprint(&f.t.store);
        let valid = client(&f.t, "Valid Synthetic");
        let err = write(&f.t.store, |w| {
            let err = attempt(w).expect_err(what);
            w.create(&valid)?;
            Ok(err)
        })
        .unwrap();
        assert!(expected(&err), "{what}: unexpected error {err:?}");
        let after = footprint(&f.t.store);
        let added_ops = after.ops.len() - before.ops.len();
        let added_audit = after.audit - before.audit;
        if added_ops != 1 || added_audit != 1 || after.outbox != before.outbox + 1 {
            leaks.push(format!(
                "{what}: {added_ops} operations and {added_audit} audit entries committed for 1 valid write"
            ));
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
}

#[test]
fn a_failing_transaction_commits_nothing() {
    let f = fixture();
    let before = footprint(&f.t.store);
    let today = today(&f.t);
    let result: Result<(), StoreError> = write(&f.t.store, |w| {
        w.create(&client(&f.t, "Rolled Back"))?;
        w.create(&session(&f.course, 2, today))?;
        w.update::<Client>(f.client.id.as_uuid(), |x| {
            x.village = Some("Elsewhere".into());
            Ok(())
        })?;
        Err(StoreError::InvalidOperation("the caller gave up"))
    });
    assert!(matches!(
        result,
        Err(StoreError::InvalidOperation("the caller gave up"))
    ));
    assert_eq!(footprint(&f.t.store), before);
    // The HLC was not persisted either: the next write continues from the committed one.
    let last = f.t.store.operations().unwrap().last().unwrap().hlc;
    let op = f.t.store.add(&client(&f.t, "Next Synthetic")).unwrap();
    assert!(op.hlc > last);
}

#[test]
fn a_locked_store_refuses_writes() {
    let f = fixture();
    let before = footprint(&f.t.store);
    f.t.store.lock().unwrap();
    let today = today(&f.t);
    let c = client(&f.t, "While Locked");
    assert!(matches!(f.t.store.add(&c), Err(StoreError::Locked)));
    assert!(matches!(
        write(&f.t.store, |w| w
            .create(&session(&f.course, 3, today))
            .map(drop)),
        Err(StoreError::Locked)
    ));
    let peer = Peer::new();
    assert!(matches!(
        f.t.store.apply_remote(&[peer.create(start_ms(), 0, &c)]),
        Err(StoreError::Locked)
    ));
    assert!(matches!(f.t.store.outbox(10), Err(StoreError::Locked)));
    assert_eq!(f.t.store.outbox_len().unwrap(), before.outbox);
    f.t.store.unlock(PIN).unwrap();
    let after = footprint(&f.t.store);
    let actions: Vec<String> =
        f.t.store
            .audit_log(2)
            .unwrap()
            .iter()
            .rev()
            .map(|e| e.action.as_str().to_string())
            .collect();
    assert_eq!(actions, ["lock", "unlock"]);
    assert_eq!(after.audit, before.audit + 2);
    assert_eq!(
        Footprint {
            audit: before.audit,
            counts: {
                let mut c = after.counts.clone();
                *c.get_mut("audit").unwrap() -= 2;
                c
            },
            ..after
        },
        before
    );
}

/// Apply `ops` to a fresh store holding the fixture's records (as remote operations).
fn remote_store(base: &[ipc_core::sync::op::Operation]) -> TestStore {
    let t = new_store();
    let r = t.store.apply_remote(base).unwrap();
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    t
}

#[test]
fn a_malformed_remote_operation_is_rejected_alone() {
    let peer = Peer::new();
    let other = Peer::new();
    let t0 = new_store();
    let today = today(&t0);
    let c = client(&t0, "Amina Synthetic");
    let co = course(c.id, peer.author, today);
    let s = session(&co, 1, today);
    let resp = response(&co, today);
    let c2 = client(&t0, "Baraka Synthetic");
    let co2 = course(c2.id, peer.author, today);
    let base = vec![
        peer.create(start_ms(), 0, &c),
        peer.create(start_ms(), 1, &co),
        peer.create(start_ms(), 2, &s),
        peer.create(start_ms(), 3, &resp),
        peer.create(start_ms(), 4, &c2),
        peer.create(start_ms(), 5, &co2),
    ];
    let w = start_ms() + 1_000;
    let fresh = ClientId::new();
    let mut bad = vec![
        peer.update(w, 0, &c, &[("shoe_size", json!("ZQXBAD1"))]),
        peer.update(w, 1, &c, &[("display_name", json!(5))]),
        peer.update(w, 2, &c, &[("registered_on", json!(20_260_302))]),
        peer.update(w, 3, &s, &[("completed", json!("ZQXBAD2"))]),
        peer.update(w, 4, &resp, &[("total", json!(27))]),
        peer.op(
            w,
            5,
            c.id,
            EntityKind::Client,
            c.id.as_uuid(),
            Change::Update {
                fields: Default::default(),
            },
        ),
        // The clock's node is not the sending device.
        {
            let mut op = peer.update(w, 6, &c, &[("village", json!("ZQXBAD3"))]);
            op.hlc.node = other.device;
            op
        },
        // A client record under another client's scope.
        peer.op(
            w,
            7,
            c2.id,
            EntityKind::Client,
            c.id.as_uuid(),
            Change::Update {
                fields: [("village".to_string(), json!("ZQXBAD4"))].into(),
            },
        ),
        // An existing session claimed by another client.
        peer.op(
            w,
            8,
            c2.id,
            EntityKind::Session,
            s.id.as_uuid(),
            Change::Update {
                fields: [("notes".to_string(), json!("ZQXBAD5"))].into(),
            },
        ),
        // A new session of a brand-new client, in another client's course: no placeholder for
        // the new client may remain.
        {
            let mut x = session(&co2, 1, today);
            x.client_id = fresh;
            x.notes = Some("ZQXBAD6".into());
            peer.create(w, 9, &x)
        },
        // A parent course that is not an id.
        peer.update(w, 10, &s, &[("course_id", json!("ZQXBAD7"))]),
    ];
    let good = vec![
        peer.update(w, 20, &c, &[("village", json!("Good Village"))]),
        peer.create(w, 21, &session(&co, 2, today)),
        peer.create(w, 22, &client(&t0, "Chausiku Synthetic")),
        peer.update(w, 23, &s, &[("notes", json!("Good notes"))]),
    ];
    // Interleave: good, bad, good, bad, …
    let mut batch = Vec::new();
    let mut g = good.clone().into_iter();
    for b in bad.drain(..) {
        if let Some(x) = g.next() {
            batch.push(x);
        }
        batch.push(b);
    }
    batch.extend(g);
    let bad_ids: Vec<_> = batch
        .iter()
        .filter(|o| !good.iter().any(|g| g.op_id == o.op_id))
        .map(|o| o.op_id)
        .collect();

    let mixed = remote_store(&base);
    let result = mixed.store.apply_remote(&batch).unwrap();
    assert_eq!(result.applied, good.len(), "{result:?}");
    assert_eq!(result.duplicates, 0);
    let rejected: Vec<_> = result.rejected.iter().map(|(id, _)| *id).collect();
    assert_eq!(rejected, bad_ids, "{:#?}", result.rejected);
    for (_, reason) in &result.rejected {
        assert!(
            !reason.contains("ZQXBAD"),
            "a value leaked into an error: {reason}"
        );
    }

    let clean = remote_store(&base);
    clean.store.apply_remote(&good).unwrap();
    let (m, c_) = (footprint(&mixed.store), footprint(&clean.store));
    assert_eq!(
        m.state, c_.state,
        "the rejected operations left state behind"
    );
    assert_eq!(m.counts, c_.counts);
    assert_eq!(m.audit, c_.audit);
    let ids = |s: &Store| {
        let mut v: Vec<String> = s
            .operations()
            .unwrap()
            .iter()
            .map(|o| o.op_id.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&mixed.store), ids(&clean.store));
    assert!(!row_ids(&mixed.store, "clients").contains(&fresh.to_string()));
    // Resending a rejected operation is rejected again (it was not stored as a duplicate).
    let again = mixed.store.apply_remote(&batch).unwrap();
    assert_eq!(again.duplicates, good.len());
    assert_eq!(again.rejected.len(), bad_ids.len());
}

/// A received value of the right JSON type but the wrong shape for its field (a date that is
/// not a date, an unknown enum value) or a create missing fields is refused like any other
/// malformed operation: once applied, such a row makes every read of its kind fail.
#[test]
fn a_remote_value_of_the_wrong_shape_is_rejected() {
    let t = new_store();
    let good = client(&t, "Good Synthetic");
    t.store.add(&good).unwrap();
    let before = footprint(&t.store);
    let peer = Peer::new();
    let shaped = |field: &str, value: serde_json::Value| {
        let c = client(&t, "Bad Synthetic");
        let mut fields = ipc_core::store::record::to_fields(&c).unwrap();
        fields.insert(field.to_string(), value);
        peer.op(
            start_ms(),
            0,
            c.id,
            EntityKind::Client,
            c.id.as_uuid(),
            Change::Create { fields },
        )
    };
    let partial = {
        let c = client(&t, "Partial Synthetic");
        peer.op(
            start_ms(),
            1,
            c.id,
            EntityKind::Client,
            c.id.as_uuid(),
            Change::Create {
                fields: [("display_name".to_string(), json!("Partial"))].into(),
            },
        )
    };
    let cases = [
        (
            "a date that is not a date",
            shaped("registered_on", json!("not a date")),
        ),
        ("an unknown enum value", shaped("sex", json!("zqx"))),
        (
            "a worker id that is not an id",
            shaped("assigned_worker", json!("nobody")),
        ),
        ("a create without most fields", partial),
        (
            "an update to a value of the wrong shape",
            peer.update(
                start_ms() + 5,
                2,
                &good,
                &[("registered_on", json!("soon"))],
            ),
        ),
    ];
    let mut accepted = Vec::new();
    for (what, op) in cases {
        let result = t.store.apply_remote(&[op]).unwrap();
        if result.rejected.len() != 1 {
            accepted.push(what);
        }
    }
    let listed = t.store.list::<Client>(ipc_core::store::Filter::All);
    assert!(
        accepted.is_empty() && footprint(&t.store) == before,
        "accepted {accepted:?}; listing clients now gives {:?}",
        listed.map(|v| v.len())
    );
}
