//! The emails of accounts and ticket changes: address verification and password reset
//! (with their signed one-time links), the two notices of a transfer (the giver's and the
//! recipient's, who gets the new QR code), and the upgrade notice. Composed when the outbox
//! worker sends them, from what the database says then, so a ticket that changed hands
//! again meanwhile never mails a code to someone who no longer holds it. Their words are
//! `domain::email`'s, in the recipient's language ([`notice_lang`]: the account's choice,
//! else the language of the order the email is about, else English); this module reads the
//! rows, derives the links and frames the message.

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;

use crate::app::accounts::email_link_token;
use crate::app::email::{ContentLanguage, EmailError, message_id, order_lang, with_codes};
use crate::app::keys::MasterKey;
use crate::app::tickets::ticket_page_url;
use crate::config::Settings;
use crate::domain::email::{self, Content, Plain};
use crate::domain::i18n::Lang;
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
            let lang = notice_lang(store, row, None).await?;
            plain(settings, row, lang, email::verify_email(lang, &link))?
        }
        Notice::PasswordReset => {
            let link = format!(
                "{base}/account/reset?token={}",
                email_link_token(master, "reset", ref_id)
            );
            let lang = notice_lang(store, row, None).await?;
            plain(settings, row, lang, email::password_reset(lang, &link))?
        }
        Notice::TransferredOut => {
            let ticket = load(store, ref_id).await?;
            let order = row.order_id.or(Some(ticket.order_id));
            let lang = notice_lang(store, row, order).await?;
            plain(settings, row, lang, email::transferred_out(lang, &ticket))?
        }
        Notice::TransferredIn | Notice::Upgraded | Notice::Reissued => {
            let ticket = load(store, ref_id).await?;
            let held = ticket.holder_email.as_deref() == Some(row.recipient.as_str())
                && ticket.status == TicketStatus::Valid;
            // A received ticket's order is the giver's, not the recipient's: only the
            // recipient's account speaks for them. An upgrade's or reissue's is the holder's.
            let order = match notice {
                Notice::TransferredIn => None,
                _ => row.order_id.or(Some(ticket.order_id)),
            };
            let lang = notice_lang(store, row, order).await?;
            if !held {
                plain(settings, row, lang, email::no_longer_held(lang, ticket.id))?
            } else {
                let link = ticket_page_url(&base, master, &ticket);
                let why = match notice {
                    Notice::Upgraded => email::NewCode::Upgraded,
                    Notice::Reissued => email::NewCode::Reissued,
                    _ => email::NewCode::Received,
                };
                let content = email::ticket_with_code(lang, &ticket, why, &link);
                with_tickets(settings, row, lang, content, std::slice::from_ref(&ticket))?
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
            let lang = notice_lang(store, row, None).await?;
            let content = email::all_tickets(lang, &tickets, &links);
            with_tickets(settings, row, lang, content, &tickets)?
        }
    };
    Ok(message)
}

/// The language of a notice to `row`'s recipient: the language their account chose, else
/// the language of `order` (the one the notice is about), else English.
pub async fn notice_lang(
    store: &dyn Store,
    row: &OutboxEmail,
    order: Option<i64>,
) -> Result<Lang, EmailError> {
    let account = store
        .user_by_email(&crate::store::Email::new(&row.recipient).into_string())
        .await?
        .and_then(|u| u.lang.as_deref().and_then(Lang::parse));
    if let Some(lang) = account {
        return Ok(lang);
    }
    Ok(match order {
        Some(id) => store.order(id).await?.map(|o| order_lang(&o)),
        None => None,
    }
    .unwrap_or_default())
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
    lang: Lang,
    words: Plain,
) -> Result<Message, EmailError> {
    let (from, to) = mailbox(settings, row)?;
    Message::builder()
        .from(from)
        .to(to)
        .subject(words.subject)
        .message_id(Some(message_id(row)))
        .header(ContentLanguage(lang.code()))
        .header(ContentType::TEXT_PLAIN)
        .body(words.text)
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// An email showing `tickets`' QR codes inline, in the given words.
fn with_tickets(
    settings: &Settings,
    row: &OutboxEmail,
    lang: Lang,
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
        .header(ContentLanguage(lang.code()))
        .multipart(related)
        .map_err(|e| EmailError::Build(e.to_string()))
}
