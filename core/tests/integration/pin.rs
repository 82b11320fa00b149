//! PIN handling of the store (ADR 0003): wrong PINs count down, back off and lock out; the
//! recovery code clears a lock-out; a PIN change rewraps the key only; a wrong PIN writes
//! nothing to the database; the counter survives a restart; a missing device secret is
//! reported as such.

use std::time::Duration;

use ipc_core::model::Client;
use ipc_core::store::keys::{KeyError, PinPolicy};
use ipc_core::store::secret::{FileSecretStore, DEVICE_SECRET_NAME};
use ipc_core::store::{Filter, StoreError};

use crate::support::*;

const OTHER_PIN: &str = "135790";
const WRONG_PIN: &str = "000000";

/// Five attempts, two of them free, then 1 s, 2 s, 4 s (cap) waits.
fn policy() -> PinPolicy {
    PinPolicy {
        max_attempts: 5,
        free_attempts: 2,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(4),
    }
}

fn wrong_pin(r: Result<(), StoreError>) -> u32 {
    match r {
        Err(StoreError::WrongPin { attempts_left }) => attempts_left,
        other => panic!("expected WrongPin, got {other:?}"),
    }
}

fn too_soon(r: Result<(), StoreError>) -> u64 {
    match r {
        Err(StoreError::TooSoon { retry_after_ms }) => retry_after_ms,
        other => panic!("expected TooSoon, got {other:?}"),
    }
}

/// A store with a client, closed and reopened (locked) under the test policy.
fn locked_store() -> (TestStore, ipc_core::store::Store, Client) {
    let t = new_store_with(policy(), "Worker Synthetic");
    let c = client(&t, "Amina Synthetic");
    t.store.add(&c).unwrap();
    t.store.lock().unwrap();
    let store = reopen_with(&t.path, &t.clock, policy());
    (t, store, c)
}

#[test]
fn wrong_pins_count_down_back_off_and_lock_out() {
    let (t, store, _) = locked_store();
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 4);
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 3);
    // The free attempts are used up: the next one is allowed, then a wait is required.
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 2);
    assert_eq!(too_soon(store.unlock(WRONG_PIN)), 1_000);
    // The wait applies to the right PIN too, and a refused attempt is not counted.
    assert_eq!(too_soon(store.unlock(PIN)), 1_000);
    t.clock.advance_ms(999);
    assert_eq!(too_soon(store.unlock(PIN)), 1);
    t.clock.advance_ms(1);
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 1);
    assert_eq!(too_soon(store.unlock(WRONG_PIN)), 2_000);
    t.clock.advance_ms(2_000);
    assert!(matches!(
        store.unlock(WRONG_PIN),
        Err(StoreError::LockedOut)
    ));
    // Locked out: the right PIN no longer works, however long one waits, even after a restart.
    assert!(matches!(store.unlock(PIN), Err(StoreError::LockedOut)));
    t.clock.advance_ms(30 * 86_400_000);
    assert!(matches!(store.unlock(PIN), Err(StoreError::LockedOut)));
    assert!(!store.is_unlocked());
    drop(store);
    let store = reopen_with(&t.path, &t.clock, policy());
    assert!(matches!(store.unlock(PIN), Err(StoreError::LockedOut)));
    assert!(matches!(
        store.list::<Client>(Filter::All),
        Err(StoreError::Locked)
    ));
}

#[test]
fn recovery_code_clears_a_lock_out_and_sets_a_new_pin() {
    let (t, store, c) = locked_store();
    for _ in 0..2 {
        wrong_pin(store.unlock(WRONG_PIN));
    }
    for _ in 0..3 {
        t.clock.advance_ms(10_000);
        let _ = store.unlock(WRONG_PIN);
    }
    assert!(matches!(store.unlock(PIN), Err(StoreError::LockedOut)));

    // A malformed code and another store's (well-formed) code are refused.
    assert!(matches!(
        store.recover("not-a-code", OTHER_PIN),
        Err(StoreError::Key(KeyError::InvalidRecoveryCode))
    ));
    let other = new_store();
    assert!(matches!(
        store.recover(&other.recovery, OTHER_PIN),
        Err(StoreError::Key(KeyError::WrongRecoveryCode))
    ));
    assert!(!store.is_unlocked());

    store.recover(&t.recovery, OTHER_PIN).unwrap();
    assert!(store.is_unlocked());
    assert_eq!(store.list::<Client>(Filter::All).unwrap(), vec![c.clone()]);
    store.lock().unwrap();
    // The counter was cleared: the old PIN is simply wrong (full count), the new one works.
    assert_eq!(wrong_pin(store.unlock(PIN)), 4);
    store.unlock(OTHER_PIN).unwrap();
    drop(store);
    let store = reopen_with(&t.path, &t.clock, policy());
    assert_eq!(wrong_pin(store.unlock(PIN)), 4);
    store.unlock(OTHER_PIN).unwrap();
    assert_eq!(store.list::<Client>(Filter::All).unwrap(), vec![c]);
}

#[test]
fn change_pin_rewraps_the_key_only() {
    let t = new_store_with(policy(), "Worker Synthetic");
    let c = client(&t, "Amina Synthetic");
    t.store.add(&c).unwrap();
    let before = dump_state(&t.store);
    assert_eq!(
        wrong_pin(t.store.change_pin(WRONG_PIN, OTHER_PIN)),
        4,
        "a wrong old PIN is a counted wrong PIN"
    );
    t.store.change_pin(PIN, OTHER_PIN).unwrap();
    assert!(t.store.is_unlocked());
    assert_eq!(dump_state(&t.store), before);

    let TestStore {
        dir: _dir,
        path,
        clock,
        store,
        ..
    } = t;
    drop(store);
    let store = reopen_with(&path, &clock, policy());
    assert_eq!(wrong_pin(store.unlock(PIN)), 4);
    store.unlock(OTHER_PIN).unwrap();
    assert_eq!(dump_state(&store), before);
    assert_eq!(store.list::<Client>(Filter::All).unwrap(), vec![c]);
}

#[test]
fn invalid_pins_are_refused_without_using_an_attempt() {
    let (_t, store, _) = locked_store();
    assert!(matches!(
        store.unlock("12"),
        Err(StoreError::Key(KeyError::InvalidPin { .. }))
    ));
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 4);
}

#[test]
fn a_wrong_pin_leaves_the_database_byte_identical() {
    let t = new_store_with(policy(), "Worker Synthetic");
    t.store.add(&client(&t, "Amina Synthetic")).unwrap();
    let TestStore {
        dir: _dir,
        path,
        clock,
        store,
        ..
    } = t;
    drop(store);
    let closed = snapshot(&path);
    assert!(closed.files[""].is_some());
    assert_eq!(closed.files["-wal"], None, "closing checkpoints the WAL");

    let store = reopen_with(&path, &clock, policy());
    let db = || std::fs::read(&path).unwrap();
    let wal_len = || std::fs::metadata(companion(&path, "-wal")).map_or(0, |m| m.len());
    assert_eq!(
        Some(db()),
        closed.files[""],
        "opening wrote to the database"
    );
    wrong_pin(store.unlock(WRONG_PIN));
    wrong_pin(store.unlock(WRONG_PIN));
    assert_eq!(Some(db()), closed.files[""]);
    assert_eq!(wal_len(), 0, "a wrong PIN wrote to the WAL");
    drop(store);
    assert_eq!(snapshot(&path), closed);
}

#[test]
fn the_attempt_counter_survives_a_restart() {
    let (t, store, _) = locked_store();
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 4);
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 3);
    drop(store);
    let store = reopen_with(&t.path, &t.clock, policy());
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 2);
    // The back-off survives too.
    drop(store);
    let store = reopen_with(&t.path, &t.clock, policy());
    assert_eq!(too_soon(store.unlock(PIN)), 1_000);
    t.clock.advance_ms(1_000);
    // A success clears the counter.
    store.unlock(PIN).unwrap();
    store.lock().unwrap();
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 4);
}

fn remove_device_secret(t: &TestStore) -> Vec<u8> {
    let file = FileSecretStore::beside(&t.path)
        .unwrap()
        .path_for(DEVICE_SECRET_NAME)
        .unwrap();
    let secret = std::fs::read(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    secret
}

#[test]
fn a_missing_device_secret_is_reported() {
    let (t, store, _) = locked_store();
    remove_device_secret(&t);
    assert!(matches!(
        store.unlock(PIN),
        Err(StoreError::DeviceSecretMissing)
    ));
    assert!(matches!(
        store.recover(&t.recovery, OTHER_PIN),
        Err(StoreError::DeviceSecretMissing)
    ));
    drop(store);
    // Opening needs no secret; unlocking does.
    let store = reopen_with(&t.path, &t.clock, policy());
    assert!(matches!(
        store.unlock(PIN),
        Err(StoreError::DeviceSecretMissing)
    ));
    assert!(!store.is_unlocked());
}

/// A missing device secret is not a PIN problem: it must not use up PIN attempts (otherwise a
/// keystore hiccup locks the worker out after `max_attempts` launches).
#[test]
fn a_missing_device_secret_does_not_use_up_attempts() {
    let (t, store, _) = locked_store();
    let secret = remove_device_secret(&t);
    for _ in 0..3 {
        assert!(matches!(
            store.unlock(PIN),
            Err(StoreError::DeviceSecretMissing)
        ));
    }
    let file = FileSecretStore::beside(&t.path)
        .unwrap()
        .path_for(DEVICE_SECRET_NAME)
        .unwrap();
    std::fs::write(&file, secret).unwrap();
    assert_eq!(wrong_pin(store.unlock(WRONG_PIN)), 4);
    store.unlock(PIN).unwrap();
}
