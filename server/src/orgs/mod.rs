//! Union organizations: the org tree (总工会 down to 基层工会) and staff roles scoped to a
//! subtree.

mod handlers;
pub mod rules;
pub mod store;

pub use self::handlers::OrgView;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::list_orgs)
        .service(handlers::get_org)
        .service(handlers::create_org)
        .service(handlers::grant_staff);
}
