//! Interpersonal inventory entries: the important people in a client's life.

use serde::{Deserialize, Serialize};

use super::error::{ModelError, Reason, Result};
use super::ids::{ClientId, CourseId, InventoryEntryId};
use super::text::{
    check_optional_multiline, check_text, clean_optional_multiline, clean_text, LABEL_MAX,
    RELATIONSHIP_MAX, SHORT_TEXT_MAX,
};

/// Lowest closeness rating.
pub const CLOSENESS_MIN: u8 = 1;
/// Highest closeness rating.
pub const CLOSENESS_MAX: u8 = 5;

/// One important person in the client's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryEntry {
    /// Identity.
    pub id: InventoryEntryId,
    /// The course whose inventory this is.
    pub course_id: CourseId,
    /// The client.
    pub client_id: ClientId,
    /// How the client refers to the person (e.g. "Mother"; not necessarily a name),
    /// 1..=[`LABEL_MAX`] chars, single line.
    pub label: String,
    /// Relationship (e.g. "mother", "neighbour"), 1..=[`RELATIONSHIP_MAX`] chars.
    pub relationship: String,
    /// Closeness, [`CLOSENESS_MIN`]..=[`CLOSENESS_MAX`].
    pub closeness: u8,
    /// How the person supports the client (≤ [`SHORT_TEXT_MAX`], multi-line).
    pub support: Option<String>,
    /// Conflict with the person (≤ [`SHORT_TEXT_MAX`], multi-line).
    pub conflict: Option<String>,
    /// What changed in the relationship (≤ [`SHORT_TEXT_MAX`], multi-line).
    pub what_changed: Option<String>,
    /// Expectations on each side (≤ [`SHORT_TEXT_MAX`], multi-line).
    pub expectations: Option<String>,
}

/// Input for [`InventoryEntry::new`]: every field except the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInventoryEntry {
    /// See [`InventoryEntry::course_id`].
    pub course_id: CourseId,
    /// See [`InventoryEntry::client_id`].
    pub client_id: ClientId,
    /// See [`InventoryEntry::label`].
    pub label: String,
    /// See [`InventoryEntry::relationship`].
    pub relationship: String,
    /// See [`InventoryEntry::closeness`].
    pub closeness: u8,
    /// See [`InventoryEntry::support`]; blank means none.
    pub support: Option<String>,
    /// See [`InventoryEntry::conflict`]; blank means none.
    pub conflict: Option<String>,
    /// See [`InventoryEntry::what_changed`]; blank means none.
    pub what_changed: Option<String>,
    /// See [`InventoryEntry::expectations`]; blank means none.
    pub expectations: Option<String>,
}

impl InventoryEntry {
    /// Create an entry with a fresh id, trimming text.
    pub fn new(input: NewInventoryEntry) -> Result<Self> {
        let opt = |field, value: Option<String>| {
            clean_optional_multiline(field, value.as_deref(), SHORT_TEXT_MAX)
        };
        let entry = Self {
            id: InventoryEntryId::new(),
            course_id: input.course_id,
            client_id: input.client_id,
            label: clean_text("label", &input.label, LABEL_MAX)?,
            relationship: clean_text("relationship", &input.relationship, RELATIONSHIP_MAX)?,
            closeness: input.closeness,
            support: opt("support", input.support)?,
            conflict: opt("conflict", input.conflict)?,
            what_changed: opt("what_changed", input.what_changed)?,
            expectations: opt("expectations", input.expectations)?,
        };
        entry.validate()?;
        Ok(entry)
    }

    /// Check every rule on a stored or updated entry.
    pub fn validate(&self) -> Result<()> {
        check_text("label", &self.label, LABEL_MAX)?;
        check_text("relationship", &self.relationship, RELATIONSHIP_MAX)?;
        if !(CLOSENESS_MIN..=CLOSENESS_MAX).contains(&self.closeness) {
            let range = Reason::OutOfRange {
                min: i64::from(CLOSENESS_MIN),
                max: i64::from(CLOSENESS_MAX),
            };
            return Err(ModelError::invalid("closeness", range));
        }
        let opt = |field, value: &Option<String>| {
            check_optional_multiline(field, value.as_deref(), SHORT_TEXT_MAX)
        };
        opt("support", &self.support)?;
        opt("conflict", &self.conflict)?;
        opt("what_changed", &self.what_changed)?;
        opt("expectations", &self.expectations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{assert_rejected, text_of_len};

    fn make(f: impl FnOnce(&mut NewInventoryEntry)) -> Result<InventoryEntry> {
        let mut input = NewInventoryEntry {
            course_id: CourseId::new(),
            client_id: ClientId::new(),
            label: " Mother ".into(),
            relationship: "mother".into(),
            closeness: 4,
            support: Some("Cooks ZQX".into()),
            conflict: Some(" ".into()),
            what_changed: None,
            expectations: Some("Visits\nweekly".into()),
        };
        f(&mut input);
        InventoryEntry::new(input)
    }

    #[test]
    fn valid_entry() {
        let e = make(|_| {}).unwrap();
        assert_eq!(e.label, "Mother");
        assert_eq!(e.conflict, None);
        assert!(e.validate().is_ok());
    }

    #[test]
    fn label_and_relationship_rules() {
        assert!(make(|n| n.label = text_of_len(LABEL_MAX)).is_ok());
        let r = make(|n| n.label = text_of_len(LABEL_MAX + 1));
        assert_rejected(r, "label", Reason::TooLong { max: LABEL_MAX });
        assert_rejected(make(|n| n.label = String::new()), "label", Reason::Empty);
        assert!(make(|n| n.relationship = text_of_len(RELATIONSHIP_MAX)).is_ok());
        let r = make(|n| n.relationship = text_of_len(RELATIONSHIP_MAX + 1));
        assert_rejected(
            r,
            "relationship",
            Reason::TooLong {
                max: RELATIONSHIP_MAX,
            },
        );
        assert_rejected(
            make(|n| n.relationship = " ".into()),
            "relationship",
            Reason::Empty,
        );
    }

    #[test]
    fn closeness_range() {
        let range = Reason::OutOfRange { min: 1, max: 5 };
        assert!(make(|n| n.closeness = 1).is_ok());
        assert!(make(|n| n.closeness = 5).is_ok());
        assert_rejected(make(|n| n.closeness = 0), "closeness", range);
        assert_rejected(make(|n| n.closeness = 6), "closeness", range);
    }

    #[test]
    fn optional_text_limits() {
        type Setter = fn(&mut NewInventoryEntry, String);
        let fields: [(&'static str, Setter); 4] = [
            ("support", |n, v| n.support = Some(v)),
            ("conflict", |n, v| n.conflict = Some(v)),
            ("what_changed", |n, v| n.what_changed = Some(v)),
            ("expectations", |n, v| n.expectations = Some(v)),
        ];
        for (field, set) in fields {
            assert!(make(|n| set(n, text_of_len(SHORT_TEXT_MAX))).is_ok());
            let r = make(|n| set(n, text_of_len(SHORT_TEXT_MAX + 1)));
            assert_rejected(
                r,
                field,
                Reason::TooLong {
                    max: SHORT_TEXT_MAX,
                },
            );
        }
    }
}
