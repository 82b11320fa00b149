//! The per-session agenda of an IPC course as content data: steps per phase and per problem
//! area, with read-aloud prompts and translation keys; the session → phase mapping; and
//! translation overlays rendered with a visible fallback.
//!
//! The built-in English agenda is `content/agenda.en.json`, embedded at compile time. Its
//! structure follows reference §2 (phases) and §3 (problem-area strategies); the prompt
//! wording is the project's own. Phases and problem areas are plain string ids here,
//! checked against [`PHASES`] and [`PROBLEM_AREAS`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Result alias for agenda loading, look-ups and translations.
pub type Result<T> = std::result::Result<T, AgendaError>;

/// The built-in English agenda (JSON; the library holds it compressed, `embedded.rs`).
#[cfg(test)]
pub(crate) const BUILTIN_JSON: &str = include_str!("content/agenda.en.json");

/// Phase ids, in course order (reference §2).
pub const PHASES: [&str; 3] = ["initial", "middle", "termination"];
/// Problem-area ids (reference §3, IPC names).
pub const PROBLEM_AREAS: [&str; 4] = ["grief", "disputes", "life_changes", "loneliness"];
/// Stages of a dispute recorded by the `dispute_stage` step (reference §3).
pub const DISPUTE_STAGES: [&str; 3] = ["renegotiation", "impasse", "dissolution"];

/// Phase id of the first session.
pub const INITIAL: &str = "initial";
/// Phase id of the sessions between the first and the last.
pub const MIDDLE: &str = "middle";
/// Phase id of the last planned session.
pub const TERMINATION: &str = "termination";
/// The step that records the stage of a dispute.
pub const DISPUTE_STAGE_STEP: &str = "dispute_stage";

/// What is wrong with agenda content, a translation, or a look-up. Content errors name the
/// step, key or field; they hold content ids only, never a client's data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgendaError {
    /// The JSON did not parse or did not have the expected shape.
    #[error("{what} JSON is invalid at line {line}, column {column}: {message}")]
    Json {
        /// Which document: "agenda" or "agenda translation".
        what: &'static str,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// The parser's description.
        message: String,
    },
    /// A step id is not `[a-z][a-z0-9_]*` (at most 64 characters).
    #[error("steps[{index}].id is not a valid id (lowercase letters, digits and '_', starting with a letter)")]
    InvalidStepId {
        /// Position of the step in the file.
        index: usize,
    },
    /// Two steps share an id.
    #[error("duplicate step id {id:?}")]
    DuplicateStepId {
        /// The repeated id.
        id: String,
    },
    /// A translation key is used twice (in the agenda or in one translation).
    #[error("duplicate translation key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// A key does not follow `agenda.<phase>.<step>.title` / `.prompt.<n>`.
    #[error("{field} must be {expected:?}")]
    WrongKey {
        /// Where the key is, e.g. `steps[timeline].prompts[2].key`.
        field: String,
        /// The key it must be.
        expected: String,
    },
    /// A text that is shown is empty or only whitespace.
    #[error("{field} must not be empty")]
    EmptyText {
        /// Where the text is, e.g. `steps[timeline].title` or `texts[agenda.initial.timeline.title]`.
        field: String,
    },
    /// A step breaks a structural rule.
    #[error("step {step:?}: {rule}")]
    InvalidStep {
        /// The step id.
        step: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// Something every agenda needs is missing.
    #[error("the agenda has no {what}")]
    Missing {
        /// What is missing, e.g. `steps for phase "middle"`.
        what: String,
    },
    /// A language tag does not match `[a-z]{2,3}(-[A-Za-z0-9]{2,8})*`.
    #[error("{field} is not a valid language tag (e.g. \"en\", \"sw\", \"pt-BR\")")]
    InvalidLanguage {
        /// Which field.
        field: &'static str,
    },
    /// The version is not dotted numbers such as `1.0`.
    #[error("version is not dotted numbers such as \"1.0\"")]
    InvalidVersion,
    /// A translation has a key the agenda does not have.
    #[error("translation key {key:?} is not in the agenda")]
    UnknownKey {
        /// The unknown key.
        key: String,
    },
    /// A look-up named a phase that is not one of [`PHASES`].
    #[error("unknown phase (expected initial, middle or termination)")]
    UnknownPhase,
    /// A look-up named a problem area that is not one of [`PROBLEM_AREAS`].
    #[error("unknown problem area (expected grief, disputes, life_changes or loneliness)")]
    UnknownProblemArea,
    /// A session number or planned count of 0 (both are 1-based counts).
    #[error("{field} must be at least 1")]
    ZeroCount {
        /// `session_number` or `planned_sessions`.
        field: &'static str,
    },
}

impl AgendaError {
    fn json(what: &'static str, err: &serde_json::Error) -> Self {
        Self::Json {
            what,
            line: err.line(),
            column: err.column(),
            message: err.to_string(),
        }
    }
}

/// What the app must see recorded before a step counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// A questionnaire response recorded in this session.
    Questionnaire,
    /// At least one interpersonal-inventory entry.
    InventoryEntry,
    /// A problem area chosen for the course.
    ProblemArea,
    /// The planned number of sessions agreed (treatment contract).
    PlannedSessions,
    /// At least one of the chosen area's strategy steps done in this session.
    StrategyStep,
    /// A between-session task recorded.
    Task,
    /// A dispute stage recorded (one of [`DISPUTE_STAGES`]).
    DisputeStage,
    /// A decision on referral or further care recorded.
    ReferralDecision,
}

/// When a step is left out of the session's agenda.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipRule {
    /// Left out when there is no previous task to review (the first middle session).
    NoPreviousTask,
}

/// A line the worker can read aloud or adapt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prompt {
    /// Translation key, `agenda.<phase>.<step>.prompt.<n>`.
    pub key: String,
    /// The text in the agenda's language.
    pub text: String,
}

/// One step of a session's agenda.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable snake_case id, stored with the session when the step is done.
    pub id: String,
    /// Phase id, one of [`PHASES`].
    pub phase: String,
    /// For strategy steps: the problem area they belong to (middle phase only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem_area: Option<String>,
    /// Translation key of the title, `agenda.<phase>.<step>.title`.
    pub title_key: String,
    /// Short title for the worker's checklist.
    pub title: String,
    /// Read-aloud prompts, in order.
    pub prompts: Vec<Prompt>,
    /// Whether the step must be done for the session to be complete.
    pub required: bool,
    /// What must be recorded for the step to count as done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Evidence>,
    /// When the step is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_if: Option<SkipRule>,
    /// The chosen problem area's strategy steps follow this step.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expands_to_problem_area: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgendaFile {
    language: String,
    version: String,
    steps: Vec<Step>,
}

/// A validated agenda: general steps per phase plus strategy steps per problem area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agenda {
    language: String,
    version: String,
    steps: Vec<Step>,
}

impl Agenda {
    /// The built-in English agenda.
    pub fn builtin() -> Result<Self> {
        let json =
            crate::embedded::text(crate::embedded::AGENDA_EN).map_err(|_| AgendaError::Json {
                what: "builtin agenda (damaged in the library)",
                line: 0,
                column: 0,
                message: "could not be decompressed".into(),
            })?;
        Self::from_json(&json)
    }

    /// Parses and validates an agenda (e.g. a programme's own wording).
    pub fn from_json(json: &str) -> Result<Self> {
        let file: AgendaFile =
            serde_json::from_str(json).map_err(|e| AgendaError::json("agenda", &e))?;
        let agenda = Self {
            language: file.language,
            version: file.version,
            steps: file.steps,
        };
        agenda.validate()?;
        Ok(agenda)
    }

    /// Language tag of the agenda's texts.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Content version, to store with the sessions that used it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Every step in content order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Every translation key (titles and prompts), in content order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().flat_map(|s| {
            std::iter::once(s.title_key.as_str()).chain(s.prompts.iter().map(|p| p.key.as_str()))
        })
    }

    /// The strategy steps of one problem area, in content order.
    pub fn strategy_steps(&self, problem_area: &str) -> Result<Vec<&Step>> {
        check_problem_area(problem_area)?;
        Ok(self
            .steps
            .iter()
            .filter(|s| s.problem_area.as_deref() == Some(problem_area))
            .collect())
    }

    /// The agenda of one session, in order.
    ///
    /// In the middle phase, the step that `expands_to_problem_area` (`problem_area_strategy`)
    /// is followed by the chosen area's strategy steps; with no area chosen yet it stands
    /// alone, and its evidence cannot be met until one is chosen. `first_middle` is true when
    /// there is no previous task to review (the first middle session): steps with
    /// `skip_if: no_previous_task` are left out. Both arguments are ignored outside the
    /// middle phase, but a given area must still be a known one.
    pub fn steps_for(
        &self,
        phase: &str,
        problem_area: Option<&str>,
        first_middle: bool,
    ) -> Result<Vec<&Step>> {
        check_phase(phase)?;
        if let Some(area) = problem_area {
            check_problem_area(area)?;
        }
        let middle = phase == MIDDLE;
        let mut out = Vec::new();
        for step in self
            .steps
            .iter()
            .filter(|s| s.phase == phase && s.problem_area.is_none())
        {
            if middle && first_middle && step.skip_if == Some(SkipRule::NoPreviousTask) {
                continue;
            }
            out.push(step);
            if let (true, Some(area)) = (middle && step.expands_to_problem_area, problem_area) {
                out.extend(
                    self.steps
                        .iter()
                        .filter(|s| s.problem_area.as_deref() == Some(area)),
                );
            }
        }
        Ok(out)
    }

    /// The required steps of one session (same arguments as [`Self::steps_for`]).
    pub fn required_steps(
        &self,
        phase: &str,
        problem_area: Option<&str>,
        first_middle: bool,
    ) -> Result<Vec<&Step>> {
        let mut steps = self.steps_for(phase, problem_area, first_middle)?;
        steps.retain(|s| s.required);
        Ok(steps)
    }

    /// Checks the content: ids, keys, texts and structure. Returns the first problem.
    fn validate(&self) -> Result<()> {
        if !is_language_tag(&self.language) {
            return Err(AgendaError::InvalidLanguage { field: "language" });
        }
        if !is_version(&self.version) {
            return Err(AgendaError::InvalidVersion);
        }
        let mut ids = HashSet::new();
        let mut keys = HashSet::new();
        for (index, step) in self.steps.iter().enumerate() {
            if !is_id(&step.id) {
                return Err(AgendaError::InvalidStepId { index });
            }
            if !ids.insert(step.id.as_str()) {
                return Err(AgendaError::DuplicateStepId {
                    id: step.id.clone(),
                });
            }
            validate_step_structure(step)?;
            validate_step_texts(step, &mut keys)?;
        }
        for phase in PHASES {
            if !self
                .steps
                .iter()
                .any(|s| s.phase == phase && s.problem_area.is_none())
            {
                return Err(AgendaError::Missing {
                    what: format!("steps for phase {phase:?}"),
                });
            }
        }
        for area in PROBLEM_AREAS {
            if !self
                .steps
                .iter()
                .any(|s| s.problem_area.as_deref() == Some(area))
            {
                return Err(AgendaError::Missing {
                    what: format!("strategy steps for problem area {area:?}"),
                });
            }
        }
        let mut expanding = self.steps.iter().filter(|s| s.expands_to_problem_area);
        if expanding.next().is_none() {
            return Err(AgendaError::Missing {
                what: "step with expands_to_problem_area".to_owned(),
            });
        }
        if let Some(second) = expanding.next() {
            return Err(AgendaError::InvalidStep {
                step: second.id.clone(),
                rule: "only one step may expand to the problem area",
            });
        }
        Ok(())
    }
}

fn validate_step_structure(step: &Step) -> Result<()> {
    let invalid = |rule| {
        Err(AgendaError::InvalidStep {
            step: step.id.clone(),
            rule,
        })
    };
    if !PHASES.contains(&step.phase.as_str()) {
        return invalid("phase must be initial, middle or termination");
    }
    if let Some(area) = &step.problem_area {
        if !PROBLEM_AREAS.contains(&area.as_str()) {
            return invalid("problem_area must be grief, disputes, life_changes or loneliness");
        }
        if step.phase != MIDDLE {
            return invalid("strategy steps (with a problem_area) belong to the middle phase");
        }
        if step.expands_to_problem_area {
            return invalid("a strategy step cannot expand to the problem area");
        }
    }
    if step.expands_to_problem_area && step.phase != MIDDLE {
        return invalid("only a middle-phase step may expand to the problem area");
    }
    if step.skip_if.is_some() && step.phase != MIDDLE {
        return invalid("skip_if no_previous_task applies to middle-phase steps only");
    }
    if step.prompts.is_empty() {
        return invalid("a step needs at least one prompt");
    }
    Ok(())
}

fn validate_step_texts<'a>(step: &'a Step, keys: &mut HashSet<&'a str>) -> Result<()> {
    let base = format!("agenda.{}.{}", step.phase, step.id);
    let mut check_key = |field: String, key: &'a str, expected: String| {
        if key != expected {
            return Err(AgendaError::WrongKey { field, expected });
        }
        if !keys.insert(key) {
            return Err(AgendaError::DuplicateKey {
                key: key.to_owned(),
            });
        }
        Ok(())
    };
    check_key(
        format!("steps[{}].title_key", step.id),
        &step.title_key,
        format!("{base}.title"),
    )?;
    non_empty(format!("steps[{}].title", step.id), &step.title)?;
    for (i, prompt) in step.prompts.iter().enumerate() {
        let n = i + 1;
        check_key(
            format!("steps[{}].prompts[{n}].key", step.id),
            &prompt.key,
            format!("{base}.prompt.{n}"),
        )?;
        non_empty(
            format!("steps[{}].prompts[{n}].text", step.id),
            &prompt.text,
        )?;
    }
    Ok(())
}

/// The phase of a session: session 1 is `initial`; the last planned session is
/// `termination` (only when it is not also session 1); every other session, including
/// any held beyond the plan, is `middle`.
///
/// With `planned_sessions` = 1 the single session is `initial` (there is no separate
/// ending); with 2, session 1 is `initial` and session 2 `termination`, with no middle.
/// After an extension, pass the new planned count. Both numbers are 1-based.
pub fn phase_for(session_number: u32, planned_sessions: u32) -> Result<&'static str> {
    if session_number == 0 {
        return Err(AgendaError::ZeroCount {
            field: "session_number",
        });
    }
    if planned_sessions == 0 {
        return Err(AgendaError::ZeroCount {
            field: "planned_sessions",
        });
    }
    Ok(if session_number == 1 {
        INITIAL
    } else if session_number == planned_sessions {
        TERMINATION
    } else {
        MIDDLE
    })
}

/// Whether `stage` is one of [`DISPUTE_STAGES`].
pub fn is_dispute_stage(stage: &str) -> bool {
    DISPUTE_STAGES.contains(&stage)
}

fn check_phase(phase: &str) -> Result<()> {
    if PHASES.contains(&phase) {
        Ok(())
    } else {
        Err(AgendaError::UnknownPhase)
    }
}

fn check_problem_area(area: &str) -> Result<()> {
    if PROBLEM_AREAS.contains(&area) {
        Ok(())
    } else {
        Err(AgendaError::UnknownProblemArea)
    }
}

// ---- translations ---------------------------------------------------------------------

/// A text ready to show, marked when it fell back to the agenda's own language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocalizedText {
    /// The text to show.
    pub text: String,
    /// True when the translation lacks this key and the agenda's text is shown instead;
    /// the UI should mark it visibly.
    pub fallback: bool,
}

/// A prompt ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedPrompt {
    /// Translation key.
    pub key: String,
    /// The text.
    pub text: LocalizedText,
}

/// A step ready to show in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenderedStep {
    /// Step id.
    pub id: String,
    /// Title.
    pub title: LocalizedText,
    /// Prompts, in order.
    pub prompts: Vec<RenderedPrompt>,
    /// Whether the step is required.
    pub required: bool,
    /// What must be recorded for the step to count as done.
    pub requires: Option<Evidence>,
}

impl Step {
    /// The step's texts in the translation's language, falling back (visibly) to the
    /// agenda's own text for keys the translation lacks. `None` shows the agenda's texts
    /// as they are, not marked as fallbacks.
    pub fn render(&self, translation: Option<&AgendaTranslation>) -> RenderedStep {
        let text = |key: &str, own: &str| match translation {
            Some(t) => t.text(key, own),
            None => LocalizedText {
                text: own.to_owned(),
                fallback: false,
            },
        };
        RenderedStep {
            id: self.id.clone(),
            title: text(&self.title_key, &self.title),
            prompts: self
                .prompts
                .iter()
                .map(|p| RenderedPrompt {
                    key: p.key.clone(),
                    text: text(&p.key, &p.text),
                })
                .collect(),
            required: self.required,
            requires: self.requires,
        }
    }
}

/// Keys and texts of a translation in file order, so a repeated key is reported instead of
/// one text silently replacing the other.
struct Entries(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object mapping translation keys to texts")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, String>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslationFile {
    language: String,
    texts: Entries,
}

/// A translation overlay for an agenda: `{"language": "sw", "texts": {key: text}}`.
/// It may be partial; missing keys render as visible fallbacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaTranslation {
    language: String,
    texts: BTreeMap<String, String>,
}

impl AgendaTranslation {
    /// Parses a translation and validates it against `agenda`: a valid language tag, every
    /// key one of the agenda's, no key twice, no empty text.
    pub fn from_json(json: &str, agenda: &Agenda) -> Result<Self> {
        let file: TranslationFile =
            serde_json::from_str(json).map_err(|e| AgendaError::json("agenda translation", &e))?;
        if !is_language_tag(&file.language) {
            return Err(AgendaError::InvalidLanguage { field: "language" });
        }
        let known: HashSet<&str> = agenda.keys().collect();
        let mut texts = BTreeMap::new();
        for (key, text) in file.texts.0 {
            if !known.contains(key.as_str()) {
                return Err(AgendaError::UnknownKey { key });
            }
            non_empty(format!("texts[{key}]"), &text)?;
            if texts.contains_key(&key) {
                return Err(AgendaError::DuplicateKey { key });
            }
            texts.insert(key, text);
        }
        Ok(Self {
            language: file.language,
            texts,
        })
    }

    /// Language tag of the translation.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The translated text for `key`, if the translation has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.texts.get(key).map(String::as_str)
    }

    /// The translated text for `key`, or `own` marked as a fallback.
    pub fn text(&self, key: &str, own: &str) -> LocalizedText {
        match self.get(key) {
            Some(text) => LocalizedText {
                text: text.to_owned(),
                fallback: false,
            },
            None => LocalizedText {
                text: own.to_owned(),
                fallback: true,
            },
        }
    }

    /// The agenda's keys this translation lacks, in content order (for translators).
    pub fn missing_keys<'a>(&self, agenda: &'a Agenda) -> Vec<&'a str> {
        agenda
            .keys()
            .filter(|k| !self.texts.contains_key(*k))
            .collect()
    }
}

fn non_empty(field: String, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        Err(AgendaError::EmptyText { field })
    } else {
        Ok(())
    }
}

/// `[a-z][a-z0-9_]*`, at most 64 characters.
fn is_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `[a-z]{2,3}(-[A-Za-z0-9]{2,8})*`.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Dotted numbers such as `1.0` or `2.1.3`.
fn is_version(version: &str) -> bool {
    version
        .split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agenda() -> Agenda {
        Agenda::builtin().unwrap()
    }

    fn ids(steps: &[&Step]) -> Vec<String> {
        steps.iter().map(|s| s.id.clone()).collect()
    }

    /// The builtin agenda as JSON, changed by `edit`, loaded again.
    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Agenda> {
        let mut value: serde_json::Value = serde_json::from_str(BUILTIN_JSON).unwrap();
        edit(&mut value);
        Agenda::from_json(&value.to_string())
    }

    fn step_mut<'a>(value: &'a mut serde_json::Value, id: &str) -> &'a mut serde_json::Value {
        value["steps"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|s| s["id"] == id)
            .unwrap()
    }

    #[test]
    fn builtin_loads() {
        let a = agenda();
        assert_eq!(a.language(), "en");
        assert_eq!(a.version(), "1.0");
        assert!(a.steps().len() >= 30);
    }

    #[test]
    fn step_ids_and_prompt_keys_are_unique() {
        let a = agenda();
        let ids: HashSet<&str> = a.steps().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids.len(), a.steps().len());
        let keys: Vec<&str> = a.keys().collect();
        let unique: HashSet<&str> = keys.iter().copied().collect();
        assert_eq!(unique.len(), keys.len());
    }

    #[test]
    fn every_builtin_step_has_two_to_four_prompts_with_keys() {
        for step in agenda().steps() {
            assert!((2..=4).contains(&step.prompts.len()), "{}", step.id);
            assert_eq!(
                step.prompts[0].key,
                format!("agenda.{}.{}.prompt.1", step.phase, step.id)
            );
        }
    }

    #[test]
    fn initial_phase_has_the_agreed_steps() {
        let a = agenda();
        let all = ids(&a.steps_for("initial", None, false).unwrap());
        assert_eq!(
            all,
            [
                "confidentiality",
                "symptom_questionnaire",
                "psychoeducation",
                "recovery_role",
                "timeline",
                "interpersonal_inventory",
                "problem_area",
                "plan_agreed",
                "triage",
            ]
        );
        let required = ids(&a.required_steps("initial", None, false).unwrap());
        assert_eq!(
            required,
            [
                "symptom_questionnaire",
                "psychoeducation",
                "recovery_role",
                "timeline",
                "interpersonal_inventory",
                "problem_area",
                "plan_agreed",
            ]
        );
        let step = |id| a.step(id).unwrap().requires;
        assert_eq!(
            step("interpersonal_inventory"),
            Some(Evidence::InventoryEntry)
        );
        assert_eq!(step("problem_area"), Some(Evidence::ProblemArea));
        assert_eq!(step("plan_agreed"), Some(Evidence::PlannedSessions));
        assert_eq!(step("symptom_questionnaire"), Some(Evidence::Questionnaire));
    }

    #[test]
    fn middle_phase_expands_the_chosen_area() {
        let a = agenda();
        let grief = ids(&a.steps_for("middle", Some("grief"), false).unwrap());
        assert_eq!(
            grief,
            [
                "check_in_questionnaire",
                "mood_events_link",
                "task_reviewed",
                "problem_area_strategy",
                "grief_relationship_review",
                "grief_feelings",
                "grief_new_connections",
                "task_agreed",
            ]
        );
        let required = ids(&a.required_steps("middle", Some("grief"), false).unwrap());
        assert_eq!(
            required,
            [
                "check_in_questionnaire",
                "mood_events_link",
                "task_reviewed",
                "problem_area_strategy",
                "task_agreed",
            ]
        );
        assert_eq!(
            a.step("problem_area_strategy").unwrap().requires,
            Some(Evidence::StrategyStep)
        );
        assert_eq!(
            a.step("task_agreed").unwrap().requires,
            Some(Evidence::Task)
        );
    }

    #[test]
    fn each_area_has_its_strategy_steps() {
        let a = agenda();
        let expected: [(&str, &[&str]); 4] = [
            (
                "grief",
                &[
                    "grief_relationship_review",
                    "grief_feelings",
                    "grief_new_connections",
                ],
            ),
            (
                "disputes",
                &[
                    "dispute_stage",
                    "dispute_expectations",
                    "dispute_options",
                    "dispute_techniques",
                ],
            ),
            (
                "life_changes",
                &[
                    "transition_loss",
                    "transition_new_role",
                    "transition_skills_supports",
                ],
            ),
            (
                "loneliness",
                &[
                    "loneliness_pattern",
                    "loneliness_small_steps",
                    "loneliness_practice",
                ],
            ),
        ];
        for (area, steps) in expected {
            assert_eq!(ids(&a.strategy_steps(area).unwrap()), steps, "{area}");
            let session = ids(&a.steps_for("middle", Some(area), false).unwrap());
            for s in steps {
                assert!(session.iter().any(|id| id == s), "{area}: {s}");
            }
            // No other area's steps leak in.
            for (other, other_steps) in expected.iter().filter(|(o, _)| *o != area) {
                for s in other_steps.iter() {
                    assert!(
                        !session.iter().any(|id| id == s),
                        "{area} has {other}'s {s}"
                    );
                }
            }
        }
    }

    #[test]
    fn disputes_record_the_stage() {
        let a = agenda();
        let stage = a.step("dispute_stage").unwrap();
        assert_eq!(stage.problem_area.as_deref(), Some("disputes"));
        assert_eq!(stage.requires, Some(Evidence::DisputeStage));
        assert_eq!(stage.prompts.len(), 4);
        assert_eq!(DISPUTE_STAGES, ["renegotiation", "impasse", "dissolution"]);
        assert!(is_dispute_stage("impasse"));
        assert!(!is_dispute_stage("Impasse"));
        assert_eq!(a.step("dispute_techniques").unwrap().prompts.len(), 3);
    }

    #[test]
    fn first_middle_session_skips_the_task_review() {
        let a = agenda();
        let first = ids(&a.steps_for("middle", Some("loneliness"), true).unwrap());
        assert!(!first.iter().any(|id| id == "task_reviewed"));
        assert!(first.iter().any(|id| id == "task_agreed"));
        let later = ids(&a
            .required_steps("middle", Some("loneliness"), false)
            .unwrap());
        assert!(later.iter().any(|id| id == "task_reviewed"));
        assert_eq!(
            a.step("task_reviewed").unwrap().skip_if,
            Some(SkipRule::NoPreviousTask)
        );
        // first_middle means nothing outside the middle phase.
        assert_eq!(
            a.steps_for("termination", None, true).unwrap(),
            a.steps_for("termination", None, false).unwrap()
        );
    }

    #[test]
    fn middle_without_an_area_keeps_the_strategy_step_alone() {
        let a = agenda();
        let steps = ids(&a.steps_for("middle", None, true).unwrap());
        assert_eq!(
            steps,
            [
                "check_in_questionnaire",
                "mood_events_link",
                "problem_area_strategy",
                "task_agreed",
            ]
        );
    }

    #[test]
    fn termination_phase_has_the_agreed_steps() {
        let a = agenda();
        let required = ids(&a
            .required_steps("termination", Some("grief"), false)
            .unwrap());
        assert_eq!(
            required,
            [
                "termination_questionnaire",
                "progress_review",
                "feelings_about_ending",
                "warning_signs",
                "coping_plan",
                "referral_decision",
            ]
        );
        assert_eq!(
            a.step("referral_decision").unwrap().requires,
            Some(Evidence::ReferralDecision)
        );
    }

    #[test]
    fn look_ups_reject_unknown_phase_and_area() {
        let a = agenda();
        assert_eq!(
            a.steps_for("Middle", None, false).unwrap_err(),
            AgendaError::UnknownPhase
        );
        assert_eq!(
            a.steps_for("middle", Some("sadness"), false).unwrap_err(),
            AgendaError::UnknownProblemArea
        );
        assert_eq!(
            a.steps_for("initial", Some("isolation"), false)
                .unwrap_err(),
            AgendaError::UnknownProblemArea
        );
        assert_eq!(
            a.strategy_steps("").unwrap_err(),
            AgendaError::UnknownProblemArea
        );
    }

    #[test]
    fn phase_for_boundaries() {
        assert_eq!(phase_for(1, 6).unwrap(), "initial");
        assert_eq!(phase_for(2, 6).unwrap(), "middle");
        assert_eq!(phase_for(5, 6).unwrap(), "middle");
        assert_eq!(phase_for(6, 6).unwrap(), "termination");
        assert_eq!(phase_for(7, 6).unwrap(), "middle");
        assert_eq!(phase_for(1, 3).unwrap(), "initial");
        assert_eq!(phase_for(2, 3).unwrap(), "middle");
        assert_eq!(phase_for(3, 3).unwrap(), "termination");
        // Two sessions: no middle.
        assert_eq!(phase_for(1, 2).unwrap(), "initial");
        assert_eq!(phase_for(2, 2).unwrap(), "termination");
        // One session: it is the initial session.
        assert_eq!(phase_for(1, 1).unwrap(), "initial");
        assert_eq!(phase_for(2, 1).unwrap(), "middle");
        assert_eq!(
            phase_for(0, 6).unwrap_err(),
            AgendaError::ZeroCount {
                field: "session_number"
            }
        );
        assert_eq!(
            phase_for(1, 0).unwrap_err(),
            AgendaError::ZeroCount {
                field: "planned_sessions"
            }
        );
        for planned in 1..=8 {
            for session in 1..=planned {
                assert!(PHASES.contains(&phase_for(session, planned).unwrap()));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn phase_for_is_total_and_consistent(session in 1u32..=60, planned in 1u32..=60) {
            let phase = phase_for(session, planned).unwrap();
            proptest::prop_assert_eq!(phase == INITIAL, session == 1);
            proptest::prop_assert_eq!(phase == TERMINATION, session == planned && planned >= 2);
            proptest::prop_assert_eq!(
                phase == MIDDLE,
                session != 1 && session != planned
            );
        }

        #[test]
        fn loaders_never_panic_on_arbitrary_text(text in "\\PC{0,200}") {
            let a = agenda();
            let _ = Agenda::from_json(&text);
            let _ = AgendaTranslation::from_json(&text, &a);
        }
    }

    #[test]
    fn content_errors_are_caught() {
        assert_eq!(
            edited(|v| step_mut(v, "timeline")["id"] = "psychoeducation".into()).unwrap_err(),
            AgendaError::DuplicateStepId {
                id: "psychoeducation".into()
            }
        );
        assert_eq!(
            edited(|v| v["steps"][0]["id"] = "Bad id".into()).unwrap_err(),
            AgendaError::InvalidStepId { index: 0 }
        );
        assert_eq!(
            edited(|v| step_mut(v, "timeline")["prompts"][1]["key"] =
                "agenda.initial.timeline.prompt.3".into())
            .unwrap_err(),
            AgendaError::WrongKey {
                field: "steps[timeline].prompts[2].key".into(),
                expected: "agenda.initial.timeline.prompt.2".into()
            }
        );
        assert_eq!(
            edited(|v| step_mut(v, "timeline")["title_key"] = "timeline".into()).unwrap_err(),
            AgendaError::WrongKey {
                field: "steps[timeline].title_key".into(),
                expected: "agenda.initial.timeline.title".into()
            }
        );
        assert_eq!(
            edited(|v| step_mut(v, "timeline")["prompts"][0]["text"] = " ".into()).unwrap_err(),
            AgendaError::EmptyText {
                field: "steps[timeline].prompts[1].text".into()
            }
        );
        assert_eq!(
            edited(|v| step_mut(v, "timeline")["title"] = "".into()).unwrap_err(),
            AgendaError::EmptyText {
                field: "steps[timeline].title".into()
            }
        );
        assert_eq!(
            edited(|v| step_mut(v, "timeline")["prompts"] = serde_json::json!([])).unwrap_err(),
            AgendaError::InvalidStep {
                step: "timeline".into(),
                rule: "a step needs at least one prompt"
            }
        );
        assert!(matches!(
            edited(|v| step_mut(v, "grief_feelings")["phase"] = "later".into()).unwrap_err(),
            AgendaError::InvalidStep { .. }
        ));
        assert!(matches!(
            edited(|v| step_mut(v, "grief_feelings")["problem_area"] = "sadness".into())
                .unwrap_err(),
            AgendaError::InvalidStep { .. }
        ));
        assert!(matches!(
            edited(|v| step_mut(v, "timeline")["skip_if"] = "no_previous_task".into()).unwrap_err(),
            AgendaError::InvalidStep { .. }
        ));
        assert!(matches!(
            edited(|v| step_mut(v, "task_agreed")["expands_to_problem_area"] = true.into())
                .unwrap_err(),
            AgendaError::InvalidStep { .. }
        ));
        assert_eq!(
            edited(
                |v| step_mut(v, "problem_area_strategy")["expands_to_problem_area"] = false.into()
            )
            .unwrap_err(),
            AgendaError::Missing {
                what: "step with expands_to_problem_area".into()
            }
        );
        assert_eq!(
            edited(|v| v["steps"]
                .as_array_mut()
                .unwrap()
                .retain(|s| s["problem_area"] != "loneliness"))
            .unwrap_err(),
            AgendaError::Missing {
                what: "strategy steps for problem area \"loneliness\"".into()
            }
        );
        assert_eq!(
            edited(|v| v["language"] = "English".into()).unwrap_err(),
            AgendaError::InvalidLanguage { field: "language" }
        );
        assert_eq!(
            edited(|v| v["version"] = "v1".into()).unwrap_err(),
            AgendaError::InvalidVersion
        );
        assert!(matches!(
            edited(|v| step_mut(v, "timeline")["colour"] = "red".into()).unwrap_err(),
            AgendaError::Json { .. }
        ));
        assert!(matches!(
            edited(|v| step_mut(v, "timeline")["requires"] = "photo".into()).unwrap_err(),
            AgendaError::Json { .. }
        ));
    }

    const SW: &str = r#"{
        "language": "sw",
        "texts": {
            "agenda.initial.timeline.title": "Ratiba ya hisia na matukio",
            "agenda.initial.timeline.prompt.1": "Ulianza kujisikia hivi lini?"
        }
    }"#;

    #[test]
    fn translation_renders_with_visible_fallback() {
        let a = agenda();
        let t = AgendaTranslation::from_json(SW, &a).unwrap();
        assert_eq!(t.language(), "sw");
        let step = a.step("timeline").unwrap();
        let r = step.render(Some(&t));
        assert_eq!(r.id, "timeline");
        assert_eq!(r.title.text, "Ratiba ya hisia na matukio");
        assert!(!r.title.fallback);
        assert_eq!(r.prompts[0].text.text, "Ulianza kujisikia hivi lini?");
        assert!(!r.prompts[0].text.fallback);
        assert_eq!(r.prompts[1].text.text, step.prompts[1].text);
        assert!(r.prompts[1].text.fallback);
        assert_eq!(r.prompts[1].key, "agenda.initial.timeline.prompt.2");

        // Without a translation the agenda's own texts are not fallbacks.
        let plain = step.render(None);
        assert!(!plain.title.fallback && plain.prompts.iter().all(|p| !p.text.fallback));
        assert_eq!(plain.title.text, step.title);

        let missing = t.missing_keys(&a);
        assert_eq!(missing.len(), a.keys().count() - 2);
        assert!(!missing.contains(&"agenda.initial.timeline.title"));
    }

    #[test]
    fn translation_errors_are_caught() {
        let a = agenda();
        let load = |json: &str| AgendaTranslation::from_json(json, &a);
        assert_eq!(
            load(r#"{"language": "sw", "texts": {"agenda.initial.timline.title": "x"}}"#)
                .unwrap_err(),
            AgendaError::UnknownKey {
                key: "agenda.initial.timline.title".into()
            }
        );
        assert_eq!(
            load(r#"{"language": "sw", "texts": {"agenda.initial.timeline.title": "  "}}"#)
                .unwrap_err(),
            AgendaError::EmptyText {
                field: "texts[agenda.initial.timeline.title]".into()
            }
        );
        assert_eq!(
            load(
                r#"{"language": "sw", "texts": {
                    "agenda.initial.timeline.title": "a",
                    "agenda.initial.timeline.title": "b"}}"#
            )
            .unwrap_err(),
            AgendaError::DuplicateKey {
                key: "agenda.initial.timeline.title".into()
            }
        );
        assert_eq!(
            load(r#"{"language": "Swahili", "texts": {}}"#).unwrap_err(),
            AgendaError::InvalidLanguage { field: "language" }
        );
        assert!(matches!(
            load(r#"{"language": "sw", "texts": {}, "note": 1}"#).unwrap_err(),
            AgendaError::Json { .. }
        ));
        assert!(matches!(
            load(r#"{"language": "sw", "texts": {"agenda.initial.timeline.title": 3}}"#)
                .unwrap_err(),
            AgendaError::Json { .. }
        ));
        // An empty translation is valid: everything falls back.
        let empty = load(r#"{"language": "pt-BR", "texts": {}}"#).unwrap();
        assert!(a
            .step("coping_plan")
            .unwrap()
            .render(Some(&empty))
            .prompts
            .iter()
            .all(|p| p.text.fallback));
    }

    #[test]
    fn language_tags_and_versions() {
        for ok in ["en", "sw", "pt-BR", "zh-Hant-TW", "amh"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["", "e", "EN", "english", "en-", "en-B", "en_GB"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
        for ok in ["1", "1.0", "2.10.3"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in ["", "1.", ".1", "v1", "1.0-beta"] {
            assert!(!is_version(bad), "{bad}");
        }
    }
}
