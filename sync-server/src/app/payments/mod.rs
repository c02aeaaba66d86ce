//! Payments: demo mode or Stripe Checkout, the webhook that confirms payments, the expiry
//! of unpaid orders and refunds. Money goes through durable tables (see
//! `store/payments_sql.rs` and ADR 0010): a pending order holds its capacity; a verified
//! Stripe event is stored, deduplicated by its id, then acted upon; tickets are issued by
//! one conditional state change, so exactly once whatever the deliveries; a refund is
//! recorded before Stripe is asked for it. Stripe itself sits behind [`PaymentProvider`],
//! so the rest of the server (and the tests) never see `async-stripe`.

pub mod stripe;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::app::Services;
use crate::app::attempts::{self, Action, Client};
use crate::app::orders::{self, OrderError, OrderRequest, Placed};
use crate::config::Settings;
use crate::domain::pricing::{refund_amount, sold_price};
use crate::domain::render::{money, order_number};
use crate::store::{Email, Fulfil, NewRefund, Payment, RefundDone, Settled, StoreError};
use crate::store::{OrderStatus, TicketStatus};
use webhook::{Event, WebhookError};

/// Why the payment provider failed. Messages never carry keys or personal data.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The provider is misconfigured (a bad key format, a bad base URL).
    #[error("payment provider misconfigured: {0}")]
    Config(String),
    /// The provider refused the request.
    #[error("payment provider refused the request ({status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The provider could not be reached or answered nonsense (retryable).
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

/// One line of a checkout.
#[derive(Debug, Clone)]
pub struct CheckoutLine {
    /// Shown on the payment page.
    pub name: String,
    /// Minor units.
    pub unit_amount_cents: i64,
    /// How many.
    pub quantity: u64,
}

/// What a hosted payment page is created for.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// The order (the session's `client_reference_id`).
    pub order_id: i64,
    /// Prefilled on the page.
    pub email: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The lines.
    pub lines: Vec<CheckoutLine>,
    /// Where the buyer lands after paying.
    pub success_url: String,
    /// Where the buyer lands after giving up.
    pub cancel_url: String,
    /// Unix seconds after which the page stops taking payments.
    pub expires_at: i64,
}

/// A created hosted payment page.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// `cs_...`.
    pub session_id: String,
    /// Where to send the buyer.
    pub url: String,
}

/// A refund to ask the provider for.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    /// `pi_...` of the payment.
    pub payment_intent: String,
    /// Minor units.
    pub amount_cents: i64,
    /// The same key for retries of the same refund, so money moves once.
    pub idempotency_key: String,
}

/// The calls Tessera makes to a card payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// `stripe`.
    fn name(&self) -> &'static str;
    /// Creates a hosted payment page for a pending order.
    async fn create_checkout(&self, request: &CheckoutRequest) -> Result<Checkout, ProviderError>;
    /// Refunds (part of) a payment; returns the provider's refund id.
    async fn refund(&self, request: &RefundRequest) -> Result<String, ProviderError>;
}

/// How this server takes money: demo mode, or a provider.
#[derive(Debug, Clone)]
pub struct Payments {
    provider: Option<Arc<dyn PaymentProvider>>,
}

impl Payments {
    /// Demo mode: orders are paid at once, no money moves.
    pub fn demo() -> Self {
        Self { provider: None }
    }

    /// A provider (tests pass their own).
    pub fn with_provider(provider: Arc<dyn PaymentProvider>) -> Self {
        Self {
            provider: Some(provider),
        }
    }

    /// Stripe when a secret key is configured, else demo mode.
    pub fn from_settings(settings: &Settings) -> Result<Self, ProviderError> {
        // A secret set to nothing is a mistake, never a configuration: an empty webhook
        // secret would accept events anyone can sign.
        let p = &settings.payments;
        for (name, secret) in [
            ("TESSERA_STRIPE_SECRET_KEY", &p.stripe_secret_key),
            ("TESSERA_STRIPE_WEBHOOK_SECRET", &p.stripe_webhook_secret),
            ("TESSERA_REFUND_API_TOKEN", &p.refund_api_token),
            ("TESSERA_METRICS_TOKEN", &settings.metrics_token),
        ] {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose().trim().is_empty())
            {
                return Err(ProviderError::Config(format!(
                    "{name} is set but empty: give it its value, or unset it"
                )));
            }
        }
        match &settings.payments.stripe_secret_key {
            None => Ok(Self::demo()),
            Some(key) => Ok(Self::with_provider(Arc::new(stripe::StripeProvider::new(
                key,
                settings.payments.stripe_api_base.as_deref(),
            )?))),
        }
    }

    /// The provider, unless in demo mode.
    pub fn provider(&self) -> Option<&Arc<dyn PaymentProvider>> {
        self.provider.as_ref()
    }

    /// One line for the start-up log.
    pub fn describe(&self, settings: &Settings) -> String {
        match &self.provider {
            None => "demo mode: no Stripe key configured, orders are paid at once and labelled demo (no money moves)".into(),
            Some(p) if settings.payments.stripe_webhook_secret.is_none() => format!(
                "{} payments, but no webhook secret: payments will not be confirmed until TESSERA_STRIPE_WEBHOOK_SECRET is set",
                p.name()
            ),
            Some(p) => format!(
                "{} payments; unpaid orders expire after {} s",
                p.name(),
                settings.payments.order_ttl_secs
            ),
        }
    }
}

/// Why an order could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// The order itself was refused.
    #[error(transparent)]
    Order(#[from] OrderError),
    /// The provider failed; the order was expired and its capacity released.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The buyer's address or client holds as many unpaid orders as it may.
    #[error("too many unpaid orders: try again in {retry_after_secs} seconds")]
    TooManyHolds {
        /// When a hold frees (`Retry-After`).
        retry_after_secs: u64,
    },
}

impl From<StoreError> for CheckoutError {
    fn from(e: StoreError) -> Self {
        Self::Order(e.into())
    }
}

/// A pending order and where the buyer pays for it.
#[derive(Debug, Clone)]
pub struct Started {
    /// The order and its access token.
    pub placed: Placed,
    /// The hosted payment page.
    pub checkout_url: String,
}

/// Places a pending order holding its capacity and creates its hosted payment page. When the
/// provider fails, the order is expired at once so its capacity is not held for nothing.
///
/// Hoarding is bounded: the checkouts a buyer address and a `client` started within
/// `order_ttl_secs` (so every hold that can still be held) are counted before the order is
/// placed, race-free (`app::attempts`); past `max_holds_per_address` or
/// `max_holds_per_client`, `TooManyHolds`. A checkout that fails is uncounted.
pub async fn start_checkout(
    state: &Services,
    provider: &dyn PaymentProvider,
    request: &OrderRequest,
    client: &Client,
    now: DateTime<Utc>,
) -> Result<Started, CheckoutError> {
    let hold = match attempts::take(
        state,
        Action::Hold,
        Some(&Email::new(&request.email)),
        client,
    )
    .await?
    {
        Ok(hold) => hold,
        Err(retry_after_secs) => return Err(CheckoutError::TooManyHolds { retry_after_secs }),
    };
    let started = place_checkout(state, provider, request, now).await;
    if started.is_err() {
        hold.uncount(state).await?;
    }
    started
}

async fn place_checkout(
    state: &Services,
    provider: &dyn PaymentProvider,
    request: &OrderRequest,
    now: DateTime<Utc>,
) -> Result<Started, CheckoutError> {
    let store = state.store.as_ref();
    let types = store.ticket_types().await?;
    let keys = state.keys.read().await.clone();
    let (mut order, placed) = orders::plan(
        request,
        &types,
        keys.signer(),
        &state.master,
        Payment::Stripe,
        now,
        state.settings.max_quantity,
    )?;
    // Tickets are signed when the payment is confirmed, not now.
    order.tickets.clear();
    let lines = order
        .items
        .iter()
        .map(|item| CheckoutLine {
            name: types
                .iter()
                .find(|t| t.id == item.ticket_type_id)
                .map_or_else(|| "Ticket".to_owned(), |t| t.name.clone()),
            unit_amount_cents: item.unit_price_cents,
            quantity: item.quantity.unsigned_abs(),
        })
        .collect();
    let checkout_url =
        open_checkout(state, provider, &order, &placed.access_token, lines, now).await?;
    Ok(Started {
        placed,
        checkout_url,
    })
}

/// Stores a pending order (taking its capacity) and creates its hosted payment page, which
/// returns to the order page. When the provider fails, the order is expired at once so its
/// capacity is not held for nothing. Used for ticket orders and upgrade orders alike.
pub async fn open_checkout(
    state: &Services,
    provider: &dyn PaymentProvider,
    order: &crate::store::NewOrder,
    access_token: &str,
    lines: Vec<CheckoutLine>,
    now: DateTime<Utc>,
) -> Result<String, CheckoutError> {
    let store = state.store.as_ref();
    let ttl = i64::try_from(state.settings.payments.order_ttl_secs).unwrap_or(1800);
    let expires_at = now.timestamp() + ttl;
    store.place_pending_order(order, expires_at).await?;
    let base = state.settings.public_url();
    let checkout = CheckoutRequest {
        order_id: order.id,
        email: order.email.clone(),
        currency: order.currency.clone(),
        lines,
        success_url: format!("{base}/orders/{}?token={access_token}", order.id),
        cancel_url: format!("{base}/orders/{}?token={access_token}", order.id),
        // Stripe takes 30 minutes to 24 hours; a shorter order TTL is covered by the
        // late-payment path.
        expires_at: now.timestamp() + ttl.clamp(30 * 60, 24 * 3600),
    };
    match provider.create_checkout(&checkout).await {
        Ok(created) => {
            store
                .attach_checkout_session(
                    order.id,
                    &created.session_id,
                    &created.url,
                    now.timestamp(),
                )
                .await?;
            Ok(created.url)
        }
        Err(e) => {
            store.expire_order(order.id, now.timestamp()).await?;
            Err(e.into())
        }
    }
}

/// Acts on a verified event: stores it (deduplicated by id), then finalizes, expires or
/// ignores. Returns the outcome, also stored with the event.
pub async fn handle_event(
    state: &Services,
    event: &Event,
    payload: &str,
) -> Result<String, WebhookError> {
    let store = state.store.as_ref();
    let now = Utc::now();
    let session = event.session();
    let order_id = session.order_id();
    let record = store
        .record_stripe_event(&event.id, &event.kind, order_id, payload, now.timestamp())
        .await?;
    if let crate::store::EventRecord::Handled(outcome) = record {
        return Ok(format!("duplicate_event:{outcome}"));
    }
    let result = act(state, event, now).await;
    match &result {
        Ok(outcome) => {
            store
                .mark_stripe_event(&event.id, outcome, true, now.timestamp())
                .await?;
        }
        Err(e) => {
            // Kept unhandled: a redelivery is judged again.
            store
                .mark_stripe_event(&event.id, e.code(), false, now.timestamp())
                .await?;
        }
    }
    result
}

async fn act(state: &Services, event: &Event, now: DateTime<Utc>) -> Result<String, WebhookError> {
    let session = event.session();
    match event.kind.as_str() {
        "checkout.session.completed" => match session.payment_status.as_deref() {
            Some("paid" | "no_payment_required") => settle(state, event, now).await,
            // Bank debits and vouchers: `async_payment_succeeded` follows.
            _ => {
                check_order(state, event).await?;
                Ok("awaiting_async_payment".into())
            }
        },
        "checkout.session.async_payment_succeeded" => settle(state, event, now).await,
        "checkout.session.expired" | "checkout.session.async_payment_failed" => {
            let order = check_order(state, event).await?;
            let expired = state.store.expire_order(order.id, now.timestamp()).await?;
            Ok(if expired { "expired" } else { "not_pending" }.into())
        }
        _ => Ok("ignored".into()),
    }
}

/// The order an event is about, if the session is the one created for it.
async fn check_order(state: &Services, event: &Event) -> Result<crate::store::Order, WebhookError> {
    let session = event.session();
    let order_id = session.order_id().ok_or(WebhookError::UnknownOrder)?;
    let order = state
        .store
        .order(order_id)
        .await?
        .ok_or(WebhookError::UnknownOrder)?;
    let payment = state
        .store
        .payment(order_id)
        .await?
        .ok_or(WebhookError::UnknownOrder)?;
    if let (Some(ours), Some(theirs)) = (&payment.session_id, &session.id)
        && ours != theirs
    {
        return Err(WebhookError::SessionMismatch);
    }
    Ok(order)
}

async fn settle(
    state: &Services,
    event: &Event,
    now: DateTime<Utc>,
) -> Result<String, WebhookError> {
    let session = event.session();
    let order = check_order(state, event).await?;
    let paid = session.amount_total.unwrap_or(-1);
    let currency = session.currency.clone().unwrap_or_default();
    if paid != order.total_cents || !currency.eq_ignore_ascii_case(&order.currency) {
        return Err(WebhookError::AmountMismatch {
            paid: money(paid, &currency.to_ascii_uppercase()),
            expected: money(order.total_cents, &order.currency),
        });
    }
    let store = state.store.as_ref();
    let items = store.order_items(order.id).await?;
    let types = store.ticket_types().await?;
    let keys = state.keys.read().await.clone();
    let issued_at = u32::try_from(now.timestamp())
        .map_err(|_| WebhookError::Internal("clock out of range".into()))?;
    let (tickets, upgrade);
    let fulfil = match order.upgrade_ticket_id {
        Some(ticket_id) => {
            let to_type = items.first().map(|i| i.ticket_type_id).unwrap_or_default();
            upgrade =
                crate::app::tickets::upgrade_revision(state, &order, ticket_id, to_type, issued_at)
                    .await
                    .map_err(|e| WebhookError::Internal(e.to_string()))?;
            match &upgrade {
                Some(revision) => Fulfil::Upgrade(revision),
                None => {
                    // Read again: a concurrent delivery may have just applied this very
                    // upgrade (order paid and ticket upgraded commit together), which is
                    // why the ticket no longer qualifies. Only an unpaid order is stale.
                    let now_status = store.order(order.id).await?.map(|o| o.status);
                    return match now_status {
                        Some(OrderStatus::Pending | OrderStatus::Expired) => {
                            refund_stale_upgrade(state, &order, &session, now).await
                        }
                        Some(OrderStatus::Refunded) => Ok("already_refunded".into()),
                        _ => Ok("duplicate".into()),
                    };
                }
            }
        }
        None => {
            tickets = orders::issue_tickets(&items, &types, &order.name, keys.signer(), issued_at)
                .map_err(|e| WebhookError::Internal(e.to_string()))?;
            Fulfil::Tickets(&tickets)
        }
    };
    let settled = store
        .settle_order(
            order.id,
            fulfil,
            session.payment_intent.as_deref(),
            now.timestamp(),
            now.timestamp_millis(),
        )
        .await?;
    let outcome = match settled {
        Settled::Issued => "issued",
        Settled::Reissued => "reissued_after_expiry",
        Settled::AlreadyPaid => "duplicate",
        Settled::Refunded => "already_refunded",
        Settled::Stale => return refund_stale_upgrade(state, &order, &session, now).await,
        Settled::NoCapacity => {
            // Paid after expiry and sold out since: the money goes back and the buyer is told.
            let intent = session.payment_intent.clone().ok_or_else(|| {
                WebhookError::Internal("late payment without payment intent".into())
            })?;
            refund_money(
                state,
                &order,
                None,
                order.total_cents,
                "late_payment_sold_out",
                Some(intent),
                format!("tessera-order-{}-late-payment", order.id),
                &[],
                now,
            )
            .await
            .map_err(|e| WebhookError::Internal(e.to_string()))?;
            "refunded_late_payment"
        }
    };
    state.wake.notify_one();
    tracing::info!(order = order.id, outcome, "stripe payment handled");
    Ok(outcome.into())
}

/// An upgrade paid for a ticket that changed meanwhile (transferred, refunded, upgraded
/// otherwise): the money goes back and the holder is told.
async fn refund_stale_upgrade(
    state: &Services,
    order: &crate::store::Order,
    session: &webhook::SessionObject,
    now: DateTime<Utc>,
) -> Result<String, WebhookError> {
    let intent = session
        .payment_intent
        .clone()
        .ok_or_else(|| WebhookError::Internal("upgrade payment without payment intent".into()))?;
    // The pending order's place on the new type goes back before the money does.
    state.store.expire_order(order.id, now.timestamp()).await?;
    refund_money(
        state,
        order,
        None,
        order.total_cents,
        "upgrade_ticket_changed",
        Some(intent),
        format!("tessera-order-{}-stale-upgrade", order.id),
        &[],
        now,
    )
    .await
    .map_err(|e| WebhookError::Internal(e.to_string()))?;
    state.wake.notify_one();
    tracing::info!(
        order = order.id,
        "upgrade refunded: the ticket changed meanwhile"
    );
    Ok("refunded_stale_upgrade".into())
}

/// Why a refund failed. Nothing changed unless the provider accepted it.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such order or ticket.
    #[error("{0} not found")]
    NotFound(String),
    /// The order or ticket is not in a refundable state.
    #[error("{0}")]
    NotRefundable(String),
    /// The provider refused or is unreachable; the refund is recorded as failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RefundOut {
    /// The order.
    pub order_id: i64,
    /// The refund row.
    pub refund_id: i64,
    /// Minor units returned.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Tickets revoked.
    pub revoked_tickets: Vec<i64>,
    /// Stripe's refund id, when money moved through Stripe.
    pub stripe_refund_id: Option<String>,
    /// Upgrade orders of the revoked tickets, refunded with them (their own payments).
    pub upgrade_orders_refunded: Vec<i64>,
}

/// Refunds a paid order, or one of its tickets, through the provider (nothing to move for
/// demo and comp orders), and revokes the tickets: they are voided, which reaches gate
/// devices at their next sync.
pub async fn refund(
    state: &Services,
    order_id: i64,
    ticket_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<RefundOut, RefundError> {
    let store = state.store.as_ref();
    let order = store
        .order(order_id)
        .await?
        .ok_or_else(|| RefundError::NotFound(format!("order {order_id}")))?;
    if order.status != OrderStatus::Paid {
        return Err(RefundError::NotRefundable(format!(
            "order {} is {}, only paid orders can be refunded",
            order_number(order.id),
            order.status
        )));
    }
    if let Some(ticket) = order.upgrade_ticket_id {
        return Err(RefundError::NotRefundable(format!(
            "order {} paid the upgrade of ticket {ticket}: refund the ticket in its own order, \
             which returns the upgrade too",
            order_number(order.id)
        )));
    }
    let tickets = store.order_tickets(order_id).await?;
    let valid: Vec<_> = tickets
        .iter()
        .filter(|t| t.status == TicketStatus::Valid)
        .collect();
    let items = store.order_items(order_id).await?;
    // An upgraded ticket was sold as the type it had before its first upgrade; what the
    // upgrades cost was paid (and is refunded) by their own orders.
    let mut upgrades = std::collections::HashMap::new();
    for t in &tickets {
        let paid = store.paid_upgrades(t.id).await?;
        if !paid.is_empty() {
            upgrades.insert(t.id, paid);
        }
    }
    let price_of_ticket = |t: &crate::store::TicketView| {
        sold_price(
            t,
            &items,
            upgrades.get(&t.id).map_or(&[][..], Vec::as_slice),
        )
    };
    let (revoke, amount): (Vec<i64>, i64) = match ticket_id {
        Some(id) => {
            let t = tickets
                .iter()
                .find(|t| t.id == id)
                .ok_or_else(|| RefundError::NotFound(format!("ticket {id} in order {order_id}")))?;
            if t.status != TicketStatus::Valid {
                return Err(RefundError::NotRefundable(format!(
                    "ticket {id} is {} already",
                    t.status
                )));
            }
            (vec![id], price_of_ticket(t))
        }
        None => (
            valid.iter().map(|t| t.id).collect(),
            valid.iter().map(|t| price_of_ticket(t)).sum(),
        ),
    };
    let amount = refund_amount(order.payment, amount);
    let intent = if order.payment == Payment::Stripe {
        let payment = store.payment(order_id).await?;
        Some(payment.and_then(|p| p.payment_intent).ok_or_else(|| {
            RefundError::NotRefundable("the payment has no payment intent".into())
        })?)
    } else {
        None
    };
    let refunds_before = store.refunds(order_id).await?.len();
    let key = format!("tessera-order-{order_id}-refund-{}", refunds_before + 1);
    let mut out = refund_money(
        state,
        &order,
        ticket_id,
        amount,
        "requested_by_organizer",
        intent,
        key,
        &revoke,
        now,
    )
    .await?;
    // The revoked tickets' upgrades go back too, each through its own payment.
    for id in &revoke {
        for up in upgrades.get(id).into_iter().flatten() {
            let intent = if up.payment == Payment::Stripe {
                store.payment(up.id).await?.and_then(|p| p.payment_intent)
            } else {
                None
            };
            refund_money(
                state,
                up,
                Some(*id),
                up.total_cents,
                "ticket_refunded",
                intent,
                format!("tessera-order-{}-refund-1", up.id),
                &[],
                now,
            )
            .await?;
            out.upgrade_orders_refunded.push(up.id);
        }
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn refund_money(
    state: &Services,
    order: &crate::store::Order,
    ticket_id: Option<i64>,
    amount_cents: i64,
    reason: &str,
    payment_intent: Option<String>,
    idempotency_key: String,
    revoke: &[i64],
    now: DateTime<Utc>,
) -> Result<RefundOut, RefundError> {
    let store = state.store.as_ref();
    let refund_id = store
        .begin_refund(&NewRefund {
            order_id: order.id,
            ticket_id,
            amount_cents,
            currency: order.currency.clone(),
            reason: reason.to_owned(),
            created_at: now.timestamp(),
        })
        .await?;
    let stripe_refund_id = match (&payment_intent, amount_cents > 0) {
        (Some(intent), true) => {
            let provider = state.payments.provider().ok_or_else(|| {
                RefundError::NotRefundable("Stripe is not configured on this server".into())
            })?;
            match provider
                .refund(&RefundRequest {
                    payment_intent: intent.clone(),
                    amount_cents,
                    idempotency_key,
                })
                .await
            {
                Ok(id) => Some(id),
                Err(e) => {
                    store
                        .fail_refund(refund_id, &e.to_string(), now.timestamp())
                        .await?;
                    return Err(e.into());
                }
            }
        }
        _ => None,
    };
    let whole_order = ticket_id.is_none()
        || store
            .order_tickets(order.id)
            .await?
            .iter()
            .all(|t| t.status != TicketStatus::Valid || revoke.contains(&t.id));
    store
        .complete_refund(&RefundDone {
            refund_id,
            stripe_refund_id: stripe_refund_id.as_deref(),
            void_tickets: revoke,
            order_refunded: whole_order,
            notify: Some((&order.email, now.timestamp_millis())),
            now: now.timestamp(),
        })
        .await?;
    state.wake.notify_one();
    tracing::info!(order = order.id, refund = refund_id, reason, "refund done");
    Ok(RefundOut {
        order_id: order.id,
        refund_id,
        amount_cents,
        currency: order.currency.clone(),
        revoked_tickets: revoke.to_vec(),
        stripe_refund_id,
        upgrade_orders_refunded: Vec::new(),
    })
}

/// Expires every pending order whose time ran out; returns how many.
pub async fn expire_overdue(state: &Services, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut n = 0;
    for id in state.store.overdue_orders(now.timestamp()).await? {
        if state.store.expire_order(id, now.timestamp()).await? {
            tracing::info!(order = id, "unpaid order expired, capacity released");
            n += 1;
        }
    }
    Ok(n)
}

/// Runs [`expire_overdue`] every `expiry_sweep_ms` until `stop` turns true.
pub async fn run_expiry(state: Services, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(state.settings.payments.expiry_sweep_ms.max(10));
    loop {
        if let Err(e) = expire_overdue(&state, Utc::now()).await {
            tracing::warn!(error = %e, "expiring unpaid orders failed");
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}
