//! SQL of users, roles, refresh tokens and SMS codes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{refresh_tokens, sms_codes, user_roles, users};
use crate::db::{DbConn, is_unique_violation, write_tx};
use crate::domain::UserId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub phone: Option<String>,
    pub wechat_openid: Option<String>,
    pub username: Option<String>,
    pub password_hash: Option<String>,
    pub failed_logins: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub nickname: &'a str,
    pub phone: Option<&'a str>,
    pub wechat_openid: Option<&'a str>,
    pub username: Option<&'a str>,
    pub password_hash: Option<&'a str>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub nickname: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn user(conn: &mut DbConn, id: UserId) -> QueryResult<User> {
    users::table
        .find(id.0)
        .select(User::as_select())
        .first(conn)
}

pub fn user_exists(conn: &mut DbConn, id: UserId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.find(id.0))).get_result(conn)
}

pub fn user_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn insert_user(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<UserId> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)
        .map(UserId)
}

/// Finds the user with this identity or creates one. Two first logins at the same moment
/// both end with the same user: the loser of the unique index reads the winner's row.
pub fn find_or_create(
    conn: &mut DbConn,
    lookup: impl Fn(&mut DbConn) -> QueryResult<Option<i64>>,
    new: &NewUser<'_>,
) -> QueryResult<UserId> {
    if let Some(id) = lookup(conn)? {
        return Ok(UserId(id));
    }
    match conn.transaction(|c| insert_user(c, new)) {
        Ok(id) => Ok(id),
        Err(e) if is_unique_violation(&e) => lookup(conn)?.map(UserId).ok_or(e),
        Err(e) => Err(e),
    }
}

pub fn id_by_openid(conn: &mut DbConn, openid: &str) -> QueryResult<Option<i64>> {
    users::table
        .filter(users::wechat_openid.eq(openid))
        .select(users::id)
        .first(conn)
        .optional()
}

pub fn id_by_phone(conn: &mut DbConn, phone: &str) -> QueryResult<Option<i64>> {
    users::table
        .filter(users::phone.eq(phone))
        .select(users::id)
        .first(conn)
        .optional()
}

/// (id, nickname) of the given users, in the order given (unknown ids are skipped): one
/// query, whatever the length (a leaderboard page, a raffle's winners).
pub fn nicknames(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found: std::collections::HashMap<i64, String> = users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::nickname))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).map(|n| (*id, n.clone())))
        .collect())
}

pub fn update_user(conn: &mut DbConn, id: UserId, changes: &UserChanges) -> QueryResult<User> {
    diesel::update(users::table.find(id.0))
        .set(changes)
        .execute(conn)?;
    user(conn, id)
}

/// Reserves one password attempt before the password is compared: the count goes up only
/// while the account is unlocked and under `max`, in one guarded UPDATE, so a burst of
/// parallel guesses gets at most `max` comparisons. None: locked (or out of attempts).
pub fn reserve_login_attempt(
    conn: &mut DbConn,
    id: UserId,
    max: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    diesel::update(
        users::table
            .find(id.0)
            .filter(users::failed_logins.lt(max))
            .filter(
                users::locked_until
                    .is_null()
                    .or(users::locked_until.le(now)),
            ),
    )
    .set(users::failed_logins.eq(users::failed_logins + 1))
    .returning(users::failed_logins)
    .get_result(conn)
    .optional()
}

/// Locks the account until `until` and starts the count again.
pub fn lock_account(conn: &mut DbConn, id: UserId, until: NaiveDateTime) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(Some(until)),
        ))
        .execute(conn)
        .map(drop)
}

pub fn clear_failed_logins(conn: &mut DbConn, id: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(id.0))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

// --- roles -------------------------------------------------------------------------------

#[derive(Debug, Clone, Queryable)]
pub struct RoleRow {
    pub role: String,
    pub org_id: Option<i64>,
}

pub fn roles_of(conn: &mut DbConn, id: UserId) -> QueryResult<Vec<RoleRow>> {
    user_roles::table
        .filter(user_roles::user_id.eq(id.0))
        .select((user_roles::role, user_roles::org_id))
        .order(user_roles::id)
        .load(conn)
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user_roles)]
pub struct NewRole<'a> {
    pub user_id: i64,
    pub role: &'a str,
    pub org_id: Option<i64>,
    pub granted_by: Option<i64>,
    pub created_at: NaiveDateTime,
}

pub fn grant_role(conn: &mut DbConn, new: &NewRole<'_>) -> QueryResult<()> {
    diesel::insert_into(user_roles::table)
        .values(new)
        .execute(conn)
        .map(drop)
}

/// Creates a staff account that signs in with a password (already hashed), optionally as a
/// platform admin, in one transaction.
pub fn create_staff(
    conn: &mut DbConn,
    username: &str,
    nickname: &str,
    password_hash: &str,
    platform_admin: bool,
    now: NaiveDateTime,
) -> QueryResult<UserId> {
    write_tx(conn, |c| {
        let id = insert_user(
            c,
            &NewUser {
                nickname,
                phone: None,
                wechat_openid: None,
                username: Some(username),
                password_hash: Some(password_hash),
                created_at: now,
                updated_at: now,
            },
        )?;
        if platform_admin {
            grant_role(
                c,
                &NewRole {
                    user_id: id.0,
                    role: "platform_admin",
                    org_id: None,
                    granted_by: None,
                    created_at: now,
                },
            )?;
        }
        Ok(id)
    })
}

// --- refresh tokens ------------------------------------------------------------------------

#[derive(Debug, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub user_id: i64,
    pub family: &'a str,
    pub token_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

pub fn insert_refresh_token(conn: &mut DbConn, new: &NewRefreshToken<'_>) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(new)
        .execute(conn)
        .map(drop)
}

/// id, user_id, family, expires_at, used_at, revoked_at
type TokenRow = (
    i64,
    i64,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live and is now spent; its successor is stored.
    Rotated { user: UserId },
    /// The token was spent before: someone replayed it. The family is now revoked.
    Reused,
    /// Unknown, expired or revoked.
    Invalid,
}

/// Spends a refresh token. The spend is one conditional UPDATE, so of two concurrent uses
/// of the same token exactly one rotates and the other is treated as reuse.
///
/// The successor (`next_hash`) is inserted in the same transaction: a concurrent reuse that
/// revokes the family after this commits sees it and revokes it too.
pub fn spend_refresh_token(
    conn: &mut DbConn,
    hash: &str,
    next_hash: &str,
    now: NaiveDateTime,
    next_expires_at: NaiveDateTime,
) -> QueryResult<Rotation> {
    write_tx(conn, |c| {
        let row: Option<TokenRow> = refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .select((
                refresh_tokens::id,
                refresh_tokens::user_id,
                refresh_tokens::family,
                refresh_tokens::expires_at,
                refresh_tokens::used_at,
                refresh_tokens::revoked_at,
            ))
            .first(c)
            .optional()?;
        let Some((id, user_id, family, expires_at, used_at, revoked_at)) = row else {
            return Ok(Rotation::Invalid);
        };
        if revoked_at.is_some() {
            return Ok(Rotation::Invalid);
        }
        if used_at.is_some() {
            revoke_family(c, &family, now)?;
            return Ok(Rotation::Reused);
        }
        if expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        let spent = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::id.eq(id))
                .filter(refresh_tokens::used_at.is_null())
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::used_at.eq(Some(now)))
        .execute(c)?;
        if spent == 1 {
            insert_refresh_token(
                c,
                &NewRefreshToken {
                    user_id,
                    family: &family,
                    token_hash: next_hash,
                    created_at: now,
                    expires_at: next_expires_at,
                },
            )?;
            Ok(Rotation::Rotated {
                user: UserId(user_id),
            })
        } else {
            revoke_family(c, &family, now)?;
            Ok(Rotation::Reused)
        }
    })
}

pub fn revoke_family(conn: &mut DbConn, family: &str, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(now)))
    .execute(conn)
}

pub fn family_of(conn: &mut DbConn, hash: &str) -> QueryResult<Option<String>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(refresh_tokens::family)
        .first(conn)
        .optional()
}

// --- SMS codes -----------------------------------------------------------------------------

#[derive(Debug, Insertable)]
#[diesel(table_name = sms_codes)]
pub struct NewSmsCode<'a> {
    pub phone_hash: &'a str,
    pub code_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Stores a new code and voids every earlier unused one of the same phone.
pub fn replace_sms_code(conn: &mut DbConn, new: &NewSmsCode<'_>) -> QueryResult<()> {
    write_tx(conn, |c| {
        diesel::update(
            sms_codes::table
                .filter(sms_codes::phone_hash.eq(new.phone_hash))
                .filter(sms_codes::consumed_at.is_null()),
        )
        .set(sms_codes::consumed_at.eq(Some(new.created_at)))
        .execute(c)?;
        diesel::insert_into(sms_codes::table)
            .values(new)
            .execute(c)
            .map(drop)
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted,
    Wrong,
    /// No live code: never sent, expired, used, or voided after too many wrong tries.
    NoCode,
}

/// Checks a code. An attempt is reserved (counted) before the comparison, so concurrent
/// guesses cannot exceed `max_attempts` in total; the last wrong one voids the code.
pub fn check_sms_code(
    conn: &mut DbConn,
    phone_hash: &str,
    code_hash: &str,
    max_attempts: i32,
    now: NaiveDateTime,
) -> QueryResult<CodeCheck> {
    write_tx(conn, |c| {
        let live: Option<(i64, String)> = sms_codes::table
            .filter(sms_codes::phone_hash.eq(phone_hash))
            .filter(sms_codes::consumed_at.is_null())
            .filter(sms_codes::expires_at.gt(now))
            .filter(sms_codes::attempts.lt(max_attempts))
            .order(sms_codes::id.desc())
            .select((sms_codes::id, sms_codes::code_hash))
            .first(c)
            .optional()?;
        let Some((id, stored)) = live else {
            return Ok(CodeCheck::NoCode);
        };
        // The guard is in the UPDATE itself: under Postgres' read committed, concurrent
        // transactions re-check it on the locked row, so no sixth attempt slips through.
        let attempts: Option<i32> = diesel::update(
            sms_codes::table
                .find(id)
                .filter(sms_codes::attempts.lt(max_attempts))
                .filter(sms_codes::consumed_at.is_null()),
        )
        .set(sms_codes::attempts.eq(sms_codes::attempts + 1))
        .returning(sms_codes::attempts)
        .get_result(c)
        .optional()?;
        let Some(attempts) = attempts else {
            return Ok(CodeCheck::NoCode);
        };
        let matches = constant_time_eq(stored.as_bytes(), code_hash.as_bytes());
        if matches || attempts >= max_attempts {
            diesel::update(sms_codes::table.find(id))
                .set(sms_codes::consumed_at.eq(Some(now)))
                .execute(c)?;
        }
        Ok(if matches {
            CodeCheck::Accepted
        } else {
            CodeCheck::Wrong
        })
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
