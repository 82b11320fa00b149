//! Child processes of the bench: the shared counting proxy (`node linkproxy.js`), the bench
//! server (`ipc-bench-server`) and measured device processes (`ipc-bench-client`). Each is
//! started with piped stdio, announces itself with one JSON line on stdout, and is ended (by
//! its own pid) when its handle drops.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{BenchError, Result};

/// A running child with a line protocol on stdin/stdout.
pub struct LineChild {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl LineChild {
    /// Start `cmd` with piped stdin/stdout (stderr goes to `stderr_file` when given).
    pub fn spawn(name: &str, mut cmd: Command, stderr_file: Option<&Path>) -> Result<LineChild> {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        match stderr_file {
            Some(p) => {
                let f = std::fs::File::create(p)
                    .map_err(|e| BenchError::io(format!("creating {}", p.display()), e))?;
                cmd.stderr(Stdio::from(f));
            }
            None => {
                cmd.stderr(Stdio::inherit());
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| BenchError::io(format!("starting {name}"), e))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or_else(|| BenchError::Child {
            name: name.into(),
            reason: "no stdout".into(),
        })?;
        Ok(LineChild {
            name: name.into(),
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Read the next stdout line as JSON.
    pub fn read_json<T: DeserializeOwned>(&mut self) -> Result<T> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| BenchError::io(format!("reading from {}", self.name), e))?;
        if n == 0 {
            let status = self.child.wait().ok();
            return Err(BenchError::Child {
                name: self.name.clone(),
                reason: format!("exited ({status:?}) before answering"),
            });
        }
        serde_json::from_str(line.trim()).map_err(|e| BenchError::Child {
            name: self.name.clone(),
            reason: format!("printed something that is not the expected JSON: {e}"),
        })
    }

    /// Send one line on stdin.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().ok_or_else(|| BenchError::Child {
            name: self.name.clone(),
            reason: "stdin closed".into(),
        })?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| BenchError::io(format!("writing to {}", self.name), e))
    }

    /// Close stdin and wait for the child to exit; error on a non-zero status.
    pub fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .map_err(|e| BenchError::io(format!("waiting for {}", self.name), e))?;
        if status.success() {
            Ok(())
        } else {
            Err(BenchError::Child {
                name: self.name.clone(),
                reason: format!("exited with {status}"),
            })
        }
    }

    fn stop(&mut self) {
        drop(self.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            // Ask politely (the server and the proxy both stop on SIGTERM), then insist.
            let _ = Command::new("kill")
                .args(["-TERM", &self.child.id().to_string()])
                .status();
            for _ in 0..50 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for LineChild {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Counters of the link proxy (`GET /__linkproxy/stats`), the fields the bench reports.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ProxyStats {
    /// HTTP requests received from clients.
    pub requests: u64,
    /// TCP connections accepted.
    pub connections: u64,
    /// Bytes read from clients (request lines, headers, bodies).
    pub up_bytes: u64,
    /// Bytes written to clients.
    pub down_bytes: u64,
    /// Request body bytes.
    pub up_body_bytes: u64,
    /// Response body bytes.
    pub down_body_bytes: u64,
    /// Most requests in flight at once.
    pub max_inflight: u64,
    /// Responses per status.
    #[serde(default)]
    pub statuses: Value,
    /// Per method + path.
    #[serde(default)]
    pub by_kind: Value,
    /// Upstream failures.
    #[serde(default)]
    pub upstream_errors: u64,
}

/// `node linkproxy.js` in front of an upstream port.
pub struct LinkProxy {
    child: LineChild,
    /// The port clients connect to.
    pub port: u16,
    control: ureq::Agent,
}

#[derive(Deserialize)]
struct ListenLine {
    listen_port: u16,
}

impl LinkProxy {
    /// Start the proxy (`node linkproxy.js --upstream 127.0.0.1:PORT --latency MS`).
    pub fn start(
        node: &str,
        linkproxy_js: &Path,
        upstream_port: u16,
        latency_ms: u64,
        no_gzip: bool,
        log: Option<&Path>,
    ) -> Result<LinkProxy> {
        let mut cmd = Command::new(node);
        cmd.arg(linkproxy_js)
            .args(["--upstream", &format!("127.0.0.1:{upstream_port}")])
            .args(["--latency", &latency_ms.to_string()]);
        if no_gzip {
            cmd.arg("--no-gzip");
        }
        let mut child = LineChild::spawn("linkproxy", cmd, log)?;
        let line: ListenLine = child.read_json()?;
        let control: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(LinkProxy {
            child,
            port: line.listen_port,
            control,
        })
    }

    /// Base URL for clients.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Zero the counters.
    pub fn reset(&self) -> Result<()> {
        self.control
            .post(&format!("{}/__linkproxy/reset", self.url()))
            .send_empty()
            .map_err(|e| BenchError::Http(format!("proxy reset: {e}")))?
            .body_mut()
            .read_to_string()
            .map_err(|e| BenchError::Http(format!("proxy reset: {e}")))?;
        Ok(())
    }

    /// The counters since the last reset.
    pub fn stats(&self) -> Result<ProxyStats> {
        let text = self
            .control
            .get(&format!("{}/__linkproxy/stats", self.url()))
            .call()
            .map_err(|e| BenchError::Http(format!("proxy stats: {e}")))?
            .body_mut()
            .read_to_string()
            .map_err(|e| BenchError::Http(format!("proxy stats: {e}")))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// The proxy's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// A worker created by the bench server's set-up, with a one-time enrolment code.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SetupWorker {
    /// Worker id.
    pub id: String,
    /// `worker` or `supervisor`.
    pub role: String,
    /// Team.
    pub team: String,
    /// One-time code.
    pub code: String,
}

/// What `ipc-bench-server` prints once listening.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ServerReady {
    /// Listening port on 127.0.0.1.
    pub port: u16,
    /// Storage backend.
    pub backend: String,
    /// Workers created by `--setup`.
    pub workers: Vec<SetupWorker>,
}

/// The server's counts (`stats` on its stdin).
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct ServerStats {
    /// Operations stored.
    pub ops: u64,
    /// Devices enrolled.
    pub devices: u64,
    /// Workers.
    pub workers: u64,
    /// Clients.
    pub clients: u64,
}

/// `ipc-bench-server` as a child process.
pub struct BenchServer {
    child: LineChild,
    /// What it printed when ready.
    pub ready: ServerReady,
}

impl BenchServer {
    /// Start `bin --storage URL [extra args]` and wait for its ready line.
    pub fn start(bin: &Path, storage: &str, extra: &[String], log: Option<&Path>) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["--storage", storage]).args(extra);
        let mut child = LineChild::spawn("ipc-bench-server", cmd, log)?;
        let ready: ServerReady = child.read_json()?;
        Ok(BenchServer { child, ready })
    }

    /// Base URL (direct, not through the proxy).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ready.port)
    }

    /// The server's counts.
    pub fn stats(&mut self) -> Result<ServerStats> {
        self.child.send_line("stats")?;
        self.child.read_json()
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Peak and current RSS of the server process, KiB (from `/proc/PID/status`).
    pub fn rss_kib(&self) -> (u64, u64) {
        let text =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
                .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM"), field("VmRSS"))
    }

    /// Stop the server (closing its stdin makes it shut down cleanly).
    pub fn stop(self) -> Result<()> {
        self.child.finish()
    }
}

/// The directory holding this process's executable (the other bench binaries sit beside it).
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| BenchError::io("locating the executable", e))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| BenchError::Verify("the executable has no directory".into()))
}
