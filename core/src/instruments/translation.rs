//! Translation packs (title, stem, item and option texts per language, keyed by id) and
//! rendering a definition in a language with visible fallback to the definition's texts.
//!
//! Packs are validated against the exact definition (id and version) they translate:
//! unknown items, option sets or option values, empty texts, duplicate JSON keys and bad
//! language tags are refused. Field translations must be validated ones supplied by the
//! programme; this module only checks their structure.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::definition::{check_language, check_text, Definition};
use super::error::{InstrumentError, Result};
use super::Registry;

/// A JSON object read as its entries in document order, keeping duplicate keys so they can
/// be reported (a map would silently keep the last one).
#[derive(Debug)]
struct Entries<V>(Vec<(String, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
            type Value = Entries<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// The JSON shape of a pack, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackData {
    instrument: String,
    version: String,
    language: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    stem: Option<String>,
    #[serde(default)]
    items: Entries<String>,
    #[serde(default)]
    options: Entries<Entries<String>>,
}

/// A validated translation of one definition version into one language. Any text it lacks
/// falls back to the definition's own text when rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranslationPack {
    instrument: String,
    version: String,
    language: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stem: Option<String>,
    items: BTreeMap<String, String>,
    options: BTreeMap<String, BTreeMap<u8, String>>,
}

impl TranslationPack {
    /// Parses a pack and validates it against the definition it names in `registry`.
    ///
    /// # Errors
    /// [`InstrumentError::Json`], [`InstrumentError::UnknownInstrument`],
    /// [`InstrumentError::UnknownVersion`], and the errors of
    /// [`TranslationPack::from_json_for`].
    pub fn from_json(json: &str, registry: &Registry) -> Result<Self> {
        let data = parse(json)?;
        let definition = registry.require(&data.instrument, &data.version)?;
        Self::validate(data, definition)
    }

    /// Parses a pack and validates it against `definition`.
    ///
    /// # Errors
    /// [`InstrumentError::Json`]; [`InstrumentError::PackMismatch`] if the pack names another
    /// instrument or version; [`InstrumentError::InvalidLanguage`];
    /// [`InstrumentError::DuplicateKey`]; [`InstrumentError::UnknownPackItem`],
    /// [`InstrumentError::UnknownPackOptionSet`], [`InstrumentError::UnknownPackOption`];
    /// [`InstrumentError::EmptyText`].
    pub fn from_json_for(json: &str, definition: &Definition) -> Result<Self> {
        let data = parse(json)?;
        Self::validate(data, definition)
    }

    /// Instrument id the pack translates.
    pub fn instrument(&self) -> &str {
        &self.instrument
    }
    /// Definition version the pack translates.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Language tag of the pack.
    pub fn language(&self) -> &str {
        &self.language
    }
    /// Translated title, if the pack has one.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    /// Translated stem, if the pack has one.
    pub fn stem(&self) -> Option<&str> {
        self.stem.as_deref()
    }
    /// Translated text of an item, if the pack has one.
    pub fn item(&self, item_id: &str) -> Option<&str> {
        self.items.get(item_id).map(String::as_str)
    }
    /// Translated text of an option, if the pack has one.
    pub fn option(&self, option_set: &str, value: u8) -> Option<&str> {
        self.options
            .get(option_set)?
            .get(&value)
            .map(String::as_str)
    }

    fn validate(data: PackData, definition: &Definition) -> Result<Self> {
        if data.instrument != definition.id() || data.version != definition.version() {
            return Err(InstrumentError::PackMismatch {
                pack_instrument: data.instrument,
                pack_version: data.version,
                instrument: definition.id().to_owned(),
                version: definition.version().to_owned(),
            });
        }
        check_language("language", &data.language)?;
        if let Some(title) = &data.title {
            check_text("title", title)?;
        }
        if let Some(stem) = &data.stem {
            check_text("stem", stem)?;
        }

        let mut items = BTreeMap::new();
        for (item_id, text) in data.items.0 {
            if definition.item(&item_id).is_none() {
                return Err(InstrumentError::UnknownPackItem { item: item_id });
            }
            check_text(&format!("items.{item_id}"), &text)?;
            if items.insert(item_id.clone(), text).is_some() {
                return Err(InstrumentError::DuplicateKey {
                    field: "items".to_owned(),
                    key: item_id,
                });
            }
        }

        let mut options = BTreeMap::new();
        let mut seen_sets = HashSet::new();
        for (set_id, entries) in data.options.0 {
            let Some(set) = definition.option_set(&set_id) else {
                return Err(InstrumentError::UnknownPackOptionSet { option_set: set_id });
            };
            if !seen_sets.insert(set_id.clone()) {
                return Err(InstrumentError::DuplicateKey {
                    field: "options".to_owned(),
                    key: set_id,
                });
            }
            let mut texts = BTreeMap::new();
            for (key, text) in entries.0 {
                let Some(value) = parse_option_key(&key).filter(|v| set.option(*v).is_some())
                else {
                    return Err(InstrumentError::UnknownPackOption {
                        option_set: set_id,
                        value: key,
                    });
                };
                check_text(&format!("options.{set_id}.{key}"), &text)?;
                if texts.insert(value, text).is_some() {
                    return Err(InstrumentError::DuplicateKey {
                        field: format!("options.{set_id}"),
                        key,
                    });
                }
            }
            options.insert(set_id, texts);
        }

        Ok(Self {
            instrument: data.instrument,
            version: data.version,
            language: data.language,
            title: data.title,
            stem: data.stem,
            items,
            options,
        })
    }
}

fn parse(json: &str) -> Result<PackData> {
    serde_json::from_str(json).map_err(|e| InstrumentError::json("translation pack", &e))
}

/// Option keys are plain decimal numbers without sign or leading zeros ("0", "1", "12").
fn parse_option_key(key: &str) -> Option<u8> {
    let plain = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    if plain {
        key.parse().ok()
    } else {
        None
    }
}

/// One text ready to show, with the language it is in and whether it is a fallback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedText {
    /// The text.
    pub text: String,
    /// Language tag of `text`.
    pub language: String,
    /// `true` when a translation was requested but the pack lacked this text, so the
    /// definition's own text (usually English) is shown instead.
    pub fallback: bool,
}

/// One answer option ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedOption {
    /// The option's value.
    pub value: u8,
    /// LOINC answer code.
    pub code: String,
    /// The option's text.
    pub text: RenderedText,
}

/// One item ready to show, with its options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedItem {
    /// Item id.
    pub id: String,
    /// LOINC code of the item.
    pub loinc: String,
    /// Whether the item is scored.
    pub scored: bool,
    /// The item's text.
    pub text: RenderedText,
    /// The answer options in value order.
    pub options: Vec<RenderedOption>,
}

/// A definition rendered in one language, everything a UI needs to show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedInstrument {
    /// Instrument id.
    pub instrument: String,
    /// Definition version.
    pub version: String,
    /// The requested language (the pack's, or the definition's when no pack is given).
    pub language: String,
    /// Title.
    pub title: RenderedText,
    /// Stem.
    pub stem: RenderedText,
    /// Items in order.
    pub items: Vec<RenderedItem>,
    /// Copyright statement, always the definition's own.
    pub copyright: String,
    /// How many texts fell back to the definition's language.
    pub fallback_count: usize,
}

/// Renders `definition`, translated by `pack` where the pack has a text.
///
/// # Errors
/// [`InstrumentError::PackMismatch`] if `pack` is for another instrument or version.
pub fn render(
    definition: &Definition,
    pack: Option<&TranslationPack>,
) -> Result<RenderedInstrument> {
    if let Some(pack) = pack {
        if pack.instrument != definition.id() || pack.version != definition.version() {
            return Err(InstrumentError::PackMismatch {
                pack_instrument: pack.instrument.clone(),
                pack_version: pack.version.clone(),
                instrument: definition.id().to_owned(),
                version: definition.version().to_owned(),
            });
        }
    }
    let mut fallback_count = 0;
    let mut text = |translated: Option<&str>, original: &str| -> RenderedText {
        match (pack, translated) {
            (Some(pack), Some(t)) => RenderedText {
                text: t.to_owned(),
                language: pack.language.clone(),
                fallback: false,
            },
            (pack, _) => {
                let fallback = pack.is_some();
                if fallback {
                    fallback_count += 1;
                }
                RenderedText {
                    text: original.to_owned(),
                    language: definition.language().to_owned(),
                    fallback,
                }
            }
        }
    };

    let title = text(pack.and_then(TranslationPack::title), definition.title());
    let stem = text(pack.and_then(TranslationPack::stem), definition.stem());
    let mut items = Vec::with_capacity(definition.items().len());
    for item in definition.items() {
        let set =
            definition
                .options_for(item)
                .ok_or_else(|| InstrumentError::UnknownOptionSet {
                    item: item.id.clone(),
                    option_set: item.options.clone(),
                })?;
        let item_text = text(pack.and_then(|p| p.item(&item.id)), &item.text);
        let options = set
            .options
            .iter()
            .map(|o| RenderedOption {
                value: o.value,
                code: o.code.clone(),
                text: text(pack.and_then(|p| p.option(&set.id, o.value)), &o.text),
            })
            .collect();
        items.push(RenderedItem {
            id: item.id.clone(),
            loinc: item.loinc.clone(),
            scored: item.scored,
            text: item_text,
            options,
        });
    }

    Ok(RenderedInstrument {
        instrument: definition.id().to_owned(),
        version: definition.version().to_owned(),
        language: pack.map_or_else(|| definition.language().to_owned(), |p| p.language.clone()),
        title,
        stem,
        items,
        copyright: definition.copyright().to_owned(),
        fallback_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Placeholder translations: synthetic strings, not validated translations.
    fn pack_value() -> serde_json::Value {
        json!({
            "instrument": "phq9",
            "version": "1.0",
            "language": "sw",
            "title": "[sw] PHQ-9",
            "stem": "[sw] stem",
            "items": { "phq9_1": "[sw] item 1", "phq9_9": "[sw] item 9" },
            "options": { "frequency": { "0": "[sw] f0", "1": "[sw] f1", "2": "[sw] f2", "3": "[sw] f3" } }
        })
    }

    /// Edits a pack's JSON in place.
    type Mutation = fn(&mut serde_json::Value);

    fn registry() -> Registry {
        Registry::builtin().unwrap()
    }

    fn load(value: &serde_json::Value) -> Result<TranslationPack> {
        TranslationPack::from_json(&value.to_string(), &registry())
    }

    #[test]
    fn valid_pack_loads_and_exposes_texts() {
        let pack = load(&pack_value()).unwrap();
        assert_eq!(pack.language(), "sw");
        assert_eq!(pack.item("phq9_1"), Some("[sw] item 1"));
        assert_eq!(pack.item("phq9_2"), None);
        assert_eq!(pack.option("frequency", 3), Some("[sw] f3"));
        assert_eq!(pack.option("difficulty", 0), None);
    }

    #[test]
    fn render_marks_fallbacks() {
        let registry = registry();
        let def = registry.get("phq9").unwrap();
        let pack = TranslationPack::from_json_for(&pack_value().to_string(), def).unwrap();
        let r = render(def, Some(&pack)).unwrap();
        assert_eq!(r.language, "sw");
        assert_eq!(r.title.text, "[sw] PHQ-9");
        assert!(!r.title.fallback);
        let item1 = &r.items[0];
        assert_eq!(item1.text.text, "[sw] item 1");
        assert_eq!(item1.text.language, "sw");
        assert!(!item1.text.fallback);
        assert_eq!(item1.options[2].text.text, "[sw] f2");
        let item2 = &r.items[1];
        assert_eq!(item2.text.text, "Feeling down, depressed, or hopeless");
        assert_eq!(item2.text.language, "en");
        assert!(item2.text.fallback);
        let difficulty = &r.items[9];
        assert_eq!(difficulty.id, "phq9_difficulty");
        assert!(difficulty.options.iter().all(|o| o.text.fallback));
        assert_eq!(difficulty.options[2].code, "LA6575-0");
        // Items 2–8 and the difficulty item, plus the 4 difficulty options.
        assert_eq!(r.fallback_count, 12);
        assert_eq!(r.copyright, def.copyright());
    }

    #[test]
    fn render_without_pack_has_no_fallbacks() {
        let registry = registry();
        let def = registry.get("gad7").unwrap();
        let r = render(def, None).unwrap();
        assert_eq!(r.language, "en");
        assert_eq!(r.fallback_count, 0);
        assert!(r
            .items
            .iter()
            .all(|i| !i.text.fallback && i.text.language == "en"));
        assert_eq!(r.items.len(), 7);
        assert_eq!(r.items[3].text.text, "Trouble relaxing");
    }

    #[test]
    fn render_refuses_pack_of_another_instrument() {
        let registry = registry();
        let pack = load(&pack_value()).unwrap();
        let err = render(registry.get("gad7").unwrap(), Some(&pack)).unwrap_err();
        assert!(matches!(err, InstrumentError::PackMismatch { .. }));
    }

    #[test]
    fn unknown_instrument_and_version() {
        let mut v = pack_value();
        v["instrument"] = json!("bdi");
        assert_eq!(
            load(&v).unwrap_err(),
            InstrumentError::UnknownInstrument { id: "bdi".into() }
        );
        let mut v = pack_value();
        v["version"] = json!("2.0");
        assert_eq!(
            load(&v).unwrap_err(),
            InstrumentError::UnknownVersion {
                id: "phq9".into(),
                version: "2.0".into()
            }
        );
        let registry = registry();
        let err = TranslationPack::from_json_for(
            &pack_value().to_string(),
            registry.get("gad7").unwrap(),
        )
        .unwrap_err();
        assert!(matches!(err, InstrumentError::PackMismatch { .. }));
    }

    #[test]
    fn unknown_item() {
        let mut v = pack_value();
        v["items"]["phq9_10"] = json!("x");
        assert_eq!(
            load(&v).unwrap_err(),
            InstrumentError::UnknownPackItem {
                item: "phq9_10".into()
            }
        );
    }

    #[test]
    fn unknown_option_set_and_option() {
        let mut v = pack_value();
        v["options"]["agreement"] = json!({"0": "x"});
        assert_eq!(
            load(&v).unwrap_err(),
            InstrumentError::UnknownPackOptionSet {
                option_set: "agreement".into()
            }
        );
        for bad in ["4", "-1", "01", "one", ""] {
            let mut v = pack_value();
            v["options"]["difficulty"] = json!({ bad: "x" });
            assert_eq!(
                load(&v).unwrap_err(),
                InstrumentError::UnknownPackOption {
                    option_set: "difficulty".into(),
                    value: bad.into()
                },
                "key {bad:?}"
            );
        }
    }

    #[test]
    fn empty_strings() {
        let cases: [(&str, Mutation); 4] = [
            ("title", |v| v["title"] = json!("  ")),
            ("stem", |v| v["stem"] = json!("")),
            ("items.phq9_1", |v| v["items"]["phq9_1"] = json!("")),
            ("options.frequency.2", |v| {
                v["options"]["frequency"]["2"] = json!("\t")
            }),
        ];
        for (field, mutate) in cases {
            let mut v = pack_value();
            mutate(&mut v);
            assert_eq!(
                load(&v).unwrap_err(),
                InstrumentError::EmptyText {
                    field: field.into()
                }
            );
        }
    }

    #[test]
    fn duplicate_keys_are_detected() {
        let registry = registry();
        let items = r#"{"instrument":"phq9","version":"1.0","language":"sw",
            "items":{"phq9_1":"a","phq9_1":"b"}}"#;
        assert_eq!(
            TranslationPack::from_json(items, &registry).unwrap_err(),
            InstrumentError::DuplicateKey {
                field: "items".into(),
                key: "phq9_1".into()
            }
        );
        let sets = r#"{"instrument":"phq9","version":"1.0","language":"sw",
            "options":{"frequency":{"0":"a"},"frequency":{"1":"b"}}}"#;
        assert_eq!(
            TranslationPack::from_json(sets, &registry).unwrap_err(),
            InstrumentError::DuplicateKey {
                field: "options".into(),
                key: "frequency".into()
            }
        );
        let values = r#"{"instrument":"phq9","version":"1.0","language":"sw",
            "options":{"frequency":{"0":"a","0":"b"}}}"#;
        assert_eq!(
            TranslationPack::from_json(values, &registry).unwrap_err(),
            InstrumentError::DuplicateKey {
                field: "options.frequency".into(),
                key: "0".into()
            }
        );
        // Duplicate top-level fields are refused by the parser.
        let top = r#"{"instrument":"phq9","version":"1.0","language":"sw","language":"en"}"#;
        assert!(matches!(
            TranslationPack::from_json(top, &registry).unwrap_err(),
            InstrumentError::Json { .. }
        ));
    }

    #[test]
    fn language_tags() {
        for good in ["sw", "en", "pt-BR", "lug", "sw-KE", "zh-Hant-TW"] {
            let mut v = pack_value();
            v["language"] = json!(good);
            assert_eq!(load(&v).unwrap().language(), good);
        }
        for bad in [
            "",
            "s",
            "SW",
            "swahili",
            "sw_KE",
            "sw-",
            "sw-K",
            "sw-abcdefghi",
            "e1",
        ] {
            let mut v = pack_value();
            v["language"] = json!(bad);
            assert_eq!(
                load(&v).unwrap_err(),
                InstrumentError::InvalidLanguage {
                    field: "language".into(),
                    tag: bad.into()
                },
                "tag {bad:?}"
            );
        }
    }

    #[test]
    fn malformed_json_and_unknown_fields() {
        let registry = registry();
        let err = TranslationPack::from_json("{", &registry).unwrap_err();
        assert!(matches!(
            err,
            InstrumentError::Json {
                what: "translation pack",
                ..
            }
        ));
        let mut v = pack_value();
        v["copyright"] = json!("x");
        let InstrumentError::Json { message, .. } = load(&v).unwrap_err() else {
            panic!("expected a JSON error")
        };
        assert!(message.contains("unknown field"), "{message}");
    }

    #[test]
    fn minimal_pack_renders_everything_as_fallback_except_language() {
        let registry = registry();
        let v = json!({"instrument": "phq2", "version": "1.0", "language": "lg"});
        let pack = load(&v).unwrap();
        let r = render(registry.get("phq2").unwrap(), Some(&pack)).unwrap();
        assert_eq!(r.language, "lg");
        assert!(r.title.fallback && r.stem.fallback);
        // title + stem + 2 items + 2 * 4 options
        assert_eq!(r.fallback_count, 12);
    }

    #[test]
    fn pack_serializes_to_the_documented_shape() {
        let pack = load(&pack_value()).unwrap();
        let back = serde_json::to_value(&pack).unwrap();
        assert_eq!(back, pack_value());
    }
}
