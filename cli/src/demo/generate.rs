//! The demo caseload generator: a synthetic but realistic caseload for one community health
//! worker, deterministic for a seed, written through the store's one write path.
//!
//! Three steps, so each can be tested on its own:
//! 1. **plan** ([`plan_caseload`]): who the clients are and where each stands — registered,
//!    screened, enrolled, in the initial, middle or termination phase, completed or dropped
//!    out — with dates placed in the last ten weeks before `today`, PHQ-9 answers that trend
//!    down for most clients, and the risk events;
//! 2. **build** ([`build_records`]): the domain records of each client, each made and validated
//!    by the model's own constructors, in the order a worker would have entered them (course
//!    status and problem area change by updates as sessions are held);
//! 3. **write** ([`populate`]): one store transaction per client.
//!
//! The same seed and `today` give the same caseload (names, answers, dates, notes); only the
//! record ids (UUIDv7) differ between runs.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ipc_core::instruments::{score_values, Definition, InstrumentError, Registry, Score};
use ipc_core::model::{
    Answer, Attendance, Client, ClientId, Consent, ConsentMethod, Course, CourseId, CourseStatus,
    DisputeStage, EndReason, InventoryEntry, Modality, ModelError, MoodChange, NewClient,
    NewCourse, NewInventoryEntry, NewQuestionnaireResponse, NewReferral, NewReminder, NewRiskEvent,
    NewScreening, NewSession, NewTimelineEvent, Phase, ProblemArea, QuestionnaireResponse,
    Referral, ReferralStatus, ReferralUrgency, Reminder, ReminderKind, ReminderStatus,
    ResponseContext, RiskAssessment, RiskEvent, RiskOutcome, RiskStatus, RiskTrigger, Screening,
    ScreeningOutcome, Session, SessionId, SkippedStep, TimelineEvent, WorkerId,
};
use ipc_core::protocol::agenda::{phase_for, Agenda, AgendaError};
use ipc_core::protocol::config::ProtocolConfig;
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
    /// Scoring a generated questionnaire failed.
    #[error("demo generator: {0}")]
    Instrument(#[from] InstrumentError),
    /// The built-in agenda could not be used.
    #[error("demo generator: {0}")]
    Agenda(#[from] AgendaError),
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

/// What [`populate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    /// The seed used.
    pub seed: u64,
    /// Clients.
    pub clients: usize,
    /// Clients per stage.
    pub stages: BTreeMap<Stage, usize>,
    /// Screenings.
    pub screenings: usize,
    /// Courses.
    pub courses: usize,
    /// Sessions attended.
    pub sessions_held: usize,
    /// Missed appointments, including those rescheduled and held later.
    pub sessions_missed: usize,
    /// Missed appointments rescheduled and then held.
    pub missed_then_held: usize,
    /// Sessions planned and not yet held.
    pub sessions_planned: usize,
    /// Questionnaire responses (PHQ-2 and PHQ-9).
    pub questionnaires: usize,
    /// Interpersonal inventory entries.
    pub inventory_entries: usize,
    /// Timeline events.
    pub timeline_events: usize,
    /// Risk events still open.
    pub risk_open: usize,
    /// Risk events assessed.
    pub risk_assessed: usize,
    /// Risk events closed.
    pub risk_closed: usize,
    /// Referrals.
    pub referrals: usize,
    /// Reminders.
    pub reminders: usize,
    /// Operations written (each create or update of a record is one).
    pub operations: u64,
}

/// The shared inputs of planning and building.
pub struct Context {
    /// Today's clinical date.
    pub today: NaiveDate,
    /// The worker the clients are assigned to.
    pub worker: WorkerId,
    phq2: Definition,
    phq9: Definition,
    agenda: Agenda,
    protocol: ProtocolConfig,
}

impl Context {
    /// Context with the built-in instruments, agenda and default protocol.
    pub fn new(today: NaiveDate, worker: WorkerId) -> Result<Self, GenerateError> {
        let registry = Registry::builtin()?;
        let get = |id: &str| {
            registry
                .get(id)
                .cloned()
                .ok_or_else(|| InstrumentError::UnknownInstrument { id: id.to_owned() })
        };
        Ok(Context {
            today,
            worker,
            phq2: get("phq2")?,
            phq9: get("phq9")?,
            agenda: Agenda::builtin()?,
            protocol: ProtocolConfig::default(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Plan

/// PHQ-9 answers: nine scored items then the (unscored) difficulty item.
type Phq9 = [u8; 10];
const ITEM9: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RiskKind {
    /// Item 9 above 0 in the last session; assessment not yet recorded.
    Open,
    /// Item 9 above 0; assessed, safety plan.
    SafetyPlan,
    /// Item 9 above 0; assessed, urgent referral.
    UrgentReferral,
    /// The worker's own concern (item 9 was 0); assessed and closed.
    WorkerConcern,
}

#[derive(Debug, Clone)]
struct ScreeningPlan {
    at: NaiveDateTime,
    phq2: [u8; 2],
    phq9: Option<Phq9>,
}

#[derive(Debug, Clone)]
struct SessionPlan {
    phase: Phase,
    held_at: NaiveDateTime,
    /// The appointment first planned and missed (the session was held later).
    missed_on: Option<NaiveDate>,
    modality: Modality,
    steps_done: Vec<String>,
    skipped: Option<SkippedStep>,
    phq9: Phq9,
    risk: Option<RiskKind>,
}

#[derive(Debug, Clone)]
struct CoursePlan {
    enrolled_on: NaiveDate,
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
    missed_after: Vec<NaiveDate>,
    /// The next session's planned date (courses still running).
    next: Option<NaiveDate>,
    end: Option<(EndReason, NaiveDate)>,
    support_referral: bool,
}

/// One client's plan.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    person: Person,
    stage: Stage,
    birth_year: Option<i32>,
    address: Option<&'static str>,
    registered_on: NaiveDate,
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
    assign_risks(&mut rng, &mut plans);
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
        registered_on: today,
        consent: Some(consent_method),
        screening: None,
        course: None,
    };
    let screening_cfg = &ctx.protocol.screening;
    let positive = screening_cfg.phq2_positive_at.value;
    let eligible = screening_cfg.phq9_eligible_at.value;
    let refer = screening_cfg.refer_severe_at.value;
    match stage {
        Stage::Registered => {
            plan.registered_on = minus(today, rng.random_range(0..=10));
            if rng.random_bool(0.5) {
                plan.consent = None;
            }
        }
        Stage::ScreenedOut | Stage::ReferredAtScreening => {
            plan.registered_on = minus(today, rng.random_range(3..=45));
            let date = plus(plan.registered_on, rng.random_range(0..=2)).min(today);
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
            plan.registered_on = minus(today, rng.random_range(4..=12));
            let screened = plus(plan.registered_on, rng.random_range(0..=2)).min(today);
            let enrolled_on = plus(screened, rng.random_range(0..=1)).min(today);
            plan.screening = Some(eligible_screening(rng, ctx, screened));
            let mut course = plan_course_frame(rng, ctx, &plan.person, enrolled_on);
            course.next = Some(plus(enrolled_on, rng.random_range(3..=8)));
            plan.course = Some(course);
        }
        _ => plan_in_course(rng, ctx, &mut plan)?,
    }
    Ok(plan)
}

fn eligible_screening<R: Rng>(rng: &mut R, ctx: &Context, date: NaiveDate) -> ScreeningPlan {
    let cfg = &ctx.protocol.screening;
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
    enrolled_on: NaiveDate,
) -> CoursePlan {
    let sessions_cfg = &ctx.protocol.sessions;
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
        enrolled_on,
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
        next: None,
        end: None,
        support_referral: false,
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
    // The number of sessions planned is agreed in session 1; draw the course first to know
    // how many sessions are held by now.
    let mut course = plan_course_frame(rng, ctx, &plan.person, today);
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
    plan.registered_on = minus(screened, pre_screen);
    plan.screening = Some(eligible_screening(rng, ctx, screened));
    let baseline = plan
        .screening
        .as_ref()
        .and_then(|s| s.phq9.as_ref())
        .map_or(12, phq9_total);
    course.enrolled_on = enrolled_on;

    let improving = rng.random_bool(0.75);
    let mut total = i32::from(baseline) + rng.random_range(-1..=1);
    let mut date = first;
    let area = course.area.as_str();
    let strategy: Vec<String> = ctx
        .agenda
        .strategy_steps(area)?
        .into_iter()
        .map(|s| s.id.clone())
        .collect();
    for k in 1..=held {
        if k > 1 {
            date = plus(date, gaps.get(usize::from(k) - 2).copied().unwrap_or(7));
        }
        let phase_text = phase_for(u32::from(k), u32::from(planned))?;
        let phase = Phase::parse(phase_text)?;
        let missed_on = match missed {
            Some((index, delay)) if index + 1 == usize::from(k) => Some(minus(date, delay)),
            _ => None,
        };
        let (steps_done, skipped) = plan_steps(
            rng,
            ctx,
            phase_text,
            area,
            k,
            &strategy,
            course.dispute_stage,
        )?;
        let t = u8::try_from(total.clamp(1, 24)).unwrap_or(1);
        course.sessions.push(SessionPlan {
            phase,
            held_at: visit(rng, date),
            missed_on,
            modality: if rng.random_bool(0.8) {
                Modality::InPerson
            } else {
                Modality::Phone
            },
            steps_done,
            skipped,
            phq9: phq9_answers(rng, t, None),
            risk: None,
        });
        total += if improving {
            -rng.random_range(1..=3)
        } else {
            rng.random_range(-1..=2)
        };
        total = total.max(if improving { 2 } else { 6 });
    }
    match stage {
        Stage::Completed => {
            course.end = Some((EndReason::Completed, last));
            course.support_referral = rng.random_bool(0.35);
        }
        Stage::DroppedOut => {
            let first_miss = plus(last, 7).min(minus(today, 2));
            let second_miss = plus(first_miss, 5).min(minus(today, 1));
            course.missed_after = vec![first_miss, second_miss];
            let ended = plus(second_miss, rng.random_range(1..=4)).min(today);
            course.end = Some((EndReason::DroppedOut, ended));
        }
        _ => course.next = Some(plus(last, 7)),
    }
    plan.course = Some(course);
    Ok(())
}

/// The agenda steps done (and possibly one skipped) in session `k`.
fn plan_steps<R: Rng>(
    rng: &mut R,
    ctx: &Context,
    phase: &str,
    area: &str,
    k: u8,
    strategy: &[String],
    dispute_stage: Option<DisputeStage>,
) -> Result<(Vec<String>, Option<SkippedStep>), GenerateError> {
    let middle = phase == "middle";
    let steps = ctx
        .agenda
        .steps_for(phase, middle.then_some(area), k == 2)?;
    let mut chosen_strategy: Vec<&str> = Vec::new();
    if middle && !strategy.is_empty() {
        let m = usize::from(k.saturating_sub(2));
        if dispute_stage.is_some() && k == 2 {
            chosen_strategy.push("dispute_stage");
        }
        chosen_strategy.push(strategy[m % strategy.len()].as_str());
        if rng.random_bool(0.5) {
            chosen_strategy.push(strategy[(m + 1) % strategy.len()].as_str());
        }
    }
    let mut done = Vec::new();
    let mut not_done = Vec::new();
    for step in steps {
        let take = if step.required {
            true
        } else if step.problem_area.is_some() {
            chosen_strategy.contains(&step.id.as_str())
        } else {
            rng.random_bool(0.85)
        };
        if take {
            if !done.contains(&step.id) {
                done.push(step.id.clone());
            }
        } else {
            not_done.push(step.id.clone());
        }
    }
    let skipped = if rng.random_bool(0.15) {
        not_done.first().map(|step| SkippedStep {
            step: step.clone(),
            reason: phrases::SKIP_REASONS
                .choose(rng)
                .copied()
                .unwrap_or("Ran out of time")
                .to_owned(),
        })
    } else {
        None
    };
    Ok((done, skipped))
}

/// Mark the risk events: 2-3 clients whose PHQ-9 item 9 was above 0 (the most recent one
/// still open, the others assessed) and one concern the worker raised.
fn assign_risks<R: Rng>(rng: &mut R, plans: &mut [ClientPlan]) {
    let candidates: Vec<usize> = plans
        .iter()
        .enumerate()
        .filter(|(_, p)| p.course.as_ref().is_some_and(|c| !c.sessions.is_empty()))
        .map(|(i, _)| i)
        .collect();
    // The open one: a running course with the most recent session.
    let open = candidates
        .iter()
        .copied()
        .filter(|&i| plans[i].course.as_ref().is_some_and(|c| c.end.is_none()))
        .max_by_key(|&i| {
            plans[i]
                .course
                .as_ref()
                .and_then(|c| c.sessions.last())
                .map(|s| s.held_at)
        });
    let mut rest: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| Some(i) != open)
        .collect();
    rest.shuffle(rng);
    let mut marks: Vec<(usize, RiskKind)> = Vec::new();
    if let Some(i) = open {
        marks.push((i, RiskKind::Open));
    }
    let item9_clients = rng.random_range(2..=3usize);
    let assessed = item9_clients.saturating_sub(marks.len());
    let mut rest = rest.into_iter();
    for n in 0..assessed {
        if let Some(i) = rest.next() {
            let kind = if n % 2 == 0 {
                RiskKind::SafetyPlan
            } else {
                RiskKind::UrgentReferral
            };
            marks.push((i, kind));
        }
    }
    if let Some(i) = rest.next() {
        marks.push((i, RiskKind::WorkerConcern));
    }
    for (i, kind) in marks {
        let Some(course) = plans[i].course.as_mut() else {
            continue;
        };
        let n = course.sessions.len();
        let index = if kind == RiskKind::Open {
            n - 1
        } else {
            rng.random_range(0..n)
        };
        if let Some(session) = course.sessions.get_mut(index) {
            if kind != RiskKind::WorkerConcern {
                session.phq9[ITEM9] = if kind == RiskKind::Open {
                    1
                } else {
                    rng.random_range(1..=2)
                };
            }
            session.risk = Some(kind);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Build

/// One write of the demo, in the order a worker would have made it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Create a client.
    Client(Client),
    /// Create a screening.
    Screening(Screening),
    /// Create a questionnaire response.
    Response(QuestionnaireResponse),
    /// Create a course.
    Course(Course),
    /// Change a course (status, plan, problem area, end).
    CourseUpdate(Course),
    /// Create a session (planned, missed or held).
    Session(Session),
    /// Change a session (a missed appointment later held or missed again).
    SessionUpdate(Session),
    /// Create an inventory entry.
    Inventory(InventoryEntry),
    /// Create a timeline event.
    Timeline(TimelineEvent),
    /// Create a risk event.
    Risk(RiskEvent),
    /// Create a referral.
    Referral(Referral),
    /// Create a reminder.
    Reminder(Reminder),
}

fn response(
    client_id: ClientId,
    course_id: Option<CourseId>,
    session_id: Option<SessionId>,
    definition: &Definition,
    answers: &[u8],
    administered_at: NaiveDateTime,
    today: NaiveDate,
) -> Result<(QuestionnaireResponse, Score), GenerateError> {
    let score = score_values(definition, answers)?;
    let context = if session_id.is_some() {
        ResponseContext::Session
    } else {
        ResponseContext::Screening
    };
    let response = QuestionnaireResponse::new(
        NewQuestionnaireResponse {
            client_id,
            course_id,
            session_id,
            context,
            instrument: definition.id().to_owned(),
            instrument_version: definition.version().to_owned(),
            answers: definition
                .items()
                .iter()
                .zip(answers)
                .map(|(item, &value)| Answer {
                    item: item.id.clone(),
                    value,
                })
                .collect(),
            total: Some(score.total),
            band: Some(score.band.clone()),
            flags: score.flags.clone(),
            administered_at,
        },
        today,
    )?;
    Ok((response, score))
}

fn course_status(held: usize, planned: u8) -> CourseStatus {
    let planned = usize::from(planned);
    match held {
        0 => CourseStatus::Enrolled,
        1 => CourseStatus::Initial,
        h if h + 1 < planned => CourseStatus::Middle,
        h if h + 1 == planned => CourseStatus::Termination,
        _ => CourseStatus::Completed,
    }
}

/// The records of one client, validated, in write order.
pub fn build_records(ctx: &Context, plan: &ClientPlan) -> Result<Vec<Record>, GenerateError> {
    let today = ctx.today;
    let person = &plan.person;
    let mut out = Vec::new();
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
                date: plan.registered_on,
                version: "v1".to_owned(),
                method,
            }),
            assigned_worker: ctx.worker,
            registered_on: plan.registered_on,
        },
        today,
    )?;
    let client_id = client.id;
    out.push(Record::Client(client));

    if let Some(s) = &plan.screening {
        build_screening(ctx, client_id, s, &mut out)?;
    }
    if let Some(c) = &plan.course {
        build_course(ctx, plan, client_id, c, &mut out)?;
    }
    Ok(out)
}

fn build_screening(
    ctx: &Context,
    client_id: ClientId,
    s: &ScreeningPlan,
    out: &mut Vec<Record>,
) -> Result<(), GenerateError> {
    let today = ctx.today;
    let cfg = &ctx.protocol.screening;
    let (phq2, phq2_score) = response(client_id, None, None, &ctx.phq2, &s.phq2, s.at, today)?;
    let mut ids = vec![phq2.id];
    out.push(Record::Response(phq2));
    let mut phq9_total = None;
    if let Some(answers) = &s.phq9 {
        let (phq9, score) = response(
            client_id,
            None,
            None,
            &ctx.phq9,
            answers,
            after_minutes(s.at, 5),
            today,
        )?;
        ids.push(phq9.id);
        phq9_total = Some(score.total);
        out.push(Record::Response(phq9));
    }
    let outcome = match phq9_total {
        _ if phq2_score.total < u16::from(cfg.phq2_positive_at.value) => {
            ScreeningOutcome::NotEligible
        }
        Some(t) if t >= u16::from(cfg.refer_severe_at.value) => ScreeningOutcome::Refer,
        Some(t) if t >= u16::from(cfg.phq9_eligible_at.value) => ScreeningOutcome::Eligible,
        _ => ScreeningOutcome::NotEligible,
    };
    let date = s.at.date();
    let note = match outcome {
        ScreeningOutcome::NotEligible => {
            Some("Not eligible today; offered a re-screen in 4 weeks.")
        }
        ScreeningOutcome::Refer => Some("Severe symptoms: referred for assessment instead of IPC."),
        ScreeningOutcome::Eligible => None,
    };
    out.push(Record::Screening(Screening::new(
        NewScreening {
            client_id,
            date,
            response_ids: ids,
            outcome,
            note: note.map(str::to_owned),
        },
        today,
    )?));
    match outcome {
        ScreeningOutcome::Refer => out.push(Record::Referral(Referral::new(
            NewReferral {
                client_id,
                course_id: None,
                reason: "Severe depression at screening: assessment and treatment by the \
                         mental-health clinic"
                    .to_owned(),
                destination: Some("District hospital mental-health clinic".to_owned()),
                urgency: ReferralUrgency::Routine,
                status: ReferralStatus::Made,
                created_on: date,
                updated_on: date,
            },
            today,
        )?)),
        ScreeningOutcome::NotEligible => out.push(Record::Reminder(Reminder::new(NewReminder {
            client_id,
            course_id: None,
            kind: ReminderKind::FollowUp,
            due: plus(date, 28),
            status: ReminderStatus::Pending,
        })?)),
        ScreeningOutcome::Eligible => {}
    }
    Ok(())
}

fn build_course(
    ctx: &Context,
    plan: &ClientPlan,
    client_id: ClientId,
    c: &CoursePlan,
    out: &mut Vec<Record>,
) -> Result<(), GenerateError> {
    let today = ctx.today;
    let sex = plan.person.sex;
    let course = Course::new(
        NewCourse {
            client_id,
            worker_id: ctx.worker,
            enrolled_on: c.enrolled_on,
            planned_sessions: ctx.protocol.sessions.default_planned.value,
            problem_areas: Vec::new(),
            dispute_stage: None,
            status: CourseStatus::Enrolled,
            end_reason: None,
            end_note: None,
            ended_on: None,
            extension_reason: None,
        },
        today,
    )?;
    let course_id = course.id;
    let mut current = course.clone();
    out.push(Record::Course(course));
    let notes = NoteContext {
        sex,
        area: c.area,
        stage: c.dispute_stage,
        focus: c.focus.label,
        group: c.group,
        trigger: c.trigger,
        planned: c.planned,
    };
    let mut previous_total: Option<u16> = None;
    for (i, s) in c.sessions.iter().enumerate() {
        let number = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let total = u16::from(phq9_total(&s.phq9));
        let mut note = match (i, s.phase) {
            (0, _) => notes.initial_note(),
            (_, Phase::Termination) => notes.termination_note(),
            _ => notes.middle_note(i - 1),
        };
        if let Some(prev) = previous_total {
            note = format!("PHQ-9 {total} (last visit {prev}). {note}");
        }
        match s.risk {
            Some(RiskKind::Open) => note.push_str(
                " Item 9 above 0: safety questions started; assessment with the supervisor \
                 still to be recorded.",
            ),
            Some(RiskKind::SafetyPlan | RiskKind::UrgentReferral) => {
                note.push_str(" Item 9 above 0: risk assessment done (see risk event).");
            }
            Some(RiskKind::WorkerConcern) => {
                note.push_str(" Worried about safety despite item 9 = 0; raised a concern.");
            }
            None => {}
        }
        if s.missed_on.is_some() {
            note.push_str(" Held late after a missed appointment.");
        }
        // Tasks are agreed in the middle phase only (the agenda's `task_agreed`); the first
        // middle session has no task to review.
        let task = match (i, s.phase) {
            (_, Phase::Middle) => Some(notes.task(i - 1)),
            _ => None,
        };
        let held = NewSession {
            course_id,
            client_id,
            number,
            phase: s.phase,
            planned_date: Some(s.held_at.date()),
            held_at: Some(s.held_at),
            attendance: Some(Attendance::Attended),
            modality: Some(s.modality),
            steps_done: s.steps_done.clone(),
            steps_skipped: s.skipped.iter().cloned().collect(),
            notes: Some(note),
            task,
            completed: true,
        };
        let session = if let Some(missed_on) = s.missed_on {
            let missed = Session::new(
                NewSession {
                    planned_date: Some(missed_on),
                    held_at: None,
                    attendance: Some(Attendance::Missed),
                    modality: None,
                    steps_done: Vec::new(),
                    steps_skipped: Vec::new(),
                    notes: Some("Not at home at the agreed time; rescheduled by phone.".to_owned()),
                    task: None,
                    completed: false,
                    ..held.clone()
                },
                today,
            )?;
            let mut done = Session::new(held, today)?;
            done.id = missed.id;
            out.push(Record::Session(missed));
            out.push(Record::SessionUpdate(done.clone()));
            done
        } else {
            let done = Session::new(held, today)?;
            out.push(Record::Session(done.clone()));
            done
        };
        let (phq9, _) = response(
            client_id,
            Some(course_id),
            Some(session.id),
            &ctx.phq9,
            &s.phq9,
            after_minutes(s.held_at, 10),
            today,
        )?;
        out.push(Record::Response(phq9));
        previous_total = Some(total);

        if i == 0 {
            for p in std::iter::once(&c.focus).chain(&c.others) {
                out.push(Record::Inventory(InventoryEntry::new(NewInventoryEntry {
                    course_id,
                    client_id,
                    label: p.label.to_owned(),
                    relationship: p.relationship.to_owned(),
                    closeness: p.closeness,
                    support: p.support.map(str::to_owned),
                    conflict: p.conflict.map(str::to_owned),
                    what_changed: p.what_changed.map(str::to_owned),
                    expectations: p.expectations.map(str::to_owned),
                })?));
            }
            for (days_before, event, mood) in &c.events {
                out.push(Record::Timeline(TimelineEvent::new(
                    NewTimelineEvent {
                        course_id,
                        client_id,
                        date: minus(c.enrolled_on, *days_before),
                        event: (*event).to_owned(),
                        mood_change: *mood,
                    },
                    today,
                )?));
            }
        }
        let mut next = current.clone();
        if i == 0 {
            next.problem_areas = vec![c.area];
            next.dispute_stage = c.dispute_stage;
            next.planned_sessions = c.planned;
        }
        next.status = course_status(i + 1, c.planned);
        if next.status == CourseStatus::Completed {
            next.end_reason = Some(EndReason::Completed);
            next.ended_on = Some(s.held_at.date());
        }
        push_course_update(&mut current, next, today, out)?;
        if let Some(kind) = s.risk {
            build_risk(ctx, plan, client_id, course_id, &session, s, kind, out)?;
        }
    }

    let held = c.sessions.len();
    let next_number = u8::try_from(held + 1).unwrap_or(u8::MAX);
    let next_phase = Phase::parse(phase_for(u32::from(next_number), u32::from(c.planned))?)?;
    if let Some((first, rest)) = c.missed_after.split_first() {
        let missed = Session::new(
            NewSession {
                course_id,
                client_id,
                number: next_number,
                phase: next_phase,
                planned_date: Some(*first),
                held_at: None,
                attendance: Some(Attendance::Missed),
                modality: None,
                steps_done: Vec::new(),
                steps_skipped: Vec::new(),
                notes: Some("Not at home; neighbours did not know when back.".to_owned()),
                task: None,
                completed: false,
            },
            today,
        )?;
        out.push(Record::Session(missed.clone()));
        let mut again = missed;
        for date in rest {
            again.planned_date = Some(*date);
            again.notes = Some("Missed again; phone switched off.".to_owned());
            again.validate(today)?;
            out.push(Record::SessionUpdate(again.clone()));
        }
    }
    if let Some(date) = c.next {
        out.push(Record::Session(Session::new(
            NewSession {
                course_id,
                client_id,
                number: next_number,
                phase: next_phase,
                planned_date: Some(date),
                held_at: None,
                attendance: None,
                modality: None,
                steps_done: Vec::new(),
                steps_skipped: Vec::new(),
                notes: None,
                task: None,
                completed: false,
            },
            today,
        )?));
        out.push(Record::Reminder(Reminder::new(NewReminder {
            client_id,
            course_id: Some(course_id),
            kind: ReminderKind::SessionDue,
            due: date,
            status: ReminderStatus::Pending,
        })?));
    }
    match c.end {
        Some((EndReason::DroppedOut, ended)) => {
            let mut next = current.clone();
            next.status = CourseStatus::DroppedOut;
            next.end_reason = Some(EndReason::DroppedOut);
            next.ended_on = Some(ended);
            next.end_note = Some("Two missed visits and not reachable by phone.".to_owned());
            push_course_update(&mut current, next, today, out)?;
        }
        Some((EndReason::Completed, ended)) => {
            let after = ctx
                .protocol
                .reminders
                .follow_up_after_days
                .value
                .first()
                .copied()
                .unwrap_or(30);
            out.push(Record::Reminder(Reminder::new(NewReminder {
                client_id,
                course_id: Some(course_id),
                kind: ReminderKind::FollowUp,
                due: plus(ended, u64::from(after)),
                status: ReminderStatus::Pending,
            })?));
            if c.support_referral {
                out.push(Record::Referral(Referral::new(
                    NewReferral {
                        client_id,
                        course_id: Some(course_id),
                        reason: "Ongoing support after IPC: a group to keep contact with \
                                 others"
                            .to_owned(),
                        destination: Some(capitalised(c.group)),
                        urgency: ReferralUrgency::Routine,
                        status: ReferralStatus::Recommended,
                        created_on: ended,
                        updated_on: ended,
                    },
                    today,
                )?));
            }
        }
        _ => {}
    }
    Ok(())
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn push_course_update(
    current: &mut Course,
    next: Course,
    today: NaiveDate,
    out: &mut Vec<Record>,
) -> Result<(), GenerateError> {
    if next != *current {
        next.validate(today)?;
        *current = next.clone();
        out.push(Record::CourseUpdate(next));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn build_risk(
    ctx: &Context,
    plan: &ClientPlan,
    client_id: ClientId,
    course_id: CourseId,
    session: &Session,
    s: &SessionPlan,
    kind: RiskKind,
    out: &mut Vec<Record>,
) -> Result<(), GenerateError> {
    let today = ctx.today;
    let p = phrases::pronouns(plan.person.sex);
    let opened_at = after_minutes(s.held_at, 15);
    let assessed_at = after_minutes(opened_at, 10);
    let assessment = |plan: bool, outcome: RiskOutcome, note: String| RiskAssessment {
        thoughts: true,
        plan,
        intent: false,
        means: plan,
        past_attempt: false,
        supervisor_contacted: true,
        outcome,
        outcome_text: None,
        note: Some(note),
        assessed_at,
    };
    let (trigger, observation, assessment, status, closed_at) = match kind {
        RiskKind::Open => (RiskTrigger::Phq9Item9, None, None, RiskStatus::Open, None),
        RiskKind::SafetyPlan => (
            RiskTrigger::Phq9Item9,
            None,
            Some(assessment(
                false,
                RiskOutcome::SafetyPlan,
                format!(
                    "Passive thoughts of death, no plan or intent. Safety plan agreed with {} \
                     family; supervisor informed by phone the same day.",
                    p.possessive
                ),
            )),
            RiskStatus::Assessed,
            None,
        ),
        RiskKind::UrgentReferral => (
            RiskTrigger::Phq9Item9,
            None,
            Some(assessment(
                true,
                RiskOutcome::UrgentReferral,
                "Thoughts with a plan, no intent today. Accompanied to the health centre the \
                 same day; supervisor informed."
                    .to_owned(),
            )),
            RiskStatus::Assessed,
            None,
        ),
        RiskKind::WorkerConcern => {
            let closed = after_minutes(assessed_at, 3 * 24 * 60);
            let (status, closed_at) = if closed.date() <= today {
                (RiskStatus::Closed, Some(closed))
            } else {
                (RiskStatus::Assessed, None)
            };
            (
                RiskTrigger::WorkerConcern,
                Some(format!(
                    "Said {} feels everyone would be better off without {}; PHQ-9 item 9 was 0.",
                    p.subject, p.object
                )),
                Some(assessment(
                    false,
                    RiskOutcome::SafetyPlan,
                    "No current thoughts of self-harm on direct questions. Safety plan \
                     reviewed; supervisor agreed to close after the follow-up call."
                        .to_owned(),
                )),
                status,
                closed_at,
            )
        }
    };
    out.push(Record::Risk(RiskEvent::new(
        NewRiskEvent {
            client_id,
            course_id: Some(course_id),
            session_id: Some(session.id),
            trigger,
            opened_at,
            observation,
            assessment,
            status,
            closed_at,
        },
        today,
    )?));
    if kind == RiskKind::UrgentReferral {
        let date = s.held_at.date();
        out.push(Record::Referral(Referral::new(
            NewReferral {
                client_id,
                course_id: Some(course_id),
                reason: "Suicidal thoughts with a plan: same-day assessment by the \
                         mental-health nurse"
                    .to_owned(),
                destination: Some("Health centre mental-health clinic".to_owned()),
                urgency: ReferralUrgency::Urgent,
                status: ReferralStatus::Made,
                created_on: date,
                updated_on: date,
            },
            today,
        )?));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Write

fn write_record(w: &mut Writer<'_>, record: &Record) -> Result<(), StoreError> {
    match record {
        Record::Client(x) => w.create(x).map(drop),
        Record::Screening(x) => w.create(x).map(drop),
        Record::Response(x) => w.create(x).map(drop),
        Record::Course(x) => w.create(x).map(drop),
        Record::Session(x) => w.create(x).map(drop),
        Record::Inventory(x) => w.create(x).map(drop),
        Record::Timeline(x) => w.create(x).map(drop),
        Record::Risk(x) => w.create(x).map(drop),
        Record::Referral(x) => w.create(x).map(drop),
        Record::Reminder(x) => w.create(x).map(drop),
        Record::CourseUpdate(x) => {
            let new = x.clone();
            w.update::<Course>(x.id.as_uuid(), move |c| {
                *c = new;
                Ok(())
            })
            .map(drop)
        }
        Record::SessionUpdate(x) => {
            let new = x.clone();
            w.update::<Session>(x.id.as_uuid(), move |s| {
                *s = new;
                Ok(())
            })
            .map(drop)
        }
    }
}

/// Count what `records` create. A session update counts the appointment it records: a missed
/// one held later counts once as missed and once as held.
fn tally(summary: &mut DemoSummary, records: &[Record]) {
    for record in records {
        match record {
            Record::Client(_) => summary.clients += 1,
            Record::Screening(_) => summary.screenings += 1,
            Record::Response(_) => summary.questionnaires += 1,
            Record::Course(_) => summary.courses += 1,
            Record::CourseUpdate(_) => {}
            Record::SessionUpdate(s) if s.attendance == Some(Attendance::Attended) => {
                summary.sessions_held += 1;
                summary.missed_then_held += 1;
            }
            Record::Session(s) | Record::SessionUpdate(s) => match s.attendance {
                Some(Attendance::Attended) => summary.sessions_held += 1,
                Some(Attendance::Missed) => summary.sessions_missed += 1,
                None => summary.sessions_planned += 1,
                Some(Attendance::Rescheduled) => {}
            },
            Record::Inventory(_) => summary.inventory_entries += 1,
            Record::Timeline(_) => summary.timeline_events += 1,
            Record::Risk(r) => match r.status {
                RiskStatus::Open => summary.risk_open += 1,
                RiskStatus::Assessed => summary.risk_assessed += 1,
                RiskStatus::Closed => summary.risk_closed += 1,
            },
            Record::Referral(_) => summary.referrals += 1,
            Record::Reminder(_) => summary.reminders += 1,
        }
    }
}

/// Fill `store` (unlocked) with a synthetic caseload of `clients` clients, deterministic for
/// `seed` and the store's date, one transaction per client.
pub fn populate(store: &Store, seed: u64, clients: usize) -> Result<DemoSummary, GenerateError> {
    let today = store.read(|r| Ok::<_, StoreError>(r.today))?;
    let ctx = Context::new(today, store.identity().worker_id)?;
    let plans = plan_caseload(&ctx, seed, clients)?;
    let mut summary = DemoSummary {
        seed,
        ..DemoSummary::default()
    };
    let before = store.outbox_len()?;
    for plan in &plans {
        let records = build_records(&ctx, plan)?;
        store.write(|w| records.iter().try_for_each(|r| write_record(w, r)))?;
        tally(&mut summary, &records);
        *summary.stages.entry(plan.stage).or_default() += 1;
    }
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

    /// Everything of a record except its random ids, as text.
    fn fingerprint(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| {
                let text = format!("{r:?}");
                // Ids are UUIDs: 8-4-4-4-12 hex digits. Mask them.
                let mut out = String::new();
                let chars: Vec<char> = text.chars().collect();
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

    fn build_all(ctx: &Context, seed: u64, n: usize) -> Vec<(Stage, Vec<Record>)> {
        plan_caseload(ctx, seed, n)
            .unwrap()
            .iter()
            .map(|p| (p.stage(), build_records(ctx, p).unwrap()))
            .collect()
    }

    #[test]
    fn same_seed_same_caseload_and_different_seed_differs() {
        let c = ctx(date(2026, 3, 10));
        let a: Vec<_> = build_all(&c, 7, 24)
            .iter()
            .map(|(_, r)| fingerprint(r))
            .collect();
        let b: Vec<_> = build_all(&c, 7, 24)
            .iter()
            .map(|(_, r)| fingerprint(r))
            .collect();
        let other: Vec<_> = build_all(&c, 8, 24)
            .iter()
            .map(|(_, r)| fingerprint(r))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, other);
    }

    #[test]
    fn caseload_covers_every_stage_and_the_required_risk_events() {
        for seed in [1, 7, 42, 1234] {
            let c = ctx(date(2026, 3, 10));
            let all = build_all(&c, seed, 24);
            let mut summary = DemoSummary::default();
            for (stage, records) in &all {
                tally(&mut summary, records);
                *summary.stages.entry(*stage).or_default() += 1;
            }
            assert_eq!(summary.clients, 24);
            assert_eq!(summary.stages.len(), Stage::ALL.len(), "seed {seed}");
            assert_eq!(summary.risk_open, 1, "seed {seed}");
            let item9: usize = all
                .iter()
                .flat_map(|(_, r)| r)
                .filter(|r| matches!(r, Record::Risk(e) if e.trigger == RiskTrigger::Phq9Item9))
                .count();
            assert!((2..=3).contains(&item9), "seed {seed}: {item9}");
            let concerns = all
                .iter()
                .flat_map(|(_, r)| r)
                .filter(|r| matches!(r, Record::Risk(e) if e.trigger == RiskTrigger::WorkerConcern))
                .count();
            assert_eq!(concerns, 1);
            assert!(summary.referrals >= 1, "seed {seed}");
            assert!(summary.reminders >= 5, "seed {seed}");
            assert!(summary.sessions_held >= 30, "seed {seed}");
        }
    }

    #[test]
    fn risk_events_match_item_9_and_phq9_is_scored() {
        let c = ctx(date(2026, 3, 10));
        for (_, records) in build_all(&c, 7, 24) {
            let responses: Vec<&QuestionnaireResponse> = records
                .iter()
                .filter_map(|r| match r {
                    Record::Response(q) => Some(q),
                    _ => None,
                })
                .collect();
            for q in &responses {
                let sum: u16 = q
                    .answers
                    .iter()
                    .filter(|a| a.item != "phq9_difficulty")
                    .map(|a| u16::from(a.value))
                    .sum();
                assert_eq!(q.total, Some(sum));
                let item9 = q.answers.iter().any(|a| a.item == "phq9_9" && a.value > 0);
                assert_eq!(item9, q.flags.iter().any(|f| f == "self_harm_thoughts"));
            }
            for r in &records {
                if let Record::Risk(e) = r {
                    let session_response = responses
                        .iter()
                        .find(|q| q.session_id == e.session_id)
                        .unwrap();
                    let item9 = session_response
                        .answers
                        .iter()
                        .any(|a| a.item == "phq9_9" && a.value > 0);
                    assert_eq!(item9, e.trigger == RiskTrigger::Phq9Item9);
                    assert_eq!(e.assessment.is_none(), e.status == RiskStatus::Open);
                }
            }
        }
    }

    #[test]
    fn dates_are_in_the_last_ten_weeks_and_sessions_follow_the_protocol() {
        let today = date(2026, 1, 5); // across a year boundary
        let c = ctx(today);
        let earliest = minus(today, HISTORY_DAYS);
        let mut improving = 0;
        let mut courses_with_two = 0;
        for (_, records) in build_all(&c, 99, 48) {
            let planned = records
                .iter()
                .rev()
                .filter_map(|r| match r {
                    Record::CourseUpdate(x) => Some(x.planned_sessions),
                    _ => None,
                })
                .next()
                .unwrap_or(0);
            let mut totals = Vec::new();
            for r in &records {
                match r {
                    Record::Client(x) => {
                        assert!(x.registered_on >= earliest && x.registered_on <= today);
                    }
                    Record::Course(x) => assert!(x.enrolled_on >= earliest),
                    Record::CourseUpdate(x) => {
                        assert!((4..=8).contains(&x.planned_sessions));
                        assert_eq!(x.problem_areas.len(), 1);
                    }
                    Record::Session(x) | Record::SessionUpdate(x) => {
                        if let Some(held) = x.held_at {
                            assert!(held.date() >= earliest && held.date() < today);
                            let expected = phase_for(u32::from(x.number), u32::from(planned));
                            assert_eq!(Some(x.phase.as_str()), expected.ok());
                            assert!(x.steps_done.len() >= 3);
                            let agreed = x.steps_done.iter().any(|s| s == "task_agreed");
                            assert_eq!(x.task.is_some(), agreed, "a task iff task_agreed");
                            assert_eq!(x.task.is_some(), x.phase == Phase::Middle);
                            if x.number == 2 {
                                assert!(!x.steps_done.iter().any(|s| s == "task_reviewed"));
                            }
                        }
                    }
                    Record::Response(q) if q.context == ResponseContext::Session => {
                        totals.push(q.total.unwrap());
                    }
                    _ => {}
                }
            }
            if totals.len() >= 2 {
                courses_with_two += 1;
                if totals.last() < totals.first() {
                    improving += 1;
                }
            }
        }
        assert!(courses_with_two >= 10);
        assert!(
            improving * 2 > courses_with_two && improving < courses_with_two,
            "most but not all improve: {improving} of {courses_with_two}"
        );
    }

    #[test]
    fn small_caseloads_work() {
        let c = ctx(date(2026, 3, 10));
        for n in 1..=6 {
            let all = build_all(&c, 3, n);
            assert_eq!(all.len(), n);
        }
    }
}
