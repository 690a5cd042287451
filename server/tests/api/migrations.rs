//! Every migration runs up, down and up again on the test backend, and leaves the schema
//! it started with.

use diesel::prelude::*;
use diesel::sql_types::Text;
use huigong::db::{self, DatabaseUrl, DbConn};

use crate::helpers::TestDb;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Tables, columns, types, nullability and indexes, as one sorted list of lines.
fn describe(url: &DatabaseUrl) -> Vec<String> {
    let mut conn = url.connect().unwrap();
    let query = match conn {
        DbConn::Pg(_) => {
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS line
               FROM information_schema.columns WHERE table_schema = current_schema()
             UNION ALL
             SELECT 'index ' || indexname || ': ' || indexdef AS line FROM pg_indexes WHERE schemaname = current_schema()"
        }
        DbConn::Sqlite(_) => {
            "SELECT type || ' ' || name || ': ' || coalesce(sql, '') AS line FROM sqlite_master
              WHERE name NOT LIKE 'sqlite_%'"
        }
    };
    let mut lines: Vec<String> = diesel::sql_query(query)
        .load::<Line>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    lines.sort();
    lines
}

fn table_names(url: &DatabaseUrl) -> Vec<String> {
    let mut conn = url.connect().unwrap();
    let query = match conn {
        DbConn::Pg(_) => {
            "SELECT table_name AS line FROM information_schema.tables WHERE table_schema = current_schema()"
        }
        DbConn::Sqlite(_) => {
            "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
    };
    let mut names: Vec<String> = diesel::sql_query(query)
        .load::<Line>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    names.sort();
    names
}

#[test]
fn migrations_go_up_down_and_up_again() {
    let test_db = TestDb::new();
    let url = DatabaseUrl::parse(&test_db.url).unwrap();
    let applied = db::migrate(&url).unwrap();
    assert!(!applied.is_empty());
    let after_first_up = describe(&url);
    assert!(after_first_up.iter().any(|l| l.contains("users")));

    db::revert_all(&url).unwrap();
    let left: Vec<String> = table_names(&url)
        .into_iter()
        .filter(|t| t != "__diesel_schema_migrations" && t != "sqlite_sequence")
        .collect();
    assert!(left.is_empty(), "down left tables behind: {left:?}");

    db::migrate(&url).unwrap();
    assert_eq!(describe(&url), after_first_up);
    // Migrating again is a no-op.
    assert!(db::migrate(&url).unwrap().is_empty());
}

/// Both backends have the same tables (the Postgres side is checked when CI provides it).
#[test]
fn both_backends_define_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite =
        DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("m.db").display())).unwrap();
    db::migrate(&sqlite).unwrap();
    let mut sqlite_tables = table_names(&sqlite);
    sqlite_tables.retain(|t| t != "sqlite_sequence");
    if crate::helpers::pg_url().is_none() {
        // Without Postgres at least check the migrations folders mirror each other.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let list = |side: &str| {
            let mut v: Vec<String> = std::fs::read_dir(root.join(side))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(list("postgres"), list("sqlite"));
        return;
    }
    let pg_db = TestDb::new();
    let pg = DatabaseUrl::parse(&pg_db.url).unwrap();
    db::migrate(&pg).unwrap();
    assert_eq!(table_names(&pg), sqlite_tables);
}

/// The per-backend escape hatch really runs each backend's own SQL: an upsert and a batch
/// insert, written once per backend, behave the same on both.
#[test]
fn per_backend_upsert_and_batch_insert() {
    use diesel::pg::PgConnection;
    use diesel::sqlite::SqliteConnection;
    use huigong::db::schema::users;

    let test_db = TestDb::new();
    let url = DatabaseUrl::parse(&test_db.url).unwrap();
    db::migrate(&url).unwrap();
    let mut conn = url.connect().unwrap();
    let now = chrono::Utc::now().naive_utc();
    let row = |name: &'static str, nick: &'static str| {
        (
            users::username.eq(Some(name)),
            users::nickname.eq(nick),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        )
    };

    // Batch insert (two rows, one statement).
    let batch = vec![row("a", "甲"), row("b", "乙")];
    let batch_pg = batch.clone();
    let inserted = db::per_backend(
        &mut conn,
        |c: &mut PgConnection| {
            diesel::insert_into(users::table)
                .values(&batch_pg)
                .execute(c)
        },
        |c: &mut SqliteConnection| diesel::insert_into(users::table).values(&batch).execute(c),
    )
    .unwrap();
    assert_eq!(inserted, 2);

    // Upsert: the second write of "a" replaces its nickname, returning the whole row's id.
    let upsert = |conn: &mut DbConn, nick: &'static str| {
        db::per_backend(
            conn,
            |c: &mut PgConnection| {
                diesel::insert_into(users::table)
                    .values(row("a", nick))
                    .on_conflict(users::username)
                    .do_update()
                    .set(users::nickname.eq(nick))
                    .returning(users::id)
                    .get_result::<i64>(c)
            },
            |c: &mut SqliteConnection| {
                diesel::insert_into(users::table)
                    .values(row("a", nick))
                    .on_conflict(users::username)
                    .do_update()
                    .set(users::nickname.eq(nick))
                    .returning(users::id)
                    .get_result::<i64>(c)
            },
        )
        .unwrap()
    };
    let first = upsert(&mut conn, "甲二");
    let second = upsert(&mut conn, "甲三");
    assert_eq!(first, second);
    let nick: String = users::table
        .filter(users::username.eq("a"))
        .select(users::nickname)
        .first(&mut conn)
        .unwrap();
    assert_eq!(nick, "甲三");
    let count: i64 = users::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, 2);
}
