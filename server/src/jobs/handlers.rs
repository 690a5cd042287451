//! HTTP endpoints of job postings and applications.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rules::{AppStatus, Cursor, EmploymentType};
use super::store::{self, Application, NewPosting, Posting, Search, Sort, time_key};
use crate::AppState;
use crate::auth::{self, AuthUser, MaybeUser, Role};
use crate::db::DbConn;
use crate::domain::{Coord, Datum, Fields, OrgId, UserId, mask_phone, text_field};
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::{Json, Page, Paged, Query};

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingView {
    pub id: i64,
    pub org_id: OrgId,
    pub title: String,
    pub employer: String,
    pub category: String,
    pub district: String,
    pub address: String,
    pub location: Option<Coord>,
    /// Yuan per month.
    pub salary_min: i32,
    pub salary_max: i32,
    pub headcount: i32,
    pub employment_type: EmploymentType,
    pub description: String,
    /// Masked until the member has applied (`138****5678`).
    pub contact_phone: String,
    pub valid_until: DateTime<Utc>,
    /// `draft`, `published`, `closed` or `expired`.
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
}

fn posting_view(p: Posting, reveal_phone: bool, now: NaiveDateTime) -> PostingView {
    let status = if p.status == "published" && p.valid_until <= now {
        "expired".to_owned()
    } else {
        p.status
    };
    PostingView {
        id: p.id,
        org_id: OrgId(p.org_id),
        title: p.title,
        employer: p.employer,
        category: p.category,
        district: p.district,
        address: p.address,
        location: p.lat.zip(p.lng).map(|(lat, lng)| Coord { lat, lng }),
        salary_min: p.salary_min,
        salary_max: p.salary_max,
        headcount: p.headcount,
        employment_type: EmploymentType::parse(&p.employment_type)
            .unwrap_or(EmploymentType::FullTime),
        description: p.description,
        contact_phone: if reveal_phone {
            p.contact_phone
        } else {
            mask_phone(&p.contact_phone)
        },
        valid_until: utc(p.valid_until),
        status,
        published_at: p.published_at.map(utc),
    }
}

fn posting_for_staff(conn: &mut DbConn, user: UserId, id: i64) -> ApiResult<Posting> {
    let p = store::posting(conn, id)?;
    auth::require_role_or_hide(conn, user, OrgId(p.org_id), Role::Organizer)?;
    Ok(p)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePosting {
    pub org_id: i64,
    pub title: String,
    pub employer: String,
    pub category: String,
    pub district: String,
    pub address: String,
    pub location: Option<crate::domain::LatLng>,
    /// Datum of `location`: `gcj02` (default) or `wgs84`.
    #[serde(default)]
    pub coord: Datum,
    pub salary_min: i32,
    pub salary_max: i32,
    pub headcount: i32,
    pub employment_type: EmploymentType,
    #[serde(default)]
    pub description: String,
    pub contact_phone: String,
    pub valid_until: DateTime<Utc>,
}

/// Creates a draft posting in an org the caller organizes.
#[utoipa::path(tag = "jobs", request_body = CreatePosting, responses((status = 201, body = PostingView), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post(
    "/admin/job-postings",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn create_posting(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreatePosting>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let now = state.clock.now_naive();
    let mut f = Fields::new();
    let title = f.check(text_field("title", &b.title, 2, 60));
    let employer = f.check(text_field("employer", &b.employer, 2, 100));
    let category = f.check(text_field("category", &b.category, 1, 20));
    let district = f.check(text_field("district", &b.district, 1, 30));
    let address = f.check(text_field("address", &b.address, 2, 200));
    let description = f.check(text_field("description", &b.description, 0, 5000));
    let location = b
        .location
        .as_ref()
        .and_then(|l| f.check(Coord::parse("location", l.lat, l.lng, b.coord)));
    let phone = f.check(crate::domain::contact_phone(
        "contact_phone",
        &b.contact_phone,
    ));
    if !(0..=1_000_000).contains(&b.salary_min) {
        f.push(FieldError::new(
            "salary_min",
            Text::new(
                "月薪下限应为 0-1000000 元",
                "salary_min must be 0 to 1000000 yuan",
            ),
        ));
    }
    if b.salary_max < b.salary_min || b.salary_max > 1_000_000 {
        f.push(FieldError::new(
            "salary_max",
            Text::new(
                "月薪上限不能低于下限，且不超过 1000000 元",
                "salary_max must be at least salary_min and at most 1000000",
            ),
        ));
    }
    if !(1..=10_000).contains(&b.headcount) {
        f.push(FieldError::new(
            "headcount",
            Text::new("招聘人数应为 1-10000", "headcount must be 1 to 10000"),
        ));
    }
    if b.valid_until.naive_utc() <= now {
        f.push(FieldError::new(
            "valid_until",
            Text::new("有效期须晚于当前时间", "valid_until must be in the future"),
        ));
    }
    f.finish()?;
    let (
        Some(title),
        Some(employer),
        Some(category),
        Some(district),
        Some(address),
        Some(description),
        Some(phone),
    ) = (
        title,
        employer,
        category,
        district,
        address,
        description,
        phone,
    )
    else {
        return Err(ApiError::internal("fields checked above"));
    };
    let new = NewPosting {
        org_id: b.org_id,
        title,
        employer,
        category,
        district,
        address,
        lat: location.map(|c| c.lat),
        lng: location.map(|c| c.lng),
        salary_min: b.salary_min,
        salary_max: b.salary_max,
        headcount: b.headcount,
        employment_type: b.employment_type.as_str(),
        description,
        contact_phone: phone,
        valid_until: b.valid_until.naive_utc(),
        status: "draft",
        created_by: user.id.0,
        created_at: now,
    };
    let p = state
        .db
        .run(move |c| -> ApiResult<Posting> {
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::Organizer, "org_id")?;
            Ok(store::insert_posting(c, &new)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(posting_view(p, true, now)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// A new validity (required to re-publish an expired or closed posting).
    pub valid_until: Option<DateTime<Utc>>,
}

/// Publishes a draft, or re-publishes a closed or expired posting with a new validity.
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), request_body(content = PublishRequest, description = "optional"),
    responses((status = 200, body = PostingView), (status = 404), (status = 422)), security(("bearer" = [])))]
#[post("/admin/job-postings/{id}/publish")]
pub async fn publish_posting(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let req: PublishRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PublishRequest::default()
    } else {
        crate::http::parse_json(&body)?
    };
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let p = state
        .db
        .run(move |c| -> ApiResult<Posting> {
            let p = posting_for_staff(c, user.id, id)?;
            let valid_until = req
                .valid_until
                .map(|v| v.naive_utc())
                .unwrap_or(p.valid_until);
            if valid_until <= now {
                return Err(ApiError::validation(
                    "valid_until",
                    Text::new("请设置一个未来的有效期", "Give a valid_until in the future"),
                ));
            }
            store::publish(c, id, valid_until, now)?;
            Ok(store::posting(c, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(posting_view(p, true, now)))
}

/// Closes a posting: it leaves search at once.
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 200, body = PostingView), (status = 404)), security(("bearer" = [])))]
#[post("/admin/job-postings/{id}/close")]
pub async fn close_posting(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let p = state
        .db
        .run(move |c| -> ApiResult<Posting> {
            posting_for_staff(c, user.id, id)?;
            store::close(c, id)?;
            Ok(store::posting(c, id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(posting_view(p, true, now)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Words of the title or employer.
    pub q: Option<String>,
    pub district: Option<String>,
    pub category: Option<String>,
    pub employment_type: Option<EmploymentType>,
    /// Postings paying at least this (yuan per month).
    pub salary_min: Option<i32>,
    /// `newest` (default) or `salary`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Published, unexpired postings.
#[utoipa::path(tag = "jobs", params(SearchQuery), responses((status = 200, body = Paged<PostingView>), (status = 400)))]
#[get("/job-postings")]
pub async fn search_postings(
    state: web::Data<AppState>,
    query: Query<SearchQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let (sort, sort_name) = match q.sort.as_deref().unwrap_or("newest") {
        "newest" => (Sort::Newest, "newest"),
        "salary" => (Sort::Salary, "salary"),
        _ => {
            return Err(ApiError::invalid_query(
                "sort",
                Text::new(
                    "sort 应为 newest 或 salary",
                    "sort must be newest or salary",
                ),
            ));
        }
    };
    let limit = Page::parse(q.limit, None)?.limit;
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(Cursor::decode(raw, sort_name).ok_or_else(|| {
            ApiError::invalid_query(
                "cursor",
                Text::new("cursor 无效", "cursor is not valid for this sort"),
            )
        })?),
    };
    let clean = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let search = Search {
        q: clean(q.q).map(|s| s.chars().take(50).collect()),
        district: clean(q.district),
        category: clean(q.category),
        employment_type: q.employment_type.map(|t| t.as_str().to_owned()),
        salary_min: q.salary_min,
    };
    let now = state.clock.now_naive();
    let mut rows = state
        .db
        .run(move |c| -> ApiResult<_> {
            Ok(store::search(c, &search, sort, after, limit + 1, now)?)
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(20));
        rows.last().map(|p| {
            let key = match sort {
                Sort::Newest => p.published_at.map(time_key).unwrap_or_default(),
                Sort::Salary => i64::from(p.salary_max),
            };
            Cursor { key, id: p.id }.encode(sort_name)
        })
    } else {
        None
    };
    let items = rows
        .into_iter()
        .map(|p| posting_view(p, false, now))
        .collect();
    Ok(HttpResponse::Ok().json(Paged { items, next_cursor }))
}

/// One posting; the contact phone is shown in full to members who applied.
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 200, body = PostingView), (status = 404)))]
#[get("/job-postings/{id}")]
pub async fn get_posting(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let (p, applied) = state
        .db
        .run(move |c| -> ApiResult<(Posting, bool)> {
            let p = store::posting(c, id)?;
            if p.status == "draft" {
                return Err(ApiError::NotFound);
            }
            let applied = match user {
                Some(u) => store::has_applied(c, id, u.id)?,
                None => false,
            };
            Ok((p, applied))
        })
        .await?;
    Ok(HttpResponse::Ok().json(posting_view(p, applied, now)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepView {
    pub status: AppStatus,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: i64,
    pub posting_id: i64,
    pub title: String,
    pub employer: String,
    pub status: AppStatus,
    pub message: String,
    pub created_at: DateTime<Utc>,
    /// Every step with its time.
    pub history: Vec<StepView>,
}

fn application_view(
    a: Application,
    title: String,
    employer: String,
    history: Vec<StepView>,
) -> ApplicationView {
    ApplicationView {
        id: a.id,
        posting_id: a.posting_id,
        title,
        employer,
        status: AppStatus::parse(&a.status).unwrap_or(AppStatus::Submitted),
        message: a.message,
        created_at: utc(a.created_at),
        history,
    }
}

/// Applies to a posting, once. Accepts `Idempotency-Key`.
#[utoipa::path(tag = "jobs", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = ApplyRequest,
    responses((status = 201, body = ApplicationView), (status = 404), (status = 409, description = "job.already_applied, job.not_open"), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/job-postings/{id}/applications",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn apply(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<ApplyRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let message = body.0.message.trim().to_owned();
    if message.chars().count() > 500 || message.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "message",
            Text::new("留言不超过 500 字", "message has at most 500 characters"),
        ));
    }
    let now = state.clock.now_naive();
    let view = state
        .db
        .run(move |c| -> ApiResult<ApplicationView> {
            let p = store::posting(c, id)?;
            if p.status == "draft" {
                return Err(ApiError::NotFound);
            }
            if p.status != "published" || p.valid_until <= now {
                return Err(ApiError::Conflict {
                    code: "job.not_open",
                    detail: Text::new("该岗位已停止招聘", "The posting is no longer open"),
                });
            }
            let Some(a) = store::apply(c, id, user.id, &message, now)? else {
                return Err(ApiError::Conflict {
                    code: "job.already_applied",
                    detail: Text::new("您已投递过该岗位", "You already applied to this posting"),
                });
            };
            let at = utc(a.created_at);
            Ok(application_view(
                a,
                p.title,
                p.employer,
                vec![StepView {
                    status: AppStatus::Submitted,
                    at,
                }],
            ))
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// The caller's applications with every step.
#[utoipa::path(tag = "jobs", responses((status = 200, body = Paged<ApplicationView>)), security(("bearer" = [])))]
#[get("/me/job-applications")]
pub async fn my_applications(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let items = state
        .db
        .run(move |c| -> ApiResult<Vec<ApplicationView>> {
            let mut steps: HashMap<i64, Vec<StepView>> = HashMap::new();
            for (app, status, at) in store::events_of(c, user.id)? {
                if let Some(status) = AppStatus::parse(&status) {
                    steps.entry(app).or_default().push(StepView {
                        status,
                        at: utc(at),
                    });
                }
            }
            Ok(store::applications_of(c, user.id)?
                .into_iter()
                .map(|(a, title, employer)| {
                    let history = steps.remove(&a.id).unwrap_or_default();
                    application_view(a, title, employer, history)
                })
                .collect())
        })
        .await?;
    Ok(HttpResponse::Ok().json(Paged {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicantView {
    pub id: i64,
    pub user_id: UserId,
    pub nickname: String,
    /// Masked.
    pub phone: Option<String>,
    pub message: String,
    pub status: AppStatus,
    pub created_at: DateTime<Utc>,
}

async fn applicants(state: &AppState, user: AuthUser, id: i64) -> ApiResult<Vec<ApplicantView>> {
    state
        .db
        .run(move |c| -> ApiResult<Vec<ApplicantView>> {
            posting_for_staff(c, user.id, id)?;
            Ok(store::applications_for(c, id)?
                .into_iter()
                .map(|(a, nickname, phone)| ApplicantView {
                    id: a.id,
                    user_id: UserId(a.user_id),
                    nickname,
                    phone: phone.as_deref().map(mask_phone),
                    message: a.message,
                    status: AppStatus::parse(&a.status).unwrap_or(AppStatus::Submitted),
                    created_at: utc(a.created_at),
                })
                .collect())
        })
        .await
}

/// Applications to a posting (its organizers).
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 200, body = Paged<ApplicantView>), (status = 404)), security(("bearer" = [])))]
#[get("/admin/job-postings/{id}/applications")]
pub async fn posting_applications(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let items = applicants(&state, user, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(Paged {
        items,
        next_cursor: None,
    }))
}

/// Applications to a posting as CSV (phones masked).
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 200, content_type = "text/csv"), (status = 404)), security(("bearer" = [])))]
#[get("/admin/job-postings/{id}/applications.csv")]
pub async fn export_applications(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let rows = applicants(&state, user, id).await?;
    let mut out = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    out.write_record([
        "application_id",
        "user_id",
        "nickname",
        "phone",
        "status",
        "applied_at",
        "message",
    ])
    .map_err(ApiError::internal)?;
    for a in rows {
        out.write_record([
            a.id.to_string(),
            a.user_id.to_string(),
            a.nickname,
            a.phone.unwrap_or_default(),
            a.status.as_str().to_owned(),
            a.created_at.to_rfc3339(),
            a.message,
        ])
        .map_err(ApiError::internal)?;
    }
    let body = out.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"job-{id}-applications.csv\""),
        ))
        .body(body))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    pub status: AppStatus,
}

/// Moves an application along submitted -> viewed -> interview -> hired, or to rejected
/// from any step before the end; other moves are 409.
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), request_body = StatusChange,
    responses((status = 200, body = ApplicantView), (status = 404), (status = 409, description = "job.invalid_transition")), security(("bearer" = [])))]
#[patch("/admin/job-applications/{id}")]
pub async fn update_application(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<StatusChange>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let next = body.0.status;
    let now = state.clock.now_naive();
    let view = state
        .db
        .run(move |c| -> ApiResult<ApplicantView> {
            let a = store::application(c, id)?;
            posting_for_staff(c, user.id, a.posting_id)?;
            let current = AppStatus::parse(&a.status).unwrap_or(AppStatus::Submitted);
            let refused = || ApiError::Conflict {
                code: "job.invalid_transition",
                detail: Text::owned(
                    format!("不能从 {} 变为 {}", current.as_str(), next.as_str()),
                    format!("cannot move from {} to {}", current.as_str(), next.as_str()),
                ),
            };
            if !current.can_become(next)
                || !store::transition(c, id, current.as_str(), next.as_str(), user.id, now)?
            {
                return Err(refused());
            }
            let a = store::application(c, id)?;
            let u = crate::auth::store::user(c, UserId(a.user_id))?;
            Ok(ApplicantView {
                id: a.id,
                user_id: UserId(a.user_id),
                nickname: u.nickname,
                phone: u.phone.as_deref().map(mask_phone),
                message: a.message,
                status: next,
                created_at: utc(a.created_at),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Bookmarks a posting (again: no change).
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[put("/job-postings/{id}/bookmark")]
pub async fn add_bookmark(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            if store::posting(c, id)?.status == "draft" {
                return Err(ApiError::NotFound);
            }
            Ok(store::bookmark(c, id, user.id, now)?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a bookmark.
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 204)), security(("bearer" = [])))]
#[delete("/job-postings/{id}/bookmark")]
pub async fn remove_bookmark(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .db
        .run(move |c| -> ApiResult<()> { Ok(store::unbookmark(c, id, user.id)?) })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's bookmarked postings, newest bookmark first.
#[utoipa::path(tag = "jobs", responses((status = 200, body = Paged<PostingView>)), security(("bearer" = [])))]
#[get("/me/job-bookmarks")]
pub async fn my_bookmarks(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let now = state.clock.now_naive();
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::bookmarks_of(c, user.id)?) })
        .await?;
    Ok(HttpResponse::Ok().json(Paged {
        items: rows
            .into_iter()
            .map(|p| posting_view(p, false, now))
            .collect::<Vec<_>>(),
        next_cursor: None,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobStats {
    pub org_id: OrgId,
    pub postings: i64,
    /// Sum of headcounts.
    pub positions: i64,
    pub applications: i64,
    pub hires: i64,
}

/// Job figures of an org subtree (organizers and org admins of it).
#[utoipa::path(tag = "jobs", params(("id" = i64, Path)), responses((status = 200, body = JobStats), (status = 403), (status = 404)), security(("bearer" = [])))]
#[get("/admin/orgs/{id}/stats/jobs")]
pub async fn job_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let org = OrgId(id.into_inner());
    let stats = state
        .db
        .run(move |c| -> ApiResult<JobStats> {
            auth::require_role(c, user.id, org, Role::Organizer)?;
            let path = crate::orgs::store::org(c, org)?.path;
            let (headcounts, statuses) = store::subtree_figures(c, &path)?;
            Ok(JobStats {
                org_id: org,
                postings: headcounts.len() as i64,
                positions: headcounts.iter().map(|h| i64::from(*h)).sum(),
                applications: statuses.len() as i64,
                hires: statuses.iter().filter(|s| *s == "hired").count() as i64,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}
