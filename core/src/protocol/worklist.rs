//! The worker's worklist (clients by urgency, with the reasons) and the supervisor's review
//! queue (the cases a supervisor must see, with why).
//!
//! Worklist order: an unassessed risk event first, then any other open risk event, then by
//! the most urgent flag, then overdue, then due today, then by next due date and name.
//! Supervisor queue: every risk event not yet reviewed (a supervisor note linked to it marks
//! it reviewed), every flag the configuration sends to supervision, early drop-outs and
//! extensions beyond the plan.

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{ClientId, CourseStatus, RiskEventId, RiskStatus};
use crate::protocol::case::CaseView;
use crate::protocol::engine::Protocol;
use crate::protocol::error::Result;
use crate::protocol::records::ClientRecords;
use crate::store::Records;

/// One line of the worklist.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkItem {
    /// The client.
    pub client_id: ClientId,
    /// Display name.
    pub display_name: String,
    /// Village, if recorded.
    pub village: Option<String>,
    /// The session is due today.
    pub due_today: bool,
    /// The derived case view (flags, outcome, next agenda …).
    pub case: CaseView,
    /// Why the client is where they are in the list, most urgent first.
    pub reasons: Vec<String>,
}

/// Why a case is in the supervisor's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReviewReason {
    /// `risk_event`, a flag name, `early_dropout` or `extension`.
    pub kind: String,
    /// Plain words: dates, scores, counts.
    pub detail: String,
    /// The risk event, for `risk_event`.
    pub risk_event: Option<RiskEventId>,
}

/// One case for supervision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReviewItem {
    /// The client.
    pub client_id: ClientId,
    /// Display name.
    pub display_name: String,
    /// Why the supervisor must look, most urgent first.
    pub reasons: Vec<ReviewReason>,
}

impl Protocol {
    /// The worklist as of `today`.
    pub fn worklist(&self, r: &impl Records, today: NaiveDate) -> Result<Vec<WorkItem>> {
        let mut items = Vec::new();
        for rec in ClientRecords::load_all(r)? {
            let case = self.case_view(&rec, today)?;
            let due_today = case.next_due == Some(today);
            let mut reasons = Vec::new();
            if !case.unassessed_risk_events.is_empty() {
                reasons.push("risk event waiting for an assessment".to_string());
            } else if !case.open_risk_events.is_empty() {
                reasons.push("risk event open".to_string());
            }
            reasons.extend(
                case.flags
                    .iter()
                    .map(|f| format!("{}: {}", f.flag.as_str(), f.reason)),
            );
            if due_today {
                reasons.push("session due today".to_string());
            }
            items.push(WorkItem {
                client_id: rec.client.id,
                display_name: rec.client.display_name.clone(),
                village: rec.client.village.clone(),
                due_today,
                case,
                reasons,
            });
        }
        items.sort_by(|a, b| {
            urgency(a)
                .cmp(&urgency(b))
                .then_with(|| a.display_name.cmp(&b.display_name))
        });
        Ok(items)
    }

    /// The supervisor's review queue as of `today`.
    pub fn supervisor_queue(&self, r: &impl Records, today: NaiveDate) -> Result<Vec<ReviewItem>> {
        let sup = &self.config.supervision;
        let mut out = Vec::new();
        for rec in ClientRecords::load_all(r)? {
            let mut reasons = Vec::new();
            for risk in rec.risks.iter().filter(|x| x.status != RiskStatus::Closed) {
                let reviewed = rec.notes.iter().any(|n| n.risk_event == Some(risk.id));
                if !reviewed {
                    let state = if risk.assessment.is_some() {
                        "assessed"
                    } else {
                        "NOT yet assessed"
                    };
                    reasons.push(ReviewReason {
                        kind: "risk_event".into(),
                        detail: format!(
                            "{} on {}, {state}",
                            match risk.trigger {
                                crate::model::RiskTrigger::Phq9Item9 => "PHQ-9 item 9 above 0",
                                crate::model::RiskTrigger::WorkerConcern => "worker concern",
                            },
                            risk.opened_at.date()
                        ),
                        risk_event: Some(risk.id),
                    });
                }
            }
            let mut flags = self.flags(&rec, today);
            flags.sort_by_key(|f| f.flag.urgency_rank());
            for f in flags {
                if self.config.needs_supervisor(f.flag) {
                    reasons.push(ReviewReason {
                        kind: f.flag.as_str().into(),
                        detail: f.reason,
                        risk_event: None,
                    });
                }
            }
            for course in &rec.courses {
                let noted_after =
                    |d: NaiveDate| rec.notes.iter().any(|n| n.written_at.date_naive() >= d);
                if sup.early_dropout.value && course.status == CourseStatus::DroppedOut {
                    if let Some(ended) = course.ended_on {
                        if !noted_after(ended) {
                            let held = rec.held(course.id).len();
                            reasons.push(ReviewReason {
                                kind: "early_dropout".into(),
                                detail: format!("dropped out on {ended} after {held} session(s)"),
                                risk_event: None,
                            });
                        }
                    }
                }
                if sup.extension_requests.value
                    && course.extension_reason.is_some()
                    && !course.status.is_ended()
                {
                    reasons.push(ReviewReason {
                        kind: "extension".into(),
                        detail: format!("extended to {} sessions", course.planned_sessions),
                        risk_event: None,
                    });
                }
            }
            if !reasons.is_empty() {
                out.push(ReviewItem {
                    client_id: rec.client.id,
                    display_name: rec.client.display_name.clone(),
                    reasons,
                });
            }
        }
        // A risk event still waiting for its assessment first, then other risk events, then
        // the rest; by name within each group.
        out.sort_by_key(|i| {
            let unassessed = i
                .reasons
                .iter()
                .any(|r| r.kind == "risk_event" && r.detail.contains("NOT yet assessed"));
            let risk = i.reasons.iter().any(|r| r.kind == "risk_event");
            (!unassessed, !risk, i.display_name.clone())
        });
        Ok(out)
    }
}

fn urgency(item: &WorkItem) -> (u8, u8, bool, bool, Option<NaiveDate>) {
    let c = &item.case;
    let risk = if !c.unassessed_risk_events.is_empty() {
        0
    } else if !c.open_risk_events.is_empty() {
        1
    } else {
        2
    };
    let flag = c
        .flags
        .iter()
        .map(|f| f.flag.urgency_rank())
        .min()
        .unwrap_or(u8::MAX);
    let overdue = c
        .flags
        .iter()
        .any(|f| f.flag == crate::protocol::flags::Flag::Overdue);
    // `false` sorts first: overdue, then due today, then the rest by date.
    (
        risk,
        flag,
        !overdue,
        !item.due_today,
        c.next_due.or(Some(NaiveDate::MAX)),
    )
}
