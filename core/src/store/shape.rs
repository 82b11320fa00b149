//! Shape check of an operation's field values: every value must fit the type of its field in
//! the domain struct (a date must be a date, an enum one of its values, an id an id), and a
//! create must carry every required field. A received operation that does not fit is
//! rejected instead of being stored where it would later make whole lists unreadable.
//!
//! An update is checked field by field by laying its values over a valid sample record of
//! the kind, so it can be checked without the record it changes.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use crate::model::{check_code, EXTRA_MAX_BYTES};
use crate::model::{
    Client, Course, Extra, InventoryEntry, QuestionnaireResponse, Referral, Reminder, RiskEvent,
    Screening, Session, SupervisorNote, TimelineEvent,
};
use crate::store::error::{Result, StoreError};
use crate::store::spec::EXTENSIONS;
use crate::sync::op::{Change, EntityKind, Operation};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

/// A valid record of each kind, with every required field.
fn sample(kind: EntityKind) -> Value {
    match kind {
        EntityKind::Client => {
            json!({"display_name": "x", "assigned_worker": NIL, "registered_on": "2026-01-01"})
        }
        EntityKind::Course => {
            json!({"worker_id": NIL, "enrolled_on": "2026-01-01", "planned_sessions": 6,
            "problem_areas": [], "status": "enrolled"})
        }
        EntityKind::Session => {
            json!({"course_id": NIL, "number": 1, "phase": "initial", "steps_done": [],
            "steps_skipped": [], "completed": false})
        }
        EntityKind::Screening => {
            json!({"date": "2026-01-01", "response_ids": [], "outcome": "eligible"})
        }
        EntityKind::Response => {
            json!({"context": "screening", "instrument": "phq9", "instrument_version": "1.0",
            "answers": [], "flags": [], "administered_at": "2026-01-01T09:00:00"})
        }
        EntityKind::InventoryEntry => {
            json!({"course_id": NIL, "label": "x", "relationship": "x", "closeness": 3})
        }
        EntityKind::TimelineEvent => {
            json!({"course_id": NIL, "date": "2026-01-01", "event": "x", "mood_change": "worse"})
        }
        EntityKind::RiskEvent => {
            json!({"trigger": "worker_concern", "opened_at": "2026-01-01T09:00:00", "status": "open"})
        }
        EntityKind::Referral => {
            json!({"reason": "x", "urgency": "routine", "status": "recommended",
            "created_on": "2026-01-01", "updated_on": "2026-01-01"})
        }
        EntityKind::SupervisorNote => {
            json!({"author": NIL, "written_at": "2026-01-01T09:00:00Z", "text": "x"})
        }
        EntityKind::Reminder => {
            json!({"kind": "session_due", "due": "2026-01-01", "status": "pending"})
        }
        EntityKind::Extra => {
            json!({"subject_kind": "x", "subject_id": NIL, "source": "x", "data": {}})
        }
    }
}

/// Check the field values of `op` against its kind's struct.
pub fn check(op: &Operation) -> Result<()> {
    let (fields, create) = match &op.change {
        Change::Create { fields } => (fields, true),
        Change::Update { fields } => (fields, false),
        Change::Delete => return Ok(()),
    };
    let mut obj = if create {
        Map::new()
    } else {
        match sample(op.entity) {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    };
    for (k, v) in fields {
        if k == EXTENSIONS {
            check_extensions(v)?;
            continue;
        }
        obj.insert(k.clone(), v.clone());
    }
    obj.insert("id".into(), Value::String(op.entity_id.to_string()));
    obj.insert("client_id".into(), Value::String(op.scope.to_string()));
    let value = Value::Object(obj);
    let fits = match op.entity {
        EntityKind::Client => fits::<Client>(value),
        EntityKind::Course => fits::<Course>(value),
        EntityKind::Session => fits::<Session>(value),
        EntityKind::Screening => fits::<Screening>(value),
        EntityKind::Response => fits::<QuestionnaireResponse>(value),
        EntityKind::InventoryEntry => fits::<InventoryEntry>(value),
        EntityKind::TimelineEvent => fits::<TimelineEvent>(value),
        EntityKind::RiskEvent => fits::<RiskEvent>(value),
        EntityKind::Referral => fits::<Referral>(value),
        EntityKind::SupervisorNote => fits::<SupervisorNote>(value),
        EntityKind::Reminder => fits::<Reminder>(value),
        EntityKind::Extra => fits::<Extra>(value),
    };
    if fits {
        Ok(())
    } else if create {
        Err(StoreError::InvalidOperation(
            "a create lacks a required field or a value does not fit its field",
        ))
    } else {
        Err(StoreError::InvalidOperation(
            "a value does not fit its field",
        ))
    }
}

/// `extensions` is null (none) or an object of sources (lowercase codes such as
/// `cht:session`), each an object, at most [`EXTRA_MAX_BYTES`] serialised in all.
pub fn check_extensions(value: &Value) -> Result<()> {
    let Value::Object(sources) = value else {
        return if value.is_null() {
            Ok(())
        } else {
            Err(StoreError::InvalidOperation("extensions is not an object"))
        };
    };
    for (source, fields) in sources {
        if check_code(EXTENSIONS, source, &[':', '-', '.']).is_err() {
            return Err(StoreError::InvalidOperation(
                "an extensions source is not a lowercase code",
            ));
        }
        if !fields.is_object() {
            return Err(StoreError::InvalidOperation(
                "an extensions source does not hold an object",
            ));
        }
    }
    let size = serde_json::to_vec(value).map_or(usize::MAX, |v| v.len());
    if size > EXTRA_MAX_BYTES {
        return Err(StoreError::InvalidOperation("extensions is too large"));
    }
    Ok(())
}

fn fits<T: DeserializeOwned>(value: Value) -> bool {
    serde_json::from_value::<T>(value).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClientId, DeviceId, OpId, WorkerId};
    use crate::sync::hlc::Hlc;
    use crate::sync::op::FieldMap;

    fn op(entity: EntityKind, change: Change) -> Operation {
        let device = DeviceId::new();
        let scope = ClientId::new();
        Operation {
            op_id: OpId::new(),
            hlc: Hlc::zero(device),
            device_id: device,
            author: WorkerId::new(),
            scope,
            entity,
            entity_id: if entity == EntityKind::Client {
                scope.as_uuid()
            } else {
                uuid::Uuid::now_v7()
            },
            change,
        }
    }

    fn fields(v: Value) -> FieldMap {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn every_sample_fits_its_kind() {
        for kind in EntityKind::ALL {
            let o = op(
                kind,
                Change::Create {
                    fields: fields(sample(kind)),
                },
            );
            assert!(check(&o).is_ok(), "{kind}");
        }
    }

    #[test]
    fn wrong_shapes_and_missing_fields_are_refused() {
        let bad = [
            json!({"registered_on": "not a date"}),
            json!({"sex": "zqx"}),
            json!({"assigned_worker": "not an id"}),
            json!({"birth_year": "1990"}),
        ];
        for b in bad {
            assert!(
                check(&op(
                    EntityKind::Client,
                    Change::Update {
                        fields: fields(b.clone())
                    }
                ))
                .is_err(),
                "{b}"
            );
        }
        assert!(check(&op(
            EntityKind::Client,
            Change::Create {
                fields: fields(json!({"display_name": "x"}))
            }
        ))
        .is_err());
        assert!(check(&op(
            EntityKind::Client,
            Change::Update {
                fields: fields(json!({"village": "Kibera"}))
            }
        ))
        .is_ok());
        assert!(check(&op(EntityKind::Client, Change::Delete)).is_ok());
    }
}
