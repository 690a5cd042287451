//! Reading check-ins (读书打卡): campaigns of N days, one check-in per local calendar day,
//! makeup cards for missed days, exact streaks, a daily leaderboard in the hot store.

mod handlers;
pub use handlers::finisher_ids;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_campaign)
        .service(handlers::list_campaigns)
        .service(handlers::get_campaign)
        .service(handlers::join_campaign)
        .service(handlers::check_in)
        .service(handlers::make_up)
        .service(handlers::my_progress)
        .service(handlers::get_leaderboard)
        .service(handlers::campaign_stats)
        .service(handlers::export_finishers);
}
