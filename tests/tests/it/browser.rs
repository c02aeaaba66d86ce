//! The attendee's story in a real browser (Debian's headless Chromium through chromedriver),
//! against the demo server: buy as a guest → create an account → confirm the address from
//! the email → see the tickets → transfer one → the recipient registers and sees it → a
//! synced gate rejects the old code as revoked and admits the new one. Screenshots of every
//! step are saved under the test's target dir (and printed).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tessera_tests::webdriver::{self, Browser};
use tessera_tests::{Db, Device, Server};

pub(crate) const PASSWORD: &str = "correct horse battery";

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/browser")
}

/// Waits for an email to `to` whose text contains `marker` and returns that text.
pub(crate) fn mail_to(data_dir: &Path, to: &str, marker: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(entries) = std::fs::read_dir(data_dir.join("outbox")) {
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                if path.extension().is_none_or(|x| x != "eml") {
                    continue;
                }
                let Ok(raw) = std::fs::read(&path) else {
                    continue;
                };
                let Some(msg) = mail_parser::MessageParser::default().parse(&raw) else {
                    continue;
                };
                let rcpt = msg.to().and_then(|a| a.first()).and_then(|a| a.address());
                let text = msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
                if rcpt == Some(to) && text.contains(marker) {
                    return text;
                }
            }
        }
        assert!(Instant::now() < deadline, "no email to {to} with {marker}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The first URL in `text` that contains `marker`.
pub(crate) fn link(text: &str, marker: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in {text}"))
        .to_owned()
}

/// Registers in the browser, then confirms the address through the emailed link.
fn register_and_confirm(b: &Browser, server: &Server, data_dir: &Path, name: &str, email: &str) {
    b.fill("#name", name);
    let shown = b.js("return document.getElementById('email').value");
    if shown.as_str() != Some(email) {
        b.fill("#email", email);
    }
    b.fill("#password", PASSWORD);
    b.click("main form button[type=submit]");
    b.wait_text("Confirm your email address");
    let text = mail_to(data_dir, email, "/account/verify?token=");
    let url = link(&text, "/account/verify?token=");
    assert!(url.starts_with(&server.url), "{url}");
    b.goto(&url);
    b.click("main form button[type=submit]");
    b.wait_text("Your email address is confirmed");
}

fn ticket_count(b: &Browser) -> u64 {
    b.js("return document.querySelectorAll('article.ticket').length")
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn buy_register_transfer_and_the_old_code_is_revoked_at_the_gate() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let data_dir = db.dir.path().to_owned();
    let mut gate = Device::enroll(&server, "Gate-1", "Main Gate");
    let types = server.block_on(server.state.store.ticket_types()).unwrap();
    let three_day = types.iter().find(|t| t.name == "3-Day Pass").unwrap().id;

    // A phone-sized window: the pages are mobile-first.
    let b = Browser::start(412, 915, shots_dir());

    // The event page: passes, prices, days, what is left.
    b.goto(&format!("{}/", server.url));
    let text = b.wait_text("3-Day Pass");
    assert!(text.contains("$35.00") && text.contains("left"), "{text}");
    b.screenshot("01-event");

    // Buy two 3-Day Passes as a guest.
    b.fill(&format!("#qty-{three_day}"), "2");
    b.fill("#name", "Ada Lovelace");
    b.fill("#email", "ada@example.com");
    b.screenshot("02-checkout");
    b.click("form[action='/checkout'] button[type=submit]");
    let text = b.wait_text("DEMO order");
    assert!(b.url().contains("/orders/"), "{}", b.url());
    assert_eq!(ticket_count(&b), 2, "{text}");
    b.screenshot("03-order");

    // Create an account from the order page (the address is prefilled), confirm it.
    b.click("main a[href^='/account/register?email']");
    register_and_confirm(&b, &server, &data_dir, "Ada Lovelace", "ada@example.com");
    b.goto(&format!("{}/account", server.url));
    b.wait_text("My tickets");
    assert_eq!(ticket_count(&b), 2, "the guest order attached");
    b.screenshot("04-dashboard");

    let held = server
        .block_on(server.state.store.holder_tickets("ada@example.com"))
        .unwrap();
    let gift = held[0].clone();
    let old_code = gift.qr_text.clone();

    // Transfer one to Grace.
    b.goto(&format!("{}/tickets/{}", server.url, gift.id));
    b.wait_text("Transfer to someone else");
    b.fill("#to_name", "Grace Hopper");
    b.fill("#to_email", "grace@example.com");
    b.screenshot("05-transfer");
    b.click("form[action$='/transfer'] button[type=submit]");
    b.wait_text("Ticket transferred");
    b.screenshot("06-transferred");
    b.goto(&format!("{}/account", server.url));
    b.wait_text("My tickets");
    assert_eq!(ticket_count(&b), 1, "Ada holds one ticket now");

    // Grace registers with the address the ticket went to and sees it.
    b.click("form[action='/account/logout'] button");
    b.wait_text("You are logged out");
    b.goto(&format!("{}/account/register", server.url));
    register_and_confirm(&b, &server, &data_dir, "Grace Hopper", "grace@example.com");
    b.goto(&format!("{}/account", server.url));
    let text = b.wait_text("Grace Hopper");
    assert_eq!(ticket_count(&b), 1, "{text}");
    assert!(text.contains(&gift.id.to_string()), "{text}");
    b.screenshot("07-recipient");

    // The gate syncs: the old code is revoked, Grace's new code opens.
    gate.sync().unwrap();
    let old = gate.scan(&old_code);
    assert_eq!(old.verdict, "reject", "{}", old.message);
    assert_eq!(old.reason, Some("revoked"), "{}", old.message);
    assert!(old.message.contains("transferred"), "{}", old.message);
    let new_code = server
        .block_on(server.state.store.ticket(gift.id))
        .unwrap()
        .unwrap()
        .qr_text;
    let new = gate.scan(&new_code);
    assert_eq!(new.verdict, "admit", "{}", new.message);

    #[allow(clippy::print_stderr)]
    {
        eprintln!("screenshots: {}", shots_dir().display());
    }
}
