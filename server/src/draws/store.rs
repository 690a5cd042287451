//! SQL of prizes, draws and wins. SQL is the truth the hot-store gate is built from, and it
//! guards every draw again: a chance is spent only while `used < granted`, stock only while
//! `remaining > 0`, a member's wins only under the cap, one draw per idempotency key.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::rules::NewPrize;
use crate::db::schema::{draw_chances, draws, prize_wins, prizes, quizzes, users};
use crate::db::{DbConn, JsonBatch, PgSql, SqliteSql, write_tx};

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
    Ok(record_in_tx(conn, std::slice::from_ref(r))?
        .and_then(|r| r.into_iter().next())
        .unwrap_or(Recorded::NoChances))
}

/// A batch inside the caller's transaction (on Postgres under a savepoint).
fn record_in_tx(conn: &mut DbConn, batch: &[DrawRequest]) -> QueryResult<Option<Vec<Recorded>>> {
    match conn {
        DbConn::Pg(pg) => record_batch_pg(pg, batch),
        DbConn::Sqlite(lite) => record_batch_sqlite(lite, batch),
    }
}

/// Records a batch of draws in a transaction of its own (the caller holds none), with the
/// same guards as
/// [`record`], in a few set-based statements whatever the batch's size (on Postgres, one
/// call of `record_draws`). It skips the key look-up: a repeated key makes the unique index
/// fail the batch, which the caller then retries draw by draw with [`record`]. None
/// (nothing kept) when SQL refuses a chance the hot store had granted, for the same careful
/// retry.
pub fn record_batch(
    conn: &mut DbConn,
    batch: &[DrawRequest],
) -> QueryResult<Option<Vec<Recorded>>> {
    if let DbConn::Pg(pg) = conn {
        // One statement is a transaction by itself.
        return record_batch_pg(pg, batch);
    }
    /// Why the transaction rolled back.
    enum Undone {
        NoChanceLeft,
        Failed(diesel::result::Error),
    }
    impl From<diesel::result::Error> for Undone {
        fn from(err: diesel::result::Error) -> Self {
            Undone::Failed(err)
        }
    }
    // `BEGIN IMMEDIATE` (see `db::write_tx`) is what makes reading stock and wins, then
    // writing them, exact on SQLite.
    match write_tx(conn, |c| {
        record_in_tx(c, batch)?.ok_or(Undone::NoChanceLeft)
    }) {
        Ok(recorded) => Ok(Some(recorded)),
        Err(Undone::NoChanceLeft) => Ok(None),
        Err(Undone::Failed(err)) => Err(err),
    }
}

/// The draws of a batch whose pick the gate granted, by prize then arrival: the order in
/// which SQL hands out stock (`record_draws` does the same on Postgres).
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
// prepared once per connection whatever the batch's size. Times go in as text, as diesel
// would bind them on each backend.

/// `[[quiz, member, draws], ...]`; a member short of chances leaves the row alone.
struct SpendChances;
impl SqliteSql for SpendChances {
    const SQLITE: &'static str = "UPDATE draw_chances AS d SET used = d.used + v.n \
         FROM (SELECT value ->> 0 AS quiz_id, value ->> 1 AS user_id, value ->> 2 AS n \
               FROM json_each(?)) AS v \
         WHERE d.quiz_id = v.quiz_id AND d.user_id = v.user_id AND d.used + v.n <= d.granted";
}

/// `[prize, ...]`
struct PrizeStock;
impl SqliteSql for PrizeStock {
    const SQLITE: &'static str = "SELECT id, remaining FROM prizes \
         WHERE id IN (SELECT value FROM json_each(?))";
}

/// `[[prize, member], ...]`
struct HeldWins;
impl SqliteSql for HeldWins {
    const SQLITE: &'static str = "SELECT prize_id, user_id, count(*) AS n FROM prize_wins \
         WHERE (prize_id, user_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?)) \
         GROUP BY prize_id, user_id";
}

/// `[[prize, units], ...]`; a prize with fewer units left is left alone.
struct TakeStock;
impl SqliteSql for TakeStock {
    const SQLITE: &'static str = "UPDATE prizes AS p SET remaining = p.remaining - v.n \
         FROM (SELECT value ->> 0 AS id, value ->> 1 AS n FROM json_each(?)) AS v \
         WHERE p.id = v.id AND p.remaining >= v.n";
}

/// `[[quiz, member, key, picked, won, created_at], ...]`
struct InsertDraws;
impl SqliteSql for InsertDraws {
    const SQLITE: &'static str = "INSERT INTO draws \
         (quiz_id, user_id, idempotency_key, picked_prize_id, prize_id, created_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?) \
         RETURNING id, quiz_id, user_id, idempotency_key";
}

/// `[[draw, quiz, prize, member, code, won_at], ...]`
struct InsertWins;
impl SqliteSql for InsertWins {
    const SQLITE: &'static str = "INSERT INTO prize_wins \
         (draw_id, quiz_id, prize_id, user_id, redemption_code, won_at) \
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 \
         FROM json_each(?)";
}

/// The whole batch on Postgres, in one round trip: the steps of [`record_batch_sqlite`]
/// run inside the server as the function `record_draws` (its migration,
/// `2026-11-24-000010_record_draws`, shows them). A server process's committer otherwise
/// waited on ten round trips per batch, one after another.
///
/// `[[quiz, member, key, picked, gate_won, max_per_user, code, created_at], ...]`
struct RecordDraws;
impl PgSql for RecordDraws {
    const POSTGRES: &'static str = "SELECT out_place, out_id, out_won FROM record_draws(?::json)";
}

/// What `record_draws` raises, rolling everything back, when a member has no chance left
/// to spend.
const NO_CHANCE_LEFT: &str = "draw_chances_left";

/// One draw as `record_draws` recorded it: its place in the batch, its id, its prize.
#[derive(QueryableByName)]
struct Placed {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    out_place: i32,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    out_id: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    out_won: Option<i64>,
}

/// [`record_batch`] on Postgres: one call of `record_draws`, a transaction by itself, or,
/// inside the caller's transaction, under a savepoint (so that a refused chance leaves
/// the transaction usable). Rows are locked in one order whatever the process (chance rows
/// by quiz and member, then prize rows by id, each `FOR NO KEY UPDATE`, which unlike
/// `UPDATE` lets other batches' foreign-key checks through), so the committers of several
/// server processes never wait on each other in a circle.
fn record_batch_pg(
    conn: &mut diesel::PgConnection,
    batch: &[DrawRequest],
) -> QueryResult<Option<Vec<Recorded>>> {
    use diesel::connection::TransactionManager;
    type Row<'a> = (i64, i64, &'a str, Option<i64>, bool, i32, &'a str, String);
    let rows: Vec<Row> = batch
        .iter()
        .map(|r| {
            (
                r.quiz,
                r.user,
                r.key.as_str(),
                r.picked,
                r.gate_won,
                r.max_per_user,
                r.code.as_str(),
                // Whole microseconds, cut as diesel cuts them when it binds a timestamp.
                r.now.format("%F %T%.6f").to_string(),
            )
        })
        .collect();
    let statement = JsonBatch::<RecordDraws>::new(&rows)?;
    let inside = diesel::connection::AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .is_some();
    let placed: QueryResult<Vec<Placed>> = if inside {
        conn.transaction(|c| statement.load(c))
    } else {
        statement.load(conn)
    };
    let placed = match placed {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::CheckViolation,
            info,
        )) if info.constraint_name() == Some(NO_CHANCE_LEFT) => return Ok(None),
        other => other?,
    };
    let mut out: Vec<Option<Recorded>> = vec![None; batch.len()];
    for p in placed {
        let place = usize::try_from(p.out_place)
            .ok()
            .filter(|&i| i < batch.len());
        let Some(place) = place else {
            return Err(diesel::result::Error::NotFound);
        };
        out[place] = Some(drawn(&batch[place], p.out_id, p.out_won));
    }
    out.into_iter()
        .map(|r| r.ok_or(diesel::result::Error::NotFound))
        .collect::<QueryResult<Vec<_>>>()
        .map(Some)
}

/// [`record_batch`] on SQLite, inside the caller's write transaction: chances, stock,
/// draws and wins in one statement each.
fn record_batch_sqlite(
    conn: &mut diesel::SqliteConnection,
    batch: &[DrawRequest],
) -> QueryResult<Option<Vec<Recorded>>> {
    let mut wanted: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for r in batch {
        *wanted.entry((r.quiz, r.user)).or_default() += 1;
    }
    let rows: Vec<(i64, i64, i64)> = wanted.iter().map(|(&(q, u), &n)| (q, u, n)).collect();
    if JsonBatch::<SpendChances>::new(&rows)?.execute(conn)? != rows.len() {
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
        let stock: Vec<Stock> = JsonBatch::<PrizeStock>::new(&prize_ids)?.load(conn)?;
        let held: Vec<Held> = JsonBatch::<HeldWins>::new(&pairs)?.load(conn)?;
        let (allocated, taken) = allocate(batch, &candidates, stock, held);
        let taken: Vec<(i64, i64)> = taken.into_iter().collect();
        // Read in this write transaction, so it holds; checked all the same.
        if !taken.is_empty() && JsonBatch::<TakeStock>::new(&taken)?.execute(conn)? != taken.len() {
            return Err(diesel::result::Error::QueryBuilderError(
                "prize stock changed inside the write transaction".into(),
            ));
        }
        won = allocated;
    }

    // Diesel's own text format for SQLite times.
    let time = |t: NaiveDateTime| t.format("%F %T%.f").to_string();
    type DrawRow<'a> = (i64, i64, &'a str, Option<i64>, Option<i64>, String);
    let rows: Vec<DrawRow> = batch
        .iter()
        .zip(&won)
        .map(|(r, won)| (r.quiz, r.user, r.key.as_str(), r.picked, *won, time(r.now)))
        .collect();
    let inserted: Vec<Inserted> = JsonBatch::<InsertDraws>::new(&rows)?.load(conn)?;
    let mut out = Vec::with_capacity(batch.len());
    type WinRow<'a> = (i64, i64, i64, i64, &'a str, String);
    let mut wins: Vec<WinRow> = Vec::new();
    for ((r, won), id) in batch.iter().zip(&won).zip(ids_in_order(batch, inserted)?) {
        if let Some(prize) = *won {
            wins.push((id, r.quiz, prize, r.user, r.code.as_str(), time(r.now)));
        }
        out.push(drawn(r, id, *won));
    }
    if !wins.is_empty() {
        JsonBatch::<InsertWins>::new(&wins)?.execute(conn)?;
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
        for sql in [
            SpendChances::SQLITE,
            PrizeStock::SQLITE,
            HeldWins::SQLITE,
            TakeStock::SQLITE,
            InsertDraws::SQLITE,
            InsertWins::SQLITE,
            RecordDraws::POSTGRES,
        ] {
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
