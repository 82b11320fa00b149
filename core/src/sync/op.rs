//! Operations: the unit of change of the one write path, and of sync.
//!
//! Every mutation of clinical state is an [`Operation`] `{op_id, hlc, device_id, author,
//! scope, entity, entity_id, change}`. The store appends it in the same transaction as the
//! state change; sync ships it to the server and to other devices, where the same `apply`
//! folds it into their state. Field values are JSON values named like the domain structs'
//! serde fields, so a change is readable on every side of the wire.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{ClientId, DeviceId, OpId, WorkerId};
use crate::sync::hlc::Hlc;

/// Field name → new value. Sorted, so an operation serialises deterministically.
pub type FieldMap = BTreeMap<String, serde_json::Value>;

/// The kinds of record the operation log can change. All are scoped to one client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A person receiving care (contact details encrypted).
    Client,
    /// A screening episode and its outcome.
    Screening,
    /// A questionnaire response (PHQ-2, PHQ-9, GAD-7 …) with its score.
    Response,
    /// One IPC episode.
    Course,
    /// One counselling session of a course.
    Session,
    /// An important person in the interpersonal inventory.
    InventoryEntry,
    /// A life event on the timeline linked to mood.
    TimelineEvent,
    /// A suicide-risk event and its assessment.
    RiskEvent,
    /// A referral to other care.
    Referral,
    /// A note written by a supervisor.
    SupervisorNote,
    /// A reminder (session due, follow-up).
    Reminder,
    /// Extra (imported) fields of another record, kept encrypted.
    Extra,
}

impl EntityKind {
    /// Every kind, in dependency order (parents before children).
    pub const ALL: [EntityKind; 12] = [
        EntityKind::Client,
        EntityKind::Course,
        EntityKind::Session,
        EntityKind::Screening,
        EntityKind::Response,
        EntityKind::InventoryEntry,
        EntityKind::TimelineEvent,
        EntityKind::RiskEvent,
        EntityKind::Referral,
        EntityKind::SupervisorNote,
        EntityKind::Reminder,
        EntityKind::Extra,
    ];

    /// The wire and storage name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Client => "client",
            EntityKind::Screening => "screening",
            EntityKind::Response => "response",
            EntityKind::Course => "course",
            EntityKind::Session => "session",
            EntityKind::InventoryEntry => "inventory_entry",
            EntityKind::TimelineEvent => "timeline_event",
            EntityKind::RiskEvent => "risk_event",
            EntityKind::Referral => "referral",
            EntityKind::SupervisorNote => "supervisor_note",
            EntityKind::Reminder => "reminder",
            EntityKind::Extra => "extra",
        }
    }

    /// Parse the wire name of a kind.
    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation does to its record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// Create the record with these fields (the parent, if the kind has one, among them).
    Create {
        /// Every field of the new record except `id` and the scope.
        fields: FieldMap,
    },
    /// Set these fields; each merges last-writer-wins by `(hlc, device)`.
    Update {
        /// Only the fields that changed.
        fields: FieldMap,
    },
    /// Tombstone the record: it disappears from every view, and later or concurrent
    /// updates to it are ignored.
    Delete,
}

impl Change {
    /// `create`, `update` or `delete`: the clear-text kind kept beside the encrypted payload.
    pub fn kind_str(&self) -> &'static str {
        match self {
            Change::Create { .. } => "create",
            Change::Update { .. } => "update",
            Change::Delete => "delete",
        }
    }

    /// The fields this change sets (empty for a delete).
    pub fn fields(&self) -> Option<&FieldMap> {
        match self {
            Change::Create { fields } | Change::Update { fields } => Some(fields),
            Change::Delete => None,
        }
    }
}

/// Largest HLC counter an op id can carry (24 bits); beyond it a random UUIDv7 is used.
const OP_ID_MAX_COUNTER: u32 = (1 << 24) - 1;

/// The op id of a local write stamped `hlc`.
///
/// A UUIDv7 whose timestamp is the HLC's wall clock, whose 24-bit counter (`rand_a` and the
/// top of `rand_b`) is the HLC's counter, and whose last 50 bits are fixed per device (the
/// first 50 bits of SHA-256 of the device id). The HLC is strictly increasing on a device,
/// so a device never repeats an id; two devices repeat one only if their 50-bit tags collide
/// *and* they stamp the same millisecond and counter (the server refuses a reused id with
/// other content as `conflict`, so even that is reported, never silent).
///
/// Why not 74 random bits: consecutive operations of one device then share all but a few
/// hex digits, so a pull page's op ids compress to ~3 bytes each instead of ~11 (measured in
/// `bench/experiments/pull_bytes.py`), and ids still sort by time like any UUIDv7. A counter
/// past 24 bits (a clock stuck behind a remote one for millions of writes) falls back to a
/// random UUIDv7.
pub fn op_id_for(hlc: &Hlc) -> OpId {
    if hlc.counter > OP_ID_MAX_COUNTER || hlc.wall_ms >= 1 << 48 {
        return OpId::new();
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, hlc.node.as_bytes());
    let mut tag = [0u8; 8];
    tag.copy_from_slice(digest.as_ref().get(..8).unwrap_or(&[0; 8]));
    let tail = u128::from(u64::from_be_bytes(tag) >> 14); // 50 bits
    let counter = u128::from(hlc.counter);
    let value = (u128::from(hlc.wall_ms) << 80)
        | (0x7 << 76)
        | ((counter >> 12) << 64)
        | (0b10 << 62)
        | ((counter & 0xfff) << 50)
        | tail;
    OpId::from_uuid(Uuid::from_u128(value))
}

/// One change to one record, as written by one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Globally unique; the server stores each once, so retries are harmless.
    pub op_id: OpId,
    /// When, in hybrid logical time; also the last-writer-wins order.
    pub hlc: Hlc,
    /// The device that wrote it (equals `hlc.node`).
    pub device_id: DeviceId,
    /// The worker signed in when it was written.
    pub author: WorkerId,
    /// The client whose record this is: the unit of access control and sync.
    pub scope: ClientId,
    /// Which kind of record.
    pub entity: EntityKind,
    /// Which record (for a client record, equal to `scope`).
    pub entity_id: Uuid,
    /// What changed.
    pub change: Change,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hlc(wall_ms: u64, counter: u32, node: DeviceId) -> Hlc {
        Hlc {
            wall_ms,
            counter,
            node,
        }
    }

    #[test]
    fn op_ids_are_uuidv7_stamped_with_the_hlc_wall_clock() {
        let node = DeviceId::new();
        let id = op_id_for(&hlc(1_767_600_000_123, 5, node)).as_uuid();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        let (secs, nanos) = id.get_timestamp().map(|t| t.to_unix()).unwrap_or((0, 0));
        assert_eq!(
            secs * 1000 + u64::from(nanos / 1_000_000),
            1_767_600_000_123
        );
    }

    #[test]
    fn one_device_never_repeats_and_ids_sort_like_the_hlc() {
        let node = DeviceId::new();
        let stamps = [
            hlc(1_000, 0, node),
            hlc(1_000, 1, node),
            hlc(1_000, 4_095, node),
            hlc(1_000, 4_096, node),
            hlc(1_000, OP_ID_MAX_COUNTER, node),
            hlc(1_001, 0, node),
        ];
        let ids: Vec<OpId> = stamps.iter().map(op_id_for).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "ids must increase with the HLC");
        }
        // Same device, consecutive writes: only the counter digits differ.
        let (a, b) = (ids[0].to_string(), ids[1].to_string());
        assert_eq!(a[..20], b[..20]);
        assert_eq!(a[24..], b[24..]);
    }

    #[test]
    fn two_devices_stamping_the_same_instant_get_different_ids() {
        let (x, y) = (DeviceId::new(), DeviceId::new());
        assert_ne!(op_id_for(&hlc(1_000, 3, x)), op_id_for(&hlc(1_000, 3, y)));
    }

    #[test]
    fn a_counter_past_24_bits_falls_back_to_a_random_v7() {
        let node = DeviceId::new();
        let stamp = hlc(1_000, OP_ID_MAX_COUNTER + 1, node);
        let (a, b) = (op_id_for(&stamp), op_id_for(&stamp));
        assert_ne!(a, b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
    }

    proptest! {
        #[test]
        fn distinct_stamps_of_one_device_give_distinct_ids(
            w1 in 0u64..(1 << 48), c1 in 0u32..=OP_ID_MAX_COUNTER,
            w2 in 0u64..(1 << 48), c2 in 0u32..=OP_ID_MAX_COUNTER,
        ) {
            let node = DeviceId::from_uuid(Uuid::from_u128(42));
            let (a, b) = (op_id_for(&hlc(w1, c1, node)), op_id_for(&hlc(w2, c2, node)));
            prop_assert_eq!(a == b, (w1, c1) == (w2, c2));
            prop_assert_eq!(a.cmp(&b), (w1, c1).cmp(&(w2, c2)));
        }
    }
}
