//! Errors of the IPC course engine. Each has a stable snake_case [`code`](ProtocolError::code)
//! used by the CLI, `ipc simulate` and the shells; messages never contain personal data.

use crate::instruments::InstrumentError;
use crate::model::{ModelError, RiskEventId};
use crate::protocol::agenda::AgendaError;
use crate::protocol::config::ConfigError;
use crate::store::StoreError;

/// Result of course-engine calls.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// Why the engine refused a step.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A risk event is open without an assessment: record the risk assessment first.
    #[error("a risk assessment must be recorded before this can continue (PHQ-9 item 9 or a worker concern opened a risk event)")]
    RiskAssessmentRequired {
        /// The open risk event.
        risk_event: RiskEventId,
    },
    /// Required agenda steps are neither done (with their evidence) nor skipped with a reason.
    #[error("required agenda steps not done: {}", steps.join(", "))]
    MissingSteps {
        /// The step ids.
        steps: Vec<String>,
    },
    /// The hard maximum number of sessions is reached.
    #[error("the course has reached the maximum of {max} sessions")]
    SessionLimit {
        /// The configured hard maximum.
        max: u8,
    },
    /// All planned sessions are held: extend the course (with a reason) first.
    #[error("all {planned} planned sessions are held; extend the course with a reason to add one")]
    ExtensionRequired {
        /// Sessions planned.
        planned: u8,
    },
    /// Extending the course needs a reason.
    #[error("extending the course beyond the plan needs a reason")]
    ExtensionNeedsReason,
    /// The planned number of sessions is outside the configured range.
    #[error("planned sessions must be between {min} and {max}")]
    PlannedSessionsOutOfRange {
        /// Minimum.
        min: u8,
        /// Maximum.
        max: u8,
    },
    /// The client's screening does not make them eligible.
    #[error("the client is not eligible for IPC on the latest screening")]
    NotEligible,
    /// The latest screening recommends referral instead of IPC.
    #[error("the latest screening recommends referral, not IPC")]
    ReferralRecommended,
    /// The client has no screening yet.
    #[error("the client has not been screened")]
    NotScreened,
    /// The client already has an active course.
    #[error("the client already has an active course")]
    AlreadyEnrolled,
    /// The client has no active course.
    #[error("the client has no active course")]
    NotEnrolled,
    /// The course has ended.
    #[error("the course has ended")]
    CourseEnded,
    /// A PHQ-9 answer set is needed here.
    #[error("a PHQ-9 is needed after a positive PHQ-2")]
    Phq9Required,
    /// An unknown agenda step id.
    #[error("unknown agenda step `{step}`")]
    UnknownStep {
        /// The id given.
        step: String,
    },
    /// A record was not found.
    #[error("no such {what}")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// The request is inconsistent (e.g. a dispute stage without the disputes area).
    #[error("invalid request: {0}")]
    Invalid(&'static str),
    /// Questionnaire definition or scoring error.
    #[error(transparent)]
    Instrument(#[from] InstrumentError),
    /// Agenda content error.
    #[error(transparent)]
    Agenda(#[from] AgendaError),
    /// Protocol configuration error.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Validation of a domain value.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Storage error.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProtocolError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::RiskAssessmentRequired { .. } => "risk_assessment_required",
            ProtocolError::MissingSteps { .. } => "missing_steps",
            ProtocolError::SessionLimit { .. } => "session_limit",
            ProtocolError::ExtensionRequired { .. } => "extension_required",
            ProtocolError::ExtensionNeedsReason => "extension_needs_reason",
            ProtocolError::PlannedSessionsOutOfRange { .. } => "planned_sessions_out_of_range",
            ProtocolError::NotEligible => "not_eligible",
            ProtocolError::ReferralRecommended => "referral_recommended",
            ProtocolError::NotScreened => "not_screened",
            ProtocolError::AlreadyEnrolled => "already_enrolled",
            ProtocolError::NotEnrolled => "not_enrolled",
            ProtocolError::CourseEnded => "course_ended",
            ProtocolError::Phq9Required => "phq9_required",
            ProtocolError::UnknownStep { .. } => "unknown_step",
            ProtocolError::NotFound { .. } => "not_found",
            ProtocolError::Invalid(_) => "invalid",
            ProtocolError::Instrument(_) => "invalid_answers",
            ProtocolError::Agenda(_) => "agenda",
            ProtocolError::Config(_) => "config",
            ProtocolError::Model(_) => "validation",
            ProtocolError::Store(StoreError::Validation(_)) => "validation",
            ProtocolError::Store(_) => "storage",
        }
    }
}
