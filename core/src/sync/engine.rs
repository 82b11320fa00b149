//! The device's sync engine: push the outbox and pull what the device may see, in as few
//! round trips as possible, over any [`Transport`].
//!
//! Each round trip sends one bounded batch plus the pull cursor; the reply is applied in one
//! store transaction (acknowledgements, refusals to quarantine, received operations, clients
//! that left the scope, the new cursor), so a crash at any point loses nothing and the next
//! sync resumes. Transport failures and retryable server errors are retried with capped
//! exponential back-off and jitter. The report says exactly what happened; `complete` is
//! true only when the outbox is empty (quarantine aside) and nothing more waits on the
//! server. An interrupted sync is an error that carries what was done so far — it is never
//! reported as success.

use std::time::Duration;

use serde::Serialize;

use crate::store::{Store, StoreError, SyncReply};
use crate::sync::wire::{
    decode, encode, ErrorBody, ErrorCode, PullFormat, SyncRequest, SyncResponse, WireError,
    MAX_BATCH_OPS, MAX_PULL_OPS, PROTOCOL_VERSION, SYNC_PATH,
};

/// An HTTP request the engine wants sent (path relative to the server's base URL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// `POST` or `GET`.
    pub method: String,
    /// Path, e.g. `/v1/sync`.
    pub path: String,
    /// Headers (`Authorization`, `Content-Type`, `Content-Encoding`).
    pub headers: Vec<(String, String)>,
    /// Body bytes (gzip).
    pub body: Vec<u8>,
}

/// The server's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// The request did not get an answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached (no network, DNS, refused connection).
    #[error("server unreachable: {0}")]
    Unreachable(String),
    /// No answer in time.
    #[error("request timed out")]
    Timeout,
    /// The connection failed mid-way (the server may or may not have processed it).
    #[error("connection failed: {0}")]
    Io(String),
}

/// Sends requests to the sync server. The CLI uses a Rust HTTP client; the phone shells
/// supply their platform's HTTP stack; tests inject faults.
pub trait Transport: Send + Sync {
    /// Send one request and return the response, or why none came.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError>;

    /// The reply codings this transport can hand over decoded, as an `Accept-Encoding`
    /// value. gzip (the default) the core decodes itself; a transport whose HTTP stack
    /// decodes brotli says `br, gzip` and gets replies about 15 % smaller (docs/protocol.md).
    fn accept_encoding(&self) -> &'static str {
        "gzip"
    }
}

/// Tuning of the engine.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// Most operations pushed per round trip.
    pub max_batch_ops: u32,
    /// About this many bytes of operations per round trip.
    pub max_batch_bytes: usize,
    /// Most operations pulled per round trip.
    pub pull_limit: u32,
    /// Attempts per round trip before giving up.
    pub max_attempts: u32,
    /// First back-off delay.
    pub backoff_base: Duration,
    /// Longest back-off delay.
    pub backoff_cap: Duration,
    /// Most round trips in one sync (a guard against a misbehaving server).
    pub max_rounds: u32,
    /// A device clock further than this from the server's is reported as skewed.
    pub skew_warning: Duration,
    /// Seed of the back-off jitter (deterministic in tests).
    pub jitter_seed: u64,
    /// How pulled operations should come: a columnar page (the default, about a quarter
    /// fewer bytes; needs a server that knows it) or rows.
    pub pull_format: PullFormat,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            max_batch_ops: 1_000,
            max_batch_bytes: 512 * 1024,
            pull_limit: 500,
            max_attempts: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_rounds: 10_000,
            skew_warning: Duration::from_secs(5 * 60),
            jitter_seed: 0x9e37_79b9_7f4a_7c15,
            pull_format: PullFormat::Columns,
        }
    }
}

/// Where a sync is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// Sending local operations (and pulling alongside).
    Push,
    /// Only pulling.
    Pull,
    /// Finished.
    Done,
}

/// Progress, reported after every round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// Phase.
    pub phase: SyncPhase,
    /// Operations pushed and acknowledged (push) or pulled (pull) so far.
    pub done: u64,
    /// Operations to push in total (push); pulled so far (pull, total unknown).
    pub total: u64,
}

/// What a sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Local operations sent (each counted once, even if resent).
    pub pushed: u64,
    /// Local operations the server confirmed stored.
    pub acknowledged: u64,
    /// Operations received and applied.
    pub pulled: u64,
    /// Local operations the server refused (now in quarantine, shown to the user).
    pub quarantined: u64,
    /// Received operations this device could not apply (reported, skipped).
    pub rejected_remote: u64,
    /// Clients removed from this device (reassigned elsewhere).
    pub removed: u64,
    /// Device clock minus server clock, in ms (positive: the device is ahead).
    pub clock_skew_ms: i64,
    /// The skew is beyond the warning threshold.
    pub clock_skewed: bool,
    /// The device was revoked and its data wiped after the final push.
    pub wiped: bool,
    /// Round trips made.
    pub rounds: u32,
    /// Everything was pushed and pulled: the outbox is empty (quarantine aside) and the
    /// server has nothing more.
    pub complete: bool,
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The store is not enrolled with a server.
    #[error("this device is not enrolled with a sync server; run enrol first")]
    NotEnrolled,
    /// The network failed on every attempt.
    #[error("the server could not be reached after {attempts} attempts: {last}")]
    Network {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: TransportError,
        /// What was done before the failure.
        done: Box<SyncReport>,
    },
    /// The server refused the device's credentials.
    #[error("the server refused this device ({code}): {message}")]
    Unauthorized {
        /// `unauthorized` or `device_revoked`.
        code: &'static str,
        /// The server's message.
        message: String,
        /// What was done before.
        done: Box<SyncReport>,
    },
    /// The server refused the request.
    #[error("the server refused the request ({code}): {message}")]
    Refused {
        /// The server's error code.
        code: &'static str,
        /// The server's message.
        message: String,
        /// What was done before.
        done: Box<SyncReport>,
    },
    /// The server's reply could not be understood.
    #[error("the server's reply could not be read: {source}")]
    BadReply {
        /// Decoding error.
        source: WireError,
        /// What was done before.
        done: Box<SyncReport>,
    },
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// What was done before the sync stopped.
    pub fn done(&self) -> Option<&SyncReport> {
        match self {
            SyncError::Network { done, .. }
            | SyncError::Unauthorized { done, .. }
            | SyncError::Refused { done, .. }
            | SyncError::BadReply { done, .. } => Some(done),
            SyncError::NotEnrolled | SyncError::Store(_) => None,
        }
    }
}

/// The sync engine of one store.
pub struct SyncEngine<'a> {
    store: &'a Store,
    transport: &'a dyn Transport,
    config: SyncConfig,
    sleep: Box<dyn Fn(Duration) + Send + Sync + 'a>,
    rng: u64,
}

impl<'a> SyncEngine<'a> {
    /// An engine over `transport`, sleeping for real between retries.
    pub fn new(store: &'a Store, transport: &'a dyn Transport, config: SyncConfig) -> Self {
        let rng = config.jitter_seed | 1;
        SyncEngine {
            store,
            transport,
            config,
            sleep: Box::new(std::thread::sleep),
            rng,
        }
    }

    /// Replace the sleep used for back-off (tests, simulations).
    pub fn with_sleep(mut self, sleep: impl Fn(Duration) + Send + Sync + 'a) -> Self {
        self.sleep = Box::new(sleep);
        self
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64*: deterministic for a seed, good enough to spread retries.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The back-off before attempt `attempt` (1-based retry count): equal jitter over a capped
    /// exponential.
    pub fn backoff(&mut self, attempt: u32) -> Duration {
        let exp = self.config.backoff_base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let capped = exp.min(self.config.backoff_cap);
        capped.mul_f64(0.5 + self.jitter() * 0.5)
    }

    /// Run one sync to completion (or to the first unrecoverable error).
    pub fn sync(&mut self, progress: &mut dyn FnMut(Progress)) -> Result<SyncReport, SyncError> {
        if self.store.enrolment()?.is_none() {
            return Err(SyncError::NotEnrolled);
        }
        let token = self.store.sync_token()?.ok_or(SyncError::NotEnrolled)?;
        let total = self.store.outbox_len()?;
        let mut report = SyncReport::default();
        let mut sent = std::collections::HashSet::new();
        let max_ops = self
            .config
            .max_batch_ops
            .clamp(1, u32::try_from(MAX_BATCH_OPS).unwrap_or(u32::MAX));
        let pull_limit = self.config.pull_limit.clamp(1, MAX_PULL_OPS);
        loop {
            if report.rounds >= self.config.max_rounds {
                return Err(SyncError::Refused {
                    code: "too_many_rounds",
                    message: "the server kept asking for more; try again later".into(),
                    done: Box::new(report),
                });
            }
            let batch = self
                .store
                .outbox_batch(max_ops, self.config.max_batch_bytes)?;
            let request = SyncRequest {
                version: PROTOCOL_VERSION,
                cursor: self.store.sync_cursor()?,
                ops: batch,
                pull_limit,
                device_time_ms: chrono::Utc::now().timestamp_millis(),
                pull_format: self.config.pull_format,
            };
            let reply = match self.round_trip(&token, &request, &report) {
                // Revoked with nothing left to push: the server has everything this device
                // wrote, so it wipes its clinical data as told.
                Err(SyncError::Unauthorized {
                    code: "device_revoked",
                    ..
                }) if request.ops.is_empty() && self.store.outbox_len()? == 0 => {
                    self.store.wipe()?;
                    report.wiped = true;
                    report.complete = true;
                    progress(Progress {
                        phase: SyncPhase::Done,
                        done: report.acknowledged,
                        total,
                    });
                    return Ok(report);
                }
                other => other?,
            };
            report.rounds += 1;
            for op in &request.ops {
                if sent.insert(op.op_id) {
                    report.pushed += 1;
                }
            }
            // Only acknowledgements for operations we sent count.
            let acked: Vec<_> = reply
                .acked
                .iter()
                .copied()
                .filter(|id| request.ops.iter().any(|o| o.op_id == *id))
                .collect();
            let rejected: Vec<_> = reply
                .rejected
                .iter()
                .filter(|r| request.ops.iter().any(|o| o.op_id == r.op_id))
                .map(|r| (r.op_id, r.code.as_str().to_string(), r.reason.clone()))
                .collect();
            let applied = self.store.apply_sync_reply(&SyncReply {
                acked: &acked,
                rejected: &rejected,
                ops: &reply.ops,
                removed: &reply.removed,
                cursor: reply.cursor,
            })?;
            report.acknowledged += applied.acknowledged as u64;
            report.quarantined += applied.quarantined as u64;
            report.pulled += applied.remote.applied as u64;
            report.rejected_remote += applied.remote.rejected.len() as u64;
            report.removed += reply.removed.len() as u64;
            let now = chrono::Utc::now().timestamp_millis();
            report.clock_skew_ms = now - reply.server_time_ms;
            report.clock_skewed = report.clock_skew_ms.unsigned_abs()
                > u64::try_from(self.config.skew_warning.as_millis()).unwrap_or(u64::MAX);
            let pushing = !request.ops.is_empty();
            progress(Progress {
                phase: if pushing {
                    SyncPhase::Push
                } else {
                    SyncPhase::Pull
                },
                done: if pushing {
                    report.acknowledged + report.quarantined
                } else {
                    report.pulled
                },
                total: if pushing { total } else { report.pulled },
            });
            let waiting = self.store.outbox_len()?;
            if reply.wipe {
                if waiting == 0 {
                    self.store.wipe()?;
                    report.wiped = true;
                    report.complete = true;
                    progress(Progress {
                        phase: SyncPhase::Done,
                        done: report.acknowledged,
                        total,
                    });
                    return Ok(report);
                }
                continue;
            }
            if waiting == 0 && !reply.more {
                report.complete = true;
                progress(Progress {
                    phase: SyncPhase::Done,
                    done: report.acknowledged + report.pulled,
                    total: total + report.pulled,
                });
                return Ok(report);
            }
            if !request.ops.is_empty()
                && applied.acknowledged + applied.quarantined == 0
                && reply.ops.is_empty()
                && !reply.more
            {
                // The server neither stored nor refused anything we sent: stop instead of
                // resending forever, and say so.
                return Err(SyncError::Refused {
                    code: "no_progress",
                    message: "the server did not acknowledge the operations sent".into(),
                    done: Box::new(report),
                });
            }
            if request.ops.is_empty() && !reply.more && waiting > 0 {
                // Nothing was sendable yet the outbox is not empty: should not happen; stop
                // rather than loop, and say so.
                return Ok(report);
            }
        }
    }

    /// Send one request with retries; decode the reply (its operations as rows in `ops`,
    /// whichever way they came) or a typed error.
    fn round_trip(
        &mut self,
        token: &str,
        request: &SyncRequest,
        done: &SyncReport,
    ) -> Result<SyncResponse, SyncError> {
        let body = encode(request);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let http = HttpRequest {
                method: "POST".into(),
                path: SYNC_PATH.into(),
                headers: vec![
                    ("Authorization".into(), format!("Bearer {token}")),
                    ("Content-Type".into(), "application/json".into()),
                    ("Content-Encoding".into(), "gzip".into()),
                    (
                        "Accept-Encoding".into(),
                        self.transport.accept_encoding().into(),
                    ),
                ],
                body: body.clone(),
            };
            let retry_after = match self.transport.send(http) {
                Err(e) => {
                    if attempt >= self.config.max_attempts {
                        return Err(SyncError::Network {
                            attempts: attempt,
                            last: e,
                            done: Box::new(done.clone()),
                        });
                    }
                    None
                }
                Ok(resp) if resp.status == 200 => match decode_reply(&resp.body) {
                    Ok(r) => return Ok(r),
                    // A truncated or garbled reply (or a malformed columnar page): the
                    // request may have been processed; resending is safe (operations are
                    // idempotent), so retry. Nothing of it was applied.
                    Err(e) if attempt < self.config.max_attempts => {
                        let _ = e;
                        None
                    }
                    Err(e) => {
                        return Err(SyncError::BadReply {
                            source: e,
                            done: Box::new(done.clone()),
                        })
                    }
                },
                Ok(resp) => {
                    let err = decode::<ErrorBody>(&resp.body).ok();
                    let code = err.as_ref().map(|e| e.code);
                    let retryable = resp.status >= 500
                        || code.is_some_and(ErrorCode::retryable)
                        || resp.status == 429;
                    if !retryable || attempt >= self.config.max_attempts {
                        let message = err
                            .as_ref()
                            .map(|e| e.message.clone())
                            .unwrap_or_else(|| format!("HTTP {}", resp.status));
                        let code_str = code.map(ErrorCode::as_str).unwrap_or("http_error");
                        return Err(match code {
                            Some(ErrorCode::Unauthorized | ErrorCode::DeviceRevoked) => {
                                SyncError::Unauthorized {
                                    code: code_str,
                                    message,
                                    done: Box::new(done.clone()),
                                }
                            }
                            _ if resp.status == 401 || resp.status == 403 => {
                                SyncError::Unauthorized {
                                    code: "unauthorized",
                                    message,
                                    done: Box::new(done.clone()),
                                }
                            }
                            _ => SyncError::Refused {
                                code: code_str,
                                message,
                                done: Box::new(done.clone()),
                            },
                        });
                    }
                    err.and_then(|e| e.retry_after_ms)
                        .map(Duration::from_millis)
                }
            };
            let wait = self.backoff(attempt).max(retry_after.unwrap_or_default());
            (self.sleep)(wait.min(self.config.backoff_cap.max(retry_after.unwrap_or_default())));
        }
    }
}

/// Decode a sync reply and bring its operations into `ops` (a columnar page is decoded and
/// checked here): a malformed page is a [`WireError`] like any malformed body.
fn decode_reply(body: &[u8]) -> Result<SyncResponse, WireError> {
    let mut reply = decode::<SyncResponse>(body)?;
    reply.ops = reply.take_ops()?;
    Ok(reply)
}
