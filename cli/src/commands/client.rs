//! `ipc client add`: register a client through the store's write path and print only the new
//! client id, so scripts can capture it.

use std::io::Write;

use ipc_core::clock::{Clock, SystemClock};
use ipc_core::model::{Client, NewClient};

use crate::args::ClientAddArgs;
use crate::commands::emit;
use crate::error::CliError;
use crate::store_access::{open, unlock};

fn flag_of(field: &str) -> &'static str {
    match field {
        "display_name" => "--name",
        "phone" => "--phone",
        "village" => "--village",
        "birth_year" => "--birth-year",
        "sex" => "--sex",
        _ => "input",
    }
}

/// Run `ipc client add`. Input is validated before the PIN is asked for; nothing is written
/// unless it is valid.
pub fn add(args: &ClientAddArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let store = open(&args.db)?;
    let today = SystemClock.today();
    let client = Client::new(
        NewClient {
            display_name: args.name.clone(),
            sex: args.sex.map(Into::into),
            birth_year: args.birth_year,
            phone: args.phone.clone(),
            village: args.village.clone(),
            address: None,
            consent: None,
            assigned_worker: store.identity().worker_id,
            registered_on: today,
        },
        today,
    )
    .map_err(|e| CliError::invalid(e, flag_of))?;
    unlock(&store)?;
    store.add(&client)?;
    store.lock()?;
    emit(out, &format!("{}\n", client.id))
}
