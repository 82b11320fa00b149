//! `ipc simulate`: run a scenario (a scripted course, `docs/simulate.md`) through the course
//! engine against a fresh encrypted store on a manual clock, and print the report as pretty
//! JSON. The store lives in a temporary folder removed afterwards, unless `--keep-db` names
//! where to keep it (its PIN is then printed on stderr).
//!
//! Exit 0 whatever the scenario's steps do (refused steps are part of the report); exit 2
//! when the scenario or protocol file itself is unreadable or invalid, with one line naming
//! the file and, for JSON errors, the line and column.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveTime;
use rand::Rng;
use zeroize::Zeroizing;

use ipc_core::clock::ManualClock;
use ipc_core::model::{Client, NewClient, Role, WorkerId};
use ipc_core::protocol::config::{ConfigError, ProtocolConfig};
use ipc_core::protocol::simulate::{run as run_scenario, Scenario};
use ipc_core::protocol::{Protocol, ProtocolError};
use ipc_core::store::keys::{KdfParams, PinPolicy, MIN_ITERATIONS};
use ipc_core::store::secret::DEVICE_SECRET_NAME;
use ipc_core::store::{NewWorker, Store, StoreConfig, StoreError};

use crate::args::SimulateArgs;
use crate::commands::emit;
use crate::commands::init::check_new_file;
use crate::error::CliError;
use crate::pin;
use crate::store_access::secrets_for;

const SCENARIO_FILE: &str = "scenario file";
const PROTOCOL_FILE: &str = "protocol file";
/// The store's file name inside the temporary folder.
const TEMP_DB: &str = "simulation.db";

/// A serde_json message without the values it may quote: type and value errors keep only
/// what was expected; field and variant errors (names from the format) are kept whole.
fn json_message(message: &str) -> String {
    let m = message.trim();
    if m.starts_with("invalid type")
        || m.starts_with("invalid value")
        || m.starts_with("invalid length")
    {
        let kind = m.split(':').next().unwrap_or("invalid value");
        match m.find("expected ") {
            Some(i) => format!("{kind} ({})", &m[i..]),
            None => kind.to_owned(),
        }
    } else {
        m.to_owned()
    }
}

fn file_error(role: &'static str, path: &Path, detail: String) -> CliError {
    CliError::InputFile {
        role,
        path: path.display().to_string(),
        detail,
    }
}

fn read_file(role: &'static str, path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_owned(),
            std::io::ErrorKind::InvalidData => "not UTF-8 text".to_owned(),
            kind => kind.to_string(),
        };
        file_error(role, path, format!("cannot be read ({why})"))
    })
}

/// Read and parse the scenario file, and check its client as the runner will create it (so
/// an invalid client is refused before any store is created).
pub fn load_scenario(path: &Path) -> Result<Scenario, CliError> {
    let text = read_file(SCENARIO_FILE, path)?;
    let scenario = parse_scenario(path, &text)?;
    let c = &scenario.client;
    Client::new(
        NewClient {
            display_name: c.name.clone(),
            sex: c.sex,
            birth_year: c.birth_year,
            phone: c.phone.clone(),
            village: c.village.clone(),
            address: None,
            consent: None,
            assigned_worker: WorkerId::new(),
            registered_on: scenario.start,
        },
        scenario.start,
    )
    .map_err(|m| file_error(SCENARIO_FILE, path, format!("client: {m}")))?;
    Ok(scenario)
}

fn parse_scenario(path: &Path, text: &str) -> Result<Scenario, CliError> {
    Scenario::from_json(text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let mut message = full.strip_suffix(&suffix).unwrap_or(&full);
        if message.contains("no variant of enum Action") {
            message = "each step needs `day` and one of `screen`, `enrol`, `session`, `miss`, \
                       `concern`, `assess`, `extend`, `end`";
        }
        file_error(
            SCENARIO_FILE,
            path,
            format!(
                "invalid at line {}, column {}: {}",
                e.line(),
                e.column(),
                json_message(message)
            ),
        )
    })
}

/// Read the protocol configuration file and build the protocol.
pub fn load_protocol(path: &Path) -> Result<Protocol, CliError> {
    let text = read_file(PROTOCOL_FILE, path)?;
    let config = ProtocolConfig::from_json(&text).map_err(|e| {
        let detail = match e {
            ConfigError::Json {
                line,
                column,
                message,
            } => {
                // The parser's message may end with the position again.
                let suffix = format!(" at line {line} column {column}");
                let message = message.strip_suffix(&suffix).unwrap_or(&message);
                format!(
                    "invalid at line {line}, column {column}: {}",
                    json_message(message)
                )
            }
            other => format!("invalid: {other}"),
        };
        file_error(PROTOCOL_FILE, path, detail)
    })?;
    Protocol::with_config(config).map_err(|e| file_error(PROTOCOL_FILE, path, e.to_string()))
}

/// Where the simulation store goes: a new temporary folder (removed on drop), or `--keep-db`.
enum Place {
    Temporary(tempfile::TempDir),
    Kept,
}

/// The PIN of the simulation store: `IPC_PIN` for a kept store when set, else a random one
/// (a temporary store's PIN is never needed).
fn new_pin(kept: bool) -> Result<(Zeroizing<String>, bool), CliError> {
    if kept {
        if let Some(pin) = pin::from_env()? {
            return Ok((pin, true));
        }
    }
    let n: u32 = rand::rng().random_range(0..1_000_000);
    Ok((Zeroizing::new(format!("{n:06}")), false))
}

/// Run `ipc simulate`.
pub fn run(args: &SimulateArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // The files first: nothing is created for an invalid scenario or configuration.
    let scenario = load_scenario(&args.scenario)?;
    let protocol = match &args.protocol {
        Some(path) => load_protocol(path)?,
        None => Protocol::builtin().map_err(|e| CliError::Simulation(e.to_string()))?,
    };
    let (place, db) = match &args.keep_db {
        Some(path) => {
            check_new_file(path, "--keep-db")?;
            let secret = secrets_for(path)?.path_for(DEVICE_SECRET_NAME)?;
            if secret.symlink_metadata().is_ok() {
                return Err(CliError::Exists("a device-secret file for --keep-db"));
            }
            (Place::Kept, path.clone())
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("ipc-simulate-")
                .tempdir()
                .map_err(CliError::io("creating a temporary folder"))?;
            let db = dir.path().join(TEMP_DB);
            (Place::Temporary(dir), db)
        }
    };
    let (pin, pin_from_env) = new_pin(matches!(place, Place::Kept))?;
    let start = scenario.start.and_time(NaiveTime::MIN).and_utc();
    let clock = Arc::new(ManualClock::new(start));
    let config = StoreConfig {
        pin_policy: PinPolicy::default(),
        clock: clock.clone(),
    };
    let worker = NewWorker {
        id: WorkerId::new(),
        display_name: "Simulation worker".to_owned(),
        role: Role::Worker,
        team: "simulation".to_owned(),
    };
    // A simulation store is throwaway: the lowest key-derivation cost the store accepts
    // keeps runs fast (a calibrated cost would add about 250 ms to every run).
    let kdf = KdfParams {
        iterations: MIN_ITERATIONS,
    };
    let (store, _recovery) = Store::create(
        &db,
        Arc::new(secrets_for(&db)?),
        &pin,
        &worker,
        &kdf,
        config,
    )?;
    let report = run_scenario(&protocol, &store, &clock, &scenario).map_err(|e| match e {
        ProtocolError::Model(m) | ProtocolError::Store(StoreError::Validation(m)) => {
            file_error(SCENARIO_FILE, &args.scenario, format!("client: {m}"))
        }
        ProtocolError::Store(s) => CliError::Store(s),
        other => CliError::Simulation(other.to_string()),
    })?;
    store.lock()?;
    drop(store);
    let mut json = serde_json::to_string_pretty(&report)
        .map_err(|_| CliError::Output(std::io::ErrorKind::InvalidData))?;
    json.push('\n');
    emit(out, &json)?;
    match place {
        Place::Temporary(dir) => {
            dir.close()
                .map_err(CliError::io("removing the temporary store"))?;
        }
        Place::Kept => {
            let pin_text = if pin_from_env {
                "the one in IPC_PIN".to_owned()
            } else {
                pin.to_string()
            };
            let line = Zeroizing::new(format!(
                "kept the simulation store at {} (device secret beside it); PIN {pin_text}\n",
                db.display()
            ));
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_messages_do_not_quote_values() {
        assert_eq!(
            json_message("invalid type: string \"Amina\", expected u8"),
            "invalid type (expected u8)"
        );
        assert_eq!(
            json_message("invalid value: integer `300`, expected u8"),
            "invalid value (expected u8)"
        );
        assert_eq!(
            json_message("unknown field `sesion`, expected one of `day`"),
            "unknown field `sesion`, expected one of `day`"
        );
    }
}
