//! Every active station's row in memory, so a nearby search reads no SQL.
//!
//! The rows follow the nearby index's change log: every write to a station (admin edits,
//! imports, reviews, reports, resolutions) commits in SQL first and then records the id in
//! the index under a new version. A search gets the index's [`Stamp`] with its candidates;
//! when this server's rows are older it reads just the changed ids from SQL (or, in a new
//! epoch after the index was rebuilt, every row) before answering. A rider therefore never
//! sees a station older than the index that found it, on any number of servers.
//!
//! A change whose record failed (the hot store was down after the commit) is picked up by
//! the periodic full read in `nearby::sync_every`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use prometheus_client::metrics::counter::Counter;

use super::density::Density;
use super::rules::Hours;
use super::store::{self, Station};
use crate::AppState;
use crate::domain::Coord;
use crate::error::ApiResult;
use crate::hot::Stamp;
use crate::telemetry::Metrics;

/// A station as searches need it: the row, its hours parsed and its zone looked up once.
#[derive(Debug)]
pub struct Row {
    pub station: Station,
    pub hours: Option<Hours>,
    pub zone: Tz,
    /// The station as a nearby answer shows it, rendered at the first search that finds it
    /// (it stays right until the row changes, and then this row is replaced).
    pub rendered: OnceLock<String>,
}

impl Row {
    pub fn new(station: Station) -> Self {
        Self {
            hours: Hours::from_stored(&station.opening_hours),
            zone: zone_of(&station),
            rendered: OnceLock::new(),
            station,
        }
    }

    /// Open at `now` in the station's own zone (unreadable hours count as closed).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        WallClock::new(now).is_open(self)
    }
}

/// One instant on the wall clocks of stations' zones, each converted once: a search's
/// stations are nearly always in one zone, and the conversion cost more than the rules.
pub struct WallClock {
    now: DateTime<Utc>,
    last: Option<(Tz, NaiveDateTime)>,
}

impl WallClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { now, last: None }
    }

    /// Is the station open now in its own zone (unreadable hours count as closed)?
    pub fn is_open(&mut self, row: &Row) -> bool {
        let local = match (&row.hours, self.last) {
            (None, _) => return false,
            (Some(Hours::Always), _) => return true,
            (Some(_), Some((zone, local))) if zone == row.zone => local,
            (Some(_), _) => {
                let local = self.now.with_timezone(&row.zone).naive_local();
                self.last = Some((row.zone, local));
                local
            }
        };
        row.hours.as_ref().is_some_and(|h| h.is_open_at(local))
    }
}

pub fn zone_of(station: &Station) -> Tz {
    station
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai)
}

/// What a search tests of every candidate, kept in the map itself (one cache line) so
/// that only the stations that pass reach for their row.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: Coord,
    pub amenities: i32,
    pub row: Arc<Row>,
}

impl Entry {
    fn new(station: Station) -> Self {
        Self {
            at: Coord {
                lat: station.lat,
                lng: station.lng,
            },
            amenities: station.amenities,
            row: Arc::new(Row::new(station)),
        }
    }
}

#[derive(Default)]
struct Loaded {
    /// None before the first read.
    stamp: Option<Stamp>,
    rows: ById,
    /// Where the rows are, cell by cell.
    density: Density,
}

impl Loaded {
    fn new(stamp: Option<Stamp>, stations: Vec<Station>) -> Self {
        let mut loaded = Loaded {
            stamp,
            ..Loaded::default()
        };
        for s in stations {
            loaded.insert(s);
        }
        loaded
    }

    fn insert(&mut self, s: Station) {
        let entry = Entry::new(s);
        self.density.add(entry.at);
        if let Some(old) = self.rows.insert(entry.row.station.id, entry) {
            self.density.remove(old.at);
        }
    }

    fn remove(&mut self, id: i64) {
        if let Some(old) = self.rows.remove(&id) {
            self.density.remove(old.at);
        }
    }
}

/// Active stations by id. A search looks up every candidate the index proposes, so the
/// hash is foldhash's rather than SipHash (ids are not chosen by clients).
pub type ById = HashMap<i64, Entry, foldhash::fast::RandomState>;

#[derive(Default)]
pub struct Rows {
    loaded: RwLock<Loaded>,
    /// One reader of SQL at a time; the others wait and then find the rows current.
    reading: tokio::sync::Mutex<()>,
    /// Searches of the index (a nearby request makes one per ring it needs).
    pub index_searches: Counter,
}

impl Rows {
    pub fn new(metrics: &Metrics) -> Self {
        let rows = Self::default();
        metrics.with_registry(|r| {
            r.register(
                "nearby_index_searches",
                "Searches of the nearby index (Redis GEO or the in-process grid): one per ring a nearby request needed, and per longer list within a ring",
                rows.index_searches.clone(),
            );
        });
        rows
    }

    fn covers(&self, seen: Stamp) -> bool {
        self.read().stamp.is_some_and(|s| s.covers(seen))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.loaded.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `f` with the rows by id (active stations only) when they are at least as new as
    /// `seen`; None when a periodic full read has just put older ones in place (catch up and
    /// call again).
    pub fn with_at<T>(&self, seen: Stamp, f: impl FnOnce(&ById) -> T) -> Option<T> {
        let loaded = self.read();
        loaded
            .stamp
            .is_some_and(|s| s.covers(seen))
            .then(|| f(&loaded.rows))
    }

    /// At least as many as the active stations within `radius_m` of `center`, as of the
    /// rows' stamp (None before the first read, or where the grid cannot say).
    pub fn at_most_within(&self, center: Coord, radius_m: f64) -> Option<usize> {
        let loaded = self.read();
        loaded.stamp?;
        loaded.density.at_most_within(center, radius_m)
    }

    /// Every active station's position as the rows hold it.
    pub fn points(&self) -> Vec<(i64, Coord)> {
        self.read().rows.iter().map(|(id, e)| (*id, e.at)).collect()
    }

    /// Makes the rows at least as new as `seen` (a stamp the index just answered with).
    pub async fn catch_up(&self, state: &AppState, seen: Stamp) -> ApiResult<()> {
        if self.covers(seen) {
            return Ok(());
        }
        let _one = self.reading.lock().await;
        loop {
            if self.covers(seen) {
                return Ok(());
            }
            let held = self.read().stamp.filter(|s| s.epoch == seen.epoch);
            let Some(held) = held else {
                return self.read_all(state).await;
            };
            let Some((stamp, ids)) = state.geo.changes_since(held).await? else {
                return self.read_all(state).await;
            };
            let fresh = {
                let ids = ids.clone();
                state
                    .db
                    .run(move |c| -> ApiResult<_> { Ok(store::by_ids(c, &ids)?) })
                    .await?
            };
            let mut loaded = self.write();
            // A periodic full read landed meanwhile: its rows may predate changes up to
            // `held`, so start again from its stamp.
            if loaded.stamp != Some(held) {
                continue;
            }
            for id in ids {
                loaded.remove(id);
            }
            for s in fresh.into_iter().filter(|s| s.active) {
                loaded.insert(s);
            }
            loaded.stamp = Some(stamp);
            return Ok(());
        }
    }

    /// Reads every active row again (start-up, a new epoch, the periodic repair). Searches
    /// go on meanwhile: the rows read are at least as new as the stamp read first, so a
    /// search that needs more reads the changes since that stamp.
    pub async fn read_all(&self, state: &AppState) -> ApiResult<()> {
        // The stamp first: every change it counts is committed, so the rows read after it
        // hold at least those changes.
        let stamp = state.geo.stamp().await?;
        let all = state
            .db
            .run(|c| -> ApiResult<_> { Ok(store::active_stations(c)?) })
            .await?;
        let loaded = Loaded::new(stamp, all);
        *self.write() = loaded;
        Ok(())
    }
}

/// A station row for unit tests.
#[cfg(test)]
pub(crate) fn sample(id: i64, at: Coord, amenities: i32, hours: &str) -> Entry {
    let t = chrono::NaiveDateTime::default();
    Entry::new(Station {
        id,
        org_id: 1,
        name: format!("驿站 \"{id}\""),
        address: "金东区\\多湖街道".into(),
        lat: at.lat,
        lng: at.lng,
        amenities,
        opening_hours: hours.into(),
        time_zone: "Asia/Shanghai".into(),
        phone: "0579-82601234".into(),
        active: true,
        rating_sum: 9,
        rating_count: 2,
        open_closed: 1,
        open_broken: 0,
        open_other: 0,
        created_at: t,
        updated_at: t,
    })
}
