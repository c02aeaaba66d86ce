//! Pricing, from ticket type and order rows with no IO: what an order's lines cost (passes
//! and booths alike are priced by their ticket type; a comp costs nothing), what upgrading
//! a pass costs (the difference to a dearer one), and what a ticket was sold for when it is
//! refunded. Validating who buys, signing and storing are `app::orders`.

use std::collections::BTreeMap;

use crate::store::{NewItem, Order, Payment, TicketKind, TicketType, TicketView};

/// Why an order's lines cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// A ticket type id that does not exist.
    #[error("no ticket type with id {0}")]
    UnknownTicketType(i64),
    /// An organizer paused sales of this ticket type (its name).
    #[error("sales of {0:?} are paused by the organizer")]
    SalesPaused(String),
    /// The lines are priced in more than one currency.
    #[error("all items of an order must have the same currency")]
    MixedCurrency,
}

/// An order's priced lines.
#[derive(Debug, Clone)]
pub struct Priced {
    /// One line per ticket type, at its unit price.
    pub items: Vec<NewItem>,
    /// What the order costs: the lines' sum, or 0 for a comp.
    pub total_cents: i64,
    /// The lines' one currency.
    pub currency: String,
}

/// Prices an order's lines (`ticket type id → quantity`) at their types' prices. Paused
/// types are refused, except for comps, which cost nothing.
pub fn price_order(
    lines: &BTreeMap<i64, i64>,
    types: &[TicketType],
    payment: Payment,
) -> Result<Priced, PricingError> {
    let mut currency: Option<&str> = None;
    let mut total_cents = 0i64;
    let mut items = Vec::new();
    for (&type_id, &quantity) in lines {
        let tt = types
            .iter()
            .find(|t| t.id == type_id)
            .ok_or(PricingError::UnknownTicketType(type_id))?;
        if tt.sales_paused && payment != Payment::Comp {
            return Err(PricingError::SalesPaused(tt.name.clone()));
        }
        match currency {
            None => currency = Some(&tt.currency),
            Some(c) if c != tt.currency => return Err(PricingError::MixedCurrency),
            Some(_) => {}
        }
        total_cents += tt.price_cents * quantity;
        items.push(NewItem {
            ticket_type_id: tt.id,
            quantity,
            unit_price_cents: tt.price_cents,
        });
    }
    Ok(Priced {
        items,
        total_cents: if payment == Payment::Comp {
            0
        } else {
            total_cents
        },
        currency: currency.unwrap_or("USD").to_owned(),
    })
}

/// The pass `ticket` can be upgraded to as `to_type`, and the difference to pay: same event
/// and currency, on sale, a pass, dearer, and valid on every day the ticket is. `None` when
/// the ticket does not qualify (booth tickets never do).
pub fn upgrade_price(
    ticket: &TicketView,
    types: &[TicketType],
    to_type: i64,
) -> Option<(TicketType, i64)> {
    let current = types.iter().find(|t| t.id == ticket.ticket_type_id)?;
    let target = types.iter().find(|t| t.id == to_type)?;
    let ok = target.event_id == current.event_id
        && !target.sales_paused
        && target.kind == TicketKind::Pass
        && ticket.booth.is_none()
        && target.currency == current.currency
        && target.price_cents > current.price_cents
        && target.days_mask & ticket.days_mask == ticket.days_mask;
    ok.then(|| (target.clone(), target.price_cents - current.price_cents))
}

/// What a ticket was sold for in its order (`items`): the unit price of the type it had
/// before its first upgrade. What the upgrades cost was paid, and is refunded, by their own
/// orders (`upgrades`, oldest first).
pub fn sold_price(ticket: &TicketView, items: &[NewItem], upgrades: &[Order]) -> i64 {
    let sold_as = upgrades
        .first()
        .and_then(|o| o.upgrade_from_type)
        .unwrap_or(ticket.ticket_type_id);
    items
        .iter()
        .find(|i| i.ticket_type_id == sold_as)
        .map_or(0, |i| i.unit_price_cents)
}

/// What a refund of tickets sold for `sold_cents` returns: a comp was given, and returns
/// nothing.
pub fn refund_amount(payment: Payment, sold_cents: i64) -> i64 {
    if payment == Payment::Comp {
        0
    } else {
        sold_cents
    }
}
