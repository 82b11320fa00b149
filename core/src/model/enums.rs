//! Closed vocabularies of the domain. Each enum has a stable snake_case text form used by
//! serde, storage and the wire: `as_str`, `parse`, `Display`/`FromStr` and `ALL`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{ModelError, Result};

/// Define a fieldless enum with a snake_case text form. `$kind` names the enum in errors.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable snake_case text form (same as serde).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text ),+
                }
            }

            /// Parse the text form produced by [`as_str`](Self::as_str) (exact match).
            pub fn parse(s: &str) -> Result<Self> {
                match s {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err(ModelError::UnknownVariant { kind: $kind }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
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

text_enum!(
    /// A client's sex as recorded.
    Sex, "sex" {
        /// Female.
        Female => "female",
        /// Male.
        Male => "male",
        /// Other or not stated otherwise.
        Other => "other",
    }
);

text_enum!(
    /// What a worker may do.
    Role, "role" {
        /// A community health worker delivering IPC.
        Worker => "worker",
        /// Supervises a team of workers.
        Supervisor => "supervisor",
        /// Programme or data manager.
        Admin => "admin",
    }
);

text_enum!(
    /// How consent was taken.
    ConsentMethod, "consent_method" {
        /// Spoken consent, recorded by the worker.
        Verbal => "verbal",
        /// Signed or thumb-printed form.
        Written => "written",
    }
);

text_enum!(
    /// Whether a planned session took place.
    Attendance, "attendance" {
        /// The client attended.
        Attended => "attended",
        /// The client did not come.
        Missed => "missed",
        /// Moved to another date.
        Rescheduled => "rescheduled",
    }
);

text_enum!(
    /// How a session was delivered.
    Modality, "modality" {
        /// Face to face.
        InPerson => "in_person",
        /// By phone.
        Phone => "phone",
    }
);

text_enum!(
    /// The IPC phase a session belongs to.
    Phase, "phase" {
        /// Session 1 (may spill into 2): assessment, inventory, problem area, contract.
        Initial => "initial",
        /// Working on the problem area.
        Middle => "middle",
        /// Last session: review, relapse prevention, next steps.
        Termination => "termination",
    }
);

text_enum!(
    /// The four interpersonal problem areas (IPC names; see [`ProblemArea::ipt_label`]).
    ProblemArea, "problem_area" {
        /// Grief after the death of someone important.
        Grief => "grief",
        /// Disagreement with someone important (IPT: role disputes).
        Disputes => "disputes",
        /// Difficulty coping with a change (IPT: role transitions).
        LifeChanges => "life_changes",
        /// Long-standing lack of close relationships (IPT: interpersonal deficits).
        Loneliness => "loneliness",
    }
);

impl ProblemArea {
    /// The name used in Interpersonal Psychotherapy (IPT).
    pub const fn ipt_label(self) -> &'static str {
        match self {
            Self::Grief => "Grief",
            Self::Disputes => "Role disputes",
            Self::LifeChanges => "Role transitions",
            Self::Loneliness => "Interpersonal deficits",
        }
    }

    /// The name used in Interpersonal Counselling (IPC).
    pub const fn ipc_label(self) -> &'static str {
        match self {
            Self::Grief => "Grief",
            Self::Disputes => "Disputes",
            Self::LifeChanges => "Life changes",
            Self::Loneliness => "Loneliness / isolation",
        }
    }
}

text_enum!(
    /// Stage of an interpersonal dispute.
    DisputeStage, "dispute_stage" {
        /// Still talking, arguing.
        Renegotiation => "renegotiation",
        /// Stopped talking.
        Impasse => "impasse",
        /// One party wants to end the relationship.
        Dissolution => "dissolution",
    }
);

text_enum!(
    /// Result of a screening.
    ScreeningOutcome, "screening_outcome" {
        /// May start an IPC course.
        Eligible => "eligible",
        /// IPC not indicated.
        NotEligible => "not_eligible",
        /// Needs referral (e.g. risk, severe symptoms).
        Refer => "refer",
    }
);

text_enum!(
    /// Where a course stands. The last five are end states (see [`CourseStatus::is_ended`]).
    CourseStatus, "course_status" {
        /// Enrolled, first session not yet held.
        Enrolled => "enrolled",
        /// In the initial phase.
        Initial => "initial",
        /// In the middle phase.
        Middle => "middle",
        /// In the termination phase.
        Termination => "termination",
        /// Ended: completed.
        Completed => "completed",
        /// Ended: referred elsewhere.
        Referred => "referred",
        /// Ended: the client stopped coming.
        DroppedOut => "dropped_out",
        /// Ended: the client moved away.
        Moved => "moved",
        /// Ended: the client died.
        Died => "died",
    }
);

impl CourseStatus {
    /// Whether the course has ended (a matching [`EndReason`] is then required).
    pub const fn is_ended(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Referred | Self::DroppedOut | Self::Moved | Self::Died
        )
    }
}

text_enum!(
    /// Why a course ended.
    EndReason, "end_reason" {
        /// Planned sessions completed.
        Completed => "completed",
        /// Referred elsewhere.
        Referred => "referred",
        /// The client stopped coming.
        DroppedOut => "dropped_out",
        /// The client moved away.
        Moved => "moved",
        /// The client died.
        Died => "died",
    }
);

impl EndReason {
    /// The course status this end reason implies.
    pub const fn status(self) -> CourseStatus {
        match self {
            Self::Completed => CourseStatus::Completed,
            Self::Referred => CourseStatus::Referred,
            Self::DroppedOut => CourseStatus::DroppedOut,
            Self::Moved => CourseStatus::Moved,
            Self::Died => CourseStatus::Died,
        }
    }
}

text_enum!(
    /// Mood change around a timeline event.
    MoodChange, "mood_change" {
        /// Mood got better.
        Better => "better",
        /// Mood got worse.
        Worse => "worse",
        /// No change.
        NoChange => "no_change",
    }
);

text_enum!(
    /// Why a questionnaire was administered.
    ResponseContext, "response_context" {
        /// At screening.
        Screening => "screening",
        /// During a session.
        Session => "session",
        /// At follow-up after a course.
        FollowUp => "follow_up",
    }
);

text_enum!(
    /// What opened a risk event.
    RiskTrigger, "risk_trigger" {
        /// PHQ-9 item 9 answered above zero.
        Phq9Item9 => "phq9_item9",
        /// The worker's own concern, without a questionnaire.
        WorkerConcern => "worker_concern",
    }
);

text_enum!(
    /// Progress of a risk event.
    RiskStatus, "risk_status" {
        /// Opened, not yet assessed.
        Open => "open",
        /// Assessed, follow-up pending.
        Assessed => "assessed",
        /// Closed.
        Closed => "closed",
    }
);

text_enum!(
    /// Result of a risk assessment.
    RiskOutcome, "risk_outcome" {
        /// A safety plan was agreed.
        SafetyPlan => "safety_plan",
        /// Urgent referral to a mental health service.
        UrgentReferral => "urgent_referral",
        /// Something else (described in text).
        Other => "other",
    }
);

text_enum!(
    /// How soon a referral is needed.
    ReferralUrgency, "referral_urgency" {
        /// Routine.
        Routine => "routine",
        /// Urgent.
        Urgent => "urgent",
    }
);

text_enum!(
    /// Progress of a referral.
    ReferralStatus, "referral_status" {
        /// Recommended, not yet made.
        Recommended => "recommended",
        /// Made (the client was sent).
        Made => "made",
        /// The client was seen.
        Completed => "completed",
        /// The client declined.
        Declined => "declined",
    }
);

text_enum!(
    /// What a reminder is about.
    ReminderKind, "reminder_kind" {
        /// A session is due.
        SessionDue => "session_due",
        /// A follow-up is due.
        FollowUp => "follow_up",
    }
);

text_enum!(
    /// Progress of a reminder.
    ReminderStatus, "reminder_status" {
        /// Not yet acted on.
        Pending => "pending",
        /// Done.
        Done => "done",
        /// Dismissed without action.
        Dismissed => "dismissed",
    }
);

text_enum!(
    /// What an audit entry records.
    AuditAction, "audit_action" {
        /// A record was created.
        Create => "create",
        /// A record was updated.
        Update => "update",
        /// A record was deleted (tombstoned).
        Delete => "delete",
        /// A remote operation was applied by sync.
        ApplyRemote => "apply_remote",
        /// The store was unlocked.
        Unlock => "unlock",
        /// An unlock attempt failed.
        UnlockFailed => "unlock_failed",
        /// The store was locked.
        Lock => "lock",
        /// The PIN was changed.
        ChangePin => "change_pin",
        /// Access was recovered.
        Recover => "recover",
        /// Data was exported.
        Export => "export",
        /// The device enrolled with a sync server.
        Enrol => "enrol",
        /// A client's records were removed from this device (reassigned elsewhere).
        Purge => "purge",
        /// All records were wiped from this device (revoked).
        Wipe => "wipe",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Check as_str/parse/Display/FromStr/serde agree for every variant and that the
    /// parse error names the kind.
    fn round_trip<T>(all: &[T], kind: &'static str, as_str: fn(T) -> &'static str)
    where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + FromStr<Err = ModelError>,
        T: Serialize + for<'de> Deserialize<'de>,
    {
        assert!(!all.is_empty());
        for &v in all {
            let text = as_str(v);
            assert_eq!(T::from_str(text).unwrap(), v);
            assert_eq!(v.to_string(), text);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<T>(&format!("\"{text}\"")).unwrap(),
                v
            );
            assert!(text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            assert!(T::from_str(&text.to_uppercase()).is_err(), "parse is exact");
        }
        let mut texts: Vec<_> = all.iter().map(|&v| as_str(v)).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), all.len(), "{kind}: texts are distinct");
        assert_eq!(
            T::from_str("ZQX").unwrap_err(),
            ModelError::UnknownVariant { kind }
        );
        assert_eq!(
            T::from_str("").unwrap_err(),
            ModelError::UnknownVariant { kind }
        );
    }

    #[test]
    fn all_enums_round_trip() {
        round_trip(Sex::ALL, "sex", Sex::as_str);
        round_trip(Role::ALL, "role", Role::as_str);
        round_trip(ConsentMethod::ALL, "consent_method", ConsentMethod::as_str);
        round_trip(Attendance::ALL, "attendance", Attendance::as_str);
        round_trip(Modality::ALL, "modality", Modality::as_str);
        round_trip(Phase::ALL, "phase", Phase::as_str);
        round_trip(ProblemArea::ALL, "problem_area", ProblemArea::as_str);
        round_trip(DisputeStage::ALL, "dispute_stage", DisputeStage::as_str);
        round_trip(
            ScreeningOutcome::ALL,
            "screening_outcome",
            ScreeningOutcome::as_str,
        );
        round_trip(CourseStatus::ALL, "course_status", CourseStatus::as_str);
        round_trip(EndReason::ALL, "end_reason", EndReason::as_str);
        round_trip(MoodChange::ALL, "mood_change", MoodChange::as_str);
        round_trip(
            ResponseContext::ALL,
            "response_context",
            ResponseContext::as_str,
        );
        round_trip(RiskTrigger::ALL, "risk_trigger", RiskTrigger::as_str);
        round_trip(RiskStatus::ALL, "risk_status", RiskStatus::as_str);
        round_trip(RiskOutcome::ALL, "risk_outcome", RiskOutcome::as_str);
        round_trip(
            ReferralUrgency::ALL,
            "referral_urgency",
            ReferralUrgency::as_str,
        );
        round_trip(
            ReferralStatus::ALL,
            "referral_status",
            ReferralStatus::as_str,
        );
        round_trip(ReminderKind::ALL, "reminder_kind", ReminderKind::as_str);
        round_trip(
            ReminderStatus::ALL,
            "reminder_status",
            ReminderStatus::as_str,
        );
        round_trip(AuditAction::ALL, "audit_action", AuditAction::as_str);
    }

    #[test]
    fn variant_counts() {
        assert_eq!(CourseStatus::ALL.len(), 9);
        assert_eq!(AuditAction::ALL.len(), 13);
        assert_eq!(ProblemArea::ALL.len(), 4);
    }

    #[test]
    fn problem_area_labels() {
        let ipt: Vec<_> = ProblemArea::ALL.iter().map(|a| a.ipt_label()).collect();
        assert_eq!(
            ipt,
            [
                "Grief",
                "Role disputes",
                "Role transitions",
                "Interpersonal deficits"
            ]
        );
        let ipc: Vec<_> = ProblemArea::ALL.iter().map(|a| a.ipc_label()).collect();
        assert_eq!(
            ipc,
            [
                "Grief",
                "Disputes",
                "Life changes",
                "Loneliness / isolation"
            ]
        );
    }

    #[test]
    fn end_states_and_end_reasons_match() {
        let ended: Vec<_> = CourseStatus::ALL
            .iter()
            .filter(|s| s.is_ended())
            .copied()
            .collect();
        let from_reasons: Vec<_> = EndReason::ALL.iter().map(|r| r.status()).collect();
        assert_eq!(ended, from_reasons);
        for r in EndReason::ALL {
            assert_eq!(r.as_str(), r.status().as_str());
        }
        assert!(!CourseStatus::Termination.is_ended());
        assert!(!CourseStatus::Enrolled.is_ended());
    }
}
