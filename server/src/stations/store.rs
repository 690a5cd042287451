//! SQL of rest stations, visits, reviews and reports. The rating and open-report counters on
//! `stations` change in the same transaction as the rows they count, under the station's
//! row lock, so they never drift.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{orgs, station_reports, station_reviews, station_visits, stations};
use crate::db::{DbConn, is_unique_violation, like_escape, per_backend, write_tx};
use crate::domain::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = stations)]
pub struct Station {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub amenities: i32,
    pub opening_hours: String,
    pub time_zone: String,
    pub phone: String,
    pub active: bool,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub open_closed: i32,
    pub open_broken: i32,
    pub open_other: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = stations)]
pub struct NewStation {
    pub org_id: i64,
    pub name: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub amenities: i32,
    pub opening_hours: String,
    pub time_zone: String,
    pub phone: String,
    pub active: bool,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn station(conn: &mut DbConn, id: i64) -> QueryResult<Station> {
    stations::table
        .find(id)
        .select(Station::as_select())
        .first(conn)
}

pub fn insert_station(conn: &mut DbConn, new: &NewStation) -> QueryResult<Station> {
    let id: i64 = diesel::insert_into(stations::table)
        .values(new)
        .returning(stations::id)
        .get_result(conn)?;
    station(conn, id)
}

/// Inserts many stations in one transaction, 500 rows per statement; returns their ids in
/// input order.
pub fn insert_stations(conn: &mut DbConn, rows: &[NewStation]) -> QueryResult<Vec<i64>> {
    write_tx(conn, |conn| {
        let mut ids = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(500) {
            // Batch insert is one of the statements the multi backend cannot build.
            ids.extend(per_backend(
                conn,
                |pg| {
                    diesel::insert_into(stations::table)
                        .values(chunk)
                        .returning(stations::id)
                        .get_results::<i64>(pg)
                },
                |lite| {
                    diesel::insert_into(stations::table)
                        .values(chunk)
                        .returning(stations::id)
                        .get_results::<i64>(lite)
                },
            )?);
        }
        Ok(ids)
    })
}

/// Replaces what an admin describes (the counters and `created_*` stay).
pub fn update_station(conn: &mut DbConn, id: i64, new: &NewStation) -> QueryResult<Station> {
    diesel::update(stations::table.find(id))
        .set((
            stations::org_id.eq(new.org_id),
            stations::name.eq(&new.name),
            stations::address.eq(&new.address),
            stations::lat.eq(new.lat),
            stations::lng.eq(new.lng),
            stations::amenities.eq(new.amenities),
            stations::opening_hours.eq(&new.opening_hours),
            stations::time_zone.eq(&new.time_zone),
            stations::phone.eq(&new.phone),
            stations::updated_at.eq(new.updated_at),
        ))
        .execute(conn)?;
    station(conn, id)
}

pub fn deactivate(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(stations::table.find(id))
        .set((stations::active.eq(false), stations::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

/// The stations among `ids` (active or not), in no particular order.
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Station>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(900) {
        out.extend(
            stations::table
                .filter(stations::id.eq_any(chunk))
                .select(Station::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Every active station: what the servers' in-memory rows are read from.
pub fn active_stations(conn: &mut DbConn) -> QueryResult<Vec<Station>> {
    stations::table
        .filter(stations::active.eq(true))
        .select(Station::as_select())
        .load(conn)
}

/// Every active station's position: what the nearby index is rebuilt from.
pub fn active_points(conn: &mut DbConn) -> QueryResult<Vec<(i64, f64, f64)>> {
    stations::table
        .filter(stations::active.eq(true))
        .select((stations::id, stations::lat, stations::lng))
        .load(conn)
}

pub fn active_count(conn: &mut DbConn) -> QueryResult<i64> {
    stations::table
        .filter(stations::active.eq(true))
        .count()
        .get_result(conn)
}

pub fn list_of_subtree(
    conn: &mut DbConn,
    path: &str,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Station>> {
    let mut q = stations::table
        .inner_join(orgs::table)
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .filter(stations::active.eq(true))
        .select(Station::as_select())
        .order(stations::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(stations::id.gt(after));
    }
    q.load(conn)
}

/// Takes the station's row lock for the rest of the transaction (and checks it is active):
/// every review and report of one station queues here, so its counters stay exact.
fn lock_station(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    lock_station_row(conn, id, true)
}

/// The lock itself; `active_only` false lets an admin resolve reports of a removed station.
fn lock_station_row(conn: &mut DbConn, id: i64, active_only: bool) -> QueryResult<()> {
    let touch = stations::rating_sum.eq(stations::rating_sum);
    let n = if active_only {
        diesel::update(stations::table.find(id).filter(stations::active.eq(true)))
            .set(touch)
            .execute(conn)?
    } else {
        diesel::update(stations::table.find(id))
            .set(touch)
            .execute(conn)?
    };
    if n == 1 {
        Ok(())
    } else {
        Err(diesel::result::Error::NotFound)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = station_visits)]
pub struct Visit {
    pub id: i64,
    pub station_id: i64,
    pub user_id: i64,
    pub day: String,
    pub distance_m: f64,
    pub created_at: NaiveDateTime,
}

/// Records a visit; the second of the same member, station and day returns the first
/// (false: not new).
pub fn record_visit(
    conn: &mut DbConn,
    station_id: i64,
    user: UserId,
    day: &str,
    distance_m: f64,
    now: NaiveDateTime,
) -> QueryResult<(Visit, bool)> {
    let existing = |conn: &mut DbConn| {
        station_visits::table
            .filter(station_visits::station_id.eq(station_id))
            .filter(station_visits::user_id.eq(user.0))
            .filter(station_visits::day.eq(day))
            .select(Visit::as_select())
            .first(conn)
    };
    if let Some(v) = existing(conn).optional()? {
        return Ok((v, false));
    }
    let inserted = diesel::insert_into(station_visits::table)
        .values((
            station_visits::station_id.eq(station_id),
            station_visits::user_id.eq(user.0),
            station_visits::day.eq(day),
            station_visits::distance_m.eq(distance_m),
            station_visits::created_at.eq(now),
        ))
        .returning(station_visits::id)
        .get_result::<i64>(conn);
    match inserted {
        Ok(id) => Ok((
            station_visits::table
                .find(id)
                .select(Visit::as_select())
                .first(conn)?,
            true,
        )),
        // A racing request of the same member got there first: theirs is the visit.
        Err(e) if is_unique_violation(&e) => Ok((existing(conn)?, false)),
        Err(e) => Err(e),
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = station_reviews)]
pub struct Review {
    pub station_id: i64,
    pub user_id: i64,
    pub rating: i32,
    pub comment: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// One review per member and station: a second replaces the first. Returns the review and
/// whether it replaced one.
pub fn upsert_review(
    conn: &mut DbConn,
    station_id: i64,
    user: UserId,
    rating: i32,
    comment: &str,
    now: NaiveDateTime,
) -> QueryResult<(Review, bool)> {
    write_tx(conn, |conn| {
        lock_station(conn, station_id)?;
        let key = (station_id, user.0);
        let old: Option<i32> = station_reviews::table
            .find(key)
            .select(station_reviews::rating)
            .first(conn)
            .optional()?;
        match old {
            Some(_) => {
                diesel::update(station_reviews::table.find(key))
                    .set((
                        station_reviews::rating.eq(rating),
                        station_reviews::comment.eq(comment),
                        station_reviews::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(station_reviews::table)
                    .values((
                        station_reviews::station_id.eq(station_id),
                        station_reviews::user_id.eq(user.0),
                        station_reviews::rating.eq(rating),
                        station_reviews::comment.eq(comment),
                        station_reviews::created_at.eq(now),
                        station_reviews::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        let (sum_delta, count_delta) = match old {
            Some(prev) => (i64::from(rating - prev), 0),
            None => (i64::from(rating), 1),
        };
        diesel::update(stations::table.find(station_id))
            .set((
                stations::rating_sum.eq(stations::rating_sum + sum_delta),
                stations::rating_count.eq(stations::rating_count + count_delta),
            ))
            .execute(conn)?;
        let review = station_reviews::table
            .find(key)
            .select(Review::as_select())
            .first(conn)?;
        Ok((review, old.is_some()))
    })
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = station_reports)]
pub struct Report {
    pub id: i64,
    pub station_id: i64,
    pub user_id: i64,
    pub kind: String,
    pub detail: String,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

pub fn report(conn: &mut DbConn, id: i64) -> QueryResult<Report> {
    station_reports::table
        .find(id)
        .select(Report::as_select())
        .first(conn)
}

/// Adds one to the open-report counter of `kind` (or takes one away).
fn count_open(conn: &mut DbConn, station_id: i64, kind: &str, delta: i32) -> QueryResult<()> {
    let target = stations::table.find(station_id);
    match kind {
        "closed" => diesel::update(target)
            .set(stations::open_closed.eq(stations::open_closed + delta))
            .execute(conn),
        "broken" => diesel::update(target)
            .set(stations::open_broken.eq(stations::open_broken + delta))
            .execute(conn),
        _ => diesel::update(target)
            .set(stations::open_other.eq(stations::open_other + delta))
            .execute(conn),
    }
    .map(drop)
}

/// Files a report; a member's second open report of the same kind on the same station
/// updates the first instead of counting twice (false: not new).
pub fn file_report(
    conn: &mut DbConn,
    station_id: i64,
    user: UserId,
    kind: &str,
    detail: &str,
    now: NaiveDateTime,
) -> QueryResult<(Report, bool)> {
    write_tx(conn, |conn| {
        lock_station(conn, station_id)?;
        let open: Option<i64> = station_reports::table
            .filter(station_reports::station_id.eq(station_id))
            .filter(station_reports::user_id.eq(user.0))
            .filter(station_reports::kind.eq(kind))
            .filter(station_reports::resolved_at.is_null())
            .select(station_reports::id)
            .first(conn)
            .optional()?;
        if let Some(id) = open {
            diesel::update(station_reports::table.find(id))
                .set(station_reports::detail.eq(detail))
                .execute(conn)?;
            return Ok((report(conn, id)?, false));
        }
        let id: i64 = diesel::insert_into(station_reports::table)
            .values((
                station_reports::station_id.eq(station_id),
                station_reports::user_id.eq(user.0),
                station_reports::kind.eq(kind),
                station_reports::detail.eq(detail),
                station_reports::created_at.eq(now),
            ))
            .returning(station_reports::id)
            .get_result(conn)?;
        count_open(conn, station_id, kind, 1)?;
        Ok((report(conn, id)?, true))
    })
}

pub enum Resolve {
    Done(Report),
    AlreadyResolved,
}

/// Resolves an open report (the caller has checked who may).
pub fn resolve_report(
    conn: &mut DbConn,
    id: i64,
    by: UserId,
    now: NaiveDateTime,
) -> QueryResult<Resolve> {
    write_tx(conn, |conn| {
        let r = report(conn, id)?;
        // The station lock first, as filing does: the counter and the row change together.
        lock_station_row(conn, r.station_id, false)?;
        let n = diesel::update(
            station_reports::table
                .find(id)
                .filter(station_reports::resolved_at.is_null()),
        )
        .set((
            station_reports::resolved_at.eq(now),
            station_reports::resolved_by.eq(by.0),
        ))
        .execute(conn)?;
        if n == 0 {
            return Ok(Resolve::AlreadyResolved);
        }
        count_open(conn, r.station_id, &r.kind, -1)?;
        Ok(Resolve::Done(report(conn, id)?))
    })
}

/// The newest open reports of a station.
pub fn open_reports(conn: &mut DbConn, station_id: i64, limit: i64) -> QueryResult<Vec<Report>> {
    station_reports::table
        .filter(station_reports::station_id.eq(station_id))
        .filter(station_reports::resolved_at.is_null())
        .order(station_reports::id.desc())
        .limit(limit)
        .select(Report::as_select())
        .load(conn)
}

/// Figures of the active stations in the subtree at `path`.
pub struct SubtreeFigures {
    pub stations: i64,
    pub rating_sum: i64,
    pub rating_count: i64,
    pub open_reports: i64,
    /// (day, visits) from `since` on, oldest first.
    pub visits: Vec<(String, i64)>,
}

pub fn subtree_figures(conn: &mut DbConn, path: &str, since: &str) -> QueryResult<SubtreeFigures> {
    let pattern = format!("{}%", like_escape(path));
    let rows: Vec<(i64, i64, i32, i32, i32)> = stations::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(pattern.clone()).escape('\\'))
        .filter(stations::active.eq(true))
        .select((
            stations::rating_sum,
            stations::rating_count,
            stations::open_closed,
            stations::open_broken,
            stations::open_other,
        ))
        .load(conn)?;
    let visits = station_visits::table
        .inner_join(stations::table.inner_join(orgs::table))
        .filter(orgs::path.like(pattern).escape('\\'))
        .filter(station_visits::day.ge(since))
        .group_by(station_visits::day)
        .select((station_visits::day, diesel::dsl::count_star()))
        .order(station_visits::day.asc())
        .load(conn)?;
    Ok(SubtreeFigures {
        stations: rows.len() as i64,
        rating_sum: rows.iter().map(|r| r.0).sum(),
        rating_count: rows.iter().map(|r| r.1).sum(),
        open_reports: rows
            .iter()
            .map(|r| i64::from(r.2) + i64::from(r.3) + i64::from(r.4))
            .sum(),
        visits,
    })
}
