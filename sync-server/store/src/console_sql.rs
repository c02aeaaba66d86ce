//! What the organizer console reads and the few things it changes that the rest of the store
//! has no call for: order and ticket search (also the CSV exports), check-ins with their
//! ticket type for the live counts, the feed head for readiness, pausing sales, editing a
//! ticket type before it sells, and queueing a confirmation again. Aggregation is not done
//! here but in `crate::console`, in plain Rust over these rows, so both backends and the
//! event's timezone rules stay out of SQL. One SQL body for both backends.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use super::backend::{Affected, Backend};
use super::{StoreError, TicketKind};

/// An order as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    /// Id.
    pub id: i64,
    /// Buyer email.
    pub email: String,
    /// Buyer name.
    pub name: String,
    /// `pending`, `paid`, `expired`, `refunded`, `cancelled`.
    pub status: String,
    /// `demo`, `comp`, `stripe`.
    pub payment: String,
    /// Total in minor units.
    pub total_cents: i64,
    /// ISO 4217.
    pub currency: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Its tickets.
    pub tickets: i64,
}

/// A ticket as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    /// Id.
    pub id: i64,
    /// Its order.
    pub order_id: i64,
    /// The order's email.
    pub email: String,
    /// Its event.
    pub event_id: i64,
    /// Type id.
    pub ticket_type_id: i64,
    /// Type name.
    pub type_name: String,
    /// Pass or vendor booth.
    pub kind: TicketKind,
    /// Holder.
    pub holder_name: String,
    /// `valid` or `void`.
    pub status: String,
    /// Revision.
    pub revision: i64,
    /// Booth in its claims (staff passes).
    pub booth: Option<i64>,
    /// Unix seconds.
    pub issued_at: i64,
}

/// A stored check-in with its ticket's type, for live counts and exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRow {
    /// Device id.
    pub device_id: String,
    /// Per-device sequence number.
    pub seq: i64,
    /// Device name.
    pub device_name: String,
    /// Ticket (server-verified), if the code was a ticket.
    pub ticket_id: Option<i64>,
    /// Its type's name.
    pub ticket_type: Option<String>,
    /// Unix milliseconds, device clock.
    pub at_ms: i64,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: String,
    /// What the gate showed.
    pub admitted: bool,
    /// The gate's reason.
    pub reason: Option<String>,
    /// The server's judgement.
    pub server_admitted: bool,
    /// Its reason.
    pub server_reason: Option<String>,
    /// Flagged on sync (see `conflict_kind`).
    pub conflict: bool,
    /// `double_entry`, `superseded_code` or `clock_skew` when flagged.
    pub conflict_kind: Option<String>,
}

/// The console's part of the store.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Orders whose email or name contains `query` (any case) or whose id is `query`,
    /// newest first, at most `limit`; every order when `query` is empty.
    async fn search_orders(&self, query: &str, limit: i64)
    -> Result<Vec<OrderSummary>, StoreError>;
    /// Tickets whose id or order id is `query`, or whose holder or email contains it;
    /// every ticket when empty. Newest first, at most `limit`.
    async fn search_tickets(&self, query: &str, limit: i64) -> Result<Vec<TicketRow>, StoreError>;
    /// Every check-in of an event, by time, with ticket types.
    async fn console_check_ins(&self, event_id: i64) -> Result<Vec<CheckInRow>, StoreError>;
    /// The newest change in an event's feed scope (what a current device's cursor is).
    async fn feed_head(&self, event_id: i64) -> Result<i64, StoreError>;
    /// Pauses or resumes sales of a ticket type.
    async fn set_sales_paused(&self, ticket_type_id: i64, paused: bool) -> Result<(), StoreError>;
    /// Changes price and capacity of a type nothing was sold of yet; `Conflict` once sold.
    async fn edit_unsold_ticket_type(
        &self,
        ticket_type_id: i64,
        price_cents: i64,
        capacity: i64,
    ) -> Result<(), StoreError>;
    /// Queues an order's confirmation email again (the organizer's "resend").
    async fn queue_confirmation(&self, order_id: i64, now: i64) -> Result<(), StoreError>;
}

/// `SELECT` of an [`OrderSummary`].
pub(crate) const ORDER_SUMMARY_SELECT: &str = "SELECT o.id, o.email, o.name, o.status, o.payment, o.total_cents, o.currency, \
         o.created_at, (SELECT COUNT(*) FROM tickets t WHERE t.order_id = o.id) AS tickets \
         FROM orders o";

/// `SELECT` of a [`TicketRow`].
pub(crate) const TICKET_ROW_SELECT: &str = "SELECT t.id, t.order_id, o.email, t.event_id, t.ticket_type_id, tt.name AS type_name, \
         tt.kind, t.holder_name, t.status, t.revision, t.booth, t.issued_at \
         FROM tickets t JOIN orders o ON o.id = t.order_id \
         JOIN ticket_types tt ON tt.id = t.ticket_type_id";

fn order_summary_from<R: Row>(row: &R) -> Result<OrderSummary, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(OrderSummary {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        payment: row.try_get("payment")?,
        total_cents: row.try_get("total_cents")?,
        currency: row.try_get("currency")?,
        created_at: row.try_get("created_at")?,
        tickets: row.try_get("tickets")?,
    })
}

fn ticket_row_from<R: Row>(row: &R) -> Result<TicketRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(TicketRow {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        email: row.try_get("email")?,
        event_id: row.try_get("event_id")?,
        ticket_type_id: row.try_get("ticket_type_id")?,
        type_name: row.try_get("type_name")?,
        kind: row.try_get::<String, _>("kind")?.parse()?,
        holder_name: row.try_get("holder_name")?,
        status: row.try_get("status")?,
        revision: row.try_get("revision")?,
        booth: row.try_get("booth")?,
        issued_at: row.try_get("issued_at")?,
    })
}

fn check_in_row_from<R: Row>(row: &R) -> Result<CheckInRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(CheckInRow {
        device_id: row.try_get("device_id")?,
        seq: row.try_get("seq")?,
        device_name: row.try_get("device_name")?,
        ticket_id: row.try_get("ticket_id")?,
        ticket_type: row.try_get("ticket_type")?,
        at_ms: row.try_get("at_ms")?,
        gate: row.try_get("gate")?,
        direction: row.try_get("direction")?,
        admitted: row.try_get::<i64, _>("admitted")? != 0,
        reason: row.try_get("reason")?,
        server_admitted: row.try_get::<i64, _>("server_admitted")? != 0,
        server_reason: row.try_get("server_reason")?,
        conflict: row.try_get::<i64, _>("conflict")? != 0,
        conflict_kind: row.try_get("conflict_kind")?,
    })
}

/// `%text%` for `LIKE`, with `LIKE`'s own wildcards taken literally.
fn contains_pattern(query: &str) -> String {
    let escaped = query
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
impl<DB> ConsoleStore for SqlStore<DB>
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
    async fn search_orders(
        &self,
        query: &str,
        limit: i64,
    ) -> Result<Vec<OrderSummary>, StoreError> {
        let query = query.trim();
        sqlx::query(crate::sql(&[
            ORDER_SUMMARY_SELECT,
            " WHERE $1 = '' OR LOWER(o.email) LIKE $2 ESCAPE '\\' \
             OR LOWER(o.name) LIKE $2 ESCAPE '\\' OR CAST(o.id AS TEXT) = $1 \
             ORDER BY o.created_at DESC, o.id LIMIT $3",
        ]))
        .bind(query)
        .bind(contains_pattern(query))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(order_summary_from)
        .collect()
    }

    async fn search_tickets(&self, query: &str, limit: i64) -> Result<Vec<TicketRow>, StoreError> {
        let query = query.trim();
        sqlx::query(crate::sql(&[
            TICKET_ROW_SELECT,
            " WHERE $1 = '' OR CAST(t.id AS TEXT) = $1 OR CAST(t.order_id AS TEXT) = $1 \
             OR LOWER(t.holder_name) LIKE $2 ESCAPE '\\' OR LOWER(o.email) LIKE $2 ESCAPE '\\' \
             ORDER BY t.issued_at DESC, t.id LIMIT $3",
        ]))
        .bind(query)
        .bind(contains_pattern(query))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ticket_row_from)
        .collect()
    }

    async fn console_check_ins(&self, event_id: i64) -> Result<Vec<CheckInRow>, StoreError> {
        sqlx::query(
            "SELECT c.device_id, c.seq, d.name AS device_name, c.ticket_id, \
             tt.name AS ticket_type, c.at_ms, c.gate, c.direction, c.admitted, c.reason, \
             c.server_admitted, c.server_reason, c.conflict, c.conflict_kind \
             FROM check_ins c JOIN devices d ON d.id = c.device_id \
             LEFT JOIN tickets t ON t.id = c.ticket_id \
             LEFT JOIN ticket_types tt ON tt.id = t.ticket_type_id \
             WHERE c.event_id = $1 ORDER BY c.at_ms, c.device_id, c.seq",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(check_in_row_from)
        .collect()
    }

    async fn feed_head(&self, event_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE event_id = $1 OR event_id IS NULL",
        )
        .bind(event_id)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn set_sales_paused(&self, ticket_type_id: i64, paused: bool) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query("UPDATE ticket_types SET sales_paused = $1 WHERE id = $2")
            .bind(paused)
            .bind(ticket_type_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "ticket type {ticket_type_id}"
            )));
        }
        Ok(())
    }

    async fn edit_unsold_ticket_type(
        &self,
        ticket_type_id: i64,
        price_cents: i64,
        capacity: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        // Conditional on nothing sold and no order line (a pending or expired order
        // priced at the old price): the check and the change are one statement.
        let done = sqlx::query(
            "UPDATE ticket_types SET price_cents = $1, capacity = $2 WHERE id = $3 \
             AND sold = 0 AND NOT EXISTS \
             (SELECT 1 FROM order_items i WHERE i.ticket_type_id = $3)",
        )
        .bind(price_cents)
        .bind(capacity)
        .bind(ticket_type_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM ticket_types WHERE id = $1")
            .bind(ticket_type_id)
            .fetch_optional(&self.pool)
            .await?;
        Err(match exists {
            None => StoreError::NotFound(format!("ticket type {ticket_type_id}")),
            Some(_) => StoreError::Conflict(format!(
                "an order of ticket type {ticket_type_id} (price and capacity are fixed once it sells)"
            )),
        })
    }

    async fn queue_confirmation(&self, order_id: i64, now: i64) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "INSERT INTO outbox (kind, order_id, recipient, status, attempts, \
             next_attempt_ms, created_at) \
             SELECT 'order_confirmation', id, email, 'pending', 0, $2, $3 FROM orders \
             WHERE id = $1 AND status = 'paid'",
        )
        .bind(order_id)
        .bind(now * 1000)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("paid order {order_id}")));
        }
        Ok(())
    }
}
