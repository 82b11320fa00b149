//! Change of a total against a baseline: absolute and percent change, response, remission
//! and reliable worsening, all driven by configurable, sourced rules.

use serde::{Deserialize, Serialize};

use super::error::{InstrumentError, Result};

/// Where each change rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeSources {
    /// Source of the response rule.
    pub response: String,
    /// Source of the remission rule; `None` when the instrument has no remission rule.
    #[serde(default)]
    pub remission: Option<String>,
    /// Source of the reliable-change rule.
    pub reliable_change: String,
}

/// Rules for judging change on one instrument. The defaults are the PHQ-9 ones from the
/// clinical reference; a programme can load its own with [`ChangeRules::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRules {
    /// Response: reduction from baseline of at least this percentage (0 < x ≤ 100).
    pub response_reduction_pct: f64,
    /// Remission: latest total strictly below this. `None` for instruments without a
    /// remission definition (the reference defines remission for the PHQ-9 only).
    pub remission_below: Option<u16>,
    /// Reliable worsening: an increase of at least this many points (≥ 1).
    pub reliable_change_points: u16,
    /// Sources of the rules.
    pub sources: ChangeSources,
}

impl ChangeRules {
    /// The PHQ-9 rules of the clinical reference: response ≥ 50% reduction, remission total
    /// < 5 (Psychiatric Services 2020, ps.201900295), reliable change 5 points (Löwe 2004).
    pub fn phq9() -> Self {
        Self {
            response_reduction_pct: 50.0,
            remission_below: Some(5),
            reliable_change_points: 5,
            sources: ChangeSources {
                response: "Psychiatric Services 2020 (ps.201900295): response is a reduction \
                           of at least 50% from baseline"
                    .to_owned(),
                remission: Some(
                    "Psychiatric Services 2020 (ps.201900295): remission is a PHQ-9 total below 5"
                        .to_owned(),
                ),
                reliable_change: "Löwe 2004: minimal clinically important individual change \
                                  of 5 points on the PHQ-9"
                    .to_owned(),
            },
        }
    }

    /// The reference's default rules for an instrument id, if it has any (`phq9` only;
    /// other instruments need rules supplied by the programme).
    pub fn for_instrument(id: &str) -> Option<Self> {
        (id == "phq9").then(Self::phq9)
    }

    /// Parses and validates rules from JSON (same field names as the struct).
    ///
    /// # Errors
    /// [`InstrumentError::Json`] or [`InstrumentError::InvalidChangeRule`].
    pub fn from_json(json: &str) -> Result<Self> {
        let rules: Self =
            serde_json::from_str(json).map_err(|e| InstrumentError::json("change rules", &e))?;
        rules.validate()?;
        Ok(rules)
    }

    /// Checks every rule is in its meaningful range.
    ///
    /// # Errors
    /// [`InstrumentError::InvalidChangeRule`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let pct = self.response_reduction_pct;
        if !(pct.is_finite() && pct > 0.0 && pct <= 100.0) {
            return Err(InstrumentError::InvalidChangeRule {
                field: "response_reduction_pct",
                reason: "must be greater than 0 and at most 100",
            });
        }
        if self.remission_below == Some(0) {
            return Err(InstrumentError::InvalidChangeRule {
                field: "remission_below",
                reason: "must be at least 1 (no total is below 0)",
            });
        }
        if self.reliable_change_points == 0 {
            return Err(InstrumentError::InvalidChangeRule {
                field: "reliable_change_points",
                reason: "must be at least 1",
            });
        }
        let empty = |s: &str| s.trim().is_empty();
        if empty(&self.sources.response)
            || empty(&self.sources.reliable_change)
            || self.sources.remission.as_deref().is_some_and(empty)
        {
            return Err(InstrumentError::InvalidChangeRule {
                field: "sources",
                reason: "every source must be a non-empty text",
            });
        }
        if self.remission_below.is_some() && self.sources.remission.is_none() {
            return Err(InstrumentError::InvalidChangeRule {
                field: "sources.remission",
                reason: "required when remission_below is set",
            });
        }
        Ok(())
    }
}

impl Default for ChangeRules {
    /// The PHQ-9 rules ([`ChangeRules::phq9`]).
    fn default() -> Self {
        Self::phq9()
    }
}

/// Change from a baseline total to the latest one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Baseline total.
    pub baseline: u16,
    /// Latest total.
    pub latest: u16,
    /// `latest - baseline` (negative is improvement).
    pub change: i32,
    /// `change / baseline * 100`; `None` when the baseline is 0.
    pub percent_change: Option<f64>,
    /// Reduction of at least `response_reduction_pct` percent (never with a baseline of 0).
    pub response: bool,
    /// Latest total below `remission_below`; `None` when the rules define no remission.
    pub remission: Option<bool>,
    /// Increase of at least `reliable_change_points`.
    pub worsening: bool,
}

/// Compares `latest` with `baseline` under `rules`.
pub fn change(baseline: u16, latest: u16, rules: &ChangeRules) -> Change {
    let delta = i32::from(latest) - i32::from(baseline);
    let percent_change = (baseline > 0).then(|| f64::from(delta) * 100.0 / f64::from(baseline));
    // Compare reduction * 100 >= pct * baseline: exact for integer totals, so 10 → 5 is a
    // response at 50% without floating-point rounding at the boundary.
    let reduction = -delta;
    let response = baseline > 0
        && reduction > 0
        && f64::from(reduction) * 100.0 >= rules.response_reduction_pct * f64::from(baseline);
    Change {
        baseline,
        latest,
        change: delta,
        percent_change,
        response,
        remission: rules.remission_below.map(|below| latest < below),
        worsening: delta >= i32::from(rules.reliable_change_points),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_phq9_reference_values() {
        let rules = ChangeRules::default();
        assert_eq!(rules.response_reduction_pct, 50.0);
        assert_eq!(rules.remission_below, Some(5));
        assert_eq!(rules.reliable_change_points, 5);
        assert!(rules.sources.response.contains("ps.201900295"));
        assert!(rules.sources.reliable_change.contains("Löwe 2004"));
        rules.validate().unwrap();
        assert_eq!(ChangeRules::for_instrument("phq9"), Some(rules));
        assert_eq!(ChangeRules::for_instrument("gad7"), None);
    }

    #[test]
    fn response_boundary_is_exactly_fifty_percent() {
        let rules = ChangeRules::default();
        let c = change(10, 5, &rules);
        assert_eq!(c.change, -5);
        assert_eq!(c.percent_change, Some(-50.0));
        assert!(c.response);
        assert!(!change(10, 6, &rules).response);
        // 9 → 5 is 44%: no response. 9 → 4 is 56%: response and remission.
        assert!(!change(9, 5, &rules).response);
        let c = change(9, 4, &rules);
        assert!(c.response);
        assert_eq!(c.remission, Some(true));
    }

    #[test]
    fn remission_below_five() {
        let rules = ChangeRules::default();
        assert_eq!(change(20, 4, &rules).remission, Some(true));
        assert_eq!(change(20, 5, &rules).remission, Some(false));
    }

    #[test]
    fn reliable_worsening_at_five_points() {
        let rules = ChangeRules::default();
        let c = change(8, 13, &rules);
        assert_eq!(c.change, 5);
        assert!(c.worsening);
        assert!(!c.response);
        assert!(!change(8, 12, &rules).worsening);
        assert!(!change(13, 8, &rules).worsening);
    }

    #[test]
    fn zero_baseline_has_no_percent_and_no_response() {
        let rules = ChangeRules::default();
        let c = change(0, 0, &rules);
        assert_eq!(c.percent_change, None);
        assert!(!c.response);
        assert_eq!(c.remission, Some(true));
        let c = change(0, 6, &rules);
        assert_eq!(c.percent_change, None);
        assert!(c.worsening);
    }

    #[test]
    fn no_remission_rule_gives_none() {
        let rules = ChangeRules {
            remission_below: None,
            sources: ChangeSources {
                remission: None,
                ..ChangeRules::default().sources
            },
            ..ChangeRules::default()
        };
        rules.validate().unwrap();
        assert_eq!(change(12, 2, &rules).remission, None);
    }

    #[test]
    fn rules_come_from_configuration() {
        let json = r#"{"response_reduction_pct": 40.0, "remission_below": null,
            "reliable_change_points": 4,
            "sources": {"response": "programme", "reliable_change": "programme"}}"#;
        let rules = ChangeRules::from_json(json).unwrap();
        let c = change(10, 6, &rules);
        assert!(c.response);
        assert_eq!(c.remission, None);
        assert!(change(6, 10, &rules).worsening);
        let round = serde_json::to_string(&ChangeRules::default()).unwrap();
        assert_eq!(
            ChangeRules::from_json(&round).unwrap(),
            ChangeRules::default()
        );
    }

    #[test]
    fn invalid_rules_are_refused() {
        let base = ChangeRules::default();
        let cases = [
            (
                ChangeRules {
                    response_reduction_pct: 0.0,
                    ..base.clone()
                },
                "response_reduction_pct",
            ),
            (
                ChangeRules {
                    response_reduction_pct: 150.0,
                    ..base.clone()
                },
                "response_reduction_pct",
            ),
            (
                ChangeRules {
                    response_reduction_pct: f64::NAN,
                    ..base.clone()
                },
                "response_reduction_pct",
            ),
            (
                ChangeRules {
                    remission_below: Some(0),
                    ..base.clone()
                },
                "remission_below",
            ),
            (
                ChangeRules {
                    reliable_change_points: 0,
                    ..base.clone()
                },
                "reliable_change_points",
            ),
            (
                ChangeRules {
                    sources: ChangeSources {
                        remission: None,
                        ..base.sources.clone()
                    },
                    ..base.clone()
                },
                "sources.remission",
            ),
            (
                ChangeRules {
                    sources: ChangeSources {
                        response: " ".into(),
                        ..base.sources.clone()
                    },
                    ..base.clone()
                },
                "sources",
            ),
        ];
        for (rules, field) in cases {
            match rules.validate().unwrap_err() {
                InstrumentError::InvalidChangeRule { field: f, .. } => assert_eq!(f, field),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(matches!(
            ChangeRules::from_json(r#"{"response_reduction_pct": 50}"#).unwrap_err(),
            InstrumentError::Json {
                what: "change rules",
                ..
            }
        ));
    }
}
