//! What differs between the two databases, and the bounds that let one SQL body run on both:
//! [`Backend`] names a database's migrations, its feed lock and how it reads a JSON array of
//! ids; [`Affected`] gives both drivers' query results one `rows_affected`.
//!
//! The store is generic over the backend (ADR 0015): the SQL is plain Rust code that rustfmt
//! formats and the compiler types, written once and run by each native driver.

use std::future::Future;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Pool, Postgres, Sqlite};

/// A database the store runs on.
pub trait Backend: sqlx::Database {
    /// `sqlite` or `postgres`.
    const BACKEND: &'static str;
    /// Taken before judging uploaded check-ins, so feed seqs become visible in order
    /// (ADR 0008); SQLite's single writer needs none.
    const FEED_LOCK: &'static str;
    /// A subquery that reads the ids of the JSON array bound as `$1`.
    const IDS_FROM_JSON: &'static str;
    /// Opens a transaction that will write. SQLite's `BEGIN IMMEDIATE` takes the write lock
    /// at once (waiting through `busy_timeout`): a deferred transaction that read first
    /// fails with `SQLITE_BUSY_SNAPSHOT` when another process (an admin subcommand beside
    /// the server) commits before its first write, and no timeout retries that.
    const BEGIN_WRITE: &'static str;
    /// The schema's migrations.
    fn migrator() -> &'static Migrator;
    /// Applies pending migrations.
    fn migrate(pool: &Pool<Self>) -> impl Future<Output = Result<(), MigrateError>> + Send;
}

/// The SQLite schema.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");
/// The PostgreSQL schema.
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

impl Backend for Sqlite {
    const BACKEND: &'static str = "sqlite";
    const FEED_LOCK: &'static str = "SELECT 1";
    const IDS_FROM_JSON: &'static str = "SELECT value FROM json_each($1)";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    fn migrator() -> &'static Migrator {
        &SQLITE_MIGRATOR
    }
    async fn migrate(pool: &Pool<Self>) -> Result<(), MigrateError> {
        SQLITE_MIGRATOR.run(pool).await
    }
}

impl Backend for Postgres {
    const BACKEND: &'static str = "postgres";
    const FEED_LOCK: &'static str = "SELECT pg_advisory_xact_lock(7283001)";
    const IDS_FROM_JSON: &'static str =
        "SELECT value::bigint FROM jsonb_array_elements_text($1::jsonb)";
    const BEGIN_WRITE: &'static str = "BEGIN";
    fn migrator() -> &'static Migrator {
        &POSTGRES_MIGRATOR
    }
    async fn migrate(pool: &Pool<Self>) -> Result<(), MigrateError> {
        POSTGRES_MIGRATOR.run(pool).await
    }
}

/// The rows a statement changed: sqlx 0.9's `Database::QueryResult` has no common method.
pub trait Affected {
    /// Rows inserted, updated or deleted.
    fn rows_affected(&self) -> u64;
}

impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl Affected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}
