//! The model's error type: which field is invalid and why — never the offending value.

use std::fmt;

/// Result alias for model operations.
pub type Result<T> = std::result::Result<T, ModelError>;

/// An error raised while validating or parsing domain data.
///
/// Messages name the field (or id/enum kind) and the rule that failed. They never contain
/// the rejected value, so they are safe to log and to show in crash reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A field broke a validation rule.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The field name, dotted for nested values (e.g. `consent.date`).
        field: &'static str,
        /// The rule that failed.
        reason: Reason,
    },
    /// A string is not a valid id of the given kind (e.g. `client_id`).
    #[error("invalid {kind}: not a hyphenated UUID")]
    InvalidId {
        /// The id kind in snake_case.
        kind: &'static str,
    },
    /// A string does not name a variant of the given enum (e.g. `course_status`).
    #[error("unknown {kind} value")]
    UnknownVariant {
        /// The enum kind in snake_case.
        kind: &'static str,
    },
}

impl ModelError {
    /// Shorthand for [`ModelError::Validation`].
    pub const fn invalid(field: &'static str, reason: Reason) -> Self {
        Self::Validation { field, reason }
    }
}

/// Why a field is invalid. Carries limits, never values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Empty or whitespace only.
    Empty,
    /// More than `max` characters.
    TooLong {
        /// Maximum number of characters.
        max: usize,
    },
    /// Fewer than `min` characters.
    TooShort {
        /// Minimum number of characters.
        min: usize,
    },
    /// More than `max` entries in a list.
    TooMany {
        /// Maximum number of entries.
        max: usize,
    },
    /// Contains control characters (or line breaks where a single line is expected).
    ControlCharacters,
    /// A number outside `min..=max`.
    OutOfRange {
        /// Smallest accepted value.
        min: i64,
        /// Largest accepted value.
        max: i64,
    },
    /// A date or time later than allowed.
    InFuture,
    /// A date or year earlier than allowed.
    TooFarInPast,
    /// Characters or shape not accepted for this field (includes surrounding whitespace in
    /// stored text, which constructors trim away).
    InvalidFormat,
    /// A list contains the same entry twice.
    Duplicate,
    /// A value required by the rest of the record is absent.
    Missing,
    /// Contradicts another field; the text says which rule.
    Inconsistent(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { max } => write!(f, "too long (max {max} characters)"),
            Self::TooShort { min } => write!(f, "too short (min {min} characters)"),
            Self::TooMany { max } => write!(f, "too many entries (max {max})"),
            Self::ControlCharacters => f.write_str("contains control characters"),
            Self::OutOfRange { min, max } => write!(f, "out of range ({min} to {max})"),
            Self::InFuture => f.write_str("in the future"),
            Self::TooFarInPast => f.write_str("too far in the past"),
            Self::InvalidFormat => f.write_str("invalid format"),
            Self::Duplicate => f.write_str("contains duplicates"),
            Self::Missing => f.write_str("missing"),
            Self::Inconsistent(rule) => write!(f, "inconsistent: {rule}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_field_and_reason() {
        let e = ModelError::invalid("display_name", Reason::TooLong { max: 100 });
        assert_eq!(
            e.to_string(),
            "invalid display_name: too long (max 100 characters)"
        );
        let e = ModelError::invalid("closeness", Reason::OutOfRange { min: 1, max: 5 });
        assert_eq!(e.to_string(), "invalid closeness: out of range (1 to 5)");
        let e = ModelError::invalid("end_reason", Reason::Inconsistent("does not match status"));
        assert_eq!(
            e.to_string(),
            "invalid end_reason: inconsistent: does not match status"
        );
        assert_eq!(
            ModelError::InvalidId { kind: "client_id" }.to_string(),
            "invalid client_id: not a hyphenated UUID"
        );
        assert_eq!(
            ModelError::UnknownVariant { kind: "sex" }.to_string(),
            "unknown sex value"
        );
    }

    #[test]
    fn every_reason_has_a_distinct_message() {
        let all = [
            Reason::Empty,
            Reason::TooLong { max: 1 },
            Reason::TooShort { min: 1 },
            Reason::TooMany { max: 1 },
            Reason::ControlCharacters,
            Reason::OutOfRange { min: 0, max: 1 },
            Reason::InFuture,
            Reason::TooFarInPast,
            Reason::InvalidFormat,
            Reason::Duplicate,
            Reason::Missing,
            Reason::Inconsistent("rule"),
        ];
        let mut texts: Vec<String> = all.iter().map(ToString::to_string).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), all.len());
    }
}
