//! Everything recorded about one client, loaded in one go, with the derived facts the rules
//! need: the active course, its sessions in order, the PHQ-9 baseline and latest score, open
//! risk events. Pure functions over loaded records, so the rules can be tested without a
//! database and evaluated identically inside a read or a write transaction.

use std::collections::BTreeMap;

use crate::model::{
    Attendance, Client, ClientId, Course, CourseId, InventoryEntry, QuestionnaireResponse,
    Referral, Reminder, ResponseContext, RiskEvent, RiskStatus, Screening, Session, SupervisorNote,
    TimelineEvent,
};
use crate::store::{Filter, Records, Result};

/// The PHQ-9 instrument id.
pub const PHQ9: &str = "phq9";
/// The PHQ-2 instrument id.
pub const PHQ2: &str = "phq2";
/// PHQ-9 item 9 (thoughts of self-harm).
pub const PHQ9_ITEM9: &str = "phq9_9";

/// One client's records.
#[derive(Clone, Debug)]
pub struct ClientRecords {
    /// The client.
    pub client: Client,
    /// Screenings, oldest first.
    pub screenings: Vec<Screening>,
    /// Questionnaire responses, oldest first.
    pub responses: Vec<QuestionnaireResponse>,
    /// Courses, oldest first.
    pub courses: Vec<Course>,
    /// Sessions of all courses, oldest first.
    pub sessions: Vec<Session>,
    /// Inventory entries.
    pub inventory: Vec<InventoryEntry>,
    /// Timeline events.
    pub timeline: Vec<TimelineEvent>,
    /// Risk events, oldest first.
    pub risks: Vec<RiskEvent>,
    /// Referrals.
    pub referrals: Vec<Referral>,
    /// Supervisor notes.
    pub notes: Vec<SupervisorNote>,
    /// Reminders.
    pub reminders: Vec<Reminder>,
}

impl ClientRecords {
    /// Load everything about `client`; `None` if the client does not exist.
    pub fn load(r: &impl Records, client: ClientId) -> Result<Option<ClientRecords>> {
        let Some(c) = r.get::<Client>(client.as_uuid())? else {
            return Ok(None);
        };
        let f = Filter::Client(client);
        let mut rec = ClientRecords {
            client: c,
            screenings: r.list(f)?,
            responses: r.list(f)?,
            courses: r.list(f)?,
            sessions: r.list(f)?,
            inventory: r.list(f)?,
            timeline: r.list(f)?,
            risks: r.list(f)?,
            referrals: r.list(f)?,
            notes: r.list(f)?,
            reminders: r.list(f)?,
        };
        rec.sort();
        Ok(Some(rec))
    }

    /// Load every client's records (for the worklist), grouping one query per kind.
    pub fn load_all(r: &impl Records) -> Result<Vec<ClientRecords>> {
        let mut by_client: BTreeMap<ClientId, ClientRecords> = r
            .list::<Client>(Filter::All)?
            .into_iter()
            .map(|c| (c.id, ClientRecords::empty(c)))
            .collect();
        macro_rules! group {
            ($field:ident) => {
                for x in r.list(Filter::All)? {
                    if let Some(rec) = by_client.get_mut(&owner(&x)) {
                        rec.$field.push(x);
                    }
                }
            };
        }
        group!(screenings);
        group!(responses);
        group!(courses);
        group!(sessions);
        group!(inventory);
        group!(timeline);
        group!(risks);
        group!(referrals);
        group!(notes);
        group!(reminders);
        let mut out: Vec<ClientRecords> = by_client.into_values().collect();
        for rec in &mut out {
            rec.sort();
        }
        Ok(out)
    }

    fn empty(client: Client) -> ClientRecords {
        ClientRecords {
            client,
            screenings: Vec::new(),
            responses: Vec::new(),
            courses: Vec::new(),
            sessions: Vec::new(),
            inventory: Vec::new(),
            timeline: Vec::new(),
            risks: Vec::new(),
            referrals: Vec::new(),
            notes: Vec::new(),
            reminders: Vec::new(),
        }
    }

    fn sort(&mut self) {
        self.screenings.sort_by_key(|s| (s.date, s.id));
        self.responses.sort_by_key(|r| (r.administered_at, r.id));
        self.courses.sort_by_key(|c| (c.enrolled_on, c.id));
        self.sessions.sort_by_key(|s| {
            (
                s.number,
                s.held_at.map(|h| h.date()).or(s.planned_date),
                s.id,
            )
        });
        self.risks.sort_by_key(|r| (r.opened_at, r.id));
    }

    /// The course that has not ended, if any.
    pub fn active_course(&self) -> Option<&Course> {
        self.courses.iter().rev().find(|c| !c.status.is_ended())
    }

    /// The most recent course, ended or not.
    pub fn latest_course(&self) -> Option<&Course> {
        self.courses.last()
    }

    /// The sessions of `course`, in order.
    pub fn sessions_of(&self, course: CourseId) -> impl Iterator<Item = &Session> {
        self.sessions.iter().filter(move |s| s.course_id == course)
    }

    /// Sessions of `course` held (attended and completed).
    pub fn held(&self, course: CourseId) -> Vec<&Session> {
        self.sessions_of(course)
            .filter(|s| s.completed && s.attendance == Some(Attendance::Attended))
            .collect()
    }

    /// The session of `course` waiting to be held (planned, no attendance recorded).
    pub fn next_planned(&self, course: CourseId) -> Option<&Session> {
        self.sessions_of(course)
            .filter(|s| s.attendance.is_none() && !s.completed)
            .min_by_key(|s| (s.number, s.planned_date))
    }

    /// The most recent screening.
    pub fn latest_screening(&self) -> Option<&Screening> {
        self.screenings.last()
    }

    /// PHQ-9 responses, oldest first.
    pub fn phq9s(&self) -> impl Iterator<Item = &QuestionnaireResponse> {
        self.responses
            .iter()
            .filter(|r| r.instrument == PHQ9 && r.total.is_some())
    }

    /// The most recent PHQ-9.
    pub fn latest_phq9(&self) -> Option<&QuestionnaireResponse> {
        self.phq9s().last()
    }

    /// The baseline PHQ-9 of `course`: the last screening PHQ-9 on or before enrolment, else
    /// the first PHQ-9 recorded in the course.
    pub fn baseline_phq9(&self, course: &Course) -> Option<&QuestionnaireResponse> {
        let screening = self
            .phq9s()
            .filter(|r| {
                r.context == ResponseContext::Screening
                    && r.administered_at.date() <= course.enrolled_on
            })
            .last();
        screening.or_else(|| self.phq9s().find(|r| r.course_id == Some(course.id)))
    }

    /// Risk events still waiting for an assessment.
    pub fn unassessed_risks(&self) -> impl Iterator<Item = &RiskEvent> {
        self.risks
            .iter()
            .filter(|r| r.status == RiskStatus::Open && r.assessment.is_none())
    }
}

/// The value of `item` in a response, if answered.
pub fn answer(response: &QuestionnaireResponse, item: &str) -> Option<u8> {
    response
        .answers
        .iter()
        .find(|a| a.item == item)
        .map(|a| a.value)
}

trait Owned {
    fn owner(&self) -> ClientId;
}

macro_rules! owned {
    ($($t:ty),*) => {$(
        impl Owned for $t {
            fn owner(&self) -> ClientId {
                self.client_id
            }
        }
    )*};
}

owned!(
    Screening,
    QuestionnaireResponse,
    Course,
    Session,
    InventoryEntry,
    TimelineEvent,
    RiskEvent,
    Referral,
    SupervisorNote,
    Reminder
);

fn owner<T: Owned>(x: &T) -> ClientId {
    x.owner()
}
