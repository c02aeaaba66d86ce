//! Composing each email's words from rows, with no IO: the subject, plain text and HTML of
//! the tickets emails (the order confirmation, the vendor's booth and staff-pass wording),
//! the refund notice, and the notices of accounts and ticket changes. Links come in as
//! parameters, since they carry tokens that `app` derives; reading the rows, the MIME
//! framing with inline QR codes and the PDF, and sending are `app::email` and
//! `app::notices`.
//!
//! Every email is written in one language (`domain::i18n`: the order's for its tickets and
//! refund emails, the account's for its notices): its words from the Fluent files, its HTML
//! `lang` and `dir` from the language, and every name in it (a holder, a business, an event)
//! isolated so that it keeps its own direction inside a sentence of the other: `<bdi>` in
//! HTML, the Unicode isolates FSI and PDI in plain text. Subjects carry no isolates (mail
//! clients show them as boxes in some lists); links stay outside messages, so no isolate or
//! punctuation ever sticks to a URL.

use crate::domain::i18n::{self, Arg, Lang};
use crate::domain::render::{money, order_number, valid_days_in};
use crate::store::{Booth, Order, OrderStatus, Payment, RefundRow, TicketView, VendorPurchase};

/// The words of an email that shows QR codes: its subject, its plain text and its HTML
/// (already escaped; each code referred to as `cid:ticket-<id>@tessera`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The subject.
    pub subject: String,
    /// The plain text.
    pub text: String,
    /// The HTML alternative.
    pub html: String,
}

/// The words of a plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    /// The subject.
    pub subject: String,
    /// The text.
    pub text: String,
}

impl Plain {
    fn new(subject: String, text: String) -> Self {
        Self { subject, text }
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Links to a ticket's wallet passes, carrying the order's access token (for the order page
/// and the confirmation email).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletLinks {
    /// The `.pkpass` download.
    pub apple: String,
    /// Redirects to Google's save page.
    pub google: String,
}

/// The words of a tickets email around its ticket list: the order confirmation's, or the
/// vendor confirmation's ([`booth_wording`], [`staff_wording`]).
#[derive(Debug, Clone, Default)]
pub struct Wording {
    /// The subject, without the `[DEMO] ` mark (added for demo orders).
    pub subject: String,
    /// The first paragraph, plain text (ends with a newline).
    pub intro_text: String,
    /// The first paragraph, HTML (already escaped).
    pub intro_html: String,
    /// What to do next, plain text (may be empty).
    pub next_text: String,
    /// What to do next, HTML (already escaped; may be empty).
    pub next_html: String,
}

/// One argument of an email's message.
#[derive(Debug, Clone, Copy)]
enum W<'a> {
    /// Text someone typed (a holder, a business, an event, a ticket type): isolated.
    Name(&'a str),
    /// Text the system wrote (a price, an order number, days): as it is.
    Plain(&'a str),
    /// A whole number (selects plural forms).
    Num(i64),
}

fn fluent_args<'a>(ws: &[(&'a str, W<'a>)]) -> Vec<(&'a str, Arg<'a>, bool)> {
    ws.iter()
        .map(|(n, w)| match *w {
            W::Name(s) => (*n, Arg::Text(s), true),
            W::Plain(s) => (*n, Arg::Text(s), false),
            W::Num(v) => (*n, Arg::Number(v), false),
        })
        .collect()
}

/// A name between Unicode isolates, for plain text.
fn iso(s: &str) -> String {
    format!("\u{2068}{s}\u{2069}")
}

/// A name escaped in `<bdi>`, for HTML.
fn bdi(s: &str) -> String {
    format!("<bdi>{}</bdi>", html_escape(s))
}

/// A message as plain text, names isolated.
fn text(lang: Lang, key: &str, ws: &[(&str, W<'_>)]) -> String {
    i18n::message_marked(lang, key, &fluent_args(ws), &|s| s.to_owned(), &iso)
}

/// A message as HTML: escaped, names in `<bdi>`.
fn html(lang: Lang, key: &str, ws: &[(&str, W<'_>)]) -> String {
    i18n::message_marked(lang, key, &fluent_args(ws), &html_escape, &bdi)
}

/// A message for a subject line: no isolates, no escaping.
fn subject(lang: Lang, key: &str, ws: &[(&str, W<'_>)]) -> String {
    i18n::message_marked(lang, key, &fluent_args(ws), &|s| s.to_owned(), &|s| {
        s.to_owned()
    })
}

/// The opening of an email's HTML: its language and direction.
fn html_open(lang: Lang) -> String {
    format!(
        "<!doctype html><html lang=\"{}\" dir=\"{}\"><body style=\"font-family:sans-serif\">",
        lang.code(),
        lang.dir()
    )
}

/// A ticket's valid days in `lang`, as one list.
fn days_of(lang: Lang, t: &TicketView) -> String {
    i18n::days_list(lang, &valid_days_in(lang, t.days_mask, &t.event.days))
}

/// The attendee's wording: "Your tickets for ...".
pub fn confirmation_wording(lang: Lang, order: &Order, tickets: &[TicketView]) -> Wording {
    let event_name = tickets
        .first()
        .map(|t| t.event.name.clone())
        .unwrap_or_else(|| i18n::message(lang, "mail-your-event", &[]));
    let number = order_number(order.id);
    let name = [("name", W::Name(&order.name))];
    let thanks = [("number", W::Plain(&number))];
    Wording {
        subject: subject(
            lang,
            "mail-order-subject",
            &[
                ("event", W::Plain(&event_name)),
                ("number", W::Plain(&number)),
            ],
        ),
        intro_text: format!(
            "{}\n\n{}\n",
            text(lang, "mail-hello", &name),
            text(lang, "mail-order-thanks", &thanks)
        ),
        intro_html: format!(
            "<p>{} {}</p>",
            html(lang, "mail-hello", &name),
            html(lang, "mail-order-thanks", &thanks)
        ),
        next_text: String::new(),
        next_html: String::new(),
    }
}

/// The vendor's words for a booth order: the booth's details and what to do before doors.
pub fn booth_wording(
    lang: Lang,
    p: &VendorPurchase,
    event: &str,
    number: &str,
    name: &str,
) -> Wording {
    let category = i18n::message(lang, &format!("category-{}", p.category.as_str()), &[]);
    let lower = category.to_lowercase();
    let assigned = |words: fn(Lang, &str, &[(&str, W<'_>)]) -> String| match &p.booth {
        Some((_, code)) => words(lang, "mail-booth-location", &[("code", W::Plain(code))]),
        None => words(lang, "mail-booth-unassigned", &[]),
    };
    let questions = [("number", W::Plain(number))];
    let next_title = i18n::message(lang, "mail-next", &[]);
    let next_text = format!(
        "\n{next_title}:\n1. {}\n2. {}\n3. {}\n4. {}\n",
        text(lang, "mail-booth-keep", &[]),
        assigned(text),
        text(lang, "mail-booth-setup", &[]),
        text(lang, "mail-booth-questions", &questions),
    );
    let next_html = format!(
        "<h2>{}</h2><ol><li>{}</li><li>{}</li><li>{}</li><li>{}</li></ol>",
        html_escape(&next_title),
        html(lang, "mail-booth-keep", &[]),
        assigned(html),
        html(lang, "mail-booth-setup", &[]),
        html(lang, "mail-booth-questions", &questions),
    );
    let thanks = [
        ("category", W::Plain(&lower)),
        ("event", W::Name(event)),
        ("business", W::Name(&p.business_name)),
        ("number", W::Plain(number)),
    ];
    let hello = [("name", W::Name(name))];
    let rows = [
        ("mail-label-booth", p.booth_name.as_str()),
        ("mail-label-business", p.business_name.as_str()),
        ("mail-label-category", category.as_str()),
        ("mail-label-phone", p.phone.as_str()),
    ];
    let mut intro_text = format!(
        "{}\n\n{}\n",
        text(lang, "mail-hello", &hello),
        text(lang, "mail-booth-thanks", &thanks)
    );
    let mut table = String::from("<table>");
    for (label, value) in rows {
        let label = i18n::message(lang, label, &[]);
        intro_text.push_str(&format!("{label}: {}\n", iso(value)));
        table.push_str(&format!(
            "<tr><th style=\"text-align:start\">{}</th><td>{}</td></tr>",
            html_escape(&label),
            bdi(value)
        ));
    }
    table.push_str("</table>");
    Wording {
        subject: subject(lang, "mail-booth-subject", &thanks),
        intro_text,
        intro_html: format!(
            "<p>{} {}</p>{table}",
            html(lang, "mail-hello", &hello),
            html(lang, "mail-booth-thanks-order", &thanks)
        ),
        next_html,
        next_text,
    }
}

/// The vendor's words for an order of `count` staff passes of `booth`.
pub fn staff_wording(lang: Lang, booth: &Booth, event: &str, name: &str, count: usize) -> Wording {
    let your_business = i18n::message(lang, "mail-your-business", &[]);
    let business = booth.business_name.as_deref().unwrap_or(&your_business);
    let passes = i18n::message(
        lang,
        "mail-staff-count",
        &[("n", Arg::Number(i64::try_from(count).unwrap_or(i64::MAX)))],
    );
    let words = [
        ("passes", W::Plain(&passes)),
        ("business", W::Name(business)),
        ("code", W::Plain(&booth.code)),
        ("event", W::Name(event)),
    ];
    let hello = [("name", W::Name(name))];
    Wording {
        subject: subject(lang, "mail-staff-subject", &words),
        intro_text: format!(
            "{}\n\n{}\n{}\n",
            text(lang, "mail-hello", &hello),
            text(lang, "mail-staff-intro", &words),
            text(lang, "mail-staff-give", &[]),
        ),
        intro_html: format!(
            "<p>{} {} {}</p>",
            html(lang, "mail-hello", &hello),
            html(lang, "mail-staff-intro", &words),
            html(lang, "mail-staff-give", &[]),
        ),
        next_text: String::new(),
        next_html: String::new(),
    }
}

/// An email carrying an order's tickets in the given words: the total, one line per ticket
/// with its wallet links (`wallet`, one per ticket in the same order), and the link to the
/// order page. Demo orders are marked as such in the subject and the body.
pub fn tickets_email(
    lang: Lang,
    order: &Order,
    tickets: &[TicketView],
    wording: &Wording,
    order_page: &str,
    wallet: &[WalletLinks],
) -> Content {
    let demo = order.payment == Payment::Demo;
    let event_name = tickets
        .first()
        .map(|t| t.event.name.clone())
        .unwrap_or_else(|| i18n::message(lang, "mail-your-event", &[]));
    let link = order_page;
    let word = |key: &str| i18n::message(lang, key, &[]);
    let subject = if demo {
        format!("{} {}", word("mail-demo-mark"), wording.subject)
    } else {
        wording.subject.clone()
    };
    let total = money(order.total_cents, &order.currency);
    let total_arg = [("total", W::Plain(&total))];

    let mut text_body = wording.intro_text.clone();
    if demo {
        text_body.push_str(&format!("{}\n", word("mail-demo-note")));
    }
    text_body.push_str(&format!(
        "\n{}\n\n{}\n",
        text(lang, "mail-total", &total_arg),
        word("mail-your-tickets")
    ));
    let mut rows_html = String::new();
    for (t, wallet) in tickets.iter().zip(wallet) {
        let days = days_of(lang, t);
        let line = [
            ("type", W::Name(&t.type_name)),
            ("id", W::Num(t.id)),
            ("days", W::Plain(&days)),
            ("holder", W::Name(&t.holder_name)),
        ];
        text_body.push_str(&format!(
            "- {}{}\n",
            text(lang, "mail-ticket-line", &line),
            i18n::vendor_line(lang, t)
                .map(|d| format!("{} {}", comma(lang), iso(&d)))
                .unwrap_or_default()
        ));
        text_body.push_str(&format!(
            "  {}: {}\n  {}: {}\n",
            word("add-apple-wallet"),
            wallet.apple,
            word("save-google-wallet"),
            wallet.google
        ));
        rows_html.push_str(&format!(
            "<tr><td style=\"padding:8px\"><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"{alt}\"></td>\
             <td style=\"padding:8px\"><strong>{ty}</strong><br>{number}<br>{valid}<br>{holder}{detail}\
             <br><a href=\"{apple}\">{apple_words}</a> | <a href=\"{google}\">{google_words}</a></td></tr>",
            alt = html(lang, "qr-of-ticket", &[("id", W::Num(t.id))]),
            detail = i18n::vendor_line(lang, t)
                .map(|d| format!("<br>{}", bdi(&d)))
                .unwrap_or_default(),
            apple = html_escape(&wallet.apple),
            google = html_escape(&wallet.google),
            apple_words = html_escape(&word("add-apple-wallet")),
            google_words = html_escape(&word("save-google-wallet")),
            id = t.id,
            ty = bdi(&t.type_name),
            number = html(lang, "ticket-n", &[("id", W::Num(t.id))]),
            valid = html(lang, "valid-days", &[("days", W::Plain(&days))]),
            holder = html(lang, "holder-is", &[("name", W::Name(&t.holder_name))]),
        ));
    }
    text_body.push_str(&wording.next_text);
    text_body.push_str(&format!(
        "\n{}\n{}: {link}\n",
        word("mail-pdf-attached"),
        word("mail-order-page")
    ));
    let html_body = format!(
        "{open}<h1>{event}</h1>{demo_note}{intro}\
         <p>{total}</p><table>{rows_html}</table>{next}\
         <p>{pdf}</p>\
         <p><a href=\"{link}\">{order_page}</a></p></body></html>",
        open = html_open(lang),
        event = bdi(&event_name),
        demo_note = if demo {
            format!(
                "<p style=\"color:#b00\"><strong>{}</strong></p>",
                html(lang, "demo-order", &[])
            )
        } else {
            String::new()
        },
        intro = wording.intro_html,
        next = wording.next_html,
        total = html(lang, "mail-total", &total_arg),
        pdf = html(lang, "mail-pdf-attached-html", &[]),
        order_page = html(lang, "mail-order-page", &[]),
        link = html_escape(link),
    );
    Content {
        subject,
        text: text_body,
        html: html_body,
    }
}

/// The list comma of a language.
fn comma(lang: Lang) -> &'static str {
    match lang {
        Lang::En => ",",
        Lang::Ar => "،",
    }
}

/// The email telling a buyer their money was returned, from the order's refunds as they
/// stand.
pub fn refund_notice(lang: Lang, order: &Order, refunds: &[RefundRow]) -> Plain {
    let amount: i64 = refunds
        .iter()
        .filter(|r| r.status == "succeeded")
        .map(|r| r.amount_cents)
        .sum();
    let number = order_number(order.id);
    let amount = money(amount, &order.currency);
    let words = [("number", W::Plain(&number)), ("amount", W::Plain(&amount))];
    let whole =
        order.status == OrderStatus::Refunded && refunds.iter().any(|r| r.ticket_id.is_none());
    let refunded = if whole {
        "mail-refund-whole"
    } else {
        "mail-refund-part"
    };
    Plain::new(
        subject(lang, "mail-refund-subject", &words),
        format!(
            "{}\n\n{}\n{}\n{}\n",
            text(lang, "mail-hello", &[("name", W::Name(&order.name))]),
            text(lang, refunded, &words),
            text(lang, "mail-refund-void", &[]),
            text(lang, "mail-refund-why", &[]),
        ),
    )
}

/// The address confirmation, with its one-time `link`.
pub fn verify_email(lang: Lang, link: &str) -> Plain {
    let word = |key: &str| i18n::message(lang, key, &[]);
    Plain::new(
        word("mail-verify-subject"),
        format!(
            "{}\n\n{}\n\n{link}\n\n{}\n\n{}\n",
            word("mail-hello-plain"),
            word("mail-verify-open"),
            word("mail-verify-after"),
            word("mail-verify-ignore"),
        ),
    )
}

/// The password reset, with its one-time `link`.
pub fn password_reset(lang: Lang, link: &str) -> Plain {
    let word = |key: &str| i18n::message(lang, key, &[]);
    Plain::new(
        word("mail-reset-subject"),
        format!(
            "{}\n\n{}\n\n{link}\n\n{}\n",
            word("mail-hello-plain"),
            word("mail-reset-open"),
            word("mail-reset-after"),
        ),
    )
}

/// To the giver of a transferred ticket (`ticket` as it stands, with its new holder).
pub fn transferred_out(lang: Lang, ticket: &TicketView) -> Plain {
    let words = [
        ("id", W::Num(ticket.id)),
        ("type", W::Name(&ticket.type_name)),
        ("event", W::Name(&ticket.event.name)),
        ("name", W::Name(&ticket.holder_name)),
    ];
    Plain::new(
        subject(lang, "mail-out-subject", &words),
        format!(
            "{}\n\n{}\n\n{}\n",
            i18n::message(lang, "mail-hello-plain", &[]),
            text(lang, "mail-out-text", &words),
            text(lang, "mail-out-warn", &[]),
        ),
    )
}

/// In place of a received or upgraded ticket's code, when the ticket changed again before
/// the email went out and its recipient no longer holds it.
pub fn no_longer_held(lang: Lang, ticket_id: i64) -> Plain {
    Plain::new(
        subject(lang, "mail-gone-subject", &[("id", W::Num(ticket_id))]),
        format!(
            "{}\n\n{}\n",
            i18n::message(lang, "mail-hello-plain", &[]),
            text(lang, "mail-gone-text", &[]),
        ),
    )
}

/// Why a ticket's code is sent on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewCode {
    /// A ticket was transferred to the recipient.
    Received,
    /// The holder's upgrade is done.
    Upgraded,
    /// The organizer reissued it under a new signing key.
    Reissued,
}

/// A ticket's code on its own (received, upgraded or reissued), with its QR code and `link`
/// to its page.
pub fn ticket_with_code(lang: Lang, t: &TicketView, why: NewCode, link: &str) -> Content {
    let days = days_of(lang, t);
    let (subject_key, lead_key) = match why {
        NewCode::Upgraded => ("mail-upgraded-subject", "mail-upgraded-lead"),
        NewCode::Received => ("mail-received-subject", "mail-received-lead"),
        NewCode::Reissued => ("mail-reissued-subject", "mail-reissued-lead"),
    };
    let words = [
        ("type", W::Name(&t.type_name)),
        ("event", W::Name(&t.event.name)),
        ("id", W::Num(t.id)),
        ("days", W::Plain(&days)),
    ];
    let hello = [("name", W::Name(&t.holder_name))];
    let text_body = format!(
        "{}\n\n{}\n\n{}\n\n{}: {link}\n{}\n",
        text(lang, "mail-hello", &hello),
        text(lang, lead_key, &[]),
        text(lang, "mail-code-summary", &words),
        text(lang, "mail-code-link", &[]),
        text(lang, "mail-log-in-to-see", &[]),
    );
    let html_body = format!(
        "{open}<p>{hello}</p><p>{lead}</p>\
         <p><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"{alt}\"></p>\
         <p>{type_for_event}<br>{number}<br>{valid}<br>{holder}</p>\
         <p><a href=\"{link}\">{link_words}</a></p>\
         <p>{log_in}</p></body></html>",
        open = html_open(lang),
        hello = html(lang, "mail-hello", &hello),
        lead = html(lang, lead_key, &[]),
        id = t.id,
        alt = html(lang, "qr-of-ticket", &[("id", W::Num(t.id))]),
        type_for_event = html(lang, "mail-type-for-event", &words),
        number = html(lang, "ticket-n", &[("id", W::Num(t.id))]),
        valid = html(lang, "valid-days", &[("days", W::Plain(&days))]),
        holder = html(lang, "holder-is", &[("name", W::Name(&t.holder_name))]),
        link = html_escape(link),
        link_words = html(lang, "mail-code-link", &[]),
        log_in = html(lang, "mail-log-in-to-see", &[]),
    );
    Content {
        subject: subject(lang, subject_key, &words),
        text: text_body,
        html: html_body,
    }
}

/// Every valid ticket an account holds, each with its QR code and the link to its page
/// (`links`, one per ticket in the same order): "email me my tickets again".
pub fn all_tickets(lang: Lang, tickets: &[TicketView], links: &[String]) -> Content {
    let count = i64::try_from(tickets.len()).unwrap_or(i64::MAX);
    let mut text_body = format!(
        "{}\n\n{}\n\n",
        i18n::message(lang, "mail-hello-plain", &[]),
        text(lang, "mail-all-intro", &[("n", W::Num(count))]),
    );
    let mut html_body = format!(
        "{}<p>{}</p><p>{}</p><table>",
        html_open(lang),
        html(lang, "mail-hello-plain", &[]),
        html(lang, "mail-all-intro-html", &[]),
    );
    for (t, link) in tickets.iter().zip(links) {
        let days = days_of(lang, t);
        let line = [
            ("type", W::Name(&t.type_name)),
            ("event", W::Name(&t.event.name)),
            ("id", W::Num(t.id)),
            ("days", W::Plain(&days)),
            ("holder", W::Name(&t.holder_name)),
        ];
        text_body.push_str(&format!(
            "- {}: {link}\n",
            text(lang, "mail-all-line", &line)
        ));
        html_body.push_str(&format!(
            "<tr><td style=\"padding:8px\"><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"{alt}\"></td>\
             <td style=\"padding:8px\"><strong>{ty}</strong><br>{event}<br>{number}<br>{valid}<br>{holder}<br><a href=\"{link}\">{pdf}</a></td></tr>",
            id = t.id,
            alt = html(lang, "qr-of-ticket", &[("id", W::Num(t.id))]),
            ty = bdi(&t.type_name),
            event = bdi(&t.event.name),
            number = html(lang, "ticket-n", &[("id", W::Num(t.id))]),
            valid = html(lang, "valid-days", &[("days", W::Plain(&days))]),
            holder = html(lang, "holder-is", &[("name", W::Name(&t.holder_name))]),
            link = html_escape(link),
            pdf = html(lang, "mail-ticket-and-pdf", &[]),
        ));
    }
    if tickets.is_empty() {
        text_body.push_str(&format!("{}\n", i18n::message(lang, "mail-none-held", &[])));
        html_body.push_str(&format!(
            "<tr><td>{}</td></tr>",
            html(lang, "mail-none-held", &[])
        ));
    }
    html_body.push_str("</table></body></html>");
    Content {
        subject: i18n::message(lang, "mail-all-subject", &[]),
        text: text_body,
        html: html_body,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::store::{BoothCategory, Event, TicketKind, TicketStatus};

    /// A name ending in digits and punctuation: the case isolation is for.
    const NAME: &str = "محمد 2!";

    fn order(lang: Lang, status: OrderStatus) -> Order {
        Order {
            id: 4_242,
            email: "m@example.com".into(),
            name: NAME.into(),
            status,
            payment: Payment::Demo,
            total_cents: 3500,
            currency: "USD".into(),
            token_hash: Vec::new(),
            created_at: 0,
            upgrade_ticket_id: None,
            upgrade_from_type: None,
            token_revoked_at: None,
            lang: lang.code().into(),
        }
    }

    fn ticket() -> TicketView {
        TicketView {
            id: 77,
            order_id: 4_242,
            status: TicketStatus::Valid,
            revision: 0,
            holder_name: NAME.into(),
            holder_email: Some("m@example.com".into()),
            superseded_by: None,
            transferable: true,
            days_mask: 0b11,
            zones: 1,
            booth: None,
            detail: None,
            vendor_business: None,
            booth_code: None,
            key_id: 1,
            issued_at: 0,
            qr_text: "TS1:TEST".into(),
            ticket_type_id: 1,
            type_name: "3-Day Pass".into(),
            kind: TicketKind::Pass,
            event: Event {
                id: 1,
                name: "Desert Lights".into(),
                venue: "Dunes Park".into(),
                timezone: "Asia/Dubai".into(),
                days: vec![
                    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
                    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
                ],
            },
        }
    }

    fn purchase() -> VendorPurchase {
        VendorPurchase {
            order_id: 4_242,
            order_status: "paid".into(),
            vendor_id: 1,
            email: "m@example.com".into(),
            contact_name: NAME.into(),
            phone: "+1 714 555 0142".into(),
            event_id: 1,
            ticket_type_id: 2,
            category: BoothCategory::FoodTruck,
            business_name: "Falafel King".into(),
            booth_name: "مطعم الشام".into(),
            description: String::new(),
            booth: Some((3, "B-12".into())),
            staff_passes: 0,
            created_at: 0,
        }
    }

    /// The English words left in `text` once the values it quotes (names, the event, the
    /// ticket type, links, codes) are taken out: none in an Arabic email.
    fn english_left(text: &str) -> Vec<String> {
        let mut rest = text.to_owned();
        for value in [
            "Desert Lights",
            "3-Day Pass",
            "Falafel King",
            "B-12",
            "T-4242",
            "Apple Wallet",
            "Google Wallet",
            "QR",
            "PDF",
            "USD",
        ] {
            rest = rest.replace(value, "");
        }
        rest.split_whitespace()
            .filter(|w| !w.starts_with("https://"))
            .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
            .map(str::to_owned)
            .collect()
    }

    fn words_of(plain: &[(String, String)]) {
        for (subject, text) in plain {
            assert_eq!(english_left(subject), Vec::<String>::new(), "{subject}");
            assert_eq!(english_left(text), Vec::<String>::new(), "{text}");
        }
    }

    #[test]
    fn every_email_reads_in_arabic_with_its_names_isolated() {
        let lang = Lang::Ar;
        let paid = order(lang, OrderStatus::Paid);
        let t = ticket();
        let links = [WalletLinks {
            apple: "https://t.example/apple".into(),
            google: "https://t.example/google".into(),
        }];
        let mut contents = Vec::new();
        for wording in [
            confirmation_wording(lang, &paid, std::slice::from_ref(&t)),
            booth_wording(lang, &purchase(), "Desert Lights", "T-4242", NAME),
            staff_wording(
                lang,
                &Booth {
                    id: 3,
                    event_id: 1,
                    code: "B-12".into(),
                    category: Some(BoothCategory::FoodTruck),
                    order_id: Some(4_242),
                    business_name: Some("Falafel King".into()),
                    assigned_at: Some(0),
                },
                "Desert Lights",
                NAME,
                3,
            ),
        ] {
            contents.push(tickets_email(
                lang,
                &paid,
                std::slice::from_ref(&t),
                &wording,
                "https://t.example/orders/4242?token=x",
                &links,
            ));
        }
        for why in [NewCode::Received, NewCode::Upgraded, NewCode::Reissued] {
            contents.push(ticket_with_code(lang, &t, why, "https://t.example/t/77"));
        }
        contents.push(all_tickets(
            lang,
            std::slice::from_ref(&t),
            &["https://t.example/t/77".to_owned()],
        ));
        contents.push(all_tickets(lang, &[], &[]));
        for c in &contents {
            words_of(&[(c.subject.clone(), c.text.clone())]);
            assert!(
                c.html
                    .starts_with("<!doctype html><html lang=\"ar\" dir=\"rtl\">")
            );
            for english in ["Hello", "Holder", "Valid", "Total", "Ticket ", "Your "] {
                assert!(!c.html.contains(english), "{english} in {}", c.html);
            }
        }
        // The buyer's name, isolated, in the greeting of the confirmation.
        assert!(contents[0].text.contains("مرحبًا \u{2068}محمد 2!\u{2069}،"));
        assert!(contents[0].html.contains("مرحبًا <bdi>محمد 2!</bdi>،"));
        // The booth's values in its table, isolated too.
        assert!(contents[1].text.contains("\u{2068}مطعم الشام\u{2069}"));
        assert!(
            contents[1]
                .html
                .contains("<td><bdi>+1 714 555 0142</bdi></td>")
        );

        let refunds = [RefundRow {
            id: 1,
            order_id: 4_242,
            ticket_id: None,
            amount_cents: 3500,
            status: "succeeded".into(),
            stripe_refund_id: None,
        }];
        let refund = refund_notice(lang, &order(lang, OrderStatus::Refunded), &refunds);
        let plain = [
            refund,
            verify_email(lang, "https://t.example/verify"),
            password_reset(lang, "https://t.example/reset"),
            transferred_out(lang, &t),
            no_longer_held(lang, 77),
        ];
        words_of(
            &plain
                .iter()
                .map(|p| (p.subject.clone(), p.text.clone()))
                .collect::<Vec<_>>(),
        );
        assert!(plain[0].text.contains("$35.00"), "{}", plain[0].text);
        // A link stands alone on its line: no isolate mark or punctuation sticks to it.
        assert!(plain[1].text.contains("\n\nhttps://t.example/verify\n\n"));
    }

    #[test]
    fn english_emails_keep_their_words() {
        let paid = order(Lang::En, OrderStatus::Paid);
        let t = ticket();
        let w = confirmation_wording(Lang::En, &paid, std::slice::from_ref(&t));
        assert_eq!(w.subject, "Your tickets for Desert Lights - order T-4242");
        assert_eq!(
            w.intro_text,
            "Hello \u{2068}محمد 2!\u{2069},\n\nthank you for your order T-4242.\n"
        );
        let c = ticket_with_code(Lang::En, &t, NewCode::Reissued, "https://t.example/t/77");
        assert!(
            c.text
                .contains(", ticket 77, valid Fri 27 Nov 2026, Sat 28 Nov 2026."),
            "{}",
            c.text
        );
        assert!(
            c.html
                .starts_with("<!doctype html><html lang=\"en\" dir=\"ltr\">")
        );
    }
}
