//! The `ipc` binary: parse the command line, run the command, and turn every failure into one
//! line on stderr and an exit code. A panic prints a fixed line (never its message, which
//! could hold personal data) and exits with 70.

use std::io::Write;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use ipc_cli::args::{clap_error_line, Cli};
use ipc_cli::{commands, exit, CliError};

/// mimalloc instead of the C library's allocator: `ipc serve` allocates and frees on many
/// threads at once, where glibc's malloc spent ~15 % of the server's CPU (ADR 0010).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn print_error(line: &str) {
    let _ = writeln!(std::io::stderr(), "error: {line}");
}

fn run() -> u8 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return exit::OK;
        }
        Err(e) => {
            print_error(&clap_error_line(&e));
            return exit::USAGE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match commands::run(&cli, &mut out) {
        Ok(()) => exit::OK,
        // The reader went away (e.g. `ipc caseload | head`): not a failure of the command.
        Err(CliError::Output(std::io::ErrorKind::BrokenPipe)) => exit::OK,
        Err(e) => {
            print_error(&e.line());
            e.exit_code()
        }
    }
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|_| {
        print_error("internal error; no data was changed");
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => ExitCode::from(code),
        Err(_) => ExitCode::from(exit::INTERNAL),
    }
}
