//! What the sync engine needs from the store besides the outbox: the pull cursor, the
//! device's credentials (the bearer token is encrypted with the data key), quarantine of
//! operations the server refused, and removal of clients that left the device's scope.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{ClientId, OpId, Role, WorkerId};
use crate::store::crypto::{Aad, FieldCipher};
use crate::store::error::{Result, StoreError};
use crate::store::meta;
use crate::store::spec::spec;
use crate::sync::op::EntityKind;

const CURSOR: &str = "sync_cursor";
const ENROLMENT: &str = "sync_enrolment";
const TOKEN: &str = "sync_token";

/// The device's enrolment with a sync server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// Base URL of the server.
    pub server: String,
    /// The worker the server knows this device by.
    pub worker_id: WorkerId,
    /// Their role.
    pub role: Role,
    /// Their team.
    pub team: String,
}

/// An operation the server refused, kept out of the outbox and shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuarantinedOp {
    /// The operation.
    pub op_id: OpId,
    /// Kind of record it changed.
    pub entity: String,
    /// Its client.
    pub scope: ClientId,
    /// The server's code (`client_reassigned`, `out_of_scope`, …).
    pub code: String,
    /// The server's reason.
    pub reason: String,
}

/// The last cursor applied (0 before the first sync).
pub fn cursor(conn: &Connection) -> Result<u64> {
    match meta::get(conn, CURSOR)? {
        Some(s) => s.parse().map_err(|_| StoreError::Corrupt),
        None => Ok(0),
    }
}

/// Record the cursor after applying a reply.
pub fn set_cursor(conn: &Connection, cursor: u64) -> Result<()> {
    meta::set(conn, CURSOR, &cursor.to_string())
}

fn token_aad() -> Aad {
    Aad::new_raw("ipc-kit/meta/v1", &[TOKEN.as_bytes()])
}

/// Save the enrolment and the (encrypted) token.
pub fn set_enrolment(
    conn: &Connection,
    cipher: &FieldCipher,
    e: &Enrolment,
    token: &str,
) -> Result<()> {
    meta::set_json(conn, ENROLMENT, e)?;
    let sealed = cipher.seal(&token_aad(), token.as_bytes())?;
    meta::set(conn, TOKEN, &hex(&sealed))?;
    meta::set(conn, meta::key::WORKER_ID, &e.worker_id.to_string())?;
    set_cursor(conn, 0)
}

/// The enrolment, if any.
pub fn enrolment(conn: &Connection) -> Result<Option<Enrolment>> {
    meta::get_json(conn, ENROLMENT)
}

/// The decrypted bearer token, if enrolled.
pub fn token(conn: &Connection, cipher: &FieldCipher) -> Result<Option<String>> {
    let Some(h) = meta::get(conn, TOKEN)? else {
        return Ok(None);
    };
    let sealed = unhex(&h).ok_or(StoreError::Corrupt)?;
    let plain = cipher.open(&token_aad(), &sealed)?;
    String::from_utf8(plain)
        .map(Some)
        .map_err(|_| StoreError::Corrupt)
}

/// Move refused operations out of the outbox, with the server's reason.
pub fn quarantine(conn: &Connection, refused: &[(OpId, String, String)]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE ops SET quarantine = ?2, quarantine_reason = ?3
         WHERE op_id = ?1 AND origin = 'local' AND acked = 0",
    )?;
    let mut n = 0;
    for (id, code, reason) in refused {
        n += stmt.execute(params![id.to_string(), code, reason])?;
    }
    Ok(n)
}

/// Operations in quarantine, oldest first.
pub fn quarantined(conn: &Connection) -> Result<Vec<QuarantinedOp>> {
    let mut stmt = conn.prepare_cached(
        "SELECT op_id, entity_kind, scope, quarantine, coalesce(quarantine_reason, '')
         FROM ops WHERE quarantine IS NOT NULL ORDER BY hlc",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get(1)?,
            r.get::<_, String>(2)?,
            r.get(3)?,
            r.get(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, entity, scope, code, reason) = row?;
        out.push(QuarantinedOp {
            op_id: OpId::parse(&id).map_err(|_| StoreError::Decode("op id"))?,
            entity,
            scope: ClientId::parse(&scope).map_err(|_| StoreError::Decode("op scope"))?,
            code,
            reason,
        });
    }
    Ok(out)
}

/// Remove every record of `client` from this device (it left the device's scope). Local
/// operations still waiting or quarantined are kept: they are this device's own unsent
/// work and the quarantine tells the user what was refused.
pub fn purge_client(conn: &Connection, client: ClientId) -> Result<usize> {
    let id = client.to_string();
    let mut n = 0;
    for kind in EntityKind::ALL.iter().rev() {
        let s = spec(*kind);
        let col = if *kind == EntityKind::Client {
            "id"
        } else {
            "client_id"
        };
        n += conn.execute(&format!("DELETE FROM {} WHERE {col} = ?1", s.table), [&id])?;
    }
    conn.execute(
        "DELETE FROM ops WHERE scope = ?1 AND (origin = 'remote' OR acked = 1)",
        [&id],
    )?;
    Ok(n)
}

/// Remove every clinical record and operation (the device was revoked).
pub fn wipe(conn: &Connection) -> Result<()> {
    for kind in EntityKind::ALL.iter().rev() {
        conn.execute(&format!("DELETE FROM {}", spec(*kind).table), [])?;
    }
    conn.execute("DELETE FROM ops", [])?;
    for key in [ENROLMENT, TOKEN, CURSOR] {
        conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    }
    Ok(())
}

/// Ids of the clients on this device (live or placeholder).
pub fn client_ids(conn: &Connection) -> Result<Vec<ClientId>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM clients ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for r in rows {
        let s = r?;
        out.push(ClientId::from_uuid(
            Uuid::try_parse(&s).map_err(|_| StoreError::Decode("client id"))?,
        ));
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}
