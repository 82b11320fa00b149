//! A [`Transport`] over HTTP(S) with `ureq` and rustls, for the CLI and tests. The phone
//! shells use their platform's HTTP stack instead (through the bindings' foreign trait), so
//! this module is behind the `http` feature and not in the mobile library.

use std::time::Duration;

use crate::sync::engine::{HttpRequest, HttpResponse, Transport, TransportError};
use crate::sync::wire::MAX_JSON_BYTES;

/// HTTP transport to one server.
pub struct UreqTransport {
    base: String,
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport to `base_url` (e.g. `http://127.0.0.1:8080`) with a per-request timeout.
    pub fn new(base_url: &str, timeout: Duration) -> UreqTransport {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        UreqTransport {
            base: base_url.trim_end_matches('/').to_string(),
            agent,
        }
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let url = format!("{}{}", self.base, request.path);
        let result = if request.method == "GET" {
            let mut r = self.agent.get(&url);
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.call()
        } else {
            let mut r = self.agent.post(&url);
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            r.send(&request.body[..])
        };
        let mut response = result.map_err(map_error)?;
        let status = response.status().as_u16();
        // ureq decodes a brotli reply itself (it asks for one: `Accept-Encoding: br`), so the
        // limit is on the decoded size; a gzip reply arrives as it was sent and `decode`
        // checks both of its limits.
        let limit = u64::try_from(MAX_JSON_BYTES).unwrap_or(u64::MAX);
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(map_error)?;
        Ok(HttpResponse { status, body })
    }
}

fn map_error(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            TransportError::Unreachable(e.to_string())
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportError::Unreachable(io.to_string())
        }
        other => TransportError::Io(other.to_string()),
    }
}
