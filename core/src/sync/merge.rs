//! The merge rule, as pure functions: per-field last-writer-wins by `(hlc, device)`.
//!
//! A record's merge state is its [`RowClock`]: the HLC of its create operation (`base`) and
//! the HLC of every field written later (`fields`, only where it differs from `base`). An
//! incoming create or update wins a field when its HLC is greater than the field's clock.
//! Because the HLC order is total and `max` is commutative, associative and idempotent,
//! applying any set of operations in any order, any number of times, gives the same record.
//! Tombstones are handled by the store: a deleted record ignores every later write.

use std::collections::BTreeMap;

use crate::sync::hlc::Hlc;

/// The per-field clocks of one record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowClock {
    /// HLC of the earliest create operation seen (`None` for a placeholder row).
    pub base: Option<Hlc>,
    /// Fields whose clock differs from `base`.
    pub fields: BTreeMap<String, Hlc>,
}

impl RowClock {
    /// The clock of `field`: when it was last written, if ever.
    pub fn field(&self, field: &str) -> Option<Hlc> {
        self.fields.get(field).copied().or(self.base)
    }

    /// Merge a create or update at `hlc` touching `written` fields, for a record whose kind
    /// has `all_columns`. Returns the fields whose value must be replaced (the winners).
    pub fn merge<'a>(
        &mut self,
        hlc: Hlc,
        is_create: bool,
        written: impl IntoIterator<Item = &'a str>,
        all_columns: &[&str],
    ) -> Vec<&'a str> {
        let winners: Vec<&'a str> = written
            .into_iter()
            .filter(|f| self.field(f).is_none_or(|clock| hlc > clock))
            .collect();
        // Materialise every field's clock, apply the winners, then re-derive the compact form
        // against the (possibly earlier) new base, so the stored form does not depend on the
        // order operations arrived in.
        let mut full: BTreeMap<String, Hlc> = all_columns
            .iter()
            .filter_map(|c| self.field(c).map(|h| ((*c).to_string(), h)))
            .collect();
        for (name, clock) in &self.fields {
            full.entry(name.clone()).or_insert(*clock);
        }
        for w in &winners {
            full.insert((*w).to_string(), hlc);
        }
        let base = match (self.base, is_create) {
            (Some(b), true) => Some(b.min(hlc)),
            (None, true) => Some(hlc),
            (b, false) => b,
        };
        self.base = base;
        self.fields = full
            .into_iter()
            .filter(|(_, clock)| Some(*clock) != base)
            .collect();
        winners
    }

    /// The JSON text stored in `_clock`.
    pub fn fields_json(&self) -> String {
        let map: BTreeMap<&str, String> = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_string()))
            .collect();
        serde_json::to_string(&map).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parse the stored `_created` and `_clock` columns.
    pub fn from_stored(base: Option<&str>, fields_json: &str) -> Option<RowClock> {
        let base = match base {
            Some(b) => Some(b.parse().ok()?),
            None => None,
        };
        let raw: BTreeMap<String, String> = serde_json::from_str(fields_json).ok()?;
        let mut fields = BTreeMap::new();
        for (k, v) in raw {
            fields.insert(k, v.parse().ok()?);
        }
        Some(RowClock { base, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeviceId;

    fn h(wall: u64, node: u8) -> Hlc {
        Hlc {
            wall_ms: wall,
            counter: 0,
            node: DeviceId::from_bytes([node; 16]),
        }
    }

    const COLS: &[&str] = &["a", "b", "c"];

    #[test]
    fn later_write_wins_each_field_independently() {
        let mut c = RowClock::default();
        assert_eq!(
            c.merge(h(10, 1), true, ["a", "b", "c"], COLS),
            ["a", "b", "c"]
        );
        assert_eq!(c.merge(h(20, 1), false, ["b"], COLS), ["b"]);
        assert!(c.merge(h(15, 2), false, ["b"], COLS).is_empty());
        assert_eq!(c.merge(h(15, 2), false, ["c"], COLS), ["c"]);
        assert_eq!(c.field("a"), Some(h(10, 1)));
        assert_eq!(c.field("b"), Some(h(20, 1)));
        assert_eq!(c.field("c"), Some(h(15, 2)));
    }

    #[test]
    fn ties_are_broken_by_device() {
        let mut c = RowClock::default();
        c.merge(h(10, 1), false, ["a"], COLS);
        assert_eq!(c.merge(h(10, 2), false, ["a"], COLS), ["a"]);
        assert!(c.merge(h(10, 1), false, ["a"], COLS).is_empty());
    }

    #[test]
    fn order_of_arrival_does_not_change_the_stored_form() {
        let ops = [
            (h(10, 1), true, vec!["a", "b", "c"]),
            (h(30, 2), false, vec!["b"]),
            (h(20, 1), false, vec!["b", "c"]),
            (h(5, 3), true, vec!["a", "b", "c"]),
        ];
        let run = |order: &[usize]| {
            let mut c = RowClock::default();
            for &i in order {
                let (hlc, create, fields) = &ops[i];
                c.merge(*hlc, *create, fields.iter().copied(), COLS);
            }
            (c.fields_json(), c.base)
        };
        let first = run(&[0, 1, 2, 3]);
        for order in [[3, 2, 1, 0], [1, 0, 3, 2], [2, 3, 0, 1], [0, 0, 1, 1]] {
            let order: Vec<usize> = order.to_vec();
            let mut dedup = order.clone();
            dedup.extend([0, 1, 2, 3]);
            assert_eq!(run(&dedup), first);
        }
    }

    #[test]
    fn stored_form_round_trips() {
        let mut c = RowClock::default();
        c.merge(h(10, 1), true, ["a", "b"], COLS);
        c.merge(h(11, 1), false, ["b"], COLS);
        let base = c.base.map(|b| b.to_string());
        let back = RowClock::from_stored(base.as_deref(), &c.fields_json()).unwrap();
        assert_eq!(back, c);
        assert!(RowClock::from_stored(Some("nope"), "{}").is_none());
        assert!(RowClock::from_stored(None, "{\"a\":\"x\"}").is_none());
    }
}
