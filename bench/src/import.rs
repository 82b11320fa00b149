//! The importer: every field of the peer's workload documents, mapped to the domain and
//! written through the store's one write path (one transaction per client).
//!
//! | document | domain records | kept in the record's encrypted `extensions` |
//! |---|---|---|
//! | `enrollment` | [`Client`] (`client_id`, name, sex, birth year, phone, village, consent given/date/method) and [`Course`] (`_id`, enrolment date, 8 planned sessions) | `chw_id`, `facility_id`, `program`, `date_of_birth`, `enrolled_at`, `consent.at`, `reported_date`, `notes` |
//! | `session` | [`Session`] (`_id`, `enrollment_id` → course, `session_no`, `scheduled_for`, `started_at` → held at, attended, modality, notes) | `chw_id`, `facility_id`, `ended_at`, `duration_min`, the original `modality`, `location`, `reported_date` |
//! | `phq9_response` | [`QuestionnaireResponse`] (`_id`, `session_id`, the 9 answers, total, severity → band, item 9 → `self_harm_thoughts`, `completed_at` → administered at) | `form`, `form_version`, `chw_id`, `started_at`, `reported_date`, `notes` |
//!
//! Each document becomes its records' create operations and nothing else: the fields the model
//! has no place for ride in the same operation as the record's `extensions` (keyed by source,
//! `{"cht:session": {…}}`), so an imported document costs one operation (an enrollment two:
//! its client and its course). Document ids are kept as record ids, so nothing needs a second
//! copy. The only value the
//! workload does not carry and the model requires is the consent text version
//! ([`CONSENT_VERSION`]). [`reconstruct`] rebuilds every document from a store, which is how
//! the tests (and the pull verification) prove that nothing was lost.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use ipc_core::model::{
    Answer, Attendance, Client, ClientId, Consent, ConsentMethod, Course, CourseId, CourseStatus,
    Modality, Phase, QuestionnaireResponse, ResponseContext, ResponseId, Session, SessionId, Sex,
};
use ipc_core::store::{Filter, Reader, Records, Store, Writer};
use ipc_core::sync::op::EntityKind;

use crate::error::{BenchError, Result};
use crate::workload::{Doc, EnrollmentDoc, Phq9Doc, SessionDoc};

/// Extension sources: one per document type.
pub const SOURCE_ENROLLMENT: &str = "cht:enrollment";
/// Source of a session document's extension.
pub const SOURCE_SESSION: &str = "cht:session";
/// Source of a PHQ-9 response document's extension.
pub const SOURCE_PHQ9: &str = "cht:phq9_response";

/// Consent text version recorded for imported clients (the workload has none).
pub const CONSENT_VERSION: &str = "cht";
/// Sessions planned per course (the workload's fixed 8).
pub const PLANNED_SESSIONS: u8 = 8;
/// Instrument code and version of the PHQ-9 responses.
pub const PHQ9: (&str, &str) = ("phq9", "1.0");
/// Flag raised when item 9 is above zero (the instrument's own code).
pub const ITEM9_FLAG: &str = "self_harm_thoughts";

/// What an import wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportStats {
    /// Documents read.
    pub docs: usize,
    /// Store transactions (one per client group).
    pub transactions: usize,
    /// Operations written.
    pub ops: usize,
    /// JSON bytes of those operations (uncompressed, as the engine would send them).
    pub op_json_bytes: usize,
    /// Records per kind.
    pub clients: usize,
    /// Courses.
    pub courses: usize,
    /// Sessions.
    pub sessions: usize,
    /// Questionnaire responses.
    pub responses: usize,
    /// Records carrying extensions (one per document).
    pub extended: usize,
}

/// A document's record id, for errors and lookups.
fn doc_line_err(file: &str, line: usize, reason: impl Into<String>) -> BenchError {
    BenchError::Document {
        file: file.to_string(),
        line,
        reason: reason.into(),
    }
}

fn instant(field: &'static str, s: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| format!("{field} is not an ISO 8601 instant"))
}

fn date(field: &'static str, s: &str) -> std::result::Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("{field} is not a date"))
}

/// The workload's instant form (`2026-01-12T13:02:21.000Z`).
fn instant_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The `extensions` value of a record: the document's unmapped fields under its source.
fn extensions(source: &str, data: Value) -> Value {
    json!({ source: data })
}

/// Domain records of one enrollment.
pub fn map_enrollment(
    d: &EnrollmentDoc,
    worker: ipc_core::model::WorkerId,
) -> std::result::Result<(Client, Course, Value), String> {
    let client_id = ClientId::from_uuid(d.client_id);
    let enrolled = instant("enrolled_at", &d.enrolled_at)?;
    let consent_at = instant("consent.at", &d.consent.at)?;
    let dob = date("date_of_birth", &d.date_of_birth)?;
    let client = Client {
        id: client_id,
        display_name: d.name.clone(),
        sex: Some(Sex::parse(&d.sex).map_err(|_| "sex is not female/male/other")?),
        birth_year: Some(chrono::Datelike::year(&dob)),
        phone: Some(d.phone.clone()),
        village: Some(d.village.clone()),
        address: None,
        consent: Some(Consent {
            given: d.consent.given,
            date: consent_at.date_naive(),
            version: CONSENT_VERSION.to_string(),
            method: ConsentMethod::parse(&d.consent.method)
                .map_err(|_| "consent.method is not verbal/written")?,
        }),
        assigned_worker: worker,
        registered_on: enrolled.date_naive(),
    };
    let course = Course {
        id: CourseId::from_uuid(d.id),
        client_id,
        worker_id: worker,
        enrolled_on: enrolled.date_naive(),
        planned_sessions: PLANNED_SESSIONS,
        problem_areas: Vec::new(),
        dispute_stage: None,
        status: CourseStatus::Enrolled,
        end_reason: None,
        end_note: None,
        ended_on: None,
        extension_reason: None,
    };
    let data = json!({
        "chw_id": d.chw_id,
        "facility_id": d.facility_id,
        "program": d.program,
        "date_of_birth": d.date_of_birth,
        "enrolled_at": d.enrolled_at,
        "consent": {"at": d.consent.at},
        "reported_date": d.reported_date,
        "notes": d.notes,
    });
    Ok((client, course, extensions(SOURCE_ENROLLMENT, data)))
}

fn phase_of(number: u8) -> Phase {
    match number {
        1 => Phase::Initial,
        n if n >= PLANNED_SESSIONS => Phase::Termination,
        _ => Phase::Middle,
    }
}

/// Domain records of one session.
pub fn map_session(d: &SessionDoc) -> std::result::Result<(Session, Value), String> {
    let client_id = ClientId::from_uuid(d.client_id);
    let started = instant("started_at", &d.started_at)?;
    let modality = match d.modality.as_str() {
        "home_visit" | "facility" => Modality::InPerson,
        "phone" => Modality::Phone,
        _ => return Err("modality is not home_visit/facility/phone".into()),
    };
    let session = Session {
        id: SessionId::from_uuid(d.id),
        course_id: CourseId::from_uuid(d.enrollment_id),
        client_id,
        number: d.session_no,
        phase: phase_of(d.session_no),
        planned_date: Some(date("scheduled_for", &d.scheduled_for)?),
        held_at: Some(started.naive_utc()),
        attendance: Some(Attendance::Attended),
        modality: Some(modality),
        steps_done: Vec::new(),
        steps_skipped: Vec::new(),
        notes: Some(d.notes.clone()),
        task: None,
        completed: true,
    };
    let data = json!({
        "chw_id": d.chw_id,
        "facility_id": d.facility_id,
        "ended_at": d.ended_at,
        "duration_min": d.duration_min,
        "modality": d.modality,
        "location": d.location,
        "reported_date": d.reported_date,
    });
    Ok((session, extensions(SOURCE_SESSION, data)))
}

/// Domain records of one PHQ-9 response (`course` is the course of its session).
pub fn map_phq9(
    d: &Phq9Doc,
    course: CourseId,
) -> std::result::Result<(QuestionnaireResponse, Value), String> {
    let client_id = ClientId::from_uuid(d.client_id);
    let completed = instant("completed_at", &d.completed_at)?;
    if d.answers.len() != 9 {
        return Err("answers does not have 9 items".into());
    }
    let response = QuestionnaireResponse {
        id: ResponseId::from_uuid(d.id),
        client_id,
        course_id: Some(course),
        session_id: Some(SessionId::from_uuid(d.session_id)),
        context: ResponseContext::Session,
        instrument: PHQ9.0.to_string(),
        instrument_version: PHQ9.1.to_string(),
        answers: d
            .answers
            .iter()
            .enumerate()
            .map(|(i, v)| Answer {
                item: format!("phq9_{}", i + 1),
                value: *v,
            })
            .collect(),
        total: Some(d.total_score),
        band: Some(d.severity.clone()),
        flags: if d.item9_flag {
            vec![ITEM9_FLAG.to_string()]
        } else {
            Vec::new()
        },
        administered_at: completed.naive_utc(),
    };
    let data = json!({
        "form": d.form,
        "form_version": d.form_version,
        "chw_id": d.chw_id,
        "started_at": d.started_at,
        "reported_date": d.reported_date,
        "notes": d.notes,
    });
    Ok((response, extensions(SOURCE_PHQ9, data)))
}

/// Import `docs` (read from `file`, for error messages) into `store`, one transaction per
/// run of documents of the same client, authored by the store's worker.
pub fn import(store: &Store, file: &str, docs: &[Doc]) -> Result<ImportStats> {
    let worker = store.identity().worker_id;
    let mut stats = ImportStats {
        docs: docs.len(),
        ..ImportStats::default()
    };
    let mut session_course: HashMap<Uuid, CourseId> = HashMap::new();
    let mut start = 0;
    while start < docs.len() {
        let client = docs[start].client_id();
        let end = docs[start..]
            .iter()
            .position(|d| d.client_id() != client)
            .map_or(docs.len(), |p| start + p);
        store.write(|w: &mut Writer<'_>| -> Result<()> {
            for (offset, doc) in docs[start..end].iter().enumerate() {
                let line = start + offset + 1;
                let bad = |reason: String| doc_line_err(file, line, reason);
                match doc {
                    Doc::Enrollment(d) => {
                        let (c, course, x) = map_enrollment(d, worker).map_err(bad)?;
                        count(&mut stats, &w.create_with_extensions(&c, x)?);
                        count(&mut stats, &w.create(&course)?);
                        stats.clients += 1;
                        stats.courses += 1;
                        stats.extended += 1;
                    }
                    Doc::Session(d) => {
                        let (s, x) = map_session(d).map_err(bad)?;
                        session_course.insert(d.id, s.course_id);
                        count(&mut stats, &w.create_with_extensions(&s, x)?);
                        stats.sessions += 1;
                        stats.extended += 1;
                    }
                    Doc::Phq9Response(d) => {
                        let course = match session_course.get(&d.session_id) {
                            Some(c) => *c,
                            None => w
                                .get::<Session>(d.session_id)?
                                .map(|s| s.course_id)
                                .ok_or_else(|| bad("session_id names no session".into()))?,
                        };
                        let (r, x) = map_phq9(d, course).map_err(bad)?;
                        count(&mut stats, &w.create_with_extensions(&r, x)?);
                        stats.responses += 1;
                        stats.extended += 1;
                    }
                }
            }
            Ok(())
        })?;
        stats.transactions += 1;
        start = end;
    }
    Ok(stats)
}

fn count(stats: &mut ImportStats, op: &ipc_core::sync::op::Operation) {
    stats.ops += 1;
    stats.op_json_bytes += serde_json::to_vec(op).map(|v| v.len()).unwrap_or(0);
}

/// Live records in a store, per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordCounts {
    /// Clients.
    pub clients: usize,
    /// Courses.
    pub courses: usize,
    /// Sessions.
    pub sessions: usize,
    /// Questionnaire responses.
    pub responses: usize,
    /// Records carrying extensions.
    pub extended: usize,
}

impl RecordCounts {
    /// What importing `docs` creates.
    pub fn expected(docs: &[Doc]) -> RecordCounts {
        let mut c = RecordCounts::default();
        for d in docs {
            match d {
                Doc::Enrollment(_) => {
                    c.clients += 1;
                    c.courses += 1;
                }
                Doc::Session(_) => c.sessions += 1,
                Doc::Phq9Response(_) => c.responses += 1,
            }
            c.extended += 1;
        }
        c
    }

    /// Operations that importing `docs` writes (one per record; extensions ride along).
    pub fn ops(&self) -> usize {
        self.clients + self.courses + self.sessions + self.responses
    }

    /// Add another count.
    pub fn plus(self, o: RecordCounts) -> RecordCounts {
        RecordCounts {
            clients: self.clients + o.clients,
            courses: self.courses + o.courses,
            sessions: self.sessions + o.sessions,
            responses: self.responses + o.responses,
            extended: self.extended + o.extended,
        }
    }
}

/// Count the live records of a store.
pub fn count_records(store: &Store) -> Result<RecordCounts> {
    store.read(|r| -> Result<RecordCounts> {
        let clients = r.list::<Client>(Filter::All)?;
        let sessions = r.list::<Session>(Filter::All)?;
        let responses = r.list::<QuestionnaireResponse>(Filter::All)?;
        let mut extended = 0;
        let ids = clients
            .iter()
            .map(|c| (EntityKind::Client, c.id.as_uuid()))
            .chain(
                sessions
                    .iter()
                    .map(|s| (EntityKind::Session, s.id.as_uuid())),
            )
            .chain(
                responses
                    .iter()
                    .map(|q| (EntityKind::Response, q.id.as_uuid())),
            );
        for (kind, id) in ids {
            if r.extensions(kind, id)?.is_some() {
                extended += 1;
            }
        }
        Ok(RecordCounts {
            clients: clients.len(),
            courses: r.list::<Course>(Filter::All)?.len(),
            sessions: sessions.len(),
            responses: responses.len(),
            extended,
        })
    })
}

/// The fields one source stored in a record's extensions.
fn source(r: &Reader<'_>, kind: EntityKind, id: Uuid, source: &str) -> Result<Value> {
    r.extensions(kind, id)?
        .and_then(|mut x| x.get_mut(source).map(Value::take))
        .ok_or_else(|| BenchError::Verify(format!("a {kind} has no {source} extension")))
}

fn take(data: &Value, key: &str) -> Value {
    data.get(key).cloned().unwrap_or(Value::Null)
}

/// Rebuild every workload document from the records of `store`, keyed by document id, as
/// JSON values shaped like the original lines (so they compare equal when nothing was lost).
pub fn reconstruct(store: &Store) -> Result<HashMap<Uuid, Value>> {
    store.read(|r| -> Result<HashMap<Uuid, Value>> {
        let clients: HashMap<Uuid, Client> = r
            .list::<Client>(Filter::All)?
            .into_iter()
            .map(|c| (c.id.as_uuid(), c))
            .collect();
        let mut out = HashMap::new();
        for course in r.list::<Course>(Filter::All)? {
            let c = clients
                .get(&course.client_id.as_uuid())
                .ok_or_else(|| BenchError::Verify("a course has no client".into()))?;
            let x = &source(r, EntityKind::Client, c.id.as_uuid(), SOURCE_ENROLLMENT)?;
            let consent = c.consent.as_ref();
            let doc = json!({
                "_id": course.id.to_string(),
                "type": "enrollment",
                "client_id": c.id.to_string(),
                "chw_id": take(x, "chw_id"),
                "facility_id": take(x, "facility_id"),
                "name": c.display_name,
                "sex": c.sex.map(|s| s.as_str()),
                "date_of_birth": take(x, "date_of_birth"),
                "phone": c.phone,
                "village": c.village,
                "program": take(x, "program"),
                "enrolled_at": take(x, "enrolled_at"),
                "consent": {
                    "given": consent.map(|k| k.given),
                    "at": x.get("consent").map(|k| take(k, "at")).unwrap_or(Value::Null),
                    "method": consent.map(|k| k.method.as_str()),
                },
                "reported_date": take(x, "reported_date"),
                "notes": take(x, "notes"),
            });
            out.insert(course.id.as_uuid(), doc);
        }
        let mut session_course = HashMap::new();
        for s in r.list::<Session>(Filter::All)? {
            let x = &source(r, EntityKind::Session, s.id.as_uuid(), SOURCE_SESSION)?;
            session_course.insert(s.id.as_uuid(), s.course_id);
            let doc = json!({
                "_id": s.id.to_string(),
                "type": "session",
                "client_id": s.client_id.to_string(),
                "enrollment_id": s.course_id.to_string(),
                "chw_id": take(x, "chw_id"),
                "facility_id": take(x, "facility_id"),
                "session_no": s.number,
                "scheduled_for": s.planned_date.map(|d| d.format("%Y-%m-%d").to_string()),
                "started_at": s.held_at.map(instant_text),
                "ended_at": take(x, "ended_at"),
                "duration_min": take(x, "duration_min"),
                "modality": take(x, "modality"),
                "location": take(x, "location"),
                "reported_date": take(x, "reported_date"),
                "notes": s.notes,
            });
            out.insert(s.id.as_uuid(), doc);
        }
        for q in r.list::<QuestionnaireResponse>(Filter::All)? {
            let x = &source(r, EntityKind::Response, q.id.as_uuid(), SOURCE_PHQ9)?;
            let doc = json!({
                "_id": q.id.to_string(),
                "type": "phq9_response",
                "form": take(x, "form"),
                "form_version": take(x, "form_version"),
                "client_id": q.client_id.to_string(),
                "session_id": q.session_id.map(|s| s.to_string()),
                "chw_id": take(x, "chw_id"),
                "answers": q.answers.iter().map(|a| a.value).collect::<Vec<_>>(),
                "total_score": q.total,
                "severity": q.band,
                "item9_flag": q.flags.iter().any(|f| f == ITEM9_FLAG),
                "started_at": take(x, "started_at"),
                "completed_at": instant_text(q.administered_at),
                "reported_date": take(x, "reported_date"),
                "notes": take(x, "notes"),
            });
            out.insert(q.id.as_uuid(), doc);
        }
        Ok(out)
    })
}

/// Compare the documents rebuilt from a store with the original lines: every original must
/// come back identical (field by field, as JSON values). Returns how many matched.
pub fn verify_lossless(store: &Store, originals: &[Value]) -> Result<usize> {
    let rebuilt = reconstruct(store)?;
    let mut matched = 0;
    for (i, orig) in originals.iter().enumerate() {
        let id = orig
            .get("_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::try_parse(s).ok())
            .ok_or_else(|| BenchError::Verify(format!("original {} has no _id", i + 1)))?;
        let Some(got) = rebuilt.get(&id) else {
            return Err(BenchError::Verify(format!(
                "original document {} is missing from the store",
                i + 1
            )));
        };
        if got != orig {
            let fields = differing_fields(orig, got);
            return Err(BenchError::Verify(format!(
                "original document {} differs in {fields:?}",
                i + 1
            )));
        }
        matched += 1;
    }
    Ok(matched)
}

fn differing_fields(a: &Value, b: &Value) -> Vec<String> {
    let empty = Map::new();
    let a = a.as_object().unwrap_or(&empty);
    let b = b.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// Parse the lines of a JSON Lines file as plain JSON values (for [`verify_lossless`]).
pub fn raw_lines(text: &str) -> Result<Vec<Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(BenchError::from))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::device;
    use crate::workload;
    use ipc_core::model::{Role, WorkerId};
    use std::path::Path;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workload-c3")
    }

    #[test]
    fn imports_every_field_and_rebuilds_every_document() {
        let w = workload::load(&fixture()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.db");
        let store = device::create_store(&path, WorkerId::new(), Role::Worker, "team-a").unwrap();
        let stats = import(&store, "base.jsonl", &w.base).unwrap();
        assert_eq!(stats.docs, 51);
        assert_eq!(stats.transactions, 3, "one transaction per client");
        // One operation per document, two for an enrollment (client and course); the
        // unmapped fields ride in the record's own operation.
        assert_eq!(stats.ops, 3 * 2 + 48);
        assert_eq!(stats.extended, 51);
        assert_eq!(stats.ops, RecordCounts::expected(&w.base).ops());
        assert_eq!(store.outbox_len().unwrap(), stats.ops as u64);
        let incr = import(&store, "incr.jsonl", &w.incr).unwrap();
        assert_eq!(incr.ops, 4);
        let counts = count_records(&store).unwrap();
        assert_eq!(
            counts,
            RecordCounts::expected(&w.base).plus(RecordCounts::expected(&w.incr))
        );
        let mut originals =
            raw_lines(&std::fs::read_to_string(fixture().join("base.jsonl")).unwrap()).unwrap();
        originals.extend(
            raw_lines(&std::fs::read_to_string(fixture().join("incr.jsonl")).unwrap()).unwrap(),
        );
        assert_eq!(verify_lossless(&store, &originals).unwrap(), 55);
    }

    #[test]
    fn a_lost_field_is_detected() {
        let w = workload::load(&fixture()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = device::create_store(
            &dir.path().join("dev.db"),
            WorkerId::new(),
            Role::Worker,
            "team-a",
        )
        .unwrap();
        import(&store, "base.jsonl", &w.base).unwrap();
        let mut originals =
            raw_lines(&std::fs::read_to_string(fixture().join("base.jsonl")).unwrap()).unwrap();
        originals[1]["location"]["acc_m"] = json!(9999);
        let err = verify_lossless(&store, &originals).unwrap_err().to_string();
        assert!(err.contains("location"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_by_line_without_content() {
        let w = workload::load(&fixture()).unwrap();
        let mut docs = w.base.clone();
        if let Doc::Session(s) = &mut docs[1] {
            s.modality = "boat".into();
        }
        let dir = tempfile::tempdir().unwrap();
        let store = device::create_store(
            &dir.path().join("dev.db"),
            WorkerId::new(),
            Role::Worker,
            "team-a",
        )
        .unwrap();
        let err = import(&store, "base.jsonl", &docs).unwrap_err().to_string();
        assert!(err.contains("document 2 of base.jsonl"), "{err}");
        assert!(!err.contains("boat"), "{err}");
        // The client's transaction rolled back whole.
        assert_eq!(store.outbox_len().unwrap(), 0);
    }
}
