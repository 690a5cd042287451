//! HTTP endpoints of `/orgs` and `/admin/orgs`.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rules::{OrgKind, parse_region_code, path_ids};
use super::store::{self, NewOrg, Org, OrgFilter};
use crate::AppState;
use crate::auth::store::{self as users, NewRole};
use crate::auth::{self, AuthUser, Role};
use crate::db::is_unique_violation;
use crate::domain::{Fields, OrgId, UserId, text_field};
use crate::error::{ApiError, ApiResult, Text};
use crate::http::{Json, Page, Paged, Query};

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: OrgId,
    pub name: String,
    pub kind: OrgKind,
    pub parent_id: Option<OrgId>,
    pub region_code: String,
    /// Ancestor ids from the root down to this org itself.
    pub path: Vec<i64>,
}

impl From<Org> for OrgView {
    fn from(org: Org) -> Self {
        OrgView {
            id: OrgId(org.id),
            kind: OrgKind::parse(&org.kind).unwrap_or(OrgKind::Grassroots),
            name: org.name,
            parent_id: org.parent_id.map(OrgId),
            region_code: org.region_code,
            path: path_ids(&org.path),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// Part of the name.
    pub q: Option<String>,
    /// Only direct children of this org.
    pub parent_id: Option<i64>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Searches union organizations by name.
#[utoipa::path(tag = "orgs", params(OrgQuery), responses((status = 200, body = Paged<OrgView>), (status = 400)))]
#[get("/orgs")]
pub async fn list_orgs(
    state: web::Data<AppState>,
    query: Query<OrgQuery>,
) -> ApiResult<HttpResponse> {
    let OrgQuery {
        q,
        parent_id,
        limit,
        cursor,
    } = query.into_inner();
    let page = Page::parse(limit, cursor.as_deref())?;
    let q = q.map(|q| q.trim().to_owned()).filter(|q| !q.is_empty());
    if q.as_ref().is_some_and(|q| q.chars().count() > 60) {
        return Err(ApiError::invalid_query(
            "q",
            Text::new("搜索词过长", "q is too long"),
        ));
    }
    let filter = OrgFilter {
        q,
        parent_id: parent_id.map(OrgId),
    };
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<Org>> {
            Ok(store::list_orgs(c, &filter, page.after, page.limit + 1)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page.finish(rows, |o| o.id).map(OrgView::from)))
}

/// One organization.
#[utoipa::path(tag = "orgs", params(("id" = i64, Path)), responses((status = 200, body = OrgView), (status = 404)))]
#[get("/orgs/{id}")]
pub async fn get_org(state: web::Data<AppState>, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = OrgId(id.into_inner());
    let org = state
        .db
        .run(move |c| -> ApiResult<Org> { Ok(store::org(c, id)?) })
        .await?;
    Ok(HttpResponse::Ok().json(OrgView::from(org)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrg {
    /// 2-60 characters, unique among its siblings.
    pub name: String,
    pub kind: OrgKind,
    /// None only for a top-level federation (platform admins only).
    pub parent_id: Option<i64>,
    /// GB/T 2260 division code, e.g. `371481`.
    pub region_code: String,
}

/// Creates an organization under one the caller administers (a top-level one needs a
/// platform admin). Accepts `Idempotency-Key`.
#[utoipa::path(tag = "orgs", request_body = CreateOrg, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = OrgView), (status = 403), (status = 409, description = "same name under the same parent"), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/admin/orgs",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn create_org(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateOrg>,
) -> ApiResult<HttpResponse> {
    let CreateOrg {
        name,
        kind,
        parent_id,
        region_code,
    } = body.0;
    let mut fields = Fields::new();
    let name = fields.check(text_field("name", &name, 2, 60));
    let region_code = fields.check(parse_region_code(&region_code));
    fields.finish()?;
    let (Some(name), Some(region_code)) = (name, region_code) else {
        return Err(ApiError::internal("fields checked above"));
    };
    let new = NewOrg {
        name,
        kind: kind.as_str(),
        parent_id: parent_id.map(OrgId),
        region_code,
        created_at: state.clock.now_naive(),
    };
    let org = state
        .db
        .run(move |c| -> ApiResult<Org> {
            match new.parent_id {
                Some(parent) => match auth::require_role(c, user.id, parent, Role::OrgAdmin) {
                    Err(ApiError::NotFound) => {
                        return Err(ApiError::validation(
                            "parent_id",
                            Text::new("上级组织不存在", "The parent organization does not exist"),
                        ));
                    }
                    other => other?,
                },
                None => auth::require_platform_admin(c, user.id)?,
            }
            store::insert_org(c, &new).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::Conflict {
                        code: "org.duplicate",
                        detail: Text::new(
                            "同一上级组织下已有同名组织",
                            "An organization with this name exists under the same parent",
                        ),
                    }
                } else {
                    e.into()
                }
            })
        })
        .await?;
    tracing::info!(org_id = org.id, by = user.id.0, "org created");
    Ok(HttpResponse::Created().json(OrgView::from(org)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantStaff {
    pub user_id: i64,
    /// `organizer` or `org_admin`.
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffGrantView {
    pub user_id: UserId,
    pub role: Role,
    pub org_id: OrgId,
}

/// Grants `organizer` or `org_admin` in this org's subtree (org admins of it or an ancestor).
#[utoipa::path(tag = "orgs", request_body = GrantStaff, params(("id" = i64, Path)),
    responses((status = 201, body = StaffGrantView), (status = 403), (status = 404), (status = 409, description = "already granted"), (status = 422)),
    security(("bearer" = [])))]
#[post("/admin/orgs/{id}/staff")]
pub async fn grant_staff(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<GrantStaff>,
) -> ApiResult<HttpResponse> {
    let org_id = OrgId(id.into_inner());
    let GrantStaff { user_id, role } = body.0;
    if !matches!(role, Role::Organizer | Role::OrgAdmin) {
        return Err(ApiError::validation(
            "role",
            Text::new(
                "只能授予 organizer 或 org_admin",
                "role must be organizer or org_admin",
            ),
        ));
    }
    let grantee = UserId(user_id);
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            auth::require_role(c, user.id, org_id, Role::OrgAdmin)?;
            if !users::user_exists(c, grantee)? {
                return Err(ApiError::validation(
                    "user_id",
                    Text::new("用户不存在", "No such user"),
                ));
            }
            let new = NewRole {
                user_id: grantee.0,
                role: role.as_str(),
                org_id: Some(org_id.0),
                granted_by: Some(user.id.0),
                created_at: now,
            };
            users::grant_role(c, &new).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::Conflict {
                        code: "org.staff_exists",
                        detail: Text::new(
                            "该用户已拥有此角色",
                            "The user already has this role here",
                        ),
                    }
                } else {
                    e.into()
                }
            })
        })
        .await?;
    tracing::info!(
        org_id = org_id.0,
        grantee = grantee.0,
        role = role.as_str(),
        by = user.id.0,
        "staff role granted"
    );
    Ok(HttpResponse::Created().json(StaffGrantView {
        user_id: grantee,
        role,
        org_id,
    }))
}
