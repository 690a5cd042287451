//! SQL of the org tree.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::rules::child_path;
use crate::db::schema::orgs;
use crate::db::{DbConn, like_escape, write_tx};
use crate::domain::OrgId;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orgs)]
pub struct Org {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub parent_id: Option<i64>,
    pub region_code: String,
    pub path: String,
    pub depth: i32,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub name: String,
    pub kind: &'static str,
    pub parent_id: Option<OrgId>,
    pub region_code: String,
    pub created_at: NaiveDateTime,
}

pub fn org(conn: &mut DbConn, id: OrgId) -> QueryResult<Org> {
    orgs::table.find(id.0).select(Org::as_select()).first(conn)
}

pub fn org_by_name(
    conn: &mut DbConn,
    parent: Option<OrgId>,
    name: &str,
) -> QueryResult<Option<Org>> {
    let query = orgs::table
        .filter(orgs::name.eq(name))
        .select(Org::as_select())
        .into_boxed();
    match parent {
        Some(p) => query.filter(orgs::parent_id.eq(p.0)),
        None => query.filter(orgs::parent_id.is_null()),
    }
    .first(conn)
    .optional()
}

/// Inserts an org under its parent and sets its path in the same transaction. A missing
/// parent is `NotFound`.
pub fn insert_org(conn: &mut DbConn, new: &NewOrg) -> QueryResult<Org> {
    write_tx(conn, |c| {
        let parent = new.parent_id.map(|p| org(c, p)).transpose()?;
        let depth = parent.as_ref().map_or(0, |p| p.depth + 1);
        let id: i64 = diesel::insert_into(orgs::table)
            .values((
                orgs::name.eq(&new.name),
                orgs::kind.eq(new.kind),
                orgs::parent_id.eq(new.parent_id.map(|p| p.0)),
                orgs::region_code.eq(&new.region_code),
                orgs::path.eq(""),
                orgs::depth.eq(depth),
                orgs::created_at.eq(new.created_at),
            ))
            .returning(orgs::id)
            .get_result(c)?;
        let path = child_path(parent.as_ref().map(|p| p.path.as_str()), id);
        diesel::update(orgs::table.find(id))
            .set(orgs::path.eq(&path))
            .execute(c)?;
        org(c, OrgId(id))
    })
}

#[derive(Debug, Default)]
pub struct OrgFilter {
    pub q: Option<String>,
    pub parent_id: Option<OrgId>,
}

pub fn list_orgs(
    conn: &mut DbConn,
    filter: &OrgFilter,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Org>> {
    let mut query = orgs::table
        .select(Org::as_select())
        .order(orgs::id)
        .limit(limit)
        .into_boxed();
    if let Some(q) = &filter.q {
        query = query.filter(
            orgs::name
                .like(format!("%{}%", like_escape(q)))
                .escape('\\'),
        );
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(orgs::parent_id.eq(parent.0));
    }
    if let Some(after) = after {
        query = query.filter(orgs::id.gt(after));
    }
    query.load(conn)
}
