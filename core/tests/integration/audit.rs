//! The audit trail: every write and every unlock leaves an entry with the right action,
//! actor, device, time, record kind and id, operation id and field NAMES; writes that change
//! nothing leave none; the trail never holds values in clear.

use ipc_core::clock::Clock;
use ipc_core::model::{AuditAction, AuditEntry, Client, Session};
use ipc_core::store::keys::PinPolicy;
use ipc_core::sync::op::Operation;
use serde_json::json;

use crate::support::*;

fn last(t: &TestStore) -> AuditEntry {
    t.store.audit_log(1).unwrap().remove(0)
}

/// The entries added since `n` entries existed, oldest first.
fn since(t: &TestStore, n: usize) -> Vec<AuditEntry> {
    let all = t.store.audit_log(u32::MAX).unwrap();
    let mut added: Vec<AuditEntry> = all[..all.len() - n].to_vec();
    added.reverse();
    added
}

fn field_names(op: &Operation) -> Vec<String> {
    op.change
        .fields()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default()
}

fn assert_entry(e: &AuditEntry, t: &TestStore, action: AuditAction, op: &Operation) {
    assert_eq!(e.action, action);
    assert_eq!(e.actor, t.store.identity().worker_id);
    assert_eq!(e.device, t.store.identity().device_id);
    assert_eq!(e.at, t.clock.now());
    assert_eq!(e.entity_kind.as_deref(), Some(op.entity.as_str()));
    assert_eq!(e.entity_id, Some(op.entity_id));
    assert_eq!(e.op_id, Some(op.op_id));
    e.validate().unwrap();
}

#[test]
fn every_local_write_is_audited_with_its_field_names() {
    let t = new_store();
    let today = today(&t);
    // Creation itself is audited.
    let created = t.store.audit_log(10).unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].action, AuditAction::Create);
    assert_eq!(created[0].entity_id, None);

    let c = client(&t, "Amina Synthetic");
    t.clock.advance_ms(1_000);
    let op = t.store.add(&c).unwrap();
    let e = last(&t);
    assert_entry(&e, &t, AuditAction::Create, &op);
    assert_eq!(e.fields, field_names(&op));
    assert_eq!(
        e.fields,
        [
            "address",
            "assigned_worker",
            "birth_year",
            "consent",
            "display_name",
            "phone",
            "registered_on",
            "sex",
            "village"
        ]
    );

    // Several writes in one transaction: one entry each, in order.
    t.clock.advance_ms(1_000);
    let co = course(c.id, t.store.identity().worker_id, today);
    let s = session(&co, 1, today);
    let n = t.store.audit_log(u32::MAX).unwrap().len();
    let ops = write(&t.store, |w| {
        let a = w.create(&co)?;
        let b = w.create(&s)?;
        w.update::<Session>(s.id.as_uuid(), |x| {
            x.notes = Some("First session".into());
            x.task = Some("Walk daily".into());
            Ok(())
        })?;
        Ok((a, b))
    })
    .unwrap();
    let added = since(&t, n);
    assert_eq!(added.len(), 3);
    assert_entry(&added[0], &t, AuditAction::Create, &ops.0);
    assert_entry(&added[1], &t, AuditAction::Create, &ops.1);
    let update_op = t.store.outbox(100).unwrap().pop().unwrap();
    assert_entry(&added[2], &t, AuditAction::Update, &update_op);
    assert_eq!(added[2].fields, ["notes", "task"]);

    // An update that changes nothing writes no operation and no entry.
    let n = t.store.audit_log(u32::MAX).unwrap().len();
    write(&t.store, |w| {
        w.update::<Client>(c.id.as_uuid(), |x| {
            x.village = Some("Kibera".into());
            Ok(())
        })
    })
    .unwrap();
    assert_eq!(t.store.audit_log(u32::MAX).unwrap().len(), n);

    // A delete: no fields.
    t.clock.advance_ms(1_000);
    write(&t.store, |w| w.delete::<Session>(s.id.as_uuid())).unwrap();
    let del_op = t.store.outbox(100).unwrap().pop().unwrap();
    let e = last(&t);
    assert_entry(&e, &t, AuditAction::Delete, &del_op);
    assert!(e.fields.is_empty());

    // One entry per operation, exactly.
    let with_ops = t
        .store
        .audit_log(u32::MAX)
        .unwrap()
        .iter()
        .filter(|e| e.op_id.is_some())
        .count();
    assert_eq!(with_ops, t.store.operations().unwrap().len());
}

#[test]
fn received_operations_are_audited_as_their_author_and_device() {
    let t = new_store();
    let peer = Peer::new();
    let c = client(&t, "Amina Synthetic");
    let create = peer.create(start_ms(), 0, &c);
    let update = peer.update(
        start_ms() + 10,
        0,
        &c,
        &[
            ("village", json!("Mathare")),
            ("phone", json!("0700 111 222")),
        ],
    );
    let n = t.store.audit_log(u32::MAX).unwrap().len();
    t.store
        .apply_remote(&[create.clone(), update.clone()])
        .unwrap();
    let added = since(&t, n);
    assert_eq!(added.len(), 2);
    for (e, op) in added.iter().zip([&create, &update]) {
        assert_eq!(e.action, AuditAction::ApplyRemote);
        assert_eq!(e.actor, peer.author);
        assert_eq!(e.device, peer.device);
        assert_eq!(e.at, t.clock.now());
        assert_eq!(e.entity_id, Some(c.id.as_uuid()));
        assert_eq!(e.op_id, Some(op.op_id));
    }
    assert_eq!(added[1].fields, ["phone", "village"]);

    // A duplicate, and an older update that loses every field, leave no entry; an update that
    // wins some fields lists only those.
    let older = peer.update(start_ms() + 5, 0, &c, &[("village", json!("Older"))]);
    let partly = peer.update(
        start_ms() + 7,
        1,
        &c,
        &[("village", json!("Older")), ("address", json!("Plot 7"))],
    );
    t.store.apply_remote(&[update, older]).unwrap();
    assert_eq!(t.store.audit_log(u32::MAX).unwrap().len(), n + 2);
    t.store.apply_remote(std::slice::from_ref(&partly)).unwrap();
    let e = last(&t);
    assert_eq!(e.op_id, Some(partly.op_id));
    assert_eq!(e.fields, ["address"]);
}

#[test]
fn unlocks_locks_and_key_changes_are_audited() {
    let policy = PinPolicy::default();
    let t = new_store_with(policy, "Worker Synthetic");
    let actions = |t: &TestStore, n: usize| -> Vec<AuditAction> {
        since(t, n).iter().map(|e| e.action).collect()
    };
    let n = t.store.audit_log(u32::MAX).unwrap().len();
    t.store.lock().unwrap();
    t.store.lock().unwrap(); // already locked: nothing to audit
    assert!(t.store.unlock("999999").is_err());
    assert!(t.store.unlock("999998").is_err());
    t.store.unlock(PIN).unwrap();
    t.store.change_pin(PIN, "2468").unwrap();
    t.store.recover(&t.recovery, PIN).unwrap();
    assert_eq!(
        actions(&t, n),
        [
            AuditAction::Lock,
            AuditAction::UnlockFailed,
            AuditAction::UnlockFailed,
            AuditAction::Unlock,
            AuditAction::ChangePin,
            AuditAction::Recover,
        ]
    );
    for e in since(&t, n) {
        assert_eq!(e.entity_id, None);
        assert_eq!(e.op_id, None);
        assert!(e.fields.is_empty());
        e.validate().unwrap();
    }
}

#[test]
fn the_audit_trail_holds_no_values() {
    let t = new_store_with(PinPolicy::default(), "ZQXAUDITWORKER");
    let today = today(&t);
    let mut c = client(&t, "ZQXAUDITNAME");
    c.village = Some("ZQXAUDITVILLAGE".into());
    c.phone = Some("0799 555 444 3".into());
    let co = course(c.id, t.store.identity().worker_id, today);
    let mut s = session(&co, 1, today);
    s.notes = Some("ZQXAUDITNOTE".into());
    write(&t.store, |w| {
        w.create(&c)?;
        w.create(&co)?;
        w.create(&s)?;
        w.update::<Session>(s.id.as_uuid(), |x| {
            x.task = Some("ZQXAUDITTASK".into());
            Ok(())
        })?;
        w.delete::<Session>(s.id.as_uuid())
    })
    .unwrap();
    let peer = Peer::new();
    t.store
        .apply_remote(&[peer.update(
            start_ms() + 99_000,
            0,
            &c,
            &[("address", json!("ZQXAUDITADDRESS"))],
        )])
        .unwrap();
    let rows = audit_rows_text(&t.store);
    assert!(rows.len() >= 7, "{rows:#?}");
    for row in &rows {
        for needle in [
            "ZQXAUDIT",
            "zqxaudit",
            "0799 555 444 3",
            "Kibera",
            "0712 345 678",
        ] {
            assert!(!row.contains(needle), "audit row holds a value: {row}");
        }
    }
    // The field names are there.
    assert!(rows.iter().any(|r| r.contains("\"address\"")));
}
