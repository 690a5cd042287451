//! SQL of raffles: the raffle, its frozen pool and its winners, and the pools' sources.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{quiz_attempts, raffle_entries, raffle_winners, raffles};
use crate::db::{DbConn, write_tx};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = raffles)]
pub struct Raffle {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub pool_kind: String,
    pub pool_ref_id: i64,
    pub min_minutes: i32,
    pub winners: i32,
    pub draw_at: NaiveDateTime,
    pub seed_sealed: String,
    pub seed_commitment: String,
    pub status: String,
    pub seed: Option<String>,
    pub pool_size: Option<i32>,
    pub pool_digest: Option<String>,
    pub drawn_at: Option<NaiveDateTime>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = raffles)]
pub struct NewRaffle {
    pub org_id: i64,
    pub title: String,
    pub pool_kind: &'static str,
    pub pool_ref_id: i64,
    pub min_minutes: i32,
    pub winners: i32,
    pub draw_at: NaiveDateTime,
    pub seed_sealed: String,
    pub seed_commitment: String,
    pub status: &'static str,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, new: &NewRaffle) -> QueryResult<Raffle> {
    let id: i64 = diesel::insert_into(raffles::table)
        .values(new)
        .returning(raffles::id)
        .get_result(conn)?;
    raffle(conn, id)
}

pub fn raffle(conn: &mut DbConn, id: i64) -> QueryResult<Raffle> {
    raffles::table
        .find(id)
        .select(Raffle::as_select())
        .first(conn)
}

/// The drawn result to store, all at once.
pub struct Drawn<'a> {
    pub pool: &'a [i64],
    pub winners: &'a [i64],
    pub seed: String,
    pub digest: String,
    pub now: NaiveDateTime,
}

/// Freezes the pool and stores the winners, once: false when another request drew first.
pub fn record_draw(conn: &mut DbConn, id: i64, d: &Drawn<'_>) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let moved = diesel::update(
            raffles::table
                .find(id)
                .filter(raffles::status.eq("scheduled")),
        )
        .set((
            raffles::status.eq("drawn"),
            raffles::seed.eq(Some(&d.seed)),
            raffles::pool_size.eq(Some(i32::try_from(d.pool.len()).unwrap_or(i32::MAX))),
            raffles::pool_digest.eq(Some(&d.digest)),
            raffles::drawn_at.eq(Some(d.now)),
        ))
        .execute(c)?;
        if moved != 1 {
            return Ok(false);
        }
        for user in d.pool {
            diesel::insert_into(raffle_entries::table)
                .values((
                    raffle_entries::raffle_id.eq(id),
                    raffle_entries::user_id.eq(user),
                ))
                .execute(c)?;
        }
        for (place, user) in (1..).zip(d.winners) {
            diesel::insert_into(raffle_winners::table)
                .values((
                    raffle_winners::raffle_id.eq(id),
                    raffle_winners::place.eq(place),
                    raffle_winners::user_id.eq(user),
                ))
                .execute(c)?;
        }
        Ok(true)
    })
}

pub fn pool_of(conn: &mut DbConn, id: i64) -> QueryResult<Vec<i64>> {
    raffle_entries::table
        .filter(raffle_entries::raffle_id.eq(id))
        .order(raffle_entries::user_id)
        .select(raffle_entries::user_id)
        .load(conn)
}

pub fn winners_of(conn: &mut DbConn, id: i64) -> QueryResult<Vec<(i32, i64)>> {
    raffle_winners::table
        .filter(raffle_winners::raffle_id.eq(id))
        .order(raffle_winners::place)
        .select((raffle_winners::place, raffle_winners::user_id))
        .load(conn)
}

/// Members with a passed attempt in the quiz.
pub fn quiz_passers(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<i64>> {
    quiz_attempts::table
        .filter(quiz_attempts::quiz_id.eq(quiz))
        .filter(quiz_attempts::status.eq("submitted"))
        .filter(quiz_attempts::passed.eq(Some(true)))
        .select(quiz_attempts::user_id)
        .distinct()
        .load(conn)
}
