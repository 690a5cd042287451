//! Operations endpoints: liveness, readiness (database and hot store) and metrics.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ApiResult, Text};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// 200 while the process runs.
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    /// `postgres` or `sqlite`.
    pub database: &'static str,
    /// `redis` or `memory`.
    pub hot_store: &'static str,
}

/// 200 when the database and the hot store answer, 503 otherwise.
#[utoipa::path(tag = "ops", responses((status = 200, body = Readiness), (status = 503)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let limit = Duration::from_secs(2);
    let db = tokio::time::timeout(
        limit,
        state
            .db
            .run(|c| -> Result<(), ApiError> { Ok(c.batch_execute("SELECT 1")?) }),
    )
    .await;
    let hot = tokio::time::timeout(limit, state.hot.ping()).await;
    let db_ok = matches!(db, Ok(Ok(())));
    let hot_ok = matches!(hot, Ok(Ok(())));
    if db_ok && hot_ok {
        return Ok(HttpResponse::Ok().json(Readiness {
            status: "ready",
            database: state.db.backend().name(),
            hot_store: state.hot.kind(),
        }));
    }
    let down = match (db_ok, hot_ok) {
        (false, false) => "database, hot store",
        (false, true) => "database",
        _ => "hot store",
    };
    Err(ApiError::Unavailable {
        code: "not_ready",
        detail: Text::owned(
            format!("依赖服务不可用：{down}"),
            format!("Not ready: {down} not answering"),
        ),
        retry_after_secs: 5,
    })
}

/// Prometheus text format.
#[utoipa::path(tag = "ops", responses((status = 200, content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode())
}
