//! Scripted courses: run a scenario (a client and dated steps) against a store through the
//! course engine and report what happened — how a programme tests a protocol configuration
//! before using it (`ipc simulate`, format in `docs/simulate.md`).
//!
//! Each step runs in its own write transaction at its day's date (the store's clock is moved
//! to `start + day`, 09:00). A step the rules refuse is reported in `errors` with its code and
//! changes nothing; the run goes on.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::clock::ManualClock;
use crate::model::{Client, ClientId, CourseId, EndReason, NewClient, Sex};
use crate::protocol::engine::{Protocol, RiskAssessmentInput, SessionInput};
use crate::protocol::error::{ProtocolError, Result};
use crate::protocol::records::ClientRecords;
use crate::store::{Records, Store, StoreError};

/// A scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Day 0.
    pub start: NaiveDate,
    /// The (synthetic) client.
    pub client: ScenarioClient,
    /// The steps, in order.
    pub steps: Vec<ScenarioStep>,
    /// The day the final state (flags, overdue …) is evaluated; default: the last step's.
    #[serde(default)]
    pub report_day: Option<u32>,
}

/// The client of a scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioClient {
    /// Display name.
    pub name: String,
    /// Birth year.
    #[serde(default)]
    pub birth_year: Option<i32>,
    /// Sex.
    #[serde(default)]
    pub sex: Option<Sex>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Village.
    #[serde(default)]
    pub village: Option<String>,
}

/// One dated step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioStep {
    /// Days after `start`.
    pub day: u32,
    /// What happens.
    #[serde(flatten)]
    pub action: Action,
}

/// What a step does.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A screening questionnaire.
    Screen(ScreenStep),
    /// Enrolment in a course.
    Enrol(EnrolStep),
    /// A whole session.
    Session(Box<SessionInput>),
    /// The planned session was missed.
    Miss(Empty),
    /// A worker-raised risk concern.
    Concern(ConcernStep),
    /// A risk assessment of every open risk event.
    Assess(RiskAssessmentInput),
    /// Extend the course beyond the plan.
    Extend(ExtendStep),
    /// End the course.
    End(EndStep),
    /// Close every assessed risk event (handled and followed up).
    CloseRisk(Empty),
    /// Record what became of every recommended referral.
    Referral(ReferralStep),
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Screen(_) => "screen",
            Action::Enrol(_) => "enrol",
            Action::Session(_) => "session",
            Action::Miss(_) => "miss",
            Action::Concern(_) => "concern",
            Action::Assess(_) => "assess",
            Action::Extend(_) => "extend",
            Action::End(_) => "end",
            Action::CloseRisk(_) => "close_risk",
            Action::Referral(_) => "referral",
        }
    }
}

/// `{}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// A screening step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScreenStep {
    /// `phq2`, `phq9` or `gad7`.
    pub instrument: String,
    /// Answer values in item order.
    pub answers: Vec<u8>,
    /// Exclusion criteria found (ids from the configuration).
    #[serde(default)]
    pub exclusions: Vec<String>,
}

/// An enrolment step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolStep {
    /// Sessions agreed (default from the configuration).
    #[serde(default)]
    pub planned_sessions: Option<u8>,
}

/// A worker concern.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcernStep {
    /// What the worker observed.
    pub note: String,
}

/// An extension.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendStep {
    /// New number of planned sessions.
    pub planned_sessions: u8,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// What became of the recommended referrals.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferralStep {
    /// `made`, `completed` or `declined`.
    pub status: crate::model::ReferralStatus,
    /// Where to.
    #[serde(default)]
    pub destination: Option<String>,
}

/// The end of the course.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndStep {
    /// Why it ended.
    pub reason: EndReason,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Day of the step.
    pub day: u32,
    /// What kind of thing.
    pub kind: String,
    /// Details (scores, numbers; the scenario's free text is not echoed).
    pub detail: String,
}

/// A refused step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepError {
    /// Day of the step.
    pub day: u32,
    /// The step kind (`session`, `enrol` …).
    pub step: String,
    /// Index of the step in the scenario (0-based).
    pub index: usize,
    /// The error code (`risk_assessment_required`, `session_limit` …).
    pub error: String,
    /// Human-readable message.
    pub message: String,
}

/// A risk event in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiskSummary {
    /// Day it was opened.
    pub day: i64,
    /// `phq9_item9` or `worker_concern`.
    pub trigger: String,
    /// `open`, `assessed` or `closed`.
    pub status: String,
    /// The assessment outcome, once assessed.
    pub outcome: Option<String>,
    /// The supervisor was contacted.
    pub supervisor_contacted: Option<bool>,
}

/// Change of PHQ-9 against baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeSummary {
    /// Baseline total.
    pub baseline: u16,
    /// Latest total.
    pub latest: u16,
    /// latest − baseline.
    pub change: i32,
    /// Percent change (`null` with a zero baseline).
    pub percent_change: Option<f64>,
    /// ≥ the configured reduction.
    pub response: bool,
    /// Below the configured remission threshold.
    pub remission: bool,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// Course status at the end (`screening`, `not_eligible`, `refer` before a course).
    pub status: String,
    /// Sessions attended.
    pub sessions_held: u32,
    /// What happened, step by step.
    pub events: Vec<Event>,
    /// Flags open at the end.
    pub flags: Vec<String>,
    /// Risk events.
    pub risk_events: Vec<RiskSummary>,
    /// Refused steps.
    pub errors: Vec<StepError>,
    /// PHQ-9 change against baseline.
    pub outcome: Option<OutcomeSummary>,
    /// Agenda step ids of the next session.
    pub next_agenda: Vec<String>,
}

impl Scenario {
    /// Parse a scenario; errors give line and column.
    pub fn from_json(json: &str) -> std::result::Result<Scenario, serde_json::Error> {
        serde_json::from_str(json)
    }
}

fn at(start: NaiveDate, day: u32) -> NaiveDateTime {
    let date = start + Duration::days(i64::from(day));
    date.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN))
}

/// Run `scenario` on `store` (whose clock is `clock`), with `protocol`.
pub fn run(
    protocol: &Protocol,
    store: &Store,
    clock: &Arc<ManualClock>,
    scenario: &Scenario,
) -> Result<Report> {
    let start = scenario.start;
    clock.set(at(start, 0).and_utc());
    let worker = store.identity().worker_id;
    let c = &scenario.client;
    let client = Client::new(
        NewClient {
            display_name: c.name.clone(),
            sex: c.sex,
            birth_year: c.birth_year,
            phone: c.phone.clone(),
            village: c.village.clone(),
            address: None,
            consent: None,
            assigned_worker: worker,
            registered_on: start,
        },
        start,
    )?;
    let client_id = client.id;
    store.add(&client)?;
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut last_day = 0;
    for (index, step) in scenario.steps.iter().enumerate() {
        last_day = last_day.max(step.day);
        let when = at(start, step.day);
        clock.set(when.and_utc());
        let result: Result<Vec<Event>> =
            store.write(|w| apply_step(protocol, w, client_id, step, when));
        match result {
            Ok(mut evs) => events.append(&mut evs),
            Err(
                e @ ProtocolError::Store(
                    StoreError::Sqlite(_) | StoreError::Io(_) | StoreError::Corrupt,
                ),
            ) => return Err(e),
            Err(e) => errors.push(StepError {
                day: step.day,
                step: step.action.name().to_string(),
                index,
                error: e.code().to_string(),
                message: e.to_string(),
            }),
        }
    }
    clock.set(at(start, scenario.report_day.unwrap_or(last_day).max(last_day)).and_utc());
    store.read(|r| {
        let rec =
            ClientRecords::load(r, client_id)?.ok_or(ProtocolError::NotFound { what: "client" })?;
        let view = protocol.case_view(&rec, r.today())?;
        let status = match view.status {
            Some(s) => s.as_str().to_string(),
            None => match rec.latest_screening().map(|s| s.outcome) {
                Some(o) => o.as_str().to_string(),
                None => "screening".to_string(),
            },
        };
        let risk_events = rec
            .risks
            .iter()
            .map(|r| RiskSummary {
                day: (r.opened_at.date() - start).num_days(),
                trigger: r.trigger.as_str().to_string(),
                status: r.status.as_str().to_string(),
                outcome: r
                    .assessment
                    .as_ref()
                    .map(|a| a.outcome.as_str().to_string()),
                supervisor_contacted: r.assessment.as_ref().map(|a| a.supervisor_contacted),
            })
            .collect();
        Ok(Report {
            status,
            sessions_held: view.sessions_held,
            events,
            flags: view
                .flags
                .iter()
                .map(|f| f.flag.as_str().to_string())
                .collect(),
            risk_events,
            errors,
            outcome: view.outcome.map(|o| OutcomeSummary {
                baseline: o.baseline,
                latest: o.latest,
                change: o.change,
                percent_change: o.percent_change.map(|p| (p * 10.0).round() / 10.0),
                response: o.response,
                remission: o.remission.unwrap_or(false),
            }),
            next_agenda: view.next_agenda,
        })
    })
}

fn active_course(w: &crate::store::Writer<'_>, client: ClientId) -> Result<CourseId> {
    let rec = ClientRecords::load(w, client)?.ok_or(ProtocolError::NotFound { what: "client" })?;
    rec.active_course()
        .map(|c| c.id)
        .ok_or(ProtocolError::NotEnrolled)
}

fn apply_step(
    protocol: &Protocol,
    w: &mut crate::store::Writer<'_>,
    client: ClientId,
    step: &ScenarioStep,
    when: NaiveDateTime,
) -> Result<Vec<Event>> {
    let day = step.day;
    let ev = |kind: &str, detail: String| Event {
        day,
        kind: kind.to_string(),
        detail,
    };
    let mut out = Vec::new();
    match &step.action {
        Action::Screen(s) => {
            let r = protocol.screen(w, client, &s.instrument, &s.answers, when, &s.exclusions)?;
            let mut detail = format!(
                "{} total {} ({})",
                s.instrument, r.score.total, r.score.band
            );
            if r.phq9_needed {
                detail.push_str(": positive screen, PHQ-9 needed");
            }
            if let Some(o) = r.outcome {
                detail.push_str(&format!(": {}", o.as_str()));
            }
            out.push(ev("screened", detail));
            if r.risk_event.is_some() {
                out.push(ev(
                    "risk_event_opened",
                    "PHQ-9 item 9 above 0: risk assessment required".into(),
                ));
            }
        }
        Action::Enrol(e) => {
            protocol.enrol(w, client, e.planned_sessions, when.date())?;
            let course = active_course(w, client)?;
            let planned = w
                .get::<crate::model::Course>(course.as_uuid())?
                .map(|c| c.planned_sessions)
                .unwrap_or_default();
            out.push(ev("enrolled", format!("{planned} sessions planned")));
        }
        Action::Session(input) => {
            let course = active_course(w, client)?;
            let mut input = (**input).clone();
            input.held_at = Some(when);
            let r = protocol.record_session(w, course, &input)?;
            let mut detail = format!("session {} ({}) held", r.number, r.phase.as_str());
            if let Some(score) = &r.phq9 {
                detail.push_str(&format!("; PHQ-9 {} ({})", score.total, score.band));
            }
            out.push(ev("session", detail));
            for _ in &r.risk_events {
                out.push(ev("risk_event_opened", "PHQ-9 item 9 above 0".into()));
            }
            if input.risk_assessment.is_some() {
                out.push(ev("risk_assessed", "risk assessment recorded".into()));
            }
        }
        Action::Miss(_) => {
            let course = active_course(w, client)?;
            protocol.miss_session(w, course, when.date())?;
            out.push(ev("missed", "planned session missed; rescheduled".into()));
        }
        Action::Concern(c) => {
            protocol.raise_concern(w, client, &c.note, when)?;
            out.push(ev(
                "risk_event_opened",
                "risk concern raised by the worker".into(),
            ));
        }
        Action::Assess(a) => {
            let rec = ClientRecords::load(w, client)?
                .ok_or(ProtocolError::NotFound { what: "client" })?;
            let open: Vec<_> = rec.unassessed_risks().map(|r| r.id).collect();
            if open.is_empty() {
                return Err(ProtocolError::Invalid(
                    "no risk event is waiting for an assessment",
                ));
            }
            for id in &open {
                protocol.assess_risk(w, *id, a, when)?;
            }
            out.push(ev(
                "risk_assessed",
                format!(
                    "{} risk event(s) assessed: {}",
                    open.len(),
                    a.outcome.as_str()
                ),
            ));
        }
        Action::Extend(e) => {
            let course = active_course(w, client)?;
            protocol.extend(w, course, e.planned_sessions, &e.reason)?;
            out.push(ev(
                "extended",
                format!("{} sessions planned", e.planned_sessions),
            ));
        }
        Action::CloseRisk(_) => {
            let rec = ClientRecords::load(w, client)?
                .ok_or(ProtocolError::NotFound { what: "client" })?;
            let assessed: Vec<_> = rec
                .risks
                .iter()
                .filter(|r| r.status == crate::model::RiskStatus::Assessed)
                .map(|r| r.id)
                .collect();
            if assessed.is_empty() {
                return Err(ProtocolError::Invalid("no assessed risk event to close"));
            }
            for id in &assessed {
                protocol.close_risk_event(w, *id, when)?;
            }
            out.push(ev(
                "risk_closed",
                format!("{} risk event(s) closed", assessed.len()),
            ));
        }
        Action::Referral(r) => {
            let rec = ClientRecords::load(w, client)?
                .ok_or(ProtocolError::NotFound { what: "client" })?;
            let pending: Vec<_> = rec
                .referrals
                .iter()
                .filter(|x| x.status == crate::model::ReferralStatus::Recommended)
                .map(|x| x.id)
                .collect();
            if pending.is_empty() {
                return Err(ProtocolError::Invalid("no recommended referral to update"));
            }
            for id in &pending {
                protocol.update_referral(
                    w,
                    *id,
                    r.status,
                    r.destination.as_deref(),
                    when.date(),
                )?;
            }
            out.push(ev(
                "referral",
                format!("{} referral(s) {}", pending.len(), r.status.as_str()),
            ));
        }
        Action::End(e) => {
            let course = active_course(w, client)?;
            protocol.end_course(w, course, e.reason, e.note.as_deref(), when.date())?;
            out.push(ev("ended", e.reason.as_str().to_string()));
        }
    }
    Ok(out)
}
