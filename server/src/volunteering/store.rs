//! SQL of volunteer activities, sign-ups, the hours ledger and certificates.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    orgs, volunteer_activities, volunteer_certificates, volunteer_hours, volunteer_signups,
};
use crate::db::{DbConn, like_escape, write_tx};
use crate::domain::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = volunteer_activities)]
pub struct Activity {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub description: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub confirmed: i32,
    pub signup_deadline: NaiveDateTime,
    pub code_secret: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = volunteer_activities)]
pub struct NewActivity {
    pub org_id: i64,
    pub title: String,
    pub description: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub capacity: i32,
    pub signup_deadline: NaiveDateTime,
    pub code_secret: String,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert_activity(conn: &mut DbConn, new: &NewActivity) -> QueryResult<Activity> {
    let id: i64 = diesel::insert_into(volunteer_activities::table)
        .values(new)
        .returning(volunteer_activities::id)
        .get_result(conn)?;
    activity(conn, id)
}

pub fn activity(conn: &mut DbConn, id: i64) -> QueryResult<Activity> {
    volunteer_activities::table
        .find(id)
        .select(Activity::as_select())
        .first(conn)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Upcoming,
    Ongoing,
    Past,
}

pub fn list(
    conn: &mut DbConn,
    when: When,
    now: NaiveDateTime,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Activity>> {
    let mut q = volunteer_activities::table
        .order(volunteer_activities::id)
        .limit(limit)
        .select(Activity::as_select())
        .into_boxed();
    q = match when {
        When::Upcoming => q.filter(volunteer_activities::starts_at.gt(now)),
        When::Ongoing => q
            .filter(volunteer_activities::starts_at.le(now))
            .filter(volunteer_activities::ends_at.gt(now)),
        When::Past => q.filter(volunteer_activities::ends_at.le(now)),
    };
    if let Some(after) = after {
        q = q.filter(volunteer_activities::id.gt(after));
    }
    q.load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = volunteer_signups)]
pub struct Signup {
    pub id: i64,
    pub activity_id: i64,
    pub user_id: i64,
    pub status: String,
    pub queued_at: NaiveDateTime,
    pub checkin_at: Option<NaiveDateTime>,
    pub checkout_at: Option<NaiveDateTime>,
}

pub fn signup(conn: &mut DbConn, activity: i64, user: UserId) -> QueryResult<Option<Signup>> {
    volunteer_signups::table
        .filter(volunteer_signups::activity_id.eq(activity))
        .filter(volunteer_signups::user_id.eq(user.0))
        .select(Signup::as_select())
        .first(conn)
        .optional()
}

/// Takes a place if one is free: a guarded increment, which the CHECK constraint backs.
fn take_place(conn: &mut DbConn, activity: i64) -> QueryResult<bool> {
    let taken = diesel::update(
        volunteer_activities::table
            .find(activity)
            .filter(volunteer_activities::confirmed.lt(volunteer_activities::capacity)),
    )
    .set(volunteer_activities::confirmed.eq(volunteer_activities::confirmed + 1))
    .execute(conn)?;
    Ok(taken == 1)
}

#[derive(Debug, PartialEq, Eq)]
pub enum SignupOutcome {
    Confirmed,
    Waitlisted,
    Full,
    Already,
}

/// Signs up: a place if one is free, else the waitlist when asked for, else Full.
pub fn sign_up(
    conn: &mut DbConn,
    activity: i64,
    user: UserId,
    waitlist: bool,
    now: NaiveDateTime,
) -> QueryResult<SignupOutcome> {
    let result = write_tx(conn, |c| {
        let existing = signup(c, activity, user)?;
        if existing.as_ref().is_some_and(|s| s.status != "cancelled") {
            return Ok(SignupOutcome::Already);
        }
        let status = if take_place(c, activity)? {
            "confirmed"
        } else if waitlist {
            "waitlisted"
        } else {
            return Ok(SignupOutcome::Full);
        };
        match existing {
            Some(s) => diesel::update(volunteer_signups::table.find(s.id))
                .set((
                    volunteer_signups::status.eq(status),
                    volunteer_signups::queued_at.eq(now),
                    volunteer_signups::checkin_at.eq(None::<NaiveDateTime>),
                ))
                .execute(c)?,
            None => diesel::insert_into(volunteer_signups::table)
                .values((
                    volunteer_signups::activity_id.eq(activity),
                    volunteer_signups::user_id.eq(user.0),
                    volunteer_signups::status.eq(status),
                    volunteer_signups::queued_at.eq(now),
                ))
                .execute(c)?,
        };
        Ok(if status == "confirmed" {
            SignupOutcome::Confirmed
        } else {
            SignupOutcome::Waitlisted
        })
    });
    match result {
        // Two sign-ups of the same member at once: the unique index took one.
        Err(e) if crate::db::is_unique_violation(&e) => Ok(SignupOutcome::Already),
        other => other,
    }
}

/// Cancels; a freed place goes to the longest-waiting member. Returns whether a sign-up
/// was cancelled.
pub fn cancel(conn: &mut DbConn, activity: i64, user: UserId) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let Some(s) = signup(c, activity, user)?.filter(|s| s.status != "cancelled") else {
            return Ok(false);
        };
        diesel::update(volunteer_signups::table.find(s.id))
            .set(volunteer_signups::status.eq("cancelled"))
            .execute(c)?;
        if s.status == "confirmed" {
            diesel::update(volunteer_activities::table.find(activity))
                .set(volunteer_activities::confirmed.eq(volunteer_activities::confirmed - 1))
                .execute(c)?;
            let next: Option<i64> = volunteer_signups::table
                .filter(volunteer_signups::activity_id.eq(activity))
                .filter(volunteer_signups::status.eq("waitlisted"))
                .order((volunteer_signups::queued_at, volunteer_signups::id))
                .select(volunteer_signups::id)
                .first(c)
                .optional()?;
            if let Some(next) = next
                && take_place(c, activity)?
            {
                diesel::update(volunteer_signups::table.find(next))
                    .set(volunteer_signups::status.eq("confirmed"))
                    .execute(c)?;
            }
        }
        Ok(true)
    })
}

pub fn check_in(conn: &mut DbConn, signup: i64, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        volunteer_signups::table
            .find(signup)
            .filter(volunteer_signups::checkin_at.is_null()),
    )
    .set(volunteer_signups::checkin_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

pub struct Credit<'a> {
    pub activity: i64,
    pub user: UserId,
    pub minutes: i32,
    pub kind: &'a str,
    pub note: &'a str,
    pub actor: Option<UserId>,
    pub now: NaiveDateTime,
}

fn append(conn: &mut DbConn, e: &Credit<'_>) -> QueryResult<()> {
    diesel::insert_into(volunteer_hours::table)
        .values((
            volunteer_hours::activity_id.eq(e.activity),
            volunteer_hours::user_id.eq(e.user.0),
            volunteer_hours::minutes.eq(e.minutes),
            volunteer_hours::kind.eq(e.kind),
            volunteer_hours::note.eq(e.note),
            volunteer_hours::actor_id.eq(e.actor.map(|a| a.0)),
            volunteer_hours::created_at.eq(e.now),
        ))
        .execute(conn)
        .map(drop)
}

/// Checks out once and appends the credit to the ledger in the same transaction.
pub fn check_out(conn: &mut DbConn, signup: i64, credit: &Credit<'_>) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let n = diesel::update(
            volunteer_signups::table
                .find(signup)
                .filter(volunteer_signups::checkin_at.is_not_null())
                .filter(volunteer_signups::checkout_at.is_null()),
        )
        .set(volunteer_signups::checkout_at.eq(Some(credit.now)))
        .execute(c)?;
        if n == 1 {
            append(c, credit)?;
        }
        Ok(n == 1)
    })
}

pub fn credited(conn: &mut DbConn, activity: i64, user: UserId) -> QueryResult<i64> {
    let rows: Vec<i32> = volunteer_hours::table
        .filter(volunteer_hours::activity_id.eq(activity))
        .filter(volunteer_hours::user_id.eq(user.0))
        .select(volunteer_hours::minutes)
        .load(conn)?;
    Ok(rows.into_iter().map(i64::from).sum())
}

/// Sets a member's credited minutes for an activity by appending the difference (the
/// ledger is never rewritten).
pub fn correct(
    conn: &mut DbConn,
    activity: i64,
    user: UserId,
    minutes: i32,
    note: &str,
    actor: UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    write_tx(conn, |c| {
        let current = credited(c, activity, user)?;
        let delta = i32::try_from(i64::from(minutes) - current).unwrap_or(0);
        append(
            c,
            &Credit {
                activity,
                user,
                minutes: delta,
                kind: "correction",
                note,
                actor: Some(actor),
                now,
            },
        )
    })
}

pub fn confirmed_users(conn: &mut DbConn, activity: i64) -> QueryResult<Vec<i64>> {
    volunteer_signups::table
        .filter(volunteer_signups::activity_id.eq(activity))
        .filter(volunteer_signups::status.eq("confirmed"))
        .select(volunteer_signups::user_id)
        .load(conn)
}

/// (activity id, title, minutes, kind, note, at)
pub type LedgerRow = (i64, String, i32, String, String, NaiveDateTime);

/// A member's ledger, oldest first.
pub fn ledger_of(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<LedgerRow>> {
    volunteer_hours::table
        .inner_join(volunteer_activities::table)
        .filter(volunteer_hours::user_id.eq(user.0))
        .order(volunteer_hours::id)
        .select((
            volunteer_hours::activity_id,
            volunteer_activities::title,
            volunteer_hours::minutes,
            volunteer_hours::kind,
            volunteer_hours::note,
            volunteer_hours::created_at,
        ))
        .load(conn)
}

/// Every ledger entry of activities in the subtree at `path`: (user, minutes, activity start).
pub fn subtree_entries(
    conn: &mut DbConn,
    path: &str,
) -> QueryResult<Vec<(i64, i32, NaiveDateTime)>> {
    volunteer_hours::table
        .inner_join(volunteer_activities::table.inner_join(orgs::table))
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .select((
            volunteer_hours::user_id,
            volunteer_hours::minutes,
            volunteer_activities::starts_at,
        ))
        .load(conn)
}

pub fn subtree_activities(conn: &mut DbConn, path: &str) -> QueryResult<i64> {
    volunteer_activities::table
        .inner_join(orgs::table)
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .count()
        .get_result(conn)
}

pub fn total_minutes(conn: &mut DbConn, user: UserId) -> QueryResult<i64> {
    let rows: Vec<i32> = volunteer_hours::table
        .filter(volunteer_hours::user_id.eq(user.0))
        .select(volunteer_hours::minutes)
        .load(conn)?;
    Ok(rows.into_iter().map(i64::from).sum())
}

pub fn issue_certificate(
    conn: &mut DbConn,
    code: &str,
    user: UserId,
    total: i32,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(volunteer_certificates::table)
        .values((
            volunteer_certificates::code.eq(code),
            volunteer_certificates::user_id.eq(user.0),
            volunteer_certificates::total_minutes.eq(total),
            volunteer_certificates::issued_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn certificate(
    conn: &mut DbConn,
    code: &str,
) -> QueryResult<Option<(i64, i32, NaiveDateTime)>> {
    volunteer_certificates::table
        .find(code)
        .select((
            volunteer_certificates::user_id,
            volunteer_certificates::total_minutes,
            volunteer_certificates::issued_at,
        ))
        .first(conn)
        .optional()
}
