//! The catalog: the demo festival (seeded idempotently) and the rules an event or ticket
//! type must satisfy before it is stored. Storage is the store's; prices and capacity
//! accounting at sale time are `orders`'.

use chrono::{DateTime, Days, NaiveDate, Utc};
use tessera_core::{DayMask, Tz};

use crate::store::{NewEvent, NewTicketType, Store, StoreError, TicketKind};

/// The demo festival's name; seeding looks it up by name.
pub const DEMO_EVENT_NAME: &str = "Orange County MENA Festival (demo)";
/// The demo festival's timezone.
pub const DEMO_TIMEZONE: &str = "America/Los_Angeles";
/// General admission (zone 0).
pub const ZONE_GENERAL: u16 = 0b01;
/// The vendor area (zone 1).
pub const ZONE_VENDOR: u16 = 0b10;

/// Why an event or ticket type is refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// An input is invalid; the message says which and why.
    #[error("{0}")]
    Invalid(String),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `count` consecutive dates starting on `start`.
pub fn consecutive_days(start: NaiveDate, count: u32) -> Vec<NaiveDate> {
    (0..count)
        .filter_map(|i| start.checked_add_days(Days::new(u64::from(i))))
        .collect()
}

/// Checks an event before it is stored.
pub fn validate_event(event: &NewEvent) -> Result<(), CatalogError> {
    if event.name.trim().is_empty() {
        return Err(CatalogError::Invalid("event name is empty".into()));
    }
    event
        .timezone
        .parse::<Tz>()
        .map_err(|_| CatalogError::Invalid(format!("unknown timezone {:?}", event.timezone)))?;
    tessera_core::EventConfig::new(
        tessera_core::EventId(0),
        Tz::UTC,
        event.days.clone(),
        tessera_core::EntryPolicy::OncePerDay,
    )
    .map_err(|e| CatalogError::Invalid(e.to_string()))?;
    Ok(())
}

/// Checks a ticket type against its event before it is stored.
pub fn validate_ticket_type(tt: &NewTicketType, event_days: usize) -> Result<(), CatalogError> {
    if tt.name.trim().is_empty() {
        return Err(CatalogError::Invalid("ticket type name is empty".into()));
    }
    if tt.price_cents < 0 || tt.capacity < 0 {
        return Err(CatalogError::Invalid(
            "price and capacity must not be negative".into(),
        ));
    }
    if tt.currency.len() != 3 || !tt.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(CatalogError::Invalid(format!(
            "currency {:?} is not an ISO 4217 code like USD",
            tt.currency
        )));
    }
    if tt.days_mask == 0 || DayMask(tt.days_mask).days().any(|d| d >= event_days) {
        return Err(CatalogError::Invalid(format!(
            "valid days must be among the event's {event_days} days"
        )));
    }
    if tt.zones == 0 {
        return Err(CatalogError::Invalid("a ticket type needs a zone".into()));
    }
    Ok(())
}

/// Creates an event after validating it.
pub async fn create_event(store: &dyn Store, event: &NewEvent) -> Result<i64, CatalogError> {
    validate_event(event)?;
    Ok(store.create_event(event).await?)
}

/// Creates a ticket type after validating it against its event.
pub async fn create_ticket_type(
    store: &dyn Store,
    tt: &NewTicketType,
) -> Result<i64, CatalogError> {
    let events = store.events().await?;
    let event = events
        .iter()
        .find(|e| e.id == tt.event_id)
        .ok_or_else(|| CatalogError::Invalid(format!("no event with id {}", tt.event_id)))?;
    validate_ticket_type(tt, event.days.len())?;
    Ok(store.create_ticket_type(tt).await?)
}

/// The demo festival's three days: today and the next two, in its timezone.
pub fn demo_days(now: DateTime<Utc>) -> Vec<NaiveDate> {
    let tz: Tz = DEMO_TIMEZONE.parse().unwrap_or(Tz::UTC);
    consecutive_days(now.with_timezone(&tz).date_naive(), 3)
}

/// Seeds the demo festival unless it exists; if it exists but today is not one of its days
/// (the demo was started on an earlier day), its days move to start today so its tickets
/// scan today. Returns the event id. Safe to run from several processes at once.
pub async fn seed_demo(store: &dyn Store, now: DateTime<Utc>) -> Result<i64, CatalogError> {
    let days = demo_days(now);
    let today = days.first().copied();
    if let Some(event) = store
        .events()
        .await?
        .into_iter()
        .find(|e| e.name == DEMO_EVENT_NAME)
    {
        if today.is_some_and(|t| !event.days.contains(&t)) {
            store.set_event_days(event.id, &days).await?;
        }
        ensure_demo_types(store, event.id).await?;
        return Ok(event.id);
    }
    let event = NewEvent {
        name: DEMO_EVENT_NAME.to_owned(),
        venue: "Costa Mesa, California".to_owned(),
        timezone: DEMO_TIMEZONE.to_owned(),
        days,
        gates: vec![
            ("Main Gate".to_owned(), ZONE_GENERAL),
            ("North Gate".to_owned(), ZONE_GENERAL),
            ("Vendor Gate".to_owned(), ZONE_VENDOR),
        ],
        created_at: now.timestamp(),
    };
    let id = match store.create_event(&event).await {
        Ok(id) => id,
        // Another process seeded it between our look-up and our insert.
        Err(StoreError::Conflict(_)) => store
            .events()
            .await?
            .into_iter()
            .find(|e| e.name == DEMO_EVENT_NAME)
            .map(|e| e.id)
            .ok_or_else(|| CatalogError::Invalid("demo event vanished".into()))?,
        Err(e) => return Err(e.into()),
    };
    ensure_demo_types(store, id).await?;
    Ok(id)
}

/// The demo's ticket types: the original festival's products and prices (USD).
///
/// The 2-Day Pass is valid on days 1 and 2 and the 1-Day Pass on day 1: buyers do not pick
/// days in this version, so each pass has one fixed set of days.
pub fn demo_ticket_types(event_id: i64) -> Vec<NewTicketType> {
    let pass = |name: &str, price: i64, days: u16| NewTicketType {
        event_id,
        name: name.to_owned(),
        kind: TicketKind::Pass,
        price_cents: price,
        currency: "USD".to_owned(),
        capacity: 5000,
        days_mask: days,
        zones: ZONE_GENERAL,
        transferable: true,
    };
    let booth = |name: &str, price: i64, capacity: i64| NewTicketType {
        event_id,
        name: name.to_owned(),
        kind: TicketKind::VendorBooth,
        price_cents: price,
        currency: "USD".to_owned(),
        capacity,
        days_mask: 0b111,
        zones: ZONE_GENERAL | ZONE_VENDOR,
        transferable: false,
    };
    vec![
        pass("3-Day Pass", 3500, 0b111),
        pass("2-Day Pass", 2500, 0b011),
        pass("1-Day Pass", 1500, 0b001),
        booth("Bazaar Vendor Booth", 50_000, 60),
        booth("Food Truck Booth", 80_000, 20),
        booth("Food Booth", 60_000, 30),
    ]
}

async fn ensure_demo_types(store: &dyn Store, event_id: i64) -> Result<(), CatalogError> {
    let existing = store.ticket_types().await?;
    for tt in demo_ticket_types(event_id) {
        if existing
            .iter()
            .any(|e| e.event_id == event_id && e.name == tt.name)
        {
            continue;
        }
        match store.create_ticket_type(&tt).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The event a console request means: the one given (which must exist), or else the
/// current one ([`crate::domain::catalog::current_event`]).
pub async fn event_id(
    store: &dyn Store,
    given: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64, crate::app::AppError> {
    let events = store.events().await?;
    match given {
        Some(id) if events.iter().any(|e| e.id == id) => Ok(id),
        Some(id) => Err(crate::app::AppError::NotFound(format!("event {id}"))),
        None => crate::domain::catalog::current_event(&events, now)
            .ok_or_else(|| crate::app::AppError::NotFound("event".into())),
    }
}
