//! Composing each email's words from rows, with no IO: the subject, plain text and HTML of
//! the tickets emails (the order confirmation, the vendor's booth and staff-pass wording),
//! the refund notice, and the notices of accounts and ticket changes. Links come in as
//! parameters, since they carry tokens that `app` derives; reading the rows, the MIME
//! framing with inline QR codes and the PDF, and sending are `app::email` and
//! `app::notices`.

use crate::domain::render::{money, order_number, valid_days};
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

/// The attendee's wording: "Your tickets for ...".
pub fn confirmation_wording(order: &Order, tickets: &[TicketView]) -> Wording {
    let event_name = tickets
        .first()
        .map(|t| t.event.name.clone())
        .unwrap_or_else(|| "your event".to_owned());
    let number = order_number(order.id);
    Wording {
        subject: format!("Your tickets for {event_name} - order {number}"),
        intro_text: format!(
            "Hello {},\n\nthank you for your order {number}.\n",
            order.name
        ),
        intro_html: format!(
            "<p>Hello {name}, thank you for your order <strong>{number}</strong>.</p>",
            name = html_escape(&order.name)
        ),
        next_text: String::new(),
        next_html: String::new(),
    }
}

/// The vendor's words for a booth order: the booth's details and what to do before doors.
pub fn booth_wording(p: &VendorPurchase, event: &str, number: &str, name: &str) -> Wording {
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

/// The vendor's words for an order of `count` staff passes of `booth`.
pub fn staff_wording(booth: &Booth, event: &str, name: &str, count: usize) -> Wording {
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

/// An email carrying an order's tickets in the given words: the total, one line per ticket
/// with its wallet links (`wallet`, one per ticket in the same order), and the link to the
/// order page. Demo orders are marked as such in the subject and the body.
pub fn tickets_email(
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
        .unwrap_or_else(|| "your event".to_owned());
    let link = order_page;
    let subject = format!("{}{}", if demo { "[DEMO] " } else { "" }, wording.subject);

    let mut text = wording.intro_text.clone();
    if demo {
        text.push_str("This is a DEMO order: no payment was taken.\n");
    }
    text.push_str(&format!(
        "\nTotal: {}\n\nYour tickets:\n",
        money(order.total_cents, &order.currency)
    ));
    let mut rows_html = String::new();
    for (t, wallet) in tickets.iter().zip(wallet) {
        let days = valid_days(t.days_mask, &t.event.days).join(", ");
        text.push_str(&format!(
            "- {} (ticket {}), valid {}, holder {}{}\n",
            t.type_name,
            t.id,
            days,
            t.holder_name,
            t.detail
                .as_deref()
                .map(|d| format!(", {d}"))
                .unwrap_or_default()
        ));
        text.push_str(&format!(
            "  Add to Apple Wallet: {}\n  Save to Google Wallet: {}\n",
            wallet.apple, wallet.google
        ));
        rows_html.push_str(&format!(
            "<tr><td style=\"padding:8px\"><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"QR code of ticket {id}\"></td>\
             <td style=\"padding:8px\"><strong>{ty}</strong><br>Ticket {id}<br>Valid: {days}<br>Holder: {holder}{detail}\
             <br><a href=\"{apple}\">Add to Apple Wallet</a> | <a href=\"{google}\">Save to Google Wallet</a></td></tr>",
            detail = t
                .detail
                .as_deref()
                .map(|d| format!("<br>{}", html_escape(d)))
                .unwrap_or_default(),
            apple = html_escape(&wallet.apple),
            google = html_escape(&wallet.google),
            id = t.id,
            ty = html_escape(&t.type_name),
            days = html_escape(&days),
            holder = html_escape(&t.holder_name),
        ));
    }
    text.push_str(&wording.next_text);
    text.push_str(&format!(
        "\nYour tickets are attached as a PDF; show the QR code at the gate.\n\
         Your order page: {link}\n"
    ));
    let html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\">\
         <h1>{event}</h1>{demo_note}{intro}\
         <p>Total: {total}</p><table>{rows_html}</table>{next}\
         <p>Your tickets are attached as a PDF. Show the QR code at the gate, on paper or on your phone.</p>\
         <p><a href=\"{link}\">Your order page</a></p></body></html>",
        event = html_escape(&event_name),
        demo_note = if demo {
            "<p style=\"color:#b00\"><strong>DEMO order: no payment was taken.</strong></p>"
        } else {
            ""
        },
        intro = wording.intro_html,
        next = wording.next_html,
        total = money(order.total_cents, &order.currency),
        link = html_escape(link),
    );
    Content {
        subject,
        text,
        html,
    }
}

/// The email telling a buyer their money was returned, from the order's refunds as they
/// stand.
pub fn refund_notice(order: &Order, refunds: &[RefundRow]) -> Plain {
    let amount: i64 = refunds
        .iter()
        .filter(|r| r.status == "succeeded")
        .map(|r| r.amount_cents)
        .sum();
    let number = order_number(order.id);
    let subject = format!("Refund for order {number}");
    let mut text = format!("Hello {},\n\n", order.name);
    if order.status == OrderStatus::Refunded && refunds.iter().any(|r| r.ticket_id.is_none()) {
        text.push_str(&format!(
            "your order {number} has been refunded: {} goes back to the card you paid with.\n",
            money(amount, &order.currency)
        ));
    } else {
        text.push_str(&format!(
            "part of your order {number} has been refunded: {} goes back to the card you paid with.\n",
            money(amount, &order.currency)
        ));
    }
    text.push_str(
        "Refunded tickets no longer admit at the gate.\n\
         If your payment arrived after your reservation had expired and the tickets were \
         sold out meanwhile, this is why: no charge remains.\n",
    );
    Plain::new(subject, text)
}

/// The address confirmation, with its one-time `link`.
pub fn verify_email(link: &str) -> Plain {
    Plain::new(
        "Confirm your email address".into(),
        format!(
            "Hello,\n\nplease confirm that this address is yours: open\n\n{link}\n\n\
             Once it is confirmed, the tickets bought or received with it appear in \
             your dashboard. The link works for 7 days, once.\n\n\
             If you did not create an account, ignore this email.\n"
        ),
    )
}

/// The password reset, with its one-time `link`.
pub fn password_reset(link: &str) -> Plain {
    Plain::new(
        "Reset your password".into(),
        format!(
            "Hello,\n\nsomeone (hopefully you) asked to reset the password of the \
             account with this address. To choose a new password, open\n\n{link}\n\n\
             The link works for one hour, once. If you did not ask for it, ignore \
             this email: your password stays as it is.\n"
        ),
    )
}

/// To the giver of a transferred ticket (`ticket` as it stands, with its new holder).
pub fn transferred_out(ticket: &TicketView) -> Plain {
    Plain::new(
        format!("Your {} was transferred", ticket.type_name),
        format!(
            "Hello,\n\nyour ticket {} ({}, {}) now belongs to {}. Its old QR code no \
             longer opens the gates; the new holder received a new one.\n\n\
             If you did not do this, contact the organizer at once.\n",
            ticket.id, ticket.type_name, ticket.event.name, ticket.holder_name
        ),
    )
}

/// In place of a received or upgraded ticket's code, when the ticket changed again before
/// the email went out and its recipient no longer holds it.
pub fn no_longer_held(ticket_id: i64) -> Plain {
    Plain::new(
        format!("About ticket {ticket_id}"),
        "Hello,\n\nthis ticket changed again before this email went out, and you \
         no longer hold it. Log in to see the tickets you hold.\n"
            .into(),
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
pub fn ticket_with_code(t: &TicketView, why: NewCode, link: &str) -> Content {
    let days = valid_days(t.days_mask, &t.event.days).join(", ");
    let (subject, lead) = match why {
        NewCode::Upgraded => (
            format!("Your ticket is now a {}", t.type_name),
            "your upgrade is done. Here is your new QR code: the old one no longer opens the gates."
                .to_owned(),
        ),
        NewCode::Received => (
            format!("You received a {} for {}", t.type_name, t.event.name),
            "a ticket was transferred to you. Here is your QR code: show it at the gate."
                .to_owned(),
        ),
        NewCode::Reissued => (
            format!("A new code for your {} for {}", t.type_name, t.event.name),
            "the organizer reissued your ticket. Here is its new QR code: use this one at the \
             gate, the old one no longer opens it."
                .to_owned(),
        ),
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
        holder = html_escape(&t.holder_name),
        lead = html_escape(&lead),
        id = t.id,
        ty = html_escape(&t.type_name),
        event = html_escape(&t.event.name),
        days = html_escape(&days),
        link = html_escape(link),
    );
    Content {
        subject,
        text,
        html,
    }
}

/// Every valid ticket an account holds, each with its QR code and the link to its page
/// (`links`, one per ticket in the same order): "email me my tickets again".
pub fn all_tickets(tickets: &[TicketView], links: &[String]) -> Content {
    let mut text = format!(
        "Hello,\n\nhere are the {} ticket(s) you hold. Show a QR code at the gate.\n\n",
        tickets.len()
    );
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>Hello,</p>\
         <p>Here are the tickets you hold. Show a QR code at the gate, on paper or on your phone.</p><table>",
    );
    for (t, link) in tickets.iter().zip(links) {
        let days = valid_days(t.days_mask, &t.event.days).join(", ");
        text.push_str(&format!(
            "- {} for {} (ticket {}), valid {}, holder {}: {link}\n",
            t.type_name, t.event.name, t.id, days, t.holder_name
        ));
        html.push_str(&format!(
            "<tr><td style=\"padding:8px\"><img src=\"cid:ticket-{id}@tessera\" width=\"220\" height=\"220\" alt=\"QR code of ticket {id}\"></td>\
             <td style=\"padding:8px\"><strong>{ty}</strong><br>{event}<br>Ticket {id}<br>Valid: {days}<br>Holder: {holder}<br><a href=\"{link}\">Ticket and PDF</a></td></tr>",
            id = t.id,
            ty = html_escape(&t.type_name),
            event = html_escape(&t.event.name),
            days = html_escape(&days),
            holder = html_escape(&t.holder_name),
            link = html_escape(link),
        ));
    }
    if tickets.is_empty() {
        text.push_str("You hold no valid tickets right now.\n");
        html.push_str("<tr><td>You hold no valid tickets right now.</td></tr>");
    }
    html.push_str("</table></body></html>");
    Content {
        subject: "Your tickets".into(),
        text,
        html,
    }
}
