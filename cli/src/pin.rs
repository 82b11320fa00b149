//! Where the PIN comes from: the `IPC_PIN` environment variable, or a hidden prompt when
//! standard input is a terminal. Never a command-line argument (it would show in the shell
//! history and the process list). The PIN is kept in memory that is wiped when dropped.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use crate::error::CliError;

/// The environment variable holding the PIN for non-interactive use.
pub const PIN_ENV: &str = "IPC_PIN";

/// What the PIN is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Unlock an existing store (asked once).
    Unlock,
    /// Protect a new store (asked twice on a terminal).
    New,
}

/// The PIN from `IPC_PIN`, if the variable is set. A trailing line break (from
/// `IPC_PIN=$(cat file)` or similar) is removed.
pub fn from_env() -> Result<Option<Zeroizing<String>>, CliError> {
    let Some(raw) = std::env::var_os(PIN_ENV) else {
        return Ok(None);
    };
    let mut pin = Zeroizing::new(raw.into_string().map_err(|_| CliError::PinNotText)?);
    while pin.ends_with('\n') || pin.ends_with('\r') {
        pin.pop();
    }
    if pin.is_empty() {
        return Err(CliError::EmptyPin);
    }
    Ok(Some(pin))
}

/// The PIN from `IPC_PIN`, else from the terminal; an error when neither is available.
pub fn read(purpose: Purpose) -> Result<Zeroizing<String>, CliError> {
    if let Some(pin) = from_env()? {
        return Ok(pin);
    }
    // rpassword reads /dev/tty, which may exist even when stdin is a pipe (scripts, tests):
    // ask only when the user is really at a terminal.
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NoPin);
    }
    match purpose {
        Purpose::Unlock => prompt("PIN: "),
        Purpose::New => {
            let first = prompt("New PIN (at least 4 characters): ")?;
            let second = prompt("Type the new PIN again: ")?;
            if *first == *second {
                Ok(first)
            } else {
                Err(CliError::PinMismatch)
            }
        }
    }
}

fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| CliError::PinPrompt(e.kind()))
}
