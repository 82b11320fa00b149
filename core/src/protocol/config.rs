//! The protocol configuration: every rule, threshold and default the app applies to an IPC
//! course, each stored beside the source it comes from, loadable from a programme's JSON and
//! validated.
//!
//! Defaults follow `shared/reference/clinical.md` (cited as "reference §n"). Values without a
//! clinical source are marked "Programme setting" in their `source`. A programme overrides a
//! rule by supplying the whole rule — value *and* source — so a changed value never carries
//! the old citation; sections and rules it leaves out keep their defaults. Unknown fields are
//! rejected so a typo in a programme's file is caught, not ignored.

use serde::{Deserialize, Serialize};

use super::flags::Flag;

/// Result alias for configuration loading and validation.
pub type Result<T> = std::result::Result<T, ConfigError>;

/// The default configuration as a JSON template a programme can copy and edit.
/// Equal to `ProtocolConfig::default()` (checked by a test).
pub const DEFAULT_JSON: &str = include_str!("content/protocol.default.json");

/// What is wrong with a protocol configuration. Names the field, never a client's data
/// (a configuration holds none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The JSON did not parse or did not have the expected shape (unknown field, wrong type,
    /// missing `value` or `source` in an overridden rule).
    #[error("protocol config JSON is invalid at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's description (names the unknown or missing field).
        message: String,
    },
    /// A number is outside its allowed range.
    #[error("{field} must be between {min} and {max}")]
    OutOfRange {
        /// Dotted path of the value, e.g. `outcome.response_reduction_pct.value`.
        field: String,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// A number is below its minimum (no upper limit).
    #[error("{field} must be at least {min}")]
    TooSmall {
        /// Dotted path of the value.
        field: String,
        /// Smallest allowed value.
        min: u32,
    },
    /// Two rules contradict each other.
    #[error("{field} {rule}")]
    Inconsistent {
        /// Dotted path of the value that breaks the rule.
        field: &'static str,
        /// The rule, naming the other field.
        rule: &'static str,
    },
    /// A text or list that must have content is empty (a missing `source` included).
    #[error("{field} must not be empty")]
    Empty {
        /// Dotted path of the empty text or list.
        field: String,
    },
    /// An id is not `[a-z][a-z0-9_]*` (at most 64 characters).
    #[error("{field} is not a valid id (lowercase letters, digits and '_', starting with a letter, at most 64 characters)")]
    InvalidId {
        /// Dotted path of the id, e.g. `screening.exclusions[2].id`.
        field: String,
    },
    /// A list entry repeats an earlier one.
    #[error("{field} repeats an earlier entry")]
    Duplicate {
        /// Dotted path of the repeated entry.
        field: String,
    },
    /// A list must be strictly increasing and is not.
    #[error("{field} must be greater than the entry before it")]
    NotIncreasing {
        /// Dotted path of the offending entry.
        field: String,
    },
    /// The supervision triggers leave out a risk flag. Every risk event goes to the
    /// supervisor at once (reference §5, mhGAP SUI 2; §6); a programme cannot turn that off.
    #[error(
        "supervision.flags.value must include {flag}: every risk event goes to the supervisor"
    )]
    RiskNotSupervised {
        /// The missing risk flag.
        flag: Flag,
    },
}

impl ConfigError {
    fn json(err: &serde_json::Error) -> Self {
        Self::Json {
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        }
    }
}

/// One rule: its value and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule<T> {
    /// The value the app applies.
    pub value: T,
    /// Reference section and original source, or "Programme setting" with the reason.
    pub source: String,
}

impl<T> Rule<T> {
    /// A rule with its value and source.
    pub fn new(value: T, source: impl Into<String>) -> Self {
        Self {
            value,
            source: source.into(),
        }
    }
}

/// A reason not to offer IPC but to refer the person (reference §1, §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExclusionCriterion {
    /// Stable snake_case id, stored with the screening.
    pub id: String,
    /// Plain-words label for the worker's checklist.
    pub label: String,
    /// Reference section and original source.
    pub source: String,
}

/// Planned number of sessions and extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// Fewest sessions a course may plan.
    pub min_planned: Rule<u8>,
    /// Most sessions a course may plan when the plan is agreed.
    pub max_planned: Rule<u8>,
    /// Planned sessions proposed when a course starts.
    pub default_planned: Rule<u8>,
    /// Absolute limit when the plan is extended (with a reason).
    pub hard_max: Rule<u8>,
    /// Whether adding sessions beyond the plan needs a recorded reason.
    pub extension_requires_reason: Rule<bool>,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        const RANGE: &str = "Reference §1: IPC is usually 3 to 8 sessions (Weissman et al. 2014, \
                             Am J Psychotherapy 68(4):359; seed 002)";
        Self {
            min_planned: Rule::new(3, RANGE),
            max_planned: Rule::new(8, RANGE),
            default_planned: Rule::new(
                6,
                "Reference §1: Judd et al. 2004, Aust Fam Physician 33:332 (IPC in six sessions)",
            ),
            hard_max: Rule::new(
                8,
                "Reference §1: IPC is usually 3 to 8 sessions and sessions may be added \
                 (Weissman et al. 2014); 8 is the upper end of that range",
            ),
            extension_requires_reason: Rule::new(
                true,
                "Reference §1 (sessions may be added) and §6 (requests for more than the planned \
                 sessions are for the supervisor to see); a recorded reason is a programme setting",
            ),
        }
    }
}

/// Screening and eligibility.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScreeningConfig {
    /// PHQ-2 total at or above which the screen is positive and the PHQ-9 follows.
    pub phq2_positive_at: Rule<u8>,
    /// PHQ-9 total at or above which IPC is offered (below: `not_eligible`).
    pub phq9_eligible_at: Rule<u8>,
    /// PHQ-9 total at or above which the person is referred instead (`refer`).
    pub refer_severe_at: Rule<u8>,
    /// Criteria that lead to `refer` instead of IPC.
    pub exclusions: Vec<ExclusionCriterion>,
}

impl Default for ScreeningConfig {
    fn default() -> Self {
        fn criterion(id: &str, label: &str, source: &str) -> ExclusionCriterion {
            ExclusionCriterion {
                id: id.to_owned(),
                label: label.to_owned(),
                source: source.to_owned(),
            }
        }
        const NOT_FOR: &str = "Reference §1 (IPC is not for needs better met by medication or \
                               specialist care) and §5 (refer or consult; ICSI depression \
                               guideline; OpenLearn CHW mental-health module)";
        Self {
            phq2_positive_at: Rule::new(
                3,
                "Reference §4: PHQ-2 >= 3 is the usual cut-point (Kroenke et al. 2003: \
                 sensitivity 83%, specificity 92%); >= 2 is more sensitive (Arroll et al. 2010)",
            ),
            phq9_eligible_at: Rule::new(
                10,
                "Reference §4: PHQ-9 >= 10, sensitivity 88% and specificity 88% for major \
                 depression (Kroenke et al. 2001); using it as the entry level for IPC is the \
                 programme's default",
            ),
            refer_severe_at: Rule::new(
                20,
                "Reference §5: refer or consult for severe depression, PHQ-9 >= 20 by default \
                 (severe band 20-27, Kroenke et al. 2001; ICSI depression guideline)",
            ),
            exclusions: vec![
                criterion("psychosis", "Psychotic symptoms", NOT_FOR),
                criterion("bipolar", "Suspected bipolar disorder", NOT_FOR),
                criterion(
                    "substance_dependence",
                    "Alcohol or drug dependence",
                    NOT_FOR,
                ),
                criterion(
                    "suicide_plan_or_recent_attempt",
                    "A current suicide plan, or a suicide attempt in the last 3 months",
                    "Reference §5: some programmes exclude a current suicide plan or an attempt \
                     in the last three months from lay-delivered IPT (SAATHI-2, NCT06017700); \
                     §1: not for active suicide risk",
                ),
            ],
        }
    }
}

/// Safety: what opens a risk event and what the assessment records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SafetyConfig {
    /// PHQ-9 item 9 answer *above* this value raises `self_harm_thoughts` and opens a risk
    /// event. Item 9 = 0 never means "safe": the worker can always raise `risk_concern`.
    pub item9_risk_threshold: Rule<u8>,
    /// What the risk assessment must record (ids).
    pub risk_assessment_fields: Rule<Vec<String>>,
    /// PHQ-9 total at or above which `severe_symptoms` is raised during a course.
    pub severe_symptoms_at: Rule<u8>,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            item9_risk_threshold: Rule::new(
                0,
                "Reference §4: PHQ-9 item 9 > 0 makes a suicide-risk assessment mandatory before \
                 the session continues; §5: WHO mhGAP SUI 1-2",
            ),
            risk_assessment_fields: Rule::new(
                [
                    "thoughts",
                    "plan",
                    "intent",
                    "timeframe",
                    "means",
                    "past_attempts",
                    "supports",
                ]
                .map(str::to_owned)
                .to_vec(),
                "Reference §5: on item 9 > 0 or any worker concern ask about thoughts, plan, \
                 intent, timeframe, means, past attempts, supports (WHO mhGAP SUI 1-2)",
            ),
            severe_symptoms_at: Rule::new(
                20,
                "Reference §4 (PHQ-9 severe band 20-27, Kroenke et al. 2001) and §5 (severe \
                 depression PHQ-9 >= 20: refer or consult; ICSI depression guideline)",
            ),
        }
    }
}

/// Outcome of a course, measured on the PHQ-9 against the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeConfig {
    /// Response: the total fell by at least this percentage of the baseline.
    pub response_reduction_pct: Rule<u8>,
    /// Remission: the total is below this value.
    pub remission_below: Rule<u8>,
    /// Worsening: the total rose by at least this many points (raises `worsening`).
    pub reliable_worsening_points: Rule<u8>,
}

impl Default for OutcomeConfig {
    fn default() -> Self {
        Self {
            response_reduction_pct: Rule::new(
                50,
                "Reference §4: response is a reduction of at least 50% from baseline \
                 (Psychiatric Services 2020, ps.201900295)",
            ),
            remission_below: Rule::new(
                5,
                "Reference §4: remission is a PHQ-9 total below 5 (Psychiatric Services 2020, \
                 ps.201900295)",
            ),
            reliable_worsening_points: Rule::new(
                5,
                "Reference §4: minimal clinically important individual change is 5 points \
                 (Löwe et al. 2004); §5: worsening by >= 5 points at any time, refer or consult",
            ),
        }
    }
}

/// No adequate response by a given session (raises `no_response`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoResponseConfig {
    /// Below this percentage of improvement from baseline the course is not responding.
    pub min_improvement_pct: Rule<u8>,
    /// The session number at which the check is made.
    pub by_session: Rule<u8>,
}

impl Default for NoResponseConfig {
    fn default() -> Self {
        const SOURCE: &str = "Reference §5: no adequate response, e.g. less than 20-25% \
                              improvement after 4 sessions, is a programme setting (DEPICS \
                              trial augmented non-responders at 2 months; ICSI); 25% is the \
                              upper end of that range";
        Self {
            min_improvement_pct: Rule::new(25, SOURCE),
            by_session: Rule::new(4, SOURCE),
        }
    }
}

/// Missed sessions (raises `missed_sessions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MissedSessionsConfig {
    /// Number of sessions missed in a row that raises the flag.
    pub consecutive: Rule<u8>,
}

impl Default for MissedSessionsConfig {
    fn default() -> Self {
        Self {
            consecutive: Rule::new(
                2,
                "Programme setting: reference §6 lists missed sessions among the cases a \
                 supervisor should see but gives no number; 2 in a row is the project's default",
            ),
        }
    }
}

/// Overdue sessions (raises `overdue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverdueConfig {
    /// Days after a planned session's due date without it being held.
    pub days_after_due: Rule<u32>,
}

impl Default for OverdueConfig {
    fn default() -> Self {
        Self {
            days_after_due: Rule::new(
                7,
                "Programme setting, no clinical source: a planned session not held 7 days after \
                 its due date",
            ),
        }
    }
}

/// Reminders and scheduling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemindersConfig {
    /// Follow-up contacts after the course ends, in days, increasing. May be empty.
    pub follow_up_after_days: Rule<Vec<u32>>,
    /// Days between sessions used to propose the next date.
    pub session_interval_days: Rule<u32>,
}

impl Default for RemindersConfig {
    fn default() -> Self {
        Self {
            follow_up_after_days: Rule::new(
                vec![30, 90],
                "Programme setting, no clinical source: follow-up 1 and 3 months after the \
                 course ends",
            ),
            session_interval_days: Rule::new(
                7,
                "Reference §1: sessions weekly or spaced as the person needs (Weissman et al. \
                 2014; Judd et al. 2004; seed 002)",
            ),
        }
    }
}

/// What puts a case in the supervisor's queue (reference §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionConfig {
    /// Flags that put a case in the queue. Must include both risk flags.
    pub flags: Rule<Vec<Flag>>,
    /// Requests for more than the planned sessions go to the supervisor.
    pub extension_requests: Rule<bool>,
    /// A course ended early by drop-out goes to the supervisor.
    pub early_dropout: Rule<bool>,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            flags: Rule::new(
                Flag::ALL
                    .into_iter()
                    .filter(|f| f.needs_supervisor())
                    .collect(),
                "Reference §6: a supervisor should see any risk event, severe scores, worsening, \
                 no response by mid-course, missed sessions (ImpACT+; review PMC6742429); §5: \
                 contact the supervisor at once on risk (WHO mhGAP SUI 2)",
            ),
            extension_requests: Rule::new(
                true,
                "Reference §6: requests for more than the planned sessions",
            ),
            early_dropout: Rule::new(true, "Reference §6: early drop-out"),
        }
    }
}

/// Every rule of the IPC protocol the app applies. `Default` is the reference defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ProtocolConfig {
    /// Planned number of sessions and extensions.
    pub sessions: SessionsConfig,
    /// Screening and eligibility.
    pub screening: ScreeningConfig,
    /// Risk events.
    pub safety: SafetyConfig,
    /// Response, remission and worsening.
    pub outcome: OutcomeConfig,
    /// No adequate response.
    pub no_response: NoResponseConfig,
    /// Missed sessions.
    pub missed_sessions: MissedSessionsConfig,
    /// Overdue sessions.
    pub overdue: OverdueConfig,
    /// Reminders and scheduling.
    pub reminders: RemindersConfig,
    /// Supervisor queue.
    pub supervision: SupervisionConfig,
}

/// Largest PHQ-9 total.
const PHQ9_MAX: u32 = 27;
/// Largest PHQ-2 total.
const PHQ2_MAX: u32 = 6;
/// Largest answer value of one PHQ item.
const ITEM_MAX: u32 = 3;

impl ProtocolConfig {
    /// Parses a programme's configuration and validates it. Sections and rules left out keep
    /// their defaults; an overridden rule needs both `value` and `source`.
    pub fn from_json(json: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(json).map_err(|e| ConfigError::json(&e))?;
        config.validate()?;
        Ok(config)
    }

    /// The configuration as pretty-printed JSON (loadable with [`Self::from_json`]).
    pub fn to_json_pretty(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| ConfigError::json(&e))
    }

    /// Whether `flag` puts a case in the supervisor's queue under this configuration.
    pub fn needs_supervisor(&self, flag: Flag) -> bool {
        self.supervision.flags.value.contains(&flag)
    }

    /// The cited source of the rule at a dotted path such as `safety.item9_risk_threshold`
    /// (see [`Flag::source`]); `None` if there is no such rule.
    pub fn source_of(&self, path: &str) -> Option<String> {
        let value = serde_json::to_value(self).ok()?;
        let pointer = format!("/{}/source", path.replace('.', "/"));
        value.pointer(&pointer)?.as_str().map(str::to_owned)
    }

    /// Checks every rule: sources present, values in range, rules consistent with each
    /// other. Returns the first problem found.
    pub fn validate(&self) -> Result<()> {
        self.validate_sessions()?;
        self.validate_screening()?;
        self.validate_safety()?;
        self.validate_outcome()?;
        self.validate_progress()?;
        self.validate_supervision()
    }

    fn validate_sessions(&self) -> Result<()> {
        let s = &self.sessions;
        let max = u32::from(u8::MAX);
        number("sessions.min_planned", &s.min_planned, 1, max)?;
        number("sessions.max_planned", &s.max_planned, 1, max)?;
        number("sessions.default_planned", &s.default_planned, 1, max)?;
        number("sessions.hard_max", &s.hard_max, 1, max)?;
        source(
            "sessions.extension_requires_reason",
            &s.extension_requires_reason,
        )?;
        if s.max_planned.value < s.min_planned.value {
            return Err(ConfigError::Inconsistent {
                field: "sessions.max_planned.value",
                rule: "must not be less than sessions.min_planned",
            });
        }
        if s.default_planned.value < s.min_planned.value
            || s.default_planned.value > s.max_planned.value
        {
            return Err(ConfigError::Inconsistent {
                field: "sessions.default_planned.value",
                rule: "must be between sessions.min_planned and sessions.max_planned",
            });
        }
        if s.hard_max.value < s.max_planned.value {
            return Err(ConfigError::Inconsistent {
                field: "sessions.hard_max.value",
                rule: "must not be less than sessions.max_planned",
            });
        }
        Ok(())
    }

    fn validate_screening(&self) -> Result<()> {
        let s = &self.screening;
        number(
            "screening.phq2_positive_at",
            &s.phq2_positive_at,
            1,
            PHQ2_MAX,
        )?;
        number(
            "screening.phq9_eligible_at",
            &s.phq9_eligible_at,
            1,
            PHQ9_MAX,
        )?;
        number("screening.refer_severe_at", &s.refer_severe_at, 1, PHQ9_MAX)?;
        if s.refer_severe_at.value <= s.phq9_eligible_at.value {
            return Err(ConfigError::Inconsistent {
                field: "screening.refer_severe_at.value",
                rule: "must be greater than screening.phq9_eligible_at",
            });
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, criterion) in s.exclusions.iter().enumerate() {
            let at = format!("screening.exclusions[{i}]");
            id(&format!("{at}.id"), &criterion.id)?;
            if seen.contains(&criterion.id.as_str()) {
                return Err(ConfigError::Duplicate {
                    field: format!("{at}.id"),
                });
            }
            seen.push(&criterion.id);
            non_empty(&format!("{at}.label"), &criterion.label)?;
            non_empty(&format!("{at}.source"), &criterion.source)?;
        }
        Ok(())
    }

    fn validate_safety(&self) -> Result<()> {
        let s = &self.safety;
        // A threshold of ITEM_MAX or more could never be exceeded: item 9 would never count.
        number(
            "safety.item9_risk_threshold",
            &s.item9_risk_threshold,
            0,
            ITEM_MAX - 1,
        )?;
        source("safety.risk_assessment_fields", &s.risk_assessment_fields)?;
        let fields = &s.risk_assessment_fields.value;
        if fields.is_empty() {
            return Err(ConfigError::Empty {
                field: "safety.risk_assessment_fields.value".to_owned(),
            });
        }
        for (i, field) in fields.iter().enumerate() {
            let at = format!("safety.risk_assessment_fields.value[{i}]");
            id(&at, field)?;
            if fields.iter().take(i).any(|earlier| earlier == field) {
                return Err(ConfigError::Duplicate { field: at });
            }
        }
        number(
            "safety.severe_symptoms_at",
            &s.severe_symptoms_at,
            1,
            PHQ9_MAX,
        )
    }

    fn validate_outcome(&self) -> Result<()> {
        let o = &self.outcome;
        number(
            "outcome.response_reduction_pct",
            &o.response_reduction_pct,
            0,
            100,
        )?;
        number("outcome.remission_below", &o.remission_below, 1, PHQ9_MAX)?;
        number(
            "outcome.reliable_worsening_points",
            &o.reliable_worsening_points,
            1,
            PHQ9_MAX,
        )
    }

    fn validate_progress(&self) -> Result<()> {
        let n = &self.no_response;
        number(
            "no_response.min_improvement_pct",
            &n.min_improvement_pct,
            0,
            100,
        )?;
        if n.min_improvement_pct.value > self.outcome.response_reduction_pct.value {
            return Err(ConfigError::Inconsistent {
                field: "no_response.min_improvement_pct.value",
                rule: "must not be greater than outcome.response_reduction_pct",
            });
        }
        number(
            "no_response.by_session",
            &n.by_session,
            1,
            u32::from(u8::MAX),
        )?;
        if n.by_session.value > self.sessions.hard_max.value {
            return Err(ConfigError::Inconsistent {
                field: "no_response.by_session.value",
                rule: "must not be greater than sessions.hard_max (the check would never run)",
            });
        }
        number(
            "missed_sessions.consecutive",
            &self.missed_sessions.consecutive,
            1,
            u32::from(u8::MAX),
        )?;
        at_least("overdue.days_after_due", &self.overdue.days_after_due, 1)?;
        let r = &self.reminders;
        at_least(
            "reminders.session_interval_days",
            &r.session_interval_days,
            1,
        )?;
        source("reminders.follow_up_after_days", &r.follow_up_after_days)?;
        let mut previous = 0;
        for (i, &days) in r.follow_up_after_days.value.iter().enumerate() {
            let at = format!("reminders.follow_up_after_days.value[{i}]");
            if days == 0 {
                return Err(ConfigError::TooSmall { field: at, min: 1 });
            }
            if days <= previous {
                return Err(ConfigError::NotIncreasing { field: at });
            }
            previous = days;
        }
        Ok(())
    }

    fn validate_supervision(&self) -> Result<()> {
        let s = &self.supervision;
        source("supervision.flags", &s.flags)?;
        source("supervision.extension_requests", &s.extension_requests)?;
        source("supervision.early_dropout", &s.early_dropout)?;
        for (i, flag) in s.flags.value.iter().enumerate() {
            if s.flags.value.iter().take(i).any(|earlier| earlier == flag) {
                return Err(ConfigError::Duplicate {
                    field: format!("supervision.flags.value[{i}]"),
                });
            }
        }
        for flag in Flag::ALL.into_iter().filter(|f| f.is_risk()) {
            if !s.flags.value.contains(&flag) {
                return Err(ConfigError::RiskNotSupervised { flag });
            }
        }
        Ok(())
    }
}

/// Checks a rule's source is present.
fn source<T>(field: &str, rule: &Rule<T>) -> Result<()> {
    non_empty(&format!("{field}.source"), &rule.source)
}

/// Checks a numeric rule's source and that its value is within `min..=max`.
fn number<T: Copy + Into<u32>>(field: &str, rule: &Rule<T>, min: u32, max: u32) -> Result<()> {
    source(field, rule)?;
    let value: u32 = rule.value.into();
    if value < min || value > max {
        return Err(ConfigError::OutOfRange {
            field: format!("{field}.value"),
            min,
            max,
        });
    }
    Ok(())
}

/// Checks a numeric rule's source and that its value is at least `min`.
fn at_least<T: Copy + Into<u32>>(field: &str, rule: &Rule<T>, min: u32) -> Result<()> {
    source(field, rule)?;
    if rule.value.into() < min {
        return Err(ConfigError::TooSmall {
            field: format!("{field}.value"),
            min,
        });
    }
    Ok(())
}

fn non_empty(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(ConfigError::Empty {
            field: field.to_owned(),
        });
    }
    Ok(())
}

/// Checks `[a-z][a-z0-9_]*`, at most 64 characters.
fn id(field: &str, id: &str) -> Result<()> {
    let mut chars = id.chars();
    let valid = id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::InvalidId {
            field: field.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(mutate: impl FnOnce(&mut ProtocolConfig)) -> ConfigError {
        let mut config = ProtocolConfig::default();
        mutate(&mut config);
        let err = config.validate().unwrap_err();
        // The same error comes back through the JSON path.
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(ProtocolConfig::from_json(&json).unwrap_err(), err);
        err
    }

    fn out_of_range(field: &str, min: u32, max: u32) -> ConfigError {
        ConfigError::OutOfRange {
            field: field.to_owned(),
            min,
            max,
        }
    }

    #[test]
    fn default_validates_and_holds_the_reference_values() {
        let c = ProtocolConfig::default();
        c.validate().unwrap();
        assert_eq!(c.sessions.min_planned.value, 3);
        assert_eq!(c.sessions.max_planned.value, 8);
        assert_eq!(c.sessions.default_planned.value, 6);
        assert_eq!(c.sessions.hard_max.value, 8);
        assert!(c.sessions.extension_requires_reason.value);
        assert_eq!(c.screening.phq2_positive_at.value, 3);
        assert_eq!(c.screening.phq9_eligible_at.value, 10);
        assert_eq!(c.screening.refer_severe_at.value, 20);
        let ids: Vec<&str> = c
            .screening
            .exclusions
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        assert_eq!(
            ids,
            [
                "psychosis",
                "bipolar",
                "substance_dependence",
                "suicide_plan_or_recent_attempt"
            ]
        );
        assert_eq!(c.safety.item9_risk_threshold.value, 0);
        assert_eq!(c.safety.severe_symptoms_at.value, 20);
        assert_eq!(c.safety.risk_assessment_fields.value.len(), 7);
        assert_eq!(c.outcome.response_reduction_pct.value, 50);
        assert_eq!(c.outcome.remission_below.value, 5);
        assert_eq!(c.outcome.reliable_worsening_points.value, 5);
        assert_eq!(c.no_response.min_improvement_pct.value, 25);
        assert_eq!(c.no_response.by_session.value, 4);
        assert_eq!(c.missed_sessions.consecutive.value, 2);
        assert_eq!(c.overdue.days_after_due.value, 7);
        assert_eq!(c.reminders.follow_up_after_days.value, [30, 90]);
        assert_eq!(c.reminders.session_interval_days.value, 7);
    }

    #[test]
    fn every_default_source_cites_the_reference_or_says_programme_setting() {
        let value = serde_json::to_value(ProtocolConfig::default()).unwrap();
        let mut sources = Vec::new();
        collect_sources(&value, &mut sources);
        assert!(sources.len() >= 25, "found only {}", sources.len());
        for s in sources {
            assert!(
                s.contains("Reference §") || s.starts_with("Programme setting"),
                "{s}"
            );
        }
    }

    fn collect_sources<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if k == "source" {
                        out.push(v.as_str().unwrap());
                    } else {
                        collect_sources(v, out);
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| collect_sources(v, out));
            }
            _ => {}
        }
    }

    #[test]
    fn the_shipped_template_equals_the_default() {
        assert_eq!(
            ProtocolConfig::from_json(DEFAULT_JSON).unwrap(),
            ProtocolConfig::default()
        );
    }

    #[test]
    fn json_round_trip() {
        let mut c = ProtocolConfig::default();
        c.sessions.default_planned = Rule::new(5, "Programme setting: district plan");
        let json = c.to_json_pretty().unwrap();
        assert_eq!(ProtocolConfig::from_json(&json).unwrap(), c);
    }

    #[test]
    fn empty_object_is_the_default() {
        assert_eq!(
            ProtocolConfig::from_json("{}").unwrap(),
            ProtocolConfig::default()
        );
    }

    #[test]
    fn partial_config_merges_with_defaults() {
        let json = r#"{
            "screening": { "phq2_positive_at": { "value": 2, "source": "Arroll 2010: more sensitive" } },
            "overdue": { "days_after_due": { "value": 10, "source": "Programme setting: monthly visits" } }
        }"#;
        let c = ProtocolConfig::from_json(json).unwrap();
        let d = ProtocolConfig::default();
        assert_eq!(c.screening.phq2_positive_at.value, 2);
        assert_eq!(
            c.screening.phq2_positive_at.source,
            "Arroll 2010: more sensitive"
        );
        assert_eq!(c.overdue.days_after_due.value, 10);
        // Everything else in the touched sections and all other sections keep defaults.
        assert_eq!(c.screening.phq9_eligible_at, d.screening.phq9_eligible_at);
        assert_eq!(c.screening.exclusions, d.screening.exclusions);
        assert_eq!(c.sessions, d.sessions);
        assert_eq!(c.safety, d.safety);
        assert_eq!(c.supervision, d.supervision);
    }

    #[test]
    fn an_overridden_rule_needs_its_source() {
        let err = ProtocolConfig::from_json(r#"{"sessions": {"default_planned": {"value": 5}}}"#)
            .unwrap_err();
        let ConfigError::Json { message, .. } = err else {
            panic!("expected a JSON error, got {err:?}");
        };
        assert!(message.contains("missing field `source`"), "{message}");
    }

    #[test]
    fn unknown_fields_are_rejected_at_every_level() {
        for (json, field) in [
            (r#"{"sesions": {}}"#, "sesions"),
            (
                r#"{"sessions": {"default_planed": {"value": 5, "source": "x"}}}"#,
                "default_planed",
            ),
            (
                r#"{"sessions": {"default_planned": {"value": 5, "source": "x", "note": "y"}}}"#,
                "note",
            ),
            (
                r#"{"screening": {"exclusions": [{"id": "a", "label": "b", "source": "c", "extra": 1}]}}"#,
                "extra",
            ),
        ] {
            let err = ProtocolConfig::from_json(json).unwrap_err();
            let ConfigError::Json { message, .. } = err else {
                panic!("expected a JSON error for {json}");
            };
            assert!(
                message.contains(&format!("unknown field `{field}`")),
                "{message}"
            );
        }
    }

    #[test]
    fn wrong_types_and_unknown_flags_are_rejected() {
        for json in [
            r#"{"sessions": {"hard_max": {"value": -1, "source": "x"}}}"#,
            r#"{"sessions": {"hard_max": {"value": 300, "source": "x"}}}"#,
            r#"{"overdue": {"days_after_due": {"value": "7", "source": "x"}}}"#,
            r#"{"supervision": {"flags": {"value": ["risk_concern", "sad"], "source": "x"}}}"#,
            "not json",
        ] {
            assert!(
                matches!(
                    ProtocolConfig::from_json(json),
                    Err(ConfigError::Json { .. })
                ),
                "{json}"
            );
        }
    }

    #[test]
    fn empty_source_is_rejected() {
        assert_eq!(
            invalid(|c| c.outcome.remission_below.source = "  ".into()),
            ConfigError::Empty {
                field: "outcome.remission_below.source".into()
            }
        );
        assert_eq!(
            invalid(|c| c.supervision.early_dropout.source.clear()),
            ConfigError::Empty {
                field: "supervision.early_dropout.source".into()
            }
        );
    }

    #[test]
    fn session_counts_must_be_ordered() {
        assert_eq!(
            invalid(|c| c.sessions.min_planned.value = 0),
            out_of_range("sessions.min_planned.value", 1, 255)
        );
        assert_eq!(
            invalid(|c| c.sessions.min_planned.value = 7),
            ConfigError::Inconsistent {
                field: "sessions.default_planned.value",
                rule: "must be between sessions.min_planned and sessions.max_planned",
            }
        );
        assert_eq!(
            invalid(|c| c.sessions.default_planned.value = 9),
            ConfigError::Inconsistent {
                field: "sessions.default_planned.value",
                rule: "must be between sessions.min_planned and sessions.max_planned",
            }
        );
        assert_eq!(
            invalid(|c| c.sessions.max_planned.value = 2),
            ConfigError::Inconsistent {
                field: "sessions.max_planned.value",
                rule: "must not be less than sessions.min_planned",
            }
        );
        assert_eq!(
            invalid(|c| c.sessions.hard_max.value = 7),
            ConfigError::Inconsistent {
                field: "sessions.hard_max.value",
                rule: "must not be less than sessions.max_planned",
            }
        );
        // Equal values are fine; the extension limit may exceed the planning range.
        let mut c = ProtocolConfig::default();
        c.sessions.min_planned.value = 6;
        c.sessions.max_planned.value = 6;
        c.sessions.hard_max.value = 12;
        c.validate().unwrap();
    }

    #[test]
    fn screening_thresholds_are_checked() {
        assert_eq!(
            invalid(|c| c.screening.phq2_positive_at.value = 7),
            out_of_range("screening.phq2_positive_at.value", 1, 6)
        );
        assert_eq!(
            invalid(|c| c.screening.phq2_positive_at.value = 0),
            out_of_range("screening.phq2_positive_at.value", 1, 6)
        );
        assert_eq!(
            invalid(|c| c.screening.phq9_eligible_at.value = 28),
            out_of_range("screening.phq9_eligible_at.value", 1, 27)
        );
        assert_eq!(
            invalid(|c| c.screening.refer_severe_at.value = 28),
            out_of_range("screening.refer_severe_at.value", 1, 27)
        );
        assert_eq!(
            invalid(|c| c.screening.refer_severe_at.value = 10),
            ConfigError::Inconsistent {
                field: "screening.refer_severe_at.value",
                rule: "must be greater than screening.phq9_eligible_at",
            }
        );
    }

    #[test]
    fn exclusions_are_checked() {
        assert_eq!(
            invalid(|c| c.screening.exclusions[1].id = "Bipolar".into()),
            ConfigError::InvalidId {
                field: "screening.exclusions[1].id".into()
            }
        );
        assert_eq!(
            invalid(|c| c.screening.exclusions[2].id = "psychosis".into()),
            ConfigError::Duplicate {
                field: "screening.exclusions[2].id".into()
            }
        );
        assert_eq!(
            invalid(|c| c.screening.exclusions[0].label = String::new()),
            ConfigError::Empty {
                field: "screening.exclusions[0].label".into()
            }
        );
        assert_eq!(
            invalid(|c| c.screening.exclusions[3].source = " ".into()),
            ConfigError::Empty {
                field: "screening.exclusions[3].source".into()
            }
        );
        // A programme may add its own criterion, or have none.
        let mut c = ProtocolConfig::default();
        c.screening.exclusions.push(ExclusionCriterion {
            id: "pregnancy_complications".into(),
            label: "Programme-specific".into(),
            source: "Programme setting".into(),
        });
        c.validate().unwrap();
        c.screening.exclusions.clear();
        c.validate().unwrap();
    }

    #[test]
    fn safety_rules_are_checked() {
        assert_eq!(
            invalid(|c| c.safety.item9_risk_threshold.value = 3),
            out_of_range("safety.item9_risk_threshold.value", 0, 2)
        );
        assert_eq!(
            invalid(|c| c.safety.risk_assessment_fields.value.clear()),
            ConfigError::Empty {
                field: "safety.risk_assessment_fields.value".into()
            }
        );
        assert_eq!(
            invalid(|c| c.safety.risk_assessment_fields.value[2] = "means plan".into()),
            ConfigError::InvalidId {
                field: "safety.risk_assessment_fields.value[2]".into()
            }
        );
        assert_eq!(
            invalid(|c| c.safety.risk_assessment_fields.value[6] = "plan".into()),
            ConfigError::Duplicate {
                field: "safety.risk_assessment_fields.value[6]".into()
            }
        );
        assert_eq!(
            invalid(|c| c.safety.severe_symptoms_at.value = 0),
            out_of_range("safety.severe_symptoms_at.value", 1, 27)
        );
    }

    #[test]
    fn outcome_and_progress_rules_are_checked() {
        assert_eq!(
            invalid(|c| c.outcome.response_reduction_pct.value = 101),
            out_of_range("outcome.response_reduction_pct.value", 0, 100)
        );
        assert_eq!(
            invalid(|c| c.outcome.remission_below.value = 0),
            out_of_range("outcome.remission_below.value", 1, 27)
        );
        assert_eq!(
            invalid(|c| c.outcome.reliable_worsening_points.value = 0),
            out_of_range("outcome.reliable_worsening_points.value", 1, 27)
        );
        assert_eq!(
            invalid(|c| c.no_response.min_improvement_pct.value = 101),
            out_of_range("no_response.min_improvement_pct.value", 0, 100)
        );
        assert_eq!(
            invalid(|c| c.no_response.min_improvement_pct.value = 60),
            ConfigError::Inconsistent {
                field: "no_response.min_improvement_pct.value",
                rule: "must not be greater than outcome.response_reduction_pct",
            }
        );
        assert_eq!(
            invalid(|c| c.no_response.by_session.value = 0),
            out_of_range("no_response.by_session.value", 1, 255)
        );
        assert_eq!(
            invalid(|c| c.no_response.by_session.value = 9),
            ConfigError::Inconsistent {
                field: "no_response.by_session.value",
                rule: "must not be greater than sessions.hard_max (the check would never run)",
            }
        );
        assert_eq!(
            invalid(|c| c.missed_sessions.consecutive.value = 0),
            out_of_range("missed_sessions.consecutive.value", 1, 255)
        );
        assert_eq!(
            invalid(|c| c.overdue.days_after_due.value = 0),
            ConfigError::TooSmall {
                field: "overdue.days_after_due.value".into(),
                min: 1
            }
        );
        assert_eq!(
            invalid(|c| c.reminders.session_interval_days.value = 0),
            ConfigError::TooSmall {
                field: "reminders.session_interval_days.value".into(),
                min: 1
            }
        );
    }

    #[test]
    fn follow_ups_must_be_positive_and_increasing() {
        assert_eq!(
            invalid(|c| c.reminders.follow_up_after_days.value = vec![0, 30]),
            ConfigError::TooSmall {
                field: "reminders.follow_up_after_days.value[0]".into(),
                min: 1
            }
        );
        assert_eq!(
            invalid(|c| c.reminders.follow_up_after_days.value = vec![90, 30]),
            ConfigError::NotIncreasing {
                field: "reminders.follow_up_after_days.value[1]".into()
            }
        );
        assert_eq!(
            invalid(|c| c.reminders.follow_up_after_days.value = vec![30, 30]),
            ConfigError::NotIncreasing {
                field: "reminders.follow_up_after_days.value[1]".into()
            }
        );
        let mut c = ProtocolConfig::default();
        c.reminders.follow_up_after_days.value.clear();
        c.validate().unwrap();
    }

    #[test]
    fn supervision_triggers_are_configurable_but_keep_risk() {
        let mut c = ProtocolConfig::default();
        assert!(c.needs_supervisor(Flag::Worsening));
        assert!(!c.needs_supervisor(Flag::Overdue));
        c.supervision.flags.value.retain(|f| *f != Flag::Worsening);
        c.supervision.flags.value.push(Flag::Overdue);
        c.validate().unwrap();
        assert!(!c.needs_supervisor(Flag::Worsening));
        assert!(c.needs_supervisor(Flag::Overdue));

        for risk in [Flag::SelfHarmThoughts, Flag::RiskConcern] {
            assert_eq!(
                invalid(|c| c.supervision.flags.value.retain(|f| *f != risk)),
                ConfigError::RiskNotSupervised { flag: risk }
            );
        }
        assert_eq!(
            invalid(|c| c.supervision.flags.value.push(Flag::Worsening)),
            ConfigError::Duplicate {
                field: "supervision.flags.value[6]".into()
            }
        );
    }

    #[test]
    fn default_supervision_follows_the_flag_defaults() {
        let c = ProtocolConfig::default();
        for flag in Flag::ALL {
            assert_eq!(c.needs_supervisor(flag), flag.needs_supervisor(), "{flag}");
        }
    }

    #[test]
    fn every_flag_source_names_a_rule_with_a_source() {
        let c = ProtocolConfig::default();
        for flag in Flag::ALL {
            let source = c.source_of(flag.source());
            assert!(source.is_some_and(|s| !s.is_empty()), "{flag}");
        }
        assert_eq!(c.source_of("sessions.nothing"), None);
        assert_eq!(c.source_of("sessions"), None);
    }

    #[test]
    fn errors_name_the_field() {
        let err = invalid(|c| c.outcome.response_reduction_pct.value = 150);
        assert_eq!(
            err.to_string(),
            "outcome.response_reduction_pct.value must be between 0 and 100"
        );
    }
}
