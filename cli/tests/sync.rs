//! Sync through the real `ipc` binary in separate processes: `ipc serve` in the background on
//! a SQLite file and a free port, `ipc admin` on its database, device stores made with
//! `ipc init` and `ipc client add`, then `ipc enrol` and `ipc sync` against it — including a
//! supervisor who receives the team's clients, a reused code, revocation and wipe, and an
//! unreachable server. Each unlock costs about 250 ms, so runs are kept few.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const PIN: &str = "613942";
const CLIENT_NAME: &str = "Nadia Qorvexa";

fn ipc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipc"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("IPC_PIN", PIN)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn ok(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(out)
}

/// The run failed with `code` and one line on stderr, nothing on stdout; returns the line.
fn one_line_error(out: &Output, code: i32) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    err.trim_end().to_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// `ipc serve` in the background; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

fn log2(dir: &Path) -> PathBuf {
    dir.join("server2.log")
}

impl Server {
    fn start(dir: &Path, log: &Path) -> Server {
        Server::start_on(dir, "sqlite:server.db", "127.0.0.1:0", log)
    }

    fn start_on(dir: &Path, db: &str, listen: &str, log: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ipc"))
            .args(["serve", "--server-db", db, "--listen", listen])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let rest = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line: {line:?}"));
        let (addr, storage) = rest.split_once(' ').unwrap();
        assert_eq!(storage, "(storage: sqlite)");
        let port: u16 = addr.rsplit_once(':').unwrap().1.parse().unwrap();
        assert_ne!(port, 0, "the real port is printed");
        Server {
            child,
            url: format!("http://{addr}"),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn admin(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["admin", "--server-db", "sqlite:server.db"];
    all.extend_from_slice(args);
    ipc(dir, &all)
}

fn line_of(out: &Output) -> String {
    let text = ok(out);
    assert_eq!(text.lines().count(), 1, "{text}");
    text.trim().to_owned()
}

fn init(dir: &Path, name: &str) {
    let text = ok(&ipc(dir, &["init", "--db", name]));
    assert!(text.contains("Created an encrypted store"), "{text}");
}

fn sync_json(dir: &Path, db: &str) -> Value {
    let v = json(&ipc(dir, &["sync", "--db", db, "--json"]));
    for key in [
        "pushed",
        "acknowledged",
        "pulled",
        "quarantined",
        "clock_skew_ms",
        "complete",
    ] {
        assert!(v.get(key).is_some(), "{key} missing in {v}");
    }
    v
}

/// The store's files (copied to make a stale device that missed its wipe).
fn store_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(name))
        })
        .collect()
}

#[test]
fn enrol_sync_supervise_revoke_and_lose_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let log = dir.join("server.log");
    let mut server = Server::start(dir, &log);

    // The operator registers a CHW and a supervisor of the same team.
    let chw = line_of(&admin(
        dir,
        &[
            "add-worker",
            "--name",
            "CHW One",
            "--team",
            "north",
            "--role",
            "worker",
        ],
    ));
    let sup = line_of(&admin(
        dir,
        &[
            "add-worker",
            "--name",
            "Sup One",
            "--team",
            "north",
            "--role",
            "supervisor",
        ],
    ));
    assert_eq!(chw.len(), 36, "{chw}");
    assert_ne!(chw, sup);
    let chw_code = line_of(&admin(dir, &["enrol-code", "--worker", &chw]));
    let sup_code = line_of(&admin(
        dir,
        &["enrol-code", "--worker", &sup, "--ttl-hours", "2"],
    ));
    assert_eq!(chw_code.len(), 14, "XXXX-XXXX-XXXX: {chw_code}");

    // The CHW's device: a store, a client, enrolment, sync.
    init(dir, "chw.db");
    let client = line_of(&ipc(
        dir,
        &["client", "add", "--db", "chw.db", "--name", CLIENT_NAME],
    ));
    let text = ok(&ipc(
        dir,
        &[
            "enrol",
            "--db",
            "chw.db",
            "--server",
            &server.url,
            "--code",
            &chw_code,
        ],
    ));
    assert!(text.contains(&chw), "{text}");
    assert!(
        text.contains("role    worker") && text.contains("team    north"),
        "{text}"
    );
    let report = sync_json(dir, "chw.db");
    assert!(report["pushed"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["acknowledged"], report["pushed"], "{report}");
    assert_eq!(report["complete"], true, "{report}");

    // The supervisor's device receives the team's client.
    init(dir, "sup.db");
    ok(&ipc(
        dir,
        &[
            "enrol",
            "--db",
            "sup.db",
            "--server",
            &server.url,
            "--code",
            &sup_code,
        ],
    ));
    let report = sync_json(dir, "sup.db");
    assert!(report["pulled"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["pushed"], 0, "{report}");
    assert_eq!(report["complete"], true, "{report}");
    let caseload = json(&ipc(dir, &["caseload", "--db", "sup.db", "--json"]));
    let rows = caseload.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{caseload}");
    assert_eq!(rows[0]["client_id"], client.as_str());
    assert_eq!(rows[0]["display_name"], CLIENT_NAME);

    let stats = json(&admin(dir, &["stats", "--json"]));
    assert_eq!(stats["devices"], 2, "{stats}");
    assert_eq!(stats["workers"], 2, "{stats}");
    assert_eq!(stats["clients"], 1, "{stats}");
    assert!(stats["ops"].as_u64().unwrap() >= 1, "{stats}");

    // A used code is refused by the server (exit 6) and the store stays unenrolled.
    init(dir, "third.db");
    let line = one_line_error(
        &ipc(
            dir,
            &[
                "enrol",
                "--db",
                "third.db",
                "--server",
                &server.url,
                "--code",
                &chw_code,
            ],
        ),
        6,
    );
    assert!(line.contains("enrol_code_used"), "{line}");
    assert!(!line.contains(&chw_code), "the code is not echoed: {line}");
    let line = one_line_error(&ipc(dir, &["sync", "--db", "third.db"]), 2);
    assert!(
        line.contains("not enrolled") && line.contains("ipc enrol"),
        "{line}"
    );

    // Revocation. A copy of the device as it is now stands for a phone that was offline.
    let stale = dir.join("stale");
    std::fs::create_dir(&stale).unwrap();
    for f in store_files(dir, "chw.db") {
        std::fs::copy(&f, stale.join(f.file_name().unwrap())).unwrap();
    }
    let devices = json(&admin(dir, &["devices", "--json"]));
    let device = devices
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["worker"] == chw.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ops_before = stats["ops"].as_u64().unwrap();
    ok(&admin(dir, &["revoke", "--device", &device]));
    // Work done after the revocation is still pushed (not lost), then the device wipes.
    line_of(&ipc(
        dir,
        &["client", "add", "--db", "chw.db", "--name", "Omri Vaskel"],
    ));
    let text = ok(&ipc(dir, &["sync", "--db", "chw.db"]));
    assert!(text.contains("pushed 1 (1 acknowledged)"), "{text}");
    assert!(text.contains("device revoked: local data wiped"), "{text}");
    let stats = json(&admin(dir, &["stats", "--json"]));
    assert_eq!(stats["ops"].as_u64().unwrap(), ops_before + 1, "{stats}");
    assert_eq!(stats["devices"], 1, "{stats}");
    let caseload = json(&ipc(dir, &["caseload", "--db", "chw.db", "--json"]));
    assert_eq!(caseload, serde_json::json!([]), "the data is gone");
    // The wiped store forgot its enrolment.
    let line = one_line_error(&ipc(dir, &["sync", "--db", "chw.db"]), 2);
    assert!(line.contains("not enrolled"), "{line}");
    // The stale copy, with nothing to push, is answered device_revoked and wipes too.
    let report = json(&ipc(&stale, &["sync", "--db", "chw.db", "--json"]));
    assert_eq!(report["wiped"], true, "{report}");
    assert_eq!(report["pushed"], 0, "{report}");

    // A server that does not know the device's token (a new database at the same address)
    // refuses it: exit 6.
    let port = server.url.rsplit_once(':').unwrap().1.to_owned();
    server.kill();
    let mut other = Server::start_on(
        dir,
        "sqlite:other.db",
        &format!("127.0.0.1:{port}"),
        &log2(dir),
    );
    assert_eq!(other.url, server.url);
    let line = one_line_error(&ipc(dir, &["sync", "--db", "sup.db"]), 6);
    assert!(line.contains("(unauthorized)"), "{line}");
    assert!(!line.contains("complete"), "{line}");

    // The server goes away: exit 5, one line, never "complete".
    other.kill();
    let out = ipc(dir, &["sync", "--db", "sup.db", "--json"]);
    let line = one_line_error(&out, 5);
    assert!(
        line.starts_with(&format!("error: cannot reach the server at {}", server.url)),
        "{line}"
    );
    assert!(!line.contains("complete"), "{line}");

    // The server's log names ids and counts, never a client.
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("device enrolled"), "{log}");
    assert!(!log.contains(CLIENT_NAME) && !log.contains("Qorvexa"));
}

#[test]
fn enrol_and_sync_check_their_input_before_the_pin() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    init(dir, "a.db");
    let out = Command::new(env!("CARGO_BIN_EXE_ipc"))
        .args(["sync", "--db", "a.db"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("IPC_PIN")
        .output()
        .unwrap();
    let line = one_line_error(&out, 2);
    assert!(line.contains("not enrolled"), "{line}");
    let line = one_line_error(
        &ipc(
            dir,
            &[
                "enrol",
                "--db",
                "a.db",
                "--server",
                "127.0.0.1:1",
                "--code",
                "AAAA-BBBB-CCCC",
            ],
        ),
        2,
    );
    assert!(line.contains("--server must be an http"), "{line}");
    // Nothing listens on port 1: exit 5 before anything is sent or saved.
    let line = one_line_error(
        &ipc(
            dir,
            &[
                "enrol",
                "--db",
                "a.db",
                "--server",
                "http://127.0.0.1:1",
                "--code",
                "AAAA-BBBB-CCCC",
            ],
        ),
        5,
    );
    assert!(
        line.contains("cannot reach the server at http://127.0.0.1:1"),
        "{line}"
    );
    assert!(!line.contains("AAAA"), "{line}");
    let line = one_line_error(&ipc(dir, &["admin", "--server-db", "ftp://x", "stats"]), 2);
    assert!(line.contains("storage URL not understood"), "{line}");
}
