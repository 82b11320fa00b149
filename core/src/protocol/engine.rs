//! The IPC course engine: screening, enrolment, sessions with their agenda, risk events,
//! extension and ending — every step validated against the protocol configuration and
//! written through the store's one write path.
//!
//! Each step takes the store's [`Writer`], so a caller can compose steps in one transaction;
//! a refused step returns an error and, with the transaction, changes nothing. The granular
//! calls (`record_response`, `complete_session`, …) are what an app uses screen by screen;
//! [`Protocol::record_session`] does a whole session at once (simulation, demo, import).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::instruments::{score_values, ChangeRules, ChangeSources, Definition, Registry, Score};
use crate::model::{
    Answer, Attendance, ClientId, Course, CourseId, CourseStatus, DisputeStage, EndReason,
    InventoryEntry, InventoryEntryId, Modality, MoodChange, NewCourse, NewQuestionnaireResponse,
    NewRiskEvent, NewScreening, NewSession, Phase, ProblemArea, QuestionnaireResponse, Referral,
    ReferralId, ReferralStatus, ReferralUrgency, Reminder, ReminderId, ReminderKind,
    ReminderStatus, ResponseContext, ResponseId, RiskAssessment, RiskEvent, RiskEventId,
    RiskOutcome, RiskStatus, RiskTrigger, Screening, ScreeningOutcome, Session, SessionId,
    SkippedStep, TimelineEvent, TimelineEventId,
};
use crate::protocol::agenda::{self, Agenda, Evidence};
use crate::protocol::config::ProtocolConfig;
use crate::protocol::error::{ProtocolError, Result};
use crate::protocol::records::{answer, ClientRecords, PHQ2, PHQ9, PHQ9_ITEM9};
use crate::store::{Records, Writer};

/// The protocol a programme runs: configuration, agenda content and instruments.
#[derive(Clone, Debug)]
pub struct Protocol {
    /// Thresholds and rules, each with its source.
    pub config: ProtocolConfig,
    /// The agenda per session.
    pub agenda: Agenda,
    /// Questionnaire definitions.
    pub instruments: Registry,
}

/// Which agenda steps were done in a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StepsDone {
    /// `"all"`: every step of the session's agenda.
    All(AllSteps),
    /// The ids of the steps done.
    List(Vec<String>),
}

/// The literal `"all"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllSteps {
    /// Every step.
    All,
}

impl Default for StepsDone {
    fn default() -> Self {
        StepsDone::List(Vec::new())
    }
}

/// An important person to add to the interpersonal inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryInput {
    /// A label, e.g. "Mother" (not necessarily a name).
    pub label: String,
    /// The relationship, e.g. "spouse".
    pub relationship: String,
    /// Closeness 1–5 (default 3).
    #[serde(default)]
    pub closeness: Option<u8>,
    /// Support this person gives.
    #[serde(default)]
    pub support: Option<String>,
    /// Conflict with this person.
    #[serde(default)]
    pub conflict: Option<String>,
    /// What changed in the relationship.
    #[serde(default)]
    pub what_changed: Option<String>,
}

/// A life event for the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineInput {
    /// When it happened.
    pub date: NaiveDate,
    /// What happened.
    pub event: String,
    /// How mood changed.
    pub mood_change: MoodChange,
}

/// The risk assessment fields, as the worker records them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Required when the outcome is `other`.
    #[serde(default)]
    pub outcome_text: Option<String>,
    /// Free-text note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Everything recorded in one session (the combined call).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionInput {
    /// When it was held.
    #[serde(skip)]
    pub held_at: Option<NaiveDateTime>,
    /// In person (default) or by phone.
    #[serde(default)]
    pub modality: Option<Modality>,
    /// PHQ-9 answers (9 values, or 10 with the difficulty item).
    #[serde(default)]
    pub phq9: Option<Vec<u8>>,
    /// GAD-7 answers.
    #[serde(default)]
    pub gad7: Option<Vec<u8>>,
    /// Agenda steps done.
    #[serde(default)]
    pub steps_done: StepsDone,
    /// Steps deliberately skipped, each with a reason (kept as a fidelity record).
    #[serde(default)]
    pub steps_skipped: Vec<SkippedStep>,
    /// Problem area chosen (or changed) in this session.
    #[serde(default)]
    pub problem_area: Option<ProblemArea>,
    /// Dispute stage (with the disputes area).
    #[serde(default)]
    pub dispute_stage: Option<DisputeStage>,
    /// People added to the interpersonal inventory.
    #[serde(default)]
    pub inventory: Vec<InventoryInput>,
    /// Events added to the timeline.
    #[serde(default)]
    pub timeline: Vec<TimelineInput>,
    /// Session notes.
    #[serde(default)]
    pub notes: Option<String>,
    /// The task agreed for before the next session.
    #[serde(default)]
    pub task: Option<String>,
    /// A risk assessment for any risk event open at this session (including one this
    /// session's PHQ-9 opens).
    #[serde(default)]
    pub risk_assessment: Option<RiskAssessmentInput>,
    /// Reason for holding a session beyond the plan (extends the plan by one).
    #[serde(default)]
    pub extension_reason: Option<String>,
}

/// What a session report adds when completing a planned session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionReport {
    /// When it was held.
    pub held_at: Option<NaiveDateTime>,
    /// In person or by phone.
    pub modality: Option<Modality>,
    /// Agenda steps done.
    pub steps_done: Vec<String>,
    /// Steps skipped with a reason.
    pub steps_skipped: Vec<SkippedStep>,
    /// Notes.
    pub notes: Option<String>,
    /// Between-session task agreed.
    pub task: Option<String>,
}

/// Result of recording a screening questionnaire.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScreenOutcome {
    /// The stored response.
    pub response_id: ResponseId,
    /// Its score.
    pub score: Score,
    /// The screening decision, once one can be made (after a negative PHQ-2 or a PHQ-9).
    pub outcome: Option<ScreeningOutcome>,
    /// A PHQ-9 should follow (positive PHQ-2).
    pub phq9_needed: bool,
    /// A risk event opened by PHQ-9 item 9.
    pub risk_event: Option<RiskEventId>,
}

/// Result of recording a session questionnaire.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResponseOutcome {
    /// The stored response.
    pub response_id: ResponseId,
    /// Its score.
    pub score: Score,
    /// A risk event opened by PHQ-9 item 9.
    pub risk_event: Option<RiskEventId>,
}

/// Result of a completed session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionOutcome {
    /// The session.
    pub session_id: SessionId,
    /// Its number in the course.
    pub number: u8,
    /// Its phase.
    pub phase: Phase,
    /// The PHQ-9 of the session, if one was recorded.
    pub phq9: Option<Score>,
    /// Risk events opened in the session.
    pub risk_events: Vec<RiskEventId>,
    /// The next session planned, if any.
    pub next_session: Option<SessionId>,
}

impl Protocol {
    /// The built-in protocol: reference defaults, English agenda, PHQ-2/PHQ-9/GAD-7.
    pub fn builtin() -> Result<Protocol> {
        Protocol::new(
            ProtocolConfig::default(),
            Agenda::builtin()?,
            Registry::builtin()?,
        )
    }

    /// A protocol from parts; the configuration is validated.
    pub fn new(config: ProtocolConfig, agenda: Agenda, instruments: Registry) -> Result<Protocol> {
        config.validate()?;
        Ok(Protocol {
            config,
            agenda,
            instruments,
        })
    }

    /// The built-in protocol with a programme's configuration.
    pub fn with_config(config: ProtocolConfig) -> Result<Protocol> {
        Protocol::new(config, Agenda::builtin()?, Registry::builtin()?)
    }

    fn instrument(&self, id: &str) -> Result<&Definition> {
        self.instruments
            .get(id)
            .ok_or(ProtocolError::NotFound { what: "instrument" })
    }

    /// The change rules (response, remission, reliable change) from the configuration.
    pub fn change_rules(&self) -> ChangeRules {
        let o = &self.config.outcome;
        ChangeRules {
            response_reduction_pct: f64::from(o.response_reduction_pct.value),
            remission_below: Some(u16::from(o.remission_below.value)),
            reliable_change_points: u16::from(o.reliable_worsening_points.value),
            sources: ChangeSources {
                response: o.response_reduction_pct.source.clone(),
                remission: Some(o.remission_below.source.clone()),
                reliable_change: o.reliable_worsening_points.source.clone(),
            },
        }
    }

    fn load(&self, w: &Writer<'_>, client: ClientId) -> Result<ClientRecords> {
        ClientRecords::load(w, client)?.ok_or(ProtocolError::NotFound { what: "client" })
    }

    fn course(&self, w: &Writer<'_>, course: CourseId) -> Result<Course> {
        w.get::<Course>(course.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "course" })
    }

    fn active_course(&self, w: &Writer<'_>, course: CourseId) -> Result<Course> {
        let c = self.course(w, course)?;
        if c.status.is_ended() {
            return Err(ProtocolError::CourseEnded);
        }
        Ok(c)
    }

    /// Score answers and store them as a response of `target`.
    fn store_response(
        &self,
        w: &mut Writer<'_>,
        target: Target,
        instrument: &str,
        values: &[u8],
        at: NaiveDateTime,
    ) -> Result<(QuestionnaireResponse, Score)> {
        let Target {
            client,
            context,
            course,
            session,
        } = target;
        let def = self.instrument(instrument)?;
        let score = score_values(def, values)?;
        let answers = def
            .items()
            .iter()
            .zip(values)
            .map(|(item, v)| Answer {
                item: item.id.clone(),
                value: *v,
            })
            .collect();
        let today = w.today();
        let response = QuestionnaireResponse::new(
            NewQuestionnaireResponse {
                client_id: client,
                course_id: course,
                session_id: session,
                context,
                instrument: def.id().to_string(),
                instrument_version: def.version().to_string(),
                answers,
                total: Some(score.total),
                band: Some(score.band.clone()),
                flags: score.flags.clone(),
                administered_at: at,
            },
            today,
        )?;
        w.create(&response)?;
        Ok((response, score))
    }

    /// Open a risk event when PHQ-9 item 9 is above the configured threshold.
    fn risk_from_item9(
        &self,
        w: &mut Writer<'_>,
        response: &QuestionnaireResponse,
    ) -> Result<Option<RiskEventId>> {
        if response.instrument != PHQ9 {
            return Ok(None);
        }
        let threshold = self.config.safety.item9_risk_threshold.value;
        match answer(response, PHQ9_ITEM9) {
            Some(v) if v > threshold => {
                let event = RiskEvent::new(
                    NewRiskEvent {
                        client_id: response.client_id,
                        course_id: response.course_id,
                        session_id: response.session_id,
                        trigger: RiskTrigger::Phq9Item9,
                        opened_at: response.administered_at,
                        observation: None,
                        assessment: None,
                        status: RiskStatus::Open,
                        closed_at: None,
                    },
                    w.today(),
                )?;
                w.create(&event)?;
                Ok(Some(event.id))
            }
            _ => Ok(None),
        }
    }

    /// Record a screening questionnaire (PHQ-2, PHQ-9 or GAD-7) and decide eligibility when
    /// possible: a negative PHQ-2 → not eligible; a PHQ-9 → eligible, not eligible or refer
    /// (severe score, or any of the `exclusions` named). PHQ-9 item 9 opens a risk event.
    pub fn screen(
        &self,
        w: &mut Writer<'_>,
        client: ClientId,
        instrument: &str,
        values: &[u8],
        at: NaiveDateTime,
        exclusions: &[String],
    ) -> Result<ScreenOutcome> {
        let records = self.load(w, client)?;
        for e in exclusions {
            if !self.config.screening.exclusions.iter().any(|c| &c.id == e) {
                return Err(ProtocolError::Invalid("unknown exclusion criterion"));
            }
        }
        let target = Target {
            client,
            context: ResponseContext::Screening,
            course: None,
            session: None,
        };
        let (response, score) = self.store_response(w, target, instrument, values, at)?;
        let s = &self.config.screening;
        let total = score.total;
        let (outcome, phq9_needed) = match instrument {
            PHQ2 if total >= u16::from(s.phq2_positive_at.value) => (None, true),
            PHQ2 => (Some(ScreeningOutcome::NotEligible), false),
            PHQ9 if !exclusions.is_empty() => (Some(ScreeningOutcome::Refer), false),
            PHQ9 if total >= u16::from(s.refer_severe_at.value) => {
                (Some(ScreeningOutcome::Refer), false)
            }
            PHQ9 if total >= u16::from(s.phq9_eligible_at.value) => {
                (Some(ScreeningOutcome::Eligible), false)
            }
            PHQ9 => (Some(ScreeningOutcome::NotEligible), false),
            _ => (None, false),
        };
        if let Some(outcome) = outcome {
            let mut response_ids: Vec<ResponseId> = records
                .responses
                .iter()
                .filter(|r| {
                    r.context == ResponseContext::Screening && r.administered_at.date() == at.date()
                })
                .map(|r| r.id)
                .collect();
            response_ids.push(response.id);
            let screening = Screening::new(
                NewScreening {
                    client_id: client,
                    date: at.date(),
                    response_ids,
                    outcome,
                    note: None,
                },
                w.today(),
            )?;
            w.create(&screening)?;
            if outcome == ScreeningOutcome::Refer {
                self.recommend_referral(
                    w,
                    client,
                    None,
                    "screening",
                    at.date(),
                    ReferralUrgency::Routine,
                )?;
            }
        }
        let risk_event = self.risk_from_item9(w, &response)?;
        Ok(ScreenOutcome {
            response_id: response.id,
            score,
            outcome,
            phq9_needed,
            risk_event,
        })
    }

    fn recommend_referral(
        &self,
        w: &mut Writer<'_>,
        client: ClientId,
        course: Option<CourseId>,
        reason: &str,
        on: NaiveDate,
        urgency: ReferralUrgency,
    ) -> Result<ReferralId> {
        let referral = Referral {
            id: ReferralId::new(),
            client_id: client,
            course_id: course,
            reason: reason.to_string(),
            destination: None,
            urgency,
            status: ReferralStatus::Recommended,
            created_on: on,
            updated_on: on,
        };
        w.create(&referral)?;
        Ok(referral.id)
    }

    /// Enrol a screened, eligible client in a course of `planned` sessions (default from the
    /// configuration) starting `on`; plans session 1 on that date.
    pub fn enrol(
        &self,
        w: &mut Writer<'_>,
        client: ClientId,
        planned: Option<u8>,
        on: NaiveDate,
    ) -> Result<CourseId> {
        let records = self.load(w, client)?;
        match records.latest_screening().map(|s| s.outcome) {
            None => return Err(ProtocolError::NotScreened),
            Some(ScreeningOutcome::NotEligible) => return Err(ProtocolError::NotEligible),
            Some(ScreeningOutcome::Refer) => return Err(ProtocolError::ReferralRecommended),
            Some(ScreeningOutcome::Eligible) => {}
        }
        if records.active_course().is_some() {
            return Err(ProtocolError::AlreadyEnrolled);
        }
        if let Some(risk) = records.unassessed_risks().next() {
            return Err(ProtocolError::RiskAssessmentRequired {
                risk_event: risk.id,
            });
        }
        let s = &self.config.sessions;
        let planned = planned.unwrap_or(s.default_planned.value);
        if planned < s.min_planned.value || planned > s.max_planned.value {
            return Err(ProtocolError::PlannedSessionsOutOfRange {
                min: s.min_planned.value,
                max: s.max_planned.value,
            });
        }
        let course = Course::new(
            NewCourse {
                client_id: client,
                worker_id: w.identity().worker_id,
                enrolled_on: on,
                planned_sessions: planned,
                problem_areas: Vec::new(),
                dispute_stage: None,
                status: CourseStatus::Enrolled,
                end_reason: None,
                end_note: None,
                ended_on: None,
                extension_reason: None,
            },
            w.today(),
        )?;
        w.create(&course)?;
        self.plan_session(w, &course, 1, on)?;
        Ok(course.id)
    }

    /// Plan session `number` of `course` on `date`, with its reminder.
    fn plan_session(
        &self,
        w: &mut Writer<'_>,
        course: &Course,
        number: u8,
        date: NaiveDate,
    ) -> Result<SessionId> {
        let phase = phase(number, course.planned_sessions)?;
        let session = Session::new(
            NewSession {
                course_id: course.id,
                client_id: course.client_id,
                number,
                phase,
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
            w.today(),
        )?;
        w.create(&session)?;
        self.close_reminders(w, course, ReminderKind::SessionDue)?;
        let reminder = Reminder {
            id: ReminderId::new(),
            client_id: course.client_id,
            course_id: Some(course.id),
            kind: ReminderKind::SessionDue,
            due: date,
            status: ReminderStatus::Pending,
        };
        w.create(&reminder)?;
        Ok(session.id)
    }

    fn close_reminders(
        &self,
        w: &mut Writer<'_>,
        course: &Course,
        kind: ReminderKind,
    ) -> Result<()> {
        let pending: Vec<Reminder> = w
            .list::<Reminder>(crate::store::Filter::Course(course.id.as_uuid()))?
            .into_iter()
            .filter(|r| r.kind == kind && r.status == ReminderStatus::Pending)
            .collect();
        for r in pending {
            w.update::<Reminder>(r.id.as_uuid(), |r| {
                r.status = ReminderStatus::Done;
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The session of `course` to be held next, planning one if the course allows it.
    /// Beyond the plan, an `extension_reason` extends the plan by one session (up to the hard
    /// maximum); without one the step is refused.
    pub fn session_to_hold(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        on: NaiveDate,
        extension_reason: Option<&str>,
    ) -> Result<Session> {
        let c = self.active_course(w, course)?;
        let records = self.load(w, c.client_id)?;
        if let Some(s) = records.next_planned(course) {
            return Ok(s.clone());
        }
        let held = u8::try_from(records.held(course).len()).unwrap_or(u8::MAX);
        let hard_max = self.config.sessions.hard_max.value;
        if held >= hard_max {
            return Err(ProtocolError::SessionLimit { max: hard_max });
        }
        if held >= c.planned_sessions {
            let Some(reason) = extension_reason else {
                return Err(ProtocolError::ExtensionRequired {
                    planned: c.planned_sessions,
                });
            };
            self.extend(w, course, held.saturating_add(1), reason)?;
        }
        let c = self.course(w, course)?;
        let id = self.plan_session(w, &c, held.saturating_add(1), on)?;
        w.get::<Session>(id.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "session" })
    }

    /// Extend the course to `planned` sessions (≤ the hard maximum), with a reason.
    pub fn extend(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        planned: u8,
        reason: &str,
    ) -> Result<()> {
        let c = self.active_course(w, course)?;
        let hard_max = self.config.sessions.hard_max.value;
        if planned > hard_max {
            return Err(ProtocolError::SessionLimit { max: hard_max });
        }
        if planned <= c.planned_sessions {
            return Err(ProtocolError::Invalid("an extension must add sessions"));
        }
        if self.config.sessions.extension_requires_reason.value && reason.trim().is_empty() {
            return Err(ProtocolError::ExtensionNeedsReason);
        }
        let reason = reason.trim().to_string();
        w.update::<Course>(course.as_uuid(), |c| {
            c.planned_sessions = planned;
            c.extension_reason = Some(reason);
            Ok(())
        })?;
        // The session that was the last one is no longer the termination session.
        let records = self.load(w, c.client_id)?;
        if let Some(next) = records.next_planned(course) {
            let phase = phase(next.number, planned)?;
            if next.phase != phase {
                w.update::<Session>(next.id.as_uuid(), |s| {
                    s.phase = phase;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// Record a questionnaire given during a session. PHQ-9 item 9 opens a risk event; the
    /// session then cannot be completed until a risk assessment is recorded.
    pub fn record_response(
        &self,
        w: &mut Writer<'_>,
        session: SessionId,
        instrument: &str,
        values: &[u8],
        at: NaiveDateTime,
    ) -> Result<ResponseOutcome> {
        let s = w
            .get::<Session>(session.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "session" })?;
        self.active_course(w, s.course_id)?;
        let target = Target {
            client: s.client_id,
            context: ResponseContext::Session,
            course: Some(s.course_id),
            session: Some(s.id),
        };
        let (response, score) = self.store_response(w, target, instrument, values, at)?;
        let risk_event = self.risk_from_item9(w, &response)?;
        Ok(ResponseOutcome {
            response_id: response.id,
            score,
            risk_event,
        })
    }

    /// Open a risk event by the worker's observation alone (no questionnaire needed).
    pub fn raise_concern(
        &self,
        w: &mut Writer<'_>,
        client: ClientId,
        observation: &str,
        at: NaiveDateTime,
    ) -> Result<RiskEventId> {
        let records = self.load(w, client)?;
        let event = RiskEvent::new(
            NewRiskEvent {
                client_id: client,
                course_id: records.active_course().map(|c| c.id),
                session_id: None,
                trigger: RiskTrigger::WorkerConcern,
                opened_at: at,
                observation: Some(observation.to_string()),
                assessment: None,
                status: RiskStatus::Open,
                closed_at: None,
            },
            w.today(),
        )?;
        w.create(&event)?;
        Ok(event.id)
    }

    /// Record the risk assessment of an open risk event. An urgent-referral outcome also
    /// records an urgent referral.
    pub fn assess_risk(
        &self,
        w: &mut Writer<'_>,
        risk_event: RiskEventId,
        input: &RiskAssessmentInput,
        at: NaiveDateTime,
    ) -> Result<()> {
        let event = w
            .get::<RiskEvent>(risk_event.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "risk event" })?;
        let assessment = RiskAssessment {
            thoughts: input.thoughts,
            plan: input.plan,
            intent: input.intent,
            means: input.means,
            past_attempt: input.past_attempt,
            supervisor_contacted: input.supervisor_contacted,
            outcome: input.outcome,
            outcome_text: input.outcome_text.clone(),
            note: input.note.clone(),
            assessed_at: at.max(event.opened_at),
        }
        .cleaned(w.today())?;
        w.update::<RiskEvent>(risk_event.as_uuid(), |e| {
            e.assessment = Some(assessment);
            e.status = RiskStatus::Assessed;
            Ok(())
        })?;
        if input.outcome == RiskOutcome::UrgentReferral {
            self.recommend_referral(
                w,
                event.client_id,
                event.course_id,
                "risk assessment",
                at.date(),
                ReferralUrgency::Urgent,
            )?;
        }
        Ok(())
    }

    /// Close a risk event once it has been handled (assessed, and followed up by the worker
    /// or the supervisor). An event without an assessment cannot be closed.
    pub fn close_risk_event(
        &self,
        w: &mut Writer<'_>,
        risk_event: RiskEventId,
        at: NaiveDateTime,
    ) -> Result<()> {
        let event = w
            .get::<RiskEvent>(risk_event.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "risk event" })?;
        if event.assessment.is_none() {
            return Err(ProtocolError::RiskAssessmentRequired { risk_event });
        }
        if event.status == RiskStatus::Closed {
            return Ok(());
        }
        let closed_at = at.max(event.opened_at);
        w.update::<RiskEvent>(risk_event.as_uuid(), |e| {
            e.status = RiskStatus::Closed;
            e.closed_at = Some(closed_at);
            Ok(())
        })?;
        Ok(())
    }

    /// Record what became of a referral (made, completed, declined), with the place it was
    /// made to if known.
    pub fn update_referral(
        &self,
        w: &mut Writer<'_>,
        referral: ReferralId,
        status: ReferralStatus,
        destination: Option<&str>,
        on: NaiveDate,
    ) -> Result<()> {
        let destination = destination.map(str::to_string);
        w.get::<Referral>(referral.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "referral" })?;
        w.update::<Referral>(referral.as_uuid(), |r| {
            r.status = status;
            if destination.is_some() {
                r.destination = destination;
            }
            r.updated_on = on.max(r.created_on);
            Ok(())
        })?;
        Ok(())
    }

    /// Add an important person to the course's interpersonal inventory.
    pub fn add_inventory(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        input: &InventoryInput,
    ) -> Result<InventoryEntryId> {
        let c = self.active_course(w, course)?;
        let entry = InventoryEntry {
            id: InventoryEntryId::new(),
            course_id: c.id,
            client_id: c.client_id,
            label: input.label.trim().to_string(),
            relationship: input.relationship.trim().to_string(),
            closeness: input.closeness.unwrap_or(3),
            support: input.support.clone(),
            conflict: input.conflict.clone(),
            what_changed: input.what_changed.clone(),
            expectations: None,
        };
        w.create(&entry)?;
        Ok(entry.id)
    }

    /// Add a life event to the course's timeline.
    pub fn add_timeline(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        input: &TimelineInput,
    ) -> Result<TimelineEventId> {
        let c = self.active_course(w, course)?;
        let event = TimelineEvent::new(
            crate::model::NewTimelineEvent {
                course_id: c.id,
                client_id: c.client_id,
                date: input.date,
                event: input.event.clone(),
                mood_change: input.mood_change,
            },
            w.today(),
        )?;
        w.create(&event)?;
        Ok(event.id)
    }

    /// Choose the problem area (and, for disputes, the stage).
    pub fn set_problem_area(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        area: Option<ProblemArea>,
        stage: Option<DisputeStage>,
    ) -> Result<()> {
        let c = self.active_course(w, course)?;
        let areas = match area {
            Some(a) => vec![a],
            None => c.problem_areas.clone(),
        };
        if stage.is_some() && !areas.contains(&ProblemArea::Disputes) {
            return Err(ProtocolError::Invalid(
                "a dispute stage needs the disputes problem area",
            ));
        }
        w.update::<Course>(course.as_uuid(), |c| {
            c.problem_areas = areas;
            if stage.is_some() {
                c.dispute_stage = stage;
            }
            if !c.problem_areas.contains(&ProblemArea::Disputes) {
                c.dispute_stage = None;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// The agenda step ids of a session, in order.
    pub fn agenda_for(
        &self,
        records: &ClientRecords,
        course: &Course,
        session: &Session,
    ) -> Result<Vec<String>> {
        let area = course.problem_areas.first().map(|a| a.as_str());
        let first_middle = is_first_middle(records, course, session);
        Ok(self
            .agenda
            .steps_for(session.phase.as_str(), area, first_middle)?
            .into_iter()
            .map(|s| s.id.clone())
            .collect())
    }

    /// Complete a planned session: checks open risk events and required agenda steps
    /// (each done with its evidence, or skipped with a reason), then marks it held, moves
    /// the course to the session's phase and plans the next session.
    pub fn complete_session(
        &self,
        w: &mut Writer<'_>,
        session: SessionId,
        report: &SessionReport,
    ) -> Result<Option<SessionId>> {
        let s = w
            .get::<Session>(session.as_uuid())?
            .ok_or(ProtocolError::NotFound { what: "session" })?;
        if s.completed || s.attendance.is_some() {
            return Err(ProtocolError::Invalid("the session is already recorded"));
        }
        let course = self.active_course(w, s.course_id)?;
        let records = self.load(w, s.client_id)?;
        if let Some(risk) = records.unassessed_risks().next() {
            return Err(ProtocolError::RiskAssessmentRequired {
                risk_event: risk.id,
            });
        }
        let agenda_ids = self.agenda_for(&records, &course, &s)?;
        for step in &report.steps_done {
            if self.agenda.step(step).is_none() {
                return Err(ProtocolError::UnknownStep { step: step.clone() });
            }
        }
        let missing = self.missing_steps(&records, &course, &s, report)?;
        if !missing.is_empty() {
            return Err(ProtocolError::MissingSteps { steps: missing });
        }
        let held_at = report.held_at.unwrap_or_else(|| w.now().naive_utc());
        let mut done: Vec<String> = agenda_ids
            .iter()
            .filter(|id| report.steps_done.contains(id))
            .cloned()
            .collect();
        for extra in &report.steps_done {
            if !done.contains(extra) {
                done.push(extra.clone());
            }
        }
        let report = report.clone();
        w.update::<Session>(session.as_uuid(), |x| {
            x.held_at = Some(held_at);
            x.attendance = Some(Attendance::Attended);
            x.modality = Some(report.modality.unwrap_or(Modality::InPerson));
            x.steps_done = done;
            x.steps_skipped = report.steps_skipped.clone();
            x.notes = report.notes.clone();
            x.task = report.task.clone();
            x.completed = true;
            Ok(())
        })?;
        let status = match s.phase {
            Phase::Initial => CourseStatus::Initial,
            Phase::Middle => CourseStatus::Middle,
            Phase::Termination => CourseStatus::Termination,
        };
        if course.status != status {
            w.update::<Course>(course.id.as_uuid(), |c| {
                c.status = status;
                Ok(())
            })?;
        }
        if s.number < course.planned_sessions {
            let interval = i64::from(self.config.reminders.session_interval_days.value);
            let next = held_at.date() + Duration::days(interval);
            Ok(Some(self.plan_session(
                w,
                &course,
                s.number.saturating_add(1),
                next,
            )?))
        } else {
            self.close_reminders(w, &course, ReminderKind::SessionDue)?;
            Ok(None)
        }
    }

    /// The required agenda steps not satisfied by `report`, in agenda order.
    fn missing_steps(
        &self,
        records: &ClientRecords,
        course: &Course,
        session: &Session,
        report: &SessionReport,
    ) -> Result<Vec<String>> {
        let area = course.problem_areas.first().map(|a| a.as_str());
        let first_middle = is_first_middle(records, course, session);
        let mut missing = Vec::new();
        let skipped = |id: &str| {
            report
                .steps_skipped
                .iter()
                .any(|k| k.step == id && !k.reason.trim().is_empty())
        };
        for step in self
            .agenda
            .required_steps(session.phase.as_str(), area, first_middle)?
        {
            if skipped(&step.id) {
                continue;
            }
            let done = report.steps_done.contains(&step.id);
            let evidence = match step.requires {
                None => true,
                Some(Evidence::Questionnaire) => records
                    .responses
                    .iter()
                    .any(|r| r.session_id == Some(session.id) && r.instrument == PHQ9),
                Some(Evidence::InventoryEntry) => {
                    records.inventory.iter().any(|e| e.course_id == course.id)
                }
                Some(Evidence::ProblemArea) => !course.problem_areas.is_empty(),
                Some(Evidence::PlannedSessions) => course.planned_sessions > 0,
                Some(Evidence::StrategyStep) => match area {
                    Some(a) => self
                        .agenda
                        .strategy_steps(a)?
                        .iter()
                        .any(|st| report.steps_done.contains(&st.id)),
                    None => false,
                },
                Some(Evidence::Task) => {
                    report.task.as_deref().is_some_and(|t| !t.trim().is_empty())
                }
                Some(Evidence::DisputeStage) => course.dispute_stage.is_some(),
                Some(Evidence::ReferralDecision) => true,
            };
            if !(done && evidence) {
                missing.push(step.id.clone());
            }
        }
        // Disputes: the stage must be recorded once the middle phase works on the dispute.
        if session.phase == Phase::Middle
            && course.problem_areas.contains(&ProblemArea::Disputes)
            && course.dispute_stage.is_none()
            && !skipped(agenda::DISPUTE_STAGE_STEP)
        {
            missing.push(agenda::DISPUTE_STAGE_STEP.to_string());
        }
        Ok(missing)
    }

    /// Record a whole session at once: questionnaires, problem area, inventory, timeline,
    /// risk assessment, then completion. Use inside one write transaction so that a refused
    /// session changes nothing.
    pub fn record_session(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        input: &SessionInput,
    ) -> Result<SessionOutcome> {
        let held_at = input.held_at.unwrap_or_else(|| w.now().naive_utc());
        let session =
            self.session_to_hold(w, course, held_at.date(), input.extension_reason.as_deref())?;
        if input.problem_area.is_some() || input.dispute_stage.is_some() {
            self.set_problem_area(w, course, input.problem_area, input.dispute_stage)?;
        }
        for person in &input.inventory {
            self.add_inventory(w, course, person)?;
        }
        for event in &input.timeline {
            self.add_timeline(w, course, event)?;
        }
        let mut phq9 = None;
        let mut risk_events = Vec::new();
        if let Some(values) = &input.phq9 {
            let out = self.record_response(w, session.id, PHQ9, values, held_at)?;
            risk_events.extend(out.risk_event);
            phq9 = Some(out.score);
        }
        if let Some(values) = &input.gad7 {
            self.record_response(w, session.id, "gad7", values, held_at)?;
        }
        if let Some(assessment) = &input.risk_assessment {
            let c = self.course(w, course)?;
            let records = self.load(w, c.client_id)?;
            let open: Vec<RiskEventId> = records.unassessed_risks().map(|r| r.id).collect();
            if open.is_empty() {
                return Err(ProtocolError::Invalid(
                    "a risk assessment was given but no risk event is open",
                ));
            }
            for id in open {
                self.assess_risk(w, id, assessment, held_at)?;
            }
        }
        let c = self.course(w, course)?;
        let records = self.load(w, c.client_id)?;
        let steps_done = match &input.steps_done {
            StepsDone::All(_) => self.agenda_for(&records, &c, &session)?,
            StepsDone::List(ids) => ids.clone(),
        };
        let report = SessionReport {
            held_at: Some(held_at),
            modality: input.modality,
            steps_done,
            steps_skipped: input.steps_skipped.clone(),
            notes: input.notes.clone(),
            task: input.task.clone(),
        };
        let next_session = self.complete_session(w, session.id, &report)?;
        Ok(SessionOutcome {
            session_id: session.id,
            number: session.number,
            phase: session.phase,
            phq9,
            risk_events,
            next_session,
        })
    }

    /// Record that the planned session was missed on `on`; a replacement is planned one
    /// interval later.
    pub fn miss_session(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        on: NaiveDate,
    ) -> Result<SessionId> {
        let c = self.active_course(w, course)?;
        let records = self.load(w, c.client_id)?;
        let Some(planned) = records.next_planned(course).cloned() else {
            return Err(ProtocolError::Invalid("no session is planned"));
        };
        w.update::<Session>(planned.id.as_uuid(), |s| {
            s.attendance = Some(Attendance::Missed);
            if s.planned_date.is_none_or(|d| d > on) {
                s.planned_date = Some(on);
            }
            Ok(())
        })?;
        let interval = i64::from(self.config.reminders.session_interval_days.value);
        self.plan_session(w, &c, planned.number, on + Duration::days(interval))
    }

    /// End the course with a reason. Unheld planned sessions are withdrawn; a completed course
    /// gets its follow-up reminders (by default after 1 and 3 months).
    pub fn end_course(
        &self,
        w: &mut Writer<'_>,
        course: CourseId,
        reason: EndReason,
        note: Option<&str>,
        on: NaiveDate,
    ) -> Result<()> {
        let c = self.active_course(w, course)?;
        let records = self.load(w, c.client_id)?;
        let unheld: Vec<SessionId> = records
            .sessions_of(course)
            .filter(|s| s.attendance.is_none() && !s.completed)
            .map(|s| s.id)
            .collect();
        for id in unheld {
            w.delete::<Session>(id.as_uuid())?;
        }
        self.close_reminders(w, &c, ReminderKind::SessionDue)?;
        let note = note.map(str::to_string);
        w.update::<Course>(course.as_uuid(), |c| {
            c.status = reason.status();
            c.end_reason = Some(reason);
            c.end_note = note;
            c.ended_on = Some(on);
            Ok(())
        })?;
        if reason == EndReason::Completed {
            for days in &self.config.reminders.follow_up_after_days.value {
                let reminder = Reminder {
                    id: ReminderId::new(),
                    client_id: c.client_id,
                    course_id: Some(c.id),
                    kind: ReminderKind::FollowUp,
                    due: on + Duration::days(i64::from(*days)),
                    status: ReminderStatus::Pending,
                };
                w.create(&reminder)?;
            }
        }
        Ok(())
    }
}

/// Whom and what a questionnaire response belongs to.
#[derive(Clone, Copy)]
struct Target {
    client: ClientId,
    context: ResponseContext,
    course: Option<CourseId>,
    session: Option<SessionId>,
}

/// The phase of session `number` of `planned`.
pub fn phase(number: u8, planned: u8) -> Result<Phase> {
    Ok(
        match agenda::phase_for(u32::from(number), u32::from(planned))? {
            agenda::INITIAL => Phase::Initial,
            agenda::TERMINATION => Phase::Termination,
            _ => Phase::Middle,
        },
    )
}

/// Whether `session` is the first middle session of the course (no task to review yet).
fn is_first_middle(records: &ClientRecords, course: &Course, session: &Session) -> bool {
    session.phase == Phase::Middle
        && !records
            .held(course.id)
            .iter()
            .any(|s| s.phase == Phase::Middle && s.id != session.id)
}
