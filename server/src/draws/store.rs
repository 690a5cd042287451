//! SQL of prizes, draws and wins. SQL is the truth the hot-store gate is built from, and it
//! guards every draw again: a chance is spent only while `used < granted`, stock only while
//! `remaining > 0`, a member's wins only under the cap, one draw per idempotency key.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::rules::NewPrize;
use crate::db::schema::{draw_chances, draws, prize_wins, prizes, quizzes, users};
use crate::db::{DbConn, FixedSql, JsonBatch};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = prizes)]
pub struct Prize {
    pub id: i64,
    pub quiz_id: i64,
    pub name: String,
    pub kind: String,
    pub quantity: i32,
    pub remaining: i32,
    pub probability_ppm: i32,
    pub max_per_user: i32,
    pub created_at: NaiveDateTime,
}

/// The campaign's prizes in pick order (ascending id).
pub fn prizes_of(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<Prize>> {
    prizes::table
        .filter(prizes::quiz_id.eq(quiz))
        .order(prizes::id)
        .select(Prize::as_select())
        .load(conn)
}

/// Adds a prize to a draft campaign (the caller holds the draft lock and checked the odds).
pub fn insert_prize(
    conn: &mut DbConn,
    quiz: i64,
    p: &NewPrize,
    now: NaiveDateTime,
) -> QueryResult<Prize> {
    let id: i64 = diesel::insert_into(prizes::table)
        .values((
            prizes::quiz_id.eq(quiz),
            prizes::name.eq(&p.name),
            prizes::kind.eq(p.kind.as_str()),
            prizes::quantity.eq(p.quantity),
            prizes::remaining.eq(p.quantity),
            prizes::probability_ppm.eq(p.probability_ppm),
            prizes::max_per_user.eq(p.max_per_user),
            prizes::created_at.eq(now),
        ))
        .returning(prizes::id)
        .get_result(conn)?;
    prizes::table
        .find(id)
        .select(Prize::as_select())
        .first(conn)
}

/// One draw that passed the hot-store gate, to be made durable.
#[derive(Debug, Clone)]
pub struct DrawRequest {
    pub quiz: i64,
    pub user: i64,
    pub key: String,
    pub picked: Option<i64>,
    /// The gate took stock for `picked` (SQL may still refuse it).
    pub gate_won: bool,
    pub max_per_user: i32,
    pub code: String,
    pub now: NaiveDateTime,
}

/// A durable draw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawRecord {
    pub id: i64,
    pub prize_id: Option<i64>,
    pub redemption_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// A new draw (a chance spent; a win when `prize_id` is set).
    New(DrawRecord),
    /// This key already drew: its first result, nothing spent now.
    Replay(DrawRecord),
    /// SQL had no chance left to spend: nothing stored.
    NoChances,
}

/// The draw made with this key, if any.
pub fn draw_by_key(
    conn: &mut DbConn,
    quiz: i64,
    user: i64,
    key: &str,
) -> QueryResult<Option<DrawRecord>> {
    draws::table
        .left_join(prize_wins::table.on(prize_wins::draw_id.eq(draws::id)))
        .filter(draws::quiz_id.eq(quiz))
        .filter(draws::user_id.eq(user))
        .filter(draws::idempotency_key.eq(key))
        .select((
            draws::id,
            draws::prize_id,
            prize_wins::redemption_code.nullable(),
        ))
        .first::<(i64, Option<i64>, Option<String>)>(conn)
        .optional()
        .map(|row| {
            row.map(|(id, prize_id, redemption_code)| DrawRecord {
                id,
                prize_id,
                redemption_code,
            })
        })
}

/// Records one draw inside the caller's transaction, guarding everything again (a batch
/// of one, after a look-up of its key).
pub fn record(conn: &mut DbConn, r: &DrawRequest) -> QueryResult<Recorded> {
    if let Some(existing) = draw_by_key(conn, r.quiz, r.user, &r.key)? {
        return Ok(Recorded::Replay(existing));
    }
    Ok(match record_batch(conn, std::slice::from_ref(r))? {
        Some(recorded) => recorded.into_iter().next().unwrap_or(Recorded::NoChances),
        None => Recorded::NoChances,
    })
}

/// Records a batch of draws in the caller's write transaction (`db::write_tx`: on SQLite
/// its `BEGIN IMMEDIATE` is what makes reading stock and wins, then writing them, exact)
/// with the same guards as [`record`], in a handful of set-based statements whatever the
/// batch's size. It skips
/// the key look-up: a repeated key makes the unique index fail the batch, which the caller
/// then retries draw by draw with [`record`]. None (nothing kept) when SQL refuses a chance
/// the hot store had granted, for the same careful retry.
pub fn record_batch(
    conn: &mut DbConn,
    batch: &[DrawRequest],
) -> QueryResult<Option<Vec<Recorded>>> {
    match conn {
        DbConn::Pg(pg) => record_batch_on(pg, batch),
        DbConn::Sqlite(lite) => record_batch_on(lite, batch),
    }
}

/// The draws of a batch whose pick the gate granted, by prize then arrival: the order in
/// which SQL hands out stock (and takes prize row locks on Postgres).
fn prize_candidates(batch: &[DrawRequest]) -> Vec<usize> {
    let mut candidates: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].gate_won && batch[i].picked.is_some())
        .collect();
    candidates.sort_by_key(|&i| (batch[i].picked, i));
    candidates
}

/// The prizes the candidates picked, each once, in id order.
fn picked_prizes(batch: &[DrawRequest], candidates: &[usize]) -> Vec<i64> {
    let mut ids: Vec<i64> = candidates.iter().filter_map(|&i| batch[i].picked).collect();
    ids.dedup();
    ids
}

/// SQL's own allocation from the prizes' stock and the wins the members hold: a candidate
/// wins while its prize has stock left and the member is under the prize's cap, counting
/// the batch's earlier wins. Gives the prize won by each draw and the units taken per prize.
fn allocate(
    batch: &[DrawRequest],
    candidates: &[usize],
    stock: Vec<Stock>,
    held: Vec<Held>,
) -> (Vec<Option<i64>>, BTreeMap<i64, i64>) {
    let mut stock: HashMap<i64, i64> = stock.into_iter().map(|s| (s.id, s.remaining)).collect();
    let mut held: HashMap<(i64, i64), i64> = held
        .into_iter()
        .map(|h| ((h.prize_id, h.user_id), h.n))
        .collect();
    let mut won: Vec<Option<i64>> = vec![None; batch.len()];
    let mut taken: BTreeMap<i64, i64> = BTreeMap::new();
    for &i in candidates {
        let r = &batch[i];
        let Some(prize) = r.picked else { continue };
        let left = stock.entry(prize).or_insert(0);
        let mine = held.entry((prize, r.user)).or_insert(0);
        if *left > 0 && *mine < i64::from(r.max_per_user) {
            *left -= 1;
            *mine += 1;
            *taken.entry(prize).or_default() += 1;
            won[i] = Some(prize);
        }
    }
    (won, taken)
}

/// A draw row as an INSERT ... RETURNING gives it back.
#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    quiz_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    user_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    idempotency_key: String,
}

/// The id each draw of `batch` got, in the batch's order, from an INSERT ... RETURNING
/// (whose rows come back in no promised order).
fn ids_in_order(batch: &[DrawRequest], inserted: Vec<Inserted>) -> QueryResult<Vec<i64>> {
    let by_key: HashMap<(i64, i64, String), i64> = inserted
        .into_iter()
        .map(|d| ((d.quiz_id, d.user_id, d.idempotency_key), d.id))
        .collect();
    batch
        .iter()
        .map(|r| {
            by_key
                .get(&(r.quiz, r.user, r.key.clone()))
                .copied()
                .ok_or(diesel::result::Error::NotFound)
        })
        .collect()
}

/// The durable record of a new draw.
fn drawn(r: &DrawRequest, id: i64, won: Option<i64>) -> Recorded {
    Recorded::New(DrawRecord {
        id,
        prize_id: won,
        redemption_code: won.map(|_| r.code.clone()),
    })
}

#[derive(QueryableByName)]
struct Stock {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    remaining: i64,
}

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    prize_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    user_id: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

// The batch statements: each takes its rows as one JSON array (see `JsonBatch`), so it is
// prepared once per connection whatever the batch's size. Times go in as text
// (`BatchConn::time`).

/// `[[quiz, member, draws], ...]`: takes the members' chance rows in key order. Run on
/// Postgres only (see `BatchConn::lock_in_order`): SQLite's writer holds the whole
/// database already, and its text here is never run.
struct LockChances;
impl FixedSql for LockChances {
    const SQLITE: &'static str = "SELECT count(*) FROM json_each(?)";
    const POSTGRES: &'static str = "SELECT d.user_id FROM draw_chances AS d \
         WHERE (d.quiz_id, d.user_id) IN \
               (SELECT (e ->> 0)::bigint, (e ->> 1)::bigint FROM json_array_elements(?::json) AS e) \
         ORDER BY d.quiz_id, d.user_id FOR NO KEY UPDATE";
}

/// `[[quiz, member, draws], ...]`; a member short of chances leaves the row alone.
struct SpendChances;
impl FixedSql for SpendChances {
    const SQLITE: &'static str = "UPDATE draw_chances AS d SET used = d.used + v.n \
         FROM (SELECT value ->> 0 AS quiz_id, value ->> 1 AS user_id, value ->> 2 AS n \
               FROM json_each(?)) AS v \
         WHERE d.quiz_id = v.quiz_id AND d.user_id = v.user_id AND d.used + v.n <= d.granted";
    const POSTGRES: &'static str = "UPDATE draw_chances AS d SET used = d.used + v.n \
         FROM (SELECT (e ->> 0)::bigint AS quiz_id, (e ->> 1)::bigint AS user_id, (e ->> 2)::int AS n \
               FROM json_array_elements(?::json) AS e) AS v \
         WHERE d.quiz_id = v.quiz_id AND d.user_id = v.user_id AND d.used + v.n <= d.granted";
}

/// `[prize, ...]`, in id order (Postgres locks the rows in that order, as `NO KEY UPDATE`:
/// that is what the stock UPDATE takes, and unlike `UPDATE` it lets other batches' foreign
/// key checks (draws of members who picked the prize but did not win it) through).
struct PrizeStock;
impl FixedSql for PrizeStock {
    const SQLITE: &'static str = "SELECT id, remaining FROM prizes \
         WHERE id IN (SELECT value FROM json_each(?))";
    const POSTGRES: &'static str = "SELECT id, remaining::bigint AS remaining FROM prizes \
         WHERE id IN (SELECT e::bigint FROM json_array_elements_text(?::json) AS e) \
         ORDER BY id FOR NO KEY UPDATE";
}

/// `[[prize, member], ...]`
struct HeldWins;
impl FixedSql for HeldWins {
    const SQLITE: &'static str = "SELECT prize_id, user_id, count(*) AS n FROM prize_wins \
         WHERE (prize_id, user_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
         GROUP BY prize_id, user_id";
    const POSTGRES: &'static str = "SELECT prize_id, user_id, count(*) AS n FROM prize_wins \
         WHERE (prize_id, user_id) IN \
               (SELECT (e ->> 0)::bigint, (e ->> 1)::bigint FROM json_array_elements(?::json) AS e) \
         GROUP BY prize_id, user_id";
}

/// `[[prize, units], ...]`; a prize with fewer units left is left alone.
struct TakeStock;
impl FixedSql for TakeStock {
    const SQLITE: &'static str = "UPDATE prizes AS p SET remaining = p.remaining - v.n \
         FROM (SELECT value ->> 0 AS id, value ->> 1 AS n FROM json_each(?)) AS v \
         WHERE p.id = v.id AND p.remaining >= v.n";
    const POSTGRES: &'static str = "UPDATE prizes AS p SET remaining = p.remaining - v.n \
         FROM (SELECT (e ->> 0)::bigint AS id, (e ->> 1)::int AS n \
               FROM json_array_elements(?::json) AS e) AS v \
         WHERE p.id = v.id AND p.remaining >= v.n";
}

/// `[[quiz, member, key, picked, won, created_at], ...]`
struct InsertDraws;
impl FixedSql for InsertDraws {
    const SQLITE: &'static str = "INSERT INTO draws \
         (quiz_id, user_id, idempotency_key, picked_prize_id, prize_id, created_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?) \
         RETURNING id, quiz_id, user_id, idempotency_key";
    const POSTGRES: &'static str = "INSERT INTO draws \
         (quiz_id, user_id, idempotency_key, picked_prize_id, prize_id, created_at) \
         SELECT (e ->> 0)::bigint, (e ->> 1)::bigint, e ->> 2, (e ->> 3)::bigint, \
                (e ->> 4)::bigint, (e ->> 5)::timestamp \
         FROM json_array_elements(?::json) AS e \
         RETURNING id, quiz_id, user_id, idempotency_key";
}

/// `[[draw, quiz, prize, member, code, won_at], ...]`
struct InsertWins;
impl FixedSql for InsertWins {
    const SQLITE: &'static str = "INSERT INTO prize_wins \
         (draw_id, quiz_id, prize_id, user_id, redemption_code, won_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?)";
    const POSTGRES: &'static str = "INSERT INTO prize_wins \
         (draw_id, quiz_id, prize_id, user_id, redemption_code, won_at) \
         SELECT (e ->> 0)::bigint, (e ->> 1)::bigint, (e ->> 2)::bigint, (e ->> 3)::bigint, \
                e ->> 4, (e ->> 5)::timestamp \
         FROM json_array_elements(?::json) AS e";
}

/// The two connections the batch statements run on, each with its own statement texts.
trait BatchConn {
    /// A timestamp as this backend's statements read it, exactly as diesel would bind it.
    fn time(t: NaiveDateTime) -> String;
    fn execute<S: FixedSql>(&mut self, rows: &impl serde::Serialize) -> QueryResult<usize>;
    fn load<S: FixedSql, T: Row>(&mut self, rows: &impl serde::Serialize) -> QueryResult<Vec<T>>;
    /// Where transactions of several processes write at once (Postgres): prepares the
    /// batch's transaction and takes the members' chance rows in key order.
    fn lock_in_order(&mut self, _chances: &[(i64, i64, i64)]) -> QueryResult<()> {
        Ok(())
    }
}

/// A row a batch statement reads back, on either backend.
trait Row: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static {}
impl<T> Row for T where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static
{
}

impl BatchConn for diesel::SqliteConnection {
    /// Diesel's own text format for SQLite.
    fn time(t: NaiveDateTime) -> String {
        t.format("%F %T%.f").to_string()
    }

    fn execute<S: FixedSql>(&mut self, rows: &impl serde::Serialize) -> QueryResult<usize> {
        JsonBatch::<S>::new(rows)?.execute(self)
    }

    fn load<S: FixedSql, T: Row>(&mut self, rows: &impl serde::Serialize) -> QueryResult<Vec<T>> {
        JsonBatch::<S>::new(rows)?.load(self)
    }
}

impl BatchConn for diesel::PgConnection {
    /// First, every batch statement finds a few rows by key, but Postgres cannot see how
    /// many elements a JSON array holds (it assumes 100) and caches one plan per statement
    /// from the sixth call on: made while a new database's tables are nearly empty, that
    /// plan hashes whole tables, and stays until autovacuum analyzes them. So inside the
    /// batch's transaction only, scans and joins by index are preferred whatever the
    /// statistics.
    fn lock_in_order(&mut self, chances: &[(i64, i64, i64)]) -> QueryResult<()> {
        diesel::sql_query(
            "SELECT set_config('enable_seqscan', 'off', true), \
                    set_config('enable_hashjoin', 'off', true), \
                    set_config('enable_mergejoin', 'off', true)",
        )
        .execute(self)?;
        BatchConn::execute::<LockChances>(self, &chances)?;
        Ok(())
    }

    /// Whole microseconds, cut as diesel cuts them when it binds a timestamp.
    fn time(t: NaiveDateTime) -> String {
        t.format("%F %T%.6f").to_string()
    }

    fn execute<S: FixedSql>(&mut self, rows: &impl serde::Serialize) -> QueryResult<usize> {
        JsonBatch::<S>::new(rows)?.execute(self)
    }

    fn load<S: FixedSql, T: Row>(&mut self, rows: &impl serde::Serialize) -> QueryResult<Vec<T>> {
        JsonBatch::<S>::new(rows)?.load(self)
    }
}

/// [`record_batch`] on either backend: chances, stock, draws and wins in one statement
/// each, prepared once per connection. On Postgres, where the committers of several server
/// processes overlap, rows are locked in one order (chance rows by quiz and member, then
/// prize rows by id, each `FOR NO KEY UPDATE`), so concurrent batches never wait on each
/// other in a circle.
fn record_batch_on<C: BatchConn>(
    conn: &mut C,
    batch: &[DrawRequest],
) -> QueryResult<Option<Vec<Recorded>>> {
    let mut wanted: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for r in batch {
        *wanted.entry((r.quiz, r.user)).or_default() += 1;
    }
    let rows: Vec<(i64, i64, i64)> = wanted.iter().map(|(&(q, u), &n)| (q, u, n)).collect();
    conn.lock_in_order(&rows)?;
    if conn.execute::<SpendChances>(&rows)? != rows.len() {
        return Ok(None);
    }

    let candidates = prize_candidates(batch);
    let mut won = vec![None; batch.len()];
    if !candidates.is_empty() {
        let prize_ids = picked_prizes(batch, &candidates);
        let pairs: Vec<(i64, i64)> = candidates
            .iter()
            .filter_map(|&i| batch[i].picked.map(|p| (p, batch[i].user)))
            .collect();
        let stock: Vec<Stock> = conn.load::<PrizeStock, _>(&prize_ids)?;
        let held: Vec<Held> = conn.load::<HeldWins, _>(&pairs)?;
        let (allocated, taken) = allocate(batch, &candidates, stock, held);
        let taken: Vec<(i64, i64)> = taken.into_iter().collect();
        // Read in this write transaction (and locked, on Postgres), so it holds; checked
        // all the same.
        if !taken.is_empty() && conn.execute::<TakeStock>(&taken)? != taken.len() {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        won = allocated;
    }

    type DrawRow<'a> = (i64, i64, &'a str, Option<i64>, Option<i64>, String);
    let rows: Vec<DrawRow> = batch
        .iter()
        .zip(&won)
        .map(|(r, won)| {
            (
                r.quiz,
                r.user,
                r.key.as_str(),
                r.picked,
                *won,
                C::time(r.now),
            )
        })
        .collect();
    let inserted: Vec<Inserted> = conn.load::<InsertDraws, _>(&rows)?;
    let mut out = Vec::with_capacity(batch.len());
    type WinRow<'a> = (i64, i64, i64, i64, &'a str, String);
    let mut wins: Vec<WinRow> = Vec::new();
    for ((r, won), id) in batch.iter().zip(&won).zip(ids_in_order(batch, inserted)?) {
        if let Some(prize) = *won {
            wins.push((id, r.quiz, prize, r.user, r.code.as_str(), C::time(r.now)));
        }
        out.push(drawn(r, id, *won));
    }
    if !wins.is_empty() {
        conn.execute::<InsertWins>(&wins)?;
    }
    Ok(Some(out))
}

/// What the gate needs of a member: (granted, used, wins per prize).
pub type UserGate = (i64, i64, Vec<(i64, i64)>);

pub fn user_gate(conn: &mut DbConn, quiz: i64, user: i64) -> QueryResult<UserGate> {
    let (granted, used): (i32, i32) = draw_chances::table
        .find((quiz, user))
        .select((draw_chances::granted, draw_chances::used))
        .first(conn)
        .optional()?
        .unwrap_or((0, 0));
    let wins: Vec<(i64, i64)> = prize_wins::table
        .filter(prize_wins::quiz_id.eq(quiz))
        .filter(prize_wins::user_id.eq(user))
        .group_by(prize_wins::prize_id)
        .select((prize_wins::prize_id, count_star()))
        .load(conn)?;
    Ok((i64::from(granted), i64::from(used), wins))
}

/// Per prize: (id, quantity, remaining, wins recorded), for the reconciler.
pub fn prize_ledger(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(i64, i64, i64, i64)>> {
    let wins: Vec<(i64, i64)> = prize_wins::table
        .filter(prize_wins::quiz_id.eq(quiz))
        .group_by(prize_wins::prize_id)
        .select((prize_wins::prize_id, count_star()))
        .load(conn)?;
    Ok(prizes_of(conn, quiz)?
        .into_iter()
        .map(|p| {
            let won = wins.iter().find(|(id, _)| *id == p.id).map_or(0, |w| w.1);
            (p.id, i64::from(p.quantity), i64::from(p.remaining), won)
        })
        .collect())
}

/// Every member's (user, granted, used) in a campaign.
pub fn chance_rows(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(i64, i64, i64)>> {
    let rows: Vec<(i64, i32, i32)> = draw_chances::table
        .filter(draw_chances::quiz_id.eq(quiz))
        .order(draw_chances::user_id)
        .select((
            draw_chances::user_id,
            draw_chances::granted,
            draw_chances::used,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(u, g, s)| (u, i64::from(g), i64::from(s)))
        .collect())
}

/// Wins per (user, prize) in a campaign.
pub fn wins_by_user(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(i64, i64, i64)>> {
    prize_wins::table
        .filter(prize_wins::quiz_id.eq(quiz))
        .group_by((prize_wins::user_id, prize_wins::prize_id))
        .select((prize_wins::user_id, prize_wins::prize_id, count_star()))
        .load(conn)
}

/// Draws made in a campaign.
pub fn draw_count(conn: &mut DbConn, quiz: i64) -> QueryResult<i64> {
    draws::table
        .filter(draws::quiz_id.eq(quiz))
        .count()
        .get_result(conn)
}

/// Published campaigns still open for draws at `now` (the reconciler's round).
pub fn drawable_quizzes(conn: &mut DbConn, closes_after: NaiveDateTime) -> QueryResult<Vec<i64>> {
    quizzes::table
        .filter(quizzes::status.eq("published"))
        .filter(quizzes::ends_at.gt(closes_after))
        .select(quizzes::id)
        .load(conn)
}

/// A win as its owner or the organizers see it.
#[derive(Debug, Clone, Queryable)]
pub struct Win {
    pub id: i64,
    pub quiz_id: i64,
    pub quiz_title: String,
    pub org_id: i64,
    pub prize_id: i64,
    pub prize_name: String,
    pub prize_kind: String,
    pub user_id: i64,
    pub redemption_code: String,
    pub won_at: NaiveDateTime,
    pub redeemed_at: Option<NaiveDateTime>,
}

macro_rules! win_columns {
    () => {
        (
            prize_wins::id,
            prize_wins::quiz_id,
            quizzes::title,
            quizzes::org_id,
            prize_wins::prize_id,
            prizes::name,
            prizes::kind,
            prize_wins::user_id,
            prize_wins::redemption_code,
            prize_wins::won_at,
            prize_wins::redeemed_at,
        )
    };
}

/// A member's wins, newest first, paged by id.
pub fn wins_of_user(
    conn: &mut DbConn,
    user: i64,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Win>> {
    let mut query = prize_wins::table
        .inner_join(prizes::table)
        .inner_join(quizzes::table)
        .filter(prize_wins::user_id.eq(user))
        .order(prize_wins::id.desc())
        .limit(limit)
        .select(win_columns!())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(prize_wins::id.lt(before));
    }
    query.load(conn)
}

pub fn win_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<Win>> {
    prize_wins::table
        .inner_join(prizes::table)
        .inner_join(quizzes::table)
        .filter(prize_wins::redemption_code.eq(code))
        .select(win_columns!())
        .first(conn)
        .optional()
}

/// Marks a win redeemed once: false when it already was.
pub fn redeem(conn: &mut DbConn, win: i64, by: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let moved = diesel::update(
        prize_wins::table
            .find(win)
            .filter(prize_wins::redeemed_at.is_null()),
    )
    .set((
        prize_wins::redeemed_at.eq(Some(now)),
        prize_wins::redeemed_by.eq(Some(by)),
    ))
    .execute(conn)?;
    Ok(moved == 1)
}

/// Every win of a campaign with the winner's nickname and phone, for the winners CSV.
pub fn winners(conn: &mut DbConn, quiz: i64) -> QueryResult<Vec<(Win, String, Option<String>)>> {
    prize_wins::table
        .inner_join(prizes::table)
        .inner_join(quizzes::table)
        .inner_join(users::table.on(users::id.eq(prize_wins::user_id)))
        .filter(prize_wins::quiz_id.eq(quiz))
        .order(prize_wins::id)
        .select((win_columns!(), users::nickname, users::phone))
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draw(user: i64, picked: Option<i64>, gate_won: bool, cap: i32) -> DrawRequest {
        DrawRequest {
            quiz: 1,
            user,
            key: format!("k{user}"),
            picked,
            gate_won,
            max_per_user: cap,
            code: String::new(),
            now: NaiveDateTime::default(),
        }
    }

    fn stock(id: i64, remaining: i64) -> Stock {
        Stock { id, remaining }
    }

    #[test]
    fn allocation_takes_stock_in_arrival_order_within_each_prize() {
        let batch = [
            draw(1, Some(20), true, 5),
            draw(2, Some(10), true, 5),
            draw(3, Some(20), true, 5),
            draw(4, Some(20), true, 5),
            draw(5, None, false, 1),
            draw(6, Some(10), false, 5),
        ];
        let candidates = prize_candidates(&batch);
        assert_eq!(
            candidates,
            vec![1, 0, 2, 3],
            "by prize, then arrival; gate losers out"
        );
        let left = vec![stock(10, 1), stock(20, 2)];
        let (won, taken) = allocate(&batch, &candidates, left, Vec::new());
        assert_eq!(won, vec![Some(20), Some(10), Some(20), None, None, None]);
        assert_eq!(taken, BTreeMap::from([(10, 1), (20, 2)]));
    }

    #[test]
    fn allocation_keeps_each_member_under_the_cap_counting_the_batch() {
        let batch = [
            draw(1, Some(10), true, 2),
            draw(1, Some(10), true, 2),
            draw(2, Some(10), true, 1),
            draw(3, Some(10), true, 1),
        ];
        let candidates = prize_candidates(&batch);
        // Member 1 already holds one; member 2 holds one and is at the cap.
        let held = vec![
            Held {
                prize_id: 10,
                user_id: 1,
                n: 1,
            },
            Held {
                prize_id: 10,
                user_id: 2,
                n: 1,
            },
        ];
        let (won, taken) = allocate(&batch, &candidates, vec![stock(10, 100)], held);
        assert_eq!(won, vec![Some(10), None, None, Some(10)]);
        assert_eq!(taken, BTreeMap::from([(10, 2)]));
    }

    #[test]
    fn each_batch_statement_binds_its_json_once() {
        fn texts<S: FixedSql>() -> [&'static str; 2] {
            [S::SQLITE, S::POSTGRES]
        }
        for sql in [
            texts::<LockChances>(),
            texts::<SpendChances>(),
            texts::<PrizeStock>(),
            texts::<HeldWins>(),
            texts::<TakeStock>(),
            texts::<InsertDraws>(),
            texts::<InsertWins>(),
        ]
        .concat()
        {
            assert_eq!(sql.matches('?').count(), 1, "{sql}");
        }
    }

    #[test]
    fn allocation_gives_nothing_from_an_unknown_or_empty_prize() {
        let batch = [draw(1, Some(10), true, 1), draw(2, Some(30), true, 1)];
        let candidates = prize_candidates(&batch);
        let (won, taken) = allocate(&batch, &candidates, vec![stock(10, 0)], Vec::new());
        assert_eq!(won, vec![None, None]);
        assert!(taken.is_empty());
    }
}
