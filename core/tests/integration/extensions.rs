//! `extensions`: the fields a programme's forms collect that the model has no place for,
//! carried inside the record's own operation, encrypted at rest, merged like any field, and
//! invisible to the domain readers.

use ipc_core::model::{Reminder, Session};
use ipc_core::store::{Filter, StoreError};
use ipc_core::sync::op::{Change, EntityKind};
use serde_json::json;

use crate::support::*;

#[test]
fn a_record_created_with_extensions_reads_back_whole_and_unchanged_by_domain_edits() {
    let t = new_store();
    let today = today(&t);
    let c = client(&t, "Amina Synthetic");
    let co = course(c.id, t.store.identity().worker_id, today);
    let s = session(&co, 1, today);
    let ext =
        json!({"cht:session": {"location": {"lat": -1.25, "lon": 36.83}, "duration_min": 44}});
    let op = write(&t.store, |w| {
        w.create(&c)?;
        w.create(&co)?;
        w.create_with_extensions(&s, ext.clone())
    })
    .unwrap();
    // One operation carries the record and its extensions.
    let Change::Create { fields } = &op.change else {
        panic!("a create")
    };
    assert_eq!(fields.get("extensions"), Some(&ext));
    assert_eq!(fields.get("number"), Some(&json!(1)));
    // The domain struct reads back as written; the extensions read back on their own.
    let sessions: Vec<Session> = t.store.list(Filter::All).unwrap();
    assert_eq!(sessions, vec![s.clone()]);
    let got = read(&t.store, |r| {
        r.extensions(EntityKind::Session, s.id.as_uuid())
    })
    .unwrap();
    assert_eq!(got, Some(ext.clone()));
    // Editing the domain fields writes only those fields: the extensions stay.
    let update = write(&t.store, |w| {
        w.update::<Session>(s.id.as_uuid(), |x| {
            x.notes = Some("Second thoughts".into());
            Ok(())
        })?;
        Ok(())
    });
    assert!(update.is_ok());
    let got = read(&t.store, |r| {
        r.extensions(EntityKind::Session, s.id.as_uuid())
    })
    .unwrap();
    assert_eq!(got, Some(ext));
    // A record without extensions has none.
    let none = read(&t.store, |r| {
        r.extensions(EntityKind::Course, co.id.as_uuid())
    })
    .unwrap();
    assert_eq!(none, None);
}

#[test]
fn extensions_sync_to_another_device_and_merge_last_writer_wins() {
    let t = new_store();
    let today = today(&t);
    let c = client(&t, "Amina Synthetic");
    let co = course(c.id, t.store.identity().worker_id, today);
    let r = reminder(&co, today);
    let peer = Peer::new();
    let t0 = start_ms();
    let mut create = peer.create(t0, 0, &r);
    if let Change::Create { fields } = &mut create.change {
        fields.insert("extensions".into(), json!({"cht:task": {"v": 1}}));
    }
    let ops = vec![
        peer.create(t0, 0, &c),
        peer.create(t0, 1, &co),
        create,
        peer.update(
            t0 + 10,
            0,
            &r,
            &[("extensions", json!({"cht:task": {"v": 2}}))],
        ),
        // An older write loses.
        peer.update(
            t0 + 5,
            0,
            &r,
            &[("extensions", json!({"cht:task": {"v": 0}}))],
        ),
    ];
    t.store.apply_remote(&ops).unwrap();
    let got = read(&t.store, |x| {
        x.extensions(EntityKind::Reminder, r.id.as_uuid())
    })
    .unwrap();
    assert_eq!(got, Some(json!({"cht:task": {"v": 2}})));
    let reminders: Vec<Reminder> = t.store.list(Filter::All).unwrap();
    assert_eq!(reminders, vec![r.clone()]);
    // A tombstone removes them with the record.
    let del = peer.op(
        t0 + 20,
        0,
        c.id,
        EntityKind::Reminder,
        r.id.as_uuid(),
        Change::Delete,
    );
    t.store.apply_remote(&[del]).unwrap();
    let got = read(&t.store, |x| {
        x.extensions(EntityKind::Reminder, r.id.as_uuid())
    })
    .unwrap();
    assert_eq!(got, None);
}

#[test]
fn malformed_extensions_are_refused_and_nothing_is_written() {
    let t = new_store();
    let today = today(&t);
    let c = client(&t, "Amina Synthetic");
    let co = course(c.id, t.store.identity().worker_id, today);
    write(&t.store, |w| {
        w.create(&c)?;
        w.create(&co)?;
        Ok(())
    })
    .unwrap();
    let before = t.store.outbox(100).unwrap().len();
    let big = "x".repeat(ipc_core::model::EXTRA_MAX_BYTES);
    for bad in [
        json!([1, 2]),
        json!("text"),
        json!({"Not A Code": {}}),
        json!({"cht:session": 5}),
        json!({"cht:session": {"notes": big}}),
    ] {
        let s = session(&co, 1, today);
        let got = write(&t.store, |w| w.create_with_extensions(&s, bad.clone()));
        assert!(
            matches!(got, Err(StoreError::InvalidOperation(_))),
            "{got:?}"
        );
        assert!(t.store.get::<Session>(s.id.as_uuid()).unwrap().is_none());
    }
    assert_eq!(t.store.outbox(100).unwrap().len(), before);
    // The same checks guard received operations.
    let peer = Peer::new();
    let s = session(&co, 2, today);
    let mut create = peer.create(start_ms(), 0, &s);
    if let Change::Create { fields } = &mut create.change {
        fields.insert("extensions".into(), json!({"cht:session": [1]}));
    }
    let applied = t.store.apply_remote(&[create]);
    let refused = match applied {
        Err(_) => true,
        Ok(a) => !a.rejected.is_empty(),
    };
    assert!(refused, "a malformed received extension must be refused");
    assert!(t.store.get::<Session>(s.id.as_uuid()).unwrap().is_none());
}
