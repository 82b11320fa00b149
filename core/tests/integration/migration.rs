//! Schema migrations: every released schema is frozen in `tests/fixtures/schema_v<N>.sql`
//! (never edited afterwards); a database built from a frozen schema and migrated must equal a
//! fresh `schema::create` (sqlite_master rows with normalised SQL, and each table's columns,
//! indexes and foreign keys). Version 0 with our application id is an unfinished creation
//! (`Corrupt`); a newer version is refused without writing.
//!
//! Before changing `schema::SQL` for a new version, freeze the released one as
//! `schema_v<old>.sql` (a verbatim copy) and add it to `FROZEN`; never edit a fixture.

use ipc_core::store::schema::{self, APPLICATION_ID, VERSION};
use ipc_core::store::StoreError;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::support::*;

/// Frozen schemas: (version, SQL as released).
const FROZEN: &[(u32, &str)] = &[
    (1, include_str!("../fixtures/schema_v1.sql")),
    (2, include_str!("../fixtures/schema_v2.sql")),
];

/// Collapse whitespace and drop it around punctuation, so formatting does not matter.
fn normalise(sql: &str) -> String {
    let collapsed = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    let chars: Vec<char> = collapsed.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ' ' {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let punct = |x: Option<char>| matches!(x, Some('(' | ')' | ','));
            if punct(prev) || punct(next) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// The schema of a database: sqlite_master rows (type, name, tbl_name, normalised SQL) and,
/// per table, its columns, indexes and foreign keys as SQLite reports them.
fn schema_of(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    let mut stmt = conn
        .prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    let rows: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (ty, name, tbl, sql) in &rows {
        out.push(format!(
            "{ty} {name} on {tbl}: {}",
            sql.as_deref().map(normalise).unwrap_or_default()
        ));
        if ty == "table" {
            for pragma in ["table_xinfo", "index_list", "foreign_key_list"] {
                let mut stmt = conn
                    .prepare(&format!("SELECT * FROM pragma_{pragma}(?1)"))
                    .unwrap();
                let n = stmt.column_count();
                // index_list's first column is the creation order, which a migration that
                // recreates an index legitimately changes: leave it out and sort.
                let skip = usize::from(pragma == "index_list");
                let mut lines: Vec<String> = stmt
                    .query_map([name], |r| {
                        let cols: Vec<String> = (skip..n)
                            .map(|i| {
                                r.get_ref(i).map(|v| match v {
                                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                                    other => format!("{other:?}"),
                                })
                            })
                            .collect::<Result<_, _>>()?;
                        Ok(cols.join(","))
                    })
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                if skip == 1 {
                    lines.sort();
                }
                for line in lines {
                    out.push(format!("  {pragma}({name}): {line}"));
                }
            }
        }
    }
    out
}

fn pragma_u32(conn: &Connection, name: &str) -> u32 {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        .unwrap()
}

/// A database as a store of `version` left it before any data: the frozen schema, stamped.
fn frozen_database(conn: &Connection, version: u32, sql: &str) {
    conn.execute_batch(sql).unwrap();
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
}

#[test]
fn every_frozen_schema_migrates_to_the_current_one() {
    let mut fresh = Connection::open_in_memory().unwrap();
    schema::create(&mut fresh).unwrap();
    let expected = schema_of(&fresh);
    assert!(expected.iter().any(|l| l.starts_with("table clients")));
    for old in 1..VERSION {
        assert!(
            FROZEN.iter().any(|(v, _)| *v == old),
            "freeze the schema of version {old} in tests/fixtures"
        );
    }
    for (version, sql) in FROZEN {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("old.db")).unwrap();
        frozen_database(&conn, *version, sql);
        schema::migrate(&mut conn).unwrap();
        assert_eq!(pragma_u32(&conn, "user_version"), VERSION);
        assert_eq!(pragma_u32(&conn, "application_id"), APPLICATION_ID);
        let got = schema_of(&conn);
        let missing: Vec<&String> = expected.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<&String> = got.iter().filter(|l| !expected.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "schema v{version} migrated differs from a fresh one:\nmissing {missing:#?}\nextra {extra:#?}"
        );
        assert_eq!(got, expected);
    }
}

/// The comparison is sensitive to the differences a migration could leave behind.
#[test]
fn the_schema_comparison_sees_differences() {
    let mut fresh = Connection::open_in_memory().unwrap();
    schema::create(&mut fresh).unwrap();
    let base = schema_of(&fresh);
    for change in [
        "ALTER TABLE clients ADD COLUMN extra TEXT",
        "CREATE INDEX extra ON sessions(phase)",
        "DROP INDEX reminders_due",
    ] {
        let mut other = Connection::open_in_memory().unwrap();
        schema::create(&mut other).unwrap();
        other.execute_batch(change).unwrap();
        assert_ne!(schema_of(&other), base, "{change}");
    }
    // Formatting alone does not count.
    assert_eq!(
        normalise("CREATE TABLE x (\n  a  TEXT ,\n b INTEGER\n) STRICT"),
        normalise("CREATE TABLE x (a TEXT, b INTEGER) STRICT")
    );
}

#[test]
fn version_zero_with_our_application_id_is_corrupt() {
    let mut conn = Connection::open_in_memory().unwrap();
    frozen_database(&conn, 0, FROZEN[0].1);
    let before = schema_of(&conn);
    assert!(matches!(
        schema::migrate(&mut conn),
        Err(StoreError::Corrupt)
    ));
    assert_eq!(pragma_u32(&conn, "user_version"), 0);
    assert_eq!(schema_of(&conn), before);
}

#[test]
fn a_newer_version_is_refused_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::create(&mut conn).unwrap();
        conn.execute("CREATE TABLE from_the_future (x INTEGER)", [])
            .unwrap();
        conn.pragma_update(None, "user_version", VERSION + 3)
            .unwrap();
    }
    let before = snapshot(&path);
    {
        let mut conn = Connection::open(&path).unwrap();
        match schema::migrate(&mut conn) {
            Err(StoreError::NewerSchema { found, supported }) => {
                assert_eq!((found, supported), (VERSION + 3, VERSION));
            }
            other => panic!("expected NewerSchema, got {other:?}"),
        }
        assert_eq!(conn.total_changes(), 0);
        assert_eq!(pragma_u32(&conn, "user_version"), VERSION + 3);
    }
    assert_eq!(snapshot(&path), before);
}

#[test]
fn migrating_a_current_database_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("current.db");
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::create(&mut conn).unwrap();
    }
    let before = snapshot(&path);
    {
        let mut conn = Connection::open(&path).unwrap();
        schema::migrate(&mut conn).unwrap();
    }
    assert_eq!(snapshot(&path), before);
}

/// Column names of `table` in the schema `schema` of `conn`.
fn columns(conn: &Connection, schema: &str, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1, ?2)")
        .unwrap();
    stmt.query_map([table, schema], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// End to end: a populated store in every frozen format (built from the frozen schema and
/// filled with a current store's rows, column by column) opens through `Store::open`, which
/// migrates it; its data reads back unchanged, it passes the integrity check, its schema
/// equals a fresh one, and it accepts new writes.
#[test]
fn a_populated_old_store_opens_migrated_with_its_data() {
    let t = new_store();
    let today = today(&t);
    let c = client(&t, "Amina Synthetic");
    let co = course(c.id, t.store.identity().worker_id, today);
    let mut s = session(&co, 1, today);
    s.notes = Some("First session".into());
    write(&t.store, |w| {
        w.create(&c)?;
        w.create(&co)?;
        w.create(&s)?;
        w.create(&response(&co, today))?;
        Ok(())
    })
    .unwrap();
    let expected = dump_state(&t.store);
    let outbox = t.store.outbox(u32::MAX).unwrap();
    let TestStore {
        dir,
        path,
        clock,
        store,
        ..
    } = t;
    drop(store);

    let mut fresh = Connection::open_in_memory().unwrap();
    schema::create(&mut fresh).unwrap();
    for (version, sql) in FROZEN {
        let old = dir.path().join(format!("v{version}.db"));
        {
            let conn = Connection::open(&old).unwrap();
            conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
            frozen_database(&conn, *version, sql);
            conn.execute("ATTACH DATABASE ?1 AS src", [path.to_str().unwrap()])
                .unwrap();
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM main.sqlite_master WHERE type = 'table'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for table in tables {
                let current = columns(&conn, "src", &table);
                let shared: Vec<String> = columns(&conn, "main", &table)
                    .into_iter()
                    .filter(|c| current.contains(c))
                    .collect();
                let cols = shared.join(", ");
                conn.execute_batch(&format!(
                    "INSERT INTO main.{table} ({cols}) SELECT {cols} FROM src.{table}"
                ))
                .unwrap();
            }
            conn.execute_batch("DETACH DATABASE src").unwrap();
        }
        // The device secret belongs beside the database.
        let secrets = ipc_core::store::secret::FileSecretStore::beside(&path).unwrap();
        let old_secrets = ipc_core::store::secret::FileSecretStore::beside(&old).unwrap();
        std::fs::copy(
            secrets.path_for("device").unwrap(),
            old_secrets.path_for("device").unwrap(),
        )
        .unwrap();

        let store = reopen_unlocked(&old, &clock);
        store.check_integrity().unwrap();
        assert_eq!(dump_state(&store), expected, "v{version}: data changed");
        assert_eq!(store.outbox(u32::MAX).unwrap(), outbox);
        store
            .add(&client_for(
                store.identity().worker_id,
                today,
                "After Migration",
            ))
            .unwrap();
        drop(store);
        let conn = Connection::open(&old).unwrap();
        assert_eq!(pragma_u32(&conn, "user_version"), VERSION);
        assert_eq!(schema_of(&conn), schema_of(&fresh), "v{version}");
    }
}
