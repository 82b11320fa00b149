//! A [`Transport`] over HTTP(S) with `ureq` and rustls, for the CLI and tests. The phone
//! shells use their platform's HTTP stack instead (through the bindings' foreign trait), so
//! this module is behind the `http` feature and not in the mobile library.

use std::io::Read;
use std::time::Duration;

use crate::sync::engine::{HttpRequest, HttpResponse, Transport, TransportError};

use crate::sync::wire::{MAX_BODY_BYTES, MAX_JSON_BYTES};

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
        let brotli = response
            .headers()
            .get("content-encoding")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("br"));
        // The body is read to its end as sent (so the connection is reused), within the
        // compressed limit; a gzip body is left to `decode`, a brotli one decoded here within
        // the decompressed limit.
        let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX);
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(map_error)?;
        let body = if brotli { unbrotli(&body)? } else { body };
        Ok(HttpResponse { status, body })
    }

    /// This transport decodes brotli replies itself.
    fn accept_encoding(&self) -> &'static str {
        "br, gzip"
    }
}

/// Decode a brotli body, refusing one that expands beyond [`MAX_JSON_BYTES`].
fn unbrotli(body: &[u8]) -> Result<Vec<u8>, TransportError> {
    let limit = u64::try_from(MAX_JSON_BYTES).unwrap_or(u64::MAX);
    let mut out = Vec::with_capacity(body.len().saturating_mul(6).min(MAX_JSON_BYTES));
    brotli_decompressor::Decompressor::new(body, 64 * 1024)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|_| TransportError::Io("the reply is not valid brotli".into()))?;
    if out.len() > MAX_JSON_BYTES {
        return Err(TransportError::Io(format!(
            "the reply expands beyond {MAX_JSON_BYTES} bytes"
        )));
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn brotli(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
            w.write_all(bytes).unwrap();
        }
        out
    }

    #[test]
    fn brotli_replies_are_decoded_within_the_limit() {
        let json = br#"{"version":1,"text":"synthetic"}"#;
        assert_eq!(unbrotli(&brotli(json)).unwrap(), json);
        let bomb = brotli(&vec![b' '; MAX_JSON_BYTES + 10]);
        assert!(bomb.len() < MAX_BODY_BYTES);
        let err = unbrotli(&bomb).unwrap_err();
        assert!(matches!(err, TransportError::Io(m) if m.contains("expands")));
        assert!(unbrotli(b"not brotli at all").is_err());
    }
}
