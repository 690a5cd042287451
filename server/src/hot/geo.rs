//! The nearby index of rest stations: Redis GEO when Redis is configured, an in-process grid
//! otherwise. Both answer "which ids lie within r metres of here, nearest first" as a
//! superset by a hair, ordered by the index's own measure (callers recompute exact distances
//! from the station rows and filter), and both can tell that they were never built (a Redis flush) so callers
//! rebuild from SQL. The Redis change log holds each station id once (a sorted set scored
//! by the version of its latest change), so it never outgrows the stations table.
//!
//! Every change to a station's row (position, hours, rating, reports) is also recorded here,
//! under a [`Stamp`] that `within` answers with: servers keep the rows in memory and catch up
//! on the ids changed since the stamp they hold (see `stations::rows`).
//!
//! The Redis keys share the `{stations}` hash tag and none of the draw keys: a wide search in
//! a dense city costs Redis milliseconds, so an operator can move them to their own instance
//! (`HUIGONG_GEO_REDIS_URL`) without touching the draw gates.

use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, PoisonError, RwLock};

use redis::aio::ConnectionManager;
use redis::{Script, cmd};

use super::redis::{Connections, on};
use super::{HotError, Keys};
use crate::domain::{Coord, M_PER_DEG};

/// How far an index's distance, by which it orders what it finds, may be from
/// [`Coord::distance_m`] (Redis: 52-bit geohashes on a slightly larger sphere).
pub const DISTANCE_SLACK_M: f64 = 2.0;

/// Where the index stands: `epoch` is drawn anew at every rebuild (a lost index lost its
/// change log too), `version` counts the changes recorded since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub epoch: u64,
    pub version: u64,
}

impl Stamp {
    /// True when a reader at `self` has seen every change up to `other`.
    pub fn covers(&self, other: Stamp) -> bool {
        self.epoch == other.epoch && self.version >= other.version
    }
}

/// What a search found, and the stamp of the index it was found in.
#[derive(Debug, Clone)]
pub struct Found {
    pub stamp: Stamp,
    /// Nearest first by the index's measure.
    pub ids: Vec<i64>,
}

#[async_trait::async_trait]
pub trait GeoIndex: Send + Sync + 'static {
    /// `redis` or `memory`.
    fn kind(&self) -> &'static str;
    /// Ids within `radius_m` of `center` (and possibly a little beyond), nearest first by the
    /// index's own measure, which is within [`DISTANCE_SLACK_M`] of [`Coord::distance_m`];
    /// None when the index was never built or has been lost.
    ///
    /// At most `count` ids: when that many come back, more may lie beyond the last one.
    async fn within(
        &self,
        center: Coord,
        radius_m: f64,
        count: usize,
    ) -> Result<Option<Found>, HotError>;
    /// The current stamp; None when not built.
    async fn stamp(&self) -> Result<Option<Stamp>, HotError>;
    /// Replaces the whole index with `points` and marks it built under a new epoch.
    async fn replace(&self, points: &[(i64, Coord)]) -> Result<(), HotError>;
    /// Adds points or moves them (and records them as changed).
    async fn put_many(&self, points: &[(i64, Coord)]) -> Result<(), HotError>;
    /// Adds a point or moves it.
    async fn put(&self, id: i64, at: Coord) -> Result<(), HotError> {
        self.put_many(&[(id, at)]).await
    }
    /// Takes a point out (and records it as changed).
    async fn remove(&self, id: i64) -> Result<(), HotError>;
    /// Records that these stations' rows changed (a review, a report) without moving them.
    async fn touch(&self, ids: &[i64]) -> Result<(), HotError>;
    /// The ids changed after `since` and the stamp that brings a reader to; None when
    /// `since` is from another epoch (or the index is not built): read everything again.
    async fn changes_since(&self, since: Stamp) -> Result<Option<(Stamp, Vec<i64>)>, HotError>;
    /// Where the index holds each of `ids` (None: not held), as exact as the index keeps it.
    async fn positions(&self, ids: &[i64]) -> Result<Vec<Option<Coord>>, HotError>;
    /// How many points it holds; None when not built.
    async fn count(&self) -> Result<Option<u64>, HotError>;
}

// --- in-process -----------------------------------------------------------------------

/// Grid cells of 0.05 degrees (about 5.5 km north-south): a 5 km search reads a handful of
/// cells, a 50 km one a few hundred, and only the points inside them are measured.
const CELL_DEG: f64 = 0.05;

/// The in-process index: a uniform grid behind a read-write lock, so searches run in
/// parallel and never wait on the hot store's own lock.
#[derive(Default)]
pub struct MemoryGeo {
    state: RwLock<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    grid: Option<Grid>,
    epoch: u64,
    log: ChangeLog,
}

/// Each changed id once, under the version of its latest change (as a Redis sorted set).
#[derive(Default)]
struct ChangeLog {
    version: u64,
    entries: BTreeSet<(u64, i64)>,
    of_id: HashMap<i64, u64>,
}

impl ChangeLog {
    fn touch(&mut self, ids: impl IntoIterator<Item = i64>) {
        self.version += 1;
        for id in ids {
            if let Some(old) = self.of_id.insert(id, self.version) {
                self.entries.remove(&(old, id));
            }
            self.entries.insert((self.version, id));
        }
    }

    fn since(&self, version: u64) -> Vec<i64> {
        self.entries
            .range((version + 1, i64::MIN)..)
            .map(|(_, id)| *id)
            .collect()
    }
}

#[derive(Default)]
struct Grid {
    cells: HashMap<(i32, i32), Vec<(i64, Coord)>>,
    at: HashMap<i64, Coord>,
}

fn cell_of(c: Coord) -> (i32, i32) {
    (
        (c.lat / CELL_DEG).floor() as i32,
        (c.lng / CELL_DEG).floor() as i32,
    )
}

impl Grid {
    fn put(&mut self, id: i64, at: Coord) {
        self.remove(id);
        self.cells.entry(cell_of(at)).or_default().push((id, at));
        self.at.insert(id, at);
    }

    fn remove(&mut self, id: i64) {
        if let Some(old) = self.at.remove(&id) {
            let cell = cell_of(old);
            if let Some(points) = self.cells.get_mut(&cell) {
                points.retain(|(p, _)| *p != id);
                if points.is_empty() {
                    self.cells.remove(&cell);
                }
            }
        }
    }

    fn within(&self, center: Coord, radius_m: f64) -> Vec<i64> {
        let dlat = radius_m / M_PER_DEG;
        let (south, north) = (
            (center.lat - dlat).max(-90.0),
            (center.lat + dlat).min(90.0),
        );
        let widest = south.abs().max(north.abs()).to_radians().cos();
        let mut found: Vec<(f64, i64)> = Vec::new();
        let dlng = if widest > 1e-6 { dlat / widest } else { 360.0 };
        let wraps = dlng >= 180.0 || center.lng - dlng < -180.0 || center.lng + dlng > 180.0;
        let mut visit = |points: &Vec<(i64, Coord)>| {
            for (id, at) in points {
                // Outside the bounding box of the circle: no need for the trigonometry.
                if !wraps
                    && ((at.lat - center.lat).abs() > dlat || (at.lng - center.lng).abs() > dlng)
                {
                    continue;
                }
                let d = center.distance_m(at);
                if d <= radius_m {
                    found.push((d, *id));
                }
            }
        };
        if wraps {
            // Near a pole or the antimeridian the box wraps: look at every cell in the band.
            let rows = cell_of(Coord {
                lat: south,
                lng: 0.0,
            })
            .0..=cell_of(Coord {
                lat: north,
                lng: 0.0,
            })
            .0;
            for ((row, _), points) in &self.cells {
                if rows.contains(row) {
                    visit(points);
                }
            }
        } else {
            let (lo, hi) = (
                cell_of(Coord {
                    lat: south,
                    lng: center.lng - dlng,
                }),
                cell_of(Coord {
                    lat: north,
                    lng: center.lng + dlng,
                }),
            );
            for row in lo.0..=hi.0 {
                for col in lo.1..=hi.1 {
                    if let Some(points) = self.cells.get(&(row, col)) {
                        visit(points);
                    }
                }
            }
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found.into_iter().map(|(_, id)| id).collect()
    }
}

impl MemoryGeo {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, MemoryState> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, MemoryState> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryState {
    fn stamp(&self) -> Option<Stamp> {
        self.grid.as_ref().map(|_| Stamp {
            epoch: self.epoch,
            version: self.log.version,
        })
    }
}

#[async_trait::async_trait]
impl GeoIndex for MemoryGeo {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn within(
        &self,
        center: Coord,
        radius_m: f64,
        count: usize,
    ) -> Result<Option<Found>, HotError> {
        let state = self.read();
        Ok(state.stamp().zip(state.grid.as_ref()).map(|(stamp, g)| {
            let mut ids = g.within(center, radius_m);
            ids.truncate(count);
            Found { stamp, ids }
        }))
    }

    async fn stamp(&self) -> Result<Option<Stamp>, HotError> {
        Ok(self.read().stamp())
    }

    async fn replace(&self, points: &[(i64, Coord)]) -> Result<(), HotError> {
        let mut grid = Grid::default();
        for (id, at) in points {
            grid.put(*id, *at);
        }
        let mut state = self.write();
        state.grid = Some(grid);
        state.epoch = rand::random();
        state.log = ChangeLog::default();
        Ok(())
    }

    async fn put_many(&self, points: &[(i64, Coord)]) -> Result<(), HotError> {
        let mut state = self.write();
        if let Some(g) = state.grid.as_mut() {
            for (id, at) in points {
                g.put(*id, *at);
            }
        }
        state.log.touch(points.iter().map(|(id, _)| *id));
        Ok(())
    }

    async fn remove(&self, id: i64) -> Result<(), HotError> {
        let mut state = self.write();
        if let Some(g) = state.grid.as_mut() {
            g.remove(id);
        }
        state.log.touch([id]);
        Ok(())
    }

    async fn touch(&self, ids: &[i64]) -> Result<(), HotError> {
        self.write().log.touch(ids.iter().copied());
        Ok(())
    }

    async fn changes_since(&self, since: Stamp) -> Result<Option<(Stamp, Vec<i64>)>, HotError> {
        let state = self.read();
        Ok(state
            .stamp()
            .filter(|now| now.epoch == since.epoch)
            .map(|now| (now, state.log.since(since.version))))
    }

    async fn positions(&self, ids: &[i64]) -> Result<Vec<Option<Coord>>, HotError> {
        let state = self.read();
        Ok(ids
            .iter()
            .map(|id| state.grid.as_ref().and_then(|g| g.at.get(id).copied()))
            .collect())
    }

    async fn count(&self) -> Result<Option<u64>, HotError> {
        Ok(self.read().grid.as_ref().map(|g| g.at.len() as u64))
    }
}

// --- Redis ----------------------------------------------------------------------------

/// Redis measures on a sphere of radius 6,372,797.56 m (ours: 6,371,008.8 m) from 52-bit
/// geohashes (about 0.6 m): ask for a little more and let the caller measure exactly.
pub fn redis_radius(radius_m: f64) -> f64 {
    radius_m * 1.001 + 2.0
}

/// The widest search radius (whole metres) that reaches Redis as at most `limit_m`.
pub fn widest_radius_within(limit_m: f64) -> f64 {
    ((limit_m - 2.0) / 1.001).floor()
}

/// One more version; each id of ARGV enters the change log under it.
static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local version = redis.call('INCR', KEYS[1])
for i = 1, #ARGV do
    redis.call('ZADD', KEYS[2], version, ARGV[i])
end
return version
",
    )
});

/// False when the epoch is not ARGV[1] any more; otherwise {version, ids changed after
/// version ARGV[2]}.
static CHANGES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local epoch = redis.call('GET', KEYS[1])
if not epoch or epoch ~= ARGV[1] then
    return false
end
local version = redis.call('GET', KEYS[2]) or '0'
return {version, redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf')}
",
    )
});

/// Swaps the filled KEYS[1] in as KEYS[2] and marks it built with epoch ARGV[1]; 0 (and
/// nothing changed) when KEYS[1] is gone though ARGV[2] points went in (a flush meanwhile).
static SWAP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if ARGV[2] == '0' then
    redis.call('DEL', KEYS[2])
elseif redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('RENAME', KEYS[1], KEYS[2])
else
    return 0
end
redis.call('SET', KEYS[3], ARGV[1])
return 1
",
    )
});

/// Members added per GEOADD while rebuilding.
const CHUNK: usize = 5_000;

/// The score Redis gives a point in a GEO set: its 52-bit geohash, latitude bits in the even
/// places and longitude bits in the odd ones (Redis's `geohashEncodeWGS84`, step 26).
pub fn geohash_score(at: Coord) -> u64 {
    const LAT_MAX: f64 = 85.051_128_78;
    const STEPS: f64 = (1u64 << 26) as f64;
    // Redis truncates the scaled offsets to integers.
    let lat = ((at.lat + LAT_MAX) / (2.0 * LAT_MAX) * STEPS) as u32;
    let lng = ((at.lng + 180.0) / 360.0 * STEPS) as u32;
    spread_bits(lat) | spread_bits(lng) << 1
}

/// The low 26 bits of `x` moved to the even places of a u64.
fn spread_bits(x: u32) -> u64 {
    (0..26).fold(0, |out, i| out | (u64::from(x >> i) & 1) << (2 * i))
}

/// GEOADD in chunks of [`CHUNK`] members, in the order of Redis's scores. A search walks
/// the sorted set's skiplist along ascending scores, one node per point in its cells;
/// nodes allocated in that order sit next to each other in memory, so the walk reads
/// neighbouring memory instead of missing the cache at every point (a GEOSEARCH over
/// 100,000 stations cost Redis about two fifths less, README "Performance").
async fn geoadd(
    conn: &mut ConnectionManager,
    key: &str,
    points: &[(i64, Coord)],
) -> Result<(), HotError> {
    let mut points = points.to_vec();
    points.sort_by_cached_key(|(_, at)| geohash_score(*at));
    for chunk in points.chunks(CHUNK) {
        let mut add = cmd("GEOADD");
        add.arg(key);
        for (id, at) in chunk {
            add.arg(at.lng).arg(at.lat).arg(id);
        }
        add.query_async::<()>(conn).await.map_err(on(key))?;
    }
    Ok(())
}

pub struct RedisGeo {
    conn: Connections,
    points: String,
    /// The epoch while built.
    built: String,
    next: String,
    version: String,
    changes: String,
}

impl RedisGeo {
    pub fn new(conn: Connections, keys: &Keys) -> Self {
        Self {
            conn,
            points: keys.key("stations", "geo"),
            built: keys.key("stations", "geo:built"),
            next: keys.key("stations", "geo:next"),
            version: keys.key("stations", "geo:version"),
            changes: keys.key("stations", "geo:changes"),
        }
    }
}

/// Ids touched per script call (a CSV import touches thousands).
const TOUCH_CHUNK: usize = 2_000;

#[async_trait::async_trait]
impl GeoIndex for RedisGeo {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn within(
        &self,
        center: Coord,
        radius_m: f64,
        count: usize,
    ) -> Result<Option<Found>, HotError> {
        // The stamp and the points in one transaction (a script would copy the points into a
        // Lua table and back, which cost Redis more than the search itself). Without
        // WITHDIST: Redis formats no distances and the reply is a flat list of ids (parsing
        // the pairs cost this server more than the rest of the search); the caller measures
        // from its rows.
        type Answer = ((Option<u64>, Option<u64>), Vec<i64>);
        let ((epoch, version), ids): Answer = redis::pipe()
            .atomic()
            .cmd("MGET")
            .arg(&self.built)
            .arg(&self.version)
            .cmd("GEOSEARCH")
            .arg(&self.points)
            .arg("FROMLONLAT")
            .arg(center.lng)
            .arg(center.lat)
            .arg("BYRADIUS")
            .arg(redis_radius(radius_m))
            .arg("m")
            .arg("ASC")
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(&self.points))?;
        Ok(epoch.map(|epoch| Found {
            stamp: Stamp {
                epoch,
                version: version.unwrap_or(0),
            },
            ids,
        }))
    }

    async fn stamp(&self) -> Result<Option<Stamp>, HotError> {
        let (epoch, version): (Option<u64>, Option<u64>) = cmd("MGET")
            .arg(&self.built)
            .arg(&self.version)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(&self.built))?;
        Ok(epoch.map(|epoch| Stamp {
            epoch,
            version: version.unwrap_or(0),
        }))
    }

    async fn replace(&self, points: &[(i64, Coord)]) -> Result<(), HotError> {
        let mut conn = self.conn.get();
        // Fill a fresh key, then swap it in with the built mark in one script: searches see
        // the old set or the new one, never half of one.
        cmd("DEL")
            .arg(&self.next)
            .query_async::<()>(&mut conn)
            .await
            .map_err(on(&self.next))?;
        geoadd(&mut conn, &self.next, points).await?;
        // Below 2^53, so that Lua's numbers would hold it too.
        let epoch = rand::random::<u64>() >> 11;
        let swapped: bool = SWAP
            .key(&self.next)
            .key(&self.points)
            .key(&self.built)
            .arg(epoch)
            .arg(points.len())
            .invoke_async(&mut conn)
            .await
            .map_err(on(&self.points))?;
        if swapped {
            Ok(())
        } else {
            // Redis lost the fresh key while it was filled (a flush): build again.
            Err(HotError::Unavailable(format!(
                "{} vanished while being filled",
                self.next
            )))
        }
    }

    async fn put_many(&self, points: &[(i64, Coord)]) -> Result<(), HotError> {
        geoadd(&mut self.conn.get(), &self.points, points).await?;
        let ids: Vec<i64> = points.iter().map(|(id, _)| *id).collect();
        self.touch(&ids).await
    }

    async fn remove(&self, id: i64) -> Result<(), HotError> {
        cmd("ZREM")
            .arg(&self.points)
            .arg(id)
            .query_async::<()>(&mut self.conn.get())
            .await
            .map_err(on(&self.points))?;
        self.touch(&[id]).await
    }

    async fn touch(&self, ids: &[i64]) -> Result<(), HotError> {
        let mut conn = self.conn.get();
        for chunk in ids.chunks(TOUCH_CHUNK) {
            let mut call = TOUCH.key(&self.version);
            call.key(&self.changes);
            for id in chunk {
                call.arg(id);
            }
            call.invoke_async::<u64>(&mut conn)
                .await
                .map_err(on(&self.changes))?;
        }
        Ok(())
    }

    async fn changes_since(&self, since: Stamp) -> Result<Option<(Stamp, Vec<i64>)>, HotError> {
        let found: Option<(u64, Vec<i64>)> = CHANGES
            .key(&self.built)
            .key(&self.version)
            .key(&self.changes)
            .arg(since.epoch)
            .arg(since.version)
            .invoke_async(&mut self.conn.get())
            .await
            .map_err(on(&self.changes))?;
        Ok(found.map(|(version, ids)| {
            (
                Stamp {
                    epoch: since.epoch,
                    version,
                },
                ids,
            )
        }))
    }

    async fn positions(&self, ids: &[i64]) -> Result<Vec<Option<Coord>>, HotError> {
        let mut conn = self.conn.get();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let found: Vec<Option<(f64, f64)>> = cmd("GEOPOS")
                .arg(&self.points)
                .arg(chunk)
                .query_async(&mut conn)
                .await
                .map_err(on(&self.points))?;
            out.extend(
                found
                    .into_iter()
                    .map(|p| p.map(|(lng, lat)| Coord { lat, lng })),
            );
        }
        Ok(out)
    }

    async fn count(&self) -> Result<Option<u64>, HotError> {
        let (built, n): (bool, u64) = redis::pipe()
            .cmd("EXISTS")
            .arg(&self.built)
            .cmd("ZCARD")
            .arg(&self.points)
            .query_async(&mut self.conn.get())
            .await
            .map_err(on(&self.points))?;
        Ok(built.then_some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geohash_scores_are_the_ones_redis_gives() {
        // ZSCORE after GEOADD on Redis 7.0.
        for (lng, lat, score) in [
            (116.397_499, 39.908_722, 4_069_885_365_520_137),
            (0.0, 0.0, 3_377_699_720_527_872),
            (-180.0, -85.051_128_78, 0),
            (179.9999, 85.05, 4_503_599_627_286_694),
            (120.1551, 30.2741, 4_054_134_076_289_149),
        ] {
            assert_eq!(geohash_score(Coord { lat, lng }), score, "{lat},{lng}");
        }
    }

    #[test]
    fn grid_matches_a_scan_of_every_point() {
        use rand::Rng;
        let mut rng = rand::rng();
        let mut grid = Grid::default();
        let mut all = Vec::new();
        for id in 0..3_000 {
            let at = Coord {
                lat: 29.0 + rng.random_range(0.0..1.0),
                lng: 119.5 + rng.random_range(0.0..1.0),
            };
            grid.put(id, at);
            all.push((id, at));
        }
        // Moving and removing keep the cells right.
        grid.put(
            7,
            Coord {
                lat: 29.5,
                lng: 120.0,
            },
        );
        all[7].1 = Coord {
            lat: 29.5,
            lng: 120.0,
        };
        grid.remove(8);
        all.remove(8);
        for _ in 0..200 {
            let center = Coord {
                lat: 28.9 + rng.random_range(0.0..1.2),
                lng: 119.4 + rng.random_range(0.0..1.2),
            };
            let r = rng.random_range(10.0..50_000.0);
            let mut expected: Vec<(f64, i64)> = all
                .iter()
                .map(|(id, at)| (center.distance_m(at), *id))
                .filter(|(d, _)| *d <= r)
                .collect();
            expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let expected: Vec<i64> = expected.into_iter().map(|(_, id)| id).collect();
            let got: Vec<i64> = grid.within(center, r);
            assert_eq!(got, expected, "{center:?} r={r}");
        }
    }

    #[test]
    fn the_change_log_holds_each_id_once_under_its_latest_version() {
        let mut log = ChangeLog::default();
        log.touch([3, 1]);
        log.touch([2]);
        log.touch([3]);
        assert_eq!(log.version, 3);
        assert_eq!(log.since(0), vec![1, 2, 3]);
        assert_eq!(log.since(1), vec![2, 3]);
        assert_eq!(log.since(2), vec![3]);
        assert!(log.since(3).is_empty());
        assert_eq!(log.entries.len(), 3);
    }

    #[test]
    fn grid_near_a_pole_and_across_cells() {
        let mut grid = Grid::default();
        grid.put(
            1,
            Coord {
                lat: 84.99,
                lng: 10.0,
            },
        );
        grid.put(
            2,
            Coord {
                lat: 84.99,
                lng: -170.0,
            },
        );
        let far = grid.within(
            Coord {
                lat: 84.99,
                lng: 10.0,
            },
            2_000_000.0,
        );
        assert_eq!(far, vec![1, 2]);
        let near = grid.within(
            Coord {
                lat: 84.99,
                lng: 10.0,
            },
            10.0,
        );
        assert_eq!(near, vec![1]);
    }
}
