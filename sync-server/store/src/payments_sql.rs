//! The payment tables: Checkout Sessions per order, every Stripe webhook event (deduplicated
//! by its id), refunds, and the order state changes money causes (pending → paid, pending →
//! expired with its capacity released, paid → refunded with its tickets voided). Like
//! [`super::sql`], one SQL body serves both backends. Knows nothing about Stripe's API or
//! signatures: the `payments` module decides, this module makes each decision atomic.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use super::backend::{Affected, Backend};
use super::{NewItem, NewOrder, NewTicket, StoreError, UpgradeRevision, is_unique_violation};

/// An order's Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    /// The order.
    pub order_id: i64,
    /// `stripe`.
    pub provider: String,
    /// The Checkout Session id (`cs_...`), once created.
    pub session_id: Option<String>,
    /// Where the buyer pays.
    pub checkout_url: Option<String>,
    /// The PaymentIntent (`pi_...`), once Stripe reported it.
    pub payment_intent: Option<String>,
    /// What Stripe must collect, in minor units.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// What storing a webhook event found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRecord {
    /// First delivery: stored, not handled yet.
    New,
    /// Delivered before but not handled to the end (a crash or a rejection): handle again.
    Unhandled,
    /// Delivered and handled before, with this outcome.
    Handled(String),
}

/// A stored webhook event, as operators and tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeEventRow {
    /// `evt_...`.
    pub id: String,
    /// The event type.
    pub kind: String,
    /// The order it is about, when known.
    pub order_id: Option<i64>,
    /// What was done, once handled.
    pub outcome: Option<String>,
}

/// What settling a paid order did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The pending order is paid; its tickets and confirmation email are stored.
    Issued,
    /// The order had expired; capacity was taken again and the tickets issued.
    Reissued,
    /// Paid before: nothing changed.
    AlreadyPaid,
    /// The order had expired and its tickets are sold out now: nothing changed; the
    /// payment must be refunded.
    NoCapacity,
    /// The order was refunded already: nothing changed.
    Refunded,
    /// An upgrade order whose ticket changed since it was ordered (transferred, refunded,
    /// upgraded otherwise): nothing changed; the payment must be refunded.
    Stale,
}

/// What a paid pending order delivers.
#[derive(Debug, Clone, Copy)]
pub enum Fulfil<'a> {
    /// Its tickets, signed.
    Tickets(&'a [NewTicket]),
    /// A ticket's upgraded revision, signed.
    Upgrade(&'a UpgradeRevision),
}

/// A refund to record before asking the provider for it.
#[derive(Debug, Clone)]
pub struct NewRefund {
    /// The order.
    pub order_id: i64,
    /// One ticket, or `None` for the whole order.
    pub ticket_id: Option<i64>,
    /// Minor units.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Why (`requested_by_organizer`, `late_payment_sold_out`).
    pub reason: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A stored refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    /// Row id (also the provider idempotency key's suffix).
    pub id: i64,
    /// The order.
    pub order_id: i64,
    /// One ticket or the whole order.
    pub ticket_id: Option<i64>,
    /// Minor units.
    pub amount_cents: i64,
    /// `requested`, `succeeded` or `failed`.
    pub status: String,
    /// Stripe's refund id (`re_...`).
    pub stripe_refund_id: Option<String>,
}

/// How to finish a refund once the provider accepted it.
#[derive(Debug, Clone)]
pub struct RefundDone<'a> {
    /// The refund row.
    pub refund_id: i64,
    /// Stripe's refund id, when money moved through Stripe.
    pub stripe_refund_id: Option<&'a str>,
    /// Tickets to void (still-valid ones are voided and their capacity released).
    pub void_tickets: &'a [i64],
    /// Set the order's status to `refunded`.
    pub order_refunded: bool,
    /// Queue a `payment_refunded` email to this address, due at this time (ms).
    pub notify: Option<(&'a str, i64)>,
    /// Unix seconds.
    pub now: i64,
}

/// The payment part of the store.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// Takes capacity and inserts a `pending` Stripe order with its items (no tickets, no
    /// email) that expires at `expires_at`, in one transaction. `SoldOut` changes nothing.
    async fn place_pending_order(
        &self,
        order: &NewOrder,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Records the Checkout Session created for an order.
    async fn attach_checkout_session(
        &self,
        order_id: i64,
        session_id: &str,
        checkout_url: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// An order's payment row.
    async fn payment(&self, order_id: i64) -> Result<Option<PaymentRow>, StoreError>;
    /// An order's lines.
    async fn order_items(&self, order_id: i64) -> Result<Vec<NewItem>, StoreError>;
    /// Stores a verified webhook event unless its id is known; says whether it was handled.
    async fn record_stripe_event(
        &self,
        id: &str,
        kind: &str,
        order_id: Option<i64>,
        payload: &str,
        now: i64,
    ) -> Result<EventRecord, StoreError>;
    /// Records what handling an event did.
    async fn mark_stripe_event(
        &self,
        id: &str,
        outcome: &str,
        handled: bool,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Every stored event, in arrival order.
    async fn stripe_events(&self) -> Result<Vec<StripeEventRow>, StoreError>;
    /// Marks an order paid and inserts its tickets and confirmation email, exactly once:
    /// a pending order is issued; an expired one is issued if its capacity can be taken
    /// again; a paid or refunded one is left alone.
    async fn settle_order(
        &self,
        order_id: i64,
        fulfil: Fulfil<'_>,
        payment_intent: Option<&str>,
        now: i64,
        email_due_ms: i64,
    ) -> Result<Settled, StoreError>;
    /// Expires a pending order and releases its capacity; returns whether it was pending.
    async fn expire_order(&self, order_id: i64, now: i64) -> Result<bool, StoreError>;
    /// Pending orders whose time ran out.
    async fn overdue_orders(&self, now: i64) -> Result<Vec<i64>, StoreError>;
    /// Records a refund as `requested`; returns its id.
    async fn begin_refund(&self, refund: &NewRefund) -> Result<i64, StoreError>;
    /// Marks a refund succeeded and applies it (tickets voided, capacity released, order
    /// status, buyer email), in one transaction.
    async fn complete_refund(&self, done: &RefundDone<'_>) -> Result<(), StoreError>;
    /// Marks a refund failed; nothing else changes.
    async fn fail_refund(&self, refund_id: i64, error: &str, now: i64) -> Result<(), StoreError>;
    /// An order's refunds, by id.
    async fn refunds(&self, order_id: i64) -> Result<Vec<RefundRow>, StoreError>;
}

#[async_trait]
impl<DB> PaymentStore for SqlStore<DB>
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
    async fn place_pending_order(
        &self,
        order: &NewOrder,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut items = order.items.clone();
        items.sort_by_key(|i| i.ticket_type_id);
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        Self::take_capacity(&mut *tx, &items).await?;
        sqlx::query(
            "INSERT INTO orders (id, email, name, status, payment, total_cents, currency, \
             token_hash, created_at, expires_at, upgrade_ticket_id, upgrade_from_type, lang) \
             VALUES ($1, $2, $3, 'pending', 'stripe', $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(order.id)
        .bind(&order.email)
        .bind(&order.name)
        .bind(order.total_cents)
        .bind(&order.currency)
        .bind(&order.token_hash)
        .bind(order.created_at)
        .bind(expires_at)
        .bind(order.upgrade_ticket_id)
        .bind(order.upgrade_from_type)
        .bind(&order.lang)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("order {}", order.id))
            } else {
                e.into()
            }
        })?;
        Self::remember_request(&mut *tx, order).await?;
        for item in &order.items {
            sqlx::query(
                "INSERT INTO order_items (order_id, ticket_type_id, quantity, \
                 unit_price_cents) VALUES ($1, $2, $3, $4)",
            )
            .bind(order.id)
            .bind(item.ticket_type_id)
            .bind(item.quantity)
            .bind(item.unit_price_cents)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO payments (order_id, provider, amount_cents, currency, created_at) \
             VALUES ($1, 'stripe', $2, $3, $4)",
        )
        .bind(order.id)
        .bind(order.total_cents)
        .bind(&order.currency)
        .bind(order.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn attach_checkout_session(
        &self,
        order_id: i64,
        session_id: &str,
        checkout_url: &str,
        _now: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE payments SET session_id = $1, checkout_url = $2 WHERE order_id = $3",
        )
        .bind(session_id)
        .bind(checkout_url)
        .bind(order_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("payment of order {order_id}")));
        }
        Ok(())
    }

    async fn payment(&self, order_id: i64) -> Result<Option<PaymentRow>, StoreError> {
        sqlx::query(
            "SELECT order_id, provider, session_id, checkout_url, payment_intent, \
             amount_cents, currency FROM payments WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| {
            Ok(PaymentRow {
                order_id: row.try_get("order_id")?,
                provider: row.try_get("provider")?,
                session_id: row.try_get("session_id")?,
                checkout_url: row.try_get("checkout_url")?,
                payment_intent: row.try_get("payment_intent")?,
                amount_cents: row.try_get("amount_cents")?,
                currency: row.try_get("currency")?,
            })
        })
        .transpose()
    }

    async fn order_items(&self, order_id: i64) -> Result<Vec<NewItem>, StoreError> {
        sqlx::query(
            "SELECT ticket_type_id, quantity, unit_price_cents FROM order_items \
             WHERE order_id = $1 ORDER BY ticket_type_id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(NewItem {
                ticket_type_id: row.try_get("ticket_type_id")?,
                quantity: row.try_get("quantity")?,
                unit_price_cents: row.try_get("unit_price_cents")?,
            })
        })
        .collect()
    }

    async fn record_stripe_event(
        &self,
        id: &str,
        kind: &str,
        order_id: Option<i64>,
        payload: &str,
        now: i64,
    ) -> Result<EventRecord, StoreError> {
        let _w = self.write_guard().await;
        let inserted = sqlx::query(
            "INSERT INTO stripe_events (id, type, order_id, payload, received_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(order_id)
        .bind(payload)
        .bind(now)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(EventRecord::New);
        }
        let row = sqlx::query("SELECT outcome, handled_at FROM stripe_events WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        let handled: Option<i64> = row.try_get("handled_at")?;
        let outcome: Option<String> = row.try_get("outcome")?;
        Ok(match (handled, outcome) {
            (Some(_), Some(outcome)) => EventRecord::Handled(outcome),
            _ => EventRecord::Unhandled,
        })
    }

    async fn mark_stripe_event(
        &self,
        id: &str,
        outcome: &str,
        handled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query("UPDATE stripe_events SET outcome = $1, handled_at = $2 WHERE id = $3")
            .bind(outcome)
            .bind(handled.then_some(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn stripe_events(&self) -> Result<Vec<StripeEventRow>, StoreError> {
        sqlx::query(
            "SELECT id, type, order_id, outcome FROM stripe_events \
             ORDER BY received_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(StripeEventRow {
                id: row.try_get("id")?,
                kind: row.try_get("type")?,
                order_id: row.try_get("order_id")?,
                outcome: row.try_get("outcome")?,
            })
        })
        .collect()
    }

    async fn settle_order(
        &self,
        order_id: i64,
        fulfil: Fulfil<'_>,
        payment_intent: Option<&str>,
        now: i64,
        email_due_ms: i64,
    ) -> Result<Settled, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        // The conditional UPDATE is the exactly-once gate: of two deliveries racing
        // (on two instances), one moves the order out of `pending`/`expired`, the
        // other finds it `paid` (PostgreSQL re-checks the condition after waiting
        // on the row lock).
        let row = sqlx::query("SELECT status, email FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("order {order_id}")))?;
        let status: String = row.try_get("status")?;
        let email: String = row.try_get("email")?;
        let outcome = match status.as_str() {
            "paid" => return Ok(Settled::AlreadyPaid),
            "refunded" => return Ok(Settled::Refunded),
            "pending" => Settled::Issued,
            "expired" | "cancelled" => Settled::Reissued,
            other => return Err(StoreError::Corrupt(format!("order status {other:?}"))),
        };
        let moved = sqlx::query(
            "UPDATE orders SET status = 'paid', paid_at = $1 WHERE id = $2 AND status = $3",
        )
        .bind(now)
        .bind(order_id)
        .bind(&status)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(Settled::AlreadyPaid);
        }
        if outcome == Settled::Reissued {
            // Its capacity was released at expiry: take it again, or give up.
            let items: Vec<(i64, i64)> = sqlx::query(
                "SELECT ticket_type_id, quantity FROM order_items WHERE order_id = $1 \
                 ORDER BY ticket_type_id",
            )
            .bind(order_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("ticket_type_id")?, r.try_get("quantity")?)))
            .collect::<Result<_, StoreError>>()?;
            for (ticket_type, quantity) in items {
                let taken = sqlx::query(
                    "UPDATE ticket_types SET sold = sold + $1 \
                     WHERE id = $2 AND sold + $1 <= capacity",
                )
                .bind(quantity)
                .bind(ticket_type)
                .execute(&mut *tx)
                .await?;
                if taken.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(Settled::NoCapacity);
                }
            }
        }
        sqlx::query(
            "UPDATE payments SET payment_intent = COALESCE($1, payment_intent), paid_at = $2 \
             WHERE order_id = $3",
        )
        .bind(payment_intent)
        .bind(now)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        match fulfil {
            Fulfil::Tickets(tickets) => {
                Self::insert_issued(&mut *tx, order_id, tickets, &email, email_due_ms, now).await?;
            }
            Fulfil::Upgrade(revision) => {
                if !Self::apply_upgrade(&mut *tx, revision, order_id, email_due_ms, now).await? {
                    return Ok(Settled::Stale);
                }
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    async fn expire_order(&self, order_id: i64, now: i64) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE orders SET status = 'expired', expires_at = $1 \
             WHERE id = $2 AND status = 'pending'",
        )
        .bind(now)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "UPDATE ticket_types SET sold = sold - (SELECT quantity FROM order_items \
             WHERE order_id = $1 AND ticket_type_id = ticket_types.id) \
             WHERE id IN (SELECT ticket_type_id FROM order_items WHERE order_id = $1)",
        )
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn overdue_orders(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM orders WHERE status = 'pending' AND expires_at IS NOT NULL \
             AND expires_at <= $1 ORDER BY expires_at LIMIT 500",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn begin_refund(&self, refund: &NewRefund) -> Result<i64, StoreError> {
        let _w = self.write_guard().await;
        Ok(sqlx::query_scalar(
            "INSERT INTO refunds (order_id, ticket_id, amount_cents, currency, reason, \
             status, created_at) VALUES ($1, $2, $3, $4, $5, 'requested', $6) RETURNING id",
        )
        .bind(refund.order_id)
        .bind(refund.ticket_id)
        .bind(refund.amount_cents)
        .bind(&refund.currency)
        .bind(&refund.reason)
        .bind(refund.created_at)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn complete_refund(&self, done: &RefundDone<'_>) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        let order_id: i64 = sqlx::query_scalar(
            "UPDATE refunds SET status = 'succeeded', stripe_refund_id = $1, \
             completed_at = $2 WHERE id = $3 RETURNING order_id",
        )
        .bind(done.stripe_refund_id)
        .bind(done.now)
        .bind(done.refund_id)
        .fetch_one(&mut *tx)
        .await?;
        for ticket in done.void_tickets {
            // Voiding reaches gate devices through the feed triggers; the seat goes
            // back on sale.
            let voided = sqlx::query(
                "UPDATE tickets SET status = 'void' WHERE id = $1 AND status = 'valid' \
                 RETURNING ticket_type_id",
            )
            .bind(ticket)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = voided {
                let ticket_type: i64 = row.try_get("ticket_type_id")?;
                sqlx::query("UPDATE ticket_types SET sold = sold - 1 WHERE id = $1 AND sold > 0")
                    .bind(ticket_type)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if done.order_refunded {
            sqlx::query("UPDATE orders SET status = 'refunded' WHERE id = $1")
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some((recipient, due_ms)) = done.notify {
            sqlx::query(
                "INSERT INTO outbox (kind, order_id, recipient, status, attempts, \
                 next_attempt_ms, created_at) \
                 VALUES ('payment_refunded', $1, $2, 'pending', 0, $3, $4)",
            )
            .bind(order_id)
            .bind(recipient)
            .bind(due_ms)
            .bind(done.now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fail_refund(&self, refund_id: i64, error: &str, now: i64) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query(
            "UPDATE refunds SET status = 'failed', error = $1, completed_at = $2 \
             WHERE id = $3 AND status = 'requested'",
        )
        .bind(error)
        .bind(now)
        .bind(refund_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn refunds(&self, order_id: i64) -> Result<Vec<RefundRow>, StoreError> {
        sqlx::query(
            "SELECT id, order_id, ticket_id, amount_cents, status, stripe_refund_id \
             FROM refunds WHERE order_id = $1 ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(RefundRow {
                id: row.try_get("id")?,
                order_id: row.try_get("order_id")?,
                ticket_id: row.try_get("ticket_id")?,
                amount_cents: row.try_get("amount_cents")?,
                status: row.try_get("status")?,
                stripe_refund_id: row.try_get("stripe_refund_id")?,
            })
        })
        .collect()
    }
}
