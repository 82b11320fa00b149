//! `ipc admin …`: the server operator's commands, working on the server's database directly
//! (no HTTP): add workers, issue enrolment codes, assign clients, revoke devices, list the
//! directory and show counts.

use std::io::Write;
use std::time::Duration;

use chrono::DateTime;
use ipc_core::model::{ClientId, DeviceId, WorkerId};
use ipc_server::admin;
use serde::Serialize;

use crate::args::{AdminArgs, AdminCommand};
use crate::commands::emit;
use crate::commands::serve::runtime;
use crate::error::CliError;
use crate::output::table;

fn parse_id<T>(
    text: &str,
    flag: &'static str,
    parse: impl Fn(&str) -> Result<T, ipc_core::model::ModelError>,
) -> Result<T, CliError> {
    parse(text.trim()).map_err(|_| CliError::Invalid {
        field: "id",
        flag,
        reason: "not a hyphenated UUID".to_owned(),
    })
}

fn time_text(ms: Option<i64>) -> String {
    ms.and_then(DateTime::from_timestamp_millis).map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

#[derive(Serialize)]
struct WorkerJson<'a> {
    id: String,
    display_name: &'a str,
    team: &'a str,
    role: &'static str,
}

#[derive(Serialize)]
struct DeviceJson {
    id: String,
    worker: String,
    created_at_ms: i64,
    last_seen_at_ms: Option<i64>,
    revoked_at_ms: Option<i64>,
}

fn json_line<T: Serialize + ?Sized>(value: &T) -> Result<String, CliError> {
    let mut s = serde_json::to_string(value)
        .map_err(|_| CliError::Output(std::io::ErrorKind::InvalidData))?;
    s.push('\n');
    Ok(s)
}

/// Run `ipc admin …`.
pub fn run(args: &AdminArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // Each id is checked before the database is opened.
    let rt = runtime()?;
    let text = rt.block_on(async {
        match &args.command {
            AdminCommand::AddWorker { name, team, role } => {
                let storage = ipc_server::open_storage(&args.server_db).await?;
                let id = admin::add_worker(&storage, name, team, (*role).into()).await?;
                Ok::<_, CliError>(format!("{id}\n"))
            }
            AdminCommand::EnrolCode { worker, ttl_hours } => {
                let worker = parse_id(worker, "--worker", WorkerId::parse)?;
                let storage = ipc_server::open_storage(&args.server_db).await?;
                let ttl = Duration::from_secs(u64::from(*ttl_hours) * 3600);
                let code = admin::enrol_code(&storage, worker, ttl).await?;
                Ok(format!("{code}\n"))
            }
            AdminCommand::Assign { client, worker } => {
                let client = parse_id(client, "--client", ClientId::parse)?;
                let worker = parse_id(worker, "--worker", WorkerId::parse)?;
                let storage = ipc_server::open_storage(&args.server_db).await?;
                admin::assign(&storage, client, worker).await?;
                Ok(format!("client {client} assigned to worker {worker}\n"))
            }
            AdminCommand::Revoke { device } => {
                let device = parse_id(device, "--device", DeviceId::parse)?;
                let storage = ipc_server::open_storage(&args.server_db).await?;
                admin::revoke(&storage, device).await?;
                Ok(format!(
                    "device {device} revoked: its next sync wipes its data, later ones are refused\n"
                ))
            }
            AdminCommand::Stats { json } => {
                let storage = ipc_server::open_storage(&args.server_db).await?;
                let s = admin::stats(&storage).await?;
                if *json {
                    json_line(&s)
                } else {
                    Ok(format!(
                        "ops {}; devices {}; workers {}; clients {}\n",
                        s.ops, s.devices, s.workers, s.clients
                    ))
                }
            }
            AdminCommand::Workers { json } => {
                let storage = ipc_server::open_storage(&args.server_db).await?;
                let workers = admin::workers(&storage).await?;
                if *json {
                    let items: Vec<WorkerJson<'_>> = workers
                        .iter()
                        .map(|w| WorkerJson {
                            id: w.id.to_string(),
                            display_name: &w.display_name,
                            team: &w.team,
                            role: w.role.as_str(),
                        })
                        .collect();
                    json_line(&items)
                } else if workers.is_empty() {
                    Ok("no workers yet: add one with `ipc admin add-worker`\n".to_owned())
                } else {
                    let rows: Vec<Vec<String>> = workers
                        .iter()
                        .map(|w| {
                            vec![
                                w.id.to_string(),
                                w.role.as_str().to_owned(),
                                w.team.clone(),
                                w.display_name.clone(),
                            ]
                        })
                        .collect();
                    Ok(table(&["ID", "ROLE", "TEAM", "NAME"], &rows))
                }
            }
            AdminCommand::Devices { json } => {
                let storage = ipc_server::open_storage(&args.server_db).await?;
                let devices = admin::devices(&storage).await?;
                if *json {
                    let items: Vec<DeviceJson> = devices
                        .iter()
                        .map(|d| DeviceJson {
                            id: d.id.to_string(),
                            worker: d.worker.to_string(),
                            created_at_ms: d.created_at_ms,
                            last_seen_at_ms: d.last_seen_at_ms,
                            revoked_at_ms: d.revoked_at_ms,
                        })
                        .collect();
                    json_line(&items)
                } else if devices.is_empty() {
                    Ok("no devices enrolled yet\n".to_owned())
                } else {
                    let rows: Vec<Vec<String>> = devices
                        .iter()
                        .map(|d| {
                            vec![
                                d.id.to_string(),
                                d.worker.to_string(),
                                time_text(Some(d.created_at_ms)),
                                time_text(d.last_seen_at_ms),
                                time_text(d.revoked_at_ms),
                            ]
                        })
                        .collect();
                    Ok(table(
                        &["DEVICE", "WORKER", "ENROLLED (UTC)", "LAST SEEN", "REVOKED"],
                        &rows,
                    ))
                }
            }
        }
    })?;
    emit(out, &text)
}
