//! Shared fixtures: a temporary store with a fast (test-only) KDF and a manual clock, builders
//! for a valid record of every kind, remote operations, a decrypted dump of the whole state,
//! row counts, file snapshots and a small seeded random generator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use ipc_core::clock::{Clock, ManualClock};
use ipc_core::model::{
    Answer, Attendance, Client, ClientId, Course, CourseId, CourseStatus, DeviceId, Extra,
    InventoryEntry, InventoryEntryId, Modality, MoodChange, NewClient, OpId, Phase, ProblemArea,
    QuestionnaireResponse, Referral, ReferralId, ReferralStatus, ReferralUrgency, Reminder,
    ReminderId, ReminderKind, ReminderStatus, ResponseContext, ResponseId, RiskEvent, RiskEventId,
    RiskStatus, RiskTrigger, Role, Screening, ScreeningId, ScreeningOutcome, Session, SessionId,
    Sex, SupervisorNote, SupervisorNoteId, TimelineEvent, TimelineEventId, WorkerId,
};
use ipc_core::store::keys::{KdfParams, PinPolicy};
use ipc_core::store::record::{decode, Entity};
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::spec::spec;
use ipc_core::store::{Filter, NewWorker, Reader, Store, StoreConfig, StoreError, Writer};
use ipc_core::sync::hlc::Hlc;
use ipc_core::sync::op::{Change, EntityKind, FieldMap, Operation};
use rusqlite::types::ValueRef;
use serde_json::Value;
use uuid::Uuid;

pub const PIN: &str = "482913";

/// PBKDF2 iterations of test stores (the real minimum is 100 000).
pub const TEST_ITERATIONS: u32 = 1_000;

pub struct TestStore {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    pub recovery: String,
}

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub fn config(clock: &Arc<ManualClock>) -> StoreConfig {
    config_with(clock, PinPolicy::default())
}

pub fn config_with(clock: &Arc<ManualClock>, pin_policy: PinPolicy) -> StoreConfig {
    StoreConfig {
        pin_policy,
        clock: clock.clone(),
    }
}

pub fn new_store() -> TestStore {
    new_store_with(PinPolicy::default(), "Worker Synthetic")
}

/// A new unlocked store with the given PIN policy and worker display name.
pub fn new_store_with(policy: PinPolicy, worker_name: &str) -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    let clock = Arc::new(ManualClock::new(start_time()));
    let secrets = Arc::new(FileSecretStore::beside(&path).unwrap());
    let worker = NewWorker {
        id: WorkerId::new(),
        display_name: worker_name.into(),
        role: Role::Worker,
        team: "team-a".into(),
    };
    let (store, recovery) = Store::create(
        &path,
        secrets,
        PIN,
        &worker,
        &KdfParams::insecure_for_tests(TEST_ITERATIONS),
        config_with(&clock, policy),
    )
    .unwrap();
    let recovery = recovery.expose_formatted().to_string();
    TestStore {
        dir,
        path,
        clock,
        store,
        recovery,
    }
}

/// Open the store at `path` again (locked), as a new app process would.
pub fn reopen(path: &Path, clock: &Arc<ManualClock>) -> Store {
    reopen_with(path, clock, PinPolicy::default())
}

/// Open the store at `path` again (locked) with a PIN policy.
pub fn reopen_with(path: &Path, clock: &Arc<ManualClock>, policy: PinPolicy) -> Store {
    let secrets = Arc::new(FileSecretStore::beside(path).unwrap());
    Store::open(path, secrets, config_with(clock, policy)).unwrap()
}

/// Open and unlock the store at `path`.
pub fn reopen_unlocked(path: &Path, clock: &Arc<ManualClock>) -> Store {
    let store = reopen(path, clock);
    store.unlock(PIN).unwrap();
    store
}

pub fn today(t: &TestStore) -> NaiveDate {
    t.clock.today()
}

pub fn at(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
    date.and_hms_opt(h, m, 0).unwrap()
}

pub fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Valid records of every kind (synthetic data only)

pub fn client(t: &TestStore, name: &str) -> Client {
    client_for(t.store.identity().worker_id, today(t), name)
}

/// A valid client assigned to `worker`, registered `today`.
pub fn client_for(worker: WorkerId, today: NaiveDate, name: &str) -> Client {
    Client::new(
        NewClient {
            display_name: name.into(),
            sex: Some(Sex::Female),
            birth_year: Some(1990),
            phone: Some("0712 345 678".into()),
            village: Some("Kibera".into()),
            address: None,
            consent: None,
            assigned_worker: worker,
            registered_on: today,
        },
        today,
    )
    .unwrap()
}

pub fn course(client: ClientId, worker: WorkerId, today: NaiveDate) -> Course {
    Course {
        id: CourseId::new(),
        client_id: client,
        worker_id: worker,
        enrolled_on: today,
        planned_sessions: 6,
        problem_areas: vec![ProblemArea::Grief],
        dispute_stage: None,
        status: CourseStatus::Initial,
        end_reason: None,
        end_note: None,
        ended_on: None,
        extension_reason: None,
    }
}

pub fn session(course: &Course, number: u8, today: NaiveDate) -> Session {
    Session {
        id: SessionId::new(),
        course_id: course.id,
        client_id: course.client_id,
        number,
        phase: Phase::Initial,
        planned_date: Some(today),
        held_at: None,
        attendance: None,
        modality: Some(Modality::InPerson),
        steps_done: vec![],
        steps_skipped: vec![],
        notes: None,
        task: None,
        completed: false,
    }
}

pub fn screening(client: ClientId, today: NaiveDate) -> Screening {
    Screening {
        id: ScreeningId::new(),
        client_id: client,
        date: today,
        response_ids: vec![],
        outcome: ScreeningOutcome::Eligible,
        note: None,
    }
}

pub fn response(course: &Course, today: NaiveDate) -> QuestionnaireResponse {
    QuestionnaireResponse {
        id: ResponseId::new(),
        client_id: course.client_id,
        course_id: Some(course.id),
        session_id: None,
        context: ResponseContext::Screening,
        instrument: "phq9".into(),
        instrument_version: "1.0".into(),
        answers: (1..=9)
            .map(|i| Answer {
                item: format!("q{i}"),
                value: 1,
            })
            .collect(),
        total: Some(9),
        band: Some("mild".into()),
        flags: vec![],
        administered_at: at(today, 9, 30),
    }
}

pub fn inventory_entry(course: &Course) -> InventoryEntry {
    InventoryEntry {
        id: InventoryEntryId::new(),
        course_id: course.id,
        client_id: course.client_id,
        label: "Sister".into(),
        relationship: "sibling".into(),
        closeness: 4,
        support: None,
        conflict: None,
        what_changed: None,
        expectations: None,
    }
}

pub fn timeline_event(course: &Course, today: NaiveDate) -> TimelineEvent {
    TimelineEvent {
        id: TimelineEventId::new(),
        course_id: course.id,
        client_id: course.client_id,
        date: today,
        event: "Moved house".into(),
        mood_change: MoodChange::Worse,
    }
}

pub fn risk_event(course: &Course, today: NaiveDate) -> RiskEvent {
    RiskEvent {
        id: RiskEventId::new(),
        client_id: course.client_id,
        course_id: Some(course.id),
        session_id: None,
        trigger: RiskTrigger::Phq9Item9,
        opened_at: at(today, 9, 0),
        observation: None,
        assessment: None,
        status: RiskStatus::Open,
        closed_at: None,
    }
}

pub fn referral(course: &Course, today: NaiveDate) -> Referral {
    Referral {
        id: ReferralId::new(),
        client_id: course.client_id,
        course_id: Some(course.id),
        reason: "Needs medical review".into(),
        destination: None,
        urgency: ReferralUrgency::Routine,
        status: ReferralStatus::Recommended,
        created_on: today,
        updated_on: today,
    }
}

pub fn supervisor_note(client: ClientId, author: WorkerId, now: DateTime<Utc>) -> SupervisorNote {
    SupervisorNote {
        id: SupervisorNoteId::new(),
        client_id: client,
        author,
        written_at: now,
        text: "Reviewed".into(),
        risk_event: None,
    }
}

pub fn reminder(course: &Course, today: NaiveDate) -> Reminder {
    Reminder {
        id: ReminderId::new(),
        client_id: course.client_id,
        course_id: Some(course.id),
        kind: ReminderKind::SessionDue,
        due: today,
        status: ReminderStatus::Pending,
    }
}

pub fn extra(client: ClientId, subject: Uuid) -> Extra {
    Extra {
        id: Uuid::now_v7(),
        client_id: client,
        subject_kind: "session".into(),
        subject_id: subject,
        source: "cht:session".into(),
        data: serde_json::json!({"form_version": "3"}),
    }
}

/// An attended, completed session (held today at 10:00).
pub fn attended(mut s: Session, today: NaiveDate) -> Session {
    s.attendance = Some(Attendance::Attended);
    s.held_at = Some(at(today, 10, 0));
    s.completed = true;
    s
}

// ---------------------------------------------------------------------------------------------
// Remote operations

/// Another device, as a sync peer would be.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub device: DeviceId,
    pub author: WorkerId,
}

impl Peer {
    pub fn new() -> Peer {
        Peer {
            device: DeviceId::new(),
            author: WorkerId::new(),
        }
    }

    pub fn hlc(&self, wall_ms: u64, counter: u32) -> Hlc {
        Hlc {
            wall_ms,
            counter,
            node: self.device,
        }
    }

    /// An operation of this peer at `(wall_ms, counter)`.
    pub fn op(
        &self,
        wall_ms: u64,
        counter: u32,
        scope: ClientId,
        entity: EntityKind,
        entity_id: Uuid,
        change: Change,
    ) -> Operation {
        Operation {
            op_id: OpId::new(),
            hlc: self.hlc(wall_ms, counter),
            device_id: self.device,
            author: self.author,
            scope,
            entity,
            entity_id,
            change,
        }
    }

    /// The create operation of a record.
    pub fn create<E: Entity>(&self, wall_ms: u64, counter: u32, e: &E) -> Operation {
        let fields = ipc_core::store::record::to_fields(e).unwrap();
        self.op(
            wall_ms,
            counter,
            e.scope(),
            E::KIND,
            e.id(),
            Change::Create { fields },
        )
    }

    /// An update of some fields of a record.
    pub fn update<E: Entity>(
        &self,
        wall_ms: u64,
        counter: u32,
        e: &E,
        fields: &[(&str, Value)],
    ) -> Operation {
        let fields: FieldMap = fields
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect();
        self.op(
            wall_ms,
            counter,
            e.scope(),
            E::KIND,
            e.id(),
            Change::Update { fields },
        )
    }
}

/// Milliseconds since the epoch of the test clock's start.
pub fn start_ms() -> u64 {
    u64::try_from(start_time().timestamp_millis()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// State inspection

/// `Store::read` with the store's own error type (the store's API is generic over it).
pub fn read<T>(
    store: &Store,
    f: impl FnOnce(&Reader<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    store.read(f)
}

/// `Store::write` with the store's own error type.
pub fn write<T>(
    store: &Store,
    f: impl FnOnce(&mut Writer<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    store.write(f)
}

/// The state tables, in dependency order.
pub fn state_tables() -> Vec<&'static str> {
    EntityKind::ALL.iter().map(|k| spec(*k).table).collect()
}

/// Every table of the schema.
pub fn all_tables() -> Vec<&'static str> {
    let mut t = vec!["meta", "workers"];
    t.extend(state_tables());
    t.extend(["ops", "audit"]);
    t
}

/// Number of rows of every table.
pub fn row_counts(store: &Store) -> BTreeMap<&'static str, i64> {
    read(store, |r| {
        let mut out = BTreeMap::new();
        for table in all_tables() {
            let n: i64 = r
                .conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                    row.get(0)
                })?;
            out.insert(table, n);
        }
        Ok(out)
    })
    .unwrap()
}

/// Number of audit entries.
pub fn audit_len(store: &Store) -> usize {
    store.audit_log(u32::MAX).unwrap().len()
}

/// Everything a write could change, for "nothing changed" checks: row counts, outbox length,
/// the decrypted state and the audit trail.
#[derive(Debug, PartialEq)]
pub struct Footprint {
    pub counts: BTreeMap<&'static str, i64>,
    pub outbox: u64,
    pub audit: usize,
    pub state: StateDump,
    pub ops: Vec<OpId>,
}

pub fn footprint(store: &Store) -> Footprint {
    Footprint {
        counts: row_counts(store),
        outbox: store.outbox_len().unwrap(),
        audit: audit_len(store),
        state: dump_state(store),
        ops: store
            .operations()
            .unwrap()
            .iter()
            .map(|o| o.op_id)
            .collect(),
    }
}

/// The state, with ciphertexts decrypted: (a) every live record of every kind as read by the
/// store's generic reader, (b) every row (live, placeholder, tombstone) of every state table,
/// all columns, sensitive ones decrypted, merge columns `_created`/`_deleted`/`_clock` raw.
#[derive(Debug, PartialEq, Eq)]
pub struct StateDump {
    pub live: BTreeMap<&'static str, Value>,
    pub rows: BTreeMap<&'static str, Vec<Vec<(String, String)>>>,
}

fn live_json<E: Entity>(r: &Reader<'_>) -> ipc_core::store::Result<Value> {
    let records: Vec<E> = ipc_core::store::read::list(r.conn, r.cipher, Filter::All)?;
    Ok(serde_json::to_value(records).unwrap())
}

fn raw_text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => format!("int:{i}"),
        ValueRef::Real(f) => format!("real:{f}"),
        ValueRef::Text(t) => format!("text:{}", String::from_utf8_lossy(t)),
        ValueRef::Blob(b) => format!("blob:{b:02x?}"),
    }
}

pub fn dump_state(store: &Store) -> StateDump {
    read(store, |r| {
        let mut live = BTreeMap::new();
        for kind in EntityKind::ALL {
            let v = match kind {
                EntityKind::Client => live_json::<Client>(r)?,
                EntityKind::Course => live_json::<Course>(r)?,
                EntityKind::Session => live_json::<Session>(r)?,
                EntityKind::Screening => live_json::<Screening>(r)?,
                EntityKind::Response => live_json::<QuestionnaireResponse>(r)?,
                EntityKind::InventoryEntry => live_json::<InventoryEntry>(r)?,
                EntityKind::TimelineEvent => live_json::<TimelineEvent>(r)?,
                EntityKind::RiskEvent => live_json::<RiskEvent>(r)?,
                EntityKind::Referral => live_json::<Referral>(r)?,
                EntityKind::SupervisorNote => live_json::<SupervisorNote>(r)?,
                EntityKind::Reminder => live_json::<Reminder>(r)?,
                EntityKind::Extra => live_json::<Extra>(r)?,
            };
            live.insert(spec(kind).table, v);
        }
        let mut rows = BTreeMap::new();
        for kind in EntityKind::ALL {
            let spec = spec(kind);
            let mut stmt = r
                .conn
                .prepare(&format!("SELECT * FROM {} ORDER BY id", spec.table))?;
            let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
            let mut q = stmt.query([])?;
            let mut table_rows = Vec::new();
            while let Some(row) = q.next()? {
                let id: String = row.get("id")?;
                let uuid = Uuid::try_parse(&id).unwrap();
                let mut cols = Vec::with_capacity(names.len());
                for (i, name) in names.iter().enumerate() {
                    let raw = row.get_ref(i)?;
                    let text = match spec.column(name) {
                        Some(col) if col.sensitive => {
                            if let ValueRef::Blob(_) | ValueRef::Null = raw {
                            } else {
                                panic!("{}.{name} holds a clear value", spec.table);
                            }
                            let v = decode(r.cipher, spec, col, &uuid, raw)?;
                            format!("secret:{v}")
                        }
                        _ => raw_text(raw),
                    };
                    cols.push((name.clone(), text));
                }
                table_rows.push(cols);
            }
            rows.insert(spec.table, table_rows);
        }
        Ok(StateDump { live, rows })
    })
    .unwrap()
}

/// Every audit row, all columns as text.
pub fn audit_rows_text(store: &Store) -> Vec<String> {
    read(store, |r| {
        let mut stmt = r.conn.prepare("SELECT * FROM audit ORDER BY seq")?;
        let n = stmt.column_count();
        let mut q = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(row) = q.next()? {
            let cols: Vec<String> = (0..n)
                .map(|i| row.get_ref(i).map(raw_text))
                .collect::<Result<_, _>>()?;
            out.push(cols.join("|"));
        }
        Ok(out)
    })
    .unwrap()
}

/// Ids of every row (live, placeholder or tombstone) of a state table.
pub fn row_ids(store: &Store, table: &str) -> Vec<String> {
    read(store, |r| {
        let mut stmt = r.conn.prepare(&format!("SELECT id FROM {table}"))?;
        let ids = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    })
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Files

/// The database file and its companions, as bytes (`None` when absent).
#[derive(Debug, PartialEq, Eq)]
pub struct FileSnapshot {
    pub files: BTreeMap<String, Option<Vec<u8>>>,
}

pub fn companion(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

pub fn snapshot(path: &Path) -> FileSnapshot {
    let mut files = BTreeMap::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = companion(path, suffix);
        files.insert(suffix.to_string(), std::fs::read(&p).ok());
    }
    FileSnapshot { files }
}

/// Names of the files in a directory, sorted.
pub fn dir_listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// A small seeded generator (SplitMix64), so randomised tests can print and replay their seed.

#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(u64::try_from(n).unwrap())).unwrap()
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.index(i + 1);
            items.swap(i, j);
        }
    }
}
