//! The vendor API and the console's booth routes: booth purchases, booths, assignment and
//! staff passes over HTTP. The rules and the writes are `app::vendors`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::orders;
use crate::app::vendors::{
    BoothPurchaseIn, VendorError, booth_code, buy_booth, grant_staff_passes,
};
use crate::app::{AppError, Services};
use crate::http::api::{TicketOut, idempotency_header};
use crate::http::auth::Organizer;
use crate::http::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::{BoothCategory, OrderStatus, Store, VendorPurchase};

/// A booth purchase as `POST /api/v1/vendor-booths` answers it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoothPurchaseOut {
    /// The order (see `GET /api/v1/orders/{id}` with the access token).
    pub order_id: i64,
    /// `paid` (demo) or `pending` (Stripe: pay at `checkout_url`).
    pub status: String,
    /// The order's bearer token, shown once.
    pub access_token: String,
    /// The vendor profile of this email (made by its first booking).
    pub vendor_id: i64,
    /// The booth ticket type bought.
    pub ticket_type: i64,
    /// Its price, minor units.
    pub price_cents: i64,
    /// ISO 4217.
    pub currency: String,
    /// The booth ticket, once paid.
    pub tickets: Vec<TicketOut>,
    /// Where to pay, while `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

/// Buys a vendor booth (public): validates the vendor's details, creates the order like
/// `POST /api/v1/orders` (demo: paid at once; Stripe: pending with `checkout_url`), the vendor
/// profile (keyed by email) and the booth ticket carrying the booth's metadata, and queues the
/// vendor confirmation email.
#[utoipa::path(
    post,
    path = "/api/v1/vendor-booths",
    request_body = BoothPurchaseIn,
    params(("Idempotency-Key" = Option<String>, Header, description = "16 to 255 visible ASCII characters: the same key with the same body gives the same purchase instead of a second booth")),
    responses(
        (status = 201, body = BoothPurchaseOut, description = "Booked: paid (demo) or pending (Stripe)"),
        (status = 400, body = ErrorBody, description = "Malformed JSON"),
        (status = 409, body = ErrorBody, description = "sold_out: no booths of this category left"),
        (status = 422, body = ErrorBody, description = "invalid (the message names the field), unknown_ticket_type, or sales_paused"),
        (status = 429, body = ErrorBody, description = "too_many_holds: this address or client holds as many unpaid orders as it may (card payments)",
            headers(("Retry-After" = u64, description = "Seconds until a hold frees"))),
        (status = 502, body = ErrorBody, description = "payment_unavailable"),
    )
)]
pub async fn buy_booth_api(
    State(state): State<Services>,
    client: crate::app::attempts::Client,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BoothPurchaseIn>,
) -> Result<(StatusCode, Json<BoothPurchaseOut>), AppError> {
    let key = orders::idempotency_key("vendor-booths", idempotency_header(&headers)?, &body)?;
    let id = orders::once(state.store.as_ref(), key.as_ref(), || async {
        let lang = crate::http::web::choose_language(&headers);
        Ok(
            buy_booth(&state, &body, key.clone(), &client, lang, Utc::now())
                .await?
                .placed
                .id,
        )
    })
    .await?;
    booth_created(&state, id).await
}

/// The 201 answer of a booth purchase, from what is stored (also for a replayed request).
async fn booth_created(
    state: &Services,
    order_id: i64,
) -> Result<(StatusCode, Json<BoothPurchaseOut>), AppError> {
    let order = state
        .store
        .order(order_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("order {order_id} vanished")))?;
    // A Stripe booth's purchase is recorded just after its pending order.
    let purchase = state
        .store
        .vendor_purchase(order_id)
        .await?
        .ok_or_else(|| {
            AppError::Conflict("this booth purchase is still being recorded: send it again".into())
        })?;
    let tt = state
        .store
        .ticket_types()
        .await?
        .into_iter()
        .find(|t| t.id == purchase.ticket_type_id)
        .ok_or_else(|| {
            AppError::Internal(format!("ticket type {} vanished", purchase.ticket_type_id))
        })?;
    let tickets = state.store.order_tickets(order_id).await?;
    let checkout_url = if order.status == OrderStatus::Pending {
        state
            .store
            .payment(order_id)
            .await?
            .and_then(|p| p.checkout_url)
    } else {
        None
    };
    Ok((
        StatusCode::CREATED,
        Json(BoothPurchaseOut {
            order_id,
            status: order.status.to_string(),
            access_token: state.master.order_token(order_id),
            vendor_id: purchase.vendor_id,
            ticket_type: tt.id,
            price_cents: tt.price_cents,
            currency: tt.currency,
            tickets: tickets
                .iter()
                .map(|t| crate::http::api::ticket_out(order_id, t))
                .collect(),
            checkout_url,
        }),
    ))
}

/// A booth as organizers see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BoothOut {
    /// Id (staff passes carry it in their claims).
    pub id: i64,
    /// The event.
    pub event_id: i64,
    /// Location code, "B-12".
    pub code: String,
    /// `bazaar`, `food_truck`, `food_booth`, or none.
    pub category: Option<BoothCategory>,
    /// The purchase (order id) it is assigned to.
    pub order_id: Option<i64>,
    /// That vendor's business.
    pub business_name: Option<String>,
    /// Valid staff passes.
    pub staff_passes: i64,
}

/// A booth purchase as organizers and its vendor see it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VendorPurchaseOut {
    /// The order.
    pub order_id: i64,
    /// `paid`, `pending`, ...
    pub order_status: String,
    /// The vendor profile.
    pub vendor_id: i64,
    /// Vendor email.
    pub email: String,
    /// Contact.
    pub contact_name: String,
    /// Phone.
    pub phone: String,
    /// Business.
    pub business_name: String,
    /// The vendor's booth name.
    pub booth_name: String,
    /// Category.
    pub category: BoothCategory,
    /// What they sell.
    pub description: String,
    /// The assigned booth's id and code.
    pub booth_id: Option<i64>,
    /// "B-12".
    pub booth_code: Option<String>,
    /// Valid staff passes of that booth.
    pub staff_passes: i64,
}

impl From<&VendorPurchase> for VendorPurchaseOut {
    fn from(p: &VendorPurchase) -> Self {
        Self {
            order_id: p.order_id,
            order_status: p.order_status.clone(),
            vendor_id: p.vendor_id,
            email: p.email.clone(),
            contact_name: p.contact_name.clone(),
            phone: p.phone.clone(),
            business_name: p.business_name.clone(),
            booth_name: p.booth_name.clone(),
            category: p.category,
            description: p.description.clone(),
            booth_id: p.booth.as_ref().map(|b| b.0),
            booth_code: p.booth.as_ref().map(|b| b.1.clone()),
            staff_passes: p.staff_passes,
        }
    }
}

/// `GET /api/v1/console/vendors` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VendorsOut {
    /// Booth purchases, newest first.
    pub purchases: Vec<VendorPurchaseOut>,
    /// Booths, by event and code.
    pub booths: Vec<BoothOut>,
}

/// `POST /api/v1/console/booths` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoothIn {
    /// Location code: letters, digits and dashes, up to 16 ("B-12").
    pub code: String,
    /// The event (default: the current one).
    #[serde(default)]
    pub event_id: Option<i64>,
    /// `bazaar`, `food_truck` or `food_booth` (optional).
    #[serde(default)]
    pub category: Option<BoothCategory>,
}

/// `POST /api/v1/console/booths/{id}/assignment` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignIn {
    /// The booth purchase (its order id); `null` frees the booth.
    pub order_id: Option<i64>,
}

/// `POST /api/v1/console/booths/{id}/staff-passes` body.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPassesIn {
    /// How many ("Staff n" holders), 1 to 50; ignored when `names` is given.
    #[serde(default)]
    pub count: u32,
    /// The holders' names, one pass each.
    #[serde(default)]
    pub names: Vec<String>,
}

/// `POST /api/v1/console/booths/{id}/staff-passes` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffPassesOut {
    /// The new passes (QR text included; emailed to the vendor too).
    pub tickets: Vec<TicketOut>,
}

async fn vendors_out(store: &dyn Store) -> Result<VendorsOut, AppError> {
    let purchases = store.vendor_purchases(None).await?;
    let booths = store.booths().await?;
    Ok(VendorsOut {
        booths: booths
            .iter()
            .map(|b| BoothOut {
                id: b.id,
                event_id: b.event_id,
                code: b.code.clone(),
                category: b.category,
                order_id: b.order_id,
                business_name: b.business_name.clone(),
                staff_passes: purchases
                    .iter()
                    .find(|p| p.booth.as_ref().is_some_and(|(id, _)| *id == b.id))
                    .map_or(0, |p| p.staff_passes),
            })
            .collect(),
        purchases: purchases.iter().map(VendorPurchaseOut::from).collect(),
    })
}

/// Booth purchases and booths (organizers).
#[utoipa::path(
    get,
    path = "/api/v1/console/vendors",
    security(("bearer" = [])),
    responses((status = 200, body = VendorsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn list_vendors(
    _: Organizer,
    State(state): State<Services>,
) -> Result<Json<VendorsOut>, AppError> {
    Ok(Json(vendors_out(state.store.as_ref()).await?))
}

/// Creates a booth with its location code (organizers).
#[utoipa::path(
    post,
    path = "/api/v1/console/booths",
    request_body = BoothIn,
    security(("bearer" = [])),
    responses(
        (status = 201, body = BoothOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "conflict: the code is taken in the event"),
        (status = 422, body = ErrorBody, description = "invalid code"),
    )
)]
pub async fn create_booth(
    _: Organizer,
    State(state): State<Services>,
    ApiJson(body): ApiJson<BoothIn>,
) -> Result<(StatusCode, Json<BoothOut>), AppError> {
    let code = booth_code(&body.code)?;
    let event =
        crate::app::catalog::event_id(state.store.as_ref(), body.event_id, Utc::now()).await?;
    let booth = state
        .store
        .create_booth(event, &code, body.category, Utc::now().timestamp())
        .await
        .map_err(VendorError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(BoothOut {
            id: booth.id,
            event_id: booth.event_id,
            code: booth.code,
            category: booth.category,
            order_id: None,
            business_name: None,
            staff_passes: 0,
        }),
    ))
}

/// Assigns a booth to a paid booth purchase, or frees it (organizers). Gate devices get the
/// vendor's business and booth with their next sync.
#[utoipa::path(
    post,
    path = "/api/v1/console/booths/{id}/assignment",
    params(("id" = i64, Path, description = "Booth id")),
    request_body = AssignIn,
    security(("bearer" = [])),
    responses(
        (status = 200, body = VendorsOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such booth or purchase"),
        (status = 409, body = ErrorBody, description = "conflict: the booth or the purchase is taken, or the order is not paid"),
    )
)]
pub async fn assign_booth(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AssignIn>,
) -> Result<Json<VendorsOut>, AppError> {
    state
        .store
        .assign_booth(id, body.order_id, Utc::now().timestamp())
        .await
        .map_err(VendorError::from)?;
    Ok(Json(vendors_out(state.store.as_ref()).await?))
}

/// Grants staff passes for an assigned booth (organizers): signed tickets carrying the
/// booth, emailed to the vendor.
#[utoipa::path(
    post,
    path = "/api/v1/console/booths/{id}/staff-passes",
    params(("id" = i64, Path, description = "Booth id")),
    request_body = StaffPassesIn,
    security(("bearer" = [])),
    responses(
        (status = 201, body = StaffPassesOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such booth"),
        (status = 422, body = ErrorBody, description = "invalid count or names, or the booth is not assigned"),
    )
)]
pub async fn staff_passes(
    _: Organizer,
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StaffPassesIn>,
) -> Result<(StatusCode, Json<StaffPassesOut>), AppError> {
    let tickets = grant_staff_passes(&state, id, body.count, &body.names, Utc::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(StaffPassesOut {
            tickets: tickets
                .iter()
                .map(|t| crate::http::api::ticket_out(t.order_id, t))
                .collect(),
        }),
    ))
}

/// What a vendor sees of their booth purchase: the purchase with its assignment, the booth
/// ticket and the staff passes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VendorBoothOut {
    /// The purchase and its booth.
    pub purchase: VendorPurchaseOut,
    /// The booth ticket.
    pub tickets: Vec<TicketOut>,
    /// The booth's staff passes.
    pub staff_passes: Vec<TicketOut>,
}

/// The vendor's view of a booth purchase, assignment and staff passes.
pub async fn vendor_booth(
    store: &dyn Store,
    purchase: &VendorPurchase,
) -> Result<VendorBoothOut, AppError> {
    let tickets = store.order_tickets(purchase.order_id).await?;
    let staff = match &purchase.booth {
        Some((booth_id, _)) => store.staff_passes(*booth_id).await?,
        None => Vec::new(),
    };
    Ok(VendorBoothOut {
        purchase: VendorPurchaseOut::from(purchase),
        tickets: tickets
            .iter()
            .map(|t| crate::http::api::ticket_out(purchase.order_id, t))
            .collect(),
        staff_passes: staff
            .iter()
            .map(|t| crate::http::api::ticket_out(t.order_id, t))
            .collect(),
    })
}

/// A booth purchase as its vendor sees it: booth, assignment, staff passes (with the
/// booth order's access token).
#[utoipa::path(
    get,
    path = "/api/v1/vendor-booths/{order_id}",
    params(("order_id" = i64, Path, description = "The booth order")),
    security(("access_token" = [])),
    responses(
        (status = 200, body = VendorBoothOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such order, or not a booth order"),
    )
)]
pub async fn get_vendor_booth(
    State(state): State<Services>,
    ApiPath(order_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<crate::http::api::TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<VendorBoothOut>, AppError> {
    crate::http::api::authorized_order(&state, &headers, &query, order_id).await?;
    let purchase = state
        .store
        .vendor_purchase(order_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("booth order {order_id}")))?;
    Ok(Json(vendor_booth(state.store.as_ref(), &purchase).await?))
}

/// The vendor part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        buy_booth_api,
        get_vendor_booth,
        list_vendors,
        create_booth,
        assign_booth,
        staff_passes
    ),
    components(schemas(
        BoothPurchaseIn,
        BoothPurchaseOut,
        BoothOut,
        VendorPurchaseOut,
        VendorsOut,
        BoothIn,
        AssignIn,
        StaffPassesIn,
        StaffPassesOut,
        BoothCategory,
        VendorBoothOut
    ))
)]
pub struct VendorApiDoc;

/// The vendor routes.
pub fn routes() -> axum::Router<Services> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/api/v1/vendor-booths", post(buy_booth_api))
        .route("/api/v1/vendor-booths/{order_id}", get(get_vendor_booth))
        .route("/api/v1/console/vendors", get(list_vendors))
        .route("/api/v1/console/booths", post(create_booth))
        .route("/api/v1/console/booths/{id}/assignment", post(assign_booth))
        .route(
            "/api/v1/console/booths/{id}/staff-passes",
            post(staff_passes),
        )
}
