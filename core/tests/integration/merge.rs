//! Merge convergence (ADR 0001): the same set of operations from several devices, applied via
//! `Store::apply_remote` in any order and with any duplication, gives the same state — every
//! live record, and every row (placeholders and tombstones included) with its merge columns,
//! sensitive values compared decrypted.

use chrono::NaiveDate;
use ipc_core::model::{
    Answer, Attendance, Client, ClientId, Consent, ConsentMethod, Course, CourseId, CourseStatus,
    DisputeStage, EndReason, InventoryEntry, InventoryEntryId, Modality, Phase, ProblemArea,
    QuestionnaireResponse, ResponseContext, ResponseId, Session, SessionId, Sex, SkippedStep,
    WorkerId,
};
use ipc_core::store::record::to_fields;
use ipc_core::store::spec::spec;
use ipc_core::sync::op::{Change, EntityKind, FieldMap, Operation};
use proptest::prelude::*;
use uuid::Uuid;

use crate::support::*;

/// One record the generated operations may touch.
#[derive(Clone, Copy, Debug)]
struct Target {
    kind: EntityKind,
    id: Uuid,
    client: ClientId,
    course: Option<CourseId>,
}

/// The records of one generated case: 3 clients, 2 courses, 3 sessions, 2 inventory entries
/// and 2 questionnaire responses (append-only).
fn world(rng: &mut SeededRng) -> Vec<Target> {
    let clients: Vec<ClientId> = (0..3).map(|_| ClientId::new()).collect();
    let mut t: Vec<Target> = clients
        .iter()
        .map(|c| Target {
            kind: EntityKind::Client,
            id: c.as_uuid(),
            client: *c,
            course: None,
        })
        .collect();
    let courses: Vec<(CourseId, ClientId)> = (0..2)
        .map(|_| (CourseId::new(), *rng.pick(&clients)))
        .collect();
    for (id, client) in &courses {
        t.push(Target {
            kind: EntityKind::Course,
            id: id.as_uuid(),
            client: *client,
            course: None,
        });
    }
    let child = |kind, rng: &mut SeededRng| {
        let (course, client) = *rng.pick(&courses);
        Target {
            kind,
            id: Uuid::now_v7(),
            client,
            course: Some(course),
        }
    };
    for _ in 0..3 {
        t.push(child(EntityKind::Session, rng));
    }
    for _ in 0..2 {
        t.push(child(EntityKind::InventoryEntry, rng));
    }
    for _ in 0..2 {
        t.push(child(EntityKind::Response, rng));
    }
    t
}

/// `Some(f())` seven times in ten.
fn opt<T>(rng: &mut SeededRng, f: impl FnOnce(&mut SeededRng) -> T) -> Option<T> {
    if rng.chance(70) {
        Some(f(rng))
    } else {
        None
    }
}

fn date(rng: &mut SeededRng) -> NaiveDate {
    ymd(
        2025,
        1 + u32::try_from(rng.below(12)).unwrap(),
        1 + u32::try_from(rng.below(28)).unwrap(),
    )
}

fn text(rng: &mut SeededRng, what: &str) -> String {
    format!("{what} {}", rng.below(1000))
}

/// A record of `t`'s kind with random (serde-valid) values, as its field map.
fn random_fields(t: &Target, workers: &[WorkerId], rng: &mut SeededRng) -> FieldMap {
    let course_id = t.course.unwrap_or_else(CourseId::new);
    match t.kind {
        EntityKind::Client => to_fields(&Client {
            id: t.client,
            display_name: text(rng, "Name"),
            sex: opt(rng, |r| *r.pick(&[Sex::Female, Sex::Male, Sex::Other])),
            birth_year: opt(rng, |r| 1950 + i32::try_from(r.below(55)).unwrap()),
            phone: opt(rng, |r| format!("0712 {:06}", r.below(1_000_000))),
            village: opt(rng, |r| text(r, "Village")),
            address: opt(rng, |r| text(r, "Plot")),
            consent: opt(rng, |r| Consent {
                given: r.chance(50),
                date: date(r),
                version: "v1".into(),
                method: ConsentMethod::Verbal,
            }),
            assigned_worker: *rng.pick(workers),
            registered_on: date(rng),
        }),
        EntityKind::Course => {
            let ended = rng.chance(30);
            to_fields(&Course {
                id: CourseId::from_uuid(t.id),
                client_id: t.client,
                worker_id: *rng.pick(workers),
                enrolled_on: date(rng),
                planned_sessions: 1 + u8::try_from(rng.below(16)).unwrap(),
                problem_areas: match rng.below(3) {
                    0 => vec![],
                    1 => vec![ProblemArea::Grief],
                    _ => vec![ProblemArea::Disputes, ProblemArea::Loneliness],
                },
                dispute_stage: opt(rng, |_| DisputeStage::Impasse),
                status: if ended {
                    CourseStatus::Completed
                } else {
                    *rng.pick(&[CourseStatus::Initial, CourseStatus::Middle])
                },
                end_reason: ended.then_some(EndReason::Completed),
                end_note: if ended {
                    opt(rng, |r| text(r, "End"))
                } else {
                    None
                },
                ended_on: ended.then(|| date(rng)),
                extension_reason: opt(rng, |r| text(r, "Extension")),
            })
        }
        EntityKind::Session => {
            let attended = rng.chance(50);
            to_fields(&Session {
                id: SessionId::from_uuid(t.id),
                course_id,
                client_id: t.client,
                number: 1 + u8::try_from(rng.below(16)).unwrap(),
                phase: *rng.pick(&[Phase::Initial, Phase::Middle, Phase::Termination]),
                planned_date: opt(rng, date),
                held_at: attended.then(|| at(date(rng), 10, 0)),
                attendance: attended.then_some(Attendance::Attended),
                modality: opt(rng, |_| Modality::Phone),
                steps_done: if rng.chance(50) {
                    vec!["review_mood".into()]
                } else {
                    vec![]
                },
                steps_skipped: if rng.chance(30) {
                    vec![SkippedStep {
                        step: "task_review".into(),
                        reason: text(rng, "Skipped"),
                    }]
                } else {
                    vec![]
                },
                notes: opt(rng, |r| text(r, "Notes")),
                task: opt(rng, |r| text(r, "Task")),
                completed: attended && rng.chance(50),
            })
        }
        EntityKind::InventoryEntry => to_fields(&InventoryEntry {
            id: InventoryEntryId::from_uuid(t.id),
            course_id,
            client_id: t.client,
            label: text(rng, "Person"),
            relationship: text(rng, "rel"),
            closeness: 1 + u8::try_from(rng.below(5)).unwrap(),
            support: opt(rng, |r| text(r, "Support")),
            conflict: opt(rng, |r| text(r, "Conflict")),
            what_changed: opt(rng, |r| text(r, "Changed")),
            expectations: opt(rng, |r| text(r, "Expect")),
        }),
        EntityKind::Response => to_fields(&QuestionnaireResponse {
            id: ResponseId::from_uuid(t.id),
            client_id: t.client,
            course_id: Some(course_id),
            session_id: None,
            context: ResponseContext::Screening,
            instrument: "phq9".into(),
            instrument_version: "1.0".into(),
            answers: (1..=9)
                .map(|i| Answer {
                    item: format!("q{i}"),
                    value: u8::try_from(rng.below(4)).unwrap(),
                })
                .collect(),
            total: opt(rng, |r| u16::try_from(r.below(28)).unwrap()),
            band: opt(rng, |_| "moderate".to_string()),
            flags: vec![],
            administered_at: at(date(rng), 9, 0),
        }),
        other => panic!("no generator for {other}"),
    }
    .unwrap()
}

/// Turn generated choices into a set of valid operations: mostly one create per record,
/// updates of a random non-empty subset of the mutable fields, deletes, and no updates of
/// append-only records. Every HLC is unique (the counter is the operation's index).
fn build_ops(
    choices: &[(usize, u8, usize, u64, u64)],
    n_devices: usize,
    seed: u64,
) -> Vec<Operation> {
    let mut rng = SeededRng::new(seed);
    let targets = world(&mut rng);
    let peers: Vec<Peer> = (0..n_devices).map(|_| Peer::new()).collect();
    let workers: Vec<WorkerId> = peers.iter().map(|p| p.author).collect();
    let mut created = vec![false; targets.len()];
    let mut ops = Vec::new();
    for (i, &(target, kind, device, wall, value_seed)) in choices.iter().enumerate() {
        let ti = target % targets.len();
        let t = targets[ti];
        let peer = peers[device % n_devices];
        let mut vrng = SeededRng::new(value_seed);
        let append_only = spec(t.kind).append_only;
        let change = match kind {
            // One create per record, as in real use; now and then a second one from another
            // device (the merge takes the earliest), to exercise that rule too.
            0..=2 if !created[ti] || (kind == 0 && vrng.chance(30)) => {
                created[ti] = true;
                Change::Create {
                    fields: random_fields(&t, &workers, &mut vrng),
                }
            }
            8..=9 => Change::Delete,
            _ if append_only && !created[ti] => {
                created[ti] = true;
                Change::Create {
                    fields: random_fields(&t, &workers, &mut vrng),
                }
            }
            _ if append_only => continue,
            _ => {
                let all = random_fields(&t, &workers, &mut vrng);
                let mut fields: FieldMap = all
                    .iter()
                    .filter(|(k, _)| k.as_str() != "course_id" && vrng.chance(40))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if fields.is_empty() {
                    let (k, v) = all.iter().find(|(k, _)| k.as_str() != "course_id").unwrap();
                    fields.insert(k.clone(), v.clone());
                }
                Change::Update { fields }
            }
        };
        ops.push(peer.op(
            start_ms() + wall,
            u32::try_from(i).unwrap(),
            t.client,
            t.kind,
            t.id,
            change,
        ));
    }
    ops
}

/// Apply `ops` to a fresh store in batches of random sizes; every operation must be accepted.
fn apply_in_batches(ops: &[Operation], rng: &mut SeededRng) -> TestStore {
    let t = new_store();
    let mut rest = ops;
    while !rest.is_empty() {
        let n = 1 + rng.index(rest.len());
        let (batch, tail) = rest.split_at(n);
        let result = t.store.apply_remote(batch).unwrap();
        assert!(
            result.rejected.is_empty(),
            "rejected: {:?}",
            result.rejected
        );
        rest = tail;
    }
    t
}

fn op_ids(t: &TestStore) -> Vec<String> {
    let mut ids: Vec<String> = t
        .store
        .operations()
        .unwrap()
        .iter()
        .map(|o| o.op_id.to_string())
        .collect();
    ids.sort();
    ids
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_order_and_duplication_gives_the_same_state(
        choices in proptest::collection::vec(
            (0usize..12, 0u8..10, 0usize..4, 0u64..40, any::<u64>()),
            1..60,
        ),
        n_devices in 2usize..=4,
        seed in any::<u64>(),
    ) {
        let ops = build_ops(&choices, n_devices, seed);
        let mut rng = SeededRng::new(seed ^ 0x5eed);

        // (a) the order generated, one batch.
        let a = new_store();
        let applied = a.store.apply_remote(&ops).unwrap();
        prop_assert!(applied.rejected.is_empty(), "rejected: {:?}", applied.rejected);
        prop_assert_eq!(applied.applied, ops.len());
        let expected = dump_state(&a.store);

        // (b) a random permutation, in random batches.
        let mut permuted = ops.clone();
        rng.shuffle(&mut permuted);
        let b = apply_in_batches(&permuted, &mut rng);
        prop_assert_eq!(&dump_state(&b.store), &expected);

        // (c) random duplications, shuffled, in random batches, then the whole set again.
        let mut dup = ops.clone();
        for op in &ops {
            for _ in 0..rng.below(3) {
                dup.push(op.clone());
            }
        }
        rng.shuffle(&mut dup);
        let c = apply_in_batches(&dup, &mut rng);
        let again = c.store.apply_remote(&ops).unwrap();
        prop_assert_eq!(again.duplicates, ops.len());
        prop_assert_eq!(&dump_state(&c.store), &expected);

        prop_assert_eq!(op_ids(&a), op_ids(&b));
        prop_assert_eq!(op_ids(&a), op_ids(&c));
    }
}

/// A fixed scenario showing what the property compares is not trivially equal: concurrent
/// updates of one field resolve to the greatest HLC whatever the order, a tombstone absorbs
/// later and earlier writes, and an update seen before its create leaves an invisible
/// placeholder that the create completes.
#[test]
fn concurrent_updates_resolve_by_hlc_in_both_orders() {
    let t0 = new_store();
    let a = Peer::new();
    let b = Peer::new();
    let today = today(&t0);
    let mut c = client(&t0, "Amina Synthetic");
    c.assigned_worker = a.author;
    let create = a.create(start_ms(), 0, &c);
    let early = a.update(start_ms() + 5, 0, &c, &[("village", "Early".into())]);
    let late = b.update(start_ms() + 9, 0, &c, &[("village", "Late".into())]);
    let s = session(&course(c.id, a.author, today), 1, today);
    let s_update = b.update(start_ms() + 1, 0, &s, &[("notes", "Before create".into())]);

    let forward = new_store();
    forward
        .store
        .apply_remote(&[
            create.clone(),
            early.clone(),
            late.clone(),
            s_update.clone(),
        ])
        .unwrap();
    let backward = new_store();
    backward
        .store
        .apply_remote(&[s_update, late, early, create])
        .unwrap();
    let got: Vec<Client> = backward.store.list(ipc_core::store::Filter::All).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].village.as_deref(), Some("Late"));
    assert_eq!(got[0].display_name, "Amina Synthetic");
    // The session exists only as a placeholder: invisible, but a row.
    assert!(backward
        .store
        .list::<Session>(ipc_core::store::Filter::All)
        .unwrap()
        .is_empty());
    assert!(row_ids(&backward.store, "sessions").contains(&s.id.to_string()));
    assert_eq!(dump_state(&forward.store), dump_state(&backward.store));

    // The placeholder is completed by its create; the create is older than the update, so
    // the update's notes win.
    let s_create = a.create(start_ms(), 1, &s);
    backward.store.apply_remote(&[s_create]).unwrap();
    let sessions: Vec<Session> = backward.store.list(ipc_core::store::Filter::All).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].notes.as_deref(), Some("Before create"));

    // A delete wins over everything, before or after.
    let del = a.op(
        start_ms() + 2,
        0,
        c.id,
        EntityKind::Client,
        c.id.as_uuid(),
        Change::Delete,
    );
    let newer = b.update(
        start_ms() + 50,
        0,
        &c,
        &[("village", "After delete".into())],
    );
    backward.store.apply_remote(&[del, newer]).unwrap();
    assert!(backward
        .store
        .list::<Client>(ipc_core::store::Filter::All)
        .unwrap()
        .is_empty());
}
