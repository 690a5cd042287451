//! Prize draws (抽奖): prizes with published odds, the draw gate in the hot store, group
//! committed durable draws, wins and redemption, and the reconciler.

pub mod engine;
mod handlers;
pub mod rules;
pub mod store;

pub use engine::{DrawEngine, Reconciliation, reconcile};
pub use handlers::{PrizeView, prize_view};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::add_prize)
        .service(handlers::draw)
        .service(handlers::my_prizes)
        .service(handlers::redeem)
        .service(handlers::winners_csv)
        .service(handlers::reconcile);
}
