//! `ipc serve`: run the sync server on a database (SQLite or PostgreSQL) until Ctrl-C or
//! SIGTERM. Logs go to stderr as JSON lines (ids and counts only, never personal data); one
//! line on stdout says where it listens, once bound (port 0 picks a free port).

use std::io::Write;

use ipc_server::{ServerConfig, Storage};

use crate::args::ServeArgs;
use crate::commands::emit;
use crate::error::CliError;

/// A tokio runtime for the server side of the CLI.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::io("starting the async runtime"))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IPC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests calling `run` twice) is harmless: keep the first.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Run `ipc serve`.
pub fn run(args: &ServeArgs, out: &mut dyn Write) -> Result<(), CliError> {
    init_logging();
    let rt = runtime()?;
    rt.block_on(async {
        let storage = ipc_server::open_storage(&args.server_db).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| {
                CliError::Server(format!("cannot listen on {}: {}", args.listen, e.kind()))
            })?;
        let addr = listener
            .local_addr()
            .map_err(CliError::io("reading the listening address"))?;
        emit(
            out,
            &format!(
                "listening on http://{addr} (storage: {})\n",
                storage.backend()
            ),
        )?;
        ipc_server::serve(storage, listener, ServerConfig::default()).await?;
        Ok(())
    })
}
