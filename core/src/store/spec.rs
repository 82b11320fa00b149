//! Which table and columns hold each kind of record, and which columns are encrypted.
//!
//! This is the single description the generic write path (`apply`) and the generic readers
//! use. Column names equal the serde field names of the domain structs in `crate::model`, so
//! a struct maps to a row (and to an operation's fields) without per-entity code. A test
//! checks every spec against the live schema.

use crate::sync::op::EntityKind;

/// The column every kind has for fields a programme's forms collect that the IPC model has no
/// place for (a visit's GPS location, a form's own version, …), like a FHIR resource's
/// `extension`: a JSON object keyed by source (`"cht:session": {…}`), encrypted at rest, set
/// in the same operation as the record's other fields. Readers of the domain structs skip
/// it; [`crate::store::read::extensions`] reads it.
pub const EXTENSIONS: &str = "extensions";

/// How a clear (unencrypted) column stores its JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    /// JSON string (or null) ↔ `TEXT`.
    Text,
    /// JSON integer ↔ `INTEGER`.
    Int,
    /// JSON bool ↔ `INTEGER` 0/1.
    Bool,
    /// Any JSON (arrays, objects) ↔ `TEXT` holding JSON.
    Json,
}

/// One domain column.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Column name = serde field name.
    pub name: &'static str,
    /// Storage of a clear column; for an encrypted one, the type of the value inside.
    pub ty: ColType,
    /// Encrypted at rest (AES-256-GCM, bound to table, row and column).
    pub sensitive: bool,
}

/// How one entity kind is stored.
#[derive(Debug)]
pub struct KindSpec {
    /// The kind.
    pub kind: EntityKind,
    /// Its state table.
    pub table: &'static str,
    /// The column referencing the parent course, if the kind has one.
    pub parent: Option<&'static str>,
    /// Records are written once and never updated (they can still be tombstoned).
    pub append_only: bool,
    /// Domain columns other than `id` and `client_id`.
    pub columns: &'static [Column],
}

impl KindSpec {
    /// The column named `name`, if it is a domain column of this kind.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

const fn clear(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        sensitive: false,
    }
}

const fn secret(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        sensitive: true,
    }
}

use ColType::{Bool, Int, Json, Text};

static CLIENT: KindSpec = KindSpec {
    kind: EntityKind::Client,
    table: "clients",
    parent: None,
    append_only: false,
    columns: &[
        secret("display_name", Text),
        secret("sex", Text),
        secret("birth_year", Int),
        secret("phone", Text),
        secret("village", Text),
        secret("address", Text),
        clear("consent", Json),
        clear("assigned_worker", Text),
        clear("registered_on", Text),
        secret(EXTENSIONS, Json),
    ],
};

static COURSE: KindSpec = KindSpec {
    kind: EntityKind::Course,
    table: "courses",
    parent: None,
    append_only: false,
    columns: &[
        clear("worker_id", Text),
        clear("enrolled_on", Text),
        clear("planned_sessions", Int),
        secret("problem_areas", Json),
        secret("dispute_stage", Text),
        clear("status", Text),
        clear("end_reason", Text),
        secret("end_note", Text),
        clear("ended_on", Text),
        secret("extension_reason", Text),
        secret(EXTENSIONS, Json),
    ],
};

static SESSION: KindSpec = KindSpec {
    kind: EntityKind::Session,
    table: "sessions",
    parent: Some("course_id"),
    append_only: false,
    columns: &[
        clear("course_id", Text),
        clear("number", Int),
        clear("phase", Text),
        clear("planned_date", Text),
        clear("held_at", Text),
        clear("attendance", Text),
        clear("modality", Text),
        clear("steps_done", Json),
        secret("steps_skipped", Json),
        secret("notes", Text),
        secret("task", Text),
        clear("completed", Bool),
        secret(EXTENSIONS, Json),
    ],
};

static SCREENING: KindSpec = KindSpec {
    kind: EntityKind::Screening,
    table: "screenings",
    parent: None,
    append_only: false,
    columns: &[
        clear("date", Text),
        clear("response_ids", Json),
        clear("outcome", Text),
        secret("note", Text),
        secret(EXTENSIONS, Json),
    ],
};

static RESPONSE: KindSpec = KindSpec {
    kind: EntityKind::Response,
    table: "responses",
    parent: Some("course_id"),
    append_only: true,
    columns: &[
        clear("course_id", Text),
        clear("session_id", Text),
        clear("context", Text),
        clear("instrument", Text),
        clear("instrument_version", Text),
        secret("answers", Json),
        secret("total", Int),
        secret("band", Text),
        secret("flags", Json),
        clear("administered_at", Text),
        secret(EXTENSIONS, Json),
    ],
};

static INVENTORY_ENTRY: KindSpec = KindSpec {
    kind: EntityKind::InventoryEntry,
    table: "inventory_entries",
    parent: Some("course_id"),
    append_only: false,
    columns: &[
        clear("course_id", Text),
        secret("label", Text),
        secret("relationship", Text),
        secret("closeness", Int),
        secret("support", Text),
        secret("conflict", Text),
        secret("what_changed", Text),
        secret("expectations", Text),
        secret(EXTENSIONS, Json),
    ],
};

static TIMELINE_EVENT: KindSpec = KindSpec {
    kind: EntityKind::TimelineEvent,
    table: "timeline_events",
    parent: Some("course_id"),
    append_only: false,
    columns: &[
        clear("course_id", Text),
        clear("date", Text),
        secret("event", Text),
        secret("mood_change", Text),
        secret(EXTENSIONS, Json),
    ],
};

static RISK_EVENT: KindSpec = KindSpec {
    kind: EntityKind::RiskEvent,
    table: "risk_events",
    parent: Some("course_id"),
    append_only: false,
    columns: &[
        clear("course_id", Text),
        clear("session_id", Text),
        clear("trigger", Text),
        clear("opened_at", Text),
        secret("observation", Text),
        secret("assessment", Json),
        clear("status", Text),
        clear("closed_at", Text),
        secret(EXTENSIONS, Json),
    ],
};

static REFERRAL: KindSpec = KindSpec {
    kind: EntityKind::Referral,
    table: "referrals",
    parent: Some("course_id"),
    append_only: false,
    columns: &[
        clear("course_id", Text),
        secret("reason", Text),
        secret("destination", Text),
        clear("urgency", Text),
        clear("status", Text),
        clear("created_on", Text),
        clear("updated_on", Text),
        secret(EXTENSIONS, Json),
    ],
};

static SUPERVISOR_NOTE: KindSpec = KindSpec {
    kind: EntityKind::SupervisorNote,
    table: "supervisor_notes",
    parent: None,
    append_only: true,
    columns: &[
        clear("author", Text),
        clear("written_at", Text),
        secret("text", Text),
        clear("risk_event", Text),
        secret(EXTENSIONS, Json),
    ],
};

static REMINDER: KindSpec = KindSpec {
    kind: EntityKind::Reminder,
    table: "reminders",
    parent: Some("course_id"),
    append_only: false,
    columns: &[
        clear("course_id", Text),
        clear("kind", Text),
        clear("due", Text),
        clear("status", Text),
        secret(EXTENSIONS, Json),
    ],
};

static EXTRA: KindSpec = KindSpec {
    kind: EntityKind::Extra,
    table: "extras",
    parent: None,
    append_only: false,
    columns: &[
        clear("subject_kind", Text),
        clear("subject_id", Text),
        clear("source", Text),
        secret("data", Json),
        secret(EXTENSIONS, Json),
    ],
};

/// The storage description of `kind`.
pub fn spec(kind: EntityKind) -> &'static KindSpec {
    match kind {
        EntityKind::Client => &CLIENT,
        EntityKind::Course => &COURSE,
        EntityKind::Session => &SESSION,
        EntityKind::Screening => &SCREENING,
        EntityKind::Response => &RESPONSE,
        EntityKind::InventoryEntry => &INVENTORY_ENTRY,
        EntityKind::TimelineEvent => &TIMELINE_EVENT,
        EntityKind::RiskEvent => &RISK_EVENT,
        EntityKind::Referral => &REFERRAL,
        EntityKind::SupervisorNote => &SUPERVISOR_NOTE,
        EntityKind::Reminder => &REMINDER,
        EntityKind::Extra => &EXTRA,
    }
}
