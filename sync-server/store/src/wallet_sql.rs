//! The wallet tables: Apple Wallet device registrations for passes, and the reads the PassKit
//! web service needs (which ticket a pass belongs to, the feed seq of its latest change).
//! Like [`super::sql`], one SQL body serves both backends. Knows nothing about pass files,
//! signatures or tokens: the `wallet` module decides, this module stores.
//!
//! "Updated since" is the change feed's seq, not a timestamp: the feed is filled by triggers
//! on every ticket write and its seq is commit-ordered on both backends (ADR 0008), so a
//! phone that saw seq `n` misses no later change, whereas clocks of several instances (and
//! PostgreSQL's transaction-start `now()`) do not order commits.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use super::StoreError;
use super::backend::{Affected, Backend};

/// A phone's request to hear about a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRegistration {
    /// Apple's `deviceLibraryIdentifier`.
    pub device_library_id: String,
    /// The pass type identifier.
    pub pass_type_id: String,
    /// The pass's serial number (`T<ticket>R<revision>`).
    pub serial: String,
    /// The ticket the serial names.
    pub ticket_id: i64,
    /// The revision the serial names.
    pub revision: i64,
    /// The APNs push token the phone gave.
    pub push_token: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Registrations and the feed reads of the PassKit web service.
#[async_trait]
pub trait WalletStore: Send + Sync {
    /// The order a ticket belongs to, if the ticket exists.
    async fn ticket_order_id(&self, ticket_id: i64) -> Result<Option<i64>, StoreError>;
    /// The seq of the latest change-feed entry of a ticket (every ticket has one from its
    /// insert), or `None` for an unknown ticket.
    async fn ticket_feed_seq(&self, ticket_id: i64) -> Result<Option<i64>, StoreError>;
    /// Stores a registration; true if it is new, false if it existed (its push token is
    /// replaced). `NotFound` if the ticket does not exist.
    async fn register_pass(&self, registration: &NewRegistration) -> Result<bool, StoreError>;
    /// Removes a registration; true if there was one.
    async fn unregister_pass(
        &self,
        device_library_id: &str,
        pass_type_id: &str,
        serial: &str,
    ) -> Result<bool, StoreError>;
    /// The serials a device registered whose ticket changed after feed seq `since`, each
    /// with the seq of its latest change, by serial.
    async fn passes_updated_since(
        &self,
        device_library_id: &str,
        pass_type_id: &str,
        since: i64,
    ) -> Result<Vec<(String, i64)>, StoreError>;
}

#[async_trait]
impl<DB> WalletStore for SqlStore<DB>
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
    async fn ticket_order_id(&self, ticket_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT order_id FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn ticket_feed_seq(&self, ticket_id: i64) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT MAX(seq) FROM changes WHERE kind = 'ticket' AND entity = $1",
            )
            .bind(ticket_id)
            .fetch_one(&self.pool)
            .await?,
        )
    }

    async fn register_pass(&self, r: &NewRegistration) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO wallet_registrations (device_library_id, pass_type_id, serial, \
             ticket_id, revision, push_token, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (device_library_id, pass_type_id, serial) DO NOTHING",
        )
        .bind(&r.device_library_id)
        .bind(&r.pass_type_id)
        .bind(&r.serial)
        .bind(r.ticket_id)
        .bind(r.revision)
        .bind(&r.push_token)
        .bind(r.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::NotFound(format!("ticket {}", r.ticket_id))
            }
            _ => e.into(),
        })?
        .rows_affected()
            == 1;
        if !inserted {
            sqlx::query(
                "UPDATE wallet_registrations SET push_token = $1 \
                 WHERE device_library_id = $2 AND pass_type_id = $3 AND serial = $4",
            )
            .bind(&r.push_token)
            .bind(&r.device_library_id)
            .bind(&r.pass_type_id)
            .bind(&r.serial)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn unregister_pass(
        &self,
        device_library_id: &str,
        pass_type_id: &str,
        serial: &str,
    ) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "DELETE FROM wallet_registrations \
             WHERE device_library_id = $1 AND pass_type_id = $2 AND serial = $3",
        )
        .bind(device_library_id)
        .bind(pass_type_id)
        .bind(serial)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn passes_updated_since(
        &self,
        device_library_id: &str,
        pass_type_id: &str,
        since: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query(
            "SELECT r.serial, MAX(c.seq) AS seq FROM wallet_registrations r \
             JOIN changes c ON c.kind = 'ticket' AND c.entity = r.ticket_id \
             WHERE r.device_library_id = $1 AND r.pass_type_id = $2 AND c.seq > $3 \
             GROUP BY r.serial ORDER BY r.serial",
        )
        .bind(device_library_id)
        .bind(pass_type_id)
        .bind(since)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("serial")?, row.try_get("seq")?)))
        .collect()
    }
}
