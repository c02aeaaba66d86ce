//! The festival in Arabic, in a real browser: a Chromium whose `Accept-Language` is `ar`
//! opens the event page right to left in Arabic, buys two passes through the Arabic pages
//! in demo mode (its confirmation email in Arabic), switches to English and back with the
//! link on the page, then creates an account, confirms it from the (Arabic) email and sees
//! the passes on its Arabic dashboard. The
//! screenshots of the event page, the order page and the dashboard are the README's.

use std::path::{Path, PathBuf};

use tessera_tests::webdriver::{self, Browser};
use tessera_tests::{Db, Server};

use crate::browser::{PASSWORD, link, mail_to};

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/arabic")
}

#[test]
fn a_ticket_is_bought_entirely_in_arabic() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    let types = server.block_on(server.state.store.ticket_types()).unwrap();
    let three_day = types.iter().find(|t| t.name == "3-Day Pass").unwrap().id;

    let b = Browser::start_in_language(412, 915, shots_dir(), Some("ar"));
    b.goto(&format!("{}/", server.url));
    let text = b.wait_text("بياناتك");
    assert_eq!(
        b.js("return document.documentElement.dir").as_str(),
        Some("rtl")
    );
    assert_eq!(
        b.js("return document.documentElement.lang").as_str(),
        Some("ar")
    );
    // Prices stay as they are; the days are in Arabic words with ASCII digits.
    assert!(text.contains("$35.00") && text.contains("تبقّت"), "{text}");
    assert!(!text.contains("Your details"), "{text}");
    b.screenshot("01-event-ar");

    b.fill(&format!("#qty-{three_day}"), "2");
    b.fill("#name", "ليلى 2!");
    b.fill("#email", "layla@example.com");
    b.click("form[action='/checkout'] button[type=submit]");
    let text = b.wait_text("طلب تجريبي");
    assert!(b.url().contains("/orders/"), "{}", b.url());
    assert_eq!(
        b.js("return document.documentElement.dir").as_str(),
        Some("rtl")
    );
    assert_eq!(
        b.js("return document.querySelectorAll('article.ticket').length")
            .as_u64(),
        Some(2),
        "{text}"
    );
    assert!(text.contains("شكرًا لك يا ليلى 2!"), "{text}");
    // The buyer's name is isolated: its "2!" stays with it in the right-to-left sentence.
    assert_eq!(
        b.js("return document.querySelector('.notice bdi').textContent")
            .as_str(),
        Some("ليلى 2!")
    );
    // QR codes are not mirrored.
    assert_eq!(
        b.js("return getComputedStyle(document.querySelector('img.qr')).transform")
            .as_str(),
        Some("none")
    );
    b.screenshot("02-order-ar");
    // The order was placed in Arabic: so is its confirmation email, the name isolated.
    let mail = mail_to(db.dir.path(), "layla@example.com", "صفحة طلبك:");
    assert!(mail.starts_with("مرحبًا \u{2068}ليلى 2!\u{2069}،"), "{mail}");

    // The switch goes to English on the same page, and back.
    b.click("a.lang-switch[lang='en']");
    b.wait_text("Holder:");
    assert_eq!(
        b.js("return document.documentElement.dir").as_str(),
        Some("")
    );
    assert!(b.url().contains("/orders/"), "{}", b.url());
    b.click("a.lang-switch[lang='ar']");
    b.wait_text("حاملها");
    b.screenshot("03-order-back-in-ar");

    // An account from the order page (the address is prefilled), confirmed from the email:
    // the dashboard, in Arabic, holds both passes.
    b.click("main a[href^='/account/register?email']");
    b.fill("#name", "ليلى 2!");
    b.fill("#password", PASSWORD);
    b.click("main form button[type=submit]");
    b.wait_text("أكّد عنوان بريدك");
    let text = mail_to(db.dir.path(), "layla@example.com", "/account/verify?token=");
    // Registered from an Arabic page: the confirmation link comes in Arabic.
    assert!(text.starts_with("مرحبًا،"), "{text}");
    b.goto(&link(&text, "/account/verify?token="));
    b.click("main form button[type=submit]");
    b.wait_text("تأكّد عنوان بريدك");
    b.goto(&format!("{}/account", server.url));
    let text = b.wait_text("تذاكري");
    assert_eq!(
        b.js("return document.querySelectorAll('article.ticket').length")
            .as_u64(),
        Some(2),
        "{text}"
    );
    assert_eq!(
        b.js("return document.documentElement.dir").as_str(),
        Some("rtl")
    );
    b.screenshot("04-dashboard-ar");
}
