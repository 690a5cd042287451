//! The signed-in person's own profile: `GET /me`, `PATCH /me`.

use actix_web::{HttpResponse, get, patch, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::store::{self, UserChanges};
use crate::auth::{AuthUser, Role};
use crate::db::DbConn;
use crate::domain::{Fields, OrgId, UserId, mask_phone, text_field};
use crate::error::{ApiResult, FieldError, Text};
use crate::http::Json;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_me).service(update_me);
}

/// Another user as others see them: id and nickname only.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicUser {
    pub id: UserId,
    pub nickname: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub role: Role,
    pub org_id: Option<OrgId>,
}

/// Membership of the union (filled by enrollment once approved).
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub status: String,
    pub member_no: String,
    pub org_id: OrgId,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub id: UserId,
    pub nickname: String,
    pub avatar_url: Option<String>,
    /// Masked: `138****5678`.
    pub phone: Option<String>,
    /// Staff usernames are shown to their owner.
    pub username: Option<String>,
    pub roles: Vec<RoleView>,
    pub membership: Option<MembershipView>,
}

pub fn me_view(conn: &mut DbConn, id: UserId) -> ApiResult<MeView> {
    let user = store::user(conn, id)?;
    let mut roles = vec![RoleView {
        role: Role::Member,
        org_id: None,
    }];
    roles.extend(store::roles_of(conn, id)?.into_iter().filter_map(|r| {
        Role::parse(&r.role).map(|role| RoleView {
            role,
            org_id: r.org_id.map(OrgId),
        })
    }));
    Ok(MeView {
        id,
        nickname: user.nickname,
        avatar_url: user.avatar_url,
        phone: user.phone.as_deref().map(mask_phone),
        username: user.username,
        roles,
        membership: crate::enrollment::store::membership_of(conn, id)?.map(|(e, org)| {
            MembershipView {
                status: "active".into(),
                member_no: e.member_no.unwrap_or_default(),
                org_id: OrgId(org.id),
            }
        }),
    })
}

/// The signed-in user, roles and membership.
#[utoipa::path(tag = "users", responses((status = 200, body = MeView), (status = 401)), security(("bearer" = [])))]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let view = state.db.run(move |c| me_view(c, user.id)).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeChanges {
    /// 1-30 characters.
    pub nickname: Option<String>,
    /// An https URL; `null` removes the avatar.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
}

/// Distinguishes a field sent as `null` (Some(None)) from one left out (None).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes the nickname or avatar.
#[utoipa::path(tag = "users", request_body = MeChanges, responses((status = 200, body = MeView), (status = 422)), security(("bearer" = [])))]
#[patch("/me")]
pub async fn update_me(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<MeChanges>,
) -> ApiResult<HttpResponse> {
    let MeChanges {
        nickname,
        avatar_url,
    } = body.0;
    let mut fields = Fields::new();
    let nickname = nickname.and_then(|n| fields.check(text_field("nickname", &n, 1, 30)));
    let avatar_url = match avatar_url {
        None => None,
        Some(None) => Some(None),
        Some(Some(url)) => fields.check(parse_avatar_url(&url)).map(Some),
    };
    fields.finish()?;
    let now = state.clock.now_naive();
    let changes = UserChanges {
        nickname,
        avatar_url,
        updated_at: Some(now),
    };
    let view = state
        .db
        .run(move |c| {
            store::update_user(c, user.id, &changes)?;
            me_view(c, user.id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

fn parse_avatar_url(raw: &str) -> Result<String, FieldError> {
    let bad = || {
        FieldError::new(
            "avatar_url",
            Text::new("头像地址须为 https 链接", "avatar_url must be an https URL"),
        )
    };
    if raw.len() > 500 {
        return Err(bad());
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| bad())?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url.to_string())
}
