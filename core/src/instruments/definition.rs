//! Instrument definitions as versioned data: the JSON format, its types and its validation.
//!
//! A [`Definition`] can only be obtained through validation ([`Definition::from_json`] or
//! deserializing one), so every definition in hand has unique ids, contiguous option values,
//! bands covering `0..=max_total` without gaps or overlaps, and flag rules that refer to real
//! items with reachable values. Scoring and rendering rely on that.

use std::collections::HashSet;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{InstrumentError, Result};

/// Longest id accepted for instruments, items, option sets, bands and flags.
const MAX_ID_LEN: usize = 64;

/// One answer option: its value, its text and its LOINC answer code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerOption {
    /// The value that is scored; values of a set are `0, 1, …, n-1` in order.
    pub value: u8,
    /// The option's text in the definition's language.
    pub text: String,
    /// The LOINC answer code (`LA…-…`).
    pub code: String,
    /// Other LOINC answer codes accepted on import for this option (e.g. GAD-7's
    /// `LA18938-3` "More days than not" for value 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_codes: Vec<String>,
}

impl AnswerOption {
    /// Whether `code` is this option's answer code or one of its alternatives.
    pub fn has_code(&self, code: &str) -> bool {
        self.code == code || self.alt_codes.iter().any(|c| c == code)
    }
}

/// A named list of answer options that items refer to by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSet {
    /// The set's id, referenced by [`Item::options`].
    pub id: String,
    /// The options, values `0, 1, …` in order.
    pub options: Vec<AnswerOption>,
}

impl OptionSet {
    /// The option with this value, if the set has it.
    pub fn option(&self, value: u8) -> Option<&AnswerOption> {
        self.options.iter().find(|o| o.value == value)
    }

    /// The option whose main or alternative LOINC answer code is `code`.
    pub fn option_by_code(&self, code: &str) -> Option<&AnswerOption> {
        self.options.iter().find(|o| o.has_code(code))
    }

    /// The largest value in the set (0 for an empty set, which validation refuses).
    pub fn max_value(&self) -> u8 {
        self.options.iter().map(|o| o.value).max().unwrap_or(0)
    }
}

/// One question of an instrument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// The item's id, e.g. `phq9_1`.
    pub id: String,
    /// The item's text in the definition's language, reproduced exactly from the source.
    pub text: String,
    /// The item's LOINC code.
    pub loinc: String,
    /// Id of the option set answering this item.
    pub options: String,
    /// Whether the item counts towards the total. Scored items are required for scoring.
    pub scored: bool,
}

/// How the total is computed. Only the plain sum exists today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoringRule {
    /// Total = sum of the values of the scored items.
    Sum,
}

/// The scoring section of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// How the total is computed.
    pub rule: ScoringRule,
    /// LOINC code of the total score.
    pub total_loinc: String,
    /// An unscored item whose answer is reported as [`Score::difficulty`](super::Score)
    /// (PHQ-9's functional-difficulty question).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difficulty_item: Option<String>,
}

/// One severity band: totals `min..=max`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// The band's id, e.g. `moderately_severe`.
    pub id: String,
    /// Lowest total in the band.
    pub min: u16,
    /// Highest total in the band.
    pub max: u16,
}

impl Band {
    /// Whether `total` falls in this band.
    pub fn contains(&self, total: u16) -> bool {
        self.min <= total && total <= self.max
    }
}

/// The bands of a definition and where they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// The source of the cut-points, e.g. "Kroenke 2001".
    pub source: String,
    /// The bands in ascending order, covering `0..=max_total` exactly.
    pub ranges: Vec<Band>,
}

/// Comparison used by a flag rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareOp {
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal.
    Eq,
}

impl CompareOp {
    /// Whether `lhs <op> rhs` holds.
    pub fn holds(self, lhs: u16, rhs: u16) -> bool {
        match self {
            Self::Gt => lhs > rhs,
            Self::Gte => lhs >= rhs,
            Self::Lt => lhs < rhs,
            Self::Lte => lhs <= rhs,
            Self::Eq => lhs == rhs,
        }
    }
}

/// What a flag rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagTarget<'a> {
    /// The answer value of one item.
    Item(&'a str),
    /// The total score.
    Total,
}

/// The condition of a flag rule, as written in JSON: exactly one of `"item": "<id>"` or
/// `"total": true`, plus `op` and `value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagCondition {
    /// The item whose value is compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// `true` when the total is compared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total: bool,
    /// The comparison.
    pub op: CompareOp,
    /// The value compared against.
    pub value: u16,
}

impl FlagCondition {
    /// What the condition looks at; `None` when it names neither or both targets (which a
    /// validated definition never contains).
    pub fn target(&self) -> Option<FlagTarget<'_>> {
        match (&self.item, self.total) {
            (Some(item), false) => Some(FlagTarget::Item(item)),
            (None, true) => Some(FlagTarget::Total),
            _ => None,
        }
    }
}

/// A rule raising a named flag when its condition holds. Several rules may raise the same
/// flag (any of them suffices).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagRule {
    /// The flag's id, e.g. `self_harm_thoughts`.
    pub flag: String,
    /// When the flag is raised.
    pub when: FlagCondition,
    /// Where the rule comes from, e.g. "reference §4".
    pub source: String,
}

/// The JSON shape of a definition, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionData {
    id: String,
    version: String,
    language: String,
    title: String,
    loinc: String,
    stem: String,
    copyright: String,
    option_sets: Vec<OptionSet>,
    items: Vec<Item>,
    scoring: Scoring,
    bands: Bands,
    #[serde(default)]
    flags: Vec<FlagRule>,
}

/// A validated, versioned instrument definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    data: DefinitionData,
    max_total: u16,
}

impl Definition {
    /// Parses and validates a definition from its JSON text.
    ///
    /// # Errors
    /// [`InstrumentError::Json`] for malformed JSON or unknown/missing fields, and the
    /// validation variants (duplicate ids, unknown option set, non-contiguous option values,
    /// band gaps/overlaps, bad flag rules, empty texts, bad LOINC codes or ids).
    pub fn from_json(json: &str) -> Result<Self> {
        let data: DefinitionData =
            serde_json::from_str(json).map_err(|e| InstrumentError::json("definition", &e))?;
        Self::validate(data)
    }

    /// Instrument id, e.g. `phq9`.
    pub fn id(&self) -> &str {
        &self.data.id
    }
    /// Definition version, e.g. `1.0`.
    pub fn version(&self) -> &str {
        &self.data.version
    }
    /// Language tag of the texts in the definition (the fallback language).
    pub fn language(&self) -> &str {
        &self.data.language
    }
    /// Title of the instrument.
    pub fn title(&self) -> &str {
        &self.data.title
    }
    /// LOINC code of the panel.
    pub fn loinc(&self) -> &str {
        &self.data.loinc
    }
    /// The question stem shown before the items.
    pub fn stem(&self) -> &str {
        &self.data.stem
    }
    /// The copyright / permission statement to show with the instrument.
    pub fn copyright(&self) -> &str {
        &self.data.copyright
    }
    /// The option sets.
    pub fn option_sets(&self) -> &[OptionSet] {
        &self.data.option_sets
    }
    /// The items in order.
    pub fn items(&self) -> &[Item] {
        &self.data.items
    }
    /// The scoring section.
    pub fn scoring(&self) -> &Scoring {
        &self.data.scoring
    }
    /// The bands and their source.
    pub fn bands(&self) -> &Bands {
        &self.data.bands
    }
    /// The flag rules.
    pub fn flags(&self) -> &[FlagRule] {
        &self.data.flags
    }
    /// The largest possible total (sum of the scored items' largest values).
    pub fn max_total(&self) -> u16 {
        self.max_total
    }

    /// The item with this id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.data.items.iter().find(|i| i.id == id)
    }

    /// The option set with this id.
    pub fn option_set(&self, id: &str) -> Option<&OptionSet> {
        self.data.option_sets.iter().find(|s| s.id == id)
    }

    /// The option set answering `item`.
    pub fn options_for(&self, item: &Item) -> Option<&OptionSet> {
        self.option_set(&item.options)
    }

    /// The scored items in order.
    pub fn scored_items(&self) -> impl Iterator<Item = &Item> {
        self.data.items.iter().filter(|i| i.scored)
    }

    /// Maps a LOINC answer code (main or alternative) for an item to its option, e.g. on
    /// import of a coded response.
    pub fn option_by_code(&self, item_id: &str, code: &str) -> Option<&AnswerOption> {
        let item = self.item(item_id)?;
        self.options_for(item)?.option_by_code(code)
    }

    fn validate(data: DefinitionData) -> Result<Self> {
        check_id("id", &data.id)?;
        check_version("version", &data.version)?;
        check_language("language", &data.language)?;
        check_text("title", &data.title)?;
        check_text("stem", &data.stem)?;
        check_text("copyright", &data.copyright)?;
        check_loinc("loinc", &data.loinc)?;
        check_loinc("scoring.total_loinc", &data.scoring.total_loinc)?;

        validate_option_sets(&data.option_sets)?;
        validate_items(&data)?;
        let max_total = max_total(&data)?;

        if let Some(difficulty) = &data.scoring.difficulty_item {
            let ok = data.items.iter().any(|i| &i.id == difficulty && !i.scored);
            if !ok {
                return Err(InstrumentError::InvalidDifficultyItem {
                    item: difficulty.clone(),
                });
            }
        }

        validate_bands(&data.bands, max_total)?;
        validate_flags(&data, max_total)?;
        Ok(Self { data, max_total })
    }
}

impl Serialize for Definition {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Definition {
    /// Deserializes and validates; a validation failure becomes a custom serde error.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let data = DefinitionData::deserialize(deserializer)?;
        Self::validate(data).map_err(serde::de::Error::custom)
    }
}

fn validate_option_sets(sets: &[OptionSet]) -> Result<()> {
    let mut ids = HashSet::new();
    for (index, set) in sets.iter().enumerate() {
        check_id(&format!("option_sets[{index}].id"), &set.id)?;
        if !ids.insert(set.id.as_str()) {
            return Err(InstrumentError::DuplicateId {
                kind: "option set",
                id: set.id.clone(),
            });
        }
        if set.options.is_empty() {
            return Err(InstrumentError::EmptyOptionSet {
                option_set: set.id.clone(),
            });
        }
        let mut values = HashSet::new();
        let mut codes = HashSet::new();
        for (position, option) in set.options.iter().enumerate() {
            if !values.insert(option.value) {
                return Err(InstrumentError::DuplicateOptionValue {
                    option_set: set.id.clone(),
                    value: option.value,
                });
            }
            if usize::from(option.value) != position {
                return Err(InstrumentError::OptionValuesNotContiguous {
                    option_set: set.id.clone(),
                });
            }
            let field = format!("option_sets[{}].options[{}]", set.id, option.value);
            check_text(&format!("{field}.text"), &option.text)?;
            check_answer_code(&format!("{field}.code"), &option.code)?;
            for alt in &option.alt_codes {
                check_answer_code(&format!("{field}.alt_codes"), alt)?;
            }
            for code in std::iter::once(&option.code).chain(&option.alt_codes) {
                if !codes.insert(code.as_str()) {
                    return Err(InstrumentError::DuplicateAnswerCode {
                        option_set: set.id.clone(),
                        code: code.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn validate_items(data: &DefinitionData) -> Result<()> {
    let mut ids = HashSet::new();
    for (index, item) in data.items.iter().enumerate() {
        check_id(&format!("items[{index}].id"), &item.id)?;
        if !ids.insert(item.id.as_str()) {
            return Err(InstrumentError::DuplicateId {
                kind: "item",
                id: item.id.clone(),
            });
        }
        check_text(&format!("items[{}].text", item.id), &item.text)?;
        check_loinc(&format!("items[{}].loinc", item.id), &item.loinc)?;
        if !data.option_sets.iter().any(|s| s.id == item.options) {
            return Err(InstrumentError::UnknownOptionSet {
                item: item.id.clone(),
                option_set: item.options.clone(),
            });
        }
    }
    if !data.items.iter().any(|i| i.scored) {
        return Err(InstrumentError::NoScoredItems);
    }
    Ok(())
}

/// Largest value an item can take (its option set's largest value).
fn item_max(data: &DefinitionData, item: &Item) -> u8 {
    data.option_sets
        .iter()
        .find(|s| s.id == item.options)
        .map_or(0, OptionSet::max_value)
}

fn max_total(data: &DefinitionData) -> Result<u16> {
    data.items
        .iter()
        .filter(|i| i.scored)
        .try_fold(0u16, |sum, item| {
            sum.checked_add(u16::from(item_max(data, item)))
        })
        .ok_or(InstrumentError::MaxTotalTooLarge)
}

fn validate_bands(bands: &Bands, max_total: u16) -> Result<()> {
    check_text("bands.source", &bands.source)?;
    let mut ids = HashSet::new();
    for (index, band) in bands.ranges.iter().enumerate() {
        check_id(&format!("bands.ranges[{index}].id"), &band.id)?;
        if !ids.insert(band.id.as_str()) {
            return Err(InstrumentError::DuplicateId {
                kind: "band",
                id: band.id.clone(),
            });
        }
        if band.min > band.max {
            return Err(InstrumentError::BandInverted {
                band: band.id.clone(),
            });
        }
    }
    let (Some(first), Some(last)) = (bands.ranges.first(), bands.ranges.last()) else {
        return Err(InstrumentError::NoBands);
    };
    if first.min != 0 {
        return Err(InstrumentError::BandsNotFromZero {
            band: first.id.clone(),
        });
    }
    for pair in bands.ranges.windows(2) {
        let [before, after] = pair else { continue };
        let expected = u32::from(before.max) + 1;
        let actual = u32::from(after.min);
        if actual > expected {
            return Err(InstrumentError::BandGap {
                before: before.id.clone(),
                after: after.id.clone(),
            });
        }
        if actual < expected {
            return Err(InstrumentError::BandOverlap {
                before: before.id.clone(),
                after: after.id.clone(),
            });
        }
    }
    if last.max != max_total {
        return Err(InstrumentError::BandsDoNotCoverMax {
            max_total,
            ends_at: last.max,
        });
    }
    Ok(())
}

fn validate_flags(data: &DefinitionData, max_total: u16) -> Result<()> {
    for (index, rule) in data.flags.iter().enumerate() {
        check_id(&format!("flags[{index}].flag"), &rule.flag)?;
        check_text(&format!("flags[{}].source", rule.flag), &rule.source)?;
        let max = match rule.when.target() {
            None => {
                return Err(InstrumentError::FlagTarget {
                    flag: rule.flag.clone(),
                })
            }
            Some(FlagTarget::Total) => max_total,
            Some(FlagTarget::Item(id)) => {
                let item = data.items.iter().find(|i| i.id == id).ok_or_else(|| {
                    InstrumentError::FlagUnknownItem {
                        flag: rule.flag.clone(),
                        item: id.to_owned(),
                    }
                })?;
                u16::from(item_max(data, item))
            }
        };
        if rule.when.value > max {
            return Err(InstrumentError::FlagValueOutOfRange {
                flag: rule.flag.clone(),
                value: rule.when.value,
                max,
            });
        }
    }
    Ok(())
}

/// Ids: `[a-z][a-z0-9_]*`, at most [`MAX_ID_LEN`] characters.
pub(crate) fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= MAX_ID_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn check_id(field: &str, id: &str) -> Result<()> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(InstrumentError::InvalidId {
            field: field.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// Versions: dotted numbers (`1`, `1.0`, `2.1.3`), each part at most 9 digits.
pub(crate) fn parse_version(version: &str) -> Option<Vec<u32>> {
    version
        .split('.')
        .map(|part| {
            let digits_only = !part.is_empty() && part.len() <= 9;
            if digits_only && part.bytes().all(|b| b.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        })
        .collect()
}

fn check_version(field: &str, version: &str) -> Result<()> {
    match parse_version(version) {
        Some(_) => Ok(()),
        None => Err(InstrumentError::InvalidVersion {
            field: field.to_owned(),
            version: version.to_owned(),
        }),
    }
}

/// Language tags: `[a-z]{2,3}(-[A-Za-z0-9]{2,8})*`.
pub(crate) fn is_valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_lowercase()));
    primary_ok
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub(crate) fn check_language(field: &str, tag: &str) -> Result<()> {
    if is_valid_language(tag) {
        Ok(())
    } else {
        Err(InstrumentError::InvalidLanguage {
            field: field.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

pub(crate) fn check_text(field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        Err(InstrumentError::EmptyText {
            field: field.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Splits `digits-digit` into its parts, or `None` if the shape is wrong.
fn split_code(code: &str) -> Option<(&str, u32)> {
    let (number, check) = code.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(number) || check.len() != 1 {
        return None;
    }
    let check = check.chars().next()?.to_digit(10)?;
    Some((number, check))
}

/// The LOINC mod-10 check digit of the numeric part of a code.
fn loinc_check_digit(number: &str) -> Option<u32> {
    let mut sum = 0;
    for (position, c) in number.chars().rev().enumerate() {
        let mut digit = c.to_digit(10)?;
        if position % 2 == 0 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
    }
    Some((10 - sum % 10) % 10)
}

/// LOINC codes: `\d+-\d` with a correct mod-10 check digit.
pub(crate) fn is_valid_loinc(code: &str) -> bool {
    split_code(code).is_some_and(|(number, check)| loinc_check_digit(number) == Some(check))
}

fn check_loinc(field: &str, code: &str) -> Result<()> {
    if is_valid_loinc(code) {
        Ok(())
    } else {
        Err(InstrumentError::InvalidLoinc {
            field: field.to_owned(),
            code: code.to_owned(),
        })
    }
}

/// LOINC answer codes: `LA\d+-\d` (only the shape is checked).
fn check_answer_code(field: &str, code: &str) -> Result<()> {
    let ok = code.strip_prefix("LA").and_then(split_code).is_some();
    if ok {
        Ok(())
    } else {
        Err(InstrumentError::InvalidAnswerCode {
            field: field.to_owned(),
            code: code.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::{GAD7_JSON, PHQ2_JSON, PHQ9_JSON};
    use serde_json::{json, Value};

    const COPYRIGHT: &str = "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt \
        Kroenke and colleagues, with an educational grant from Pfizer Inc. No permission \
        required to reproduce, translate, display or distribute.";

    /// Items as in the clinical reference §4: (id, text, LOINC).
    const PHQ9_ITEMS: [(&str, &str, &str); 10] = [
        ("phq9_1", "Little interest or pleasure in doing things", "44250-9"),
        ("phq9_2", "Feeling down, depressed, or hopeless", "44255-8"),
        ("phq9_3", "Trouble falling or staying asleep, or sleeping too much", "44259-0"),
        ("phq9_4", "Feeling tired or having little energy", "44254-1"),
        ("phq9_5", "Poor appetite or overeating", "44251-7"),
        ("phq9_6", "Feeling bad about yourself \u{2014} or that you are a failure or have let yourself or your family down", "44258-2"),
        ("phq9_7", "Trouble concentrating on things, such as reading the newspaper or watching television", "44252-5"),
        ("phq9_8", "Moving or speaking so slowly that other people could have noticed? Or the opposite \u{2014} being so fidgety or restless that you have been moving around a lot more than usual", "44253-3"),
        ("phq9_9", "Thoughts that you would be better off dead or of hurting yourself in some way", "44260-8"),
        ("phq9_difficulty", "If you checked off any problems, how difficult have these problems made it for you to do your work, take care of things at home, or get along with other people?", "69722-7"),
    ];

    const GAD7_ITEMS: [(&str, &str, &str); 7] = [
        ("gad7_1", "Feeling nervous, anxious, or on edge", "69725-0"),
        (
            "gad7_2",
            "Not being able to stop or control worrying",
            "68509-9",
        ),
        (
            "gad7_3",
            "Worrying too much about different things",
            "69733-4",
        ),
        ("gad7_4", "Trouble relaxing", "69734-2"),
        (
            "gad7_5",
            "Being so restless that it is hard to sit still",
            "69735-9",
        ),
        ("gad7_6", "Becoming easily annoyed or irritable", "69689-8"),
        (
            "gad7_7",
            "Feeling afraid, as if something awful might happen",
            "69736-7",
        ),
    ];

    const FREQUENCY: [(&str, &str); 4] = [
        ("Not at all", "LA6568-5"),
        ("Several days", "LA6569-3"),
        ("More than half the days", "LA6570-1"),
        ("Nearly every day", "LA6571-9"),
    ];

    fn check_items(def: &Definition, expected: &[(&str, &str, &str)]) {
        let got: Vec<(&str, &str, &str)> = def
            .items()
            .iter()
            .map(|i| (i.id.as_str(), i.text.as_str(), i.loinc.as_str()))
            .collect();
        assert_eq!(got, expected);
    }

    fn check_frequency(set: &OptionSet) {
        let got: Vec<(u8, &str, &str)> = set
            .options
            .iter()
            .map(|o| (o.value, o.text.as_str(), o.code.as_str()))
            .collect();
        let expected: Vec<(u8, &str, &str)> = (0u8..)
            .zip(FREQUENCY)
            .map(|(v, (t, c))| (v, t, c))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn phq9_matches_reference() {
        let def = Definition::from_json(PHQ9_JSON).unwrap();
        assert_eq!(
            (def.id(), def.version(), def.language()),
            ("phq9", "1.0", "en")
        );
        assert_eq!(
            (def.loinc(), def.scoring().total_loinc.as_str()),
            ("44249-1", "44261-6")
        );
        assert_eq!(def.copyright(), COPYRIGHT);
        check_items(&def, &PHQ9_ITEMS);
        let scored: Vec<&str> = def.scored_items().map(|i| i.id.as_str()).collect();
        assert_eq!(scored.len(), 9);
        assert!(!scored.contains(&"phq9_difficulty"));
        check_frequency(def.option_set("frequency").unwrap());
        let difficulty: Vec<(u8, &str, &str)> = def
            .option_set("difficulty")
            .unwrap()
            .options
            .iter()
            .map(|o| (o.value, o.text.as_str(), o.code.as_str()))
            .collect();
        assert_eq!(
            difficulty,
            vec![
                (0, "Not difficult at all", "LA6572-7"),
                (1, "Somewhat difficult", "LA6573-5"),
                (2, "Very difficult", "LA6575-0"),
                (3, "Extremely difficult", "LA6574-3"),
            ]
        );
        assert_eq!(def.item("phq9_difficulty").unwrap().options, "difficulty");
        assert_eq!(
            def.scoring().difficulty_item.as_deref(),
            Some("phq9_difficulty")
        );
        let bands: Vec<(&str, u16, u16)> = def
            .bands()
            .ranges
            .iter()
            .map(|b| (b.id.as_str(), b.min, b.max))
            .collect();
        assert_eq!(
            bands,
            vec![
                ("minimal", 0, 4),
                ("mild", 5, 9),
                ("moderate", 10, 14),
                ("moderately_severe", 15, 19),
                ("severe", 20, 27),
            ]
        );
        assert_eq!(def.bands().source, "Kroenke 2001");
        assert!(def.flags().iter().all(|f| !f.source.is_empty()));
    }

    #[test]
    fn phq2_reuses_phq9_items_1_and_2() {
        let def = Definition::from_json(PHQ2_JSON).unwrap();
        assert_eq!(
            (def.loinc(), def.scoring().total_loinc.as_str()),
            ("55757-9", "55758-7")
        );
        assert_eq!(def.copyright(), COPYRIGHT);
        let expected = [
            ("phq2_1", PHQ9_ITEMS[0].1, PHQ9_ITEMS[0].2),
            ("phq2_2", PHQ9_ITEMS[1].1, PHQ9_ITEMS[1].2),
        ];
        check_items(&def, &expected);
        check_frequency(def.option_set("frequency").unwrap());
        let cut = &def.bands().ranges;
        assert_eq!((cut[1].id.as_str(), cut[1].min), ("positive", 3));
        assert!(def.bands().source.contains("Kroenke 2003"));
    }

    #[test]
    fn gad7_matches_reference() {
        let def = Definition::from_json(GAD7_JSON).unwrap();
        assert_eq!(
            (def.loinc(), def.scoring().total_loinc.as_str()),
            ("69737-5", "70274-6")
        );
        assert_eq!(def.copyright(), COPYRIGHT);
        check_items(&def, &GAD7_ITEMS);
        check_frequency(def.option_set("frequency").unwrap());
        assert_eq!(def.bands().source, "Spitzer 2006");
    }

    #[test]
    fn every_loinc_code_has_a_valid_check_digit() {
        for (_, _, code) in PHQ9_ITEMS.iter().chain(&GAD7_ITEMS) {
            assert!(is_valid_loinc(code), "{code}");
        }
        for code in [
            "44249-1", "44261-6", "55757-9", "55758-7", "69737-5", "70274-6",
        ] {
            assert!(is_valid_loinc(code), "{code}");
        }
        for bad in [
            "44250-8", "44250", "44250-", "-9", "4425O-9", "44250-99", "LA6568-5",
        ] {
            assert!(!is_valid_loinc(bad), "{bad}");
        }
    }

    #[test]
    fn option_by_code_accepts_alternative_codes() {
        let gad7 = Definition::from_json(GAD7_JSON).unwrap();
        assert_eq!(gad7.option_by_code("gad7_2", "LA18938-3").unwrap().value, 2);
        assert_eq!(gad7.option_by_code("gad7_2", "LA6570-1").unwrap().value, 2);
        assert_eq!(gad7.option_by_code("gad7_2", "LA6571-9").unwrap().value, 3);
        assert!(gad7.option_by_code("gad7_2", "LA6572-7").is_none());
        assert!(gad7.option_by_code("gad7_9", "LA6568-5").is_none());
        let phq9 = Definition::from_json(PHQ9_JSON).unwrap();
        assert_eq!(
            phq9.option_by_code("phq9_difficulty", "LA6575-0")
                .unwrap()
                .value,
            2
        );
        assert_eq!(
            phq9.option_by_code("phq9_difficulty", "LA6574-3")
                .unwrap()
                .value,
            3
        );
        assert!(phq9.option_by_code("phq9_1", "LA6574-3").is_none());
    }

    #[test]
    fn serialization_round_trips_to_the_same_json() {
        for json in [PHQ2_JSON, PHQ9_JSON, GAD7_JSON] {
            let def = Definition::from_json(json).unwrap();
            let original: Value = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_value(&def).unwrap(), original);
            let again: Definition = serde_json::from_value(original).unwrap();
            assert_eq!(again, def);
        }
    }

    #[test]
    fn deserialize_validates_too() {
        let mut v = phq9();
        v["items"][1]["id"] = json!("phq9_1");
        let err = serde_json::from_value::<Definition>(v).unwrap_err();
        assert!(err.to_string().contains("duplicate item id"), "{err}");
    }

    /// Edits a definition's JSON in place.
    type Mutation = fn(&mut Value);

    fn phq9() -> Value {
        serde_json::from_str(PHQ9_JSON).unwrap()
    }

    fn mutated(mutate: impl FnOnce(&mut Value)) -> InstrumentError {
        let mut v = phq9();
        mutate(&mut v);
        Definition::from_json(&v.to_string()).unwrap_err()
    }

    #[test]
    fn duplicate_ids() {
        assert_eq!(
            mutated(|v| v["items"][3]["id"] = json!("phq9_1")),
            InstrumentError::DuplicateId {
                kind: "item",
                id: "phq9_1".into()
            }
        );
        assert_eq!(
            mutated(|v| v["option_sets"][1]["id"] = json!("frequency")),
            InstrumentError::DuplicateId {
                kind: "option set",
                id: "frequency".into()
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][2]["id"] = json!("mild")),
            InstrumentError::DuplicateId {
                kind: "band",
                id: "mild".into()
            }
        );
    }

    #[test]
    fn unknown_option_set() {
        assert_eq!(
            mutated(|v| v["items"][4]["options"] = json!("agreement")),
            InstrumentError::UnknownOptionSet {
                item: "phq9_5".into(),
                option_set: "agreement".into()
            }
        );
    }

    #[test]
    fn option_values() {
        assert_eq!(
            mutated(|v| v["option_sets"][0]["options"][2]["value"] = json!(1)),
            InstrumentError::DuplicateOptionValue {
                option_set: "frequency".into(),
                value: 1
            }
        );
        assert_eq!(
            mutated(|v| v["option_sets"][0]["options"][3]["value"] = json!(4)),
            InstrumentError::OptionValuesNotContiguous {
                option_set: "frequency".into()
            }
        );
        assert_eq!(
            mutated(|v| v["option_sets"][1]["options"][1]["value"] = json!(0)),
            InstrumentError::DuplicateOptionValue {
                option_set: "difficulty".into(),
                value: 0
            }
        );
        // Values starting at 1 are not contiguous from 0.
        assert_eq!(
            mutated(|v| {
                let options = v["option_sets"][0]["options"].as_array_mut().unwrap();
                for (i, o) in options.iter_mut().enumerate() {
                    o["value"] = json!(i + 1);
                }
            }),
            InstrumentError::OptionValuesNotContiguous {
                option_set: "frequency".into()
            }
        );
        assert_eq!(
            mutated(|v| v["option_sets"][1]["options"] = json!([])),
            InstrumentError::EmptyOptionSet {
                option_set: "difficulty".into()
            }
        );
        assert!(matches!(
            mutated(|v| v["option_sets"][0]["options"][0]["value"] = json!(-1)),
            InstrumentError::Json {
                what: "definition",
                ..
            }
        ));
    }

    #[test]
    fn answer_codes() {
        assert_eq!(
            mutated(|v| v["option_sets"][0]["options"][1]["code"] = json!("LA6568-5")),
            InstrumentError::DuplicateAnswerCode {
                option_set: "frequency".into(),
                code: "LA6568-5".into()
            }
        );
        assert_eq!(
            mutated(|v| v["option_sets"][0]["options"][1]["alt_codes"] = json!(["LA6571-9"])),
            InstrumentError::DuplicateAnswerCode {
                option_set: "frequency".into(),
                code: "LA6571-9".into()
            }
        );
        for bad in ["6568-5", "LA6568", "LA-5", "la6568-5", "LA6568-55"] {
            assert_eq!(
                mutated(|v| v["option_sets"][0]["options"][0]["code"] = json!(bad)),
                InstrumentError::InvalidAnswerCode {
                    field: "option_sets[frequency].options[0].code".into(),
                    code: bad.into()
                }
            );
        }
        assert!(matches!(
            mutated(|v| v["option_sets"][0]["options"][2]["alt_codes"] = json!(["LA18938"])),
            InstrumentError::InvalidAnswerCode { .. }
        ));
    }

    #[test]
    fn bands() {
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][2]["min"] = json!(11)),
            InstrumentError::BandGap {
                before: "mild".into(),
                after: "moderate".into()
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][2]["min"] = json!(9)),
            InstrumentError::BandOverlap {
                before: "mild".into(),
                after: "moderate".into()
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][4]["max"] = json!(26)),
            InstrumentError::BandsDoNotCoverMax {
                max_total: 27,
                ends_at: 26
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][4]["max"] = json!(30)),
            InstrumentError::BandsDoNotCoverMax {
                max_total: 27,
                ends_at: 30
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][0]["min"] = json!(1)),
            InstrumentError::BandsNotFromZero {
                band: "minimal".into()
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"][1]["max"] = json!(4)),
            InstrumentError::BandInverted {
                band: "mild".into()
            }
        );
        assert_eq!(
            mutated(|v| v["bands"]["ranges"] = json!([])),
            InstrumentError::NoBands
        );
        // Out of order: swapping two bands is an overlap.
        assert!(matches!(
            mutated(|v| v["bands"]["ranges"].as_array_mut().unwrap().swap(1, 2)),
            InstrumentError::BandGap { .. } | InstrumentError::BandOverlap { .. }
        ));
        // Making an item unscored lowers the max total to 24: bands must follow.
        assert_eq!(
            mutated(|v| v["items"][0]["scored"] = json!(false)),
            InstrumentError::BandsDoNotCoverMax {
                max_total: 24,
                ends_at: 27
            }
        );
    }

    #[test]
    fn flags() {
        assert_eq!(
            mutated(|v| v["flags"][0]["when"]["item"] = json!("phq9_10")),
            InstrumentError::FlagUnknownItem {
                flag: "self_harm_thoughts".into(),
                item: "phq9_10".into()
            }
        );
        assert_eq!(
            mutated(|v| v["flags"][0]["when"]["value"] = json!(4)),
            InstrumentError::FlagValueOutOfRange {
                flag: "self_harm_thoughts".into(),
                value: 4,
                max: 3
            }
        );
        assert_eq!(
            mutated(|v| v["flags"][1]["when"]["value"] = json!(28)),
            InstrumentError::FlagValueOutOfRange {
                flag: "severe_symptoms".into(),
                value: 28,
                max: 27
            }
        );
        assert_eq!(
            mutated(|v| v["flags"][1]["when"]["item"] = json!("phq9_1")),
            InstrumentError::FlagTarget {
                flag: "severe_symptoms".into()
            }
        );
        assert_eq!(
            mutated(|v| v["flags"][1]["when"]["total"] = json!(false)),
            InstrumentError::FlagTarget {
                flag: "severe_symptoms".into()
            }
        );
        assert!(matches!(
            mutated(|v| v["flags"][1]["when"]["op"] = json!("ne")),
            InstrumentError::Json { .. }
        ));
        assert!(matches!(
            mutated(|v| v["flags"][0]["flag"] = json!("Self harm")),
            InstrumentError::InvalidId { .. }
        ));
    }

    #[test]
    fn empty_texts() {
        let cases: [(&str, Mutation); 8] = [
            ("title", |v| v["title"] = json!("")),
            ("stem", |v| v["stem"] = json!(" ")),
            ("copyright", |v| v["copyright"] = json!("")),
            ("items[phq9_3].text", |v| v["items"][2]["text"] = json!("")),
            ("option_sets[difficulty].options[1].text", |v| {
                v["option_sets"][1]["options"][1]["text"] = json!("\n")
            }),
            ("bands.source", |v| v["bands"]["source"] = json!("")),
            ("flags[severe_symptoms].source", |v| {
                v["flags"][1]["source"] = json!("")
            }),
            ("title", |v| v["title"] = json!("\u{a0}")),
        ];
        for (field, mutate) in cases {
            assert_eq!(
                mutated(mutate),
                InstrumentError::EmptyText {
                    field: field.into()
                }
            );
        }
    }

    #[test]
    fn loinc_codes() {
        assert_eq!(
            mutated(|v| v["items"][0]["loinc"] = json!("44250-8")),
            InstrumentError::InvalidLoinc {
                field: "items[phq9_1].loinc".into(),
                code: "44250-8".into()
            }
        );
        assert_eq!(
            mutated(|v| v["loinc"] = json!("44249")),
            InstrumentError::InvalidLoinc {
                field: "loinc".into(),
                code: "44249".into()
            }
        );
        assert_eq!(
            mutated(|v| v["scoring"]["total_loinc"] = json!("x-6")),
            InstrumentError::InvalidLoinc {
                field: "scoring.total_loinc".into(),
                code: "x-6".into()
            }
        );
    }

    #[test]
    fn ids_versions_languages() {
        for bad in ["", "PHQ9", "9phq", "phq-9", "phq 9", &"a".repeat(65)] {
            assert_eq!(
                mutated(|v| v["id"] = json!(bad)),
                InstrumentError::InvalidId {
                    field: "id".into(),
                    id: bad.to_owned()
                }
            );
        }
        assert_eq!(
            mutated(|v| v["items"][5]["id"] = json!("Item6")),
            InstrumentError::InvalidId {
                field: "items[5].id".into(),
                id: "Item6".into()
            }
        );
        assert!(matches!(
            mutated(|v| v["option_sets"][0]["id"] = json!("freq uency")),
            InstrumentError::InvalidId { .. }
        ));
        for bad in ["", "1.", ".1", "v1", "1.0-beta", "1..0", "1234567890"] {
            assert_eq!(
                mutated(|v| v["version"] = json!(bad)),
                InstrumentError::InvalidVersion {
                    field: "version".into(),
                    version: bad.into()
                }
            );
        }
        assert_eq!(
            mutated(|v| v["language"] = json!("English")),
            InstrumentError::InvalidLanguage {
                field: "language".into(),
                tag: "English".into()
            }
        );
    }

    #[test]
    fn scoring_section() {
        assert_eq!(
            mutated(|v| {
                for item in v["items"].as_array_mut().unwrap() {
                    item["scored"] = json!(false);
                }
            }),
            InstrumentError::NoScoredItems
        );
        assert_eq!(
            mutated(|v| v["items"] = json!([])),
            InstrumentError::NoScoredItems
        );
        assert_eq!(
            mutated(|v| v["scoring"]["difficulty_item"] = json!("phq9_1")),
            InstrumentError::InvalidDifficultyItem {
                item: "phq9_1".into()
            }
        );
        assert_eq!(
            mutated(|v| v["scoring"]["difficulty_item"] = json!("phq9_11")),
            InstrumentError::InvalidDifficultyItem {
                item: "phq9_11".into()
            }
        );
        assert!(matches!(
            mutated(|v| v["scoring"]["rule"] = json!("mean")),
            InstrumentError::Json { .. }
        ));
    }

    #[test]
    fn unknown_and_missing_fields_are_json_errors() {
        let InstrumentError::Json { message, line, .. } = mutated(|v| v["colour"] = json!("red"))
        else {
            panic!("expected a JSON error")
        };
        assert!(message.contains("unknown field `colour`"), "{message}");
        assert!(!message.contains(" at line "), "{message}");
        assert_eq!(line, 1);
        let InstrumentError::Json { message, .. } =
            mutated(|v| drop(v.as_object_mut().unwrap().remove("copyright")))
        else {
            panic!("expected a JSON error")
        };
        assert!(message.contains("missing field `copyright`"), "{message}");
        assert!(matches!(
            Definition::from_json("not json").unwrap_err(),
            InstrumentError::Json {
                what: "definition",
                ..
            }
        ));
    }

    #[test]
    fn max_total_overflow_is_refused() {
        let err = mutated(|v| {
            let values: Vec<Value> = (0..=255)
                .map(|i| json!({"value": i, "text": "x", "code": format!("LA{}-0", i + 1)}))
                .collect();
            v["option_sets"][0]["options"] = json!(values);
            let item = v["items"][0].clone();
            let items: Vec<Value> = (0..300)
                .map(|i| {
                    let mut it = item.clone();
                    it["id"] = json!(format!("x{i}"));
                    it
                })
                .collect();
            v["items"] = json!(items);
        });
        assert_eq!(err, InstrumentError::MaxTotalTooLarge);
    }
}
