//! The command-line surface of `ipc` (clap derive), and the one-line rendering of clap's
//! errors: a usage error never spans several lines and never echoes a value (a mistyped
//! argument could be a PIN or a name).

use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand, ValueEnum};

use ipc_core::model::Sex;

const AFTER_HELP: &str = "\
Secrets are never command-line arguments: the PIN is read from the IPC_PIN environment
variable, a new PIN from IPC_NEW_PIN and the recovery code from IPC_RECOVERY_CODE, or each is
asked for when running in a terminal.

Exit codes: 0 success; 1 other failure; 2 invalid command line or input (also: store not
enrolled); 3 PIN missing, wrong, too soon after wrong PINs, or locked out; 4 store missing,
already existing, damaged, not an ipc-kit store, or from a newer version; 5 the sync server
cannot be reached; 6 the sync server refused (enrolment code, revoked device, request);
70 internal error.";

/// ipc-kit command line: an encrypted on-device store for Interpersonal Counselling.
#[derive(Debug, Parser)]
#[command(name = "ipc", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new encrypted store (asks for a new PIN twice).
    Init(InitArgs),
    /// Work with clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Show the worker's clients and where each one stands.
    Caseload(CaseloadArgs),
    /// Build an encrypted store with a synthetic caseload and show what a CHW would see.
    Demo(DemoArgs),
    /// Score a questionnaire (PHQ-2, PHQ-9, GAD-7): total, band and flags. Needs no store.
    Score(ScoreArgs),
    /// Run a scripted course (a scenario) through the course engine in a fresh store and
    /// print the report as JSON.
    Simulate(SimulateArgs),
    /// Unlock with the recovery code (after a lock-out or a forgotten PIN) and set a new PIN.
    Recover(RecoverArgs),
    /// Change the PIN (the data stays as it is; only the key wrapping changes).
    ChangePin(ChangePinArgs),
    /// Run the sync server (logs JSON lines on stderr; stops on Ctrl-C or SIGTERM).
    Serve(ServeArgs),
    /// Administer the sync server's database directly (workers, enrolment codes,
    /// assignment, revocation, counts).
    Admin(AdminArgs),
    /// Enrol this store with a sync server, using a one-time code from the supervisor.
    Enrol(EnrolArgs),
    /// Push this store's changes to its sync server and pull what it may see.
    Sync(SyncArgs),
}

/// The sync server's database when `--server-db` is not given.
pub const DEFAULT_SERVER_DB: &str = "sqlite:./ipc-server.db";

/// `ipc serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The server's database: sqlite:PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER_DB)]
    pub server_db: String,
    /// Address to listen on (port 0: any free port, printed on start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

/// `ipc admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's database: sqlite:PATH or postgres://USER@HOST:PORT/DB.
    #[arg(long, value_name = "URL", default_value = DEFAULT_SERVER_DB, global = true)]
    pub server_db: String,
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// A worker's role on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A community health worker: sees their own clients.
    Worker,
    /// A supervisor: sees their team's clients.
    Supervisor,
    /// An administrator of the organisation.
    Admin,
}

impl From<RoleArg> for ipc_core::model::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Worker => ipc_core::model::Role::Worker,
            RoleArg::Supervisor => ipc_core::model::Role::Supervisor,
            RoleArg::Admin => ipc_core::model::Role::Admin,
        }
    }
}

/// `ipc admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a worker; prints only the new worker id.
    AddWorker {
        /// The worker's name.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The worker's team.
        #[arg(long, value_name = "TEAM")]
        team: String,
        /// The worker's role.
        #[arg(long, value_enum, default_value = "worker")]
        role: RoleArg,
    },
    /// Issue a one-time enrolment code for a worker's device; prints only the code.
    EnrolCode {
        /// The worker id.
        #[arg(long, value_name = "ID")]
        worker: String,
        /// Hours the code stays valid (at most 720).
        #[arg(long, value_name = "H", default_value_t = 24,
              value_parser = clap::value_parser!(u32).range(1..=720))]
        ttl_hours: u32,
    },
    /// Assign a client to a worker (their devices get its history; the old worker's
    /// devices remove it).
    Assign {
        /// The client id.
        #[arg(long, value_name = "ID")]
        client: String,
        /// The worker id.
        #[arg(long, value_name = "ID")]
        worker: String,
    },
    /// Revoke a device: its next sync wipes its data, later ones are refused.
    Revoke {
        /// The device id (see `ipc admin devices`).
        #[arg(long, value_name = "ID")]
        device: String,
    },
    /// Counts: operations, devices, workers, clients.
    Stats {
        /// Print one JSON object {"ops","devices","workers","clients"}.
        #[arg(long)]
        json: bool,
    },
    /// The organisation's workers: id, role, team, name.
    Workers {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// The organisation's devices: id, worker, enrolled, last seen, revoked.
    Devices {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// `ipc enrol`.
#[derive(Debug, Args)]
pub struct EnrolArgs {
    /// The store.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The sync server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The one-time enrolment code (XXXX-XXXX-XXXX) from `ipc admin enrol-code`.
    #[arg(long, value_name = "CODE")]
    pub code: String,
}

/// `ipc sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// The store.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Print one JSON object: pushed, acknowledged, pulled, quarantined, clock_skew_ms,
    /// complete (and rejected_remote, removed, clock_skewed, wiped, rounds).
    #[arg(long)]
    pub json: bool,
}

/// `ipc init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Path of the new store file (must not exist).
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The worker's name (stored encrypted).
    #[arg(long, value_name = "NAME", default_value = "Community health worker")]
    pub worker_name: String,
    /// The worker's team (a label, not personal data).
    #[arg(long, value_name = "TEAM", default_value = "default")]
    pub team: String,
    /// The worker's id from the programme's directory (a new one if not given).
    #[arg(long, value_name = "UUID")]
    pub worker_id: Option<String>,
}

/// `ipc client …`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints only the new client id.
    Add(ClientAddArgs),
}

/// Sex as recorded for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SexArg {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
}

impl From<SexArg> for Sex {
    fn from(s: SexArg) -> Sex {
        match s {
            SexArg::Female => Sex::Female,
            SexArg::Male => Sex::Male,
            SexArg::Other => Sex::Other,
        }
    }
}

/// `ipc client add`.
#[derive(Debug, Args)]
pub struct ClientAddArgs {
    /// The store.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The name the worker uses for the client.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Phone number (digits, spaces, + - ( ) only).
    #[arg(long, value_name = "PHONE")]
    pub phone: Option<String>,
    /// Village.
    #[arg(long, value_name = "VILLAGE")]
    pub village: Option<String>,
    /// Year of birth.
    #[arg(long, value_name = "YEAR")]
    pub birth_year: Option<i32>,
    /// Sex.
    #[arg(long, value_enum)]
    pub sex: Option<SexArg>,
}

/// `ipc caseload`.
#[derive(Debug, Args)]
pub struct CaseloadArgs {
    /// The store.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Print a JSON array instead of a table: one object per client with client_id,
    /// display_name, village, status ("registered" when no course yet), planned_sessions,
    /// sessions_held, last_held, next_planned and open_risk_events.
    #[arg(long)]
    pub json: bool,
}

/// `ipc demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of synthetic clients.
    #[arg(long, value_name = "N", default_value_t = 24,
          value_parser = clap::value_parser!(u16).range(1..=500))]
    pub clients: u16,
    /// Seed: the same seed gives the same caseload (relative to today).
    #[arg(long, value_name = "S", default_value_t = 7)]
    pub seed: u64,
    /// Folder for the demo files (new or empty); default ./demo-data/run-<seed>-<n>.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The builtin questionnaires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstrumentArg {
    /// PHQ-2: 2 answers, 0–3 each.
    Phq2,
    /// PHQ-9: 9 answers, 0–3 each, and optionally a 10th, the difficulty item (not scored).
    Phq9,
    /// GAD-7: 7 answers, 0–3 each.
    Gad7,
}

impl InstrumentArg {
    /// The instrument id in the registry.
    pub fn id(self) -> &'static str {
        match self {
            InstrumentArg::Phq2 => "phq2",
            InstrumentArg::Phq9 => "phq9",
            InstrumentArg::Gad7 => "gad7",
        }
    }
}

/// `ipc score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The questionnaire.
    #[arg(long, value_enum)]
    pub instrument: InstrumentArg,
    /// The answers in item order, separated by commas, e.g. `1,0,2,3,1,0,0,1,0`.
    #[arg(long, value_name = "LIST", allow_hyphen_values = true)]
    pub answers: String,
    /// Print one JSON object: instrument, version, total, max, band, flags, complete,
    /// difficulty, answered.
    #[arg(long)]
    pub json: bool,
}

/// `ipc simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The scenario file (format in docs/simulate.md).
    #[arg(value_name = "SCENARIO.json")]
    pub scenario: PathBuf,
    /// A protocol configuration to use instead of the built-in defaults.
    #[arg(long, value_name = "CONFIG.json")]
    pub protocol: Option<PathBuf>,
    /// Keep the simulation store at PATH (must not exist); its PIN is printed on stderr.
    #[arg(long, value_name = "PATH")]
    pub keep_db: Option<PathBuf>,
}

/// `ipc recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The store.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
}

/// `ipc change-pin`.
#[derive(Debug, Args)]
pub struct ChangePinArgs {
    /// The store.
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<String> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) if !v.is_empty() => Some(v.join(", ")),
        _ => None,
    }
}

/// One line describing a clap error (without the `error: ` prefix). Values typed by the user
/// are never repeated; flag names are.
pub fn clap_error_line(e: &clap::Error) -> String {
    let arg = context(e, ContextKind::InvalidArg);
    match e.kind() {
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let mut line = format!(
                "invalid value for {}",
                arg.as_deref().unwrap_or("an argument")
            );
            if let Some(valid) = context(e, ContextKind::ValidValue) {
                line.push_str(&format!(" (expected one of: {valid})"));
            }
            line
        }
        ErrorKind::UnknownArgument => match arg {
            Some(a) if a.starts_with('-') => {
                let flag = a.split('=').next().unwrap_or_default();
                let lower = flag.to_ascii_lowercase();
                if lower.contains("recovery") || lower.contains("code") {
                    "the recovery code is never given on the command line: set \
                     IPC_RECOVERY_CODE or type it when asked"
                        .to_owned()
                } else if lower.contains("pin") {
                    "the PIN is never given on the command line: set IPC_PIN (IPC_NEW_PIN for \
                     a new one) or type it when asked"
                        .to_owned()
                } else {
                    format!("unexpected argument {flag} (see --help)")
                }
            }
            _ => "unexpected argument (see --help)".to_owned(),
        },
        ErrorKind::InvalidSubcommand => match context(e, ContextKind::SuggestedSubcommand) {
            Some(s) => format!("unknown command; did you mean `{s}`? (see --help)"),
            None => "unknown command (see --help)".to_owned(),
        },
        ErrorKind::MissingRequiredArgument => format!(
            "missing required argument {} (see --help)",
            arg.as_deref().unwrap_or("")
        ),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "a command is required (see --help)".to_owned()
        }
        _ => {
            let text = e.render().to_string();
            let line = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
                .collect::<Vec<_>>()
                .join(" ");
            let line = line
                .strip_prefix("error:")
                .unwrap_or(&line)
                .trim()
                .to_owned();
            if line.is_empty() {
                "invalid command line (see --help)".to_owned()
            } else {
                line
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(args: &[&str]) -> String {
        let e = Cli::try_parse_from(args).unwrap_err();
        clap_error_line(&e)
    }

    #[test]
    fn clap_errors_are_one_line_and_do_not_echo_values() {
        let cases: &[(&[&str], &str)] = &[
            (&["ipc"], "a command is required"),
            (&["ipc", "caseload"], "missing required argument --db"),
            (
                &["ipc", "caseload", "--db", "x", "--pin", "8412"],
                "never given",
            ),
            (
                &["ipc", "caseload", "--db", "x", "--pin=8412"],
                "never given",
            ),
            (
                &["ipc", "caseload", "--db", "x", "8412"],
                "unexpected argument",
            ),
            (&["ipc", "8412"], "unknown command"),
            (&["ipc", "caseloa"], "did you mean `caseload`"),
            (
                &[
                    "ipc",
                    "client",
                    "add",
                    "--db",
                    "x",
                    "--name",
                    "a",
                    "--birth-year",
                    "19z1",
                ],
                "invalid value for --birth-year",
            ),
            (
                &[
                    "ipc", "client", "add", "--db", "x", "--name", "a", "--sex", "fmale",
                ],
                "expected one of",
            ),
            (
                &["ipc", "demo", "--clients", "0"],
                "invalid value for --clients",
            ),
            (
                &[
                    "ipc",
                    "recover",
                    "--db",
                    "x",
                    "--recovery-code",
                    "8412-ABCDE",
                ],
                "recovery code is never given",
            ),
            (
                &["ipc", "change-pin", "--db", "x", "--new-pin=8412"],
                "never given",
            ),
            (
                &["ipc", "score", "--instrument", "phq8412", "--answers", "1"],
                "(expected one of: phq2, phq9, gad7)",
            ),
            (&["ipc", "score", "--instrument", "phq9"], "--answers"),
            (&["ipc", "simulate"], "missing required argument"),
        ];
        for (args, expected) in cases {
            let line = error_of(args);
            assert!(line.contains(expected), "{args:?}: {line}");
            assert!(!line.contains('\n'), "{args:?}: {line}");
            for secret in ["8412", "19z1", "fmale"] {
                assert!(!line.contains(secret), "{args:?} echoes a value: {line}");
            }
        }
    }

    #[test]
    fn command_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
