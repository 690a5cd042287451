//! Where every feature's routes are mounted: the operations endpoints at the root and the
//! API under `/api/v1`. The server and the OpenAPI generator both mount from here.

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn root(cfg: &mut ServiceConfig) {
    crate::ops::routes(cfg);
}

pub fn api_scope() -> scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // actix tries resources in the order they were added, and a path with parameters costs a
    // regex match each time it is tried: the members' busiest paths go first (rest-station
    // searches, draws, quiz attempts, check-ins, job search), the staff's after.
    scope::scope("/api/v1")
        .configure(crate::stations::routes)
        .configure(crate::draws::routes)
        .configure(crate::quizzes::routes)
        .configure(crate::reading::routes)
        .configure(crate::jobs::routes)
        .configure(crate::auth::routes)
        .configure(crate::users::routes)
        .configure(crate::enrollment::routes)
        .configure(crate::volunteering::routes)
        .configure(crate::raffles::routes)
        .configure(crate::orgs::routes)
}
