//! What a holder does with a ticket: who may see it (its holder's account, its per-revision
//! link, or the order's token while the buyer still holds it), transferring it to another
//! person and upgrading it to another pass. Both changes sign a new revision and revoke the
//! old code: the feed carries the new revision, with its cause, to every gate.

use chrono::Utc;
use tessera_core::{Claims, DayMask, EventId, Revision, TicketId, TicketTypeId, ZoneMask};

use crate::api::{ApiError, AppState};
use crate::auth::{CurrentUser, constant_time_eq, normalize_email};
use crate::keys::MasterKey;
use crate::orders::{random_id, token_hash, token_matches};
use crate::store::{Payment, TicketKind, TicketTransfer, TicketUpgrade, TicketView};

/// The link token of one revision of a ticket: a transfer recipient's email carries it; a
/// newer revision makes it worthless.
pub fn ticket_token(master: &MasterKey, ticket_id: i64, revision: i64) -> String {
    let mut data = ticket_id.to_be_bytes().to_vec();
    data.extend_from_slice(&revision.to_be_bytes());
    master.derive_token("ticket-link", &data)
}

/// The page of one ticket, with its link token.
pub fn ticket_page_url(base: &str, master: &MasterKey, t: &TicketView) -> String {
    format!(
        "{base}/tickets/{}?token={}",
        t.id,
        ticket_token(master, t.id, t.revision)
    )
}

/// Loads a ticket for a request that may see it: its holder logged in with the verified
/// address, the current revision's link token, or the order's access token while the buyer
/// still holds the ticket. Anyone else gets 403, and an unknown id 404.
pub async fn ticket_access(
    state: &AppState,
    user: Option<&CurrentUser>,
    token: Option<&str>,
    ticket_id: i64,
) -> Result<TicketView, ApiError> {
    let ticket = state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket {ticket_id}")))?;
    if let Some(user) = user
        && user.verified_email().is_some()
        && ticket.holder_email.as_deref() == user.verified_email()
    {
        return Ok(ticket);
    }
    let Some(token) = token else {
        return Err(if user.is_some() {
            ApiError::Forbidden
        } else {
            ApiError::Unauthorized
        });
    };
    let link = ticket_token(&state.master, ticket.id, ticket.revision);
    if constant_time_eq(link.as_bytes(), token.as_bytes()) {
        return Ok(ticket);
    }
    if let Some(order) = state.store.order(ticket.order_id).await?
        && token_matches(token, &order.token_hash)
        && ticket
            .holder_email
            .as_deref()
            .is_none_or(|h| h == normalize_email(&order.email))
    {
        return Ok(ticket);
    }
    Err(ApiError::Forbidden)
}

fn claims_of(
    t: &TicketView,
    ticket_type: i64,
    days: u16,
    zones: u16,
    revision: i64,
    issued_at: u32,
) -> Result<Claims, ApiError> {
    let corrupt = |what: &str| ApiError::Internal(format!("ticket {}: {what} out of range", t.id));
    Ok(Claims {
        event: EventId(u32::try_from(t.event.id).map_err(|_| corrupt("event"))?),
        ticket: TicketId(u64::try_from(t.id).map_err(|_| corrupt("id"))?),
        ticket_type: TicketTypeId(u16::try_from(ticket_type).map_err(|_| corrupt("type"))?),
        revision: Revision(
            u16::try_from(revision).map_err(|_| {
                ApiError::Conflict(format!("ticket {} cannot be changed again", t.id))
            })?,
        ),
        days: DayMask(days),
        zones: ZoneMask(zones),
        booth: t
            .booth
            .and_then(|b| u16::try_from(b).ok())
            .and_then(std::num::NonZeroU16::new)
            .map(tessera_core::BoothId),
        issued_at,
    })
}

/// The ticket a logged-in holder wants to change: it exists, is theirs (verified address),
/// is valid, and is at the revision they saw.
async fn held_ticket(
    state: &AppState,
    user: &CurrentUser,
    ticket_id: i64,
    expected_revision: Option<i64>,
) -> Result<(TicketView, String), ApiError> {
    let email = user.verified_email().ok_or_else(|| {
        ApiError::Conflict("confirm your email address first (see the email we sent)".into())
    })?;
    let ticket = state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("ticket {ticket_id}")))?;
    if ticket.holder_email.as_deref() != Some(email) {
        return Err(ApiError::Forbidden);
    }
    if ticket.status != "valid" {
        return Err(ApiError::Conflict(format!(
            "ticket {ticket_id} is {} and cannot be changed",
            ticket.status
        )));
    }
    if let Some(seen) = expected_revision
        && seen != ticket.revision
    {
        return Err(ApiError::Conflict(format!(
            "ticket {ticket_id} changed since it was shown; reload and try again"
        )));
    }
    Ok((ticket, email.to_owned()))
}

fn now_u32() -> Result<u32, ApiError> {
    u32::try_from(Utc::now().timestamp())
        .map_err(|_| ApiError::Internal("clock out of range".into()))
}

/// Gives a ticket to another person: a new revision for the recipient, the old code
/// revoked, both people emailed. Vendor tickets and passes of non-transferable types
/// refuse; so does a transfer to oneself.
pub async fn transfer(
    state: &AppState,
    user: &CurrentUser,
    ticket_id: i64,
    to_email: &str,
    to_name: &str,
    expected_revision: Option<i64>,
) -> Result<TicketView, ApiError> {
    let to_email = normalize_email(to_email);
    let to_name = to_name.trim();
    crate::orders::validate_contact(&to_email, to_name).map_err(ApiError::from)?;
    let (ticket, from_email) = held_ticket(state, user, ticket_id, expected_revision).await?;
    if ticket.kind == TicketKind::VendorBooth || ticket.booth.is_some() {
        return Err(ApiError::NotTransferable(
            "vendor tickets cannot be transferred".into(),
        ));
    }
    if !ticket.transferable {
        return Err(ApiError::NotTransferable(format!(
            "{} tickets cannot be transferred",
            ticket.type_name
        )));
    }
    if to_email == from_email {
        return Err(ApiError::Invalid(
            "this ticket is already yours: enter the other person's email".into(),
        ));
    }
    let issued_at = now_u32()?;
    let revision = ticket.revision + 1;
    let claims = claims_of(
        &ticket,
        ticket.ticket_type_id,
        ticket.days_mask,
        ticket.zones,
        revision,
        issued_at,
    )?;
    let keys = state.keys.read().await.clone();
    let signer = keys.signer();
    state
        .store
        .transfer_ticket(&TicketTransfer {
            ticket_id,
            expected_revision: ticket.revision,
            from_email,
            to_email,
            to_name: to_name.to_owned(),
            qr_text: signer.sign(&claims),
            key_id: i64::from(signer.id().0),
            issued_at: i64::from(issued_at),
            email_due_ms: Utc::now().timestamp_millis(),
        })
        .await?;
    state.wake.notify_one();
    tracing::info!(ticket = ticket_id, "ticket transferred");
    state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("ticket {ticket_id} vanished")))
}

/// The passes a ticket can be upgraded to: same event and currency, a pass, dearer, and
/// valid on every day the ticket is.
pub async fn upgrade_options(
    state: &AppState,
    ticket: &TicketView,
) -> Result<Vec<(crate::store::TicketType, i64)>, ApiError> {
    let types = state.store.ticket_types().await?;
    let Some(current) = types
        .iter()
        .find(|t| t.id == ticket.ticket_type_id)
        .cloned()
    else {
        return Ok(Vec::new());
    };
    Ok(types
        .into_iter()
        .filter(|t| {
            t.event_id == current.event_id
                && t.kind == TicketKind::Pass
                && t.currency == current.currency
                && t.price_cents > current.price_cents
                && t.days_mask & ticket.days_mask == ticket.days_mask
                && t.remaining() > 0
        })
        .map(|t| {
            let difference = t.price_cents - current.price_cents;
            (t, difference)
        })
        .collect())
}

/// Upgrades a held pass to a dearer one, paying the difference. In demo mode the
/// difference is settled at once; with a card provider configured, upgrades are refused
/// until the provider path for them exists (the order and capacity logic is shared).
pub async fn upgrade(
    state: &AppState,
    user: &CurrentUser,
    ticket_id: i64,
    to_type: i64,
    expected_revision: Option<i64>,
) -> Result<(TicketView, i64), ApiError> {
    let (ticket, holder_email) = held_ticket(state, user, ticket_id, expected_revision).await?;
    if ticket.kind != TicketKind::Pass || ticket.booth.is_some() {
        return Err(ApiError::Invalid("only passes can be upgraded".into()));
    }
    let options = upgrade_options(state, &ticket).await?;
    let Some((target, difference)) = options.into_iter().find(|(t, _)| t.id == to_type) else {
        return Err(ApiError::Invalid(format!(
            "ticket {ticket_id} cannot be upgraded to ticket type {to_type}: pick a dearer pass of the same event"
        )));
    };
    if state.payments.provider().is_some() {
        return Err(ApiError::PaymentUnavailable);
    }
    let issued_at = now_u32()?;
    let revision = ticket.revision + 1;
    let claims = claims_of(
        &ticket,
        target.id,
        target.days_mask,
        target.zones,
        revision,
        issued_at,
    )?;
    let keys = state.keys.read().await.clone();
    let signer = keys.signer();
    let order_id = random_id().map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = Utc::now();
    state
        .store
        .upgrade_ticket(&TicketUpgrade {
            ticket_id,
            expected_revision: ticket.revision,
            holder_email,
            from_type: ticket.ticket_type_id,
            to_type: target.id,
            days_mask: target.days_mask,
            zones: target.zones,
            qr_text: signer.sign(&claims),
            key_id: i64::from(signer.id().0),
            issued_at: i64::from(issued_at),
            order_id,
            order_token_hash: token_hash(&state.master.order_token(order_id)),
            payment: Payment::Demo.as_str().to_owned(),
            amount_cents: difference,
            currency: target.currency.clone(),
            user_id: Some(user.user.id),
            name: user.user.name.clone(),
            email_due_ms: now.timestamp_millis(),
            now: now.timestamp(),
        })
        .await?;
    state.wake.notify_one();
    tracing::info!(ticket = ticket_id, order = order_id, "ticket upgraded");
    let ticket = state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("ticket {ticket_id} vanished")))?;
    Ok((ticket, order_id))
}
