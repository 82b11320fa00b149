//! The demo caseload generator: a synthetic but realistic caseload for one community health
//! worker, deterministic for a seed, in which every client's history is made by the course
//! engine ([`Protocol`]) — screening, enrolment, sessions with their agenda, missed visits,
//! risk events and their assessment, the end of the course — as a worker would have entered
//! it, day by day.
//!
//! Three steps, so each can be tested on its own:
//! 1. **plan** ([`plan_caseload`]): who the clients are and where each stands — registered,
//!    screened, enrolled, in the initial, middle or termination phase, completed or dropped
//!    out — with dates in the last ten weeks before `today`, PHQ-9 answers that trend down
//!    for most clients, and a few risk events;
//! 2. **script** ([`schedule`]): each plan as dated engine steps ([`Step`]), all clients'
//!    steps merged in time order;
//! 3. **run** ([`populate`]): each step in its own write transaction, with the store's
//!    [`ManualClock`] moved to the step's time first — so no clinical date is ever in the
//!    future of the store's clock — ending at `now`.
//!
//! The same seed and `now` give the same caseload (names, answers, dates, notes, flags); only
//! the record ids (UUIDv7) differ between runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ipc_core::clock::ManualClock;
use ipc_core::model::{
    Client, ClientId, Consent, ConsentMethod, CourseId, DisputeStage, EndReason, Modality,
    ModelError, MoodChange, NewClient, Phase, ProblemArea, RiskEventId, RiskOutcome, WorkerId,
};
use ipc_core::protocol::engine::{
    phase, AllSteps, InventoryInput, RiskAssessmentInput, SessionInput, StepsDone, TimelineInput,
};
use ipc_core::protocol::records::ClientRecords;
use ipc_core::protocol::{Protocol, ProtocolError};
use ipc_core::store::{Store, StoreError, Writer};

use super::names::{Person, PersonFactory};
use super::phrases::{self, InventoryPerson, NoteContext};

/// How far back the demo's history reaches.
pub const HISTORY_DAYS: u64 = 70;

/// Errors of the generator. Any of them is a defect of the generator (the data is synthetic),
/// except store errors, which come from the store being written.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// Writing to the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A generated record failed the model's validation.
    #[error("demo generator produced an invalid record: {0}")]
    Model(#[from] ModelError),
    /// The course engine refused a scripted step.
    #[error("demo generator: the course engine refused a `{step}` step: {source}")]
    Refused {
        /// The kind of step.
        step: &'static str,
        /// Why.
        source: ProtocolError,
    },
    /// The built-in protocol could not be loaded.
    #[error("demo generator: {0}")]
    Protocol(ProtocolError),
}

impl From<ProtocolError> for GenerateError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::Store(s) => GenerateError::Store(s),
            ProtocolError::Model(m) => GenerateError::Model(m),
            other => GenerateError::Protocol(other),
        }
    }
}

/// Where a client stands in the pathway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Registered; not screened yet.
    Registered,
    /// Screened; not eligible (PHQ-2 negative, or PHQ-9 below the entry level).
    ScreenedOut,
    /// Screened; severe depression, referred instead of IPC.
    ReferredAtScreening,
    /// Enrolled; first session not held yet.
    Enrolled,
    /// First session held.
    Initial,
    /// Working on the problem area.
    Middle,
    /// The last session is next.
    Termination,
    /// Course completed.
    Completed,
    /// Stopped coming after missed sessions.
    DroppedOut,
}

impl Stage {
    /// Every stage, in pathway order.
    pub const ALL: [Stage; 9] = [
        Stage::Registered,
        Stage::ScreenedOut,
        Stage::ReferredAtScreening,
        Stage::Enrolled,
        Stage::Initial,
        Stage::Middle,
        Stage::Termination,
        Stage::Completed,
        Stage::DroppedOut,
    ];

    /// Short label.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Registered => "registered",
            Stage::ScreenedOut => "screened out",
            Stage::ReferredAtScreening => "referred at screening",
            Stage::Enrolled => "enrolled",
            Stage::Initial => "in the initial phase",
            Stage::Middle => "in the middle phase",
            Stage::Termination => "before the last session",
            Stage::Completed => "completed",
            Stage::DroppedOut => "dropped out",
        }
    }
}

/// The mix of stages in a caseload of 24; larger caseloads repeat it, smaller ones take its
/// beginning (which already covers most stages).
const DECK: [Stage; 24] = [
    Stage::Middle,
    Stage::Initial,
    Stage::Registered,
    Stage::Completed,
    Stage::Middle,
    Stage::Termination,
    Stage::ScreenedOut,
    Stage::Enrolled,
    Stage::Middle,
    Stage::DroppedOut,
    Stage::Initial,
    Stage::ReferredAtScreening,
    Stage::Middle,
    Stage::Completed,
    Stage::Termination,
    Stage::Registered,
    Stage::Middle,
    Stage::Enrolled,
    Stage::Initial,
    Stage::ScreenedOut,
    Stage::Middle,
    Stage::Completed,
    Stage::Termination,
    Stage::Middle,
];

/// What [`populate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// The seed used.
    pub seed: u64,
    /// Clients.
    pub clients: usize,
    /// Clients per stage.
    pub stages: BTreeMap<Stage, usize>,
    /// Engine steps run, each in its own transaction.
    pub steps: usize,
    /// Days on which something was recorded.
    pub days: usize,
    /// Screening decisions (eligible, not eligible, refer).
    pub screenings: usize,
    /// Courses.
    pub courses: usize,
    /// Sessions held.
    pub sessions_held: usize,
    /// Missed appointments, including those rescheduled and held later.
    pub sessions_missed: usize,
    /// Sessions held after a missed appointment.
    pub missed_then_held: usize,
    /// Questionnaire responses (PHQ-2 and PHQ-9).
    pub questionnaires: usize,
    /// Interpersonal inventory entries.
    pub inventory_entries: usize,
    /// Timeline events.
    pub timeline_events: usize,
    /// Risk events opened (PHQ-9 item 9 or a worker's concern).
    pub risk_events: usize,
    /// Risk assessments recorded.
    pub risk_assessments: usize,
    /// Operations written (each create, update or delete of a record is one).
    pub operations: u64,
}

/// The shared inputs of planning and scripting.
pub struct Context {
    /// Today's clinical date.
    pub today: NaiveDate,
    /// The worker the clients are assigned to.
    pub worker: WorkerId,
    /// The protocol the engine applies (built-in defaults).
    pub protocol: Protocol,
}

impl Context {
    /// Context with the built-in protocol (instruments, agenda, default configuration).
    pub fn new(today: NaiveDate, worker: WorkerId) -> Result<Self, GenerateError> {
        Ok(Context {
            today,
            worker,
            protocol: Protocol::builtin()?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Plan

/// PHQ-9 answers: nine scored items then the (unscored) difficulty item.
type Phq9 = [u8; 10];
const ITEM9: usize = 8;

/// The risk events of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskKind {
    /// PHQ-9 item 9 above 0 in a session; assessed there: safety plan, supervisor contacted.
    SafetyPlan,
    /// PHQ-9 item 9 above 0 with a plan; assessed there: urgent referral.
    UrgentReferral,
    /// The worker's concern (item 9 was 0) between two sessions, assessed the next day.
    ConcernAssessed,
    /// The worker's concern after the last session, still waiting for its assessment.
    ConcernWaiting,
}

#[derive(Debug, Clone)]
struct ScreeningPlan {
    at: NaiveDateTime,
    phq2: [u8; 2],
    phq9: Option<Phq9>,
}

#[derive(Debug, Clone)]
struct SessionPlan {
    held_at: NaiveDateTime,
    /// The appointment first planned and missed (the session was held later).
    missed_at: Option<NaiveDateTime>,
    modality: Modality,
    phq9: Phq9,
    risk: Option<RiskKind>,
    /// A worker's concern raised before this session, and when it was assessed.
    concern_before: Option<(NaiveDateTime, NaiveDateTime)>,
}

#[derive(Debug, Clone)]
struct CoursePlan {
    enrolled_at: NaiveDateTime,
    planned: u8,
    area: ProblemArea,
    dispute_stage: Option<DisputeStage>,
    focus: InventoryPerson,
    others: Vec<InventoryPerson>,
    trigger: &'static str,
    /// Timeline: days before enrolment, event, mood change; earliest first.
    events: Vec<(u64, &'static str, MoodChange)>,
    group: &'static str,
    sessions: Vec<SessionPlan>,
    /// Dropped out: the appointments missed after the last session held.
    missed_after: Vec<NaiveDateTime>,
    end: Option<(EndReason, NaiveDateTime)>,
    /// A worker's concern after the last session, not yet assessed.
    concern_waiting: Option<NaiveDateTime>,
}

/// One client's plan.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    person: Person,
    stage: Stage,
    birth_year: Option<i32>,
    address: Option<&'static str>,
    registered_at: NaiveDateTime,
    consent: Option<ConsentMethod>,
    screening: Option<ScreeningPlan>,
    course: Option<CoursePlan>,
}

impl ClientPlan {
    /// Where the client stands.
    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The synthetic person.
    pub fn person(&self) -> &Person {
        &self.person
    }

    /// The risk events planned for this client.
    pub fn risks(&self) -> Vec<RiskKind> {
        let Some(c) = &self.course else {
            return Vec::new();
        };
        c.sessions
            .iter()
            .filter_map(|s| s.risk)
            .chain(c.concern_waiting.map(|_| RiskKind::ConcernWaiting))
            .collect()
    }
}

fn minus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(days)).unwrap_or(d)
}

fn plus(d: NaiveDate, days: u64) -> NaiveDate {
    d.checked_add_days(Days::new(days)).unwrap_or(d)
}

fn at(d: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
    d.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN))
}

fn after_minutes(t: NaiveDateTime, minutes: i64) -> NaiveDateTime {
    t.checked_add_signed(TimeDelta::minutes(minutes))
        .unwrap_or(t)
}

/// A visit during working hours.
fn visit<R: Rng>(rng: &mut R, d: NaiveDate) -> NaiveDateTime {
    let hour = rng.random_range(8..=15);
    let minute = if rng.random_bool(0.5) { 0 } else { 30 };
    at(d, hour, minute)
}

/// Where the demo's history starts for `today`: the store is created then.
pub fn history_start(today: NaiveDate) -> DateTime<Utc> {
    at(minus(today, HISTORY_DAYS), 7, 0).and_utc()
}

/// PHQ-2 answers with the given total.
fn phq2_answers<R: Rng>(rng: &mut R, total: u8) -> [u8; 2] {
    let a = rng.random_range(total.saturating_sub(3)..=total.min(3));
    [a, total - a]
}

/// PHQ-9 answers with the given total (items 1-8; item 9 stays 0), keeping items 1-2 when
/// given (the PHQ-2 asked first), and a difficulty answer that fits the total.
fn phq9_answers<R: Rng>(rng: &mut R, total: u8, first_two: Option<[u8; 2]>) -> Phq9 {
    let mut a: Phq9 = [0; 10];
    let free: std::ops::RangeInclusive<usize> = match first_two {
        Some([x, y]) => {
            a[0] = x;
            a[1] = y;
            2..=7
        }
        None => 0..=7,
    };
    let fixed: u8 = a[0] + a[1];
    let capacity = u8::try_from(free.clone().count() * 3).unwrap_or(0);
    let mut remaining = total.saturating_sub(fixed).min(capacity);
    let slots: Vec<usize> = free.collect();
    while remaining > 0 {
        let open: Vec<usize> = slots.iter().copied().filter(|&i| a[i] < 3).collect();
        let Some(&i) = open.choose(rng) else { break };
        a[i] += 1;
        remaining -= 1;
    }
    a[9] = match total {
        0..=4 => 0,
        5..=9 => rng.random_range(0..=1),
        10..=14 => 1,
        15..=19 => rng.random_range(1..=2),
        _ => rng.random_range(2..=3),
    };
    a
}

fn phq9_total(a: &Phq9) -> u8 {
    a[..9].iter().sum()
}

/// Plan a caseload of `clients` for `today`, deterministic for `seed`.
pub fn plan_caseload(
    ctx: &Context,
    seed: u64,
    clients: usize,
) -> Result<Vec<ClientPlan>, GenerateError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stages: Vec<Stage> = (0..clients).map(|i| DECK[i % DECK.len()]).collect();
    stages.shuffle(&mut rng);
    let mut people = PersonFactory::new();
    let mut plans = Vec::with_capacity(clients);
    for stage in stages {
        let person = people.person(&mut rng);
        plans.push(plan_client(&mut rng, ctx, person, stage)?);
    }
    assign_risks(&mut rng, ctx.today, &mut plans);
    Ok(plans)
}

fn plan_client<R: Rng>(
    rng: &mut R,
    ctx: &Context,
    person: Person,
    stage: Stage,
) -> Result<ClientPlan, GenerateError> {
    let today = ctx.today;
    let age = rng.random_range(18..=65);
    let birth_year = rng
        .random_bool(0.9)
        .then(|| chrono::Datelike::year(&today) - age);
    let address = if rng.random_bool(0.4) {
        phrases::ADDRESSES.choose(rng).copied()
    } else {
        None
    };
    let consent_method = if rng.random_bool(0.85) {
        ConsentMethod::Verbal
    } else {
        ConsentMethod::Written
    };
    let mut plan = ClientPlan {
        person,
        stage,
        birth_year,
        address,
        registered_at: visit(rng, today),
        consent: Some(consent_method),
        screening: None,
        course: None,
    };
    let screening_cfg = &ctx.protocol.config.screening;
    let positive = screening_cfg.phq2_positive_at.value;
    let eligible = screening_cfg.phq9_eligible_at.value;
    let refer = screening_cfg.refer_severe_at.value;
    match stage {
        Stage::Registered => {
            let registered = minus(today, rng.random_range(0..=10));
            plan.registered_at = visit(rng, registered);
            if rng.random_bool(0.5) {
                plan.consent = None;
            }
        }
        Stage::ScreenedOut | Stage::ReferredAtScreening => {
            let registered = minus(today, rng.random_range(3..=45));
            plan.registered_at = visit(rng, registered);
            let date = plus(registered, rng.random_range(0..=2)).min(today);
            let (phq2, phq9) = if stage == Stage::ReferredAtScreening {
                let phq2_total = rng.random_range(5..=6).max(positive);
                let phq2 = phq2_answers(rng, phq2_total);
                let total = rng.random_range(refer..=refer.saturating_add(3).min(24));
                (phq2, Some(phq9_answers(rng, total, Some(phq2))))
            } else if rng.random_bool(0.5) {
                let phq2_total = rng.random_range(0..positive);
                (phq2_answers(rng, phq2_total), None)
            } else {
                let phq2 = phq2_answers(rng, positive);
                let total = rng.random_range(positive.max(5)..eligible);
                (phq2, Some(phq9_answers(rng, total, Some(phq2))))
            };
            plan.screening = Some(ScreeningPlan {
                at: visit(rng, date),
                phq2,
                phq9,
            });
        }
        Stage::Enrolled => {
            // The engine plans session 1 on the day of enrolment: enrolled today or
            // yesterday, so the first session is due today or a day late.
            let enrolled = minus(today, rng.random_range(0..=1));
            let screened = minus(enrolled, rng.random_range(0..=1));
            let registered = minus(screened, rng.random_range(0..=2));
            plan.registered_at = visit(rng, registered);
            plan.screening = Some(eligible_screening(rng, ctx, screened));
            let enrolled_at = visit(rng, enrolled);
            let course = plan_course_frame(rng, ctx, &plan.person, enrolled_at);
            plan.course = Some(course);
        }
        _ => plan_in_course(rng, ctx, &mut plan)?,
    }
    Ok(plan)
}

fn eligible_screening<R: Rng>(rng: &mut R, ctx: &Context, date: NaiveDate) -> ScreeningPlan {
    let cfg = &ctx.protocol.config.screening;
    let phq2_total = rng.random_range(cfg.phq2_positive_at.value..=4);
    let phq2 = phq2_answers(rng, phq2_total);
    let total = rng.random_range(cfg.phq9_eligible_at.value..cfg.refer_severe_at.value);
    ScreeningPlan {
        at: visit(rng, date),
        phq2,
        phq9: Some(phq9_answers(rng, total, Some(phq2))),
    }
}

/// The parts of a course fixed at enrolment and in the first session.
fn plan_course_frame<R: Rng>(
    rng: &mut R,
    ctx: &Context,
    person: &Person,
    enrolled_at: NaiveDateTime,
) -> CoursePlan {
    let sessions_cfg = &ctx.protocol.config.sessions;
    let low = sessions_cfg.min_planned.value.max(4);
    let high = sessions_cfg.max_planned.value.max(low);
    let planned = rng.random_range(low..=high);
    let area = match rng.random_range(0..100) {
        0..25 => ProblemArea::Grief,
        25..55 => ProblemArea::Disputes,
        55..80 => ProblemArea::LifeChanges,
        _ => ProblemArea::Loneliness,
    };
    let dispute_stage = (area == ProblemArea::Disputes).then(|| match rng.random_range(0..10) {
        0..6 => DisputeStage::Renegotiation,
        6..9 => DisputeStage::Impasse,
        _ => DisputeStage::Dissolution,
    });
    let focus = phrases::focus_person(area, person.sex);
    let n_people = rng.random_range(1..=4usize);
    let others = phrases::circle(rng, person.sex, &focus, n_people - 1);
    let trigger = phrases::trigger_event(area, person.sex);
    let mut events = vec![(rng.random_range(30..=400), trigger, MoodChange::Worse)];
    let n_events = rng.random_range(1..=3usize);
    for (text, mood) in phrases::other_events(rng, n_events - 1) {
        events.push((rng.random_range(7..=600), text, mood));
    }
    events.sort_by_key(|e| std::cmp::Reverse(e.0));
    let group = person
        .region()
        .groups
        .choose(rng)
        .copied()
        .unwrap_or("the community group");
    CoursePlan {
        enrolled_at,
        planned,
        area,
        dispute_stage,
        focus,
        others,
        trigger,
        events,
        group,
        sessions: Vec::new(),
        missed_after: Vec::new(),
        end: None,
        concern_waiting: None,
    }
}

/// Dates, sessions and PHQ-9 trajectory of a client with at least one session held.
fn plan_in_course<R: Rng>(
    rng: &mut R,
    ctx: &Context,
    plan: &mut ClientPlan,
) -> Result<(), GenerateError> {
    let today = ctx.today;
    let stage = plan.stage;
    let mut course = plan_course_frame(rng, ctx, &plan.person, at(today, 8, 0));
    let planned = course.planned;
    let held: u8 = match stage {
        Stage::Initial => 1,
        Stage::Middle => rng.random_range(2..=planned - 2),
        Stage::Termination => planned - 1,
        Stage::Completed => planned,
        _ => rng.random_range(1..=2u8.min(planned - 2)),
    };
    let mut gaps: Vec<u64> = (1..held).map(|_| rng.random_range(6..=8)).collect();
    let missed = if held >= 2 && rng.random_bool(0.35) {
        let index = rng.random_range(1..usize::from(held));
        let delay = rng.random_range(3..=5u64);
        if let Some(g) = gaps.get_mut(index - 1) {
            *g += delay;
        }
        Some((index, delay))
    } else {
        None
    };
    let span: u64 = gaps.iter().sum();
    let pre_first = rng.random_range(0..=3u64);
    let pre_enrol = rng.random_range(0..=2u64);
    let pre_screen = rng.random_range(0..=2u64);
    let wanted = match stage {
        Stage::Middle => rng.random_range(1..=10u64),
        Stage::Completed => rng.random_range(2..=20),
        Stage::DroppedOut => rng.random_range(20..=30),
        _ => rng.random_range(1..=6),
    };
    let room = (HISTORY_DAYS - 1).saturating_sub(span + pre_first + pre_enrol + pre_screen);
    let last_off = wanted.min(room).max(1);
    let last = minus(today, last_off);
    let first = minus(last, span);
    let enrolled_on = minus(first, pre_first);
    let screened = minus(enrolled_on, pre_enrol);
    plan.registered_at = visit(rng, minus(screened, pre_screen));
    plan.screening = Some(eligible_screening(rng, ctx, screened));
    let baseline = plan
        .screening
        .as_ref()
        .and_then(|s| s.phq9.as_ref())
        .map_or(12, phq9_total);
    course.enrolled_at = visit(rng, enrolled_on);

    let improving = rng.random_bool(0.75);
    let mut total = i32::from(baseline) + rng.random_range(-1..=1);
    let mut date = first;
    for k in 1..=held {
        if k > 1 {
            date = plus(date, gaps.get(usize::from(k) - 2).copied().unwrap_or(7));
        }
        let missed_at = match missed {
            Some((index, delay)) if index + 1 == usize::from(k) => {
                Some(visit(rng, minus(date, delay)))
            }
            _ => None,
        };
        let t = u8::try_from(total.clamp(1, 24)).unwrap_or(1);
        course.sessions.push(SessionPlan {
            held_at: visit(rng, date),
            missed_at,
            modality: if rng.random_bool(0.8) {
                Modality::InPerson
            } else {
                Modality::Phone
            },
            phq9: phq9_answers(rng, t, None),
            risk: None,
            concern_before: None,
        });
        total += if improving {
            -rng.random_range(1..=3)
        } else {
            rng.random_range(-1..=2)
        };
        total = total.max(if improving { 2 } else { 6 });
    }
    let last_held = course
        .sessions
        .last()
        .map_or(at(last, 12, 0), |s| s.held_at);
    match stage {
        Stage::Completed => {
            course.end = Some((EndReason::Completed, after_minutes(last_held, 20)));
        }
        Stage::DroppedOut => {
            let first_miss = plus(last, 7).min(minus(today, 2));
            let second_miss = plus(first_miss, 5).min(minus(today, 1));
            course.missed_after = vec![visit(rng, first_miss), visit(rng, second_miss)];
            let ended = plus(second_miss, rng.random_range(1..=4)).min(today);
            course.end = Some((EndReason::DroppedOut, at(ended, 17, 0)));
        }
        _ => {}
    }
    plan.course = Some(course);
    Ok(())
}

/// The risk events: a worker's concern still waiting for its assessment (the running course
/// seen most recently), one urgent referral (another running course, at its last session),
/// one or two safety plans after PHQ-9 item 9 above 0, and a concern raised between two
/// sessions and assessed the next day.
fn assign_risks<R: Rng>(rng: &mut R, today: NaiveDate, plans: &mut [ClientPlan]) {
    let sessions = |p: &ClientPlan| p.course.as_ref().map_or(0, |c| c.sessions.len());
    let running = |p: &ClientPlan| p.course.as_ref().is_some_and(|c| c.end.is_none());
    let last_held = |p: &ClientPlan| {
        p.course
            .as_ref()
            .and_then(|c| c.sessions.last())
            .map(|s| s.held_at)
    };
    let mut taken: Vec<usize> = Vec::new();
    // The waiting concern: the running course seen most recently.
    let waiting = (0..plans.len())
        .filter(|&i| sessions(&plans[i]) > 0 && running(&plans[i]))
        .max_by_key(|&i| last_held(&plans[i]));
    if let Some(i) = waiting {
        if let (Some(held), Some(course)) = (last_held(&plans[i]), plans[i].course.as_mut()) {
            let next_evening = at(plus(held.date(), 1), 17, 30).min(at(today, 17, 30));
            course.concern_waiting = Some(next_evening.max(after_minutes(held, 120)));
            taken.push(i);
        }
    }
    let pick = |rng: &mut R, taken: &mut Vec<usize>, ok: &dyn Fn(&ClientPlan) -> bool| {
        let free: Vec<usize> = (0..plans.len())
            .filter(|i| !taken.contains(i) && ok(&plans[*i]))
            .collect();
        let chosen = free.choose(rng).copied();
        taken.extend(chosen);
        chosen
    };
    let urgent = pick(rng, &mut taken, &|p| sessions(p) > 0 && running(p));
    let safety_plans = rng.random_range(1..=2);
    let safety: Vec<usize> = (0..safety_plans)
        .filter_map(|_| pick(rng, &mut taken, &|p| sessions(p) > 0))
        .collect();
    let concern = pick(rng, &mut taken, &|p| sessions(p) >= 2);

    if let Some(c) = urgent.and_then(|i| plans[i].course.as_mut()) {
        if let Some(s) = c.sessions.last_mut() {
            s.phq9[ITEM9] = 2;
            s.risk = Some(RiskKind::UrgentReferral);
        }
    }
    for i in safety {
        if let Some(c) = plans[i].course.as_mut() {
            let k = rng.random_range(0..c.sessions.len());
            if let Some(s) = c.sessions.get_mut(k) {
                s.phq9[ITEM9] = rng.random_range(1..=2);
                s.risk = Some(RiskKind::SafetyPlan);
            }
        }
    }
    if let Some(c) = concern.and_then(|i| plans[i].course.as_mut()) {
        let k = rng.random_range(1..c.sessions.len());
        let before = c.sessions[k - 1].held_at;
        if let Some(s) = c.sessions.get_mut(k) {
            // Two days after the previous visit, in the evening, a neighbour calls; the worker
            // visits the next morning and assesses with the supervisor on the phone.
            let raised = at(plus(before.date(), 2), 18, 0);
            let assessed = at(plus(before.date(), 3), 9, 30);
            if assessed < s.missed_at.unwrap_or(s.held_at) {
                s.concern_before = Some((raised, assessed));
                s.risk = Some(RiskKind::ConcernAssessed);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Script

/// What one engine step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Register the client (the worker's first visit).
    Register(Box<Client>),
    /// A screening questionnaire ([`Protocol::screen`]).
    Screen {
        /// `phq2` or `phq9`.
        instrument: &'static str,
        /// Answer values in item order.
        answers: Vec<u8>,
    },
    /// Enrolment ([`Protocol::enrol`]).
    Enrol {
        /// Sessions agreed.
        planned: u8,
    },
    /// A whole session ([`Protocol::record_session`]); `held_at` is the step's time.
    Session {
        /// What was recorded.
        input: Box<SessionInput>,
        /// The session's first appointment was missed.
        after_missed: bool,
    },
    /// The planned session was missed ([`Protocol::miss_session`]).
    Miss,
    /// The worker raises a risk concern ([`Protocol::raise_concern`]).
    Concern {
        /// What the worker observed.
        observation: String,
    },
    /// The risk assessment of every risk event waiting for one ([`Protocol::assess_risk`]).
    Assess(Box<RiskAssessmentInput>),
    /// The course ends ([`Protocol::end_course`]).
    End {
        /// Why.
        reason: EndReason,
        /// Note.
        note: Option<String>,
    },
}

impl Action {
    /// The step kind, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Register(_) => "register",
            Action::Screen { .. } => "screen",
            Action::Enrol { .. } => "enrol",
            Action::Session { .. } => "session",
            Action::Miss => "miss",
            Action::Concern { .. } => "concern",
            Action::Assess(_) => "assess",
            Action::End { .. } => "end",
        }
    }
}

/// One dated engine step of one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When (the store's clock is set to this time; clinical dates are its date).
    pub at: NaiveDateTime,
    /// Index of the client in the plan.
    pub client: usize,
    /// What happens.
    pub action: Action,
}

fn assessment(kind: RiskKind, p: phrases::Pronouns) -> RiskAssessmentInput {
    let base = RiskAssessmentInput {
        thoughts: true,
        plan: false,
        intent: false,
        means: false,
        past_attempt: false,
        supervisor_contacted: true,
        outcome: RiskOutcome::SafetyPlan,
        outcome_text: None,
        note: None,
    };
    match kind {
        RiskKind::UrgentReferral => RiskAssessmentInput {
            plan: true,
            means: true,
            outcome: RiskOutcome::UrgentReferral,
            note: Some(
                "Thoughts with a plan, no intent today. Supervisor called from the home; \
                 accompanied to the health centre the same day."
                    .to_owned(),
            ),
            ..base
        },
        RiskKind::ConcernAssessed | RiskKind::ConcernWaiting => RiskAssessmentInput {
            thoughts: false,
            note: Some(
                "No current thoughts of self-harm on direct questions. Safety plan reviewed \
                 with the supervisor by phone."
                    .to_owned(),
            ),
            ..base
        },
        RiskKind::SafetyPlan => RiskAssessmentInput {
            note: Some(format!(
                "Passive thoughts of death, no plan or intent. Safety plan agreed with {} \
                 family; supervisor informed by phone the same day.",
                p.possessive
            )),
            ..base
        },
    }
}

fn observation(p: phrases::Pronouns) -> String {
    format!(
        "Neighbour called: {} has stopped eating and said everyone would be better off \
         without {}. PHQ-9 item 9 was 0 at the last visit.",
        p.subject, p.object
    )
}

/// The steps of one client, in the order and at the times a worker would have taken them.
pub fn script(
    ctx: &Context,
    plan: &ClientPlan,
) -> Result<Vec<(NaiveDateTime, Action)>, GenerateError> {
    let person = &plan.person;
    let registered_on = plan.registered_at.date();
    let client = Client::new(
        NewClient {
            display_name: person.display_name.clone(),
            sex: person.sex,
            birth_year: plan.birth_year,
            phone: person.phone.clone(),
            village: Some(person.village.clone()),
            address: plan.address.map(str::to_owned),
            consent: plan.consent.map(|method| Consent {
                given: true,
                date: registered_on,
                version: "v1".to_owned(),
                method,
            }),
            assigned_worker: ctx.worker,
            registered_on,
        },
        ctx.today,
    )?;
    let mut steps = vec![(plan.registered_at, Action::Register(Box::new(client)))];
    if let Some(s) = &plan.screening {
        steps.push((
            s.at,
            Action::Screen {
                instrument: "phq2",
                answers: s.phq2.to_vec(),
            },
        ));
        if let Some(phq9) = &s.phq9 {
            steps.push((
                after_minutes(s.at, 5),
                Action::Screen {
                    instrument: "phq9",
                    answers: phq9.to_vec(),
                },
            ));
        }
    }
    if let Some(c) = &plan.course {
        script_course(c, person, &mut steps)?;
    }
    // A worker's day runs forward: each step at least five minutes after the one before.
    for i in 1..steps.len() {
        let floor = after_minutes(steps[i - 1].0, 5);
        if steps[i].0 < floor {
            steps[i].0 = floor;
        }
    }
    Ok(steps)
}

fn script_course(
    c: &CoursePlan,
    person: &Person,
    steps: &mut Vec<(NaiveDateTime, Action)>,
) -> Result<(), GenerateError> {
    let p = phrases::pronouns(person.sex);
    steps.push((c.enrolled_at, Action::Enrol { planned: c.planned }));
    let notes = NoteContext {
        sex: person.sex,
        area: c.area,
        stage: c.dispute_stage,
        focus: c.focus.label,
        group: c.group,
        trigger: c.trigger,
        planned: c.planned,
    };
    let mut previous_total: Option<u8> = None;
    for (i, s) in c.sessions.iter().enumerate() {
        let number = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let session_phase = phase(number, c.planned).map_err(GenerateError::from)?;
        if let Some((raised, assessed)) = s.concern_before {
            steps.push((
                raised,
                Action::Concern {
                    observation: observation(p),
                },
            ));
            steps.push((
                assessed,
                Action::Assess(Box::new(assessment(RiskKind::ConcernAssessed, p))),
            ));
        }
        if let Some(missed) = s.missed_at {
            steps.push((missed, Action::Miss));
        }
        let total = phq9_total(&s.phq9);
        let mut note = match (i, session_phase) {
            (0, _) => notes.initial_note(),
            (_, Phase::Termination) => notes.termination_note(),
            _ => notes.middle_note(i - 1),
        };
        if let Some(prev) = previous_total {
            note = format!("PHQ-9 {total} (last visit {prev}). {note}");
        }
        match s.risk {
            Some(RiskKind::SafetyPlan | RiskKind::UrgentReferral) => note.push_str(
                " Item 9 above 0: asked the risk questions and called the supervisor (see the \
                 risk event).",
            ),
            Some(RiskKind::ConcernAssessed) => {
                note.push_str(" Reviewed the safety plan agreed after the neighbour's call.")
            }
            _ => {}
        }
        if s.missed_at.is_some() {
            note.push_str(" Held late after a missed appointment.");
        }
        let first = i == 0;
        let input = SessionInput {
            held_at: None,
            modality: Some(s.modality),
            phq9: Some(s.phq9.to_vec()),
            gad7: None,
            steps_done: StepsDone::All(AllSteps::All),
            steps_skipped: Vec::new(),
            problem_area: first.then_some(c.area),
            dispute_stage: if first { c.dispute_stage } else { None },
            inventory: if first {
                std::iter::once(&c.focus)
                    .chain(&c.others)
                    .map(|x| InventoryInput {
                        label: x.label.to_owned(),
                        relationship: x.relationship.to_owned(),
                        closeness: Some(x.closeness),
                        support: x.support.map(str::to_owned),
                        conflict: x.conflict.map(str::to_owned),
                        what_changed: x.what_changed.map(str::to_owned),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            timeline: if first {
                c.events
                    .iter()
                    .map(|(days_before, event, mood)| TimelineInput {
                        date: minus(c.enrolled_at.date(), *days_before),
                        event: (*event).to_owned(),
                        mood_change: *mood,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            notes: Some(note),
            // Tasks are agreed in the middle phase (the agenda's `task_agreed`).
            task: (session_phase == Phase::Middle).then(|| notes.task(i - 1)),
            // Item 9 above 0 opens a risk event in the session: assessed there and then.
            risk_assessment: s
                .risk
                .filter(|k| matches!(k, RiskKind::SafetyPlan | RiskKind::UrgentReferral))
                .map(|kind| assessment(kind, p)),
            extension_reason: None,
        };
        steps.push((
            s.held_at,
            Action::Session {
                input: Box::new(input),
                after_missed: s.missed_at.is_some(),
            },
        ));
        previous_total = Some(total);
    }
    for missed in &c.missed_after {
        steps.push((*missed, Action::Miss));
    }
    if let Some(raised) = c.concern_waiting {
        steps.push((
            raised,
            Action::Concern {
                observation: observation(p),
            },
        ));
    }
    match c.end {
        Some((EndReason::DroppedOut, when)) => steps.push((
            when,
            Action::End {
                reason: EndReason::DroppedOut,
                note: Some("Two missed visits and not reachable by phone.".to_owned()),
            },
        )),
        Some((reason, when)) => steps.push((when, Action::End { reason, note: None })),
        None => {}
    }
    Ok(())
}

/// Every client's steps, merged in time order (a client's own steps keep their order).
pub fn schedule(ctx: &Context, plans: &[ClientPlan]) -> Result<Vec<Step>, GenerateError> {
    let mut all = Vec::new();
    for (client, plan) in plans.iter().enumerate() {
        for (at, action) in script(ctx, plan)? {
            all.push(Step { at, client, action });
        }
    }
    // Stable: ties keep client order, and each client's steps are already in time order.
    all.sort_by_key(|s| s.at);
    Ok(all)
}

// ---------------------------------------------------------------------------------------------
// Run

/// What one applied step adds to the summary.
#[derive(Debug, Default)]
struct Done {
    clients: usize,
    screenings: usize,
    courses: usize,
    sessions_held: usize,
    sessions_missed: usize,
    missed_then_held: usize,
    questionnaires: usize,
    inventory_entries: usize,
    timeline_events: usize,
    risk_events: usize,
    risk_assessments: usize,
}

impl DemoSummary {
    fn add(&mut self, d: &Done) {
        self.clients += d.clients;
        self.screenings += d.screenings;
        self.courses += d.courses;
        self.sessions_held += d.sessions_held;
        self.sessions_missed += d.sessions_missed;
        self.missed_then_held += d.missed_then_held;
        self.questionnaires += d.questionnaires;
        self.inventory_entries += d.inventory_entries;
        self.timeline_events += d.timeline_events;
        self.risk_events += d.risk_events;
        self.risk_assessments += d.risk_assessments;
    }
}

/// The ids the engine gave each client and course so far.
struct Ids {
    clients: Vec<Option<ClientId>>,
    courses: Vec<Option<CourseId>>,
}

impl Ids {
    fn client(&self, i: usize) -> Result<ClientId, ProtocolError> {
        self.clients
            .get(i)
            .copied()
            .flatten()
            .ok_or(ProtocolError::NotFound { what: "client" })
    }

    fn course(&self, i: usize) -> Result<CourseId, ProtocolError> {
        self.courses
            .get(i)
            .copied()
            .flatten()
            .ok_or(ProtocolError::NotEnrolled)
    }
}

fn apply(
    protocol: &Protocol,
    w: &mut Writer<'_>,
    ids: &Ids,
    step: &Step,
) -> Result<(Done, Option<CourseId>), ProtocolError> {
    let mut done = Done::default();
    let mut enrolled = None;
    let when = step.at;
    match &step.action {
        Action::Register(client) => {
            w.create(client.as_ref())?;
            done.clients = 1;
        }
        Action::Screen {
            instrument,
            answers,
        } => {
            let out =
                protocol.screen(w, ids.client(step.client)?, instrument, answers, when, &[])?;
            done.questionnaires = 1;
            done.screenings = usize::from(out.outcome.is_some());
            done.risk_events = usize::from(out.risk_event.is_some());
        }
        Action::Enrol { planned } => {
            let id = protocol.enrol(w, ids.client(step.client)?, Some(*planned), when.date())?;
            enrolled = Some(id);
            done.courses = 1;
        }
        Action::Session {
            input,
            after_missed,
        } => {
            let mut input = (**input).clone();
            input.held_at = Some(when);
            let out = protocol.record_session(w, ids.course(step.client)?, &input)?;
            done.sessions_held = 1;
            done.missed_then_held = usize::from(*after_missed);
            done.questionnaires = usize::from(out.phq9.is_some());
            done.inventory_entries = input.inventory.len();
            done.timeline_events = input.timeline.len();
            done.risk_events = out.risk_events.len();
            done.risk_assessments = usize::from(input.risk_assessment.is_some());
        }
        Action::Miss => {
            protocol.miss_session(w, ids.course(step.client)?, when.date())?;
            done.sessions_missed = 1;
        }
        Action::Concern { observation } => {
            protocol.raise_concern(w, ids.client(step.client)?, observation, when)?;
            done.risk_events = 1;
        }
        Action::Assess(input) => {
            let client = ids.client(step.client)?;
            let records = ClientRecords::load(w, client)?
                .ok_or(ProtocolError::NotFound { what: "client" })?;
            let waiting: Vec<RiskEventId> = records.unassessed_risks().map(|r| r.id).collect();
            if waiting.is_empty() {
                return Err(ProtocolError::Invalid(
                    "no risk event is waiting for an assessment",
                ));
            }
            for id in &waiting {
                protocol.assess_risk(w, *id, input, when)?;
            }
            done.risk_assessments = waiting.len();
        }
        Action::End { reason, note } => {
            protocol.end_course(
                w,
                ids.course(step.client)?,
                *reason,
                note.as_deref(),
                when.date(),
            )?;
        }
    }
    Ok((done, enrolled))
}

/// Fill `store` (unlocked, running on `clock`) with a synthetic caseload of `clients`
/// clients, deterministic for `seed` and `now`'s date. Each engine step runs in its own
/// transaction with the clock set to the step's time; the history starts at
/// [`history_start`] (create the store then) and the clock ends at `now` (or at the last
/// step, if that is later in the day). `now` is read as the local wall-clock time: the
/// manual clock's date is its UTC date.
pub fn populate(
    store: &Store,
    clock: &ManualClock,
    now: DateTime<Utc>,
    seed: u64,
    clients: usize,
) -> Result<DemoSummary, GenerateError> {
    let today = now.date_naive();
    let ctx = Context::new(today, store.identity().worker_id)?;
    let plans = plan_caseload(&ctx, seed, clients)?;
    let steps = schedule(&ctx, &plans)?;
    let mut summary = DemoSummary {
        seed,
        ..DemoSummary::default()
    };
    for plan in &plans {
        *summary.stages.entry(plan.stage).or_default() += 1;
    }
    let mut ids = Ids {
        clients: vec![None; plans.len()],
        courses: vec![None; plans.len()],
    };
    let before = store.outbox_len()?;
    let start = history_start(today);
    let mut last_day = None;
    for step in &steps {
        let when = step.at.and_utc().max(start);
        clock.set(when);
        if last_day != Some(step.at.date()) {
            summary.days += 1;
            last_day = Some(step.at.date());
        }
        let (done, enrolled) = store
            .write(|w| apply(&ctx.protocol, w, &ids, step))
            .map_err(|source| match source {
                ProtocolError::Store(s) => GenerateError::Store(s),
                source => GenerateError::Refused {
                    step: step.action.name(),
                    source,
                },
            })?;
        if let Action::Register(client) = &step.action {
            ids.clients[step.client] = Some(client.id);
        }
        if let Some(course) = enrolled {
            ids.courses[step.client] = Some(course);
        }
        summary.add(&done);
        summary.steps += 1;
    }
    let end = steps.last().map_or(now, |s| s.at.and_utc()).max(now);
    clock.set(end);
    summary.operations = store.outbox_len()?.saturating_sub(before);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(today: NaiveDate) -> Context {
        Context::new(today, WorkerId::new()).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A step without its random ids, as text.
    fn fingerprint(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| {
                let text = format!("{s:?}");
                // Ids are UUIDs: 8-4-4-4-12 hex digits. Mask them.
                let chars: Vec<char> = text.chars().collect();
                let mut out = String::new();
                let mut i = 0;
                while i < chars.len() {
                    if i + 36 <= chars.len() {
                        let s: String = chars[i..i + 36].iter().collect();
                        if uuid::Uuid::try_parse(&s).is_ok() {
                            out.push_str("<id>");
                            i += 36;
                            continue;
                        }
                    }
                    out.push(chars[i]);
                    i += 1;
                }
                out
            })
            .collect()
    }

    fn steps_of(c: &Context, seed: u64, n: usize) -> Vec<Step> {
        schedule(c, &plan_caseload(c, seed, n).unwrap()).unwrap()
    }

    #[test]
    fn same_seed_same_script_and_different_seed_differs() {
        let c = ctx(date(2026, 3, 10));
        let a = fingerprint(&steps_of(&c, 7, 24));
        assert_eq!(a, fingerprint(&steps_of(&c, 7, 24)));
        assert_ne!(a, fingerprint(&steps_of(&c, 8, 24)));
    }

    #[test]
    fn every_stage_and_the_required_risk_events_are_planned() {
        for seed in [1, 7, 42, 1234] {
            let c = ctx(date(2026, 3, 10));
            let plans = plan_caseload(&c, seed, 24).unwrap();
            let stages: std::collections::BTreeSet<Stage> =
                plans.iter().map(ClientPlan::stage).collect();
            assert_eq!(stages.len(), Stage::ALL.len(), "seed {seed}");
            let risks: Vec<RiskKind> = plans.iter().flat_map(ClientPlan::risks).collect();
            let count = |k: RiskKind| risks.iter().filter(|r| **r == k).count();
            assert_eq!(count(RiskKind::ConcernWaiting), 1, "seed {seed}");
            assert_eq!(count(RiskKind::UrgentReferral), 1, "seed {seed}");
            assert!(
                (1..=2).contains(&count(RiskKind::SafetyPlan)),
                "seed {seed}"
            );
            assert_eq!(count(RiskKind::ConcernAssessed), 1, "seed {seed}");
        }
    }

    #[test]
    fn steps_run_forward_in_time_and_stay_in_the_history_window() {
        let today = date(2026, 1, 5); // across a year boundary
        let c = ctx(today);
        let earliest = history_start(today).naive_utc();
        let latest = at(today, 23, 59);
        let steps = steps_of(&c, 99, 48);
        for pair in steps.windows(2) {
            assert!(pair[0].at <= pair[1].at);
        }
        for s in &steps {
            assert!(s.at > earliest && s.at <= latest, "{:?}", s.at);
        }
        // Each client: registered first; a session's PHQ-9 has item 9 above 0 exactly when
        // it carries an item-9 risk assessment.
        for client in 0..48 {
            let own: Vec<&Step> = steps.iter().filter(|s| s.client == client).collect();
            assert!(matches!(own[0].action, Action::Register(_)));
            for s in own {
                if let Action::Session { input, .. } = &s.action {
                    let item9 = input.phq9.as_ref().unwrap()[ITEM9];
                    let assessed_thoughts =
                        input.risk_assessment.as_ref().is_some_and(|a| a.thoughts);
                    assert_eq!(item9 > 0, assessed_thoughts);
                }
            }
        }
    }

    #[test]
    fn most_but_not_all_courses_improve() {
        let c = ctx(date(2026, 3, 10));
        let plans = plan_caseload(&c, 99, 48).unwrap();
        let mut improving = 0;
        let mut with_two = 0;
        for p in &plans {
            let Some(course) = &p.course else { continue };
            let totals: Vec<u8> = course
                .sessions
                .iter()
                .map(|s| phq9_total(&s.phq9))
                .collect();
            if totals.len() >= 2 {
                with_two += 1;
                if totals.last() < totals.first() {
                    improving += 1;
                }
            }
        }
        assert!(with_two >= 10);
        assert!(
            improving * 2 > with_two && improving < with_two,
            "{improving} of {with_two}"
        );
    }

    #[test]
    fn small_caseloads_plan() {
        let c = ctx(date(2026, 3, 10));
        for n in 1..=6 {
            assert_eq!(plan_caseload(&c, 3, n).unwrap().len(), n);
            assert!(!steps_of(&c, 3, n).is_empty());
        }
    }
}
