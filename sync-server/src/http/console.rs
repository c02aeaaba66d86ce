//! The organizer console's API: ticket types (create, edit before sales, pause), orders and
//! tickets (search, void, comp, resend, revoking an order's link), gate devices (enrollment codes with their QR,
//! the list, revocation, doors-open readiness), live gate counts, CSV exports and signing key
//! rotation and retirement. Every route takes an [`Organizer`].
//!
//! The figures are plain functions over store rows in `domain::console` (readiness, live
//! counts, CSV), read by `app::console`; vendor booths' console routes are `http::vendors`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::catalog;
use crate::app::catalog::event_id;
use crate::app::console::{export, live_of, readiness_of, rotate};
use crate::app::orders::{self, OrderRequest};
use crate::app::{AppError, Services};
use crate::domain::console::{ConflictOut, Count, DeviceStatus, LiveOut, ReadinessOut};
use crate::http::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::{NewTicketType, TicketKind};

/// An organizer's request (`crate::app::accounts`): 401 without a session or bearer token, 403 for
/// any other role. Every console route takes one.
pub use crate::http::auth::Organizer;

// ----- readiness --------------------------------------------------------------------------

/// `?event_id=&within_minutes=`.
#[derive(Debug, Deserialize)]
pub struct ReadinessQuery {
    /// The event (default: the current one).
    pub event_id: Option<i64>,
    /// How recent a sync counts as current (default 15).
    pub within_minutes: Option<i64>,
}

/// Gate devices with doors-open readiness: which are current (synced within the window,
/// replica at the server's head, clock right) and what is wrong with the others.
#[utoipa::path(
    get,
    path = "/api/v1/console/devices",
    params(("event_id" = Option<i64>, Query, description = "the event (default: the current one, whose last day is nearest today or later)"), ("within_minutes" = Option<i64>, Query, description = "how recent a sync counts as current (default 15)")),
    security(("bearer" = [])),
    responses((status = 200, body = ReadinessOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn devices(
    _: Organizer,
    State(state): State<Services>,
    ApiQuery(q): ApiQuery<ReadinessQuery>,
) -> Result<Json<ReadinessOut>, AppError> {
    Ok(Json(
        readiness_of(&state, q.event_id, q.within_minutes, Utc::now()).await?,
    ))
}

/// `POST /api/v1/console/devices/codes` body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCodeIn {
    /// The device's name as staff know it ("Tablet-3").
    pub name: String,
    /// The gate it will scan at (one of the event's gates).
    #[serde(default)]
    pub gate: Option<String>,
    /// The event (default: the current one).
    #[serde(default)]
    pub event_id: Option<i64>,
    /// Hours until the code expires (default 24, at most 168).
    #[serde(default)]
    pub ttl_hours: Option<i64>,
}

/// A one-time enrollment code.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct DeviceCodeOut {
    /// The code as staff type it (`XXXX-XXXX-XXXX`); shown once.
    pub code: String,
    /// The enrollment link the QR code holds.
    pub enroll_url: String,
    /// The QR code of the link, SVG.
    pub qr_svg: String,
    /// The same QR code as an SVG image link.
    pub qr_svg_url: String,
    /// The same QR code as a PNG image link (for printing).
    pub qr_png_url: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A QR code (SVG) of an enrollment link, at medium error correction.
pub fn enroll_qr_svg(link: &str) -> Result<String, AppError> {
    let qr = qrcode::QrCode::with_error_correction_level(link.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// Creates a one-time enrollment code for a device, with its QR code.
#[utoipa::path(
    post,
    path = "/api/v1/console/devices/codes",
    request_body = DeviceCodeIn,
    security(("bearer" = [])),
    responses(
        (status = 201, body = DeviceCodeOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid name, unknown gate"),
    )
)]
pub async fn create_device_code(
    _: Organizer,
    State(state): State<Services>,
    ApiJson(body): ApiJson<DeviceCodeIn>,
) -> Result<(StatusCode, Json<DeviceCodeOut>), AppError> {
    Ok((
        StatusCode::CREATED,
        Json(new_device_code(&state, body).await?),
    ))
}

/// Creates a one-time enrollment code for a device with its QR code (the API and the
/// devices page).
pub async fn new_device_code(
    state: &Services,
    body: DeviceCodeIn,
) -> Result<DeviceCodeOut, AppError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(AppError::Invalid(
            "name must be 1 to 64 characters without control characters".into(),
        ));
    }
    let event_id = event_id(state.store.as_ref(), body.event_id, Utc::now()).await?;
    let gate = body
        .gate
        .as_deref()
        .map(str::trim)
        .filter(|g| !g.is_empty());
    if let Some(g) = gate {
        let gates = state.store.gates().await?;
        if !gates.iter().any(|r| r.event_id == event_id && r.name == g) {
            return Err(AppError::Invalid(format!(
                "gate {g:?} is not a gate of the event"
            )));
        }
    }
    let ttl = body.ttl_hours.unwrap_or(24).clamp(1, 168);
    let now = Utc::now();
    let code = crate::app::devices::create_device_code(
        state,
        event_id,
        name,
        gate,
        chrono::Duration::hours(ttl),
        now,
    )
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let enroll_url = format!("{}/enroll?code={code}", state.settings.public_url());
    Ok(DeviceCodeOut {
        qr_svg: enroll_qr_svg(&enroll_url)?,
        qr_svg_url: format!("/api/v1/console/devices/codes/{code}/qr.svg"),
        qr_png_url: format!("/api/v1/console/devices/codes/{code}/qr.png"),
        enroll_url,
        code,
        expires_at: now.timestamp() + ttl * 3600,
    })
}

/// The enrollment link of a typed code, spelled out only with the characters a code has.
fn enroll_link(state: &Services, code: &str) -> String {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(20)
        .collect();
    format!("{}/enroll?code={code}", state.settings.public_url())
}

/// The QR code (SVG) of an enrollment link for `code` (the code is not checked: the image
/// only spells out what the caller already has).
#[utoipa::path(
    get,
    path = "/api/v1/console/devices/codes/{code}/qr.svg",
    params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn device_code_qr(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, AppError> {
    let svg = enroll_qr_svg(&enroll_link(&state, &code))?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// The same QR code as a PNG (8 pixels a module, quiet zone), for printing.
#[utoipa::path(
    get,
    path = "/api/v1/console/devices/codes/{code}/qr.png",
    params(("code" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, content_type = "image/png", description = "QR code"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn device_code_qr_png(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, AppError> {
    let png = crate::domain::render::qr_png(&enroll_link(&state, &code))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// Revokes a device: its token stops working at once; its check-ins stay.
#[utoipa::path(
    post,
    path = "/api/v1/console/devices/{id}/revoke",
    params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn revoke_device(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    if state
        .store
        .revoke_device(&id, Utc::now().timestamp())
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("device {id}")))
    }
}

// ----- live gates -------------------------------------------------------------------------

/// `?event_id=`.
#[derive(Debug, Deserialize)]
pub struct EventQuery {
    /// The event (default: the current one).
    pub event_id: Option<i64>,
}

/// Live gates: today's admissions per gate and ticket type, per day, inside now (re-entry
/// events), scans per minute over the last hour, rejects by reason, conflicts. Figures
/// include what devices have uploaded so far.
#[utoipa::path(
    get,
    path = "/api/v1/console/live",
    params(("event_id" = Option<i64>, Query, description = "the event (default: the current one, whose last day is nearest today or later)")),
    security(("bearer" = [])),
    responses((status = 200, body = LiveOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn live_api(
    _: Organizer,
    State(state): State<Services>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Json<LiveOut>, AppError> {
    Ok(Json(live_of(&state, q.event_id, Utc::now()).await?))
}

// ----- CSV --------------------------------------------------------------------------------

/// A CSV export (RFC 4180, UTF-8, CRLF, header row): `orders.csv`, `tickets.csv`,
/// `check-ins.csv` or `conflicts.csv`.
#[utoipa::path(
    get,
    path = "/api/v1/console/exports/{file}",
    params(("file" = String, Path, description = "orders.csv, tickets.csv, check-ins.csv or conflicts.csv"), ("event_id" = Option<i64>, Query, description = "the event (default: the current one, whose last day is nearest today or later)")),
    security(("bearer" = [])),
    responses((status = 200, content_type = "text/csv", description = "CSV"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn export_api(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(file): ApiPath<String>,
    ApiQuery(q): ApiQuery<EventQuery>,
) -> Result<Response, AppError> {
    let what = file
        .strip_suffix(".csv")
        .ok_or_else(|| AppError::NotFound(format!("export {file:?}")))?;
    let body = export(&state, what, q.event_id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"tessera-{what}.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

// ----- orders and tickets -----------------------------------------------------------------

/// `?q=&limit=`.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// Email or name part, or an exact order/ticket id; empty lists the newest.
    #[serde(default)]
    pub q: String,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// An order in a console list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderRowOut {
    /// Id.
    pub id: i64,
    /// `T-...`.
    pub number: String,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// `demo`, `comp`, `stripe`.
    pub payment: String,
    /// Minor units.
    pub total_cents: i64,
    /// ISO 4217.
    pub currency: String,
    /// Tickets.
    pub tickets: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// A ticket in a console list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketRowOut {
    /// Id.
    pub id: i64,
    /// Order.
    pub order_id: i64,
    /// Email of the order.
    pub email: String,
    /// Type name.
    pub ticket_type: String,
    /// Pass or vendor booth.
    pub kind: TicketKind,
    /// Holder.
    pub holder_name: String,
    /// `valid` or `void`.
    pub status: String,
    /// Revision.
    pub revision: i64,
    /// Booth id in its claims.
    pub booth: Option<i64>,
}

/// `GET /api/v1/console/orders` and `/tickets` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchOut {
    /// Matching orders.
    pub orders: Vec<OrderRowOut>,
    /// Matching tickets.
    pub tickets: Vec<TicketRowOut>,
}

/// Searches orders and tickets by email, name, or id.
#[utoipa::path(
    get,
    path = "/api/v1/console/search",
    params(("q" = Option<String>, Query, description = "email or name part, or an exact order or ticket id"), ("limit" = Option<i64>, Query, description = "at most this many (default 50, at most 500)")),
    security(("bearer" = [])),
    responses((status = 200, body = SearchOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn search(
    _: Organizer,
    State(state): State<Services>,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<Json<SearchOut>, AppError> {
    Ok(Json(search_of(&state, &q.q, q.limit).await?))
}

/// Orders and tickets matching `q`.
pub async fn search_of(
    state: &Services,
    q: &str,
    limit: Option<i64>,
) -> Result<SearchOut, AppError> {
    let limit = limit.unwrap_or(50).clamp(1, 500);
    let orders = state.store.search_orders(q, limit).await?;
    let tickets = state.store.search_tickets(q, limit).await?;
    Ok(SearchOut {
        orders: orders
            .into_iter()
            .map(|o| OrderRowOut {
                number: crate::domain::render::order_number(o.id),
                id: o.id,
                email: o.email,
                name: o.name,
                status: o.status,
                payment: o.payment,
                total_cents: o.total_cents,
                currency: o.currency,
                tickets: o.tickets,
                created_at: o.created_at,
            })
            .collect(),
        tickets: tickets
            .into_iter()
            .map(|t| TicketRowOut {
                id: t.id,
                order_id: t.order_id,
                email: t.email,
                ticket_type: t.type_name,
                kind: t.kind,
                holder_name: t.holder_name,
                status: t.status,
                revision: t.revision,
                booth: t.booth,
            })
            .collect(),
    })
}

/// Voids a ticket: devices refuse it (`revoked`) after their next sync.
#[utoipa::path(
    post,
    path = "/api/v1/console/tickets/{id}/void",
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Voided"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn void_ticket(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    if state.store.void_ticket(id).await? {
        tracing::info!(ticket = id, "ticket voided from the console");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound(format!("ticket {id}")))
    }
}

/// Queues an order's confirmation email again.
#[utoipa::path(
    post,
    operation_id = "console_resend_order",
    path = "/api/v1/console/orders/{id}/resend",
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 202, description = "Queued"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such paid order"))
)]
pub async fn resend(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    state
        .store
        .queue_confirmation(id, Utc::now().timestamp())
        .await?;
    state.wake.notify_one();
    Ok(StatusCode::ACCEPTED)
}

/// Revokes an order's access token (its link in the confirmation, leaked or forwarded): it
/// opens nothing from then on (`403 link_closed`). The buyer keeps the tickets.
#[utoipa::path(
    post,
    operation_id = "console_revoke_order_link",
    path = "/api/v1/console/orders/{id}/revoke-link",
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked (also when it was already)"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "no such order"))
)]
pub async fn revoke_order_link(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    orders::revoke_link(&state, id, Utc::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/console/comps` body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompIn {
    /// Ticket type id.
    pub ticket_type: i64,
    /// Guest's email (the tickets are emailed there).
    pub email: String,
    /// Guest's name (printed on the tickets).
    pub name: String,
    /// How many (default 1).
    #[serde(default)]
    pub count: Option<i64>,
}

/// Issues complimentary tickets (also of paused types); answers like `POST /api/v1/orders`.
#[utoipa::path(
    post,
    path = "/api/v1/console/comps",
    request_body = CompIn,
    security(("bearer" = [])),
    responses((status = 201, body = crate::http::api::OrderOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn comp(
    _: Organizer,
    State(state): State<Services>,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<CompIn>,
) -> Result<(StatusCode, Json<crate::http::api::OrderOut>), AppError> {
    let request = OrderRequest {
        email: body.email,
        name: body.name,
        items: vec![(body.ticket_type, body.count.unwrap_or(1))],
        idempotency: None,
        lang: crate::http::web::choose_language(&headers),
    };
    let placed = orders::comp(&state, &request, state.settings.max_quantity, Utc::now()).await?;
    let order = state
        .store
        .order(placed.id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("order {} vanished", placed.id)))?;
    let tickets = state.store.order_tickets(placed.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(crate::http::api::order_out(
            &order,
            &tickets,
            Some(placed.access_token),
        )),
    ))
}

// ----- events -----------------------------------------------------------------------------

/// A gate of a new event.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateIn {
    /// "Main Gate".
    pub name: String,
    /// Zone mask of what is behind it (1: general admission).
    pub zones: u16,
}

/// `POST /api/v1/console/events` body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    /// Unique name.
    pub name: String,
    /// Where.
    #[serde(default)]
    pub venue: String,
    /// IANA timezone its days are counted in ("America/Los_Angeles").
    pub timezone: String,
    /// First day, event-local (YYYY-MM-DD).
    #[schema(value_type = String, format = Date)]
    pub start: NaiveDate,
    /// Consecutive days (1 to 16).
    pub days: u32,
    /// Its gates.
    pub gates: Vec<GateIn>,
}

/// Creates an event with its gates.
#[utoipa::path(
    post,
    path = "/api/v1/console/events",
    request_body = EventIn,
    security(("bearer" = [])),
    responses((status = 201, description = "`{\"id\": n}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "the name is taken"), (status = 422, body = ErrorBody))
)]
pub async fn create_event(
    _: Organizer,
    State(state): State<Services>,
    ApiJson(body): ApiJson<EventIn>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    if !(1..=16).contains(&body.days) {
        return Err(AppError::Invalid("days must be 1 to 16".into()));
    }
    let event = crate::store::NewEvent {
        name: body.name.trim().to_owned(),
        venue: body.venue.trim().to_owned(),
        timezone: body.timezone.trim().to_owned(),
        days: catalog::consecutive_days(body.start, body.days),
        gates: body
            .gates
            .into_iter()
            .map(|g| (g.name.trim().to_owned(), g.zones))
            .collect(),
        created_at: Utc::now().timestamp(),
    };
    if event.gates.iter().any(|(n, z)| n.is_empty() || *z == 0) {
        return Err(AppError::Invalid(
            "every gate needs a name and a zone mask".into(),
        ));
    }
    let id = catalog::create_event(state.store.as_ref(), &event)
        .await
        .map_err(|e| match e {
            catalog::CatalogError::Invalid(m) => AppError::Invalid(m),
            catalog::CatalogError::Store(e) => AppError::from(e),
        })?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

// ----- ticket types -----------------------------------------------------------------------

/// `POST /api/v1/console/ticket-types` body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTypeIn {
    /// The event (default: the current one).
    #[serde(default)]
    pub event_id: Option<i64>,
    /// Unique in the event.
    pub name: String,
    /// Pass or vendor booth (vendor booths are never transferable).
    pub kind: TicketKind,
    /// Minor units.
    pub price_cents: i64,
    /// ISO 4217 (default USD).
    #[serde(default)]
    pub currency: Option<String>,
    /// Most that can be sold.
    pub capacity: i64,
    /// 1-based event day numbers it is valid on (default: every day).
    #[serde(default)]
    pub days: Vec<u8>,
    /// Zone mask (default 1, general admission).
    #[serde(default)]
    pub zones: Option<u16>,
}

/// `PATCH /api/v1/console/ticket-types/{id}` body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketTypeEditIn {
    /// New price (minor units).
    pub price_cents: i64,
    /// New capacity.
    pub capacity: i64,
}

/// A ticket type as organizers see it.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct TicketTypeAdminOut {
    /// Id.
    pub id: i64,
    /// Event.
    pub event_id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: TicketKind,
    /// Minor units.
    pub price_cents: i64,
    /// ISO 4217.
    pub currency: String,
    /// Capacity.
    pub capacity: i64,
    /// Sold and comped.
    pub sold: i64,
    /// Sales paused.
    pub sales_paused: bool,
    /// Transferable.
    pub transferable: bool,
}

/// Every ticket type with sales figures.
#[utoipa::path(
    get,
    path = "/api/v1/console/ticket-types",
    security(("bearer" = [])),
    responses((status = 200, body = [TicketTypeAdminOut]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn ticket_types(
    _: Organizer,
    State(state): State<Services>,
) -> Result<Json<Vec<TicketTypeAdminOut>>, AppError> {
    Ok(Json(
        state
            .store
            .ticket_types()
            .await?
            .into_iter()
            .map(|t| TicketTypeAdminOut {
                id: t.id,
                event_id: t.event_id,
                name: t.name,
                kind: t.kind,
                price_cents: t.price_cents,
                currency: t.currency,
                capacity: t.capacity,
                sold: t.sold,
                sales_paused: t.sales_paused,
                transferable: t.transferable,
            })
            .collect(),
    ))
}

/// Creates a ticket type.
#[utoipa::path(
    post,
    path = "/api/v1/console/ticket-types",
    request_body = TicketTypeIn,
    security(("bearer" = [])),
    responses((status = 201, description = "`{\"id\": n}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn create_ticket_type(
    _: Organizer,
    State(state): State<Services>,
    ApiJson(body): ApiJson<TicketTypeIn>,
) -> Result<(StatusCode, Json<serde_json::Value>), AppError> {
    let event_id = event_id(state.store.as_ref(), body.event_id, Utc::now()).await?;
    let days = state
        .store
        .events()
        .await?
        .into_iter()
        .find(|e| e.id == event_id)
        .map_or(0, |e| e.days.len());
    let days_mask = if body.days.is_empty() {
        tessera_core::DayMask::from_days(0..days).0
    } else {
        if body.days.contains(&0) {
            return Err(AppError::Invalid("days are 1-based day numbers".into()));
        }
        tessera_core::DayMask::from_days(body.days.iter().map(|d| usize::from(*d) - 1)).0
    };
    let tt = NewTicketType {
        event_id,
        name: body.name.trim().to_owned(),
        kind: body.kind,
        price_cents: body.price_cents,
        currency: body.currency.unwrap_or_else(|| "USD".into()),
        capacity: body.capacity,
        days_mask,
        zones: body.zones.unwrap_or(catalog::ZONE_GENERAL),
        transferable: body.kind == TicketKind::Pass,
    };
    let id = catalog::create_ticket_type(state.store.as_ref(), &tt)
        .await
        .map_err(|e| match e {
            catalog::CatalogError::Invalid(m) => AppError::Invalid(m),
            catalog::CatalogError::Store(e) => AppError::from(e),
        })?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

/// Changes price and capacity of a ticket type that has not sold yet.
#[utoipa::path(
    patch,
    path = "/api/v1/console/ticket-types/{id}",
    params(("id" = i64, Path)),
    request_body = TicketTypeEditIn,
    security(("bearer" = [])),
    responses((status = 204, description = "Changed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: it has sold already"), (status = 422, body = ErrorBody))
)]
pub async fn edit_ticket_type(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<TicketTypeEditIn>,
) -> Result<StatusCode, AppError> {
    if body.price_cents < 0 || body.capacity < 0 {
        return Err(AppError::Invalid(
            "price and capacity must not be negative".into(),
        ));
    }
    state
        .store
        .edit_unsold_ticket_type(id, body.price_cents, body.capacity)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses sales of a ticket type: orders for it are refused with `sales_paused`.
#[utoipa::path(
    post,
    path = "/api/v1/console/ticket-types/{id}/pause",
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Paused"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn pause(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    state.store.set_sales_paused(id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resumes sales of a ticket type.
#[utoipa::path(
    post,
    path = "/api/v1/console/ticket-types/{id}/resume",
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Resumed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn resume(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    state.store.set_sales_paused(id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Rotates the signing key: a new key signs from now on; tickets signed by the old one stay
/// valid. Devices learn the new public key with their next sync.
#[utoipa::path(
    post,
    path = "/api/v1/console/keys/rotate",
    security(("bearer" = [])),
    responses((status = 200, description = "`{\"key_id\": n, \"status\": \"active\"}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn rotate_key(
    _: Organizer,
    State(state): State<Services>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = rotate(&state).await?;
    Ok(Json(
        serde_json::json!({ "key_id": id, "status": "active" }),
    ))
}

/// Retires a signing key: every ticket it signed is refused from now on (`retired_key`), by
/// devices from their next sync. The key that signs new tickets cannot be retired (409):
/// rotate first.
#[utoipa::path(
    post,
    path = "/api/v1/console/keys/{key_id}/retire",
    params(("key_id" = i64, Path, description = "the key")),
    security(("bearer" = [])),
    responses((status = 200, description = "`{\"key_id\": n, \"status\": \"retired\"}`"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn retire_key(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(key_id): ApiPath<i64>,
) -> Result<Json<serde_json::Value>, AppError> {
    crate::app::console::retire_key(&state, key_id).await?;
    Ok(Json(
        serde_json::json!({ "key_id": key_id, "status": "retired" }),
    ))
}

/// The console part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        devices,
        create_device_code,
        device_code_qr,
        device_code_qr_png,
        revoke_device,
        live_api,
        export_api,
        search,
        void_ticket,
        resend,
        revoke_order_link,
        comp,
        ticket_types,
        create_ticket_type,
        edit_ticket_type,
        pause,
        resume,
        rotate_key,
        retire_key
    ),
    components(schemas(
        DeviceStatus,
        ReadinessOut,
        DeviceCodeIn,
        DeviceCodeOut,
        Count,
        ConflictOut,
        LiveOut,
        OrderRowOut,
        TicketRowOut,
        SearchOut,
        CompIn,
        TicketTypeIn,
        TicketTypeEditIn,
        TicketTypeAdminOut
    ))
)]
pub struct ConsoleApiDoc;

/// The console routes (all organizer-only), with the vendor ones.
pub fn routes() -> Router<Services> {
    use axum::routing::{get, patch, post};
    Router::new()
        .route("/api/v1/console/devices", get(devices))
        .route("/api/v1/console/devices/codes", post(create_device_code))
        .route(
            "/api/v1/console/devices/codes/{code}/qr.svg",
            get(device_code_qr),
        )
        .route(
            "/api/v1/console/devices/codes/{code}/qr.png",
            get(device_code_qr_png),
        )
        .route("/api/v1/console/devices/{id}/revoke", post(revoke_device))
        .route("/api/v1/console/live", get(live_api))
        .route("/api/v1/console/exports/{file}", get(export_api))
        .route("/api/v1/console/search", get(search))
        .route("/api/v1/console/tickets/{id}/void", post(void_ticket))
        .route("/api/v1/console/orders/{id}/resend", post(resend))
        .route(
            "/api/v1/console/orders/{id}/revoke-link",
            post(revoke_order_link),
        )
        .route("/api/v1/console/comps", post(comp))
        .route("/api/v1/console/events", post(create_event))
        .route(
            "/api/v1/console/ticket-types",
            get(ticket_types).post(create_ticket_type),
        )
        .route("/api/v1/console/ticket-types/{id}", patch(edit_ticket_type))
        .route("/api/v1/console/ticket-types/{id}/pause", post(pause))
        .route("/api/v1/console/ticket-types/{id}/resume", post(resume))
        .route("/api/v1/console/keys/rotate", post(rotate_key))
        .route("/api/v1/console/keys/{key_id}/retire", post(retire_key))
        .merge(crate::http::vendors::routes())
}
