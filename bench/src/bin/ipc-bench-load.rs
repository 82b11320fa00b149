//! `ipc-bench-load`: N concurrent simulated devices against the sync server on loopback.
//!
//! Starts `ipc-bench-server` on `--storage` (a fresh database) with one worker and one
//! enrolment code per device, enrols every device, then lets them all sync (paced, see
//! `ipc_bench::load`) for a warm-up and a measured window. Prints one JSON line: operations
//! ingested per second in the window, p50/p99/max sync latency, requests, errors, CPU of the
//! server, of this generator and of the whole machine, and the server's stored-operation
//! count checked against what the devices were acknowledged.

use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Not the C library's allocator: with hundreds of device threads glibc's malloc took ~40 %
/// of the generator's CPU, which the machine's two cores share with the server under test.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use serde_json::json;

use ipc_bench::children::{bin_dir, BenchServer};
use ipc_bench::error::{BenchError, Result};
use ipc_bench::load::{machine_cpu_ms, process_cpu_ms, Device, DeviceResult, LoadConfig};
use ipc_bench::stats::percentile;

#[derive(Parser)]
#[command(about = "Simulated devices against the sync server")]
struct Args {
    /// `postgres://…` or `sqlite:PATH` (a fresh database).
    #[arg(long)]
    storage: String,
    /// Concurrent devices (one worker each).
    #[arg(long)]
    devices: u32,
    /// Workers per team.
    #[arg(long, default_value_t = 10)]
    team_size: u32,
    /// Operations per push.
    #[arg(long, default_value_t = 60)]
    batch: usize,
    /// Time between sync starts per device, ms (±50 % jitter).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Warm-up, seconds (not measured).
    #[arg(long, default_value_t = 5)]
    warmup_s: u64,
    /// Measured window, seconds.
    #[arg(long, default_value_t = 20)]
    duration_s: u64,
    /// Clients per device.
    #[arg(long, default_value_t = 20)]
    caseload: usize,
    /// The server's per-device rate limit, requests per minute (0 = off).
    #[arg(long, default_value_t = 0)]
    rate_per_minute: u32,
    /// Server log file.
    #[arg(long)]
    server_log: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-bench-load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    let n = args.devices.max(1);
    let teams = n.div_ceil(args.team_size.max(1));
    let server_bin = bin_dir()?.join("ipc-bench-server");
    let t_setup = Instant::now();
    let mut server = BenchServer::start(
        &server_bin,
        &args.storage,
        &[
            "--setup-teams".into(),
            teams.to_string(),
            "--workers-per-team".into(),
            args.team_size.max(1).to_string(),
            "--rate-per-minute".into(),
            args.rate_per_minute.to_string(),
        ],
        args.server_log.as_deref(),
    )?;
    let url = server.url();
    let codes: Vec<String> = server
        .ready
        .workers
        .iter()
        .filter(|w| w.role == "worker")
        .take(n as usize)
        .map(|w| w.code.clone())
        .collect();
    if codes.len() < n as usize {
        return Err(BenchError::Server("the set-up made too few workers".into()));
    }
    let cfg = LoadConfig {
        batch_ops: args.batch.max(1),
        interval: Duration::from_millis(args.interval_ms),
        warmup: Duration::from_secs(args.warmup_s),
        duration: Duration::from_secs(args.duration_s.max(1)),
        caseload: args.caseload,
        pull_limit: 1000,
    };
    // Enrol every device and make its batches first (in parallel), then start them together.
    let barrier = Arc::new(Barrier::new(n as usize + 1));
    let start_at = Arc::new(std::sync::Mutex::new(None::<(Instant, Instant)>));
    let mut handles = Vec::with_capacity(n as usize);
    for (i, code) in codes.into_iter().enumerate() {
        let url = url.clone();
        let cfg = cfg.clone();
        let barrier = barrier.clone();
        let start_at = start_at.clone();
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || -> std::result::Result<DeviceResult, String> {
                let dev = Device::enrol(&url, &code, i as u64 + 1, cfg.caseload)
                    .and_then(|mut d| d.prepare(&cfg).map(|()| d));
                barrier.wait();
                let dev = dev.map_err(|e| e.to_string())?;
                let (measure_from, end) = start_at
                    .lock()
                    .map_err(|_| "poisoned".to_string())?
                    .ok_or("no start time")?;
                Ok(dev.run(&cfg, i as u64 + 1, measure_from, end))
            })
            .map_err(|e| BenchError::io("starting a device thread", e))?;
        handles.push(h);
    }
    {
        let now = Instant::now();
        let measure_from = now + cfg.warmup;
        let end = measure_from + cfg.duration;
        if let Ok(mut g) = start_at.lock() {
            *g = Some((measure_from, end));
        }
    }
    let setup_ms = t_setup.elapsed().as_millis() as u64;
    barrier.wait();
    let (measure_from, end) = start_at
        .lock()
        .ok()
        .and_then(|g| *g)
        .ok_or_else(|| BenchError::Verify("no start time".into()))?;
    std::thread::sleep(measure_from.saturating_duration_since(Instant::now()));
    let cpu0 = (
        process_cpu_ms(server.pid()),
        process_cpu_ms(std::process::id()),
        machine_cpu_ms(),
    );
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let cpu1 = (
        process_cpu_ms(server.pid()),
        process_cpu_ms(std::process::id()),
        machine_cpu_ms(),
    );
    let mut results = Vec::with_capacity(handles.len());
    let mut failed = Vec::new();
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => results.push(r),
            Ok(Err(e)) => failed.push(e),
            Err(_) => failed.push("a device thread panicked".into()),
        }
    }
    if let Some(e) = failed.first() {
        return Err(BenchError::Verify(format!(
            "{} devices failed to start: {e}",
            failed.len()
        )));
    }
    let window_s = cfg.duration.as_secs_f64();
    let mut lat: Vec<f64> = results
        .iter()
        .flat_map(|r| r.latencies_ms.iter().copied())
        .collect();
    lat.sort_by(f64::total_cmp);
    let sum = |f: fn(&DeviceResult) -> u64| results.iter().map(f).sum::<u64>();
    let acked_window = sum(|r| r.acked_in_window);
    let acked_total = sum(|r| r.acked_total);
    let in_doubt = sum(|r| r.in_doubt);
    let errors = sum(|r| r.errors);
    let rejected = sum(|r| r.rejected);
    let first_error = results.iter().find_map(|r| r.first_error.clone());
    let stats = server.stats()?;
    let server_peak = server.rss_kib().0;
    server.stop()?;
    let busy = cpu1.2 .0.saturating_sub(cpu0.2 .0) as f64;
    let total = cpu1.2 .1.saturating_sub(cpu0.2 .1).max(1) as f64;
    let cores = (total / (window_s * 1000.0)).round().max(1.0);
    let out = json!({
        "devices": n,
        "config": cfg,
        "setup_ms": setup_ms,
        "window_s": window_s,
        "ops_per_s": acked_window as f64 / window_s,
        "offered_ops_per_s": n as f64 * cfg.batch_ops as f64 / cfg.interval.as_secs_f64().max(1e-9),
        "syncs_in_window": lat.len(),
        "syncs_per_s": lat.len() as f64 / window_s,
        "p50_ms": percentile(&lat, 50.0),
        "p99_ms": percentile(&lat, 99.0),
        "max_ms": lat.last().copied().unwrap_or(0.0),
        "errors": errors,
        "rejected": rejected,
        "first_error": first_error,
        "acked_total": acked_total,
        "in_doubt": in_doubt,
        "server_ops": stats.ops,
        // Every acknowledged operation is stored, and nothing else but operations whose
        // request timed out (stored or not, unknown to the device).
        "verified": stats.ops >= acked_total && stats.ops <= acked_total + in_doubt && rejected == 0,
        "cpu": {
            "cores": cores,
            "server_cores": (cpu1.0 - cpu0.0) as f64 / (window_s * 1000.0),
            "generator_cores": (cpu1.1 - cpu0.1) as f64 / (window_s * 1000.0),
            "machine_busy_cores": busy / (window_s * 1000.0),
        },
        "server_peak_rss_mib": server_peak as f64 / 1024.0,
    });
    println!("{out}");
    if stats.ops < acked_total || stats.ops > acked_total + in_doubt {
        return Err(BenchError::Verify(format!(
            "the server stores {} operations but devices were acknowledged {acked_total} \
             (and {in_doubt} are in doubt)",
            stats.ops
        )));
    }
    Ok(())
}
