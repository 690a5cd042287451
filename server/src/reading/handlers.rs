//! HTTP endpoints of reading campaigns.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::rules::{self, MakeupRefusal, Progress, from_rank_value, rank_value};
use super::store::{self, Campaign, Checkin, NewCampaign, NewCheckin};
use crate::AppState;
use crate::auth::{self, AuthUser, Role};
use crate::db::DbConn;
use crate::domain::{Fields, OrgId, UserId, text_field};
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::{Json, Page, Paged, Query};

/// Longest campaign: keeps streak values well inside the leaderboard encoding.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: i64,
    pub org_id: OrgId,
    pub title: String,
    pub description: String,
    /// First and last calendar day (`YYYY-MM-DD`, in `time_zone`).
    pub starts_on: String,
    pub ends_on: String,
    pub target_days: i32,
    pub time_zone: String,
    pub makeup_cards: i32,
    pub min_note_chars: i32,
    pub min_minutes: i32,
    /// `upcoming`, `running` or `ended`, by the campaign's calendar.
    pub phase: &'static str,
}

fn dates(c: &Campaign) -> (NaiveDate, NaiveDate) {
    (
        c.starts_on.parse().unwrap_or_default(),
        c.ends_on.parse().unwrap_or_default(),
    )
}

fn tz_of(c: &Campaign) -> Tz {
    c.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

fn today_of(c: &Campaign, now: DateTime<Utc>) -> NaiveDate {
    rules::local_date(now, tz_of(c))
}

fn view(c: Campaign, now: DateTime<Utc>) -> CampaignView {
    let (first, last) = dates(&c);
    let today = today_of(&c, now);
    let phase = if today < first {
        "upcoming"
    } else if today > last {
        "ended"
    } else {
        "running"
    };
    CampaignView {
        id: c.id,
        org_id: OrgId(c.org_id),
        title: c.title,
        description: c.description,
        starts_on: c.starts_on,
        ends_on: c.ends_on,
        target_days: c.target_days,
        time_zone: c.time_zone,
        makeup_cards: c.makeup_cards,
        min_note_chars: c.min_note_chars,
        min_minutes: c.min_minutes,
        phase,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub org_id: i64,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// `YYYY-MM-DD`, a calendar day in `time_zone`.
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub target_days: i32,
    /// IANA zone; default `Asia/Shanghai`.
    pub time_zone: Option<String>,
    #[serde(default)]
    pub makeup_cards: i32,
    #[serde(default)]
    pub min_note_chars: i32,
    /// Default 5.
    pub min_minutes: Option<i32>,
}

/// Creates a campaign in an org the caller organizes.
#[utoipa::path(tag = "reading", request_body = CreateCampaign, responses((status = 201, body = CampaignView), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post(
    "/admin/reading-campaigns",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn create_campaign(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateCampaign>,
) -> ApiResult<HttpResponse> {
    let b = body.0;
    let mut fields = Fields::new();
    let title = fields.check(text_field("title", &b.title, 2, 100));
    let description = fields.check(text_field("description", &b.description, 0, 2000));
    let tz = fields.check(crate::quizzes::rules::parse_time_zone(
        b.time_zone.as_deref().unwrap_or("Asia/Shanghai"),
    ));
    let length = (b.ends_on - b.starts_on).num_days() + 1;
    if !(1..=MAX_DAYS).contains(&length) {
        fields.push(FieldError::new(
            "ends_on",
            Text::new(
                "结束日期须不早于开始日期，活动最长 366 天",
                "ends_on must not be before starts_on; at most 366 days",
            ),
        ));
    } else if !(1..=length).contains(&i64::from(b.target_days)) {
        fields.push(FieldError::new(
            "target_days",
            Text::new(
                "目标天数须在 1 与活动天数之间",
                "target_days must be between 1 and the campaign's length",
            ),
        ));
    }
    let min_minutes = b.min_minutes.unwrap_or(5);
    let check = |field: &'static str, v: i32, lo: i32, hi: i32| {
        if (lo..=hi).contains(&v) {
            Ok(v)
        } else {
            Err(FieldError::new(
                field,
                Text::owned(
                    format!("取值范围为 {lo}-{hi}"),
                    format!("must be between {lo} and {hi}"),
                ),
            ))
        }
    };
    fields.check(check("makeup_cards", b.makeup_cards, 0, 30));
    fields.check(check("min_note_chars", b.min_note_chars, 0, 1000));
    fields.check(check("min_minutes", min_minutes, 1, 600));
    fields.finish()?;
    let (Some(title), Some(description), Some(tz)) = (title, description, tz) else {
        return Err(ApiError::internal("fields checked above"));
    };
    let new = NewCampaign {
        org_id: b.org_id,
        title,
        description,
        starts_on: b.starts_on.to_string(),
        ends_on: b.ends_on.to_string(),
        target_days: b.target_days,
        time_zone: tz.name().to_owned(),
        makeup_cards: b.makeup_cards,
        min_note_chars: b.min_note_chars,
        min_minutes,
        created_by: user.id.0,
        created_at: state.clock.now_naive(),
    };
    let created = state
        .db
        .run(move |c| -> ApiResult<Campaign> {
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::Organizer, "org_id")?;
            Ok(store::insert_campaign(c, &new)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(created, state.clock.now())))
}

/// Reading campaigns.
#[utoipa::path(tag = "reading", params(crate::http::PageQuery), responses((status = 200, body = Paged<CampaignView>)))]
#[get("/reading-campaigns")]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    query: Query<crate::http::PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::try_from(&query.0)?;
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::list_campaigns(c, page.after, page.limit + 1)?) })
        .await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(page.finish(rows, |c| c.id).map(|c| view(c, now))))
}

/// One campaign.
#[utoipa::path(tag = "reading", params(("id" = i64, Path)), responses((status = 200, body = CampaignView), (status = 404)))]
#[get("/reading-campaigns/{id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let c = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::campaign(c, id)?) })
        .await?;
    Ok(HttpResponse::Ok().json(view(c, state.clock.now())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    /// The local day this is about.
    pub date: String,
    pub current_streak: i32,
    pub longest_streak: i32,
    pub total_days: i32,
    pub target_days: i32,
    pub completed: bool,
    pub makeup_cards_left: i32,
}

fn progress_of(
    conn: &mut DbConn,
    c: &Campaign,
    user: UserId,
    today: NaiveDate,
) -> ApiResult<(Progress, Vec<String>, i32)> {
    let used = store::makeups_used(conn, c.id, user)?.ok_or_else(not_joined)?;
    let days = store::days_of(conn, c.id, user)?;
    let set: BTreeSet<NaiveDate> = days.iter().filter_map(|d| d.parse().ok()).collect();
    let (_, last) = dates(c);
    Ok((
        rules::progress(&set, today, last, c.target_days),
        days,
        c.makeup_cards - used,
    ))
}

fn progress_view(p: Progress, c: &Campaign, date: NaiveDate, cards_left: i32) -> ProgressView {
    ProgressView {
        date: date.to_string(),
        current_streak: p.current_streak,
        longest_streak: p.longest_streak,
        total_days: p.total_days,
        target_days: c.target_days,
        completed: p.completed,
        makeup_cards_left: cards_left,
    }
}

fn not_joined() -> ApiError {
    ApiError::Conflict {
        code: "reading.not_joined",
        detail: Text::new("请先报名参加本次读书活动", "Join the campaign first"),
    }
}

/// Joins a campaign (again: no change). 409 after it ended.
#[utoipa::path(tag = "reading", params(("id" = i64, Path)), responses((status = 201, body = ProgressView), (status = 200, body = ProgressView), (status = 404), (status = 409)), security(("bearer" = [])))]
#[post("/reading-campaigns/{id}/join")]
pub async fn join_campaign(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let (joined, view) = state
        .db
        .run(move |c| -> ApiResult<(bool, ProgressView)> {
            let campaign = store::campaign(c, id)?;
            let today = today_of(&campaign, now);
            if today > dates(&campaign).1 {
                return Err(ApiError::Conflict {
                    code: "reading.ended",
                    detail: Text::new("活动已结束", "The campaign has ended"),
                });
            }
            let joined = store::join(c, id, user.id, now.naive_utc())?;
            let (p, _, left) = progress_of(c, &campaign, user.id, today)?;
            Ok((joined, progress_view(p, &campaign, today, left)))
        })
        .await?;
    Ok(if joined {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckinForm {
    pub book_title: String,
    pub minutes: i32,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeupForm {
    /// The missed day, `YYYY-MM-DD`.
    pub date: NaiveDate,
    pub book_title: String,
    pub minutes: i32,
    #[serde(default)]
    pub note: String,
}

fn check_form(
    c: &Campaign,
    book_title: &str,
    minutes: i32,
    note: &str,
) -> ApiResult<(String, String)> {
    let mut fields = Fields::new();
    let title = fields.check(text_field("book_title", book_title, 1, 100));
    if !(c.min_minutes..=1440).contains(&minutes) {
        fields.push(FieldError::new(
            "minutes",
            Text::owned(
                format!("阅读时长应为 {}-1440 分钟", c.min_minutes),
                format!("minutes must be {} to 1440", c.min_minutes),
            ),
        ));
    }
    let note = note.trim().to_owned();
    let chars = note.chars().count();
    if chars < c.min_note_chars as usize || chars > 2000 {
        fields.push(FieldError::new(
            "note",
            Text::owned(
                format!("读书心得至少 {} 个字，最多 2000 字", c.min_note_chars),
                format!("note must be {} to 2000 characters", c.min_note_chars),
            ),
        ));
    }
    fields.finish()?;
    Ok((title.unwrap_or_default(), note))
}

fn board_key(state: &AppState, campaign: i64, day: NaiveDate) -> String {
    state
        .keys
        .key(&format!("reading:{campaign}"), &format!("lb:{day}"))
}

/// Records the member's standing on today's board (the board of a day only rises).
async fn update_board(
    state: &AppState,
    campaign: i64,
    user: UserId,
    today: NaiveDate,
    p: &Progress,
) {
    if let Err(err) = state
        .hot
        .zset_if_higher(
            &board_key(state, campaign, today),
            &user.0.to_string(),
            rank_value(p),
        )
        .await
    {
        tracing::warn!(error = %err, campaign, "reading leaderboard update failed");
    }
}

async fn store_checkin(
    state: &AppState,
    user: AuthUser,
    id: i64,
    makeup: Option<NaiveDate>,
    book_title: String,
    minutes: i32,
    note: String,
) -> ApiResult<ProgressView> {
    let now = state.clock.now();
    let (view, today, progress) = state
        .db
        .run(move |c| -> ApiResult<(ProgressView, NaiveDate, Progress)> {
            let campaign = store::campaign(c, id)?;
            let today = today_of(&campaign, now);
            let (first, last) = dates(&campaign);
            store::makeups_used(c, id, user.id)?.ok_or_else(not_joined)?;
            let (book_title, note) = check_form(&campaign, &book_title, minutes, &note)?;
            let day = match makeup {
                None if today < first || today > last => {
                    return Err(ApiError::Conflict {
                        code: "reading.not_running",
                        detail: Text::new(
                            "今天不在活动时间内",
                            "The campaign is not running today",
                        ),
                    });
                }
                None => today,
                Some(day) => match rules::check_makeup_day(day, today, first, last) {
                    Ok(()) => day,
                    Err(MakeupRefusal::OutsideCampaign) => {
                        return Err(ApiError::validation(
                            "date",
                            Text::new("补卡日期不在活动期间内", "date is outside the campaign"),
                        ));
                    }
                    Err(MakeupRefusal::NotPast) => {
                        return Err(ApiError::validation(
                            "date",
                            Text::new("只能为已经过去的日期补卡", "only a past day can be made up"),
                        ));
                    }
                },
            };
            let day_text = day.to_string();
            let new = NewCheckin {
                campaign_id: id,
                user: user.id,
                day: &day_text,
                book_title: &book_title,
                minutes,
                note: &note,
                makeup: makeup.is_some(),
                now: now.naive_utc(),
            };
            match store::check_in(c, &new, campaign.makeup_cards)? {
                Checkin::Stored => {}
                Checkin::AlreadyChecked => {
                    return Err(ApiError::Conflict {
                        code: "reading.already_checked_in",
                        detail: Text::new("这一天已经打过卡了", "That day is already checked in"),
                    });
                }
                Checkin::NoCards => {
                    return Err(ApiError::Conflict {
                        code: "reading.no_makeup_cards",
                        detail: Text::new("补卡次数已用完", "No makeup cards left"),
                    });
                }
            }
            let (p, _, left) = progress_of(c, &campaign, user.id, today)?;
            Ok((progress_view(p, &campaign, day, left), today, p))
        })
        .await?;
    update_board(state, id, user.id, today, &progress).await;
    Ok(view)
}

/// Today's check-in (once per local day in the campaign's zone). Accepts `Idempotency-Key`.
#[utoipa::path(tag = "reading", params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header)), request_body = CheckinForm,
    responses((status = 201, body = ProgressView), (status = 404), (status = 409, description = "reading.already_checked_in, reading.not_joined, reading.not_running"), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/reading-campaigns/{id}/checkins",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn check_in(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<CheckinForm>,
) -> ApiResult<HttpResponse> {
    let CheckinForm {
        book_title,
        minutes,
        note,
    } = body.0;
    Ok(HttpResponse::Created().json(
        store_checkin(
            &state,
            user,
            id.into_inner(),
            None,
            book_title,
            minutes,
            note,
        )
        .await?,
    ))
}

/// Fills a missed past day inside the campaign with one makeup card (补卡).
#[utoipa::path(tag = "reading", params(("id" = i64, Path)), request_body = MakeupForm,
    responses((status = 201, body = ProgressView), (status = 404), (status = 409, description = "reading.no_makeup_cards, reading.already_checked_in"), (status = 422)),
    security(("bearer" = [])))]
#[post("/reading-campaigns/{id}/makeups")]
pub async fn make_up(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<MakeupForm>,
) -> ApiResult<HttpResponse> {
    let MakeupForm {
        date,
        book_title,
        minutes,
        note,
    } = body.0;
    Ok(HttpResponse::Created().json(
        store_checkin(
            &state,
            user,
            id.into_inner(),
            Some(date),
            book_title,
            minutes,
            note,
        )
        .await?,
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyProgress {
    #[serde(flatten)]
    pub progress: ProgressView,
    /// Every checked day (made-up days included), oldest first.
    pub checked_days: Vec<String>,
    pub checked_today: bool,
}

/// The caller's progress and calendar.
#[utoipa::path(tag = "reading", params(("id" = i64, Path)), responses((status = 200, body = MyProgress), (status = 404), (status = 409)), security(("bearer" = [])))]
#[get("/reading-campaigns/{id}/me")]
pub async fn my_progress(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let mine = state
        .db
        .run(move |c| -> ApiResult<MyProgress> {
            let campaign = store::campaign(c, id)?;
            let today = today_of(&campaign, now);
            let (p, days, left) = progress_of(c, &campaign, user.id, today)?;
            let checked_today = days.contains(&today.to_string());
            Ok(MyProgress {
                progress: progress_view(p, &campaign, today, left),
                checked_days: days,
                checked_today,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(mine))
}

/// Everyone's progress on `today`, from SQL.
fn standings(
    rows: Vec<(i64, String)>,
    today: NaiveDate,
    last: NaiveDate,
    target: i32,
) -> BTreeMap<i64, Progress> {
    let mut by_user: BTreeMap<i64, BTreeSet<NaiveDate>> = BTreeMap::new();
    for (user, day) in rows {
        if let Ok(day) = day.parse() {
            by_user.entry(user).or_default().insert(day);
        }
    }
    by_user
        .into_iter()
        .map(|(u, days)| (u, rules::progress(&days, today, last, target)))
        .collect()
}

/// Members who reached the campaign's target by `now`, ascending ids (a raffle pool).
pub fn finisher_ids(conn: &mut DbConn, id: i64, now: DateTime<Utc>) -> ApiResult<Vec<i64>> {
    let campaign = store::campaign(conn, id)?;
    let (_, last) = dates(&campaign);
    Ok(standings(
        store::all_days(conn, id)?,
        today_of(&campaign, now),
        last,
        campaign.target_days,
    )
    .into_iter()
    .filter(|(_, p)| p.completed)
    .map(|(u, _)| u)
    .collect())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoardEntry {
    pub rank: u64,
    pub user: crate::users::PublicUser,
    pub total_days: i32,
    pub current_streak: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyStanding {
    pub rank: u64,
    pub total_days: i32,
    pub current_streak: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReadingBoard {
    pub items: Vec<BoardEntry>,
    pub me: Option<MyStanding>,
}

/// By total days, then current streak. One board per local day in the hot store, built
/// from SQL on the day's first read (streaks change with the date, not only on writes).
#[utoipa::path(tag = "reading", params(("id" = i64, Path), BoardQuery), responses((status = 200, body = ReadingBoard), (status = 404)), security(("bearer" = [])))]
#[get("/reading-campaigns/{id}/leaderboard")]
pub async fn get_leaderboard(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<BoardQuery>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let limit = Page::parse(query.0.limit, None)?.limit;
    let now = state.clock.now();
    let campaign = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::campaign(c, id)?) })
        .await?;
    let today = today_of(&campaign, now);
    let key = board_key(&state, id, today);
    let built = format!("{key}:built");
    let lock = format!("{key}:lock");
    let (_, last) = dates(&campaign);
    let target = campaign.target_days;
    let st = state.clone();
    crate::hot::ensure_built(
        state.hot.as_ref(),
        &built,
        &lock,
        Some(std::time::Duration::from_secs(2 * 86_400)),
        || async move {
            let rows = st
                .db
                .run(move |c| -> ApiResult<_> { Ok(store::all_days(c, id)?) })
                .await?;
            for (user, p) in standings(rows, today, last, target) {
                st.hot
                    .zset_if_higher(
                        &board_key(&st, id, today),
                        &user.to_string(),
                        rank_value(&p),
                    )
                    .await?;
            }
            // Yesterday's board is no longer read.
            if let Some(yesterday) = today.pred_opt() {
                st.hot.del(&[board_key(&st, id, yesterday)]).await?;
            }
            Ok(())
        },
    )
    .await?;
    let (rows, mine) =
        crate::leaderboard::page(&state, &board_key(&state, id, today), limit, user.id).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let (total_days, current_streak) = from_rank_value(r.value);
            BoardEntry {
                rank: r.rank,
                user: r.user,
                total_days,
                current_streak,
            }
        })
        .collect();
    let me = mine.map(|m| {
        let (total_days, current_streak) = from_rank_value(m.value);
        MyStanding {
            rank: m.rank,
            total_days,
            current_streak,
        }
    });
    Ok(HttpResponse::Ok().json(ReadingBoard { items, me }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    pub date: String,
    pub checkins: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignStats {
    pub joined: i64,
    pub completed: i64,
    pub checkins: i64,
    pub per_day: Vec<DayCount>,
}

fn campaign_for_staff(conn: &mut DbConn, user: UserId, id: i64) -> ApiResult<Campaign> {
    let campaign = store::campaign(conn, id)?;
    auth::require_role_or_hide(conn, user, OrgId(campaign.org_id), Role::Organizer)?;
    Ok(campaign)
}

/// Per-day check-ins, participants and finishers (organizers).
#[utoipa::path(tag = "reading", params(("id" = i64, Path)), responses((status = 200, body = CampaignStats), (status = 404)), security(("bearer" = [])))]
#[get("/admin/reading-campaigns/{id}/stats")]
pub async fn campaign_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let stats = state
        .db
        .run(move |c| -> ApiResult<CampaignStats> {
            let campaign = campaign_for_staff(c, user.id, id)?;
            let (_, last) = dates(&campaign);
            let all = standings(
                store::all_days(c, id)?,
                today_of(&campaign, now),
                last,
                campaign.target_days,
            );
            let per_day: Vec<DayCount> = store::per_day(c, id)?
                .into_iter()
                .map(|(date, checkins)| DayCount { date, checkins })
                .collect();
            Ok(CampaignStats {
                joined: store::participants(c, id)?,
                completed: all.values().filter(|p| p.completed).count() as i64,
                checkins: per_day.iter().map(|d| d.checkins).sum(),
                per_day,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(stats))
}

/// Members who reached the target, as CSV: the pool of a finishers' raffle.
#[utoipa::path(tag = "reading", params(("id" = i64, Path)), responses((status = 200, content_type = "text/csv"), (status = 404)), security(("bearer" = [])))]
#[get("/admin/reading-campaigns/{id}/finishers.csv")]
pub async fn export_finishers(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<(i64, String, Progress)>> {
            let campaign = campaign_for_staff(c, user.id, id)?;
            let (_, last) = dates(&campaign);
            let finishers: Vec<(i64, Progress)> = standings(
                store::all_days(c, id)?,
                today_of(&campaign, now),
                last,
                campaign.target_days,
            )
            .into_iter()
            .filter(|(_, p)| p.completed)
            .collect();
            let ids: Vec<i64> = finishers.iter().map(|(u, _)| *u).collect();
            let names: HashMap<i64, String> = crate::auth::store::nicknames(c, &ids)?
                .into_iter()
                .collect();
            Ok(finishers
                .into_iter()
                .map(|(u, p)| (u, names.get(&u).cloned().unwrap_or_default(), p))
                .collect())
        })
        .await?;
    let mut out = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    out.write_record(["user_id", "nickname", "total_days", "longest_streak"])
        .map_err(ApiError::internal)?;
    for (uid, nickname, p) in rows {
        out.write_record([
            uid.to_string(),
            nickname,
            p.total_days.to_string(),
            p.longest_streak.to_string(),
        ])
        .map_err(ApiError::internal)?;
    }
    let body = out.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"reading-{id}-finishers.csv\""),
        ))
        .body(body))
}
