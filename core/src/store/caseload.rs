//! The caseload query: every live client with their latest course, sessions held, the next
//! planned session and open risk events — one SQL statement over indexed clear columns, with
//! only the name and village decrypted per client.

use chrono::{NaiveDate, NaiveDateTime};
use rusqlite::Connection;
use serde::Serialize;

use crate::model::{ClientId, CourseId, CourseStatus};
use crate::store::crypto::FieldCipher;
use crate::store::error::{Result, StoreError};
use crate::store::record::{decode, row_uuid};
use crate::store::spec::spec;
use crate::sync::op::EntityKind;

/// One line of the caseload.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseloadRow {
    /// The client.
    pub client_id: ClientId,
    /// Display name (decrypted).
    pub display_name: String,
    /// Village (decrypted), if recorded.
    pub village: Option<String>,
    /// The latest course, if any.
    pub course_id: Option<CourseId>,
    /// Its status (`None`: registered, no course yet).
    pub status: Option<CourseStatus>,
    /// Sessions planned in the latest course.
    pub planned_sessions: Option<u8>,
    /// Sessions attended in the latest course.
    pub sessions_held: u32,
    /// When the last attended session was held.
    pub last_held: Option<NaiveDateTime>,
    /// The earliest planned date of a session not yet completed.
    pub next_planned: Option<NaiveDate>,
    /// Risk events still open for the client.
    pub open_risk_events: u32,
}

const SQL: &str = "
SELECT c.id, c.display_name, c.village, co.id, co.status, co.planned_sessions,
  (SELECT count(*) FROM sessions s WHERE s.course_id = co.id AND s._created IS NOT NULL
     AND s._deleted IS NULL AND s.attendance = 'attended'),
  (SELECT max(s.held_at) FROM sessions s WHERE s.course_id = co.id AND s._created IS NOT NULL
     AND s._deleted IS NULL AND s.attendance = 'attended'),
  (SELECT min(s.planned_date) FROM sessions s WHERE s.course_id = co.id AND s._created IS NOT NULL
     AND s._deleted IS NULL AND s.completed = 0 AND s.attendance IS NULL
     AND co.status NOT IN ('completed', 'referred', 'dropped_out', 'moved', 'died')),
  (SELECT count(*) FROM risk_events r WHERE r.client_id = c.id AND r._created IS NOT NULL
     AND r._deleted IS NULL AND r.status = 'open')
FROM clients c
LEFT JOIN courses co ON co.id = (
  SELECT x.id FROM courses x WHERE x.client_id = c.id AND x._created IS NOT NULL
    AND x._deleted IS NULL ORDER BY x.enrolled_on DESC, x.id DESC LIMIT 1)
WHERE c._created IS NOT NULL AND c._deleted IS NULL
ORDER BY c.id";

/// Load the caseload.
pub fn load(conn: &Connection, cipher: &FieldCipher) -> Result<Vec<CaseloadRow>> {
    let clients = spec(EntityKind::Client);
    let (Some(name_col), Some(village_col)) =
        (clients.column("display_name"), clients.column("village"))
    else {
        return Err(StoreError::Decode("client columns"));
    };
    let mut stmt = conn.prepare_cached(SQL)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let uuid = row_uuid(&id)?;
        let name = decode(cipher, clients, name_col, &uuid, row.get_ref(1)?)?;
        let village = decode(cipher, clients, village_col, &uuid, row.get_ref(2)?)?;
        let course: Option<String> = row.get(3)?;
        let status: Option<String> = row.get(4)?;
        let planned: Option<i64> = row.get(5)?;
        let held: i64 = row.get(6)?;
        let last_held: Option<String> = row.get(7)?;
        let next: Option<String> = row.get(8)?;
        let risks: i64 = row.get(9)?;
        out.push(CaseloadRow {
            client_id: ClientId::from_uuid(uuid),
            display_name: name.as_str().unwrap_or_default().to_string(),
            village: village.as_str().map(str::to_string),
            course_id: course
                .map(|c| row_uuid(&c).map(CourseId::from_uuid))
                .transpose()?,
            status: status
                .map(|s| CourseStatus::parse(&s).map_err(|_| StoreError::Decode("course status")))
                .transpose()?,
            planned_sessions: planned.and_then(|p| u8::try_from(p).ok()),
            sessions_held: u32::try_from(held).unwrap_or(0),
            last_held: last_held
                .map(|s| s.parse().map_err(|_| StoreError::Decode("held_at")))
                .transpose()?,
            next_planned: next
                .map(|s| s.parse().map_err(|_| StoreError::Decode("planned_date")))
                .transpose()?,
            open_risk_events: u32::try_from(risks).unwrap_or(0),
        });
    }
    Ok(out)
}
