//! `apply(op)`: fold one operation into the state tables. The same function serves local
//! writes and operations received by sync, so both sides merge identically.
//!
//! Rules: per-field last-writer-wins by HLC ([`RowClock`]); a tombstoned record ignores all
//! further writes and keeps only `id`, `client_id` and `_deleted`; an operation that names a
//! record or parent not yet seen creates an invisible placeholder row (so foreign keys hold
//! whatever order operations arrive in). The result is the same for any order and any
//! number of repetitions of the same set of operations.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use uuid::Uuid;

use crate::store::crypto::FieldCipher;
use crate::store::error::{Result, StoreError};
use crate::store::record::encode;
use crate::store::spec::{spec, KindSpec};
use crate::sync::merge::RowClock;
use crate::sync::op::{Change, EntityKind, Operation};

/// What applying an operation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Fields were written (the names; possibly a subset of those sent).
    Written(Vec<String>),
    /// The record was tombstoned.
    Deleted,
    /// Nothing changed: every field had a newer value, or the record is deleted.
    Unchanged,
}

/// Check an operation's shape before it touches anything.
pub fn validate(op: &Operation) -> Result<()> {
    let spec = spec(op.entity);
    if op.hlc.node != op.device_id {
        return Err(StoreError::InvalidOperation(
            "the clock node is not the device",
        ));
    }
    if (op.entity == EntityKind::Client) != (op.entity_id == op.scope.as_uuid()) {
        return Err(StoreError::InvalidOperation(
            "the record id does not match its scope",
        ));
    }
    match &op.change {
        Change::Update { .. } if spec.append_only => {
            return Err(StoreError::AppendOnly { kind: op.entity })
        }
        Change::Update { fields } if fields.is_empty() => {
            return Err(StoreError::InvalidOperation("an update without fields"))
        }
        _ => {}
    }
    if let Some(fields) = op.change.fields() {
        for name in fields.keys() {
            if spec.column(name).is_none() {
                return Err(StoreError::UnknownField {
                    kind: op.entity,
                    field: name.clone(),
                });
            }
        }
        if let Some(parent) = spec.parent {
            match fields.get(parent) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if Uuid::try_parse(s).is_ok() => {}
                Some(_) => return Err(StoreError::InvalidOperation("the parent is not an id")),
            }
        }
    }
    crate::store::shape::check(op)
}

/// Fold `op` into the state. The caller owns the transaction.
pub fn apply(conn: &Connection, cipher: &FieldCipher, op: &Operation) -> Result<Effect> {
    validate(op)?;
    let spec = spec(op.entity);
    let scope = op.scope.to_string();
    let id = op.entity_id.to_string();
    if op.entity != EntityKind::Client {
        conn.prepare_cached("INSERT INTO clients (id) VALUES (?1) ON CONFLICT DO NOTHING")?
            .execute([&scope])?;
    }
    if let Some(parent_col) = spec.parent {
        if let Some(Value::String(parent)) = op.change.fields().and_then(|f| f.get(parent_col)) {
            ensure_course(conn, parent, &scope)?;
        }
    }

    let sql = format!(
        "SELECT client_id, _created, _deleted, _clock FROM {} WHERE id = ?1",
        spec.table
    );
    let sql = if op.entity == EntityKind::Client {
        sql.replace("client_id,", "id,")
    } else {
        sql
    };
    let existing: Option<(String, Option<String>, Option<String>, String)> = conn
        .prepare_cached(&sql)?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;

    let Some((owner, created, deleted, clock_json)) = existing else {
        return insert_new(conn, cipher, spec, op, &id, &scope);
    };
    if owner != scope {
        return Err(StoreError::InvalidOperation(
            "the record belongs to another client",
        ));
    }
    let hlc = op.hlc.to_string();
    if let Some(deleted) = deleted {
        if matches!(op.change, Change::Delete) && hlc > deleted {
            conn.prepare_cached(&format!(
                "UPDATE {} SET _deleted = ?2 WHERE id = ?1",
                spec.table
            ))?
            .execute(params![id, hlc])?;
        }
        return Ok(Effect::Unchanged);
    }
    let Some(fields) = op.change.fields() else {
        tombstone(conn, spec, &id, &hlc)?;
        return Ok(Effect::Deleted);
    };
    let mut clock = RowClock::from_stored(created.as_deref(), &clock_json)
        .ok_or(StoreError::Decode("row clock"))?;
    let columns: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
    let is_create = matches!(op.change, Change::Create { .. });
    let before = clock.clone();
    let winners = clock.merge(op.hlc, is_create, written(op, &columns), &columns);
    if winners.is_empty() && clock == before {
        return Ok(Effect::Unchanged);
    }
    let row = Uuid::try_parse(&id).map_err(|_| StoreError::Decode("row id"))?;
    let mut sets = Vec::with_capacity(winners.len() + 2);
    let mut values: Vec<SqlValue> = Vec::with_capacity(winners.len() + 3);
    values.push(SqlValue::Text(id.clone()));
    for name in &winners {
        // A create writes every column: one it leaves out is written as null.
        let (Some(col), Some(value)) = (
            spec.column(name),
            fields.get(*name).or(is_create.then_some(&Value::Null)),
        ) else {
            continue;
        };
        values.push(encode(cipher, spec, col, &row, value)?);
        sets.push(format!("{} = ?{}", col.name, values.len()));
    }
    values.push(
        clock
            .base
            .map_or(SqlValue::Null, |b| SqlValue::Text(b.to_string())),
    );
    sets.push(format!("_created = ?{}", values.len()));
    values.push(SqlValue::Text(clock.fields_json()));
    sets.push(format!("_clock = ?{}", values.len()));
    conn.prepare_cached(&format!(
        "UPDATE {} SET {} WHERE id = ?1",
        spec.table,
        sets.join(", ")
    ))?
    .execute(rusqlite::params_from_iter(values))?;
    Ok(Effect::Written(
        winners
            .into_iter()
            .filter(|w| fields.contains_key(*w))
            .map(str::to_string)
            .collect(),
    ))
}

fn insert_new(
    conn: &Connection,
    cipher: &FieldCipher,
    spec: &KindSpec,
    op: &Operation,
    id: &str,
    scope: &str,
) -> Result<Effect> {
    let hlc = op.hlc.to_string();
    let Some(fields) = op.change.fields() else {
        let sql = if op.entity == EntityKind::Client {
            format!("INSERT INTO {} (id, _deleted) VALUES (?1, ?2)", spec.table)
        } else {
            format!(
                "INSERT INTO {} (id, client_id, _deleted) VALUES (?1, ?3, ?2)",
                spec.table
            )
        };
        let mut stmt = conn.prepare_cached(&sql)?;
        if op.entity == EntityKind::Client {
            stmt.execute(params![id, hlc])?;
        } else {
            stmt.execute(params![id, hlc, scope])?;
        }
        return Ok(Effect::Deleted);
    };
    let row = Uuid::try_parse(id).map_err(|_| StoreError::Decode("row id"))?;
    let mut clock = RowClock::default();
    let columns: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
    let is_create = matches!(op.change, Change::Create { .. });
    let winners = clock.merge(op.hlc, is_create, written(op, &columns), &columns);
    let mut names = vec!["id"];
    let mut values: Vec<SqlValue> = vec![SqlValue::Text(id.to_string())];
    if op.entity != EntityKind::Client {
        names.push("client_id");
        values.push(SqlValue::Text(scope.to_string()));
    }
    for col in spec.columns {
        if let Some(value) = fields.get(col.name) {
            names.push(col.name);
            values.push(encode(cipher, spec, col, &row, value)?);
        }
    }
    names.push("_created");
    values.push(
        clock
            .base
            .map_or(SqlValue::Null, |b| SqlValue::Text(b.to_string())),
    );
    names.push("_clock");
    values.push(SqlValue::Text(clock.fields_json()));
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    conn.prepare_cached(&format!(
        "INSERT INTO {} ({}) VALUES ({})",
        spec.table,
        names.join(", "),
        placeholders.join(", ")
    ))?
    .execute(rusqlite::params_from_iter(values))?;
    Ok(Effect::Written(
        winners
            .into_iter()
            .filter(|w| fields.contains_key(*w))
            .map(str::to_string)
            .collect(),
    ))
}

/// The columns an operation writes: an update, the fields it names; a create, every column of
/// its kind (one it leaves out is written as null), so two creates of one record merge to the
/// same state in any order.
fn written<'a>(op: &'a Operation, columns: &[&'a str]) -> Vec<&'a str> {
    match &op.change {
        Change::Create { fields } => fields
            .keys()
            .map(String::as_str)
            .chain(columns.iter().copied().filter(|c| !fields.contains_key(*c)))
            .collect(),
        Change::Update { fields } => fields.keys().map(String::as_str).collect(),
        Change::Delete => Vec::new(),
    }
}

/// Reduce a record to its canonical tombstone: only `id`, `client_id` and `_deleted` remain.
fn tombstone(conn: &Connection, spec: &KindSpec, id: &str, hlc: &str) -> Result<()> {
    let mut sets: Vec<String> = spec
        .columns
        .iter()
        .map(|c| format!("{} = NULL", c.name))
        .collect();
    sets.extend([
        "_created = NULL".into(),
        "_clock = '{}'".into(),
        "_deleted = ?2".into(),
    ]);
    conn.prepare_cached(&format!(
        "UPDATE {} SET {} WHERE id = ?1",
        spec.table,
        sets.join(", ")
    ))?
    .execute(params![id, hlc])?;
    Ok(())
}

/// Make sure the course `id` exists (as a placeholder if unseen) and belongs to `scope`.
fn ensure_course(conn: &Connection, id: &str, scope: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO courses (id, client_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute([id, scope])?;
    let owner: String = conn
        .prepare_cached("SELECT client_id FROM courses WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    if owner != scope {
        return Err(StoreError::InvalidOperation(
            "the parent course belongs to another client",
        ));
    }
    Ok(())
}
