//! The HTTP API: routes, request and response types, the one error type every handler
//! returns, the OpenAPI document, and the attendee's order page. Handlers are short:
//! extract, call the domain or the store, map the result.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, RwLock};
use utoipa::{OpenApi, ToSchema};

use crate::config::Settings;
use crate::keys::{Keys, MasterKey};
use crate::orders::{self, OrderError, OrderRequest, token_matches};
use crate::render::{self, order_number};
use crate::store::{KeyState, Order, Payment, Store, StoreError, TicketKind, TicketView};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Signing keys; replaced when they are reloaded after a rotation.
    pub keys: Arc<RwLock<Arc<Keys>>>,
    /// Derives order access tokens.
    pub master: Arc<MasterKey>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Wakes the outbox worker when an order queues an email.
    pub wake: Arc<Notify>,
    /// Demo mode or Stripe.
    pub payments: crate::payments::Payments,
    /// Wallet pass credentials.
    pub wallet: Arc<crate::wallet::Wallet>,
}

/// Every API error, as `{"error": code, "message": text}` with the status each variant
/// names. Internal causes are logged, never returned.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON, or a path or query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 422: well-formed but invalid (a field's value, an unknown ticket type).
    #[error("{0}")]
    Invalid(String),
    /// 422: an order names a ticket type that does not exist.
    #[error("{0}")]
    UnknownTicketType(String),
    /// 409: not enough tickets left.
    #[error("{0}")]
    SoldOut(String),
    /// 422: an order names a ticket type whose sales the organizer paused.
    #[error("{0}")]
    SalesPaused(String),
    /// 401: no access token.
    #[error("this endpoint needs the order's access token: Authorization: Bearer <access_token>")]
    Unauthorized,
    /// 403: an access token that is not this order's.
    #[error("the access token does not belong to this order")]
    Forbidden,
    /// 404: no such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 413: the body is larger than `max_body_bytes`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 409: the order or ticket cannot be refunded in its state.
    #[error("{0}")]
    NotRefundable(String),
    /// 502: the payment provider failed; nothing changed.
    #[error("the payment provider is unavailable, please try again")]
    PaymentUnavailable,
    /// 401: this needs a logged-in account (a session cookie or `Authorization: Bearer`).
    #[error("please log in first")]
    LoginRequired,
    /// 401: wrong email or password.
    #[error("wrong email or password")]
    BadCredentials,
    /// 403: the account's role may not do this.
    #[error("this needs the {0} role")]
    RoleRequired(&'static str),
    /// 403: a form post without the right CSRF token (or from another site).
    #[error("the form expired or came from another site: reload the page and try again")]
    Csrf,
    /// 400: an email link that is tampered with, used or expired.
    #[error("this link is invalid, used or expired: ask for a new one")]
    BadLink,
    /// 409: the resource changed meanwhile, or the request conflicts with its state.
    #[error("{0}")]
    Conflict(String),
    /// 409: vendor tickets and passes of non-transferable types stay with their holder.
    #[error("{0}")]
    NotTransferable(String),
    /// 429: too many failed logins for this address lately.
    #[error("too many failed logins: wait 15 minutes or reset your password")]
    TooManyAttempts,
    /// 500: something broke on our side; the cause is in the server log.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::UnknownTicketType(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_ticket_type"),
            Self::SoldOut(_) => (StatusCode::CONFLICT, "sold_out"),
            Self::SalesPaused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "sales_paused"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::NotRefundable(_) => (StatusCode::CONFLICT, "not_refundable"),
            Self::PaymentUnavailable => (StatusCode::BAD_GATEWAY, "payment_unavailable"),
            Self::LoginRequired => (StatusCode::UNAUTHORIZED, "login_required"),
            Self::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Self::RoleRequired(_) => (StatusCode::FORBIDDEN, "role_required"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::BadLink => (StatusCode::BAD_REQUEST, "bad_link"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::NotTransferable(_) => (StatusCode::CONFLICT, "not_transferable"),
            Self::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code: `bad_request`, `invalid`, `unknown_ticket_type`, `sold_out`,
    /// `sales_paused`,
    /// `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`, `payload_too_large`,
    /// `unsupported_media_type`, `not_refundable`, `payment_unavailable`, `login_required`,
    /// `bad_credentials`, `role_required`, `csrf`, `bad_link`, `conflict`, `not_transferable`,
    /// `too_many_attempts`, `internal`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        (
            status,
            Json(ErrorBody {
                error: code.to_owned(),
                message: self.to_string(),
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::Conflict(m),
            e @ StoreError::SoldOut { .. } => Self::SoldOut(e.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<render::RenderError> for ApiError {
    fn from(e: render::RenderError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(m) => Self::Invalid(m),
            e @ OrderError::UnknownTicketType(_) => Self::UnknownTicketType(e.to_string()),
            e @ OrderError::SoldOut { .. } => Self::SoldOut(e.to_string()),
            e @ OrderError::SalesPaused(_) => Self::SalesPaused(e.to_string()),
            OrderError::Store(StoreError::NotFound(what)) => {
                Self::UnknownTicketType(format!("{what} not found"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Invalid(r.body_text()),
            _ => Self::BadRequest(r.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        Self::NotFound("resource".into())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest(r.body_text())
    }
}

/// `axum::Json` whose rejections are [`ApiError`]s.
#[derive(FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Path` whose rejections are 404s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `axum::extract::Query` whose rejections are [`ApiError`]s.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

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
    pub ticket_type: i64,
    /// How many, 1 to `max_quantity` (20 by default).
    pub quantity: i64,
}

/// `POST /api/v1/orders` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderIn {
    /// Where the confirmation goes.
    pub email: String,
    /// The buyer's name, printed on the tickets.
    pub name: String,
    /// What to buy.
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
        status: t.status.clone(),
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
        status: order.status.clone(),
        payment: order.payment.clone(),
        demo: order.payment == "demo",
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

/// Loads an order if the request carries its access token.
pub async fn authorized_order(
    state: &AppState,
    headers: &HeaderMap,
    query: &TokenQuery,
    order_id: i64,
) -> Result<Order, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let token = bearer
        .or(query.token.as_deref())
        .ok_or(ApiError::Unauthorized)?;
    let order = state
        .store
        .order(order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order {order_id}")))?;
    if !token_matches(token, &order.token_hash) {
        return Err(ApiError::Forbidden);
    }
    Ok(order)
}

/// Liveness and outbox counts.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
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
    doc.merge(crate::sync::SyncApiDoc::openapi());
    doc.merge(crate::metrics::OpsApiDoc::openapi());
    doc.merge(crate::account_api::AccountApiDoc::openapi());
    doc.merge(crate::web::PagesDoc::openapi());
    // Vendors and the organizer console (issue 9).
    doc.merge(crate::vendors::VendorApiDoc::openapi());
    doc.merge(crate::console::ConsoleApiDoc::openapi());
    Json(doc)
}

/// Events with their ticket types, prices and remaining capacity.
#[utoipa::path(get, path = "/api/v1/events", responses((status = 200, body = EventsOut)))]
pub async fn list_events(State(state): State<AppState>) -> Result<Json<EventsOut>, ApiError> {
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
pub async fn list_keys(State(state): State<AppState>) -> Json<KeysOut> {
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
    responses(
        (status = 201, body = OrderOut, description = "Paid order with its tickets and access token"),
        (status = 400, body = ErrorBody, description = "Malformed JSON"),
        (status = 409, body = ErrorBody, description = "Sold out"),
        (status = 413, body = ErrorBody, description = "Body too large"),
        (status = 415, body = ErrorBody, description = "Not JSON"),
        (status = 422, body = ErrorBody, description = "Invalid field or unknown ticket type"),
    )
)]
pub async fn create_order(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<OrderIn>,
) -> Result<(StatusCode, Json<OrderOut>), ApiError> {
    let request = OrderRequest {
        email: body.email,
        name: body.name,
        items: body
            .items
            .iter()
            .map(|i| (i.ticket_type, i.quantity))
            .collect(),
    };
    let (placed, checkout_url) = submit_order(&state, &request).await?;
    if let Some(url) = checkout_url {
        let order = state
            .store
            .order(placed.id)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("order {} vanished", placed.id)))?;
        let mut out = order_out(&order, &[], Some(placed.access_token));
        out.checkout_url = Some(url);
        return Ok((StatusCode::CREATED, Json(out)));
    }
    let order = state
        .store
        .order(placed.id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("order {} vanished", placed.id)))?;
    let tickets = state.store.order_tickets(placed.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(order_out(&order, &tickets, Some(placed.access_token))),
    ))
}

/// Places an order the way this server takes money: with a card provider, a pending order
/// and the URL of its payment page; in demo mode, a paid order at once (`None`). The pages
/// offer booths through the booth form (`/vendors/booth`), which records the vendor's
/// details; the orders API sells any listed type, as the contract says.
pub async fn submit_order(
    state: &AppState,
    request: &OrderRequest,
) -> Result<(orders::Placed, Option<String>), ApiError> {
    if let Some(provider) = state.payments.provider().cloned() {
        let started =
            crate::payments::start_checkout(state, provider.as_ref(), request, chrono::Utc::now())
                .await
                .map_err(|e| match e {
                    crate::payments::CheckoutError::Order(e) => ApiError::from(e),
                    crate::payments::CheckoutError::Provider(e) => {
                        tracing::warn!(error = %e, "creating a checkout session failed");
                        ApiError::PaymentUnavailable
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
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<OrderOut>, ApiError> {
    let order = authorized_order(&state, &headers, &query, id).await?;
    let tickets = crate::email::held_tickets(&order, state.store.order_tickets(id).await?);
    let mut out = order_out(&order, &tickets, None);
    if order.status == "pending" {
        out.checkout_url = state.store.payment(id).await?.and_then(|p| p.checkout_url);
    }
    Ok(Json(out))
}

async fn order_ticket(
    state: &AppState,
    headers: &HeaderMap,
    query: &TokenQuery,
    order_id: i64,
    ticket_id: i64,
) -> Result<(Order, TicketView), ApiError> {
    let order = authorized_order(state, headers, query, order_id).await?;
    let ticket = crate::email::held_tickets(&order, state.store.order_tickets(order_id).await?)
        .into_iter()
        .find(|t| t.id == ticket_id)
        .ok_or_else(|| ApiError::NotFound(format!("ticket {ticket_id}")))?;
    Ok((order, ticket))
}

/// Loads a ticket and its order if the request may see the ticket (see
/// [`crate::tickets::ticket_access`]): its holder's session, its per-revision link token, or
/// the order's access token (Bearer or `?token=`) while the buyer still holds it. The guard
/// of the per-ticket endpoints (wallet passes).
pub async fn authorize_ticket(
    state: &AppState,
    headers: &HeaderMap,
    query: &TokenQuery,
    ticket_id: i64,
) -> Result<(Order, TicketView), ApiError> {
    let user = crate::auth::current_user(state, headers).await?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|_| user.is_none());
    let token = query.token.as_deref().or(bearer);
    let ticket = crate::tickets::ticket_access(state, user.as_ref(), token, ticket_id).await?;
    let order = state
        .store
        .order(ticket.order_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("order {} vanished", ticket.order_id)))?;
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
    State(state): State<AppState>,
    ApiPath((id, ticket_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
    State(state): State<AppState>,
    ApiPath((id, ticket_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, ticket) = order_ticket(&state, &headers, &query, id, ticket_id).await?;
    let svg = render::qr_svg(&ticket.qr_text)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// One ticket as a printable PDF page.
#[utoipa::path(
    get,
    path = "/api/v1/orders/{id}/tickets/{ticket_id}/ticket.pdf",
    params(("id" = i64, Path), ("ticket_id" = i64, Path)),
    security(("access_token" = [])),
    responses((status = 200, content_type = "application/pdf", description = "Ticket PDF"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn ticket_pdf(
    State(state): State<AppState>,
    ApiPath((id, ticket_id)): ApiPath<(i64, i64)>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
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
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let order = authorized_order(&state, &headers, &query, id).await?;
    let tickets = crate::email::held_tickets(&order, state.store.order_tickets(id).await?);
    let pdf = render::tickets_pdf(&order, &tickets)?;
    Ok(([(header::CONTENT_TYPE, "application/pdf")], pdf).into_response())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
        crate::payments::webhook::stripe_webhook, crate::payments::refund_order,
        crate::wallet::web::apple_pass, crate::wallet::web::google_link,
        crate::wallet::web::google_save, crate::wallet::web::register,
        crate::wallet::web::unregister, crate::wallet::web::updated_serials,
        crate::wallet::web::latest_pass, crate::wallet::web::device_log
    ),
    components(schemas(
        Health, EventsOut, EventOut, GateOut, TicketTypeOut, TicketKind, KeysOut, KeyOut,
        OrderIn, OrderItemIn, OrderOut, TicketOut, TicketLinks, ErrorBody,
        crate::payments::webhook::WebhookOut, crate::payments::RefundIn,
        crate::payments::RefundOut,
        crate::wallet::web::GoogleSaveOut, crate::wallet::web::RegistrationIn,
        crate::wallet::web::SerialsOut, crate::wallet::web::LogIn
    )),
    modifiers(&SecurityAddon)
)]
pub struct ApiDoc;

/// Every route, with the body limit.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_body_bytes;
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(crate::metrics::readyz))
        .route("/metrics", get(crate::metrics::metrics))
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
        .merge(crate::sync::routes())
        .merge(crate::payments::routes())
        .merge(crate::account_api::routes())
        .merge(crate::web::routes())
        // Vendors and the organizer console (issue 9).
        .merge(crate::console::routes())
        .merge(crate::wallet::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::csrf_cookie,
        ))
        .with_state(state);
    crate::metrics::layers(routes)
}
