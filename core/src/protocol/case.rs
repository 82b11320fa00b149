//! The derived view of one client: open flags with their reasons, the outcome against
//! baseline, the score trajectory (for a chart) and the next session's agenda. Derived from
//! the records on every read, so it is always consistent with what was synced.

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::instruments::{change, Change};
use crate::model::{
    Attendance, ClientId, CourseId, CourseStatus, ReferralStatus, ResponseContext, RiskEventId,
    RiskStatus, RiskTrigger, ScreeningOutcome,
};
use crate::protocol::engine::Protocol;
use crate::protocol::error::Result;
use crate::protocol::flags::Flag;
use crate::protocol::records::{answer, ClientRecords, PHQ9_ITEM9};

/// A raised flag and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlagHit {
    /// The flag.
    pub flag: Flag,
    /// Plain-words reason (scores, counts and dates; never personal text).
    pub reason: String,
}

/// One point of the score trajectory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScorePoint {
    /// Instrument id.
    pub instrument: String,
    /// Screening, session or follow-up.
    pub context: ResponseContext,
    /// Session number, for session scores.
    pub session: Option<u8>,
    /// Date administered.
    pub date: NaiveDate,
    /// Total score.
    pub total: u16,
    /// Band id.
    pub band: Option<String>,
}

/// Everything a worker or supervisor needs to know about one client right now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseView {
    /// The client.
    pub client_id: ClientId,
    /// The course shown (the active one, else the latest).
    pub course_id: Option<CourseId>,
    /// Its status (`None`: no course).
    pub status: Option<CourseStatus>,
    /// Sessions attended in the course.
    pub sessions_held: u32,
    /// Sessions planned.
    pub planned_sessions: Option<u8>,
    /// When the next session is planned.
    pub next_due: Option<NaiveDate>,
    /// Open flags, most urgent first.
    pub flags: Vec<FlagHit>,
    /// Risk events not closed.
    pub open_risk_events: Vec<RiskEventId>,
    /// Risk events still waiting for an assessment.
    pub unassessed_risk_events: Vec<RiskEventId>,
    /// PHQ-9 change against baseline.
    pub outcome: Option<Change>,
    /// Scores over time.
    pub trajectory: Vec<ScorePoint>,
    /// Agenda step ids of the next session.
    pub next_agenda: Vec<String>,
}

impl Protocol {
    /// Build the view of one client as of `today`.
    pub fn case_view(&self, rec: &ClientRecords, today: NaiveDate) -> Result<CaseView> {
        let course = rec.active_course().or(rec.latest_course());
        let held = course.map(|c| rec.held(c.id)).unwrap_or_default();
        let next = course
            .filter(|c| !c.status.is_ended())
            .and_then(|c| rec.next_planned(c.id));
        let outcome = course.and_then(|c| {
            let base = rec.baseline_phq9(c)?.total?;
            let latest = rec.latest_phq9()?.total?;
            Some(change(base, latest, &self.change_rules()))
        });
        let trajectory = rec
            .responses
            .iter()
            .filter_map(|r| {
                Some(ScorePoint {
                    instrument: r.instrument.clone(),
                    context: r.context,
                    session: r
                        .session_id
                        .and_then(|sid| rec.sessions.iter().find(|s| s.id == sid))
                        .map(|s| s.number),
                    date: r.administered_at.date(),
                    total: r.total?,
                    band: r.band.clone(),
                })
            })
            .collect();
        let next_agenda = match (course, next) {
            (Some(c), Some(s)) => self.agenda_for(rec, c, s)?,
            _ => Vec::new(),
        };
        let mut flags = self.flags(rec, today);
        flags.sort_by_key(|f| f.flag.urgency_rank());
        Ok(CaseView {
            client_id: rec.client.id,
            course_id: course.map(|c| c.id),
            status: course.map(|c| c.status),
            sessions_held: u32::try_from(held.len()).unwrap_or(u32::MAX),
            planned_sessions: course.map(|c| c.planned_sessions),
            next_due: next.and_then(|s| s.planned_date),
            flags,
            open_risk_events: rec
                .risks
                .iter()
                .filter(|r| r.status != RiskStatus::Closed)
                .map(|r| r.id)
                .collect(),
            unassessed_risk_events: rec.unassessed_risks().map(|r| r.id).collect(),
            outcome,
            trajectory,
            next_agenda,
        })
    }

    /// The flags raised for a client as of `today` (see `docs/clinical-sources.md`).
    pub fn flags(&self, rec: &ClientRecords, today: NaiveDate) -> Vec<FlagHit> {
        let cfg = &self.config;
        let mut hits = Vec::new();
        let mut hit = |flag: Flag, reason: String| hits.push(FlagHit { flag, reason });
        let latest = rec.latest_phq9();
        if let Some(r) = latest {
            if let Some(v) = answer(r, PHQ9_ITEM9) {
                if v > cfg.safety.item9_risk_threshold.value {
                    hit(
                        Flag::SelfHarmThoughts,
                        format!("PHQ-9 item 9 answered {v} on {}", r.administered_at.date()),
                    );
                }
            }
        }
        let concerns = rec
            .risks
            .iter()
            .filter(|r| r.trigger == RiskTrigger::WorkerConcern && r.status != RiskStatus::Closed)
            .count();
        if concerns > 0 {
            hit(
                Flag::RiskConcern,
                format!("{concerns} risk concern(s) raised by the worker and not closed"),
            );
        }
        if let Some(total) = latest.and_then(|r| r.total) {
            if total >= u16::from(cfg.safety.severe_symptoms_at.value) {
                hit(
                    Flag::SevereSymptoms,
                    format!(
                        "PHQ-9 total {total} (≥ {}): referral recommended",
                        cfg.safety.severe_symptoms_at.value
                    ),
                );
            }
        }
        if let Some(course) = rec.active_course() {
            let held = rec.held(course.id);
            if let (Some(base), Some(last)) = (rec.baseline_phq9(course), latest) {
                if let (Some(b), Some(l)) = (base.total, last.total) {
                    if base.id != last.id {
                        let worse = i32::from(l) - i32::from(b);
                        if worse >= i32::from(cfg.outcome.reliable_worsening_points.value) {
                            hit(
                                Flag::Worsening,
                                format!("PHQ-9 {l}, {worse} points above the baseline of {b}"),
                            );
                        }
                    }
                    let by = usize::from(cfg.no_response.by_session.value);
                    if held.len() >= by && b > 0 {
                        let improvement = (f64::from(b) - f64::from(l)) * 100.0 / f64::from(b);
                        let needed = f64::from(cfg.no_response.min_improvement_pct.value);
                        if improvement < needed {
                            let how = if improvement < 0.0 {
                                format!("PHQ-9 {:.0}% above the baseline", -improvement)
                            } else {
                                format!("{improvement:.0}% improvement")
                            };
                            hit(
                                Flag::NoResponse,
                                format!(
                                    "{how} after {} sessions (less than {needed:.0}% improvement)",
                                    held.len()
                                ),
                            );
                        }
                    }
                }
            }
            let recorded: Vec<Attendance> = rec
                .sessions_of(course.id)
                .filter_map(|s| s.attendance)
                .collect();
            let n = usize::from(cfg.missed_sessions.consecutive.value);
            if n > 0
                && recorded.len() >= n
                && recorded
                    .iter()
                    .rev()
                    .take(n)
                    .all(|a| *a == Attendance::Missed)
            {
                hit(
                    Flag::MissedSessions,
                    format!("the last {n} sessions were missed"),
                );
            }
            if let Some(due) = rec.next_planned(course.id).and_then(|s| s.planned_date) {
                let grace = i64::from(cfg.overdue.days_after_due.value);
                if today > due + Duration::days(grace) {
                    hit(
                        Flag::Overdue,
                        format!(
                            "session was due on {due}, {} days ago",
                            (today - due).num_days()
                        ),
                    );
                }
            }
        }
        let enrolled_after = |date: NaiveDate| rec.courses.iter().any(|c| c.enrolled_on >= date);
        if let Some(s) = rec.latest_screening() {
            match s.outcome {
                ScreeningOutcome::NotEligible if !enrolled_after(s.date) => hit(
                    Flag::NotEligible,
                    format!("screening on {} did not meet the entry threshold", s.date),
                ),
                ScreeningOutcome::Refer if !enrolled_after(s.date) => hit(
                    Flag::Refer,
                    format!("screening on {} recommends referral", s.date),
                ),
                _ => {}
            }
        }
        let pending = rec
            .referrals
            .iter()
            .filter(|r| r.status == ReferralStatus::Recommended)
            .count();
        if pending > 0 && !hits.iter().any(|h| h.flag == Flag::Refer) {
            hits.push(FlagHit {
                flag: Flag::Refer,
                reason: format!("{pending} referral(s) recommended and not yet made"),
            });
        }
        hits
    }
}
