//! The sync wire format, version 1: request and response types shared by the device engine
//! and the server, and their encoding (JSON, gzip-compressed). Documented with examples in
//! `docs/protocol.md`; snapshot tests pin it.
//!
//! Decoding is defensive: a size cap on the compressed body and on the decompressed JSON
//! (a decompression bomb is refused), unknown fields refused, and the version checked, so a
//! malformed, oversized or wrong-version body gets a precise [`WireError`].

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::model::{ClientId, DeviceId, OpId, Role, WorkerId};
use crate::sync::columns::{from_columns, ColumnsError, OpColumns};
use crate::sync::op::Operation;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// `POST`: push a batch and pull changes in one round trip.
pub const SYNC_PATH: &str = "/v1/sync";
/// `POST`: exchange a one-time enrolment code for device credentials.
pub const ENROL_PATH: &str = "/v1/enrol";
/// `GET`: liveness and version.
pub const HEALTH_PATH: &str = "/health";
/// Largest compressed body accepted (either direction).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Largest decompressed body accepted (either direction).
pub const MAX_JSON_BYTES: usize = 32 * 1024 * 1024;
/// Most operations in one push.
pub const MAX_BATCH_OPS: usize = 1_000;
/// Most operations in one pull.
pub const MAX_PULL_OPS: u32 = 2_000;

/// One sync round trip, device → server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Protocol version.
    pub version: u32,
    /// The last cursor the device applied (0 at first).
    pub cursor: u64,
    /// Outgoing operations (may be empty), oldest first.
    pub ops: Vec<Operation>,
    /// Most operations the device wants back in this reply.
    pub pull_limit: u32,
    /// The device's wall clock (Unix ms), for skew detection.
    pub device_time_ms: i64,
    /// How the device wants the pulled operations: rows (the default, left out of the JSON)
    /// or a columnar page. An optional extension of version 1: a server that predates it
    /// refuses the field as unknown, so servers are upgraded before devices.
    #[serde(default, skip_serializing_if = "PullFormat::is_rows")]
    pub pull_format: PullFormat,
}

/// How the pulled operations of a [`SyncResponse`] are encoded (`docs/protocol.md`,
/// "Columnar pull page").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PullFormat {
    /// An array of operations in `ops` (what every version-1 server sends).
    #[default]
    Rows,
    /// A columnar page in `op_columns` (`ops` empty): about a quarter fewer bytes compressed.
    Columns,
}

impl PullFormat {
    /// Whether this is the default row format (which a request leaves out).
    pub fn is_rows(&self) -> bool {
        *self == PullFormat::Rows
    }

    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PullFormat::Rows => "rows",
            PullFormat::Columns => "columns",
        }
    }
}

/// Why the server refused one operation. The rest of the batch is unaffected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The client is not assigned to this worker (or team).
    OutOfScope,
    /// The client was reassigned to another worker; this device's edits are refused.
    ClientReassigned,
    /// The role may not make this change (e.g. a worker writing a supervisor note).
    Forbidden,
    /// The operation is malformed (unknown field, wrong device, …).
    Invalid,
    /// The op id was already stored with different content.
    Conflict,
}

impl RejectCode {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::OutOfScope => "out_of_scope",
            RejectCode::ClientReassigned => "client_reassigned",
            RejectCode::Forbidden => "forbidden",
            RejectCode::Invalid => "invalid",
            RejectCode::Conflict => "conflict",
        }
    }
}

/// A refused operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rejected {
    /// The operation.
    pub op_id: OpId,
    /// Why, as a code.
    pub code: RejectCode,
    /// Why, in words (no personal data).
    pub reason: String,
}

/// One sync round trip, server → device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncResponse {
    /// Protocol version.
    pub version: u32,
    /// Operations of the request now stored on the server (including ones stored before).
    pub acked: Vec<OpId>,
    /// Operations of the request refused, each with its reason.
    pub rejected: Vec<Rejected>,
    /// Operations the device may see since its cursor, in server order.
    pub ops: Vec<Operation>,
    /// Clients that left the device's scope (reassigned): the device removes their records.
    pub removed: Vec<ClientId>,
    /// The cursor to send next time, once `ops` and `removed` are applied.
    pub cursor: u64,
    /// More operations are waiting: sync again.
    pub more: bool,
    /// The server's wall clock (Unix ms).
    pub server_time_ms: i64,
    /// The device was revoked: after this push it must wipe its local data.
    pub wipe: bool,
    /// The pulled operations as a columnar page, when the request asked for
    /// [`PullFormat::Columns`] and the page has operations (`ops` is then empty). Absent
    /// otherwise; a reader accepts an empty page too. Read the operations with
    /// [`SyncResponse::take_ops`], whichever way they came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op_columns: Option<OpColumns>,
}

impl SyncResponse {
    /// The pulled operations, from `ops` or from `op_columns`, leaving both empty. A reply
    /// carrying operations both ways, or a malformed columnar page, is refused: nothing of
    /// such a reply may be applied.
    pub fn take_ops(&mut self) -> Result<Vec<Operation>, ColumnsError> {
        if self.op_columns.is_some() && !self.ops.is_empty() {
            return Err(ColumnsError::BothOpsAndColumns {
                rows: self.ops.len(),
            });
        }
        match self.op_columns.take() {
            None => Ok(std::mem::take(&mut self.ops)),
            Some(columns) => from_columns(columns),
        }
    }

    /// How many operations the reply carries, either way (for logs and counters).
    pub fn op_count(&self) -> usize {
        self.ops.len() + self.op_columns.as_ref().map_or(0, |c| c.n)
    }
}

/// Enrolment, device → server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// Protocol version.
    pub version: u32,
    /// The one-time code from the supervisor.
    pub code: String,
    /// The device's id (from its store).
    pub device_id: DeviceId,
}

/// Enrolment, server → device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolResponse {
    /// Protocol version.
    pub version: u32,
    /// The device, as registered.
    pub device_id: DeviceId,
    /// The bearer token for every later request (shown once; the server keeps a hash).
    pub token: String,
    /// The worker the device belongs to.
    pub worker_id: WorkerId,
    /// Their role.
    pub role: Role,
    /// Their team.
    pub team: String,
}

/// A request-level error (HTTP 4xx/5xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Missing or unknown credentials.
    Unauthorized,
    /// The device was revoked and has wiped (or must wipe) its data.
    DeviceRevoked,
    /// The enrolment code is unknown.
    EnrolCodeInvalid,
    /// The enrolment code expired.
    EnrolCodeExpired,
    /// The enrolment code was already used.
    EnrolCodeUsed,
    /// The protocol version is not supported.
    VersionUnsupported,
    /// The body is larger than the limit.
    BodyTooLarge,
    /// Too many operations in one push.
    BatchTooLarge,
    /// Too many requests from this device: wait `retry_after_ms`.
    RateLimited,
    /// The body could not be decoded.
    Malformed,
    /// The server failed; retry later.
    Internal,
}

impl ErrorCode {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::DeviceRevoked => "device_revoked",
            ErrorCode::EnrolCodeInvalid => "enrol_code_invalid",
            ErrorCode::EnrolCodeExpired => "enrol_code_expired",
            ErrorCode::EnrolCodeUsed => "enrol_code_used",
            ErrorCode::VersionUnsupported => "version_unsupported",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::BatchTooLarge => "batch_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Malformed => "malformed",
            ErrorCode::Internal => "internal",
        }
    }

    /// Whether retrying the same request later can succeed.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorCode::RateLimited | ErrorCode::Internal)
    }
}

/// The body of an error reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// Protocol version.
    pub version: u32,
    /// What went wrong.
    pub code: ErrorCode,
    /// In words, for logs and the user (no personal data).
    pub message: String,
    /// When to retry, for `rate_limited`.
    pub retry_after_ms: Option<u64>,
}

/// Encoding or decoding failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The body exceeds a size limit.
    #[error("body too large (limit {limit} bytes)")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The body is not valid gzip.
    #[error("body is not valid gzip")]
    Compression,
    /// The JSON does not match the type; the text names the position, not the content.
    #[error("malformed body ({category} at line {line}, column {column})")]
    Json {
        /// syntax / data / eof.
        category: &'static str,
        /// Line.
        line: usize,
        /// Column.
        column: usize,
    },
    /// The version is not this build's.
    #[error("protocol version {found} is not supported (this side speaks {supported})")]
    Version {
        /// Version received.
        found: u32,
        /// Version spoken here.
        supported: u32,
    },
    /// A columnar pull page is malformed (or comes with row operations as well).
    #[error("malformed columnar pull page: {0}")]
    Columns(#[from] ColumnsError),
}

/// Types carrying a `version` field.
pub trait Versioned {
    /// The version field.
    fn version(&self) -> u32;
}

macro_rules! versioned {
    ($($t:ty),*) => {$(
        impl Versioned for $t {
            fn version(&self) -> u32 {
                self.version
            }
        }
    )*};
}

versioned!(
    SyncRequest,
    SyncResponse,
    EnrolRequest,
    EnrolResponse,
    ErrorBody
);

/// Serialise to JSON and gzip.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising these types cannot fail (no maps with non-string keys, no custom errors);
    // an empty body would be refused by the peer's decoder rather than misread.
    let json = serde_json::to_vec(value).unwrap_or_default();
    let mut gz = GzEncoder::new(
        Vec::with_capacity(json.len() / 4 + 64),
        Compression::default(),
    );
    gz.write_all(&json)
        .and_then(|()| gz.finish())
        .unwrap_or_default()
}

/// Gzip raw bytes (for fuzzing and tests that need a body that is not a valid value).
pub fn gzip_raw(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::default(),
    );
    gz.write_all(bytes)
        .and_then(|()| gz.finish())
        .unwrap_or_default()
}

/// Gunzip (with size caps), parse and check the version. A body that is already plain
/// JSON (a platform HTTP stack may have decompressed it) is accepted too.
///
/// Limits: a gzip body may be up to [`MAX_BODY_BYTES`] and expand to [`MAX_JSON_BYTES`]; a
/// plain body — one an HTTP stack has already decompressed (gzip, or brotli when the server
/// was asked for it) — may be up to [`MAX_JSON_BYTES`], the size it was allowed to expand to.
pub fn decode<T: DeserializeOwned + Versioned>(body: &[u8]) -> Result<T, WireError> {
    let compressed = body.starts_with(&[0x1f, 0x8b]);
    let limit = if compressed {
        MAX_BODY_BYTES
    } else {
        MAX_JSON_BYTES
    };
    if body.len() > limit {
        return Err(WireError::TooLarge { limit });
    }
    let plain;
    let json: &[u8] = if compressed {
        let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(MAX_JSON_BYTES));
        let limit = u64::try_from(MAX_JSON_BYTES).unwrap_or(u64::MAX);
        GzDecoder::new(body)
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|_| WireError::Compression)?;
        if out.len() > MAX_JSON_BYTES {
            return Err(WireError::TooLarge {
                limit: MAX_JSON_BYTES,
            });
        }
        plain = out;
        &plain
    } else if body.first() == Some(&b'{') {
        body
    } else {
        return Err(WireError::Compression);
    };
    let value: T = serde_json::from_slice(json).map_err(|e| WireError::Json {
        category: match e.classify() {
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
            serde_json::error::Category::Io => "io",
        },
        line: e.line(),
        column: e.column(),
    })?;
    if value.version() != PROTOCOL_VERSION {
        return Err(WireError::Version {
            found: value.version(),
            supported: PROTOCOL_VERSION,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> SyncRequest {
        SyncRequest {
            version: PROTOCOL_VERSION,
            cursor: 42,
            ops: Vec::new(),
            pull_limit: 500,
            device_time_ms: 1_767_600_000_000,
            pull_format: PullFormat::Rows,
        }
    }

    #[test]
    fn round_trip_through_gzip() {
        let bytes = encode(&request());
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(decode::<SyncRequest>(&bytes).unwrap(), request());
    }

    #[test]
    fn refuses_wrong_version_unknown_fields_garbage_truncation_and_bombs() {
        let mut r = request();
        r.version = 2;
        assert!(matches!(
            decode::<SyncRequest>(&encode(&r)),
            Err(WireError::Version { found: 2, .. })
        ));
        let mut v = serde_json::to_value(request()).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(matches!(
            decode::<SyncRequest>(&encode(&v)),
            Err(WireError::Json { .. })
        ));
        assert_eq!(
            decode::<SyncRequest>(b"not gzip"),
            Err(WireError::Compression)
        );
        let bytes = encode(&request());
        assert!(decode::<SyncRequest>(&bytes[..bytes.len() / 2]).is_err());
        let zeros = vec![b' '; MAX_JSON_BYTES + 10];
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&zeros).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < MAX_BODY_BYTES);
        assert_eq!(
            decode::<SyncRequest>(&bomb),
            Err(WireError::TooLarge {
                limit: MAX_JSON_BYTES
            })
        );
    }

    #[test]
    fn plain_bodies_may_be_as_large_as_a_decompressed_one() {
        // A pull page an HTTP stack has already decompressed is larger than the compressed
        // limit; it must still be read (else such a device could never sync that page).
        let response = SyncResponse {
            version: PROTOCOL_VERSION,
            acked: vec![],
            rejected: vec![],
            ops: vec![],
            removed: vec![],
            cursor: 1,
            more: false,
            server_time_ms: 0,
            wipe: false,
            op_columns: None,
        };
        let plain = serde_json::to_vec(&response).unwrap();
        let padded = [
            &plain[..plain.len() - 1],
            &vec![b' '; MAX_BODY_BYTES][..],
            b"}",
        ]
        .concat();
        assert!(padded.len() > MAX_BODY_BYTES);
        assert_eq!(decode::<SyncResponse>(&padded), Ok(response));
        let huge = [
            &plain[..plain.len() - 1],
            &vec![b' '; MAX_JSON_BYTES][..],
            b"}",
        ]
        .concat();
        assert_eq!(
            decode::<SyncResponse>(&huge),
            Err(WireError::TooLarge {
                limit: MAX_JSON_BYTES
            })
        );
    }

    fn op(wall_ms: u64) -> Operation {
        use crate::sync::hlc::Hlc;
        use crate::sync::op::{Change, EntityKind};
        let device = DeviceId::new();
        let scope = ClientId::new();
        Operation {
            op_id: OpId::new(),
            hlc: Hlc {
                wall_ms,
                counter: 0,
                node: device,
            },
            device_id: device,
            author: WorkerId::new(),
            scope,
            entity: EntityKind::Client,
            entity_id: scope.as_uuid(),
            change: Change::Delete,
        }
    }

    fn reply(ops: Vec<Operation>, op_columns: Option<OpColumns>) -> SyncResponse {
        SyncResponse {
            version: PROTOCOL_VERSION,
            acked: vec![],
            rejected: vec![],
            ops,
            removed: vec![],
            cursor: 1,
            more: false,
            server_time_ms: 0,
            wipe: false,
            op_columns,
        }
    }

    #[test]
    fn take_ops_reads_rows_or_columns_and_refuses_both() {
        use crate::sync::columns::to_columns;
        let ops = vec![op(5), op(3)];
        let mut rows = reply(ops.clone(), None);
        assert_eq!(rows.op_count(), 2);
        assert_eq!(rows.take_ops(), Ok(ops.clone()));
        assert!(rows.ops.is_empty());
        let cols = reply(vec![], Some(to_columns(&ops)));
        assert_eq!(cols.op_count(), 2);
        let cols = decode::<SyncResponse>(&encode(&cols.clone()))
            .map(|mut r| r.take_ops())
            .unwrap();
        assert_eq!(cols, Ok(ops.clone()));
        // Zero operations: either no page or an empty one.
        assert_eq!(reply(vec![], None).take_ops(), Ok(vec![]));
        assert_eq!(reply(vec![], Some(to_columns(&[]))).take_ops(), Ok(vec![]));
        // An empty page beside rows is harmless; a page beside rows is not.
        let mut both = reply(ops.clone(), Some(to_columns(&ops)));
        assert_eq!(
            both.take_ops(),
            Err(ColumnsError::BothOpsAndColumns { rows: 2 })
        );
        assert_eq!(both.ops.len(), 2, "a refused reply is left as it was");
        let mut rows_and_empty = reply(ops.clone(), Some(to_columns(&[])));
        assert!(rows_and_empty.take_ops().is_err());
    }

    #[test]
    fn a_malformed_page_is_a_typed_wire_error() {
        use crate::sync::columns::to_columns;
        let mut page = to_columns(&[op(5)]);
        page.counter.clear();
        let mut r = reply(vec![], Some(page));
        let err = WireError::from(r.take_ops().unwrap_err());
        assert!(matches!(err, WireError::Columns(_)));
        assert!(err.to_string().contains("counter"), "{err}");
    }

    #[test]
    fn a_row_request_is_unchanged_and_a_columnar_one_names_its_format() {
        let json = serde_json::to_value(request()).unwrap();
        assert!(json.get("pull_format").is_none());
        let mut columns = request();
        columns.pull_format = PullFormat::Columns;
        let json = serde_json::to_value(&columns).unwrap();
        assert_eq!(json["pull_format"], "columns");
        assert_eq!(decode::<SyncRequest>(&encode(&columns)).unwrap(), columns);
        let no_page = serde_json::to_value(reply(vec![], None)).unwrap();
        assert!(no_page.get("op_columns").is_none());
    }

    #[test]
    fn json_errors_do_not_quote_content() {
        let v = serde_json::json!({"version": 1, "cursor": "SECRETNAME", "ops": [], "pull_limit": 1, "device_time_ms": 0});
        let err = decode::<SyncRequest>(&encode(&v)).unwrap_err().to_string();
        assert!(!err.contains("SECRETNAME"), "{err}");
    }
}
