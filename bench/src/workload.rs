//! The PouchDB peer's workload (`node peer.js gen`): `base.jsonl`, `incr.jsonl` and
//! `manifest.json`. Each file's SHA-256 and document count are checked against the manifest
//! (fairness rule 1: the same documents), and every document is parsed into a typed struct
//! that refuses unknown fields, so a field the importer does not map can never be dropped
//! silently.

use std::path::Path;

use serde::Deserialize;
use uuid::Uuid;

use crate::error::{BenchError, Result};

/// `manifest.json` (the fields the bench uses).
#[derive(Clone, Debug, Deserialize)]
pub struct Manifest {
    /// Number of clients (C).
    pub clients: u32,
    /// Seed of the generator.
    pub seed: u64,
    /// The initial caseload.
    pub base: FileMeta,
    /// The documents created after the first sync.
    pub incr: FileMeta,
}

/// One file of the manifest.
#[derive(Clone, Debug, Deserialize)]
pub struct FileMeta {
    /// File name beside the manifest.
    pub file: String,
    /// Documents (lines).
    pub docs: usize,
    /// Bytes.
    pub bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
}

/// Consent as the peer's enrollment records it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDoc {
    /// Whether consent was given.
    pub given: bool,
    /// When (ISO 8601).
    pub at: String,
    /// How (`verbal`).
    pub method: String,
}

/// A client's enrollment.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentDoc {
    /// The document id (becomes the course id).
    #[serde(rename = "_id")]
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The health worker (`chw-0001`).
    pub chw_id: String,
    /// The facility (`fac-001`).
    pub facility_id: String,
    /// Full name.
    pub name: String,
    /// `female` / `male`.
    pub sex: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    /// Phone number.
    pub phone: String,
    /// Village.
    pub village: String,
    /// Programme code.
    pub program: String,
    /// ISO 8601 instant of enrolment.
    pub enrolled_at: String,
    /// Consent.
    pub consent: ConsentDoc,
    /// Epoch milliseconds.
    pub reported_date: i64,
    /// Free text.
    pub notes: String,
}

/// GPS fix of a visit.
#[derive(Clone, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocationDoc {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Accuracy in metres.
    pub acc_m: u32,
}

/// A counselling session.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionDoc {
    /// The document id (becomes the session id).
    #[serde(rename = "_id")]
    pub id: Uuid,
    /// The client.
    pub client_id: Uuid,
    /// The enrollment (course) it belongs to.
    pub enrollment_id: Uuid,
    /// The health worker.
    pub chw_id: String,
    /// The facility.
    pub facility_id: String,
    /// 1-based session number.
    pub session_no: u8,
    /// Planned date, `YYYY-MM-DD`.
    pub scheduled_for: String,
    /// ISO 8601 start.
    pub started_at: String,
    /// ISO 8601 end.
    pub ended_at: String,
    /// Minutes.
    pub duration_min: u32,
    /// `home_visit` / `phone` / `facility`.
    pub modality: String,
    /// Where.
    pub location: LocationDoc,
    /// Epoch milliseconds.
    pub reported_date: i64,
    /// Free text.
    pub notes: String,
}

/// A PHQ-9 questionnaire.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phq9Doc {
    /// The document id (becomes the response id).
    #[serde(rename = "_id")]
    pub id: Uuid,
    /// Form name (`PHQ-9`).
    pub form: String,
    /// Form version (3).
    pub form_version: u32,
    /// The client.
    pub client_id: Uuid,
    /// The session it was given in.
    pub session_id: Uuid,
    /// The health worker.
    pub chw_id: String,
    /// Nine answers 0–3.
    pub answers: Vec<u8>,
    /// 0–27.
    pub total_score: u16,
    /// Severity band.
    pub severity: String,
    /// Item 9 above zero.
    pub item9_flag: bool,
    /// ISO 8601 start.
    pub started_at: String,
    /// ISO 8601 completion.
    pub completed_at: String,
    /// Epoch milliseconds.
    pub reported_date: i64,
    /// Free text.
    pub notes: String,
}

/// One workload document.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Doc {
    /// `enrollment`.
    Enrollment(EnrollmentDoc),
    /// `session`.
    Session(SessionDoc),
    /// `phq9_response`.
    Phq9Response(Phq9Doc),
}

impl Doc {
    /// The client the document belongs to.
    pub fn client_id(&self) -> Uuid {
        match self {
            Doc::Enrollment(d) => d.client_id,
            Doc::Session(d) => d.client_id,
            Doc::Phq9Response(d) => d.client_id,
        }
    }
}

/// A checked workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The manifest.
    pub manifest: Manifest,
    /// Initial caseload, in file order.
    pub base: Vec<Doc>,
    /// Documents created after the first sync, in file order.
    pub incr: Vec<Doc>,
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Read `manifest.json` in `dir`.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let text = std::fs::read(&path)
        .map_err(|e| BenchError::io(format!("reading {}", path.display()), e))?;
    Ok(serde_json::from_slice(&text)?)
}

/// Read one JSON Lines file, checking it against its manifest entry.
pub fn read_docs(dir: &Path, meta: &FileMeta) -> Result<Vec<Doc>> {
    let path = dir.join(&meta.file);
    let bytes = std::fs::read(&path)
        .map_err(|e| BenchError::io(format!("reading {}", path.display()), e))?;
    let sum = sha256_hex(&bytes);
    if sum != meta.sha256 {
        return Err(BenchError::Workload(format!(
            "{}: sha256 {sum} but the manifest says {}",
            meta.file, meta.sha256
        )));
    }
    if bytes.len() as u64 != meta.bytes {
        return Err(BenchError::Workload(format!(
            "{}: {} bytes but the manifest says {}",
            meta.file,
            bytes.len(),
            meta.bytes
        )));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| BenchError::Workload(format!("{} is not UTF-8", meta.file)))?;
    let mut docs = Vec::with_capacity(meta.docs);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let doc: Doc = serde_json::from_str(line).map_err(|e| BenchError::Document {
            file: meta.file.clone(),
            line: i + 1,
            reason: format!(
                "unexpected shape at column {} ({:?})",
                e.column(),
                e.classify()
            ),
        })?;
        docs.push(doc);
    }
    if docs.len() != meta.docs {
        return Err(BenchError::Workload(format!(
            "{}: {} documents but the manifest says {}",
            meta.file,
            docs.len(),
            meta.docs
        )));
    }
    Ok(docs)
}

/// Read and check the workload in `dir`.
pub fn load(dir: &Path) -> Result<Workload> {
    let manifest = read_manifest(dir)?;
    let base = read_docs(dir, &manifest.base)?;
    let incr = read_docs(dir, &manifest.incr)?;
    Ok(Workload {
        manifest,
        base,
        incr,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workload-c3")
    }

    #[test]
    fn reads_the_fixture_and_checks_the_manifest() {
        let w = load(&fixture()).unwrap();
        assert_eq!(w.manifest.clients, 3);
        assert_eq!(w.base.len(), 51);
        assert_eq!(w.incr.len(), 4);
        let enrollments = w
            .base
            .iter()
            .filter(|d| matches!(d, Doc::Enrollment(_)))
            .count();
        assert_eq!(enrollments, 3);
    }

    #[test]
    fn a_changed_file_or_an_unknown_field_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["base.jsonl", "incr.jsonl", "manifest.json"] {
            std::fs::copy(fixture().join(f), dir.path().join(f)).unwrap();
        }
        let base = dir.path().join("base.jsonl");
        let text = std::fs::read_to_string(&base).unwrap();
        std::fs::write(&base, text.replacen("\"notes\"", "\"notez\"", 1)).unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
        // Same bytes accepted by the manifest, but a field the importer does not know.
        let mut m = read_manifest(dir.path()).unwrap();
        let bytes = std::fs::read(&base).unwrap();
        m.base.sha256 = sha256_hex(&bytes);
        let err = read_docs(dir.path(), &m.base).unwrap_err().to_string();
        assert!(err.contains("document 1 of base.jsonl"), "{err}");
        assert!(!err.contains("Moses"), "no content in errors: {err}");
    }
}
