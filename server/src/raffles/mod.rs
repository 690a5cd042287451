//! Verifiable raffles (公开抽签): a seed committed before the draw, a frozen pool with a
//! published digest, and a shuffle anyone can recompute (`huigong raffle verify`).

mod handlers;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_raffle)
        .service(handlers::draw_raffle)
        .service(handlers::get_raffle)
        .service(handlers::get_pool);
}
