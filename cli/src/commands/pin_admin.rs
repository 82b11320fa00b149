//! `ipc recover` and `ipc change-pin`: the PIN's life cycle on an existing store. Both only
//! re-wrap the data key (the data is not re-encrypted). Secrets come from environment
//! variables or hidden prompts, never from arguments (see [`crate::pin`]).

use std::io::Write;

use ipc_core::store::keys::{Pin, RecoveryCode};
use ipc_core::store::StoreError;

use crate::args::{ChangePinArgs, RecoverArgs};
use crate::commands::emit;
use crate::error::CliError;
use crate::pin;
use crate::store_access::open;

/// Run `ipc recover`: unlock with the recovery code and set a new PIN; clears a lock-out.
pub fn recover(args: &RecoverArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let store = open(&args.db)?;
    let code = pin::read_recovery_code()?;
    // Check the code's form (length, characters, checksum) before asking for a new PIN.
    drop(RecoveryCode::parse(&code).map_err(StoreError::from)?);
    let new_pin = pin::read_new_pin()?;
    Pin::new(&new_pin).map_err(StoreError::from)?;
    store.recover(&code, &new_pin)?;
    drop(code);
    drop(new_pin);
    store.lock()?;
    emit(
        out,
        "Recovered: the store now opens with the new PIN, and the wrong-PIN counter is cleared.\n\
         The recovery code stays the same; it remains with your supervisor.\n",
    )
}

/// Run `ipc change-pin`: the current PIN (with the usual wrong-PIN rules), then the new one.
pub fn change_pin(args: &ChangePinArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let store = open(&args.db)?;
    let old = pin::read_current()?;
    let new_pin = pin::read_new_pin()?;
    Pin::new(&new_pin).map_err(StoreError::from)?;
    if *old == *new_pin {
        return Err(CliError::SamePin);
    }
    store.change_pin(&old, &new_pin)?;
    drop(old);
    drop(new_pin);
    store.lock()?;
    emit(out, "PIN changed; the store now opens with the new PIN.\n")
}
