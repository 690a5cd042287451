//! The SQL source of truth: one connection type over Postgres and SQLite, the pool, the
//! migrations, and `Db::run`, the only way handlers reach a connection.

pub mod schema;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError, QueryResult, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

/// A connection to whichever backend the URL chose.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// A database URL whose scheme chose the backend. `MultiConnection::establish` would try
/// backends in order and SQLite takes any string as a path, so the choice is made here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A file path (the parent directory is created on first start).
    Sqlite(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            url::Url::parse(raw).map_err(|e| format!("malformed postgres URL: {e}"))?;
            return Ok(DatabaseUrl::Postgres(raw.to_owned()));
        }
        if let Some(path) = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
        {
            if path.is_empty() || path.contains('?') {
                return Err("sqlite URL needs a file path, e.g. sqlite://./data/huigong.db".into());
            }
            return Ok(DatabaseUrl::Sqlite(path.to_owned()));
        }
        Err(
            "database URL must start with sqlite:// or postgres:// (nothing else is guessed)"
                .into(),
        )
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Postgres(_) => Backend::Postgres,
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Opens one connection with the per-connection settings of its backend.
    pub fn connect(&self) -> Result<DbConn, ConnectionError> {
        match self {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(DbConn::Pg),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // Per connection: SQLite forgets these when a connection closes.
                // temp_store: temporary structures stay in memory. A statement that changes
                // many rows inside a transaction keeps a statement journal, which otherwise
                // spilled to a temp file (open, write, unlink) past 64 KiB: every draw
                // batch did. Sorts of large exports now use memory too (megabytes at most
                // at a union's sizes). wal_autocheckpoint: the server checkpoints in the
                // background (`checkpoint_every`); a writer checkpoints itself only if the
                // WAL still reaches this many pages (the CLI, which runs no checkpointer,
                // and a checkpointer that fell behind). journal_size_limit: the WAL file
                // is cut back to this size when it starts over, so a burst does not leave
                // it at its largest for good.
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; \
                     PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}; \
                     PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES};"
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// WAL pages after which a committing writer checkpoints by itself (SQLite's default is
/// 1,000). In the server the background checkpointer keeps the WAL far below this.
const WRITER_CHECKPOINT_PAGES: u32 = 10_000;
/// The size SQLite cuts the WAL file back to when it starts over.
const WAL_SIZE_LIMIT_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("the blocking database task was cancelled")]
    Blocking,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    #[error(transparent)]
    Connect(#[from] ConnectionError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

/// An r2d2 manager that keeps the scheme's choice and shows the real connection error.
#[derive(Debug)]
pub struct Manager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = ManagerError;

    fn connect(&self) -> Result<DbConn, ManagerError> {
        Ok(self.url.connect()?)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), ManagerError> {
        Ok(conn.batch_execute("SELECT 1")?)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        matches!(
            DbConn::transaction_manager_status_mut(conn).transaction_depth(),
            Err(_) | Ok(Some(_))
        )
    }
}

/// The pool and the backend it talks to. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    url: DatabaseUrl,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("database URL: {0}")]
    Url(String),
    #[error("cannot create the directory for the SQLite file {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    #[error("database setup: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migrate(String),
    #[error("database pool: {0}")]
    Pool(#[from] r2d2::Error),
}

impl Db {
    /// Runs pending migrations, then opens the pool.
    pub fn connect(raw_url: &str, pool_size: u32, timeout: Duration) -> Result<Db, SetupError> {
        let url = DatabaseUrl::parse(raw_url).map_err(SetupError::Url)?;
        migrate(&url)?;
        let pool = r2d2::Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(timeout)
            .test_on_check_out(false)
            .build(Manager { url: url.clone() })?;
        Ok(Db {
            backend: url.backend(),
            pool,
            url,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` on a pooled connection on the blocking thread pool, in the caller's span.
    /// A connection is never held across an `.await`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool.get().map_err(|e| DbError::Pool(e.to_string()))?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Blocking))?
    }

    /// A connection for the CLI, tests and the draw committer's own thread (not for request
    /// handlers: use [`Db::run`]).
    pub fn get(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        self.pool.get().map_err(|e| DbError::Pool(e.to_string()))
    }
}

/// Runs the embedded migrations of the URL's backend. On SQLite also turns on WAL, which
/// is a property of the file and so set once.
pub fn migrate(url: &DatabaseUrl) -> Result<Vec<String>, SetupError> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| SetupError::Dir {
            path: path.clone(),
            source,
        })?;
    }
    let applied = match url.connect()? {
        DbConn::Pg(mut conn) => run_migrations(&mut conn, PG_MIGRATIONS)?,
        DbConn::Sqlite(mut conn) => {
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
            run_migrations(&mut conn, SQLITE_MIGRATIONS)?
        }
    };
    Ok(applied)
}

fn run_migrations<C>(
    conn: &mut C,
    migrations: EmbeddedMigrations,
) -> Result<Vec<String>, SetupError>
where
    C: MigrationHarness<C::Backend> + Connection,
{
    conn.run_pending_migrations(migrations)
        .map(|done| done.iter().map(ToString::to_string).collect())
        .map_err(|e| SetupError::Migrate(e.to_string()))
}

/// Reverts every migration (for the up-down-up test and `huigong migrate --redo`).
pub fn revert_all(url: &DatabaseUrl) -> Result<(), SetupError> {
    let result = match url.connect()? {
        DbConn::Pg(mut conn) => conn.revert_all_migrations(PG_MIGRATIONS).map(|_| ()),
        DbConn::Sqlite(mut conn) => conn.revert_all_migrations(SQLITE_MIGRATIONS).map(|_| ()),
    };
    result.map_err(|e| SetupError::Migrate(e.to_string()))
}

/// A write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers queue on the
/// busy timeout instead of one failing when its read lock cannot be upgraded. Nested
/// `transaction` calls inside `f` become savepoints as usual.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    // Inside an open transaction the lock is already held: nest as a savepoint.
    if matches!(
        DbConn::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    ) {
        return conn.transaction(f);
    }
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) =
                <DbConn as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}

/// The escape hatch for the few queries diesel's multi backend cannot express (upsert,
/// `ON CONFLICT DO NOTHING`, batch insert, `RETURNING` of whole rows, `FOR UPDATE`): write
/// the query once per backend with that backend's own DSL, in one place per feature, and
/// test it on both. Everything else is written once against [`DbConn`].
pub fn per_backend<T>(
    conn: &mut DbConn,
    pg: impl FnOnce(&mut PgConnection) -> QueryResult<T>,
    sqlite: impl FnOnce(&mut SqliteConnection) -> QueryResult<T>,
) -> QueryResult<T> {
    match conn {
        DbConn::Pg(c) => pg(c),
        DbConn::Sqlite(c) => sqlite(c),
    }
}

/// A statement with its text fixed at compile time and exactly one `?`, bound to a JSON
/// array that the statement unpacks (`json_each` on SQLite; on Postgres the function it
/// calls): how a batch of rows goes into one statement. Unlike `sql_query`, which is
/// parsed and planned again on every call, diesel prepares it once per connection and
/// reuses it (cached under the type `S`). `S` names the statement and holds its text for
/// each backend it runs on ([`SqliteSql`], [`PgSql`]).
pub struct JsonBatch<S> {
    json: String,
    statement: std::marker::PhantomData<S>,
}

/// A [`JsonBatch`] statement's text on SQLite.
pub trait SqliteSql: 'static {
    const SQLITE: &'static str;
}

/// A [`JsonBatch`] statement's text on Postgres.
pub trait PgSql: 'static {
    const POSTGRES: &'static str;
}

impl<S: 'static> JsonBatch<S> {
    pub fn new(rows: &impl serde::Serialize) -> QueryResult<Self> {
        Ok(JsonBatch {
            json: serde_json::to_string(rows)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?,
            statement: std::marker::PhantomData,
        })
    }

    /// `sql` with the JSON bound where its one `?` stands.
    fn walk<'b, DB>(&'b self, sql: &'static str, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()>
    where
        DB: diesel::backend::Backend,
        DB: diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
        String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    {
        let (before, after) = sql
            .split_once('?')
            .filter(|(_, after)| !after.contains('?'))
            .ok_or_else(|| {
                diesel::result::Error::QueryBuilderError(
                    "a JsonBatch statement needs exactly one `?`".into(),
                )
            })?;
        out.push_sql(before);
        out.push_bind_param::<diesel::sql_types::Text, _>(&self.json)?;
        out.push_sql(after);
        Ok(())
    }
}

impl<S: 'static> QueryId for JsonBatch<S> {
    type QueryId = S;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: SqliteSql> QueryFragment<diesel::sqlite::Sqlite> for JsonBatch<S> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()> {
        self.walk(S::SQLITE, out)
    }
}

impl<S: PgSql> QueryFragment<diesel::pg::Pg> for JsonBatch<S> {
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
        self.walk(S::POSTGRES, out)
    }
}

impl<S> Query for JsonBatch<S> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<S, C> RunQueryDsl<C> for JsonBatch<S> {}

/// What one `PRAGMA wal_checkpoint` reports: pages in the WAL and how many of them are now
/// in the database file (`busy` = 1 when it could not start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::QueryableByName)]
pub struct Checkpoint {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub busy: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub log: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub checkpointed: i32,
}

/// SQLite: a PASSIVE checkpoint, which copies what it can of the WAL into the database file
/// without waiting for (or blocking) readers and writers. None on Postgres.
pub fn checkpoint(conn: &mut DbConn) -> QueryResult<Option<Checkpoint>> {
    per_backend(
        conn,
        |_| Ok(None),
        |c| {
            diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
                .get_result(c)
                .map(Some)
        },
    )
}

/// How often the server checkpoints SQLite's WAL while it is being written to; when a
/// checkpoint finds nothing new it waits `CHECKPOINT_IDLE` before looking again.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
const CHECKPOINT_IDLE: Duration = Duration::from_millis(500);

/// The server's SQLite checkpointer. Left to itself, SQLite checkpoints inside whichever
/// commit brings the WAL to 1,000 pages: that commit then writes the pages back and waits
/// for two fsyncs while every draw queued behind the one writer waits with it (a fifth of
/// the machine sat idle in draw load tests). Here the copying and the fsyncs happen beside
/// the writers, which go on appending to the WAL meanwhile, on a connection of its own (so
/// it never waits for, or holds, one of the pool's). Ends with the runtime.
pub async fn checkpoint_every(db: Db, every: Duration) {
    if db.backend() != Backend::Sqlite {
        return;
    }
    let url = db.url.clone();
    let opened = tokio::task::spawn_blocking(move || url.connect()).await;
    let conn = match opened {
        Ok(Ok(conn)) => std::sync::Arc::new(std::sync::Mutex::new(conn)),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "no SQLite connection for the WAL checkpointer; writers checkpoint themselves");
            return;
        }
        Err(_) => return,
    };
    let mut last = None;
    loop {
        let conn = conn.clone();
        let done = tokio::task::spawn_blocking(move || {
            checkpoint(
                &mut conn
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            )
        })
        .await;
        let pause = match done {
            Ok(Ok(Some(now))) if Some(now) == last => CHECKPOINT_IDLE,
            Ok(Ok(now)) => {
                last = now;
                every
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "SQLite WAL checkpoint failed");
                CHECKPOINT_IDLE
            }
            Err(_) => return,
        };
        tokio::time::sleep(pause).await;
    }
}

/// Is this diesel error a unique-constraint violation (on either backend)?
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_scheme_chooses_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/huigong.db"),
            Ok(DatabaseUrl::Sqlite("./data/huigong.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1/test"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in [
            "",
            "./data/x.db",
            "mysql://x",
            "sqlite://",
            "postgres://user@[bad/x",
            "postgress://x",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn passive_checkpoint_copies_the_wal_and_settings_hold() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.db");
        let url = DatabaseUrl::Sqlite(path.display().to_string());
        migrate(&url).expect("migrate");
        let mut conn = url.connect().expect("connect");
        conn.batch_execute("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a'), ('b');")
            .expect("write");
        let done = checkpoint(&mut conn).expect("checkpoint").expect("sqlite");
        assert_eq!(done.busy, 0);
        assert!(done.log > 0, "the writes are in the WAL: {done:?}");
        assert_eq!(done.checkpointed, done.log, "no reader holds anything back");

        #[derive(diesel::QueryableByName)]
        struct Pages {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            wal_autocheckpoint: i32,
        }
        #[derive(diesel::QueryableByName)]
        struct Temp {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            temp_store: i32,
        }
        let DbConn::Sqlite(c) = &mut conn else {
            panic!("a sqlite URL gives a sqlite connection")
        };
        let pages: Pages = diesel::sql_query("PRAGMA wal_autocheckpoint")
            .get_result(c)
            .expect("pragma");
        assert_eq!(pages.wal_autocheckpoint, WRITER_CHECKPOINT_PAGES as i32);
        let temp: Temp = diesel::sql_query("PRAGMA temp_store")
            .get_result(c)
            .expect("pragma");
        assert_eq!(temp.temp_store, 2, "MEMORY");
    }

    #[test]
    fn like_escape_escapes_wildcards() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
        assert_eq!(like_escape("总工会"), "总工会");
    }
}
