//! Identity: logins (WeChat, SMS, staff password), token rotation, the signed-in extractor
//! and the role checks every admin endpoint uses.

mod handlers;
pub mod password;
pub mod rules;
pub mod sms;
pub mod store;
pub mod tokens;
pub mod wechat;

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use diesel::prelude::*;

pub(crate) use self::handlers::new_session;
pub use self::rules::{Grant, Role};
use self::tokens::TokenError;
use crate::AppState;
use crate::db::DbConn;
use crate::db::schema::{orgs, user_roles};
use crate::domain::{OrgId, UserId};
use crate::error::{ApiError, Text};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::wechat_login)
        .service(handlers::request_sms_code)
        .service(handlers::sms_login)
        .service(handlers::password_login)
        .service(handlers::refresh)
        .service(handlers::logout);
}

/// A signed-in caller, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: UserId,
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Verified once per request: the idempotency middleware and the handler both ask,
        // and a JWT verification (two base64 decodes, two JSON parses, an HMAC) was a
        // tenth of a draw's time on the worker.
        if let Some(Verified(user)) = req.extensions().get::<Verified>() {
            return ready(Ok(*user));
        }
        let user = authenticate(req);
        if let Ok(user) = &user {
            req.extensions_mut().insert(Verified(*user));
        }
        ready(user)
    }
}

/// The caller where a page is public but shows more to members (a station's phone, a job's
/// contact once applied): `None` without an `Authorization` header. A token that is sent
/// but wrong or expired is 401 as on every other route, so the app refreshes it instead of
/// quietly showing the signed-out view.
#[derive(Debug, Clone, Copy)]
pub struct MaybeUser(pub Option<AuthUser>);

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return ready(Ok(MaybeUser(None)));
        }
        ready(
            AuthUser::from_request(req, payload)
                .into_inner()
                .map(|user| MaybeUser(Some(user))),
        )
    }
}

/// A user whose token this request already verified (private, so nothing else can put one
/// in a request's extensions).
#[derive(Clone, Copy)]
struct Verified(AuthUser);

fn authenticate(req: &HttpRequest) -> Result<AuthUser, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("app state missing"))?;
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized {
            code: "auth.missing_token",
            detail: Text::new("请先登录", "Sign in first"),
        })?;
    match state.tokens.verify(token) {
        Ok(id) => Ok(AuthUser { id }),
        Err(TokenError::Expired) => Err(ApiError::Unauthorized {
            code: "auth.token_expired",
            detail: Text::new("登录已过期，请刷新令牌", "The access token has expired"),
        }),
        Err(TokenError::Invalid) => Err(ApiError::Unauthorized {
            code: "auth.invalid_token",
            detail: Text::new("登录凭证无效", "The access token is not valid"),
        }),
    }
}

/// The roles a user holds, with the path of each role's org.
pub fn grants_of(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<Grant>> {
    let rows: Vec<(String, Option<String>)> = user_roles::table
        .left_join(orgs::table)
        .filter(user_roles::user_id.eq(user.0))
        .select((user_roles::role, orgs::path.nullable()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(role, org_path)| Role::parse(&role).map(|role| Grant { role, org_path }))
        .collect())
}

/// Refuses (403) unless `user` holds `role` in `org` or one of its ancestors. An org that
/// does not exist is 404.
pub fn require_role(
    conn: &mut DbConn,
    user: UserId,
    org: OrgId,
    role: Role,
) -> Result<(), ApiError> {
    let path: String = orgs::table.find(org.0).select(orgs::path).first(conn)?;
    if rules::allows(&grants_of(conn, user)?, &path, role) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// As [`require_role`], for one object of that org: outside the caller's subtree the object
/// does not exist for them (404, never 403, so ids reveal nothing).
pub fn require_role_or_hide(
    conn: &mut DbConn,
    user: UserId,
    org: OrgId,
    role: Role,
) -> Result<(), ApiError> {
    match require_role(conn, user, org, role) {
        Err(ApiError::Forbidden { .. }) => Err(ApiError::NotFound),
        other => other,
    }
}

/// As [`require_role`] for an org the request names in `field`: an org that does not
/// exist is that field's validation error (422), not a 404 of the whole request.
pub fn require_role_for_field(
    conn: &mut DbConn,
    user: UserId,
    org: OrgId,
    role: Role,
    field: &'static str,
) -> Result<(), ApiError> {
    match require_role(conn, user, org, role) {
        Err(ApiError::NotFound) => Err(ApiError::validation(
            field,
            Text::new("工会组织不存在", "The union organization does not exist"),
        )),
        other => other,
    }
}

pub fn require_platform_admin(conn: &mut DbConn, user: UserId) -> Result<(), ApiError> {
    if rules::is_platform_admin(&grants_of(conn, user)?) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}
