//! The columnar pull page: the operations of a [`SyncResponse`](crate::sync::wire::SyncResponse)
//! stored column by column ([`OpColumns`]), and its lossless conversion to and from rows.
//!
//! A pull page of 1,000 operations repeats the same device, author and scope ids, the same
//! envelope keys and the same field names in every row; stored by column (each field's values
//! together, repeated ids replaced by indexes into small tables, clock values as deltas) the
//! same page compresses about a quarter smaller under gzip or brotli, which is what a first
//! pull over a 2G link pays for. The layout, the negotiation and the validation rules are in
//! `docs/protocol.md` ("Columnar pull page"); ADR 0008 records why.
//!
//! [`to_columns`] cannot fail; [`from_columns`] checks everything (lengths, indexes, group
//! rows, the clock's range) and refuses a malformed page with a [`ColumnsError`] that names
//! the column and the lengths at fault, never a value. Its work and memory are proportional
//! to the arrays actually received, never to a count the page claims.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{ClientId, DeviceId, OpId, WorkerId};
use crate::sync::hlc::{Hlc, MAX_WALL_MS};
use crate::sync::op::{Change, EntityKind, FieldMap, Operation};

/// What an operation does, without its fields (the `change` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// [`Change::Create`].
    Create,
    /// [`Change::Update`].
    Update,
    /// [`Change::Delete`].
    Delete,
}

/// The fields of the create and update operations of one entity kind that set exactly the
/// same keys, column by column: `cols[k][r]` is the value of `keys[k]` in the group's `r`-th
/// operation (operations take their group's rows in page order).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldGroup {
    /// How many operations use the group (the length of every column; needed when `keys` is
    /// empty).
    pub n: usize,
    /// The field names, each once (the encoder writes them sorted).
    pub keys: Vec<String>,
    /// One column of values per key, each of length `n`. A JSON `null` is a field set to
    /// null; a field an operation does not set puts it in another group.
    pub cols: Vec<Vec<serde_json::Value>>,
}

/// The operations of a pull page, stored column by column. Every per-operation column has
/// exactly `n` entries; the tables hold each distinct id once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpColumns {
    /// Number of operations.
    pub n: usize,
    /// Table of distinct devices (`node` and `device` index into it).
    pub devices: Vec<DeviceId>,
    /// Table of distinct authors (`author` indexes into it).
    pub authors: Vec<WorkerId>,
    /// Table of distinct scopes (`scope` indexes into it).
    pub scopes: Vec<ClientId>,
    /// Each operation's id.
    pub op_id: Vec<OpId>,
    /// `hlc.wall_ms` minus the previous operation's (the first: minus 0); may be negative.
    pub wall: Vec<i64>,
    /// `hlc.counter`.
    pub counter: Vec<u32>,
    /// `hlc.node`, as an index into `devices`.
    pub node: Vec<usize>,
    /// `device_id`, as an index into `devices`.
    pub device: Vec<usize>,
    /// `author`, as an index into `authors`.
    pub author: Vec<usize>,
    /// `scope`, as an index into `scopes`.
    pub scope: Vec<usize>,
    /// The entity kind.
    pub entity: Vec<EntityKind>,
    /// The entity id, or null when it equals the scope (client records).
    pub entity_id: Vec<Option<Uuid>>,
    /// create / update / delete.
    pub change: Vec<ChangeKind>,
    /// For a create or update, the index of the group in `groups` holding its fields; null
    /// for a delete.
    pub group: Vec<Option<usize>>,
    /// The field groups.
    pub groups: Vec<FieldGroup>,
}

/// Why a columnar page was refused. Names columns, positions and lengths, never a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ColumnsError {
    /// A per-operation column does not have one entry per operation.
    #[error("column `{column}` has {found} entries but the page has {expected} operations")]
    ColumnLength {
        /// The column.
        column: &'static str,
        /// The page's operation count.
        expected: usize,
        /// The column's length.
        found: usize,
    },
    /// An index points outside its table.
    #[error("column `{column}` of operation {op} points at entry {index} of a table of {len}")]
    IndexOutOfRange {
        /// The column holding the index.
        column: &'static str,
        /// The operation (0-based).
        op: usize,
        /// The index.
        index: usize,
        /// The table's length.
        len: usize,
    },
    /// A field group does not have one value column per key.
    #[error("field group {group} has {keys} keys but {cols} value columns")]
    GroupShape {
        /// The group (0-based).
        group: usize,
        /// Keys.
        keys: usize,
        /// Value columns.
        cols: usize,
    },
    /// A value column of a field group does not have the group's row count.
    #[error(
        "value column {column} of field group {group} has {found} rows; the group has {expected}"
    )]
    GroupColumnLength {
        /// The group (0-based).
        group: usize,
        /// The value column (0-based).
        column: usize,
        /// The group's row count.
        expected: usize,
        /// The column's length.
        found: usize,
    },
    /// A field group names a field more than once.
    #[error("field group {group} names a field more than once")]
    DuplicateKey {
        /// The group (0-based).
        group: usize,
    },
    /// More operations use a field group than it has rows.
    #[error("operation {op} needs a row of field group {group}, whose {rows} rows are used up")]
    GroupRowsShort {
        /// The operation (0-based).
        op: usize,
        /// The group (0-based).
        group: usize,
        /// The group's row count.
        rows: usize,
    },
    /// Fewer operations use a field group than it has rows.
    #[error("field group {group} has {rows} rows but only {used} operations use it")]
    GroupRowsLeft {
        /// The group (0-based).
        group: usize,
        /// The group's row count.
        rows: usize,
        /// Rows used.
        used: usize,
    },
    /// A delete names a field group.
    #[error("operation {op} is a delete but names a field group")]
    GroupOnDelete {
        /// The operation (0-based).
        op: usize,
    },
    /// A create or update names no field group.
    #[error("operation {op} is a create or update but names no field group")]
    GroupMissing {
        /// The operation (0-based).
        op: usize,
    },
    /// The wall clock, summed from the deltas, leaves the clock's range.
    #[error("the wall clock of operation {op} is outside the clock's range")]
    WallOutOfRange {
        /// The operation (0-based).
        op: usize,
    },
    /// A reply carries operations both as rows and as columns.
    #[error("the reply carries {rows} operations as rows and a columnar page as well")]
    BothOpsAndColumns {
        /// The rows.
        rows: usize,
    },
}

/// Index of `value` in `table`, adding it when new.
fn intern<T: Copy + Eq + std::hash::Hash>(
    table: &mut Vec<T>,
    index: &mut HashMap<T, usize>,
    value: T,
) -> usize {
    *index.entry(value).or_insert_with(|| {
        table.push(value);
        table.len() - 1
    })
}

/// Store `ops` column by column. Lossless for every operation that can cross the wire as a
/// row (`hlc.wall_ms` at most [`MAX_WALL_MS`]): `from_columns(to_columns(ops)) == ops`.
pub fn to_columns(ops: &[Operation]) -> OpColumns {
    let n = ops.len();
    let mut c = OpColumns {
        n,
        op_id: Vec::with_capacity(n),
        wall: Vec::with_capacity(n),
        counter: Vec::with_capacity(n),
        node: Vec::with_capacity(n),
        device: Vec::with_capacity(n),
        author: Vec::with_capacity(n),
        scope: Vec::with_capacity(n),
        entity: Vec::with_capacity(n),
        entity_id: Vec::with_capacity(n),
        change: Vec::with_capacity(n),
        group: Vec::with_capacity(n),
        ..OpColumns::default()
    };
    let mut devices = HashMap::new();
    let mut authors = HashMap::new();
    let mut scopes = HashMap::new();
    let mut groups: HashMap<(EntityKind, Vec<&str>), usize> = HashMap::new();
    let mut prev_wall = 0u64;
    for op in ops {
        c.op_id.push(op.op_id);
        // Two's complement: exact whenever both walls are within the clock's range.
        c.wall.push(op.hlc.wall_ms.wrapping_sub(prev_wall) as i64);
        prev_wall = op.hlc.wall_ms;
        c.counter.push(op.hlc.counter);
        c.node
            .push(intern(&mut c.devices, &mut devices, op.hlc.node));
        c.device
            .push(intern(&mut c.devices, &mut devices, op.device_id));
        c.author
            .push(intern(&mut c.authors, &mut authors, op.author));
        c.scope.push(intern(&mut c.scopes, &mut scopes, op.scope));
        c.entity.push(op.entity);
        c.entity_id
            .push((op.entity_id != op.scope.as_uuid()).then_some(op.entity_id));
        let (kind, fields) = match &op.change {
            Change::Create { fields } => (ChangeKind::Create, Some(fields)),
            Change::Update { fields } => (ChangeKind::Update, Some(fields)),
            Change::Delete => (ChangeKind::Delete, None),
        };
        c.change.push(kind);
        let group = fields.map(|fields| {
            let keys: Vec<&str> = fields.keys().map(String::as_str).collect();
            let g = *groups.entry((op.entity, keys)).or_insert_with(|| {
                c.groups.push(FieldGroup {
                    n: 0,
                    keys: fields.keys().cloned().collect(),
                    cols: vec![Vec::new(); fields.len()],
                });
                c.groups.len() - 1
            });
            if let Some(group) = c.groups.get_mut(g) {
                group.n += 1;
                for (col, value) in group.cols.iter_mut().zip(fields.values()) {
                    col.push(value.clone());
                }
            }
            g
        });
        c.group.push(group);
    }
    c
}

/// Rebuild the operations of a columnar page, refusing a malformed one (see
/// `docs/protocol.md` for the rules). Never panics.
pub fn from_columns(cols: OpColumns) -> Result<Vec<Operation>, ColumnsError> {
    let n = cols.n;
    let check = |column: &'static str, found: usize| {
        if found == n {
            Ok(())
        } else {
            Err(ColumnsError::ColumnLength {
                column,
                expected: n,
                found,
            })
        }
    };
    check("op_id", cols.op_id.len())?;
    check("wall", cols.wall.len())?;
    check("counter", cols.counter.len())?;
    check("node", cols.node.len())?;
    check("device", cols.device.len())?;
    check("author", cols.author.len())?;
    check("scope", cols.scope.len())?;
    check("entity", cols.entity.len())?;
    check("entity_id", cols.entity_id.len())?;
    check("change", cols.change.len())?;
    check("group", cols.group.len())?;
    // From here on `n` is the length of arrays actually received.

    struct Rows {
        keys: Vec<String>,
        cols: Vec<std::vec::IntoIter<serde_json::Value>>,
        rows: usize,
        used: usize,
    }
    let mut groups = Vec::with_capacity(cols.groups.len());
    for (g, group) in cols.groups.into_iter().enumerate() {
        if group.cols.len() != group.keys.len() {
            return Err(ColumnsError::GroupShape {
                group: g,
                keys: group.keys.len(),
                cols: group.cols.len(),
            });
        }
        if let Some((k, col)) = group
            .cols
            .iter()
            .enumerate()
            .find(|(_, col)| col.len() != group.n)
        {
            return Err(ColumnsError::GroupColumnLength {
                group: g,
                column: k,
                expected: group.n,
                found: col.len(),
            });
        }
        let mut seen = HashSet::with_capacity(group.keys.len());
        if !group.keys.iter().all(|k| seen.insert(k.as_str())) {
            return Err(ColumnsError::DuplicateKey { group: g });
        }
        groups.push(Rows {
            keys: group.keys,
            cols: group.cols.into_iter().map(Vec::into_iter).collect(),
            rows: group.n,
            used: 0,
        });
    }

    fn lookup<T: Copy>(
        table: &[T],
        column: &'static str,
        op: usize,
        index: usize,
    ) -> Result<T, ColumnsError> {
        table
            .get(index)
            .copied()
            .ok_or(ColumnsError::IndexOutOfRange {
                column,
                op,
                index,
                len: table.len(),
            })
    }

    let mut ops = Vec::with_capacity(n);
    let mut wall = 0u64;
    let per_op = cols
        .op_id
        .into_iter()
        .zip(cols.wall)
        .zip(cols.counter)
        .zip(cols.node)
        .zip(cols.device)
        .zip(cols.author)
        .zip(cols.scope)
        .zip(cols.entity)
        .zip(cols.entity_id)
        .zip(cols.change)
        .zip(cols.group)
        .enumerate();
    for (
        i,
        (
            (
                (
                    (((((((op_id, delta), counter), node), device), author), scope), entity),
                    entity_id,
                ),
                change,
            ),
            group,
        ),
    ) in per_op
    {
        wall = wall
            .checked_add_signed(delta)
            .filter(|w| *w <= MAX_WALL_MS)
            .ok_or(ColumnsError::WallOutOfRange { op: i })?;
        let node = lookup(&cols.devices, "node", i, node)?;
        let device_id = lookup(&cols.devices, "device", i, device)?;
        let author = lookup(&cols.authors, "author", i, author)?;
        let scope = lookup(&cols.scopes, "scope", i, scope)?;
        let change = match (change, group) {
            (ChangeKind::Delete, None) => Change::Delete,
            (ChangeKind::Delete, Some(_)) => return Err(ColumnsError::GroupOnDelete { op: i }),
            (ChangeKind::Create | ChangeKind::Update, None) => {
                return Err(ColumnsError::GroupMissing { op: i })
            }
            (kind, Some(g)) => {
                let len = groups.len();
                let rows = groups.get_mut(g).ok_or(ColumnsError::IndexOutOfRange {
                    column: "group",
                    op: i,
                    index: g,
                    len,
                })?;
                let short = ColumnsError::GroupRowsShort {
                    op: i,
                    group: g,
                    rows: rows.rows,
                };
                if rows.used >= rows.rows {
                    return Err(short);
                }
                rows.used += 1;
                let mut fields = FieldMap::new();
                for (key, col) in rows.keys.iter().zip(rows.cols.iter_mut()) {
                    let value = col.next().ok_or_else(|| short.clone())?;
                    fields.insert(key.clone(), value);
                }
                if kind == ChangeKind::Create {
                    Change::Create { fields }
                } else {
                    Change::Update { fields }
                }
            }
        };
        ops.push(Operation {
            op_id,
            hlc: Hlc {
                wall_ms: wall,
                counter,
                node,
            },
            device_id,
            author,
            scope,
            entity,
            entity_id: entity_id.unwrap_or_else(|| scope.as_uuid()),
            change,
        });
    }
    if let Some((g, rows)) = groups
        .iter()
        .enumerate()
        .find(|(_, rows)| rows.used != rows.rows)
    {
        return Err(ColumnsError::GroupRowsLeft {
            group: g,
            rows: rows.rows,
            used: rows.used,
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    const SECRET: &str = "ZQXSECRETNAME";

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn op(n: u128, scope: u128, entity: EntityKind, entity_id: u128, change: Change) -> Operation {
        let device = DeviceId::from_uuid(id(100 + n % 2));
        Operation {
            op_id: OpId::from_uuid(id(n)),
            hlc: Hlc {
                wall_ms: 1_767_600_000_000 + (n as u64 % 3) * 7,
                counter: n as u32,
                node: device,
            },
            device_id: device,
            author: WorkerId::from_uuid(id(200)),
            scope: ClientId::from_uuid(id(scope)),
            entity,
            entity_id: id(entity_id),
            change,
        }
    }

    fn fields(v: Value) -> FieldMap {
        match v {
            Value::Object(m) => m.into_iter().collect(),
            _ => FieldMap::new(),
        }
    }

    /// A small page: creates, an update setting a field to null, updates with other key
    /// sets, a delete, two scopes, two devices.
    fn page() -> Vec<Operation> {
        vec![
            op(
                1,
                10,
                EntityKind::Client,
                10,
                Change::Create {
                    fields: fields(json!({"display_name": SECRET, "birth_year": 1990})),
                },
            ),
            op(
                2,
                11,
                EntityKind::Client,
                11,
                Change::Create {
                    fields: fields(json!({"display_name": "Synthetic B", "birth_year": null})),
                },
            ),
            op(
                3,
                10,
                EntityKind::Client,
                10,
                Change::Update {
                    fields: fields(json!({"village": null})),
                },
            ),
            op(
                4,
                10,
                EntityKind::Course,
                40,
                Change::Create {
                    fields: fields(json!({"status": "enrolled", "problem_areas": ["grief"]})),
                },
            ),
            op(
                5,
                11,
                EntityKind::Client,
                11,
                Change::Update {
                    fields: fields(json!({"village": "Kibera"})),
                },
            ),
            op(6, 10, EntityKind::Course, 40, Change::Delete),
            op(
                7,
                11,
                EntityKind::Client,
                11,
                Change::Update {
                    fields: FieldMap::new(),
                },
            ),
        ]
    }

    fn refused(cols: OpColumns) -> ColumnsError {
        let err = from_columns(cols).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(SECRET) && !text.contains("Kibera"), "{text}");
        err
    }

    #[test]
    fn the_page_round_trips_and_shares_groups() {
        let ops = page();
        let cols = to_columns(&ops);
        assert_eq!(cols.n, 7);
        assert_eq!(cols.devices.len(), 2);
        assert_eq!(cols.scopes.len(), 2);
        assert_eq!(cols.authors.len(), 1);
        // client {birth_year, display_name}, client {village}, course {…}, client {}.
        assert_eq!(cols.groups.len(), 4);
        assert_eq!(
            cols.group,
            vec![Some(0), Some(0), Some(1), Some(2), Some(1), None, Some(3)]
        );
        assert_eq!(
            cols.groups[1].cols,
            vec![vec![Value::Null, json!("Kibera")]]
        );
        assert_eq!(cols.entity_id[0], None, "a client record's id is its scope");
        assert_eq!(cols.entity_id[3], Some(id(40)));
        assert_eq!(from_columns(cols.clone()), Ok(ops.clone()));
        let json = serde_json::to_vec(&cols).unwrap();
        let back: OpColumns = serde_json::from_slice(&json).unwrap();
        assert_eq!(from_columns(back), Ok(ops));
        assert_eq!(from_columns(to_columns(&[])), Ok(vec![]));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = serde_json::to_value(to_columns(&page())).unwrap();
        v["extra"] = json!(1);
        assert!(serde_json::from_value::<OpColumns>(v.clone()).is_err());
        v.as_object_mut().unwrap().remove("extra");
        v["groups"][0]["extra"] = json!(1);
        assert!(serde_json::from_value::<OpColumns>(v).is_err());
    }

    #[test]
    fn refuses_a_column_of_the_wrong_length() {
        let mut c = to_columns(&page());
        c.counter.pop();
        assert_eq!(
            refused(c),
            ColumnsError::ColumnLength {
                column: "counter",
                expected: 7,
                found: 6
            }
        );
        let mut c = to_columns(&page());
        c.entity_id.push(None);
        assert!(matches!(
            refused(c),
            ColumnsError::ColumnLength {
                column: "entity_id",
                ..
            }
        ));
        // A claimed count far beyond the arrays is refused before any work.
        let mut c = to_columns(&page());
        c.n = usize::MAX;
        assert!(matches!(
            refused(c),
            ColumnsError::ColumnLength {
                column: "op_id",
                ..
            }
        ));
    }

    #[test]
    fn refuses_an_index_out_of_range() {
        let mut c = to_columns(&page());
        c.author[2] = 1;
        assert_eq!(
            refused(c),
            ColumnsError::IndexOutOfRange {
                column: "author",
                op: 2,
                index: 1,
                len: 1
            }
        );
        let mut c = to_columns(&page());
        c.node[0] = usize::MAX;
        assert!(matches!(
            refused(c),
            ColumnsError::IndexOutOfRange { column: "node", .. }
        ));
        let mut c = to_columns(&page());
        c.scope[6] = 2;
        assert!(matches!(
            refused(c),
            ColumnsError::IndexOutOfRange {
                column: "scope",
                op: 6,
                ..
            }
        ));
        let mut c = to_columns(&page());
        c.group[0] = Some(4);
        assert_eq!(
            refused(c),
            ColumnsError::IndexOutOfRange {
                column: "group",
                op: 0,
                index: 4,
                len: 4
            }
        );
    }

    #[test]
    fn refuses_leftover_and_missing_group_rows() {
        let mut c = to_columns(&page());
        c.groups[1].n += 1;
        c.groups[1].cols[0].push(json!(SECRET));
        assert_eq!(
            refused(c),
            ColumnsError::GroupRowsLeft {
                group: 1,
                rows: 3,
                used: 2
            }
        );
        let mut c = to_columns(&page());
        c.groups[1].n -= 1;
        c.groups[1].cols[0].pop();
        assert_eq!(
            refused(c),
            ColumnsError::GroupRowsShort {
                op: 4,
                group: 1,
                rows: 1
            }
        );
        // A group without keys still counts its rows.
        let mut c = to_columns(&page());
        c.groups[3].n = usize::MAX;
        assert!(matches!(
            refused(c),
            ColumnsError::GroupRowsLeft {
                group: 3,
                used: 1,
                ..
            }
        ));
        let mut c = to_columns(&page());
        c.groups[3].n = 0;
        assert!(matches!(
            refused(c),
            ColumnsError::GroupRowsShort {
                op: 6,
                group: 3,
                ..
            }
        ));
    }

    #[test]
    fn refuses_malformed_groups() {
        let mut c = to_columns(&page());
        c.groups[0].cols.pop();
        assert_eq!(
            refused(c),
            ColumnsError::GroupShape {
                group: 0,
                keys: 2,
                cols: 1
            }
        );
        let mut c = to_columns(&page());
        c.groups[0].cols[1].pop();
        assert_eq!(
            refused(c),
            ColumnsError::GroupColumnLength {
                group: 0,
                column: 1,
                expected: 2,
                found: 1
            }
        );
        let mut c = to_columns(&page());
        c.groups[0].keys[1] = c.groups[0].keys[0].clone();
        assert_eq!(refused(c), ColumnsError::DuplicateKey { group: 0 });
    }

    #[test]
    fn refuses_a_group_on_a_delete_and_none_on_a_change() {
        let mut c = to_columns(&page());
        c.group[5] = Some(3);
        assert_eq!(refused(c), ColumnsError::GroupOnDelete { op: 5 });
        let mut c = to_columns(&page());
        c.group[2] = None;
        assert_eq!(refused(c), ColumnsError::GroupMissing { op: 2 });
        let mut c = to_columns(&page());
        c.change[5] = ChangeKind::Update;
        assert_eq!(refused(c), ColumnsError::GroupMissing { op: 5 });
    }

    #[test]
    fn refuses_a_wall_clock_outside_the_range() {
        let mut c = to_columns(&page());
        c.wall[0] = -1;
        assert_eq!(refused(c), ColumnsError::WallOutOfRange { op: 0 });
        let mut c = to_columns(&page());
        c.wall[3] = i64::MIN;
        assert_eq!(refused(c), ColumnsError::WallOutOfRange { op: 3 });
        let mut c = to_columns(&page());
        c.wall[1] = i64::MAX;
        assert_eq!(refused(c), ColumnsError::WallOutOfRange { op: 1 });
        // The edges of the range are fine.
        let mut ops = page();
        ops[0].hlc.wall_ms = MAX_WALL_MS;
        ops[1].hlc.wall_ms = 0;
        ops[2].hlc.wall_ms = MAX_WALL_MS;
        assert_eq!(from_columns(to_columns(&ops)), Ok(ops.clone()));
        let mut c = to_columns(&ops);
        c.wall[0] += 1;
        assert_eq!(refused(c), ColumnsError::WallOutOfRange { op: 0 });
    }

    // ---- property: the round trip is exact

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            // Floats whose decimal form parses back exactly.
            (any::<i32>(), 0u8..4).prop_map(|(a, q)| json!(f64::from(a) + f64::from(q) * 0.25)),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn field_map() -> impl Strategy<Value = FieldMap> {
        let key = prop_oneof![
            4 => prop::sample::select(vec![
                "display_name", "village", "status", "birth_year", "notes", "subject_id",
            ])
            .prop_map(String::from),
            1 => "\\PC{0,8}",
        ];
        prop::collection::btree_map(key, json_value(), 0..5)
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            field_map().prop_map(|fields| Change::Create { fields }),
            field_map().prop_map(|fields| Change::Update { fields }),
            Just(Change::Delete),
        ]
    }

    fn wall() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 1_767_600_000_000u64..1_767_600_010_000,
            1 => 0..=MAX_WALL_MS,
            1 => Just(0),
            1 => Just(MAX_WALL_MS),
        ]
    }

    fn operation() -> impl Strategy<Value = Operation> {
        (
            any::<u128>(),
            (wall(), any::<u32>(), 0u128..3, 0u128..3),
            0u128..2,
            0u128..4,
            prop::sample::select(EntityKind::ALL.to_vec()),
            prop::option::of(any::<u128>()),
            change(),
        )
            .prop_map(
                |(
                    op_id,
                    (wall_ms, counter, node, device),
                    author,
                    scope,
                    entity,
                    entity_id,
                    change,
                )| {
                    let scope = ClientId::from_uuid(id(1_000 + scope));
                    Operation {
                        op_id: OpId::from_uuid(id(op_id)),
                        hlc: Hlc {
                            wall_ms,
                            counter,
                            node: DeviceId::from_uuid(id(100 + node)),
                        },
                        device_id: DeviceId::from_uuid(id(100 + device)),
                        author: WorkerId::from_uuid(id(200 + author)),
                        scope,
                        entity,
                        entity_id: entity_id.map_or(scope.as_uuid(), id),
                        change,
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn round_trip_is_exact(ops in prop::collection::vec(operation(), 0..40)) {
            let cols = to_columns(&ops);
            prop_assert_eq!(from_columns(cols.clone()), Ok(ops.clone()));
            // And through the JSON text, as on the wire.
            let text = serde_json::to_vec(&cols).unwrap();
            let back: OpColumns = serde_json::from_slice(&text).unwrap();
            prop_assert_eq!(from_columns(back), Ok(ops));
        }

        /// Any edit of a valid page decodes to something or is refused; never a panic.
        #[test]
        fn tampered_pages_never_panic(
            ops in prop::collection::vec(operation(), 1..12),
            which in 0usize..8,
            at in any::<usize>(),
            value in any::<i64>(),
        ) {
            let mut c = to_columns(&ops);
            let n = c.n;
            let i = at % n;
            let u = usize::try_from(value.unsigned_abs()).unwrap_or(usize::MAX) % (n + 3);
            match which {
                0 => c.wall[i] = value,
                1 => c.node[i] = u,
                2 => c.group[i] = Some(u),
                3 => c.group[i] = None,
                4 => c.n = u,
                5 => { let len = c.groups.len().max(1);
                    if let Some(g) = c.groups.get_mut(u % len) { g.n = u; } }
                6 => { c.scope.truncate(i); }
                _ => c.change[i] = ChangeKind::Delete,
            }
            let _ = from_columns(c);
        }
    }
}
