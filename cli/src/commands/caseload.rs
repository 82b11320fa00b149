//! `ipc caseload`: the worker's clients and where each stands, as a table with a summary line
//! or as JSON.

use std::io::Write;

use ipc_core::store::{Store, StoreError};

use crate::args::CaseloadArgs;
use crate::commands::emit;
use crate::error::CliError;
use crate::output::{caseload_json, caseload_summary, caseload_table, sort_caseload};
use crate::store_access::open_unlocked;

/// The caseload as shown by `ipc caseload` (table and summary line).
pub fn render(store: &Store) -> Result<String, CliError> {
    let today = store.read(|r| Ok::<_, StoreError>(r.today))?;
    let mut rows = store.caseload()?;
    sort_caseload(&mut rows);
    let outbox = store.outbox_len()?;
    let mut text = if rows.is_empty() {
        "No clients yet: add one with `ipc client add --db PATH --name NAME`.\n".to_owned()
    } else {
        caseload_table(&rows, today)
    };
    text.push('\n');
    text.push_str(&caseload_summary(&rows, outbox));
    text.push('\n');
    Ok(text)
}

/// Run `ipc caseload`.
pub fn run(args: &CaseloadArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let store = open_unlocked(&args.db)?;
    let text = if args.json {
        let mut rows = store.caseload()?;
        sort_caseload(&mut rows);
        let mut json =
            caseload_json(&rows).map_err(|_| CliError::Output(std::io::ErrorKind::InvalidData))?;
        json.push('\n');
        json
    } else {
        render(&store)?
    };
    store.lock()?;
    emit(out, &text)
}
