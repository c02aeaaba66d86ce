//! The SQL both backends run, written once: `$n` placeholders work on SQLite and
//! PostgreSQL alike, every integer column is 64-bit on both, and times are integers, so one
//! body compiles against each driver. The macro exists only to instantiate that body per
//! backend type; per-backend differences (migrations, write serialization) are arguments.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::Row;

use super::SqlStore;
use super::backend::{Affected, Backend};
use super::{
    Event, GateRow, KeyRow, KeyState, NewEvent, NewOrder, NewTicketType, Order, OutboxCounts,
    OutboxEmail, OutboxEntry, Store, StoreError, TicketType, TicketView, format_days,
    is_unique_violation, mask, parse_days,
};

/// The columns and joins of a [`TicketView`].
pub(crate) static TICKET_VIEW_SELECT: LazyLock<String> = LazyLock::new(|| {
    [
        "SELECT t.id, t.order_id, t.status, t.revision, t.holder_name, t.holder_email, \
         t.superseded_by, t.days_mask, t.zones, t.booth, t.key_id, t.issued_at, t.qr_text, ",
        crate::VENDOR_DETAIL_SQL,
        " AS detail, ",
        crate::VENDOR_BUSINESS_SQL,
        " AS vendor_business, ",
        crate::BOOTH_CODE_SQL,
        " AS booth_code, tt.id AS tt_id, tt.name AS tt_name, tt.kind AS tt_kind, \
         CAST(CASE WHEN tt.transferable THEN 1 ELSE 0 END AS BIGINT) AS tt_transferable, \
         e.id AS e_id, e.name AS e_name, e.venue AS e_venue, e.timezone AS e_timezone, \
         e.days AS e_days \
         FROM tickets t JOIN ticket_types tt ON tt.id = t.ticket_type_id \
         JOIN events e ON e.id = t.event_id",
    ]
    .concat()
});

/// The columns [`order_from`] reads.
pub(crate) const ORDER_SELECT: &str = "SELECT id, email, name, status, payment, total_cents, currency, token_hash, \
         created_at, upgrade_ticket_id, upgrade_from_type, token_revoked_at, lang FROM orders";

pub(super) fn order_from<R: Row>(row: &R) -> Result<Order, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Vec<u8>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Order {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        status: row.try_get::<String, _>("status")?.parse()?,
        payment: row.try_get::<String, _>("payment")?.parse()?,
        total_cents: row.try_get("total_cents")?,
        currency: row.try_get("currency")?,
        token_hash: row.try_get("token_hash")?,
        created_at: row.try_get("created_at")?,
        upgrade_ticket_id: row.try_get("upgrade_ticket_id")?,
        upgrade_from_type: row.try_get("upgrade_from_type")?,
        token_revoked_at: row.try_get("token_revoked_at")?,
        lang: row.try_get("lang")?,
    })
}

fn event_from<R: Row>(row: &R) -> Result<Event, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Event {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        venue: row.try_get("venue")?,
        timezone: row.try_get("timezone")?,
        days: parse_days(&row.try_get::<String, _>("days")?)?,
    })
}

fn ticket_type_from<R: Row>(row: &R) -> Result<TicketType, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(TicketType {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        name: row.try_get("name")?,
        kind: row.try_get::<String, _>("kind")?.parse()?,
        price_cents: row.try_get("price_cents")?,
        currency: row.try_get("currency")?,
        capacity: row.try_get("capacity")?,
        sold: row.try_get("sold")?,
        days_mask: mask(row.try_get("days_mask")?, "days_mask")?,
        zones: mask(row.try_get("zones")?, "zones")?,
        transferable: row.try_get("transferable")?,
        sales_paused: row.try_get("sales_paused")?,
    })
}

pub(super) fn ticket_view_from<R: Row>(row: &R) -> Result<TicketView, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(TicketView {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        status: row.try_get::<String, _>("status")?.parse()?,
        revision: row.try_get("revision")?,
        holder_name: row.try_get("holder_name")?,
        holder_email: row.try_get("holder_email")?,
        superseded_by: row.try_get("superseded_by")?,
        transferable: row.try_get::<i64, _>("tt_transferable")? != 0,
        days_mask: mask(row.try_get("days_mask")?, "days_mask")?,
        zones: mask(row.try_get("zones")?, "zones")?,
        booth: row.try_get("booth")?,
        detail: row.try_get("detail")?,
        vendor_business: row.try_get("vendor_business")?,
        booth_code: row.try_get("booth_code")?,
        key_id: row.try_get("key_id")?,
        issued_at: row.try_get("issued_at")?,
        qr_text: row.try_get("qr_text")?,
        ticket_type_id: row.try_get("tt_id")?,
        type_name: row.try_get("tt_name")?,
        kind: row.try_get::<String, _>("tt_kind")?.parse()?,
        event: Event {
            id: row.try_get("e_id")?,
            name: row.try_get("e_name")?,
            venue: row.try_get("e_venue")?,
            timezone: row.try_get("e_timezone")?,
            days: parse_days(&row.try_get::<String, _>("e_days")?)?,
        },
    })
}

fn key_state(s: &str) -> Result<KeyState, StoreError> {
    match s {
        "active" => Ok(KeyState::Active),
        "retired" => Ok(KeyState::Retired),
        other => Err(StoreError::Corrupt(format!("unknown key status {other:?}"))),
    }
}

impl<DB> SqlStore<DB>
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
    /// Holds the in-process write lock where the backend needs one (SQLite).
    pub(super) async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// Begins a transaction that will write ([`Backend::BEGIN_WRITE`]); taken after
    /// [`Self::write_guard`].
    pub(super) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
        self.pool.begin_with(DB::BEGIN_WRITE).await
    }
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
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
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
{
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        DB::migrate(&self.pool).await?;
        Ok(())
    }

    async fn create_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO events (name, venue, timezone, days, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&event.name)
        .bind(&event.venue)
        .bind(&event.timezone)
        .bind(format_days(&event.days))
        .bind(event.created_at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("event {:?}", event.name))
            } else {
                e.into()
            }
        })?;
        for (name, zones) in &event.gates {
            sqlx::query("INSERT INTO gates (event_id, name, zones) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(name)
                .bind(i64::from(*zones))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn set_event_days(&self, event_id: i64, days: &[NaiveDate]) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query("UPDATE events SET days = $1 WHERE id = $2")
            .bind(format_days(days))
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("event {event_id}")));
        }
        Ok(())
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        sqlx::query("SELECT id, name, venue, timezone, days FROM events ORDER BY id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(event_from)
            .collect()
    }

    async fn gates(&self) -> Result<Vec<GateRow>, StoreError> {
        sqlx::query("SELECT event_id, name, zones FROM gates ORDER BY event_id, name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                Ok(GateRow {
                    event_id: row.try_get("event_id")?,
                    name: row.try_get("name")?,
                    zones: mask(row.try_get("zones")?, "zones")?,
                })
            })
            .collect()
    }

    async fn create_ticket_type(&self, tt: &NewTicketType) -> Result<i64, StoreError> {
        let _w = self.write_guard().await;
        sqlx::query_scalar(
            "INSERT INTO ticket_types (event_id, name, kind, price_cents, currency, \
             capacity, sold, days_mask, zones, transferable) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9) RETURNING id",
        )
        .bind(tt.event_id)
        .bind(&tt.name)
        .bind(tt.kind.as_str())
        .bind(tt.price_cents)
        .bind(&tt.currency)
        .bind(tt.capacity)
        .bind(i64::from(tt.days_mask))
        .bind(i64::from(tt.zones))
        .bind(tt.transferable)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("ticket type {:?}", tt.name))
            } else if matches!(&e, sqlx::Error::Database(db) if db.is_foreign_key_violation()) {
                StoreError::NotFound(format!("event {}", tt.event_id))
            } else {
                e.into()
            }
        })
    }

    async fn ticket_types(&self) -> Result<Vec<TicketType>, StoreError> {
        sqlx::query(
            "SELECT id, event_id, name, kind, price_cents, currency, capacity, sold, \
             days_mask, zones, transferable, sales_paused FROM ticket_types ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ticket_type_from)
        .collect()
    }

    async fn signing_keys(&self) -> Result<Vec<KeyRow>, StoreError> {
        sqlx::query(
            "SELECT id, public_key, sealed_seed, status, created_at \
             FROM signing_keys ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(KeyRow {
                id: row.try_get("id")?,
                public_key: row.try_get("public_key")?,
                sealed_seed: row.try_get("sealed_seed")?,
                state: key_state(&row.try_get::<String, _>("status")?)?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
    }

    async fn insert_signing_key(&self, key: &KeyRow) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "INSERT INTO signing_keys (id, public_key, sealed_seed, status, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(key.id)
        .bind(&key.public_key)
        .bind(&key.sealed_seed)
        .bind(key.state.as_str())
        .bind(key.created_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_key_state(&self, id: i64, state: KeyState) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query("UPDATE signing_keys SET status = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("signing key {id}")));
        }
        Ok(())
    }

    async fn place_order(&self, order: &NewOrder) -> Result<(), StoreError> {
        // Take capacity in ticket type id order, so two orders for the same two
        // types lock their rows in the same order and cannot deadlock.
        let mut items = order.items.clone();
        items.sort_by_key(|i| i.ticket_type_id);
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        Self::take_capacity(&mut *tx, &items).await?;
        Self::insert_paid_order(&mut *tx, order).await?;
        Self::insert_issued(
            &mut *tx,
            order.id,
            &order.tickets,
            &order.email,
            order.email_due_ms,
            order.created_at,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        sqlx::query(crate::sql(&[ORDER_SELECT, " WHERE id = $1"]))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(order_from)
            .transpose()
    }

    async fn order_events(&self, order_id: i64) -> Result<Vec<Event>, StoreError> {
        sqlx::query(
            "SELECT id, name, venue, timezone, days FROM events WHERE id IN \
             (SELECT tt.event_id FROM order_items oi \
              JOIN ticket_types tt ON tt.id = oi.ticket_type_id WHERE oi.order_id = $1) \
             ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_from)
        .collect()
    }

    async fn revoke_order_token(&self, order_id: i64, now: i64) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE orders SET token_revoked_at = $2 WHERE id = $1 AND token_revoked_at IS NULL",
        )
        .bind(order_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn order_tickets(&self, order_id: i64) -> Result<Vec<TicketView>, StoreError> {
        sqlx::query(crate::sql(&[
            TICKET_VIEW_SELECT.as_str(),
            " WHERE t.order_id = $1 ORDER BY t.id",
        ]))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ticket_view_from)
        .collect()
    }

    async fn idempotent_order(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT order_id, request_hash FROM idempotency_keys \
             WHERE scope = $1 AND request_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("order_id")?, r.try_get("request_hash")?)))
            .transpose()
    }

    async fn void_ticket(&self, ticket_id: i64) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query("UPDATE tickets SET status = 'void' WHERE id = $1")
            .bind(ticket_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_due_emails(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxEmail>, StoreError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $1 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $1) ORDER BY id LIMIT $2",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let _w = self.write_guard().await;
            // Conditional on the lease being free, so of two workers racing for one
            // email exactly one wins it.
            let row = sqlx::query(
                "UPDATE outbox SET lease_until_ms = $1, attempts = attempts + 1 \
                 WHERE id = $2 AND status = 'pending' \
                 AND (lease_until_ms IS NULL OR lease_until_ms < $3) \
                 RETURNING id, kind, order_id, ref_id, recipient, attempts",
            )
            .bind(lease_until_ms)
            .bind(id)
            .bind(now_ms)
            .fetch_optional(&self.pool)
            .await?;
            if let Some(row) = row {
                claimed.push(OutboxEmail {
                    id: row.try_get("id")?,
                    kind: row.try_get::<String, _>("kind")?.parse()?,
                    order_id: row.try_get("order_id")?,
                    ref_id: row.try_get("ref_id")?,
                    recipient: row.try_get("recipient")?,
                    attempts: row.try_get("attempts")?,
                });
            }
        }
        Ok(claimed)
    }

    async fn mark_email_sent(&self, id: i64, attempt: i64, now: i64) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, lease_until_ms = NULL, \
             last_error = NULL WHERE id = $2 AND attempts = $3 AND status = 'pending'",
        )
        .bind(now)
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_email_failed(
        &self,
        id: i64,
        attempt: i64,
        next_attempt_ms: i64,
        error: &str,
        give_up: bool,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query(
            "UPDATE outbox SET status = $1, next_attempt_ms = $2, last_error = $3, \
             lease_until_ms = NULL WHERE id = $4 AND attempts = $5 AND status = 'pending'",
        )
        .bind(if give_up { "dead" } else { "pending" })
        .bind(next_attempt_ms)
        .bind(error)
        .bind(id)
        .bind(attempt)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn email_sent_by(&self, id: i64, attempt: i64) -> Result<bool, StoreError> {
        let sent: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM outbox WHERE id = $1 AND attempts = $2 AND status = 'sent'",
        )
        .bind(id)
        .bind(attempt)
        .fetch_optional(&self.pool)
        .await?;
        Ok(sent.is_some())
    }

    async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
            .fetch_all(&self.pool)
            .await?;
        let mut counts = OutboxCounts::default();
        for row in rows {
            let n: i64 = row.try_get("n")?;
            match row.try_get::<String, _>("status")?.as_str() {
                "pending" => counts.pending = n,
                "sent" => counts.sent = n,
                "dead" => counts.dead = n,
                other => {
                    return Err(StoreError::Corrupt(format!("outbox status {other:?}")));
                }
            }
        }
        Ok(counts)
    }

    async fn outbox_entries(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        sqlx::query(
            "SELECT id, order_id, kind, status, attempts, last_error FROM outbox ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(OutboxEntry {
                id: row.try_get("id")?,
                order_id: row.try_get("order_id")?,
                kind: row.try_get::<String, _>("kind")?.parse()?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
            })
        })
        .collect()
    }

    async fn next_email_due_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(CASE WHEN lease_until_ms IS NOT NULL AND lease_until_ms > next_attempt_ms \
             THEN lease_until_ms ELSE next_attempt_ms END) FROM outbox WHERE status = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?)
    }
}
