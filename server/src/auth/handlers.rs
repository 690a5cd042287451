//! HTTP endpoints of `/auth`: translate requests into logins and sessions.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::password::{burn_time, verify_password};
use super::store::{self, CodeCheck, NewRefreshToken, NewSmsCode, NewUser, Rotation};
use super::tokens::{hash_refresh_token, new_family, new_refresh_token};
use crate::AppState;
use crate::domain::{Fields, Phone, UserId};
use crate::error::{ApiError, ApiResult, Text};
use crate::http::{Json, client_ip};
use crate::ratelimit;
use crate::users::{MeView, me_view};

const SMS_CODE_MINUTES: u32 = 5;
const SMS_MAX_ATTEMPTS: i32 = 5;
const PASSWORD_MAX_FAILURES: i32 = 5;
const LOCK_MINUTES: i64 = 15;

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub token_type: &'static str,
    pub user: MeView,
}

fn refresh_expiry(state: &AppState, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    now + TimeDelta::days(i64::try_from(state.config.refresh_token_ttl_days).unwrap_or(30))
}

fn token_response(
    state: &AppState,
    user: UserId,
    refresh_token: String,
    view: MeView,
) -> ApiResult<TokenResponse> {
    Ok(TokenResponse {
        access_token: state.tokens.issue(user).map_err(ApiError::internal)?,
        refresh_token,
        expires_in: state.tokens.ttl_secs(),
        token_type: "Bearer",
        user: view,
    })
}

/// Signs in `user` afresh: an access token and the first refresh token of a new family.
pub(crate) async fn new_session(state: &AppState, user: UserId) -> ApiResult<TokenResponse> {
    let (refresh_token, hash) = new_refresh_token();
    let now = state.clock.now_naive();
    let expires_at = refresh_expiry(state, now);
    let family = new_family();
    let view = state
        .db
        .run(move |c| -> ApiResult<MeView> {
            store::insert_refresh_token(
                c,
                &NewRefreshToken {
                    user_id: user.0,
                    family: &family,
                    token_hash: &hash,
                    created_at: now,
                    expires_at,
                },
            )?;
            me_view(c, user)
        })
        .await?;
    token_response(state, user, refresh_token, view)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatLogin {
    /// The one-time code from `wx.login()`.
    pub code: String,
}

/// WeChat mini-program login.
#[utoipa::path(tag = "auth", request_body = WechatLogin, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "invalid or used code (errcode 40029)"),
    (status = 403, description = "user blocked by WeChat (40226)"),
    (status = 429, description = "WeChat rate limit (45011)"),
    (status = 503, description = "WeChat busy or unreachable (-1)"),
))]
#[post("/auth/wechat")]
pub async fn wechat_login(
    state: web::Data<AppState>,
    body: Json<WechatLogin>,
) -> ApiResult<HttpResponse> {
    let code = body.0.code.trim();
    if code.is_empty() || code.len() > 128 || !code.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::validation(
            "code",
            Text::new("登录凭证格式有误", "code is malformed"),
        ));
    }
    let identity = state.wechat.code_to_session(code).await?;
    let now = state.clock.now_naive();
    let user = state
        .db
        .run(move |c| -> ApiResult<UserId> {
            let openid = identity.openid.clone();
            let new = NewUser {
                nickname: "微信用户",
                phone: None,
                wechat_openid: Some(&identity.openid),
                username: None,
                password_hash: None,
                created_at: now,
                updated_at: now,
            };
            Ok(store::find_or_create(
                c,
                move |c| store::id_by_openid(c, &openid),
                &new,
            )?)
        })
        .await?;
    tracing::info!(user_id = user.0, "signed in with wechat");
    Ok(HttpResponse::Ok().json(new_session(&state, user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsCodeRequest {
    pub phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsCodeSent {
    /// The number the code went to, masked.
    pub phone: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code can be asked for this number.
    pub resend_after: u64,
}

/// A keyed hash of a phone number (lookups without storing the number again).
fn phone_hash(state: &AppState, phone: &Phone) -> String {
    state.crypto.lookup_hash("phone", phone.as_str())
}

fn code_hash(state: &AppState, phone: &Phone, code: &str) -> String {
    state
        .crypto
        .lookup_hash("sms-code", &format!("{}:{code}", phone.as_str()))
}

/// Sends a login code by SMS: one per minute and ten per day per number, also per client address.
#[utoipa::path(tag = "auth", request_body = SmsCodeRequest, responses(
    (status = 202, body = SmsCodeSent),
    (status = 422, description = "not a mainland mobile number"),
    (status = 429, description = "too many codes; see Retry-After"),
    (status = 503, description = "SMS not configured or provider down"),
))]
#[post("/auth/sms-codes")]
pub async fn request_sms_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SmsCodeRequest>,
) -> ApiResult<HttpResponse> {
    let phone = Phone::parse(&body.0.phone).map_err(|e| ApiError::Validation(vec![e]))?;
    if !state.sms.configured() {
        return Err(ApiError::Unavailable {
            code: "sms.not_configured",
            detail: Text::new("短信服务未配置", "SMS is not configured"),
            retry_after_secs: 60,
        });
    }
    let hot = state.hot.as_ref();
    let phash = phone_hash(&state, &phone);
    let ip = state
        .crypto
        .lookup_hash("ip", &client_ip(&req, state.config.trust_proxy));
    let (today, until_midnight) = ratelimit::day_window(state.clock.now());
    let too_soon = || {
        Text::new(
            "验证码发送过于频繁，请稍后再试",
            "Too many codes requested, try again later",
        )
    };
    let minute = Duration::from_secs(60);
    let k = &state.keys;
    ratelimit::hit(
        hot,
        &k.key(&format!("sms:{phash}"), "minute"),
        1,
        minute,
        too_soon(),
    )
    .await?;
    ratelimit::hit(
        hot,
        &k.key(&format!("smsip:{ip}"), "minute"),
        state.config.sms_per_ip_per_minute,
        minute,
        too_soon(),
    )
    .await?;
    ratelimit::hit(
        hot,
        &k.key(&format!("sms:{phash}"), &format!("day:{today}")),
        10,
        until_midnight,
        too_soon(),
    )
    .await?;
    ratelimit::hit(
        hot,
        &k.key(&format!("smsip:{ip}"), &format!("day:{today}")),
        state.config.sms_per_ip_per_day,
        until_midnight,
        too_soon(),
    )
    .await?;

    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let code_hash = code_hash(&state, &phone, &code);
    let now = state.clock.now_naive();
    let expires_at = now + TimeDelta::minutes(i64::from(SMS_CODE_MINUTES));
    let stored_hash = phash.clone();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            Ok(store::replace_sms_code(
                c,
                &NewSmsCode {
                    phone_hash: &stored_hash,
                    code_hash: &code_hash,
                    created_at: now,
                    expires_at,
                },
            )?)
        })
        .await?;
    state
        .sms
        .send_login_code(&phone, &code, SMS_CODE_MINUTES)
        .await?;
    Ok(HttpResponse::Accepted().json(SmsCodeSent {
        phone: phone.masked(),
        expires_in: u64::from(SMS_CODE_MINUTES) * 60,
        resend_after: 60,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsLogin {
    pub phone: String,
    pub code: String,
}

/// Signs in with a phone number and the code sent to it (five wrong codes void it).
#[utoipa::path(tag = "auth", request_body = SmsLogin, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "wrong, expired or voided code"),
    (status = 422, description = "malformed phone or code"),
))]
#[post("/auth/sms-login")]
pub async fn sms_login(
    state: web::Data<AppState>,
    body: Json<SmsLogin>,
) -> ApiResult<HttpResponse> {
    let SmsLogin { phone, code } = body.0;
    let mut fields = Fields::new();
    let phone = fields.check(Phone::parse(&phone));
    let code = code.trim().to_owned();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        fields.push(crate::error::FieldError::new(
            "code",
            Text::new("验证码为 6 位数字", "The code has 6 digits"),
        ));
    }
    fields.finish()?;
    let Some(phone) = phone else {
        return Err(ApiError::internal("phone checked above"));
    };
    let phash = phone_hash(&state, &phone);
    let code_hash = code_hash(&state, &phone, &code);
    let now = state.clock.now_naive();
    let user = state
        .db
        .run(move |c| -> ApiResult<UserId> {
            match store::check_sms_code(c, &phash, &code_hash, SMS_MAX_ATTEMPTS, now)? {
                CodeCheck::Accepted => {}
                CodeCheck::Wrong => {
                    return Err(ApiError::Unauthorized {
                        code: "auth.sms_code_wrong",
                        detail: Text::new("验证码错误", "The code is wrong"),
                    });
                }
                CodeCheck::NoCode => {
                    return Err(ApiError::Unauthorized {
                        code: "auth.sms_code_invalid",
                        detail: Text::new(
                            "验证码已失效，请重新获取",
                            "The code expired or was voided; ask for a new one",
                        ),
                    });
                }
            }
            let number = phone.as_str().to_owned();
            let nickname = format!("用户{}", &number[number.len() - 4..]);
            let new = NewUser {
                nickname: &nickname,
                phone: Some(phone.as_str()),
                wechat_openid: None,
                username: None,
                password_hash: None,
                created_at: now,
                updated_at: now,
            };
            Ok(store::find_or_create(
                c,
                move |c| store::id_by_phone(c, &number),
                &new,
            )?)
        })
        .await?;
    tracing::info!(user_id = user.0, "signed in with an SMS code");
    Ok(HttpResponse::Ok().json(new_session(&state, user).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordLogin {
    pub username: String,
    pub password: String,
}

/// Staff login; five failures lock the account for 15 minutes.
#[utoipa::path(tag = "auth", request_body = PasswordLogin, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "wrong username or password"),
    (status = 429, description = "locked after 5 failures; see Retry-After"),
))]
#[post("/auth/password-login")]
pub async fn password_login(
    state: web::Data<AppState>,
    body: Json<PasswordLogin>,
) -> ApiResult<HttpResponse> {
    let PasswordLogin { username, password } = body.0;
    if username.is_empty() || username.len() > 64 || password.is_empty() || password.len() > 256 {
        return Err(wrong_credentials());
    }
    let now = state.clock.now_naive();
    let user = state
        .db
        .run(move |c| -> ApiResult<UserId> {
            let Some(user) = store::user_by_username(c, &username)? else {
                burn_time(&password);
                return Err(wrong_credentials());
            };
            let id = UserId(user.id);
            let Some(attempt) = store::reserve_login_attempt(c, id, PASSWORD_MAX_FAILURES, now)?
            else {
                // Locked: say until when (a lock still being set by a parallel request counts as the full time).
                let until = store::user(c, id)?
                    .locked_until
                    .filter(|u| *u > now)
                    .unwrap_or(now + TimeDelta::minutes(LOCK_MINUTES));
                return Err(ApiError::RateLimited {
                    code: "auth.account_locked",
                    detail: Text::new(
                        "密码错误次数过多，账号已临时锁定",
                        "Too many failed logins; the account is locked for a while",
                    ),
                    retry_after_secs: u64::try_from((until - now).num_seconds().max(1))
                        .unwrap_or(1),
                    limit: None,
                });
            };
            if verify_password(&password, user.password_hash.as_deref().unwrap_or_default()) {
                store::clear_failed_logins(c, id)?;
                Ok(id)
            } else {
                if attempt >= PASSWORD_MAX_FAILURES {
                    store::lock_account(c, id, now + TimeDelta::minutes(LOCK_MINUTES))?;
                    tracing::warn!(
                        user_id = id.0,
                        "staff account locked after repeated failures"
                    );
                }
                Err(wrong_credentials())
            }
        })
        .await?;
    tracing::info!(user_id = user.0, "signed in with a password");
    Ok(HttpResponse::Ok().json(new_session(&state, user).await?))
}

fn wrong_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "auth.invalid_credentials",
        detail: Text::new("用户名或密码错误", "Wrong username or password"),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Trades a refresh token for a new pair. Using a spent refresh token again revokes every
/// token of its family (someone copied it).
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = TokenResponse),
    (status = 401, description = "unknown, expired, revoked or reused refresh token"),
))]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let hash = hash_refresh_token(body.0.refresh_token.trim());
    let (next_token, next_hash) = new_refresh_token();
    let now = state.clock.now_naive();
    let next_expires_at = refresh_expiry(&state, now);
    let (rotation, view) = state
        .db
        .run(move |c| -> ApiResult<(Rotation, Option<MeView>)> {
            let rotation = store::spend_refresh_token(c, &hash, &next_hash, now, next_expires_at)?;
            let view = match rotation {
                Rotation::Rotated { user } => Some(me_view(c, user)?),
                _ => None,
            };
            Ok((rotation, view))
        })
        .await?;
    match (rotation, view) {
        (Rotation::Rotated { user }, Some(view)) => {
            Ok(HttpResponse::Ok().json(token_response(&state, user, next_token, view)?))
        }
        (Rotation::Reused, _) => {
            tracing::warn!("a spent refresh token was used again; its family is revoked");
            Err(ApiError::Unauthorized {
                code: "auth.refresh_reused",
                detail: Text::new(
                    "登录凭证已被使用，请重新登录",
                    "This refresh token was already used; sign in again",
                ),
            })
        }
        _ => Err(ApiError::Unauthorized {
            code: "auth.invalid_refresh_token",
            detail: Text::new(
                "登录已失效，请重新登录",
                "The refresh token is not valid; sign in again",
            ),
        }),
    }
}

/// Ends the session the refresh token belongs to (every token of its family).
#[utoipa::path(tag = "auth", request_body = RefreshRequest, responses((status = 204)))]
#[post("/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let hash = hash_refresh_token(body.0.refresh_token.trim());
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            if let Some(family) = store::family_of(c, &hash)? {
                store::revoke_family(c, &family, now)?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
