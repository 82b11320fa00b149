//! No plaintext at rest: distinctive strings written into every sensitive field of every kind
//! (through the write path, by an update, in a deleted record and through received
//! operations) never appear in the database, WAL or shared-memory files, nor in any other file
//! beside them, in UTF-8, lowercase or UTF-16; sensitive columns hold ciphertext blobs only,
//! and the audit trail holds none of the strings.

use std::collections::BTreeSet;
use std::path::Path;

use ipc_core::clock::Clock;
use ipc_core::model::{
    Answer, CourseStatus, DisputeStage, EndReason, ProblemArea, RiskAssessment, RiskOutcome,
    RiskStatus, SkippedStep,
};
use ipc_core::store::spec::spec;
use ipc_core::sync::op::EntityKind;
use serde_json::json;

use crate::support::*;

/// The extensions every record below carries.
fn ext() -> serde_json::Value {
    json!({"zqx:source": {"ZQXEXTKEY": "ZQXEXTVALUE"}})
}

/// Every distinctive value written below.
const NEEDLES: &[&str] = &[
    "ZQXWORKER",
    "ZQXNAME1",
    "0799 123 457 1",
    "07991234571",
    "ZQXVILLAGE",
    "ZQXVILLAGE2",
    "ZQXADDRESS",
    "ZQXENDNOTE",
    "ZQXEXTENSION",
    "ZQXEXTKEY",
    "ZQXEXTVALUE",
    "life_changes",
    "loneliness",
    "dissolution",
    "ZQXSESSIONNOTE",
    "ZQXNOTE2",
    "ZQXTASK",
    "zqxstep",
    "ZQXSKIPREASON",
    "ZQXSCREENNOTE",
    "zqxitem",
    "zqxband",
    "zqxflag",
    "ZQXLABEL",
    "ZQXREL",
    "ZQXSUPPORT",
    "ZQXCONFLICT",
    "ZQXCHANGED",
    "ZQXEXPECT",
    "ZQXEVENT",
    "ZQXOBS",
    "ZQXASSESSNOTE",
    "ZQXOUTCOME",
    "ZQXREASON",
    "ZQXDEST",
    "ZQXDELREASON",
    "ZQXSUPNOTE",
    "ZQXREMOTENAME",
    "0788 555 666 2",
    "ZQXREMOTENOTE",
    "ZQXREMOTESUP",
    "ZQXEXTRAKEY",
    "ZQXEXTRAVALUE",
];

/// The byte patterns of a needle: UTF-8, lowercase and uppercase UTF-8, UTF-16 LE and BE.
fn patterns(needle: &str) -> Vec<Vec<u8>> {
    let mut out: BTreeSet<Vec<u8>> = BTreeSet::new();
    for s in [
        needle.to_string(),
        needle.to_lowercase(),
        needle.to_uppercase(),
    ] {
        out.insert(s.as_bytes().to_vec());
        out.insert(s.encode_utf16().flat_map(u16::to_le_bytes).collect());
        out.insert(s.encode_utf16().flat_map(u16::to_be_bytes).collect());
    }
    out.into_iter().collect()
}

/// `(file, needle)` for every occurrence of a needle in any file of `dir`. One pass per file,
/// indexed by the first two bytes of every pattern (fast enough in a debug build).
fn scan_dir(dir: &Path) -> Vec<(String, String)> {
    let mut index: Vec<Vec<(usize, Vec<u8>)>> = vec![Vec::new(); 1 << 16];
    for (n, needle) in NEEDLES.iter().enumerate() {
        for p in patterns(needle) {
            index[usize::from(u16::from_be_bytes([p[0], p[1]]))].push((n, p));
        }
    }
    let mut hits = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let bytes = std::fs::read(entry.path()).unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        for (i, pair) in bytes.windows(2).enumerate() {
            for (n, p) in &index[usize::from(u16::from_be_bytes([pair[0], pair[1]]))] {
                if bytes.get(i..i + p.len()) == Some(p.as_slice()) {
                    hits.insert((name.clone(), NEEDLES[*n].to_string()));
                }
            }
        }
    }
    hits.into_iter().collect()
}

/// Write a distinctive value into every sensitive field of every kind; returns the files'
/// directory and path (the store is closed when this returns).
fn write_everything() -> TestStore {
    let t = new_store_with(Default::default(), "ZQXWORKER");
    let today = today(&t);
    let me = t.store.identity().worker_id;
    let mut c = client(&t, "ZQXNAME1");
    c.phone = Some("0799 123 457 1".into());
    c.village = Some("ZQXVILLAGE".into());
    c.address = Some("ZQXADDRESS".into());

    let mut ended = course(c.id, me, today);
    ended.problem_areas = vec![ProblemArea::LifeChanges, ProblemArea::Loneliness];
    ended.status = CourseStatus::Completed;
    ended.end_reason = Some(EndReason::Completed);
    ended.ended_on = Some(today);
    ended.end_note = Some("ZQXENDNOTE".into());
    ended.extension_reason = Some("ZQXEXTENSION".into());
    let mut disputes = course(c.id, me, today);
    disputes.problem_areas = vec![ProblemArea::Disputes];
    disputes.dispute_stage = Some(DisputeStage::Dissolution);

    let mut s = session(&disputes, 1, today);
    s.notes = Some("ZQXSESSIONNOTE".into());
    s.task = Some("ZQXTASK".into());
    s.steps_skipped = vec![SkippedStep {
        step: "zqxstep".into(),
        reason: "ZQXSKIPREASON".into(),
    }];

    let mut sc = screening(c.id, today);
    sc.note = Some("ZQXSCREENNOTE".into());

    let mut resp = response(&disputes, today);
    resp.answers = (1..=3)
        .map(|i| Answer {
            item: format!("zqxitem{i}"),
            value: 2,
        })
        .collect();
    resp.band = Some("zqxband".into());
    resp.flags = vec!["zqxflag".into()];

    let mut inv = inventory_entry(&disputes);
    inv.label = "ZQXLABEL".into();
    inv.relationship = "ZQXREL".into();
    inv.support = Some("ZQXSUPPORT".into());
    inv.conflict = Some("ZQXCONFLICT".into());
    inv.what_changed = Some("ZQXCHANGED".into());
    inv.expectations = Some("ZQXEXPECT".into());

    let mut ev = timeline_event(&disputes, today);
    ev.event = "ZQXEVENT".into();

    let mut risk = risk_event(&disputes, today);
    risk.observation = Some("ZQXOBS".into());
    risk.status = RiskStatus::Assessed;
    risk.assessment = Some(RiskAssessment {
        thoughts: true,
        plan: false,
        intent: false,
        means: false,
        past_attempt: false,
        supervisor_contacted: true,
        outcome: RiskOutcome::Other,
        outcome_text: Some("ZQXOUTCOME".into()),
        note: Some("ZQXASSESSNOTE".into()),
        assessed_at: at(today, 9, 10),
    });

    let mut refer = referral(&disputes, today);
    refer.reason = "ZQXREASON".into();
    refer.destination = Some("ZQXDEST".into());
    let mut gone = referral(&disputes, today);
    gone.reason = "ZQXDELREASON".into();

    let mut note = supervisor_note(c.id, me, t.clock.now());
    note.text = "ZQXSUPNOTE".into();

    write(&t.store, |w| {
        w.create_with_extensions(&c, ext())?;
        w.create_with_extensions(&ended, ext())?;
        w.create_with_extensions(&disputes, ext())?;
        w.create_with_extensions(&s, ext())?;
        w.create_with_extensions(&sc, ext())?;
        w.create_with_extensions(&resp, ext())?;
        w.create_with_extensions(&inv, ext())?;
        w.create_with_extensions(&ev, ext())?;
        w.create_with_extensions(&risk, ext())?;
        w.create_with_extensions(&refer, ext())?;
        w.create_with_extensions(&gone, ext())?;
        w.create_with_extensions(&note, ext())?;
        w.create_with_extensions(
            &reminder(&disputes, today),
            json!({"zqx:source": {"ZQXEXTKEY": "ZQXEXTVALUE"}}),
        )?;
        let mut x = extra(c.id, s.id.as_uuid());
        x.data = json!({"ZQXEXTRAKEY": "ZQXEXTRAVALUE"});
        w.create_with_extensions(&x, ext())?;
        Ok(())
    })
    .unwrap();
    // An update and a delete through the write path.
    write(&t.store, |w| {
        w.update::<ipc_core::model::Client>(c.id.as_uuid(), |x| {
            x.village = Some("ZQXVILLAGE2".into());
            Ok(())
        })?;
        w.update::<ipc_core::model::Session>(s.id.as_uuid(), |x| {
            x.notes = Some("ZQXNOTE2".into());
            Ok(())
        })?;
        w.delete::<ipc_core::model::Referral>(gone.id.as_uuid())
    })
    .unwrap();

    // Received operations: a new client, an update of a local session, a supervisor note.
    let peer = Peer::new();
    let mut rc = client(&t, "ZQXREMOTENAME");
    rc.phone = Some("0788 555 666 2".into());
    let mut rnote = supervisor_note(c.id, peer.author, t.clock.now());
    rnote.text = "ZQXREMOTESUP".into();
    let result = t
        .store
        .apply_remote(&[
            peer.create(start_ms() + 60_000, 0, &rc),
            peer.update(
                start_ms() + 60_000,
                1,
                &s,
                &[("task", json!("ZQXREMOTENOTE"))],
            ),
            peer.create(start_ms() + 60_000, 2, &rnote),
        ])
        .unwrap();
    assert_eq!(result.applied, 3, "{result:?}");

    // Everything reads back in clear through the store.
    let clients: Vec<ipc_core::model::Client> = t.store.list(ipc_core::store::Filter::All).unwrap();
    assert!(clients.iter().any(|x| x.display_name == "ZQXNAME1"));
    assert!(clients.iter().any(|x| x.display_name == "ZQXREMOTENAME"));
    let sessions: Vec<ipc_core::model::Session> =
        t.store.list(ipc_core::store::Filter::All).unwrap();
    assert_eq!(sessions[0].notes.as_deref(), Some("ZQXNOTE2"));
    assert_eq!(sessions[0].task.as_deref(), Some("ZQXREMOTENOTE"));
    t
}

#[test]
fn sensitive_values_never_reach_the_files() {
    let t = write_everything();

    // Every sensitive column of every kind holds at least one value, and only as a blob that
    // is not JSON; operation payloads likewise.
    read(&t.store, |r| {
        for kind in EntityKind::ALL {
            let spec = spec(kind);
            for col in spec.columns.iter().filter(|c| c.sensitive) {
                let mut stmt = r.conn.prepare(&format!(
                    "SELECT typeof({0}), {0} FROM {1} WHERE {0} IS NOT NULL",
                    col.name, spec.table
                ))?;
                let values: Vec<(String, Vec<u8>)> = stmt
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                assert!(
                    !values.is_empty(),
                    "{}.{} was not exercised by this test",
                    spec.table,
                    col.name
                );
                for (ty, bytes) in values {
                    assert_eq!(ty, "blob", "{}.{}", spec.table, col.name);
                    assert!(
                        serde_json::from_slice::<serde_json::Value>(&bytes).is_err(),
                        "{}.{} parses as JSON",
                        spec.table,
                        col.name
                    );
                }
            }
        }
        let answers: Vec<(String, Vec<u8>)> = r
            .conn
            .prepare("SELECT typeof(answers), answers FROM responses")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].0, "blob");
        assert!(serde_json::from_slice::<serde_json::Value>(&answers[0].1).is_err());
        let name: String =
            r.conn
                .query_row("SELECT typeof(display_name) FROM workers", [], |row| {
                    row.get(0)
                })?;
        assert_eq!(name, "blob");
        let payload_types: Vec<String> = r
            .conn
            .prepare("SELECT DISTINCT typeof(payload) FROM ops")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        assert_eq!(payload_types, ["blob"]);
        Ok(())
    })
    .unwrap();

    // The audit trail, as text.
    let audit = audit_rows_text(&t.store);
    assert!(audit.len() > 10);
    for row in &audit {
        for needle in NEEDLES {
            assert!(!row.contains(needle), "audit row holds {needle}: {row}");
            assert!(!row.to_lowercase().contains(&needle.to_lowercase()));
        }
    }

    // The files while the store is open (the WAL holds the recent pages)…
    let companions: Vec<String> = dir_listing(t.dir.path());
    assert!(
        companions.iter().any(|n| n.ends_with("-wal")),
        "expected a WAL while open: {companions:?}"
    );
    assert_eq!(scan_dir(t.dir.path()), Vec::<(String, String)>::new());

    // …and after closing.
    let TestStore {
        dir,
        path,
        clock,
        store,
        ..
    } = t;
    drop(store);
    assert_eq!(scan_dir(dir.path()), Vec::<(String, String)>::new());
    // Reopening, unlocking and reading writes an audit entry; still nothing in clear.
    let store = reopen_unlocked(&path, &clock);
    assert_eq!(dump_state(&store).live.len(), EntityKind::ALL.len());
    drop(store);
    assert_eq!(scan_dir(dir.path()), Vec::<(String, String)>::new());
}

/// The scan itself finds a needle written in clear (guards against a scan that cannot fail).
#[test]
fn the_scan_finds_clear_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.db-wal"),
        [&b"\x00\x01"[..], "zqxname1".as_bytes()].concat(),
    )
    .unwrap();
    let utf16: Vec<u8> = "ZQXOBS".encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(dir.path().join("y"), utf16).unwrap();
    let hits = scan_dir(dir.path());
    assert!(hits.contains(&("x.db-wal".to_string(), "ZQXNAME1".to_string())));
    assert!(hits.contains(&("y".to_string(), "ZQXOBS".to_string())));
}
