//! The errors of the `ipc` command and their exit codes. Every message is one line and names
//! what went wrong (a field, a flag, a file role), never a value the user typed or stored.

use std::io;

use ipc_core::model::ModelError;
use ipc_core::store::keys::KeyError;
use ipc_core::store::secret::SecretStoreError;
use ipc_core::store::StoreError;

use crate::demo::GenerateError;

/// Exit codes (also listed in `ipc --help`).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other failure.
    pub const OTHER: u8 = 1;
    /// Invalid command line or input value.
    pub const USAGE: u8 = 2;
    /// PIN missing, wrong, too soon after wrong PINs, or locked out.
    pub const ACCESS: u8 = 3;
    /// Store missing, already existing, damaged, foreign or newer.
    pub const STORE: u8 = 4;
    /// The sync server could not be reached.
    pub const NETWORK: u8 = 5;
    /// The sync server refused (enrolment code, credentials, request).
    pub const REFUSED: u8 = 6;
    /// A defect (panic); nothing was changed.
    pub const INTERNAL: u8 = 70;
}

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A command-line error, already rendered to one line.
    #[error("{0}")]
    Usage(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An input value failed validation; nothing was written.
    #[error("invalid {field} ({flag}): {reason}; nothing was written")]
    Invalid {
        /// The model's field name.
        field: &'static str,
        /// The command-line flag that gave it.
        flag: &'static str,
        /// Why (never the value).
        reason: String,
    },
    /// A secret (PIN, new PIN, recovery code) is neither in its variable nor typed at a
    /// terminal.
    #[error("no {what}: set {var}, or run in a terminal to be asked for it")]
    NoSecret {
        /// What is missing ("PIN", "new PIN", "recovery code").
        what: &'static str,
        /// The environment variable that could hold it.
        var: &'static str,
    },
    /// A secret's environment variable is set to an empty string.
    #[error("{0} is set but empty")]
    EmptyVar(&'static str),
    /// A secret's environment variable is not valid text.
    #[error("{0} is not valid UTF-8 text")]
    VarNotText(&'static str),
    /// The two new PINs typed differ.
    #[error("the two PINs differ; nothing was changed")]
    PinMismatch,
    /// `change-pin` with the same PIN as before.
    #[error("the new PIN is the same as the current one; nothing was changed")]
    SamePin,
    /// Reading from the terminal failed.
    #[error("could not read from the terminal ({0})")]
    Prompt(io::ErrorKind),
    /// `ipc score --answers` is not a valid answer list (names the item and the allowed
    /// values, never the values given).
    #[error("--answers: {0}")]
    Answers(String),
    /// An input file (scenario, protocol configuration) is unreadable or invalid.
    #[error("{role} {path}: {detail}")]
    InputFile {
        /// Which file ("scenario file", "protocol file").
        role: &'static str,
        /// Its path as given.
        path: String,
        /// What is wrong, with the line and column when known.
        detail: String,
    },
    /// A simulation could not be run (not a problem of the scenario itself).
    #[error("the simulation failed: {0}")]
    Simulation(String),
    /// A file that must be new exists.
    #[error("{0} already exists; refusing to overwrite it")]
    Exists(&'static str),
    /// The folder of a new file does not exist.
    #[error("the folder for {0} does not exist; create it first")]
    NoFolder(&'static str),
    /// `--data-dir` is neither new nor empty.
    #[error("--data-dir must be a new or empty folder")]
    DataDirNotEmpty,
    /// A file-system operation failed.
    #[error("{what} failed: {kind}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// How it failed.
        kind: io::ErrorKind,
    },
    /// The demo generator failed.
    #[error(transparent)]
    Generate(GenerateError),
    /// The demo found personal data in plaintext.
    #[error(
        "privacy check failed: {found} of {total} names/phones found in plaintext in the database files"
    )]
    PrivacyLeak {
        /// Needles found.
        found: usize,
        /// Needles searched.
        total: usize,
    },
    /// Writing the output failed.
    #[error("could not write the output ({0})")]
    Output(io::ErrorKind),
    /// The server side (`ipc serve`, `ipc admin`) failed; the message never holds the
    /// storage URL (it may carry a password).
    #[error("{0}")]
    Server(String),
    /// A server-side argument was refused (unknown worker or device, invalid name, …).
    #[error("{0}")]
    ServerInvalid(String),
    /// The store is not enrolled with a sync server.
    #[error("this store is not enrolled with a sync server: run `ipc enrol --db PATH --server URL --code CODE` first")]
    NotEnrolled,
    /// The store is already enrolled.
    #[error("this store is already enrolled with {server} (worker {worker}); nothing was changed")]
    AlreadyEnrolled {
        /// The server's URL.
        server: String,
        /// The worker id.
        worker: String,
    },
    /// The sync server could not be reached.
    #[error("cannot reach the server at {url}: {detail}{done}")]
    Unreachable {
        /// The server's URL.
        url: String,
        /// What failed.
        detail: String,
        /// What was done before (empty, or `; before that: …`).
        done: String,
    },
    /// The sync server refused.
    #[error("the server refused {what} ({code}): {message}{done}")]
    Refused {
        /// What was refused ("the enrolment", "this device", "the sync").
        what: &'static str,
        /// The server's error code.
        code: String,
        /// The server's message.
        message: String,
        /// What was done before (empty, or `; before that: …`).
        done: String,
    },
}

impl CliError {
    /// An I/O failure while doing `what`.
    pub fn io(what: &'static str) -> impl FnOnce(io::Error) -> CliError {
        move |e| CliError::Io {
            what,
            kind: e.kind(),
        }
    }

    /// A model validation error on input given by `flag_of(field)`.
    pub fn invalid(e: ModelError, flag_of: impl Fn(&str) -> &'static str) -> CliError {
        match e {
            ModelError::Validation { field, reason } => CliError::Invalid {
                field,
                flag: flag_of(field),
                reason: reason.to_string(),
            },
            other => CliError::Store(StoreError::Validation(other)),
        }
    }

    /// The one line printed after `error: `.
    pub fn line(&self) -> String {
        let text = match self {
            CliError::Store(StoreError::TooSoon { retry_after_ms })
            | CliError::Store(StoreError::Key(KeyError::TooSoon { retry_after_ms })) => format!(
                "too many wrong PINs: wait {} s before the next try",
                retry_after_ms.div_ceil(1000)
            ),
            CliError::Store(StoreError::LockedOut)
            | CliError::Store(StoreError::Key(KeyError::LockedOut)) => {
                "locked out after too many wrong PINs: unlock with the recovery code held by \
                 your supervisor (`ipc recover --db …`)"
                    .to_owned()
            }
            CliError::Generate(GenerateError::Store(e)) => e.to_string(),
            other => other.to_string(),
        };
        // Messages are single-line by construction; make sure of it.
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::Invalid { .. }
            | CliError::DataDirNotEmpty
            | CliError::SamePin
            | CliError::Answers(_)
            | CliError::InputFile { .. } => exit::USAGE,
            CliError::Store(e) | CliError::Generate(GenerateError::Store(e)) => store_code(e),
            CliError::NoSecret { .. }
            | CliError::EmptyVar(_)
            | CliError::VarNotText(_)
            | CliError::PinMismatch
            | CliError::Prompt(_) => exit::ACCESS,
            CliError::Exists(_) => exit::STORE,
            CliError::ServerInvalid(_)
            | CliError::NotEnrolled
            | CliError::AlreadyEnrolled { .. } => exit::USAGE,
            CliError::Unreachable { .. } => exit::NETWORK,
            CliError::Refused { .. } => exit::REFUSED,
            CliError::Server(_) => exit::OTHER,
            CliError::NoFolder(_)
            | CliError::Io { .. }
            | CliError::Generate(_)
            | CliError::PrivacyLeak { .. }
            | CliError::Simulation(_)
            | CliError::Output(_) => exit::OTHER,
        }
    }
}

impl From<GenerateError> for CliError {
    fn from(e: GenerateError) -> Self {
        match e {
            GenerateError::Store(s) => CliError::Store(s),
            other => CliError::Generate(other),
        }
    }
}

impl From<ipc_server::ServerError> for CliError {
    fn from(e: ipc_server::ServerError) -> Self {
        use ipc_server::ServerError as E;
        match e {
            E::BadStorageUrl(_)
            | E::UnknownWorker(_)
            | E::UnknownDevice(_)
            | E::ForeignClient(_)
            | E::NotAWorker(_)
            | E::NotAllowed(_)
            | E::Invalid(_) => CliError::ServerInvalid(e.to_string()),
            other => CliError::Server(other.to_string()),
        }
    }
}

impl From<SecretStoreError> for CliError {
    fn from(e: SecretStoreError) -> Self {
        CliError::Store(StoreError::Secret(e))
    }
}

fn store_code(e: &StoreError) -> u8 {
    match e {
        StoreError::NotFound
        | StoreError::AlreadyExists
        | StoreError::NotADatabase
        | StoreError::ForeignDatabase
        | StoreError::Corrupt
        | StoreError::NewerSchema { .. }
        | StoreError::Decode(_)
        | StoreError::Crypto(_)
        | StoreError::Secret(SecretStoreError::Corrupt) => exit::STORE,
        StoreError::WrongPin { .. }
        | StoreError::TooSoon { .. }
        | StoreError::LockedOut
        | StoreError::DeviceSecretMissing => exit::ACCESS,
        StoreError::Key(k) => match k {
            KeyError::KdfTooWeak | KeyError::Malformed(_) | KeyError::Crypto(_) => exit::STORE,
            _ => exit::ACCESS,
        },
        StoreError::Validation(_) => exit::USAGE,
        _ => exit::OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc_core::model::Reason;

    #[test]
    fn exit_codes_follow_the_documented_classes() {
        let cases: Vec<(CliError, u8)> = vec![
            (CliError::Usage("x".into()), 2),
            (StoreError::WrongPin { attempts_left: 3 }.into(), 3),
            (StoreError::LockedOut.into(), 3),
            (StoreError::TooSoon { retry_after_ms: 1 }.into(), 3),
            (
                CliError::NoSecret {
                    what: "PIN",
                    var: "IPC_PIN",
                },
                3,
            ),
            (CliError::SamePin, 2),
            (CliError::Answers("x".into()), 2),
            (
                CliError::InputFile {
                    role: "scenario file",
                    path: "s.json".into(),
                    detail: "x".into(),
                },
                2,
            ),
            (CliError::Simulation("x".into()), 1),
            (StoreError::NotFound.into(), 4),
            (StoreError::NotADatabase.into(), 4),
            (StoreError::ForeignDatabase.into(), 4),
            (StoreError::Corrupt.into(), 4),
            (
                StoreError::NewerSchema {
                    found: 9,
                    supported: 1,
                }
                .into(),
                4,
            ),
            (CliError::Exists("--db"), 4),
            (StoreError::Io(io::ErrorKind::PermissionDenied).into(), 1),
            (CliError::PrivacyLeak { found: 1, total: 2 }, 1),
            (CliError::NotEnrolled, 2),
            (
                CliError::Unreachable {
                    url: "http://127.0.0.1:1".into(),
                    detail: "x".into(),
                    done: String::new(),
                },
                5,
            ),
            (
                CliError::Refused {
                    what: "the enrolment",
                    code: "enrol_code_used".into(),
                    message: "x".into(),
                    done: String::new(),
                },
                6,
            ),
            (CliError::Server("x".into()), 1),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e:?}");
            assert!(!e.line().contains('\n'));
        }
    }

    #[test]
    fn validation_names_field_and_flag_not_value() {
        let e = CliError::invalid(
            ModelError::invalid("display_name", Reason::TooLong { max: 100 }),
            |_| "--name",
        );
        assert_eq!(e.exit_code(), exit::USAGE);
        assert_eq!(
            e.line(),
            "invalid display_name (--name): too long (max 100 characters); nothing was written"
        );
    }

    #[test]
    fn too_soon_is_in_seconds() {
        let e = CliError::Store(StoreError::TooSoon {
            retry_after_ms: 1500,
        });
        assert_eq!(
            e.line(),
            "too many wrong PINs: wait 2 s before the next try"
        );
    }
}
