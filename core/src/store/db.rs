//! Opening the SQLite file: refuse anything that is not an ipc-kit store **before** SQLite
//! writes to it, set the connection pragmas, and run migrations.
//!
//! Policy (ADR 0002): a damaged, foreign or newer file is never deleted, truncated,
//! recreated or converted. The check reads the 100-byte SQLite header directly (magic string,
//! application id, schema version), so a non-database file is refused without SQLite ever
//! opening it for writing. Damage found later surfaces as [`StoreError::Corrupt`].

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::error::{Result, StoreError};
use super::schema;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Connection pragmas: WAL for crash safety and concurrent readers, foreign keys on, full
/// fsync on commit (a lost session is a real harm; the cost is measured in benchmarks).
pub const PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA secure_delete = ON;
PRAGMA busy_timeout = 5000;";

/// Prepared statements kept per connection: the generic write path and readers use a few
/// per kind (13 kinds), more than rusqlite's default of 16.
const STATEMENT_CACHE: usize = 256;

/// Read and check the header of an existing file without opening it with SQLite.
pub fn check_header(path: &Path) -> Result<()> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(e) => return Err(e.into()),
    };
    let mut header = [0u8; 100];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..])? {
            0 => return Err(StoreError::NotADatabase),
            n => read += n,
        }
    }
    if &header[..16] != SQLITE_MAGIC {
        return Err(StoreError::NotADatabase);
    }
    let app_id = u32::from_be_bytes([header[68], header[69], header[70], header[71]]);
    if app_id != schema::APPLICATION_ID {
        return Err(StoreError::ForeignDatabase);
    }
    let version = u32::from_be_bytes([header[60], header[61], header[62], header[63]]);
    if version > schema::VERSION {
        return Err(StoreError::NewerSchema {
            found: version,
            supported: schema::VERSION,
        });
    }
    Ok(())
}

/// Open an existing store (checked first), set pragmas and migrate.
pub fn open_existing(path: &Path) -> Result<Connection> {
    check_header(path)?;
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// Create a new store file; refuses to touch an existing file.
pub fn create_new(path: &Path) -> Result<Connection> {
    if path.exists() {
        return Err(StoreError::AlreadyExists);
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(PRAGMAS)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    schema::create(&mut conn)?;
    Ok(conn)
}
