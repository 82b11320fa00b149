//! The HTTP API (axum): `POST /v1/sync`, `POST /v1/enrol`, `GET /health`, request limits,
//! error replies, logging and graceful shutdown.
//!
//! Every error is an HTTP status with a gzip JSON [`ErrorBody`] whose code the device engine
//! acts on. Logs carry device ids, counts and codes — never tokens, names or operation bodies.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use ipc_core::sync::wire::{
    decode, encode, EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, SyncRequest, WireError,
    ENROL_PATH, HEALTH_PATH, PROTOCOL_VERSION, SYNC_PATH,
};
use serde::Serialize;
use tower_http::trace::TraceLayer;

use crate::auth;
use crate::coding::Coding;
use crate::config::ServerConfig;
use crate::error::{Result, ServerError};
use crate::limit::RateLimiter;
use crate::storage::{now_ms, Storage};

struct App<S> {
    storage: S,
    config: ServerConfig,
    limiter: RateLimiter,
}

type Shared<S> = Arc<App<S>>;

/// The router with every endpoint, for [`serve`] and for tests.
pub fn router<S: Storage>(storage: S, config: ServerConfig) -> Router {
    let config = config.clamped();
    let limiter = RateLimiter::new(config.rate_per_minute, config.rate_burst);
    let app = Arc::new(App {
        storage,
        config,
        limiter,
    });
    Router::new()
        .route(HEALTH_PATH, get(health::<S>))
        .route(SYNC_PATH, post(sync::<S>))
        .route(ENROL_PATH, post(enrol::<S>))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

/// Serve on `listener` until Ctrl-C or SIGTERM, then finish the requests in flight.
pub async fn serve<S: Storage>(
    storage: S,
    listener: tokio::net::TcpListener,
    config: ServerConfig,
) -> Result<()> {
    serve_with_shutdown(storage, listener, config, shutdown_signal()).await
}

/// Serve on `listener` until `shutdown` completes, then finish the requests in flight.
pub async fn serve_with_shutdown<S, F>(
    storage: S,
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: F,
) -> Result<()>
where
    S: Storage,
    F: Future<Output = ()> + Send + 'static,
{
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = storage.backend(), "sync server listening");
    axum::serve(listener, router(storage, config))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("sync server stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}

/// A request-level error.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
    retry_after_ms: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    fn internal(e: &ServerError) -> ApiError {
        tracing::error!(error = %e, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "the server failed; nothing was lost, try again later",
        )
    }

    fn wire(e: &WireError) -> ApiError {
        match e {
            WireError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                e.to_string(),
            ),
            WireError::Version { .. } => ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::VersionUnsupported,
                e.to_string(),
            ),
            WireError::Compression | WireError::Json { .. } | WireError::Columns(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::Malformed, e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            version: PROTOCOL_VERSION,
            code: self.code,
            message: self.message,
            retry_after_ms: self.retry_after_ms,
        };
        let mut response = gzip_json(self.status, &body);
        if let Some(ms) = self.retry_after_ms {
            if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

fn rate_limited(wait: std::time::Duration) -> ApiError {
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    ApiError {
        retry_after_ms: Some(ms),
        ..ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("too many requests from this device; retry in {ms} ms"),
        )
    }
}

fn gzip_json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        encode(value),
    )
        .into_response()
}

/// Read the whole body, refusing more than `limit` bytes.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            format!("the request body is larger than {limit} bytes; send smaller batches"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::Malformed,
            "the request body could not be read completely",
        )),
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    protocol: u32,
    version: &'static str,
    storage: &'static str,
}

async fn health<S: Storage>(State(app): State<Shared<S>>) -> Response {
    let ok = app.storage.ping().await;
    if let Err(e) = &ok {
        tracing::error!(error = %e, "health check: storage unavailable");
    }
    let status = if ok.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if ok.is_ok() { "ok" } else { "unavailable" },
            protocol: PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            storage: app.storage.backend(),
        }),
    )
        .into_response()
}

async fn sync<S: Storage>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match sync_inner(&app, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                status = e.status.as_u16(),
                code = e.code.as_str(),
                "sync refused"
            );
            e.into_response()
        }
    }
}

async fn sync_inner<S: Storage>(
    app: &App<S>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let unauthorized =
        |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m);
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("missing credentials: enrol this device first"))?;
    let token = auth::bearer(header)
        .ok_or_else(|| unauthorized("malformed credentials: enrol this device again"))?;
    let device = auth::authenticate(&app.storage, token)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .ok_or_else(|| unauthorized("unknown or replaced credentials: enrol this device again"))?;
    app.limiter
        .check(device.device, Instant::now())
        .map_err(rate_limited)?;
    let bytes = read_body(headers, body, app.config.max_body_bytes).await?;
    let mut request: SyncRequest = decode(&bytes).map_err(|e| ApiError::wire(&e))?;
    if request.ops.len() > app.config.max_batch_ops {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BatchTooLarge,
            format!(
                "{} operations in one push; the limit is {}",
                request.ops.len(),
                app.config.max_batch_ops
            ),
        ));
    }
    if device.revoked && request.ops.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::DeviceRevoked,
            "this device was revoked: wipe its local data",
        ));
    }
    request.pull_limit = request.pull_limit.clamp(1, app.config.max_pull_ops);
    let pushed = request.ops.len();
    let format = request.pull_format;
    let response = app
        .storage
        .sync(&device, request, now_ms())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    tracing::info!(
        device = %device.device,
        role = device.role.as_str(),
        pushed,
        acked = response.acked.len(),
        rejected = response.rejected.len(),
        pulled = response.op_count(),
        format = format.as_str(),
        removed = response.removed.len(),
        cursor = response.cursor,
        more = response.more,
        wipe = response.wipe,
        ms = started.elapsed().as_millis() as u64,
        "sync"
    );
    Ok(Coding::negotiate(headers)
        .reply(StatusCode::OK, &response)
        .await)
}

async fn enrol<S: Storage>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match enrol_inner(&app, &headers, body).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(
                status = e.status.as_u16(),
                code = e.code.as_str(),
                "enrolment refused"
            );
            e.into_response()
        }
    }
}

async fn enrol_inner<S: Storage>(
    app: &App<S>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(headers, body, app.config.max_body_bytes).await?;
    let request: EnrolRequest = decode(&bytes).map_err(|e| ApiError::wire(&e))?;
    // A device retrying enrolment in a loop is slowed like its syncs.
    app.limiter
        .check(request.device_id, Instant::now())
        .map_err(rate_limited)?;
    let outcome = auth::enrol(&app.storage, &request.code, request.device_id, now_ms())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    match outcome {
        Ok(enrolled) => {
            let d = &enrolled.device;
            tracing::info!(device = %d.device, worker = %d.worker, role = d.role.as_str(), "device enrolled");
            let reply = EnrolResponse {
                version: PROTOCOL_VERSION,
                device_id: d.device,
                token: enrolled.token.clone(),
                worker_id: d.worker,
                role: d.role,
                team: d.team.clone(),
            };
            Ok(Coding::negotiate(headers)
                .reply(StatusCode::OK, &reply)
                .await)
        }
        Err(refusal) => {
            let status = match refusal {
                auth::EnrolRefusal::DeviceTaken => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            Err(ApiError::new(status, refusal.code(), refusal.message()))
        }
    }
}
