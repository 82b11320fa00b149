//! One module per command; [`run`] dispatches a parsed command line.

pub mod admin;
pub mod caseload;
pub mod client;
pub mod demo;
pub mod init;
pub mod pin_admin;
pub mod score;
pub mod serve;
pub mod simulate;
pub mod sync;

use std::io::Write;

use crate::args::{Cli, ClientCommand, Command};
use crate::error::CliError;

/// Run the command; its output goes to `out`.
pub fn run(cli: &Cli, out: &mut dyn Write) -> Result<(), CliError> {
    match &cli.command {
        Command::Init(args) => init::run(args, out),
        Command::Client(ClientCommand::Add(args)) => client::add(args, out),
        Command::Caseload(args) => caseload::run(args, out),
        Command::Demo(args) => demo::run(args, out),
        Command::Score(args) => score::run(args, out),
        Command::Simulate(args) => simulate::run(args, out),
        Command::Recover(args) => pin_admin::recover(args, out),
        Command::ChangePin(args) => pin_admin::change_pin(args, out),
        Command::Serve(args) => serve::run(args, out),
        Command::Admin(args) => admin::run(args, out),
        Command::Enrol(args) => sync::enrol(args, out),
        Command::Sync(args) => sync::run(args, out),
    }
}

/// Write all of `text` to `out`.
pub fn emit(out: &mut dyn Write, text: &str) -> Result<(), CliError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Output(e.kind()))
}
