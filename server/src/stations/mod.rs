//! Rest stations for outdoor workers (户外劳动者驿站): admins keep stations (one by one or
//! by CSV); riders find the nearest open one with what they need, check in within 300 m,
//! rate it and report problems, which show on the station until an admin resolves them.

mod density;
mod handlers;
pub mod nearby;
pub mod rows;
pub mod rules;
pub mod store;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // `/stations/nearby` before `/stations/{id}`, which would otherwise take it.
    cfg.service(handlers::nearby_stations)
        .service(handlers::get_station)
        .service(handlers::visit)
        .service(handlers::review)
        .service(handlers::report)
        .service(handlers::create_station)
        .service(handlers::import_stations)
        .service(handlers::update_station)
        .service(handlers::delete_station)
        .service(handlers::org_stations)
        .service(handlers::resolve_report)
        .service(handlers::station_stats);
}
