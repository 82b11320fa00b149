//! Extra data: fields a programme's forms collect that the IPC model has no place for (a
//! visit's GPS location, a form's own version, …), kept per record as an encrypted JSON
//! object so that nothing imported is dropped.

use serde::{Deserialize, Serialize};

use super::error::{ModelError, Reason, Result};
use super::ids::ClientId;

/// Largest serialised extra object, in bytes.
pub const EXTRA_MAX_BYTES: usize = 16 * 1024;

/// Extra fields attached to one record (`subject_kind` + `subject_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extra {
    /// Id of this extra record.
    pub id: uuid::Uuid,
    /// The client it belongs to.
    pub client_id: ClientId,
    /// Kind of the record it extends (`client`, `session`, `response`, …).
    pub subject_kind: String,
    /// Id of the record it extends.
    pub subject_id: uuid::Uuid,
    /// Where the data came from (e.g. `cht:session`).
    pub source: String,
    /// The fields, as a JSON object.
    pub data: serde_json::Value,
}

impl Extra {
    /// Check the shape: codes are lowercase identifiers, `data` is an object of bounded size.
    pub fn validate(&self) -> Result<()> {
        super::text::check_code("subject_kind", &self.subject_kind, &[])?;
        super::text::check_code("source", &self.source, &[':', '-', '.'])?;
        if !self.data.is_object() {
            return Err(ModelError::invalid("data", Reason::InvalidFormat));
        }
        let size = serde_json::to_vec(&self.data)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > EXTRA_MAX_BYTES {
            return Err(ModelError::invalid(
                "data",
                Reason::TooLong {
                    max: EXTRA_MAX_BYTES,
                },
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extra(data: serde_json::Value) -> Extra {
        Extra {
            id: uuid::Uuid::now_v7(),
            client_id: ClientId::new(),
            subject_kind: "session".into(),
            subject_id: uuid::Uuid::now_v7(),
            source: "cht:session".into(),
            data,
        }
    }

    #[test]
    fn accepts_objects_and_refuses_other_shapes_and_huge_data() {
        assert!(
            extra(serde_json::json!({"location": {"lat": -1.3, "lon": 36.8}}))
                .validate()
                .is_ok()
        );
        assert!(extra(serde_json::json!([1, 2])).validate().is_err());
        let big = "x".repeat(EXTRA_MAX_BYTES);
        assert!(extra(serde_json::json!({ "a": big })).validate().is_err());
        let mut bad = extra(serde_json::json!({}));
        bad.subject_kind = "Session Kind".into();
        assert!(bad.validate().is_err());
    }
}
