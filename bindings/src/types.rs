//! The closed vocabularies as FFI enums (exact copies of the core's, with `From` both ways),
//! and the conventions for values that cross as text:
//!
//! - ids are the hyphenated lowercase UUID text of the core's typed ids;
//! - clinical dates are ISO `YYYY-MM-DD` local dates, clinical times are ISO local date-times
//!   `YYYY-MM-DDTHH:MM:SS` (seconds optional on input), both as entered, without a zone;
//! - system timestamps (when a supervisor note was written) are `i64` milliseconds since the
//!   Unix epoch, UTC.

use chrono::{NaiveDate, NaiveDateTime, Timelike};

use crate::error::{IpcError, Result};

/// Defines an FFI enum mirroring a core enum variant for variant, with `From` both ways.
macro_rules! ffi_enum {
    (
        $(#[$meta:meta])*
        $name:ident = $core:ty {
            $( $(#[$vmeta:meta])* $variant:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                type Core = $core;
                match v {
                    $( Core::$variant => $name::$variant ),+
                }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                type Core = $core;
                match v {
                    $( $name::$variant => Core::$variant ),+
                }
            }
        }
    };
}

ffi_enum!(
    /// A client's sex as recorded.
    Sex = ipc_core::model::Sex {
        /// Female.
        Female,
        /// Male.
        Male,
        /// Other or not stated otherwise.
        Other,
    }
);

ffi_enum!(
    /// What a worker may do.
    Role = ipc_core::model::Role {
        /// A community health worker delivering IPC.
        Worker,
        /// Supervises a team of workers.
        Supervisor,
        /// Programme or data manager.
        Admin,
    }
);

ffi_enum!(
    /// How consent was taken.
    ConsentMethod = ipc_core::model::ConsentMethod {
        /// Spoken consent, recorded by the worker.
        Verbal,
        /// Signed or thumb-printed form.
        Written,
    }
);

ffi_enum!(
    /// Whether a planned session took place.
    Attendance = ipc_core::model::Attendance {
        /// The client attended.
        Attended,
        /// The client did not come.
        Missed,
        /// Moved to another date.
        Rescheduled,
    }
);

ffi_enum!(
    /// How a session was delivered.
    Modality = ipc_core::model::Modality {
        /// Face to face.
        InPerson,
        /// By phone.
        Phone,
    }
);

ffi_enum!(
    /// The IPC phase a session belongs to.
    Phase = ipc_core::model::Phase {
        /// Session 1: assessment, inventory, problem area, contract.
        Initial,
        /// Working on the problem area.
        Middle,
        /// Last session: review, relapse prevention, next steps.
        Termination,
    }
);

ffi_enum!(
    /// The four interpersonal problem areas of IPC.
    ProblemArea = ipc_core::model::ProblemArea {
        /// Grief after the death of someone important.
        Grief,
        /// Disagreement with someone important (IPT: role disputes).
        Disputes,
        /// Difficulty coping with a change (IPT: role transitions).
        LifeChanges,
        /// Long-standing lack of close relationships (IPT: interpersonal deficits).
        Loneliness,
    }
);

ffi_enum!(
    /// Stage of an interpersonal dispute.
    DisputeStage = ipc_core::model::DisputeStage {
        /// Still talking, arguing.
        Renegotiation,
        /// Stopped talking.
        Impasse,
        /// One party wants to end the relationship.
        Dissolution,
    }
);

ffi_enum!(
    /// Result of a screening.
    ScreeningOutcome = ipc_core::model::ScreeningOutcome {
        /// May start an IPC course.
        Eligible,
        /// IPC not indicated.
        NotEligible,
        /// Needs referral (severe symptoms or an exclusion criterion).
        Refer,
    }
);

ffi_enum!(
    /// Where a course stands. The last five are end states.
    CourseStatus = ipc_core::model::CourseStatus {
        /// Enrolled, first session not yet held.
        Enrolled,
        /// In the initial phase.
        Initial,
        /// In the middle phase.
        Middle,
        /// In the termination phase.
        Termination,
        /// Ended: completed.
        Completed,
        /// Ended: referred elsewhere.
        Referred,
        /// Ended: the client stopped coming.
        DroppedOut,
        /// Ended: the client moved away.
        Moved,
        /// Ended: the client died.
        Died,
    }
);

ffi_enum!(
    /// Why a course ended.
    EndReason = ipc_core::model::EndReason {
        /// Planned sessions completed.
        Completed,
        /// Referred elsewhere.
        Referred,
        /// The client stopped coming.
        DroppedOut,
        /// The client moved away.
        Moved,
        /// The client died.
        Died,
    }
);

ffi_enum!(
    /// Mood change around a timeline event.
    MoodChange = ipc_core::model::MoodChange {
        /// Mood got better.
        Better,
        /// Mood got worse.
        Worse,
        /// No change.
        NoChange,
    }
);

ffi_enum!(
    /// Why a questionnaire was given.
    ResponseContext = ipc_core::model::ResponseContext {
        /// At screening.
        Screening,
        /// During a session.
        Session,
        /// At follow-up after a course.
        FollowUp,
    }
);

ffi_enum!(
    /// What opened a risk event.
    RiskTrigger = ipc_core::model::RiskTrigger {
        /// PHQ-9 item 9 answered above zero.
        Phq9Item9,
        /// The worker's own concern, without a questionnaire.
        WorkerConcern,
    }
);

ffi_enum!(
    /// Progress of a risk event.
    RiskStatus = ipc_core::model::RiskStatus {
        /// Opened, not yet assessed.
        Open,
        /// Assessed, follow-up pending.
        Assessed,
        /// Closed.
        Closed,
    }
);

ffi_enum!(
    /// Result of a risk assessment.
    RiskOutcome = ipc_core::model::RiskOutcome {
        /// A safety plan was agreed.
        SafetyPlan,
        /// Urgent referral to a mental health service (also records an urgent referral).
        UrgentReferral,
        /// Something else (described in `outcome_text`).
        Other,
    }
);

ffi_enum!(
    /// How soon a referral is needed.
    ReferralUrgency = ipc_core::model::ReferralUrgency {
        /// Routine.
        Routine,
        /// Urgent.
        Urgent,
    }
);

ffi_enum!(
    /// Progress of a referral.
    ReferralStatus = ipc_core::model::ReferralStatus {
        /// Recommended, not yet made.
        Recommended,
        /// Made (the client was sent).
        Made,
        /// The client was seen.
        Completed,
        /// The client declined.
        Declined,
    }
);

ffi_enum!(
    /// A flag the protocol raises on a case (most urgent first in lists).
    Flag = ipc_core::protocol::flags::Flag {
        /// PHQ-9 item 9 above the threshold: thoughts of death or self-harm.
        SelfHarmThoughts,
        /// The worker raised a safety concern by observation.
        RiskConcern,
        /// PHQ-9 total in the severe range.
        SevereSymptoms,
        /// Too little improvement by the configured session.
        NoResponse,
        /// PHQ-9 total rose by at least the configured number of points.
        Worsening,
        /// The configured number of sessions missed in a row.
        MissedSessions,
        /// A planned session is past its due date.
        Overdue,
        /// The screening result is below the level for counselling.
        NotEligible,
        /// The person needs referral to other care.
        Refer,
    }
);

ffi_enum!(
    /// What must be recorded for an agenda step to count as done.
    Evidence = ipc_core::protocol::agenda::Evidence {
        /// A questionnaire (PHQ-9) recorded in this session.
        Questionnaire,
        /// At least one interpersonal-inventory entry.
        InventoryEntry,
        /// A problem area chosen for the course.
        ProblemArea,
        /// The planned number of sessions agreed.
        PlannedSessions,
        /// At least one strategy step of the chosen area done in this session.
        StrategyStep,
        /// A between-session task recorded.
        Task,
        /// A dispute stage recorded.
        DisputeStage,
        /// A decision on referral or further care recorded.
        ReferralDecision,
    }
);

ffi_enum!(
    /// Where a running sync is.
    SyncPhase = ipc_core::sync::engine::SyncPhase {
        /// Sending local work (and receiving alongside).
        Push,
        /// Only receiving.
        Pull,
        /// Finished.
        Done,
    }
);

/// Parse an ISO local date (`YYYY-MM-DD`) given for `field`.
pub(crate) fn parse_date(field: &str, text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| IpcError::invalid(field, "expected a date as YYYY-MM-DD"))
}

/// Parse an ISO local date-time (`YYYY-MM-DDTHH:MM[:SS]`) given for `field`.
pub(crate) fn parse_datetime(field: &str, text: &str) -> Result<NaiveDateTime> {
    let text = text.trim();
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| IpcError::invalid(field, "expected a local date-time as YYYY-MM-DDTHH:MM:SS"))
}

/// An optional date argument; `None` means today (the device's local date).
pub(crate) fn date_or_today(field: &str, text: Option<String>) -> Result<NaiveDate> {
    match text {
        Some(t) => parse_date(field, &t),
        None => Ok(chrono::Local::now().date_naive()),
    }
}

/// An optional date-time argument; `None` means now (the device's local time, whole seconds).
pub(crate) fn datetime_or_now(field: &str, text: Option<String>) -> Result<NaiveDateTime> {
    match text {
        Some(t) => parse_datetime(field, &t),
        None => {
            let now = chrono::Local::now().naive_local();
            Ok(now.with_nanosecond(0).unwrap_or(now))
        }
    }
}

/// The text form of a clinical date.
pub(crate) fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The text form of a clinical date-time.
pub(crate) fn datetime_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A small count or answer value given as `u32`, checked to fit the core's `u8`.
pub(crate) fn small(field: &str, value: u32) -> Result<u8> {
    u8::try_from(value).map_err(|_| IpcError::invalid(field, "out of range (0 to 255)"))
}

/// Questionnaire answers given as `u32` values in item order.
pub(crate) fn answers(values: &[u32]) -> Result<Vec<u8>> {
    values.iter().map(|v| small("answers", *v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for s in ipc_core::model::CourseStatus::ALL {
            let ffi = CourseStatus::from(*s);
            assert_eq!(ipc_core::model::CourseStatus::from(ffi), *s);
        }
        for f in ipc_core::protocol::flags::Flag::ALL {
            assert_eq!(ipc_core::protocol::flags::Flag::from(Flag::from(f)), f);
        }
    }

    #[test]
    fn dates_parse_and_print() {
        let d = parse_date("on", "2026-01-05").unwrap();
        assert_eq!(date_text(d), "2026-01-05");
        let t = parse_datetime("held_at", "2026-01-05T09:30").unwrap();
        assert_eq!(datetime_text(t), "2026-01-05T09:30:00");
        assert_eq!(
            datetime_text(parse_datetime("held_at", "2026-01-05T09:30:15").unwrap()),
            "2026-01-05T09:30:15"
        );
        assert_eq!(
            parse_date("on", "05/01/2026").unwrap_err(),
            IpcError::invalid("on", "expected a date as YYYY-MM-DD")
        );
        assert!(parse_datetime("held_at", "2026-01-05").is_err());
    }

    #[test]
    fn answers_must_fit_a_byte() {
        assert_eq!(answers(&[0, 3]).unwrap(), vec![0, 3]);
        assert!(matches!(
            answers(&[1, 256]),
            Err(IpcError::Validation { field, .. }) if field == "answers"
        ));
    }
}
