//! Vendors and the organizer console, through the HTTP API on both backends: the vendor
//! story (buy a food truck booth → profile → booth B-12 assigned with three staff passes →
//! the vendor sees them → a synced gate admits a staff pass showing business and booth), the
//! organizer story (two devices enrolled from the console, one synced → readiness says
//! exactly that; check-ins reach the live counts; CSV exports parse and match the
//! database), sales paused and prices fixed once sold, and the console refusing anyone but
//! an organizer.

use std::time::Duration;

use chrono::Utc;
use mail_parser::MimeHeaders;
use serde_json::{Value, json};
use tessera_server::store::NewUser;

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, buy, eventually, ticket_type_id};

const PASSWORD: &str = "correct horse battery staple";

/// An account with `role`, logged in: its bearer token.
pub async fn user_token(app: &TestApp, email: &str, role: &str) -> String {
    app.state
        .store
        .create_user(&NewUser {
            email: email.to_owned(),
            name: format!("{role} {email}"),
            password_hash: tessera_server::app::accounts::hash_password(PASSWORD.into())
                .await
                .unwrap(),
            role: role.to_owned(),
            verified: true,
            now: Utc::now().timestamp(),
        })
        .await
        .unwrap();
    let res = app
        .http
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// The test server and its organizer's bearer token.
struct Console {
    app: TestApp,
    organizer: String,
}

impl std::ops::Deref for Console {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

async fn app(db: &TestDb) -> Console {
    let app = TestApp::spawn(db.settings()).await;
    let organizer = user_token(&app, "boss@example.com", "organizer").await;
    Console { app, organizer }
}

/// An organizer's request.
async fn console(app: &Console, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(&app.organizer);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn falafel_king() -> Value {
    json!({
        "business_name": "Falafel King",
        "booth_name": "The King's truck",
        "category": "food_truck",
        "contact_name": "Samir Haddad",
        "phone": "+1 (714) 555-0142",
        "email": "Samir@Example.com",
        "description": "Falafel, shawarma, \"the best\" hummus",
    })
}

async fn buy_booth(app: &TestApp, body: &Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/vendor-booths"))
        .json(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Enrolls a scanner with `code` and syncs it once (blocking HTTP, off the runtime).
async fn scanner(app: &TestApp, dir: std::path::PathBuf, code: String) -> tessera_scanner::Scanner {
    let base = app.base.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = tessera_scanner::Scanner::open(&dir).unwrap();
        tessera_scanner::sync::enroll(&mut s, &base, &code, "t").unwrap();
        tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
        s
    })
    .await
    .unwrap()
}

async fn vendor_story(db: &TestDb) {
    let app = app(db).await;
    let store = app.state.store.clone();

    // A vendor fills in the form with a bad phone number, then correctly.
    let mut bad = falafel_king();
    bad["phone"] = json!("call me");
    let (status, body) = buy_booth(&app, &bad).await;
    assert_eq!((status, body["error"].as_str()), (422, Some("invalid")));
    assert!(
        body["message"].as_str().unwrap().starts_with("phone"),
        "{body}"
    );
    let (status, bought) = buy_booth(&app, &falafel_king()).await;
    assert_eq!(status, 201, "{bought}");
    assert_eq!(bought["status"], "paid");
    assert_eq!(bought["price_cents"], 80_000);
    let order_id = bought["order_id"].as_i64().unwrap();
    let token = bought["access_token"].as_str().unwrap().to_owned();
    let booth_ticket = &bought["tickets"][0];
    assert_eq!(booth_ticket["ticket_type_name"], "Food Truck Booth");
    assert_eq!(booth_ticket["kind"], "vendor_booth");

    // The vendor profile was made from the form, keyed by the email.
    let profile = store
        .vendor_by_email("samir@example.com")
        .await
        .unwrap()
        .expect("vendor profile");
    assert_eq!(profile.business_name, "Falafel King");
    assert_eq!(profile.id, bought["vendor_id"].as_i64().unwrap());

    // The vendor email: its own subject, the booth's details and what to do next.
    let outbox = app.state.settings.outbox_dir();
    let eml = eventually("the vendor email", Duration::from_secs(10), || {
        let outbox = outbox.clone();
        async move {
            std::fs::read_dir(&outbox)
                .ok()?
                .filter_map(Result::ok)
                .find(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("order-{order_id}-"))
                })
                .map(|e| std::fs::read(e.path()).unwrap())
        }
    })
    .await;
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let subject = message.subject().unwrap();
    assert!(subject.contains("food truck booth"), "{subject}");
    assert!(subject.contains("Falafel King"), "{subject}");
    // Names sit between Unicode isolates (FSI, PDI); these checks read the words.
    let text = message
        .body_text(0)
        .unwrap()
        .replace(['\u{2068}', '\u{2069}'], "");
    assert!(text.contains("What to do next"), "{text}");
    assert!(text.contains("The King's truck"), "{text}");
    assert!(
        text.contains("Falafel King · booth to be assigned"),
        "{text}"
    );

    // The organizer creates booth B-12, assigns it, and grants three staff passes.
    let (status, booth) = console(
        &app,
        "POST",
        "/api/v1/console/booths",
        Some(json!({"code": "b-12", "category": "food_truck"})),
    )
    .await;
    assert_eq!(status, 201, "{booth}");
    assert_eq!(booth["code"], "B-12");
    let booth_id = booth["id"].as_i64().unwrap();
    let (status, again) = console(
        &app,
        "POST",
        "/api/v1/console/booths",
        Some(json!({"code": "B-12"})),
    )
    .await;
    assert_eq!((status, again["error"].as_str()), (409, Some("conflict")));
    let (status, _) = console(
        &app,
        "POST",
        &format!("/api/v1/console/booths/{booth_id}/staff-passes"),
        Some(json!({"count": 3})),
    )
    .await;
    assert_eq!(status, 422, "staff passes need an assigned booth");
    let (status, vendors) = console(
        &app,
        "POST",
        &format!("/api/v1/console/booths/{booth_id}/assignment"),
        Some(json!({"order_id": order_id})),
    )
    .await;
    assert_eq!(status, 200, "{vendors}");
    assert_eq!(vendors["purchases"][0]["booth_code"], "B-12");
    let (status, granted) = console(
        &app,
        "POST",
        &format!("/api/v1/console/booths/{booth_id}/staff-passes"),
        Some(json!({"count": 3})),
    )
    .await;
    assert_eq!(status, 201, "{granted}");
    let passes = granted["tickets"].as_array().unwrap();
    let holders: Vec<&str> = passes
        .iter()
        .map(|t| t["holder_name"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["Staff 1", "Staff 2", "Staff 3"]);

    // The staff passes are emailed to the vendor (with their PDF).
    let staff_order = passes[0]["id"].as_i64().unwrap();
    let staff_order = store.ticket(staff_order).await.unwrap().unwrap().order_id;
    let eml = eventually("the staff passes email", Duration::from_secs(10), || {
        let outbox = outbox.clone();
        async move {
            std::fs::read_dir(&outbox)
                .ok()?
                .filter_map(Result::ok)
                .find(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("order-{staff_order}-"))
                })
                .map(|e| std::fs::read(e.path()).unwrap())
        }
    })
    .await;
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    let subject = message.subject().unwrap();
    assert!(
        subject.contains("3 staff passes for Falafel King, booth B-12"),
        "{subject}"
    );
    assert_eq!(
        message.to().unwrap().first().unwrap().address(),
        Some("samir@example.com")
    );
    assert!(
        message
            .attachments()
            .any(|a| a.attachment_name().is_some_and(|n| n.ends_with(".pdf")))
    );

    // The vendor sees booth, assignment and staff passes with the order's token.
    let mine: Value = app
        .http
        .get(app.url(&format!("/api/v1/vendor-booths/{order_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["purchase"]["booth_code"], "B-12");
    assert_eq!(mine["purchase"]["business_name"], "Falafel King");
    assert_eq!(mine["purchase"]["staff_passes"], 3);
    assert_eq!(mine["staff_passes"].as_array().unwrap().len(), 3);

    // Staff passes carry the booth in their signed claims.
    let ring = crate::support::keyring(&app.http, &app.base).await;
    let pass_text = passes[0]["qr_text"].as_str().unwrap().to_owned();
    let verified = tessera_core::verify(&pass_text, &ring).unwrap();
    assert_eq!(
        verified.claims().booth.map(|b| i64::from(b.0.get())),
        Some(booth_id)
    );

    // A gate device at the Vendor Gate, enrolled from the console, syncs and admits a staff
    // pass; the verdict names the business and the booth.
    let (status, code) = console(
        &app,
        "POST",
        "/api/v1/console/devices/codes",
        Some(json!({"name": "Vendor-Tablet", "gate": "Vendor Gate"})),
    )
    .await;
    assert_eq!(status, 201, "{code}");
    assert!(
        code["qr_svg"].as_str().unwrap().starts_with("<?xml")
            || code["qr_svg"].as_str().unwrap().contains("<svg")
    );
    // The printable PNG holds the enrollment link with the code.
    let png = app
        .http
        .get(app.url(code["qr_png_url"].as_str().unwrap()))
        .bearer_auth(&app.organizer)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut img = rqrr::PreparedImage::prepare(image::load_from_memory(&png).unwrap().to_luma8());
    let (_, link) = img.detect_grids()[0].decode().unwrap();
    assert_eq!(link, code["enroll_url"].as_str().unwrap());
    assert!(link.ends_with(code["code"].as_str().unwrap()), "{link}");
    let mut device = scanner(
        &app,
        db.dir.path().join("vendor-tablet"),
        code["code"].as_str().unwrap().to_owned(),
    )
    .await;
    let booth_text = booth_ticket["qr_text"].as_str().unwrap().to_owned();
    let (staff, booth_scan) = tokio::task::spawn_blocking(move || {
        let staff = device.scan(&pass_text, Utc::now()).unwrap();
        let booth = device.scan(&booth_text, Utc::now()).unwrap();
        (staff, booth)
    })
    .await
    .unwrap();
    assert_eq!(staff.verdict, "admit", "{staff:?}");
    assert_eq!(staff.detail.as_deref(), Some("Falafel King · Booth B-12"));
    assert_eq!(staff.holder.as_deref(), Some("Staff 1"));
    assert_eq!(booth_scan.verdict, "admit", "{booth_scan:?}");
    assert_eq!(
        booth_scan.detail.as_deref(),
        Some("Falafel King · Booth B-12")
    );

    // Vendor tickets are never transferable.
    let types = store.ticket_types().await.unwrap();
    assert!(
        types
            .iter()
            .filter(|t| t.kind == tessera_server::store::TicketKind::VendorBooth)
            .all(|t| !t.transferable)
    );
    app.app.stop().await;
}
on_both_backends!(vendor_story_api, vendor_story);

/// A minimal RFC 4180 reader: quoted fields, doubled quotes, CRLF records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "CSV ends with CRLF");
    records
}

async fn organizer_story(db: &TestDb) {
    let app = app(db).await;
    let store = app.state.store.clone();
    let pass = ticket_type_id(store.as_ref(), "3-Day Pass").await;
    let (status, order) = buy(&app.http, &app.base, pass, 2).await;
    assert_eq!(status, 201, "{order}");
    let texts: Vec<String> = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["qr_text"].as_str().unwrap().to_owned())
        .collect();
    // A vendor with a comma and quotes in its details, for the CSV.
    let (status, _) = buy_booth(&app, &falafel_king()).await;
    assert_eq!(status, 201);

    // Two devices enrolled from the console; only Gate-A syncs.
    let mut codes = Vec::new();
    for (name, gate) in [("Gate-A", "Main Gate"), ("Gate-B", "North Gate")] {
        let (status, code) = console(
            &app,
            "POST",
            "/api/v1/console/devices/codes",
            Some(json!({"name": name, "gate": gate})),
        )
        .await;
        assert_eq!(status, 201, "{code}");
        codes.push(code["code"].as_str().unwrap().to_owned());
    }
    // Gate-B enrolls first: a device enrolled is a change every gate pulls (the event's
    // devices), so a gate that synced before it would be a change behind.
    let base = app.base.clone();
    let code_b = codes[1].clone();
    let dir_b = db.dir.path().join("gate-b");
    tokio::task::spawn_blocking(move || {
        let mut s = tessera_scanner::Scanner::open(&dir_b).unwrap();
        tessera_scanner::sync::enroll(&mut s, &base, &code_b, "t").unwrap();
    })
    .await
    .unwrap();
    let mut gate_a = scanner(&app, db.dir.path().join("gate-a"), codes[0].clone()).await;
    let (status, ready) = console(&app, "GET", "/api/v1/console/devices", None).await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(
        (ready["ready"].as_u64(), ready["active"].as_u64()),
        (Some(1), Some(2)),
        "{ready}"
    );
    let devices = ready["devices"].as_array().unwrap();
    let a = devices.iter().find(|d| d["name"] == "Gate-A").unwrap();
    let b = devices.iter().find(|d| d["name"] == "Gate-B").unwrap();
    assert_eq!(a["current"], true, "{a}");
    assert_eq!(a["behind"], 0);
    assert_eq!(a["gate"], "Main Gate");
    assert_eq!(b["current"], false, "{b}");
    assert!(b["problem"].as_str().unwrap().contains("behind"), "{b}");

    // Gate-A admits both tickets and rejects a second scan, offline; then syncs.
    let (t0, t1) = (texts[0].clone(), texts[1].clone());
    tokio::task::spawn_blocking(move || {
        assert_eq!(gate_a.scan(&t0, Utc::now()).unwrap().verdict, "admit");
        assert_eq!(gate_a.scan(&t1, Utc::now()).unwrap().verdict, "admit");
        assert_eq!(gate_a.scan(&t0, Utc::now()).unwrap().verdict, "reject");
        tessera_scanner::sync::sync_once(&mut gate_a, &mut |_, _| {}).unwrap();
    })
    .await
    .unwrap();
    let (status, live) = console(&app, "GET", "/api/v1/console/live", None).await;
    assert_eq!(status, 200, "{live}");
    assert_eq!(live["admitted_today"], 2, "{live}");
    assert_eq!(live["per_gate"], json!([{"name": "Main Gate", "count": 2}]));
    assert_eq!(
        live["per_ticket_type"],
        json!([{"name": "3-Day Pass", "count": 2}])
    );
    assert_eq!(
        live["rejects_by_reason"],
        json!([{"name": "already_admitted", "count": 1}])
    );
    assert_eq!(
        live["scans_per_minute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        3
    );
    assert_eq!(live["inside"], Value::Null, "once-per-day event");

    // CSV exports parse and match the database.
    let csv_of = |name: &'static str| {
        let app = &app;
        async move {
            let res = app
                .http
                .get(app.url(&format!("/api/v1/console/exports/{name}")))
                .bearer_auth(&app.organizer)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/csv")
            );
            parse_csv(&res.text().await.unwrap())
        }
    };
    let orders = csv_of("orders.csv").await;
    let db_orders = store.search_orders("", 1000).await.unwrap();
    assert_eq!(orders.len(), db_orders.len() + 1);
    assert_eq!(orders[0][0], "order_id");
    for o in &db_orders {
        let row = orders.iter().find(|r| r[0] == o.id.to_string()).unwrap();
        assert_eq!(
            (&row[4], &row[5], &row[6]),
            (&o.email, &o.name, &o.total_cents.to_string())
        );
    }
    let tickets = csv_of("tickets.csv").await;
    let db_tickets = store.search_tickets("", 1000).await.unwrap();
    assert_eq!(tickets.len(), db_tickets.len() + 1);
    for t in &db_tickets {
        let row = tickets.iter().find(|r| r[0] == t.id.to_string()).unwrap();
        assert_eq!(
            (&row[5], &row[7], &row[8]),
            (&t.type_name, &t.holder_name, &t.status)
        );
    }
    let check_ins = csv_of("check-ins.csv").await;
    let event = store.events().await.unwrap()[0].id;
    let db_check_ins = store.event_check_ins(event).await.unwrap();
    assert_eq!(check_ins.len(), db_check_ins.len() + 1);
    for (row, c) in check_ins.iter().skip(1).zip(&db_check_ins) {
        assert_eq!(row[0], c.device_id);
        assert_eq!(row[1], c.seq.to_string());
        assert_eq!(row[8], c.admitted.to_string());
    }
    let conflicts = csv_of("conflicts.csv").await;
    assert_eq!(
        conflicts.len(),
        1 + db_check_ins.iter().filter(|c| c.conflict).count()
    );

    // Search, void, resend.
    let (status, found) =
        console(&app, "GET", "/api/v1/console/search?q=ADA%40example", None).await;
    assert_eq!(status, 200);
    assert_eq!(found["orders"].as_array().unwrap().len(), 1, "{found}");
    let ticket_id = order["tickets"][1]["id"].as_i64().unwrap();
    let (status, _) = console(
        &app,
        "POST",
        &format!("/api/v1/console/tickets/{ticket_id}/void"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        store.ticket(ticket_id).await.unwrap().unwrap().status,
        "void"
    );
    let order_id = order["id"].as_i64().unwrap();
    let before = store.outbox_entries().await.unwrap().len();
    let (status, _) = console(
        &app,
        "POST",
        &format!("/api/v1/console/orders/{order_id}/resend"),
        None,
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(store.outbox_entries().await.unwrap().len(), before + 1);
    app.app.stop().await;
}
on_both_backends!(organizer_story_api, organizer_story);

async fn sales_rules(db: &TestDb) {
    let app = app(db).await;
    let store = app.state.store.clone();
    let one_day = ticket_type_id(store.as_ref(), "1-Day Pass").await;
    let two_day = ticket_type_id(store.as_ref(), "2-Day Pass").await;

    // Price and capacity change before sales, not after.
    let (status, _) = console(
        &app,
        "PATCH",
        &format!("/api/v1/console/ticket-types/{two_day}"),
        Some(json!({"price_cents": 2700, "capacity": 100})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, order) = buy(&app.http, &app.base, two_day, 1).await;
    assert_eq!((status, order["total_cents"].as_i64()), (201, Some(2700)));
    let (status, body) = console(
        &app,
        "PATCH",
        &format!("/api/v1/console/ticket-types/{two_day}"),
        Some(json!({"price_cents": 100, "capacity": 100})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("conflict")),
        "{body}"
    );

    // Paused types cannot be bought (not even as a booth), but can be comped.
    let (status, _) = console(
        &app,
        "POST",
        &format!("/api/v1/console/ticket-types/{one_day}/pause"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = buy(&app.http, &app.base, one_day, 1).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("sales_paused")),
        "{body}"
    );
    let (status, comp) = console(
        &app,
        "POST",
        "/api/v1/console/comps",
        Some(json!({"ticket_type": one_day, "email": "guest@example.com", "name": "Guest"})),
    )
    .await;
    assert_eq!(status, 201, "{comp}");
    assert_eq!(comp["payment"], "comp");
    let food = ticket_type_id(store.as_ref(), "Food Booth").await;
    console(
        &app,
        "POST",
        &format!("/api/v1/console/ticket-types/{food}/pause"),
        None,
    )
    .await;
    let mut booth = falafel_king();
    booth["category"] = json!("food_booth");
    let (status, body) = buy_booth(&app, &booth).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("sales_paused")),
        "{body}"
    );
    let events: Value = app
        .http
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = events["events"][0]["ticket_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == one_day)
        .unwrap()
        .clone();
    assert_eq!(listed["sales_paused"], true);
    let (status, _) = console(
        &app,
        "POST",
        &format!("/api/v1/console/ticket-types/{one_day}/resume"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = buy(&app.http, &app.base, one_day, 1).await;
    assert_eq!(status, 201);

    // A second event with its gates; a taken name is a conflict.
    let event = json!({"name": "Winter Market", "venue": "Irvine", "timezone": "America/Los_Angeles",
                       "start": "2026-12-12", "days": 2, "gates": [{"name": "Front", "zones": 1}]});
    let (status, created) =
        console(&app, "POST", "/api/v1/console/events", Some(event.clone())).await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = console(&app, "POST", "/api/v1/console/events", Some(event)).await;
    assert_eq!(status, 409);
    let (status, body) = console(&app, "POST", "/api/v1/console/events", Some(json!({"name": "X", "timezone": "Mars/Olympus", "start": "2026-12-12", "days": 1, "gates": []}))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid")),
        "{body}"
    );
    // With two events the console means the current one: the demo festival runs today.
    let demo = store
        .events()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name.contains("demo"))
        .unwrap()
        .id;
    let (status, ready) = console(&app, "GET", "/api/v1/console/devices", None).await;
    assert_eq!(
        (status, ready["event_id"].as_i64()),
        (200, Some(demo)),
        "{ready}"
    );
    let (status, _) = console(&app, "GET", "/api/v1/console/live", None).await;
    assert_eq!(status, 200);

    // A new key signs from now on; the API answers with it.
    let (status, rotated) = console(&app, "POST", "/api/v1/console/keys/rotate", None).await;
    assert_eq!(status, 200, "{rotated}");
    let (_, order) = buy(&app.http, &app.base, one_day, 1).await;
    let ring = crate::support::keyring(&app.http, &app.base).await;
    let v = tessera_core::verify(order["tickets"][0]["qr_text"].as_str().unwrap(), &ring).unwrap();
    assert_eq!(i64::from(v.key().0), rotated["key_id"].as_i64().unwrap());
    app.app.stop().await;
}
on_both_backends!(sales_rules_api, sales_rules);

/// Every console route, with a body where it takes one.
pub const CONSOLE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/console/devices"),
    ("POST", "/api/v1/console/devices/codes"),
    ("GET", "/api/v1/console/devices/codes/ABCD-EFGH-JKMN/qr.svg"),
    ("GET", "/api/v1/console/devices/codes/ABCD-EFGH-JKMN/qr.png"),
    ("POST", "/api/v1/console/devices/0123/revoke"),
    ("GET", "/api/v1/console/live"),
    ("GET", "/api/v1/console/exports/orders.csv"),
    ("GET", "/api/v1/console/exports/tickets.csv"),
    ("GET", "/api/v1/console/exports/check-ins.csv"),
    ("GET", "/api/v1/console/exports/conflicts.csv"),
    ("GET", "/api/v1/console/search?q=x"),
    ("POST", "/api/v1/console/tickets/1/void"),
    ("POST", "/api/v1/console/orders/1/resend"),
    ("POST", "/api/v1/console/comps"),
    ("POST", "/api/v1/console/events"),
    ("GET", "/api/v1/console/ticket-types"),
    ("POST", "/api/v1/console/ticket-types"),
    ("PATCH", "/api/v1/console/ticket-types/1"),
    ("POST", "/api/v1/console/ticket-types/1/pause"),
    ("POST", "/api/v1/console/ticket-types/1/resume"),
    ("POST", "/api/v1/console/keys/rotate"),
    ("GET", "/api/v1/console/vendors"),
    ("POST", "/api/v1/console/booths"),
    ("POST", "/api/v1/console/booths/1/assignment"),
    ("POST", "/api/v1/console/booths/1/staff-passes"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_routes_need_an_organizer() {
    let db = TestDb::sqlite();
    let app = app(&db).await;
    let keys_before = app.state.store.signing_keys().await.unwrap().len();
    let attendee = user_token(&app, "ada@example.com", "attendee").await;
    let vendor = user_token(&app, "samir@example.com", "vendor").await;
    let staff = user_token(&app, "gate@example.com", "gate_staff").await;
    let unknown = "0".repeat(64);
    for (method, path) in CONSOLE_ROUTES {
        for (token, expected) in [
            (None, 401),
            (Some(attendee.as_str()), 403),
            (Some(vendor.as_str()), 403),
            (Some(staff.as_str()), 403),
            (Some(unknown.as_str()), 401),
        ] {
            let mut req = app.http.request(method.parse().unwrap(), app.url(path));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let res = req.json(&json!({})).send().await.unwrap();
            assert_eq!(
                res.status().as_u16(),
                expected,
                "{method} {path} with {token:?}"
            );
        }
    }
    // Nothing changed.
    assert_eq!(
        app.state.store.signing_keys().await.unwrap().len(),
        keys_before
    );
    app.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_console_route_is_in_the_openapi_document() {
    let db = TestDb::sqlite();
    let app = app(&db).await;
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/vendor-booths",
        "/api/v1/vendor-booths/{order_id}",
        "/api/v1/console/devices",
        "/api/v1/console/live",
        "/api/v1/console/exports/{file}",
        "/api/v1/console/booths/{id}/staff-passes",
        "/api/v1/console/keys/rotate",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    app.app.stop().await;
}

/// Runs the CLI on the test server's data dir; returns its JSON lines.
fn cli(db: &TestDb, args: &[&str]) -> Vec<Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args(args)
        .args(["--data-dir", &db.dir.path().display().to_string()])
        .env("TESSERA_MASTER_KEY", crate::support::MASTER_KEY)
        .env("TESSERA_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tessera-server {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booths_from_the_command_line() {
    let db = TestDb::sqlite();
    let app = app(&db).await;
    let (status, bought) = buy_booth(&app, &falafel_king()).await;
    assert_eq!(status, 201, "{bought}");
    let created = cli(&db, &["booth", "create", "b-7", "--category", "food_truck"]);
    assert_eq!(created[0]["code"], "B-7");
    let assigned = cli(
        &db,
        &["booth", "assign", "B-7", "--email", "samir@example.com"],
    );
    assert_eq!(assigned[0]["order_id"], bought["order_id"]);
    let passes = cli(
        &db,
        &["booth", "staff", "B-7", "--name", "Leila", "--name", "Omar"],
    );
    let holders: Vec<&str> = passes
        .iter()
        .map(|p| p["holder_name"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["Leila", "Omar"]);
    let listed = cli(&db, &["booth", "list"]);
    assert!(
        listed.iter().any(|l| l["business_name"] == "Falafel King"
            && l["booth"] == "B-7"
            && l["staff_passes"] == 2),
        "{listed:?}"
    );
    // No devices yet: nothing to wait for, and the summary says so.
    let ready = cli(&db, &["readiness"]);
    assert_eq!(ready.last().unwrap()["active"], 0);
    app.app.stop().await;
}

/// A browser: cookies kept, redirects not followed, the CSRF token of the last page read.
struct Browser {
    http: reqwest::Client,
    base: String,
    csrf: String,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
            csrf: String::new(),
        }
    }

    /// GETs a page; returns its status and HTML, keeping its form's CSRF token.
    async fn get(&mut self, path: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let html = res.text().await.unwrap();
        if let Some(token) = html.split("name=\"_csrf\" value=\"").nth(1) {
            self.csrf = token.split('"').next().unwrap().to_owned();
        }
        (status, html)
    }

    /// Posts a form with the CSRF token; returns the status, the Location and the HTML.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", &self.csrf)];
        form.extend_from_slice(fields);
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, res.text().await.unwrap())
    }

    /// Logs in through the login page.
    async fn login(app: &TestApp, email: &str, role: &str) -> Self {
        user_token(app, email, role).await;
        let mut b = Self::new(app);
        b.get("/account/login").await;
        let (status, location, _) = b
            .post(
                "/account/login",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!((status, location.as_str()), (303, "/account"));
        b
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_vendor_and_organizer_pages() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;

    // A vendor books a booth with the public form; a mistake keeps what they typed.
    let mut vendor = Browser::new(&app);
    let (status, form) = vendor.get("/vendors/booth").await;
    assert_eq!(status, 200);
    assert!(
        form.contains("<label for=\"business_name\">"),
        "labelled inputs"
    );
    let fields = [
        ("category", "food_truck"),
        ("business_name", "Falafel King"),
        ("booth_name", "The King's truck"),
        ("contact_name", "Samir Haddad"),
        ("phone", "not a phone"),
        ("email", "samir@example.com"),
        ("description", "Falafel"),
    ];
    let (status, _, html) = vendor.post("/vendors/booth", &fields).await;
    assert_eq!(status, 422);
    assert!(html.contains("phone must be a phone number"), "{html}");
    assert!(
        html.contains("value=\"Falafel King\""),
        "the form keeps its values"
    );
    let mut fields = fields;
    fields[4] = ("phone", "+1 714 555 0142");
    let (status, location, _) = vendor.post("/vendors/booth", &fields).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/orders/"), "{location}");
    let order_id = app.state.store.vendor_purchases(None).await.unwrap()[0].order_id;

    // Anonymous visitors are sent to log in; other roles are refused.
    let (status, _) = Browser::new(&app).get("/organizer").await;
    assert_eq!(status, 303);
    let mut attendee = Browser::login(&app, "ada@example.com", "attendee").await;
    for page in [
        "/organizer",
        "/organizer/devices",
        "/organizer/orders",
        "/organizer/vendors",
        "/organizer/exports",
    ] {
        assert_eq!(attendee.get(page).await.0, 403, "{page}");
    }
    for action in [
        "/organizer/devices",
        "/organizer/devices/0123456789abcdef0123456789abcdef/revoke",
        "/organizer/orders/1/resend",
        "/organizer/tickets/1/void",
        "/organizer/comps",
        "/organizer/ticket-types/1",
        "/organizer/booths",
        "/organizer/booths/1/assign",
        "/organizer/booths/1/staff",
        "/organizer/keys/rotate",
    ] {
        let (status, _, _) = attendee.post(action, &[("code", "X-1")]).await;
        assert_eq!(status, 403, "{action}");
    }
    assert!(app.state.store.booths().await.unwrap().is_empty());

    // The organizer: dashboard, a booth, its assignment and three staff passes.
    let mut boss = Browser::login(&app, "boss@example.com", "organizer").await;
    let (status, dash) = boss.get("/organizer").await;
    assert_eq!(status, 200);
    assert!(
        dash.contains("Doors-open readiness") && dash.contains("<svg"),
        "{dash}"
    );
    assert!(dash.contains("http-equiv=\"refresh\""));
    boss.get("/organizer/vendors").await;
    let (status, location, _) = boss
        .post(
            "/organizer/booths",
            &[("code", "b-12"), ("category", "food_truck")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.contains("notice="), "{location}");
    let booth = app.state.store.booths().await.unwrap()[0].id;
    let (status, _, _) = boss
        .post(
            &format!("/organizer/booths/{booth}/assign"),
            &[("order_id", &order_id.to_string())],
        )
        .await;
    assert_eq!(status, 303);
    let (status, location, _) = boss
        .post(
            &format!("/organizer/booths/{booth}/staff"),
            &[("count", "3")],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.contains("notice=3+staff+passes"), "{location}");
    let (_, vendors) = boss.get("/organizer/vendors").await;
    assert!(
        vendors.contains("Falafel King") && vendors.contains("B-12"),
        "{vendors}"
    );
    // A second booth with the same code is refused on the page, with the reason.
    let (_, location, _) = boss.post("/organizer/booths", &[("code", "B-12")]).await;
    assert!(location.contains("error="), "{location}");
    // Without the form's token nothing happens.
    let csrf = std::mem::replace(&mut boss.csrf, "0".repeat(64));
    assert_eq!(
        boss.post("/organizer/booths", &[("code", "C-1")]).await.0,
        403
    );
    boss.csrf = csrf;
    assert_eq!(app.state.store.booths().await.unwrap().len(), 1);

    // An enrollment code, shown once with its QR code.
    boss.get("/organizer/devices").await;
    let (status, _, page) = boss
        .post(
            "/organizer/devices",
            &[("name", "Tablet-1"), ("gate", "Main Gate")],
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<svg") && page.contains("tessera-scan enroll"),
        "{page}"
    );
    let (_, orders) = boss.get("/organizer/orders?q=samir").await;
    assert!(orders.contains("Samir Haddad"), "{orders}");
    let (status, exports) = boss.get("/organizer/exports").await;
    assert_eq!(status, 200);
    assert!(exports.contains("/api/v1/console/exports/tickets.csv"));
    let keys = app.state.store.signing_keys().await.unwrap().len();
    let (status, location, _) = boss.post("/organizer/keys/rotate", &[]).await;
    assert_eq!(status, 303);
    assert!(location.contains("notice="), "{location}");
    assert_eq!(
        app.state.store.signing_keys().await.unwrap().len(),
        keys + 1
    );
    let (status, location, _) = boss
        .post(
            "/organizer/devices/0123456789abcdef0123456789abcdef/revoke",
            &[],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.contains("error=device"), "{location}");
    // The session cookie opens the console API too (the export links).
    let csv = boss
        .http
        .get(format!("{}/api/v1/console/exports/tickets.csv", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);

    // The vendor's dashboard shows the booth, its location and the staff passes.
    let mut samir = Browser::login(&app, "samir@example.com", "vendor").await;
    let (status, mine) = samir.get("/account").await;
    assert_eq!(status, 200);
    assert!(mine.contains("Booth B-12"), "{mine}");
    assert!(
        mine.contains("Staff 1") && mine.contains("Staff 3"),
        "{mine}"
    );
    app.stop().await;
}

/// The public booking form cannot rewrite another vendor's contact details: a second
/// booking with the same email keeps the first purchase's contact name and phone, and the
/// profile keeps what its first booking gave.
#[tokio::test]
async fn a_second_booking_does_not_rewrite_the_first_ones_contact() {
    let db = TestDb::sqlite();
    let app = app(&db).await;
    let (status, first) = buy_booth(&app, &falafel_king()).await;
    assert_eq!(status, 201, "{first}");
    let mut other = falafel_king();
    other["contact_name"] = json!("Mallory");
    other["phone"] = json!("+1 555 0000");
    other["business_name"] = json!("Not Falafel King");
    let (status, second) = buy_booth(&app, &other).await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(first["vendor_id"], second["vendor_id"]);
    let (_, list) = console(&app, "GET", "/api/v1/console/vendors", None).await;
    let text = list.to_string();
    assert!(
        text.contains("Samir Haddad") && text.contains("+1 (714) 555-0142"),
        "{text}"
    );
    let purchases = app.state.store.vendor_purchases(None).await.unwrap();
    let first_purchase = purchases
        .iter()
        .find(|p| p.order_id == first["order_id"].as_i64().unwrap())
        .unwrap();
    assert_eq!(first_purchase.contact_name, "Samir Haddad");
    assert_eq!(first_purchase.phone, "+1 (714) 555-0142");
    let second_purchase = purchases
        .iter()
        .find(|p| p.order_id == second["order_id"].as_i64().unwrap())
        .unwrap();
    assert_eq!(second_purchase.contact_name, "Mallory");
    app.app.stop().await;
}

/// A booth taken from one vendor and given to another: the first vendor's staff passes are
/// void (their staff must not walk in under the next business's name), the second vendor's
/// new passes work.
async fn staff_passes_leave_with_their_vendor(db: &TestDb) {
    let app = app(db).await;
    let mut first = falafel_king();
    first["email"] = "first@example.com".into();
    let (status, a) = buy_booth(&app, &first).await;
    assert_eq!(status, 201, "{a}");
    let mut second = falafel_king();
    second["business_name"] = "Shawarma Queen".into();
    second["email"] = "second@example.com".into();
    let (status, b) = buy_booth(&app, &second).await;
    assert_eq!(status, 201, "{b}");
    let (status, booth) = console(
        &app,
        "POST",
        "/api/v1/console/booths",
        Some(json!({"code": "C-3", "category": "food_truck"})),
    )
    .await;
    assert_eq!(status, 201, "{booth}");
    let booth_id = booth["id"].as_i64().unwrap();
    let console_app = &app;
    let assign = |order: Value| {
        let path = format!("/api/v1/console/booths/{booth_id}/assignment");
        async move {
            console(
                console_app,
                "POST",
                &path,
                Some(json!({ "order_id": order })),
            )
            .await
        }
    };
    let grant = || {
        let path = format!("/api/v1/console/booths/{booth_id}/staff-passes");
        async move { console(console_app, "POST", &path, Some(json!({"count": 2}))).await }
    };
    assert_eq!(assign(a["order_id"].clone()).await.0, 200);
    let (status, granted) = grant().await;
    assert_eq!(status, 201, "{granted}");
    let first_passes: Vec<i64> = granted["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();

    assert_eq!(assign(Value::Null).await.0, 200);
    assert_eq!(assign(b["order_id"].clone()).await.0, 200);
    let (status, granted) = grant().await;
    assert_eq!(status, 201, "{granted}");
    let store = app.state.store.clone();
    for id in &first_passes {
        let t = store.ticket(*id).await.unwrap().unwrap();
        assert_eq!(t.status, "void", "pass {id} of the first vendor");
    }
    for t in granted["tickets"].as_array().unwrap() {
        let t = store
            .ticket(t["id"].as_i64().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.status, "valid");
        assert_eq!(t.detail.as_deref(), Some("Shawarma Queen · Booth C-3"));
    }
    app.app.stop().await;
}

on_both_backends!(
    staff_passes_leave_with_their_vendor_on,
    staff_passes_leave_with_their_vendor
);
