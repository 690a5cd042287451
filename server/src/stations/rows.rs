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
use super::rules::{Hours, Rule, any_open_at};
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

    fn local(&mut self, zone: Tz) -> NaiveDateTime {
        match self.last {
            Some((last, local)) if last == zone => local,
            _ => {
                let local = self.now.with_timezone(&zone).naive_local();
                self.last = Some((zone, local));
                local
            }
        }
    }

    /// Is the station open now in its own zone (unreadable hours count as closed)?
    pub fn is_open(&mut self, row: &Row) -> bool {
        match &row.hours {
            None => false,
            Some(Hours::Always) => true,
            Some(Hours::Weekly(rules)) => any_open_at(rules, self.local(row.zone)),
        }
    }

    /// [`WallClock::is_open`] from what the entry keeps, reaching for the row only for
    /// hours of many rules.
    pub fn is_open_entry(&mut self, e: &Entry) -> bool {
        match e.opening {
            Opening::Closed => false,
            Opening::Always => true,
            Opening::Rules { rules, len } => {
                any_open_at(&rules[..usize::from(len)], self.local(e.zone))
            }
            Opening::InRow => self.is_open(&e.row),
        }
    }
}

/// The most weekly rules an [`Entry`] keeps itself (two cover weekdays and weekends).
const KEPT_RULES: usize = 3;

/// A station's hours as an [`Entry`] keeps them.
#[derive(Debug, Clone, Copy)]
pub enum Opening {
    /// Unreadable hours: closed.
    Closed,
    Always,
    Rules {
        rules: [Rule; KEPT_RULES],
        len: u8,
    },
    /// More rules than kept: the row's.
    InRow,
}

impl Opening {
    fn of(hours: Option<&Hours>) -> Self {
        match hours {
            None => Opening::Closed,
            Some(Hours::Always) => Opening::Always,
            Some(Hours::Weekly(all)) if all.len() <= KEPT_RULES => {
                let mut rules = [Rule::NEVER; KEPT_RULES];
                rules[..all.len()].copy_from_slice(all);
                Opening::Rules {
                    rules,
                    len: all.len() as u8,
                }
            }
            Some(Hours::Weekly(_)) => Opening::InRow,
        }
    }
}

pub fn zone_of(station: &Station) -> Tz {
    station
        .time_zone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai)
}

/// What a search tests of every candidate (position, amenities, hours), kept in the map
/// itself (one cache line) so that only the stations that pass reach for their row.
#[derive(Debug, Clone)]
pub struct Entry {
    pub at: Coord,
    pub amenities: i32,
    pub zone: Tz,
    pub opening: Opening,
    pub row: Arc<Row>,
}

impl Entry {
    fn new(station: Station) -> Self {
        let row = Row::new(station);
        Self {
            at: Coord {
                lat: row.station.lat,
                lng: row.station.lng,
            },
            amenities: row.station.amenities,
            zone: row.zone,
            opening: Opening::of(row.hours.as_ref()),
            row: Arc::new(row),
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
    /// Nearby requests planned to start narrower than the first ring (where the grid
    /// expects enough stations; the ring is still skipped if its upper bound says no).
    pub narrow_starts: Counter,
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
            r.register(
                "nearby_narrow_starts",
                "Nearby requests planned to start narrower than the first ring, where the grid expected enough stations",
                rows.narrow_starts.clone(),
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

    /// At least as many as the active stations within `radius_m` of `center` (counted up
    /// to `enough`), as of the rows' stamp (None before the first read, or where the grid
    /// cannot say).
    pub fn at_most_within(&self, center: Coord, radius_m: f64, enough: usize) -> Option<usize> {
        let loaded = self.read();
        loaded.stamp?;
        loaded.density.at_most_within(center, radius_m, enough)
    }

    /// About as many as the active stations within each of `radii` of `center` (see
    /// [`Density::about_within`]); None before the first read, or where the grid cannot say.
    pub fn about_within<const N: usize>(&self, center: Coord, radii: [f64; N]) -> Option<[f64; N]> {
        let loaded = self.read();
        loaded.stamp?;
        loaded.density.about_within(center, radii)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry answers "open now" as its row does, for hours it keeps and hours it leaves
    /// in the row, around the week and across midnight.
    #[test]
    fn an_entry_is_open_when_its_row_is() {
        let hours = [
            "24/7",
            "not hours",
            r#"[{"days":[1,2,3,4,5],"open":"08:00","close":"20:00"},{"days":[6,7],"open":"09:00","close":"18:00"}]"#,
            r#"[{"days":[5],"open":"22:00","close":"04:00"}]"#,
            r#"[{"days":[1],"open":"08:00","close":"09:00"},{"days":[2],"open":"10:00","close":"11:00"},{"days":[3],"open":"12:00","close":"13:00"},{"days":[4],"open":"20:00","close":"02:00"}]"#,
        ];
        let at = Coord {
            lat: 29.1,
            lng: 119.7,
        };
        let entries: Vec<Entry> = hours
            .iter()
            .enumerate()
            .map(|(i, h)| sample(i as i64, at, 0, h))
            .collect();
        assert!(matches!(entries[0].opening, Opening::Always));
        assert!(matches!(entries[1].opening, Opening::Closed));
        assert!(matches!(entries[2].opening, Opening::Rules { len: 2, .. }));
        assert!(matches!(entries[4].opening, Opening::InRow));
        // Every half hour of a week (2026-11-23 is a Monday), in UTC.
        let monday = DateTime::parse_from_rfc3339("2026-11-22T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut opened = 0;
        for step in 0..(7 * 48 + 8) {
            let now = monday + chrono::Duration::minutes(30 * step);
            let mut clock = WallClock::new(now);
            for e in &entries {
                let open = clock.is_open_entry(e);
                assert_eq!(
                    open,
                    e.row.is_open(now),
                    "{} at {now}",
                    e.row.station.opening_hours
                );
                opened += usize::from(open);
            }
        }
        assert!(opened > 7 * 48, "the 24/7 station alone is open all week");
        // Kept in one cache line with its key.
        assert!(std::mem::size_of::<(i64, Entry)>() <= 64);
    }
}
