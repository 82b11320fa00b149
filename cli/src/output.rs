//! How results are shown: aligned plain-text tables, the caseload as a table or as JSON, the
//! worklist and the supervisor's queue with their reasons, and small number and date formats. No colour codes: the output is for terminals, files and
//! scripts alike.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use ipc_core::model::CourseStatus;
use ipc_core::protocol::flags::Flag;
use ipc_core::protocol::worklist::{ReviewItem, WorkItem};
use ipc_core::store::CaseloadRow;

/// Longest client name shown in a table (longer ones are cut with `…`).
const NAME_WIDTH: usize = 24;
/// Longest village shown in a table.
const VILLAGE_WIDTH: usize = 16;

/// Render rows under a header, columns left-aligned and separated by two spaces; trailing
/// spaces are trimmed. Widths count characters.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = w.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` cut to `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` followed by `singular` or `plural`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// Width the labelled summary lines wrap at.
pub const LINE_WIDTH: usize = 100;

/// `label` padded to 9 columns, then `items` joined by `; `, wrapped at [`LINE_WIDTH`] with
/// continuation lines indented under the first item.
pub fn labelled(label: &str, items: &[String]) -> String {
    hanging(&format!("{label:<9}"), items)
}

/// `prefix`, then `items` joined by `; `, wrapped at [`LINE_WIDTH`] with continuation lines
/// indented to the width of `prefix`. An item longer than a line is not cut.
fn hanging(prefix: &str, items: &[String]) -> String {
    let indent = prefix.chars().count();
    let mut out = prefix.to_owned();
    let mut width = indent;
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item};")
        } else {
            item.clone()
        };
        let len = piece.chars().count();
        if i > 0 {
            if width + 1 + len > LINE_WIDTH {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                width = indent;
            } else {
                out.push(' ');
                width += 1;
            }
        }
        out.push_str(&piece);
        width += len;
    }
    out.push('\n');
    out
}

/// The status of a caseload row in words: the course status, or `registered` when the client
/// has no course yet.
pub fn status_text(status: Option<CourseStatus>) -> &'static str {
    status.map_or("registered", CourseStatus::as_str)
}

/// The next planned session that still matters (none once the course has ended).
fn next_session(row: &CaseloadRow) -> Option<NaiveDate> {
    if row.status.is_some_and(CourseStatus::is_ended) {
        None
    } else {
        row.next_planned
    }
}

/// Sort for a worker's eye: clients with open risk events first, then by the next planned
/// session (soonest first, none last), then by name.
pub fn sort_caseload(rows: &mut [CaseloadRow]) {
    rows.sort_by(|a, b| {
        (b.open_risk_events > 0)
            .cmp(&(a.open_risk_events > 0))
            .then_with(|| match (next_session(a), next_session(b)) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.display_name.cmp(&b.display_name))
    });
}

/// The caseload as an aligned table (rows in the order given).
pub fn caseload_table(rows: &[CaseloadRow], today: NaiveDate) -> String {
    let header = [
        "CLIENT",
        "VILLAGE",
        "STATUS",
        "SESSIONS",
        "LAST HELD",
        "NEXT SESSION",
        "RISK",
    ];
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let next = next_session(r).map_or_else(
                || "-".to_owned(),
                |d| match d.cmp(&today) {
                    std::cmp::Ordering::Less => format!("{d} overdue"),
                    std::cmp::Ordering::Equal => format!("{d} today"),
                    std::cmp::Ordering::Greater => d.to_string(),
                },
            );
            vec![
                truncate(&r.display_name, NAME_WIDTH),
                truncate(r.village.as_deref().unwrap_or("-"), VILLAGE_WIDTH),
                status_text(r.status).replace('_', " "),
                r.planned_sessions
                    .map_or_else(|| "-".to_owned(), |p| format!("{}/{p}", r.sessions_held)),
                r.last_held
                    .map_or_else(|| "-".to_owned(), |t| t.date().to_string()),
                next,
                if r.open_risk_events > 0 {
                    format!("{} OPEN", r.open_risk_events)
                } else {
                    "-".to_owned()
                },
            ]
        })
        .collect();
    table(&header, &lines)
}

/// A reason as shown to people: a leading snake_case name (a flag, a review kind) in words,
/// e.g. `no_response: 10% …` → `no response: 10% …`.
pub fn reason_text(reason: &str) -> String {
    match reason.split_once(": ") {
        Some((head, tail))
            if !head.is_empty() && head.chars().all(|c| c.is_ascii_lowercase() || c == '_') =>
        {
            format!("{}: {tail}", head.replace('_', " "))
        }
        _ => reason.to_owned(),
    }
}

/// Rows of fixed columns followed by a wrapped list of reasons, under a header whose last
/// column names the reasons.
fn reasons_table(header: &[&str], rows: &[(Vec<String>, Vec<String>)]) -> String {
    let fixed = header.len().saturating_sub(1);
    let mut widths: Vec<usize> = header[..fixed].iter().map(|h| h.chars().count()).collect();
    for (cells, _) in rows {
        for (w, cell) in widths.iter_mut().zip(cells) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let pad = |cells: &[String]| {
        let mut line = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            line.push_str(cell);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()) + 2,
            ));
        }
        line
    };
    let head: Vec<String> = header[..fixed].iter().map(|h| (*h).to_owned()).collect();
    let mut out = pad(&head);
    out.push_str(header.last().copied().unwrap_or_default());
    out.push('\n');
    for (cells, reasons) in rows {
        out.push_str(&hanging(&pad(cells), reasons));
    }
    out
}

/// Where a worklist client stands: the course status, else what the screening decided (from
/// its flags), else `registered`.
fn work_status(item: &WorkItem) -> String {
    let has = |flag: Flag| item.case.flags.iter().any(|f| f.flag == flag);
    match item.case.status {
        Some(s) => s.as_str().replace('_', " "),
        None if has(Flag::Refer) => "refer".to_owned(),
        None if has(Flag::NotEligible) => "not eligible".to_owned(),
        None => "registered".to_owned(),
    }
}

/// The worklist items that need something done (those with a reason), most urgent first:
/// client, course status, and why.
pub fn worklist_table(items: &[WorkItem]) -> String {
    let rows: Vec<(Vec<String>, Vec<String>)> = items
        .iter()
        .filter(|i| !i.reasons.is_empty())
        .map(|i| {
            (
                vec![truncate(&i.display_name, NAME_WIDTH), work_status(i)],
                i.reasons.iter().map(|r| reason_text(r)).collect(),
            )
        })
        .collect();
    reasons_table(&["CLIENT", "STATUS", "WHY"], &rows)
}

/// The supervisor's queue: client and why, most urgent first.
pub fn supervisor_table(items: &[ReviewItem]) -> String {
    let rows: Vec<(Vec<String>, Vec<String>)> = items
        .iter()
        .map(|i| {
            (
                vec![truncate(&i.display_name, NAME_WIDTH)],
                i.reasons
                    .iter()
                    .map(|r| format!("{}: {}", r.kind.replace('_', " "), r.detail))
                    .collect(),
            )
        })
        .collect();
    reasons_table(&["CLIENT", "WHY"], &rows)
}

/// The one-line summary under the caseload table.
pub fn caseload_summary(rows: &[CaseloadRow], outbox: u64) -> String {
    let risky = rows.iter().filter(|r| r.open_risk_events > 0).count();
    let ops = usize::try_from(outbox).unwrap_or(usize::MAX);
    format!(
        "{}, {} with open risk events, {} waiting to sync",
        count(rows.len(), "client", "clients"),
        risky,
        count(ops, "operation", "operations")
    )
}

/// One client in `ipc caseload --json`.
#[derive(Debug, Serialize)]
struct CaseloadJson<'a> {
    client_id: String,
    display_name: &'a str,
    village: Option<&'a str>,
    status: &'static str,
    planned_sessions: Option<u8>,
    sessions_held: u32,
    last_held: Option<NaiveDateTime>,
    next_planned: Option<NaiveDate>,
    open_risk_events: u32,
}

/// The caseload as a pretty-printed JSON array.
pub fn caseload_json(rows: &[CaseloadRow]) -> Result<String, serde_json::Error> {
    let items: Vec<CaseloadJson<'_>> = rows
        .iter()
        .map(|r| CaseloadJson {
            client_id: r.client_id.to_string(),
            display_name: &r.display_name,
            village: r.village.as_deref(),
            status: status_text(r.status),
            planned_sessions: r.planned_sessions,
            sessions_held: r.sessions_held,
            last_held: r.last_held,
            next_planned: r.next_planned,
            open_risk_events: r.open_risk_events,
        })
        .collect();
    serde_json::to_string_pretty(&items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_core::model::{ClientId, CourseId};

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn row(name: &str, status: Option<CourseStatus>, next: Option<u32>, risks: u32) -> CaseloadRow {
        CaseloadRow {
            client_id: ClientId::new(),
            display_name: name.to_owned(),
            village: Some("Village ZQX".to_owned()),
            course_id: status.map(|_| CourseId::new()),
            status,
            planned_sessions: status.map(|_| 6),
            sessions_held: 2,
            last_held: status.map(|_| date(3).and_hms_opt(10, 0, 0).unwrap()),
            next_planned: next.map(date),
            open_risk_events: risks,
        }
    }

    #[test]
    fn sort_puts_risk_first_then_next_session() {
        let mut rows = vec![
            row("B", Some(CourseStatus::Middle), Some(12), 0),
            row("A", None, None, 0),
            row("C", Some(CourseStatus::Middle), Some(11), 0),
            row("D", Some(CourseStatus::Middle), Some(20), 1),
            row("E", Some(CourseStatus::DroppedOut), Some(1), 0),
        ];
        sort_caseload(&mut rows);
        let names: Vec<_> = rows.iter().map(|r| r.display_name.as_str()).collect();
        assert_eq!(names, ["D", "C", "B", "A", "E"]);
    }

    #[test]
    fn table_is_aligned_and_marks_overdue_and_risk() {
        let rows = vec![
            row("Achieng Odhiambo", Some(CourseStatus::Middle), Some(9), 1),
            row(&"N".repeat(40), None, None, 0),
            row("E", Some(CourseStatus::DroppedOut), Some(1), 0),
        ];
        let text = caseload_table(&rows, date(10));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("CLIENT"));
        let col = lines[0].find("STATUS").unwrap();
        assert_eq!(&lines[1][col..col + 6], "middle");
        assert!(lines[1].contains("2026-03-09 overdue"));
        assert!(lines[1].ends_with("1 OPEN"));
        assert!(lines[2].contains(&format!("{}…", "N".repeat(23))));
        assert!(lines[2].contains("registered"));
        assert!(lines[3].contains("dropped out"), "{}", lines[3]);
        assert!(
            !lines[3].contains("2026-03-01"),
            "no next session once ended"
        );
    }

    #[test]
    fn json_has_the_documented_fields() {
        let rows = vec![row("Achieng", None, None, 0)];
        let v: serde_json::Value = serde_json::from_str(&caseload_json(&rows).unwrap()).unwrap();
        let obj = v[0].as_object().unwrap();
        let mut keys: Vec<_> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "client_id",
                "display_name",
                "last_held",
                "next_planned",
                "open_risk_events",
                "planned_sessions",
                "sessions_held",
                "status",
                "village"
            ]
        );
        assert_eq!(obj["status"], "registered");
    }

    #[test]
    fn labelled_lines_wrap_under_the_first_item() {
        let items: Vec<String> = (0..30).map(|i| format!("{i} things")).collect();
        let text = labelled("records", &items);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 1);
        assert!(lines[0].starts_with("records  0 things; 1 things;"));
        for l in &lines {
            assert!(l.chars().count() <= LINE_WIDTH, "{l}");
        }
        assert!(lines[1].starts_with("         ") && !lines[1].starts_with("          "));
        assert!(text.ends_with("29 things\n"));
        assert_eq!(labelled("x", &["one".to_owned()]), "x        one\n");
    }

    #[test]
    fn reasons_read_as_words_and_wrap_under_their_column() {
        assert_eq!(
            reason_text("no_response: 10% improvement"),
            "no response: 10% improvement"
        );
        assert_eq!(
            reason_text("risk event waiting for an assessment"),
            "risk event waiting for an assessment"
        );
        assert_eq!(reason_text("Odd: text"), "Odd: text");
        let rows = vec![
            (
                vec!["Achieng Odhiambo".to_owned(), "middle".to_owned()],
                (0..12)
                    .map(|i| format!("reason number {i}"))
                    .collect::<Vec<_>>(),
            ),
            (
                vec!["B".to_owned(), "initial".to_owned()],
                vec!["session due today".to_owned()],
            ),
        ];
        let text = reasons_table(&["CLIENT", "STATUS", "WHY"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CLIENT            STATUS   WHY");
        assert!(lines[1].starts_with("Achieng Odhiambo  middle   reason number 0; "));
        assert!(lines[2].starts_with(&" ".repeat(27)) && !lines[2].starts_with(&" ".repeat(28)));
        assert_eq!(
            lines.last().unwrap(),
            &"B                 initial  session due today"
        );
        for l in &lines {
            assert!(l.chars().count() <= LINE_WIDTH, "{l}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(1, "client", "clients"), "1 client");
        assert_eq!(count(0, "client", "clients"), "0 clients");
        let rows = vec![row("A", None, None, 1)];
        assert_eq!(
            caseload_summary(&rows, 1),
            "1 client, 1 with open risk events, 1 operation waiting to sync"
        );
    }
}
