//! End-to-end tests of the clinical commands of the `ipc` binary: `score` (golden vectors at
//! every band boundary, every kind of invalid answer list), `simulate` (every example
//! scenario, refused steps, invalid scenario and protocol files, `--keep-db`), and the PIN
//! life cycle (`recover` after a lock-out, `change-pin`). Each test runs the real executable
//! in a temporary folder with standard input closed (no terminal, so no prompt).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const PIN: &str = "482913";
const NEW_PIN: &str = "907163";

fn ipc_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ipc"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("IPC_PIN")
        .env_remove("IPC_NEW_PIN")
        .env_remove("IPC_RECOVERY_CODE")
        // Temporary simulation stores go here, so the tests can see they are removed.
        .env("TMPDIR", dir.join("tmp"));
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn ipc(dir: &Path, args: &[&str]) -> Output {
    ipc_env(dir, args, &[])
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// The run failed with `code`, exactly one line on stderr starting `error: `, and nothing on
/// stdout; returns the line.
fn one_line_error(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    assert!(!err.contains("panicked"), "{err:?}");
    assert!(out.stdout.is_empty(), "stdout: {}", stdout(out));
    err.trim_end().to_owned()
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout(out)
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn example(name: &str) -> String {
    examples()
        .into_iter()
        .find(|p| p.file_stem().unwrap() == name)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn error_codes(report: &Value) -> Vec<&str> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect()
}

/// The temporary folder is empty: simulation stores were removed.
fn assert_no_temporary_store(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir.join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ------------------------------------------------------------------------------------ score

/// `ipc score --json` for `answers`; the parsed object.
fn score(dir: &Path, instrument: &str, answers: &str) -> Value {
    let out = ipc(
        dir,
        &[
            "score",
            "--instrument",
            instrument,
            "--answers",
            answers,
            "--json",
        ],
    );
    let text = ok(&out);
    assert_eq!(text.lines().count(), 1, "one JSON object: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v.is_object());
    v
}

/// Comma-separated values (0-3 each) adding up to `total`, filling items from the first.
fn answers_for(items: usize, total: u32) -> String {
    let mut left = total;
    (0..items)
        .map(|_| {
            let v = left.min(3);
            left -= v;
            v.to_string()
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn score_golden_vectors_at_every_band_boundary() {
    let dir = tempfile::tempdir().unwrap();
    // (instrument, items, total, band, flags)
    let cases: &[(&str, usize, u32, &str, &[&str])] = &[
        ("phq2", 2, 0, "negative", &[]),
        ("phq2", 2, 2, "negative", &[]),
        ("phq2", 2, 3, "positive", &["positive_screen"]),
        ("phq2", 2, 6, "positive", &["positive_screen"]),
        ("phq9", 9, 0, "minimal", &[]),
        ("phq9", 9, 4, "minimal", &[]),
        ("phq9", 9, 5, "mild", &[]),
        ("phq9", 9, 9, "mild", &[]),
        ("phq9", 9, 10, "moderate", &[]),
        ("phq9", 9, 14, "moderate", &[]),
        ("phq9", 9, 15, "moderately_severe", &[]),
        ("phq9", 9, 19, "moderately_severe", &[]),
        ("phq9", 9, 20, "severe", &["severe_symptoms"]),
        // 27 fills item 9 too: thoughts of self-harm.
        (
            "phq9",
            9,
            27,
            "severe",
            &["self_harm_thoughts", "severe_symptoms"],
        ),
        ("gad7", 7, 0, "minimal", &[]),
        ("gad7", 7, 4, "minimal", &[]),
        ("gad7", 7, 5, "mild", &[]),
        ("gad7", 7, 9, "mild", &[]),
        ("gad7", 7, 10, "moderate", &["anxiety_further_evaluation"]),
        ("gad7", 7, 14, "moderate", &["anxiety_further_evaluation"]),
        ("gad7", 7, 15, "severe", &["anxiety_further_evaluation"]),
        ("gad7", 7, 21, "severe", &["anxiety_further_evaluation"]),
    ];
    let max = |i: &str| match i {
        "phq2" => 6,
        "phq9" => 27,
        _ => 21,
    };
    for &(instrument, items, total, band, flags) in cases {
        let v = score(dir.path(), instrument, &answers_for(items, total));
        let what = format!("{instrument} {total}: {v}");
        assert_eq!(v["instrument"], instrument, "{what}");
        assert_eq!(v["version"], "1.0", "{what}");
        assert_eq!(v["total"], total, "{what}");
        assert_eq!(v["max"], max(instrument), "{what}");
        assert_eq!(v["band"], band, "{what}");
        let got: Vec<&str> = v["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        assert_eq!(got, flags, "{what}");
        // PHQ-9 without its 10th (difficulty) answer is scored but not complete.
        assert_eq!(v["complete"], instrument != "phq9", "{what}");
    }
}

#[test]
fn score_phq9_item9_and_the_difficulty_item() {
    let dir = tempfile::tempdir().unwrap();
    // Total 4 (minimal) yet item 9 above 0: the flag does not depend on the total.
    let v = score(dir.path(), "phq9", "1,1,0,0,0,0,0,0,2,3");
    assert_eq!(v["total"], 4);
    assert_eq!(v["band"], "minimal");
    assert_eq!(v["flags"], serde_json::json!(["self_harm_thoughts"]));
    assert_eq!(v["difficulty"], 3, "reported");
    assert_eq!(v["complete"], true);
    assert_eq!(v["answered"], 10);
    // Spaces around values are fine.
    let spaced = score(dir.path(), "phq9", " 1, 1,0,0,0,0,0,0,2 ,3 ");
    assert_eq!(spaced, v);

    let text = ok(&ipc(
        dir.path(),
        &[
            "score",
            "--instrument",
            "phq9",
            "--answers",
            "3,3,2,2,2,2,2,2,0,1",
        ],
    ));
    assert_eq!(
        text,
        "PHQ-9 total 18/27: moderately severe\n\
         flags: none\n\
         difficulty (not scored): 1 (Somewhat difficult)\n"
    );
    let text = ok(&ipc(
        dir.path(),
        &["score", "--instrument", "phq2", "--answers", "2,1"],
    ));
    assert_eq!(text, "PHQ-2 total 3/6: positive\nflags: positive_screen\n");
}

#[test]
fn score_refuses_every_kind_of_invalid_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // (instrument, answers, expected in the message, text that must not be echoed)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("phq8", "1,2", "invalid value for --instrument", "phq8"),
        ("phq9", "", "no answers given", "~"),
        ("phq9", " , ", "got 2 (2 of them empty)", "~"),
        (
            "phq9",
            "1,2,3",
            "expected 9 answers (or 10 with the difficulty item last)",
            "~",
        ),
        ("gad7", "1,1,1,1,1,1", "expected 7 answers", "~"),
        ("phq2", "1,1,1", "expected 2 answers", "~"),
        ("phq9", "1,1,1,1,1,1,1,1,1,1,1", "got 11", "~"),
        (
            "phq9",
            "1,1,1,one,1,1,1,1,1",
            "answer 4 (item phq9_4) is not a whole number; allowed values are 0–3",
            "one",
        ),
        (
            "gad7",
            "1,1,1,1,1,1,1.5",
            "answer 7 (item gad7_7) is not a whole number",
            "1.5",
        ),
        (
            "phq9",
            "1,1,1,1,1,1,1,1,58",
            "answer 9 (item phq9_9) is out of range; allowed values are 0–3",
            "58",
        ),
        (
            "phq2",
            "-7,1",
            "answer 1 (item phq2_1) is out of range",
            "-7",
        ),
        (
            "phq9",
            "1,1,1,1,1,1,1,1,1,84",
            "answer 10 (item phq9_difficulty) is out of range; allowed values are 0–3",
            "84",
        ),
        (
            "phq9",
            "1,1,,1,1,1,1,1,1",
            "answer 3 (item phq9_3) is missing; allowed values are 0–3",
            "~",
        ),
        (
            "gad7",
            "1,1,1,1,1,1,",
            "answer 7 (item gad7_7) is missing",
            "~",
        ),
        (
            "phq9",
            "99999999999999999999,1,1,1,1,1,1,1,1",
            "answer 1 (item phq9_1) is not a whole number",
            "99999",
        ),
    ];
    for &(instrument, answers, expected, secret) in cases {
        let out = ipc(
            dir.path(),
            &["score", "--instrument", instrument, "--answers", answers],
        );
        let err = one_line_error(&out, 2);
        assert!(err.contains(expected), "{instrument} {answers:?}: {err}");
        assert!(!err.contains(secret), "{answers:?} echoed: {err}");
        assert!(!err.contains(answers) || answers.len() < 3, "{err}");
    }
    // The answers are required, and a flag-looking value is read as answers, not a flag.
    let err = one_line_error(&ipc(dir.path(), &["score", "--instrument", "gad7"]), 2);
    assert!(err.contains("--answers"), "{err}");
    let err = one_line_error(
        &ipc(
            dir.path(),
            &["score", "--instrument", "phq2", "--answers", "-1,-2"],
        ),
        2,
    );
    assert!(err.contains("out of range"), "{err}");
}

// --------------------------------------------------------------------------------- simulate

const REPORT_KEYS: [&str; 8] = [
    "errors",
    "events",
    "flags",
    "next_agenda",
    "outcome",
    "risk_events",
    "sessions_held",
    "status",
];

/// `ipc simulate` on `file`: exit 0, nothing on stderr, one JSON report with the documented
/// keys.
fn simulate(dir: &Path, args: &[&str]) -> Value {
    let mut all = vec!["simulate"];
    all.extend_from_slice(args);
    let out = ipc(dir, &all);
    let text = ok(&out);
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, REPORT_KEYS, "{text}");
    assert!(v["status"].is_string() && v["sessions_held"].is_u64());
    for key in ["events", "flags", "risk_events", "errors", "next_agenda"] {
        assert!(v[key].is_array(), "{key}: {text}");
    }
    for e in v["events"].as_array().unwrap() {
        assert!(e["day"].is_u64() && e["kind"].is_string() && e["detail"].is_string());
    }
    v
}

#[test]
fn simulate_runs_every_example_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let files = examples();
    assert!(files.len() >= 7, "{files:?}");
    for file in &files {
        let name = file.file_stem().unwrap().to_str().unwrap();
        let r = simulate(dir.path(), &[file.to_str().unwrap()]);
        let events = r["events"].as_array().unwrap();
        assert!(!events.is_empty(), "{name}");
        // Free text of the scenario (client names, notes) is never echoed.
        let text = r.to_string();
        assert!(!text.contains("Synthetic Client"), "{name}: {text}");
        match name {
            "disputes-six-sessions" => {
                assert_eq!(r["status"], "completed");
                assert_eq!(r["sessions_held"], 6);
                assert_eq!(r["outcome"]["remission"], true);
            }
            "not-eligible" => assert_eq!(r["flags"], serde_json::json!(["not_eligible"])),
            "gad7-screening" => {
                assert_eq!(r["status"], "completed");
                assert_eq!(r["sessions_held"], 4);
                assert!(r["errors"].as_array().unwrap().is_empty(), "{r}");
                assert!(events
                    .iter()
                    .any(|e| e["detail"] == "gad7 total 12 (moderate)"));
            }
            "concern-urgent-referral" => {
                assert_eq!(r["status"], "referred");
                assert_eq!(error_codes(&r), ["risk_assessment_required"]);
                assert_eq!(r["risk_events"][0]["trigger"], "worker_concern");
                assert_eq!(r["risk_events"][0]["outcome"], "urgent_referral");
                assert_eq!(r["risk_events"][0]["supervisor_contacted"], true);
                assert!(r["flags"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from("refer")));
            }
            _ => {}
        }
    }
    assert_no_temporary_store(dir.path());
}

#[test]
fn a_refused_step_is_in_the_report_and_the_run_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let r = simulate(dir.path(), &[&example("item9-needs-assessment")]);
    assert_eq!(error_codes(&r), ["risk_assessment_required"]);
    let e = &r["errors"][0];
    assert_eq!((e["day"].as_u64(), e["index"].as_u64()), (Some(0), Some(2)));
    assert_eq!(e["step"], "session");
    assert!(e["message"].as_str().unwrap().contains("risk assessment"));
    assert_eq!(r["sessions_held"], 2, "the run went on after the refusal");
    assert_eq!(r["risk_events"][0]["status"], "assessed");

    let r = simulate(dir.path(), &[&example("session-limit")]);
    assert_eq!(error_codes(&r), ["session_limit"]);
    assert_no_temporary_store(dir.path());
}

#[test]
fn simulate_with_a_protocol_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("four.json");
    std::fs::write(
        &config,
        r#"{"sessions": {"default_planned": {"value": 4, "source": "Programme decision (test)"}}}"#,
    )
    .unwrap();
    let scenario = example("missed-and-concern");
    let default = simulate(dir.path(), &[&scenario]);
    let four = simulate(dir.path(), &[&scenario, "--protocol", "four.json"]);
    let enrolled = |r: &Value| {
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "enrolled")
            .unwrap()["detail"]
            .clone()
    };
    assert_eq!(enrolled(&default), "6 sessions planned");
    assert_eq!(enrolled(&four), "4 sessions planned");

    // Invalid configurations: one line naming the file and what is wrong.
    let cases: &[(&str, &str)] = &[
        (
            r#"{"sessions": {"default_planed": {"value": 4, "source": "x"}}}"#,
            "unknown field `default_planed`",
        ),
        (
            r#"{"sessions": {"default_planned": {"value": 4}}}"#,
            "missing field `source`",
        ),
        (
            r#"{"sessions": {"default_planned": {"value": 40, "source": "x"}}}"#,
            "invalid: ",
        ),
        (
            "{\n  \"sessions\": {\n",
            "invalid at line 3, column 0: EOF while parsing an object",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&config, text).unwrap();
        let err = one_line_error(
            &ipc(
                dir.path(),
                &["simulate", &scenario, "--protocol", "four.json"],
            ),
            2,
        );
        assert!(err.starts_with("error: protocol file four.json"), "{err}");
        assert!(err.contains(expected), "{text}: {err}");
        assert!(
            err.matches("line").count() <= 1,
            "position given once: {err}"
        );
    }
    let err = one_line_error(
        &ipc(
            dir.path(),
            &["simulate", &scenario, "--protocol", "none.json"],
        ),
        2,
    );
    assert!(
        err.contains("protocol file none.json: cannot be read (not found)"),
        "{err}"
    );
    assert_no_temporary_store(dir.path());
}

#[test]
fn invalid_scenario_files_are_one_line_errors_with_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.json");
    let head = r#"{"start": "2026-01-05", "client": {"name": "Synthetic Client Z"}, "steps": ["#;
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{head}\n  {{\"day\": 0, \"sesion\": {{}}}}]}}"),
            "invalid at line 2, column",
        ),
        (
            format!("{head}\n  {{\"day\": 0, \"screen\": {{\"instrument\": \"phq2\", \"answers\": [1, \"Amina\"]}}}}]}}"),
            "invalid type (expected u8)",
        ),
        (
            format!("{head}\n  {{\"day\": 0, \"session\": {{\"phq\": [1]}}}}]}}"),
            "unknown field `phq`",
        ),
        (
            r#"{"start": "2026-01-05", "client": {"name": "Synthetic Client Z", "nam": 1}, "steps": []}"#.to_owned(),
            "unknown field `nam`",
        ),
        (
            r#"{"start": "2026-02-30", "client": {"name": "Z"}, "steps": []}"#.to_owned(),
            "invalid at line 1, column 22",
        ),
        (format!("{head}\n"), "invalid at line 2, column 0: EOF"),
        (
            r#"{"start": "2026-01-05", "client": {"name": "   "}, "steps": []}"#.to_owned(),
            "s.json: client: invalid display_name",
        ),
    ];
    for (text, expected) in &cases {
        std::fs::write(&file, text).unwrap();
        let err = one_line_error(&ipc(dir.path(), &["simulate", "s.json"]), 2);
        assert!(err.starts_with("error: scenario file s.json: "), "{err}");
        assert!(err.contains(expected), "{text}\n{err}");
        assert!(
            !err.contains("Amina") && !err.contains("Synthetic"),
            "{err}"
        );
    }
    let err = one_line_error(&ipc(dir.path(), &["simulate", "missing.json"]), 2);
    assert_eq!(
        err,
        "error: scenario file missing.json: cannot be read (not found)"
    );
    std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
    let err = one_line_error(&ipc(dir.path(), &["simulate", "s.json"]), 2);
    assert!(err.contains("not UTF-8 text"), "{err}");
    assert_no_temporary_store(dir.path());

    // An invalid client is refused before anything is created, even with --keep-db; a
    // temporary store ignores IPC_PIN (even an unusable one).
    std::fs::write(
        &file,
        r#"{"start": "2026-01-05", "client": {"name": "Z", "phone": "call me"}, "steps": []}"#,
    )
    .unwrap();
    let err = one_line_error(
        &ipc(dir.path(), &["simulate", "s.json", "--keep-db", "k.db"]),
        2,
    );
    assert!(
        err.contains("client: invalid phone") && !err.contains("call me"),
        "{err}"
    );
    assert!(!dir.path().join("k.db").exists());
    let out = ipc_env(
        dir.path(),
        &["simulate", &example("not-eligible")],
        &[("IPC_PIN", "12")],
    );
    ok(&out);
    assert_no_temporary_store(dir.path());
}

#[test]
fn keep_db_keeps_an_encrypted_store_that_opens_with_the_printed_pin() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = example("missed-and-concern");
    let out = ipc(dir.path(), &["simulate", &scenario, "--keep-db", "sim.db"]);
    let report: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(report["sessions_held"], 1);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    let pin = err.trim_end().rsplit("PIN ").next().unwrap().to_owned();
    assert!(
        pin.len() == 6 && pin.chars().all(|c| c.is_ascii_digit()),
        "{err}"
    );
    assert!(err.contains("sim.db"), "{err}");
    assert!(dir.path().join("sim.db.device.secret").is_file());

    let rows: Value = serde_json::from_str(&ok(&ipc_env(
        dir.path(),
        &["caseload", "--db", "sim.db", "--json"],
        &[("IPC_PIN", &pin)],
    )))
    .unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["display_name"], "Synthetic Client E");
    assert_eq!(rows[0]["open_risk_events"], 1);

    // The path must be new; nothing is run otherwise.
    let err = one_line_error(
        &ipc(dir.path(), &["simulate", &scenario, "--keep-db", "sim.db"]),
        4,
    );
    assert!(err.contains("--keep-db already exists"), "{err}");

    // With IPC_PIN set, that PIN protects the store and is not printed.
    let out = ipc_env(
        dir.path(),
        &["simulate", &scenario, "--keep-db", "mine.db"],
        &[("IPC_PIN", PIN)],
    );
    ok(&out);
    assert!(!stderr(&out).contains(PIN) && stderr(&out).contains("IPC_PIN"));
    ok(&ipc_env(
        dir.path(),
        &["caseload", "--db", "mine.db"],
        &[("IPC_PIN", PIN)],
    ));
}

// ------------------------------------------------------------------------------ PIN life cycle

/// A new store `clinic.db` (via `ipc init`); returns its recovery code.
fn init(dir: &Path) -> String {
    let out = ipc_env(
        dir,
        &["init", "--db", "clinic.db", "--worker-name", "Worker ZQX"],
        &[("IPC_PIN", PIN)],
    );
    let text = ok(&out);
    let mut lines = text.lines().skip_while(|l| !l.starts_with("Recovery code"));
    lines.next();
    let code = lines
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 47, "{code}");
    code
}

fn caseload(dir: &Path, pin: &str) -> Output {
    ipc_env(dir, &["caseload", "--db", "clinic.db"], &[("IPC_PIN", pin)])
}

fn lock_out(dir: &Path) {
    std::fs::write(
        dir.join("clinic.db.pin-attempts"),
        r#"{"failures":10,"last_failure_unix_ms":0,"locked_out":true}"#,
    )
    .unwrap();
}

#[test]
fn recover_after_a_lock_out_sets_a_new_pin() {
    let dir = tempfile::tempdir().unwrap();
    let code = init(dir.path());
    lock_out(dir.path());
    let err = one_line_error(&caseload(dir.path(), PIN), 3);
    assert!(
        err.contains("locked out") && err.contains("ipc recover"),
        "{err}"
    );

    let recover =
        |env: &[(&str, &str)]| ipc_env(dir.path(), &["recover", "--db", "clinic.db"], env);
    // No code anywhere (and no terminal): refused, naming the variable.
    let err = one_line_error(&recover(&[("IPC_NEW_PIN", NEW_PIN)]), 3);
    assert!(err.contains("IPC_RECOVERY_CODE"), "{err}");
    // A mistyped code (checksum): refused before asking for the new PIN.
    let mut typo = code.clone();
    typo.replace_range(0..1, if code.starts_with('A') { "B" } else { "A" });
    let err = one_line_error(&recover(&[("IPC_RECOVERY_CODE", &typo)]), 3);
    assert!(err.contains("not a valid recovery code"), "{err}");
    assert!(!err.contains(&typo[..10]), "{err}");
    // The code, but no new PIN.
    let err = one_line_error(&recover(&[("IPC_RECOVERY_CODE", &code)]), 3);
    assert!(
        err.contains("no new PIN") && err.contains("IPC_NEW_PIN"),
        "{err}"
    );
    // A new PIN that breaks the rules.
    let err = one_line_error(
        &recover(&[("IPC_RECOVERY_CODE", &code), ("IPC_NEW_PIN", "12")]),
        3,
    );
    assert!(err.contains("at least 4 characters"), "{err}");
    // Still locked out after all that.
    one_line_error(&caseload(dir.path(), PIN), 3);

    // Another store's (well-formed) code does not open this one.
    let other = tempfile::tempdir().unwrap();
    let other_code = init(other.path());
    let err = one_line_error(
        &recover(&[("IPC_RECOVERY_CODE", &other_code), ("IPC_NEW_PIN", NEW_PIN)]),
        3,
    );
    assert!(err.contains("wrong recovery code"), "{err}");

    // The right code, lower case and without dashes, as people type it.
    let typed = code.replace('-', " ").to_lowercase();
    let text = ok(&recover(&[
        ("IPC_RECOVERY_CODE", &typed),
        ("IPC_NEW_PIN", NEW_PIN),
    ]));
    assert!(text.contains("new PIN"), "{text}");
    assert!(!text.contains(&code) && !text.contains(NEW_PIN), "{text}");
    ok(&caseload(dir.path(), NEW_PIN));
    let err = one_line_error(&caseload(dir.path(), PIN), 3);
    assert!(err.contains("wrong PIN"), "{err}");
    // The lock-out is cleared: 9 more attempts before the next one.
    assert!(err.contains("9 attempts left"), "{err}");
}

#[test]
fn change_pin_needs_the_current_pin_and_a_different_new_one() {
    let dir = tempfile::tempdir().unwrap();
    init(dir.path());
    let change =
        |env: &[(&str, &str)]| ipc_env(dir.path(), &["change-pin", "--db", "clinic.db"], env);
    let err = one_line_error(&change(&[("IPC_NEW_PIN", NEW_PIN)]), 3);
    assert!(err.contains("IPC_PIN"), "{err}");
    let err = one_line_error(&change(&[("IPC_PIN", PIN)]), 3);
    assert!(err.contains("IPC_NEW_PIN"), "{err}");
    let err = one_line_error(&change(&[("IPC_PIN", PIN), ("IPC_NEW_PIN", PIN)]), 2);
    assert!(err.contains("same as the current one"), "{err}");
    let err = one_line_error(&change(&[("IPC_PIN", PIN), ("IPC_NEW_PIN", "")]), 3);
    assert!(err.contains("IPC_NEW_PIN is set but empty"), "{err}");

    // A wrong current PIN counts as a wrong PIN and changes nothing.
    let db = dir.path().join("clinic.db");
    let before = std::fs::read(&db).unwrap();
    let err = one_line_error(
        &change(&[("IPC_PIN", "000000"), ("IPC_NEW_PIN", NEW_PIN)]),
        3,
    );
    assert!(
        err.contains("wrong PIN") && !err.contains("000000"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    ok(&caseload(dir.path(), PIN));

    let text = ok(&change(&[("IPC_PIN", PIN), ("IPC_NEW_PIN", NEW_PIN)]));
    assert_eq!(text, "PIN changed; the store now opens with the new PIN.\n");
    ok(&caseload(dir.path(), NEW_PIN));
    one_line_error(&caseload(dir.path(), PIN), 3);
}
