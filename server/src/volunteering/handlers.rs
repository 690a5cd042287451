//! HTTP endpoints of volunteering.

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rules::{self, WINDOW_SECS};
use super::store::{self, Activity, Credit, NewActivity, SignupOutcome, When};
use crate::AppState;
use crate::auth::{self, AuthUser, Role};
use crate::db::DbConn;
use crate::domain::{Coord, Datum, Fields, OrgId, UserId, text_field};
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::{Json, Page, Paged, Query};

/// How close to the activity a check-in or check-out must be made.
const MAX_DISTANCE_M: f64 = 500.0;
/// Check-in opens this long before the start; check-out closes this long after the end.
const EARLY: TimeDelta = TimeDelta::minutes(30);
const LATE: TimeDelta = TimeDelta::minutes(60);

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

fn year_of(t: NaiveDateTime) -> i32 {
    utc(t).with_timezone(&crate::ratelimit::china_time()).year()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: i64,
    pub org_id: OrgId,
    pub title: String,
    pub description: String,
    pub address: String,
    pub location: Coord,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub signup_deadline: DateTime<Utc>,
    pub capacity: i32,
    pub places_left: i32,
}

fn view(a: Activity) -> ActivityView {
    ActivityView {
        id: a.id,
        org_id: OrgId(a.org_id),
        title: a.title,
        description: a.description,
        address: a.address,
        location: Coord {
            lat: a.lat,
            lng: a.lng,
        },
        starts_at: utc(a.starts_at),
        ends_at: utc(a.ends_at),
        signup_deadline: utc(a.signup_deadline),
        capacity: a.capacity,
        places_left: a.capacity - a.confirmed,
    }
}

fn activity_for_staff(conn: &mut DbConn, user: UserId, id: i64) -> ApiResult<Activity> {
    let a = store::activity(conn, id)?;
    auth::require_role_or_hide(conn, user, OrgId(a.org_id), Role::Organizer)?;
    Ok(a)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateActivity {
    pub org_id: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub address: String,
    pub location: crate::domain::LatLng,
    /// `gcj02` (default) or `wgs84`.
    #[serde(default)]
    pub coord: Datum,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub signup_deadline: DateTime<Utc>,
}

/// Creates an activity in an org the caller organizes.
#[utoipa::path(tag = "volunteering", request_body = CreateActivity, responses((status = 201, body = ActivityView), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post(
    "/admin/volunteer-activities",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn create_activity(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateActivity>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let mut f = Fields::new();
    let title = f.check(text_field("title", &b.title, 2, 100));
    let description = f.check(text_field("description", &b.description, 0, 2000));
    let address = f.check(text_field("address", &b.address, 2, 200));
    let location = f.check(Coord::parse(
        "location",
        b.location.lat,
        b.location.lng,
        b.coord,
    ));
    if b.ends_at <= b.starts_at || b.ends_at - b.starts_at > TimeDelta::days(7) {
        f.push(FieldError::new(
            "ends_at",
            Text::new(
                "结束时间须晚于开始时间，活动最长 7 天",
                "ends_at must be after starts_at, within 7 days",
            ),
        ));
    }
    if !(1..=10_000).contains(&b.capacity) {
        f.push(FieldError::new(
            "capacity",
            Text::new("名额应为 1-10000", "capacity must be 1 to 10000"),
        ));
    }
    if b.signup_deadline > b.ends_at {
        f.push(FieldError::new(
            "signup_deadline",
            Text::new(
                "报名截止时间不能晚于活动结束",
                "signup_deadline must not be after ends_at",
            ),
        ));
    }
    f.finish()?;
    let (Some(title), Some(description), Some(address), Some(location)) =
        (title, description, address, location)
    else {
        return Err(ApiError::internal("fields checked above"));
    };
    let new = NewActivity {
        org_id: b.org_id,
        title,
        description,
        address,
        lat: location.lat,
        lng: location.lng,
        starts_at: b.starts_at.naive_utc(),
        ends_at: b.ends_at.naive_utc(),
        capacity: b.capacity,
        signup_deadline: b.signup_deadline.naive_utc(),
        code_secret: hex::encode(rand::random::<[u8; 16]>()),
        created_by: user.id.0,
        created_at: state.clock.now_naive(),
    };
    let a = state
        .db
        .run(move |c| -> ApiResult<Activity> {
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::Organizer, "org_id")?;
            Ok(store::insert_activity(c, &new)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(a)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `upcoming` (default), `ongoing` or `past`.
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Activities by when they happen.
#[utoipa::path(tag = "volunteering", params(ListQuery), responses((status = 200, body = Paged<ActivityView>), (status = 400)))]
#[get("/volunteer-activities")]
pub async fn list_activities(
    state: web::Data<AppState>,
    query: Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let when = match q.status.as_deref().unwrap_or("upcoming") {
        "upcoming" => When::Upcoming,
        "ongoing" => When::Ongoing,
        "past" => When::Past,
        _ => {
            return Err(ApiError::invalid_query(
                "status",
                Text::new(
                    "status 应为 upcoming、ongoing 或 past",
                    "status must be upcoming, ongoing or past",
                ),
            ));
        }
    };
    let now = state.clock.now_naive();
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> {
            Ok(store::list(c, when, now, page.after, page.limit + 1)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(page.finish(rows, |a| a.id).map(view)))
}

/// One activity.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), responses((status = 200, body = ActivityView), (status = 404)))]
#[get("/volunteer-activities/{id}")]
pub async fn get_activity(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let a = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::activity(c, id)?) })
        .await?;
    Ok(HttpResponse::Ok().json(view(a)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Join the waitlist when the activity is full instead of getting 409.
    #[serde(default)]
    pub waitlist: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupView {
    pub activity_id: i64,
    /// `confirmed` or `waitlisted`.
    pub status: &'static str,
}

fn signup_closed() -> ApiError {
    ApiError::Conflict {
        code: "volunteer.signup_closed",
        detail: Text::new("报名已截止", "Sign-up has closed"),
    }
}

/// Signs up. A place is never given beyond the capacity (409 `volunteer.full`), unless the
/// member asks to wait (`{"waitlist": true}`): places freed by cancellations go first come,
/// first served.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), request_body(content = SignupRequest, description = "optional"),
    responses((status = 201, body = SignupView), (status = 404), (status = 409, description = "volunteer.full, volunteer.signup_closed, volunteer.already_signed_up")),
    security(("bearer" = [])))]
#[post("/volunteer-activities/{id}/signups")]
pub async fn sign_up(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let req: SignupRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SignupRequest::default()
    } else {
        crate::http::parse_json(&body)?
    };
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let status = state
        .db
        .run(move |c| -> ApiResult<&'static str> {
            let a = store::activity(c, id)?;
            if now > a.signup_deadline {
                return Err(signup_closed());
            }
            match store::sign_up(c, id, user.id, req.waitlist, now)? {
                SignupOutcome::Confirmed => Ok("confirmed"),
                SignupOutcome::Waitlisted => Ok("waitlisted"),
                SignupOutcome::Full => Err(ApiError::Conflict {
                    code: "volunteer.full",
                    detail: Text::new("名额已满", "The activity is full"),
                }),
                SignupOutcome::Already => Err(ApiError::Conflict {
                    code: "volunteer.already_signed_up",
                    detail: Text::new("您已报名该活动", "You have already signed up"),
                }),
            }
        })
        .await?;
    Ok(HttpResponse::Created().json(SignupView {
        activity_id: id,
        status,
    }))
}

/// Cancels one's sign-up before the deadline; the first member waiting gets the place.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
#[delete("/volunteer-activities/{id}/signups/me")]
pub async fn cancel_signup(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let a = store::activity(c, id)?;
            if now > a.signup_deadline {
                return Err(signup_closed());
            }
            if !store::cancel(c, id, user.id)? {
                return Err(ApiError::NotFound);
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeView {
    pub code: String,
    /// The code changes then (the old one works 30 s longer).
    pub valid_until: DateTime<Utc>,
}

/// The on-site code (organizers): changes every 60 s.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), responses((status = 200, body = CodeView), (status = 404)), security(("bearer" = [])))]
#[get("/admin/volunteer-activities/{id}/checkin-code")]
pub async fn checkin_code(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let a = state
        .db
        .run(move |c| activity_for_staff(c, user.id, id))
        .await?;
    let now = state.clock.now();
    let window = rules::window_of(now);
    let valid_until = Utc
        .timestamp_opt((window + 1) * WINDOW_SECS, 0)
        .single()
        .unwrap_or(now);
    Ok(HttpResponse::Ok().json(CodeView {
        code: rules::code_for(&a.code_secret, window),
        valid_until,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// The code shown on site.
    pub code: String,
    pub location: crate::domain::LatLng,
    #[serde(default)]
    pub coord: Datum,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PresenceView {
    pub checked_in_at: DateTime<Utc>,
    pub checked_out_at: Option<DateTime<Utc>>,
    /// Minutes credited by this check-out.
    pub credited_minutes: Option<i64>,
    /// Under 60% of the activity: nothing is credited until an organizer confirms.
    pub pending_confirmation: bool,
}

/// Checks code, place and time; returns the activity and the member's confirmed sign-up.
fn check_presence(
    conn: &mut DbConn,
    id: i64,
    user: UserId,
    p: &Presence,
    now: DateTime<Utc>,
    checking_out: bool,
) -> ApiResult<(Activity, store::Signup)> {
    let a = store::activity(conn, id)?;
    let Some(s) = store::signup(conn, id, user)?.filter(|s| s.status == "confirmed") else {
        return Err(ApiError::Conflict {
            code: "volunteer.not_signed_up",
            detail: Text::new(
                "您未报名或仍在候补中",
                "You are not signed up (or still waitlisted)",
            ),
        });
    };
    let (opens, closes) = if checking_out {
        (utc(a.starts_at), utc(a.ends_at) + LATE)
    } else {
        (utc(a.starts_at) - EARLY, utc(a.ends_at))
    };
    if now < opens || now > closes {
        return Err(ApiError::Conflict {
            code: "volunteer.outside_window",
            detail: Text::new(
                "不在签到签退时间内",
                "Not within the activity's check-in/out time",
            ),
        });
    }
    let mut f = Fields::new();
    if !rules::code_accepted(&a.code_secret, p.code.trim(), now) {
        f.push(FieldError::new(
            "code",
            Text::new("签到码错误或已过期", "The code is wrong or expired"),
        ));
    }
    if let Some(at) = f.check(Coord::parse(
        "location",
        p.location.lat,
        p.location.lng,
        p.coord,
    )) {
        let distance = at.distance_m(&Coord {
            lat: a.lat,
            lng: a.lng,
        });
        if distance > MAX_DISTANCE_M {
            f.push(FieldError::new(
                "location",
                Text::owned(
                    format!("距离活动地点约 {distance:.0} 米，需在 500 米以内"),
                    format!("{distance:.0} m from the activity; must be within 500 m"),
                ),
            ));
        }
    }
    f.finish()?;
    Ok((a, s))
}

/// Checks in on site.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), request_body = Presence,
    responses((status = 200, body = PresenceView), (status = 409, description = "volunteer.not_signed_up, volunteer.outside_window, volunteer.already_checked_in"), (status = 422, description = "wrong code or too far")),
    security(("bearer" = [])))]
#[post("/volunteer-activities/{id}/checkin")]
pub async fn check_in(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Presence>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let p = body.0;
    let view = state
        .db
        .run(move |c| -> ApiResult<PresenceView> {
            let (_, s) = check_presence(c, id, user.id, &p, now, false)?;
            if !store::check_in(c, s.id, now.naive_utc())? {
                return Err(ApiError::Conflict {
                    code: "volunteer.already_checked_in",
                    detail: Text::new("已经签到过了", "Already checked in"),
                });
            }
            Ok(PresenceView {
                checked_in_at: now,
                checked_out_at: None,
                credited_minutes: None,
                pending_confirmation: false,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Checks out on site and credits the time inside the activity (60% rule).
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), request_body = Presence,
    responses((status = 200, body = PresenceView), (status = 409, description = "volunteer.not_checked_in, ..."), (status = 422)),
    security(("bearer" = [])))]
#[post("/volunteer-activities/{id}/checkout")]
pub async fn check_out(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Presence>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let p = body.0;
    let (view, activity) = state
        .db
        .run(move |c| -> ApiResult<(PresenceView, Activity)> {
            let (a, s) = check_presence(c, id, user.id, &p, now, true)?;
            let Some(checkin) = s.checkin_at.filter(|_| s.checkout_at.is_none()) else {
                return Err(ApiError::Conflict {
                    code: "volunteer.not_checked_in",
                    detail: Text::new("尚未签到或已签退", "Not checked in, or already checked out"),
                });
            };
            let credited =
                rules::credited_minutes(utc(checkin), now, utc(a.starts_at), utc(a.ends_at));
            let length = (a.ends_at - a.starts_at).num_minutes();
            let ok = rules::meets_attendance(credited, length);
            let credit = Credit {
                activity: id,
                user: user.id,
                minutes: if ok {
                    i32::try_from(credited).unwrap_or(0)
                } else {
                    0
                },
                kind: if ok { "attendance" } else { "pending" },
                note: if ok {
                    "签到签退"
                } else {
                    "出勤不足 60%，待组织者确认"
                },
                actor: None,
                now: now.naive_utc(),
            };
            if !store::check_out(c, s.id, &credit)? {
                return Err(ApiError::Conflict {
                    code: "volunteer.not_checked_in",
                    detail: Text::new("尚未签到或已签退", "Not checked in, or already checked out"),
                });
            }
            Ok((
                PresenceView {
                    checked_in_at: utc(checkin),
                    checked_out_at: Some(now),
                    credited_minutes: Some(i64::from(credit.minutes)),
                    pending_confirmation: !ok,
                },
                a,
            ))
        })
        .await?;
    touch_boards(&state, &activity).await;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursEntry {
    pub user_id: i64,
    /// The member's credited minutes for this activity (0 to its length).
    pub minutes: i32,
    pub note: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoursRecorded {
    pub recorded: usize,
}

/// Organizers confirm or correct credited minutes: each becomes a new ledger entry.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), request_body = Vec<HoursEntry>,
    responses((status = 201, body = HoursRecorded), (status = 404), (status = 422)), security(("bearer" = [])))]
#[post("/admin/volunteer-activities/{id}/hours")]
pub async fn record_hours(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<Vec<HoursEntry>>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let entries = body.0;
    let now = state.clock.now_naive();
    let (recorded, activity) = state
        .db
        .run(move |c| -> ApiResult<(usize, Activity)> {
            let a = activity_for_staff(c, user.id, id)?;
            let length = i32::try_from((a.ends_at - a.starts_at).num_minutes()).unwrap_or(i32::MAX);
            let signed_up = store::confirmed_users(c, id)?;
            let mut f = Fields::new();
            if entries.is_empty() {
                f.push(FieldError::new(
                    "entries",
                    Text::new("至少一条记录", "send at least one entry"),
                ));
            }
            for (i, e) in entries.iter().enumerate() {
                if !(0..=length).contains(&e.minutes) {
                    f.push(FieldError::new(
                        format!("[{i}].minutes"),
                        Text::owned(
                            format!("时长应为 0-{length} 分钟（不超过活动时长）"),
                            format!("minutes must be 0 to {length} (the activity's length)"),
                        ),
                    ));
                }
                if !signed_up.contains(&e.user_id) {
                    f.push(FieldError::new(
                        format!("[{i}].user_id"),
                        Text::new("该用户未报名本活动", "This user is not signed up"),
                    ));
                }
                if let Err(mut err) = text_field("note", &e.note, 2, 200) {
                    err.field = format!("[{i}].note").into();
                    f.push(err);
                }
            }
            f.finish()?;
            crate::db::write_tx(c, |c| -> ApiResult<()> {
                for e in &entries {
                    store::correct(
                        c,
                        id,
                        UserId(e.user_id),
                        e.minutes,
                        e.note.trim(),
                        user.id,
                        now,
                    )?;
                }
                Ok(())
            })?;
            Ok((entries.len(), a))
        })
        .await?;
    touch_boards(&state, &activity).await;
    Ok(HttpResponse::Created().json(HoursRecorded { recorded }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub activity_id: i64,
    pub title: String,
    pub minutes: i32,
    /// `attendance`, `pending` or `correction`.
    pub kind: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyHours {
    pub total_minutes: i64,
    pub entries: Vec<LedgerEntry>,
}

/// The caller's ledger (append-only; corrections are entries of their own).
#[utoipa::path(tag = "volunteering", responses((status = 200, body = MyHours)), security(("bearer" = [])))]
#[get("/me/volunteer-hours")]
pub async fn my_hours(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::ledger_of(c, user.id)?) })
        .await?;
    let entries: Vec<LedgerEntry> = rows
        .into_iter()
        .map(
            |(activity_id, title, minutes, kind, note, at)| LedgerEntry {
                activity_id,
                title,
                minutes,
                kind,
                note,
                at: utc(at),
            },
        )
        .collect();
    let total_minutes = entries.iter().map(|e| i64::from(e.minutes)).sum();
    Ok(HttpResponse::Ok().json(MyHours {
        total_minutes,
        entries,
    }))
}

fn board_keys(state: &AppState, org: i64, year: i32) -> (String, String, String, String) {
    let tag = format!("vol:{org}:{year}");
    (
        state.keys.key(&tag, "lb"),
        state.keys.key(&tag, "gen"),
        state.keys.key(&tag, "built"),
        state.keys.key(&tag, "lock"),
    )
}

/// A ledger change makes the boards of the activity's org and its ancestors stale: their
/// generation moves on and the next read rebuilds from SQL.
async fn touch_boards(state: &AppState, a: &Activity) {
    let path = match state
        .db
        .run({
            let org = a.org_id;
            move |c| -> ApiResult<String> { Ok(crate::orgs::store::org(c, OrgId(org))?.path) }
        })
        .await
    {
        Ok(path) => path,
        Err(err) => {
            tracing::warn!(error = %err, "could not mark volunteer boards stale");
            return;
        }
    };
    let year = year_of(a.starts_at);
    for org in crate::orgs::rules::path_ids(&path) {
        let (_, gen_key, _, _) = board_keys(state, org, year);
        if let Err(err) = state.hot.incr(&gen_key, 1, None).await {
            tracing::warn!(error = %err, "could not mark a volunteer board stale");
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    pub org_id: i64,
    /// Default: this year.
    pub year: Option<i32>,
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoardEntry {
    pub rank: u64,
    pub user: crate::users::PublicUser,
    pub total_minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyPlace {
    pub rank: u64,
    pub total_minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoursBoard {
    pub items: Vec<BoardEntry>,
    pub me: Option<MyPlace>,
}

/// Volunteer minutes per member in an org subtree and year.
#[utoipa::path(tag = "volunteering", params(BoardQuery), responses((status = 200, body = HoursBoard), (status = 404)), security(("bearer" = [])))]
#[get("/volunteer-hours/leaderboard")]
pub async fn leaderboard(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<BoardQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let limit = Page::parse(q.limit, None)?.limit;
    let year = q.year.unwrap_or_else(|| year_of(state.clock.now_naive()));
    let org = q.org_id;
    let path = state
        .db
        .run(move |c| -> ApiResult<String> { Ok(crate::orgs::store::org(c, OrgId(org))?.path) })
        .await?;
    let (board, gen_key, built_key, lock_key) = board_keys(&state, org, year);
    let generation = state.hot.get(&gen_key).await?.unwrap_or_else(|| "0".into());
    if state.hot.get(&built_key).await?.as_deref() != Some(generation.as_str()) {
        let token = hex::encode(rand::random::<[u8; 8]>());
        if !state
            .hot
            .set_nx(&lock_key, &token, std::time::Duration::from_secs(30))
            .await?
        {
            return Err(ApiError::Unavailable {
                code: "hot_store.rebuilding",
                detail: Text::new("数据正在重建，请稍后再试", "Being rebuilt; retry shortly"),
                retry_after_secs: 1,
            });
        }
        let rebuilt = async {
            let rows = state
                .db
                .run(move |c| -> ApiResult<_> { Ok(store::subtree_entries(c, &path)?) })
                .await?;
            let mut totals: HashMap<i64, i64> = HashMap::new();
            for (user, minutes, starts) in rows {
                if year_of(starts) == year {
                    *totals.entry(user).or_default() += i64::from(minutes);
                }
            }
            state.hot.del(std::slice::from_ref(&board)).await?;
            for (user, total) in totals.into_iter().filter(|(_, t)| *t > 0) {
                state
                    .hot
                    .zincr(&board, &user.to_string(), total as f64)
                    .await?;
            }
            state.hot.set(&built_key, &generation, None).await?;
            Ok::<(), ApiError>(())
        }
        .await;
        if let Err(err) = state.hot.del_if_eq(&lock_key, &token).await {
            tracing::warn!(error = %err, "could not release a rebuild lock");
        }
        rebuilt?;
    }
    let (rows, mine) = crate::leaderboard::page(&state, &board, limit, user.id).await?;
    let items = rows
        .into_iter()
        .map(|r| BoardEntry {
            rank: r.rank,
            user: r.user,
            total_minutes: r.value as i64,
        })
        .collect();
    let me = mine.map(|m| MyPlace {
        rank: m.rank,
        total_minutes: m.value as i64,
    });
    Ok(HttpResponse::Ok().json(HoursBoard { items, me }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteeringStats {
    pub org_id: OrgId,
    pub activities: i64,
    /// Members with credited time.
    pub volunteers: i64,
    pub total_minutes: i64,
}

/// Volunteering figures of an org subtree.
#[utoipa::path(tag = "volunteering", params(("id" = i64, Path)), responses((status = 200, body = VolunteeringStats), (status = 403), (status = 404)), security(("bearer" = [])))]
#[get("/admin/orgs/{id}/stats/volunteering")]
pub async fn volunteering_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let org = OrgId(id.into_inner());
    let stats = state
        .db
        .run(move |c| -> ApiResult<VolunteeringStats> {
            auth::require_role(c, user.id, org, Role::Organizer)?;
            let path = crate::orgs::store::org(c, org)?.path;
            let mut totals: HashMap<i64, i64> = HashMap::new();
            for (user, minutes, _) in store::subtree_entries(c, &path)? {
                *totals.entry(user).or_default() += i64::from(minutes);
            }
            Ok(VolunteeringStats {
                org_id: org,
                activities: store::subtree_activities(c, &path)?,
                volunteers: totals.values().filter(|t| **t > 0).count() as i64,
                total_minutes: totals.values().sum(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    /// Anyone can check it at `GET /api/v1/volunteer-certificates/{code}`.
    pub code: String,
    pub total_minutes: i64,
    pub issued_at: DateTime<Utc>,
}

/// Issues a certificate of the caller's credited minutes so far.
#[utoipa::path(tag = "volunteering", responses((status = 201, body = CertificateView), (status = 409, description = "volunteer.no_hours")), security(("bearer" = [])))]
#[post("/me/volunteer-certificates")]
pub async fn issue_certificate(
    state: web::Data<AppState>,
    user: AuthUser,
) -> ApiResult<HttpResponse> {
    let now = state.clock.now_naive();
    let code: String = {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        (0..12)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect()
    };
    let stored = code.clone();
    let total = state
        .db
        .run(move |c| -> ApiResult<i64> {
            let total = store::total_minutes(c, user.id)?;
            if total <= 0 {
                return Err(ApiError::Conflict {
                    code: "volunteer.no_hours",
                    detail: Text::new("暂无已认定的志愿服务时长", "No credited volunteer time yet"),
                });
            }
            store::issue_certificate(
                c,
                &stored,
                user.id,
                i32::try_from(total).unwrap_or(i32::MAX),
                now,
            )?;
            Ok(total)
        })
        .await?;
    Ok(HttpResponse::Created().json(CertificateView {
        code,
        total_minutes: total,
        issued_at: utc(now),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateCheck {
    pub valid: bool,
    /// Masked: `张*`.
    pub holder: Option<String>,
    pub total_minutes: Option<i64>,
    pub issued_at: Option<DateTime<Utc>>,
}

/// Public: is this certificate real?
#[utoipa::path(tag = "volunteering", params(("code" = String, Path)), responses((status = 200, body = CertificateCheck)))]
#[get("/volunteer-certificates/{code}")]
pub async fn verify_certificate(
    state: web::Data<AppState>,
    code: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let code = code.into_inner().trim().to_ascii_uppercase();
    let check = state
        .db
        .run(move |c| -> ApiResult<CertificateCheck> {
            let Some((user, total, issued)) = store::certificate(c, &code)? else {
                return Ok(CertificateCheck {
                    valid: false,
                    holder: None,
                    total_minutes: None,
                    issued_at: None,
                });
            };
            let nickname = crate::auth::store::user(c, UserId(user))?.nickname;
            Ok(CertificateCheck {
                valid: true,
                holder: Some(crate::enrollment::rules::mask_name(&nickname)),
                total_minutes: Some(i64::from(total)),
                issued_at: Some(utc(issued)),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(check))
}
