//! Questionnaire instruments (PHQ-2, PHQ-9, GAD-7 and programme-defined ones): versioned
//! definitions loaded from JSON, the registry holding them, translation packs and rendering,
//! scoring and change against a baseline.
//!
//! Definitions are data, not code: the builtin ones are JSON files embedded at compile time
//! (`data/*.json`), and a programme can register its own. The format is documented in
//! `docs/instruments.md`.

mod change;
mod definition;
mod error;
mod scoring;
mod translation;

use std::collections::BTreeMap;

use crate::embedded;

pub use change::{change, Change, ChangeRules, ChangeSources};
pub use definition::{
    AnswerOption, Band, Bands, CompareOp, Definition, FlagCondition, FlagRule, FlagTarget, Item,
    OptionSet, Scoring, ScoringRule,
};
pub use error::{InstrumentError, Result};
pub use scoring::{score, score_values, Score};
pub use translation::{
    render, RenderedInstrument, RenderedItem, RenderedOption, RenderedText, TranslationPack,
};

/// The builtin PHQ-2 definition (JSON; the library holds it compressed, `embedded.rs`).
#[cfg(test)]
pub(crate) const PHQ2_JSON: &str = include_str!("data/phq2.json");
/// The builtin PHQ-9 definition (JSON), with the unscored difficulty item.
#[cfg(test)]
pub(crate) const PHQ9_JSON: &str = include_str!("data/phq9.json");
/// The builtin GAD-7 definition (JSON).
#[cfg(test)]
pub(crate) const GAD7_JSON: &str = include_str!("data/gad7.json");

/// Definitions by instrument id and version.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    /// Per instrument id, its versions in ascending version order.
    definitions: BTreeMap<String, Vec<Definition>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the builtin PHQ-2, PHQ-9 and GAD-7 definitions.
    ///
    /// # Errors
    /// Only if an embedded definition fails validation, which the tests rule out.
    pub fn builtin() -> Result<Self> {
        let mut registry = Self::new();
        for compressed in [embedded::PHQ2, embedded::PHQ9, embedded::GAD7] {
            let json = embedded::text(compressed).map_err(|_| InstrumentError::Json {
                what: "builtin definition (damaged in the library)",
                line: 0,
                column: 0,
                message: "could not be decompressed".into(),
            })?;
            registry.register(Definition::from_json(&json)?)?;
        }
        Ok(registry)
    }

    /// Adds a definition.
    ///
    /// # Errors
    /// [`InstrumentError::DuplicateDefinition`] if the same id and version is already held.
    pub fn register(&mut self, definition: Definition) -> Result<()> {
        let versions = self
            .definitions
            .entry(definition.id().to_owned())
            .or_default();
        if versions.iter().any(|d| d.version() == definition.version()) {
            return Err(InstrumentError::DuplicateDefinition {
                id: definition.id().to_owned(),
                version: definition.version().to_owned(),
            });
        }
        versions.push(definition);
        versions.sort_by_key(|d| version_key(d.version()));
        Ok(())
    }

    /// The highest version of the instrument `id` (versions compare as dotted numbers).
    pub fn get(&self, id: &str) -> Option<&Definition> {
        self.definitions.get(id)?.last()
    }

    /// The instrument `id` in exactly `version`.
    pub fn get_version(&self, id: &str, version: &str) -> Option<&Definition> {
        self.definitions
            .get(id)?
            .iter()
            .find(|d| d.version() == version)
    }

    /// Like [`Registry::get_version`], with an error saying whether the instrument or only
    /// the version is unknown.
    ///
    /// # Errors
    /// [`InstrumentError::UnknownInstrument`] or [`InstrumentError::UnknownVersion`].
    pub fn require(&self, id: &str, version: &str) -> Result<&Definition> {
        let versions = self
            .definitions
            .get(id)
            .ok_or_else(|| InstrumentError::UnknownInstrument { id: id.to_owned() })?;
        versions
            .iter()
            .find(|d| d.version() == version)
            .ok_or_else(|| InstrumentError::UnknownVersion {
                id: id.to_owned(),
                version: version.to_owned(),
            })
    }

    /// All definitions, by id then ascending version.
    pub fn iter(&self) -> impl Iterator<Item = &Definition> {
        self.definitions.values().flatten()
    }
}

/// Sort key of a validated version string (dotted numbers).
fn version_key(version: &str) -> Vec<u32> {
    definition::parse_version(version).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_holds_the_three_instruments() {
        let registry = Registry::builtin().unwrap();
        let ids: Vec<(&str, &str)> = registry.iter().map(|d| (d.id(), d.version())).collect();
        assert_eq!(ids, vec![("gad7", "1.0"), ("phq2", "1.0"), ("phq9", "1.0")]);
        assert_eq!(registry.get("phq9").unwrap().max_total(), 27);
        assert_eq!(registry.get("phq2").unwrap().max_total(), 6);
        assert_eq!(registry.get("gad7").unwrap().max_total(), 21);
        assert!(registry.get("phq8").is_none());
    }

    fn phq9_with_version(version: &str) -> Definition {
        let mut value: serde_json::Value = serde_json::from_str(PHQ9_JSON).unwrap();
        value["version"] = serde_json::Value::from(version);
        Definition::from_json(&value.to_string()).unwrap()
    }

    #[test]
    fn register_refuses_same_id_and_version() {
        let mut registry = Registry::builtin().unwrap();
        let err = registry.register(phq9_with_version("1.0")).unwrap_err();
        assert_eq!(
            err,
            InstrumentError::DuplicateDefinition {
                id: "phq9".into(),
                version: "1.0".into()
            }
        );
    }

    #[test]
    fn get_returns_highest_version_numerically() {
        let mut registry = Registry::builtin().unwrap();
        registry.register(phq9_with_version("10.0")).unwrap();
        registry.register(phq9_with_version("2.1")).unwrap();
        assert_eq!(registry.get("phq9").unwrap().version(), "10.0");
        assert_eq!(
            registry.get_version("phq9", "2.1").unwrap().version(),
            "2.1"
        );
        assert_eq!(
            registry.get_version("phq9", "1.0").unwrap().version(),
            "1.0"
        );
        assert!(registry.get_version("phq9", "3.0").is_none());
    }

    #[test]
    fn require_distinguishes_unknown_instrument_and_version() {
        let registry = Registry::builtin().unwrap();
        assert_eq!(
            registry.require("bdi", "1.0").unwrap_err(),
            InstrumentError::UnknownInstrument { id: "bdi".into() }
        );
        assert_eq!(
            registry.require("gad7", "9.9").unwrap_err(),
            InstrumentError::UnknownVersion {
                id: "gad7".into(),
                version: "9.9".into()
            }
        );
        assert_eq!(registry.require("gad7", "1.0").unwrap().id(), "gad7");
    }
}
