//! Typed ids: one UUID newtype per entity so ids of different kinds cannot be mixed up.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::{ModelError, Result};

/// Length of the hyphenated text form, the only text form [`parse`](WorkerId::parse) accepts.
const HYPHENATED_LEN: usize = 36;

/// Define a UUID newtype `$name` whose parse errors name it as `$kind`.
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal) => {
        $(#[$meta])*
        ///
        /// New ids are UUIDv7 (time-ordered). Text form: hyphenated lowercase. Serialized as
        /// the bare UUID.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7).
            #[allow(clippy::new_without_default, reason = "a fresh random id is not a default")]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wrap an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Build from the 16 big-endian bytes (the storage form).
            pub const fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }

            /// The 16 big-endian bytes (the storage form).
            pub const fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }

            /// Parse the hyphenated text form (either case).
            pub fn parse(s: &str) -> Result<Self> {
                parse_hyphenated(s, $kind).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = ModelError;

            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
    };
}

fn parse_hyphenated(s: &str, kind: &'static str) -> Result<Uuid> {
    if s.len() != HYPHENATED_LEN {
        return Err(ModelError::InvalidId { kind });
    }
    Uuid::try_parse(s).map_err(|_| ModelError::InvalidId { kind })
}

typed_id!(
    /// Identifies a worker (CHW, supervisor or admin).
    WorkerId,
    "worker_id"
);
typed_id!(
    /// Identifies a device (phone) enrolled for sync.
    DeviceId,
    "device_id"
);
typed_id!(
    /// Identifies a client (the person receiving counselling).
    ClientId,
    "client_id"
);
typed_id!(
    /// Identifies a screening.
    ScreeningId,
    "screening_id"
);
typed_id!(
    /// Identifies a questionnaire response.
    ResponseId,
    "response_id"
);
typed_id!(
    /// Identifies a course (one IPC episode).
    CourseId,
    "course_id"
);
typed_id!(
    /// Identifies a session of a course.
    SessionId,
    "session_id"
);
typed_id!(
    /// Identifies an interpersonal inventory entry.
    InventoryEntryId,
    "inventory_entry_id"
);
typed_id!(
    /// Identifies a timeline event.
    TimelineEventId,
    "timeline_event_id"
);
typed_id!(
    /// Identifies a risk event.
    RiskEventId,
    "risk_event_id"
);
typed_id!(
    /// Identifies a referral.
    ReferralId,
    "referral_id"
);
typed_id!(
    /// Identifies a supervisor note.
    SupervisorNoteId,
    "supervisor_note_id"
);
typed_id!(
    /// Identifies a reminder.
    ReminderId,
    "reminder_id"
);
typed_id!(
    /// Identifies a sync operation.
    OpId,
    "op_id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TEXT: &str = "0190f5e4-7b2a-7c3d-8e4f-0123456789ab";

    #[test]
    fn new_ids_are_v7_unique_and_ordered() {
        let a = ClientId::new();
        let b = ClientId::new();
        assert_ne!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert!(
            a < b,
            "UUIDv7 ids created in sequence sort in creation order"
        );
    }

    #[test]
    fn text_round_trip_is_hyphenated_lowercase() {
        let id = SessionId::parse(TEXT).unwrap();
        assert_eq!(id.to_string(), TEXT);
        assert_eq!(SessionId::parse(&TEXT.to_uppercase()).unwrap(), id);
        assert_eq!(TEXT.parse::<SessionId>().unwrap(), id);
        let fresh = OpId::new();
        assert_eq!(OpId::parse(&fresh.to_string()).unwrap(), fresh);
    }

    #[test]
    fn bytes_and_uuid_round_trip() {
        let id = WorkerId::new();
        assert_eq!(WorkerId::from_bytes(*id.as_bytes()), id);
        assert_eq!(WorkerId::from_uuid(id.as_uuid()), id);
        assert_eq!(id.as_bytes(), id.as_uuid().as_bytes());
    }

    #[test]
    fn parse_rejects_other_forms_and_names_the_kind() {
        let simple = TEXT.replace('-', "");
        let braced = format!("{{{TEXT}}}");
        let urn = format!("urn:uuid:{TEXT}");
        let bad = [
            "",
            "ZQX",
            simple.as_str(),
            braced.as_str(),
            urn.as_str(),
            "0190f5e4-7b2a-7c3d-8e4f-0123456789ag",
            " 0190f5e4-7b2a-7c3d-8e4f-0123456789a",
        ];
        for s in bad {
            let e = RiskEventId::parse(s).unwrap_err();
            assert_eq!(
                e,
                ModelError::InvalidId {
                    kind: "risk_event_id"
                }
            );
            assert!(!e.to_string().contains("ZQX"));
        }
        assert_eq!(
            "x".parse::<DeviceId>().unwrap_err(),
            ModelError::InvalidId { kind: "device_id" }
        );
    }

    #[test]
    fn serde_is_transparent() {
        let id = ReferralId::parse(TEXT).unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{TEXT}\""));
        assert_eq!(serde_json::from_str::<ReferralId>(&json).unwrap(), id);
    }

    #[test]
    fn every_kind_parses_and_names_itself() {
        fn check<T: FromStr<Err = ModelError> + ToString>(kind: &'static str) {
            assert_eq!(
                T::from_str(TEXT).ok().map(|t| t.to_string()).as_deref(),
                Some(TEXT)
            );
            assert_eq!(
                T::from_str("nope").err(),
                Some(ModelError::InvalidId { kind })
            );
        }
        check::<WorkerId>("worker_id");
        check::<DeviceId>("device_id");
        check::<ClientId>("client_id");
        check::<ScreeningId>("screening_id");
        check::<ResponseId>("response_id");
        check::<CourseId>("course_id");
        check::<SessionId>("session_id");
        check::<InventoryEntryId>("inventory_entry_id");
        check::<TimelineEventId>("timeline_event_id");
        check::<RiskEventId>("risk_event_id");
        check::<ReferralId>("referral_id");
        check::<SupervisorNoteId>("supervisor_note_id");
        check::<ReminderId>("reminder_id");
        check::<OpId>("op_id");
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip_through_text(bytes in any::<[u8; 16]>()) {
            let id = CourseId::from_bytes(bytes);
            prop_assert_eq!(CourseId::parse(&id.to_string()).ok(), Some(id));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = ClientId::parse(&s);
        }
    }
}
