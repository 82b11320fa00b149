//! Scoring a response against a definition: total, band, flags and completeness.
//!
//! All scored items must be answered; unscored items (PHQ-9's difficulty question) may be
//! missing, which only makes the response incomplete. Answers are checked against the
//! item's option values and never clamped.

use serde::{Deserialize, Serialize};

use super::definition::{Definition, FlagTarget};
use super::error::{InstrumentError, Result};

/// The outcome of scoring one response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Instrument id.
    pub instrument: String,
    /// Definition version used.
    pub version: String,
    /// Sum of the scored items.
    pub total: u16,
    /// Largest possible total.
    pub max: u16,
    /// Id of the band the total falls in.
    pub band: String,
    /// Flags raised, in rule order, each once.
    pub flags: Vec<String>,
    /// Whether every item, scored and unscored, was answered.
    pub complete: bool,
    /// Value of the definition's difficulty item (PHQ-9 item 10), if answered. Not scored.
    pub difficulty: Option<u8>,
    /// Number of items answered.
    pub answered: usize,
}

/// Scores answers given as `(item id, value)` pairs, in any order.
///
/// # Errors
/// [`InstrumentError::UnknownItem`], [`InstrumentError::DuplicateAnswer`],
/// [`InstrumentError::InvalidAnswer`] (value not among the item's options; the value itself
/// is not reported), and [`InstrumentError::MissingItems`] naming every unanswered scored
/// item.
pub fn score<S: AsRef<str>>(definition: &Definition, answers: &[(S, u8)]) -> Result<Score> {
    let items = definition.items();
    let mut values: Vec<Option<u8>> = vec![None; items.len()];
    for (item_id, value) in answers {
        let item_id = item_id.as_ref();
        let (slot, item) = values
            .iter_mut()
            .zip(items)
            .find(|(_, item)| item.id == item_id)
            .ok_or_else(|| InstrumentError::UnknownItem {
                item: item_id.to_owned(),
            })?;
        if slot.is_some() {
            return Err(InstrumentError::DuplicateAnswer {
                item: item_id.to_owned(),
            });
        }
        let options =
            definition
                .options_for(item)
                .ok_or_else(|| InstrumentError::UnknownOptionSet {
                    item: item.id.clone(),
                    option_set: item.options.clone(),
                })?;
        if options.option(*value).is_none() {
            return Err(InstrumentError::InvalidAnswer {
                item: item.id.clone(),
                max: options.max_value(),
            });
        }
        *slot = Some(*value);
    }

    let missing: Vec<String> = items
        .iter()
        .zip(&values)
        .filter(|(item, value)| item.scored && value.is_none())
        .map(|(item, _)| item.id.clone())
        .collect();
    if !missing.is_empty() {
        return Err(InstrumentError::MissingItems { items: missing });
    }

    let total = items
        .iter()
        .zip(&values)
        .filter(|(item, _)| item.scored)
        .try_fold(0u16, |sum, (_, value)| {
            sum.checked_add(u16::from(value.unwrap_or(0)))
        })
        .ok_or(InstrumentError::MaxTotalTooLarge)?;

    let band = definition
        .bands()
        .ranges
        .iter()
        .find(|b| b.contains(total))
        .ok_or(InstrumentError::NoBandForTotal)?
        .id
        .clone();

    let value_of = |id: &str| -> Option<u8> {
        items
            .iter()
            .zip(&values)
            .find(|(item, _)| item.id == id)
            .and_then(|(_, value)| *value)
    };

    let mut flags: Vec<String> = Vec::new();
    for rule in definition.flags() {
        let observed = match rule.when.target() {
            Some(FlagTarget::Total) => Some(total),
            Some(FlagTarget::Item(id)) => value_of(id).map(u16::from),
            None => None,
        };
        let raised = observed.is_some_and(|v| rule.when.op.holds(v, rule.when.value));
        if raised && !flags.contains(&rule.flag) {
            flags.push(rule.flag.clone());
        }
    }

    let difficulty = definition
        .scoring()
        .difficulty_item
        .as_deref()
        .and_then(value_of);

    Ok(Score {
        instrument: definition.id().to_owned(),
        version: definition.version().to_owned(),
        total,
        max: definition.max_total(),
        band,
        flags,
        complete: values.iter().all(Option::is_some),
        difficulty,
        answered: values.iter().filter(|v| v.is_some()).count(),
    })
}

/// Scores values given in item order: either one value per item (scored and unscored, e.g.
/// 10 for PHQ-9 with the difficulty item last) or one per scored item (9 for PHQ-9).
///
/// # Errors
/// [`InstrumentError::WrongAnswerCount`] for any other length, and the errors of [`score`].
pub fn score_values(definition: &Definition, values: &[u8]) -> Result<Score> {
    let all = definition.items().len();
    let scored = definition.scored_items().count();
    let answers: Vec<(&str, u8)> = if values.len() == all {
        definition
            .items()
            .iter()
            .map(|i| i.id.as_str())
            .zip(values.iter().copied())
            .collect()
    } else if values.len() == scored {
        definition
            .scored_items()
            .map(|i| i.id.as_str())
            .zip(values.iter().copied())
            .collect()
    } else {
        return Err(InstrumentError::WrongAnswerCount {
            expected: all,
            scored_only: scored,
            got: values.len(),
        });
    };
    score(definition, &answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instruments::Registry;
    use proptest::prelude::*;

    fn def(id: &str) -> Definition {
        Registry::builtin().unwrap().get(id).unwrap().clone()
    }

    /// Scored values (each 0..=3) adding up to `total`, filling items from the first.
    fn values_for_total(items: usize, total: u16) -> Vec<u8> {
        let mut left = total;
        (0..items)
            .map(|_| {
                let v = left.min(3);
                left -= v;
                u8::try_from(v).unwrap()
            })
            .collect()
    }

    fn assert_bands(id: &str, items: usize, golden: &[(u16, &str)]) {
        let d = def(id);
        for &(total, band) in golden {
            let s = score_values(&d, &values_for_total(items, total)).unwrap();
            assert_eq!(s.total, total, "{id} total");
            assert_eq!(s.band, band, "{id} total {total}");
        }
    }

    #[test]
    fn phq9_band_boundaries() {
        assert_bands(
            "phq9",
            9,
            &[
                (0, "minimal"),
                (4, "minimal"),
                (5, "mild"),
                (9, "mild"),
                (10, "moderate"),
                (14, "moderate"),
                (15, "moderately_severe"),
                (19, "moderately_severe"),
                (20, "severe"),
                (27, "severe"),
            ],
        );
    }

    #[test]
    fn gad7_band_boundaries() {
        assert_bands(
            "gad7",
            7,
            &[
                (0, "minimal"),
                (4, "minimal"),
                (5, "mild"),
                (9, "mild"),
                (10, "moderate"),
                (14, "moderate"),
                (15, "severe"),
                (21, "severe"),
            ],
        );
    }

    #[test]
    fn phq2_band_boundaries() {
        assert_bands(
            "phq2",
            2,
            &[
                (0, "negative"),
                (2, "negative"),
                (3, "positive"),
                (6, "positive"),
            ],
        );
    }

    #[test]
    fn phq9_severe_flag_at_threshold() {
        let d = def("phq9");
        // Item 9 kept at 0 so only the total rule can fire.
        let mut v = vec![3, 3, 3, 3, 3, 3, 1, 0, 0];
        assert_eq!(score_values(&d, &v).unwrap().flags, Vec::<String>::new());
        v[7] = 1; // total 20
        let s = score_values(&d, &v).unwrap();
        assert_eq!(s.total, 20);
        assert_eq!(s.flags, vec!["severe_symptoms".to_owned()]);
    }

    #[test]
    fn phq9_item9_flag_at_0_and_1() {
        let d = def("phq9");
        let s = score_values(&d, &[0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        assert!(s.flags.is_empty());
        let s = score_values(&d, &[0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert_eq!(s.flags, vec!["self_harm_thoughts".to_owned()]);
        assert_eq!(s.total, 1);
        assert_eq!(s.band, "minimal");
        let s = score_values(&d, &[3; 9]).unwrap();
        assert_eq!(
            s.flags,
            vec![
                "self_harm_thoughts".to_owned(),
                "severe_symptoms".to_owned()
            ]
        );
    }

    #[test]
    fn phq2_and_gad7_threshold_flags() {
        let phq2 = def("phq2");
        assert!(score_values(&phq2, &[1, 1]).unwrap().flags.is_empty());
        assert_eq!(
            score_values(&phq2, &[2, 1]).unwrap().flags,
            vec!["positive_screen".to_owned()]
        );
        let gad7 = def("gad7");
        assert!(score_values(&gad7, &[3, 3, 3, 0, 0, 0, 0])
            .unwrap()
            .flags
            .is_empty());
        assert_eq!(
            score_values(&gad7, &[3, 3, 3, 1, 0, 0, 0]).unwrap().flags,
            vec!["anxiety_further_evaluation".to_owned()]
        );
    }

    #[test]
    fn phq9_difficulty_is_reported_not_scored() {
        let d = def("phq9");
        let nine = score_values(&d, &[1, 1, 1, 1, 1, 1, 1, 1, 0]).unwrap();
        let ten = score_values(&d, &[1, 1, 1, 1, 1, 1, 1, 1, 0, 3]).unwrap();
        assert_eq!(nine.total, 8);
        assert_eq!(ten.total, 8);
        assert_eq!(nine.difficulty, None);
        assert_eq!(ten.difficulty, Some(3));
        assert!(!nine.complete);
        assert!(ten.complete);
        assert_eq!(nine.answered, 9);
        assert_eq!(ten.answered, 10);
    }

    #[test]
    fn score_by_id_in_any_order() {
        let d = def("gad7");
        let answers = [
            ("gad7_7", 3u8),
            ("gad7_1", 1),
            ("gad7_3", 0),
            ("gad7_2", 2),
            ("gad7_4", 0),
            ("gad7_6", 1),
            ("gad7_5", 0),
        ];
        let s = score(&d, &answers).unwrap();
        assert_eq!(s.total, 7);
        assert_eq!(s.band, "mild");
        assert!(s.complete);
        // Owned ids work too.
        let owned: Vec<(String, u8)> = answers.iter().map(|(i, v)| ((*i).to_owned(), *v)).collect();
        assert_eq!(score(&d, &owned).unwrap(), s);
    }

    #[test]
    fn missing_items_are_named_in_order() {
        let d = def("phq9");
        let err = score(
            &d,
            &[("phq9_2", 1u8), ("phq9_difficulty", 1), ("phq9_1", 0)],
        )
        .unwrap_err();
        let expected: Vec<String> = (3..=9).map(|i| format!("phq9_{i}")).collect();
        assert_eq!(err, InstrumentError::MissingItems { items: expected });
        let none: [(&str, u8); 0] = [];
        match score(&d, &none).unwrap_err() {
            InstrumentError::MissingItems { items } => assert_eq!(items.len(), 9),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn out_of_range_answer_names_item_and_range_not_value() {
        let d = def("phq9");
        let err = score_values(&d, &[0, 0, 0, 0, 7, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            err,
            InstrumentError::InvalidAnswer {
                item: "phq9_5".into(),
                max: 3
            }
        );
        assert!(!err.to_string().contains('7'));
        let err = score_values(&d, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 4]).unwrap_err();
        assert_eq!(
            err,
            InstrumentError::InvalidAnswer {
                item: "phq9_difficulty".into(),
                max: 3
            }
        );
    }

    #[test]
    fn wrong_count_unknown_and_duplicate() {
        let d = def("phq9");
        assert_eq!(
            score_values(&d, &[0; 8]).unwrap_err(),
            InstrumentError::WrongAnswerCount {
                expected: 10,
                scored_only: 9,
                got: 8
            }
        );
        assert_eq!(
            score_values(&d, &[0; 11]).unwrap_err(),
            InstrumentError::WrongAnswerCount {
                expected: 10,
                scored_only: 9,
                got: 11
            }
        );
        assert_eq!(
            score(&d, &[("phq9_10", 0u8)]).unwrap_err(),
            InstrumentError::UnknownItem {
                item: "phq9_10".into()
            }
        );
        assert_eq!(
            score(&d, &[("phq9_1", 0u8), ("phq9_1", 0)]).unwrap_err(),
            InstrumentError::DuplicateAnswer {
                item: "phq9_1".into()
            }
        );
        let gad7 = def("gad7");
        assert!(matches!(
            score_values(&gad7, &[]).unwrap_err(),
            InstrumentError::WrongAnswerCount {
                expected: 7,
                scored_only: 7,
                got: 0
            }
        ));
    }

    #[test]
    fn score_serializes_the_expected_fields() {
        let d = def("phq9");
        let s = score_values(&d, &[2, 2, 2, 2, 2, 0, 0, 0, 1]).unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["instrument"], "phq9");
        assert_eq!(json["version"], "1.0");
        assert_eq!(json["total"], 11);
        assert_eq!(json["band"], "moderate");
        assert_eq!(json["flags"], serde_json::json!(["self_harm_thoughts"]));
        assert_eq!(json["complete"], false);
        let back: Score = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }

    fn band_index(d: &Definition, band: &str) -> usize {
        d.bands().ranges.iter().position(|b| b.id == band).unwrap()
    }

    fn answer_vectors() -> impl Strategy<Value = (String, Vec<u8>)> {
        prop_oneof![
            proptest::collection::vec(0u8..=3, 2).prop_map(|v| ("phq2".to_owned(), v)),
            proptest::collection::vec(0u8..=3, 9).prop_map(|v| ("phq9".to_owned(), v)),
            proptest::collection::vec(0u8..=3, 10).prop_map(|v| ("phq9".to_owned(), v)),
            proptest::collection::vec(0u8..=3, 7).prop_map(|v| ("gad7".to_owned(), v)),
        ]
    }

    #[test]
    fn band_never_goes_back_as_total_rises() {
        for id in ["phq2", "phq9", "gad7"] {
            let d = def(id);
            let items = d.scored_items().count();
            let mut previous = 0;
            for total in 0..=d.max_total() {
                let s = score_values(&d, &values_for_total(items, total)).unwrap();
                let index = band_index(&d, &s.band);
                assert!(index >= previous, "{id} total {total}");
                previous = index;
            }
            assert_eq!(
                previous,
                d.bands().ranges.len() - 1,
                "{id} reaches the last band"
            );
        }
    }

    proptest! {
        #[test]
        fn higher_total_never_gives_an_earlier_band(
            a in proptest::collection::vec(0u8..=3, 9),
            b in proptest::collection::vec(0u8..=3, 9),
        ) {
            let d = def("phq9");
            let sa = score_values(&d, &a).unwrap();
            let sb = score_values(&d, &b).unwrap();
            let (low, high) = if sa.total <= sb.total { (sa, sb) } else { (sb, sa) };
            prop_assert!(band_index(&d, &low.band) <= band_index(&d, &high.band));
        }

        #[test]
        fn any_valid_vector_scores_within_range((id, values) in answer_vectors()) {
            let d = def(&id);
            let s = score_values(&d, &values).unwrap();
            prop_assert!(s.total <= s.max);
            prop_assert_eq!(s.max, d.max_total());
            let scored: u16 = values.iter().take(d.scored_items().count()).map(|v| u16::from(*v)).sum();
            prop_assert_eq!(s.total, scored);
            let band = d.bands().ranges.iter().find(|b| b.id == s.band).unwrap();
            prop_assert!(band.contains(s.total));
        }

        #[test]
        fn band_is_monotonic_in_total((id, values) in answer_vectors(), item in 0usize..9) {
            let d = def(&id);
            let scored = d.scored_items().count();
            let mut values = values;
            values.truncate(scored);
            let i = item % scored;
            prop_assume!(values[i] < 3);
            let lower = score_values(&d, &values).unwrap();
            values[i] += 1;
            let higher = score_values(&d, &values).unwrap();
            prop_assert_eq!(higher.total, lower.total + 1);
            prop_assert!(band_index(&d, &higher.band) >= band_index(&d, &lower.band));
        }

        #[test]
        fn out_of_range_values_always_rejected(values in proptest::collection::vec(0u8..=3, 9), item in 0usize..9, bad in 4u8..=255) {
            let d = def("phq9");
            let mut values = values;
            values[item] = bad;
            let err = score_values(&d, &values).unwrap_err();
            prop_assert_eq!(err, InstrumentError::InvalidAnswer { item: format!("phq9_{}", item + 1), max: 3 });
        }
    }
}
