//! Records: how a domain struct becomes operation fields and encrypted columns, and back.
//!
//! [`Entity`] is implemented by every synced domain struct. Its serde form (a JSON object)
//! minus `id` and `client_id` is its field map; each field is stored in the column of the
//! same name, encrypted when the kind's spec marks it sensitive. Encryption binds every
//! ciphertext to `(table, row id, column)`.

use chrono::NaiveDate;
use rusqlite::types::{Value as SqlValue, ValueRef};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::model::{ClientId, ModelError};
use crate::store::crypto::{Aad, FieldCipher};
use crate::store::error::{Result, StoreError};
use crate::store::spec::{spec, ColType, Column, KindSpec};
use crate::sync::op::{EntityKind, FieldMap};

/// A synced domain record.
pub trait Entity: Serialize + DeserializeOwned + Clone {
    /// Its kind (and so its table).
    const KIND: EntityKind;
    /// Its id.
    fn id(&self) -> Uuid;
    /// The client it belongs to (the sync scope).
    fn scope(&self) -> ClientId;
    /// Check every validation rule against `today`.
    fn check(&self, today: NaiveDate) -> std::result::Result<(), ModelError>;
}

/// The field map of a record: its serde object without `id` and `client_id`.
pub fn to_fields<E: Entity>(e: &E) -> Result<FieldMap> {
    let Value::Object(map) = serde_json::to_value(e)? else {
        return Err(StoreError::Decode("record is not an object"));
    };
    let spec = spec(E::KIND);
    let mut fields = FieldMap::new();
    for (k, v) in map {
        if k == "id" || k == "client_id" {
            continue;
        }
        if spec.column(&k).is_none() {
            return Err(StoreError::UnknownField {
                kind: E::KIND,
                field: k,
            });
        }
        fields.insert(k, v);
    }
    Ok(fields)
}

/// Rebuild a record from its id, scope and field values.
pub fn from_fields<E: Entity>(
    id: &str,
    client_id: &str,
    mut fields: Map<String, Value>,
) -> Result<E> {
    fields.insert("id".into(), Value::String(id.to_string()));
    if E::KIND != EntityKind::Client {
        fields.insert("client_id".into(), Value::String(client_id.to_string()));
    }
    Ok(serde_json::from_value(Value::Object(fields))?)
}

/// Parse a row id stored as UUID text.
pub fn row_uuid(id: &str) -> Result<Uuid> {
    Uuid::try_parse(id).map_err(|_| StoreError::Decode("row id"))
}

/// Encode one field value for its column: encrypted bytes, or the clear SQL value.
pub fn encode(
    cipher: &FieldCipher,
    spec: &KindSpec,
    col: &Column,
    row: &Uuid,
    value: &Value,
) -> Result<SqlValue> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    if !type_matches(col.ty, value) {
        return Err(StoreError::InvalidOperation(
            "a field value has the wrong type",
        ));
    }
    if col.sensitive {
        let plain = serde_json::to_vec(value)?;
        let aad = Aad::field(spec.table, row.as_bytes(), col.name);
        return Ok(SqlValue::Blob(cipher.seal(&aad, &plain)?));
    }
    Ok(match (col.ty, value) {
        (ColType::Text, Value::String(s)) => SqlValue::Text(s.clone()),
        (ColType::Int, Value::Number(n)) => SqlValue::Integer(
            n.as_i64()
                .ok_or(StoreError::InvalidOperation("integer out of range"))?,
        ),
        (ColType::Bool, Value::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        (_, v) => SqlValue::Text(serde_json::to_string(v)?),
    })
}

/// Decode one column back into its JSON value.
pub fn decode(
    cipher: &FieldCipher,
    spec: &KindSpec,
    col: &Column,
    row: &Uuid,
    raw: ValueRef<'_>,
) -> Result<Value> {
    if let ValueRef::Null = raw {
        return Ok(Value::Null);
    }
    if col.sensitive {
        let ValueRef::Blob(sealed) = raw else {
            return Err(StoreError::Decode("expected ciphertext"));
        };
        let aad = Aad::field(spec.table, row.as_bytes(), col.name);
        let plain = cipher.open(&aad, sealed)?;
        return Ok(serde_json::from_slice(&plain)?);
    }
    Ok(match (col.ty, raw) {
        (ColType::Text, ValueRef::Text(t)) => Value::String(
            std::str::from_utf8(t)
                .map_err(|_| StoreError::Decode("text"))?
                .to_string(),
        ),
        (ColType::Int, ValueRef::Integer(i)) => Value::from(i),
        (ColType::Bool, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (ColType::Json, ValueRef::Text(t)) => serde_json::from_slice(t)?,
        _ => return Err(StoreError::Decode("column type")),
    })
}

fn type_matches(ty: ColType, v: &Value) -> bool {
    match ty {
        ColType::Text => v.is_string(),
        ColType::Int => v.is_i64(),
        ColType::Bool => v.is_boolean(),
        ColType::Json => true,
    }
}
