//! Simulated devices for the server load test. No store per device: each device builds its
//! operations with the wire types directly (valid records made by the same mapping as the
//! importer, HLC timestamps from its own clock, scoped to clients it created), so the
//! client's cost stays small and off the measurement.
//!
//! A device enrols with its one-time code, then repeatedly syncs: one `POST /v1/sync`
//! carrying a batch of new operations (a new client = client + course + extra; a visit =
//! session + extra + PHQ-9 response + extra) and its pull cursor. Devices are paced: each
//! starts a sync every `interval` (±50 % jitter) or at once when the previous one ran late.

use std::io::Write;
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use uuid::Uuid;

use ipc_core::model::{CourseId, DeviceId, WorkerId};
use ipc_core::store::record::{to_fields, Entity};
use ipc_core::sync::hlc::{Hlc, HlcClock};
use ipc_core::sync::op::{op_id_for, Change, Operation};
use ipc_core::sync::wire::{decode, SyncResponse, PROTOCOL_VERSION, SYNC_PATH};

use crate::device::request_enrolment;
use crate::error::{BenchError, Result};
use crate::import::{map_enrollment, map_phq9, map_session};
use crate::workload::{ConsentDoc, EnrollmentDoc, LocationDoc, Phq9Doc, SessionDoc};

/// Small deterministic generator (xorshift64*), one per device.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        uuid::Builder::from_random_bytes(b).into_uuid()
    }
}

const VOCAB: &[&str] = &[
    "client",
    "reported",
    "sleep",
    "improved",
    "appetite",
    "family",
    "support",
    "referred",
    "clinic",
    "follow-up",
    "mood",
    "low",
    "energy",
    "work",
    "children",
    "medication",
    "stress",
    "income",
    "partner",
    "discussed",
    "coping",
    "plan",
    "next",
    "visit",
    "breathing",
    "worried",
    "school",
    "fees",
    "harvest",
    "rain",
    "neighbour",
    "church",
    "group",
    "attended",
    "missed",
    "phone",
    "agreed",
    "review",
    "safety",
    "tired",
    "market",
    "water",
    "walk",
    "mother",
    "sister",
    "better",
    "worse",
    "same",
    "problem-solving",
    "homework",
    "garden",
    "savings",
];
const FIRST: &[&str] = &[
    "Amina", "Grace", "Joseph", "Wanjiru", "Peter", "Fatuma", "Esther",
];
const LAST: &[&str] = &["Otieno", "Mwangi", "Njoroge", "Achieng", "Kamau", "Wafula"];
const VILLAGES: &[&str] = &["Kibera", "Mathare", "Korogocho", "Kawangware", "Mukuru"];
const SEVERITY: &[(u16, &str)] = &[
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (19, "moderately_severe"),
    (27, "severe"),
];

fn note(rng: &mut Rng) -> String {
    let mut s = String::new();
    while s.len() < 190 {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(rng.pick(VOCAB));
    }
    s.truncate(200);
    s.push('.');
    s
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// One simulated client of a device.
#[derive(Clone, Debug)]
struct SimClient {
    id: Uuid,
    course: Uuid,
    sessions: u8,
}

/// The operation source of one simulated device.
#[derive(Debug)]
pub struct OpSource {
    device: DeviceId,
    worker: WorkerId,
    clock: HlcClock,
    rng: Rng,
    clients: Vec<SimClient>,
    caseload: usize,
    chw: String,
}

/// Days back from now that the simulated records are dated.
const BACKDATE_DAYS: i64 = 90;

impl OpSource {
    /// A source for `device` of `worker`, with up to `caseload` clients.
    pub fn new(device: DeviceId, worker: WorkerId, seed: u64, caseload: usize) -> OpSource {
        OpSource {
            device,
            worker,
            clock: HlcClock::resume(Hlc::zero(device)),
            rng: Rng::new(seed),
            clients: Vec::new(),
            caseload: caseload.max(1),
            chw: format!("chw-{:04}", seed % 10_000),
        }
    }

    fn op<E: Entity>(&mut self, e: &E) -> Result<Operation> {
        self.op_with(e, serde_json::Value::Null)
    }

    /// The create of `e` carrying `extensions` (null: none), as the store's write path makes it.
    fn op_with<E: Entity>(&mut self, e: &E, extensions: serde_json::Value) -> Result<Operation> {
        // Realistic means valid: the same checks as the store's write path.
        e.check(chrono::Local::now().date_naive())?;
        let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let hlc = self.clock.tick(now);
        let mut fields = to_fields(e)?;
        if !extensions.is_null() {
            fields.insert("extensions".into(), extensions);
        }
        Ok(Operation {
            op_id: op_id_for(&hlc),
            hlc,
            device_id: self.device,
            author: self.worker,
            scope: e.scope(),
            entity: E::KIND,
            entity_id: e.id(),
            change: Change::Create { fields },
        })
    }

    fn base_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis() - BACKDATE_DAYS * 86_400_000
    }

    fn new_client(&mut self, out: &mut Vec<Operation>) -> Result<()> {
        let base = self.base_ms();
        let r = &mut self.rng;
        let at = base + r.below(30 * 86_400_000) as i64;
        let doc = EnrollmentDoc {
            id: r.uuid(),
            client_id: r.uuid(),
            chw_id: self.chw.clone(),
            facility_id: "fac-001".into(),
            name: format!("{} {}", r.pick(FIRST), r.pick(LAST)),
            sex: r.pick(&["female", "male"]).into(),
            date_of_birth: format!(
                "{}-{:02}-{:02}",
                1960 + r.below(45),
                1 + r.below(12),
                1 + r.below(28)
            ),
            phone: format!("+2547{:08}", r.below(100_000_000)),
            village: r.pick(VILLAGES).into(),
            program: "phq9-followup".into(),
            enrolled_at: iso(at),
            consent: ConsentDoc {
                given: true,
                at: iso(at),
                method: "verbal".into(),
            },
            reported_date: at,
            notes: note(r),
        };
        let (client, course, extra) =
            map_enrollment(&doc, self.worker).map_err(BenchError::Verify)?;
        self.clients.push(SimClient {
            id: doc.client_id,
            course: doc.id,
            sessions: 0,
        });
        out.push(self.op_with(&client, extra)?);
        out.push(self.op(&course)?);
        Ok(())
    }

    fn visit(&mut self, out: &mut Vec<Operation>) -> Result<()> {
        let i = self.rng.below(self.clients.len() as u64) as usize;
        let c = &mut self.clients[i];
        c.sessions = if c.sessions >= ipc_core::model::HARD_MAX_SESSIONS {
            1
        } else {
            c.sessions + 1
        };
        let (client_id, course, number) = (c.id, c.course, c.sessions);
        let base = self.base_ms();
        let r = &mut self.rng;
        let start = base + 30 * 86_400_000 + i64::from(number) * 3 * 86_400_000;
        let dur = 25 + r.below(40) as i64;
        let session = SessionDoc {
            id: r.uuid(),
            client_id,
            enrollment_id: course,
            chw_id: self.chw.clone(),
            facility_id: "fac-001".into(),
            session_no: number,
            scheduled_for: iso(start)[..10].to_string(),
            started_at: iso(start),
            ended_at: iso(start + dur * 60_000),
            duration_min: dur as u32,
            modality: r
                .pick(&["home_visit", "home_visit", "phone", "facility"])
                .into(),
            location: LocationDoc {
                lat: -1.28 + r.unit() * 0.1,
                lon: 36.82 + r.unit() * 0.1,
                acc_m: 5 + r.below(40) as u32,
            },
            reported_date: start + dur * 60_000,
            notes: note(r),
        };
        let answers: Vec<u8> = (0..9).map(|_| r.below(4) as u8).collect();
        let total: u16 = answers.iter().map(|a| u16::from(*a)).sum();
        let severity = SEVERITY
            .iter()
            .find(|(max, _)| total <= *max)
            .map_or("severe", |(_, s)| s);
        let phq9 = Phq9Doc {
            id: r.uuid(),
            form: "PHQ-9".into(),
            form_version: 3,
            client_id,
            session_id: session.id,
            chw_id: self.chw.clone(),
            item9_flag: answers[8] > 0,
            answers,
            total_score: total,
            severity: severity.into(),
            started_at: iso(start + 5 * 60_000),
            completed_at: iso(start + 12 * 60_000),
            reported_date: start + 12 * 60_000,
            notes: note(r),
        };
        let (s, sx) = map_session(&session).map_err(BenchError::Verify)?;
        let (q, qx) = map_phq9(&phq9, CourseId::from_uuid(course)).map_err(BenchError::Verify)?;
        out.push(self.op_with(&s, sx)?);
        out.push(self.op_with(&q, qx)?);
        Ok(())
    }

    /// At least `n` new operations (whole records: a client or a visit is never split).
    pub fn batch(&mut self, n: usize) -> Result<Vec<Operation>> {
        let mut out = Vec::with_capacity(n + 4);
        while out.len() < n {
            if self.clients.len() < self.caseload
                && (self.clients.is_empty() || self.rng.below(4) == 0)
            {
                self.new_client(&mut out)?;
            } else {
                self.visit(&mut out)?;
            }
        }
        Ok(out)
    }
}

/// A batch of operations, serialised once (a JSON array) so that the generator spends no
/// CPU making it while the server is measured; `len` operations.
#[derive(Clone, Debug)]
pub struct Batch {
    json: Vec<u8>,
    len: usize,
}

impl Batch {
    /// Serialise `ops`.
    pub fn new(ops: &[Operation]) -> Result<Batch> {
        Ok(Batch {
            json: serde_json::to_vec(ops)?,
            len: ops.len(),
        })
    }

    /// Operations in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The request body for `batch` (a `SyncRequest`), gzip-compressed (fast level: the
/// generator's CPU is not the server's).
pub fn request_body(cursor: u64, batch: &Batch, pull_limit: u32) -> Vec<u8> {
    let head = format!(
        "{{\"version\":{PROTOCOL_VERSION},\"cursor\":{cursor},\"pull_limit\":{pull_limit},\"device_time_ms\":{},\"ops\":",
        chrono::Utc::now().timestamp_millis()
    );
    let mut gz = GzEncoder::new(
        Vec::with_capacity(batch.json.len() / 3),
        Compression::fast(),
    );
    gz.write_all(head.as_bytes())
        .and_then(|()| gz.write_all(&batch.json))
        .and_then(|()| gz.write_all(b"}"))
        .and_then(|()| gz.finish())
        .unwrap_or_default()
}

/// Settings of one load run.
#[derive(Clone, Debug, Serialize)]
pub struct LoadConfig {
    /// Operations per push.
    pub batch_ops: usize,
    /// Target time between sync starts per device.
    pub interval: Duration,
    /// Not measured at the start.
    pub warmup: Duration,
    /// Measured.
    pub duration: Duration,
    /// Clients per device.
    pub caseload: usize,
    /// Most operations pulled per round trip.
    pub pull_limit: u32,
}

/// What one device measured.
#[derive(Clone, Debug, Default)]
pub struct DeviceResult {
    /// Round-trip latencies (ms) of syncs that started in the measured window.
    pub latencies_ms: Vec<f64>,
    /// Operations acknowledged in the measured window.
    pub acked_in_window: u64,
    /// Operations acknowledged in total.
    pub acked_total: u64,
    /// Operations sent in total.
    pub sent_total: u64,
    /// Operations pulled.
    pub pulled: u64,
    /// Refused operations.
    pub rejected: u64,
    /// Requests that failed (transport error or non-200).
    pub errors: u64,
    /// First error, for the report (no content).
    pub first_error: Option<String>,
    /// Requests sent.
    pub requests: u64,
    /// Operations of a last request that failed without an answer: the server may or may
    /// not have stored them.
    pub in_doubt: u64,
}

/// An enrolled simulated device.
pub struct Device {
    agent: ureq::Agent,
    url: String,
    token: String,
    source: OpSource,
    cursor: u64,
    prepared: std::collections::VecDeque<Batch>,
}

impl Device {
    /// Enrol with `code` at `base_url` and make the device.
    pub fn enrol(base_url: &str, code: &str, seed: u64, caseload: usize) -> Result<Device> {
        let device = DeviceId::new();
        let reply = request_enrolment(base_url, code, device)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(Device {
            agent,
            url: format!("{}{}", base_url.trim_end_matches('/'), SYNC_PATH),
            token: reply.token,
            source: OpSource::new(device, reply.worker_id, seed, caseload),
            cursor: 0,
            prepared: std::collections::VecDeque::new(),
        })
    }

    /// Make, before the run starts, the batches the device will send in a paced run of
    /// `cfg` (the mean interval is `cfg.interval`; a few more for the jitter), so that making
    /// them does not compete with the server for the machine's CPU while it is measured. A
    /// closed-loop run (no interval) makes its batches as it goes; so does a paced run that
    /// uses them all up.
    pub fn prepare(&mut self, cfg: &LoadConfig) -> Result<()> {
        if cfg.interval.is_zero() {
            return Ok(());
        }
        let run = (cfg.warmup + cfg.duration).as_secs_f64() / cfg.interval.as_secs_f64();
        let n = (run * 1.2).ceil() as usize + 2;
        for _ in 0..n {
            let ops = self.source.batch(cfg.batch_ops)?;
            self.prepared.push_back(Batch::new(&ops)?);
        }
        Ok(())
    }

    fn round_trip(&mut self, body: &[u8]) -> std::result::Result<SyncResponse, String> {
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .header("Accept-Encoding", "gzip")
            .send(body)
            .map_err(|e| format!("transport: {e}"))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(ipc_core::sync::wire::MAX_BODY_BYTES as u64)
            .read_to_vec()
            .map_err(|e| format!("transport: {e}"))?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        decode::<SyncResponse>(&bytes).map_err(|e| format!("reply: {e}"))
    }

    /// Run until `end`, measuring syncs that start at or after `measure_from`.
    pub fn run(
        mut self,
        cfg: &LoadConfig,
        seed: u64,
        measure_from: Instant,
        end: Instant,
    ) -> DeviceResult {
        let mut out = DeviceResult::default();
        let mut rng = Rng::new(seed ^ 0x5eed);
        // Spread the first syncs over one interval.
        let mut next = Instant::now() + cfg.interval.mul_f64(rng.unit());
        let max_requests = 1 + (cfg.warmup + cfg.duration).as_millis() as u64 * 20;
        let mut pending: Option<Batch> = None;
        let mut last_failed = false;
        while out.requests < max_requests {
            let batch = match pending.take().or_else(|| self.prepared.pop_front()) {
                Some(b) => b,
                None => match self
                    .source
                    .batch(cfg.batch_ops)
                    .and_then(|ops| Batch::new(&ops))
                {
                    Ok(b) => b,
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| e.to_string());
                        break;
                    }
                },
            };
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
            let start = Instant::now();
            if start >= end {
                pending = Some(batch);
                break;
            }
            next = start + cfg.interval.mul_f64(0.5 + rng.unit());
            let body = request_body(self.cursor, &batch, cfg.pull_limit);
            let t0 = Instant::now();
            let result = self.round_trip(&body);
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            out.requests += 1;
            match result {
                Ok(reply) => {
                    let acked = reply.acked.len() as u64;
                    out.sent_total += batch.len() as u64;
                    out.acked_total += acked;
                    out.rejected += reply.rejected.len() as u64;
                    out.pulled += reply.ops.len() as u64;
                    if out.first_error.is_none() {
                        if let Some(r) = reply.rejected.first() {
                            out.first_error = Some(format!("rejected: {}", r.code.as_str()));
                        }
                    }
                    self.cursor = reply.cursor;
                    last_failed = false;
                    if start >= measure_from {
                        out.latencies_ms.push(ms);
                        out.acked_in_window += acked;
                    }
                }
                Err(e) => {
                    out.errors += 1;
                    last_failed = true;
                    out.first_error.get_or_insert(e);
                    // Resend the same batch after a pause (the server stores each op once).
                    next = Instant::now() + Duration::from_millis(500);
                    pending = Some(batch);
                }
            }
        }
        if last_failed {
            out.in_doubt = pending.map_or(0, |b| b.len() as u64);
        }
        out
    }
}

/// CPU time of a process (user + system), ms, from `/proc/PID/stat`.
pub fn process_cpu_ms(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = text.rfind(')') else {
        return 0;
    };
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get(11) + get(12)) * 10
}

/// Busy and total CPU time of the whole machine (ms summed over cores), from `/proc/stat`.
pub fn machine_cpu_ms() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    ((total - idle) * 10, total * 10)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use ipc_core::store::apply::validate;
    use ipc_core::sync::wire::SyncRequest;

    #[test]
    fn batches_are_valid_scoped_and_ordered() {
        let device = DeviceId::new();
        let worker = WorkerId::new();
        let mut src = OpSource::new(device, worker, 7, 5);
        let mut clients = std::collections::HashSet::new();
        let mut last = None;
        for _ in 0..20 {
            let batch = src.batch(60).unwrap();
            assert!(batch.len() >= 60 && batch.len() < 64);
            for op in &batch {
                validate(op).unwrap();
                assert_eq!(op.device_id, device);
                assert_eq!(op.author, worker);
                if op.entity == ipc_core::sync::op::EntityKind::Client {
                    clients.insert(op.scope);
                } else {
                    assert!(clients.contains(&op.scope), "an op before its client");
                }
                if let Some(prev) = last {
                    assert!(op.hlc > prev, "HLCs strictly increase");
                }
                last = Some(op.hlc);
            }
        }
        assert_eq!(clients.len(), 5, "caseload bound");
        let body = request_body(3, &Batch::new(&src.batch(10).unwrap()).unwrap(), 1000);
        let req: SyncRequest = decode(&body).unwrap();
        assert_eq!(req.cursor, 3);
        assert!(req.ops.len() >= 10);
    }
}
