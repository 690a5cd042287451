//! WeChat mini-program login: `jscode2session` turns a one-time `code` into an openid.
//! The request carries the app secret and the response a `session_key`: neither is logged,
//! and the session key never leaves this function.

use std::time::Duration;

use serde::Deserialize;

use crate::config::Secret;
use crate::error::{ApiError, Text};

#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    base: String,
    appid: String,
    secret: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatIdentity {
    pub openid: String,
    pub unionid: Option<String>,
}

#[derive(Deserialize)]
struct SessionReply {
    openid: Option<String>,
    unionid: Option<String>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl WechatClient {
    pub fn new(http: reqwest::Client, base: &str, appid: &str, secret: Secret) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            appid: appid.to_owned(),
            secret,
        }
    }

    pub async fn code_to_session(&self, code: &str) -> Result<WechatIdentity, ApiError> {
        if self.appid.is_empty() || self.secret.is_empty() {
            return Err(ApiError::Unavailable {
                code: "auth.wechat_not_configured",
                detail: Text::new("微信登录未配置", "WeChat login is not configured"),
                retry_after_secs: 60,
            });
        }
        let mut url = url::Url::parse(&format!("{}/sns/jscode2session", self.base))
            .map_err(|e| ApiError::internal(format!("wechat base URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("appid", &self.appid)
            .append_pair("secret", self.secret.expose())
            .append_pair("js_code", code)
            .append_pair("grant_type", "authorization_code");
        let response = self.http.get(url).send().await.map_err(upstream_down)?;
        if !response.status().is_success() {
            tracing::warn!(
                status = response.status().as_u16(),
                "wechat answered with an HTTP error"
            );
            return Err(upstream_down_status());
        }
        // WeChat sends JSON as text/plain; read bytes and parse regardless of the type.
        let body = response.bytes().await.map_err(upstream_down)?;
        let reply: SessionReply =
            serde_json::from_slice(&body).map_err(|_| ApiError::BadGateway {
                code: "auth.wechat_error",
                detail: Text::new(
                    "微信服务返回异常",
                    "WeChat answered with something unexpected",
                ),
            })?;
        map_reply(reply)
    }
}

fn map_reply(reply: SessionReply) -> Result<WechatIdentity, ApiError> {
    match reply.errcode {
        0 => match reply.openid.filter(|o| !o.is_empty()) {
            Some(openid) => Ok(WechatIdentity {
                openid,
                unionid: reply.unionid,
            }),
            None => Err(ApiError::BadGateway {
                code: "auth.wechat_error",
                detail: Text::new("微信服务未返回用户标识", "WeChat returned no openid"),
            }),
        },
        40029 | 40163 => Err(ApiError::Unauthorized {
            code: "auth.wechat_code_invalid",
            detail: Text::new(
                "微信登录凭证无效或已使用，请重新登录",
                "The WeChat login code is invalid or used",
            ),
        }),
        45011 => Err(ApiError::RateLimited {
            code: "rate_limited",
            detail: Text::new(
                "登录过于频繁，请稍后再试",
                "Too many logins, try again shortly",
            ),
            retry_after_secs: 60,
            limit: None,
        }),
        40226 => Err(ApiError::Forbidden {
            code: "auth.wechat_user_blocked",
            detail: Text::new("该微信用户已被限制登录", "This WeChat user is blocked"),
        }),
        -1 => Err(upstream_down_status()),
        other => {
            tracing::warn!(errcode = other, errmsg = %reply.errmsg, "wechat login refused");
            Err(ApiError::BadGateway {
                code: "auth.wechat_error",
                detail: Text::new(
                    "微信登录失败，请稍后重试",
                    "WeChat login failed, try again later",
                ),
            })
        }
    }
}

fn upstream_down(err: reqwest::Error) -> ApiError {
    // The URL holds the app secret and the user's code: drop it before logging.
    tracing::warn!(error = %err.without_url(), "wechat unreachable");
    upstream_down_status()
}

fn upstream_down_status() -> ApiError {
    ApiError::Unavailable {
        code: "auth.wechat_unavailable",
        detail: Text::new(
            "微信服务暂时不可用，请稍后重试",
            "WeChat is unavailable, try again later",
        ),
        retry_after_secs: 5,
    }
}

/// One HTTP client for every upstream (WeChat, SMS), with rustls on the ring provider.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a default crypto provider; install ring once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("huigong/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(errcode: i64, openid: Option<&str>) -> SessionReply {
        SessionReply {
            openid: openid.map(Into::into),
            unionid: None,
            errcode,
            errmsg: String::new(),
        }
    }

    #[test]
    fn errcodes_map_to_statuses() {
        let status = |r| map_reply(r).unwrap_err().status().as_u16();
        assert_eq!(status(reply(40029, None)), 401);
        assert_eq!(status(reply(45011, None)), 429);
        assert_eq!(status(reply(-1, None)), 503);
        assert_eq!(status(reply(40226, None)), 403);
        assert_eq!(status(reply(99999, None)), 502);
        assert_eq!(status(reply(0, None)), 502);
        assert_eq!(map_reply(reply(0, Some("o1"))).unwrap().openid, "o1");
    }
}
