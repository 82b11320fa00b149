//! The operation log and outbox. Every operation is stored once (by `op_id`), its change
//! payload encrypted with associated data that binds every clear column (id, clock, device,
//! author, scope, record), so a tampered row fails to decrypt. Local operations stay in the
//! outbox until the server acknowledges them; acknowledged and received operations may be
//! compacted away, because the state tables keep the per-field clocks merging needs.

use rusqlite::{params, Connection};
use uuid::Uuid;

use crate::model::{ClientId, DeviceId, OpId, WorkerId};
use crate::store::crypto::{Aad, FieldCipher};
use crate::store::error::{Result, StoreError};
use crate::sync::op::{Change, EntityKind, Operation};

/// Where an operation came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written on this device: in the outbox until acknowledged.
    Local,
    /// Received from the server.
    Remote,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Local => "local",
            Origin::Remote => "remote",
        }
    }
}

fn aad(op: &Operation) -> Aad {
    aad_parts(op, op.change.kind_str())
}

fn aad_parts(op: &Operation, change_kind: &str) -> Aad {
    let hlc = op.hlc.to_string();
    Aad::new_raw(
        "ipc-kit/op/v1",
        &[
            op.op_id.as_bytes(),
            hlc.as_bytes(),
            op.device_id.as_bytes(),
            op.author.as_bytes(),
            op.scope.as_bytes(),
            op.entity.as_str().as_bytes(),
            op.entity_id.as_bytes(),
            change_kind.as_bytes(),
        ],
    )
}

/// Store an operation; `false` if its `op_id` was already stored (a duplicate).
pub fn insert(
    conn: &Connection,
    cipher: &FieldCipher,
    op: &Operation,
    origin: Origin,
) -> Result<bool> {
    let payload = cipher.seal(&aad(op), &serde_json::to_vec(&op.change)?)?;
    let n = conn
        .prepare_cached(
            "INSERT INTO ops (op_id, hlc, device_id, author, scope, entity_kind, entity_id,
                              change_kind, payload, origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (op_id) DO NOTHING",
        )?
        .execute(params![
            op.op_id.to_string(),
            op.hlc.to_string(),
            op.device_id.to_string(),
            op.author.to_string(),
            op.scope.to_string(),
            op.entity.as_str(),
            op.entity_id.to_string(),
            op.change.kind_str(),
            payload,
            origin.as_str(),
        ])?;
    Ok(n == 1)
}

const SELECT: &str = "SELECT op_id, hlc, device_id, author, scope, entity_kind, entity_id, change_kind, payload FROM ops";

fn decode(cipher: &FieldCipher, row: &rusqlite::Row<'_>) -> Result<Operation> {
    let text = |i: usize| row.get::<_, String>(i);
    let bad = |what: &'static str| StoreError::Decode(what);
    let op_id = OpId::parse(&text(0)?).map_err(|_| bad("op id"))?;
    let hlc = text(1)?.parse().map_err(|_| bad("op clock"))?;
    let device_id = DeviceId::parse(&text(2)?).map_err(|_| bad("op device"))?;
    let author = WorkerId::parse(&text(3)?).map_err(|_| bad("op author"))?;
    let scope = ClientId::parse(&text(4)?).map_err(|_| bad("op scope"))?;
    let entity = EntityKind::parse(&text(5)?).ok_or(bad("op kind"))?;
    let entity_id = Uuid::try_parse(&text(6)?).map_err(|_| bad("op record"))?;
    let change_kind: String = row.get(7)?;
    let payload: Vec<u8> = row.get(8)?;
    // Rebuild the associated data from the clear columns; the payload only opens if none of
    // them changed.
    let mut op = Operation {
        op_id,
        hlc,
        device_id,
        author,
        scope,
        entity,
        entity_id,
        change: Change::Delete,
    };
    let aad = aad_parts(&op, &change_kind);
    op.change = serde_json::from_slice(&cipher.open(&aad, &payload)?)?;
    if op.change.kind_str() != change_kind {
        return Err(StoreError::Decode("op change kind"));
    }
    Ok(op)
}

/// Local operations not yet acknowledged, oldest first, at most `limit`.
pub fn pending(conn: &Connection, cipher: &FieldCipher, limit: u32) -> Result<Vec<Operation>> {
    pending_bounded(conn, cipher, limit, usize::MAX)
}

/// The oldest unsent local operations: at most `limit`, and about `max_bytes` of JSON (always
/// at least one if any is waiting). Rows are decoded one at a time and reading stops at the
/// bound, so a batch never holds more decrypted operations than it sends.
pub fn pending_bounded(
    conn: &Connection,
    cipher: &FieldCipher,
    limit: u32,
    max_bytes: usize,
) -> Result<Vec<Operation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE origin = 'local' AND acked = 0 AND quarantine IS NULL ORDER BY hlc LIMIT ?1"
    ))?;
    let mut rows = stmt.query([limit])?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.next()? {
        let op = decode(cipher, row)?;
        if max_bytes < usize::MAX {
            let size = serde_json::to_vec(&op).map_or(0, |v| v.len());
            if !out.is_empty() && bytes.saturating_add(size) > max_bytes {
                break;
            }
            bytes = bytes.saturating_add(size);
        }
        out.push(op);
    }
    Ok(out)
}

/// Give the device's unsent local operations written as `from` the author `to`: at a store's
/// first enrolment, the work done before it (authored by the store's local worker id) becomes
/// the enrolled worker's, which the server requires of everything a device sends. Each
/// payload is opened with its old associated data and sealed again with the new. Returns how
/// many operations changed.
pub fn reauthor(
    conn: &Connection,
    cipher: &FieldCipher,
    from: WorkerId,
    to: WorkerId,
) -> Result<usize> {
    if from == to {
        return Ok(0);
    }
    let ops = {
        let mut stmt = conn.prepare_cached(&format!(
            "{SELECT} WHERE origin = 'local' AND acked = 0 AND author = ?1"
        ))?;
        let mut rows = stmt.query([from.to_string()])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(decode(cipher, row)?);
        }
        out
    };
    let mut update =
        conn.prepare_cached("UPDATE ops SET author = ?2, payload = ?3 WHERE op_id = ?1")?;
    for mut op in ops.iter().cloned() {
        op.author = to;
        let payload = cipher.seal(&aad(&op), &serde_json::to_vec(&op.change)?)?;
        update.execute(params![op.op_id.to_string(), to.to_string(), payload])?;
    }
    Ok(ops.len())
}

/// Every stored operation (local and remote), in HLC order.
pub fn all(conn: &Connection, cipher: &FieldCipher) -> Result<Vec<Operation>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY hlc"))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(cipher, row)?);
    }
    Ok(out)
}

/// Mark local operations acknowledged by the server; returns how many were newly marked.
/// Unknown ids are ignored (an acknowledgement may repeat after a lost reply).
pub fn mark_acknowledged(conn: &Connection, op_ids: &[OpId]) -> Result<usize> {
    let mut stmt = conn.prepare_cached(
        "UPDATE ops SET acked = 1 WHERE op_id = ?1 AND origin = 'local' AND acked = 0",
    )?;
    let mut n = 0;
    for id in op_ids {
        n += stmt.execute([id.to_string()])?;
    }
    Ok(n)
}

/// Drop acknowledged local and all received operations; returns how many were removed.
pub fn compact(conn: &Connection) -> Result<usize> {
    Ok(conn.execute("DELETE FROM ops WHERE origin = 'remote' OR acked = 1", [])?)
}

/// Number of local operations waiting for acknowledgement.
pub fn pending_count(conn: &Connection) -> Result<u64> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM ops WHERE origin = 'local' AND acked = 0 AND quarantine IS NULL",
        [],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}
