//! The outbox: local, unacknowledged operations only, oldest first; acknowledgements remove
//! them (idempotently); compaction drops acknowledged and received operations while merging
//! keeps working from the per-field clocks in the state; the HLC never goes backwards, across
//! a wall clock set back, a restart, and remote clocks from the future.

use ipc_core::clock::Clock;
use ipc_core::model::{Client, OpId};
use ipc_core::store::Filter;
use ipc_core::sync::op::{Change, EntityKind, Operation};
use serde_json::json;

use crate::support::*;

fn ids(ops: &[Operation]) -> Vec<OpId> {
    ops.iter().map(|o| o.op_id).collect()
}

fn village(t: &TestStore, c: &Client) -> Option<String> {
    t.store
        .get::<Client>(c.id.as_uuid())
        .unwrap()
        .unwrap()
        .village
}

#[test]
fn the_outbox_lists_local_operations_oldest_first() {
    let t = new_store();
    let peer = Peer::new();
    let mut local = Vec::new();
    let mut clients = Vec::new();
    for i in 0..6 {
        t.clock.advance_ms(1_000);
        let c = client(&t, &format!("Client Synthetic {i}"));
        local.push(t.store.add(&c).unwrap());
        // Interleave received operations with clocks between the local ones.
        let r = client(&t, &format!("Remote Synthetic {i}"));
        let remote = peer.create(start_ms() + 1_000 * (i + 1) + 500, 0, &r);
        assert_eq!(t.store.apply_remote(&[remote]).unwrap().applied, 1);
        clients.push(c);
    }
    let out = t.store.outbox(100).unwrap();
    assert_eq!(out, local);
    assert!(out.windows(2).all(|w| w[0].hlc < w[1].hlc));
    assert!(out
        .iter()
        .all(|o| o.device_id == t.store.identity().device_id));
    assert_eq!(t.store.outbox(2).unwrap(), local[..2]);
    assert_eq!(t.store.outbox_len().unwrap(), 6);
    assert_eq!(t.store.operations().unwrap().len(), 12);
}

#[test]
fn acknowledgements_remove_operations_from_the_outbox() {
    let t = new_store();
    let peer = Peer::new();
    let local: Vec<Operation> = (0..5)
        .map(|i| {
            t.store
                .add(&client(&t, &format!("Client Synthetic {i}")))
                .unwrap()
        })
        .collect();
    let remote = peer.create(start_ms(), 0, &client(&t, "Remote Synthetic"));
    t.store.apply_remote(std::slice::from_ref(&remote)).unwrap();

    assert_eq!(
        t.store
            .mark_acknowledged(&[local[0].op_id, local[2].op_id])
            .unwrap(),
        2
    );
    assert_eq!(
        ids(&t.store.outbox(100).unwrap()),
        [local[1].op_id, local[3].op_id, local[4].op_id]
    );
    // Idempotent; unknown and received ids are ignored.
    assert_eq!(
        t.store
            .mark_acknowledged(&[local[0].op_id, OpId::new(), remote.op_id])
            .unwrap(),
        0
    );
    assert_eq!(t.store.outbox_len().unwrap(), 3);
    assert_eq!(t.store.mark_acknowledged(&[]).unwrap(), 0);
    assert_eq!(t.store.mark_acknowledged(&ids(&local)).unwrap(), 3);
    assert!(t.store.outbox(100).unwrap().is_empty());
    assert_eq!(t.store.outbox_len().unwrap(), 0);
    // Acknowledged operations stay in the log until compaction.
    assert_eq!(t.store.operations().unwrap().len(), 6);
    // The acknowledgement survives a restart.
    let TestStore {
        dir: _dir,
        path,
        clock,
        store,
        ..
    } = t;
    drop(store);
    let store = reopen_unlocked(&path, &clock);
    assert_eq!(store.outbox_len().unwrap(), 0);
}

#[test]
fn compaction_keeps_pending_operations_and_merging_correct() {
    let t = new_store();
    let peer = Peer::new();
    let c = client(&t, "Amina Synthetic");
    let gone = client(&t, "Baraka Synthetic");
    let create = t.store.add(&c).unwrap();
    t.store.add(&gone).unwrap();
    t.clock.advance_ms(10_000);
    write(&t.store, |w| {
        w.update::<Client>(c.id.as_uuid(), |x| {
            x.village = Some("Local".into());
            Ok(())
        })?;
        w.delete::<Client>(gone.id.as_uuid())
    })
    .unwrap();
    let local_village_hlc = t.store.outbox(100).unwrap()[2].hlc;
    let pending: Vec<Operation> = (0..3)
        .map(|i| {
            t.store
                .add(&client(&t, &format!("Pending Synthetic {i}")))
                .unwrap()
        })
        .collect();
    let received = peer.update(start_ms() + 1, 0, &c, &[("address", json!("Plot 1"))]);
    t.store
        .apply_remote(std::slice::from_ref(&received))
        .unwrap();
    let all = t.store.operations().unwrap();
    let acked: Vec<OpId> = all
        .iter()
        .filter(|o| !ids(&pending).contains(&o.op_id) && o.device_id != peer.device)
        .map(|o| o.op_id)
        .collect();
    t.store.mark_acknowledged(&acked).unwrap();

    let state = dump_state(&t.store);
    assert_eq!(t.store.compact().unwrap(), all.len() - pending.len());
    assert_eq!(t.store.operations().unwrap(), pending);
    assert_eq!(t.store.outbox(100).unwrap(), pending);
    assert_eq!(dump_state(&t.store), state, "compaction changed the state");
    assert_eq!(t.store.compact().unwrap(), 0);

    // An older remote update of the village loses to the local one; of another field
    // written only at creation, it wins.
    let older = peer.update(
        local_village_hlc.wall_ms - 1,
        0,
        &c,
        &[("village", json!("Older")), ("sex", json!("male"))],
    );
    assert!(older.hlc > create.hlc);
    t.store.apply_remote(&[older]).unwrap();
    let now = t.store.get::<Client>(c.id.as_uuid()).unwrap().unwrap();
    assert_eq!(now.village.as_deref(), Some("Local"));
    assert_eq!(now.sex, Some(ipc_core::model::Sex::Male));
    // A newer one wins.
    let newer = peer.update(
        local_village_hlc.wall_ms + 1,
        0,
        &c,
        &[("village", json!("Newer"))],
    );
    t.store.apply_remote(&[newer]).unwrap();
    assert_eq!(village(&t, &c).as_deref(), Some("Newer"));
    // The compacted remote operation arriving again changes nothing.
    let before = dump_state(&t.store);
    t.store.apply_remote(&[received]).unwrap();
    assert_eq!(dump_state(&t.store), before);
    // The deleted client stays deleted, however new the update.
    let late = peer.update(
        local_village_hlc.wall_ms + 100_000,
        0,
        &gone,
        &[("village", json!("Resurrected"))],
    );
    t.store.apply_remote(&[late]).unwrap();
    assert!(t
        .store
        .list::<Client>(Filter::All)
        .unwrap()
        .iter()
        .all(|x| x.id != gone.id));
    // And a create re-delivered after compaction does not resurrect it either.
    let recreate = peer.op(
        start_ms() + 500_000,
        0,
        gone.id,
        EntityKind::Client,
        gone.id.as_uuid(),
        Change::Create {
            fields: ipc_core::store::record::to_fields(&gone).unwrap(),
        },
    );
    t.store.apply_remote(&[recreate]).unwrap();
    assert!(t.store.get::<Client>(gone.id.as_uuid()).unwrap().is_none());
}

#[test]
fn the_hlc_never_goes_backwards() {
    let t = new_store();
    let mut ops = Vec::new();
    // Registered a month ago, so that the clock set back stays after registration.
    let mut c = client(&t, "Amina Synthetic");
    c.registered_on = today(&t) - chrono::Days::new(30);
    ops.push(t.store.add(&c).unwrap());
    let edit = |t: &TestStore, v: &str| {
        write(&t.store, |w| {
            w.update::<Client>(c.id.as_uuid(), |x| {
                x.village = Some(v.into());
                Ok(())
            })?;
            Ok(())
        })
        .unwrap();
        t.store.outbox(u32::MAX).unwrap().pop().unwrap()
    };
    ops.push(edit(&t, "A"));
    // The phone's clock jumps back an hour, then a day.
    t.clock.advance_ms(-3_600_000);
    ops.push(edit(&t, "B"));
    ops.push(edit(&t, "C"));
    t.clock.advance_ms(-86_400_000);
    ops.push(edit(&t, "D"));
    // Several writes in one transaction.
    let many = write(&t.store, |w| {
        (0..3)
            .map(|i| w.create(&client(&t, &format!("Batch Synthetic {i}"))))
            .collect::<Result<Vec<_>, _>>()
    })
    .unwrap();
    ops.extend(many);
    // A restart with the clock further back.
    let TestStore {
        dir: _dir,
        path,
        clock,
        store,
        ..
    } = t;
    drop(store);
    clock.advance_ms(-7 * 86_400_000);
    let store = reopen_unlocked(&path, &clock);
    ops.push(
        store
            .write(|w| {
                w.update::<Client>(c.id.as_uuid(), |x| {
                    x.village = Some("E".into());
                    Ok(())
                })?;
                Ok::<_, ipc_core::store::StoreError>(())
            })
            .map(|()| store.outbox(u32::MAX).unwrap().pop().unwrap())
            .unwrap(),
    );
    // A remote clock from the future: local writes move past it.
    let peer = Peer::new();
    let future = peer.update(
        start_ms() + 365 * 86_400_000,
        7,
        &c,
        &[("address", json!("Far"))],
    );
    store.apply_remote(std::slice::from_ref(&future)).unwrap();
    let after = store
        .write(|w| {
            w.create(&client_for(
                store.identity().worker_id,
                clock.today(),
                "After",
            ))
        })
        .unwrap();
    assert!(after.hlc > future.hlc, "{} <= {}", after.hlc, future.hlc);
    ops.push(after);

    for pair in ops.windows(2) {
        assert!(
            pair[0].hlc < pair[1].hlc,
            "the HLC went backwards: {} then {}",
            pair[0].hlc,
            pair[1].hlc
        );
    }
    assert_eq!(store.outbox(u32::MAX).unwrap(), ops);
    // The later local value wins over the earlier one even though its wall clock was earlier.
    assert_eq!(
        store
            .get::<Client>(c.id.as_uuid())
            .unwrap()
            .unwrap()
            .village
            .as_deref(),
        Some("E")
    );
}

#[test]
fn the_first_enrolment_makes_earlier_unsent_work_the_enrolled_workers() {
    use ipc_core::model::{Role, WorkerId};
    use ipc_core::store::sync_state::Enrolment;
    let t = new_store();
    let local = t.store.identity().worker_id;
    let before = client(&t, "Client Synthetic Before");
    t.store.add(&before).unwrap();
    let enrolled = WorkerId::new();
    let enrolment = |worker_id| Enrolment {
        server: "http://127.0.0.1:9".into(),
        worker_id,
        role: Role::Worker,
        team: "north".into(),
    };
    t.store
        .set_enrolment(&enrolment(enrolled), "token-1")
        .unwrap();
    let after = client(&t, "Client Synthetic After");
    t.store.add(&after).unwrap();
    let ops = t.store.outbox(100).unwrap();
    assert_eq!(ops.len(), 2);
    // Re-sealed with the new author: the payloads still open, with the same change.
    assert!(ops.iter().all(|o| o.author == enrolled), "{ops:?}");
    assert!(matches!(&ops[0].change, Change::Create { .. }));
    assert_ne!(local, enrolled);
    // The audit trail keeps what happened: the first write was made as the local worker.
    assert!(t
        .store
        .audit_log(20)
        .unwrap()
        .iter()
        .any(|e| e.actor == local));
    // A later enrolment (another worker) re-authors nothing: the server refuses another
    // worker's operations, and the device shows them in quarantine.
    t.store
        .set_enrolment(&enrolment(WorkerId::new()), "token-2")
        .unwrap();
    assert!(t
        .store
        .outbox(100)
        .unwrap()
        .iter()
        .all(|o| o.author == enrolled));
    // The store reopens and reads the re-sealed operations.
    let path = t.path.clone();
    let clock = t.clock.clone();
    drop(t.store);
    let again = reopen_unlocked(&path, &clock);
    assert_eq!(again.outbox(100).unwrap().len(), 2);
}
