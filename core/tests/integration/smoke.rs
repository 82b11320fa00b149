//! End-to-end smoke test of the store: create, write, read, reopen, unlock.

use ipc_core::model::Client;
use ipc_core::store::Filter;

use crate::support::*;

#[test]
fn create_write_reopen_read() {
    let t = new_store();
    let c = client(&t, "Amina Synthetic");
    t.store.add(&c).unwrap();
    let rows = t.store.caseload().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].display_name, "Amina Synthetic");
    assert_eq!(t.store.outbox(100).unwrap().len(), 1);
    drop(t.store);
    let store2 = reopen(&t.path, &t.clock);
    assert!(store2.list::<Client>(Filter::All).is_err());
    store2.unlock(PIN).unwrap();
    let clients: Vec<Client> = store2.list(Filter::All).unwrap();
    assert_eq!(clients, vec![c]);
}
