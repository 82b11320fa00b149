//! Real processes, real crashes: a device process syncing over HTTP is killed with SIGKILL
//! at random moments, and so is the server process in the middle of requests; both restart.
//! Afterwards nothing is lost and nothing is doubled: the server holds every operation of
//! the device exactly once, the device's outbox is empty, and a supervisor's device that
//! syncs from scratch holds the same records.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ipc_core::clock::SystemClock;
use ipc_core::model::*;
use ipc_core::store::{Filter, Store, StoreError};
use ipc_core::sync::engine::{HttpRequest, SyncConfig, SyncEngine, Transport};
use ipc_core::sync::http::UreqTransport;
use ipc_core::sync::wire::{
    decode, encode, EnrolRequest, EnrolResponse, ENROL_PATH, PROTOCOL_VERSION,
};
use ipc_e2e::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

struct Server {
    child: Child,
    url: String,
}

fn start_server(db: &Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_e2e-server"))
        .arg(db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .strip_prefix("listening ")
        .unwrap()
        .parse()
        .unwrap();
    Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill(); // SIGKILL on unix
    let _ = child.wait();
}

fn run_device(db: &Path, url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_e2e-device"))
        .arg(db)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn output(child: Child) -> String {
    String::from_utf8_lossy(&child.wait_with_output().unwrap().stdout).into_owned()
}

fn enrol(store: &Store, url: &str, code: String) {
    let t = UreqTransport::new(url, Duration::from_secs(5));
    let req = EnrolRequest {
        version: PROTOCOL_VERSION,
        code,
        device_id: store.identity().device_id,
    };
    let resp = t
        .send(HttpRequest {
            method: "POST".into(),
            path: ENROL_PATH.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: encode(&req),
        })
        .unwrap();
    assert_eq!(resp.status, 200);
    let e: EnrolResponse = decode(&resp.body).unwrap();
    store
        .set_enrolment(
            &ipc_core::store::Enrolment {
                server: url.into(),
                worker_id: e.worker_id,
                role: e.role,
                team: e.team,
            },
            &e.token,
        )
        .unwrap();
}

/// Offline work: `n` clients, each with a course and two sessions, one with notes.
fn write_clients(store: &Store, worker: WorkerId, n: usize, rng: &mut ChaCha8Rng) {
    for _ in 0..n {
        let label = rng.random::<u32>();
        store
            .write(|w| {
                let today = Utc::now().date_naive();
                let client = Client {
                    id: ClientId::new(),
                    display_name: format!("Synthetic {label}"),
                    sex: None,
                    birth_year: Some(1985),
                    phone: None,
                    village: Some("Village".into()),
                    address: None,
                    consent: None,
                    assigned_worker: worker,
                    registered_on: today,
                };
                w.create(&client)?;
                let course = Course {
                    id: CourseId::new(),
                    client_id: client.id,
                    worker_id: worker,
                    enrolled_on: today,
                    planned_sessions: 6,
                    problem_areas: vec![ProblemArea::Grief],
                    dispute_stage: None,
                    status: CourseStatus::Enrolled,
                    end_reason: None,
                    end_note: None,
                    ended_on: None,
                    extension_reason: None,
                };
                w.create(&course)?;
                for number in 1..=2 {
                    let s = Session {
                        id: SessionId::new(),
                        course_id: course.id,
                        client_id: client.id,
                        number,
                        phase: if number == 1 {
                            Phase::Initial
                        } else {
                            Phase::Middle
                        },
                        planned_date: Some(today),
                        held_at: None,
                        attendance: None,
                        modality: None,
                        steps_done: vec![],
                        steps_skipped: vec![],
                        notes: None,
                        task: None,
                        completed: false,
                    };
                    w.create(&s)?;
                    w.update::<Session>(s.id.as_uuid(), |x| {
                        x.notes = Some(format!("Notes {label}"));
                        Ok(())
                    })?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
}

fn local_op_count(db: &Path) -> (i64, i64, i64) {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.query_row(
        "SELECT count(*), coalesce(sum(acked), 0), count(quarantine) FROM ops WHERE origin = 'local'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

fn server_op_count(db: &Path) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.query_row("SELECT count(*) FROM ops", [], |r| r.get(0))
        .unwrap()
}

fn reopen(path: &Path) -> Store {
    let mut d = Device {
        name: "x".into(),
        path: path.to_path_buf(),
        clock: Arc::new(SystemClock),
        store: None,
        worker: WorkerId::new(),
        role: Role::Worker,
        team: String::new(),
    };
    d.restart();
    d.store.take().unwrap()
}

#[test]
fn kill_nine_device_and_server_lose_and_double_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server_db = dir.path().join("server.db");
    let mut server = start_server(&server_db);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = rt
        .block_on(ipc_server::open_storage(&format!(
            "sqlite:{}",
            server_db.display()
        )))
        .unwrap();
    let worker = rt
        .block_on(ipc_server::admin::add_worker(
            &admin,
            "Synthetic CHW",
            "north",
            Role::Worker,
        ))
        .unwrap();
    let sup = rt
        .block_on(ipc_server::admin::add_worker(
            &admin,
            "Synthetic Sup",
            "north",
            Role::Supervisor,
        ))
        .unwrap();
    let code = |w| {
        rt.block_on(ipc_server::admin::enrol_code(
            &admin,
            w,
            Duration::from_secs(600),
        ))
        .unwrap()
    };

    let device = Device::create(
        dir.path(),
        "chw",
        Arc::new(SystemClock),
        Role::Worker,
        "north",
    );
    enrol(device.store(), &server.url, code(worker));
    let path = device.path.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(9_000_001);
    write_clients(device.store(), worker, 40, &mut rng);
    drop(device);

    let rounds: u32 = std::env::var("IPC_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let (mut device_kills, mut server_kills) = (0, 0);
    for round in 0..rounds {
        let mut child = run_device(&path, &server.url);
        std::thread::sleep(Duration::from_millis(rng.random_range(5..120)));
        if round % 3 == 2 {
            // The server dies mid-request; the device notices, gives up or retries.
            kill(&mut server.child);
            server_kills += 1;
            let _ = output(child);
            server = start_server(&server_db);
        } else {
            kill(&mut child);
            device_kills += 1;
        }
        // The worker keeps working offline between attempts.
        let store = reopen(&path);
        write_clients(&store, worker, 3, &mut rng);
    }

    // Calm: sync until complete.
    let mut done = false;
    for _ in 0..20 {
        let out = output(run_device(&path, &server.url));
        if out.starts_with("synced") && out.contains("\"complete\":true") {
            done = true;
            break;
        }
    }
    assert!(done, "the device never completed a sync");
    let (local, acked, quarantined) = local_op_count(&path);
    assert_eq!(quarantined, 0);
    assert_eq!(acked, local, "every operation is acknowledged");
    assert_eq!(
        server_op_count(&server_db),
        local,
        "the server holds every operation exactly once"
    );

    // A supervisor's new device pulls everything and agrees with the worker's device.
    let sup_device = Device::create(
        dir.path(),
        "sup",
        Arc::new(SystemClock),
        Role::Supervisor,
        "north",
    );
    enrol(sup_device.store(), &server.url, code(sup));
    let t = UreqTransport::new(&server.url, Duration::from_secs(5));
    let r = SyncEngine::new(sup_device.store(), &t, SyncConfig::default())
        .sync(&mut |_| {})
        .unwrap();
    assert!(r.complete);
    let chw = reopen(&path);
    chw.check_integrity().unwrap();
    let a: Vec<Session> = chw.list(Filter::All).unwrap();
    let b: Vec<Session> = sup_device.store().list(Filter::All).unwrap();
    assert_eq!(a.len(), (40 + 3 * rounds as usize) * 2);
    assert_eq!(a, b);
    let a: Vec<Client> = chw.list(Filter::All).unwrap();
    let b: Vec<Client> = sup_device.store().list(Filter::All).unwrap();
    assert_eq!(a, b);
    println!("{rounds} rounds: {device_kills} device kills, {server_kills} server kills; {local} operations, all on the server once");
    kill(&mut server.child);
}
