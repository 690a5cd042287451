//! SQL of reading campaigns, participants and check-ins.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::schema::{reading_campaigns, reading_checkins, reading_participants};
use crate::db::{DbConn, is_unique_violation, write_tx};
use crate::domain::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reading_campaigns)]
pub struct Campaign {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub description: String,
    pub starts_on: String,
    pub ends_on: String,
    pub target_days: i32,
    pub time_zone: String,
    pub makeup_cards: i32,
    pub min_note_chars: i32,
    pub min_minutes: i32,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = reading_campaigns)]
pub struct NewCampaign {
    pub org_id: i64,
    pub title: String,
    pub description: String,
    pub starts_on: String,
    pub ends_on: String,
    pub target_days: i32,
    pub time_zone: String,
    pub makeup_cards: i32,
    pub min_note_chars: i32,
    pub min_minutes: i32,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert_campaign(conn: &mut DbConn, new: &NewCampaign) -> QueryResult<Campaign> {
    let id: i64 = diesel::insert_into(reading_campaigns::table)
        .values(new)
        .returning(reading_campaigns::id)
        .get_result(conn)?;
    campaign(conn, id)
}

pub fn campaign(conn: &mut DbConn, id: i64) -> QueryResult<Campaign> {
    reading_campaigns::table
        .find(id)
        .select(Campaign::as_select())
        .first(conn)
}

pub fn campaign_by_title(
    conn: &mut DbConn,
    org: i64,
    title: &str,
) -> QueryResult<Option<Campaign>> {
    reading_campaigns::table
        .filter(reading_campaigns::org_id.eq(org))
        .filter(reading_campaigns::title.eq(title))
        .select(Campaign::as_select())
        .first(conn)
        .optional()
}

pub fn list_campaigns(
    conn: &mut DbConn,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Campaign>> {
    let mut query = reading_campaigns::table
        .order(reading_campaigns::id)
        .limit(limit)
        .select(Campaign::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(reading_campaigns::id.gt(after));
    }
    query.load(conn)
}

/// Joins (idempotent): true when this call joined.
pub fn join(
    conn: &mut DbConn,
    campaign: i64,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let inserted = conn.transaction(|c| {
        diesel::insert_into(reading_participants::table)
            .values((
                reading_participants::campaign_id.eq(campaign),
                reading_participants::user_id.eq(user.0),
                reading_participants::makeups_used.eq(0),
                reading_participants::joined_at.eq(now),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The participant's used makeup cards, None when not joined.
pub fn makeups_used(conn: &mut DbConn, campaign: i64, user: UserId) -> QueryResult<Option<i32>> {
    reading_participants::table
        .find((campaign, user.0))
        .select(reading_participants::makeups_used)
        .first(conn)
        .optional()
}

pub fn days_of(conn: &mut DbConn, campaign: i64, user: UserId) -> QueryResult<Vec<String>> {
    reading_checkins::table
        .filter(reading_checkins::campaign_id.eq(campaign))
        .filter(reading_checkins::user_id.eq(user.0))
        .order(reading_checkins::day)
        .select(reading_checkins::day)
        .load(conn)
}

pub struct NewCheckin<'a> {
    pub campaign_id: i64,
    pub user: UserId,
    pub day: &'a str,
    pub book_title: &'a str,
    pub minutes: i32,
    pub note: &'a str,
    pub makeup: bool,
    pub now: NaiveDateTime,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Checkin {
    Stored,
    /// That day already has a check-in (the unique index decided, also for two at once).
    AlreadyChecked,
    /// A makeup without a card left.
    NoCards,
}

fn insert_checkin(conn: &mut DbConn, new: &NewCheckin<'_>) -> QueryResult<()> {
    diesel::insert_into(reading_checkins::table)
        .values((
            reading_checkins::campaign_id.eq(new.campaign_id),
            reading_checkins::user_id.eq(new.user.0),
            reading_checkins::day.eq(new.day),
            reading_checkins::book_title.eq(new.book_title),
            reading_checkins::minutes.eq(new.minutes),
            reading_checkins::note.eq(new.note),
            reading_checkins::makeup.eq(new.makeup),
            reading_checkins::created_at.eq(new.now),
        ))
        .execute(conn)
        .map(drop)
}

/// Stores a check-in, or a makeup that spends one card (a guarded UPDATE, so cards are
/// never overspent), in one transaction.
pub fn check_in(conn: &mut DbConn, new: &NewCheckin<'_>, cards: i32) -> QueryResult<Checkin> {
    let result = write_tx(conn, |c| {
        if new.makeup {
            let spent = diesel::update(
                reading_participants::table
                    .find((new.campaign_id, new.user.0))
                    .filter(reading_participants::makeups_used.lt(cards)),
            )
            .set(reading_participants::makeups_used.eq(reading_participants::makeups_used + 1))
            .execute(c)?;
            if spent != 1 {
                return Ok(Checkin::NoCards);
            }
        }
        insert_checkin(c, new)?;
        Ok(Checkin::Stored)
    });
    match result {
        Err(e) if is_unique_violation(&e) => Ok(Checkin::AlreadyChecked),
        other => other,
    }
}

/// Every (user, day) of a campaign: the leaderboard, stats and finishers come from this.
pub fn all_days(conn: &mut DbConn, campaign: i64) -> QueryResult<Vec<(i64, String)>> {
    reading_checkins::table
        .filter(reading_checkins::campaign_id.eq(campaign))
        .order((reading_checkins::user_id, reading_checkins::day))
        .select((reading_checkins::user_id, reading_checkins::day))
        .load(conn)
}

pub fn participants(conn: &mut DbConn, campaign: i64) -> QueryResult<i64> {
    reading_participants::table
        .filter(reading_participants::campaign_id.eq(campaign))
        .count()
        .get_result(conn)
}

pub fn per_day(conn: &mut DbConn, campaign: i64) -> QueryResult<Vec<(String, i64)>> {
    reading_checkins::table
        .filter(reading_checkins::campaign_id.eq(campaign))
        .group_by(reading_checkins::day)
        .order(reading_checkins::day)
        .select((reading_checkins::day, count_star()))
        .load(conn)
}
