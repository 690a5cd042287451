//! HTTP endpoints of rest stations.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Days, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::nearby::{self, Criteria, Hit};
use super::rows::{self, Row};
use super::rules::{
    self, Amenity, Hours, MAX_RADIUS_M, ReportKind, StationInput, VISIT_RADIUS_M, average_rating,
    check_location,
};
use super::store::{self, NewStation, Report, Resolve, Station};
use crate::AppState;
use crate::auth::{self, AuthUser, MaybeUser, Role};
use crate::db::DbConn;
use crate::domain::{
    Coord, Datum, Fields, LatLng, OrgId, UserId, contact_phone, mask_digit_runs, mask_phone,
    text_field,
};
use crate::error::{ApiError, ApiResult, FieldError, Text};
use crate::http::{Json, Page, Paged, Query};

/// Ids and positions, as the nearby index takes them.
type Points = Vec<(i64, Coord)>;

const CSV_LIMIT: usize = crate::http::UPLOAD_LIMIT;
const DEFAULT_RADIUS_M: f64 = 5_000.0;

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rating {
    /// To one decimal; null before the first review.
    pub average: Option<f64>,
    pub count: i64,
}

/// Reports members filed that no admin has resolved yet: the station's live status.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenReports {
    pub closed: i32,
    pub broken: i32,
    pub other: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationView {
    pub id: i64,
    pub org_id: OrgId,
    pub name: String,
    pub address: String,
    /// GCJ-02.
    pub location: Coord,
    pub amenities: Vec<Amenity>,
    /// `"24/7"` or `[{"days":[1,2,3,4,5],"open":"08:00","close":"20:00"}]`.
    #[schema(value_type = Object)]
    pub opening_hours: Value,
    pub time_zone: String,
    /// Masked unless the caller is signed in.
    pub phone: String,
    pub open_now: bool,
    pub rating: Rating,
    pub open_reports: OpenReports,
    pub updated_at: DateTime<Utc>,
}

fn view(s: Station, now: DateTime<Utc>, reveal_phone: bool) -> StationView {
    let row = Row::new(s);
    view_of(&row, row.is_open(now), reveal_phone)
}

fn view_of(row: &Row, open_now: bool, reveal_phone: bool) -> StationView {
    let s = &row.station;
    StationView {
        id: s.id,
        org_id: OrgId(s.org_id),
        // To 1e-7 degrees (about 1 cm): the digits beyond are conversion noise, and a
        // phone downloads them twenty times per nearby list.
        location: Coord {
            lat: (s.lat * 1e7).round() / 1e7,
            lng: (s.lng * 1e7).round() / 1e7,
        },
        amenities: Amenity::list(s.amenities),
        opening_hours: row.hours.as_ref().map_or(Value::Null, Hours::to_json),
        time_zone: s.time_zone.clone(),
        phone: if reveal_phone {
            s.phone.clone()
        } else {
            mask_phone(&s.phone)
        },
        open_now,
        rating: Rating {
            average: average_rating(s.rating_sum, s.rating_count),
            count: s.rating_count,
        },
        open_reports: OpenReports {
            closed: s.open_closed,
            broken: s.open_broken,
            other: s.open_other,
        },
        name: s.name.clone(),
        address: s.address.clone(),
        updated_at: utc(s.updated_at),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationBody {
    pub org_id: i64,
    pub name: String,
    pub address: String,
    pub location: LatLng,
    /// `gcj02` (default) or `wgs84`; stored and answered in GCJ-02.
    #[serde(default)]
    pub coord: Datum,
    #[serde(default)]
    pub amenities: Vec<String>,
    /// `"24/7"` or weekly rules, in the station's time zone.
    #[schema(value_type = Object)]
    pub opening_hours: Value,
    /// IANA zone, default `Asia/Shanghai`.
    pub time_zone: Option<String>,
    pub phone: String,
}

fn parse_body(b: StationBody) -> ApiResult<StationInput> {
    let mut f = Fields::new();
    let name = f.check(text_field("name", &b.name, 2, 60));
    let address = f.check(text_field("address", &b.address, 2, 200));
    let location = f.check(check_location(
        ["location"; 2],
        b.location.lat,
        b.location.lng,
        b.coord,
    ));
    let amenities = f.check(Amenity::parse_list(
        "amenities",
        b.amenities.iter().map(String::as_str),
    ));
    let hours = f.check(Hours::from_json("opening_hours", &b.opening_hours));
    let time_zone = b.time_zone.unwrap_or_else(|| "Asia/Shanghai".to_owned());
    f.check(crate::quizzes::rules::parse_time_zone(&time_zone));
    let phone = f.check(contact_phone("phone", &b.phone));
    f.finish()?;
    match (name, address, location, amenities, hours, phone) {
        (Some(name), Some(address), Some(location), Some(amenities), Some(hours), Some(phone)) => {
            Ok(StationInput {
                org_id: b.org_id,
                name,
                address,
                location,
                amenities,
                hours,
                time_zone,
                phone,
            })
        }
        _ => Err(ApiError::internal("fields checked above")),
    }
}

fn new_station(input: StationInput, by: UserId, now: NaiveDateTime) -> NewStation {
    NewStation {
        org_id: input.org_id,
        name: input.name,
        address: input.address,
        lat: input.location.lat,
        lng: input.location.lng,
        amenities: input.amenities,
        opening_hours: input.hours.to_stored(),
        time_zone: input.time_zone,
        phone: input.phone,
        active: true,
        created_by: by.0,
        created_at: now,
        updated_at: now,
    }
}

fn station_for_admin(conn: &mut DbConn, user: UserId, id: i64) -> ApiResult<Station> {
    let s = store::station(conn, id)?;
    if !s.active {
        return Err(ApiError::NotFound);
    }
    auth::require_role_or_hide(conn, user, OrgId(s.org_id), Role::OrgAdmin)?;
    Ok(s)
}

/// Adds a station to an org the caller administers. Accepts `Idempotency-Key`.
#[utoipa::path(tag = "stations", request_body = StationBody, params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = StationView), (status = 403), (status = 422)), security(("bearer" = [])))]
#[post(
    "/admin/stations",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional)"
)]
pub async fn create_station(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<StationBody>,
) -> ApiResult<HttpResponse> {
    let new = new_station(parse_body(body.0)?, user.id, state.clock.now_naive());
    let s = state
        .db
        .run(move |c| -> ApiResult<Station> {
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::OrgAdmin, "org_id")?;
            Ok(store::insert_station(c, &new)?)
        })
        .await?;
    nearby::index(&state, &s).await;
    tracing::info!(station_id = s.id, by = user.id.0, "station created");
    Ok(HttpResponse::Created().json(view(s, state.clock.now(), true)))
}

/// Replaces a station's description (moving it to another org needs admin rights on both).
#[utoipa::path(tag = "stations", params(("id" = i64, Path)), request_body = StationBody,
    responses((status = 200, body = StationView), (status = 403), (status = 404), (status = 422)), security(("bearer" = [])))]
#[put("/admin/stations/{id}")]
pub async fn update_station(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<StationBody>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let new = new_station(parse_body(body.0)?, user.id, state.clock.now_naive());
    let s = state
        .db
        .run(move |c| -> ApiResult<Station> {
            station_for_admin(c, user.id, id)?;
            auth::require_role_for_field(c, user.id, OrgId(new.org_id), Role::OrgAdmin, "org_id")?;
            Ok(store::update_station(c, id, &new)?)
        })
        .await?;
    nearby::index(&state, &s).await;
    Ok(HttpResponse::Ok().json(view(s, state.clock.now(), true)))
}

/// Takes a station off the map (its visits, reviews and reports stay on record).
#[utoipa::path(tag = "stations", params(("id" = i64, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
#[delete("/admin/stations/{id}")]
pub async fn delete_station(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let s = state
        .db
        .run(move |c| -> ApiResult<Station> {
            station_for_admin(c, user.id, id)?;
            store::deactivate(c, id, now)?;
            Ok(store::station(c, id)?)
        })
        .await?;
    nearby::index(&state, &s).await;
    tracing::info!(station_id = id, by = user.id.0, "station removed");
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub imported: usize,
    pub ids: Vec<i64>,
}

/// Imports stations from CSV (`text/csv`, header
/// `org_id,name,address,lat,lng,coord,amenities,opening_hours,time_zone,phone`; amenities
/// `charging|water`; hours `24/7` or `1-5 08:00-20:00; 6,7 09:00-17:00`). All rows or none;
/// errors name row and column (`rows[3].lat`, row 1 = the first data row). Accepts
/// `Idempotency-Key`: a file sent again with its key is stored once.
#[utoipa::path(tag = "stations", request_body(content = String, content_type = "text/csv"),
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = Imported), (status = 403), (status = 413), (status = 415), (status = 422)),
    security(("bearer" = [])))]
#[post(
    "/admin/stations/import",
    wrap = "actix_web::middleware::from_fn(crate::idempotency::optional_upload)"
)]
pub async fn import_stations(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = crate::http::read_csv(&req, payload, CSV_LIMIT).await?;
    let rows = rules::parse_csv(&body).map_err(ApiError::Validation)?;
    let now = state.clock.now_naive();
    let rows: Vec<NewStation> = rows
        .into_iter()
        .map(|r| new_station(r, user.id, now))
        .collect();
    let (ids, points) = state
        .db
        .run(move |c| -> ApiResult<(Vec<i64>, Points)> {
            let mut orgs: Vec<(i64, usize)> = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                if !orgs.iter().any(|(o, _)| *o == r.org_id) {
                    orgs.push((r.org_id, i + 1));
                }
            }
            for (org, row) in orgs {
                auth::require_role_for_field(c, user.id, OrgId(org), Role::OrgAdmin, "org_id")
                    .map_err(|e| match e {
                        ApiError::Validation(errs) => ApiError::Validation(
                            errs.into_iter()
                                .map(|e| e.at(format!("rows[{row}].org_id")))
                                .collect(),
                        ),
                        other => other,
                    })?;
            }
            let ids = store::insert_stations(c, &rows)?;
            let points = ids
                .iter()
                .zip(&rows)
                .map(|(id, r)| {
                    (
                        *id,
                        Coord {
                            lat: r.lat,
                            lng: r.lng,
                        },
                    )
                })
                .collect();
            Ok((ids, points))
        })
        .await?;
    if let Err(err) = state.geo.put_many(&points).await {
        tracing::warn!(error = %err, "nearby index not updated; the periodic check repairs it");
    }
    tracing::info!(stations = ids.len(), by = user.id.0, "stations imported");
    Ok(HttpResponse::Created().json(Imported {
        imported: ids.len(),
        ids,
    }))
}

/// An org subtree's stations, by id.
#[utoipa::path(tag = "stations", params(("id" = i64, Path), crate::http::PageQuery),
    responses((status = 200, body = Paged<StationView>), (status = 403), (status = 404)), security(("bearer" = [])))]
#[get("/admin/orgs/{id}/stations")]
pub async fn org_stations(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<crate::http::PageQuery>,
) -> ApiResult<HttpResponse> {
    let org = OrgId(id.into_inner());
    let page = Page::try_from(&query.into_inner())?;
    let rows = state
        .db
        .run(move |c| -> ApiResult<Vec<Station>> {
            auth::require_role(c, user.id, org, Role::Organizer)?;
            let path = crate::orgs::store::org(c, org)?.path;
            Ok(store::list_of_subtree(
                c,
                &path,
                page.after,
                page.limit + 1,
            )?)
        })
        .await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(page.finish(rows, |s| s.id).map(|s| view(s, now, true))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NearbyQuery {
    pub lat: f64,
    pub lng: f64,
    /// `gcj02` (default) or `wgs84`.
    pub coord: Option<Datum>,
    /// Default 5000, at most 50000.
    pub radius_m: Option<f64>,
    /// Comma-separated; every one must be present.
    pub amenities: Option<String>,
    /// Only stations open now, in their own time zone.
    pub open_now: Option<bool>,
    /// Default 20, at most 100.
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyItem {
    pub station: StationView,
    /// Metres from the given point, to 0.1 m.
    pub distance_m: f64,
    pub open_now: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyList {
    pub items: Vec<NearbyItem>,
}

fn query_error(e: FieldError) -> ApiError {
    ApiError::invalid_query(e.field.clone(), e.message)
}

/// Stations near a point, nearest first.
#[utoipa::path(tag = "stations", params(NearbyQuery),
    responses((status = 200, body = NearbyList), (status = 400), (status = 503)))]
#[get("/stations/nearby")]
pub async fn nearby_stations(
    state: web::Data<AppState>,
    query: Query<NearbyQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let center = check_location(["lat", "lng"], q.lat, q.lng, q.coord.unwrap_or_default())
        .map_err(query_error)?;
    let radius_m = q.radius_m.unwrap_or(DEFAULT_RADIUS_M);
    if !radius_m.is_finite() || !(1.0..=MAX_RADIUS_M).contains(&radius_m) {
        return Err(ApiError::invalid_query(
            "radius_m",
            Text::new("半径应为 1-50000 米", "radius_m must be 1 to 50000 metres"),
        ));
    }
    let amenities =
        Amenity::parse_list("amenities", q.amenities.as_deref().unwrap_or("").split(','))
            .map_err(query_error)?;
    let limit = Page::limit(q.limit).map_err(query_error)?;
    let hits = nearby::search(
        &state,
        Criteria {
            center,
            radius_m,
            amenities,
            open_now: q.open_now.unwrap_or(false),
            limit: limit as usize,
        },
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .insert_header(("Cache-Control", "no-store"))
        .body(nearby_json(&hits)))
}

/// A station as anonymous callers see it, as JSON without `open_now` and the closing brace:
/// the same in every search until the row changes, so rendered once per row.
fn rendered(row: &Row) -> &str {
    row.rendered.get_or_init(|| {
        let mut fields = match serde_json::to_value(view_of(row, false, false)) {
            Ok(Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        fields.remove("open_now");
        let mut text = Value::Object(fields).to_string();
        text.pop();
        text
    })
}

/// [`NearbyList`] as JSON, written from the rendered stations.
fn nearby_json(hits: &[Hit]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + hits.len() * 768);
    out.extend_from_slice(br#"{"items":["#);
    for (i, hit) in hits.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let open: &[u8] = if hit.open_now { b"true" } else { b"false" };
        out.extend_from_slice(br#"{"station":"#);
        let station = rendered(&hit.row);
        out.extend_from_slice(station.as_bytes());
        if station.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(br#""open_now":"#);
        out.extend_from_slice(open);
        out.extend_from_slice(br#"},"distance_m":"#);
        out.extend_from_slice(
            Value::from((hit.distance_m * 10.0).round() / 10.0)
                .to_string()
                .as_bytes(),
        );
        out.extend_from_slice(br#","open_now":"#);
        out.extend_from_slice(open);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: i64,
    pub station_id: i64,
    pub kind: ReportKind,
    pub detail: String,
    pub reported_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

fn report_view(r: Report) -> ReportView {
    ReportView {
        id: r.id,
        station_id: r.station_id,
        kind: ReportKind::parse(&r.kind).unwrap_or(ReportKind::Other),
        // Shown to everyone on the station: a number typed into it is masked.
        detail: mask_digit_runs(&r.detail),
        reported_at: utc(r.created_at),
        resolved_at: r.resolved_at.map(utc),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationDetail {
    #[serde(flatten)]
    pub station: StationView,
    /// The newest unresolved reports (at most 20), without who filed them.
    pub reports: Vec<ReportView>,
}

/// One station with its rating and open reports.
#[utoipa::path(tag = "stations", params(("id" = i64, Path)),
    responses((status = 200, body = StationDetail), (status = 404)))]
#[get("/stations/{id}")]
pub async fn get_station(
    state: web::Data<AppState>,
    MaybeUser(user): MaybeUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let (s, reports) = state
        .db
        .run(move |c| -> ApiResult<(Station, Vec<Report>)> {
            let s = store::station(c, id)?;
            if !s.active {
                return Err(ApiError::NotFound);
            }
            Ok((s, store::open_reports(c, id, 20)?))
        })
        .await?;
    Ok(HttpResponse::Ok().json(StationDetail {
        station: view(s, state.clock.now(), user.is_some()),
        reports: reports.into_iter().map(report_view).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitBody {
    pub location: LatLng,
    #[serde(default)]
    pub coord: Datum,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    pub id: i64,
    pub station_id: i64,
    /// The local day of the visit in the station's zone.
    pub day: String,
    pub distance_m: f64,
    pub visited_at: DateTime<Utc>,
}

/// A rider checks in at a station: within 300 m, once per local day (a second check-in
/// the same day answers 200 with the first).
#[utoipa::path(tag = "stations", params(("id" = i64, Path)), request_body = VisitBody,
    responses((status = 201, body = VisitView), (status = 200, body = VisitView), (status = 404), (status = 422)),
    security(("bearer" = [])))]
#[post("/stations/{id}/visits")]
pub async fn visit(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<VisitBody>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let b = body.0;
    let here = check_location(["location"; 2], b.location.lat, b.location.lng, b.coord)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let now = state.clock.now();
    let (v, new) = state
        .db
        .run(move |c| -> ApiResult<(store::Visit, bool)> {
            let s = store::station(c, id)?;
            if !s.active {
                return Err(ApiError::NotFound);
            }
            let distance = here.distance_m(&Coord {
                lat: s.lat,
                lng: s.lng,
            });
            if distance > VISIT_RADIUS_M {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "location",
                    Text::owned(
                        format!("距驿站 {distance:.0} 米，需在 300 米内打卡"),
                        format!("{distance:.0} m from the station; check in within 300 m"),
                    ),
                )]));
            }
            let day = now
                .with_timezone(&rows::zone_of(&s))
                .date_naive()
                .to_string();
            let distance = (distance * 10.0).round() / 10.0;
            Ok(store::record_visit(
                c,
                id,
                user.id,
                &day,
                distance,
                now.naive_utc(),
            )?)
        })
        .await?;
    let view = VisitView {
        id: v.id,
        station_id: v.station_id,
        day: v.day,
        distance_m: v.distance_m,
        visited_at: utc(v.created_at),
    };
    Ok(if new {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// 1 to 5.
    pub rating: i32,
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewView {
    pub station_id: i64,
    pub rating: i32,
    pub comment: String,
    /// True when this replaced the member's earlier review.
    pub replaced: bool,
    pub station_rating: Rating,
}

/// Rates a station, one review per member (a second replaces the first).
#[utoipa::path(tag = "stations", params(("id" = i64, Path)), request_body = ReviewBody,
    responses((status = 201, body = ReviewView), (status = 200, body = ReviewView), (status = 404), (status = 422)),
    security(("bearer" = [])))]
#[post("/stations/{id}/reviews")]
pub async fn review(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<ReviewBody>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let b = body.0;
    let mut f = Fields::new();
    if !(1..=5).contains(&b.rating) {
        f.push(FieldError::new(
            "rating",
            Text::new("评分应为 1-5", "rating must be 1 to 5"),
        ));
    }
    let comment = f.check(text_field("comment", &b.comment, 0, 500));
    f.finish()?;
    let comment = comment.unwrap_or_default();
    let now = state.clock.now_naive();
    let ((r, replaced), s) = state
        .db
        .run(move |c| -> ApiResult<_> {
            let done = store::upsert_review(c, id, user.id, b.rating, &comment, now)?;
            Ok((done, store::station(c, id)?))
        })
        .await?;
    nearby::touched(&state, id).await;
    let out = ReviewView {
        station_id: r.station_id,
        rating: r.rating,
        comment: r.comment,
        replaced,
        station_rating: Rating {
            average: average_rating(s.rating_sum, s.rating_count),
            count: s.rating_count,
        },
    };
    Ok(if replaced {
        HttpResponse::Ok().json(out)
    } else {
        HttpResponse::Created().json(out)
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// `closed`, `broken` or `other`.
    pub kind: String,
    #[serde(default)]
    pub detail: String,
}

/// Reports a problem; it shows on the station until an admin resolves it. A member's
/// second open report of the same kind updates the first.
#[utoipa::path(tag = "stations", params(("id" = i64, Path)), request_body = ReportBody,
    responses((status = 201, body = ReportView), (status = 200, body = ReportView), (status = 404), (status = 422)),
    security(("bearer" = [])))]
#[post("/stations/{id}/reports")]
pub async fn report(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    body: Json<ReportBody>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let b = body.0;
    let mut f = Fields::new();
    let kind = ReportKind::parse(b.kind.trim());
    if kind.is_none() {
        f.push(FieldError::new(
            "kind",
            Text::new(
                "类型应为 closed、broken 或 other",
                "kind must be closed, broken or other",
            ),
        ));
    }
    // "other" says nothing without a description.
    let min = if kind == Some(ReportKind::Other) {
        1
    } else {
        0
    };
    let detail = f.check(text_field("detail", &b.detail, min, 500));
    f.finish()?;
    let (Some(kind), Some(detail)) = (kind, detail) else {
        return Err(ApiError::internal("fields checked above"));
    };
    let now = state.clock.now_naive();
    let (r, new) = state
        .db
        .run(move |c| -> ApiResult<_> {
            Ok(store::file_report(
                c,
                id,
                user.id,
                kind.as_str(),
                &detail,
                now,
            )?)
        })
        .await?;
    nearby::touched(&state, id).await;
    tracing::info!(
        station_id = id,
        report_id = r.id,
        kind = kind.as_str(),
        "station reported"
    );
    Ok(if new {
        HttpResponse::Created().json(report_view(r))
    } else {
        HttpResponse::Ok().json(report_view(r))
    })
}

/// Marks a report handled; it no longer shows on the station. 409 the second time.
#[utoipa::path(tag = "stations", params(("id" = i64, Path)),
    responses((status = 200, body = ReportView), (status = 404), (status = 409, description = "station_report.resolved")),
    security(("bearer" = [])))]
#[post("/admin/station-reports/{id}/resolve")]
pub async fn resolve_report(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let now = state.clock.now_naive();
    let r = state
        .db
        .run(move |c| -> ApiResult<Report> {
            let station_id = store::report(c, id)?.station_id;
            let s = store::station(c, station_id)?;
            auth::require_role_or_hide(c, user.id, OrgId(s.org_id), Role::OrgAdmin)?;
            match store::resolve_report(c, id, user.id, now)? {
                Resolve::Done(r) => Ok(r),
                Resolve::AlreadyResolved => Err(ApiError::Conflict {
                    code: "station_report.resolved",
                    detail: Text::new("该报告已处理", "This report was already resolved"),
                }),
            }
        })
        .await?;
    nearby::touched(&state, r.station_id).await;
    Ok(HttpResponse::Ok().json(report_view(r)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Days of visits to count back from today (China time), default 30, at most 366.
    pub days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayVisits {
    pub date: String,
    pub visits: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationStats {
    pub org_id: OrgId,
    pub stations: i64,
    pub rating: Rating,
    pub open_reports: i64,
    pub visits_total: i64,
    /// Every day of the window, oldest first (days without visits included).
    pub visits_per_day: Vec<DayVisits>,
}

/// Station figures of an org subtree.
#[utoipa::path(tag = "stations", params(("id" = i64, Path), StatsQuery),
    responses((status = 200, body = StationStats), (status = 400), (status = 403), (status = 404)), security(("bearer" = [])))]
#[get("/admin/orgs/{id}/stats/stations")]
pub async fn station_stats(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
    query: Query<StatsQuery>,
) -> ApiResult<HttpResponse> {
    let org = OrgId(id.into_inner());
    let days = query.into_inner().days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(ApiError::invalid_query(
            "days",
            Text::new("days 取值范围为 1-366", "days must be between 1 and 366"),
        ));
    }
    let today = state
        .clock
        .now()
        .with_timezone(&crate::ratelimit::china_time())
        .date_naive();
    let first = today
        .checked_sub_days(Days::new(u64::from(days - 1)))
        .unwrap_or(today);
    let since = first.to_string();
    let figures = state
        .db
        .run(move |c| -> ApiResult<store::SubtreeFigures> {
            auth::require_role(c, user.id, org, Role::Organizer)?;
            let path = crate::orgs::store::org(c, org)?.path;
            Ok(store::subtree_figures(c, &path, &since)?)
        })
        .await?;
    let visits_per_day: Vec<DayVisits> = first
        .iter_days()
        .take(days as usize)
        .map(|d| {
            let date = d.to_string();
            let visits = figures
                .visits
                .iter()
                .find(|(day, _)| *day == date)
                .map_or(0, |(_, n)| *n);
            DayVisits { date, visits }
        })
        .collect();
    Ok(HttpResponse::Ok().json(StationStats {
        org_id: org,
        stations: figures.stations,
        rating: Rating {
            average: average_rating(figures.rating_sum, figures.rating_count),
            count: figures.rating_count,
        },
        open_reports: figures.open_reports,
        visits_total: visits_per_day.iter().map(|d| d.visits).sum(),
        visits_per_day,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stations::rows::sample;

    /// The hand-written answer is the one serde would write for the same stations.
    #[test]
    fn nearby_json_is_the_serialized_list() {
        let at = Coord {
            lat: 29.1,
            lng: 119.7,
        };
        let hits: Vec<Hit> = [
            (sample(1, at, 3, "24/7"), 12.34, true),
            (
                sample(
                    2,
                    at,
                    0,
                    r#"[{"days":[1,2,3],"open":"20:00","close":"06:00"}]"#,
                ),
                1_000.0,
                false,
            ),
            (sample(3, at, 31, "not hours"), 49_999.96, false),
        ]
        .into_iter()
        .map(|(entry, distance_m, open_now)| Hit {
            row: entry.row,
            distance_m,
            open_now,
        })
        .collect();
        for n in 0..=hits.len() {
            let list = NearbyList {
                items: hits[..n]
                    .iter()
                    .map(|h| NearbyItem {
                        station: view_of(&h.row, h.open_now, false),
                        distance_m: (h.distance_m * 10.0).round() / 10.0,
                        open_now: h.open_now,
                    })
                    .collect(),
            };
            let ours: Value = serde_json::from_slice(&nearby_json(&hits[..n])).unwrap();
            assert_eq!(ours, serde_json::to_value(&list).unwrap());
        }
        // Rendered twice (the cached copy) and still the same.
        let again: Value = serde_json::from_slice(&nearby_json(&hits)).unwrap();
        assert_eq!(again["items"][0]["station"]["phone"], "057******1234");
    }
}
