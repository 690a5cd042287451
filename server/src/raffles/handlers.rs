//! HTTP endpoints of verifiable raffles.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::rules;
use super::store::{self, NewRaffle, Raffle};
use crate::AppState;
use crate::auth::{self, AuthUser, Role};
use crate::db::DbConn;
use crate::domain::{Fields, OrgId, text_field};
use crate::enrollment::rules::mask_name;
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::Json;
use crate::orgs::store as orgs;

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PoolKind {
    /// Members who passed the quiz `ref_id`.
    QuizPassers,
    /// Members who reached the target of reading campaign `ref_id`.
    ReadingCompleters,
    /// Members with at least `min_hours` of volunteer hours in activities of org `ref_id`'s subtree.
    Volunteers,
}

impl PoolKind {
    fn as_str(self) -> &'static str {
        match self {
            PoolKind::QuizPassers => "quiz_passers",
            PoolKind::ReadingCompleters => "reading_completers",
            PoolKind::Volunteers => "volunteers",
        }
    }

    fn parse(s: &str) -> PoolKind {
        match s {
            "quiz_passers" => PoolKind::QuizPassers,
            "reading_completers" => PoolKind::ReadingCompleters,
            _ => PoolKind::Volunteers,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    pub kind: PoolKind,
    pub ref_id: i64,
    /// Volunteers only: hours of service at least (may be fractional).
    pub min_hours: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRaffle {
    pub org_id: i64,
    /// 2-100 characters.
    pub title: String,
    pub pool: PoolInput,
    /// 1-10,000.
    pub winners: i32,
    /// Not before this time (RFC 3339, in the future).
    pub draw_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolView {
    pub kind: PoolKind,
    pub ref_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_hours: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RaffleWinner {
    pub place: i32,
    pub user_id: i64,
    /// Masked.
    pub nickname: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RaffleView {
    pub id: i64,
    pub org_id: OrgId,
    pub title: String,
    pub pool: PoolView,
    pub winners_count: i32,
    pub draw_at: DateTime<Utc>,
    /// `scheduled` or `drawn`.
    pub status: String,
    /// SHA-256 (hex) of the secret seed, published before the draw.
    pub seed_commitment: String,
    /// The seed (hex), revealed by the draw.
    pub seed: Option<String>,
    pub pool_size: Option<i32>,
    /// SHA-256 (hex) of the frozen pool (`GET /raffles/{id}/pool`).
    pub pool_digest: Option<String>,
    pub drawn_at: Option<DateTime<Utc>>,
    pub winners: Vec<RaffleWinner>,
    pub algorithm: &'static str,
}

fn view(r: Raffle, winners: Vec<RaffleWinner>) -> RaffleView {
    let kind = PoolKind::parse(&r.pool_kind);
    RaffleView {
        id: r.id,
        org_id: OrgId(r.org_id),
        title: r.title,
        pool: PoolView {
            kind,
            ref_id: r.pool_ref_id,
            min_hours: (kind == PoolKind::Volunteers).then(|| f64::from(r.min_minutes) / 60.0),
        },
        winners_count: r.winners,
        draw_at: utc(r.draw_at),
        status: r.status,
        seed_commitment: r.seed_commitment,
        seed: r.seed,
        pool_size: r.pool_size,
        pool_digest: r.pool_digest,
        drawn_at: r.drawn_at.map(utc),
        winners,
        algorithm: rules::ALGORITHM,
    }
}

/// The org that owns the pool's source, or a 422 naming `pool.ref_id`.
fn pool_owner(conn: &mut DbConn, kind: PoolKind, ref_id: i64) -> ApiResult<i64> {
    let missing = || {
        ApiError::validation(
            "pool.ref_id",
            Text::new("抽签名单来源不存在", "the pool's source does not exist"),
        )
    };
    let found = match kind {
        PoolKind::QuizPassers => crate::quizzes::store::quiz(conn, ref_id).map(|q| q.org_id),
        PoolKind::ReadingCompleters => {
            crate::reading::store::campaign(conn, ref_id).map(|c| c.org_id)
        }
        PoolKind::Volunteers => orgs::org(conn, OrgId(ref_id)).map(|o| o.id),
    };
    match found {
        Ok(org) => Ok(org),
        Err(diesel::result::Error::NotFound) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// Schedules a raffle: the seed is drawn now and kept sealed; its commitment is public.
#[utoipa::path(tag = "raffles", request_body = CreateRaffle,
    responses((status = 201, body = RaffleView), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post("/admin/raffles")]
pub async fn create_raffle(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<CreateRaffle>,
) -> ApiResult<HttpResponse> {
    let input = body.0;
    let now = state.clock.now();
    let mut fields = Fields::new();
    let title = fields.check(text_field("title", &input.title, 2, 100));
    if !(1..=10_000).contains(&input.winners) {
        fields.push(FieldError::new(
            "winners",
            Text::new(
                "中签人数应为 1-10000",
                "winners must be between 1 and 10000",
            ),
        ));
    }
    if input.draw_at <= now {
        fields.push(FieldError::new(
            "draw_at",
            Text::new("开奖时间应在将来", "draw_at must be in the future"),
        ));
    }
    let min_minutes = match (input.pool.kind, input.pool.min_hours) {
        (PoolKind::Volunteers, Some(h)) if h.is_finite() && (0.0..=10_000.0).contains(&h) => {
            (h * 60.0).round() as i32
        }
        (PoolKind::Volunteers, _) => {
            fields.push(FieldError::new(
                "pool.min_hours",
                Text::new(
                    "志愿者名单需要 0-10000 的最少服务时长",
                    "a volunteers pool needs min_hours between 0 and 10000",
                ),
            ));
            0
        }
        (_, Some(_)) => {
            fields.push(FieldError::new(
                "pool.min_hours",
                Text::new(
                    "只有志愿者名单使用 min_hours",
                    "only a volunteers pool takes min_hours",
                ),
            ));
            0
        }
        (_, None) => 0,
    };
    fields.finish()?;
    let title = title.unwrap_or_default();
    let seed: [u8; 32] = rand::random();
    let sealed = format!(
        "{}:{}",
        state.crypto.version(),
        state
            .crypto
            .encrypt(&hex::encode(seed), "raffle-seed")
            .map_err(ApiError::internal)?
    );
    let new = NewRaffle {
        org_id: input.org_id,
        title,
        pool_kind: input.pool.kind.as_str(),
        pool_ref_id: input.pool.ref_id,
        min_minutes,
        winners: input.winners,
        draw_at: input.draw_at.naive_utc(),
        seed_sealed: sealed,
        seed_commitment: rules::commitment(&seed),
        status: "scheduled",
        created_by: user.id.0,
        created_at: now.naive_utc(),
    };
    let kind = input.pool.kind;
    let raffle = state
        .db
        .run(move |c| -> ApiResult<Raffle> {
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::Organizer, "org_id")?;
            let owner = pool_owner(c, kind, new.pool_ref_id)?;
            let inside = orgs::org(c, OrgId(owner))?
                .path
                .starts_with(&orgs::org(c, OrgId(new.org_id))?.path);
            if !inside {
                return Err(ApiError::validation(
                    "pool.ref_id",
                    Text::new(
                        "抽签名单来源不属于该工会及其下级",
                        "the pool's source is outside the org's subtree",
                    ),
                ));
            }
            Ok(store::insert(c, &new)?)
        })
        .await?;
    tracing::info!(raffle_id = raffle.id, by = user.id.0, "raffle scheduled");
    Ok(HttpResponse::Created().json(view(raffle, Vec::new())))
}

fn pool_now(conn: &mut DbConn, r: &Raffle, now: DateTime<Utc>) -> ApiResult<Vec<i64>> {
    let ids = match PoolKind::parse(&r.pool_kind) {
        PoolKind::QuizPassers => store::quiz_passers(conn, r.pool_ref_id)?,
        PoolKind::ReadingCompleters => crate::reading::finisher_ids(conn, r.pool_ref_id, now)?,
        PoolKind::Volunteers => {
            let path = orgs::org(conn, OrgId(r.pool_ref_id))?.path;
            let mut minutes: std::collections::HashMap<i64, i64> = Default::default();
            for (user, m, _) in crate::volunteering::store::subtree_entries(conn, &path)? {
                *minutes.entry(user).or_default() += i64::from(m);
            }
            minutes
                .into_iter()
                .filter(|&(_, m)| m > 0 && m >= i64::from(r.min_minutes))
                .map(|(u, _)| u)
                .collect()
        }
    };
    Ok(rules::normalize_pool(ids))
}

fn winners_view(conn: &mut DbConn, id: i64) -> ApiResult<Vec<RaffleWinner>> {
    let rows = store::winners_of(conn, id)?;
    let ids: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let names: std::collections::HashMap<i64, String> = crate::auth::store::nicknames(conn, &ids)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(place, user_id)| RaffleWinner {
            place,
            user_id,
            nickname: mask_name(names.get(&user_id).map_or("", String::as_str)),
        })
        .collect())
}

/// Draws: freezes the pool, shuffles it with the committed seed, reveals the seed. Once.
#[utoipa::path(tag = "raffles", params(("id" = i64, Path)),
    responses((status = 200, body = RaffleView), (status = 404), (status = 409, description = "raffle.too_early, raffle.already_drawn, raffle.empty_pool")),
    security(("bearer" = [])))]
#[post("/admin/raffles/{id}/draw")]
pub async fn draw_raffle(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now();
    let crypto = state.crypto.clone();
    let (raffle, winners) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let r = store::raffle(c, id)?;
            auth::require_role_or_hide(c, user.id, OrgId(r.org_id), Role::Organizer)?;
            if r.status == "drawn" {
                return Err(ApiError::Conflict {
                    code: "raffle.already_drawn",
                    detail: Text::new("已经开过奖了", "This raffle was already drawn"),
                });
            }
            if now.naive_utc() < r.draw_at {
                return Err(ApiError::Conflict {
                    code: "raffle.too_early",
                    detail: Text::owned(
                        format!("开奖时间为 {}", utc(r.draw_at).to_rfc3339()),
                        format!("the draw is not before {}", utc(r.draw_at).to_rfc3339()),
                    ),
                });
            }
            let pool = pool_now(c, &r, now)?;
            if pool.is_empty() {
                return Err(ApiError::Conflict {
                    code: "raffle.empty_pool",
                    detail: Text::new("名单为空，无法开奖", "Nobody is in the pool yet"),
                });
            }
            let (version, sealed) = r
                .seed_sealed
                .split_once(':')
                .ok_or_else(|| ApiError::internal("sealed seed has no key version"))?;
            let seed_hex = crypto
                .decrypt(sealed, version.parse().unwrap_or(0), "raffle-seed")
                .map_err(ApiError::internal)?;
            let seed = rules::parse_seed(&seed_hex)
                .ok_or_else(|| ApiError::internal("stored seed is not 32 bytes"))?;
            let winners = rules::winners(&seed, &pool, usize::try_from(r.winners).unwrap_or(0));
            let drawn = store::Drawn {
                pool: &pool,
                winners: &winners,
                seed: seed_hex,
                digest: hex::encode(rules::pool_digest(&pool)),
                now: now.naive_utc(),
            };
            if !store::record_draw(c, id, &drawn)? {
                return Err(ApiError::Conflict {
                    code: "raffle.already_drawn",
                    detail: Text::new("已经开过奖了", "This raffle was already drawn"),
                });
            }
            Ok((store::raffle(c, id)?, winners_view(c, id)?))
        })
        .await?;
    tracing::info!(raffle_id = id, pool = raffle.pool_size, "raffle drawn");
    Ok(HttpResponse::Ok().json(view(raffle, winners)))
}

/// A raffle's public record: commitment, then seed, pool digest and masked winners.
#[utoipa::path(tag = "raffles", params(("id" = i64, Path)), responses((status = 200, body = RaffleView), (status = 404)))]
#[get("/raffles/{id}")]
pub async fn get_raffle(state: web::Data<AppState>, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (raffle, winners) = state
        .db
        .run(move |c| -> ApiResult<_> { Ok((store::raffle(c, id)?, winners_view(c, id)?)) })
        .await?;
    Ok(HttpResponse::Ok().json(view(raffle, winners)))
}

/// The frozen pool as the digest hashes it: ascending user ids, one per line (the
/// `--pool-file` of `huigong raffle verify`). 404 before the draw.
#[utoipa::path(tag = "raffles", params(("id" = i64, Path)), responses((status = 200, content_type = "text/plain"), (status = 404)))]
#[get("/raffles/{id}/pool")]
pub async fn get_pool(state: web::Data<AppState>, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let pool = state
        .db
        .run(move |c| -> ApiResult<_> {
            if store::raffle(c, id)?.status != "drawn" {
                return Err(ApiError::NotFound);
            }
            Ok(store::pool_of(c, id)?)
        })
        .await?;
    let text = pool
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(text))
}
