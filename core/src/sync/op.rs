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
