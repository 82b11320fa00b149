//! Benchmarks of the encrypted store (issue 2): recording a complete session against a raw
//! SQLite insert of the same bytes, the decrypted caseload of 500 clients × 8 sessions, the
//! calibrated unlock, and open (+ migrate) without the KDF. Results and targets are in
//! `docs/benchmarks.md`.
//!
//! Run with `cargo bench -p ipc-core --bench store`. Besides criterion's own report, the
//! bench prints `summary:` lines: medians of interleaved runs (ours and raw alternating in
//! one loop, so both see the same machine noise) and the ratio, which criterion does not
//! compute. Every store lives in a temporary directory on a real file system and pays the
//! fsync of `synchronous = FULL`. Synthetic data only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use ipc_core::clock::{Clock, ManualClock};
use ipc_core::model::{
    Answer, Attendance, Client, Course, CourseId, CourseStatus, DisputeStage, Modality, NewClient,
    NewCourse, NewQuestionnaireResponse, NewRiskEvent, NewSession, Phase, ProblemArea,
    QuestionnaireResponse, ResponseContext, RiskEvent, RiskStatus, RiskTrigger, Role, Session, Sex,
    WorkerId,
};
use ipc_core::store::attempts::AttemptFile;
use ipc_core::store::crypto::{Aad, DataKey, FieldCipher};
use ipc_core::store::db::PRAGMAS;
use ipc_core::store::keys::{AttemptState, KdfParams, PinPolicy, DEFAULT_KDF_TARGET};
use ipc_core::store::secret::FileSecretStore;
use ipc_core::store::{Filter, NewWorker, Store, StoreConfig, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use tempfile::TempDir;
use uuid::Uuid;

const PIN: &str = "482913";
/// PBKDF2 iterations of the stores whose unlock should cost nothing (as in the test fixtures).
const TINY_KDF: u32 = 1_000;
const CASELOAD_CLIENTS: usize = 500;
const SESSIONS_PER_COURSE: u8 = 8;
/// Sessions already held in each course of the caseload dataset (the rest are planned).
const HELD_PER_COURSE: u8 = 5;
/// Interleaved pairs timed for the `record_session` summary line.
const RECORD_PAIRS: usize = 1_000;
/// Runs of each alone for the back-to-back `record_session` summary line.
const SEQUENTIAL_RUNS: usize = 300;

// ---------------------------------------------------------------------------------------------
// Fixtures

struct Fixture {
    _dir: TempDir,
    path: PathBuf,
    clock: Arc<ManualClock>,
    store: Store,
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn config(clock: &Arc<ManualClock>) -> StoreConfig {
    StoreConfig {
        pin_policy: PinPolicy::default(),
        clock: clock.clone(),
    }
}

fn new_store(kdf: &KdfParams) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    let clock = Arc::new(ManualClock::new(start_time()));
    let secrets = Arc::new(FileSecretStore::beside(&path).unwrap());
    let worker = NewWorker {
        id: WorkerId::new(),
        display_name: "Worker Synthetic".into(),
        role: Role::Worker,
        team: "team-a".into(),
    };
    let (store, _recovery) =
        Store::create(&path, secrets, PIN, &worker, kdf, config(&clock)).unwrap();
    Fixture {
        _dir: dir,
        path,
        clock,
        store,
    }
}

fn open_store(path: &Path, clock: &Arc<ManualClock>) -> Store {
    let secrets = Arc::new(FileSecretStore::beside(path).unwrap());
    Store::open(path, secrets, config(clock)).unwrap()
}

fn today(f: &Fixture) -> NaiveDate {
    f.clock.today()
}

fn at(day: NaiveDate, hour: u32) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
}

fn client(f: &Fixture, n: usize) -> Client {
    let today = today(f);
    Client::new(
        NewClient {
            display_name: format!("Client {n:03} Synthetic"),
            sex: Some(if n % 2 == 0 { Sex::Female } else { Sex::Male }),
            birth_year: Some(1960 + i32::try_from(n % 40).unwrap()),
            phone: Some("0712 345 678".into()),
            village: Some(format!("Village {}", n % 17)),
            address: None,
            consent: None,
            assigned_worker: f.store.identity().worker_id,
            registered_on: today,
        },
        today,
    )
    .unwrap()
}

fn course(f: &Fixture, c: &Client, enrolled_on: NaiveDate) -> Course {
    Course::new(
        NewCourse {
            client_id: c.id,
            worker_id: f.store.identity().worker_id,
            enrolled_on,
            planned_sessions: SESSIONS_PER_COURSE,
            problem_areas: vec![ProblemArea::Disputes],
            dispute_stage: Some(DisputeStage::Renegotiation),
            status: CourseStatus::Middle,
            end_reason: None,
            end_note: None,
            ended_on: None,
            extension_reason: None,
        },
        today(f),
    )
    .unwrap()
}

const NOTES: &str = "Client reports arguing less with her sister since the last session. \
Reviewed the week: two good days, one bad day after a quarrel about money. Role-played how to \
raise the school fees question calmly; client practised twice and felt more confident. \
Discussed who else can help (a neighbour, the church group). Mood somewhat better; sleep \
still poor. No thoughts of self-harm reported today. Agreed to talk with the sister on Sunday.";

/// A held session (`held` on `day`) or a planned one, of course `co`.
fn session(client: &Client, co: CourseId, number: u8, day: NaiveDate, held: bool) -> Session {
    let phase = match number {
        1 => Phase::Initial,
        n if n == SESSIONS_PER_COURSE => Phase::Termination,
        _ => Phase::Middle,
    };
    let today = start_time().date_naive();
    let input = if held {
        NewSession {
            course_id: co,
            client_id: client.id,
            number,
            phase,
            planned_date: Some(day),
            held_at: Some(at(day, 10)),
            attendance: Some(Attendance::Attended),
            modality: Some(Modality::InPerson),
            steps_done: vec![
                "check_in".into(),
                "phq9".into(),
                "problem_area_work".into(),
                "task_review".into(),
            ],
            steps_skipped: Vec::new(),
            notes: Some(NOTES.into()),
            task: Some("Talk calmly with the sister about the school fees".into()),
            completed: true,
        }
    } else {
        NewSession {
            course_id: co,
            client_id: client.id,
            number,
            phase,
            planned_date: Some(day),
            held_at: None,
            attendance: None,
            modality: None,
            steps_done: Vec::new(),
            steps_skipped: Vec::new(),
            notes: None,
            task: None,
            completed: false,
        }
    };
    Session::new(input, today).unwrap()
}

/// The PHQ-9 (9 answers) administered in `s`.
fn phq9(s: &Session, seed: usize) -> QuestionnaireResponse {
    let answers: Vec<Answer> = (1..=9u8)
        .map(|i| Answer {
            item: format!("phq9_{i}"),
            value: u8::try_from((seed + usize::from(i)) % 3).unwrap(),
        })
        .collect();
    let total: u16 = answers.iter().map(|a| u16::from(a.value)).sum();
    let band = match total {
        0..=4 => "minimal",
        5..=9 => "mild",
        10..=14 => "moderate",
        15..=19 => "moderately_severe",
        _ => "severe",
    };
    QuestionnaireResponse::new(
        NewQuestionnaireResponse {
            client_id: s.client_id,
            course_id: Some(s.course_id),
            session_id: Some(s.id),
            context: ResponseContext::Session,
            instrument: "phq9".into(),
            instrument_version: "1.0".into(),
            answers,
            total: Some(total),
            band: Some(band.into()),
            flags: Vec::new(),
            administered_at: s.held_at.unwrap(),
        },
        start_time().date_naive(),
    )
    .unwrap()
}

fn open_risk(c: &Client, co: CourseId, opened: NaiveDateTime) -> RiskEvent {
    RiskEvent::new(
        NewRiskEvent {
            client_id: c.id,
            course_id: Some(co),
            session_id: None,
            trigger: RiskTrigger::WorkerConcern,
            opened_at: opened,
            observation: Some("Client said she sometimes wishes she could disappear.".into()),
            assessment: None,
            status: RiskStatus::Open,
            closed_at: None,
        },
        start_time().date_naive(),
    )
    .unwrap()
}

/// Sessions to record as a caseload grows: a new client with a course every 8 sessions, then
/// its sessions 1 to 8 (held today), each with its PHQ-9 — what a worker records at the end of
/// a session. So the store fills like a real one, not with thousands of sessions in one course.
struct SessionSource {
    n: usize,
    current: Option<(Client, Course)>,
}

impl SessionSource {
    fn new() -> Self {
        SessionSource {
            n: 0,
            current: None,
        }
    }

    /// The next session and response. When a new client starts and `create` is set, the
    /// client and course are written to `f`'s store first (callers keep that out of the timing).
    fn next(&mut self, f: &Fixture, create: bool) -> (Session, QuestionnaireResponse) {
        let k = self.n % usize::from(SESSIONS_PER_COURSE);
        if k == 0 || self.current.is_none() {
            let c = client(f, self.n);
            let co = course(f, &c, today(f) - Days::new(60));
            if create {
                f.store
                    .write(|w| {
                        w.create(&c)?;
                        w.create(&co)?;
                        Ok::<_, StoreError>(())
                    })
                    .unwrap();
            }
            self.current = Some((c, co));
        }
        let (c, co) = self.current.as_ref().unwrap();
        let number = u8::try_from(k).unwrap() + 1;
        let s = session(c, co.id, number, today(f), true);
        let r = phq9(&s, self.n);
        self.n += 1;
        (s, r)
    }
}

fn plaintext(s: &Session, r: &QuestionnaireResponse) -> (Vec<u8>, Vec<u8>) {
    (
        serde_json::to_vec(s).unwrap(),
        serde_json::to_vec(r).unwrap(),
    )
}

// ---------------------------------------------------------------------------------------------
// The raw SQLite baseline: same pragmas, one transaction, the same plaintext bytes.

struct Raw {
    _dir: TempDir,
    path: PathBuf,
    conn: Connection,
}

fn raw_db(synchronous_off: bool) -> Raw {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.db");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(PRAGMAS).unwrap();
    if synchronous_off {
        conn.execute_batch("PRAGMA synchronous = OFF;").unwrap();
    }
    conn.execute_batch("CREATE TABLE raw (body BLOB NOT NULL);")
        .unwrap();
    Raw {
        _dir: dir,
        path,
        conn,
    }
}

fn raw_insert(raw: &mut Raw, session: &[u8], response: &[u8]) {
    let tx = raw
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    {
        let mut stmt = tx
            .prepare_cached("INSERT INTO raw (body) VALUES (?1)")
            .unwrap();
        stmt.execute([session]).unwrap();
        stmt.execute([response]).unwrap();
    }
    tx.commit().unwrap();
}

/// WAL pages appended by `write` on the database at `db`: empties the WAL first (through a
/// side connection), runs `write`, and counts the frames in the WAL file.
fn wal_pages(db: &Path, write: impl FnOnce()) -> u64 {
    let side = Connection::open(db).unwrap();
    side.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let page: u64 = side
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    write();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let bytes = std::fs::metadata(PathBuf::from(wal)).unwrap().len();
    // A 32-byte WAL header, then frames of a 24-byte header and one page.
    bytes.saturating_sub(32) / (24 + page)
}

fn record(store: &Store, s: &Session, r: &QuestionnaireResponse) {
    store
        .write(|w| {
            w.create(s)?;
            w.create(r)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Summary statistics

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Mean and 99th percentile.
fn mean_p99(v: &[Duration]) -> (Duration, Duration) {
    let mut sorted = v.to_vec();
    sorted.sort();
    let total: Duration = v.iter().sum();
    let mean = total / u32::try_from(v.len()).unwrap();
    (mean, sorted[sorted.len() * 99 / 100])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

// ---------------------------------------------------------------------------------------------
// 1. Recording a complete session

fn record_session(c: &mut Criterion) {
    let ours = new_store(&KdfParams::insecure_for_tests(TINY_KDF));
    let mut source = SessionSource::new();
    let mut raw = raw_db(false);
    let mut raw_nosync = raw_db(true);

    let (s, r) = SessionSource::new().next(&ours, false);
    let (sb, rb) = plaintext(&s, &r);
    println!(
        "summary: record_session plaintext: session {} B + response {} B = {} B",
        sb.len(),
        rb.len(),
        sb.len() + rb.len()
    );

    // Interleaved: ours then raw in one loop, so machine noise hits both alike. Also the time
    // spent inside our transaction before the commit (validation, crypto, SQL).
    let mut t_ours = Vec::with_capacity(RECORD_PAIRS);
    let mut t_inner = Vec::with_capacity(RECORD_PAIRS);
    let mut t_raw = Vec::with_capacity(RECORD_PAIRS);
    for i in 0..RECORD_PAIRS + 10 {
        let (s, r) = source.next(&ours, true);
        let (sb, rb) = plaintext(&s, &r);
        let mut inner = Duration::ZERO;
        let (d_ours, ()) = time(|| {
            ours.store
                .write(|w| {
                    let start = Instant::now();
                    w.create(&s)?;
                    w.create(&r)?;
                    inner = start.elapsed();
                    Ok::<_, StoreError>(())
                })
                .unwrap()
        });
        let (d_raw, ()) = time(|| raw_insert(&mut raw, &sb, &rb));
        if i >= 10 {
            // The first rounds warm caches and the statement cache.
            t_ours.push(d_ours);
            t_inner.push(inner);
            t_raw.push(d_raw);
        }
    }
    let ((a_ours, p_ours), (a_raw, p_raw)) = (mean_p99(&t_ours), mean_p99(&t_raw));
    let (m_ours, m_raw) = (median(t_ours), median(t_raw));
    let m_inner = median(t_inner);
    println!(
        "summary: record_session: ours {:.3} ms, raw {:.3} ms, ratio {:.2} (target <= 3.00; \
         medians of {RECORD_PAIRS} interleaved runs)",
        ms(m_ours),
        ms(m_raw),
        m_ours.as_secs_f64() / m_raw.as_secs_f64()
    );
    println!(
        "summary: record_session means (with the WAL checkpoints they trigger): ours {:.3} ms, \
         raw {:.3} ms, ratio {:.2}; p99 ours {:.3} ms, raw {:.3} ms",
        ms(a_ours),
        ms(a_raw),
        a_ours.as_secs_f64() / a_raw.as_secs_f64(),
        ms(p_ours),
        ms(p_raw)
    );

    // Back to back (each alone, as criterion runs them), and raw without fsync.
    let m_seq_ours = median(
        (0..SEQUENTIAL_RUNS)
            .map(|_| {
                let (s, r) = source.next(&ours, true);
                time(|| record(&ours.store, &s, &r)).0
            })
            .collect(),
    );
    let mut bytes_source = SessionSource::new();
    let mut sequential_raw = |raw: &mut Raw| {
        median(
            (0..SEQUENTIAL_RUNS)
                .map(|_| {
                    let (s, r) = bytes_source.next(&ours, false);
                    let (sb, rb) = plaintext(&s, &r);
                    time(|| raw_insert(raw, &sb, &rb)).0
                })
                .collect(),
        )
    };
    let m_seq_raw = sequential_raw(&mut raw);
    let m_nosync = sequential_raw(&mut raw_nosync);
    println!(
        "summary: record_session back to back ({SEQUENTIAL_RUNS} each): ours {:.3} ms, raw {:.3} \
         ms, ratio {:.2}; raw with synchronous=OFF {:.3} ms, so raw fsync ~{:.3} ms",
        ms(m_seq_ours),
        ms(m_seq_raw),
        m_seq_ours.as_secs_f64() / m_seq_raw.as_secs_f64(),
        ms(m_nosync),
        ms(m_seq_raw.saturating_sub(m_nosync))
    );
    println!(
        "summary: record_session parts: ours before commit {:.3} ms (validation, JSON, AES-GCM, \
         SQL), so commit (WAL write + fsync) ~{:.3} ms of the interleaved median",
        ms(m_inner),
        ms(m_ours.saturating_sub(m_inner)),
    );
    let (s, r) = source.next(&ours, true);
    let (sb, rb) = plaintext(&s, &r);
    let ours_pages = wal_pages(&ours.path, || record(&ours.store, &s, &r));
    let raw_path = raw.path.clone();
    let raw_pages = wal_pages(&raw_path, || raw_insert(&mut raw, &sb, &rb));
    println!(
        "summary: record_session WAL pages written per commit: ours {ours_pages}, raw {raw_pages}"
    );

    let mut g = c.benchmark_group("record_session");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sampling_mode(SamplingMode::Flat);
    g.bench_function("ours_write_session_and_phq9", |b| {
        b.iter_batched(
            || source.next(&ours, true),
            |(s, r)| record(&ours.store, &s, &r),
            BatchSize::SmallInput,
        );
    });
    let mut bytes_source = SessionSource::new();
    g.bench_function("raw_sqlite_same_bytes", |b| {
        b.iter_batched(
            || {
                let (s, r) = bytes_source.next(&ours, false);
                plaintext(&s, &r)
            },
            |(sb, rb)| raw_insert(&mut raw, &sb, &rb),
            BatchSize::SmallInput,
        );
    });
    g.finish();

    let mut g = c.benchmark_group("client");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat);
    let mut n = 0usize;
    g.bench_function("create_one", |b| {
        b.iter_batched(
            || {
                n += 1;
                client(&ours, n)
            },
            |cl| ours.store.add(&cl).unwrap(),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// 2. Caseload of 500 clients × 8 sessions, then 3b. open without the KDF (on that store)

/// 500 clients, each with a course of 8 sessions (5 held, 3 planned); every 10th client has
/// an open risk event and every 20th a closed-off second one. One write transaction per client.
fn build_caseload(f: &Fixture) -> CourseId {
    let today = today(f);
    let mut first_course = None;
    for n in 0..CASELOAD_CLIENTS {
        let cl = client(f, n);
        let enrolled = today - Days::new(60 + u64::try_from(n % 30).unwrap());
        let co = course(f, &cl, enrolled);
        first_course.get_or_insert(co.id);
        let sessions: Vec<Session> = (1..=SESSIONS_PER_COURSE)
            .map(|k| {
                let day = enrolled + Days::new(7 * u64::from(k));
                session(&cl, co.id, k, day, k <= HELD_PER_COURSE)
            })
            .collect();
        f.store
            .write(|w| {
                w.create(&cl)?;
                w.create(&co)?;
                for s in &sessions {
                    w.create(s)?;
                }
                if n % 10 == 0 {
                    w.create(&open_risk(&cl, co.id, at(enrolled + Days::new(14), 11)))?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    first_course.unwrap()
}

fn caseload_and_open(c: &mut Criterion) {
    let f = new_store(&KdfParams::insecure_for_tests(TINY_KDF));
    let (build, first_course) = time(|| build_caseload(&f));
    let db_bytes = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
    let rows = f.store.caseload().unwrap();
    assert_eq!(rows.len(), CASELOAD_CLIENTS);
    assert_eq!(rows.iter().map(|r| r.open_risk_events).sum::<u32>(), 50);
    assert!(rows
        .iter()
        .all(|r| r.sessions_held == u32::from(HELD_PER_COURSE) && r.next_planned.is_some()));
    let sessions: Vec<Session> = f
        .store
        .list(Filter::Course(first_course.as_uuid()))
        .unwrap();
    assert_eq!(sessions.len(), usize::from(SESSIONS_PER_COURSE));
    println!(
        "summary: caseload dataset: {CASELOAD_CLIENTS} clients x {SESSIONS_PER_COURSE} sessions \
         + course each + 50 risk events, built in {:.1} s, database {} KiB",
        build.as_secs_f64(),
        db_bytes / 1024
    );

    let t: Vec<Duration> = (0..40)
        .map(|_| time(|| black_box(f.store.caseload().unwrap())).0)
        .collect();
    println!(
        "summary: caseload_500x8: median {:.3} ms (target <= 16 ms; 40 runs)",
        ms(median(t))
    );

    // Part of the caseload: the per-client decryption (name and village), done alone.
    let cipher = FieldCipher::new(&DataKey::generate().unwrap()).unwrap();
    let sealed: Vec<(Uuid, Vec<u8>, Vec<u8>)> = rows
        .iter()
        .map(|r| {
            let id = r.client_id.as_uuid();
            let seal = |col: &str, v: &str| {
                let plain = serde_json::to_vec(v).unwrap();
                cipher
                    .seal(&Aad::field("clients", id.as_bytes(), col), &plain)
                    .unwrap()
            };
            (
                id,
                seal("display_name", &r.display_name),
                seal("village", r.village.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let t: Vec<Duration> = (0..40)
        .map(|_| {
            time(|| {
                for (id, name, village) in &sealed {
                    for (col, ct) in [("display_name", name), ("village", village)] {
                        let aad = Aad::field("clients", id.as_bytes(), col);
                        let plain = cipher.open(&aad, ct).unwrap();
                        black_box(serde_json::from_slice::<serde_json::Value>(&plain).unwrap());
                    }
                }
            })
            .0
        })
        .collect();
    println!(
        "summary: caseload parts: the {} field decryptions alone (AES-GCM open + JSON) {:.3} ms; \
         the rest is SQL and row building",
        2 * sealed.len(),
        ms(median(t))
    );

    let mut g = c.benchmark_group("caseload_500x8");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("caseload_decrypted", |b| {
        b.iter(|| black_box(f.store.caseload().unwrap()));
    });
    g.bench_function("list_sessions_of_one_course", |b| {
        b.iter(|| {
            let s: Vec<Session> = f
                .store
                .list(Filter::Course(first_course.as_uuid()))
                .unwrap();
            black_box(s)
        });
    });
    g.finish();

    // 3b. Open (+ migrate) the populated store without the KDF. The store is closed between
    // runs (as when the app starts); closing (WAL checkpoint) is timed separately.
    let Fixture {
        _dir: dir,
        path,
        clock,
        store,
    } = f;
    drop(store);
    let mut t_open = Vec::new();
    let mut t_open_unlock = Vec::new();
    let mut t_close = Vec::new();
    for _ in 0..30 {
        let (d, s) = time(|| open_store(&path, &clock));
        t_open.push(d);
        t_close.push(time(|| drop(s)).0);
        let (d, s) = time(|| {
            let s = open_store(&path, &clock);
            s.unlock(PIN).unwrap();
            s
        });
        t_open_unlock.push(d);
        drop(s);
    }
    println!(
        "summary: open (500-client store, no KDF): open {:.3} ms, open+unlock (PBKDF2 {TINY_KDF} \
         iterations) {:.3} ms (target <= 50 ms); close {:.3} ms (medians of 30)",
        ms(median(t_open)),
        ms(median(t_open_unlock)),
        ms(median(t_close))
    );
    // Part of unlock: the wrong-PIN counter file is saved durably twice per unlock.
    let counter = AttemptFile::beside(&dir.path().join("probe.db")).unwrap();
    let t_save: Vec<Duration> = (0..30)
        .map(|_| time(|| counter.save(&AttemptState::default()).unwrap()).0)
        .collect();
    println!(
        "summary: unlock parts: one PIN-attempt counter save (file fsync + rename + dir fsync) \
         {:.3} ms; unlock saves it twice and commits one audit row",
        ms(median(t_save))
    );

    let mut g = c.benchmark_group("open");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sampling_mode(SamplingMode::Flat);
    g.bench_function("open_and_migrate", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (d, s) = time(|| open_store(&path, &clock));
                total += d;
                drop(s);
            }
            total
        });
    });
    g.bench_function("open_and_unlock_tiny_kdf", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (d, s) = time(|| {
                    let s = open_store(&path, &clock);
                    s.unlock(PIN).unwrap();
                    s
                });
                total += d;
                drop(s);
            }
            total
        });
    });
    g.finish();
    drop(dir);
}

// ---------------------------------------------------------------------------------------------
// 3a. Unlock with the calibrated PBKDF2 cost

fn unlock_calibrated(c: &mut Criterion) {
    let kdf = KdfParams::calibrate(DEFAULT_KDF_TARGET);
    let f = new_store(&kdf);
    f.store.lock().unwrap();
    let t: Vec<Duration> = (0..5)
        .map(|_| time(|| f.store.unlock(PIN).unwrap()).0)
        .collect();
    println!(
        "summary: unlock calibrated: {} PBKDF2 iterations for a {} ms target, unlock median \
         {:.1} ms (5 runs)",
        kdf.iterations,
        DEFAULT_KDF_TARGET.as_millis(),
        ms(median(t))
    );

    let mut g = c.benchmark_group("unlock");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);
    g.bench_function("calibrated_pbkdf2", |b| {
        b.iter(|| f.store.unlock(PIN).unwrap());
    });
    g.finish();
}

criterion_group!(
    benches,
    record_session,
    caseload_and_open,
    unlock_calibrated
);
criterion_main!(benches);
