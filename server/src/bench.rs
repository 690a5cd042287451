//! `/api/v1/_bench/*`, served only with `HUIGONG_BENCH_ENDPOINTS=true`: the ceilings the
//! load tests compare every journey with (a trivial JSON answer, one Lua call, one
//! committed row) and the fixture that gives load-test members draw chances. Not part of
//! the API contract and not in the OpenAPI document.

use actix_web::{HttpResponse, web};
use chrono::TimeDelta;
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::store::NewUser;
use crate::db::schema::{bench_rows, draw_chances, orgs, quiz_attempts};
use crate::db::{DbConn, write_tx};
use crate::domain::UserId;
use crate::error::{ApiError, ApiResult};
use crate::http::Json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1/_bench")
            .route("/json", web::get().to(json_ceiling))
            .route("/lua", web::post().to(lua_ceiling))
            .route("/insert", web::post().to(insert_ceiling))
            .route("/draw-campaign", web::post().to(draw_campaign))
            .route("/reading-campaign", web::post().to(reading_campaign)),
    );
}

/// The framework's ceiling: no I/O at all.
async fn json_ceiling() -> HttpResponse {
    HttpResponse::Ok().json(json!({"ok": true}))
}

/// One hot-store script call (Redis: a Lua INCR; in process: one lock).
async fn lua_ceiling(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let key = state.keys.key("bench", "counter");
    let n = state.hot.incr(&key, 1, None).await?;
    Ok(HttpResponse::Ok().json(json!({"n": n})))
}

/// One durable row per request, one commit each: what a naive draw would cost.
async fn insert_ceiling(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let now = state.clock.now_naive();
    let id = state
        .db
        .run(move |c| -> ApiResult<i64> {
            Ok(write_tx(c, |c| {
                diesel::insert_into(bench_rows::table)
                    .values((bench_rows::payload.eq("x"), bench_rows::created_at.eq(now)))
                    .returning(bench_rows::id)
                    .get_result(c)
            })?)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"id": id})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignRequest {
    /// Members to create, 1-5000.
    members: u32,
    /// Draw chances each, 1-1,000,000.
    chances: i32,
}

/// A published campaign with four deep-stocked prizes (40% win in all), `members` new
/// members with `chances` each and a submitted attempt each (so the leaderboard has
/// entries), and their access tokens and refresh tokens (one session each).
async fn draw_campaign(
    state: web::Data<AppState>,
    body: Json<CampaignRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.0;
    if !(1..=5000).contains(&req.members) || !(1..=1_000_000).contains(&req.chances) {
        return Err(ApiError::bad_request(
            "bench.invalid",
            crate::error::Text::new(
                "成员 1-5000，机会 1-1000000",
                "members 1-5000, chances 1-1000000",
            ),
        ));
    }
    let now = state.clock.now_naive();
    let (quiz, users) = state
        .db
        .run(move |c| -> ApiResult<(i64, Vec<i64>)> { Ok(seed_campaign(c, &req, now)?) })
        .await?;
    let tokens = users
        .iter()
        .map(|&u| state.tokens.issue(UserId(u)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let mut refresh_tokens = Vec::with_capacity(users.len());
    for &u in &users {
        refresh_tokens.push(
            crate::auth::new_session(&state, UserId(u))
                .await?
                .refresh_token,
        );
    }
    Ok(HttpResponse::Created()
        .json(json!({"quiz_id": quiz, "tokens": tokens, "refresh_tokens": refresh_tokens})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadingRequest {
    /// Members to create and join, 1-300000: each checks in once today.
    members: u32,
}

/// A reading campaign running today with `members` new participants, and their access
/// tokens: each can check in once.
async fn reading_campaign(
    state: web::Data<AppState>,
    body: Json<ReadingRequest>,
) -> ApiResult<HttpResponse> {
    let members = body.0.members;
    if !(1..=300_000).contains(&members) {
        return Err(ApiError::bad_request(
            "bench.invalid",
            crate::error::Text::new("成员 1-300000", "members 1-300000"),
        ));
    }
    let now = state.clock.now();
    let today = now
        .with_timezone(&crate::ratelimit::china_time())
        .date_naive();
    let (campaign, users) = state
        .db
        .run(move |c| -> ApiResult<(i64, Vec<i64>)> {
            Ok(write_tx(c, |c| {
                let org = root_org(c, now.naive_utc())?;
                let suffix = hex::encode(rand::random::<[u8; 4]>());
                let admin =
                    bench_user(c, &format!("bench-reading-admin-{suffix}"), now.naive_utc())?;
                let campaign = crate::reading::store::insert_campaign(
                    c,
                    &crate::reading::store::NewCampaign {
                        org_id: org,
                        title: format!("压测读书 {suffix}"),
                        description: String::new(),
                        starts_on: (today - TimeDelta::days(1)).to_string(),
                        ends_on: (today + TimeDelta::days(30)).to_string(),
                        target_days: 21,
                        time_zone: "Asia/Shanghai".into(),
                        makeup_cards: 0,
                        min_note_chars: 0,
                        min_minutes: 1,
                        created_by: admin,
                        created_at: now.naive_utc(),
                    },
                )?;
                let mut users = Vec::with_capacity(members as usize);
                for i in 0..members {
                    let user =
                        bench_user(c, &format!("bench-reader-{suffix}-{i}"), now.naive_utc())?;
                    crate::reading::store::join(c, campaign.id, UserId(user), now.naive_utc())?;
                    users.push(user);
                }
                Ok::<_, diesel::result::Error>((campaign.id, users))
            })?)
        })
        .await?;
    let tokens = users
        .iter()
        .map(|&u| state.tokens.issue(UserId(u)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Ok(HttpResponse::Created().json(json!({"campaign_id": campaign, "tokens": tokens})))
}

fn bench_user(c: &mut DbConn, openid: &str, now: chrono::NaiveDateTime) -> QueryResult<i64> {
    crate::auth::store::insert_user(
        c,
        &NewUser {
            nickname: "压测会员",
            phone: None,
            wechat_openid: Some(openid),
            username: None,
            password_hash: None,
            created_at: now,
            updated_at: now,
        },
    )
    .map(|u| u.0)
}

/// The first root organization, created when there is none.
fn root_org(c: &mut DbConn, now: chrono::NaiveDateTime) -> QueryResult<i64> {
    if let Some(id) = orgs::table
        .filter(orgs::parent_id.is_null())
        .select(orgs::id)
        .first(c)
        .optional()?
    {
        return Ok(id);
    }
    let id: i64 = diesel::insert_into(orgs::table)
        .values((
            orgs::name.eq("压测总工会"),
            orgs::kind.eq("federation"),
            orgs::region_code.eq("000000"),
            orgs::path.eq("/"),
            orgs::depth.eq(0),
            orgs::created_at.eq(now),
        ))
        .returning(orgs::id)
        .get_result(c)?;
    diesel::update(orgs::table.find(id))
        .set(orgs::path.eq(crate::orgs::rules::child_path(None, id)))
        .execute(c)?;
    Ok(id)
}

fn seed_campaign(
    c: &mut DbConn,
    req: &CampaignRequest,
    now: chrono::NaiveDateTime,
) -> QueryResult<(i64, Vec<i64>)> {
    write_tx(c, |c| {
        let org = root_org(c, now)?;
        let suffix = hex::encode(rand::random::<[u8; 4]>());
        let admin = crate::auth::store::insert_user(
            c,
            &NewUser {
                nickname: "压测组织者",
                phone: None,
                wechat_openid: Some(&format!("bench-admin-{suffix}")),
                username: None,
                password_hash: None,
                created_at: now,
                updated_at: now,
            },
        )?;
        let quiz = crate::quizzes::store::insert_quiz(
            c,
            &crate::quizzes::store::NewQuiz {
                org_id: org,
                title: format!("压测抽奖 {suffix}"),
                description: String::new(),
                starts_at: now - TimeDelta::hours(1),
                ends_at: now + TimeDelta::days(1),
                time_zone: "Asia/Shanghai".into(),
                questions_per_attempt: 5,
                time_limit_secs: 300,
                pass_score: 60,
                max_attempts_per_day: 100,
                draws_per_pass: 1,
                audience: "everyone",
                status: "draft",
                created_by: admin.0,
                created_at: now,
            },
        )?;
        crate::quizzes::store::add_questions(c, quiz.id, &crate::demo_quiz::questions(), now)?;
        for (i, kind) in [
            crate::draws::rules::PrizeKind::Physical,
            crate::draws::rules::PrizeKind::Voucher,
            crate::draws::rules::PrizeKind::Voucher,
            crate::draws::rules::PrizeKind::Points,
        ]
        .into_iter()
        .enumerate()
        {
            let prize = crate::draws::rules::NewPrize {
                name: format!("压测奖品{i}"),
                kind,
                quantity: crate::draws::rules::MAX_QUANTITY,
                probability_ppm: 100_000,
                max_per_user: crate::draws::rules::MAX_PER_USER,
            };
            crate::draws::store::insert_prize(c, quiz.id, &prize, now)?;
        }
        crate::quizzes::store::publish(c, quiz.id, now)?;
        let mut users = Vec::with_capacity(req.members as usize);
        for i in 0..req.members {
            let user = crate::auth::store::insert_user(
                c,
                &NewUser {
                    nickname: &format!("压测{i}"),
                    phone: None,
                    wechat_openid: Some(&format!("bench-{suffix}-{i}")),
                    username: None,
                    password_hash: None,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            diesel::insert_into(draw_chances::table)
                .values((
                    draw_chances::quiz_id.eq(quiz.id),
                    draw_chances::user_id.eq(user.0),
                    draw_chances::granted.eq(req.chances),
                    draw_chances::used.eq(0),
                ))
                .execute(c)?;
            let score = 60 + (i as i32 * 7) % 41;
            diesel::insert_into(quiz_attempts::table)
                .values((
                    quiz_attempts::quiz_id.eq(quiz.id),
                    quiz_attempts::user_id.eq(user.0),
                    quiz_attempts::status.eq("submitted"),
                    quiz_attempts::layout.eq("[]"),
                    quiz_attempts::local_date.eq(now.date().to_string()),
                    quiz_attempts::started_at.eq(now),
                    quiz_attempts::deadline.eq(now + TimeDelta::minutes(5)),
                    quiz_attempts::submitted_at.eq(Some(now + TimeDelta::seconds(30))),
                    quiz_attempts::score.eq(Some(score)),
                    quiz_attempts::passed.eq(Some(true)),
                    quiz_attempts::duration_ms.eq(Some(30_000 + i64::from(i))),
                    quiz_attempts::draws_granted.eq(1),
                ))
                .execute(c)?;
            users.push(user.0);
        }
        Ok((quiz.id, users))
    })
}
