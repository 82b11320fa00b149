//! The case flags the protocol raises (risk, severity, progress, attendance, eligibility):
//! their stable names, worklist order, plain-words descriptions, default supervision mapping
//! and the configuration rule behind each one.
//!
//! The names are part of the wire format and the stored data: never rename a variant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A flag the protocol raises on a case. Serialised as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// PHQ-9 item 9 above the configured threshold: thoughts of death or self-harm.
    SelfHarmThoughts,
    /// The worker raised a safety concern by observation, with or without a questionnaire.
    RiskConcern,
    /// PHQ-9 total in the severe range.
    SevereSymptoms,
    /// Too little improvement by the configured session.
    NoResponse,
    /// PHQ-9 total rose by at least the configured number of points.
    Worsening,
    /// The configured number of sessions missed in a row.
    MissedSessions,
    /// A planned session is the configured number of days past its due date.
    Overdue,
    /// The screening result is below the level for counselling.
    NotEligible,
    /// The person needs referral to other care (exclusion criterion or severe score).
    Refer,
}

/// Error for a string that is not a flag name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown flag name (expected one of: self_harm_thoughts, risk_concern, severe_symptoms, no_response, worsening, missed_sessions, overdue, not_eligible, refer)")]
pub struct UnknownFlag;

impl Flag {
    /// Every flag, in declaration order.
    pub const ALL: [Flag; 9] = [
        Flag::SelfHarmThoughts,
        Flag::RiskConcern,
        Flag::SevereSymptoms,
        Flag::NoResponse,
        Flag::Worsening,
        Flag::MissedSessions,
        Flag::Overdue,
        Flag::NotEligible,
        Flag::Refer,
    ];

    /// The stable snake_case name (same as the serde form).
    pub const fn as_str(self) -> &'static str {
        match self {
            Flag::SelfHarmThoughts => "self_harm_thoughts",
            Flag::RiskConcern => "risk_concern",
            Flag::SevereSymptoms => "severe_symptoms",
            Flag::NoResponse => "no_response",
            Flag::Worsening => "worsening",
            Flag::MissedSessions => "missed_sessions",
            Flag::Overdue => "overdue",
            Flag::NotEligible => "not_eligible",
            Flag::Refer => "refer",
        }
    }

    /// Parses a snake_case flag name. Exact match only (no trimming, no case folding).
    pub fn parse(name: &str) -> Result<Flag, UnknownFlag> {
        Flag::ALL
            .into_iter()
            .find(|flag| flag.as_str() == name)
            .ok_or(UnknownFlag)
    }

    /// True for the two flags that open a risk event: item 9 and the worker's concern.
    pub const fn is_risk(self) -> bool {
        matches!(self, Flag::SelfHarmThoughts | Flag::RiskConcern)
    }

    /// Position in the worker's and supervisor's worklist: lower comes first.
    ///
    /// Risk flags share rank 0 (reference §5: contact the supervisor at once); then severe
    /// symptoms, worsening and a pending referral (§5 reasons to refer); then progress and
    /// attendance; eligibility last. Sort by `(urgency_rank, flag)` for a stable order.
    pub const fn urgency_rank(self) -> u8 {
        match self {
            Flag::SelfHarmThoughts | Flag::RiskConcern => 0,
            Flag::SevereSymptoms => 1,
            Flag::Worsening => 2,
            Flag::Refer => 3,
            Flag::NoResponse => 4,
            Flag::MissedSessions => 5,
            Flag::Overdue => 6,
            Flag::NotEligible => 7,
        }
    }

    /// A plain-words description for the worker's screen.
    pub const fn description(self) -> &'static str {
        match self {
            Flag::SelfHarmThoughts => {
                "Said they had thoughts of being better off dead or of hurting themselves \
                 (PHQ-9 question 9). Do the safety check before going on."
            }
            Flag::RiskConcern => {
                "The health worker is worried about this person's safety. Do the safety check \
                 and contact the supervisor."
            }
            Flag::SevereSymptoms => {
                "Depression score is in the severe range. Talk to the supervisor about referral."
            }
            Flag::NoResponse => "Little or no improvement after several sessions.",
            Flag::Worsening => "Depression score has gone up by a clear amount.",
            Flag::MissedSessions => "Missed sessions in a row.",
            Flag::Overdue => "A planned session is overdue.",
            Flag::NotEligible => "Screening score is below the level for this counselling.",
            Flag::Refer => {
                "Needs referral to other care, such as a doctor or mental health service."
            }
        }
    }

    /// Whether this flag puts the case in the supervisor's queue by default (reference §6:
    /// any risk event, severe scores, worsening, no response by mid-course, missed sessions).
    ///
    /// A programme changes this through `supervision.flags` in the protocol configuration;
    /// use `ProtocolConfig::needs_supervisor` for the effective value.
    pub const fn needs_supervisor(self) -> bool {
        match self {
            Flag::SelfHarmThoughts
            | Flag::RiskConcern
            | Flag::SevereSymptoms
            | Flag::NoResponse
            | Flag::Worsening
            | Flag::MissedSessions => true,
            Flag::Overdue | Flag::NotEligible | Flag::Refer => false,
        }
    }

    /// The protocol-configuration rule that raises this flag, as a dotted path
    /// (`section.rule`); its value and cited source are in `ProtocolConfig`.
    ///
    /// `risk_concern` points at the risk-assessment rule because the worker's concern opens
    /// the same assessment as item 9 (reference §5). `refer` is raised by
    /// `screening.refer_severe_at` and also by any `screening.exclusions` criterion.
    pub const fn source(self) -> &'static str {
        match self {
            Flag::SelfHarmThoughts => "safety.item9_risk_threshold",
            Flag::RiskConcern => "safety.risk_assessment_fields",
            Flag::SevereSymptoms => "safety.severe_symptoms_at",
            Flag::NoResponse => "no_response.min_improvement_pct",
            Flag::Worsening => "outcome.reliable_worsening_points",
            Flag::MissedSessions => "missed_sessions.consecutive",
            Flag::Overdue => "overdue.days_after_due",
            Flag::NotEligible => "screening.phq9_eligible_at",
            Flag::Refer => "screening.refer_severe_at",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Flag {
    type Err = UnknownFlag;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flag::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_exactly_the_agreed_list() {
        let names: Vec<&str> = Flag::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "self_harm_thoughts",
                "risk_concern",
                "severe_symptoms",
                "no_response",
                "worsening",
                "missed_sessions",
                "overdue",
                "not_eligible",
                "refer",
            ]
        );
    }

    #[test]
    fn serde_name_equals_as_str_and_parse_round_trips() {
        for flag in Flag::ALL {
            let json = serde_json::to_string(&flag).unwrap();
            assert_eq!(json, format!("\"{}\"", flag.as_str()));
            assert_eq!(serde_json::from_str::<Flag>(&json).unwrap(), flag);
            assert_eq!(Flag::parse(flag.as_str()), Ok(flag));
            assert_eq!(flag.to_string().parse::<Flag>(), Ok(flag));
        }
    }

    #[test]
    fn parse_rejects_near_misses() {
        for bad in [
            "",
            "Refer",
            " refer",
            "refer ",
            "self-harm-thoughts",
            "risk",
        ] {
            assert_eq!(Flag::parse(bad), Err(UnknownFlag), "{bad:?}");
        }
    }

    #[test]
    fn risk_flags_come_first_in_the_worklist() {
        let risk: Vec<Flag> = Flag::ALL.into_iter().filter(|f| f.is_risk()).collect();
        assert_eq!(risk, [Flag::SelfHarmThoughts, Flag::RiskConcern]);
        for flag in Flag::ALL.into_iter().filter(|f| !f.is_risk()) {
            for r in &risk {
                assert!(r.urgency_rank() < flag.urgency_rank(), "{flag}");
            }
        }
        let mut sorted = Flag::ALL.to_vec();
        sorted.sort_by_key(|f| (f.urgency_rank(), *f));
        assert_eq!(
            sorted,
            [
                Flag::SelfHarmThoughts,
                Flag::RiskConcern,
                Flag::SevereSymptoms,
                Flag::Worsening,
                Flag::Refer,
                Flag::NoResponse,
                Flag::MissedSessions,
                Flag::Overdue,
                Flag::NotEligible,
            ]
        );
    }

    #[test]
    fn default_supervision_mapping_follows_reference_section_6() {
        let supervised: Vec<&str> = Flag::ALL
            .into_iter()
            .filter(|f| f.needs_supervisor())
            .map(Flag::as_str)
            .collect();
        assert_eq!(
            supervised,
            [
                "self_harm_thoughts",
                "risk_concern",
                "severe_symptoms",
                "no_response",
                "worsening",
                "missed_sessions",
            ]
        );
    }

    #[test]
    fn descriptions_are_present_and_distinct() {
        let mut texts: Vec<&str> = Flag::ALL.iter().map(|f| f.description()).collect();
        assert!(texts.iter().all(|t| !t.trim().is_empty()));
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), Flag::ALL.len());
    }
}
