//! Where secrets come from: the PIN (`IPC_PIN`), a new PIN (`IPC_NEW_PIN`) and the recovery
//! code (`IPC_RECOVERY_CODE`) are read from their environment variable, or from a hidden
//! prompt when standard input is a terminal. Never from a command-line argument (it would
//! show in the shell history and the process list). Secrets are kept in memory that is wiped
//! when dropped.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use crate::error::CliError;

/// The environment variable holding the PIN for non-interactive use.
pub const PIN_ENV: &str = "IPC_PIN";
/// The environment variable holding a new PIN (`change-pin`, `recover`).
pub const NEW_PIN_ENV: &str = "IPC_NEW_PIN";
/// The environment variable holding the recovery code (`recover`).
pub const RECOVERY_CODE_ENV: &str = "IPC_RECOVERY_CODE";

/// What the PIN is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Unlock an existing store (asked once).
    Unlock,
    /// Protect a new store (asked twice on a terminal).
    New,
}

/// The value of the environment variable `var`, if set. A trailing line break (from
/// `VAR=$(cat file)` or similar) is removed; an empty value is an error.
pub fn env_secret(var: &'static str) -> Result<Option<Zeroizing<String>>, CliError> {
    let Some(raw) = std::env::var_os(var) else {
        return Ok(None);
    };
    let mut value = Zeroizing::new(raw.into_string().map_err(|_| CliError::VarNotText(var))?);
    while value.ends_with('\n') || value.ends_with('\r') {
        value.pop();
    }
    if value.is_empty() {
        return Err(CliError::EmptyVar(var));
    }
    Ok(Some(value))
}

/// The PIN from `IPC_PIN`, if the variable is set.
pub fn from_env() -> Result<Option<Zeroizing<String>>, CliError> {
    env_secret(PIN_ENV)
}

/// Whether prompting is possible. rpassword reads /dev/tty, which may exist even when stdin
/// is a pipe (scripts, tests): ask only when the user is really at a terminal.
fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

/// The PIN from `IPC_PIN`, else from the terminal; an error when neither is available.
pub fn read(purpose: Purpose) -> Result<Zeroizing<String>, CliError> {
    match purpose {
        Purpose::Unlock => read_secret("PIN", PIN_ENV, "PIN: "),
        Purpose::New => read_new("PIN", PIN_ENV, "New PIN (at least 4 characters): "),
    }
}

/// The current PIN, for `change-pin` (`IPC_PIN`, else asked once).
pub fn read_current() -> Result<Zeroizing<String>, CliError> {
    read_secret("PIN", PIN_ENV, "Current PIN: ")
}

/// A new PIN from `IPC_NEW_PIN`, else asked twice at the terminal.
pub fn read_new_pin() -> Result<Zeroizing<String>, CliError> {
    read_new("new PIN", NEW_PIN_ENV, "New PIN (at least 4 characters): ")
}

/// The recovery code from `IPC_RECOVERY_CODE`, else asked at the terminal.
pub fn read_recovery_code() -> Result<Zeroizing<String>, CliError> {
    read_secret("recovery code", RECOVERY_CODE_ENV, "Recovery code: ")
}

fn read_secret(
    what: &'static str,
    var: &'static str,
    question: &str,
) -> Result<Zeroizing<String>, CliError> {
    if let Some(value) = env_secret(var)? {
        return Ok(value);
    }
    if !can_prompt() {
        return Err(CliError::NoSecret { what, var });
    }
    prompt(question)
}

/// A new PIN: from `var`, else typed twice (the two must match).
fn read_new(
    what: &'static str,
    var: &'static str,
    question: &str,
) -> Result<Zeroizing<String>, CliError> {
    if let Some(value) = env_secret(var)? {
        return Ok(value);
    }
    if !can_prompt() {
        return Err(CliError::NoSecret { what, var });
    }
    let first = prompt(question)?;
    let second = prompt("Type the new PIN again: ")?;
    if *first == *second {
        Ok(first)
    } else {
        Err(CliError::PinMismatch)
    }
}

fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| CliError::Prompt(e.kind()))
}
