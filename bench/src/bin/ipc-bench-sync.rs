//! `ipc-bench-sync`: ipc-kit's sync measured exactly like the PouchDB peer
//! (`shared/bench/sync-peer`), and the side-by-side table.
//!
//! `run`: for each C and latency, a template is prepared once (a fresh SQLite server with
//! one worker and one supervisor of one team; the worker's device store enrolled and filled
//! with the workload's base documents through the write path). Every rep copies the
//! template (a fresh server database and the same prepared device), starts
//! `ipc-bench-server` on it and `node linkproxy.js` in front of it, and measures three syncs,
//! each in a fresh `ipc-bench-client` process through the proxy:
//!
//! - `push`: the worker's device pushes every base operation to the empty server;
//! - `pull`: a newly enrolled supervisor device of the same team pulls everything;
//! - `incr`: the worker's device adds the 50 incremental documents and syncs again.
//!
//! The proxy counters are reset after the client reports ready (store open, idle) and read
//! after its sync. Each run is verified at both ends: the engine's report is complete, the
//! server stores exactly the expected operations, the device holds every record, and the
//! pulling device rebuilds every base document field by field.
//!
//! `compare`: reads the peer's `peer.js run --json` outputs and ours and prints one table
//! with both and the ratios, marking each target of the issue.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use ipc_bench::children::{bin_dir, BenchServer, LineChild, LinkProxy, ProxyStats, ServerReady};
use ipc_bench::error::{BenchError, Result};
use ipc_bench::import::{ImportStats, RecordCounts};
use ipc_bench::stats::spread;
use ipc_bench::workload;

#[derive(Parser)]
#[command(about = "ipc-kit sync side by side with the PouchDB peer")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Measure our sync through the link proxy.
    Run(Box<RunArgs>),
    /// Print the side-by-side table from the peer's and our JSON results.
    Compare(CompareArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Directory holding `workload-c<C>/` (from `node peer.js gen`).
    #[arg(long)]
    workloads: PathBuf,
    /// Client counts.
    #[arg(long, value_delimiter = ',', default_value = "200")]
    clients: Vec<u32>,
    /// Added latency per request, ms (linkproxy `--latency`).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    latency: Vec<u64>,
    /// Reps per C and latency.
    #[arg(long, default_value_t = 3)]
    reps: u32,
    /// Overrides as `C:LATENCY=REPS`, e.g. `2000:300=1`.
    #[arg(long, value_delimiter = ',')]
    reps_at: Vec<String>,
    /// Node.js executable.
    #[arg(long, default_value = "node")]
    node: String,
    /// Path of the peer's `linkproxy.js`.
    #[arg(long)]
    linkproxy: PathBuf,
    /// Scratch directory.
    #[arg(long)]
    work: PathBuf,
    /// Strip Accept-Encoding in the proxy (`--no-gzip`).
    #[arg(long)]
    no_gzip: bool,
    /// The simulated device (default: `ipc-bench-client` beside this program).
    /// `scripts/bench-sync` passes the one built with the phone library's `mobile` profile.
    #[arg(long)]
    client_bin: Option<PathBuf>,
    /// Operations pushed per round trip (default: the engine's, 500).
    #[arg(long)]
    max_batch_ops: Option<u32>,
    /// Operations pulled per round trip (default: the engine's, 1000).
    #[arg(long)]
    pull_limit: Option<u32>,
    /// Bytes of operation JSON per push (default: the engine's, 512 KiB).
    #[arg(long)]
    max_batch_bytes: Option<usize>,
    /// Label of the run.
    #[arg(long, default_value = "ours")]
    label: String,
    /// Write the JSON summary (and every rep) here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the per-rep directories.
    #[arg(long)]
    keep: bool,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Peer summaries (`node peer.js run --json` output), any number.
    #[arg(long, value_delimiter = ',')]
    peer: Vec<PathBuf>,
    /// Our summaries (`ipc-bench-sync run --json`), any number.
    #[arg(long, value_delimiter = ',')]
    ours: Vec<PathBuf>,
    /// For a C measured by the peer at 0 ms only, estimate these latencies as
    /// wall(0) + requests × (the added time per request measured at another C for the same
    /// scenario), or requests × latency when no other C was measured at that latency.
    #[arg(long, value_delimiter = ',')]
    estimate_peer: Vec<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let r = match args.cmd {
        Cmd::Run(a) => run(&a),
        Cmd::Compare(a) => compare(&a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipc-bench-sync: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- run

#[derive(Deserialize)]
struct PrepOut {
    import: Option<ImportStats>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct EngineReport {
    pushed: u64,
    acknowledged: u64,
    pulled: u64,
    quarantined: u64,
    rejected_remote: u64,
    rounds: u32,
    complete: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct ClientOut {
    wall_ms: f64,
    cpu_ms: u64,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    report: EngineReport,
    outbox_after: u64,
    counts: RecordCounts,
    verified_docs: Option<usize>,
    #[serde(default)]
    end_rss_kib: u64,
    #[serde(default)]
    pre_idle_peak_kib: u64,
    #[serde(default)]
    peak_reset_at_idle: bool,
    #[serde(default)]
    rss_trace_kib: Vec<(u64, u64)>,
}

#[derive(Clone, Debug, Serialize)]
struct Rep {
    clients: u32,
    latency_ms: u64,
    scenario: &'static str,
    rep: u32,
    docs: usize,
    ops: u64,
    client: ClientOut,
    proxy: ProxyStats,
    server_ops: u64,
}

struct Paths {
    client: PathBuf,
    server: PathBuf,
}

fn read_json_line<T: serde::de::DeserializeOwned>(child: &mut LineChild, what: &str) -> Result<T> {
    let v: Value = child.read_json()?;
    if let Some(e) = v.get("error") {
        return Err(BenchError::Child {
            name: what.into(),
            reason: e.to_string(),
        });
    }
    Ok(serde_json::from_value(v)?)
}

fn prep_device(
    paths: &Paths,
    store: &Path,
    worker: &ipc_bench::children::SetupWorker,
    server_url: &str,
    import: Option<&Path>,
) -> Result<PrepOut> {
    let mut cmd = Command::new(&paths.client);
    cmd.arg("prep")
        .arg("--store")
        .arg(store)
        .args(["--worker-id", &worker.id, "--role", &worker.role])
        .args(["--team", &worker.team, "--server", server_url])
        .args(["--code", &worker.code]);
    if let Some(dir) = import {
        cmd.arg("--import").arg(dir);
    }
    let mut child = LineChild::spawn("ipc-bench-client prep", cmd, None)?;
    let out = read_json_line(&mut child, "ipc-bench-client prep")?;
    child.finish()?;
    Ok(out)
}

fn measured_sync(
    paths: &Paths,
    args: &RunArgs,
    store: &Path,
    proxy: &LinkProxy,
    extra: &[String],
) -> Result<(ClientOut, ProxyStats)> {
    let mut cmd = Command::new(&paths.client);
    cmd.arg("sync")
        .arg("--store")
        .arg(store)
        .args(["--url", &proxy.url()])
        .args(extra);
    if let Some(n) = args.max_batch_ops {
        cmd.args(["--max-batch-ops", &n.to_string()]);
    }
    if let Some(n) = args.pull_limit {
        cmd.args(["--pull-limit", &n.to_string()]);
    }
    if let Some(n) = args.max_batch_bytes {
        cmd.args(["--max-batch-bytes", &n.to_string()]);
    }
    let mut child = LineChild::spawn("ipc-bench-client sync", cmd, None)?;
    let _ready: Value = read_json_line(&mut child, "ipc-bench-client sync")?;
    // As the peer does: a short pause, then zero the counters, then go.
    std::thread::sleep(Duration::from_millis(50));
    proxy.reset()?;
    child.send_line("go")?;
    let out: ClientOut = read_json_line(&mut child, "ipc-bench-client sync")?;
    child.finish()?;
    let stats = proxy.stats()?;
    Ok((out, stats))
}

fn copy_prefixed(from_dir: &Path, prefix: &str, to_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(to_dir).map_err(|e| BenchError::io("creating a rep directory", e))?;
    let entries = std::fs::read_dir(from_dir).map_err(|e| BenchError::io("listing", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BenchError::io("listing", e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(prefix) {
            std::fs::copy(entry.path(), to_dir.join(&name))
                .map_err(|e| BenchError::io("copying the template", e))?;
        }
    }
    Ok(())
}

fn reps_for(args: &RunArgs, c: u32, lat: u64) -> u32 {
    for o in &args.reps_at {
        if let Some((key, n)) = o.split_once('=') {
            if key == format!("{c}:{lat}") {
                if let Ok(n) = n.parse() {
                    return n;
                }
            }
        }
    }
    args.reps
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(BenchError::Verify(what()))
    }
}

fn run(args: &RunArgs) -> Result<()> {
    let dir = bin_dir()?;
    let paths = Paths {
        client: args
            .client_bin
            .clone()
            .unwrap_or_else(|| dir.join("ipc-bench-client")),
        server: dir.join("ipc-bench-server"),
    };
    let server_args = |setup: bool| -> Vec<String> {
        let mut v = vec!["--rate-per-minute".to_string(), "0".to_string()];
        if setup {
            v.extend(
                [
                    "--setup-teams",
                    "1",
                    "--workers-per-team",
                    "1",
                    "--supervisors-per-team",
                    "1",
                ]
                .map(String::from),
            );
        }
        v
    };
    let mut reps: Vec<Rep> = Vec::new();
    let mut summary_runs = Vec::new();
    for &c in &args.clients {
        let wdir = args.workloads.join(format!("workload-c{c}"));
        let w = workload::load(&wdir)?;
        let base_expect = RecordCounts::expected(&w.base);
        let incr_expect = RecordCounts::expected(&w.incr);
        let base_ops = base_expect.ops() as u64;
        let incr_ops = incr_expect.ops() as u64;
        // Template: server with one worker and one supervisor; the worker's device filled.
        let tpl = args.work.join(format!("c{c}-template"));
        let _ = std::fs::remove_dir_all(&tpl);
        std::fs::create_dir_all(&tpl).map_err(|e| BenchError::io("creating the template", e))?;
        let server_db = tpl.join("server.db");
        let server = BenchServer::start(
            &paths.server,
            &format!("sqlite:{}", server_db.display()),
            &server_args(true),
            Some(&tpl.join("server-setup.log")),
        )?;
        let ready: ServerReady = server.ready.clone();
        let worker = ready
            .workers
            .iter()
            .find(|x| x.role == "worker")
            .cloned()
            .ok_or_else(|| BenchError::Server("no worker in the set-up".into()))?;
        let supervisor = ready
            .workers
            .iter()
            .find(|x| x.role == "supervisor")
            .cloned()
            .ok_or_else(|| BenchError::Server("no supervisor in the set-up".into()))?;
        eprintln!(
            "C={c}: {} base docs -> {base_ops} ops, {} incr docs -> {incr_ops} ops; preparing the device template",
            w.base.len(),
            w.incr.len()
        );
        let push_tpl = tpl.join("push").join("device.db");
        std::fs::create_dir_all(tpl.join("push")).map_err(|e| BenchError::io("mkdir", e))?;
        let prep = prep_device(&paths, &push_tpl, &worker, &server.url(), Some(&wdir))?;
        server.stop()?;
        let imported = prep
            .import
            .ok_or_else(|| BenchError::Verify("the prep did not import".into()))?;
        check(imported.ops as u64 == base_ops, || {
            format!("imported {} ops, expected {base_ops}", imported.ops)
        })?;
        eprintln!(
            "C={c}: template ready: {} ops, {} bytes of operation JSON ({:.0} B/op)",
            imported.ops,
            imported.op_json_bytes,
            imported.op_json_bytes as f64 / imported.ops.max(1) as f64
        );
        for &lat in &args.latency {
            let n_reps = reps_for(args, c, lat);
            let mut per: BTreeMap<&'static str, Vec<Rep>> = BTreeMap::new();
            for r in 1..=n_reps {
                let rdir = args.work.join(format!("c{c}-lat{lat}-r{r}"));
                let _ = std::fs::remove_dir_all(&rdir);
                copy_prefixed(&tpl, "server.db", &rdir)?;
                copy_prefixed(&tpl.join("push"), "device.db", &rdir.join("push"))?;
                let mut server = BenchServer::start(
                    &paths.server,
                    &format!("sqlite:{}", rdir.join("server.db").display()),
                    &server_args(false),
                    Some(&rdir.join("server.log")),
                )?;
                let proxy = LinkProxy::start(
                    &args.node,
                    &args.linkproxy,
                    server.ready.port,
                    lat,
                    args.no_gzip,
                    Some(&rdir.join("linkproxy.log")),
                )?;
                let pull_store = rdir.join("pull").join("device.db");
                std::fs::create_dir_all(rdir.join("pull"))
                    .map_err(|e| BenchError::io("mkdir", e))?;
                prep_device(&paths, &pull_store, &supervisor, &server.url(), None)?;
                let push_store = rdir.join("push").join("device.db");

                // push
                let (out, px) = measured_sync(&paths, args, &push_store, &proxy, &[])?;
                let srv = server.stats()?;
                check(out.report.complete && out.outbox_after == 0, || {
                    format!("push incomplete: {:?}", out.report)
                })?;
                check(
                    out.report.pushed == base_ops && out.report.acknowledged == base_ops,
                    || format!("push sent {:?}, expected {base_ops}", out.report),
                )?;
                check(srv.ops == base_ops, || {
                    format!(
                        "server holds {} ops after push, expected {base_ops}",
                        srv.ops
                    )
                })?;
                check(out.counts == base_expect, || {
                    format!("push device holds {:?}", out.counts)
                })?;
                log_rep(c, lat, "push", r, &out, &px, srv.ops);
                let rep = Rep {
                    clients: c,
                    latency_ms: lat,
                    scenario: "push",
                    rep: r,
                    docs: w.base.len(),
                    ops: base_ops,
                    client: out,
                    proxy: px,
                    server_ops: srv.ops,
                };
                per.entry("push").or_default().push(rep.clone());
                reps.push(rep);

                // pull
                let verify = wdir.join(&w.manifest.base.file);
                let verify_arg = vec!["--verify-docs".to_string(), verify.display().to_string()];
                let (out, px) = measured_sync(&paths, args, &pull_store, &proxy, &verify_arg)?;
                let srv = server.stats()?;
                check(out.report.complete, || {
                    format!("pull incomplete: {:?}", out.report)
                })?;
                check(out.report.pulled == base_ops, || {
                    format!("pulled {}, expected {base_ops}", out.report.pulled)
                })?;
                check(out.counts == base_expect, || {
                    format!("pull device holds {:?}", out.counts)
                })?;
                check(out.verified_docs == Some(w.base.len()), || {
                    format!("rebuilt {:?} documents", out.verified_docs)
                })?;
                log_rep(c, lat, "pull", r, &out, &px, srv.ops);
                let rep = Rep {
                    clients: c,
                    latency_ms: lat,
                    scenario: "pull",
                    rep: r,
                    docs: w.base.len(),
                    ops: base_ops,
                    client: out,
                    proxy: px,
                    server_ops: srv.ops,
                };
                per.entry("pull").or_default().push(rep.clone());
                reps.push(rep);

                // incr
                let incr_arg = vec!["--incr".to_string(), wdir.display().to_string()];
                let (out, px) = measured_sync(&paths, args, &push_store, &proxy, &incr_arg)?;
                let srv = server.stats()?;
                check(out.report.complete && out.outbox_after == 0, || {
                    format!("incr incomplete: {:?}", out.report)
                })?;
                check(out.report.pushed == incr_ops, || {
                    format!("incr pushed {}, expected {incr_ops}", out.report.pushed)
                })?;
                check(srv.ops == base_ops + incr_ops, || {
                    format!("server holds {} ops after incr", srv.ops)
                })?;
                check(out.counts == base_expect.plus(incr_expect), || {
                    format!("incr device holds {:?}", out.counts)
                })?;
                log_rep(c, lat, "incr", r, &out, &px, srv.ops);
                let rep = Rep {
                    clients: c,
                    latency_ms: lat,
                    scenario: "incr",
                    rep: r,
                    docs: w.incr.len(),
                    ops: incr_ops,
                    client: out,
                    proxy: px,
                    server_ops: srv.ops,
                };
                per.entry("incr").or_default().push(rep.clone());
                reps.push(rep);

                drop(proxy);
                server.stop()?;
                if !args.keep {
                    let _ = std::fs::remove_dir_all(&rdir);
                }
            }
            summary_runs.push(summarize(c, lat, &imported, &per));
        }
        if !args.keep {
            let _ = std::fs::remove_dir_all(&tpl);
        }
    }
    let defaults = ipc_core::sync::engine::SyncConfig::default();
    let summary = json!({
        "config": {
            "engine": format!("ipc-kit {} sync (ureq client, keep-alive) -> ipc-bench-server (SQLite)", ipc_core::VERSION),
            "label": args.label,
            "latency_ms": args.latency,
            "gzip": if args.no_gzip { "proxy strips Accept-Encoding: replies gzip (the protocol's default); requests gzip" } else { "requests gzip; replies brotli (negotiated by Accept-Encoding), else gzip" },
            "pull_format": format!("{:?}", defaults.pull_format),
            "client_keepalive": true,
            "max_batch_ops": args.max_batch_ops.unwrap_or(defaults.max_batch_ops),
            "pull_limit": args.pull_limit.unwrap_or(defaults.pull_limit),
            "max_batch_bytes": args.max_batch_bytes.unwrap_or(defaults.max_batch_bytes),
            "server_rate_limit": "off",
        },
        "runs": summary_runs,
    });
    let text = serde_json::to_string(&json!({"summary": summary, "reps": reps}))?;
    if let Some(path) = &args.json {
        std::fs::write(path, text.as_bytes())
            .map_err(|e| BenchError::io(format!("writing {}", path.display()), e))?;
    }
    println!("{summary}");
    Ok(())
}

fn log_rep(c: u32, lat: u64, scen: &str, r: u32, out: &ClientOut, px: &ProxyStats, srv: u64) {
    eprintln!(
        "  C={c} lat={lat} {scen:<4} rep{r}: {:.0} ms, {} req ({} conn), up {} B, down {} B, peak RSS {:.1} MiB (idle {:.1}), rounds {}, pushed {}, pulled {}, server ops {srv}",
        out.wall_ms,
        px.requests,
        px.connections,
        px.up_bytes,
        px.down_bytes,
        out.peak_rss_kib as f64 / 1024.0,
        out.idle_rss_kib as f64 / 1024.0,
        out.report.rounds,
        out.report.pushed,
        out.report.pulled,
    );
}

fn summarize(
    c: u32,
    lat: u64,
    imported: &ImportStats,
    per: &BTreeMap<&'static str, Vec<Rep>>,
) -> Value {
    let mut scenarios = serde_json::Map::new();
    for (scen, rows) in per {
        let m = |f: &dyn Fn(&Rep) -> f64| spread(&rows.iter().map(f).collect::<Vec<_>>());
        let wall = m(&|r| r.client.wall_ms);
        let docs = rows.first().map_or(1, |r| r.docs).max(1);
        let up = m(&|r| r.proxy.up_bytes as f64).median;
        let down = m(&|r| r.proxy.down_bytes as f64).median;
        let round1 = |x: f64| (x * 10.0).round() / 10.0;
        scenarios.insert(
            (*scen).to_string(),
            json!({
                "docs": docs,
                "ops": rows.first().map_or(0, |r| r.ops),
                "reps": rows.len(),
                "wall_ms": wall.median.round(),
                "wall_ms_min": wall.min.round(),
                "wall_ms_max": wall.max.round(),
                "requests": m(&|r| r.proxy.requests as f64).median,
                "connections": m(&|r| r.proxy.connections as f64).median,
                "up_bytes": up,
                "down_bytes": down,
                "up_body_bytes": m(&|r| r.proxy.up_body_bytes as f64).median,
                "down_body_bytes": m(&|r| r.proxy.down_body_bytes as f64).median,
                "wire_bytes_per_doc": ((up + down) / docs as f64).round(),
                "peak_rss_mib": round1(m(&|r| r.client.peak_rss_kib as f64).median / 1024.0),
                "idle_rss_mib": round1(m(&|r| r.client.idle_rss_kib as f64).median / 1024.0),
                "rss_growth_mib": round1(m(&|r| r.client.peak_rss_kib.saturating_sub(r.client.idle_rss_kib) as f64).median / 1024.0),
                // The same with the process's lifetime peak (as the peer's maxRSS), which
                // also counts what ran before idle (opening the store, the incr import).
                "rss_growth_lifetime_mib": round1(m(&|r| r.client.peak_rss_kib.max(r.client.pre_idle_peak_kib).saturating_sub(r.client.idle_rss_kib) as f64).median / 1024.0),
                "client_cpu_ms": m(&|r| r.client.cpu_ms as f64).median,
                "rounds": m(&|r| f64::from(r.client.report.rounds)).median,
                "by_kind_rep1": rows.first().map(|r| r.proxy.by_kind.clone()),
            }),
        );
    }
    json!({
        "clients": c,
        "latency_ms": lat,
        "base_ops": imported.ops,
        "base_op_json_bytes": imported.op_json_bytes,
        "scenarios": scenarios,
    })
}

// ---------------------------------------------------------------- compare

#[derive(Clone, Debug)]
struct Cell {
    wall_ms: f64,
    wall_min: f64,
    wall_max: f64,
    requests: f64,
    up: f64,
    down: f64,
    growth: f64,
    reps: u64,
    estimated: bool,
}

fn cell(s: &Value) -> Cell {
    let f = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    Cell {
        wall_ms: f("wall_ms"),
        wall_min: f("wall_ms_min"),
        wall_max: f("wall_ms_max"),
        requests: f("requests"),
        up: f("up_bytes"),
        down: f("down_bytes"),
        growth: f("rss_growth_mib"),
        reps: s.get("reps").and_then(Value::as_u64).unwrap_or(0),
        estimated: false,
    }
}

type Key = (u64, u64, String);

fn load_cells(files: &[PathBuf], ours: bool) -> Result<BTreeMap<Key, Cell>> {
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| BenchError::io(format!("reading {}", f.display()), e))?;
        // The peer prints progress lines on stderr and one JSON line on stdout; tolerate
        // other lines around it.
        let v: Value = text
            .lines()
            .rev()
            .find_map(|l| {
                serde_json::from_str::<Value>(l.trim())
                    .ok()
                    .filter(Value::is_object)
            })
            .ok_or_else(|| BenchError::Verify(format!("{} holds no JSON summary", f.display())))?;
        let summary = if ours {
            v.get("summary").unwrap_or(&v)
        } else {
            &v
        };
        let cfg_lat = summary
            .pointer("/config/latency_ms")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let runs = summary
            .get("runs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for r in runs {
            let c = r.get("clients").and_then(Value::as_u64).unwrap_or(0);
            let lat = r
                .get("latency_ms")
                .and_then(Value::as_u64)
                .unwrap_or(cfg_lat);
            if let Some(sc) = r.get("scenarios").and_then(Value::as_object) {
                for (name, s) in sc {
                    out.insert((c, lat, name.clone()), cell(s));
                }
            }
        }
    }
    Ok(out)
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::INFINITY
    }
}

fn fmt_n(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn fmt_x(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.1}×")
    }
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

fn compare(args: &CompareArgs) -> Result<()> {
    let mut peer = load_cells(&args.peer, false)?;
    let ours = load_cells(&args.ours, true)?;
    // Estimated peer cells for latencies it was not run at.
    let zero: Vec<(Key, Cell)> = peer
        .iter()
        .filter(|((_, lat, _), _)| *lat == 0)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for lat in &args.estimate_peer {
        for ((c, _, scen), z) in &zero {
            let key = (*c, *lat, scen.clone());
            if !peer.contains_key(&key) && ours.contains_key(&key) {
                // Added wall time per request at this latency, from a C measured at both.
                let per_request = zero
                    .iter()
                    .filter(|((c2, _, s2), _)| c2 != c && s2 == scen)
                    .find_map(|((c2, _, _), z2)| {
                        let slow = peer.get(&(*c2, *lat, scen.clone()))?;
                        (!slow.estimated && z2.requests > 0.0)
                            .then(|| (slow.wall_ms - z2.wall_ms) / z2.requests)
                    })
                    .unwrap_or(*lat as f64);
                let extra = z.requests * per_request;
                peer.insert(
                    key,
                    Cell {
                        wall_ms: z.wall_ms + extra,
                        wall_min: z.wall_min + extra,
                        wall_max: z.wall_max + extra,
                        estimated: true,
                        ..z.clone()
                    },
                );
            }
        }
    }
    println!("| C | delay | scenario | requests peer / ours | up bytes peer / ours | down bytes peer / ours | bytes (up+down) | wall ms peer / ours (min–max) | RSS growth MiB peer / ours | targets: req ≥10× · bytes ≥3× · wall ≥5× @300 · mem ≤⅓ |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let order = ["push", "pull", "incr"];
    let mut keys: Vec<&Key> = ours.keys().collect();
    keys.sort_by_key(|(c, lat, s)| (*c, *lat, order.iter().position(|o| o == s).unwrap_or(9)));
    let mut all_met = BTreeMap::new();
    for key in keys {
        let (c, lat, scen) = key;
        let o = &ours[key];
        let Some(p) = peer.get(key) else {
            println!(
                "| {} | {lat} ms | {scen} | – / {} | – | – | – | – / {} | – | peer not run |",
                fmt_n(*c as f64),
                fmt_n(o.requests),
                fmt_n(o.wall_ms)
            );
            continue;
        };
        let rq = ratio(p.requests, o.requests);
        let by = ratio(p.up + p.down, o.up + o.down);
        let wl = ratio(p.wall_ms, o.wall_ms);
        let mem = ratio(p.growth, o.growth);
        let est = if p.estimated { " (est.)" } else { "" };
        let mut t = vec![
            format!("req {}", mark(rq >= 10.0)),
            format!("bytes {}", mark(by >= 3.0)),
        ];
        all_met
            .entry("requests ≥ 10×")
            .or_insert_with(Vec::new)
            .push(rq >= 10.0);
        all_met
            .entry("bytes ≥ 3×")
            .or_insert_with(Vec::new)
            .push(by >= 3.0);
        if *lat >= 300 {
            t.push(format!("wall {}", mark(wl >= 5.0)));
            all_met
                .entry("wall ≥ 5× at 300 ms")
                .or_insert_with(Vec::new)
                .push(wl >= 5.0);
        }
        if p.growth.is_finite() && !p.estimated {
            let ok = o.growth * 3.0 <= p.growth;
            t.push(format!("mem {}", mark(ok)));
            all_met
                .entry("memory growth ≤ ⅓")
                .or_insert_with(Vec::new)
                .push(ok);
        }
        let o_growth = format!("{:.1}", o.growth);
        println!(
            "| {} | {lat} ms | {scen} | {} / {} ({}) | {} / {} | {} / {} | {} | {}{est} / {} ({}–{}) ({}) | {} / {} ({}) | {} |",
            fmt_n(*c as f64),
            fmt_n(p.requests),
            fmt_n(o.requests),
            fmt_x(rq),
            fmt_n(p.up),
            fmt_n(o.up),
            fmt_n(p.down),
            fmt_n(o.down),
            fmt_x(by),
            fmt_n(p.wall_ms),
            fmt_n(o.wall_ms),
            fmt_n(o.wall_min),
            fmt_n(o.wall_max),
            fmt_x(wl),
            if p.estimated { "–".to_string() } else { format!("{:.1}", p.growth) },
            o_growth,
            if p.estimated { "–".to_string() } else { fmt_x(mem) },
            t.join(" · "),
        );
        let _ = (p.reps, o.reps);
    }
    println!();
    for (target, oks) in all_met {
        let met = oks.iter().filter(|x| **x).count();
        println!("- {target}: met in {met} of {} rows", oks.len());
    }
    Ok(())
}
