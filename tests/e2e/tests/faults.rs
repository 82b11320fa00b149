//! Deterministic fault simulation (seeded): ≥ 10 devices write ≥ 2,000 operations offline
//! and sync through a transport that breaks ≥ 30% of the exchanges — request lost, reply
//! lost after the server committed, duplicated, reordered (a stale request delivered late),
//! delayed, truncated, server error, server restarted — while devices crash at random points
//! (mid-write and mid-sync) and clients are reassigned between workers and teams. Then the
//! faults stop, everything syncs, and the invariants are checked:
//!
//! 1. every operation created exists on the server exactly once, or is quarantined on its
//!    device with the server's reason (never silently lost);
//! 2. all devices that share a scope hold identical state;
//! 3. no device holds a client outside its scope;
//! 4. nothing reported as synced is missing from the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use ipc_core::clock::Clock;
use ipc_core::model::*;
use ipc_core::store::{Filter, Records, Store, StoreError};
use ipc_core::sync::engine::{
    HttpRequest, HttpResponse, SyncConfig, SyncEngine, Transport, TransportError,
};
use ipc_core::sync::op::Operation;
use ipc_core::sync::wire::{encode, ErrorBody, ErrorCode, PROTOCOL_VERSION};
use ipc_e2e::{Device, Direct, InProcessServer, OffsetClock};
use ipc_server::ServerConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

const SEED: u64 = 20_261_122;
const TARGET_OPS: usize = 2_100;
const FAULT_RATE: f64 = 0.4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    RequestLost,
    ReplyLost,
    Duplicated,
    Reordered,
    Delayed,
    Truncated,
    ServerError,
    ServerRestarted,
    DeviceCrashed,
}

const FAULTS: [Fault; 9] = [
    Fault::RequestLost,
    Fault::ReplyLost,
    Fault::Duplicated,
    Fault::Reordered,
    Fault::Delayed,
    Fault::Truncated,
    Fault::ServerError,
    Fault::ServerRestarted,
    Fault::DeviceCrashed,
];

/// A crash of the device in the middle of a sync (unwinds out of the engine).
struct Crash;

#[derive(Default)]
struct Tally {
    exchanges: u64,
    faulty: u64,
    by_fault: BTreeMap<Fault, u64>,
}

struct Faulty<'a> {
    server: &'a InProcessServer,
    rng: &'a Mutex<ChaCha8Rng>,
    tally: &'a Mutex<Tally>,
    /// A request held back, delivered later (reordering and delay).
    held: &'a Mutex<Option<HttpRequest>>,
}

impl Transport for Faulty<'_> {
    fn send(&self, req: HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        let fault = {
            let mut rng = self.rng.lock().unwrap();
            (rng.random::<f64>() < FAULT_RATE).then(|| FAULTS[rng.random_range(0..FAULTS.len())])
        };
        {
            let mut t = self.tally.lock().unwrap();
            t.exchanges += 1;
            if let Some(f) = fault {
                t.faulty += 1;
                *t.by_fault.entry(f).or_default() += 1;
            }
        }
        let deliver_held = || {
            if let Some(old) = self.held.lock().unwrap().take() {
                let _ = self.server.call(&old);
            }
        };
        match fault {
            None => Ok(self.server.call(&req)),
            Some(Fault::RequestLost) => Err(TransportError::Timeout),
            Some(Fault::ReplyLost) => {
                let _ = self.server.call(&req);
                Err(TransportError::Io(
                    "connection reset after the server answered".into(),
                ))
            }
            Some(Fault::Duplicated) => {
                let _ = self.server.call(&req);
                Ok(self.server.call(&req))
            }
            Some(Fault::Reordered) => {
                // An older request overtakes this one: deliver the stale one first.
                deliver_held();
                *self.held.lock().unwrap() = Some(req.clone());
                Ok(self.server.call(&req))
            }
            Some(Fault::Delayed) => {
                // The device gives up waiting; the request reaches the server later.
                deliver_held();
                *self.held.lock().unwrap() = Some(req);
                Err(TransportError::Timeout)
            }
            Some(Fault::Truncated) => {
                let mut resp = self.server.call(&req);
                resp.body.truncate(resp.body.len() / 2);
                Ok(resp)
            }
            Some(Fault::ServerError) => Ok(HttpResponse {
                status: 500,
                body: encode(&ErrorBody {
                    version: PROTOCOL_VERSION,
                    code: ErrorCode::Internal,
                    message: "simulated failure".into(),
                    retry_after_ms: None,
                }),
            }),
            Some(Fault::ServerRestarted) => {
                let resp = self.server.call(&req);
                self.server.restart();
                if self.rng.lock().unwrap().random::<bool>() {
                    Ok(resp)
                } else {
                    Err(TransportError::Io("server restarted".into()))
                }
            }
            Some(Fault::DeviceCrashed) => {
                // The server commits, then the phone dies before applying the reply.
                let _ = self.server.call(&req);
                std::panic::panic_any(Crash);
            }
        }
    }
}

fn phq9(rng: &mut ChaCha8Rng) -> Vec<Answer> {
    (1..=9)
        .map(|i| Answer {
            item: format!("phq9_{i}"),
            value: if i == 9 { 0 } else { rng.random_range(0..=3) },
        })
        .collect()
}

/// One offline work session on a device: a few creates, updates and deletes through the
/// store's write path. Returns the operations committed. With `crash`, the transaction is
/// abandoned half-way (the app dies mid-write): nothing of it may survive.
fn work(device: &Device, rng: &mut ChaCha8Rng, crash: bool) -> Vec<Operation> {
    let store = device.store();
    let worker = store.identity().worker_id;
    let n = rng.random_range(1..=6);
    let mut seeds: Vec<u64> = (0..n).map(|_| rng.random()).collect();
    let result: std::result::Result<Vec<Operation>, StoreError> = store.write(|w| {
        let mut ops = Vec::new();
        let today = w.today();
        let clients: Vec<Client> = w.list(Filter::All)?;
        for seed in seeds.drain(..) {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            if device.role == Role::Supervisor {
                let Some(c) = clients.get(r.random_range(0..clients.len().max(1))) else {
                    break;
                };
                let note = SupervisorNote {
                    id: SupervisorNoteId::new(),
                    client_id: c.id,
                    author: worker,
                    written_at: Utc::now(),
                    text: format!("Reviewed in supervision {}", r.random::<u16>()),
                    risk_event: None,
                };
                ops.push(w.create(&note)?);
                continue;
            }
            let action = if clients.is_empty() {
                0
            } else {
                r.random_range(0..10)
            };
            if action == 0 {
                let client = Client {
                    id: ClientId::new(),
                    display_name: format!("Synthetic Person {}", r.random::<u16>()),
                    sex: Some(Sex::Female),
                    birth_year: Some(1970 + r.random_range(0..40)),
                    phone: None,
                    village: Some(format!("Village {}", r.random_range(1..20))),
                    address: None,
                    consent: None,
                    assigned_worker: worker,
                    registered_on: today,
                };
                ops.push(w.create(&client)?);
                let course = Course {
                    id: CourseId::new(),
                    client_id: client.id,
                    worker_id: worker,
                    enrolled_on: today,
                    planned_sessions: 6,
                    problem_areas: vec![],
                    dispute_stage: None,
                    status: CourseStatus::Enrolled,
                    end_reason: None,
                    end_note: None,
                    ended_on: None,
                    extension_reason: None,
                };
                ops.push(w.create(&course)?);
                continue;
            }
            let c = &clients[r.random_range(0..clients.len())];
            let courses: Vec<Course> = w.list(Filter::Client(c.id))?;
            match (action, courses.first()) {
                (1, _) => {
                    let village = format!("Village {}", r.random_range(1..20));
                    let before = w.get::<Client>(c.id.as_uuid())?;
                    w.update::<Client>(c.id.as_uuid(), |x| {
                        x.village = Some(village);
                        Ok(())
                    })?;
                    let _ = before;
                }
                (2 | 3, Some(course)) => {
                    let n = u8::try_from(
                        w.list::<Session>(Filter::Course(course.id.as_uuid()))?
                            .len()
                            % 16,
                    )
                    .unwrap_or(0)
                        + 1;
                    let s = Session {
                        id: SessionId::new(),
                        course_id: course.id,
                        client_id: c.id,
                        number: n,
                        phase: Phase::Middle,
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
                    ops.push(w.create(&s)?);
                }
                (4, Some(course)) => {
                    let sessions: Vec<Session> = w.list(Filter::Course(course.id.as_uuid()))?;
                    if let Some(s) = sessions.get(r.random_range(0..sessions.len().max(1))) {
                        let note = format!("Talked about the week {}", r.random::<u16>());
                        w.update::<Session>(s.id.as_uuid(), |x| {
                            x.notes = Some(note);
                            Ok(())
                        })?;
                    }
                }
                (5, Some(course)) => {
                    let e = InventoryEntry {
                        id: InventoryEntryId::new(),
                        course_id: course.id,
                        client_id: c.id,
                        label: "Sister".into(),
                        relationship: "sister".into(),
                        closeness: r.random_range(1..=5),
                        support: Some("Helps with the children".into()),
                        conflict: None,
                        what_changed: None,
                        expectations: None,
                    };
                    ops.push(w.create(&e)?);
                }
                (6, Some(course)) => {
                    let entries: Vec<InventoryEntry> =
                        w.list(Filter::Course(course.id.as_uuid()))?;
                    if let Some(e) = entries.first() {
                        let closeness = r.random_range(1..=5);
                        w.update::<InventoryEntry>(e.id.as_uuid(), |x| {
                            x.closeness = closeness;
                            Ok(())
                        })?;
                    }
                }
                (7, Some(course)) => {
                    let answers = phq9(&mut r);
                    let total: u16 = answers.iter().map(|a| u16::from(a.value)).sum();
                    let resp = QuestionnaireResponse {
                        id: ResponseId::new(),
                        client_id: c.id,
                        course_id: Some(course.id),
                        session_id: None,
                        context: ResponseContext::FollowUp,
                        instrument: "phq9".into(),
                        instrument_version: "1.0".into(),
                        answers,
                        total: Some(total),
                        band: Some("mild".into()),
                        flags: vec![],
                        administered_at: Utc::now().naive_utc() - chrono::Duration::days(1),
                    };
                    ops.push(w.create(&resp)?);
                }
                (8, Some(course)) => {
                    let t = TimelineEvent {
                        id: TimelineEventId::new(),
                        course_id: course.id,
                        client_id: c.id,
                        date: today - chrono::Duration::days(r.random_range(1..300)),
                        event: "Moved house".into(),
                        mood_change: MoodChange::Worse,
                    };
                    ops.push(w.create(&t)?);
                }
                (9, Some(course)) => {
                    let events: Vec<TimelineEvent> = w.list(Filter::Course(course.id.as_uuid()))?;
                    if let Some(e) = events.first() {
                        w.delete::<TimelineEvent>(e.id.as_uuid())?;
                    }
                }
                _ => {}
            }
        }
        if crash {
            return Err(StoreError::InvalidOperation("simulated crash mid-write"));
        }
        Ok(ops)
    });
    match result {
        Ok(ops) => ops,
        Err(StoreError::InvalidOperation("simulated crash mid-write")) if crash => Vec::new(),
        Err(e) => panic!("{}: write failed: {e}", device.name),
    }
}

fn config() -> SyncConfig {
    SyncConfig {
        max_batch_ops: 25,
        pull_limit: 60,
        max_attempts: 4,
        ..SyncConfig::default()
    }
}

/// All records of one client on one device, decrypted, as comparable JSON.
fn dump(store: &Store, client: ClientId) -> serde_json::Value {
    store
        .read(|r| {
            let f = Filter::Client(client);
            Ok::<_, StoreError>(serde_json::json!({
                "client": r.get::<Client>(client.as_uuid())?,
                "courses": r.list::<Course>(f)?,
                "sessions": r.list::<Session>(f)?,
                "responses": r.list::<QuestionnaireResponse>(f)?,
                "inventory": r.list::<InventoryEntry>(f)?,
                "timeline": r.list::<TimelineEvent>(f)?,
                "notes": r.list::<SupervisorNote>(f)?,
            }))
        })
        .unwrap()
}

fn server_op_ids(server: &InProcessServer) -> BTreeSet<Uuid> {
    server.stored_op_ids()
}

fn server_clients(server: &InProcessServer) -> Vec<(ClientId, WorkerId, String)> {
    server.stored_clients()
}

/// Local operations of a device: (op id, acked, quarantine code).
fn local_ops(device: &Device) -> Vec<(Uuid, bool, Option<String>)> {
    let conn = rusqlite::Connection::open_with_flags(
        &device.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut stmt = conn
        .prepare("SELECT op_id, acked, quarantine FROM ops WHERE origin = 'local'")
        .unwrap();
    let rows: Vec<(String, i64, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows.into_iter()
        .map(|(id, a, q)| (Uuid::parse_str(&id).unwrap(), a == 1, q))
        .collect()
}

fn server_config() -> ServerConfig {
    ServerConfig {
        rate_per_minute: 0,
        ..ServerConfig::default()
    }
}

#[test]
fn devices_converge_under_faults_and_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let server = InProcessServer::start(dir.path(), server_config());
    converge(dir.path(), &server);
}

/// The same simulation against PostgreSQL (its pushes go through group commit).
#[test]
fn devices_converge_under_faults_and_crashes_on_postgres() {
    let Some(server) = InProcessServer::start_postgres("faults", server_config()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    converge(dir.path(), &server);
}

fn converge(dir: &std::path::Path, server: &InProcessServer) {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);

    // Two teams; worker A and worker E each have two phones; the phones' clocks disagree.
    let plan: [(&str, &str, Role, i64); 11] = [
        ("a1", "north", Role::Worker, 0),
        ("a2", "north", Role::Worker, -3_600_000),
        ("b", "north", Role::Worker, 0),
        ("c", "north", Role::Worker, 86_400_000),
        ("sn", "north", Role::Supervisor, 0),
        ("d", "south", Role::Worker, -86_400_000),
        ("e1", "south", Role::Worker, 0),
        ("e2", "south", Role::Worker, 120_000),
        ("f", "south", Role::Worker, 0),
        ("ss", "south", Role::Supervisor, 0),
        ("g", "south", Role::Worker, 0),
    ];
    let mut workers: BTreeMap<String, WorkerId> = BTreeMap::new();
    let mut devices: Vec<Device> = Vec::new();
    for (name, team, role, offset) in plan {
        let person = name.trim_end_matches(['1', '2']).to_string();
        let worker = *workers
            .entry(person.clone())
            .or_insert_with(|| server.add_worker(&format!("Synthetic {person}"), team, role));
        let clock: Arc<dyn Clock> = Arc::new(OffsetClock { offset_ms: offset });
        let mut d = Device::create(dir, name, clock, role, team);
        server.enrol(d.store(), worker);
        d.worker = worker;
        devices.push(d);
    }
    let chw_workers: Vec<WorkerId> = devices
        .iter()
        .filter(|d| d.role == Role::Worker)
        .map(|d| d.worker)
        .collect();

    let fault_rng = Mutex::new(ChaCha8Rng::seed_from_u64(SEED ^ 0xfa));
    let tally = Mutex::new(Tally::default());
    let held = Mutex::new(None);
    let mut created: BTreeMap<Uuid, usize> = BTreeMap::new();
    let mut reassignments = 0;
    let mut device_crashes = 0;
    let mut write_crashes = 0;

    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if !info.payload().is::<Crash>() {
            eprintln!("{info}");
        }
    }));
    let mut step = 0;
    while created.len() < TARGET_OPS || step < 400 {
        step += 1;
        assert!(step < 20_000, "the simulation does not make progress");
        let i = rng.random_range(0..devices.len());
        let roll = rng.random_range(0..100);
        if roll < 45 {
            let crash = rng.random_range(0..20) == 0;
            write_crashes += usize::from(crash);
            // Every operation the write committed (creates, updates and deletes), read back
            // from the device's own log.
            let before: BTreeSet<Uuid> = local_ops(&devices[i])
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            let returned = work(&devices[i], &mut rng, crash);
            let after: BTreeSet<Uuid> = local_ops(&devices[i])
                .into_iter()
                .map(|(id, _, _)| id)
                .collect();
            assert!(returned
                .iter()
                .all(|op| after.contains(&op.op_id.as_uuid())));
            if crash {
                assert_eq!(before, after, "a write that crashed left operations behind");
            }
            for id in after.difference(&before) {
                created.insert(*id, i);
            }
        } else if roll < 92 {
            let transport = Faulty {
                server,
                rng: &fault_rng,
                tally: &tally,
                held: &held,
            };
            let store = devices[i].store();
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                SyncEngine::new(store, &transport, config())
                    .with_sleep(|_| {})
                    .sync(&mut |_| {})
            }));
            if outcome.is_err() {
                device_crashes += 1;
                devices[i].crash();
                devices[i].restart();
            }
        } else if roll < 96 {
            devices[i].crash();
            devices[i].restart();
        } else {
            let clients = server_clients(server);
            if !clients.is_empty() {
                let (client, _, _) = clients[rng.random_range(0..clients.len())];
                let to = chw_workers[rng.random_range(0..chw_workers.len())];
                server.assign(client, to);
                reassignments += 1;
            }
        }
    }
    std::panic::set_hook(previous_hook);
    // A held-back request may still arrive late.
    if let Some(old) = held.lock().unwrap().take() {
        let _ = server.call(&old);
    }

    // Faults stop: sync until nothing moves.
    let mut quiet = false;
    for _ in 0..30 {
        let mut moved = 0;
        for d in &devices {
            let r = SyncEngine::new(d.store(), &Direct(server), config())
                .sync(&mut |_| {})
                .unwrap();
            assert!(
                r.complete,
                "{}: a fault-free sync must complete: {r:?}",
                d.name
            );
            moved += r.pushed + r.pulled + r.removed;
        }
        if moved == 0 {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "devices did not converge");

    let t = tally.lock().unwrap();
    let fault_share = t.faulty as f64 / t.exchanges as f64;
    println!(
        "{} devices, {} operations, {} exchanges, {:.0}% faulty {:?}, {} device crashes mid-sync, {} crashes mid-write, {} reassignments",
        devices.len(),
        created.len(),
        t.exchanges,
        fault_share * 100.0,
        t.by_fault,
        device_crashes,
        write_crashes,
        reassignments
    );
    assert!(devices.len() >= 10);
    assert!(created.len() >= 2_000, "only {} operations", created.len());
    assert!(
        fault_share >= 0.30,
        "only {:.0}% of exchanges were faulty",
        fault_share * 100.0
    );
    assert!(
        t.by_fault.len() == FAULTS.len(),
        "every kind of fault happened: {:?}",
        t.by_fault
    );
    assert!(reassignments > 0);

    // 1. Every operation is on the server exactly once, or quarantined on its device.
    let on_server = server_op_ids(server);
    let mut quarantined = BTreeSet::new();
    let mut acked = BTreeSet::new();
    for d in &devices {
        for (id, is_acked, q) in local_ops(d) {
            if let Some(code) = q {
                assert!(
                    code == "client_reassigned" || code == "out_of_scope",
                    "{}: unexpected quarantine {code}",
                    d.name
                );
                quarantined.insert(id);
            }
            if is_acked {
                acked.insert(id);
            }
        }
    }
    for (id, dev) in &created {
        assert!(
            on_server.contains(id) ^ quarantined.contains(id),
            "operation {id} of {} is neither on the server nor quarantined (or both)",
            devices[*dev].name
        );
    }
    assert!(
        on_server.iter().all(|id| created.contains_key(id)),
        "the server holds operations nobody created"
    );
    // 4. Nothing reported as synced is missing.
    assert!(
        acked.is_subset(&on_server),
        "an acknowledged operation is not on the server"
    );

    // 2 and 3. Scopes: identical state where shared; nothing outside.
    let clients = server_clients(server);
    let in_scope = |d: &Device, worker: WorkerId, team: &str| match d.role {
        Role::Supervisor => d.team == team,
        _ => d.worker == worker,
    };
    for (client, worker, team) in &clients {
        let holders: Vec<&Device> = devices
            .iter()
            .filter(|d| in_scope(d, *worker, team))
            .collect();
        assert!(!holders.is_empty());
        let reference = dump(holders[0].store(), *client);
        assert!(
            !reference["client"].is_null(),
            "{}: client in scope but missing",
            holders[0].name
        );
        for h in &holders[1..] {
            assert_eq!(
                dump(h.store(), *client),
                reference,
                "{} and {} disagree on a client",
                holders[0].name,
                h.name
            );
        }
    }
    for d in &devices {
        for client in d.store().client_ids().unwrap() {
            let (_, worker, team) = clients
                .iter()
                .find(|(c, _, _)| *c == client)
                .unwrap_or_else(|| panic!("{} holds a client the server does not know", d.name));
            assert!(
                in_scope(d, *worker, team),
                "{} holds a client outside its scope",
                d.name
            );
        }
        d.store().check_integrity().unwrap();
    }
    println!(
        "{} operations on the server, {} quarantined (edits after reassignment), {} clients",
        on_server.len(),
        quarantined.len(),
        clients.len()
    );
}
