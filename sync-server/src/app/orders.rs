//! Orders: validating what a buyer asks for, pricing it (`domain::pricing`), signing its
//! tickets and handing the whole paid order to the store in one transaction. Owns the order
//! and ticket id scheme and the access token; capacity is enforced by the store inside that
//! transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tessera_core::{
    Claims, DayMask, EventId, Revision, TicketId, TicketSigner, TicketTypeId, ZoneMask,
};

use crate::app::AppError;
use crate::app::keys::{KeyError, MasterKey, random_bytes};
use crate::domain::catalog::event_ends_at;
use crate::domain::i18n::Lang;
use crate::domain::pricing::{Priced, PricingError, price_order};
use crate::store::{
    IdempotencyKey, NewItem, NewOrder, NewTicket, Order, Payment, Store, StoreError, TicketType,
};

/// Ids are random and below 2^53, so they are exact as JSON numbers in every client and
/// reveal nothing about sales volume.
pub const MAX_ID: u64 = 1 << 53;

/// What a buyer asks for.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    /// Buyer email.
    pub email: String,
    /// Buyer name (printed on the tickets).
    pub name: String,
    /// `(ticket type id, quantity)` lines.
    pub items: Vec<(i64, i64)>,
    /// The client's `Idempotency-Key`, if it sent one.
    pub idempotency: Option<IdempotencyKey>,
    /// The language of the request (its emails, PDF and wallet labels are written in it).
    pub lang: Lang,
}

/// Why an order was refused. Nothing is stored when an order is refused.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The request is invalid; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A ticket type id that does not exist.
    #[error("no ticket type with id {0}")]
    UnknownTicketType(i64),
    /// An organizer paused sales of this ticket type.
    #[error("sales of {0:?} are paused by the organizer")]
    SalesPaused(String),
    /// Not enough left.
    #[error("only {remaining} tickets of type {ticket_type} are left")]
    SoldOut {
        /// The ticket type.
        ticket_type: i64,
        /// How many are left.
        remaining: i64,
    },
    /// Randomness or keys failed.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for OrderError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::SoldOut {
                ticket_type,
                remaining,
            } => Self::SoldOut {
                ticket_type,
                remaining,
            },
            other => Self::Store(other),
        }
    }
}

impl From<PricingError> for OrderError {
    fn from(e: PricingError) -> Self {
        match e {
            PricingError::UnknownTicketType(id) => Self::UnknownTicketType(id),
            PricingError::SalesPaused(name) => Self::SalesPaused(name),
            e @ PricingError::MixedCurrency => Self::Invalid(e.to_string()),
        }
    }
}

/// A placed order: its id and the access token the buyer gets once (only its hash is kept).
#[derive(Debug, Clone)]
pub struct Placed {
    /// Order id.
    pub id: i64,
    /// Bearer token for the order's endpoints.
    pub access_token: String,
}

/// A random id in `[1, 2^53)`.
pub fn random_id() -> Result<i64, KeyError> {
    loop {
        let mut bytes = [0u8; 8];
        random_bytes(&mut bytes)?;
        let id = u64::from_le_bytes(bytes) % MAX_ID;
        if id != 0 {
            return i64::try_from(id).map_err(|_| KeyError::Random("id out of range".into()));
        }
    }
}

/// SHA-256 of an access token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Whether `token` is the one whose hash is stored. Comparing hashes leaks nothing useful
/// through timing: an attacker cannot steer the hash of their guess.
pub fn token_matches(token: &str, stored_hash: &[u8]) -> bool {
    token_hash(token) == stored_hash
}

/// Whether `token` opens `order` now: it must be the order's access token (`Forbidden`
/// otherwise), not revoked by an organizer, and the order's events must have ended no more
/// than `order_link_days_after_event` days ago (`LinkClosed` for both). The link sits in an
/// email and in browser histories; it should not open a buyer's tickets and name for ever.
pub async fn open_with_token(
    state: &crate::app::Services,
    order: &Order,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if !token_matches(token, &order.token_hash) {
        return Err(AppError::Forbidden);
    }
    if order.token_revoked_at.is_some() {
        return Err(AppError::LinkClosed(
            "this order link was revoked by the organizer: log in to your account to see your \
             tickets, or ask the organizer to send them again",
        ));
    }
    let events = state.store.order_events(order.id).await?;
    let days = i64::from(state.settings.order_link_days_after_event);
    if let Some(ends) = events.iter().filter_map(event_ends_at).max()
        && now > ends + chrono::Duration::days(days)
    {
        return Err(AppError::LinkClosed(
            "the event is over and this order link has expired: log in to your account to see \
             your tickets",
        ));
    }
    Ok(())
}

/// Revokes an order's access token (a leaked confirmation link): from now on it opens
/// nothing. The buyer keeps the tickets, in the account of the address and in the email's
/// attachments.
pub async fn revoke_link(
    state: &crate::app::Services,
    order_id: i64,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if state.store.order(order_id).await?.is_none() {
        return Err(AppError::NotFound(format!("order {order_id}")));
    }
    if state
        .store
        .revoke_order_token(order_id, now.timestamp())
        .await?
    {
        tracing::info!(order_id, "order link revoked");
    }
    Ok(())
}

/// Reads an `Idempotency-Key` header for `scope`, bound to the request it came with (as the
/// endpoint parsed it). Keys are 16 to 255 visible ASCII characters: a UUID, say, long
/// enough that nobody guesses another buyer's.
pub fn idempotency_key(
    scope: &'static str,
    header: Option<&str>,
    request: &impl serde::Serialize,
) -> Result<Option<IdempotencyKey>, AppError> {
    let Some(key) = header else {
        return Ok(None);
    };
    if !(16..=255).contains(&key.len()) || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::BadRequest(
            "Idempotency-Key must be 16 to 255 visible ASCII characters (a UUID, say)".into(),
        ));
    }
    let body = serde_json::to_vec(request).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(Some(IdempotencyKey {
        scope,
        key: key.to_owned(),
        request_hash: Sha256::digest(&body).to_vec(),
    }))
}

/// The order an earlier request with this key made: the same request gets it back; another
/// request under the same key is refused.
pub async fn replayed(store: &dyn Store, key: &IdempotencyKey) -> Result<Option<i64>, AppError> {
    match store.idempotent_order(key.scope, &key.key).await? {
        None => Ok(None),
        Some((order, hash)) if hash == key.request_hash => Ok(Some(order)),
        Some(_) => Err(AppError::Conflict(
            "this Idempotency-Key was sent with a different request: use a new key for a new order"
                .into(),
        )),
    }
}

/// Makes an order at most once per `Idempotency-Key`: the order an earlier copy of the
/// request made, else the one `place` makes now; when a copy racing this one commits first
/// (`place` fails with [`AppError::Replayed`]), its order.
pub async fn once<F, Fut>(
    store: &dyn Store,
    key: Option<&IdempotencyKey>,
    place: F,
) -> Result<i64, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<i64, AppError>>,
{
    if let Some(key) = key
        && let Some(id) = replayed(store, key).await?
    {
        return Ok(id);
    }
    match (place().await, key) {
        (Err(AppError::Replayed), Some(key)) => replayed(store, key)
            .await?
            .ok_or_else(|| AppError::Internal("a replayed key names no order".into())),
        (result, _) => result,
    }
}

/// Checks a person's address and name as an order does.
pub fn validate_contact(email: &str, name: &str) -> Result<(), OrderError> {
    validate_email(email)?;
    validate_name(name)
}

fn validate_email(email: &str) -> Result<(), OrderError> {
    let ok = (3..=254).contains(&email.len())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
               && !domain.starts_with('.') && !domain.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(OrderError::Invalid(
            "email must be an address like name@example.com".into(),
        ))
    }
}

fn validate_name(name: &str) -> Result<(), OrderError> {
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(OrderError::Invalid(
            "name must be 1 to 100 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// What [`validate_email`] accepts, as a JSON Schema pattern: no whitespace or control
/// characters, one `@`, a dot in the domain, which neither starts nor ends with one.
const EMAIL_PATTERN: &str = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@.\s\x00-\x1f\x7f-\x9f][^@\s\x00-\x1f\x7f-\x9f]*\.[^@\s\x00-\x1f\x7f-\x9f]*[^@.\s\x00-\x1f\x7f-\x9f]$";

/// What [`validate_name`] accepts (and the booth form's one-line fields): no control
/// characters, something besides spaces.
const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// The schema of an address the API takes (the API document's input limits).
pub fn email_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .min_length(Some(3))
        .max_length(Some(254))
        .pattern(Some(EMAIL_PATTERN))
        .description(Some("An email address like name@example.com"))
        .build()
}

/// The schema of a one-line name of 1 to `max` characters.
pub fn name_schema(max: usize) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(NAME_PATTERN))
        .build()
}

/// A person's name: 1 to 100 characters.
pub fn person_name_schema() -> utoipa::openapi::Object {
    name_schema(100)
}

/// Signs the tickets of an order's lines for `holder_name`: one per unit, random ids,
/// revision 0. Used when an order is placed paid, and when a pending order is paid.
pub fn issue_tickets(
    items: &[NewItem],
    types: &[TicketType],
    holder_name: &str,
    signer: &TicketSigner,
    issued_at: u32,
) -> Result<Vec<NewTicket>, OrderError> {
    let mut tickets = Vec::new();
    for item in items {
        let tt = types
            .iter()
            .find(|t| t.id == item.ticket_type_id)
            .ok_or(OrderError::UnknownTicketType(item.ticket_type_id))?;
        let event = u32::try_from(tt.event_id)
            .map_err(|_| StoreError::Corrupt(format!("event id {}", tt.event_id)))?;
        let type_u16 = u16::try_from(tt.id)
            .map_err(|_| StoreError::Corrupt(format!("ticket type id {}", tt.id)))?;
        for _ in 0..item.quantity {
            let id = random_id()?;
            let claims = Claims {
                event: EventId(event),
                ticket: TicketId(id.unsigned_abs()),
                ticket_type: TicketTypeId(type_u16),
                revision: Revision(0),
                days: DayMask(tt.days_mask),
                zones: ZoneMask(tt.zones),
                booth: None,
                issued_at,
            };
            tickets.push(NewTicket {
                id,
                event_id: tt.event_id,
                ticket_type_id: tt.id,
                revision: 0,
                holder_name: holder_name.to_owned(),
                days_mask: tt.days_mask,
                zones: tt.zones,
                booth: None,
                key_id: i64::from(signer.id().0),
                issued_at: i64::from(issued_at),
                qr_text: signer.sign(&claims),
            });
        }
    }
    Ok(tickets)
}

/// Validates and prices a request and signs its tickets: everything but the storing. The
/// order's tickets are those of a paid order; this version has no unpaid state because
/// payment is demo or comp, both settled at once.
pub fn plan(
    request: &OrderRequest,
    types: &[TicketType],
    signer: &TicketSigner,
    master: &MasterKey,
    payment: Payment,
    now: DateTime<Utc>,
    max_quantity: u32,
) -> Result<(NewOrder, Placed), OrderError> {
    let email = request.email.trim().to_owned();
    let name = request.name.trim().to_owned();
    validate_email(&email)?;
    validate_name(&name)?;
    let max = i64::from(max_quantity);
    if request.items.is_empty() {
        return Err(OrderError::Invalid("items must not be empty".into()));
    }
    if request.items.len() > max_quantity as usize {
        return Err(OrderError::Invalid(format!(
            "at most {max_quantity} items per order"
        )));
    }
    let mut lines: BTreeMap<i64, i64> = BTreeMap::new();
    for &(ticket_type, quantity) in &request.items {
        if quantity < 1 || quantity > max {
            return Err(OrderError::Invalid(format!(
                "quantity must be between 1 and {max}, got {quantity}"
            )));
        }
        *lines.entry(ticket_type).or_default() += quantity;
    }
    let total_tickets: i64 = lines.values().sum();
    if total_tickets > max {
        return Err(OrderError::Invalid(format!(
            "at most {max} tickets per order, got {total_tickets}"
        )));
    }
    let issued_at = u32::try_from(now.timestamp())
        .map_err(|_| OrderError::Invalid("clock out of range".into()))?;
    let Priced {
        items,
        total_cents,
        currency,
    } = price_order(&lines, types, payment)?;
    let tickets = issue_tickets(&items, types, &name, signer, issued_at)?;
    let id = random_id()?;
    let access_token = master.order_token(id);
    let order = NewOrder {
        id,
        email,
        name,
        payment,
        total_cents,
        currency,
        token_hash: token_hash(&access_token),
        created_at: now.timestamp(),
        items,
        tickets,
        email_due_ms: now.timestamp_millis(),
        upgrade_ticket_id: None,
        upgrade_from_type: None,
        idempotency: request.idempotency.clone(),
        lang: request.lang.code().to_owned(),
    };
    Ok((order, Placed { id, access_token }))
}

/// Plans and stores an order. The store takes capacity, inserts the order, its tickets and
/// its confirmation email atomically, so tickets are issued exactly once per order.
pub async fn place(
    store: &dyn Store,
    signer: &TicketSigner,
    master: &MasterKey,
    request: &OrderRequest,
    payment: Payment,
    now: DateTime<Utc>,
    max_quantity: u32,
) -> Result<Placed, OrderError> {
    let types = store.ticket_types().await?;
    let (order, placed) = plan(request, &types, signer, master, payment, now, max_quantity)?;
    store.place_order(&order).await?;
    Ok(placed)
}

/// Issues complimentary tickets (also of paused types): a paid order at no charge with its
/// signed tickets and confirmation email, as the console, the organizer's pages and the CLI
/// all issue them; wakes the outbox worker.
pub async fn comp(
    services: &crate::app::Services,
    request: &OrderRequest,
    max_quantity: u32,
    now: DateTime<Utc>,
) -> Result<Placed, OrderError> {
    let keys = services.keys.read().await.clone();
    let placed = place(
        services.store.as_ref(),
        keys.signer(),
        &services.master,
        request,
        Payment::Comp,
        now,
        max_quantity,
    )
    .await?;
    services.wake.notify_one();
    Ok(placed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TicketKind;
    use tessera_core::{KeyId, KeyStatus, Keyring};

    fn types() -> Vec<TicketType> {
        vec![TicketType {
            id: 1,
            event_id: 1,
            name: "3-Day Pass".into(),
            kind: TicketKind::Pass,
            price_cents: 3500,
            currency: "USD".into(),
            capacity: 10,
            sold: 0,
            days_mask: 0b111,
            zones: 1,
            transferable: true,
            sales_paused: false,
        }]
    }

    fn master() -> MasterKey {
        MasterKey::load(&crate::config::Settings {
            master_key: Some(crate::config::Secret::new("42".repeat(32))),
            ..Default::default()
        })
        .unwrap()
    }

    fn request(items: Vec<(i64, i64)>) -> OrderRequest {
        OrderRequest {
            email: "ada@example.com".into(),
            name: "Ada".into(),
            items,
            idempotency: None,
            lang: Lang::En,
        }
    }

    #[test]
    fn plan_prices_and_signs_verifiable_tickets() {
        let signer = TicketSigner::from_seed(KeyId(1), &[9; 32]);
        let (order, placed) = plan(
            &request(vec![(1, 2), (1, 1)]),
            &types(),
            &signer,
            &master(),
            Payment::Demo,
            Utc::now(),
            20,
        )
        .unwrap();
        assert_eq!(order.total_cents, 3 * 3500);
        assert_eq!(order.tickets.len(), 3);
        assert_eq!(order.items.len(), 1);
        assert!(token_matches(&placed.access_token, &order.token_hash));
        let mut ring = Keyring::new();
        ring.insert(KeyId(1), &signer.public_key(), KeyStatus::Active)
            .unwrap();
        for t in &order.tickets {
            assert!((1..MAX_ID as i64).contains(&t.id));
            let v = tessera_core::verify(&t.qr_text, &ring).unwrap();
            assert_eq!(v.claims().ticket.0, t.id as u64);
        }
    }

    #[test]
    fn plan_refuses_bad_requests() {
        let signer = TicketSigner::from_seed(KeyId(1), &[9; 32]);
        for (req, what) in [
            (request(vec![]), "items"),
            (request(vec![(1, 0)]), "quantity"),
            (request(vec![(1, -3)]), "quantity"),
            (request(vec![(1, 21)]), "quantity"),
            (request(vec![(1, 15), (1, 15)]), "tickets per order"),
            (request(vec![(7, 1)]), "no ticket type"),
            (
                OrderRequest {
                    email: "not-an-email".into(),
                    ..request(vec![(1, 1)])
                },
                "email",
            ),
            (
                OrderRequest {
                    name: " ".into(),
                    ..request(vec![(1, 1)])
                },
                "name",
            ),
        ] {
            let err = plan(
                &req,
                &types(),
                &signer,
                &master(),
                Payment::Demo,
                Utc::now(),
                20,
            )
            .unwrap_err();
            assert!(err.to_string().contains(what), "{what}: {err}");
        }
    }
}
