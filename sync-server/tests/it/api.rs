//! The HTTP API, in-process on port 0 with a fresh database per test.

use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, buy, keyring, ticket_type_id};

fn decode_qr_png(png: &[u8]) -> String {
    let img = image::load_from_memory(png).expect("png").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().expect("QR decodes").1
}

/// Rasterizes the PDF's first page as a printer would (150 dpi, with poppler's `pdftoppm`)
/// and decodes the QR code from it: the printed ticket scans.
fn decode_printed_qr(pdf: &[u8], dir: &std::path::Path) -> String {
    let input = dir.join("ticket.pdf");
    std::fs::write(&input, pdf).unwrap();
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png", "-singlefile"])
        .arg(&input)
        .arg(dir.join("page"))
        .status()
        .expect("pdftoppm (poppler-utils, installed by ./scripts/test) runs");
    assert!(out.success());
    decode_qr_png(&std::fs::read(dir.join("page.png")).unwrap())
}

#[tokio::test]
async fn healthz_and_events_list_the_demo_festival() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let health: Value = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["backend"], "sqlite");

    let events: Value = app
        .http
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = &events["events"][0];
    assert_eq!(event["timezone"], "America/Los_Angeles");
    assert_eq!(event["days"].as_array().unwrap().len(), 3);
    let types = event["ticket_types"].as_array().unwrap();
    let find = |n: &str| types.iter().find(|t| t["name"] == n).cloned().unwrap();
    assert_eq!(find("3-Day Pass")["price_cents"], 3500);
    assert_eq!(find("3-Day Pass")["days"].as_array().unwrap().len(), 3);
    assert_eq!(find("2-Day Pass")["days"].as_array().unwrap().len(), 2);
    assert_eq!(find("1-Day Pass")["price_cents"], 1500);
    assert_eq!(find("Food Truck Booth")["kind"], "vendor_booth");
    assert_eq!(find("Food Truck Booth")["transferable"], false);
    assert_eq!(find("Bazaar Vendor Booth")["currency"], "USD");
    assert!(find("Food Booth")["remaining"].as_i64().unwrap() > 0);
    let gates: Vec<_> = event["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap().to_owned(),
                g["zones"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gates,
        vec![
            ("Main Gate".to_owned(), 1),
            ("North Gate".to_owned(), 1),
            ("Vendor Gate".to_owned(), 2)
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn openapi_describes_every_route() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/api/openapi.json",
        "/api/v1/events",
        "/api/v1/keys",
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/orders/{id}/tickets.pdf",
        "/api/v1/orders/{id}/tickets/{ticket_id}/qr.png",
        "/api/v1/orders/{id}/tickets/{ticket_id}/qr.svg",
        "/api/v1/orders/{id}/tickets/{ticket_id}/ticket.pdf",
        "/orders/{id}",
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/me/tickets",
        "/api/v1/tickets/{id}/transfer",
        "/api/v1/tickets/{id}/upgrade",
        "/api/v1/sync/enroll",
        "/api/v1/sync/changes",
        "/api/v1/sync/checkins",
        "/enroll",
    ] {
        assert!(paths.contains_key(p), "OpenAPI lacks {p}");
    }
    // Generated clients name their methods after operationIds: each must be unique, and
    // every operation lists the errors the shared machinery answers.
    let mut ids = std::collections::BTreeMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            if let Some(other) = ids.insert(id.clone(), format!("{method} {path}")) {
                panic!("operationId {id:?} names both {other} and {method} {path}");
            }
            let statuses = op["responses"].as_object().unwrap();
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(statuses.contains_key(s), "{method} {path} lacks {s}");
                }
            }
            if path.contains('{') {
                assert!(statuses.contains_key("404"), "{method} {path} lacks 404");
            }
        }
    }
    app.stop().await;
}

async fn buy_fetch_and_print(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let three_day = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let (status, order) = buy(&app.http, &app.base, three_day, 2).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"], "demo");
    assert_eq!(order["demo"], true);
    assert_eq!(order["total_cents"], 7000);
    assert_eq!(order["currency"], "USD");
    let id = order["id"].as_u64().expect("numeric order id");
    assert!(id < 1 << 53);
    let token = order["access_token"].as_str().unwrap().to_owned();
    let tickets = order["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    let ring = keyring(&app.http, &app.base).await;
    for t in tickets {
        let verified =
            tessera_core::verify(t["qr_text"].as_str().unwrap(), &ring).expect("verifies");
        assert_eq!(verified.claims().ticket.0, t["id"].as_u64().unwrap());
        assert_eq!(verified.claims().days.0, 0b111);
        assert_eq!(t["holder_name"], "Ada Lovelace");
        assert_eq!(t["ticket_type_name"], "3-Day Pass");
    }

    let auth = format!("Bearer {token}");
    let fetched: Value = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}")))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["id"], order["id"]);
    assert!(fetched.get("access_token").is_none());
    assert_eq!(fetched["tickets"], order["tickets"]);

    let ticket = &tickets[0];
    let tid = ticket["id"].as_u64().unwrap();
    let png = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}/tickets/{tid}/qr.png")))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(
        decode_qr_png(&png.bytes().await.unwrap()),
        ticket["qr_text"].as_str().unwrap()
    );
    let svg = app
        .http
        .get(app.url(&format!(
            "/api/v1/orders/{id}/tickets/{tid}/qr.svg?token={token}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.status(), 200);
    assert!(svg.text().await.unwrap().contains("<svg"));
    for path in [
        format!("/api/v1/orders/{id}/tickets/{tid}/ticket.pdf"),
        format!("/api/v1/orders/{id}/tickets.pdf"),
    ] {
        let pdf = app
            .http
            .get(app.url(&path))
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF"));
    }
    let pdf = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}/tickets/{tid}/ticket.pdf")))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        decode_printed_qr(&pdf, db.dir.path()),
        ticket["qr_text"].as_str().unwrap()
    );
    let page = app
        .http
        .get(app.url(&format!("/orders/{id}?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("DEMO") && page.contains("3-Day Pass"));

    // Wrong, missing and foreign tokens.
    let wrong = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}")))
        .header("Authorization", "Bearer 00")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "forbidden");
    let missing = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}/tickets.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let (_, other) = buy(&app.http, &app.base, three_day, 1).await;
    let other_auth = format!("Bearer {}", other["access_token"].as_str().unwrap());
    let foreign = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}/tickets/{tid}/qr.png")))
        .header("Authorization", &other_auth)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let other_id = other["id"].as_u64().unwrap();
    let not_in_order = app
        .http
        .get(app.url(&format!("/api/v1/orders/{other_id}/tickets/{tid}/qr.png")))
        .header("Authorization", &other_auth)
        .send()
        .await
        .unwrap();
    assert_eq!(not_in_order.status(), 404);
    app.stop().await;
}
on_both_backends!(buy_then_fetch_order_qr_and_pdfs, buy_fetch_and_print);

async fn bad_input(db: &TestDb) {
    let mut settings = db.settings();
    settings.email.worker = false;
    let app = TestApp::spawn(settings).await;
    let store = app.state.store.clone();
    let three_day = ticket_type_id(store.as_ref(), "3-Day Pass").await;
    let before = store.ticket_types().await.unwrap();
    // Unpooled: a 413 is answered without reading the body and the connection closed, which
    // a shared pool could hand to the next request.
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let post = |body: String, ct: &'static str| {
        let http = unpooled.clone();
        let url = app.url("/api/v1/orders");
        async move {
            let res = http
                .post(url)
                .header("Content-Type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let json: Value = res.json().await.unwrap_or(Value::Null);
            (status, json)
        }
    };
    let item = |ticket_type: Value, quantity: Value| {
        json!({"email": "a@example.com", "name": "A", "items": [{"ticket_type": ticket_type, "quantity": quantity}]}).to_string()
    };
    let cases: Vec<(String, &str, u16, &str)> = vec![
        ("{\"email\": ".into(), "application/json", 400, "bad_request"),
        ("not json at all".into(), "application/json", 400, "bad_request"),
        (item(json!(three_day), json!(1)), "text/plain", 415, "unsupported_media_type"),
        (item(json!(9999), json!(1)), "application/json", 422, "unknown_ticket_type"),
        (item(json!(three_day), json!(0)), "application/json", 422, "invalid"),
        (item(json!(three_day), json!(-5)), "application/json", 422, "invalid"),
        (item(json!(three_day), json!(21)), "application/json", 422, "invalid"),
        (item(json!(three_day), json!(1_000_000_000_000_i64)), "application/json", 422, "invalid"),
        (item(json!(three_day), json!(1e300)), "application/json", 422, "invalid"),
        (item(json!(three_day), json!("2")), "application/json", 422, "invalid"),
        (json!({"email": "a@example.com", "name": "A", "items": []}).to_string(), "application/json", 422, "invalid"),
        (json!({"email": "nope", "name": "A", "items": [{"ticket_type": three_day, "quantity": 1}]}).to_string(), "application/json", 422, "invalid"),
        (json!({"email": "a@example.com", "name": "", "items": [{"ticket_type": three_day, "quantity": 1}]}).to_string(), "application/json", 422, "invalid"),
        (json!({"email": "a@example.com", "name": "A", "items": [{"ticket_type": three_day, "quantity": 1}], "admin": true}).to_string(), "application/json", 422, "invalid"),
        (format!("{{\"email\":\"a@example.com\",\"name\":\"{}\",\"items\":[]}}", "x".repeat(100_000)), "application/json", 413, "payload_too_large"),
    ];
    for (body, ct, status, code) in cases {
        let shown: String = body.chars().take(80).collect();
        let (got, json) = post(body, ct).await;
        assert_eq!(got, status, "{shown}: {json}");
        assert_eq!(json["error"], code, "{shown}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    for path in ["/api/v1/orders/abc", "/api/v1/orders/123", "/api/v1/nope"] {
        let res = app
            .http
            .get(app.url(path))
            .header("Authorization", "Bearer x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"], "not_found");
    }
    let res = app
        .http
        .delete(app.url("/api/v1/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    let json: Value = res.json().await.unwrap();
    assert_eq!(json["error"], "method_not_allowed");
    // Nothing changed.
    assert_eq!(store.ticket_types().await.unwrap(), before);
    assert_eq!(store.outbox_counts().await.unwrap().pending, 0);
    app.stop().await;
}
on_both_backends!(
    bad_input_is_rejected_with_json_errors_and_changes_nothing,
    bad_input
);

#[tokio::test]
async fn sold_out_is_409_and_sells_nothing() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let store = app.state.store.clone();
    let event = store.events().await.unwrap()[0].id;
    let truck = store
        .create_ticket_type(&tessera_server::store::NewTicketType {
            event_id: event,
            name: "Late-night Pass".into(),
            kind: tessera_server::store::TicketKind::Pass,
            price_cents: 1000,
            currency: "USD".into(),
            capacity: 20,
            days_mask: 0b1,
            zones: 1,
            transferable: true,
        })
        .await
        .unwrap();
    // 20 passes of the type; buy 20 in one order, then one more.
    let (status, _) = buy(&app.http, &app.base, truck, 20).await;
    assert_eq!(status, 201);
    let (status, body) = buy(&app.http, &app.base, truck, 1).await;
    assert_eq!(status, 409);
    assert_eq!(body["error"], "sold_out");
    let events: Value = app
        .http
        .get(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let remaining = events["events"][0]["ticket_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == truck)
        .unwrap()["remaining"]
        .clone();
    assert_eq!(remaining, 0);
    // Every listed type can be ordered through the orders API, booths included (the pages
    // sell booths through the booth form, which records the vendor's details).
    let booth = ticket_type_id(app.state.store.as_ref(), "Food Booth").await;
    let (status, body) = buy(&app.http, &app.base, booth, 1).await;
    assert_eq!(status, 201, "{body}");
    app.stop().await;
}

/// A client no one here wrote builds its enrollment from the API document alone: the
/// request body is a schema (its fields required, the device id's form, the version's
/// length), the answer too, and both name exactly the wire types' fields; so does the
/// relay's request.
#[tokio::test]
async fn the_enrollment_bodies_are_schemas_of_the_wire_types() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resolve = |schema: &Value| -> Value {
        let name = schema["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("not a schema reference: {schema}"))
            .trim_start_matches("#/components/schemas/")
            .to_owned();
        doc["components"]["schemas"][&name].clone()
    };
    let op = &doc["paths"]["/api/v1/sync/enroll"]["post"];
    let request = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
    let response = resolve(&op["responses"]["200"]["content"]["application/json"]["schema"]);
    let names = |schema: &Value| -> std::collections::BTreeSet<String> {
        schema["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no properties: {schema}"))
            .keys()
            .cloned()
            .collect()
    };
    let wire = tessera_core::sync::EnrollRequest {
        protocol: tessera_core::sync::PROTOCOL,
        code: "ABCD-EFGH".into(),
        device_id: "a1".repeat(16),
        app_version: "tessera-scan 1".into(),
        device_time: chrono::Utc::now(),
        device_key: Some("ab".repeat(32)),
    };
    let wire = serde_json::to_value(&wire).unwrap();
    let mut wire_names: std::collections::BTreeSet<String> =
        wire.as_object().unwrap().keys().cloned().collect();
    assert_eq!(names(&request), wire_names);
    let required: std::collections::BTreeSet<String> = request["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    wire_names.remove("device_key");
    assert_eq!(
        required, wire_names,
        "every field is required but the mesh's device key"
    );
    assert_eq!(
        request["properties"]["device_id"]["pattern"],
        "^[0-9A-Fa-f]{32}$"
    );
    assert_eq!(
        request["properties"]["device_key"]["pattern"],
        "^[0-9A-Fa-f]{64}$"
    );
    assert_eq!(request["properties"]["app_version"]["maxLength"], 64);
    let answer = tessera_core::sync::EnrollResponse {
        protocol: tessera_core::sync::PROTOCOL,
        device_id: "a1".repeat(16),
        name: "Gate A".into(),
        gate: None,
        token: "t".into(),
        server_time: chrono::Utc::now(),
        certificate: Some("cd".repeat(127)),
    };
    let answer = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        names(&response),
        answer.as_object().unwrap().keys().cloned().collect()
    );
    // The relay's body too.
    let op = &doc["paths"]["/api/v1/sync/relayed"]["post"];
    let relay = resolve(&op["requestBody"]["content"]["application/json"]["schema"]);
    let wire = tessera_core::sync::RelayRequest {
        protocol: tessera_core::sync::PROTOCOL,
        certificate: "cd".repeat(127),
        check_ins: vec!["ef".repeat(60)],
    };
    let wire = serde_json::to_value(&wire).unwrap();
    assert_eq!(
        names(&relay),
        wire.as_object().unwrap().keys().cloned().collect()
    );
    app.stop().await;
}
