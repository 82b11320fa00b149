//! Generic readers: load live records of a kind by id, by client or by course, decrypting
//! their sensitive columns. Placeholders and tombstones are invisible here.

use rusqlite::Connection;
use serde_json::Map;
use uuid::Uuid;

use crate::model::ClientId;
use crate::store::crypto::FieldCipher;
use crate::store::error::Result;
use crate::store::record::{decode, from_fields, row_uuid, Entity};
use crate::store::spec::{spec, EXTENSIONS};
use crate::sync::op::EntityKind;

/// Which records to load.
#[derive(Clone, Copy, Debug)]
pub enum Filter {
    /// Every live record of the kind.
    All,
    /// One record.
    Id(Uuid),
    /// The records of one client.
    Client(ClientId),
    /// The records of one course (kinds with a course parent).
    Course(Uuid),
}

/// Load the live records of `E` matching `filter`, oldest first (ids are UUIDv7).
pub fn list<E: Entity>(conn: &Connection, cipher: &FieldCipher, filter: Filter) -> Result<Vec<E>> {
    let spec = spec(E::KIND);
    let client_col = if E::KIND == EntityKind::Client {
        "id"
    } else {
        "client_id"
    };
    // The domain structs have no `extensions`: leave that column sealed (see `extensions`).
    let columns: Vec<_> = spec
        .columns
        .iter()
        .filter(|c| c.name != EXTENSIONS)
        .collect();
    let cols: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let (cond, arg) = match filter {
        Filter::All => ("1 = 1".to_string(), None),
        Filter::Id(id) => ("id = ?1".to_string(), Some(id.to_string())),
        Filter::Client(c) => (format!("{client_col} = ?1"), Some(c.to_string())),
        Filter::Course(c) => ("course_id = ?1".to_string(), Some(c.to_string())),
    };
    let sql = format!(
        "SELECT id, {client_col}, {} FROM {} WHERE _created IS NOT NULL AND _deleted IS NULL AND {cond} ORDER BY id",
        cols.join(", "),
        spec.table
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = match &arg {
        Some(a) => stmt.query([a])?,
        None => stmt.query([])?,
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let client: String = row.get(1)?;
        let uuid = row_uuid(&id)?;
        let mut fields = Map::with_capacity(columns.len() + 2);
        for (i, col) in columns.iter().enumerate() {
            let value = decode(cipher, spec, col, &uuid, row.get_ref(i + 2)?)?;
            fields.insert(col.name.to_string(), value);
        }
        out.push(from_fields::<E>(&id, &client, fields)?);
    }
    Ok(out)
}

/// Load one live record.
pub fn get<E: Entity>(conn: &Connection, cipher: &FieldCipher, id: Uuid) -> Result<Option<E>> {
    Ok(list::<E>(conn, cipher, Filter::Id(id))?.into_iter().next())
}

/// The `extensions` object of a live record (`None` when the record has none or is not live).
pub fn extensions(
    conn: &Connection,
    cipher: &FieldCipher,
    kind: EntityKind,
    id: Uuid,
) -> Result<Option<serde_json::Value>> {
    let spec = spec(kind);
    let Some(col) = spec.column(EXTENSIONS) else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {EXTENSIONS} FROM {} WHERE id = ?1 AND _created IS NOT NULL AND _deleted IS NULL",
        spec.table
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id.to_string()])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    match decode(cipher, spec, col, &id, row.get_ref(0)?)? {
        serde_json::Value::Null => Ok(None),
        value => Ok(Some(value)),
    }
}

/// Whether a row (live, placeholder or tombstone) with this id exists for the kind.
pub fn exists(conn: &Connection, kind: EntityKind, id: Uuid) -> Result<bool> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {} WHERE id = ?1 AND _created IS NOT NULL OR id = ?1 AND _deleted IS NOT NULL)", spec(kind).table);
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id.to_string()], |r| r.get(0))?)
}
