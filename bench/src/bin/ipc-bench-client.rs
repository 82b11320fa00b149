//! `ipc-bench-client`: one device process of the side-by-side sync benchmark.
//!
//! - `prep`: create a device store for a worker, enrol it with a one-time code (directly at
//!   the server, not through the proxy), optionally import a workload's base documents.
//! - `sync`: open and unlock an existing store, optionally import the incremental documents,
//!   report the idle RSS, wait for `go` on stdin (the harness resets the proxy counters
//!   meanwhile), run one complete sync through the proxy, then report wall time, peak RSS,
//!   CPU, the engine's report and the store's record counts (and, with `--verify-docs`,
//!   whether every original document can be rebuilt field by field from the store).
//!
//! Every report is one JSON line on stdout.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::json;

use ipc_bench::error::{BenchError, Result};
use ipc_bench::{device, import, procfs, workload};
use ipc_core::model::{Role, WorkerId};
use ipc_core::sync::engine::{
    HttpRequest, HttpResponse, SyncConfig, SyncEngine, Transport, TransportError,
};
use ipc_core::sync::http::UreqTransport;

#[derive(Parser)]
#[command(about = "One measured device process of the sync benchmark")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create, enrol and optionally fill a device store.
    Prep {
        /// Store path (must not exist).
        #[arg(long)]
        store: PathBuf,
        /// The worker id (from the server's set-up).
        #[arg(long)]
        worker_id: String,
        /// `worker` or `supervisor`.
        #[arg(long)]
        role: String,
        /// Team.
        #[arg(long)]
        team: String,
        /// Server base URL (direct).
        #[arg(long)]
        server: String,
        /// One-time enrolment code.
        #[arg(long)]
        code: String,
        /// Workload directory whose base documents to import.
        #[arg(long)]
        import: Option<PathBuf>,
    },
    /// Sync once through `--url` and report.
    Sync {
        /// Store path.
        #[arg(long)]
        store: PathBuf,
        /// Base URL to sync with (the proxy).
        #[arg(long)]
        url: String,
        /// Workload directory whose incremental documents to add before syncing.
        #[arg(long)]
        incr: Option<PathBuf>,
        /// JSON Lines files every document of which must be rebuilt from the store after
        /// the sync.
        #[arg(long, value_delimiter = ',')]
        verify_docs: Vec<PathBuf>,
        /// Operations pushed per round trip (default: the engine's).
        #[arg(long)]
        max_batch_ops: Option<u32>,
        /// Operations pulled per round trip (default: the engine's).
        #[arg(long)]
        pull_limit: Option<u32>,
        /// About this many bytes of operation JSON per push (default: the engine's).
        #[arg(long)]
        max_batch_bytes: Option<usize>,
    },
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-bench-client: {e}");
            println!("{}", json!({"error": e.to_string()}));
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<()> {
    match args.cmd {
        Cmd::Prep {
            store,
            worker_id,
            role,
            team,
            server,
            code,
            import: dir,
        } => {
            let worker = WorkerId::parse(&worker_id)?;
            let role = Role::parse(&role)?;
            let t0 = Instant::now();
            let s = device::create_store(&store, worker, role, &team)?;
            let enrolled = device::enrol(&s, &server, &code)?;
            if enrolled.worker_id != worker {
                return Err(BenchError::Verify(
                    "the server enrolled the device for another worker".into(),
                ));
            }
            let mut stats = None;
            if let Some(dir) = dir {
                let w = workload::load(&dir)?;
                stats = Some(import::import(&s, &w.manifest.base.file, &w.base)?);
            }
            println!(
                "{}",
                json!({
                    "device_id": s.identity().device_id.to_string(),
                    "import": stats,
                    "outbox": s.outbox_len()?,
                    "prep_ms": t0.elapsed().as_millis() as u64,
                })
            );
            Ok(())
        }
        Cmd::Sync {
            store,
            url,
            incr,
            verify_docs,
            max_batch_ops,
            pull_limit,
            max_batch_bytes,
        } => {
            let mut config = SyncConfig::default();
            if let Some(n) = max_batch_bytes {
                config.max_batch_bytes = n;
            }
            if let Some(n) = max_batch_ops {
                config.max_batch_ops = n;
            }
            if let Some(n) = pull_limit {
                config.pull_limit = n;
            }
            sync(&store, &url, incr, &verify_docs, config)
        }
    }
}

/// The transport, with the process's RSS noted before and after every request (KiB), to
/// show where memory grows: building the request, the exchange, or applying the reply.
struct TracedTransport {
    inner: UreqTransport,
    trace: std::sync::Mutex<Vec<(u64, u64)>>,
}

impl Transport for TracedTransport {
    fn send(&self, request: HttpRequest) -> std::result::Result<HttpResponse, TransportError> {
        let before = procfs::rss_kib();
        let r = self.inner.send(request);
        let after = procfs::rss_kib();
        if let Ok(mut t) = self.trace.lock() {
            t.push((before, after));
        }
        r
    }

    fn accept_encoding(&self) -> &'static str {
        self.inner.accept_encoding()
    }
}

fn sync(
    path: &std::path::Path,
    url: &str,
    incr: Option<PathBuf>,
    verify_docs: &[PathBuf],
    config: SyncConfig,
) -> Result<()> {
    let store = device::open_store(path)?;
    let mut incr_stats = None;
    if let Some(dir) = incr {
        // Only the incremental file is read: loading the base documents too would leave
        // megabytes in the allocator and distort the idle RSS.
        let manifest = workload::read_manifest(&dir)?;
        let docs = workload::read_docs(&dir, &manifest.incr)?;
        incr_stats = Some(import::import(&store, &manifest.incr.file, &docs)?);
    }
    let outbox_before = store.outbox_len()?;
    let transport = TracedTransport {
        inner: UreqTransport::new(url, Duration::from_secs(300)),
        trace: std::sync::Mutex::new(Vec::new()),
    };
    // The peak so far includes opening the store and the incremental import; the growth
    // measured is the sync's, so the peak is reset to the idle RSS here.
    let pre_idle_peak_kib = procfs::peak_rss_kib();
    let peak_reset = procfs::reset_peak_rss();
    let idle_rss_kib = procfs::rss_kib();
    println!(
        "{}",
        json!({"ready": true, "idle_rss_kib": idle_rss_kib, "outbox": outbox_before})
    );
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| BenchError::io("waiting for go", e))?;
    if line.trim() != "go" {
        return Err(BenchError::Verify("the harness did not say go".into()));
    }
    let cpu0 = procfs::cpu_ms();
    let t0 = Instant::now();
    let batch = (config.max_batch_ops, config.pull_limit);
    let report = SyncEngine::new(&store, &transport, config).sync(&mut |_| {})?;
    let wall_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let cpu_ms = procfs::cpu_ms().saturating_sub(cpu0);
    let end_rss_kib = procfs::rss_kib();
    let rss_trace = transport
        .trace
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    // The kernel batches RSS accounting per thread (up to 64 pages), so the high-water mark
    // can trail a sample taken just before: take the largest of all.
    let peak_rss_kib = rss_trace
        .iter()
        .map(|(a, b)| (*a).max(*b))
        .chain([procfs::peak_rss_kib(), end_rss_kib])
        .max()
        .unwrap_or(0);
    // Verification happens after the peak was read, so it cannot inflate it.
    let counts = import::count_records(&store)?;
    let mut verified_docs = None;
    if !verify_docs.is_empty() {
        let mut originals = Vec::new();
        for f in verify_docs {
            let text = std::fs::read_to_string(f)
                .map_err(|e| BenchError::io(format!("reading {}", f.display()), e))?;
            originals.extend(import::raw_lines(&text)?);
        }
        verified_docs = Some(import::verify_lossless(&store, &originals)?);
    }
    println!(
        "{}",
        json!({
            "wall_ms": wall_ms,
            "cpu_ms": cpu_ms,
            "idle_rss_kib": idle_rss_kib,
            "peak_rss_kib": peak_rss_kib,
            "end_rss_kib": end_rss_kib,
            "pre_idle_peak_kib": pre_idle_peak_kib,
            "peak_reset_at_idle": peak_reset,
            "rss_trace_kib": rss_trace,
            "report": report,
            "max_batch_ops": batch.0,
            "pull_limit": batch.1,
            "outbox_before": outbox_before,
            "outbox_after": store.outbox_len()?,
            "incr_import": incr_stats,
            "counts": counts,
            "verified_docs": verified_docs,
        })
    );
    Ok(())
}
