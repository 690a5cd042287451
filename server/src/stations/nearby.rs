//! The nearby search: the index (Redis GEO or the in-process grid) proposes ids in widening
//! rings with the stamp of its change log; the in-memory rows, caught up to that stamp,
//! decide (exact distance, amenities, opening hours, still active). Both indexes therefore
//! give exactly the brute-force answer over the same rows, and a search reads no SQL unless
//! a station changed since the last one.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Utc};

use super::rows::{Entry, Row, WallClock};
use super::store::{self, Station};
use crate::AppState;
use crate::domain::Coord;
use crate::error::{ApiError, ApiResult, Text};
use crate::hot::{DISTANCE_SLACK_M, Found, widest_radius_within};

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
    pub row: Arc<Row>,
    pub distance_m: f64,
    pub open_now: bool,
}

/// Half the earth's circumference in Redis's geohash projection (its `MERCATOR_MAX`).
const MERCATOR_MAX_M: f64 = 20_037_726.37;

/// Search radii, narrow first (most riders find enough stations in the first ring), each
/// the widest Redis searches at one geohash precision. GEOSEARCH measures every point in
/// the 3x3 geohash cells of the precision its radius calls for, and the cells halve in
/// size at each MERCATOR_MAX / 2^k: a radius just over such a boundary reads four times
/// the area of one just under it (a 5 km search reads as much as a 9.8 km one). So the
/// rings sit just under the boundaries (as Redis gets them, with the index's padding),
/// about 2.4, 4.9, 9.8, 19.5 and 39.1 km, and the last is the radius asked for.
fn rings(radius_m: f64) -> Vec<f64> {
    let mut out: Vec<f64> = (9..=13)
        .rev()
        .map(|k| widest_radius_within(MERCATOR_MAX_M / f64::from(1u32 << k)))
        .filter(|r| *r < radius_m)
        .collect();
    out.push(radius_m);
    out
}

/// Narrower radii a search may start from where stations are dense: from about 300 m up to
/// the first of [`rings`], four to each doubling (those at a doubling as wide as their
/// geohash precision allows). Redis's work grows with the stations inside the radius, and
/// a city centre holds twenty well within two kilometres.
static LADDER: LazyLock<[f64; 13]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let top = MERCATOR_MAX_M / f64::from(1u32 << (16 - i / 4));
        widest_radius_within(top * 2f64.powf((i % 4) as f64 / 4.0))
    })
});

/// The narrowest rung of `ladder` narrower than `below` where about `wanted` stations are
/// expected.
fn first_ring(ladder: &[f64], about: &[f64], wanted: f64, below: f64) -> Option<f64> {
    ladder
        .iter()
        .zip(about)
        .find(|(r, n)| **n >= wanted && **r < below)
        .map(|(r, _)| *r)
}

/// The rings to ask the index for, narrowest first: [`rings`], and before them the
/// narrowest rung of the ladder under the first ring where the grid expects a quarter more
/// stations than the first list asks for. A rung that falls short costs one narrow search
/// more. A search narrower than every rung asks the grid nothing.
fn plan(state: &AppState, c: &Criteria) -> Vec<f64> {
    let mut out = rings(c.radius_m);
    let below = out[0];
    if below <= LADDER[0] {
        return out;
    }
    let wanted = first_count(c) as f64 * 1.25;
    let first = state
        .station_rows
        .about_within(c.center, *LADDER)
        .and_then(|about| first_ring(&*LADDER, &about, wanted, below));
    if let Some(first) = first {
        state.station_rows.narrow_starts.inc();
        out.insert(0, first);
    }
    out
}

/// How many candidates a search asks the index for at first: the nearest few (a dense city
/// has hundreds in a ring, and Redis would send them all) and a few more (inactive
/// stations the index still holds until the next sync, the index's slack); twice as many
/// with filters.
fn first_count(c: &Criteria) -> usize {
    if c.amenities == 0 && !c.open_now {
        c.limit + 4
    } else {
        c.limit * 2 + 8
    }
}

pub async fn search(state: &AppState, c: Criteria) -> ApiResult<Vec<Hit>> {
    let now = state.clock.now();
    for ring in plan(state, &c) {
        // A ring with fewer stations than asked for could answer only through the index's
        // padding of a few metres: ask a wider one.
        if ring < c.radius_m
            && state
                .station_rows
                .at_most_within(c.center, ring, c.limit)
                .is_some_and(|n| n < c.limit)
        {
            continue;
        }
        // Four times more only when the filters turned too many away.
        let mut count = first_count(&c);
        loop {
            let found = within(state, c.center, ring, count).await?;
            let covered = Covered::of(&found.ids, count, ring, c.radius_m);
            let hits = loop {
                state.station_rows.catch_up(state, found.stamp).await?;
                let picked = state.station_rows.with_at(found.stamp, |rows| {
                    pick(&c, now, covered, &found.ids, |id| rows.get(&id))
                });
                if let Some(hits) = picked {
                    break hits;
                }
            };
            if let Some(hits) = hits {
                return Ok(hits);
            }
            if !matches!(covered, Covered::Cut) {
                break;
            }
            count *= 4;
        }
    }
    Ok(Vec::new())
}

/// Which stations a list of candidates surely holds.
#[derive(Debug, Clone, Copy)]
enum Covered {
    /// Every one within the search radius.
    Whole,
    /// Every one at most this far.
    Upto(f64),
    /// Every one the index puts nearer than the last candidate (the list was cut off at its
    /// length).
    Cut,
}

impl Covered {
    /// For the candidates of a search within `ring` (of a `radius_m` search) for at most
    /// `count`: a full list may lack stations as near as its last one, give or take the
    /// index's slack; a shorter one holds the whole ring.
    fn of(ids: &[i64], count: usize, ring: f64, radius_m: f64) -> Covered {
        if ids.len() >= count {
            Covered::Cut
        } else if ring >= radius_m {
            Covered::Whole
        } else {
            Covered::Upto(ring)
        }
    }
}

/// The index orders candidates by its own measure, within [`DISTANCE_SLACK_M`] of the exact
/// one: a candidate after one measured at `d` is at least `d - FLOOR_SLACK_M`.
const FLOOR_SLACK_M: f64 = 2.0 * DISTANCE_SLACK_M;

/// The answer from candidate ids nearest first (by the index's measure), or None when fewer
/// than `limit` stations are surely nearer than anything the candidates may lack.
fn pick<'a>(
    c: &Criteria,
    now: DateTime<Utc>,
    covered: Covered,
    ids: &[i64],
    entry: impl Fn(i64) -> Option<&'a Entry>,
) -> Option<Vec<Hit>> {
    // Kept sorted by (distance, id) and at most `limit` long; rows are borrowed until the
    // end (a reference count touched per candidate costs more than the rest of the test).
    let mut hits: Vec<(f64, i64, &Arc<Row>, bool)> = Vec::with_capacity(c.limit + 1);
    let mut clock = WallClock::new(now);
    // Every candidate's entry looked up first, in a loop of independent look-ups: their
    // cache misses (two each, nearly all of this function's time) overlap instead of
    // waiting one by one behind each candidate's tests.
    let entries: Vec<Option<&Entry>> = ids.iter().map(|&id| entry(id)).collect();
    // Every candidate from here on is at least this far (exactly).
    let mut floor = f64::NEG_INFINITY;
    let settled = 'scan: {
        for (&id, e) in ids.iter().zip(&entries) {
            if hits.len() == c.limit && hits.last().is_some_and(|h| h.0 < floor) {
                break 'scan true;
            }
            let Some(e) = *e else { continue };
            if e.amenities & c.amenities != c.amenities {
                continue;
            }
            let distance_m = c.center.distance_m(&e.at);
            floor = floor.max(distance_m - FLOOR_SLACK_M);
            if distance_m > c.radius_m {
                continue;
            }
            let at =
                hits.partition_point(|h| h.0.total_cmp(&distance_m).then(h.1.cmp(&id)).is_lt());
            if at >= c.limit {
                continue;
            }
            let open_now = clock.is_open_entry(e);
            if c.open_now && !open_now {
                continue;
            }
            hits.insert(at, (distance_m, id, &e.row, open_now));
            hits.truncate(c.limit);
        }
        // Every candidate is read: the answer holds if nothing missing can be nearer.
        let Some(last) = hits.last().map(|h| h.0).filter(|_| hits.len() == c.limit) else {
            break 'scan matches!(covered, Covered::Whole);
        };
        match covered {
            Covered::Whole => true,
            Covered::Upto(d) => last <= d,
            // What the list lacks the index puts beyond its last candidate: as far as the
            // last one whose row is known, less the slack both ways.
            Covered::Cut => entries
                .iter()
                .rev()
                .find_map(|e| *e)
                .is_some_and(|e| last < c.center.distance_m(&e.at) - FLOOR_SLACK_M),
        }
    };
    settled.then(|| {
        hits.into_iter()
            .map(|(distance_m, _, row, open_now)| Hit {
                row: row.clone(),
                distance_m,
                open_now,
            })
            .collect()
    })
}

/// Ids the index holds within `radius_m`, rebuilding it first when it was lost.
async fn within(state: &AppState, center: Coord, radius_m: f64, count: usize) -> ApiResult<Found> {
    state.station_rows.index_searches.inc();
    if let Some(found) = state.geo.within(center, radius_m, count).await? {
        return Ok(found);
    }
    rebuild(state).await?;
    state
        .geo
        .within(center, radius_m, count)
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

/// Records that a station's row changed without moving (rating, reports), so every server's
/// rows catch up before their next search. The SQL row is already committed.
pub async fn touched(state: &AppState, id: i64) {
    if let Err(err) = state.geo.touch(&[id]).await {
        tracing::warn!(station_id = id, error = %err, "station change not recorded; the periodic read repairs it");
    }
}

/// How far the index may hold a station from its row before it is put again (Redis keeps
/// 52-bit geohashes, about 0.6 m).
const POSITION_TOLERANCE_M: f64 = 1.0;

/// Puts stations the index holds elsewhere than their rows (or not at all) back in place: an
/// index write that failed, two moves of one station whose index writes crossed, or a move
/// during a rebuild. The rows are read again from SQL just before, so a move that lands
/// meanwhile is not undone by an older position.
async fn repair_positions(state: &AppState) -> ApiResult<()> {
    let points = state.station_rows.points();
    let ids: Vec<i64> = points.iter().map(|(id, _)| *id).collect();
    let held = state.geo.positions(&ids).await?;
    let astray: Vec<i64> = points
        .iter()
        .zip(held)
        .filter(|((_, at), held)| held.is_none_or(|h| h.distance_m(at) > POSITION_TOLERANCE_M))
        .map(|((id, _), _)| *id)
        .collect();
    if astray.is_empty() {
        return Ok(());
    }
    let fresh = state
        .db
        .run(move |c| -> ApiResult<_> { Ok(store::by_ids(c, &astray)?) })
        .await?;
    let points: Vec<(i64, Coord)> = fresh
        .iter()
        .filter(|s| s.active)
        .map(|s| {
            (
                s.id,
                Coord {
                    lat: s.lat,
                    lng: s.lng,
                },
            )
        })
        .collect();
    tracing::info!(
        stations = points.len(),
        "nearby index held stations astray; put back"
    );
    state.geo.put_many(&points).await?;
    Ok(())
}

/// Builds the index and reads the rows at start-up, then every `every` (when given) checks
/// that the index holds as many stations as SQL has active ones (a Redis flush, or an index
/// write that failed), rebuilding when not, reads the rows again (a change whose record
/// failed, or a change log that went back with a restored Redis), and puts stations the
/// index holds astray back in place.
pub async fn sync_every(state: web::Data<AppState>, every: Option<Duration>) {
    loop {
        let check = async {
            let sql = state
                .db
                .run(|c| -> ApiResult<_> { Ok(store::active_count(c)?) })
                .await?;
            let held = state.geo.count().await?;
            let rebuilt = held != Some(sql as u64);
            if rebuilt {
                tracing::info!(sql, held, "nearby index out of step with SQL; rebuilding");
                rebuild(&state).await?;
            }
            state.station_rows.read_all(&state).await?;
            // A fresh build holds every position as SQL has it (start-up, mostly).
            if rebuilt {
                return Ok(());
            }
            repair_positions(&state).await
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
    use super::*;
    use crate::hot::redis_radius;
    use crate::stations::rows::sample as station;
    use rand::Rng;

    /// The index's distances are off by up to the slack and ordered by them: `pick` still
    /// answers exactly the brute-force list, or says the ring was too narrow or the list
    /// too short.
    #[test]
    fn pick_equals_a_scan_despite_the_index_slack() {
        let mut rng = rand::rng();
        let center = Coord {
            lat: 29.1,
            lng: 119.7,
        };
        let hours = [
            "24/7",
            r#"[{"days":[1,2,3,4,5,6,7],"open":"20:00","close":"06:00"}]"#,
        ];
        // 2026-11-28 12:00 in China: the overnight stations are closed.
        let now = DateTime::parse_from_rfc3339("2026-11-28T04:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for _ in 0..2_000 {
            let rows: Vec<Entry> = (0..rng.random_range(0..60))
                .map(|id| {
                    // Clusters of equal distance make the ties that the id order settles.
                    let at = Coord {
                        lat: center.lat + f64::from(rng.random_range(-30..30)) * 0.001,
                        lng: center.lng + f64::from(rng.random_range(-30..30)) * 0.001,
                    };
                    station(
                        id,
                        at,
                        rng.random_range(0..4),
                        hours[rng.random_range(0..2)],
                    )
                })
                .collect();
            let c = Criteria {
                center,
                radius_m: rng.random_range(100.0..4_000.0),
                amenities: rng.random_range(0..4),
                open_now: rng.random_bool(0.3),
                limit: rng.random_range(1..12),
            };
            let ring = if rng.random_bool(0.5) {
                c.radius_m
            } else {
                c.radius_m * rng.random_range(0.2..1.0)
            };
            let exact = |r: &Row| {
                c.center.distance_m(&Coord {
                    lat: r.station.lat,
                    lng: r.station.lng,
                })
            };
            let entries = rows;
            let rows: Vec<&Arc<Row>> = entries.iter().map(|e| &e.row).collect();
            // As the index measures: off by up to the slack, and ordered by that.
            let mut near: Vec<(f64, i64)> = rows
                .iter()
                .map(|r| (exact(r) + rng.random_range(-1.99..1.99), r.station.id))
                .filter(|n| n.0 <= ring + 2.0)
                .collect();
            near.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut near: Vec<i64> = near.into_iter().map(|(_, id)| id).collect();
            // Stations the index still holds after their rows went (inactive until the next
            // sync) change nothing.
            for phantom in 0..rng.random_range(0..3) {
                near.insert(rng.random_range(0..=near.len()), 1_000 + phantom);
            }
            let mut expected: Vec<(f64, i64)> = rows
                .iter()
                .filter(|r| r.station.amenities & c.amenities == c.amenities)
                .filter(|r| !c.open_now || r.is_open(now))
                .map(|r| (exact(r), r.station.id))
                .filter(|(d, _)| *d <= c.radius_m)
                .collect();
            expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            expected.truncate(c.limit);
            let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();
            // As the index with COUNT: sometimes only the nearest few.
            let count = rng.random_range(1..near.len() + 3);
            near.truncate(count);
            let covered = Covered::of(&near, count, ring, c.radius_m);
            let got = pick(&c, now, covered, &near, |id| entries.get(id as usize));
            match got {
                Some(hits) => {
                    let ids: Vec<i64> = hits.iter().map(|h| h.row.station.id).collect();
                    assert_eq!(ids, expected, "{c:?} ring {ring} {covered:?}");
                }
                None => assert!(
                    !matches!(covered, Covered::Whole),
                    "the whole radius always answers"
                ),
            }
        }
    }

    #[test]
    fn the_ladder_climbs_to_the_first_ring_four_rungs_to_a_doubling() {
        let ladder = *LADDER;
        assert_eq!(ladder[0], 303.0);
        assert_eq!(ladder[4], 608.0);
        assert_eq!(ladder[8], 1_219.0);
        assert_eq!(ladder[12], rings(50_000.0)[0]);
        for pair in ladder.windows(2) {
            let ratio = pair[1] / pair[0];
            assert!((1.17..1.21).contains(&ratio), "{pair:?}");
        }
        // A rung at a doubling is as wide as its geohash precision allows.
        for rung in ladder.iter().step_by(4) {
            let step = redis_step(redis_radius(*rung));
            assert_eq!(redis_step(redis_radius(rung + 5.0)), step - 1, "{rung}");
        }
    }

    #[test]
    fn the_first_ring_is_the_narrowest_rung_expected_to_hold_enough() {
        let ladder = [300.0, 600.0, 1_200.0];
        let about = [3.0, 20.0, 80.0];
        assert_eq!(first_ring(&ladder, &about, 25.0, 5_000.0), Some(1_200.0));
        assert_eq!(first_ring(&ladder, &about, 20.0, 5_000.0), Some(600.0));
        assert_eq!(first_ring(&ladder, &about, 2.0, 5_000.0), Some(300.0));
        assert_eq!(first_ring(&ladder, &about, 81.0, 5_000.0), None);
        // Always narrower than the first ring (a search that is one of the rings anyway).
        assert_eq!(first_ring(&ladder, &about, 25.0, 1_200.0), None);
        assert_eq!(first_ring(&ladder, &about, 20.0, 1_000.0), Some(600.0));
    }

    /// Redis's `geohashEstimateStepsByRadius` below 66 degrees of latitude: the geohash
    /// precision (bits per axis) GEOSEARCH starts from for a radius.
    fn redis_step(mut radius_m: f64) -> u32 {
        let mut step = 1;
        while radius_m < MERCATOR_MAX_M {
            radius_m *= 2.0;
            step += 1;
        }
        step - 2
    }

    #[test]
    fn rings_widen_up_to_the_radius_at_the_top_of_each_geohash_precision() {
        assert_eq!(rings(500.0), vec![500.0]);
        assert_eq!(rings(5_000.0), vec![2_441.0, 4_885.0, 5_000.0]);
        assert_eq!(
            rings(50_000.0),
            vec![2_441.0, 4_885.0, 9_772.0, 19_546.0, 39_095.0, 50_000.0]
        );
        let all = rings(50_000.0);
        for ring in &all[..all.len() - 1] {
            // As sent (padded): Redis reads cells as fine as for any radius down to half
            // this one, and a few metres more would need cells twice as large.
            let step = redis_step(redis_radius(*ring));
            assert_eq!(step, redis_step(redis_radius(ring / 2.0 + 1.0)), "{ring}");
            assert_eq!(redis_step(redis_radius(ring + 5.0)), step - 1, "{ring}");
        }
    }
}
