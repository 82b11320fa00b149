//! Reply compression. Every reply is JSON; gzip is the protocol's default and what every
//! device reads. A device whose transport asks for brotli (`Accept-Encoding: br`, e.g. the
//! Rust transport) gets brotli instead — about 15 % fewer bytes for a page of operations,
//! which is what a CHW on a 2G link pays for (docs/benchmarks.md). Requests stay gzip
//! (docs/protocol.md).

use std::io::Write;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use ipc_core::sync::wire::encode;

/// Brotli quality (0–11).
const QUALITY: u32 = 8;

/// Replies at least this large are compressed off the async runtime's threads.
const BLOCKING_FROM: usize = 64 * 1024;

/// How a reply body is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// gzip: the default.
    Gzip,
    /// brotli: when the request's `Accept-Encoding` allows it.
    Brotli,
}

impl Coding {
    /// The best coding the request accepts: brotli if `br` is listed without `q=0`, else
    /// gzip (which the protocol requires every device to read, asked for or not).
    pub(crate) fn negotiate(headers: &HeaderMap) -> Coding {
        let accepts_br = headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let name = parts.next().unwrap_or_default();
                let refused = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                name.eq_ignore_ascii_case("br") && !refused
            });
        if accepts_br {
            Coding::Brotli
        } else {
            Coding::Gzip
        }
    }

    /// `value` as a JSON reply with this coding.
    pub(crate) async fn reply<T: Serialize>(self, status: StatusCode, value: &T) -> Response {
        let body = match self {
            Coding::Gzip => encode(value),
            Coding::Brotli => {
                // Serialising the wire types cannot fail (string keys, no custom serialisers).
                let json = serde_json::to_vec(value).unwrap_or_default();
                if json.len() >= BLOCKING_FROM {
                    match tokio::task::spawn_blocking(move || brotli(&json)).await {
                        Ok(body) => body,
                        Err(_) => return self.fallback(status, value),
                    }
                } else {
                    brotli(&json)
                }
            }
        };
        self.response(status, body)
    }

    /// The reply in gzip, if compressing in brotli could not finish.
    fn fallback<T: Serialize>(self, status: StatusCode, value: &T) -> Response {
        tracing::error!("brotli compression task failed; replying in gzip");
        Coding::Gzip.response(status, encode(value))
    }

    /// A JSON reply whose body is already compressed with this coding.
    fn response(self, status: StatusCode, body: Vec<u8>) -> Response {
        (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, self.name()),
                (header::VARY, "accept-encoding"),
            ],
            body,
        )
            .into_response()
    }

    /// The `Content-Encoding` name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
        }
    }
}

/// Brotli at quality 8 with a window fitted to the body (at most 4 MiB). Measured on a
/// columnar pull page of 500 operations (363 KB of JSON, release build of the `brotli` crate):
/// quality 6 took 10.6 ms for 51,492 bytes, 8 took 18.9 ms for 49,738 (3.4 % fewer), 9 took
/// 45.8 ms for 49,643 — so 8, the last step that is cheap next to a 2G link's seconds. On a
/// 70,000-operation first pull that is ~2.6 s of server CPU, off the async threads.
fn brotli(json: &[u8]) -> Vec<u8> {
    let window = (usize::BITS - json.len().max(1).leading_zeros()).clamp(16, 22);
    let mut out = Vec::with_capacity(json.len() / 6 + 64);
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, QUALITY, window);
        // Writing into a Vec cannot fail.
        let _ = w.write_all(json);
        let _ = w.flush();
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;
    use std::io::Read;

    fn accept(v: &str) -> Coding {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        Coding::negotiate(&h)
    }

    #[test]
    fn negotiation() {
        assert_eq!(Coding::negotiate(&HeaderMap::new()), Coding::Gzip);
        assert_eq!(accept("gzip"), Coding::Gzip);
        assert_eq!(accept("gzip, br"), Coding::Brotli);
        assert_eq!(accept("BR;q=0.5"), Coding::Brotli);
        assert_eq!(accept("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(accept("br; q=0.0"), Coding::Gzip);
        assert_eq!(accept("brotli, gzip"), Coding::Gzip);
        assert_eq!(accept("identity"), Coding::Gzip);
    }

    #[tokio::test]
    async fn brotli_replies_decode_to_the_same_json() {
        for n in [10usize, 200_000] {
            let value = serde_json::json!({"version": 1, "text": "synthetic ".repeat(n)});
            let r = Coding::Brotli.reply(StatusCode::OK, &value).await;
            assert_eq!(r.headers()[header::CONTENT_ENCODING], "br");
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            let mut json = Vec::new();
            brotli::Decompressor::new(&body[..], 4096)
                .read_to_end(&mut json)
                .unwrap();
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&json).unwrap(),
                value
            );
            if n > 10 {
                assert!(body.len() * 10 < json.len(), "compressed");
            }
        }
    }
}
