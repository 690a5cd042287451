//! Sending login codes: an HTTP provider, or (development only, switched on explicitly) a
//! local outbox file. Codes and phone numbers never go to the log.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Config, Secret, SmsProviderKind};
use crate::domain::Phone;
use crate::error::{ApiError, Text};

#[derive(Clone)]
pub enum SmsSender {
    None,
    Http {
        http: reqwest::Client,
        base: String,
        key: Secret,
    },
    Outbox {
        path: PathBuf,
    },
}

#[derive(Serialize)]
struct SendRequest<'a> {
    phone: &'a str,
    template: &'a str,
    params: Params<'a>,
}

#[derive(Serialize)]
struct Params<'a> {
    code: &'a str,
    minutes: u32,
}

impl SmsSender {
    pub fn from_config(config: &Config, http: reqwest::Client) -> Self {
        match config.sms_provider {
            SmsProviderKind::None => SmsSender::None,
            SmsProviderKind::Http => SmsSender::Http {
                http,
                base: config.sms_api_base.trim_end_matches('/').to_owned(),
                key: config.sms_api_key.clone(),
            },
            SmsProviderKind::Log => {
                tracing::warn!(
                    outbox = %config.sms_outbox.display(),
                    "SMS provider `log`: login codes are written to a local outbox file, not sent. Development only."
                );
                SmsSender::Outbox {
                    path: config.sms_outbox.clone(),
                }
            }
        }
    }

    pub fn configured(&self) -> bool {
        !matches!(self, SmsSender::None)
    }

    pub async fn send_login_code(
        &self,
        phone: &Phone,
        code: &str,
        minutes: u32,
    ) -> Result<(), ApiError> {
        let request = SendRequest {
            phone: phone.as_str(),
            template: "login_code",
            params: Params { code, minutes },
        };
        match self {
            SmsSender::None => Err(not_configured()),
            SmsSender::Http { http, base, key } => {
                let response = http
                    .post(format!("{base}/send"))
                    .bearer_auth(key.expose())
                    .json(&request)
                    .send()
                    .await
                    .map_err(|e| {
                        tracing::warn!(error = %e.without_url(), "SMS provider unreachable");
                        provider_down()
                    })?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    tracing::warn!(
                        status = response.status().as_u16(),
                        "SMS provider refused to send"
                    );
                    Err(provider_down())
                }
            }
            SmsSender::Outbox { path } => {
                let mut line = serde_json::to_vec(&request).map_err(ApiError::internal)?;
                line.push(b'\n');
                let path = path.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)?;
                    }
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)?
                        .write_all(&line)
                })
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
                tracing::info!(phone = %phone.masked(), "login code written to the development SMS outbox");
                Ok(())
            }
        }
    }
}

fn not_configured() -> ApiError {
    ApiError::Unavailable {
        code: "sms.not_configured",
        detail: Text::new("短信服务未配置", "SMS is not configured"),
        retry_after_secs: 60,
    }
}

fn provider_down() -> ApiError {
    ApiError::Unavailable {
        code: "sms.unavailable",
        detail: Text::new(
            "短信发送失败，请稍后重试",
            "The SMS could not be sent, try again later",
        ),
        retry_after_secs: 10,
    }
}
