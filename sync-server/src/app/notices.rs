//! The emails of accounts and ticket changes: address verification and password reset
//! (with their signed one-time links), the two notices of a transfer (the giver's and the
//! recipient's, who gets the new QR code), and the upgrade notice. Composed when the outbox
//! worker sends them, from what the database says then, so a ticket that changed hands
//! again meanwhile never mails a code to someone who no longer holds it.

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};

use crate::app::accounts::email_link_token;
use crate::app::email::{EmailError, message_id};
use crate::app::keys::MasterKey;
use crate::app::tickets::ticket_page_url;
use crate::config::Settings;
use crate::domain::render::{self, valid_days};
use crate::store::{OutboxEmail, Store, TicketView};
use crate::store::{OutboxKind, TicketStatus};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The emails of accounts and ticket changes: the outbox kinds this module composes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The address confirmation link.
    VerifyEmail,
    /// The password reset link.
    PasswordReset,
    /// To the giver of a transferred ticket.
    TransferredOut,
    /// The transferred ticket, to its recipient.
    TransferredIn,
    /// The upgraded ticket's new code.
    Upgraded,
    /// Every valid ticket the account holds.
    MyTickets,
}

/// Composes the email of an account or ticket-change outbox row.
pub async fn compose(
    store: &dyn Store,
    settings: &Settings,
    master: &MasterKey,
    row: &OutboxEmail,
    notice: Notice,
) -> Result<Message, EmailError> {
    let base = settings.public_url();
    let ref_id = row.ref_id.unwrap_or_default();
    let message = match notice {
        Notice::VerifyEmail => {
            let link = format!(
                "{base}/account/verify?token={}",
                email_link_token(master, "verify", ref_id)
            );
            plain(
                settings,
                row,
                "Confirm your email address".into(),
                format!(
                    "Hello,\n\nplease confirm that this address is yours: open\n\n{link}\n\n\
                     Once it is confirmed, the tickets bought or received with it appear in \
                     your dashboard. The link works for 7 days, once.\n\n\
                     If you did not create an account, ignore this email.\n"
                ),
            )?
        }
        Notice::PasswordReset => {
            let link = format!(
                "{base}/account/reset?token={}",
                email_link_token(master, "reset", ref_id)
            );
            plain(
                settings,
                row,
                "Reset your password".into(),
                format!(
                    "Hello,\n\nsomeone (hopefully you) asked to reset the password of the \
                     account with this address. To choose a new password, open\n\n{link}\n\n\
                     The link works for one hour, once. If you did not ask for it, ignore \
                     this email: your password stays as it is.\n"
                ),
            )?
        }
        Notice::TransferredOut => {
            let ticket = load(store, ref_id).await?;
            plain(
                settings,
                row,
                format!("Your {} was transferred", ticket.type_name),
                format!(
                    "Hello,\n\nyour ticket {} ({}, {}) now belongs to {}. Its old QR code no \
                     longer opens the gates; the new holder received a new one.\n\n\
                     If you did not do this, contact the organizer at once.\n",
                    ticket.id, ticket.type_name, ticket.event.name, ticket.holder_name
                ),
            )?
        }
        Notice::TransferredIn | Notice::Upgraded => {
            let ticket = load(store, ref_id).await?;
            let held = ticket.holder_email.as_deref() == Some(row.recipient.as_str())
                && ticket.status == TicketStatus::Valid;
            if !held {
                plain(
                    settings,
                    row,
                    format!("About ticket {}", ticket.id),
                    "Hello,\n\nthis ticket changed again before this email went out, and you \
                     no longer hold it. Log in to see the tickets you hold.\n"
                        .into(),
                )?
            } else {
                with_code(settings, master, row, &ticket, &base)?
            }
        }
        Notice::MyTickets => {
            let tickets: Vec<TicketView> = store
                .holder_tickets(&row.recipient)
                .await?
                .into_iter()
                .filter(|t| t.status == TicketStatus::Valid)
                .collect();
            all_tickets(settings, master, row, &tickets, &base)?
        }
    };
    Ok(message)
}

async fn load(store: &dyn Store, id: i64) -> Result<TicketView, EmailError> {
    store
        .ticket(id)
        .await?
        .ok_or_else(|| EmailError::Build(format!("ticket {id} is gone")))
}

fn mailbox(settings: &Settings, row: &OutboxEmail) -> Result<(Mailbox, Mailbox), EmailError> {
    let from: Mailbox = settings
        .email
        .from
        .parse()
        .map_err(|_| EmailError::Address("email.from".into()))?;
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|_| EmailError::Address(format!("recipient of outbox row {}", row.id)))?;
    Ok((from, to))
}

fn plain(
    settings: &Settings,
    row: &OutboxEmail,
    subject: String,
    text: String,
) -> Result<Message, EmailError> {
    let (from, to) = mailbox(settings, row)?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(message_id(row)))
        .header(ContentType::TEXT_PLAIN)
        .body(text)
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// The recipient's or the upgraded ticket, with its QR code inline and a link to it.
fn with_code(
    settings: &Settings,
    master: &MasterKey,
    row: &OutboxEmail,
    t: &TicketView,
    base: &str,
) -> Result<Message, EmailError> {
    let (from, to) = mailbox(settings, row)?;
    let link = ticket_page_url(base, master, t);
    let days = valid_days(t.days_mask, &t.event.days).join(", ");
    let (subject, lead) = if row.kind == OutboxKind::TicketUpgraded {
        (
            format!("Your ticket is now a {}", t.type_name),
            "your upgrade is done. Here is your new QR code: the old one no longer opens the gates."
                .to_owned(),
        )
    } else {
        (
            format!("You received a {} for {}", t.type_name, t.event.name),
            "a ticket was transferred to you. Here is your QR code: show it at the gate."
                .to_owned(),
        )
    };
    let text = format!(
        "Hello {holder},\n\n{lead}\n\n{ty} for {event}, ticket {id}, valid {days}.\n\n\
         Your ticket (QR code and PDF): {link}\n\
         Log in or register with this email address to see it in your dashboard.\n",
        holder = t.holder_name,
        ty = t.type_name,
        event = t.event.name,
        id = t.id,
    );
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <p>Hello {holder},</p><p>{lead}</p>\
         <p><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"QR code of ticket {id}\"></p>\
         <p><strong>{ty}</strong> for {event}<br>Ticket {id}<br>Valid: {days}<br>Holder: {holder}</p>\
         <p><a href=\"{link}\">Your ticket (QR code and PDF)</a></p>\
         <p>Log in or register with this email address to see it in your dashboard.</p></body></html>",
        holder = escape(&t.holder_name),
        lead = escape(&lead),
        id = t.id,
        ty = escape(&t.type_name),
        event = escape(&t.event.name),
        days = escape(&days),
        link = escape(&link),
    );
    let related = MultiPart::related()
        .multipart(MultiPart::alternative_plain_html(text, html))
        .singlepart(
            Attachment::new_inline(format!("ticket-{}@tessera", t.id)).body(
                render::qr_png(&t.qr_text)?,
                ContentType::parse("image/png").map_err(|e| EmailError::Build(e.to_string()))?,
            ),
        );
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(message_id(row)))
        .multipart(related)
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// Every valid ticket an account holds, each QR code inline ("email me my tickets again").
fn all_tickets(
    settings: &Settings,
    master: &MasterKey,
    row: &OutboxEmail,
    tickets: &[TicketView],
    base: &str,
) -> Result<Message, EmailError> {
    let (from, to) = mailbox(settings, row)?;
    let mut text = format!(
        "Hello,\n\nhere are the {} ticket(s) you hold. Show a QR code at the gate.\n\n",
        tickets.len()
    );
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>Hello,</p>\
         <p>Here are the tickets you hold. Show a QR code at the gate, on paper or on your phone.</p><table>",
    );
    for t in tickets {
        let days = valid_days(t.days_mask, &t.event.days).join(", ");
        let link = ticket_page_url(base, master, t);
        text.push_str(&format!(
            "- {} for {} (ticket {}), valid {}, holder {}: {link}\n",
            t.type_name, t.event.name, t.id, days, t.holder_name
        ));
        html.push_str(&format!(
            "<tr><td style=\"padding:8px\"><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"QR code of ticket {id}\"></td>\
             <td style=\"padding:8px\"><strong>{ty}</strong><br>{event}<br>Ticket {id}<br>Valid: {days}<br>Holder: {holder}<br><a href=\"{link}\">Ticket and PDF</a></td></tr>",
            id = t.id,
            ty = escape(&t.type_name),
            event = escape(&t.event.name),
            days = escape(&days),
            holder = escape(&t.holder_name),
            link = escape(&link),
        ));
    }
    if tickets.is_empty() {
        text.push_str("You hold no valid tickets right now.\n");
        html.push_str("<tr><td>You hold no valid tickets right now.</td></tr>");
    }
    html.push_str("</table></body></html>");
    let mut related = MultiPart::related().multipart(MultiPart::alternative_plain_html(text, html));
    for t in tickets {
        related = related.singlepart(
            Attachment::new_inline(format!("ticket-{}@tessera", t.id)).body(
                render::qr_png(&t.qr_text)?,
                ContentType::parse("image/png").map_err(|e| EmailError::Build(e.to_string()))?,
            ),
        );
    }
    Message::builder()
        .from(from)
        .to(to)
        .subject("Your tickets")
        .message_id(Some(message_id(row)))
        .multipart(related)
        .map_err(|e| EmailError::Build(e.to_string()))
}
