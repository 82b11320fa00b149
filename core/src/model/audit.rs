//! Audit entries: who did what, when, on which device, to which record.
//!
//! Privacy: an audit entry records field NAMES only, never values. `fields` and
//! `entity_kind` are restricted to lowercase identifiers starting with a letter, so free
//! text (a name, a phone number, a note) cannot be stored there by mistake.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::enums::AuditAction;
use super::error::{ModelError, Reason, Result};
use super::ids::{DeviceId, OpId, WorkerId};
use super::text::{check_code, check_unique};

/// Characters allowed in audit field names besides `a-z0-9_` (dotted nested fields).
const FIELD_EXTRA: &[char] = &['.'];

/// One line of the local audit log. Append-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, assigned by the store: `>= 1`.
    pub seq: i64,
    /// System timestamp.
    pub at: DateTime<Utc>,
    /// Who acted.
    pub actor: WorkerId,
    /// On which device.
    pub device: DeviceId,
    /// What was done.
    pub action: AuditAction,
    /// Kind of record touched (name `[a-z][a-z0-9_]*`, e.g. `client`); required with `entity_id`.
    pub entity_kind: Option<String>,
    /// Id of the record touched.
    pub entity_id: Option<Uuid>,
    /// The sync operation that carried the change, if any.
    pub op_id: Option<OpId>,
    /// NAMES of the fields changed (`[a-z][a-z0-9_.]*`, unique) — never their values.
    pub fields: Vec<String>,
}

/// Input for [`AuditEntry::new`]: every field except `seq` and `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// See [`AuditEntry::actor`].
    pub actor: WorkerId,
    /// See [`AuditEntry::device`].
    pub device: DeviceId,
    /// See [`AuditEntry::action`].
    pub action: AuditAction,
    /// See [`AuditEntry::entity_kind`].
    pub entity_kind: Option<String>,
    /// See [`AuditEntry::entity_id`].
    pub entity_id: Option<Uuid>,
    /// See [`AuditEntry::op_id`].
    pub op_id: Option<OpId>,
    /// See [`AuditEntry::fields`]: names only, never values.
    pub fields: Vec<String>,
}

impl AuditEntry {
    /// Build the entry the store appends at position `seq`, timestamped `at`.
    pub fn new(input: NewAuditEntry, seq: i64, at: DateTime<Utc>) -> Result<Self> {
        let entry = Self {
            seq,
            at,
            actor: input.actor,
            device: input.device,
            action: input.action,
            entity_kind: input.entity_kind,
            entity_id: input.entity_id,
            op_id: input.op_id,
            fields: input.fields,
        };
        entry.validate()?;
        Ok(entry)
    }

    /// Check every rule on a stored entry.
    pub fn validate(&self) -> Result<()> {
        if self.seq < 1 {
            let range = Reason::OutOfRange {
                min: 1,
                max: i64::MAX,
            };
            return Err(ModelError::invalid("seq", range));
        }
        if let Some(kind) = &self.entity_kind {
            check_name("entity_kind", kind, &[])?;
        }
        if self.entity_id.is_some() && self.entity_kind.is_none() {
            return Err(ModelError::invalid("entity_kind", Reason::Missing));
        }
        for field in &self.fields {
            check_name("fields", field, FIELD_EXTRA)?;
        }
        check_unique("fields", &self.fields)
    }
}

/// A name is a code that starts with a letter (so a number cannot pass for a name).
fn check_name(field: &'static str, value: &str, extra: &[char]) -> Result<()> {
    check_code(field, value, extra)?;
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(ModelError::invalid(field, Reason::InvalidFormat));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::assert_rejected;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_718_445_600, 0).unwrap()
    }

    fn make(f: impl FnOnce(&mut NewAuditEntry)) -> Result<AuditEntry> {
        let mut input = NewAuditEntry {
            actor: WorkerId::new(),
            device: DeviceId::new(),
            action: AuditAction::Update,
            entity_kind: Some("client".into()),
            entity_id: Some(Uuid::now_v7()),
            op_id: Some(OpId::new()),
            fields: vec!["phone".into(), "consent.version".into()],
        };
        f(&mut input);
        AuditEntry::new(input, 1, at())
    }

    #[test]
    fn valid_entries() {
        let e = make(|_| {}).unwrap();
        assert_eq!((e.seq, e.at), (1, at()));
        let unlock = make(|n| {
            n.action = AuditAction::Unlock;
            n.entity_kind = None;
            n.entity_id = None;
            n.op_id = None;
            n.fields.clear();
        });
        assert!(unlock.is_ok());
    }

    #[test]
    fn seq_must_be_positive() {
        let mut e = make(|_| {}).unwrap();
        e.seq = 0;
        let range = Reason::OutOfRange {
            min: 1,
            max: i64::MAX,
        };
        assert_rejected(e.validate(), "seq", range);
        e.seq = i64::MAX;
        assert!(e.validate().is_ok());
    }

    #[test]
    fn entity_rules() {
        let r = make(|n| n.entity_kind = None);
        assert_rejected(r, "entity_kind", Reason::Missing);
        let r = make(|n| n.entity_kind = Some("Client ZQX".into()));
        assert_rejected(r, "entity_kind", Reason::InvalidFormat);
        let ok = make(|n| n.entity_id = None);
        assert!(
            ok.is_ok(),
            "a kind without an id is allowed (e.g. export of all clients)"
        );
    }

    #[test]
    fn fields_are_names_not_values() {
        let r = make(|n| n.fields.push("Amina ZQX".into()));
        assert_rejected(r, "fields", Reason::InvalidFormat);
        let r = make(|n| n.fields.push("+254 712 345678".into()));
        assert_rejected(r, "fields", Reason::InvalidFormat);
        let r = make(|n| n.fields.push("0712345678".into()));
        assert_rejected(r, "fields", Reason::InvalidFormat);
        let r = make(|n| n.entity_kind = Some("1client".into()));
        assert_rejected(r, "entity_kind", Reason::InvalidFormat);
        let r = make(|n| n.fields.push("phone".into()));
        assert_rejected(r, "fields", Reason::Duplicate);
        let r = make(|n| n.fields.push(String::new()));
        assert_rejected(r, "fields", Reason::Empty);
    }
}
