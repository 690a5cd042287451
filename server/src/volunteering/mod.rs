//! Volunteer activities (志愿服务): sign-ups that never exceed capacity, a FIFO waitlist,
//! check-in and check-out with a rotating code on site, an append-only ledger of credited
//! minutes, leaderboards per org subtree and year, and verifiable certificates.

mod handlers;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_activity)
        .service(handlers::list_activities)
        .service(handlers::get_activity)
        .service(handlers::sign_up)
        .service(handlers::cancel_signup)
        .service(handlers::checkin_code)
        .service(handlers::check_in)
        .service(handlers::check_out)
        .service(handlers::record_hours)
        .service(handlers::my_hours)
        .service(handlers::leaderboard)
        .service(handlers::volunteering_stats)
        .service(handlers::issue_certificate)
        .service(handlers::verify_certificate);
}
