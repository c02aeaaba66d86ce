//! The HTTP API: routes, request and response types, the OpenAPI document, and the
//! attendee's order endpoints. Handlers are short: extract, call a use-case or the store,
//! map the result.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::app::attempts::Client;
use crate::app::orders::{self, OrderRequest};
use crate::app::{AppError, Services};
use crate::domain::render::{self, order_number};
use crate::http::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::OrderStatus;
use crate::store::{KeyState, Order, Payment, TicketKind, TicketView};

/// `GET /healthz` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Emails waiting in the outbox.
    pub outbox_pending: i64,
    /// Emails sent.
    pub outbox_sent: i64,
    /// Emails given up on.
    pub outbox_dead: i64,
}

/// A ticket type as buyers see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketTypeOut {
    /// Use this as `ticket_type` in an order.
    pub id: i64,
    /// "3-Day Pass".
    pub name: String,
    /// Pass or vendor booth.
    pub kind: TicketKind,
    /// Price in minor units (cents).
    pub price_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Tickets still for sale.
    pub remaining: i64,
    /// The event days (ISO dates) it is valid on.
    pub days: Vec<String>,
    /// Zone mask (bit 0: general admission).
    pub zones: u16,
    /// Whether it can be transferred.
    pub transferable: bool,
    /// Sales paused by the organizer: orders for it are refused (`sales_paused`).
    #[serde(default)]
    pub sales_paused: bool,
}

/// A gate.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GateOut {
    /// "Main Gate".
    pub name: String,
    /// The zones behind it.
    pub zones: u16,
}

/// An event with its ticket types.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventOut {
    /// Event id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Venue.
    pub venue: String,
    /// IANA timezone its days are counted in.
    pub timezone: String,
    /// Its days as ISO dates.
    pub days: Vec<String>,
    /// Its gates.
    pub gates: Vec<GateOut>,
    /// What is for sale.
    pub ticket_types: Vec<TicketTypeOut>,
}

/// `GET /api/v1/events` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsOut {
    /// Every event.
    pub events: Vec<EventOut>,
}

/// A public signing key.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeyOut {
    /// The id tickets carry.
    pub key_id: u16,
    /// Ed25519 public key, hex.
    pub public_key: String,
    /// `active` or `retired`.
    pub status: String,
}

/// `GET /api/v1/keys` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct KeysOut {
    /// Every key, by id.
    pub keys: Vec<KeyOut>,
}

/// One line of an order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItemIn {
    /// A ticket type id from `GET /api/v1/events`.
    #[schema(minimum = 1)]
    pub ticket_type: i64,
    /// How many, 1 to `max_quantity` (20 by default).
    #[schema(minimum = 1, maximum = 20)]
    pub quantity: i64,
}

/// `POST /api/v1/orders` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderIn {
    /// Where the confirmation goes.
    #[schema(schema_with = orders::email_schema)]
    pub email: String,
    /// The buyer's name, printed on the tickets: 1 to 100 characters, no control characters.
    #[schema(schema_with = orders::person_name_schema)]
    pub name: String,
    /// What to buy.
    #[schema(min_items = 1, max_items = 20)]
    pub items: Vec<OrderItemIn>,
}

/// Links to a ticket's printable forms (they need the order's access token).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketLinks {
    /// QR code, PNG.
    pub qr_png: String,
    /// QR code, SVG.
    pub qr_svg: String,
    /// One-page PDF.
    pub pdf: String,
    /// Apple Wallet pass (`.pkpass`).
    pub apple_wallet: String,
    /// "Save to Google Wallet" link (JSON with the URL).
    pub google_wallet: String,
}

/// An issued ticket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketOut {
    /// Ticket id (below 2^53).
    pub id: i64,
    /// The signed QR text.
    pub qr_text: String,
    /// Ticket type id.
    pub ticket_type: i64,
    /// Ticket type name.
    pub ticket_type_name: String,
    /// Pass or vendor booth.
    pub kind: TicketKind,
    /// Holder's name.
    pub holder_name: String,
    /// `valid` or `void`.
    pub status: String,
    /// Event id.
    pub event_id: i64,
    /// The days (ISO dates) it is valid on.
    pub valid_days: Vec<String>,
    /// Printable forms.
    pub links: TicketLinks,
}

/// An order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderOut {
    /// Order id (below 2^53).
    pub id: i64,
    /// The order number as printed: `T-<id>`.
    pub number: String,
    /// `paid` (demo and comp orders are paid at once), `pending` (a Stripe order waiting
    /// for its payment), `expired` (unpaid in time), `refunded`.
    pub status: String,
    /// `demo` (no money moved), `comp` or `stripe`.
    pub payment: String,
    /// True for demo orders: the tickets are not paid for.
    pub demo: bool,
    /// Total in minor units.
    pub total_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Buyer email.
    pub email: String,
    /// Buyer name.
    pub name: String,
    /// The bearer token for this order's endpoints; returned by `POST` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The issued tickets.
    pub tickets: Vec<TicketOut>,
    /// All tickets as one PDF.
    pub tickets_pdf: String,
    /// While the order is `pending`: Stripe's hosted payment page to send the buyer to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// `?token=` alternative to the `Authorization` header (for links in emails).
#[derive(Debug, Default, Deserialize)]
pub struct TokenQuery {
    /// The token.
    pub token: Option<String>,
}

/// A ticket as the API shows it, with links under its order.
pub fn ticket_out(order_id: i64, t: &TicketView) -> TicketOut {
    ticket_out_at(&format!("/api/v1/orders/{order_id}/tickets/{}", t.id), t)
}

/// A ticket with its printable forms' links under `base`.
pub(crate) fn ticket_out_at(base: &str, t: &TicketView) -> TicketOut {
    TicketOut {
        id: t.id,
        qr_text: t.qr_text.clone(),
        ticket_type: t.ticket_type_id,
        ticket_type_name: t.type_name.clone(),
        kind: t.kind,
        holder_name: t.holder_name.clone(),
        status: t.status.to_string(),
        event_id: t.event.id,
        valid_days: tessera_core::DayMask(t.days_mask)
            .days()
            .filter_map(|d| t.event.days.get(d))
            .map(|d| d.to_string())
            .collect(),
        links: TicketLinks {
            qr_png: format!("{base}/qr.png"),
            qr_svg: format!("{base}/qr.svg"),
            pdf: format!("{base}/ticket.pdf"),
            apple_wallet: format!("/api/v1/tickets/{}/wallet/apple", t.id),
            google_wallet: format!("/api/v1/tickets/{}/wallet/google", t.id),
        },
    }
}

/// An order as the API shows it.
pub fn order_out(order: &Order, tickets: &[TicketView], token: Option<String>) -> OrderOut {
    OrderOut {
        id: order.id,
        number: order_number(order.id),
        status: order.status.to_string(),
        payment: order.payment.as_str().to_owned(),
        demo: order.payment == Payment::Demo,
        total_cents: order.total_cents,
        currency: order.currency.clone(),
        email: order.email.clone(),
        name: order.name.clone(),
        access_token: token,
        tickets: tickets.iter().map(|t| ticket_out(order.id, t)).collect(),
        tickets_pdf: format!("/api/v1/orders/{}/tickets.pdf", order.id),
        checkout_url: None,
    }
}

/// Loads an order if the request carries its access token and the link is still open (not
/// revoked, not expired after the event).
pub async fn authorized_order(
    state: &Services,
    headers: &HeaderMap,
    query: &TokenQuery,
    order_id: i64,
) -> Result<Order, AppError> {
    let token = crate::http::auth::bearer(headers)
        .or(query.token.as_deref())
        .ok_or(AppError::Unauthorized)?;
    let order = state
        .store
        .order(order_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("order {order_id}")))?;
    orders::open_with_token(state, &order, token, chrono::Utc::now()).await?;
    Ok(order)
}

/// Liveness and outbox counts.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<Services>) -> Result<Json<Health>, AppError> {
    let counts = state.store.outbox_counts().await?;
    Ok(Json(Health {
        status: "ok".into(),
        backend: state.store.backend().into(),
        outbox_pending: counts.pending,
        outbox_sent: counts.sent,
        outbox_dead: counts.dead,
    }))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::http::sync::SyncApiDoc::openapi());
    doc.merge(crate::http::metrics::OpsApiDoc::openapi());
    doc.merge(crate::http::account_api::AccountApiDoc::openapi());
    doc.merge(crate::http::web::PagesDoc::openapi());
    // Vendors and the organizer console.
    doc.merge(crate::http::vendors::VendorApiDoc::openapi());
    doc.merge(crate::http::console::ConsoleApiDoc::openapi());
    crate::http::error::document_common_errors(&mut doc);
    Json(doc)
}

/// Events with their ticket types, prices and remaining capacity.
#[utoipa::path(get, path = "/api/v1/events", responses((status = 200, body = EventsOut)))]
pub async fn list_events(State(state): State<Services>) -> Result<Json<EventsOut>, AppError> {
    let events = state.store.events().await?;
    let types = state.store.ticket_types().await?;
    let gates = state.store.gates().await?;
    let iso = |days: &[chrono::NaiveDate]| days.iter().map(|d| d.to_string()).collect();
    let events = events
        .into_iter()
        .map(|e| EventOut {
            ticket_types: types
                .iter()
                .filter(|t| t.event_id == e.id)
                .map(|t| TicketTypeOut {
                    id: t.id,
                    name: t.name.clone(),
                    kind: t.kind,
                    price_cents: t.price_cents,
                    currency: t.currency.clone(),
                    remaining: t.remaining(),
                    days: tessera_core::DayMask(t.days_mask)
                        .days()
                        .filter_map(|d| e.days.get(d))
                        .map(|d| d.to_string())
                        .collect(),
                    zones: t.zones,
                    transferable: t.transferable,
                    sales_paused: t.sales_paused,
                })
                .collect(),
            gates: gates
                .iter()
                .filter(|g| g.event_id == e.id)
                .map(|g| GateOut {
                    name: g.name.clone(),
                    zones: g.zones,
                })
                .collect(),
            days: iso(&e.days),
            id: e.id,
            name: e.name,
            venue: e.venue,
            timezone: e.timezone,
        })
        .collect();
    Ok(Json(EventsOut { events }))
}

/// The public keys tickets are signed with.
#[utoipa::path(get, path = "/api/v1/keys", responses((status = 200, body = KeysOut)))]
pub async fn list_keys(State(state): State<Services>) -> Json<KeysOut> {
    let keys = state.keys.read().await.clone();
    Json(KeysOut {
        keys: keys
            .published()
            .iter()
            .map(|k| KeyOut {
                key_id: k.id,
                public_key: hex::encode(k.public_key),
                status: match k.state {
                    KeyState::Active => "active".into(),
                    KeyState::Retired => "retired".into(),
                },
            })
            .collect(),
    })
}

/// Buys tickets. In this version payment is demo: the order is paid at once (labelled
/// `demo`), its tickets are issued and its confirmation email is queued, all in one
/// transaction.
#[utoipa::path(
    post,
    path = "/api/v1/orders",
    request_body = OrderIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "16 to 255 visible ASCII characters: the same key with the same body gives the same order (201 again, the same access token) instead of a second one; with another body, 409")),
    responses(
        (status = 201, body = OrderOut, description = "Paid order with its tickets and access token"),
        (status = 400, body = ErrorBody, description = "Malformed JSON, or a malformed Idempotency-Key"),
        (status = 409, body = ErrorBody, description = "Sold out, or an Idempotency-Key sent with another body"),
        (status = 413, body = ErrorBody, description = "Body too large"),
        (status = 415, body = ErrorBody, description = "Not JSON"),
        (status = 422, body = ErrorBody, description = "Invalid field or unknown ticket type"),
        (status = 429, body = ErrorBody, description = "too_many_holds: this address or client holds as many unpaid orders as it may (card payments)",
            headers(("Retry-After" = u64, description = "Seconds until a hold frees"))),
    )
)]
pub async fn create_order(
    State(state): State<Services>,
    client: Client,
    headers: HeaderMap,
    ApiJson(body): ApiJson<OrderIn>,
) -> Result<(StatusCode, Json<OrderOut>), AppError> {
    let key = orders::idempotency_key("orders", idempotency_header(&headers)?, &body)?;
    let request = OrderRequest {
        email: body.email,
        name: body.name,
        items: body
            .items
            .iter()
            .map(|i| (i.ticket_type, i.quantity))
            .collect(),
        idempotency: key.clone(),
        lang: crate::http::web::choose_language(&headers),
    };
    let id = orders::once(state.store.as_ref(), key.as_ref(), || async {
        Ok(submit_order(&state, &request, &client).await?.0.id)
    })
    .await?;
    created_order(&state, id).await
}

/// The `Idempotency-Key` header, if sent (as text).
pub fn idempotency_header(headers: &HeaderMap) -> Result<Option<&str>, AppError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| AppError::BadRequest("Idempotency-Key must be ASCII".into()))
        })
        .transpose()
}

/// The 201 answer of an order: its tickets and access token, and while it waits for payment
/// its checkout page.
async fn created_order(
    state: &Services,
    id: i64,
) -> Result<(StatusCode, Json<OrderOut>), AppError> {
    let order = state
        .store
        .order(id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("order {id} vanished")))?;
    let token = state.master.order_token(id);
    let out = if order.status == OrderStatus::Pending {
        let mut out = order_out(&order, &[], Some(token));
        out.checkout_url = state.store.payment(id).await?.and_then(|p| p.checkout_url);
        out
    } else {
        let tickets = state.store.order_tickets(id).await?;
        order_out(&order, &tickets, Some(token))
    };
    Ok((StatusCode::CREATED, Json(out)))
}

/// Places an order the way this server takes money: with a card provider, a pending order
/// and the URL of its payment page; in demo mode, a paid order at once (`None`). The pages
/// offer booths through the booth form (`/vendors/booth`), which records the vendor's
/// details; the orders API sells any listed type, as the contract says.
pub async fn submit_order(
    state: &Services,
    request: &OrderRequest,
    client: &Client,
) -> Result<(orders::Placed, Option<String>), AppError> {
    state.storage.ensure_room()?;
    if let Some(provider) = state.payments.provider().cloned() {
        let started = crate::app::payments::start_checkout(
            state,
            provider.as_ref(),
            request,
            client,
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| match e {
            crate::app::payments::CheckoutError::Order(e) => AppError::from(e),
            crate::app::payments::CheckoutError::TooManyHolds { retry_after_secs } => {
                AppError::TooManyHolds { retry_after_secs }
            }
            crate::app::payments::CheckoutError::Provider(e) => {
                tracing::warn!(error = %e, "creating a checkout session failed");
                AppError::PaymentUnavailable
            }
        })?;
        return Ok((started.placed, Some(started.checkout_url)));
    }
    let keys = state.keys.read().await.clone();
    let placed = orders::place(
        state.store.as_ref(),
        keys.signer(),
        &state.master,
        request,
        Payment::Demo,
        chrono::Utc::now(),
        state.settings.max_quantity,
    )
    .await?;
    state.wake.notify_one();
    Ok((placed, None))
}

/// An order and its tickets.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}",
    params(("id" = i64, Path, description = "Order id")),
    security(("access_token" = [])),
    responses(
        (status = 200, body = OrderOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn get_order(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<OrderOut>, AppError> {
    let order = authorized_order(&state, &headers, &query, id).await?;
    let tickets = crate::app::email::held_tickets(&order, state.store.order_tickets(id).await?);
    let mut out = order_out(&order, &tickets, None);
    if order.status == OrderStatus::Pending {
        out.checkout_url = state.store.payment(id).await?.and_then(|p| p.checkout_url);
    }
    Ok(Json(out))
}

async fn order_ticket(
    state: &Services,
    headers: &HeaderMap,
    query: &TokenQuery,
    order_id: i64,
    ticket_id: i64,
) -> Result<(Order, TicketView), AppError> {
    let order = authorized_order(state, headers, query, order_id).await?;
    let ticket =
        crate::app::email::held_tickets(&order, state.store.order_tickets(order_id).await?)
            .into_iter()
            .find(|t| t.id == ticket_id)
            .ok_or_else(|| AppError::NotFound(format!("ticket {ticket_id}")))?;
    Ok((order, ticket))
}

/// Loads a ticket and its order if the request may see the ticket (see
/// [`crate::app::tickets::ticket_access`]): its holder's session, its per-revision link token, or
/// the order's access token (Bearer or `?token=`) while the buyer still holds it. The guard
/// of the per-ticket endpoints (wallet passes).
pub async fn authorize_ticket(
    state: &Services,
    headers: &HeaderMap,
    query: &TokenQuery,
    ticket_id: i64,
) -> Result<(Order, TicketView), AppError> {
    let user = crate::http::auth::current_user(state, headers).await?;
    let bearer = crate::http::auth::bearer(headers).filter(|_| user.is_none());
    let token = query.token.as_deref().or(bearer);
    let ticket = crate::app::tickets::ticket_access(state, user.as_ref(), token, ticket_id).await?;
    let order = state
        .store
        .order(ticket.order_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("order {} vanished", ticket.order_id)))?;
    Ok((order, ticket))
}

/// A ticket's QR code as PNG (ECC level Q, quiet zone).
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/tickets/{ticket_id}/qr.png",
    params(("id" = i64, Path), ("ticket_id" = i64, Path)),
    security(("access_token" = [])),
    responses((status = 200, content_type = "image/png", description = "QR code"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn ticket_qr_png(
    State(state): State<Services>,
    ApiPath((id, ticket_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (_, ticket) = order_ticket(&state, &headers, &query, id, ticket_id).await?;
    let png = render::qr_png(&ticket.qr_text)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// A ticket's QR code as SVG (ECC level Q, quiet zone).
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/tickets/{ticket_id}/qr.svg",
    params(("id" = i64, Path), ("ticket_id" = i64, Path)),
    security(("access_token" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn ticket_qr_svg(
    State(state): State<Services>,
    ApiPath((id, ticket_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (_, ticket) = order_ticket(&state, &headers, &query, id, ticket_id).await?;
    let svg = render::qr_svg(&ticket.qr_text)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// One ticket as a printable PDF page.
#[utoipa::path(
    get,
    operation_id = "order_ticket_pdf",
    path = "/api/v1/orders/{id}/tickets/{ticket_id}/ticket.pdf",
    params(("id" = i64, Path), ("ticket_id" = i64, Path)),
    security(("access_token" = [])),
    responses((status = 200, content_type = "application/pdf", description = "Ticket PDF"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn ticket_pdf(
    State(state): State<Services>,
    ApiPath((id, ticket_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (order, ticket) = order_ticket(&state, &headers, &query, id, ticket_id).await?;
    let pdf = render::tickets_pdf(&order, std::slice::from_ref(&ticket))?;
    Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
}

/// All of an order's tickets as one PDF, a page each.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/tickets.pdf",
    params(("id" = i64, Path)),
    security(("access_token" = [])),
    responses((status = 200, content_type = "application/pdf", description = "Tickets PDF"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn order_pdf(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let order = authorized_order(&state, &headers, &query, id).await?;
    let tickets = crate::app::email::held_tickets(&order, state.store.order_tickets(id).await?);
    let pdf = render::tickets_pdf(&order, &tickets)?;
    Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
}

async fn not_found() -> AppError {
    AppError::NotFound("route".into())
}

async fn method_not_allowed() -> AppError {
    AppError::MethodNotAllowed
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "access_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The order's access_token from POST /api/v1/orders (or ?token=)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An account's token from POST /api/v1/auth/login (the pages' session cookie works too)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ticket_token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "A ticket's link token (from its email or page), or its order's access_token",
            ))),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator's metrics_token (TESSERA_METRICS_TOKEN)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "refund_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The organizer's refund_api_token (TESSERA_REFUND_API_TOKEN)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A gate device's token from POST /api/v1/sync/enroll"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of every endpoint.
#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera sync server", description = "Sales, issuance and device sync API of tessera-server."),
    paths(
        healthz, openapi, list_events, list_keys, create_order, get_order, ticket_qr_png,
        ticket_qr_svg, ticket_pdf, order_pdf,
        crate::http::payments::stripe_webhook, crate::http::payments::refund_order,
        crate::http::wallet::apple_pass, crate::http::wallet::google_link,
        crate::http::wallet::google_save, crate::http::wallet::register,
        crate::http::wallet::unregister, crate::http::wallet::updated_serials,
        crate::http::wallet::latest_pass, crate::http::wallet::device_log
    ),
    components(schemas(
        Health, EventsOut, EventOut, GateOut, TicketTypeOut, TicketKind, KeysOut, KeyOut,
        OrderIn, OrderItemIn, OrderOut, TicketOut, TicketLinks, ErrorBody,
        crate::app::payments::webhook::WebhookOut, crate::http::payments::RefundIn,
        crate::app::payments::RefundOut,
        crate::http::wallet::GoogleSaveOut, crate::http::wallet::RegistrationIn,
        crate::http::wallet::SerialsOut, crate::http::wallet::LogIn
    )),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

/// Every route, with the body limit.
pub fn router(state: Services) -> Router {
    let limit = state.settings.max_body_bytes;
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::http::metrics::readyz))
        .route("/metrics", get(crate::http::metrics::metrics))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/events", get(list_events))
        .route("/api/v1/keys", get(list_keys))
        .route("/api/v1/orders", post(create_order))
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/orders/{id}/tickets.pdf", get(order_pdf))
        .route(
            "/api/v1/orders/{id}/tickets/{ticket_id}/qr.png",
            get(ticket_qr_png),
        )
        .route(
            "/api/v1/orders/{id}/tickets/{ticket_id}/qr.svg",
            get(ticket_qr_svg),
        )
        .route(
            "/api/v1/orders/{id}/tickets/{ticket_id}/ticket.pdf",
            get(ticket_pdf),
        )
        .merge(crate::http::sync::routes())
        .merge(crate::http::gate::routes())
        .merge(crate::http::payments::routes())
        .merge(crate::http::account_api::routes())
        .merge(crate::http::web::routes(state.clone()))
        // Vendors and the organizer console.
        .merge(crate::http::console::routes())
        .merge(crate::http::wallet::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::auth::csrf_cookie,
        ))
        .with_state(state);
    crate::http::metrics::layers(routes)
}
