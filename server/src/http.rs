//! Request plumbing shared by every feature: the JSON extractor that names the bad field,
//! list pagination, the client address, and small response helpers.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, FieldError, Text};

/// Largest JSON body any endpoint accepts.
pub const JSON_LIMIT: usize = 256 * 1024;

/// A JSON body. Unlike `web::Json`, a wrong type or an unknown field is reported with the
/// field's path (`answers[2].keys`), and every failure is an [`ApiError`].
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let essence = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            })
            .unwrap_or(false);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json_type {
                return Err(ApiError::UnsupportedMediaType);
            }
            let bytes = body.await.map_err(|err| {
                if err.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request(
                        "request.unreadable",
                        Text::new("请求体读取失败", "The request body could not be read"),
                    )
                }
            })?;
            parse_json(&bytes).map(Json)
        })
    }
}

/// Parses a JSON document into `T`, naming the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de)
        .map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner();
            json_problem(&path, &inner)
        })
        .and_then(|v| {
            de.end().map_err(|e| json_problem(".", &e))?;
            Ok(v)
        })?;
    Ok(value)
}

fn json_problem(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = err.to_string();
    let unknown = message.starts_with("unknown field");
    let missing = message.starts_with("missing field");
    // serde names unknown/missing fields in the message and the path stops at their parent.
    let named = backticked(&message);
    let field = match (unknown || missing, named, path) {
        (true, Some(name), ".") => name.to_owned(),
        // Unknown fields are already in the path, missing ones are not.
        (true, Some(name), p) if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
        (true, Some(name), parent) => format!("{parent}.{name}"),
        (_, _, ".") => String::new(),
        (_, _, p) => p.to_owned(),
    };
    let (code, zh) = match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ("request.invalid_json", "请求体不是有效的 JSON".to_owned())
        }
        Category::Data if unknown => ("request.unknown_field", format!("不接受的字段：{field}")),
        Category::Data if missing => ("request.missing_field", format!("缺少必填字段：{field}")),
        Category::Data => (
            "request.invalid_field",
            format!("字段类型或取值有误：{field}"),
        ),
    };
    let en = if field.is_empty() {
        message.clone()
    } else {
        format!("{field}: {message}")
    };
    let errors = if field.is_empty() {
        Vec::new()
    } else {
        vec![FieldError::new(field, Text::owned(zh.clone(), message))]
    };
    ApiError::BadRequest {
        code,
        detail: Text::owned(zh, en),
        errors,
    }
}

fn backticked(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

/// A query string. Like [`Json`], a bad value names its parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        let field = if path == "." {
            backticked(&message).unwrap_or_default().to_owned()
        } else {
            path
        };
        let zh = if field.is_empty() {
            "查询参数有误".to_owned()
        } else {
            format!("查询参数 {field} 有误")
        };
        let en = if field.is_empty() {
            format!("Invalid query: {message}")
        } else {
            format!("Invalid query parameter {field}: {message}")
        };
        let errors = if field.is_empty() {
            Vec::new()
        } else {
            vec![FieldError::new(field, Text::owned(zh.clone(), message))]
        };
        ApiError::BadRequest {
            code: "request.invalid_query",
            detail: Text::owned(zh, en),
            errors,
        }
    })
}

/// `?limit=&cursor=` of every list endpoint.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1-100, default 20.
    pub limit: Option<u32>,
    /// Opaque cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// A validated page request: after the item with id `after` (exclusive), `limit` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub after: Option<i64>,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;

    /// A list's `?limit=`: 20 when absent, 1-100.
    pub fn limit(limit: Option<u32>) -> Result<u32, FieldError> {
        let limit = limit.unwrap_or(Self::DEFAULT_LIMIT);
        if (1..=Self::MAX_LIMIT).contains(&limit) {
            Ok(limit)
        } else {
            Err(FieldError::new(
                "limit",
                Text::new("limit 取值范围为 1-100", "limit must be between 1 and 100"),
            ))
        }
    }

    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Page, ApiError> {
        let mut errors = Vec::new();
        let limit = Self::limit(limit).unwrap_or_else(|e| {
            errors.push(e);
            Self::DEFAULT_LIMIT
        });
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => match decode_cursor(c) {
                Some(id) => Some(id),
                None => {
                    errors.push(FieldError::new(
                        "cursor",
                        Text::new(
                            "cursor 无效，请使用上一页返回的 next_cursor",
                            "cursor is not valid",
                        ),
                    ));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(Page {
                limit: i64::from(limit),
                after,
            })
        } else {
            Err(ApiError::BadRequest {
                code: "request.invalid_query",
                detail: Text::new("查询参数有误", "Invalid query parameters"),
                errors,
            })
        }
    }

    /// Given `limit + 1` rows fetched, trims to `limit` and makes the next cursor.
    pub fn finish<T>(&self, mut rows: Vec<T>, id_of: impl Fn(&T) -> i64) -> Paged<T> {
        let more = rows.len() as i64 > self.limit;
        rows.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(id_of(r)))
        } else {
            None
        };
        Paged {
            items: rows,
            next_cursor,
        }
    }
}

impl TryFrom<&PageQuery> for Page {
    type Error = ApiError;
    fn try_from(q: &PageQuery) -> Result<Page, ApiError> {
        Page::parse(q.limit, q.cursor.as_deref())
    }
}

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("id:")?.parse().ok()
}

/// `{"items": [...], "next_cursor": "..." | null}`
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// The client's address: the TCP peer, or the first `X-Forwarded-For` hop when the server
/// is configured to sit behind a trusted load balancer.
pub fn client_ip(req: &HttpRequest, trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return ip.to_owned();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Reads a `text/csv` upload of at most `limit` bytes: 415 for another content type, 413
/// when it is larger.
pub async fn read_csv(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let is_csv = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("text/csv")
        });
    if !is_csv {
        return Err(ApiError::UnsupportedMediaType);
    }
    read_limited(&mut payload, limit).await
}

/// The largest file upload any route takes (a station CSV).
pub const UPLOAD_LIMIT: usize = 8 * 1024 * 1024;

/// Reads a whole request body of at most `limit` bytes: 413 when it is larger.
pub async fn read_limited<S>(payload: &mut S, limit: usize) -> Result<web::BytesMut, ApiError>
where
    S: futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
{
    use futures_util::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::bad_request(
                "request.unreadable",
                Text::new("请求体读取失败", "The request body could not be read"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Option<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn field_of(err: ApiError) -> (String, String) {
        match err {
            ApiError::BadRequest { code, errors, .. } => (
                code.to_owned(),
                errors
                    .first()
                    .map(|e| e.field.to_string())
                    .unwrap_or_default(),
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"name": 1}"#).unwrap_err();
        assert_eq!(field_of(e), ("request.invalid_field".into(), "name".into()));
        let e = parse_json::<Body>(br#"{"name": "a", "x": 1}"#).unwrap_err();
        assert_eq!(field_of(e), ("request.unknown_field".into(), "x".into()));
        let e = parse_json::<Body>(br#"{"name": "a", "inner": {"n": "z"}}"#).unwrap_err();
        assert_eq!(
            field_of(e),
            ("request.invalid_field".into(), "inner.n".into())
        );
        let e = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(field_of(e), ("request.missing_field".into(), "name".into()));
        let e = parse_json::<Body>(br#"{"name": "a"} trailing"#).unwrap_err();
        assert_eq!(field_of(e).0, "request.invalid_json");
        assert!(parse_json::<Body>(br#"{"name": "a"}"#).is_ok());
    }

    #[test]
    fn pages_round_trip_and_refuse_garbage() {
        let p = Page::parse(Some(2), None).unwrap();
        let out = p.finish(vec![1_i64, 2, 3], |x| *x);
        assert_eq!(out.items, vec![1, 2]);
        let next = out.next_cursor.unwrap();
        assert_eq!(
            Page::parse(None, Some(&next)).unwrap(),
            Page {
                limit: 20,
                after: Some(2)
            }
        );
        assert!(Page::parse(Some(0), None).is_err());
        assert!(Page::parse(Some(101), None).is_err());
        assert!(Page::parse(None, Some("garbage!")).is_err());
        let last = Page::parse(Some(5), None)
            .unwrap()
            .finish(vec![1_i64], |x| *x);
        assert_eq!(last.next_cursor, None);
    }
}
