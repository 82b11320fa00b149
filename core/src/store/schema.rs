//! The on-device SQLite schema: `VERSION`, the full current `SQL`, and `upgrade_from`.
//!
//! A new store runs `SQL` and stamps `user_version = VERSION`. An older store is upgraded
//! step by step by `upgrade_from`, in one IMMEDIATE transaction that also sets the version,
//! so a crash mid-migration leaves the old schema intact. A newer, unknown version is refused
//! without writing anything. Lessons for future migrations are kept in `migrations/NOTES.md`.
//!
//! State tables share a shape: `id` (UUID text), `client_id` (the sync scope), the domain
//! columns (sensitive ones are AES-256-GCM `BLOB`s), and three merge columns: `_created` (the
//! HLC of the create operation; NULL for a placeholder row seen only through a child or an
//! update), `_deleted` (the tombstone HLC) and `_clock` (per-field HLCs that differ from
//! `_created`, as JSON). The `ops` table is the operation log and outbox; `audit` is the
//! local audit trail; `meta` holds identity, the HLC and the wrapped keys.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::{Result, StoreError};
use super::spec::{spec, EXTENSIONS};
use crate::sync::op::EntityKind;

/// The schema version this build writes.
pub const VERSION: u32 = 3;

/// `PRAGMA application_id` of an ipc-kit store ("IPC1"), checked before a file is opened.
pub const APPLICATION_ID: u32 = 0x4950_4331;

/// The whole current schema, for new stores.
pub const SQL: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    display_name BLOB NOT NULL,
    role         TEXT NOT NULL,
    team         TEXT NOT NULL
) STRICT;

CREATE TABLE clients (
    id              TEXT PRIMARY KEY,
    display_name    BLOB,
    sex             BLOB,
    birth_year      BLOB,
    phone           BLOB,
    village         BLOB,
    address         BLOB,
    consent         TEXT,
    assigned_worker TEXT,
    registered_on   TEXT,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX clients_worker ON clients(assigned_worker);

CREATE TABLE courses (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL REFERENCES clients(id),
    worker_id        TEXT,
    enrolled_on      TEXT,
    planned_sessions INTEGER,
    problem_areas    BLOB,
    dispute_stage    BLOB,
    status           TEXT,
    end_reason       TEXT,
    end_note         BLOB,
    ended_on         TEXT,
    extension_reason BLOB,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX courses_client ON courses(client_id, enrolled_on);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    client_id     TEXT NOT NULL REFERENCES clients(id),
    course_id     TEXT REFERENCES courses(id),
    number        INTEGER,
    phase         TEXT,
    planned_date  TEXT,
    held_at       TEXT,
    attendance    TEXT,
    modality      TEXT,
    steps_done    TEXT,
    steps_skipped BLOB,
    notes         BLOB,
    task          BLOB,
    completed     INTEGER,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX sessions_course ON sessions(course_id, number);
CREATE INDEX sessions_client ON sessions(client_id);

CREATE TABLE screenings (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients(id),
    date         TEXT,
    response_ids TEXT,
    outcome      TEXT,
    note         BLOB,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX screenings_client ON screenings(client_id, date);

CREATE TABLE responses (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES clients(id),
    course_id          TEXT REFERENCES courses(id),
    session_id         TEXT,
    context            TEXT,
    instrument         TEXT,
    instrument_version TEXT,
    answers            BLOB,
    total              BLOB,
    band               BLOB,
    flags              BLOB,
    administered_at    TEXT,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX responses_client ON responses(client_id, administered_at);

CREATE TABLE inventory_entries (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients(id),
    course_id    TEXT REFERENCES courses(id),
    label        BLOB,
    relationship BLOB,
    closeness    BLOB,
    support      BLOB,
    conflict     BLOB,
    what_changed BLOB,
    expectations BLOB,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX inventory_course ON inventory_entries(course_id);

CREATE TABLE timeline_events (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id),
    course_id   TEXT REFERENCES courses(id),
    date        TEXT,
    event       BLOB,
    mood_change BLOB,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX timeline_course ON timeline_events(course_id, date);

CREATE TABLE risk_events (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id),
    course_id   TEXT REFERENCES courses(id),
    session_id  TEXT,
    trigger     TEXT,
    opened_at   TEXT,
    observation BLOB,
    assessment  BLOB,
    status      TEXT,
    closed_at   TEXT,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX risk_client ON risk_events(client_id, status);

CREATE TABLE referrals (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(id),
    course_id   TEXT REFERENCES courses(id),
    reason      BLOB,
    destination BLOB,
    urgency     TEXT,
    status      TEXT,
    created_on  TEXT,
    updated_on  TEXT,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX referrals_client ON referrals(client_id);

CREATE TABLE supervisor_notes (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(id),
    author     TEXT,
    written_at TEXT,
    text       BLOB,
    risk_event TEXT,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX notes_client ON supervisor_notes(client_id);

CREATE TABLE reminders (
    id        TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients(id),
    course_id TEXT REFERENCES courses(id),
    kind      TEXT,
    due       TEXT,
    status    TEXT,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX reminders_due ON reminders(status, due);

CREATE TABLE extras (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients(id),
    subject_kind TEXT,
    subject_id   TEXT,
    source       TEXT,
    data         BLOB,
    _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}',
    extensions BLOB
) STRICT;
CREATE INDEX extras_subject ON extras(subject_id);

CREATE TABLE ops (
    seq         INTEGER PRIMARY KEY,
    op_id       TEXT NOT NULL UNIQUE,
    hlc         TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    author      TEXT NOT NULL,
    scope       TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    change_kind TEXT NOT NULL,
    payload     BLOB NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
    acked       INTEGER NOT NULL DEFAULT 0,
    quarantine TEXT,
    quarantine_reason TEXT
) STRICT;
CREATE INDEX ops_outbox ON ops(hlc) WHERE origin = 'local' AND acked = 0 AND quarantine IS NULL;
CREATE INDEX ops_entity ON ops(entity_id);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    device      TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_kind TEXT,
    entity_id   TEXT,
    op_id       TEXT,
    fields      TEXT NOT NULL DEFAULT '[]'
) STRICT;
"#;

/// The schema version of an open database.
pub fn user_version(conn: &Connection) -> Result<u32> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt)
}

/// Create the schema in an empty database.
pub fn create(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(SQL)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Bring an existing store to `VERSION`, or refuse a newer one. Writes nothing when the
/// store is current.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    let found = user_version(conn)?;
    if found == VERSION {
        return Ok(());
    }
    if found > VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: VERSION,
        });
    }
    if found == 0 {
        // An ipc-kit application id with version 0 is a store whose creation never committed.
        return Err(StoreError::Corrupt);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read inside the lock: another connection may have migrated meanwhile.
    let mut version = user_version(&tx)?;
    while version < VERSION {
        upgrade_from(&tx, version)?;
        version += 1;
    }
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    Ok(())
}

/// One migration step: from `version` to `version + 1`.
pub fn upgrade_from(tx: &Transaction<'_>, version: u32) -> Result<()> {
    match version {
        // v2 (sync): quarantine of operations the server refused, and extra (imported)
        // fields kept encrypted per record.
        1 => tx.execute_batch(
            "ALTER TABLE ops ADD COLUMN quarantine TEXT;
             ALTER TABLE ops ADD COLUMN quarantine_reason TEXT;
             DROP INDEX ops_outbox;
             CREATE INDEX ops_outbox ON ops(hlc) WHERE origin = 'local' AND acked = 0 AND quarantine IS NULL;
             CREATE TABLE extras (
                 id           TEXT PRIMARY KEY,
                 client_id    TEXT NOT NULL REFERENCES clients(id),
                 subject_kind TEXT,
                 subject_id   TEXT,
                 source       TEXT,
                 data         BLOB,
                 _created TEXT, _deleted TEXT, _clock TEXT NOT NULL DEFAULT '{}'
             ) STRICT;
             CREATE INDEX extras_subject ON extras(subject_id);",
        )?,
        // v3: every record kind gets its `extensions` (imported fields the model has no place
        // for, carried in the record's own operation instead of a separate `extras` record).
        2 => {
            for kind in EntityKind::ALL {
                tx.execute_batch(&format!(
                    "ALTER TABLE {} ADD COLUMN {EXTENSIONS} BLOB;",
                    spec(kind).table
                ))?;
            }
        }
        _ => {
            return Err(StoreError::NewerSchema {
                found: version,
                supported: VERSION,
            })
        }
    }
    Ok(())
}
