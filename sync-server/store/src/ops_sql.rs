//! What operations read from the store: the figures `/metrics` exports and the checks
//! `/readyz` runs. Read-only; one SQL body for both backends, like the rest of the store.

use super::SqlStore;
use super::StoreError;
use super::backend::{Affected, Backend};
use async_trait::async_trait;
use sqlx::Row;

/// A device as the metrics show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLag {
    /// Device id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `active` or `revoked`.
    pub status: String,
    /// The feed head of its event minus the cursor it last asked from.
    pub changes_behind: i64,
    /// Its last request, Unix milliseconds.
    pub last_seen_ms: Option<i64>,
    /// Its clock minus ours, in milliseconds.
    pub clock_skew_ms: Option<i64>,
    /// Check-ins it uploaded.
    pub check_ins: i64,
}

/// The store's figures at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Orders by status.
    pub orders: Vec<(String, i64)>,
    /// Tickets by status.
    pub tickets: Vec<(String, i64)>,
    /// Outbox rows by status.
    pub outbox: Vec<(String, i64)>,
    /// Unix milliseconds since which the oldest pending email has been due.
    pub oldest_due_ms: Option<i64>,
    /// Stored check-ins.
    pub check_ins: i64,
    /// Of which flagged as conflicts.
    pub conflicts: i64,
    /// The change feed's newest seq.
    pub feed_head: i64,
    /// Every device.
    pub devices: Vec<DeviceLag>,
}

/// Operations' reads.
#[async_trait]
pub trait OpsStore: Send + Sync {
    /// The figures for `/metrics`.
    async fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// Migrations this software has that the database has not applied (0 when current).
    async fn pending_migrations(&self) -> Result<usize, StoreError>;
    /// Writes and commits one row, as readiness's proof that the database takes writes (it
    /// fails on a full disk, a read-only file, a lost connection).
    async fn probe_write(&self, now_ms: i64) -> Result<(), StoreError>;
}

#[async_trait]
impl<DB> OpsStore for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    DB::QueryResult: Affected,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::ColumnIndex<DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let orders = self
            .grouped("SELECT status AS k, COUNT(*) AS n FROM orders GROUP BY status")
            .await?;
        let tickets = self
            .grouped("SELECT status AS k, COUNT(*) AS n FROM tickets GROUP BY status")
            .await?;
        let outbox = self
            .grouped("SELECT status AS k, COUNT(*) AS n FROM outbox GROUP BY status")
            .await?;
        let oldest_due_ms: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt_ms) FROM outbox WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(conflict), 0) AS BIGINT) AS c FROM check_ins",
        )
        .fetch_one(&self.pool)
        .await?;
        let feed_head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        let devices = sqlx::query(
            "SELECT d.id, d.name, d.status, d.cursor, d.last_seen_ms, d.clock_skew_ms, d.check_ins, \
             (SELECT COALESCE(MAX(c.seq), 0) FROM changes c \
              WHERE c.event_id = d.event_id OR c.event_id IS NULL) AS head \
             FROM devices d ORDER BY d.enrolled_at, d.id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(DeviceLag {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                status: r.try_get("status")?,
                changes_behind: (r.try_get::<i64, _>("head")? - r.try_get::<i64, _>("cursor")?).max(0),
                last_seen_ms: r.try_get("last_seen_ms")?,
                clock_skew_ms: r.try_get("clock_skew_ms")?,
                check_ins: r.try_get("check_ins")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Snapshot {
            orders,
            tickets,
            outbox,
            oldest_due_ms,
            check_ins: row.try_get("n")?,
            conflicts: row.try_get("c")?,
            feed_head,
            devices,
        })
    }

    async fn pending_migrations(&self) -> Result<usize, StoreError> {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await?;
        Ok(DB::migrator()
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .count())
    }

    async fn probe_write(&self, now_ms: i64) -> Result<(), StoreError> {
        let _writer = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO write_probe (id, at_ms) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
        )
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
