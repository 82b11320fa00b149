//! FFI records: plain copies of the core's inputs and views, each converted in one `From`
//! (or, for inputs whose ids and dates must be parsed, one `to_core`) and nothing more.
//! Conventions for ids and dates are in [`crate::types`]; small numbers cross as `u32`.

use ipc_core::instruments as ins;
use ipc_core::model::{self as m, ClientId, WorkerId};
use ipc_core::protocol::{agenda, case, engine, worklist};
use ipc_core::store::{self as st, CaseloadRow};
use ipc_core::sync::engine as sync;

use crate::error::Result;
use crate::types::{
    date_text, datetime_text, parse_date, small, Attendance, ConsentMethod, CourseStatus,
    DisputeStage, EndReason, Evidence, Flag, Modality, MoodChange, Phase, ProblemArea,
    ReferralStatus, ReferralUrgency, ResponseContext, RiskOutcome, RiskStatus, RiskTrigger, Role,
    ScreeningOutcome, Sex, SyncPhase,
};

fn opt_id<T: ToString>(id: Option<T>) -> Option<String> {
    id.map(|i| i.to_string())
}

fn ids<T: ToString>(ids: &[T]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

// ---- the store and the worker ---------------------------------------------------------------

/// Who will use a new store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WorkerInput {
    /// The worker's name as shown in the app (stored encrypted).
    pub display_name: String,
    /// The worker's role.
    pub role: Role,
    /// The worker's team (a short label, not personal data).
    pub team: String,
    /// The worker's id from the programme's directory; `null`/`nil` for a new one. Enrolment
    /// with a sync server replaces it with the server's id.
    #[uniffi(default)]
    pub worker_id: Option<String>,
}

impl WorkerInput {
    pub(crate) fn to_core(&self) -> Result<st::NewWorker> {
        Ok(st::NewWorker {
            id: match &self.worker_id {
                Some(id) => WorkerId::parse(id)?,
                None => WorkerId::new(),
            },
            display_name: self.display_name.clone(),
            role: self.role.into(),
            team: self.team.clone(),
        })
    }
}

/// The fixed identity of a store.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreIdentity {
    /// Random id of the store.
    pub store_id: String,
    /// This device.
    pub device_id: String,
    /// The worker using it (the server's id once enrolled).
    pub worker_id: String,
}

impl From<st::Identity> for StoreIdentity {
    fn from(i: st::Identity) -> Self {
        StoreIdentity {
            store_id: i.store_id.to_string(),
            device_id: i.device_id.to_string(),
            worker_id: i.worker_id.to_string(),
        }
    }
}

/// The sync server this device is enrolled with.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct EnrolmentInfo {
    /// The server's base URL.
    pub server: String,
    /// The worker the device belongs to.
    pub worker_id: String,
    /// Their role.
    pub role: Role,
    /// Their team.
    pub team: String,
}

impl From<st::Enrolment> for EnrolmentInfo {
    fn from(e: st::Enrolment) -> Self {
        EnrolmentInfo {
            server: e.server,
            worker_id: e.worker_id.to_string(),
            role: e.role.into(),
            team: e.team,
        }
    }
}

// ---- clients --------------------------------------------------------------------------------

/// A consent record (given or refused).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsentRecord {
    /// Whether consent was given (`false` records a refusal).
    pub given: bool,
    /// When it was asked (`YYYY-MM-DD`).
    pub date: String,
    /// Version of the consent text read to the client.
    pub version: String,
    /// How consent was taken.
    pub method: ConsentMethod,
}

impl ConsentRecord {
    fn to_core(&self) -> Result<m::Consent> {
        Ok(m::Consent {
            given: self.given,
            date: parse_date("consent.date", &self.date)?,
            version: self.version.clone(),
            method: self.method.into(),
        })
    }
}

impl From<m::Consent> for ConsentRecord {
    fn from(c: m::Consent) -> Self {
        ConsentRecord {
            given: c.given,
            date: date_text(c.date),
            version: c.version,
            method: c.method.into(),
        }
    }
}

/// A client's details as entered (to register or edit). Blank optional text means none.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientInput {
    /// Name the worker uses for the client.
    pub display_name: String,
    /// Sex, if recorded.
    #[uniffi(default)]
    pub sex: Option<Sex>,
    /// Year of birth, if known.
    #[uniffi(default)]
    pub birth_year: Option<i32>,
    /// Phone number.
    #[uniffi(default)]
    pub phone: Option<String>,
    /// Village.
    #[uniffi(default)]
    pub village: Option<String>,
    /// Address or directions.
    #[uniffi(default)]
    pub address: Option<String>,
    /// Consent, once asked.
    #[uniffi(default)]
    pub consent: Option<ConsentRecord>,
}

impl ClientInput {
    pub(crate) fn to_core(
        &self,
        assigned_worker: WorkerId,
        registered_on: chrono::NaiveDate,
    ) -> Result<m::NewClient> {
        Ok(m::NewClient {
            display_name: self.display_name.clone(),
            sex: self.sex.map(Into::into),
            birth_year: self.birth_year,
            phone: self.phone.clone(),
            village: self.village.clone(),
            address: self.address.clone(),
            consent: self
                .consent
                .as_ref()
                .map(ConsentRecord::to_core)
                .transpose()?,
            assigned_worker,
            registered_on,
        })
    }
}

/// A client as stored.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientInfo {
    /// The client's id.
    pub client_id: String,
    /// Name the worker uses.
    pub display_name: String,
    /// Sex, if recorded.
    pub sex: Option<Sex>,
    /// Year of birth, if known.
    pub birth_year: Option<i32>,
    /// Phone number.
    pub phone: Option<String>,
    /// Village.
    pub village: Option<String>,
    /// Address or directions.
    pub address: Option<String>,
    /// Latest consent record.
    pub consent: Option<ConsentRecord>,
    /// The worker responsible.
    pub assigned_worker_id: String,
    /// Registration date.
    pub registered_on: String,
}

impl From<m::Client> for ClientInfo {
    fn from(c: m::Client) -> Self {
        ClientInfo {
            client_id: c.id.to_string(),
            display_name: c.display_name,
            sex: c.sex.map(Into::into),
            birth_year: c.birth_year,
            phone: c.phone,
            village: c.village,
            address: c.address,
            consent: c.consent.map(Into::into),
            assigned_worker_id: c.assigned_worker.to_string(),
            registered_on: date_text(c.registered_on),
        }
    }
}

/// One line of the caseload: a client and where their latest course stands.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CaseloadItem {
    /// The client.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Village, if recorded.
    pub village: Option<String>,
    /// The latest course, if any.
    pub course_id: Option<String>,
    /// Its status (`null`/`nil`: registered, no course yet).
    pub status: Option<CourseStatus>,
    /// Sessions planned in the latest course.
    pub planned_sessions: Option<u32>,
    /// Sessions attended in the latest course.
    pub sessions_held: u32,
    /// When the last attended session was held.
    pub last_held: Option<String>,
    /// When the next session is planned.
    pub next_planned: Option<String>,
    /// Risk events still open.
    pub open_risk_events: u32,
}

impl From<CaseloadRow> for CaseloadItem {
    fn from(r: CaseloadRow) -> Self {
        CaseloadItem {
            client_id: r.client_id.to_string(),
            display_name: r.display_name,
            village: r.village,
            course_id: opt_id(r.course_id),
            status: r.status.map(Into::into),
            planned_sessions: r.planned_sessions.map(u32::from),
            sessions_held: r.sessions_held,
            last_held: r.last_held.map(datetime_text),
            next_planned: r.next_planned.map(date_text),
            open_risk_events: r.open_risk_events,
        }
    }
}

// ---- case view, worklist, supervision -------------------------------------------------------

/// A raised flag and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FlagHit {
    /// The flag.
    pub flag: Flag,
    /// Plain-words reason (scores, counts and dates only).
    pub reason: String,
}

impl From<case::FlagHit> for FlagHit {
    fn from(f: case::FlagHit) -> Self {
        FlagHit {
            flag: f.flag.into(),
            reason: f.reason,
        }
    }
}

/// PHQ-9 change from the course's baseline to the latest score.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct OutcomeChange {
    /// Baseline total.
    pub baseline: u32,
    /// Latest total.
    pub latest: u32,
    /// `latest - baseline` (negative is improvement).
    pub change: i32,
    /// Change in percent of the baseline; `null`/`nil` when the baseline is 0.
    pub percent_change: Option<f64>,
    /// A response (large enough reduction).
    pub response: bool,
    /// Remission (latest below the cut-off), when the rules define one.
    pub remission: Option<bool>,
    /// Reliable worsening.
    pub worsening: bool,
}

impl From<ins::Change> for OutcomeChange {
    fn from(c: ins::Change) -> Self {
        OutcomeChange {
            baseline: c.baseline.into(),
            latest: c.latest.into(),
            change: c.change,
            percent_change: c.percent_change,
            response: c.response,
            remission: c.remission,
            worsening: c.worsening,
        }
    }
}

/// One score over time, for the outcome chart.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrajectoryPoint {
    /// Instrument id (`phq9`, `gad7`, `phq2`).
    pub instrument: String,
    /// Screening, session or follow-up.
    pub context: ResponseContext,
    /// Session number, for session scores.
    pub session: Option<u32>,
    /// Date given.
    pub date: String,
    /// Total score.
    pub total: u32,
    /// Severity band id.
    pub band: Option<String>,
}

impl From<case::ScorePoint> for TrajectoryPoint {
    fn from(p: case::ScorePoint) -> Self {
        TrajectoryPoint {
            instrument: p.instrument,
            context: p.context.into(),
            session: p.session.map(u32::from),
            date: date_text(p.date),
            total: p.total.into(),
            band: p.band,
        }
    }
}

/// Everything a worker or supervisor needs to know about one client now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CaseView {
    /// The client.
    pub client_id: String,
    /// The course shown (the active one, else the latest).
    pub course_id: Option<String>,
    /// Its status (`null`/`nil`: no course).
    pub status: Option<CourseStatus>,
    /// Sessions attended.
    pub sessions_held: u32,
    /// Sessions planned.
    pub planned_sessions: Option<u32>,
    /// When the next session is due.
    pub next_due: Option<String>,
    /// Open flags, most urgent first.
    pub flags: Vec<FlagHit>,
    /// Risk events not closed.
    pub open_risk_events: Vec<String>,
    /// Risk events waiting for an assessment.
    pub unassessed_risk_events: Vec<String>,
    /// PHQ-9 change against baseline.
    pub outcome: Option<OutcomeChange>,
    /// Every score over time, oldest first.
    pub trajectory: Vec<TrajectoryPoint>,
    /// Agenda step ids of the next session.
    pub next_agenda: Vec<String>,
}

impl From<case::CaseView> for CaseView {
    fn from(v: case::CaseView) -> Self {
        CaseView {
            client_id: v.client_id.to_string(),
            course_id: opt_id(v.course_id),
            status: v.status.map(Into::into),
            sessions_held: v.sessions_held,
            planned_sessions: v.planned_sessions.map(u32::from),
            next_due: v.next_due.map(date_text),
            flags: v.flags.into_iter().map(Into::into).collect(),
            open_risk_events: ids(&v.open_risk_events),
            unassessed_risk_events: ids(&v.unassessed_risk_events),
            outcome: v.outcome.map(Into::into),
            trajectory: v.trajectory.into_iter().map(Into::into).collect(),
            next_agenda: v.next_agenda,
        }
    }
}

/// One line of the worker's worklist (ordered by urgency).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WorkItem {
    /// The client.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Village, if recorded.
    pub village: Option<String>,
    /// The session is due today.
    pub due_today: bool,
    /// The case view.
    pub case_view: CaseView,
    /// Why the client is where they are in the list, most urgent first.
    pub reasons: Vec<String>,
}

impl From<worklist::WorkItem> for WorkItem {
    fn from(w: worklist::WorkItem) -> Self {
        WorkItem {
            client_id: w.client_id.to_string(),
            display_name: w.display_name,
            village: w.village,
            due_today: w.due_today,
            case_view: w.case.into(),
            reasons: w.reasons,
        }
    }
}

/// Why a case is in the supervisor's queue.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewReason {
    /// `risk_event`, a flag name, `early_dropout` or `extension`.
    pub kind: String,
    /// Plain words: dates, scores, counts.
    pub detail: String,
    /// The risk event, for `risk_event` (a supervisor note linked to it marks it reviewed).
    pub risk_event_id: Option<String>,
}

impl From<worklist::ReviewReason> for ReviewReason {
    fn from(r: worklist::ReviewReason) -> Self {
        ReviewReason {
            kind: r.kind,
            detail: r.detail,
            risk_event_id: opt_id(r.risk_event),
        }
    }
}

/// One case for supervision (unreviewed risk events first).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReviewItem {
    /// The client.
    pub client_id: String,
    /// Display name.
    pub display_name: String,
    /// Why the supervisor must look, most urgent first.
    pub reasons: Vec<ReviewReason>,
}

impl From<worklist::ReviewItem> for ReviewItem {
    fn from(r: worklist::ReviewItem) -> Self {
        ReviewItem {
            client_id: r.client_id.to_string(),
            display_name: r.display_name,
            reasons: r.reasons.into_iter().map(Into::into).collect(),
        }
    }
}

// ---- questionnaires -------------------------------------------------------------------------

/// The score of one questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScoreResult {
    /// Instrument id.
    pub instrument: String,
    /// Definition version used.
    pub version: String,
    /// Sum of the scored items.
    pub total: u32,
    /// Largest possible total.
    pub max: u32,
    /// Severity band id (e.g. `moderate`).
    pub band: String,
    /// Flags raised (e.g. `item9_positive`).
    pub flags: Vec<String>,
    /// Every item, scored and unscored, was answered.
    pub complete: bool,
    /// PHQ-9's difficulty item, if answered (not scored).
    pub difficulty: Option<u32>,
    /// Number of items answered.
    pub answered: u32,
}

impl From<ins::Score> for ScoreResult {
    fn from(s: ins::Score) -> Self {
        ScoreResult {
            instrument: s.instrument,
            version: s.version,
            total: s.total.into(),
            max: s.max.into(),
            band: s.band,
            flags: s.flags,
            complete: s.complete,
            difficulty: s.difficulty.map(u32::from),
            answered: u32::try_from(s.answered).unwrap_or(u32::MAX),
        }
    }
}

/// What recording a screening questionnaire decided.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScreenResult {
    /// The stored response.
    pub response_id: String,
    /// Its score.
    pub score: ScoreResult,
    /// The decision, once one can be made (after a negative PHQ-2 or a PHQ-9).
    pub outcome: Option<ScreeningOutcome>,
    /// A PHQ-9 should follow (positive PHQ-2).
    pub phq9_needed: bool,
    /// A risk event opened by PHQ-9 item 9.
    pub risk_event_id: Option<String>,
}

impl From<engine::ScreenOutcome> for ScreenResult {
    fn from(o: engine::ScreenOutcome) -> Self {
        ScreenResult {
            response_id: o.response_id.to_string(),
            score: o.score.into(),
            outcome: o.outcome.map(Into::into),
            phq9_needed: o.phq9_needed,
            risk_event_id: opt_id(o.risk_event),
        }
    }
}

/// What recording a session questionnaire did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ResponseResult {
    /// The stored response.
    pub response_id: String,
    /// Its score.
    pub score: ScoreResult,
    /// A risk event opened by PHQ-9 item 9: the session cannot be completed until it is
    /// assessed.
    pub risk_event_id: Option<String>,
}

impl From<engine::ResponseOutcome> for ResponseResult {
    fn from(o: engine::ResponseOutcome) -> Self {
        ResponseResult {
            response_id: o.response_id.to_string(),
            score: o.score.into(),
            risk_event_id: opt_id(o.risk_event),
        }
    }
}

/// A text ready to show, and whether it is a fallback: the chosen translation lacks it, so
/// the original (usually English) text is shown instead and should be marked visibly.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LocalText {
    /// The text to show.
    pub text: String,
    /// The translation lacks this text.
    pub fallback: bool,
}

impl From<agenda::LocalizedText> for LocalText {
    fn from(t: agenda::LocalizedText) -> Self {
        LocalText {
            text: t.text,
            fallback: t.fallback,
        }
    }
}

impl From<ins::RenderedText> for LocalText {
    fn from(t: ins::RenderedText) -> Self {
        LocalText {
            text: t.text,
            fallback: t.fallback,
        }
    }
}

/// One answer option of a questionnaire item.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InstrumentOption {
    /// The value scored.
    pub value: u32,
    /// LOINC answer code.
    pub code: String,
    /// The text.
    pub text: LocalText,
}

/// One questionnaire item with its options.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InstrumentItem {
    /// Item id (e.g. `phq9_9`).
    pub id: String,
    /// LOINC code.
    pub loinc: String,
    /// Whether it counts towards the total (scored items must be answered).
    pub scored: bool,
    /// The question.
    pub text: LocalText,
    /// Answer options in value order.
    pub options: Vec<InstrumentOption>,
}

/// A severity band: totals from `min` to `max`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScoreBand {
    /// Band id (e.g. `moderately_severe`).
    pub id: String,
    /// Lowest total.
    pub min: u32,
    /// Highest total.
    pub max: u32,
}

/// A questionnaire ready to show in the chosen language, with its bands for charts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InstrumentForm {
    /// Instrument id.
    pub instrument: String,
    /// Definition version.
    pub version: String,
    /// Language shown (the translation's, or the definition's).
    pub language: String,
    /// Title.
    pub title: LocalText,
    /// Stem ("Over the last 2 weeks, how often …").
    pub stem: LocalText,
    /// Items in order (values are given in this order).
    pub items: Vec<InstrumentItem>,
    /// Copyright statement (always shown as in the definition).
    pub copyright: String,
    /// How many texts fell back to the definition's language.
    pub fallback_count: u32,
    /// Highest possible total.
    pub max_total: u32,
    /// Severity bands in ascending order.
    pub bands: Vec<ScoreBand>,
    /// Where the band cut-points come from.
    pub bands_source: String,
}

impl InstrumentForm {
    pub(crate) fn new(r: ins::RenderedInstrument, def: &ins::Definition) -> Self {
        InstrumentForm {
            instrument: r.instrument,
            version: r.version,
            language: r.language,
            title: r.title.into(),
            stem: r.stem.into(),
            items: r
                .items
                .into_iter()
                .map(|i| InstrumentItem {
                    id: i.id,
                    loinc: i.loinc,
                    scored: i.scored,
                    text: i.text.into(),
                    options: i
                        .options
                        .into_iter()
                        .map(|o| InstrumentOption {
                            value: o.value.into(),
                            code: o.code,
                            text: o.text.into(),
                        })
                        .collect(),
                })
                .collect(),
            copyright: r.copyright,
            fallback_count: u32::try_from(r.fallback_count).unwrap_or(u32::MAX),
            max_total: def.max_total().into(),
            bands: def
                .bands()
                .ranges
                .iter()
                .map(|b| ScoreBand {
                    id: b.id.clone(),
                    min: b.min.into(),
                    max: b.max.into(),
                })
                .collect(),
            bands_source: def.bands().source.clone(),
        }
    }
}

// ---- courses and sessions -------------------------------------------------------------------

/// One IPC course.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CourseInfo {
    /// The course.
    pub course_id: String,
    /// The client.
    pub client_id: String,
    /// The worker delivering it.
    pub worker_id: String,
    /// Enrolment date.
    pub enrolled_on: String,
    /// Sessions planned.
    pub planned_sessions: u32,
    /// Problem areas chosen.
    pub problem_areas: Vec<ProblemArea>,
    /// Dispute stage, with the disputes area.
    pub dispute_stage: Option<DisputeStage>,
    /// Where it stands.
    pub status: CourseStatus,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// Note on the ending.
    pub end_note: Option<String>,
    /// End date.
    pub ended_on: Option<String>,
    /// Why it was extended beyond the plan.
    pub extension_reason: Option<String>,
}

impl From<m::Course> for CourseInfo {
    fn from(c: m::Course) -> Self {
        CourseInfo {
            course_id: c.id.to_string(),
            client_id: c.client_id.to_string(),
            worker_id: c.worker_id.to_string(),
            enrolled_on: date_text(c.enrolled_on),
            planned_sessions: c.planned_sessions.into(),
            problem_areas: c.problem_areas.into_iter().map(Into::into).collect(),
            dispute_stage: c.dispute_stage.map(Into::into),
            status: c.status.into(),
            end_reason: c.end_reason.map(Into::into),
            end_note: c.end_note,
            ended_on: c.ended_on.map(date_text),
            extension_reason: c.extension_reason,
        }
    }
}

/// An agenda step skipped on purpose, with the reason (kept as a fidelity record).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SkippedStep {
    /// The step id.
    pub step: String,
    /// Why it was skipped.
    pub reason: String,
}

impl From<m::SkippedStep> for SkippedStep {
    fn from(s: m::SkippedStep) -> Self {
        SkippedStep {
            step: s.step,
            reason: s.reason,
        }
    }
}

impl From<SkippedStep> for m::SkippedStep {
    fn from(s: SkippedStep) -> Self {
        m::SkippedStep {
            step: s.step,
            reason: s.reason,
        }
    }
}

/// One session of a course, planned or held.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionInfo {
    /// The session.
    pub session_id: String,
    /// Its course.
    pub course_id: String,
    /// Its number in the course (1-based).
    pub number: u32,
    /// Its phase.
    pub phase: Phase,
    /// Planned date.
    pub planned_date: Option<String>,
    /// When held.
    pub held_at: Option<String>,
    /// Attendance, once known.
    pub attendance: Option<Attendance>,
    /// How delivered.
    pub modality: Option<Modality>,
    /// Agenda steps done.
    pub steps_done: Vec<String>,
    /// Agenda steps skipped, with reasons.
    pub steps_skipped: Vec<SkippedStep>,
    /// Session notes.
    pub notes: Option<String>,
    /// Between-session task.
    pub task: Option<String>,
    /// The session record is finished.
    pub completed: bool,
}

impl From<m::Session> for SessionInfo {
    fn from(s: m::Session) -> Self {
        SessionInfo {
            session_id: s.id.to_string(),
            course_id: s.course_id.to_string(),
            number: s.number.into(),
            phase: s.phase.into(),
            planned_date: s.planned_date.map(date_text),
            held_at: s.held_at.map(datetime_text),
            attendance: s.attendance.map(Into::into),
            modality: s.modality.map(Into::into),
            steps_done: s.steps_done,
            steps_skipped: s.steps_skipped.into_iter().map(Into::into).collect(),
            notes: s.notes,
            task: s.task,
            completed: s.completed,
        }
    }
}

/// One step of a session's agenda, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AgendaStep {
    /// Step id (give it in `SessionReport.steps_done` when done).
    pub id: String,
    /// Title for the checklist.
    pub title: LocalText,
    /// Read-aloud prompts, in order.
    pub prompts: Vec<LocalText>,
    /// The step must be done (or skipped with a reason) to complete the session.
    pub required: bool,
    /// What must be recorded for the step to count as done.
    pub requires: Option<Evidence>,
    /// Some text of this step is a fallback (the translation lacks it).
    pub fallback: bool,
}

impl From<agenda::RenderedStep> for AgendaStep {
    fn from(s: agenda::RenderedStep) -> Self {
        let fallback = s.title.fallback || s.prompts.iter().any(|p| p.text.fallback);
        AgendaStep {
            id: s.id,
            title: s.title.into(),
            prompts: s.prompts.into_iter().map(|p| p.text.into()).collect(),
            required: s.required,
            requires: s.requires.map(Into::into),
            fallback,
        }
    }
}

/// A session with its agenda, in order.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionPlan {
    /// The session.
    pub session_id: String,
    /// Its course.
    pub course_id: String,
    /// Its number in the course.
    pub number: u32,
    /// Its phase.
    pub phase: Phase,
    /// Planned date.
    pub planned_date: Option<String>,
    /// The agenda steps.
    pub steps: Vec<AgendaStep>,
}

impl SessionPlan {
    pub(crate) fn new(s: &m::Session, steps: Vec<agenda::RenderedStep>) -> Self {
        SessionPlan {
            session_id: s.id.to_string(),
            course_id: s.course_id.to_string(),
            number: s.number.into(),
            phase: s.phase.into(),
            planned_date: s.planned_date.map(date_text),
            steps: steps.into_iter().map(Into::into).collect(),
        }
    }
}

/// What the worker records when completing a session.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SessionReport {
    /// When it was held (`null`/`nil`: now).
    #[uniffi(default)]
    pub held_at: Option<String>,
    /// In person (default) or by phone.
    #[uniffi(default)]
    pub modality: Option<Modality>,
    /// Agenda step ids done.
    pub steps_done: Vec<String>,
    /// Steps skipped, each with a reason.
    #[uniffi(default)]
    pub steps_skipped: Vec<SkippedStep>,
    /// Session notes.
    #[uniffi(default)]
    pub notes: Option<String>,
    /// The task agreed for before the next session.
    #[uniffi(default)]
    pub task: Option<String>,
}

impl SessionReport {
    pub(crate) fn to_core(&self) -> Result<engine::SessionReport> {
        Ok(engine::SessionReport {
            held_at: Some(crate::types::datetime_or_now(
                "held_at",
                self.held_at.clone(),
            )?),
            modality: self.modality.map(Into::into),
            steps_done: self.steps_done.clone(),
            steps_skipped: self.steps_skipped.iter().cloned().map(Into::into).collect(),
            notes: self.notes.clone(),
            task: self.task.clone(),
        })
    }
}

/// An important person to add to the interpersonal inventory.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InventoryInput {
    /// A label such as "Mother" (not necessarily a name).
    pub label: String,
    /// The relationship, e.g. "spouse".
    pub relationship: String,
    /// Closeness 1–5 (`null`/`nil`: 3).
    #[uniffi(default)]
    pub closeness: Option<u32>,
    /// Support this person gives.
    #[uniffi(default)]
    pub support: Option<String>,
    /// Conflict with this person.
    #[uniffi(default)]
    pub conflict: Option<String>,
    /// What changed in the relationship.
    #[uniffi(default)]
    pub what_changed: Option<String>,
}

impl InventoryInput {
    pub(crate) fn to_core(&self) -> Result<engine::InventoryInput> {
        Ok(engine::InventoryInput {
            label: self.label.clone(),
            relationship: self.relationship.clone(),
            closeness: self.closeness.map(|c| small("closeness", c)).transpose()?,
            support: self.support.clone(),
            conflict: self.conflict.clone(),
            what_changed: self.what_changed.clone(),
        })
    }
}

/// A person in the interpersonal inventory.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct InventoryInfo {
    /// The entry.
    pub entry_id: String,
    /// Its course.
    pub course_id: String,
    /// Label.
    pub label: String,
    /// Relationship.
    pub relationship: String,
    /// Closeness 1–5.
    pub closeness: u32,
    /// Support.
    pub support: Option<String>,
    /// Conflict.
    pub conflict: Option<String>,
    /// What changed.
    pub what_changed: Option<String>,
    /// Expectations on each side.
    pub expectations: Option<String>,
}

impl From<m::InventoryEntry> for InventoryInfo {
    fn from(e: m::InventoryEntry) -> Self {
        InventoryInfo {
            entry_id: e.id.to_string(),
            course_id: e.course_id.to_string(),
            label: e.label,
            relationship: e.relationship,
            closeness: e.closeness.into(),
            support: e.support,
            conflict: e.conflict,
            what_changed: e.what_changed,
            expectations: e.expectations,
        }
    }
}

/// A life event for the timeline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimelineInput {
    /// When it happened (`YYYY-MM-DD`).
    pub date: String,
    /// What happened.
    pub event: String,
    /// How mood changed around it.
    pub mood_change: MoodChange,
}

impl TimelineInput {
    pub(crate) fn to_core(&self) -> Result<engine::TimelineInput> {
        Ok(engine::TimelineInput {
            date: parse_date("date", &self.date)?,
            event: self.event.clone(),
            mood_change: self.mood_change.into(),
        })
    }
}

/// A life event on the course's timeline.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TimelineInfo {
    /// The event.
    pub event_id: String,
    /// Its course.
    pub course_id: String,
    /// When it happened.
    pub date: String,
    /// What happened.
    pub event: String,
    /// How mood changed.
    pub mood_change: MoodChange,
}

impl From<m::TimelineEvent> for TimelineInfo {
    fn from(e: m::TimelineEvent) -> Self {
        TimelineInfo {
            event_id: e.id.to_string(),
            course_id: e.course_id.to_string(),
            date: date_text(e.date),
            event: e.event,
            mood_change: e.mood_change.into(),
        }
    }
}

// ---- risk, referrals, notes -----------------------------------------------------------------

/// The risk assessment as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RiskAssessmentInput {
    /// Thoughts of self-harm or suicide.
    pub thoughts: bool,
    /// A plan.
    pub plan: bool,
    /// Intent to act.
    pub intent: bool,
    /// Access to means.
    pub means: bool,
    /// A past attempt.
    pub past_attempt: bool,
    /// The supervisor was contacted.
    pub supervisor_contacted: bool,
    /// What was decided.
    pub outcome: RiskOutcome,
    /// Required when the outcome is `OTHER`.
    #[uniffi(default)]
    pub outcome_text: Option<String>,
    /// Free-text note.
    #[uniffi(default)]
    pub note: Option<String>,
}

impl From<&RiskAssessmentInput> for engine::RiskAssessmentInput {
    fn from(a: &RiskAssessmentInput) -> Self {
        engine::RiskAssessmentInput {
            thoughts: a.thoughts,
            plan: a.plan,
            intent: a.intent,
            means: a.means,
            past_attempt: a.past_attempt,
            supervisor_contacted: a.supervisor_contacted,
            outcome: a.outcome.into(),
            outcome_text: a.outcome_text.clone(),
            note: a.note.clone(),
        }
    }
}

/// A recorded risk assessment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RiskAssessmentInfo {
    /// Thoughts of self-harm or suicide.
    pub thoughts: bool,
    /// A plan.
    pub plan: bool,
    /// Intent to act.
    pub intent: bool,
    /// Access to means.
    pub means: bool,
    /// A past attempt.
    pub past_attempt: bool,
    /// The supervisor was contacted.
    pub supervisor_contacted: bool,
    /// What was decided.
    pub outcome: RiskOutcome,
    /// Description of the outcome.
    pub outcome_text: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// When assessed.
    pub assessed_at: String,
}

impl From<m::RiskAssessment> for RiskAssessmentInfo {
    fn from(a: m::RiskAssessment) -> Self {
        RiskAssessmentInfo {
            thoughts: a.thoughts,
            plan: a.plan,
            intent: a.intent,
            means: a.means,
            past_attempt: a.past_attempt,
            supervisor_contacted: a.supervisor_contacted,
            outcome: a.outcome.into(),
            outcome_text: a.outcome_text,
            note: a.note,
            assessed_at: datetime_text(a.assessed_at),
        }
    }
}

/// A risk event (PHQ-9 item 9 or the worker's concern) and its assessment.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RiskEventInfo {
    /// The event.
    pub risk_event_id: String,
    /// The client.
    pub client_id: String,
    /// The course, if within one.
    pub course_id: Option<String>,
    /// The session, if raised in one.
    pub session_id: Option<String>,
    /// What raised it.
    pub trigger: RiskTrigger,
    /// When raised.
    pub opened_at: String,
    /// What the worker observed.
    pub observation: Option<String>,
    /// The assessment, once recorded.
    pub assessment: Option<RiskAssessmentInfo>,
    /// Progress.
    pub status: RiskStatus,
    /// When closed.
    pub closed_at: Option<String>,
}

impl From<m::RiskEvent> for RiskEventInfo {
    fn from(e: m::RiskEvent) -> Self {
        RiskEventInfo {
            risk_event_id: e.id.to_string(),
            client_id: e.client_id.to_string(),
            course_id: opt_id(e.course_id),
            session_id: opt_id(e.session_id),
            trigger: e.trigger.into(),
            opened_at: datetime_text(e.opened_at),
            observation: e.observation,
            assessment: e.assessment.map(Into::into),
            status: e.status.into(),
            closed_at: e.closed_at.map(datetime_text),
        }
    }
}

/// A referral to other care.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReferralInfo {
    /// The referral.
    pub referral_id: String,
    /// The client.
    pub client_id: String,
    /// The course it arose in.
    pub course_id: Option<String>,
    /// Why.
    pub reason: String,
    /// Where to.
    pub destination: Option<String>,
    /// How soon.
    pub urgency: ReferralUrgency,
    /// Progress.
    pub status: ReferralStatus,
    /// Created.
    pub created_on: String,
    /// Last status change.
    pub updated_on: String,
}

impl From<m::Referral> for ReferralInfo {
    fn from(r: m::Referral) -> Self {
        ReferralInfo {
            referral_id: r.id.to_string(),
            client_id: r.client_id.to_string(),
            course_id: opt_id(r.course_id),
            reason: r.reason,
            destination: r.destination,
            urgency: r.urgency.into(),
            status: r.status.into(),
            created_on: date_text(r.created_on),
            updated_on: date_text(r.updated_on),
        }
    }
}

/// A supervisor's note on a case.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NoteInfo {
    /// The note.
    pub note_id: String,
    /// The client.
    pub client_id: String,
    /// Who wrote it.
    pub author_id: String,
    /// When written (ms since the Unix epoch, UTC).
    pub written_at_ms: i64,
    /// The text.
    pub text: String,
    /// The risk event it reviews, if any.
    pub risk_event_id: Option<String>,
}

impl From<m::SupervisorNote> for NoteInfo {
    fn from(n: m::SupervisorNote) -> Self {
        NoteInfo {
            note_id: n.id.to_string(),
            client_id: n.client_id.to_string(),
            author_id: n.author.to_string(),
            written_at_ms: n.written_at.timestamp_millis(),
            text: n.text,
            risk_event_id: opt_id(n.risk_event),
        }
    }
}

// ---- sync -----------------------------------------------------------------------------------

/// What a sync did. `complete` is true only when everything was sent and received.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncResult {
    /// Local changes sent.
    pub pushed: u64,
    /// Local changes the server confirmed stored.
    pub acknowledged: u64,
    /// Changes received and applied.
    pub pulled: u64,
    /// Local changes the server refused (kept in quarantine, see `IpcStore.quarantined`).
    pub quarantined: u64,
    /// Received changes this device could not apply (skipped).
    pub rejected_remote: u64,
    /// Clients removed from this device (reassigned elsewhere).
    pub removed: u64,
    /// Device clock minus server clock, in ms.
    pub clock_skew_ms: i64,
    /// The skew is large enough to warn the user about the phone's clock.
    pub clock_skewed: bool,
    /// The device was revoked: its data was wiped after the final push.
    pub wiped: bool,
    /// Round trips made.
    pub rounds: u32,
    /// Everything was sent and received.
    pub complete: bool,
}

impl From<sync::SyncReport> for SyncResult {
    fn from(r: sync::SyncReport) -> Self {
        SyncResult {
            pushed: r.pushed,
            acknowledged: r.acknowledged,
            pulled: r.pulled,
            quarantined: r.quarantined,
            rejected_remote: r.rejected_remote,
            removed: r.removed,
            clock_skew_ms: r.clock_skew_ms,
            clock_skewed: r.clock_skewed,
            wiped: r.wiped,
            rounds: r.rounds,
            complete: r.complete,
        }
    }
}

/// Progress of a running sync, after every round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgress {
    /// Phase.
    pub phase: SyncPhase,
    /// Changes sent and confirmed (push) or received (pull) so far.
    pub done: u64,
    /// Changes to send in total (push); received so far (pull).
    pub total: u64,
}

impl From<sync::Progress> for SyncProgress {
    fn from(p: sync::Progress) -> Self {
        SyncProgress {
            phase: p.phase.into(),
            done: p.done,
            total: p.total,
        }
    }
}

/// A local change the server refused, kept so the user can see it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuarantinedItem {
    /// The operation.
    pub op_id: String,
    /// The kind of record.
    pub entity: String,
    /// The client it concerns.
    pub client_id: String,
    /// Why, as a code (`out_of_scope`, `client_reassigned`, `forbidden`, `invalid`,
    /// `conflict`).
    pub code: String,
    /// Why, in words.
    pub reason: String,
}

impl From<st::QuarantinedOp> for QuarantinedItem {
    fn from(q: st::QuarantinedOp) -> Self {
        QuarantinedItem {
            op_id: q.op_id.to_string(),
            entity: q.entity,
            client_id: q.scope.to_string(),
            code: q.code,
            reason: q.reason,
        }
    }
}

/// Parse a client id argument.
pub(crate) fn parse_client(text: &str) -> Result<ClientId> {
    Ok(ClientId::parse(text)?)
}
