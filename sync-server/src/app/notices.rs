//! The emails of accounts and ticket changes: address verification and password reset
//! (with their signed one-time links), the two notices of a transfer (the giver's and the
//! recipient's, who gets the new QR code), and the upgrade notice. Composed when the outbox
//! worker sends them, from what the database says then, so a ticket that changed hands
//! again meanwhile never mails a code to someone who no longer holds it. Their words are
//! `domain::email`'s; this module reads the rows, derives the links and frames the message.

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;

use crate::app::accounts::email_link_token;
use crate::app::email::{EmailError, message_id, with_codes};
use crate::app::keys::MasterKey;
use crate::app::tickets::ticket_page_url;
use crate::config::Settings;
use crate::domain::email::{self, Content, Plain};
use crate::store::TicketStatus;
use crate::store::{OutboxEmail, Store, TicketView};

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
    /// A ticket's new code after a reissue under a new signing key.
    Reissued,
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
            plain(settings, row, email::verify_email(&link))?
        }
        Notice::PasswordReset => {
            let link = format!(
                "{base}/account/reset?token={}",
                email_link_token(master, "reset", ref_id)
            );
            plain(settings, row, email::password_reset(&link))?
        }
        Notice::TransferredOut => {
            let ticket = load(store, ref_id).await?;
            plain(settings, row, email::transferred_out(&ticket))?
        }
        Notice::TransferredIn | Notice::Upgraded | Notice::Reissued => {
            let ticket = load(store, ref_id).await?;
            let held = ticket.holder_email.as_deref() == Some(row.recipient.as_str())
                && ticket.status == TicketStatus::Valid;
            if !held {
                plain(settings, row, email::no_longer_held(ticket.id))?
            } else {
                let link = ticket_page_url(&base, master, &ticket);
                let why = match notice {
                    Notice::Upgraded => email::NewCode::Upgraded,
                    Notice::Reissued => email::NewCode::Reissued,
                    _ => email::NewCode::Received,
                };
                let content = email::ticket_with_code(&ticket, why, &link);
                with_tickets(settings, row, content, std::slice::from_ref(&ticket))?
            }
        }
        Notice::MyTickets => {
            let tickets: Vec<TicketView> = store
                .holder_tickets(&row.recipient)
                .await?
                .into_iter()
                .filter(|t| t.status == TicketStatus::Valid)
                .collect();
            let links: Vec<String> = tickets
                .iter()
                .map(|t| ticket_page_url(&base, master, t))
                .collect();
            let content = email::all_tickets(&tickets, &links);
            with_tickets(settings, row, content, &tickets)?
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

fn plain(settings: &Settings, row: &OutboxEmail, words: Plain) -> Result<Message, EmailError> {
    let (from, to) = mailbox(settings, row)?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(words.subject)
        .message_id(Some(message_id(row)))
        .header(ContentType::TEXT_PLAIN)
        .body(words.text)
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// An email showing `tickets`' QR codes inline, in the given words.
fn with_tickets(
    settings: &Settings,
    row: &OutboxEmail,
    words: Content,
    tickets: &[TicketView],
) -> Result<Message, EmailError> {
    let (from, to) = mailbox(settings, row)?;
    let related = with_codes(words.text, words.html, tickets)?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(words.subject)
        .message_id(Some(message_id(row)))
        .multipart(related)
        .map_err(|e| EmailError::Build(e.to_string()))
}
