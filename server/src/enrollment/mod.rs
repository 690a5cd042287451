//! Enrollment (入会): members apply from the phone, staff of the org subtree review,
//! approval issues a member number and an electronic member card (会员卡), and members
//! move between unions by transfer (会员关系转接). ID numbers are encrypted at rest.

mod handlers;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::submit_enrollment)
        .service(handlers::list_my_enrollments)
        .service(handlers::withdraw_enrollment)
        .service(handlers::list_enrollments)
        .service(handlers::approve_enrollment)
        .service(handlers::reject_enrollment)
        .service(handlers::reveal_id_number)
        .service(handlers::get_my_membership)
        .service(handlers::verify_card)
        .service(handlers::request_transfer)
        .service(handlers::list_transfers)
        .service(handlers::approve_transfer)
        .service(handlers::reject_transfer)
        .service(handlers::list_audit_log)
        .service(handlers::membership_stats);
}
