//! Vendors: buying a booth (validation, the order through the same payment path as every
//! order, the vendor profile made automatically, the booth's metadata kept with the order),
//! the vendor's confirmation wording, and what organizers do with booths — location codes,
//! assignment to a purchase, staff passes whose signed claims carry the booth.
//!
//! What the gate shows for a vendor pass ("Falafel King · Booth B-12") is composed by the
//! store when the change feed is read (`store/sync_sql.rs`), so it follows assignments.
//! Vendor tickets are never transferable: the booth ticket types are created so, and staff
//! passes are of the booth's own type. HTTP lives here too, a few lines per handler; the
//! organizer routes take [`crate::console::Organizer`].

use std::num::NonZeroU16;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::{
    BoothId, Claims, DayMask, EventId, Revision, TicketId, TicketSigner, TicketTypeId, ZoneMask,
};
use utoipa::ToSchema;

use crate::api::{ApiError, ApiJson, ApiPath, ApiQuery, AppState, ErrorBody};
use crate::console::Organizer;
use crate::email::{Wording, html_escape};
use crate::orders::{self, OrderError, OrderRequest};
use crate::store::{
    Booth, BoothCategory, NewItem, NewOrder, NewTicket, NewVendorPurchase, Order, Payment, Store,
    StoreError, TicketKind, TicketType, TicketView, VendorPurchase,
};

/// Most staff passes granted in one go.
pub const MAX_STAFF_PASSES: u32 = 50;

/// Why a vendor action was refused.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// A field is invalid; the message starts with the field's name.
    #[error("{0}")]
    Invalid(String),
    /// No booth ticket type for the category (or the id given is not a booth type).
    #[error("{0}")]
    NoBoothType(String),
    /// The order was refused (sold out, paused, ...).
    #[error(transparent)]
    Order(#[from] OrderError),
    /// Stripe failed; nothing is owed.
    #[error(transparent)]
    Provider(#[from] crate::payments::ProviderError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness failed.
    #[error(transparent)]
    Keys(#[from] crate::keys::KeyError),
}

impl From<VendorError> for ApiError {
    fn from(e: VendorError) -> Self {
        match e {
            VendorError::Invalid(m) => Self::Invalid(m),
            VendorError::NoBoothType(m) => Self::UnknownTicketType(m),
            VendorError::Order(e) => e.into(),
            VendorError::Provider(e) => {
                tracing::warn!(error = %e, "creating a checkout session failed");
                Self::PaymentUnavailable
            }
            VendorError::Store(StoreError::Conflict(what)) => {
                Self::Conflict(format!("{what} already exists"))
            }
            VendorError::Store(StoreError::NotFound(what)) => Self::NotFound(what),
            VendorError::Store(e) => e.into(),
            VendorError::Keys(e) => Self::Internal(e.to_string()),
        }
    }
}

/// `POST /api/v1/vendor-booths` body (and the booth form's fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoothPurchaseIn {
    /// The business, as visitors and gate staff will see it: "Falafel King".
    pub business_name: String,
    /// The vendor's name for the booth: "Falafel King's truck".
    pub booth_name: String,
    /// `bazaar`, `food_truck` or `food_booth`: picks the booth ticket type.
    pub category: String,
    /// The person to call.
    pub contact_name: String,
    /// Their phone number.
    pub phone: String,
    /// Where the confirmation goes; also the vendor profile's key.
    pub email: String,
    /// What they sell (up to 1000 characters).
    #[serde(default)]
    pub description: String,
    /// A booth ticket type id, when an event has several of a category (optional).
    #[serde(default)]
    pub ticket_type: Option<i64>,
}

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
    pub tickets: Vec<crate::api::TicketOut>,
    /// Where to pay, while `pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

fn field(name: &str, value: &str, max: usize, required: bool) -> Result<String, VendorError> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(VendorError::Invalid(format!("{name} is required")));
    }
    if v.chars().count() > max {
        return Err(VendorError::Invalid(format!(
            "{name} must be at most {max} characters"
        )));
    }
    // Newlines are fine in a description, nowhere else; other control characters nowhere.
    if v.chars()
        .any(|c| c.is_control() && !(name == "description" && (c == '\n' || c == '\r')))
    {
        return Err(VendorError::Invalid(format!(
            "{name} must not contain control characters"
        )));
    }
    Ok(v.to_owned())
}

fn validate_phone(phone: &str) -> Result<String, VendorError> {
    let v = field("phone", phone, 32, true)?;
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let ok = (7..=15).contains(&digits)
        && v.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if ok {
        Ok(v)
    } else {
        Err(VendorError::Invalid(
            "phone must be a phone number: 7 to 15 digits, spaces, + - ( ) and dots".into(),
        ))
    }
}

/// The booth ticket type name of each category in the demo festival (the original's).
pub fn category_type_name(category: BoothCategory) -> &'static str {
    match category {
        BoothCategory::Bazaar => "Bazaar Vendor Booth",
        BoothCategory::FoodTruck => "Food Truck Booth",
        BoothCategory::FoodBooth => "Food Booth",
    }
}

/// Checks a booth request and picks its ticket type: the id given, or the vendor booth type
/// named after the category. Everything but storing.
pub fn validate(
    input: &BoothPurchaseIn,
    types: &[TicketType],
    now: DateTime<Utc>,
) -> Result<(NewVendorPurchase, TicketType), VendorError> {
    let business_name = field("business_name", &input.business_name, 100, true)?;
    let booth_name = field("booth_name", &input.booth_name, 100, true)?;
    let contact_name = field("contact_name", &input.contact_name, 100, true)?;
    let phone = validate_phone(&input.phone)?;
    let email = crate::auth::normalize_email(&field("email", &input.email, 254, true)?);
    let description = field("description", &input.description, 1000, false)?;
    let category = BoothCategory::parse(input.category.trim()).ok_or_else(|| {
        VendorError::Invalid("category must be bazaar, food_truck or food_booth".into())
    })?;
    let tt = match input.ticket_type {
        Some(id) => types
            .iter()
            .find(|t| t.id == id && t.kind == TicketKind::VendorBooth)
            .ok_or_else(|| {
                VendorError::NoBoothType(format!("ticket type {id} is not a vendor booth"))
            })?,
        None => {
            let name = category_type_name(category);
            let mut matching = types
                .iter()
                .filter(|t| t.kind == TicketKind::VendorBooth && t.name == name);
            match (matching.next(), matching.next()) {
                (Some(one), None) => one,
                (None, _) => {
                    return Err(VendorError::NoBoothType(format!(
                        "no {name:?} ticket type is for sale"
                    )));
                }
                (Some(_), Some(_)) => {
                    return Err(VendorError::Invalid(format!(
                        "ticket_type is required: several events sell {name:?}"
                    )));
                }
            }
        }
    };
    Ok((
        NewVendorPurchase {
            email,
            business_name,
            booth_name,
            category,
            contact_name,
            phone,
            description,
            event_id: tt.event_id,
            ticket_type_id: tt.id,
            now: now.timestamp(),
        },
        tt.clone(),
    ))
}

/// A placed booth purchase.
#[derive(Debug, Clone)]
pub struct Purchased {
    /// The order and its token.
    pub placed: orders::Placed,
    /// The vendor profile.
    pub vendor_id: i64,
    /// The booth type.
    pub ticket_type: TicketType,
    /// Stripe's page while pending.
    pub checkout_url: Option<String>,
}

/// Buys a booth: one booth ticket through the same order path as `POST /api/v1/orders`
/// (demo: paid at once, in one transaction with the profile and metadata; Stripe: pending
/// with a checkout page, the metadata stored before the buyer can pay).
pub async fn buy_booth(
    state: &AppState,
    input: &BoothPurchaseIn,
    now: DateTime<Utc>,
) -> Result<Purchased, VendorError> {
    let types = state.store.ticket_types().await?;
    let (purchase, tt) = validate(input, &types, now)?;
    // The booth ticket's holder is the contact person; the business goes in the detail.
    let request = OrderRequest {
        email: purchase.email.clone(),
        name: purchase.contact_name.clone(),
        items: vec![(tt.id, 1)],
    };
    if let Some(provider) = state.payments.provider().cloned() {
        let started = crate::payments::start_checkout(state, provider.as_ref(), &request, now)
            .await
            .map_err(|e| match e {
                crate::payments::CheckoutError::Order(e) => VendorError::Order(e),
                crate::payments::CheckoutError::Provider(e) => VendorError::Provider(e),
            })?;
        let vendor_id = state
            .store
            .record_vendor_purchase(started.placed.id, &purchase)
            .await?;
        return Ok(Purchased {
            placed: started.placed,
            vendor_id,
            ticket_type: tt,
            checkout_url: Some(started.checkout_url),
        });
    }
    let keys = state.keys.read().await.clone();
    let (order, placed) = orders::plan(
        &request,
        &types,
        keys.signer(),
        &state.master,
        Payment::Demo,
        now,
        state.settings.max_quantity,
    )?;
    let vendor_id = state
        .store
        .place_vendor_order(&order, &purchase)
        .await
        .map_err(OrderError::from)?;
    state.wake.notify_one();
    Ok(Purchased {
        placed,
        vendor_id,
        ticket_type: tt,
        checkout_url: None,
    })
}

/// Signs `holders.len()` staff passes of type `tt` for booth `booth`.
fn sign_staff_passes(
    tt: &TicketType,
    booth: NonZeroU16,
    holders: &[String],
    signer: &TicketSigner,
    issued_at: u32,
) -> Result<Vec<NewTicket>, VendorError> {
    let event = u32::try_from(tt.event_id)
        .map_err(|_| StoreError::Corrupt(format!("event id {}", tt.event_id)))?;
    let type_u16 = u16::try_from(tt.id)
        .map_err(|_| StoreError::Corrupt(format!("ticket type id {}", tt.id)))?;
    holders
        .iter()
        .map(|holder| {
            let id = orders::random_id()?;
            let claims = Claims {
                event: EventId(event),
                ticket: TicketId(id.unsigned_abs()),
                ticket_type: TicketTypeId(type_u16),
                revision: Revision(0),
                days: DayMask(tt.days_mask),
                zones: ZoneMask(tt.zones),
                booth: Some(BoothId(booth)),
                issued_at,
            };
            Ok(NewTicket {
                id,
                event_id: tt.event_id,
                ticket_type_id: tt.id,
                revision: 0,
                holder_name: holder.clone(),
                days_mask: tt.days_mask,
                zones: tt.zones,
                booth: Some(i64::from(booth.get())),
                key_id: i64::from(signer.id().0),
                issued_at: i64::from(issued_at),
                qr_text: signer.sign(&claims),
            })
        })
        .collect()
}

/// Grants staff passes for an assigned booth: tickets of the booth's type, no capacity
/// taken, claims carrying the booth, holders named (or "Staff n", numbered on from the
/// booth's existing passes), emailed to the vendor. Returns the new passes.
pub async fn grant_staff_passes(
    state: &AppState,
    booth_id: i64,
    count: u32,
    names: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<TicketView>, VendorError> {
    let store = state.store.as_ref();
    let booth = store
        .booths()
        .await?
        .into_iter()
        .find(|b| b.id == booth_id)
        .ok_or_else(|| StoreError::NotFound(format!("booth {booth_id}")))?;
    let order_id = booth.order_id.ok_or_else(|| {
        VendorError::Invalid(format!(
            "booth {} is not assigned: assign it to a vendor before granting staff passes",
            booth.code
        ))
    })?;
    let purchase = store
        .vendor_purchase(order_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("booth {booth_id}'s purchase is missing")))?;
    let mut holders = Vec::new();
    for name in names {
        let name = field("names", name, 100, true)?;
        holders.push(name);
    }
    let count = if holders.is_empty() {
        count
    } else {
        u32::try_from(holders.len()).unwrap_or(u32::MAX)
    };
    if !(1..=MAX_STAFF_PASSES).contains(&count) {
        return Err(VendorError::Invalid(format!(
            "count must be between 1 and {MAX_STAFF_PASSES}"
        )));
    }
    if holders.is_empty() {
        let existing = store.staff_passes(booth_id).await?.len();
        holders = (0..count as usize)
            .map(|i| format!("Staff {}", existing + i + 1))
            .collect();
    }
    let tt = store
        .ticket_types()
        .await?
        .into_iter()
        .find(|t| t.id == purchase.ticket_type_id)
        .ok_or_else(|| StoreError::Corrupt("booth ticket type missing".into()))?;
    let booth_u16 = u16::try_from(booth_id)
        .ok()
        .and_then(NonZeroU16::new)
        .ok_or_else(|| StoreError::Corrupt(format!("booth id {booth_id}")))?;
    let issued_at = u32::try_from(now.timestamp())
        .map_err(|_| VendorError::Invalid("clock out of range".into()))?;
    let keys = state.keys.read().await.clone();
    let tickets = sign_staff_passes(&tt, booth_u16, &holders, keys.signer(), issued_at)?;
    let id = orders::random_id()?;
    let order = NewOrder {
        id,
        email: purchase.email.clone(),
        name: purchase.contact_name.clone(),
        payment: Payment::Comp,
        total_cents: 0,
        currency: tt.currency.clone(),
        token_hash: orders::token_hash(&state.master.order_token(id)),
        created_at: now.timestamp(),
        items: vec![NewItem {
            ticket_type_id: tt.id,
            quantity: i64::from(count),
            unit_price_cents: 0,
        }],
        tickets,
        email_due_ms: now.timestamp_millis(),
        upgrade_ticket_id: None,
        upgrade_from_type: None,
    };
    store.insert_staff_passes(booth_id, &order).await?;
    state.wake.notify_one();
    // In the order the holders were given (ids are random).
    let mut passes = store.order_tickets(id).await?;
    passes.sort_by_key(|t| holders.iter().position(|h| *h == t.holder_name));
    Ok(passes)
}

/// The vendor's words for a booth order or a staff pass order; `None` for other orders.
pub async fn vendor_wording(
    store: &dyn Store,
    order: &Order,
    tickets: &[TicketView],
) -> Result<Option<Wording>, StoreError> {
    if !tickets.iter().any(|t| t.kind == TicketKind::VendorBooth) {
        return Ok(None);
    }
    let event = tickets
        .first()
        .map_or_else(|| "the festival".to_owned(), |t| t.event.name.clone());
    let number = crate::render::order_number(order.id);
    if let Some(p) = store.vendor_purchase(order.id).await? {
        return Ok(Some(booth_wording(&p, &event, &number, &order.name)));
    }
    // Staff passes: their booth is in the claims (and the ticket's booth column).
    let Some(booth_id) = tickets.iter().find_map(|t| t.booth) else {
        return Ok(None);
    };
    let booths = store.booths().await?;
    let Some(booth) = booths.iter().find(|b| b.id == booth_id) else {
        return Ok(None);
    };
    Ok(Some(staff_wording(
        booth,
        &event,
        &order.name,
        tickets.len(),
    )))
}

fn booth_wording(p: &VendorPurchase, event: &str, number: &str, name: &str) -> Wording {
    let assigned = match &p.booth {
        Some((_, code)) => format!("Your booth location is {code}."),
        None => "The organizers will assign your booth location and email you your staff passes."
            .to_owned(),
    };
    let next = format!(
        "\nWhat to do next:\n\
         1. Keep this email: the booth pass below admits you through the Vendor Gate.\n\
         2. {assigned}\n\
         3. Set-up opens two hours before doors; bring your permits and your booth pass.\n\
         4. Questions? Reply to this email with your order number {number}.\n"
    );
    Wording {
        subject: format!(
            "Your {} at {event}: {} (order {number})",
            p.category.label().to_lowercase(),
            p.business_name
        ),
        intro_text: format!(
            "Hello {name},\n\nthank you for booking a {} at {event} for {}.\n\
             Booth: {}\nBusiness: {}\nCategory: {}\nPhone on file: {}\n",
            p.category.label().to_lowercase(),
            p.business_name,
            p.booth_name,
            p.business_name,
            p.category.label(),
            p.phone,
        ),
        intro_html: format!(
            "<p>Hello {name}, thank you for booking a {label} at {event} for <strong>{business}</strong> \
             (order <strong>{number}</strong>).</p>\
             <table><tr><th style=\"text-align:left\">Booth</th><td>{booth}</td></tr>\
             <tr><th style=\"text-align:left\">Business</th><td>{business}</td></tr>\
             <tr><th style=\"text-align:left\">Category</th><td>{category}</td></tr>\
             <tr><th style=\"text-align:left\">Phone on file</th><td>{phone}</td></tr></table>",
            name = html_escape(name),
            label = html_escape(&p.category.label().to_lowercase()),
            event = html_escape(event),
            business = html_escape(&p.business_name),
            booth = html_escape(&p.booth_name),
            category = html_escape(p.category.label()),
            phone = html_escape(&p.phone),
        ),
        next_html: format!(
            "<h2>What to do next</h2><ol>\
             <li>Keep this email: the booth pass admits you through the Vendor Gate.</li>\
             <li>{}</li>\
             <li>Set-up opens two hours before doors; bring your permits and your booth pass.</li>\
             <li>Questions? Reply to this email with your order number {}.</li></ol>",
            html_escape(&assigned),
            html_escape(number)
        ),
        next_text: next,
    }
}

fn staff_wording(booth: &Booth, event: &str, name: &str, count: usize) -> Wording {
    let business = booth.business_name.as_deref().unwrap_or("your business");
    Wording {
        subject: format!(
            "{count} staff passes for {business}, booth {} at {event}",
            booth.code
        ),
        intro_text: format!(
            "Hello {name},\n\nhere are {count} staff passes for {business} at booth {}.\n\
             Give one to each person working the booth; each admits its holder through the \
             Vendor Gate.\n",
            booth.code
        ),
        intro_html: format!(
            "<p>Hello {}, here are {count} staff passes for <strong>{}</strong> at booth \
             <strong>{}</strong>. Give one to each person working the booth; each admits its \
             holder through the Vendor Gate.</p>",
            html_escape(name),
            html_escape(business),
            html_escape(&booth.code)
        ),
        next_text: String::new(),
        next_html: String::new(),
    }
}

/// Buys a vendor booth (public): validates the vendor's details, creates the order like
/// `POST /api/v1/orders` (demo: paid at once; Stripe: pending with `checkout_url`), the vendor
/// profile (keyed by email) and the booth ticket carrying the booth's metadata, and queues the
/// vendor confirmation email.
#[utoipa::path(
    post,
    path = "/api/v1/vendor-booths",
    request_body = BoothPurchaseIn,
    responses(
        (status = 201, body = BoothPurchaseOut, description = "Booked: paid (demo) or pending (Stripe)"),
        (status = 400, body = ErrorBody, description = "Malformed JSON"),
        (status = 409, body = ErrorBody, description = "sold_out: no booths of this category left"),
        (status = 422, body = ErrorBody, description = "invalid (the message names the field), unknown_ticket_type, or sales_paused"),
        (status = 502, body = ErrorBody, description = "payment_unavailable"),
    )
)]
pub async fn buy_booth_api(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BoothPurchaseIn>,
) -> Result<(StatusCode, Json<BoothPurchaseOut>), ApiError> {
    let bought = buy_booth(&state, &body, Utc::now()).await?;
    let order_id = bought.placed.id;
    let order = state
        .store
        .order(order_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("order {order_id} vanished")))?;
    let tickets = state.store.order_tickets(order_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(BoothPurchaseOut {
            order_id,
            status: order.status,
            access_token: bought.placed.access_token,
            vendor_id: bought.vendor_id,
            ticket_type: bought.ticket_type.id,
            price_cents: bought.ticket_type.price_cents,
            currency: bought.ticket_type.currency,
            tickets: tickets
                .iter()
                .map(|t| crate::api::ticket_out(order_id, t))
                .collect(),
            checkout_url: bought.checkout_url,
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
    pub tickets: Vec<crate::api::TicketOut>,
}

/// Checks a booth location code: 1 to 16 letters, digits and dashes, stored upper case.
pub fn booth_code(code: &str) -> Result<String, VendorError> {
    let code = code.trim().to_uppercase();
    if code.is_empty()
        || code.len() > 16
        || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(VendorError::Invalid(
            "code must be 1 to 16 letters, digits or dashes, like B-12".into(),
        ));
    }
    Ok(code)
}

/// The event a console request means: the one given, or else the current one — the event
/// whose last day is the nearest today or later, in its own timezone (the last event when
/// every one is over).
pub async fn event_id(store: &dyn Store, given: Option<i64>) -> Result<i64, ApiError> {
    let events = store.events().await?;
    if let Some(id) = given {
        return if events.iter().any(|e| e.id == id) {
            Ok(id)
        } else {
            Err(ApiError::NotFound(format!("event {id}")))
        };
    }
    let now = Utc::now();
    let last_day = |e: &crate::store::Event| {
        let tz: tessera_core::Tz = e.timezone.parse().unwrap_or(tessera_core::Tz::UTC);
        let today = now.with_timezone(&tz).date_naive();
        e.days.last().map(|d| (*d < today, *d))
    };
    events
        .iter()
        .filter_map(|e| last_day(e).map(|k| (k, e.id)))
        // Not over first, then by last day: the nearest running or coming event; if all are
        // over, the most recent (the largest day among those over).
        .min_by(|((over_a, day_a), _), ((over_b, day_b), _)| {
            over_a.cmp(over_b).then(if *over_a {
                day_b.cmp(day_a)
            } else {
                day_a.cmp(day_b)
            })
        })
        .map(|(_, id)| id)
        .ok_or_else(|| ApiError::NotFound("event".into()))
}

async fn vendors_out(store: &dyn Store) -> Result<VendorsOut, ApiError> {
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
    State(state): State<AppState>,
) -> Result<Json<VendorsOut>, ApiError> {
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
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BoothIn>,
) -> Result<(StatusCode, Json<BoothOut>), ApiError> {
    let code = booth_code(&body.code)?;
    let event = event_id(state.store.as_ref(), body.event_id).await?;
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
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AssignIn>,
) -> Result<Json<VendorsOut>, ApiError> {
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
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<StaffPassesIn>,
) -> Result<(StatusCode, Json<StaffPassesOut>), ApiError> {
    let tickets = grant_staff_passes(&state, id, body.count, &body.names, Utc::now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(StaffPassesOut {
            tickets: tickets
                .iter()
                .map(|t| crate::api::ticket_out(t.order_id, t))
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
    pub tickets: Vec<crate::api::TicketOut>,
    /// The booth's staff passes.
    pub staff_passes: Vec<crate::api::TicketOut>,
}

/// The vendor's view of a booth purchase, assignment and staff passes.
pub async fn vendor_booth(
    store: &dyn Store,
    purchase: &VendorPurchase,
) -> Result<VendorBoothOut, ApiError> {
    let tickets = store.order_tickets(purchase.order_id).await?;
    let staff = match &purchase.booth {
        Some((booth_id, _)) => store.staff_passes(*booth_id).await?,
        None => Vec::new(),
    };
    Ok(VendorBoothOut {
        purchase: VendorPurchaseOut::from(purchase),
        tickets: tickets
            .iter()
            .map(|t| crate::api::ticket_out(purchase.order_id, t))
            .collect(),
        staff_passes: staff
            .iter()
            .map(|t| crate::api::ticket_out(t.order_id, t))
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
    State(state): State<AppState>,
    ApiPath(order_id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<crate::api::TokenQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Json<VendorBoothOut>, ApiError> {
    crate::api::authorized_order(&state, &headers, &query, order_id).await?;
    let purchase = state
        .store
        .vendor_purchase(order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("booth order {order_id}")))?;
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
pub fn routes() -> axum::Router<AppState> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn booth_type() -> TicketType {
        TicketType {
            id: 5,
            event_id: 1,
            name: "Food Truck Booth".into(),
            kind: TicketKind::VendorBooth,
            price_cents: 80_000,
            currency: "USD".into(),
            capacity: 20,
            sold: 0,
            days_mask: 0b111,
            zones: 0b11,
            transferable: false,
            sales_paused: false,
        }
    }

    fn input() -> BoothPurchaseIn {
        BoothPurchaseIn {
            business_name: " Falafel King ".into(),
            booth_name: "The King's truck".into(),
            category: "food_truck".into(),
            contact_name: "Samir Haddad".into(),
            phone: "+1 (714) 555-0142".into(),
            email: "Samir@Example.com".into(),
            description: "Falafel,\nshawarma".into(),
            ticket_type: None,
        }
    }

    #[test]
    fn a_valid_request_picks_the_category_type() {
        let (p, tt) = validate(&input(), &[booth_type()], Utc::now()).unwrap();
        assert_eq!(tt.id, 5);
        assert_eq!(p.business_name, "Falafel King");
        assert_eq!(p.email, "samir@example.com");
        assert_eq!(p.category, BoothCategory::FoodTruck);
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(BoothPurchaseIn, &str)> = vec![
            (
                BoothPurchaseIn {
                    business_name: " ".into(),
                    ..input()
                },
                "business_name",
            ),
            (
                BoothPurchaseIn {
                    booth_name: String::new(),
                    ..input()
                },
                "booth_name",
            ),
            (
                BoothPurchaseIn {
                    category: "tent".into(),
                    ..input()
                },
                "category",
            ),
            (
                BoothPurchaseIn {
                    contact_name: "a\u{7}".into(),
                    ..input()
                },
                "contact_name",
            ),
            (
                BoothPurchaseIn {
                    phone: "call me".into(),
                    ..input()
                },
                "phone",
            ),
            (
                BoothPurchaseIn {
                    description: "x".repeat(1001),
                    ..input()
                },
                "description",
            ),
        ];
        for (bad, name) in cases {
            let err = validate(&bad, &[booth_type()], Utc::now()).unwrap_err();
            assert!(err.to_string().starts_with(name), "{name}: {err}");
        }
        let err = validate(
            &BoothPurchaseIn {
                category: "bazaar".into(),
                ..input()
            },
            &[booth_type()],
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(err, VendorError::NoBoothType(_)), "{err}");
    }

    #[test]
    fn booth_codes_are_short_and_plain() {
        assert_eq!(booth_code(" b-12 ").unwrap(), "B-12");
        assert!(booth_code("").is_err());
        assert!(booth_code("B 12").is_err());
        assert!(booth_code(&"B".repeat(17)).is_err());
    }
}
