//! Configuration: built-in defaults, then an optional `huigong.toml`, then `HUIGONG_*`
//! environment variables. Secrets are kept out of `Debug` output.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A secret string: never printed, never logged.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("<unset>")
        } else {
            f.write_str("<redacted>")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsProviderKind {
    /// No provider: `POST /auth/sms-codes` answers 503.
    None,
    /// An HTTP provider at `sms_api_base`.
    Http,
    /// Development only: codes go to a local outbox file, never to the log.
    Log,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// `HUIGONG_LISTEN`
    pub listen: String,
    /// `HUIGONG_DATABASE_URL`: `sqlite://path`, a bare file path, or `postgres://...`.
    pub database_url: String,
    pub database_pool_size: u32,
    /// Seconds a request waits for a pooled connection before 503.
    pub database_pool_timeout_secs: u64,
    /// `HUIGONG_REDIS_URL`: unset selects the in-process hot store.
    pub redis_url: Option<String>,
    pub redis_prefix: String,
    /// `HUIGONG_GEO_REDIS_URL`: a Redis for the stations' nearby index alone (wide GEO
    /// searches then never queue in front of draws); unset: `redis_url`, or in-process.
    pub geo_redis_url: Option<String>,
    /// `HUIGONG_JWT_SECRET`: HMAC key of access tokens; random (with a warning) when unset.
    pub jwt_secret: Secret,
    /// `HUIGONG_JWT_PREVIOUS_SECRET`: still accepted during a key rotation.
    pub jwt_previous_secret: Secret,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    /// `HUIGONG_DATA_KEY`: 32 bytes, hex or base64, for encrypting ID numbers at rest.
    pub data_key: Secret,
    /// The version stored with everything encrypted under `data_key`.
    pub data_key_version: i32,
    pub wechat_api_base: String,
    pub wechat_appid: String,
    pub wechat_secret: Secret,
    pub sms_provider: SmsProviderKind,
    pub sms_api_base: String,
    pub sms_api_key: Secret,
    /// Where the `log` provider writes codes.
    pub sms_outbox: PathBuf,
    pub sms_per_ip_per_minute: u64,
    pub sms_per_ip_per_day: u64,
    /// Trust `X-Forwarded-For` from a load balancer for the client address.
    pub trust_proxy: bool,
    pub log_format: LogFormat,
    /// Outbound HTTP timeout (WeChat, SMS), seconds.
    pub upstream_timeout_secs: u64,
    pub workers: Option<usize>,
    /// How often the server checks open draw campaigns' hot-store gates against SQL and
    /// repairs them, seconds (0: never; `huigong reconcile` still works).
    pub draw_reconcile_secs: u64,
    /// Serve `/api/v1/_bench/*`: the ceilings the load tests measure against, and their
    /// fixtures. Never in production (the fixture endpoint mints tokens).
    pub bench_endpoints: bool,
    /// How often the server checks the nearby index against SQL's active stations and
    /// rebuilds it when they differ, seconds (0: only at start-up and on a lost index).
    pub station_sync_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/huigong.db".into(),
            database_pool_size: 16,
            database_pool_timeout_secs: 5,
            redis_url: None,
            geo_redis_url: None,
            redis_prefix: "hg".into(),
            jwt_secret: Secret::default(),
            jwt_previous_secret: Secret::default(),
            jwt_issuer: "huigong".into(),
            jwt_audience: "huigong-app".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            data_key: Secret::default(),
            data_key_version: 1,
            wechat_api_base: "https://api.weixin.qq.com".into(),
            wechat_appid: String::new(),
            wechat_secret: Secret::default(),
            sms_provider: SmsProviderKind::None,
            sms_api_base: String::new(),
            sms_api_key: Secret::default(),
            sms_outbox: PathBuf::from("./data/sms-outbox.jsonl"),
            sms_per_ip_per_minute: 5,
            sms_per_ip_per_day: 50,
            trust_proxy: false,
            log_format: LogFormat::Text,
            upstream_timeout_secs: 5,
            workers: None,
            draw_reconcile_secs: 300,
            bench_endpoints: false,
            station_sync_secs: 60,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
}

impl Config {
    /// Defaults, then `huigong.toml` (or the file named by `HUIGONG_CONFIG`), then env vars.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var("HUIGONG_CONFIG").unwrap_or_else(|_| "huigong.toml".into());
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("HUIGONG_").ignore(&[
                "CONFIG",
                "TEST_DATABASE_URL",
                "TEST_REDIS_URL",
            ]))
            .extract()
            .map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen_addr()?;
        crate::db::DatabaseUrl::parse(&self.database_url).map_err(|message| {
            ConfigError::Invalid {
                field: "database_url",
                message,
            }
        })?;
        for (field, url) in [
            ("redis_url", &self.redis_url),
            ("geo_redis_url", &self.geo_redis_url),
        ] {
            if let Some(url) = url
                && !(url.starts_with("redis://") || url.starts_with("rediss://"))
            {
                return Err(ConfigError::Invalid {
                    field,
                    message: "must start with redis:// or rediss://".into(),
                });
            }
        }
        if self.sms_provider == SmsProviderKind::Http && self.sms_api_base.is_empty() {
            return Err(ConfigError::Invalid {
                field: "sms_api_base",
                message: "the http SMS provider needs HUIGONG_SMS_API_BASE".into(),
            });
        }
        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > 3600 {
            return Err(ConfigError::Invalid {
                field: "access_token_ttl_secs",
                message: "between 1 and 3600 seconds".into(),
            });
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|e| ConfigError::Invalid {
            field: "listen",
            message: format!("{}: {e}", self.listen),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let c = Config {
            jwt_secret: Secret::new("hunter2"),
            ..Config::default()
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("hunter2"));
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn malformed_database_url_is_an_error() {
        let c = Config {
            database_url: "mysql://x".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        let c = Config {
            database_url: "./data/x.db".into(),
            ..Config::default()
        };
        assert!(c.validate().is_err());
        assert!(Config::default().validate().is_ok());
    }
}
