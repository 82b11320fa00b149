//! The local audit trail: who did what to which record, and when, for every write and every
//! unlock. It records ids, actions and field NAMES only — never values — so it holds no
//! personal data in clear text.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use uuid::Uuid;

use crate::model::{AuditAction, AuditEntry, DeviceId, OpId, WorkerId};
use crate::store::error::{Result, StoreError};
use crate::sync::op::EntityKind;

/// One audit record to append.
pub struct AuditRecord<'a> {
    /// When (system time).
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: WorkerId,
    /// On which device.
    pub device: DeviceId,
    /// What.
    pub action: AuditAction,
    /// Which kind of record, if any.
    pub entity: Option<(EntityKind, Uuid)>,
    /// The operation, if the action wrote one.
    pub op_id: Option<OpId>,
    /// Names of the fields written.
    pub fields: &'a [String],
}

/// Append an audit record (within the caller's transaction).
pub fn append(conn: &Connection, rec: &AuditRecord<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, device, action, entity_kind, entity_id, op_id, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(rusqlite::params![
        rec.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        rec.actor.to_string(),
        rec.device.to_string(),
        rec.action.as_str(),
        rec.entity.map(|(k, _)| k.as_str()),
        rec.entity.map(|(_, id)| id.to_string()),
        rec.op_id.map(|o| o.to_string()),
        serde_json::to_string(rec.fields)?,
    ])?;
    Ok(())
}

/// The most recent `limit` audit entries, newest first.
pub fn recent(conn: &Connection, limit: u32) -> Result<Vec<AuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, actor, device, action, entity_kind, entity_id, op_id, fields
         FROM audit ORDER BY seq DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, String>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, actor, device, action, kind, id, op, fields) = row?;
        let bad = |_| StoreError::Decode("audit entry");
        out.push(AuditEntry {
            seq,
            at: DateTime::parse_from_rfc3339(&at)
                .map_err(|_| StoreError::Decode("audit time"))?
                .with_timezone(&Utc),
            actor: WorkerId::parse(&actor).map_err(bad)?,
            device: DeviceId::parse(&device).map_err(bad)?,
            action: AuditAction::parse(&action).map_err(bad)?,
            entity_kind: kind,
            entity_id: id
                .map(|i| Uuid::try_parse(&i))
                .transpose()
                .map_err(|_| StoreError::Decode("audit entity"))?,
            op_id: op.map(|o| OpId::parse(&o)).transpose().map_err(bad)?,
            fields: serde_json::from_str(&fields)?,
        });
    }
    Ok(out)
}
