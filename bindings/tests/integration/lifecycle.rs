//! Create, open, unlock, lock, PIN change and recovery through the facade, and the errors a
//! PIN screen acts on.

use std::sync::Arc;

use ipc_bindings::types::Role;
use ipc_bindings::{create_store, IpcError, IpcStore};

use crate::support::{device, worker, MemoryKeystore, PIN};

#[test]
fn create_gives_an_unlocked_store_and_a_recovery_code() {
    let d = device(Role::Worker);
    assert!(d.store.is_unlocked());
    assert_eq!(d.recovery_code.len(), 47);
    assert_eq!(d.recovery_code.matches('-').count(), 7);
    assert!(d.store.caseload().unwrap().is_empty());
    let id = d.store.identity();
    assert_eq!(id.device_id.len(), 36);
    assert!(d.store.enrolment().unwrap().is_none());
}

#[test]
fn reopened_stores_are_locked_until_the_right_pin() {
    let d = device(Role::Worker);
    let store = IpcStore::open(d.path.clone(), d.keystore.clone()).unwrap();
    assert!(!store.is_unlocked());
    assert_eq!(store.caseload().unwrap_err(), IpcError::Locked);
    assert_eq!(store.worklist().unwrap_err(), IpcError::Locked);
    assert_eq!(
        store.unlock("0000".into()).unwrap_err(),
        IpcError::WrongPin { attempts_left: 9 }
    );
    assert_eq!(
        store.unlock("1111".into()).unwrap_err(),
        IpcError::WrongPin { attempts_left: 8 }
    );
    store.unlock(PIN.into()).unwrap();
    assert!(store.caseload().unwrap().is_empty());
    // The counter starts again after a success.
    store.lock().unwrap();
    assert_eq!(
        store.unlock("0000".into()).unwrap_err(),
        IpcError::WrongPin { attempts_left: 9 }
    );
}

#[test]
fn pin_rules_are_validation_errors_naming_the_pin() {
    let d = device(Role::Worker);
    match d.store.change_pin(PIN.into(), "12".into()).unwrap_err() {
        IpcError::Validation { field, .. } => assert_eq!(field, "pin"),
        other => panic!("{other:?}"),
    }
    // Nothing changed: the old PIN still unlocks.
    d.store.lock().unwrap();
    d.store.unlock(PIN.into()).unwrap();
}

#[test]
fn change_pin_then_recover_with_the_code() {
    let d = device(Role::Worker);
    d.store.change_pin(PIN.into(), "1357".into()).unwrap();
    d.store.lock().unwrap();
    assert!(matches!(
        d.store.unlock(PIN.into()),
        Err(IpcError::WrongPin { .. })
    ));
    // Forgotten PIN: the supervisor's recovery code sets a new one.
    match d
        .store
        .recover(
            "00000-00000-00000-00000-00000-00000-00000-00000".into(),
            "9753".into(),
        )
        .unwrap_err()
    {
        IpcError::Validation { field, .. } => assert_eq!(field, "recovery_code"),
        other => panic!("{other:?}"),
    }
    assert!(!d.store.is_unlocked());
    d.store
        .recover(d.recovery_code.to_lowercase(), "9753".into())
        .unwrap();
    assert!(d.store.is_unlocked());
    d.store.lock().unwrap();
    d.store.unlock("9753".into()).unwrap();
}

#[test]
fn storage_failures_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.db").to_str().unwrap().to_string();
    match IpcStore::open(missing, Arc::new(MemoryKeystore::default())).unwrap_err() {
        IpcError::Storage { code, .. } => assert_eq!(code, "not_found"),
        other => panic!("{other:?}"),
    }
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    match IpcStore::open(
        junk.to_str().unwrap().into(),
        Arc::new(MemoryKeystore::default()),
    )
    .unwrap_err()
    {
        IpcError::Storage { code, .. } => assert_eq!(code, "not_a_database"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read(&junk).unwrap(),
        vec![7u8; 8192],
        "left untouched"
    );
}

#[test]
fn a_second_store_on_the_same_keystore_is_a_conflict() {
    let d = device(Role::Worker);
    let other = d.dir.path().join("second.db").to_str().unwrap().to_string();
    let e = create_store(
        other,
        d.keystore.clone(),
        PIN.into(),
        worker("Synthetic", Role::Worker),
    )
    .err()
    .unwrap();
    assert!(matches!(e, IpcError::Conflict { .. }), "{e:?}");
}
