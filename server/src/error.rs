//! `ApiError`: the one place where HTTP status codes and stable error `code`s are chosen,
//! rendered as RFC 9457 problem+json in Chinese by default, English on request.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::hot::HotError;

/// A message in both languages the API speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub zh: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Text {
    pub const fn new(zh: &'static str, en: &'static str) -> Self {
        Self {
            zh: Cow::Borrowed(zh),
            en: Cow::Borrowed(en),
        }
    }

    pub fn owned(zh: String, en: String) -> Self {
        Self {
            zh: Cow::Owned(zh),
            en: Cow::Owned(en),
        }
    }

    pub fn pick(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// The response language, from `Accept-Language` (Chinese unless English is preferred).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn from_accept_language(value: Option<&HeaderValue>) -> Self {
        let Some(value) = value.and_then(|v| v.to_str().ok()) else {
            return Lang::Zh;
        };
        // Take the first language range with the highest q; only zh and en are served.
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag.starts_with("en") {
                Lang::En
            } else if tag.starts_with("zh") {
                Lang::Zh
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Zh, |(_, l)| l)
    }
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Cow<'static, str>,
    pub message: Text,
}

impl FieldError {
    pub fn new(field: impl Into<Cow<'static, str>>, message: Text) -> Self {
        Self {
            field: field.into(),
            message,
        }
    }

    /// The same message, filed under another field name (a CSV row's `rows[3].lat`).
    pub fn at(mut self, field: impl Into<Cow<'static, str>>) -> Self {
        self.field = field.into();
        self
    }

    pub fn field(&self) -> &str {
        &self.field
    }
}

/// Every error the API answers with. Features define their own small enums and convert.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read (bad JSON, unknown field, bad query).
    #[error("bad request: {detail:?}")]
    BadRequest {
        code: &'static str,
        detail: Text,
        errors: Vec<FieldError>,
    },
    /// 422: well-formed but invalid values, each field named.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {code}")]
    Unauthorized { code: &'static str, detail: Text },
    #[error("forbidden: {code}")]
    Forbidden { code: &'static str, detail: Text },
    /// 404, also for objects that exist but belong to someone else.
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: Text },
    /// 422 with a domain code (not a field validation).
    #[error("unprocessable: {code}")]
    Unprocessable { code: &'static str, detail: Text },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited: {code}, retry after {retry_after_secs}s")]
    RateLimited {
        code: &'static str,
        detail: Text,
        retry_after_secs: u64,
        limit: Option<u64>,
    },
    /// 502: an upstream (WeChat, SMS provider) answered with something we can't use.
    #[error("bad gateway: {code}")]
    BadGateway { code: &'static str, detail: Text },
    /// 503: a dependency is down or busy; the client should retry.
    #[error("unavailable: {code}")]
    Unavailable {
        code: &'static str,
        detail: Text,
        retry_after_secs: u64,
    },
    /// 500: a bug or an unexpected failure. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn validation(field: impl Into<Cow<'static, str>>, message: Text) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn bad_request(code: &'static str, detail: Text) -> Self {
        ApiError::BadRequest {
            code,
            detail,
            errors: Vec::new(),
        }
    }

    /// 400 for one bad query parameter, named.
    pub fn invalid_query(field: impl Into<Cow<'static, str>>, message: Text) -> Self {
        ApiError::BadRequest {
            code: "request.invalid_query",
            detail: Text::new("查询参数有误", "Invalid query parameters"),
            errors: vec![FieldError::new(field, message)],
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn forbidden() -> Self {
        ApiError::Forbidden {
            code: "auth.forbidden",
            detail: Text::new("没有权限执行此操作", "You are not allowed to do this"),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable dotted code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Unauthorized { code, .. }
            | ApiError::Forbidden { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::RateLimited { code, .. }
            | ApiError::BadGateway { code, .. }
            | ApiError::Unavailable { code, .. } => code,
            ApiError::Validation(_) => "validation.failed",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> Text {
        match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::Unauthorized { detail, .. }
            | ApiError::Forbidden { detail, .. }
            | ApiError::Conflict { detail, .. }
            | ApiError::Unprocessable { detail, .. }
            | ApiError::RateLimited { detail, .. }
            | ApiError::BadGateway { detail, .. }
            | ApiError::Unavailable { detail, .. } => detail.clone(),
            ApiError::Validation(_) => Text::new("请求参数有误", "Some fields are invalid"),
            ApiError::NotFound => Text::new("请求的资源不存在", "The resource does not exist"),
            ApiError::MethodNotAllowed => {
                Text::new("该资源不支持此请求方法", "This method is not allowed here")
            }
            ApiError::PayloadTooLarge => Text::new("请求体过大", "The request body is too large"),
            ApiError::UnsupportedMediaType => {
                Text::new("不支持的内容类型", "Unsupported content type")
            }
            ApiError::Internal(_) => Text::new(
                "服务器内部错误，请稍后重试",
                "Internal error, please try again later",
            ),
        }
    }

    fn field_errors(&self) -> &[FieldError] {
        match self {
            ApiError::Validation(errors) | ApiError::BadRequest { errors, .. } => errors,
            _ => &[],
        }
    }

    fn title(status: StatusCode) -> &'static str {
        status.canonical_reason().unwrap_or("Error")
    }

    /// Everything needed to render the problem later, once the language and trace id of
    /// the request are known (see [`crate::telemetry`]'s problem middleware).
    pub fn problem(&self) -> Problem {
        Problem {
            status: self.status(),
            code: self.code(),
            detail: self.detail(),
            errors: self.field_errors().to_vec(),
        }
    }
}

/// A problem waiting to be rendered, kept in the response extensions.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: Text,
    pub errors: Vec<FieldError>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
    trace_id: &'a str,
    errors: Vec<FieldErrorBody<'a>>,
}

#[derive(Serialize)]
struct FieldErrorBody<'a> {
    field: &'a str,
    message: &'a str,
}

impl Problem {
    pub fn for_status(status: StatusCode) -> Self {
        let err = match status {
            StatusCode::NOT_FOUND => ApiError::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            s if s.is_client_error() => ApiError::bad_request(
                "bad_request",
                Text::new("请求无法处理", "The request could not be processed"),
            ),
            _ => ApiError::Internal(format!("bare {status} response")),
        };
        let mut problem = err.problem();
        problem.status = status;
        problem
    }

    pub fn render(&self, lang: Lang, trace_id: &str) -> Vec<u8> {
        let body = ProblemBody {
            kind: format!("https://huigong.dev/problems/{}", self.code),
            title: ApiError::title(self.status),
            status: self.status.as_u16(),
            detail: self.detail.pick(lang),
            code: self.code,
            trace_id,
            errors: self
                .errors
                .iter()
                .map(|e| FieldErrorBody {
                    field: &e.field,
                    message: e.message.pick(lang),
                })
                .collect(),
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

pub const PROBLEM_JSON: &str = "application/problem+json";

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(error.cause = %cause, "internal error"),
            ApiError::Unavailable { code, .. } => tracing::warn!(error.code = code, "unavailable"),
            _ => {}
        }
        let problem = self.problem();
        let mut builder = HttpResponse::build(problem.status);
        builder.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            ApiError::RateLimited {
                retry_after_secs,
                limit,
                ..
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
                if let Some(limit) = limit {
                    builder.insert_header((
                        "RateLimit",
                        format!("limit={limit}, remaining=0, reset={retry_after_secs}"),
                    ));
                }
            }
            ApiError::Unavailable {
                retry_after_secs, ..
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        // Rendered in Chinese without a trace id here; the problem middleware re-renders it
        // with the request's language and trace id from the extension.
        let body = problem.render(Lang::Zh, "");
        let mut res = builder.body(body);
        res.extensions_mut().insert(problem);
        res
    }
}

// --- conversions from infrastructure errors -------------------------------------------

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::Conflict {
                code: "conflict",
                detail: Text::new("数据已存在", "It already exists"),
            },
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::Unavailable {
                    code: "db.busy",
                    detail: Text::new("系统繁忙，请稍后重试", "Busy, please retry"),
                    retry_after_secs: 1,
                }
            }
            Error::DatabaseError(_, ref info) if is_sqlite_busy(info.message()) => {
                ApiError::Unavailable {
                    code: "db.busy",
                    detail: Text::new("系统繁忙，请稍后重试", "Busy, please retry"),
                    retry_after_secs: 1,
                }
            }
            other => ApiError::Internal(format!("database: {other}")),
        }
    }
}

fn is_sqlite_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<HotError> for ApiError {
    fn from(err: HotError) -> Self {
        match err {
            HotError::Unavailable(cause) => {
                tracing::warn!(error.cause = %cause, "hot store unavailable");
                ApiError::Unavailable {
                    code: "hot_store.unavailable",
                    detail: Text::new("系统繁忙，请稍后重试", "Busy, please retry"),
                    retry_after_secs: 1,
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> Self {
        match err {
            crate::db::DbError::Pool(cause) => {
                tracing::warn!(error.cause = %cause, "database pool exhausted");
                ApiError::Unavailable {
                    code: "db.unavailable",
                    detail: Text::new("系统繁忙，请稍后重试", "Busy, please retry"),
                    retry_after_secs: 1,
                }
            }
            crate::db::DbError::Blocking => {
                ApiError::Internal("blocking task was cancelled".into())
            }
        }
    }
}

// --- actix's own extractor errors -------------------------------------------------------

/// Bad JSON bodies, including unknown fields (serde's `deny_unknown_fields`).
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as E;
    let api = match &err {
        E::OverflowKnownLength { .. } | E::Overflow { .. } => ApiError::PayloadTooLarge,
        E::ContentType => ApiError::UnsupportedMediaType,
        E::Deserialize(de) => deserialize_error(de.to_string(), de.is_data()),
        other => ApiError::bad_request(
            "request.invalid_json",
            Text::owned(
                format!("请求体不是有效的 JSON：{other}"),
                format!("Invalid JSON body: {other}"),
            ),
        ),
    };
    api.into()
}

fn deserialize_error(message: String, is_data: bool) -> ApiError {
    let field = field_from_serde_message(&message);
    let code = if message.starts_with("unknown field") {
        "request.unknown_field"
    } else if is_data {
        "request.invalid_field"
    } else {
        "request.invalid_json"
    };
    let detail = Text::owned(
        format!("请求体无法解析：{message}"),
        format!("Cannot read the request body: {message}"),
    );
    let errors = field
        .map(|f| {
            vec![FieldError::new(
                f,
                Text::owned(format!("字段有误：{message}"), message.clone()),
            )]
        })
        .unwrap_or_default();
    ApiError::BadRequest {
        code,
        detail,
        errors,
    }
}

/// serde names the offending field in backticks: "unknown field `x`", "missing field `y`".
fn field_from_serde_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}

pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    let message = err.to_string();
    let field = field_from_serde_message(&message);
    ApiError::BadRequest {
        code: "request.invalid_query",
        detail: Text::owned(
            format!("查询参数有误：{message}"),
            format!("Invalid query: {message}"),
        ),
        errors: field
            .map(|f| {
                vec![FieldError::new(
                    f,
                    Text::owned(format!("参数有误：{message}"), message.clone()),
                )]
            })
            .unwrap_or_default(),
    }
    .into()
}

pub fn path_error(
    err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    // A path that does not parse (`/orgs/abc`) names nothing that exists.
    tracing::debug!(error = %err, "path did not parse");
    ApiError::NotFound.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_q() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some(&h("en"))), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some(&h("en-US,en;q=0.9"))),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language(Some(&h("zh-CN,zh;q=0.9,en;q=0.8"))),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_accept_language(Some(&h("fr, en;q=0.5"))),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language(Some(&h("fr"))), Lang::Zh);
    }

    #[test]
    fn serde_messages_name_the_field() {
        assert_eq!(
            field_from_serde_message("unknown field `foo`, expected one of `a`").as_deref(),
            Some("foo")
        );
        assert_eq!(
            field_from_serde_message("missing field `code` at line 1").as_deref(),
            Some("code")
        );
        assert_eq!(field_from_serde_message("expected value"), None);
    }
}
