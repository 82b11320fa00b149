//! `ipc demo`: build an encrypted store with a synthetic caseload — full courses run through
//! the course engine on a simulated clock over the last ten weeks (the generator in
//! [`crate::demo`]) — and show what a community health worker would see (the caseload and
//! the worklist), what the supervisor must review, what was recorded, and a privacy check of
//! the database files. Then the sync act ([`crate::demo::network`]): an embedded sync server,
//! two more CHWs and a supervisor enrolled with it, syncs over a patchy network until all are
//! complete, and the supervisor's queue as seen on the supervisor's own device. Runs without
//! any input: the PIN is a fixed demo PIN unless `IPC_PIN` is set.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Local;
use ipc_core::clock::ManualClock;
use ipc_core::model::{Client, Role};
use ipc_core::protocol::{Protocol, ProtocolError};
use ipc_core::store::keys::{KdfParams, Pin, PinPolicy, DEFAULT_KDF_TARGET};
use ipc_core::store::{Filter, NewWorker, Store, StoreConfig, StoreError};
use zeroize::Zeroizing;

use crate::args::DemoArgs;
use crate::commands::emit;
use crate::demo::network::{sync_all, Device, EmbeddedServer};
use crate::demo::privacy::{database_files, scan};
use crate::demo::{history_start, populate, Counts, Stage};
use crate::error::CliError;
use crate::output::{
    caseload_summary, caseload_table, count, labelled, sort_caseload, supervisor_table, table,
    thousands, worklist_table,
};
use crate::pin;
use crate::store_access::secrets_for;

/// The PIN of demo stores when `IPC_PIN` is not set.
pub const DEMO_PIN: &str = "246810";
/// The store's file name inside the data folder.
pub const DB_FILE: &str = "ipc-demo.db";
/// The embedded sync server's database inside the data folder.
pub const SERVER_FILE: &str = "ipc-server.db";
/// The supervisor's store inside the data folder.
pub const SUPERVISOR_FILE: &str = "supervisor.db";
/// The team of every demo worker.
pub const TEAM: &str = "demo-team";
/// Where demo runs go by default.
pub const DEFAULT_BASE: &str = "demo-data";

/// The folder for this run: `--data-dir` (new or empty), or the first free
/// `demo-data/run-<seed>-<n>`. Created if needed.
fn data_dir(args: &DemoArgs) -> Result<PathBuf, CliError> {
    let create =
        |dir: &Path| fs::create_dir_all(dir).map_err(CliError::io("creating the demo folder"));
    if let Some(dir) = &args.data_dir {
        if dir.symlink_metadata().is_ok() {
            let mut entries = fs::read_dir(dir).map_err(|_| CliError::DataDirNotEmpty)?;
            if entries.next().is_some() {
                return Err(CliError::DataDirNotEmpty);
            }
        } else {
            create(dir)?;
        }
        return Ok(dir.clone());
    }
    for n in 1..=10_000u32 {
        let dir = Path::new(DEFAULT_BASE).join(format!("run-{}-{n}", args.seed));
        if dir.symlink_metadata().is_err() {
            create(&dir)?;
            return Ok(dir);
        }
    }
    Err(CliError::Io {
        what: "finding a free demo folder",
        kind: std::io::ErrorKind::AlreadyExists,
    })
}

/// How to run this binary from the current folder (e.g. `target/release/ipc`), or `ipc`.
fn ipc_command() -> String {
    let (Ok(exe), Ok(cwd)) = (std::env::current_exe(), std::env::current_dir()) else {
        return "ipc".to_owned();
    };
    match exe.strip_prefix(&cwd) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => "ipc".to_owned(),
    }
}

/// Every client's name and phone number, decrypted from the store.
fn personal_texts(store: &Store) -> Result<Vec<String>, CliError> {
    let mut texts = BTreeSet::new();
    for c in store.list::<Client>(Filter::All)? {
        texts.insert(c.display_name);
        if let Some(phone) = c.phone {
            texts.insert(phone);
        }
    }
    Ok(texts.into_iter().collect())
}

/// Run `ipc demo`.
pub fn run(args: &DemoArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let env_pin = pin::from_env()?;
    let pin_from_env = env_pin.is_some();
    let pin = env_pin.unwrap_or_else(|| Zeroizing::new(DEMO_PIN.to_owned()));
    // Refuse a bad IPC_PIN before creating anything.
    Pin::new(&pin).map_err(StoreError::from)?;
    let dir = data_dir(args)?;
    let db = dir.join(DB_FILE);
    let kdf = KdfParams::calibrate(DEFAULT_KDF_TARGET);
    // The programme's sync server, with the team registered: the main CHW, two colleagues
    // and their supervisor.
    let server = EmbeddedServer::start(&dir.join(SERVER_FILE))?;
    let worker = NewWorker {
        id: server.add_worker("Demo CHW", TEAM, Role::Worker)?,
        display_name: "Demo CHW".to_owned(),
        role: Role::Worker,
        team: TEAM.to_owned(),
    };
    // The store runs on a simulated clock: created at the start of the history, moved to
    // each step's time while the caseload is written, and left at now (local time).
    let now = Local::now().naive_local().and_utc();
    let clock = Arc::new(ManualClock::new(history_start(now.date_naive())));
    let config = StoreConfig {
        pin_policy: PinPolicy::default(),
        clock: clock.clone(),
    };
    let (store, recovery) = Store::create(
        &db,
        Arc::new(secrets_for(&db)?),
        &pin,
        &worker,
        &kdf,
        config,
    )?;
    server.enrol(&store, worker.id)?;
    let clients = usize::from(args.clients);
    let summary = populate(&store, &clock, now, args.seed, clients)?;

    // What the worker sees, read back through the store's decrypting read path.
    let today = store.read(|r| Ok::<_, StoreError>(r.today))?;
    let protocol = Protocol::builtin().map_err(|e| CliError::Generate(e.into()))?;
    let (worklist, queue) = store
        .read(|r| {
            Ok::<_, ProtocolError>((
                protocol.worklist(r, today)?,
                protocol.supervisor_queue(r, today)?,
            ))
        })
        .map_err(|e| CliError::from(crate::demo::GenerateError::from(e)))?;
    let mut rows = store.caseload()?;
    sort_caseload(&mut rows);
    let counts = Counts::read(&store)?;
    let outbox = store.outbox_len()?;

    // The sync act: two more CHWs with smaller caseloads, and the supervisor.
    let others = [("Demo CHW 2", "chw-2.db"), ("Demo CHW 3", "chw-3.db")];
    let mut stores = Vec::new();
    for (i, (name, file)) in others.iter().enumerate() {
        let id = server.add_worker(name, TEAM, Role::Worker)?;
        let path = dir.join(file);
        let clock = Arc::new(ManualClock::new(history_start(now.date_naive())));
        let (s, _) = Store::create(
            &path,
            Arc::new(secrets_for(&path)?),
            &pin,
            &NewWorker {
                id,
                display_name: (*name).to_owned(),
                role: Role::Worker,
                team: TEAM.to_owned(),
            },
            &kdf,
            StoreConfig {
                pin_policy: PinPolicy::default(),
                clock: clock.clone(),
            },
        )?;
        server.enrol(&s, id)?;
        let seed = args.seed.wrapping_add(1 + i as u64);
        populate(&s, &clock, now, seed, (clients / 4).clamp(2, 6))?;
        stores.push(s);
    }
    let sup_name = "Demo Supervisor";
    let sup_id = server.add_worker(sup_name, TEAM, Role::Supervisor)?;
    let sup_db = dir.join(SUPERVISOR_FILE);
    let (sup_store, _) = Store::create(
        &sup_db,
        Arc::new(secrets_for(&sup_db)?),
        &pin,
        &NewWorker {
            id: sup_id,
            display_name: sup_name.to_owned(),
            role: Role::Supervisor,
            team: TEAM.to_owned(),
        },
        &kdf,
        StoreConfig::default(),
    )?;
    drop(pin);
    server.enrol(&sup_store, sup_id)?;
    let mut chws = vec![Device::new(
        &worker.display_name,
        Role::Worker,
        &store,
        args.seed,
    )];
    for (i, s) in stores.iter().enumerate() {
        chws.push(Device::new(
            others[i].0,
            Role::Worker,
            s,
            args.seed.wrapping_add(1 + i as u64),
        ));
    }
    sync_all(&mut chws, &server.url)?;
    let mut sup = [Device::new(
        sup_name,
        Role::Supervisor,
        &sup_store,
        args.seed.wrapping_add(100),
    )];
    sync_all(&mut sup, &server.url)?;
    let sup_queue = sup_store
        .read(|r| protocol.supervisor_queue(r, today))
        .map_err(|e| CliError::from(crate::demo::GenerateError::from(e)))?;
    let sup_clients = sup_store.caseload()?.len();
    let stats = server.stats()?;
    let url = server.url.clone();
    let outbox_after = store.outbox_len()?;
    let audit = store.audit_log(u32::MAX)?.len();
    let device_rows: Vec<Vec<String>> = chws
        .iter()
        .chain(sup.iter())
        .map(|d| {
            vec![
                d.name.clone(),
                d.role.as_str().to_owned(),
                d.sync.attempts.to_string(),
                d.sync.offline.to_string(),
                d.sync.dropped.to_string(),
                thousands(d.sync.pushed),
                thousands(d.sync.acknowledged),
                thousands(d.sync.pulled),
                d.sync.rounds.to_string(),
            ]
        })
        .collect();
    drop(chws);
    drop(sup);
    for s in stores {
        s.lock()?;
    }
    server.stop()?;

    // The privacy check of the main CHW's and the supervisor's devices (which received
    // every client of the team), while the stores are open (data in the WAL) and after
    // closing them.
    let mut needles = personal_texts(&store)?;
    needles.extend(personal_texts(&sup_store)?);
    needles.sort();
    needles.dedup();
    let files = || -> Vec<PathBuf> {
        database_files(&db)
            .into_iter()
            .chain(database_files(&sup_db))
            .collect()
    };
    let open_scan = scan(&files(), &needles).map_err(CliError::io("the privacy scan"))?;
    store.lock()?;
    drop(store);
    sup_store.lock()?;
    drop(sup_store);
    let closed_scan = scan(&files(), &needles).map_err(CliError::io("the privacy scan"))?;
    if open_scan.bytes == 0 || closed_scan.bytes == 0 {
        return Err(CliError::Io {
            what: "the privacy scan",
            kind: std::io::ErrorKind::NotFound,
        });
    }
    let found = open_scan.found.union(&closed_scan.found).count();
    if found > 0 {
        return Err(CliError::PrivacyLeak {
            found,
            total: needles.len(),
        });
    }

    let pin_shown = if pin_from_env {
        "<your IPC_PIN>"
    } else {
        DEMO_PIN
    };
    let mut t = format!(
        "ipc demo: seed {}, {} (synthetic: every person, place and number is invented)\n\n",
        args.seed,
        count(clients, "client", "clients"),
    );
    t.push_str(&format!(
        "store    {}  (encrypted; PIN {})\n",
        db.display(),
        if pin_from_env {
            "from IPC_PIN"
        } else {
            DEMO_PIN
        }
    ));
    t.push_str(&format!(
        "worker   {} (team {}), today {}\n\n",
        worker.display_name,
        worker.team,
        today.format("%a %d %b %Y")
    ));
    t.push_str(&caseload_table(&rows, today));
    t.push('\n');
    t.push_str(&caseload_summary(&rows, outbox));
    t.push_str("\n\n");
    let to_do = worklist.iter().filter(|i| !i.reasons.is_empty()).count();
    t.push_str(&format!(
        "WORKLIST: what needs doing, most urgent first ({to_do} of {})\n",
        count(worklist.len(), "client", "clients")
    ));
    t.push_str(&worklist_table(&worklist));
    t.push('\n');
    t.push_str(&format!(
        "SUPERVISOR QUEUE: cases to review ({}), risk events first\n",
        queue.len()
    ));
    if queue.is_empty() {
        t.push_str("nothing to review\n");
    } else {
        t.push_str(&supervisor_table(&queue));
    }
    t.push('\n');
    let stages: Vec<String> = Stage::ALL
        .iter()
        .filter_map(|s| summary.stages.get(s).map(|n| format!("{n} {}", s.label())))
        .collect();
    t.push_str(&labelled("pathway", &stages));
    t.push_str(&labelled(
        "records",
        &[
            format!(
                "{} sessions held, {} planned",
                counts.sessions_held, counts.sessions_planned
            ),
            format!(
                "{} ({} rescheduled and held)",
                count(
                    summary.sessions_missed,
                    "missed appointment",
                    "missed appointments"
                ),
                summary.missed_then_held
            ),
            format!("{} questionnaires (PHQ-2, PHQ-9)", counts.questionnaires),
            format!("{} inventory entries", summary.inventory_entries),
            format!("{} timeline events", summary.timeline_events),
        ],
    ));
    t.push_str(&labelled(
        "safety",
        &[
            format!(
                "risk events: {} waiting for assessment, {} assessed, {} closed",
                counts.risk_waiting, counts.risk_assessed, counts.risk_closed
            ),
            format!(
                "{} ({} urgent)",
                count(counts.referrals, "referral", "referrals"),
                counts.referrals_urgent
            ),
            format!(
                "{} pending",
                count(counts.reminders_pending, "reminder", "reminders")
            ),
        ],
    ));
    t.push_str(&labelled(
        "engine",
        &[format!(
            "{} course-engine steps on {} days, one transaction each, on a simulated clock",
            thousands(u64::try_from(summary.steps).unwrap_or(u64::MAX)),
            summary.days
        )],
    ));
    t.push_str(&labelled(
        "sync",
        &[
            format!(
                "{} operations were waiting in the outbox; after syncing {} wait",
                thousands(outbox),
                thousands(outbox_after)
            ),
            format!(
                "{} audit entries",
                thousands(u64::try_from(audit).unwrap_or(u64::MAX))
            ),
        ],
    ));
    t.push('\n');
    t.push_str(&format!(
        "SYNC: the embedded server at {url} (SQLite) and the devices of team {TEAM}\n\
         over a patchy network: some attempts have no signal, some lose the link part-way\n"
    ));
    t.push_str(&table(
        &[
            "DEVICE", "ROLE", "ATTEMPTS", "OFFLINE", "CUT OFF", "PUSHED", "ACKED", "PULLED",
            "ROUNDS",
        ],
        &device_rows,
    ));
    t.push_str(&labelled(
        "server",
        &[
            format!("{} operations", thousands(stats.ops)),
            format!("{} clients", stats.clients),
            format!("{} workers", stats.workers),
            format!("{} devices enrolled", stats.devices),
        ],
    ));
    t.push('\n');
    t.push_str(&format!(
        "SUPERVISOR QUEUE on {sup_name}'s own device after sync ({} of {} team clients), \
         risk events first\n",
        sup_queue.len(),
        sup_clients
    ));
    if sup_queue.is_empty() {
        t.push_str("nothing to review\n");
    } else {
        t.push_str(&supervisor_table(&sup_queue));
    }
    t.push('\n');
    t.push_str(&format!(
        "privacy check (the CHW's and the supervisor's devices): {found} of {} names/phones \
         found in plaintext in the database files\n\n",
        needles.len()
    ));
    t.push_str(&format!(
        "files    {}  ({DB_FILE} and its device secret and PIN-attempt counter; the other \
         devices; {SERVER_FILE})\n",
        dir.display()
    ));
    t.push_str(&format!(
        "inspect  IPC_PIN={pin_shown} {} caseload --db {}\n",
        ipc_command(),
        db.display()
    ));
    t.push_str(&format!(
        "recovery {}  (demo only; a real code is shown once, for the supervisor)\n",
        recovery.expose_formatted().as_str()
    ));
    t.push_str(&format!(
        "built in {:.1} s; one unlock = {} PBKDF2 iterations, about {} ms here\n",
        started.elapsed().as_secs_f64(),
        thousands(u64::from(kdf.iterations)),
        DEFAULT_KDF_TARGET.as_millis()
    ));
    emit(out, &Zeroizing::new(t))
}
