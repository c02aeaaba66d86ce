//! What a holder does with a ticket: who may see it (its holder's account, its per-revision
//! link, or the order's token while the buyer still holds it), transferring it to another
//! person and upgrading it to another pass; and the organizer's reissue of every ticket under
//! a new key. Each change signs a new revision and revokes the old code: the feed carries the
//! new revision, with its cause, to every gate.

use chrono::Utc;
use tessera_core::{Claims, DayMask, EventId, Revision, TicketId, TicketTypeId, ZoneMask};

use crate::app::accounts::{CurrentUser, constant_time_eq};
use crate::app::keys::MasterKey;
use crate::app::orders::{random_id, token_hash, token_matches};
use crate::app::{AppError, Services};
use crate::domain::i18n::Lang;
use crate::domain::pricing::upgrade_price;
use crate::store::{
    Email, Payment, TicketKind, TicketReissue, TicketStatus, TicketTransfer, TicketUpgrade,
    TicketView, UpgradeRevision,
};

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
    state: &Services,
    user: Option<&CurrentUser>,
    token: Option<&str>,
    ticket_id: i64,
) -> Result<TicketView, AppError> {
    let ticket = state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("ticket {ticket_id}")))?;
    if let Some(user) = user
        && user.verified_email().is_some()
        && ticket.holder_email.as_deref() == user.verified_email()
    {
        return Ok(ticket);
    }
    let Some(token) = token else {
        return Err(if user.is_some() {
            AppError::Forbidden
        } else {
            AppError::Unauthorized
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
            .is_none_or(|h| Email::new(&order.email) == h)
    {
        // The buyer's link, while it is open (not revoked, not expired after the event).
        crate::app::orders::open_with_token(state, &order, token, Utc::now()).await?;
        return Ok(ticket);
    }
    Err(AppError::Forbidden)
}

fn claims_of(
    t: &TicketView,
    ticket_type: i64,
    days: u16,
    zones: u16,
    revision: i64,
    issued_at: u32,
) -> Result<Claims, AppError> {
    let corrupt = |what: &str| AppError::Internal(format!("ticket {}: {what} out of range", t.id));
    Ok(Claims {
        event: EventId(u32::try_from(t.event.id).map_err(|_| corrupt("event"))?),
        ticket: TicketId(u64::try_from(t.id).map_err(|_| corrupt("id"))?),
        ticket_type: TicketTypeId(u16::try_from(ticket_type).map_err(|_| corrupt("type"))?),
        revision: Revision(
            u16::try_from(revision).map_err(|_| {
                AppError::Conflict(format!("ticket {} cannot be changed again", t.id))
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
    state: &Services,
    user: &CurrentUser,
    ticket_id: i64,
    expected_revision: Option<i64>,
) -> Result<(TicketView, String), AppError> {
    let email = user.verified_email().ok_or_else(|| {
        AppError::Conflict("confirm your email address first (see the email we sent)".into())
    })?;
    let ticket = state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("ticket {ticket_id}")))?;
    if ticket.holder_email.as_deref() != Some(email) {
        return Err(AppError::Forbidden);
    }
    if ticket.status != TicketStatus::Valid {
        return Err(AppError::Conflict(format!(
            "ticket {ticket_id} is {} and cannot be changed",
            ticket.status
        )));
    }
    if let Some(seen) = expected_revision
        && seen != ticket.revision
    {
        return Err(AppError::Conflict(format!(
            "ticket {ticket_id} changed since it was shown; reload and try again"
        )));
    }
    Ok((ticket, email.to_owned()))
}

fn now_u32() -> Result<u32, AppError> {
    u32::try_from(Utc::now().timestamp())
        .map_err(|_| AppError::Internal("clock out of range".into()))
}

/// Gives a ticket to another person: a new revision for the recipient, the old code
/// revoked, both people emailed. Vendor tickets and passes of non-transferable types
/// refuse; so does a transfer to oneself.
pub async fn transfer(
    state: &Services,
    user: &CurrentUser,
    ticket_id: i64,
    to_email: &str,
    to_name: &str,
    expected_revision: Option<i64>,
) -> Result<TicketView, AppError> {
    let to_email = Email::new(to_email);
    let to_name = to_name.trim();
    crate::app::orders::validate_contact(to_email.as_str(), to_name).map_err(AppError::from)?;
    let (ticket, from_email) = held_ticket(state, user, ticket_id, expected_revision).await?;
    if ticket.kind == TicketKind::VendorBooth || ticket.booth.is_some() {
        return Err(AppError::NotTransferable(
            "vendor tickets cannot be transferred".into(),
        ));
    }
    if !ticket.transferable {
        return Err(AppError::NotTransferable(format!(
            "{} tickets cannot be transferred",
            ticket.type_name
        )));
    }
    if to_email == from_email {
        return Err(AppError::Invalid(
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
            to_email: to_email.into_string(),
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
        .ok_or_else(|| AppError::Internal(format!("ticket {ticket_id} vanished")))
}

/// What `reissue_all` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Reissued {
    /// The key the new codes are signed with.
    pub key_id: i64,
    /// Tickets that got a new code (and their holders an email).
    pub reissued: usize,
    /// Tickets that changed while being reissued (transferred, voided): each already has a
    /// code from the current key or none; run again to be sure.
    pub changed: usize,
}

/// The key-compromise drill's middle step: every valid ticket that another key signed gets
/// its next revision signed by the current key, and its holder an email with the new code;
/// the feed carries the revision to the gates, which then refuse the old code as reissued.
/// Run after `keys rotate` and before `keys retire`; running it again reissues only what is
/// still under an old key.
pub async fn reissue_all(state: &Services) -> Result<Reissued, AppError> {
    let keys = state.keys.read().await.clone();
    let signer = keys.signer();
    let key_id = i64::from(signer.id().0);
    let mut done = Reissued {
        key_id,
        reissued: 0,
        changed: 0,
    };
    for ticket_id in state.store.tickets_not_signed_by(key_id).await? {
        let Some(ticket) = state.store.ticket(ticket_id).await? else {
            done.changed += 1;
            continue;
        };
        let issued_at = now_u32()?;
        let claims = claims_of(
            &ticket,
            ticket.ticket_type_id,
            ticket.days_mask,
            ticket.zones,
            ticket.revision + 1,
            issued_at,
        )?;
        let written = state
            .store
            .reissue_ticket(&TicketReissue {
                ticket_id,
                expected_revision: ticket.revision,
                qr_text: signer.sign(&claims),
                key_id,
                issued_at: i64::from(issued_at),
                email_due_ms: Utc::now().timestamp_millis(),
            })
            .await?;
        if written {
            done.reissued += 1;
        } else {
            done.changed += 1;
        }
    }
    state.wake.notify_one();
    tracing::info!(
        key = key_id,
        reissued = done.reissued,
        changed = done.changed,
        "tickets reissued"
    );
    Ok(done)
}

/// The passes a ticket can be upgraded to: same event and currency, a pass, dearer, and
/// valid on every day the ticket is.
pub async fn upgrade_options(
    state: &Services,
    ticket: &TicketView,
) -> Result<Vec<(crate::store::TicketType, i64)>, AppError> {
    let types = state.store.ticket_types().await?;
    Ok(types
        .iter()
        .filter(|t| t.remaining() > 0)
        .filter_map(|t| upgrade_price(ticket, &types, t.id))
        .collect())
}

/// A started upgrade: done at once (demo), or waiting for its payment page.
#[derive(Debug, Clone)]
pub struct UpgradeStarted {
    /// The ticket (at its new revision when done, unchanged while the payment is pending).
    pub ticket: TicketView,
    /// The order that pays the difference.
    pub order_id: i64,
    /// Where to pay, when a card provider takes the money.
    pub checkout_url: Option<String>,
}

async fn sign_upgrade(
    state: &Services,
    ticket: &TicketView,
    holder_email: &str,
    target: &crate::store::TicketType,
    issued_at: u32,
) -> Result<UpgradeRevision, AppError> {
    let claims = claims_of(
        ticket,
        target.id,
        target.days_mask,
        target.zones,
        ticket.revision + 1,
        issued_at,
    )?;
    let keys = state.keys.read().await.clone();
    let signer = keys.signer();
    Ok(UpgradeRevision {
        ticket_id: ticket.id,
        expected_revision: ticket.revision,
        holder_email: holder_email.to_owned(),
        from_type: ticket.ticket_type_id,
        to_type: target.id,
        days_mask: target.days_mask,
        zones: target.zones,
        qr_text: signer.sign(&claims),
        key_id: i64::from(signer.id().0),
        issued_at: i64::from(issued_at),
    })
}

/// The new revision a paid upgrade order writes, signed now; `None` when the ticket no
/// longer qualifies (it changed hands, is no longer valid, or is not upgradable to the
/// ordered type any more): the payment is then refunded.
pub async fn upgrade_revision(
    state: &Services,
    order: &crate::store::Order,
    ticket_id: i64,
    to_type: i64,
    issued_at: u32,
) -> Result<Option<UpgradeRevision>, AppError> {
    let Some(ticket) = state.store.ticket(ticket_id).await? else {
        return Ok(None);
    };
    let holder = Email::new(&order.email);
    if ticket.status != TicketStatus::Valid
        || ticket.holder_email.as_deref() != Some(holder.as_str())
    {
        return Ok(None);
    }
    let types = state.store.ticket_types().await?;
    let Some((target, difference)) = upgrade_price(&ticket, &types, to_type) else {
        return Ok(None);
    };
    if difference != order.total_cents {
        return Ok(None);
    }
    Ok(Some(
        sign_upgrade(state, &ticket, holder.as_str(), &target, issued_at).await?,
    ))
}

/// Upgrades a held pass to a dearer one, paying the difference through the same path as
/// any order: in demo mode settled at once; with a card provider, a pending order holds the
/// new type's place and the upgrade happens when the payment is confirmed.
pub async fn upgrade(
    state: &Services,
    user: &CurrentUser,
    ticket_id: i64,
    to_type: i64,
    expected_revision: Option<i64>,
    lang: Lang,
) -> Result<UpgradeStarted, AppError> {
    let (ticket, holder_email) = held_ticket(state, user, ticket_id, expected_revision).await?;
    if ticket.kind != TicketKind::Pass || ticket.booth.is_some() {
        return Err(AppError::Invalid("only passes can be upgraded".into()));
    }
    let types = state.store.ticket_types().await?;
    let Some((target, difference)) = upgrade_price(&ticket, &types, to_type) else {
        return Err(AppError::Invalid(format!(
            "ticket {ticket_id} cannot be upgraded to ticket type {to_type}: pick a dearer pass of the same event"
        )));
    };
    let order_id = random_id().map_err(|e| AppError::Internal(e.to_string()))?;
    let access_token = state.master.order_token(order_id);
    let now = Utc::now();
    if let Some(provider) = state.payments.provider().cloned() {
        let order = crate::store::NewOrder {
            id: order_id,
            email: holder_email,
            name: user.user.name.clone(),
            payment: Payment::Stripe,
            total_cents: difference,
            currency: target.currency.clone(),
            token_hash: token_hash(&access_token),
            created_at: now.timestamp(),
            items: vec![crate::store::NewItem {
                ticket_type_id: target.id,
                quantity: 1,
                unit_price_cents: difference,
            }],
            tickets: Vec::new(),
            email_due_ms: now.timestamp_millis(),
            upgrade_ticket_id: Some(ticket_id),
            upgrade_from_type: Some(ticket.ticket_type_id),
            idempotency: None,
            lang: lang.code().to_owned(),
        };
        let lines = vec![crate::app::payments::CheckoutLine {
            name: format!("Upgrade to {}", target.name),
            unit_amount_cents: difference,
            quantity: 1,
        }];
        let url = crate::app::payments::open_checkout(
            state,
            provider.as_ref(),
            &order,
            &access_token,
            lines,
            now,
        )
        .await
        .map_err(|e| match e {
            crate::app::payments::CheckoutError::Order(e) => AppError::from(e),
            crate::app::payments::CheckoutError::Provider(e) => {
                tracing::warn!(error = %e, "creating an upgrade checkout failed");
                AppError::PaymentUnavailable
            }
            // Upgrades are not counted as holds (one ticket the holder owns, by account).
            crate::app::payments::CheckoutError::TooManyHolds { retry_after_secs } => {
                AppError::TooManyHolds { retry_after_secs }
            }
        })?;
        state.store.set_order_user(order_id, user.user.id).await?;
        return Ok(UpgradeStarted {
            ticket,
            order_id,
            checkout_url: Some(url),
        });
    }
    let issued_at = now_u32()?;
    let revision = sign_upgrade(state, &ticket, &holder_email, &target, issued_at).await?;
    state
        .store
        .upgrade_ticket(&TicketUpgrade {
            revision,
            order_id,
            order_token_hash: token_hash(&access_token),
            payment: Payment::Demo.as_str().to_owned(),
            amount_cents: difference,
            currency: target.currency.clone(),
            user_id: Some(user.user.id),
            name: user.user.name.clone(),
            email_due_ms: now.timestamp_millis(),
            now: now.timestamp(),
            lang: lang.code().to_owned(),
        })
        .await?;
    state.wake.notify_one();
    tracing::info!(ticket = ticket_id, order = order_id, "ticket upgraded");
    let ticket = state
        .store
        .ticket(ticket_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("ticket {ticket_id} vanished")))?;
    Ok(UpgradeStarted {
        ticket,
        order_id,
        checkout_url: None,
    })
}
