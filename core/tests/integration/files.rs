//! Corrupted and foreign files (ADR 0002): each is refused with the right typed error — or,
//! when damage lies past the header, surfaces as `Corrupt`/`NotADatabase` on use — never a
//! panic, and the file and its `-wal`/`-shm` companions are left byte-identical. `create`
//! never overwrites an existing file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipc_core::clock::ManualClock;
use ipc_core::model::{Client, Role, WorkerId};
use ipc_core::store::keys::KdfParams;
use ipc_core::store::schema::VERSION;
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{Filter, NewWorker, Store, StoreError};

use crate::support::*;

fn try_open(path: &Path) -> Result<Store, StoreError> {
    let clock = Arc::new(ManualClock::new(start_time()));
    Store::open(
        path,
        Arc::new(FileSecretStore::beside(path).unwrap()),
        config(&clock),
    )
}

/// Open `path`, expecting a refusal; the files must be byte-identical afterwards.
fn refused(path: &Path) -> StoreError {
    let before = snapshot(path);
    let dir = path.parent().unwrap();
    let listing = dir_listing(dir);
    let err = match try_open(path) {
        Ok(_) => panic!("a damaged or foreign file was opened"),
        Err(e) => e,
    };
    assert_eq!(snapshot(path), before, "the file was modified ({err:?})");
    assert_eq!(dir_listing(dir), listing, "files were created ({err:?})");
    err
}

/// A closed store with some data: its directory (kept alive) and path.
fn closed_store() -> (tempfile::TempDir, PathBuf) {
    let t = new_store();
    for i in 0..20 {
        t.store
            .add(&client(&t, &format!("Client Synthetic {i}")))
            .unwrap();
    }
    let TestStore {
        dir, path, store, ..
    } = t;
    drop(store);
    assert_eq!(snapshot(&path).files["-wal"], None);
    (dir, path)
}

fn file_in(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join("clinic.db");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_missing_file_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        try_open(&dir.path().join("nothing.db")),
        Err(StoreError::NotFound)
    ));
    assert!(dir_listing(dir.path()).is_empty());
}

#[test]
fn text_empty_and_random_files_are_not_databases() {
    let mut rng = SeededRng::new(7);
    let random: Vec<u8> = (0..8192).map(|_| rng.below(256) as u8).collect();
    let long_text = "This is a text file, not a database.\n".repeat(20);
    for bytes in [
        &b"hello, not a database\n"[..],
        long_text.as_bytes(),
        &[],
        &random,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = file_in(&dir, bytes);
        assert!(
            matches!(refused(&path), StoreError::NotADatabase),
            "{} bytes",
            bytes.len()
        );
    }
}

#[test]
fn another_apps_database_is_foreign() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
             INSERT INTO notes (body) VALUES ('shopping list');",
        )
        .unwrap();
    }
    assert!(matches!(refused(&path), StoreError::ForeignDatabase));
    // Another app's database in WAL mode, with its own application id.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA application_id = 1234;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )
        .unwrap();
    }
    assert!(matches!(refused(&path), StoreError::ForeignDatabase));
}

#[test]
fn a_store_with_a_garbled_header_is_not_a_database() {
    let (_dir, path) = closed_store();
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[..16] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(refused(&path), StoreError::NotADatabase));
}

#[test]
fn a_store_with_garbage_pages_reports_corruption_without_panicking() {
    // Garbage from page 2 on (open itself reads damaged pages), and in the last pages only
    // (open may succeed; use must then report the damage).
    for (seed, tail_only) in [(42, false), (43, true)] {
        let (_dir, path) = closed_store();
        let mut bytes = std::fs::read(&path).unwrap();
        let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let pages = bytes.len() / page;
        assert!(pages > 4, "the store has only {pages} pages");
        let from = if tail_only { (pages - 2) * page } else { page };
        let mut rng = SeededRng::new(seed);
        for b in &mut bytes[from..] {
            *b = rng.below(256) as u8;
        }
        std::fs::write(&path, &bytes).unwrap();
        let before = snapshot(&path);

        let outcome = std::panic::catch_unwind(|| match try_open(&path) {
            Err(e) => Err(e),
            Ok(store) => {
                let unlocked = store.unlock(PIN);
                let listed = store.list::<Client>(Filter::All);
                let outbox = store.outbox(1_000);
                let integrity = store.check_integrity();
                Ok((unlocked.err(), listed.err(), outbox.err(), integrity.err()))
            }
        });
        let outcome = outcome.unwrap_or_else(|_| panic!("a damaged store made the store panic"));
        let damaged = |e: &StoreError| matches!(e, StoreError::Corrupt | StoreError::NotADatabase);
        match outcome {
            Err(e) => assert!(damaged(&e), "open: {e:?}"),
            Ok((unlock, list, outbox, integrity)) => {
                assert!(
                    integrity.as_ref().is_some_and(damaged),
                    "integrity check: {integrity:?}"
                );
                let e = unlock
                    .or(list)
                    .or(outbox)
                    .expect("reading a damaged store succeeded");
                assert!(damaged(&e), "read: {e:?}");
            }
        }
        assert_eq!(snapshot(&path), before, "the damaged file was modified");
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let (_dir, path) = closed_store();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
    }
    assert_eq!(snapshot(&path).files["-wal"], None);
    match refused(&path) {
        StoreError::NewerSchema { found, supported } => {
            assert_eq!((found, supported), (VERSION + 1, VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn a_store_whose_creation_never_committed_is_corrupt() {
    let (_dir, path) = closed_store();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 0).unwrap();
    }
    assert!(matches!(refused(&path), StoreError::Corrupt));
}

#[test]
fn create_never_overwrites_an_existing_file() {
    for existing in [&b""[..], b"some precious bytes"] {
        let dir = tempfile::tempdir().unwrap();
        let path = file_in(&dir, existing);
        let before = snapshot(&path);
        let listing = dir_listing(dir.path());
        let clock = Arc::new(ManualClock::new(start_time()));
        let worker = NewWorker {
            id: WorkerId::new(),
            display_name: "Worker Synthetic".into(),
            role: Role::Worker,
            team: "team-a".into(),
        };
        let result = Store::create(
            &path,
            Arc::new(FileSecretStore::beside(&path).unwrap()),
            PIN,
            &worker,
            &KdfParams::insecure_for_tests(TEST_ITERATIONS),
            config(&clock),
        );
        assert!(matches!(result, Err(StoreError::AlreadyExists)));
        assert_eq!(snapshot(&path), before);
        assert_eq!(dir_listing(dir.path()), listing, "create left files behind");
    }
    // Over an existing store as well.
    let (dir, path) = closed_store();
    let before = snapshot(&path);
    let listing = dir_listing(dir.path());
    let clock = Arc::new(ManualClock::new(start_time()));
    let worker = NewWorker {
        id: WorkerId::new(),
        display_name: "Worker Synthetic".into(),
        role: Role::Worker,
        team: "team-a".into(),
    };
    let result = Store::create(
        &path,
        Arc::new(FileSecretStore::beside(&path).unwrap()),
        PIN,
        &worker,
        &KdfParams::insecure_for_tests(TEST_ITERATIONS),
        config(&clock),
    );
    assert!(matches!(result, Err(StoreError::AlreadyExists)));
    assert_eq!(snapshot(&path), before);
    assert_eq!(dir_listing(dir.path()), listing);
    // And the store still opens and unlocks.
    reopen_unlocked(&path, &clock);
}
