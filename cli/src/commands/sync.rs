//! `ipc enrol` and `ipc sync`: the device side of sync over HTTP. Enrolment trades a one-time
//! code for a device token (kept encrypted in the store); a sync pushes the outbox and pulls
//! what the device may see, then reports exactly what happened. An unreachable server exits
//! 5, a refusal 6, each with the reason and what was done before; an interrupted sync is
//! never reported as complete.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use ipc_core::store::{Enrolment, Store};
use ipc_core::sync::engine::{
    Progress, SyncConfig, SyncEngine, SyncError, SyncPhase, SyncReport, Transport, TransportError,
};
use ipc_core::sync::http::UreqTransport;

use crate::args::{EnrolArgs, SyncArgs};
use crate::commands::emit;
use crate::error::CliError;
use crate::output::count;
use crate::store_access::{open, unlock};

/// Per-request timeout of the HTTP transport.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(20);

/// The server's base URL without a trailing slash, if it is an http(s) URL.
pub fn server_url(text: &str) -> Result<String, CliError> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url.to_owned()),
        _ => Err(CliError::Usage(
            "--server must be an http:// or https:// URL, e.g. http://127.0.0.1:8080".to_owned(),
        )),
    }
}

fn transport_detail(e: &TransportError) -> String {
    match e {
        TransportError::Unreachable(s) => s.clone(),
        TransportError::Timeout => "no answer in time".to_owned(),
        TransportError::Io(s) => format!("the connection failed ({s})"),
    }
}

/// What was done before a sync stopped, as the tail of an error line.
fn done_text(done: Option<&SyncReport>) -> String {
    match done {
        Some(d) if d.pushed + d.acknowledged + d.pulled + d.quarantined > 0 => format!(
            "; before stopping: {} pushed, {} acknowledged, {} pulled, {} quarantined; \
             run `ipc sync` again to finish",
            d.pushed, d.acknowledged, d.pulled, d.quarantined
        ),
        _ => "; nothing was exchanged".to_owned(),
    }
}

/// Enrol `store` (unlocked) with the server at `server` (a base URL from [`server_url`])
/// using `code`, over `transport`, and save the enrolment. Returns the server's answer.
pub fn enrol_over(
    store: &Store,
    transport: &dyn Transport,
    server: &str,
    code: &str,
) -> Result<Enrolment, CliError> {
    ipc_core::sync::enrol::enrol(store, transport, server, code).map_err(|e| {
        match sync_error(e, server) {
            CliError::Unreachable { url, detail, .. } => CliError::Unreachable {
                url,
                detail,
                done: "; not enrolled".to_owned(),
            },
            CliError::Refused { code, message, .. } => CliError::Refused {
                what: "the enrolment",
                code,
                message,
                done: "; not enrolled".to_owned(),
            },
            other => other,
        }
    })
}

/// Run `ipc enrol`.
pub fn enrol(args: &EnrolArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let server = server_url(&args.server)?;
    if args.code.trim().is_empty() {
        return Err(CliError::Usage("--code is empty".to_owned()));
    }
    let store = open(&args.db)?;
    if let Some(e) = store.enrolment()? {
        return Err(CliError::AlreadyEnrolled {
            server: e.server,
            worker: e.worker_id.to_string(),
        });
    }
    unlock(&store)?;
    let transport = UreqTransport::new(&server, HTTP_TIMEOUT);
    let reply = enrol_over(&store, &transport, &server, &args.code)?;
    let device = store.identity().device_id;
    store.lock()?;
    emit(
        out,
        &format!(
            "Enrolled with {server}.\n\
             \x20 worker  {}\n\
             \x20 role    {}\n\
             \x20 team    {}\n\
             \x20 device  {}\n\
             Run `ipc sync --db {}` to send and receive records.\n",
            reply.worker_id,
            reply.role.as_str(),
            reply.team,
            device,
            args.db.display()
        ),
    )
}

/// A sync failure as a CLI error (exit 5 for the network, 6 for a refusal).
pub fn sync_error(e: SyncError, url: &str) -> CliError {
    let done = done_text(e.done());
    match e {
        SyncError::NotEnrolled => CliError::NotEnrolled,
        SyncError::Store(s) => CliError::Store(s),
        SyncError::Network { attempts, last, .. } => CliError::Unreachable {
            url: url.to_owned(),
            detail: format!(
                "{} (after {})",
                transport_detail(&last),
                count(
                    usize::try_from(attempts).unwrap_or(usize::MAX),
                    "attempt",
                    "attempts"
                )
            ),
            done,
        },
        SyncError::Unauthorized { code, message, .. } => CliError::Refused {
            what: "this device",
            code: code.to_owned(),
            message,
            done,
        },
        SyncError::Refused { code, message, .. } => CliError::Refused {
            what: "the sync",
            code: code.to_owned(),
            message,
            done,
        },
        SyncError::BadReply { source, .. } => CliError::Refused {
            what: "the sync",
            code: "bad_reply".to_owned(),
            message: format!("the server's reply could not be read: {source}"),
            done,
        },
    }
}

/// The readable report of a finished sync.
pub fn report_text(store: &Store, report: &SyncReport, url: &str) -> Result<String, CliError> {
    let mut t = if report.complete {
        format!("sync complete with {url}\n")
    } else {
        format!("sync incomplete with {url}: operations are still waiting; run `ipc sync` again\n")
    };
    t.push_str(&format!(
        "  pushed {} ({} acknowledged), pulled {}, {}\n",
        report.pushed,
        report.acknowledged,
        report.pulled,
        count(
            usize::try_from(report.rounds).unwrap_or(usize::MAX),
            "round trip",
            "round trips"
        )
    ));
    if report.removed > 0 {
        t.push_str(&format!(
            "  {} reassigned to another worker and removed from this device\n",
            count(
                usize::try_from(report.removed).unwrap_or(usize::MAX),
                "client",
                "clients"
            )
        ));
    }
    if report.rejected_remote > 0 {
        t.push_str(&format!(
            "  {} received could not be applied here (skipped)\n",
            count(
                usize::try_from(report.rejected_remote).unwrap_or(usize::MAX),
                "operation",
                "operations"
            )
        ));
    }
    if report.wiped {
        t.push_str("device revoked: local data wiped\n");
    } else {
        let quarantined = store.quarantined()?;
        if !quarantined.is_empty() {
            t.push_str(&format!(
                "quarantined: {} refused by the server, kept on this device and not applied there\n",
                count(quarantined.len(), "operation", "operations")
            ));
            for q in &quarantined {
                t.push_str(&format!(
                    "  {} of client {}: {} ({})\n",
                    q.entity, q.scope, q.reason, q.code
                ));
            }
        }
    }
    if report.clock_skewed {
        let minutes = report.clock_skew_ms.unsigned_abs().div_ceil(60_000);
        t.push_str(&format!(
            "warning: this device's clock is about {minutes} min {} the server's; correct the date and time\n",
            if report.clock_skew_ms > 0 { "ahead of" } else { "behind" }
        ));
    }
    Ok(t)
}

fn show_progress(p: Progress) {
    let text = match p.phase {
        SyncPhase::Push => format!("\rsync: sending {}/{}   ", p.done, p.total),
        SyncPhase::Pull => format!("\rsync: received {}   ", p.done),
        SyncPhase::Done => "\r                                        \r".to_owned(),
    };
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Run `ipc sync`.
pub fn run(args: &SyncArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let store = open(&args.db)?;
    let enrolment = store.enrolment()?.ok_or(CliError::NotEnrolled)?;
    unlock(&store)?;
    let url = enrolment.server;
    let transport = UreqTransport::new(&url, HTTP_TIMEOUT);
    let tty = std::io::stderr().is_terminal();
    let mut progress = |p: Progress| {
        if tty {
            show_progress(p);
        }
    };
    let result = SyncEngine::new(&store, &transport, SyncConfig::default()).sync(&mut progress);
    if tty {
        show_progress(Progress {
            phase: SyncPhase::Done,
            done: 0,
            total: 0,
        });
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = store.lock();
            return Err(sync_error(e, &url));
        }
    };
    let text = if args.json {
        let mut s = serde_json::to_string(&report)
            .map_err(|_| CliError::Output(std::io::ErrorKind::InvalidData))?;
        s.push('\n');
        s
    } else {
        report_text(&store, &report, &url)?
    };
    store.lock()?;
    emit(out, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked() {
        assert_eq!(
            server_url(" http://127.0.0.1:8080/ ").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(server_url("https://sync.example.invalid").is_ok());
        for bad in ["127.0.0.1:8080", "ftp://x", "http://", "http://a b"] {
            let e = server_url(bad).unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE, "{bad}");
        }
    }

    #[test]
    fn network_failures_say_what_was_done() {
        let e = sync_error(
            SyncError::Network {
                attempts: 5,
                last: TransportError::Unreachable("connection refused".into()),
                done: Box::new(SyncReport {
                    pushed: 7,
                    acknowledged: 5,
                    ..SyncReport::default()
                }),
            },
            "http://127.0.0.1:9",
        );
        assert_eq!(e.exit_code(), crate::exit::NETWORK);
        let line = e.line();
        assert!(line.starts_with("cannot reach the server at http://127.0.0.1:9: connection refused (after 5 attempts)"), "{line}");
        assert!(line.contains("7 pushed, 5 acknowledged"), "{line}");
        assert!(!line.contains("complete"), "{line}");
        let e = sync_error(
            SyncError::Unauthorized {
                code: "device_revoked",
                message: "this device was revoked".into(),
                done: Box::default(),
            },
            "http://x",
        );
        assert_eq!(e.exit_code(), crate::exit::REFUSED);
        assert!(e.line().contains("(device_revoked)"), "{}", e.line());
    }
}
