//! The steps several statements of the store share, each a function: taking capacity,
//! queueing an email, inserting a paid order, issuing its tickets, applying an upgrade,
//! using an email token and recording a booth purchase (over the transaction's connection),
//! and reading a `GROUP BY` count.
//!
//! A step that fails returns the error and the caller returns it too: the transaction is
//! dropped uncommitted, and sqlx rolls it back before the connection is used again.

use sqlx::Row;

use super::backend::{Affected, Backend};
use super::{
    NewItem, NewOrder, NewTicket, NewVendorPurchase, OutboxKind, SqlStore, StoreError,
    UpgradeRevision, is_unique_violation,
};

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
    /// Takes capacity for an order's items (sorted by ticket type id, so two orders lock the
    /// same rows in the same order and cannot deadlock), or returns `SoldOut` / `NotFound`.
    /// The conditional UPDATE is the capacity check: it takes the row's write lock
    /// (PostgreSQL) or the database's (SQLite) and re-reads `sold` under it, so concurrent
    /// orders serialize here and never oversell.
    pub(crate) async fn take_capacity(
        conn: &mut DB::Connection,
        items: &[NewItem],
    ) -> Result<(), StoreError> {
        for item in items {
            let taken = sqlx::query(
                "UPDATE ticket_types SET sold = sold + $1 WHERE id = $2 AND sold + $1 <= capacity",
            )
            .bind(item.quantity)
            .bind(item.ticket_type_id)
            .execute(&mut *conn)
            .await?;
            if taken.rows_affected() == 0 {
                let remaining: Option<i64> =
                    sqlx::query_scalar("SELECT capacity - sold FROM ticket_types WHERE id = $1")
                        .bind(item.ticket_type_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                return Err(match remaining {
                    Some(remaining) => StoreError::SoldOut {
                        ticket_type: item.ticket_type_id,
                        remaining,
                    },
                    None => StoreError::NotFound(format!("ticket type {}", item.ticket_type_id)),
                });
            }
        }
        Ok(())
    }

    /// Queues one email in the outbox, due at `due_ms`: the row every email of the server
    /// starts as; the worker composes it when it sends.
    pub(crate) async fn queue_outbox(
        conn: &mut DB::Connection,
        email: OutboxRow<'_>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (kind, order_id, ref_id, recipient, status, attempts, \
             next_attempt_ms, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $6)",
        )
        .bind(email.kind.as_str())
        .bind(email.order_id)
        .bind(email.ref_id)
        .bind(email.recipient)
        .bind(email.due_ms)
        .bind(email.now)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Inserts a paid order's row and its lines (the caller took capacity for its items
    /// first): the same rows for ticket orders and vendor booth orders.
    pub(crate) async fn insert_paid_order(
        conn: &mut DB::Connection,
        order: &NewOrder,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO orders (id, email, name, status, payment, total_cents, currency, \
             token_hash, created_at, paid_at, lang) \
             VALUES ($1, $2, $3, 'paid', $4, $5, $6, $7, $8, $8, $9)",
        )
        .bind(order.id)
        .bind(&order.email)
        .bind(&order.name)
        .bind(order.payment.as_str())
        .bind(order.total_cents)
        .bind(&order.currency)
        .bind(&order.token_hash)
        .bind(order.created_at)
        .bind(&order.lang)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("order {}", order.id))
            } else {
                e.into()
            }
        })?;
        Self::remember_request(&mut *conn, order).await?;
        for item in &order.items {
            sqlx::query(
                "INSERT INTO order_items (order_id, ticket_type_id, quantity, \
                 unit_price_cents) VALUES ($1, $2, $3, $4)",
            )
            .bind(order.id)
            .bind(item.ticket_type_id)
            .bind(item.quantity)
            .bind(item.unit_price_cents)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Records an order's `Idempotency-Key` beside it; a key already taken fails the
    /// transaction with [`StoreError::Replayed`] (two racing requests make one order).
    pub(crate) async fn remember_request(
        conn: &mut DB::Connection,
        order: &NewOrder,
    ) -> Result<(), StoreError> {
        let Some(k) = &order.idempotency else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO idempotency_keys (scope, request_key, request_hash, order_id, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(k.scope)
        .bind(&k.key)
        .bind(&k.request_hash)
        .bind(order.id)
        .bind(order.created_at)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Replayed
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Inserts a paid order's signed tickets and queues its confirmation email: the two
    /// always go together, for demo, comp and Stripe orders alike.
    pub(crate) async fn insert_issued(
        conn: &mut DB::Connection,
        order_id: i64,
        tickets: &[NewTicket],
        email: &str,
        due_ms: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        for t in tickets {
            sqlx::query(
                "INSERT INTO tickets (id, order_id, event_id, ticket_type_id, revision, \
                 status, holder_name, days_mask, zones, booth, key_id, issued_at, qr_text, \
                 holder_email) \
                 VALUES ($1, $2, $3, $4, $5, 'valid', $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(t.id)
            .bind(order_id)
            .bind(t.event_id)
            .bind(t.ticket_type_id)
            .bind(t.revision)
            .bind(&t.holder_name)
            .bind(i64::from(t.days_mask))
            .bind(i64::from(t.zones))
            .bind(t.booth)
            .bind(t.key_id)
            .bind(t.issued_at)
            .bind(&t.qr_text)
            .bind(crate::normalize_email(email))
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("ticket {}", t.id))
                } else {
                    e.into()
                }
            })?;
        }
        Self::queue_outbox(
            conn,
            OutboxRow {
                kind: OutboxKind::OrderConfirmation,
                order_id: Some(order_id),
                ref_id: None,
                recipient: email,
                due_ms,
                now,
            },
        )
        .await
    }

    /// Writes an upgrade's new revision of a ticket, returns one place to the old type and
    /// queues the `ticket_upgraded` email (the caller took the new type's capacity). The
    /// ticket must still be at the expected revision, valid, held by the same address and
    /// of the old type; otherwise nothing is written and the answer is `false` (stale).
    pub(crate) async fn apply_upgrade(
        conn: &mut DB::Connection,
        u: &UpgradeRevision,
        order_id: i64,
        due_ms: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE tickets SET revision = revision + 1, ticket_type_id = $1, \
             days_mask = $2, zones = $3, qr_text = $4, key_id = $5, issued_at = $6, \
             superseded_by = 'upgrade' \
             WHERE id = $7 AND revision = $8 AND status = 'valid' AND holder_email = $9 \
             AND ticket_type_id = $10",
        )
        .bind(u.to_type)
        .bind(i64::from(u.days_mask))
        .bind(i64::from(u.zones))
        .bind(&u.qr_text)
        .bind(u.key_id)
        .bind(u.issued_at)
        .bind(u.ticket_id)
        .bind(u.expected_revision)
        .bind(&u.holder_email)
        .bind(u.from_type)
        .execute(&mut *conn)
        .await?;
        if changed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("UPDATE ticket_types SET sold = sold - 1 WHERE id = $1 AND sold > 0")
            .bind(u.from_type)
            .execute(&mut *conn)
            .await?;
        Self::queue_outbox(
            conn,
            OutboxRow {
                kind: OutboxKind::TicketUpgraded,
                order_id: Some(order_id),
                ref_id: Some(u.ticket_id),
                recipient: &u.holder_email,
                due_ms,
                now,
            },
        )
        .await?;
        Ok(true)
    }

    /// `(k, n)` rows of a `GROUP BY` query.
    pub(crate) async fn grouped(
        &self,
        sql: &'static str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        sqlx::query(sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("k")?, r.try_get("n")?)))
            .collect()
    }

    /// Ends every session of an account (a password set, an address proven).
    pub(crate) async fn end_sessions(
        conn: &mut DB::Connection,
        user_id: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Ends every unused password-reset link of an account: after a newer link, a reset or a
    /// password change, an older link in someone's mailbox must not set the password again.
    pub(crate) async fn retire_reset_links(
        conn: &mut DB::Connection,
        user_id: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE email_tokens SET used_at = $1 \
             WHERE user_id = $2 AND purpose = 'reset' AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Uses a one-time email token: marks it used if it is of `purpose`, unused and
    /// unexpired, in one conditional statement (two racing uses: one wins); returns the
    /// token's user, or `None`.
    pub(crate) async fn use_email_token(
        conn: &mut DB::Connection,
        id: i64,
        purpose: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "UPDATE email_tokens SET used_at = $1 WHERE id = $2 AND purpose = $3 \
             AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
        )
        .bind(now)
        .bind(id)
        .bind(purpose)
        .fetch_optional(&mut *conn)
        .await?)
    }

    /// Creates the vendor profile if the email has none (an existing one is left as it is:
    /// anyone can submit the form) and inserts the purchase row with its own contact
    /// details; returns the vendor id.
    pub(crate) async fn insert_purchase(
        conn: &mut DB::Connection,
        order_id: i64,
        p: &NewVendorPurchase,
    ) -> Result<i64, StoreError> {
        let vendor_id: i64 = sqlx::query_scalar(
            "INSERT INTO vendor_profiles (email, business_name, contact_name, phone, description, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (email) DO UPDATE SET updated_at = vendor_profiles.updated_at \
         RETURNING id",
        )
        .bind(&p.email)
        .bind(&p.business_name)
        .bind(&p.contact_name)
        .bind(&p.phone)
        .bind(&p.description)
        .bind(p.now)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query(
        "INSERT INTO vendor_purchases (order_id, vendor_id, event_id, ticket_type_id, category, \
         business_name, booth_name, description, created_at, contact_name, phone) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(order_id)
    .bind(vendor_id)
    .bind(p.event_id)
    .bind(p.ticket_type_id)
    .bind(p.category.as_str())
    .bind(&p.business_name)
    .bind(&p.booth_name)
    .bind(&p.description)
    .bind(p.now)
    .bind(&p.contact_name)
    .bind(&p.phone)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict(format!("vendor purchase of order {order_id}"))
        } else {
            e.into()
        }
    })?;
        Ok(vendor_id)
    }
}

/// One email to queue ([`SqlStore::queue_outbox`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutboxRow<'a> {
    /// What email it is.
    pub kind: OutboxKind,
    /// The order it is about.
    pub order_id: Option<i64>,
    /// The email token or ticket it is about.
    pub ref_id: Option<i64>,
    /// Recipient address.
    pub recipient: &'a str,
    /// When it becomes due, Unix milliseconds.
    pub due_ms: i64,
    /// Unix seconds.
    pub now: i64,
}
