//! Vendors: buying a booth (validation, the order through the same payment path as every
//! order, the vendor profile made automatically, the booth's metadata kept with the order),
//! which vendor wording a confirmation gets (the words are `domain::email`'s), and what
//! organizers do with booths — location codes, assignment to a purchase, staff passes whose
//! signed claims carry the booth.
//!
//! What the gate shows for a vendor pass ("Falafel King · Booth B-12") is composed by the
//! store when the change feed is read (`store/sync_sql.rs`), so it follows assignments.
//! Vendor tickets are never transferable: the booth ticket types are created so, and staff
//! passes are of the booth's own type. The HTTP routes are `http::vendors`.

use std::num::NonZeroU16;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::{
    BoothId, Claims, DayMask, EventId, Revision, TicketId, TicketSigner, TicketTypeId, ZoneMask,
};
use utoipa::ToSchema;

use crate::app::orders::{self, OrderError, OrderRequest};
use crate::app::{AppError, Services};
use crate::domain::email::{Wording, booth_wording, staff_wording};
use crate::domain::i18n::Lang;
use crate::store::{
    BoothCategory, Email, IdempotencyKey, NewItem, NewOrder, NewTicket, NewVendorPurchase, Order,
    Payment, Store, StoreError, TicketKind, TicketType, TicketView,
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
    Provider(#[from] crate::app::payments::ProviderError),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Randomness failed.
    #[error(transparent)]
    Keys(#[from] crate::app::keys::KeyError),
    /// The disk is below its free-space floor: nothing was sold.
    #[error(transparent)]
    NoRoom(#[from] crate::app::storage::NoRoom),
    /// The buyer's address or client holds as many unpaid orders as it may.
    #[error("too many unpaid orders: try again in {retry_after_secs} seconds")]
    TooManyHolds {
        /// When a hold frees.
        retry_after_secs: u64,
    },
}

impl From<VendorError> for AppError {
    fn from(e: VendorError) -> Self {
        match e {
            VendorError::Invalid(m) => Self::Invalid(m),
            VendorError::NoBoothType(m) => Self::UnknownTicketType(m),
            VendorError::Order(e) => e.into(),
            VendorError::Provider(e) => {
                tracing::warn!(error = %e, "creating a checkout session failed");
                Self::PaymentUnavailable
            }
            VendorError::Store(e) => e.into(),
            VendorError::Keys(e) => Self::Internal(e.to_string()),
            VendorError::NoRoom(e) => e.into(),
            VendorError::TooManyHolds { retry_after_secs } => {
                Self::TooManyHolds { retry_after_secs }
            }
        }
    }
}

/// `POST /api/v1/vendor-booths` body (and the booth form's fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BoothPurchaseIn {
    /// The business, as visitors and gate staff will see it: "Falafel King".
    #[schema(schema_with = orders::person_name_schema)]
    pub business_name: String,
    /// The vendor's name for the booth: "Falafel King's truck".
    #[schema(schema_with = orders::person_name_schema)]
    pub booth_name: String,
    /// `bazaar`, `food_truck` or `food_booth`: picks the booth ticket type.
    #[schema(pattern = r"^\s*(bazaar|food_truck|food_booth)\s*$")]
    pub category: String,
    /// The person to call.
    #[schema(schema_with = orders::person_name_schema)]
    pub contact_name: String,
    /// Their phone number: 7 to 15 digits, spaces, `+ - ( )` and dots.
    #[schema(max_length = 32, pattern = r"^[ +\-().]*([0-9][ +\-().]*){7,15}$")]
    pub phone: String,
    /// Where the confirmation goes; also the vendor profile's key.
    #[schema(schema_with = orders::email_schema)]
    pub email: String,
    /// What they sell (up to 1000 characters).
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// A booth ticket type id, when an event has several of a category (optional).
    #[serde(default)]
    pub ticket_type: Option<i64>,
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
    let email = Email::new(&field("email", &input.email, 254, true)?).into_string();
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
    state: &Services,
    input: &BoothPurchaseIn,
    idempotency: Option<IdempotencyKey>,
    client: &crate::app::attempts::Client,
    lang: Lang,
    now: DateTime<Utc>,
) -> Result<Purchased, VendorError> {
    state.storage.ensure_room()?;
    let types = state.store.ticket_types().await?;
    let (purchase, tt) = validate(input, &types, now)?;
    // The booth ticket's holder is the contact person; the business goes in the detail.
    let request = OrderRequest {
        email: purchase.email.clone(),
        name: purchase.contact_name.clone(),
        items: vec![(tt.id, 1)],
        idempotency,
        lang,
    };
    if let Some(provider) = state.payments.provider().cloned() {
        let started =
            crate::app::payments::start_checkout(state, provider.as_ref(), &request, client, now)
                .await
                .map_err(|e| match e {
                    crate::app::payments::CheckoutError::Order(e) => VendorError::Order(e),
                    crate::app::payments::CheckoutError::TooManyHolds { retry_after_secs } => {
                        VendorError::TooManyHolds { retry_after_secs }
                    }
                    crate::app::payments::CheckoutError::Provider(e) => VendorError::Provider(e),
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
    state: &Services,
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
        idempotency: None,
        // The passes are the vendor's: written in the language the booth was bought in.
        lang: store
            .order(purchase.order_id)
            .await?
            .map_or_else(|| "en".to_owned(), |o| o.lang),
    };
    store.insert_staff_passes(booth_id, &order).await?;
    state.wake.notify_one();
    // In the order the holders were given (ids are random).
    let mut passes = store.order_tickets(id).await?;
    passes.sort_by_key(|t| holders.iter().position(|h| *h == t.holder_name));
    Ok(passes)
}

/// The vendor's words for a booth order or a staff pass order, in the order's language;
/// `None` for other orders.
pub async fn vendor_wording(
    store: &dyn Store,
    order: &Order,
    tickets: &[TicketView],
) -> Result<Option<Wording>, StoreError> {
    if !tickets.iter().any(|t| t.kind == TicketKind::VendorBooth) {
        return Ok(None);
    }
    let lang = crate::app::email::order_lang(order);
    let event = tickets.first().map_or_else(
        || crate::domain::i18n::message(lang, "mail-your-event", &[]),
        |t| t.event.name.clone(),
    );
    let number = crate::domain::render::order_number(order.id);
    if let Some(p) = store.vendor_purchase(order.id).await? {
        return Ok(Some(booth_wording(lang, &p, &event, &number, &order.name)));
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
        lang,
        booth,
        &event,
        &order.name,
        tickets.len(),
    )))
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
