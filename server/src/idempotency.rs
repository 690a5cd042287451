//! `Idempotency-Key` for side-effecting POSTs, as a middleware any route can wear:
//! the same key and body replay the first success; another body is 422; a request still
//! in flight is 409. Records live in the hot store for 24 hours, scoped to the caller.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, Text};
use crate::http::{JSON_LIMIT, UPLOAD_LIMIT, read_limited};

const HEADER: &str = "idempotency-key";
const RECORD_TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Record {
    InFlight {
        fingerprint: String,
    },
    Done {
        fingerprint: String,
        status: u16,
        content_type: Option<String>,
        body: String,
    },
}

/// The key may be sent; when it is, it is honoured.
pub async fn optional(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    guard(req, next, false, JSON_LIMIT).await
}

/// As [`optional`], for a file upload (an import) of up to [`UPLOAD_LIMIT`] bytes, which
/// a double click must not store twice.
pub async fn optional_upload(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    guard(req, next, false, UPLOAD_LIMIT).await
}

/// The key must be sent (draws): 400 without it.
pub async fn required(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    guard(req, next, true, JSON_LIMIT).await
}

/// Errors become responses here (not `Err`), so the outer middleware renders them like
/// any handler's problem.
async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    required: bool,
    body_limit: usize,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = match req.headers().get(HEADER) {
        None if required => {
            let err = ApiError::bad_request(
                "idempotency.key_required",
                Text::new(
                    "此操作需要 Idempotency-Key 请求头",
                    "This request needs an Idempotency-Key header",
                ),
            );
            return Ok(req.error_response(err));
        }
        None => return Ok(next.call(req).await?.map_into_boxed_body()),
        Some(value) => match parse_key(value) {
            Ok(key) => key,
            Err(err) => return Ok(req.error_response(err)),
        },
    };
    // Keys are scoped to the caller; an unauthenticated request goes on to its 401.
    let Ok(user) = req.extract::<AuthUser>().await else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(ApiError::internal("app state missing")));
    };
    let body = match read_limited(&mut req.take_payload(), body_limit).await {
        Ok(body) => body.freeze(),
        Err(err) => return Ok(req.error_response(err)),
    };
    let fingerprint = {
        let mut hasher = Sha256::new();
        hasher.update(req.method().as_str());
        hasher.update(b" ");
        hasher.update(req.path());
        hasher.update(b"\n");
        hasher.update(&body);
        hex::encode(hasher.finalize())
    };
    let record_key = state.keys.key(
        &format!("idem:{}", user.id.0),
        &hex::encode(Sha256::digest(key.as_bytes())),
    );
    let claim = match serde_json::to_string(&Record::InFlight {
        fingerprint: fingerprint.clone(),
    }) {
        Ok(claim) => claim,
        Err(err) => return Ok(req.error_response(ApiError::internal(err))),
    };
    match state.hot.set_nx(&record_key, &claim, RECORD_TTL).await {
        Ok(true) => {}
        Ok(false) => {
            return Ok(match replay(&state, &record_key, &fingerprint).await {
                Ok(res) => req.into_response(res),
                Err(err) => req.error_response(err),
            });
        }
        Err(err) => return Ok(req.error_response(ApiError::from(err))),
    }

    req.set_payload(Payload::from(body));
    let res = match next.call(req).await {
        Ok(res) if res.status().is_success() => res,
        other => {
            // Nothing was done (or we cannot tell): free the key so the client can retry.
            if let Err(err) = state.hot.del(&[record_key]).await {
                tracing::warn!(error = %err, "could not free an idempotency key");
            }
            return Ok(other?.map_into_boxed_body());
        }
    };
    let (http_req, response) = res.into_parts();
    let (head, body) = response.into_parts();
    let bytes = match actix_web::body::to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let err = ApiError::internal("response body unreadable");
            return Ok(ServiceResponse::new(http_req, err.error_response()));
        }
    };
    let done = Record::Done {
        fingerprint,
        status: head.status().as_u16(),
        content_type: head
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: STANDARD.encode(&bytes),
    };
    // The work is done: failing to record it must not turn success into an error.
    match serde_json::to_string(&done) {
        Ok(done) => {
            if let Err(err) = state.hot.set(&record_key, &done, Some(RECORD_TTL)).await {
                tracing::warn!(error = %err, "could not record an idempotent response");
            }
        }
        Err(err) => tracing::error!(error = %err, "could not encode an idempotent response"),
    }
    let response = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(http_req, response))
}

/// The request's key, validated (handlers behind [`required`] that store it in SQL).
pub fn key_of(req: &actix_web::HttpRequest) -> Result<String, ApiError> {
    match req.headers().get(HEADER) {
        Some(value) => parse_key(value),
        None => Err(ApiError::bad_request(
            "idempotency.key_required",
            Text::new(
                "此操作需要 Idempotency-Key 请求头",
                "This request needs an Idempotency-Key header",
            ),
        )),
    }
}

fn parse_key(value: &HeaderValue) -> Result<String, ApiError> {
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    key.map(str::to_owned).ok_or_else(|| {
        ApiError::bad_request(
            "idempotency.invalid_key",
            Text::new(
                "Idempotency-Key 须为 1-255 个可见 ASCII 字符",
                "Idempotency-Key must be 1-255 visible ASCII characters",
            ),
        )
    })
}

async fn replay(
    state: &AppState,
    record_key: &str,
    fingerprint: &str,
) -> Result<HttpResponse, ApiError> {
    let stored = state.hot.get(record_key).await?;
    let record = stored.and_then(|s| serde_json::from_str::<Record>(&s).ok());
    let in_flight = || ApiError::Conflict {
        code: "idempotency.in_flight",
        detail: Text::new(
            "相同请求正在处理中，请稍后重试",
            "The same request is still being processed",
        ),
    };
    match record {
        // Gone between our two calls (expired or just freed): ask the client to retry.
        None => Err(in_flight()),
        Some(
            Record::InFlight { fingerprint: fp }
            | Record::Done {
                fingerprint: fp, ..
            },
        ) if fp != fingerprint => Err(ApiError::Unprocessable {
            code: "idempotency.mismatch",
            detail: Text::new(
                "该 Idempotency-Key 已用于不同的请求",
                "This Idempotency-Key was used for a different request",
            ),
        }),
        Some(Record::InFlight { .. }) => Err(in_flight()),
        Some(Record::Done {
            status,
            content_type,
            body,
            ..
        }) => {
            let body = STANDARD.decode(body).map_err(ApiError::internal)?;
            let status = StatusCode::from_u16(status).map_err(ApiError::internal)?;
            let mut res = HttpResponse::build(status);
            if let Some(ct) = content_type {
                res.insert_header((header::CONTENT_TYPE, ct));
            }
            res.insert_header(("Idempotent-Replayed", "true"));
            Ok(res.body(body))
        }
    }
}
