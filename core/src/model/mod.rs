//! Domain model of IPC: typed ids, closed vocabularies, entity structs and their
//! validation. No storage and no clinical scoring (see `store` and `instruments`).
//!
//! Every entity is a plain data struct with public fields. `X::new(NewX, ctx)` assigns a
//! fresh id, normalises free text (trim; blank optional → `None`) and validates;
//! `x.validate(ctx)` re-checks a stored or updated value and rejects anything `new` would
//! have normalised. `ctx` is `today` (the device's local date) where a rule needs it.
//! Errors name the field, never the value.

mod audit;
mod client;
mod course;
mod dates;
mod enums;
mod error;
mod extra;
mod ids;
mod inventory;
mod questionnaire;
mod referral;
mod reminder;
mod risk;
mod screening;
mod session;
mod supervisor_note;
mod text;
mod timeline;
mod worker;

#[cfg(test)]
mod test_support;

pub use audit::{AuditEntry, NewAuditEntry};
pub use client::{Client, Consent, NewClient};
pub use course::{Course, NewCourse, HARD_MAX_SESSIONS, MAX_PROBLEM_AREAS};
pub use dates::{
    check_life_date, check_not_before, check_recorded_date, check_scheduled_date, check_year,
    EARLIEST_DATE, MAX_AGE_YEARS, RESPONSE_FUTURE_DAYS,
};
pub use enums::{
    Attendance, AuditAction, ConsentMethod, CourseStatus, DisputeStage, EndReason, Modality,
    MoodChange, Phase, ProblemArea, ReferralStatus, ReferralUrgency, ReminderKind, ReminderStatus,
    ResponseContext, RiskOutcome, RiskStatus, RiskTrigger, Role, ScreeningOutcome, Sex,
};
pub use error::{ModelError, Reason, Result};
pub use extra::{Extra, EXTRA_MAX_BYTES};
pub use ids::{
    ClientId, CourseId, DeviceId, InventoryEntryId, OpId, ReferralId, ReminderId, ResponseId,
    RiskEventId, ScreeningId, SessionId, SupervisorNoteId, TimelineEventId, WorkerId,
};
pub use inventory::{InventoryEntry, NewInventoryEntry, CLOSENESS_MAX, CLOSENESS_MIN};
pub use questionnaire::{Answer, NewQuestionnaireResponse, QuestionnaireResponse};
pub use referral::{NewReferral, Referral};
pub use reminder::{NewReminder, Reminder};
pub use risk::{NewRiskEvent, RiskAssessment, RiskEvent};
pub use screening::{NewScreening, Screening};
pub use session::{NewSession, Session, SkippedStep};
pub use supervisor_note::{NewSupervisorNote, SupervisorNote};
pub use text::{
    check_code, check_codes, check_multiline, check_optional, check_optional_multiline,
    check_phone, check_text, check_unique, clean_multiline, clean_optional,
    clean_optional_multiline, clean_optional_phone, clean_phone, clean_text, ADDRESS_MAX, CODE_MAX,
    LABEL_MAX, NAME_MAX, NOTE_MAX, PHONE_MAX, PHONE_MIN, PHONE_MIN_DIGITS, RELATIONSHIP_MAX,
    SHORT_TEXT_MAX, TEAM_MAX, VERSION_MAX, VILLAGE_MAX,
};
pub use timeline::{NewTimelineEvent, TimelineEvent};
pub use worker::{NewWorker, Worker};
