//! Job postings (春送岗位): organizers publish postings, members search, apply once and
//! watch every step of their application; bookmarks; figures per org subtree.

mod handlers;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_posting)
        .service(handlers::publish_posting)
        .service(handlers::close_posting)
        .service(handlers::search_postings)
        .service(handlers::get_posting)
        .service(handlers::apply)
        .service(handlers::my_applications)
        .service(handlers::posting_applications)
        .service(handlers::export_applications)
        .service(handlers::update_application)
        .service(handlers::add_bookmark)
        .service(handlers::remove_bookmark)
        .service(handlers::my_bookmarks)
        .service(handlers::job_stats);
}
