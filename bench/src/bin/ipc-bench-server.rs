//! `ipc-bench-server`: the ipc-kit sync server (`ipc_server::serve`) on a storage URL, as a
//! child process of the benchmarks, with the set-up they need.
//!
//! - `--setup-teams T --workers-per-team W --supervisors-per-team S` adds workers and one
//!   one-time enrolment code each before listening.
//! - Once listening on 127.0.0.1 it prints one JSON line: port, backend and the workers with
//!   their codes.
//! - Commands on stdin, one per line, each answered with one JSON line: `stats` (the
//!   server's counts). End of stdin (or SIGTERM) shuts the server down gracefully (requests
//!   in flight finish).
//!
//! The server's own configuration is its default except the per-device rate limit, which
//! `--rate-per-minute` sets (0 = off).

use std::process::ExitCode;
use std::time::Duration;

/// The allocator `ipc serve` uses (cli/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use ipc_core::model::Role;
use ipc_server::{admin, ServerConfig};

#[derive(Parser)]
#[command(about = "The ipc-kit sync server for the benchmarks")]
struct Args {
    /// `sqlite:PATH` or `postgres://…`.
    #[arg(long)]
    storage: String,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Teams to create.
    #[arg(long, default_value_t = 0)]
    setup_teams: u32,
    /// Workers (CHWs) per team, each with an enrolment code.
    #[arg(long, default_value_t = 1)]
    workers_per_team: u32,
    /// Supervisors per team, each with an enrolment code.
    #[arg(long, default_value_t = 0)]
    supervisors_per_team: u32,
    /// Sustained requests per minute per device (0 = no rate limit).
    #[arg(long)]
    rate_per_minute: Option<u32>,
    /// Burst above the sustained rate.
    #[arg(long)]
    rate_burst: Option<u32>,
    /// Worker threads of the runtime (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ipc-bench-server: runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-bench-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let storage = ipc_server::open_storage(&args.storage)
        .await
        .map_err(|e| format!("storage: {e}"))?;
    let mut workers = Vec::new();
    for t in 0..args.setup_teams {
        let team = format!("team-{:04}", t + 1);
        let roles = std::iter::repeat_n(Role::Worker, args.workers_per_team as usize).chain(
            std::iter::repeat_n(Role::Supervisor, args.supervisors_per_team as usize),
        );
        for (i, role) in roles.enumerate() {
            let name = format!("Bench {} {}", role.as_str(), i + 1);
            let id = admin::add_worker(&storage, &name, &team, role)
                .await
                .map_err(|e| format!("add worker: {e}"))?;
            let code = admin::enrol_code(&storage, id, Duration::from_secs(24 * 3600))
                .await
                .map_err(|e| format!("enrol code: {e}"))?;
            workers.push(json!({
                "id": id.to_string(), "role": role.as_str(), "team": team, "code": code,
            }));
        }
    }
    let mut config = ServerConfig::default();
    if let Some(r) = args.rate_per_minute {
        config.rate_per_minute = r;
    }
    if let Some(b) = args.rate_burst {
        config.rate_burst = b;
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("listen: {e}"))?
        .port();
    let backend = match &storage {
        ipc_server::AnyStorage::Sqlite(_) => "sqlite",
        ipc_server::AnyStorage::Postgres(_) => "postgres",
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ipc_server::serve_with_shutdown(
        storage.clone(),
        listener,
        config,
        async move {
            let _ = stop_rx.await;
        },
    ));
    println!(
        "{}",
        json!({"port": port, "backend": backend, "workers": workers})
    );
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal: {e}"))?;
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(cmd)) if cmd.trim() == "stats" => {
                    let s = admin::stats(&storage).await.map_err(|e| format!("stats: {e}"))?;
                    println!("{}", serde_json::to_string(&s).map_err(|e| e.to_string())?);
                }
                Ok(Some(cmd)) if cmd.trim().is_empty() => {}
                Ok(Some(_)) => println!("{}", json!({"error": "unknown command"})),
                Ok(None) | Err(_) => break,
            },
            _ = term.recv() => break,
        }
    }
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(30), server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => return Err(format!("server: {e}")),
        Ok(Err(e)) => return Err(format!("server task: {e}")),
        Err(_) => return Err("the server did not stop within 30 s".into()),
    }
    if let ipc_server::AnyStorage::Postgres(pg) = &storage {
        pg.close();
    }
    Ok(())
}
