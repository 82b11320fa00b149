//! The course engine through the facade: the refusals a screen acts on, that a refused step
//! changes nothing, and the reads (plans, views, lists) a UI draws from.

use ipc_bindings::records::{
    ClientInput, InventoryInput, RiskAssessmentInput, SessionReport, SkippedStep,
};
use ipc_bindings::types::{
    CourseStatus, Flag, Phase, ProblemArea, ReferralStatus, RiskOutcome, Role, ScreeningOutcome,
};
use ipc_bindings::{IpcError, IpcStore};

use crate::support::device;

const PHQ9_ELIGIBLE: [u32; 9] = [2, 2, 2, 1, 1, 1, 1, 1, 0];

fn client(store: &IpcStore, name: &str) -> String {
    store
        .add_client(ClientInput {
            display_name: name.into(),
            sex: None,
            birth_year: None,
            phone: None,
            village: None,
            address: None,
            consent: None,
        })
        .unwrap()
}

fn refused_code(e: IpcError) -> String {
    match e {
        IpcError::Refused { code, .. } => code,
        other => panic!("expected Refused, got {other:?}"),
    }
}

fn report(steps: Vec<String>) -> SessionReport {
    SessionReport {
        held_at: None,
        modality: None,
        steps_done: steps,
        steps_skipped: vec![],
        notes: None,
        task: Some("Call the sister".into()),
    }
}

fn safety_plan() -> RiskAssessmentInput {
    RiskAssessmentInput {
        thoughts: true,
        plan: false,
        intent: false,
        means: false,
        past_attempt: false,
        supervisor_contacted: true,
        outcome: RiskOutcome::SafetyPlan,
        outcome_text: None,
        note: None,
    }
}

/// A screened, enrolled client; returns (client, course).
fn enrolled(store: &IpcStore, planned: u32) -> (String, String) {
    let c = client(store, "Synthetic Client");
    let s = store
        .screen(
            c.clone(),
            "phq9".into(),
            PHQ9_ELIGIBLE.to_vec(),
            vec![],
            None,
        )
        .unwrap();
    assert_eq!(s.outcome, Some(ScreeningOutcome::Eligible));
    let course = store.start_course(c.clone(), Some(planned), None).unwrap();
    (c, course)
}

#[test]
fn enrolment_needs_an_eligible_screening() {
    let d = device(Role::Worker);
    let c = client(&d.store, "Synthetic Client");
    assert_eq!(
        refused_code(d.store.start_course(c.clone(), None, None).unwrap_err()),
        "not_screened"
    );
    d.store
        .screen(c.clone(), "phq2".into(), vec![0, 1], vec![], None)
        .unwrap();
    assert_eq!(
        refused_code(d.store.start_course(c.clone(), None, None).unwrap_err()),
        "not_eligible"
    );
    d.store
        .screen(
            c.clone(),
            "phq9".into(),
            PHQ9_ELIGIBLE.to_vec(),
            vec![],
            None,
        )
        .unwrap();
    assert_eq!(
        refused_code(d.store.start_course(c.clone(), Some(12), None).unwrap_err()),
        "planned_sessions_out_of_range"
    );
    d.store.start_course(c.clone(), Some(3), None).unwrap();
    assert_eq!(
        refused_code(d.store.start_course(c, None, None).unwrap_err()),
        "already_enrolled"
    );
}

#[test]
fn bad_ids_dates_and_answers_name_the_field() {
    let d = device(Role::Worker);
    let field = |e: IpcError| match e {
        IpcError::Validation { field, .. } => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(d.store.case_view("nope".into()).unwrap_err()),
        "client_id"
    );
    let c = client(&d.store, "Synthetic Client");
    assert_eq!(
        field(
            d.store
                .start_course(c.clone(), None, Some("5/1/2026".into()))
                .unwrap_err()
        ),
        "start_on"
    );
    assert_eq!(
        field(
            d.store
                .screen(c.clone(), "phq9".into(), vec![9; 9], vec![], None)
                .unwrap_err()
        ),
        "answers"
    );
    assert_eq!(
        field(
            d.store
                .screen(c, "bdi".into(), vec![1], vec![], None)
                .unwrap_err()
        ),
        "instrument"
    );
    let unknown = ipc_core::model::ClientId::new().to_string();
    assert_eq!(
        refused_code(d.store.case_view(unknown).unwrap_err()),
        "not_found"
    );
}

#[test]
fn a_refused_step_changes_nothing() {
    let d = device(Role::Worker);
    let (_, course) = enrolled(&d.store, 3);
    let plan = d.store.next_session(course.clone(), None).unwrap();
    assert_eq!((plan.number, plan.phase), (1, Phase::Initial));
    let before = d.store.outbox_len().unwrap();
    let ids: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
    let e = d
        .store
        .complete_session(plan.session_id.clone(), report(ids.clone()))
        .unwrap_err();
    match &e {
        IpcError::Refused { code, detail } => {
            assert_eq!(code, "missing_steps");
            for step in [
                "symptom_questionnaire",
                "interpersonal_inventory",
                "problem_area",
            ] {
                assert!(detail.contains(step), "{detail}");
            }
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.store.outbox_len().unwrap(), before);
    assert!(!d.store.sessions(course).unwrap()[0].completed);
}

#[test]
fn item_9_blocks_the_session_until_the_risk_is_assessed() {
    let d = device(Role::Worker);
    let (c, course) = enrolled(&d.store, 3);
    let plan = d.store.next_session(course.clone(), None).unwrap();
    let r = d
        .store
        .record_response(
            plan.session_id.clone(),
            "phq9".into(),
            vec![2, 2, 2, 1, 1, 1, 1, 1, 2],
            None,
        )
        .unwrap();
    let risk = r.risk_event_id.expect("item 9 opens a risk event");
    d.store
        .add_inventory(
            course.clone(),
            InventoryInput {
                label: "Sister".into(),
                relationship: "sister".into(),
                closeness: Some(4),
                support: None,
                conflict: None,
                what_changed: None,
            },
        )
        .unwrap();
    d.store
        .set_problem_area(course.clone(), Some(ProblemArea::Grief), None)
        .unwrap();
    let ids: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
    let outbox = d.store.outbox_len().unwrap();
    assert_eq!(
        d.store
            .complete_session(plan.session_id.clone(), report(ids.clone()))
            .unwrap_err(),
        IpcError::RiskAssessmentRequired {
            risk_event_id: risk.clone()
        }
    );
    assert_eq!(
        d.store.outbox_len().unwrap(),
        outbox,
        "the refusal wrote nothing"
    );
    let view = d.store.case_view(c.clone()).unwrap();
    assert_eq!(view.unassessed_risk_events, vec![risk.clone()]);
    assert_eq!(view.flags[0].flag, Flag::SelfHarmThoughts);
    d.store.assess_risk(risk, safety_plan(), None).unwrap();
    let next = d
        .store
        .complete_session(plan.session_id, report(ids))
        .unwrap();
    assert!(next.is_some());
    let view = d.store.case_view(c).unwrap();
    assert!(view.unassessed_risk_events.is_empty());
    assert_eq!(view.status, Some(CourseStatus::Initial));
}

#[test]
fn skipped_steps_need_a_reason_and_a_missed_session_is_replanned() {
    let d = device(Role::Worker);
    let (_, course) = enrolled(&d.store, 3);
    let plan = d.store.next_session(course.clone(), None).unwrap();
    let skip = |reason: &str| SessionReport {
        steps_skipped: [
            "symptom_questionnaire",
            "interpersonal_inventory",
            "problem_area",
        ]
        .iter()
        .map(|s| SkippedStep {
            step: s.to_string(),
            reason: reason.into(),
        })
        .collect(),
        ..report(
            plan.steps
                .iter()
                .map(|s| s.id.clone())
                .filter(|id| {
                    ![
                        "symptom_questionnaire",
                        "interpersonal_inventory",
                        "problem_area",
                    ]
                    .contains(&id.as_str())
                })
                .collect(),
        )
    };
    assert!(d
        .store
        .complete_session(plan.session_id.clone(), skip("  "))
        .is_err());
    d.store
        .complete_session(plan.session_id, skip("client was distressed; next time"))
        .unwrap();
    let replacement = d.store.miss_session(course.clone(), None).unwrap();
    let sessions = d.store.sessions(course).unwrap();
    assert_eq!(sessions.len(), 3);
    assert!(sessions
        .iter()
        .any(|s| s.session_id == replacement && s.number == 2));
}

#[test]
fn clients_referrals_and_notes_round_trip() {
    let d = device(Role::Supervisor);
    let c = client(&d.store, "Synthetic Client");
    d.store
        .update_client(
            c.clone(),
            ClientInput {
                display_name: " Renamed Synthetic ".into(),
                sex: None,
                birth_year: Some(1990),
                phone: Some("+255 700 000 000".into()),
                village: None,
                address: None,
                consent: None,
            },
        )
        .unwrap();
    let info = d.store.client(c.clone()).unwrap();
    assert_eq!(info.display_name, "Renamed Synthetic");
    assert_eq!(info.assigned_worker_id, d.store.identity().worker_id);
    // A severe screening recommends a referral; the worker records it as made.
    let s = d
        .store
        .screen(
            c.clone(),
            "phq9".into(),
            vec![3, 3, 3, 3, 3, 3, 2, 2, 0],
            vec![],
            None,
        )
        .unwrap();
    assert_eq!(s.outcome, Some(ScreeningOutcome::Refer));
    let referral = d.store.referrals(c.clone()).unwrap().pop().unwrap();
    assert_eq!(referral.status, ReferralStatus::Recommended);
    d.store
        .update_referral(
            referral.referral_id.clone(),
            ReferralStatus::Made,
            Some("District hospital".into()),
        )
        .unwrap();
    let referral = d.store.referrals(c.clone()).unwrap().pop().unwrap();
    assert_eq!(referral.status, ReferralStatus::Made);
    assert_eq!(referral.destination.as_deref(), Some("District hospital"));
    let risk = d
        .store
        .raise_concern(c.clone(), "Synthetic observation".into(), None)
        .unwrap();
    let queue = d.store.supervisor_queue().unwrap();
    assert_eq!(
        queue[0].reasons[0].risk_event_id.as_deref(),
        Some(risk.as_str())
    );
    d.store
        .add_note(c.clone(), "Discussed".into(), Some(risk.clone()))
        .unwrap();
    let notes = d.store.notes(c).unwrap();
    assert_eq!(notes[0].risk_event_id.as_deref(), Some(risk.as_str()));
    assert!(notes[0].written_at_ms > 1_700_000_000_000);
    assert!(d.store.supervisor_queue().unwrap().iter().all(|q| q
        .reasons
        .iter()
        .all(|r| r.risk_event_id.as_deref() != Some(risk.as_str()))));
}

#[test]
fn translations_are_checked_and_fallbacks_marked() {
    let d = device(Role::Worker);
    let (_, course) = enrolled(&d.store, 3);
    d.store
        .set_translations(
            Some(r#"{"language": "sw", "texts": {"agenda.initial.confidentiality.title": "[sw] Usiri"}}"#.into()),
            vec![],
        )
        .unwrap();
    let plan = d.store.next_session(course, None).unwrap();
    let first = &plan.steps[0];
    assert_eq!(first.title.text, "[sw] Usiri");
    assert!(!first.title.fallback);
    assert!(first.fallback, "its prompts are untranslated");
    assert!(plan.steps[1].title.fallback);
    let e = d
        .store
        .set_translations(
            None,
            vec![r#"{"instrument": "phq9", "version": "9.9", "language": "sw"}"#.into()],
        )
        .unwrap_err();
    assert!(matches!(e, IpcError::Validation { .. }), "{e:?}");
    let form = d.store.instrument("phq9".into()).unwrap();
    assert_eq!(form.bands.first().map(|b| b.min), Some(0));
    assert_eq!(form.bands.last().map(|b| b.max), Some(27));
    assert_eq!(d.store.instrument_ids(), vec!["gad7", "phq2", "phq9"]);
}
