//! The nearby search: the index (Redis GEO or the in-process grid) proposes ids in widening
//! rings; SQL rows decide (exact distance, amenities, opening hours, still active). Both
//! indexes therefore give exactly the brute-force answer over the same rows.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::rules::Hours;
use super::store::{self, Station};
use crate::AppState;
use crate::domain::Coord;
use crate::error::{ApiError, ApiResult, Text};
use crate::hot::{DISTANCE_SLACK_M, Near};

/// What a rider asks for.
#[derive(Debug, Clone, Copy)]
pub struct Criteria {
    pub center: Coord,
    pub radius_m: f64,
    /// Bits that must all be present.
    pub amenities: i32,
    pub open_now: bool,
    pub limit: usize,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub station: Station,
    /// Parsed once for the filter and the answer.
    pub hours: Option<Hours>,
    pub distance_m: f64,
    pub open_now: bool,
}

pub fn zone_of(station: &Station) -> Tz {
    station
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai)
}

/// Open at `now` in the station's own zone (unreadable hours count as closed).
pub fn is_open(station: &Station, hours: Option<&Hours>, now: DateTime<Utc>) -> bool {
    hours.is_some_and(|h| h.is_open_at(now.with_timezone(&zone_of(station)).naive_local()))
}

/// Search radii, narrow first: most riders find enough stations in the first ring, and a
/// narrow GEOSEARCH costs Redis little even in a dense city.
fn rings(radius_m: f64) -> Vec<f64> {
    let mut out: Vec<f64> = [2_000.0, 10_000.0]
        .into_iter()
        .filter(|r| *r < radius_m)
        .collect();
    out.push(radius_m);
    out
}

/// Candidates are read from SQL in growing chunks, nearest first: most searches need only
/// the first `limit` plus a few rows, however dense the city.
pub async fn search(state: &AppState, c: Criteria) -> ApiResult<Vec<Hit>> {
    let now = state.clock.now();
    // id -> the row's verdict: Some(hit) when it passes the filters, None when it never can.
    let mut seen: HashMap<i64, Option<Hit>> = HashMap::new();
    for ring in rings(c.radius_m) {
        let candidates = within(state, c.center, ring).await?;
        let mut next = 0;
        let mut chunk = c.limit + 8;
        loop {
            let mut fresh = Vec::with_capacity(chunk);
            while next < candidates.len() && fresh.len() < chunk {
                let id = candidates[next].id;
                if !seen.contains_key(&id) {
                    fresh.push(id);
                }
                next += 1;
            }
            if !fresh.is_empty() {
                evaluate(state, &c, now, fresh, &mut seen).await?;
            }
            // Every station not read yet is at least this far (by the index, give or take
            // its slack), and every one beyond the ring is outside the index's answer.
            let bound = match candidates.get(next) {
                Some(n) => (n.distance_m - DISTANCE_SLACK_M).min(ring),
                None => ring,
            };
            let settled = seen
                .values()
                .flatten()
                .filter(|h| h.distance_m <= bound)
                .count();
            if settled >= c.limit || (next >= candidates.len() && ring >= c.radius_m) {
                let mut hits: Vec<Hit> = seen
                    .into_values()
                    .flatten()
                    .filter(|h| h.distance_m <= bound)
                    .collect();
                hits.sort_by(|a, b| {
                    a.distance_m
                        .total_cmp(&b.distance_m)
                        .then(a.station.id.cmp(&b.station.id))
                });
                hits.truncate(c.limit);
                return Ok(hits);
            }
            if next >= candidates.len() {
                break;
            }
            chunk *= 2;
        }
    }
    Ok(Vec::new())
}

/// Reads the rows of `ids` and records each one's verdict.
async fn evaluate(
    state: &AppState,
    c: &Criteria,
    now: DateTime<Utc>,
    ids: Vec<i64>,
    seen: &mut HashMap<i64, Option<Hit>>,
) -> ApiResult<()> {
    for id in &ids {
        seen.insert(*id, None);
    }
    let rows = state
        .db
        .run(move |conn| -> ApiResult<_> { Ok(store::active_by_ids(conn, &ids)?) })
        .await?;
    for s in rows {
        let distance_m = c.center.distance_m(&Coord {
            lat: s.lat,
            lng: s.lng,
        });
        if s.amenities & c.amenities != c.amenities || distance_m > c.radius_m {
            continue;
        }
        let hours = Hours::from_stored(&s.opening_hours);
        let open_now = is_open(&s, hours.as_ref(), now);
        if c.open_now && !open_now {
            continue;
        }
        let id = s.id;
        seen.insert(
            id,
            Some(Hit {
                station: s,
                hours,
                distance_m,
                open_now,
            }),
        );
    }
    Ok(())
}

/// Ids the index holds within `radius_m`, rebuilding it first when it was lost.
async fn within(state: &AppState, center: Coord, radius_m: f64) -> ApiResult<Vec<Near>> {
    if let Some(ids) = state.geo.within(center, radius_m).await? {
        return Ok(ids);
    }
    rebuild(state).await?;
    state
        .geo
        .within(center, radius_m)
        .await?
        .ok_or_else(|| ApiError::Unavailable {
            code: "hot_store.rebuilding",
            detail: Text::new("数据正在重建，请稍后再试", "Being rebuilt; retry shortly"),
            retry_after_secs: 1,
        })
}

/// Rebuilds the nearby index from SQL under the hot store's lock (503 while another
/// process does it).
pub async fn rebuild(state: &AppState) -> ApiResult<()> {
    let lock = state.keys.key("stations", "rebuild");
    crate::hot::under_lock(state.hot.as_ref(), &lock, async {
        let points = state
            .db
            .run(|c| -> ApiResult<_> { Ok(store::active_points(c)?) })
            .await?;
        let points: Vec<(i64, Coord)> = points
            .into_iter()
            .map(|(id, lat, lng)| (id, Coord { lat, lng }))
            .collect();
        state.geo.replace(&points).await?;
        tracing::info!(
            stations = points.len(),
            index = state.geo.kind(),
            "nearby index built"
        );
        Ok(())
    })
    .await
}

/// Puts a station's current position into the index (or takes it out when inactive). The
/// SQL row is already committed; a failure here is repaired by [`sync_every`].
pub async fn index(state: &AppState, s: &Station) {
    let done = if s.active {
        state
            .geo
            .put(
                s.id,
                Coord {
                    lat: s.lat,
                    lng: s.lng,
                },
            )
            .await
    } else {
        state.geo.remove(s.id).await
    };
    if let Err(err) = done {
        tracing::warn!(station_id = s.id, error = %err, "nearby index not updated; the periodic check repairs it");
    }
}

/// Builds the index at start-up, then checks every `every` (when given) that it holds as
/// many stations as SQL has active ones (a Redis flush, or an index write that failed) and
/// rebuilds when not.
pub async fn sync_every(state: web::Data<AppState>, every: Option<Duration>) {
    loop {
        let check = async {
            let sql = state
                .db
                .run(|c| -> ApiResult<_> { Ok(store::active_count(c)?) })
                .await?;
            let held = state.geo.count().await?;
            if held != Some(sql as u64) {
                tracing::info!(sql, held, "nearby index out of step with SQL; rebuilding");
                rebuild(&state).await?;
            }
            Ok::<(), ApiError>(())
        };
        if let Err(err) = check.await {
            tracing::warn!(error = %err, "nearby index check failed");
        }
        let Some(every) = every else { return };
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::rings;

    #[test]
    fn rings_widen_up_to_the_radius() {
        assert_eq!(rings(500.0), vec![500.0]);
        assert_eq!(rings(5_000.0), vec![2_000.0, 5_000.0]);
        assert_eq!(rings(50_000.0), vec![2_000.0, 10_000.0, 50_000.0]);
    }
}
