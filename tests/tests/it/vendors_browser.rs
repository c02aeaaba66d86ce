//! The vendor's and the organizer's stories in a real browser (headless Chromium through
//! chromedriver), against the demo server, with screenshots of every step:
//!
//! - vendor: book a food truck booth on the public form → the vendor profile exists → the
//!   organizer creates booth B-12, assigns it and grants 3 staff passes → the vendor's
//!   account shows booth and passes → a synced gate at the Vendor Gate admits a staff pass
//!   and its verdict names the business and the booth;
//! - organizer: two devices enrolled from the devices page, one synced and one not → the
//!   dashboard says exactly that; the synced one's check-ins appear in the live counts.

use std::path::{Path, PathBuf};

use tessera_server::store::NewUser;
use tessera_tests::webdriver::{self, Browser};
use tessera_tests::{Db, Device, Server};

const PASSWORD: &str = "correct horse battery";

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots/vendors")
}

/// An account with a confirmed address and `role`.
fn account(server: &Server, email: &str, name: &str, role: &str) {
    let hash = server
        .block_on(tessera_server::app::accounts::hash_password(
            PASSWORD.into(),
        ))
        .unwrap();
    server
        .block_on(server.state.store.create_user(&NewUser {
            email: email.into(),
            name: name.into(),
            password_hash: hash,
            role: role.into(),
            verified: true,
            now: chrono::Utc::now().timestamp(),
        }))
        .unwrap();
}

fn login(b: &Browser, server: &Server, email: &str) {
    b.goto(&format!("{}/account/login", server.url));
    b.fill("#email", email);
    b.fill("#password", PASSWORD);
    b.click("main form button[type=submit]");
    b.wait_text("My tickets");
}

fn logout(b: &Browser) {
    b.click("form[action='/account/logout'] button");
    b.wait_text("You are logged out");
}

/// Picks `value` in a `<select>` (WebDriver's own select support differs by driver).
fn select(b: &Browser, id: &str, value: &str) {
    b.find(&format!("#{id}"));
    b.js(&format!(
        "const s = document.getElementById({id:?}); s.value = {value:?}; return s.value"
    ));
}

#[test]
fn a_vendor_books_a_booth_and_their_staff_pass_opens_the_vendor_gate() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    std::fs::create_dir_all(shots_dir()).unwrap();
    let b = Browser::start(412, 915, shots_dir());

    // The vendor books a food truck booth on the public form.
    b.goto(&format!("{}/vendors/booth", server.url));
    b.wait_text("Book a vendor booth");
    b.click("input[name=category][value=food_truck]");
    b.fill("#business_name", "Falafel King");
    b.fill("#booth_name", "The King's truck");
    b.fill("#contact_name", "Samir Haddad");
    b.fill("#phone", "+1 714 555 0142");
    b.fill("#email", "samir@example.com");
    b.fill("#description", "Falafel, shawarma and hummus");
    b.js("window.scrollTo(0, 0); return 1");
    b.screenshot("vendor-01-form");
    b.click("form[action='/vendors/booth'] button[type=submit]");
    b.wait_text("DEMO order");
    assert!(b.url().contains("/orders/"), "{}", b.url());
    b.screenshot("vendor-02-booked");

    // The vendor profile was made from the form.
    let profile = server
        .block_on(server.state.store.vendor_by_email("samir@example.com"))
        .unwrap()
        .expect("vendor profile");
    assert_eq!(profile.business_name, "Falafel King");
    let order = server
        .block_on(server.state.store.vendor_purchases(None))
        .unwrap()[0]
        .order_id;

    // The organizer creates booth B-12, assigns it and grants three staff passes.
    account(&server, "boss@example.com", "Festival Boss", "organizer");
    login(&b, &server, "boss@example.com");
    b.goto(&format!("{}/organizer/vendors", server.url));
    b.wait_text("Booth purchases");
    b.fill("#code", "B-12");
    select(&b, "category", "food_truck");
    b.click("form[action='/organizer/booths'] button[type=submit]");
    b.wait_text("Booth B-12 created");
    let booth = server.block_on(server.state.store.booths()).unwrap()[0].id;
    select(&b, &format!("assign-{booth}"), &order.to_string());
    b.click(&format!(
        "form[action='/organizer/booths/{booth}/assign'] button[type=submit]"
    ));
    b.wait_text("Booth assigned");
    b.fill(&format!("#staff-{booth}"), "3");
    b.click(&format!(
        "form[action='/organizer/booths/{booth}/staff'] button[type=submit]"
    ));
    let text = b.wait_text("3 staff passes issued");
    assert!(text.contains("Falafel King"), "{text}");
    b.screenshot("vendor-03-organizer-assigned");
    logout(&b);

    // The vendor logs in and sees the booth and the staff passes.
    account(&server, "samir@example.com", "Samir Haddad", "vendor");
    login(&b, &server, "samir@example.com");
    let text = b.wait_text("Booth B-12");
    assert!(
        text.contains("Staff 1") && text.contains("Staff 2") && text.contains("Staff 3"),
        "{text}"
    );
    b.screenshot("vendor-04-dashboard");

    // A gate at the Vendor Gate syncs and admits a staff pass, naming business and booth.
    let staff = server
        .block_on(server.state.store.staff_passes(booth))
        .unwrap();
    let mut gate = Device::enroll(&server, "Vendor-Tablet", "Vendor Gate");
    let report = gate.scan(&staff[0].qr_text);
    assert_eq!(report.verdict, "admit", "{}", report.message);
    assert_eq!(report.detail.as_deref(), Some("Falafel King · Booth B-12"));
    #[allow(clippy::print_stderr)]
    {
        eprintln!("screenshots: {}", shots_dir().display());
    }
}

#[test]
fn the_organizer_sees_which_devices_are_ready_and_the_live_counts() {
    if !webdriver::available() {
        return;
    }
    let db = Db::sqlite();
    let server = Server::start(&db);
    std::fs::create_dir_all(shots_dir()).unwrap();
    let b = Browser::start(412, 915, shots_dir());
    account(&server, "boss@example.com", "Festival Boss", "organizer");
    login(&b, &server, "boss@example.com");

    // Two enrollment codes from the devices page, each shown with its QR code.
    let mut codes = Vec::new();
    for (name, gate) in [("Gate-A", "Main Gate"), ("Gate-B", "North Gate")] {
        b.goto(&format!("{}/organizer/devices", server.url));
        b.fill("#name", name);
        select(&b, "gate", gate);
        b.click("form[action='/organizer/devices'] button[type=submit]");
        b.wait_text("Enrollment code");
        let code = b.js("return document.querySelector('.code').textContent");
        codes.push(code.as_str().unwrap().trim().to_owned());
        assert_eq!(
            b.js("return document.querySelectorAll('#code-h ~ div svg').length")
                .as_u64(),
            Some(1),
            "the code's QR code"
        );
    }
    b.screenshot("organizer-01-enrollment-code");

    // Gate-A enrolls and syncs; Gate-B only enrolls (before Gate-A syncs: a device enrolled
    // is a change every gate pulls, the event's devices).
    let dir_a = tempfile::tempdir().unwrap();
    let mut gate_a = tessera_scanner::Scanner::open(dir_a.path()).unwrap();
    tessera_scanner::sync::enroll(&mut gate_a, &server.url, &codes[0], "test").unwrap();
    let tickets = server.buy(2);
    let dir_b = tempfile::tempdir().unwrap();
    let mut gate_b = tessera_scanner::Scanner::open(dir_b.path()).unwrap();
    tessera_scanner::sync::enroll(&mut gate_b, &server.url, &codes[1], "test").unwrap();
    tessera_scanner::sync::sync_once(&mut gate_a, &mut |_, _| {}).unwrap();

    b.goto(&format!("{}/organizer", server.url));
    let text = b.wait_text("1 of 2 devices are current");
    assert!(text.contains("changes behind"), "{text}");
    b.screenshot("organizer-02-readiness");

    // Gate-A admits both tickets, rejects one twice, syncs: the live counts show them.
    for (_, code) in &tickets {
        let r = gate_a.scan(code, chrono::Utc::now()).unwrap();
        assert_eq!(r.verdict, "admit", "{}", r.message);
    }
    let again = gate_a.scan(&tickets[0].1, chrono::Utc::now()).unwrap();
    assert_eq!(again.verdict, "reject");
    tessera_scanner::sync::sync_once(&mut gate_a, &mut |_, _| {}).unwrap();
    b.goto(&format!("{}/organizer", server.url));
    let text = b.wait_text("admitted today");
    assert!(text.contains("2\nadmitted today"), "{text}");
    assert!(text.contains("already_admitted"), "{text}");
    b.js("document.getElementById('live-h').scrollIntoView(); return 1");
    b.screenshot("organizer-03-live");
    b.goto(&format!("{}/organizer/exports", server.url));
    b.wait_text("CSV exports");
    b.screenshot("organizer-04-exports");
}
