//! End-to-end tests of the `ipc` binary: each runs the real executable in a temporary folder,
//! with standard input closed (no terminal, so no PIN prompt) and `IPC_PIN` set or removed.
//! Each `init` and unlock derives a key for about 250 ms, so the number of runs is kept small.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PIN: &str = "482913";

fn ipc(dir: &Path, args: &[&str], pin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ipc"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("IPC_PIN");
    if let Some(pin) = pin {
        cmd.env("IPC_PIN", pin);
    }
    cmd.output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The run failed with `code` and exactly one line on stderr, starting `error: `; returns it.
fn one_line_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(err.ends_with('\n'));
    assert!(!err.contains("panicked"), "{err:?}");
    err.trim_end().to_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout(out)
}

/// A new store `clinic.db` in `dir` (via `ipc init`).
fn init(dir: &Path) -> PathBuf {
    let out = ipc(
        dir,
        &["init", "--db", "clinic.db", "--worker-name", "Worker ZQX"],
        Some(PIN),
    );
    let text = ok(&out);
    assert!(text.contains("Recovery code (shown only now)"), "{text}");
    assert!(text.contains("give it to your supervisor"), "{text}");
    dir.join("clinic.db")
}

/// The store's files that a failed command must leave untouched.
fn data_files(db: &Path) -> Vec<PathBuf> {
    let name = db.file_name().unwrap().to_str().unwrap();
    let dir = db.parent().unwrap();
    vec![
        db.to_path_buf(),
        dir.join(format!("{name}-wal")),
        dir.join(format!("{name}.device.secret")),
    ]
}

fn snapshot(paths: &[PathBuf]) -> Vec<Option<Vec<u8>>> {
    paths.iter().map(|p| std::fs::read(p).ok()).collect()
}

#[test]
fn init_add_and_caseload_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    assert!(db.is_file());
    assert!(dir.path().join("clinic.db.device.secret").is_file());

    let out = ipc(
        dir.path(),
        &[
            "client",
            "add",
            "--db",
            "clinic.db",
            "--name",
            " Amina Wanjiru ",
            "--phone",
            "+254 712 345 678",
            "--village",
            "Kibera",
            "--birth-year",
            "1990",
            "--sex",
            "female",
        ],
        Some(PIN),
    );
    let id_line = ok(&out);
    assert_eq!(id_line.lines().count(), 1, "only the id: {id_line:?}");
    let id = id_line.trim();
    assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}");

    let out = ipc(
        dir.path(),
        &["caseload", "--db", "clinic.db", "--json"],
        Some(PIN),
    );
    let rows: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["client_id"], id);
    assert_eq!(rows[0]["display_name"], "Amina Wanjiru");
    assert_eq!(rows[0]["village"], "Kibera");
    assert_eq!(rows[0]["status"], "registered");
    assert_eq!(rows[0]["sessions_held"], 0);
    assert_eq!(rows[0]["open_risk_events"], 0);

    let table = ok(&ipc(
        dir.path(),
        &["caseload", "--db", "clinic.db"],
        Some(PIN),
    ));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CLIENT"), "{table}");
    assert!(lines[1].starts_with("Amina Wanjiru"), "{table}");
    assert!(
        table.contains("1 client, 0 with open risk events, 1 operation waiting to sync"),
        "{table}"
    );
}

#[test]
fn a_pin_given_nowhere_is_a_one_line_error_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let err = one_line_error(&ipc(dir.path(), &["init", "--db", "clinic.db"], None), 3);
    assert!(err.contains("IPC_PIN"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    // A PIN on the command line is refused without echoing it.
    let err = one_line_error(
        &ipc(
            dir.path(),
            &["caseload", "--db", "clinic.db", "--pin", "8412"],
            None,
        ),
        2,
    );
    assert!(err.contains("never given on the command line"), "{err}");
    assert!(!err.contains("8412"));
}

#[test]
fn wrong_pin_fails_in_one_line_and_leaves_the_data_files_identical() {
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    let files = data_files(&db);
    let before = snapshot(&files);
    assert!(before[0].is_some() && before[2].is_some());

    let out = ipc(
        dir.path(),
        &["caseload", "--db", "clinic.db"],
        Some("000000"),
    );
    let err = one_line_error(&out, 3);
    assert!(err.contains("wrong PIN"), "{err}");
    assert!(!err.contains("000000"));
    assert!(out.stdout.is_empty());
    assert_eq!(snapshot(&files), before, "data files unchanged");

    // No PIN at all on an existing store: refused too, before touching anything.
    let err = one_line_error(
        &ipc(dir.path(), &["caseload", "--db", "clinic.db"], None),
        3,
    );
    assert!(err.contains("IPC_PIN"), "{err}");
    assert_eq!(snapshot(&files), before);
}

#[test]
fn damaged_or_foreign_files_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = init(dir.path());
    let mut bytes = std::fs::read(&db).unwrap();
    for (i, b) in bytes.iter_mut().take(100).enumerate() {
        *b = u8::try_from(i * 37 % 251).unwrap() ^ 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    let out = ipc(dir.path(), &["caseload", "--db", "clinic.db"], Some(PIN));
    let err = one_line_error(&out, 4);
    assert!(err.contains("not a database"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes, "damaged file untouched");

    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "shopping list: maize flour, soap\n").unwrap();
    let out = ipc(
        dir.path(),
        &[
            "client",
            "add",
            "--db",
            "notes.txt",
            "--name",
            "Sita Shrestha",
        ],
        Some(PIN),
    );
    let err = one_line_error(&out, 4);
    assert!(!err.contains("Sita"));
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "shopping list: maize flour, soap\n"
    );
    assert!(!dir.path().join("notes.txt-wal").exists());

    let out = ipc(dir.path(), &["caseload", "--db", "missing.db"], Some(PIN));
    one_line_error(&out, 4);
    assert!(!dir.path().join("missing.db").exists());
}

#[test]
fn invalid_client_input_names_the_field_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let long_name = "N".repeat(101);
    let out = ipc(
        dir.path(),
        &["client", "add", "--db", "clinic.db", "--name", &long_name],
        Some(PIN),
    );
    let err = one_line_error(&out, 2);
    assert!(err.contains("display_name"), "{err}");
    assert!(err.contains("--name"), "{err}");
    assert!(!err.contains(&long_name[..20]), "value not echoed: {err}");
    assert!(out.stdout.is_empty());

    let out = ipc(
        dir.path(),
        &[
            "client",
            "add",
            "--db",
            "clinic.db",
            "--name",
            "Amina",
            "--phone",
            "call me",
        ],
        Some(PIN),
    );
    let err = one_line_error(&out, 2);
    assert!(err.contains("phone") && !err.contains("call me"), "{err}");

    let out = ipc(
        dir.path(),
        &["caseload", "--db", "clinic.db", "--json"],
        Some(PIN),
    );
    let rows: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 0, "no client was written");
}

#[test]
fn init_refuses_an_existing_path() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("clinic.db");
    std::fs::write(&existing, b"someone's file").unwrap();
    let err = one_line_error(
        &ipc(dir.path(), &["init", "--db", "clinic.db"], Some(PIN)),
        4,
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(&existing).unwrap(), b"someone's file");
    assert!(!dir.path().join("clinic.db.device.secret").exists());
}

#[test]
fn demo_builds_an_encrypted_caseload_with_nothing_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let out = ipc(
        dir.path(),
        &["demo", "--clients", "6", "--seed", "3", "--data-dir", "run"],
        None,
    );
    let text = ok(&out);
    let privacy: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("privacy check"))
        .collect();
    assert_eq!(privacy.len(), 1, "{text}");
    let prefix = "privacy check (the CHW's and the supervisor's devices): 0 of ";
    assert!(
        privacy[0].starts_with(prefix)
            && privacy[0].ends_with(" names/phones found in plaintext in the database files"),
        "{text}"
    );
    let searched: usize = privacy[0][prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(searched >= 6, "{text}");
    assert!(text.contains("6 clients, "), "{text}");
    assert!(text.contains("IPC_PIN=246810"), "{text}");
    // The courses ran through the engine: the worklist has the worker's concern that still
    // waits for its assessment at the top, and the supervisor's queue lists it too.
    let lines: Vec<&str> = text.lines().collect();
    let worklist = lines
        .iter()
        .position(|l| l.starts_with("WORKLIST: "))
        .expect("a worklist");
    assert!(lines[worklist + 1].starts_with("CLIENT"), "{text}");
    assert!(
        lines[worklist + 2].contains("risk event waiting for an assessment"),
        "{text}"
    );
    let queue = lines
        .iter()
        .position(|l| l.starts_with("SUPERVISOR QUEUE: "))
        .expect("a supervisor queue");
    assert!(queue > worklist);
    assert!(
        lines[queue..]
            .iter()
            .any(|l| l.contains("worker concern on") && l.contains("NOT yet assessed")),
        "{text}"
    );
    assert!(text.contains("course-engine steps on"), "{text}");
    // The sync act: every device synced completely over the patchy network, the outbox is
    // empty, and the supervisor's own device holds the team's clients and their queue.
    assert!(text.contains("after syncing 0 wait"), "{text}");
    let sync = lines
        .iter()
        .position(|l| l.starts_with("SYNC: "))
        .expect("a sync act");
    assert!(lines[sync + 2].starts_with("DEVICE"), "{text}");
    let devices: Vec<Vec<&str>> = lines[sync + 3..sync + 7]
        .iter()
        .map(|l| {
            l.split("  ")
                .filter(|c| !c.is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    assert_eq!(devices[0][0], "Demo CHW", "{text}");
    assert_eq!(devices[3][1], "supervisor", "{text}");
    for d in &devices[..3] {
        // PUSHED >= ACKED and ACKED > 0 for every CHW; the supervisor pulled everything.
        assert!(d[6].replace(',', "").parse::<u64>().unwrap() > 0, "{d:?}");
    }
    let server = lines[sync + 7];
    assert!(server.starts_with("server   "), "{text}");
    let server_ops: u64 = server["server   ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    let acked: u64 = devices[..3]
        .iter()
        .map(|d| d[6].replace(',', "").parse::<u64>().unwrap())
        .sum();
    assert_eq!(server_ops, acked, "{text}");
    assert_eq!(
        devices[3][7].replace(',', "").parse::<u64>().unwrap(),
        server_ops,
        "{text}"
    );
    assert!(server.contains("4 devices enrolled"), "{text}");
    let sup_queue = lines
        .iter()
        .position(|l| l.starts_with("SUPERVISOR QUEUE on Demo Supervisor's own device"))
        .expect("the supervisor's queue");
    assert!(sup_queue > sync, "{text}");
    assert!(
        lines[sup_queue..]
            .iter()
            .any(|l| l.contains("worker concern on") && l.contains("NOT yet assessed")),
        "{text}"
    );
    let db = dir.path().join("run").join("ipc-demo.db");
    assert!(db.is_file());

    // The demo store opens with the printed PIN and holds the six clients.
    let out = ipc(
        dir.path(),
        &["caseload", "--db", "run/ipc-demo.db", "--json"],
        Some("246810"),
    );
    let rows: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 6);

    // A non-empty --data-dir is refused.
    let err = one_line_error(
        &ipc(
            dir.path(),
            &["demo", "--clients", "6", "--data-dir", "run"],
            None,
        ),
        2,
    );
    assert!(err.contains("--data-dir"), "{err}");
}
