//! SQL of job postings, applications, their history and bookmarks.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::rules::Cursor;
use crate::db::schema::{
    job_application_events, job_applications, job_bookmarks, job_postings, orgs, users,
};
use crate::db::{DbConn, is_unique_violation, like_escape, write_tx};
use crate::domain::UserId;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_postings)]
pub struct Posting {
    pub id: i64,
    pub org_id: i64,
    pub title: String,
    pub employer: String,
    pub category: String,
    pub district: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub salary_min: i32,
    pub salary_max: i32,
    pub headcount: i32,
    pub employment_type: String,
    pub description: String,
    pub contact_phone: String,
    pub valid_until: NaiveDateTime,
    pub status: String,
    pub published_at: Option<NaiveDateTime>,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = job_postings)]
pub struct NewPosting {
    pub org_id: i64,
    pub title: String,
    pub employer: String,
    pub category: String,
    pub district: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub salary_min: i32,
    pub salary_max: i32,
    pub headcount: i32,
    pub employment_type: &'static str,
    pub description: String,
    pub contact_phone: String,
    pub valid_until: NaiveDateTime,
    pub status: &'static str,
    pub created_by: i64,
    pub created_at: NaiveDateTime,
}

pub fn insert_posting(conn: &mut DbConn, new: &NewPosting) -> QueryResult<Posting> {
    let id: i64 = diesel::insert_into(job_postings::table)
        .values(new)
        .returning(job_postings::id)
        .get_result(conn)?;
    posting(conn, id)
}

pub fn posting(conn: &mut DbConn, id: i64) -> QueryResult<Posting> {
    job_postings::table
        .find(id)
        .select(Posting::as_select())
        .first(conn)
}

/// Publishes (or re-publishes with a new validity); a re-publish counts as new.
pub fn publish(
    conn: &mut DbConn,
    id: i64,
    valid_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(job_postings::table.find(id))
        .set((
            job_postings::status.eq("published"),
            job_postings::valid_until.eq(valid_until),
            job_postings::published_at.eq(Some(now)),
        ))
        .execute(conn)
        .map(drop)
}

pub fn close(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(job_postings::table.find(id))
        .set(job_postings::status.eq("closed"))
        .execute(conn)
        .map(drop)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Newest,
    Salary,
}

#[derive(Debug, Default)]
pub struct Search {
    pub q: Option<String>,
    pub district: Option<String>,
    pub category: Option<String>,
    pub employment_type: Option<String>,
    pub salary_min: Option<i32>,
}

/// Micro-seconds since the epoch: the newest-first cursor key.
pub fn time_key(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// Published, unexpired postings, one page after `after` (keyset: rows added while paging
/// sort before the cursor and never shift the following pages).
pub fn search(
    conn: &mut DbConn,
    s: &Search,
    sort: Sort,
    after: Option<Cursor>,
    limit: i64,
    now: NaiveDateTime,
) -> QueryResult<Vec<Posting>> {
    let mut query = job_postings::table
        .filter(job_postings::status.eq("published"))
        .filter(job_postings::valid_until.gt(now))
        .select(Posting::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(q) = &s.q {
        // LIKE on a lower-cased substring works for Chinese and ASCII alike on both backends.
        let pattern = format!("%{}%", like_escape(&q.to_lowercase()));
        query = query.filter(
            lower(job_postings::title)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(job_postings::employer).like(pattern).escape('\\')),
        );
    }
    if let Some(d) = &s.district {
        query = query.filter(job_postings::district.eq(d.clone()));
    }
    if let Some(c) = &s.category {
        query = query.filter(job_postings::category.eq(c.clone()));
    }
    if let Some(t) = &s.employment_type {
        query = query.filter(job_postings::employment_type.eq(t.clone()));
    }
    if let Some(min) = s.salary_min {
        query = query.filter(job_postings::salary_max.ge(min));
    }
    match sort {
        Sort::Newest => {
            if let Some(c) = after {
                let t = chrono::DateTime::from_timestamp_micros(c.key)
                    .map(|d| d.naive_utc())
                    .unwrap_or_default();
                query = query.filter(
                    job_postings::published_at
                        .lt(t)
                        .or(job_postings::published_at
                            .eq(t)
                            .and(job_postings::id.lt(c.id))),
                );
            }
            query
                .order((job_postings::published_at.desc(), job_postings::id.desc()))
                .load(conn)
        }
        Sort::Salary => {
            if let Some(c) = after {
                let k = i32::try_from(c.key).unwrap_or(i32::MAX);
                query = query.filter(
                    job_postings::salary_max.lt(k).or(job_postings::salary_max
                        .eq(k)
                        .and(job_postings::id.lt(c.id))),
                );
            }
            query
                .order((job_postings::salary_max.desc(), job_postings::id.desc()))
                .load(conn)
        }
    }
}

// --- applications --------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_applications)]
pub struct Application {
    pub id: i64,
    pub posting_id: i64,
    pub user_id: i64,
    pub message: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

fn record(
    conn: &mut DbConn,
    application: i64,
    status: &str,
    actor: UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(job_application_events::table)
        .values((
            job_application_events::application_id.eq(application),
            job_application_events::status.eq(status),
            job_application_events::actor_id.eq(Some(actor.0)),
            job_application_events::created_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Applies once: None when this member already applied (the unique index decides, also for
/// two requests at once).
pub fn apply(
    conn: &mut DbConn,
    posting: i64,
    user: UserId,
    message: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<Application>> {
    let result = write_tx(conn, |c| {
        let id: i64 = diesel::insert_into(job_applications::table)
            .values((
                job_applications::posting_id.eq(posting),
                job_applications::user_id.eq(user.0),
                job_applications::message.eq(message),
                job_applications::status.eq("submitted"),
                job_applications::created_at.eq(now),
                job_applications::updated_at.eq(now),
            ))
            .returning(job_applications::id)
            .get_result(c)?;
        record(c, id, "submitted", user, now)?;
        application(c, id)
    });
    match result {
        Ok(a) => Ok(Some(a)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn application(conn: &mut DbConn, id: i64) -> QueryResult<Application> {
    job_applications::table
        .find(id)
        .select(Application::as_select())
        .first(conn)
}

pub fn has_applied(conn: &mut DbConn, posting: i64, user: UserId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        job_applications::table
            .filter(job_applications::posting_id.eq(posting))
            .filter(job_applications::user_id.eq(user.0)),
    ))
    .get_result(conn)
}

/// Moves an application from `from` to `to`, guarded so two staff at once cannot both move
/// it. False when it was no longer at `from`.
pub fn transition(
    conn: &mut DbConn,
    id: i64,
    from: &str,
    to: &str,
    actor: UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let moved = diesel::update(
            job_applications::table
                .find(id)
                .filter(job_applications::status.eq(from)),
        )
        .set((
            job_applications::status.eq(to),
            job_applications::updated_at.eq(now),
        ))
        .execute(c)?;
        if moved == 1 {
            record(c, id, to, actor, now)?;
        }
        Ok(moved == 1)
    })
}

pub fn applications_of(
    conn: &mut DbConn,
    user: UserId,
) -> QueryResult<Vec<(Application, String, String)>> {
    job_applications::table
        .inner_join(job_postings::table)
        .filter(job_applications::user_id.eq(user.0))
        .order(job_applications::id.desc())
        .select((
            Application::as_select(),
            job_postings::title,
            job_postings::employer,
        ))
        .load(conn)
}

/// (application id, status, time) of a user's applications, oldest first.
pub fn events_of(
    conn: &mut DbConn,
    user: UserId,
) -> QueryResult<Vec<(i64, String, NaiveDateTime)>> {
    job_application_events::table
        .inner_join(job_applications::table)
        .filter(job_applications::user_id.eq(user.0))
        .order(job_application_events::id)
        .select((
            job_application_events::application_id,
            job_application_events::status,
            job_application_events::created_at,
        ))
        .load(conn)
}

pub fn applications_for(
    conn: &mut DbConn,
    posting: i64,
) -> QueryResult<Vec<(Application, String, Option<String>)>> {
    job_applications::table
        .inner_join(users::table)
        .filter(job_applications::posting_id.eq(posting))
        .order(job_applications::id)
        .select((Application::as_select(), users::nickname, users::phone))
        .load(conn)
}

pub fn bookmark(
    conn: &mut DbConn,
    posting: i64,
    user: UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let inserted = conn.transaction(|c| {
        diesel::insert_into(job_bookmarks::table)
            .values((
                job_bookmarks::posting_id.eq(posting),
                job_bookmarks::user_id.eq(user.0),
                job_bookmarks::created_at.eq(now),
            ))
            .execute(c)
    });
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn unbookmark(conn: &mut DbConn, posting: i64, user: UserId) -> QueryResult<()> {
    diesel::delete(job_bookmarks::table.find((posting, user.0)))
        .execute(conn)
        .map(drop)
}

pub fn bookmarks_of(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<Posting>> {
    job_bookmarks::table
        .inner_join(job_postings::table)
        .filter(job_bookmarks::user_id.eq(user.0))
        .order(job_bookmarks::created_at.desc())
        .select(Posting::as_select())
        .load(conn)
}

/// Postings of the subtree at `path`: (headcount, application statuses).
pub fn subtree_figures(conn: &mut DbConn, path: &str) -> QueryResult<(Vec<i32>, Vec<String>)> {
    let pattern = format!("{}%", like_escape(path));
    let headcounts = job_postings::table
        .inner_join(orgs::table)
        .filter(orgs::path.like(pattern.clone()).escape('\\'))
        .select(job_postings::headcount)
        .load(conn)?;
    let statuses = job_applications::table
        .inner_join(job_postings::table.inner_join(orgs::table))
        .filter(orgs::path.like(pattern).escape('\\'))
        .select(job_applications::status)
        .load(conn)?;
    Ok((headcounts, statuses))
}
