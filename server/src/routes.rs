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
    scope::scope("/api/v1")
        .configure(crate::auth::routes)
        .configure(crate::users::routes)
        .configure(crate::orgs::routes)
        .configure(crate::enrollment::routes)
        .configure(crate::quizzes::routes)
        .configure(crate::draws::routes)
        .configure(crate::raffles::routes)
        .configure(crate::reading::routes)
        .configure(crate::jobs::routes)
        .configure(crate::volunteering::routes)
        .configure(crate::stations::routes)
}
