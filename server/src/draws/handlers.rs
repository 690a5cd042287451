//! HTTP endpoints of prizes, draws, wins and redemption.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::engine::Reconciliation;
use super::rules::{self, PrizeInput, PrizeKind};
use super::store::{self, Prize, Win};
use crate::AppState;
use crate::auth::{self, AuthUser, Role};
use crate::domain::{OrgId, mask_phone};
use crate::enrollment::rules::mask_name;
use crate::error::{ApiError, ApiResult, Text};
use crate::http::{Json, Page, PageQuery, Paged, Query};
use crate::quizzes::store as quizzes;

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

/// A prize as members see it: odds are always public.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrizeView {
    pub id: i64,
    pub name: String,
    pub kind: PrizeKind,
    pub quantity: i32,
    /// Units not yet won.
    pub remaining: i32,
    /// Chance per draw, parts per million.
    pub probability_ppm: i32,
    pub max_per_user: i32,
}

pub fn prize_view(p: Prize) -> PrizeView {
    PrizeView {
        id: p.id,
        kind: PrizeKind::parse(&p.kind).unwrap_or(PrizeKind::Physical),
        name: p.name,
        quantity: p.quantity,
        remaining: p.remaining,
        probability_ppm: p.probability_ppm,
        max_per_user: p.max_per_user,
    }
}

/// Adds a prize to a draft campaign; odds and stock freeze when it is published.
#[utoipa::path(tag = "draws", params(("id" = i64, Path)), request_body = PrizeInput,
    responses((status = 201, body = PrizeView), (status = 404), (status = 409, description = "quiz.frozen"), (status = 422)),
    security(("bearer" = [])))]
#[post("/admin/quizzes/{id}/prizes")]
pub async fn add_prize(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<PrizeInput>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let now = state.clock.now_naive();
    let prize = state
        .db
        .run(move |c| -> ApiResult<Prize> {
            let quiz = quizzes::quiz(c, id)?;
            auth::require_role_or_hide(c, user.id, OrgId(quiz.org_id), Role::Organizer)?;
            crate::db::write_tx(c, |c| {
                if !quizzes::lock_draft(c, id)? {
                    return Err(crate::quizzes::frozen());
                }
                let taken: i64 = store::prizes_of(c, id)?
                    .iter()
                    .map(|p| i64::from(p.probability_ppm))
                    .sum();
                let prize = rules::validate_prize(input, taken)?;
                Ok(store::insert_prize(c, id, &prize, now)?)
            })
        })
        .await?;
    tracing::info!(quiz_id = id, prize_id = prize.id, "prize added");
    Ok(HttpResponse::Created().json(prize_view(prize)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PrizeRef {
    pub id: i64,
    pub name: String,
    pub kind: PrizeKind,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DrawView {
    pub draw_id: i64,
    pub won: bool,
    pub prize: Option<PrizeRef>,
    /// Show it to staff to collect the prize; only its owner ever sees it in full.
    pub redemption_code: Option<String>,
}

/// Spends one draw chance. The Idempotency-Key is required: a retry with the same key
/// returns the same draw and spends nothing.
#[utoipa::path(tag = "draws", params(("id" = i64, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 201, body = DrawView), (status = 400, description = "idempotency.key_required"), (status = 404),
        (status = 409, description = "draw.no_chances, draw.closed, idempotency.in_flight"), (status = 503)),
    security(("bearer" = [])))]
#[post(
    "/quizzes/{id}/draws",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::required)"
)]
pub async fn draw(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let key = crate::idempotency::key_of(&req)?;
    let (drawn, _replay) = state
        .draws
        .draw(&state, id.into_inner(), user.id.0, key)
        .await?;
    let prize = drawn
        .record
        .prize_id
        .and_then(|p| drawn.campaign.prize(p))
        .map(|p| PrizeRef {
            id: p.id,
            name: p.name.clone(),
            kind: PrizeKind::parse(&p.kind).unwrap_or(PrizeKind::Physical),
        });
    Ok(HttpResponse::Created().json(DrawView {
        draw_id: drawn.record.id,
        won: prize.is_some(),
        prize,
        redemption_code: drawn.record.redemption_code,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WinView {
    pub id: i64,
    pub quiz_id: i64,
    pub quiz_title: String,
    pub prize: PrizeRef,
    pub redemption_code: String,
    pub won_at: DateTime<Utc>,
    pub redeemed: bool,
    pub redeemed_at: Option<DateTime<Utc>>,
}

fn win_view(w: Win, code: String) -> WinView {
    WinView {
        id: w.id,
        quiz_id: w.quiz_id,
        quiz_title: w.quiz_title,
        prize: PrizeRef {
            id: w.prize_id,
            name: w.prize_name,
            kind: PrizeKind::parse(&w.prize_kind).unwrap_or(PrizeKind::Physical),
        },
        redemption_code: code,
        won_at: utc(w.won_at),
        redeemed: w.redeemed_at.is_some(),
        redeemed_at: w.redeemed_at.map(utc),
    }
}

/// The caller's prizes, newest first, with their redemption state.
#[utoipa::path(tag = "draws", params(PageQuery), responses((status = 200, body = Paged<WinView>)), security(("bearer" = [])))]
#[get("/me/prizes")]
pub async fn my_prizes(
    state: web::Data<AppState>,
    user: AuthUser,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::try_from(&query.0)?;
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> {
            Ok(store::wins_of_user(
                c,
                user.id.0,
                page.after,
                page.limit + 1,
            )?)
        })
        .await?;
    Ok(
        HttpResponse::Ok().json(page.finish(rows, |w| w.id).map(|w| {
            let code = w.redemption_code.clone();
            win_view(w, code)
        })),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    /// As shown by the member (dashes, spaces and case do not matter).
    pub redemption_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionView {
    pub win: WinView,
    pub user_id: i64,
    /// Masked.
    pub nickname: String,
}

fn code_unknown() -> ApiError {
    ApiError::NotFound
}

/// Marks a win redeemed, by an organizer of the campaign's org subtree. The second time: 409.
#[utoipa::path(tag = "draws", request_body = Redeem,
    responses((status = 200, body = RedemptionView), (status = 404), (status = 409, description = "prize.already_redeemed"), (status = 422)),
    security(("bearer" = [])))]
#[post("/admin/prize-redemptions")]
pub async fn redeem(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<Redeem>,
) -> ApiResult<HttpResponse> {
    let Some(code) = rules::normalize_code(&body.0.redemption_code) else {
        return Err(ApiError::validation(
            "redemption_code",
            Text::new(
                "兑奖码应为 12 位字母数字（如 ABCD-EFGH-JKLM）",
                "a redemption code has 12 letters and digits (ABCD-EFGH-JKLM)",
            ),
        ));
    };
    let now = state.clock.now_naive();
    let (win, nickname) = state
        .db
        .run(move |c| -> ApiResult<(Win, String)> {
            let win = store::win_by_code(c, &code)?.ok_or_else(code_unknown)?;
            // Outside the staffer's subtree a code is as unknown as a wrong one.
            auth::require_role_or_hide(c, user.id, OrgId(win.org_id), Role::Organizer)?;
            if !store::redeem(c, win.id, user.id.0, now)? {
                return Err(ApiError::Conflict {
                    code: "prize.already_redeemed",
                    detail: Text::new("该奖品已经兑换过了", "This prize was already redeemed"),
                });
            }
            let nickname = crate::auth::store::nicknames(c, &[win.user_id])?
                .into_iter()
                .next()
                .map(|(_, n)| n)
                .unwrap_or_default();
            Ok((
                Win {
                    redeemed_at: Some(now),
                    ..win
                },
                nickname,
            ))
        })
        .await?;
    tracing::info!(win_id = win.id, by = user.id.0, "prize redeemed");
    let masked = rules::mask_code(&win.redemption_code);
    let user_id = win.user_id;
    Ok(HttpResponse::Ok().json(RedemptionView {
        win: win_view(win, masked),
        user_id,
        nickname: mask_name(&nickname),
    }))
}

/// Every win of a campaign as CSV for fulfilment: nickname, masked phone, masked code.
#[utoipa::path(tag = "draws", params(("id" = i64, Path)), responses((status = 200, content_type = "text/csv"), (status = 404)), security(("bearer" = [])))]
#[get("/admin/quizzes/{id}/winners.csv")]
pub async fn winners_csv(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let rows = state
        .db
        .run(move |c| -> ApiResult<_> {
            let quiz = quizzes::quiz(c, id)?;
            auth::require_role_or_hide(c, user.id, OrgId(quiz.org_id), Role::Organizer)?;
            Ok(store::winners(c, id)?)
        })
        .await?;
    let mut out = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    let mut write = |record: &[String]| out.write_record(record).map_err(ApiError::internal);
    write(
        &[
            "win_id",
            "user_id",
            "nickname",
            "phone",
            "prize_id",
            "prize",
            "kind",
            "won_at",
            "redemption_code",
            "redeemed_at",
        ]
        .map(String::from),
    )?;
    for (w, nickname, phone) in rows {
        write(&[
            w.id.to_string(),
            w.user_id.to_string(),
            nickname,
            phone.as_deref().map(mask_phone).unwrap_or_default(),
            w.prize_id.to_string(),
            w.prize_name,
            w.prize_kind,
            utc(w.won_at).to_rfc3339(),
            rules::mask_code(&w.redemption_code),
            w.redeemed_at
                .map(|t| utc(t).to_rfc3339())
                .unwrap_or_default(),
        ])?;
    }
    let body = out.into_inner().map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"quiz-{id}-winners.csv\""),
        ))
        .body(body))
}

/// Checks the campaign's hot-store gate against SQL and repairs it (the periodic
/// reconciler does the same on its own).
#[utoipa::path(tag = "draws", params(("id" = i64, Path)), responses((status = 200, body = Object), (status = 404)), security(("bearer" = [])))]
#[post("/admin/quizzes/{id}/draw-reconciliation")]
pub async fn reconcile(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    state
        .db
        .run(move |c| -> ApiResult<()> {
            let quiz = quizzes::quiz(c, id)?;
            auth::require_role_or_hide(c, user.id, OrgId(quiz.org_id), Role::Organizer)?;
            Ok(())
        })
        .await?;
    let report: Reconciliation = state.draws.reconcile(&state, id).await?;
    Ok(HttpResponse::Ok().json(report))
}
