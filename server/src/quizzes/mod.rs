//! Quiz campaigns (答题): organizers build question banks and publish campaigns; members
//! take timed attempts dealt at random, scored on the server, ranked on a leaderboard in
//! the hot store; passing grants draw chances.

mod handlers;
pub use handlers::frozen;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_quiz)
        .service(handlers::add_questions)
        .service(handlers::import_questions)
        .service(handlers::publish_quiz)
        .service(handlers::quiz_stats)
        .service(handlers::export_results)
        .service(handlers::list_quizzes)
        .service(handlers::get_quiz)
        .service(handlers::start_attempt)
        .service(handlers::submit_attempt)
        .service(handlers::get_leaderboard)
        .service(handlers::get_draw_chances)
        .service(handlers::org_ranking);
}
