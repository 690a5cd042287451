//! The OpenAPI document, generated from the handlers' annotations and the routes as they
//! are mounted (so scope prefixes are right). `api-spec/openapi.json` is this, committed.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Huigong (惠工) API",
        description = "Backend of a trade-union member app: enrollment, quizzes and draws, reading check-ins, volunteering, jobs and rest stations. Errors are RFC 9457 problem+json.",
        version = "1.0.0"
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "auth", description = "Logins and sessions"),
        (name = "users", description = "The signed-in user"),
        (name = "orgs", description = "Union organizations and staff roles"),
        (name = "enrollment", description = "Enrollment (入会), member cards, transfers"),
        (name = "quizzes", description = "Quiz campaigns (答题) and leaderboards"),
        (name = "draws", description = "Prize draws (抽奖): odds, draws, wins, redemption"),
        (name = "raffles", description = "Verifiable raffles (公开抽签)"),
        (name = "reading", description = "Reading check-ins (读书打卡)"),
        (name = "jobs", description = "Job postings and applications (春送岗位)"),
        (name = "volunteering", description = "Volunteer activities and hours (志愿服务)"),
        (name = "stations", description = "Rest stations for outdoor workers (户外劳动者驿站)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The whole document, as served at `/openapi.json`.
pub fn spec() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::root)
        .service(crate::routes::api_scope())
        .split_for_parts();
    api
}

/// Pretty JSON with a trailing newline, exactly as committed.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
