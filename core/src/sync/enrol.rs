//! Enrolment: exchange a one-time code from the supervisor for device credentials, over any
//! [`Transport`], and record them in the store (the token encrypted). One request: a code
//! can be used once, so it is not retried automatically.

use crate::store::{Enrolment, Store};
use crate::sync::engine::{HttpRequest, SyncError, SyncReport, Transport};
use crate::sync::wire::{
    decode, encode, EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, ENROL_PATH, PROTOCOL_VERSION,
};

/// Enrol `store` with the server at `server` (its base URL, recorded for later syncs).
pub fn enrol(
    store: &Store,
    transport: &dyn Transport,
    server: &str,
    code: &str,
) -> Result<Enrolment, SyncError> {
    let request = EnrolRequest {
        version: PROTOCOL_VERSION,
        code: code.trim().to_string(),
        device_id: store.identity().device_id,
    };
    let done = || Box::new(SyncReport::default());
    let response = transport
        .send(HttpRequest {
            method: "POST".into(),
            path: ENROL_PATH.into(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Content-Encoding".into(), "gzip".into()),
                ("Accept-Encoding".into(), transport.accept_encoding().into()),
            ],
            body: encode(&request),
        })
        .map_err(|last| SyncError::Network {
            attempts: 1,
            last,
            done: done(),
        })?;
    if response.status != 200 {
        let body = decode::<ErrorBody>(&response.body).ok();
        let code = body.as_ref().map(|b| b.code);
        let message = body
            .map(|b| b.message)
            .unwrap_or_else(|| format!("HTTP {}", response.status));
        let code_str = code.map(ErrorCode::as_str).unwrap_or("http_error");
        let credentials = matches!(
            code,
            Some(
                ErrorCode::Unauthorized
                    | ErrorCode::DeviceRevoked
                    | ErrorCode::EnrolCodeInvalid
                    | ErrorCode::EnrolCodeExpired
                    | ErrorCode::EnrolCodeUsed
            )
        );
        // A bad, used or expired code is a credential problem, like a bad token.
        return Err(if credentials || matches!(response.status, 401 | 403) {
            SyncError::Unauthorized {
                code: code_str,
                message,
                done: done(),
            }
        } else {
            SyncError::Refused {
                code: code_str,
                message,
                done: done(),
            }
        });
    }
    let reply: EnrolResponse = decode(&response.body).map_err(|source| SyncError::BadReply {
        source,
        done: done(),
    })?;
    if reply.device_id != request.device_id {
        return Err(SyncError::Refused {
            code: "device_mismatch",
            message: "the server enrolled another device id".into(),
            done: done(),
        });
    }
    let enrolment = Enrolment {
        server: server.trim().trim_end_matches('/').to_string(),
        worker_id: reply.worker_id,
        role: reply.role,
        team: reply.team,
    };
    store.set_enrolment(&enrolment, &reply.token)?;
    Ok(enrolment)
}
