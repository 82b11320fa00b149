//! The write side of [`IpcStore`]: clients, screening, courses, sessions with their agenda,
//! inventory, timeline, risk, referrals and supervisor notes. Each call is one transaction
//! through the core's write path (a refused step changes nothing) and delegates to the
//! course engine; caseload observers are told afterwards.

use ipc_core::model::{self as m, CourseId, ReferralId, RiskEventId, SessionId};
use ipc_core::store::Records;

use crate::error::Result;
use crate::records::{
    parse_client, ClientInput, InventoryInput, ResponseResult, RiskAssessmentInput, ScreenResult,
    SessionPlan, SessionReport, TimelineInput,
};
use crate::store::IpcStore;
use crate::types::{
    answers, date_or_today, datetime_or_now, small, DisputeStage, EndReason, ProblemArea,
    ReferralStatus,
};

#[uniffi::export]
impl IpcStore {
    /// Register a client, assigned to this store's worker. Returns the client's id.
    pub fn add_client(&self, input: ClientInput) -> Result<String> {
        let today = chrono::Local::now().date_naive();
        let new = input.to_core(self.store.identity().worker_id, today)?;
        self.write(|w, _| {
            let client = m::Client::new(new, w.today())?;
            w.create(&client)?;
            Ok(client.id.to_string())
        })
    }

    /// Replace a client's details (name, contact, consent); the id, assignment and
    /// registration date stay.
    pub fn update_client(&self, client_id: String, input: ClientInput) -> Result<()> {
        let id = parse_client(&client_id)?;
        // Assignment and registration date are kept from the stored client below.
        let edited = input.to_core(m::WorkerId::new(), chrono::NaiveDate::MIN)?;
        self.write(|w, _| {
            let today = w.today();
            w.update::<m::Client>(id.as_uuid(), |c| {
                let new = m::NewClient {
                    assigned_worker: c.assigned_worker,
                    registered_on: c.registered_on,
                    ..edited
                };
                *c = m::Client {
                    id: c.id,
                    ..m::Client::new(new, today)?
                };
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Record a screening questionnaire (`phq2`, `phq9` or `gad7`; values in item order) given
    /// at `administered_at` (`null`/`nil`: now). Decides eligibility when it can; a PHQ-9 with
    /// item 9 above 0 opens a risk event. `exclusions` names the programme's exclusion
    /// criteria that apply (they lead to referral).
    #[uniffi::method(default(exclusions = [], administered_at = None))]
    pub fn screen(
        &self,
        client_id: String,
        instrument: String,
        values: Vec<u32>,
        exclusions: Vec<String>,
        administered_at: Option<String>,
    ) -> Result<ScreenResult> {
        let client = parse_client(&client_id)?;
        let values = answers(&values)?;
        let at = datetime_or_now("administered_at", administered_at)?;
        self.write(|w, p| p.screen(w, client, &instrument, &values, at, &exclusions))
            .map(Into::into)
    }

    /// Enrol a screened, eligible client in a course of `planned_sessions` sessions
    /// (`null`/`nil`: the programme's default) starting `start_on` (`null`/`nil`: today);
    /// session 1 is planned on that date. Returns the course id.
    #[uniffi::method(default(planned_sessions = None, start_on = None))]
    pub fn start_course(
        &self,
        client_id: String,
        planned_sessions: Option<u32>,
        start_on: Option<String>,
    ) -> Result<String> {
        let client = parse_client(&client_id)?;
        let planned = planned_sessions
            .map(|n| small("planned_sessions", n))
            .transpose()?;
        let on = date_or_today("start_on", start_on)?;
        self.write(|w, p| p.enrol(w, client, planned, on))
            .map(|id| id.to_string())
    }

    /// The session of the course to hold next, with its agenda (plans one if the course
    /// allows; beyond the plan an `extension_reason` extends the course by one session).
    #[uniffi::method(default(extension_reason = None))]
    pub fn next_session(
        &self,
        course_id: String,
        extension_reason: Option<String>,
    ) -> Result<SessionPlan> {
        let course = CourseId::parse(&course_id)?;
        let today = chrono::Local::now().date_naive();
        let session =
            self.write(|w, p| p.session_to_hold(w, course, today, extension_reason.as_deref()))?;
        self.plan_of(session.id)
    }

    /// Record a questionnaire given in a session (values in item order). A PHQ-9 with item 9
    /// above 0 opens a risk event, and the session cannot be completed until it is assessed.
    #[uniffi::method(default(administered_at = None))]
    pub fn record_response(
        &self,
        session_id: String,
        instrument: String,
        values: Vec<u32>,
        administered_at: Option<String>,
    ) -> Result<ResponseResult> {
        let session = SessionId::parse(&session_id)?;
        let values = answers(&values)?;
        let at = datetime_or_now("administered_at", administered_at)?;
        self.write(|w, p| p.record_response(w, session, &instrument, &values, at))
            .map(Into::into)
    }

    /// Complete a session: refused with `RiskAssessmentRequired` while a risk event waits for
    /// its assessment, and with `Refused { code = "missing_steps" }` while a required agenda
    /// step is neither done (with its evidence) nor skipped with a reason. Returns the next
    /// session planned, if any.
    pub fn complete_session(
        &self,
        session_id: String,
        report: SessionReport,
    ) -> Result<Option<String>> {
        let session = SessionId::parse(&session_id)?;
        let report = report.to_core()?;
        self.write(|w, p| p.complete_session(w, session, &report))
            .map(|next| next.map(|id| id.to_string()))
    }

    /// Record that the planned session was missed on `on` (`null`/`nil`: today); a
    /// replacement is planned. Returns the replacement session's id.
    #[uniffi::method(default(on = None))]
    pub fn miss_session(&self, course_id: String, on: Option<String>) -> Result<String> {
        let course = CourseId::parse(&course_id)?;
        let on = date_or_today("on", on)?;
        self.write(|w, p| p.miss_session(w, course, on))
            .map(|id| id.to_string())
    }

    /// Choose the course's problem area (and, for disputes, the stage).
    #[uniffi::method(default(dispute_stage = None))]
    pub fn set_problem_area(
        &self,
        course_id: String,
        area: Option<ProblemArea>,
        dispute_stage: Option<DisputeStage>,
    ) -> Result<()> {
        let course = CourseId::parse(&course_id)?;
        self.write(|w, p| {
            p.set_problem_area(
                w,
                course,
                area.map(Into::into),
                dispute_stage.map(Into::into),
            )
        })
    }

    /// Add an important person to the course's interpersonal inventory. Returns the entry id.
    pub fn add_inventory(&self, course_id: String, input: InventoryInput) -> Result<String> {
        let course = CourseId::parse(&course_id)?;
        let input = input.to_core()?;
        self.write(|w, p| p.add_inventory(w, course, &input))
            .map(|id| id.to_string())
    }

    /// Add a life event to the course's timeline. Returns the event id.
    pub fn add_timeline_event(&self, course_id: String, input: TimelineInput) -> Result<String> {
        let course = CourseId::parse(&course_id)?;
        let input = input.to_core()?;
        self.write(|w, p| p.add_timeline(w, course, &input))
            .map(|id| id.to_string())
    }

    /// Extend the course to `planned_sessions` (up to the programme's maximum), with a reason.
    pub fn extend_course(
        &self,
        course_id: String,
        planned_sessions: u32,
        reason: String,
    ) -> Result<()> {
        let course = CourseId::parse(&course_id)?;
        let planned = small("planned_sessions", planned_sessions)?;
        self.write(|w, p| p.extend(w, course, planned, &reason))
    }

    /// End the course on `on` (`null`/`nil`: today) with a reason; a completed course gets
    /// its follow-up reminders.
    #[uniffi::method(default(note = None, on = None))]
    pub fn end_course(
        &self,
        course_id: String,
        reason: EndReason,
        note: Option<String>,
        on: Option<String>,
    ) -> Result<()> {
        let course = CourseId::parse(&course_id)?;
        let on = date_or_today("on", on)?;
        self.write(|w, p| p.end_course(w, course, reason.into(), note.as_deref(), on))
    }

    /// Open a risk event on the worker's observation alone (no questionnaire needed).
    /// Returns the risk event's id.
    #[uniffi::method(default(at = None))]
    pub fn raise_concern(
        &self,
        client_id: String,
        observation: String,
        at: Option<String>,
    ) -> Result<String> {
        let client = parse_client(&client_id)?;
        let at = datetime_or_now("at", at)?;
        self.write(|w, p| p.raise_concern(w, client, &observation, at))
            .map(|id| id.to_string())
    }

    /// Record the assessment of an open risk event (`at`: `null`/`nil` for now). An
    /// urgent-referral outcome also records an urgent referral.
    #[uniffi::method(default(at = None))]
    pub fn assess_risk(
        &self,
        risk_event_id: String,
        assessment: RiskAssessmentInput,
        at: Option<String>,
    ) -> Result<()> {
        let event = RiskEventId::parse(&risk_event_id)?;
        let at = datetime_or_now("at", at)?;
        let input = (&assessment).into();
        self.write(|w, p| p.assess_risk(w, event, &input, at))
    }

    /// Move a referral on (made, completed, declined), optionally saying where to.
    #[uniffi::method(default(destination = None))]
    pub fn update_referral(
        &self,
        referral_id: String,
        status: ReferralStatus,
        destination: Option<String>,
    ) -> Result<()> {
        let id = ReferralId::parse(&referral_id)?;
        let destination = m::clean_optional("destination", destination.as_deref(), m::ADDRESS_MAX)?;
        self.write(|w, _| {
            let today = w.today();
            w.update::<m::Referral>(id.as_uuid(), |r| {
                r.status = status.into();
                r.destination = destination.or(r.destination.take());
                r.updated_on = today.max(r.created_on);
                Ok(())
            })?;
            Ok(())
        })
    }

    /// Write a supervisor note on a client; linking it to a risk event marks that event
    /// reviewed in the supervisor queue. Returns the note's id.
    #[uniffi::method(default(risk_event_id = None))]
    pub fn add_note(
        &self,
        client_id: String,
        text: String,
        risk_event_id: Option<String>,
    ) -> Result<String> {
        let client = parse_client(&client_id)?;
        let risk_event = risk_event_id
            .as_deref()
            .map(RiskEventId::parse)
            .transpose()?;
        self.write(|w, _| {
            let note = m::SupervisorNote::new(
                m::NewSupervisorNote {
                    client_id: client,
                    author: w.identity().worker_id,
                    text,
                    risk_event,
                },
                w.now(),
            )?;
            w.create(&note)?;
            Ok(note.id.to_string())
        })
    }
}
