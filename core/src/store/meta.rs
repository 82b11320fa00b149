//! The `meta` table: store identity, the persisted hybrid logical clock and the wrapped
//! keys. Values are clear text (JSON where structured); nothing in it is
//! personal data, and the wrapped keys are useless without the PIN and the device secret.

use rusqlite::{Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{Result, StoreError};

/// Keys of the `meta` table.
pub mod key {
    /// Random id of this store (binds wrapped keys to it).
    pub const STORE_ID: &str = "store_id";
    /// This device's id (the HLC node).
    pub const DEVICE_ID: &str = "device_id";
    /// The worker who uses this store.
    pub const WORKER_ID: &str = "worker_id";
    /// When the store was created (UTC, RFC 3339).
    pub const CREATED_AT: &str = "created_at";
    /// The last HLC issued or observed.
    pub const HLC: &str = "hlc";
    /// The data key wrapped by the PIN-derived key.
    pub const WRAPPED_PIN: &str = "wrapped_pin";
    /// The data key wrapped by the recovery-code-derived key.
    pub const WRAPPED_RECOVERY: &str = "wrapped_recovery";
}

/// Read a text value.
pub fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Read a required text value; a missing one means a damaged store.
pub fn require(conn: &Connection, key: &str) -> Result<String> {
    get(conn, key)?.ok_or(StoreError::Corrupt)
}

/// Write a text value.
pub fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([key, value])?;
    Ok(())
}

/// Read a JSON value.
pub fn get_json<T: DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    match get(conn, key)? {
        Some(s) => Ok(Some(serde_json::from_str(&s)?)),
        None => Ok(None),
    }
}

/// Write a JSON value.
pub fn set_json<T: Serialize>(conn: &Connection, key: &str, value: &T) -> Result<()> {
    set(conn, key, &serde_json::to_string(value)?)
}
