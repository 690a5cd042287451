//! SQL of enrollments, their history, member numbers, transfers and the audit log.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;

use crate::db::schema::{
    audit_log, enrollment_events, enrollments, member_no_counters, membership_transfers, orgs,
};
use crate::db::{DbConn, like_escape, per_backend, write_tx};
use crate::domain::{OrgId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = enrollments)]
pub struct Enrollment {
    pub id: i64,
    pub user_id: i64,
    pub org_id: i64,
    pub real_name: String,
    pub id_number_enc: String,
    pub id_key_version: i32,
    pub id_blind_index: String,
    pub id_masked: String,
    pub phone: String,
    pub employer: String,
    pub occupation: String,
    pub employment_form: String,
    pub consent_version: String,
    pub status: String,
    pub reject_reason: Option<String>,
    pub member_no: Option<String>,
    pub joined_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = enrollments)]
pub struct NewEnrollment {
    pub user_id: i64,
    pub org_id: i64,
    pub real_name: String,
    pub id_number_enc: String,
    pub id_key_version: i32,
    pub id_blind_index: String,
    pub id_masked: String,
    pub phone: String,
    pub employer: String,
    pub occupation: String,
    pub employment_form: &'static str,
    pub consent_version: String,
    pub status: &'static str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = enrollment_events)]
pub struct Event {
    pub id: i64,
    pub enrollment_id: i64,
    pub status: String,
    pub reason: Option<String>,
    pub org_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = enrollment_events)]
pub struct NewEvent<'a> {
    pub enrollment_id: i64,
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub org_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn record_event(conn: &mut DbConn, event: &NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(enrollment_events::table)
        .values(event)
        .execute(conn)
        .map(drop)
}

/// Stores an application and its first history entry. The partial unique indexes refuse
/// a second live application of the same person or account (a unique violation).
pub fn insert_enrollment(conn: &mut DbConn, new: &NewEnrollment) -> QueryResult<Enrollment> {
    write_tx(conn, |c| {
        let id: i64 = diesel::insert_into(enrollments::table)
            .values(new)
            .returning(enrollments::id)
            .get_result(c)?;
        record_event(
            c,
            &NewEvent {
                enrollment_id: id,
                status: "pending",
                reason: None,
                org_id: Some(new.org_id),
                actor_id: Some(new.user_id),
                created_at: new.created_at,
            },
        )?;
        enrollment(c, id)
    })
}

pub fn enrollment(conn: &mut DbConn, id: i64) -> QueryResult<Enrollment> {
    enrollments::table
        .find(id)
        .select(Enrollment::as_select())
        .first(conn)
}

pub fn enrollments_of(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<Enrollment>> {
    enrollments::table
        .filter(enrollments::user_id.eq(user.0))
        .order(enrollments::id.desc())
        .select(Enrollment::as_select())
        .load(conn)
}

pub fn events_of_user(conn: &mut DbConn, user: UserId) -> QueryResult<Vec<Event>> {
    enrollment_events::table
        .inner_join(enrollments::table)
        .filter(enrollments::user_id.eq(user.0))
        .order(enrollment_events::id)
        .select(Event::as_select())
        .load(conn)
}

pub fn events_of(conn: &mut DbConn, enrollment: i64) -> QueryResult<Vec<Event>> {
    enrollment_events::table
        .filter(enrollment_events::enrollment_id.eq(enrollment))
        .order(enrollment_events::id)
        .select(Event::as_select())
        .load(conn)
}

/// Moves a pending application to `to`. Conditional on it still being pending, so two
/// reviewers at once cannot both decide it: false when it was not pending any more.
pub fn decide(
    conn: &mut DbConn,
    id: i64,
    to: &str,
    reason: Option<&str>,
    member_no: Option<&str>,
    actor: UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let changed = diesel::update(
            enrollments::table
                .find(id)
                .filter(enrollments::status.eq("pending")),
        )
        .set((
            enrollments::status.eq(to),
            enrollments::reject_reason.eq(reason),
            enrollments::member_no.eq(member_no),
            enrollments::joined_at.eq(member_no.map(|_| now)),
            enrollments::updated_at.eq(now),
        ))
        .execute(c)?;
        if changed == 1 {
            record_event(
                c,
                &NewEvent {
                    enrollment_id: id,
                    status: to,
                    reason,
                    org_id: None,
                    actor_id: Some(actor.0),
                    created_at: now,
                },
            )?;
        }
        Ok(changed == 1)
    })
}

/// Approves a pending application, numbering the member within the federation at the root
/// of its org's tree. False (and no number used) when it was not pending any more.
pub fn approve(conn: &mut DbConn, id: i64, actor: UserId, now: NaiveDateTime) -> QueryResult<bool> {
    let result = write_tx(conn, |c| {
        let e = enrollment(c, id)?;
        let org = crate::orgs::store::org(c, OrgId(e.org_id))?;
        let root = OrgId(
            crate::orgs::rules::path_ids(&org.path)
                .first()
                .copied()
                .unwrap_or(org.id),
        );
        let federation = crate::orgs::store::org(c, root)?;
        let sequence = next_member_sequence(c, root)?;
        let number = super::rules::member_no(&federation.region_code, sequence);
        if decide(c, id, "approved", None, Some(&number), actor, now)? {
            Ok(())
        } else {
            Err(diesel::result::Error::RollbackTransaction)
        }
    });
    match result {
        Ok(()) => Ok(true),
        Err(diesel::result::Error::RollbackTransaction) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The next member number sequence of a federation (an upsert, hence per backend).
pub fn next_member_sequence(conn: &mut DbConn, federation: OrgId) -> QueryResult<i64> {
    use member_no_counters::dsl as m;
    per_backend(
        conn,
        |c: &mut PgConnection| {
            diesel::insert_into(m::member_no_counters)
                .values((m::federation_id.eq(federation.0), m::last_value.eq(1)))
                .on_conflict(m::federation_id)
                .do_update()
                .set(m::last_value.eq(m::last_value + 1))
                .returning(m::last_value)
                .get_result(c)
        },
        |c: &mut SqliteConnection| {
            diesel::insert_into(m::member_no_counters)
                .values((m::federation_id.eq(federation.0), m::last_value.eq(1)))
                .on_conflict(m::federation_id)
                .do_update()
                .set(m::last_value.eq(m::last_value + 1))
                .returning(m::last_value)
                .get_result(c)
        },
    )
}

/// Applications in the subtree whose root path is `path`, newest last, by id cursor.
pub fn queue(
    conn: &mut DbConn,
    path: &str,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<(Enrollment, String)>> {
    let mut query = enrollments::table
        .inner_join(orgs::table)
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .order(enrollments::id)
        .limit(limit)
        .select((Enrollment::as_select(), orgs::name))
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(enrollments::status.eq(status.to_owned()));
    }
    if let Some(after) = after {
        query = query.filter(enrollments::id.gt(after));
    }
    query.load(conn)
}

/// The user's active membership, with its org.
pub fn membership_of(
    conn: &mut DbConn,
    user: UserId,
) -> QueryResult<Option<(Enrollment, crate::orgs::store::Org)>> {
    enrollments::table
        .inner_join(orgs::table)
        .filter(enrollments::user_id.eq(user.0))
        .filter(enrollments::status.eq("approved"))
        .select((
            Enrollment::as_select(),
            crate::orgs::store::Org::as_select(),
        ))
        .first(conn)
        .optional()
}

// --- transfers -----------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = membership_transfers)]
pub struct Transfer {
    pub id: i64,
    pub enrollment_id: i64,
    pub from_org_id: i64,
    pub to_org_id: i64,
    pub reason: String,
    pub status: String,
    pub decision_reason: Option<String>,
    pub decided_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub decided_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = membership_transfers)]
pub struct NewTransfer {
    pub enrollment_id: i64,
    pub from_org_id: i64,
    pub to_org_id: i64,
    pub reason: String,
    pub status: &'static str,
    pub created_at: NaiveDateTime,
}

pub fn insert_transfer(conn: &mut DbConn, new: &NewTransfer) -> QueryResult<Transfer> {
    let id: i64 = diesel::insert_into(membership_transfers::table)
        .values(new)
        .returning(membership_transfers::id)
        .get_result(conn)?;
    transfer(conn, id)
}

pub fn transfer(conn: &mut DbConn, id: i64) -> QueryResult<Transfer> {
    membership_transfers::table
        .find(id)
        .select(Transfer::as_select())
        .first(conn)
}

pub fn transfers_of(conn: &mut DbConn, enrollment: i64) -> QueryResult<Vec<Transfer>> {
    membership_transfers::table
        .filter(membership_transfers::enrollment_id.eq(enrollment))
        .order(membership_transfers::id)
        .select(Transfer::as_select())
        .load(conn)
}

/// Transfers into the subtree at `path`.
pub fn incoming_transfers(
    conn: &mut DbConn,
    path: &str,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Transfer>> {
    let mut query = membership_transfers::table
        .inner_join(orgs::table.on(orgs::id.eq(membership_transfers::to_org_id)))
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .order(membership_transfers::id)
        .limit(limit)
        .select(Transfer::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(membership_transfers::status.eq(status.to_owned()));
    }
    if let Some(after) = after {
        query = query.filter(membership_transfers::id.gt(after));
    }
    query.load(conn)
}

/// Decides a pending transfer; on approval the membership moves to the new org with its
/// member number kept. False when the transfer was not pending any more.
pub fn decide_transfer(
    conn: &mut DbConn,
    transfer: &Transfer,
    approve: bool,
    reason: Option<&str>,
    actor: UserId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    write_tx(conn, |c| {
        let status = if approve { "approved" } else { "rejected" };
        let changed = diesel::update(
            membership_transfers::table
                .find(transfer.id)
                .filter(membership_transfers::status.eq("pending")),
        )
        .set((
            membership_transfers::status.eq(status),
            membership_transfers::decision_reason.eq(reason),
            membership_transfers::decided_by.eq(Some(actor.0)),
            membership_transfers::decided_at.eq(Some(now)),
        ))
        .execute(c)?;
        if changed != 1 {
            return Ok(false);
        }
        if approve {
            let moved = diesel::update(
                enrollments::table
                    .find(transfer.enrollment_id)
                    .filter(enrollments::status.eq("approved"))
                    .filter(enrollments::org_id.eq(transfer.from_org_id)),
            )
            .set((
                enrollments::org_id.eq(transfer.to_org_id),
                enrollments::updated_at.eq(now),
            ))
            .execute(c)?;
            if moved != 1 {
                // The membership ended or moved meanwhile: nothing to move.
                return Err(diesel::result::Error::RollbackTransaction);
            }
            record_event(
                c,
                &NewEvent {
                    enrollment_id: transfer.enrollment_id,
                    status: "transferred",
                    reason: Some(&transfer.reason),
                    org_id: Some(transfer.to_org_id),
                    actor_id: Some(actor.0),
                    created_at: now,
                },
            )?;
        }
        Ok(true)
    })
}

// --- audit log ---------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub actor_id: i64,
    pub action: String,
    pub subject_type: String,
    pub subject_id: i64,
    pub org_id: Option<i64>,
    pub purpose: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub actor_id: i64,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: i64,
    pub org_id: Option<i64>,
    pub purpose: &'a str,
    pub created_at: NaiveDateTime,
}

pub fn audit(conn: &mut DbConn, entry: &NewAuditEntry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(entry)
        .execute(conn)
        .map(drop)
}

pub fn audit_entries(
    conn: &mut DbConn,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut query = audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(audit_log::id.lt(after));
    }
    query.load(conn)
}

// --- stats -----------------------------------------------------------------------------------

pub fn count_by_status(conn: &mut DbConn, path: &str) -> QueryResult<Vec<(String, i64)>> {
    enrollments::table
        .inner_join(orgs::table)
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .group_by(enrollments::status)
        .select((enrollments::status, count_star()))
        .load(conn)
}

pub fn count_members_by_form(conn: &mut DbConn, path: &str) -> QueryResult<Vec<(String, i64)>> {
    enrollments::table
        .inner_join(orgs::table)
        .filter(
            orgs::path
                .like(format!("{}%", like_escape(path)))
                .escape('\\'),
        )
        .filter(enrollments::status.eq("approved"))
        .group_by(enrollments::employment_form)
        .select((enrollments::employment_form, count_star()))
        .load(conn)
}

#[derive(Debug, QueryableByName)]
pub struct MonthRow {
    #[diesel(sql_type = Text)]
    pub month: String,
    #[diesel(sql_type = BigInt)]
    pub applications: i64,
    #[diesel(sql_type = BigInt)]
    pub approvals: i64,
}

/// Applications and approvals per calendar month (UTC+8) in the subtree. Date functions
/// differ between the backends, hence one query each.
pub fn count_by_month(conn: &mut DbConn, path: &str) -> QueryResult<Vec<MonthRow>> {
    let pattern = format!("{}%", like_escape(path));
    let pg_pattern = pattern.clone();
    per_backend(
        conn,
        |c: &mut PgConnection| {
            diesel::sql_query(
                "SELECT to_char(e.created_at + interval '8 hours', 'YYYY-MM') AS month,
                        count(*) AS applications,
                        count(*) FILTER (WHERE e.status = 'approved') AS approvals
                   FROM enrollments e JOIN orgs o ON o.id = e.org_id
                  WHERE o.path LIKE $1 ESCAPE '\\'
                  GROUP BY 1 ORDER BY 1",
            )
            .bind::<Text, _>(pg_pattern)
            .load(c)
        },
        |c: &mut SqliteConnection| {
            diesel::sql_query(
                "SELECT strftime('%Y-%m', e.created_at, '+8 hours') AS month,
                        count(*) AS applications,
                        sum(CASE WHEN e.status = 'approved' THEN 1 ELSE 0 END) AS approvals
                   FROM enrollments e JOIN orgs o ON o.id = e.org_id
                  WHERE o.path LIKE ? ESCAPE '\\'
                  GROUP BY 1 ORDER BY 1",
            )
            .bind::<Text, _>(pattern)
            .load(c)
        },
    )
}
