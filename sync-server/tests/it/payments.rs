//! Stripe payments end to end: the real async-stripe client talks to a Stripe double on
//! 127.0.0.1 (Checkout Sessions and Refunds, shaped as in Stripe's API reference), and the
//! webhook gets events signed the way Stripe signs them. Stories: pay → tickets once;
//! duplicate and out-of-order deliveries; forged, stale and wrong-amount events change
//! nothing; an abandoned checkout expires and frees its tickets; a late payment is reissued
//! or refunded; a refund revokes the ticket at a synced gate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tessera_server::config::{Secret, Settings};
use tokio::net::TcpListener;

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, eventually, ticket_type_id};

const SECRET_KEY: &str = "sk_test_tessera_double";
const WEBHOOK_SECRET: &str = "whsec_tessera_double";
const ORGANIZER_TOKEN: &str = "organizer-refund-token";

/// What the double was asked.
#[derive(Debug, Default)]
pub(crate) struct Double {
    sessions: Vec<HashMap<String, String>>,
    refunds: Vec<HashMap<String, String>>,
    /// Idempotency key → refund response, as Stripe replays a request with a known key.
    refund_keys: HashMap<String, Value>,
    session_keys: HashMap<String, Value>,
}

pub(crate) type Shared = Arc<Mutex<Double>>;

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn authorized(headers: &HeaderMap) -> Result<(), (StatusCode, Json<Value>)> {
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"));
    if ok {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
            ),
        ))
    }
}

/// `POST /v1/checkout/sessions`: a Checkout Session object as the API reference shows it.
async fn create_session(
    State(double): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    authorized(&headers)?;
    let f = form(&body);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut d = double.lock().unwrap();
    if let Some(seen) = key.as_ref().and_then(|k| d.session_keys.get(k)) {
        return Ok(Json(seen.clone()));
    }
    let mut total = 0i64;
    let mut i = 0;
    while let Some(amount) = f.get(&format!("line_items[{i}][price_data][unit_amount]")) {
        let quantity: i64 = f[&format!("line_items[{i}][quantity]")].parse().unwrap();
        total += amount.parse::<i64>().unwrap() * quantity;
        i += 1;
    }
    let currency = f
        .get("line_items[0][price_data][currency]")
        .cloned()
        .unwrap_or_default();
    let id = format!("cs_test_{}", d.sessions.len() + 1);
    let session = json!({
        "id": id, "object": "checkout.session",
        "adaptive_pricing": null, "after_expiration": null, "allow_promotion_codes": null,
        "amount_subtotal": total, "amount_total": total,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null, "cancel_url": f.get("cancel_url"),
        "client_reference_id": f.get("client_reference_id"), "client_secret": null,
        "collected_information": null, "consent": null, "consent_collection": null,
        "created": Utc::now().timestamp(), "currency": currency, "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
        "customer": null, "customer_creation": "if_required", "customer_details": null,
        "customer_email": f.get("customer_email"), "discounts": [],
        "expires_at": f.get("expires_at").and_then(|v| v.parse::<i64>().ok()),
        "invoice": null, "invoice_creation": null, "livemode": false, "locale": null,
        "metadata": {"order_id": f.get("metadata[order_id]")}, "mode": f.get("mode"),
        "payment_intent": null, "payment_link": null, "payment_method_collection": "if_required",
        "payment_method_configuration_details": null, "payment_method_options": null,
        "payment_method_types": ["card"], "payment_status": "unpaid",
        "phone_number_collection": null, "recovered_from": null,
        "saved_payment_method_options": null, "setup_intent": null,
        "shipping_address_collection": null, "shipping_cost": null, "shipping_options": [],
        "status": "open", "submit_type": null, "subscription": null,
        "success_url": f.get("success_url"), "total_details": null, "ui_mode": "hosted",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"), "wallet_options": null
    });
    d.sessions.push(f);
    if let Some(k) = key {
        d.session_keys.insert(k, session.clone());
    }
    Ok(Json(session))
}

/// `POST /v1/refunds`.
async fn create_refund(
    State(double): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    authorized(&headers)?;
    let f = form(&body);
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut d = double.lock().unwrap();
    if let Some(seen) = key.as_ref().and_then(|k| d.refund_keys.get(k)) {
        return Ok(Json(seen.clone()));
    }
    let refund = json!({
        "id": format!("re_test_{}", d.refunds.len() + 1), "object": "refund",
        "amount": f["amount"].parse::<i64>().unwrap(), "balance_transaction": null,
        "charge": null, "created": Utc::now().timestamp(), "currency": "usd", "metadata": {},
        "payment_intent": f.get("payment_intent"), "reason": null, "receipt_number": null,
        "source_transfer_reversal": null, "status": "succeeded", "transfer_reversal": null
    });
    d.refunds.push(f);
    if let Some(k) = key {
        d.refund_keys.insert(k, refund.clone());
    }
    Ok(Json(refund))
}

pub(crate) async fn start_double() -> (String, Shared) {
    let double: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/checkout/sessions", post(create_session))
        .route("/v1/refunds", post(create_refund))
        .with_state(double.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/"), double)
}

pub(crate) fn stripe_settings(db: &TestDb, api_base: &str, ttl_secs: u64) -> Settings {
    let mut s = db.settings();
    // These stories buy as one buyer, on one client, many times; the hold limits are
    // `attacks.rs`'s.
    s.payments.max_holds_per_address = 1000;
    s.payments.max_holds_per_client = 1000;
    s.payments.stripe_secret_key = Some(Secret::new(SECRET_KEY));
    s.payments.stripe_webhook_secret = Some(Secret::new(WEBHOOK_SECRET));
    s.payments.stripe_api_base = Some(api_base.to_owned());
    s.payments.order_ttl_secs = ttl_secs;
    s.payments.expiry_sweep_ms = 50;
    s.payments.refund_api_token = Some(Secret::new(ORGANIZER_TOKEN));
    s
}

/// Signed as Stripe signs: HMAC-SHA256 keyed with the endpoint secret over `"{t}.{body}"`,
/// computed here independently of the server's code.
fn stripe_signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Stripe event about a Checkout Session, as Stripe delivers it.
fn event(id: &str, kind: &str, session: Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2025-10-29.clover",
        "created": Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": kind,
        "data": {"object": session}
    })
    .to_string()
}

/// The session as the webhook carries it once the buyer paid.
fn paid_session(
    order: &Value,
    session_id: &str,
    status: &str,
    amount: i64,
    currency: &str,
) -> Value {
    json!({
        "id": session_id, "object": "checkout.session",
        "client_reference_id": order["id"].as_i64().unwrap().to_string(),
        "amount_total": amount, "currency": currency, "payment_status": status,
        "payment_intent": format!("pi_{}", order["id"]), "status": "complete",
        "metadata": {"order_id": order["id"].as_i64().unwrap().to_string()}
    })
}

async fn deliver(app: &TestApp, body: &str, signature: Option<String>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url("/api/v1/payments/stripe/webhook"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(sig) = signature {
        req = req.header("stripe-signature", sig);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn deliver_signed(app: &TestApp, body: &str) -> (u16, Value) {
    let sig = stripe_signature(WEBHOOK_SECRET, Utc::now().timestamp(), body);
    deliver(app, body, Some(sig)).await
}

async fn buy(app: &TestApp, ticket_type: i64, quantity: i64) -> Value {
    let (status, body) = crate::support::buy(&app.http, &app.base, ticket_type, quantity).await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn remaining(app: &TestApp, ticket_type: i64) -> i64 {
    let types = app.state.store.ticket_types().await.unwrap();
    types
        .iter()
        .find(|t| t.id == ticket_type)
        .unwrap()
        .remaining()
}

async fn order_status(app: &TestApp, id: i64) -> String {
    app.state
        .store
        .order(id)
        .await
        .unwrap()
        .unwrap()
        .status
        .to_string()
}

/// Pay → webhook → tickets issued once, however often and in whatever form Stripe repeats it.
async fn pay_then_tickets_once(db: &TestDb) {
    let (api, double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 1800)).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let before = remaining(&app, pass).await;

    let order = buy(&app, pass, 2).await;
    let id = order["id"].as_i64().unwrap();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["payment"], "stripe");
    assert_eq!(order["demo"], false);
    assert_eq!(order["tickets"].as_array().unwrap().len(), 0);
    assert!(
        order["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    assert_eq!(
        remaining(&app, pass).await,
        before - 2,
        "a pending order holds its tickets"
    );
    {
        let d = double.lock().unwrap();
        let s = &d.sessions[0];
        assert_eq!(s["mode"], "payment");
        assert_eq!(s["client_reference_id"], id.to_string());
        assert_eq!(s["line_items[0][price_data][unit_amount]"], "3500");
        assert_eq!(s["line_items[0][price_data][currency]"], "usd");
        assert_eq!(s["line_items[0][quantity]"], "2");
        assert_eq!(s["customer_email"], "ada@example.com");
        assert!(
            d.session_keys
                .contains_key(&format!("tessera-checkout-{id}"))
        );
    }
    let token = order["access_token"].as_str().unwrap();
    let page = app
        .http
        .get(app.url(&format!("/orders/{id}?token={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Waiting for Stripe to confirm your payment"),
        "{page}"
    );

    let completed = event(
        "evt_paid_1",
        "checkout.session.completed",
        paid_session(&order, "cs_test_1", "paid", 7000, "usd"),
    );
    let (status, body) = deliver_signed(&app, &completed).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("issued")),
        "{body}"
    );
    // The same event again, a different event for the same payment, and concurrent copies.
    let (status, body) = deliver_signed(&app, &completed).await;
    assert_eq!(status, 200);
    assert!(
        body["outcome"].as_str().unwrap().starts_with("duplicate"),
        "{body}"
    );
    let again = event(
        "evt_paid_2",
        "checkout.session.async_payment_succeeded",
        paid_session(&order, "cs_test_1", "paid", 7000, "usd"),
    );
    let copies = tokio::join!(
        deliver_signed(&app, &again),
        deliver_signed(&app, &again),
        deliver_signed(&app, &again),
        deliver_signed(&app, &again),
    );
    for (status, body) in [copies.0, copies.1, copies.2, copies.3] {
        assert_eq!(status, 200, "{body}");
        assert!(
            body["outcome"].as_str().unwrap().starts_with("duplicate"),
            "{body}"
        );
    }

    let tickets = app.state.store.order_tickets(id).await.unwrap();
    assert_eq!(tickets.len(), 2, "tickets issued exactly once");
    assert_eq!(order_status(&app, id).await, "paid");
    let confirmations = app.state.store.outbox_entries().await.unwrap();
    assert_eq!(
        confirmations
            .iter()
            .filter(|e| e.order_id == Some(id))
            .count(),
        1
    );
    assert_eq!(remaining(&app, pass).await, before - 2);
    let fetched: Value = app
        .http
        .get(app.url(&format!("/api/v1/orders/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["status"], "paid");
    assert_eq!(fetched["tickets"].as_array().unwrap().len(), 2);
    let events = app.state.store.stripe_events().await.unwrap();
    assert_eq!(events.len(), 2, "every event stored once: {events:?}");
    app.stop().await;
}
on_both_backends!(pay_then_tickets_once_on, pay_then_tickets_once);

/// Async payment methods: `completed` (unpaid) first, then `async_payment_succeeded`, then a
/// late redelivery of `completed` (paid) and an `expired` after the fact.
async fn out_of_order_deliveries(db: &TestDb) {
    let (api, _double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 1800)).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    let order = buy(&app, pass, 1).await;
    let id = order["id"].as_i64().unwrap();

    let succeeded = event(
        "evt_async_ok",
        "checkout.session.async_payment_succeeded",
        paid_session(&order, "cs_test_1", "paid", 1500, "usd"),
    );
    let pending = event(
        "evt_completed_unpaid",
        "checkout.session.completed",
        paid_session(&order, "cs_test_1", "unpaid", 1500, "usd"),
    );
    // The success overtakes the completion.
    let (status, body) = deliver_signed(&app, &succeeded).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("issued")),
        "{body}"
    );
    let (status, body) = deliver_signed(&app, &pending).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("awaiting_async_payment"))
    );
    let expired = event(
        "evt_expired_late",
        "checkout.session.expired",
        paid_session(&order, "cs_test_1", "unpaid", 1500, "usd"),
    );
    let (status, body) = deliver_signed(&app, &expired).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("not_pending"))
    );
    assert_eq!(order_status(&app, id).await, "paid");
    assert_eq!(app.state.store.order_tickets(id).await.unwrap().len(), 1);
    // Types Tessera does not act on are acknowledged, whatever their object looks like.
    let other = event(
        "evt_charge",
        "charge.refunded",
        json!({"id": "ch_1", "object": "charge", "amount": 1500, "payment_intent": {"id": "pi_1"}}),
    );
    let (status, body) = deliver_signed(&app, &other).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("ignored")),
        "{body}"
    );

    // And in the natural order on a second order: unpaid completion, then success.
    let second = buy(&app, pass, 1).await;
    let id2 = second["id"].as_i64().unwrap();
    let (_, body) = deliver_signed(
        &app,
        &event(
            "evt_b1",
            "checkout.session.completed",
            paid_session(&second, "cs_test_2", "unpaid", 1500, "usd"),
        ),
    )
    .await;
    assert_eq!(body["outcome"], "awaiting_async_payment");
    assert_eq!(order_status(&app, id2).await, "pending");
    let (_, body) = deliver_signed(
        &app,
        &event(
            "evt_b2",
            "checkout.session.async_payment_succeeded",
            paid_session(&second, "cs_test_2", "paid", 1500, "usd"),
        ),
    )
    .await;
    assert_eq!(body["outcome"], "issued");
    assert_eq!(app.state.store.order_tickets(id2).await.unwrap().len(), 1);
    app.stop().await;
}
on_both_backends!(out_of_order_deliveries_on, out_of_order_deliveries);

/// Forged, stale, unsigned and wrong-amount events are refused with typed errors, and the
/// order, its tickets, the capacity and the outbox stay as they were.
async fn bad_events_change_nothing(db: &TestDb) {
    let (api, _double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 1800)).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "2-Day Pass").await;
    let order = buy(&app, pass, 1).await;
    let id = order["id"].as_i64().unwrap();
    let held = remaining(&app, pass).await;
    let now = Utc::now().timestamp();

    let good = event(
        "evt_x",
        "checkout.session.completed",
        paid_session(&order, "cs_test_1", "paid", 2500, "usd"),
    );
    let cases: Vec<(&str, String, Option<String>, u16, &str)> = vec![
        ("no header", good.clone(), None, 400, "missing_signature"),
        (
            "wrong secret",
            good.clone(),
            Some(stripe_signature("whsec_wrong", now, &good)),
            400,
            "bad_signature",
        ),
        (
            "tampered body",
            good.replace("2500", "1"),
            Some(stripe_signature(WEBHOOK_SECRET, now, &good)),
            400,
            "bad_signature",
        ),
        (
            "stale",
            good.clone(),
            Some(stripe_signature(WEBHOOK_SECRET, now - 600, &good)),
            400,
            "stale_signature",
        ),
        (
            "garbage header",
            good.clone(),
            Some("v1=zz".into()),
            400,
            "malformed_signature",
        ),
        (
            "not an event",
            "[1,2]".into(),
            Some(stripe_signature(WEBHOOK_SECRET, now, "[1,2]")),
            400,
            "malformed_event",
        ),
    ];
    for (what, body, sig, status, code) in cases {
        let (got, res) = deliver(&app, &body, sig).await;
        assert_eq!(
            (got, res["error"].as_str()),
            (status, Some(code)),
            "{what}: {res}"
        );
    }
    assert!(
        app.state.store.stripe_events().await.unwrap().is_empty(),
        "nothing stored"
    );

    let signed_cases = [
        (
            "amount",
            event(
                "evt_amt",
                "checkout.session.completed",
                paid_session(&order, "cs_test_1", "paid", 100, "usd"),
            ),
            "amount_mismatch",
        ),
        (
            "currency",
            event(
                "evt_cur",
                "checkout.session.completed",
                paid_session(&order, "cs_test_1", "paid", 2500, "eur"),
            ),
            "amount_mismatch",
        ),
        (
            "session",
            event(
                "evt_ses",
                "checkout.session.completed",
                paid_session(&order, "cs_other", "paid", 2500, "usd"),
            ),
            "session_mismatch",
        ),
        (
            "order",
            event(
                "evt_ord",
                "checkout.session.completed",
                json!({"id": "cs_test_1", "client_reference_id": "1", "amount_total": 2500, "currency": "usd", "payment_status": "paid"}),
            ),
            "unknown_order",
        ),
    ];
    for (what, body, code) in signed_cases {
        let (got, res) = deliver_signed(&app, &body).await;
        assert_eq!(
            (got, res["error"].as_str()),
            (422, Some(code)),
            "{what}: {res}"
        );
    }
    assert_eq!(order_status(&app, id).await, "pending");
    assert!(app.state.store.order_tickets(id).await.unwrap().is_empty());
    assert_eq!(remaining(&app, pass).await, held);
    assert!(app.state.store.outbox_entries().await.unwrap().is_empty());
    // The refused events are kept, unhandled, for the operator.
    let events = app.state.store.stripe_events().await.unwrap();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| {
        e.outcome
            .as_deref()
            .is_some_and(|o| o.ends_with("mismatch") || o == "unknown_order")
    }));

    // The genuine event still goes through afterwards.
    let (status, body) = deliver_signed(&app, &good).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("issued")));
    app.stop().await;
}
on_both_backends!(bad_events_change_nothing_on, bad_events_change_nothing);

/// An abandoned checkout expires and frees its tickets; its payment arriving later is
/// honoured while tickets are left, and refunded (buyer told by email) once they are not.
async fn expiry_and_late_payment(db: &TestDb) {
    let (api, double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 0)).await;
    let store = app.state.store.clone();
    let event_id = store.events().await.unwrap()[0].id;
    let scarce = store
        .create_ticket_type(&tessera_server::store::NewTicketType {
            event_id,
            name: "Last Seat".into(),
            kind: tessera_server::store::TicketKind::Pass,
            price_cents: 4200,
            currency: "USD".into(),
            capacity: 1,
            days_mask: 0b1,
            zones: 1,
            transferable: false,
        })
        .await
        .unwrap();

    // Abandoned: the sweeper expires it and the seat is for sale again.
    let first = buy(&app, scarce, 1).await;
    let first_id = first["id"].as_i64().unwrap();
    eventually(
        "the abandoned order to expire",
        Duration::from_secs(10),
        || async { (order_status(&app, first_id).await == "expired").then_some(()) },
    )
    .await;
    assert_eq!(remaining(&app, scarce).await, 1, "capacity released");

    // Its payment arrives late while the seat is free: reissued.
    let (_, body) = deliver_signed(
        &app,
        &event(
            "evt_late_ok",
            "checkout.session.completed",
            paid_session(&first, "cs_test_1", "paid", 4200, "usd"),
        ),
    )
    .await;
    assert_eq!(body["outcome"], "reissued_after_expiry", "{body}");
    assert_eq!(remaining(&app, scarce).await, 0);
    assert_eq!(store.order_tickets(first_id).await.unwrap().len(), 1);

    // A second buyer's order expires and its tickets sell out before the payment arrives:
    // the money is refunded through Stripe and the buyer is told.
    let (status, _) = crate::support::buy(&app.http, &app.base, scarce, 1).await;
    assert_eq!(status, 409, "sold out");
    let pass = ticket_type_id(store.as_ref(), "1-Day Pass").await;
    let second = buy(&app, pass, 1).await;
    let second_id = second["id"].as_i64().unwrap();
    eventually(
        "the second order to expire",
        Duration::from_secs(10),
        || async { (order_status(&app, second_id).await == "expired").then_some(()) },
    )
    .await;
    // The rest of the 1-Day Passes go to the guest list meanwhile.
    let left = remaining(&app, pass).await;
    let filler = tessera_server::store::NewOrder {
        id: 9_000_000_001,
        email: "filler@example.com".into(),
        name: "Filler".into(),
        payment: tessera_server::store::Payment::Comp,
        total_cents: 0,
        currency: "USD".into(),
        token_hash: vec![0; 32],
        created_at: Utc::now().timestamp(),
        items: vec![tessera_server::store::NewItem {
            ticket_type_id: pass,
            quantity: left,
            unit_price_cents: 0,
        }],
        tickets: vec![],
        email_due_ms: i64::MAX,
        upgrade_ticket_id: None,
        upgrade_from_type: None,
        idempotency: None,
        lang: "en".into(),
    };
    store.place_order(&filler).await.unwrap();
    assert_eq!(remaining(&app, pass).await, 0);
    let (status, body) = deliver_signed(
        &app,
        &event(
            "evt_late_gone",
            "checkout.session.completed",
            paid_session(&second, "cs_test_2", "paid", 1500, "usd"),
        ),
    )
    .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("refunded_late_payment")),
        "{body}"
    );
    assert_eq!(order_status(&app, second_id).await, "refunded");
    assert!(store.order_tickets(second_id).await.unwrap().is_empty());
    {
        let d = double.lock().unwrap();
        assert_eq!(d.refunds.len(), 1);
        assert_eq!(d.refunds[0]["payment_intent"], format!("pi_{second_id}"));
        assert_eq!(d.refunds[0]["amount"], "1500");
    }
    // Redelivered: no second refund.
    let (_, body) = deliver_signed(
        &app,
        &event(
            "evt_late_gone",
            "checkout.session.completed",
            paid_session(&second, "cs_test_2", "paid", 1500, "usd"),
        ),
    )
    .await;
    assert!(
        body["outcome"].as_str().unwrap().starts_with("duplicate"),
        "{body}"
    );
    assert_eq!(double.lock().unwrap().refunds.len(), 1);
    // The buyer's email says so.
    let outbox = app.state.settings.outbox_dir();
    let notice = eventually("the refund notice", Duration::from_secs(20), || {
        let outbox = outbox.clone();
        async move {
            std::fs::read_dir(&outbox).ok()?.find_map(|f| {
                let text = std::fs::read_to_string(f.ok()?.path()).ok()?;
                text.contains("Refund for order").then_some(text)
            })
        }
    })
    .await;
    assert!(notice.contains("ada@example.com"));
    app.stop().await;
}
on_both_backends!(expiry_and_late_payment_on, expiry_and_late_payment);

/// An organizer refunds one ticket of a paid order: Stripe is asked for its price, the
/// ticket is revoked, and a gate device that syncs rejects it as "revoked" while the other
/// ticket still admits.
async fn refund_revokes_at_the_gate(db: &TestDb) {
    let (api, double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 1800)).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let order = buy(&app, pass, 2).await;
    let id = order["id"].as_i64().unwrap();
    let (_, body) = deliver_signed(
        &app,
        &event(
            "evt_pay",
            "checkout.session.completed",
            paid_session(&order, "cs_test_1", "paid", 7000, "usd"),
        ),
    )
    .await;
    assert_eq!(body["outcome"], "issued");
    let tickets = app.state.store.order_tickets(id).await.unwrap();
    let (refunded, kept) = (tickets[0].clone(), tickets[1].clone());
    let before = remaining(&app, pass).await;

    let done = tessera_server::app::payments::refund(&app.state, id, Some(refunded.id), Utc::now())
        .await
        .unwrap();
    assert_eq!(done.amount_cents, 3500);
    assert_eq!(done.revoked_tickets, vec![refunded.id]);
    assert_eq!(done.stripe_refund_id.as_deref(), Some("re_test_1"));
    {
        let d = double.lock().unwrap();
        assert_eq!(d.refunds[0]["payment_intent"], format!("pi_{id}"));
        assert_eq!(d.refunds[0]["amount"], "3500");
    }
    assert_eq!(
        remaining(&app, pass).await,
        before + 1,
        "the seat is for sale again"
    );
    assert_eq!(
        order_status(&app, id).await,
        "paid",
        "one ticket of two refunded"
    );
    // Refunding the same ticket again is refused, and moves no money.
    let again =
        tessera_server::app::payments::refund(&app.state, id, Some(refunded.id), Utc::now()).await;
    assert!(again.is_err());
    assert_eq!(double.lock().unwrap().refunds.len(), 1);

    let event_id = app.state.store.events().await.unwrap()[0].id;
    let code = tessera_server::app::devices::create_device_code(
        &app.state,
        event_id,
        "Gate Tablet",
        Some("Main Gate"),
        chrono::Duration::hours(1),
        Utc::now(),
    )
    .await
    .unwrap();
    let device_dir = db.dir.path().join("device");
    let base = app.base.clone();
    let (refunded_qr, kept_qr) = (refunded.qr_text.clone(), kept.qr_text.clone());
    let verdicts = tokio::task::spawn_blocking(move || {
        let mut s = tessera_scanner::Scanner::open(&device_dir).unwrap();
        tessera_scanner::sync::enroll(&mut s, &base, &code, "t").unwrap();
        tessera_scanner::sync::sync_once(&mut s, &mut |_, _| {}).unwrap();
        let a = s.scan(&refunded_qr, Utc::now()).unwrap();
        let b = s.scan(&kept_qr, Utc::now()).unwrap();
        ((a.verdict, a.reason), (b.verdict, b.reason))
    })
    .await
    .unwrap();
    assert_eq!(verdicts.0, ("reject", Some("revoked")));
    assert_eq!(verdicts.1, ("admit", None));

    // The rest of the order: the other ticket's price, and the order is refunded.
    let rest = tessera_server::app::payments::refund(&app.state, id, None, Utc::now())
        .await
        .unwrap();
    assert_eq!(rest.amount_cents, 3500);
    assert_eq!(rest.revoked_tickets, vec![kept.id]);
    assert_eq!(order_status(&app, id).await, "refunded");
    app.stop().await;
}
on_both_backends!(refund_revokes_at_the_gate_on, refund_revokes_at_the_gate);

/// Stripe unreachable when the order is placed: 502, and the held tickets are released at
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_down_releases_the_order() {
    let db = TestDb::sqlite();
    let closed = format!("http://127.0.0.1:{}/", crate::support::free_port());
    let app = TestApp::spawn(stripe_settings(&db, &closed, 1800)).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let before = remaining(&app, pass).await;
    let (status, body) = crate::support::buy(&app.http, &app.base, pass, 2).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (502, Some("payment_unavailable")),
        "{body}"
    );
    assert_eq!(remaining(&app, pass).await, before, "capacity released");
    app.stop().await;
}

/// Without a key the server stays in demo mode: orders are paid at once, labelled demo,
/// and the webhook refuses events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_without_a_key() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    assert!(app.state.payments.provider().is_none());
    assert!(
        app.state
            .payments
            .describe(&app.state.settings)
            .starts_with("demo mode")
    );
    let pass = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    let order = buy(&app, pass, 1).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payment"], "demo");
    assert!(order.get("checkout_url").is_none());
    let (status, body) = deliver_signed(&app, "{}").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_configured"))
    );
    app.stop().await;
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"));
    cmd.args(args)
        .env("TESSERA_MASTER_KEY", crate::support::MASTER_KEY)
        .env("TESSERA_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run tessera-server")
}

/// `tessera-server refund ORDER_ID [--ticket ID]` on a running server's database: a demo
/// order moves no money, its tickets are revoked; Stripe secrets never reach print-config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_command_and_redacted_config() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "2-Day Pass").await;
    let order = buy(&app, pass, 2).await;
    let id = order["id"].as_i64().unwrap();
    let ticket = order["tickets"][0]["id"].as_i64().unwrap();
    let data_dir = db.dir.path().display().to_string();
    let env = [("TESSERA_DATABASE_URL", db.url.as_str())];

    let out = cli(
        &[
            "refund",
            &id.to_string(),
            "--ticket",
            &ticket.to_string(),
            "--data-dir",
            &data_dir,
        ],
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["revoked_tickets"], json!([ticket]));
    assert_eq!(done["amount_cents"], 2500);
    assert_eq!(done["stripe_refund_id"], Value::Null);
    let tickets = app.state.store.order_tickets(id).await.unwrap();
    assert_eq!(
        tickets.iter().find(|t| t.id == ticket).unwrap().status,
        "void"
    );

    let out = cli(&["refund", "12345", "--data-dir", &data_dir], &env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("order 12345 not found"));

    let out = cli(
        &["print-config"],
        &[
            ("TESSERA_STRIPE_SECRET_KEY", "sk_test_hunter2"),
            ("TESSERA_STRIPE_WEBHOOK_SECRET", "whsec_hunter3"),
            ("TESSERA_REFUND_API_TOKEN", "hunter4"),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[payments]"), "{text}");
    assert!(!text.contains("hunter"), "{text}");
    app.stop().await;
}

/// An upgrade through Stripe: a pending order for the difference holds the new type's
/// place; the paid webhook writes the new revision once; an upgrade whose ticket changed
/// hands before the payment arrived is refunded and changes nothing.
async fn upgrade_through_stripe(db: &TestDb) {
    use crate::accounts::{account, post};
    let (api, _double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 1800)).await;
    let store = app.state.store.clone();
    let one_day = ticket_type_id(store.as_ref(), "1-Day Pass").await;
    let two_day = ticket_type_id(store.as_ref(), "2-Day Pass").await;
    let three_day = ticket_type_id(store.as_ref(), "3-Day Pass").await;

    let order = buy(&app, one_day, 2).await;
    let (status, _) = deliver_signed(
        &app,
        &event(
            "evt_up_0",
            "checkout.session.completed",
            paid_session(
                &order,
                &session_of(&app, order["id"].as_i64().unwrap()).await,
                "paid",
                3000,
                "usd",
            ),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let oid = order["id"].as_i64().unwrap();
    let tickets = store.order_tickets(oid).await.unwrap();
    let (t1, t2) = (tickets[0].id, tickets[1].id);
    let ada = account(&app, db.dir.path(), "ada@example.com", "Ada").await;

    let (one_before, three_before) = (
        remaining(&app, one_day).await,
        remaining(&app, three_day).await,
    );
    let (status, started) = post(
        &app,
        &format!("/api/v1/tickets/{t1}/upgrade"),
        Some(&ada),
        json!({"ticket_type": three_day, "revision": 0}),
    )
    .await;
    assert_eq!(status.as_u16(), 200, "{started}");
    assert!(
        started["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    assert_eq!(
        started["ticket"]["ticket_type"], one_day,
        "unchanged until paid"
    );
    assert_eq!(
        remaining(&app, three_day).await,
        three_before - 1,
        "the pending upgrade holds a place"
    );
    let up_id = started["order_id"].as_i64().unwrap();
    let up_order = json!({"id": up_id});
    let paid = event(
        "evt_up_1",
        "checkout.session.completed",
        paid_session(
            &up_order,
            &session_of(&app, up_id).await,
            "paid",
            2000,
            "usd",
        ),
    );
    let (status, body) = deliver_signed(&app, &paid).await;
    assert_eq!(status, 200, "{body}");
    let t = store.ticket(t1).await.unwrap().unwrap();
    assert_eq!(
        (t.ticket_type_id, t.revision, t.superseded_by.as_deref()),
        (three_day, 1, Some("upgrade"))
    );
    assert_eq!(remaining(&app, one_day).await, one_before + 1);
    assert_eq!(remaining(&app, three_day).await, three_before - 1);
    assert_eq!(order_status(&app, up_id).await, "paid");
    // Stripe repeats itself: nothing more happens.
    let (status, _) = deliver_signed(&app, &paid).await;
    assert_eq!(status, 200);
    assert_eq!(store.ticket(t1).await.unwrap().unwrap().revision, 1);

    // Refunding the upgraded ticket returns what each payment took for it: the 1-Day price
    // from the first order, the difference from the upgrade order. The upgrade order alone
    // cannot be refunded (the ticket would keep the upgrade).
    let refused = tessera_server::app::payments::refund(&app.state, up_id, None, Utc::now()).await;
    assert!(
        matches!(
            refused,
            Err(tessera_server::app::payments::RefundError::NotRefundable(_))
        ),
        "{refused:?}"
    );
    let done = tessera_server::app::payments::refund(&app.state, oid, Some(t1), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (done.amount_cents, done.upgrade_orders_refunded.clone()),
        (1500, vec![up_id])
    );
    assert_eq!(store.refunds(up_id).await.unwrap()[0].amount_cents, 2000);
    assert_eq!(order_status(&app, up_id).await, "refunded");
    assert_eq!(store.ticket(t1).await.unwrap().unwrap().status, "void");
    assert_eq!(
        remaining(&app, three_day).await,
        three_before,
        "the 3-Day place went back"
    );

    // The second ticket: an upgrade started, then the ticket is given away before paying.
    let two_before = remaining(&app, two_day).await;
    let (_, started) = post(
        &app,
        &format!("/api/v1/tickets/{t2}/upgrade"),
        Some(&ada),
        json!({"ticket_type": two_day}),
    )
    .await;
    let stale_id = started["order_id"].as_i64().unwrap();
    let (status, _) = post(
        &app,
        &format!("/api/v1/tickets/{t2}/transfer"),
        Some(&ada),
        json!({"email": "bob@example.com", "name": "Bob"}),
    )
    .await;
    assert_eq!(status.as_u16(), 200);
    let (status, body) = deliver_signed(
        &app,
        &event(
            "evt_up_2",
            "checkout.session.completed",
            paid_session(
                &json!({"id": stale_id}),
                &session_of(&app, stale_id).await,
                "paid",
                1000,
                "usd",
            ),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = store.ticket(t2).await.unwrap().unwrap();
    assert_eq!(
        (t.ticket_type_id, t.holder_email.as_deref()),
        (one_day, Some("bob@example.com"))
    );
    assert_eq!(
        remaining(&app, two_day).await,
        two_before,
        "the held place went back"
    );
    let refunds = store.refunds(stale_id).await.unwrap();
    assert_eq!(
        (
            refunds.len(),
            refunds[0].amount_cents,
            refunds[0].status.as_str()
        ),
        (1, 1000, "succeeded")
    );
    app.stop().await;
}
on_both_backends!(upgrade_through_stripe_on, upgrade_through_stripe);

async fn session_of(app: &TestApp, order_id: i64) -> String {
    app.state
        .store
        .payment(order_id)
        .await
        .unwrap()
        .unwrap()
        .session_id
        .unwrap()
}

/// A vendor booth through Stripe: pending with a checkout page and the vendor's metadata
/// stored; the webhook issues the booth ticket and the vendor email.
async fn vendor_booth_through_stripe(db: &TestDb) {
    let (api, _double) = start_double().await;
    let app = TestApp::spawn(stripe_settings(db, &api, 1800)).await;
    let res = app
        .http
        .post(app.url("/api/v1/vendor-booths"))
        .json(&json!({
            "business_name": "Falafel King", "booth_name": "The King's truck",
            "category": "food_truck", "contact_name": "Samir Haddad",
            "phone": "+1 714 555 0142", "email": "samir@example.com"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let bought: Value = res.json().await.unwrap();
    assert_eq!(bought["status"], "pending");
    assert!(
        bought["checkout_url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    let id = bought["order_id"].as_i64().unwrap();
    let store = app.state.store.clone();
    let purchase = store
        .vendor_purchase(id)
        .await
        .unwrap()
        .expect("metadata stored");
    assert_eq!(purchase.order_status, "pending");
    assert!(
        store
            .vendor_by_email("samir@example.com")
            .await
            .unwrap()
            .is_some()
    );

    let session = store
        .payment(id)
        .await
        .unwrap()
        .unwrap()
        .session_id
        .unwrap();
    let order = json!({"id": id});
    let body = event(
        "evt_vendor_1",
        "checkout.session.completed",
        paid_session(&order, &session, "paid", 80_000, "usd"),
    );
    let (status, _) = deliver_signed(&app, &body).await;
    assert_eq!(status, 200);
    assert_eq!(order_status(&app, id).await, "paid");
    let tickets = store.order_tickets(id).await.unwrap();
    assert_eq!(tickets.len(), 1);
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
                        .starts_with(&format!("order-{id}-"))
                })
                .map(|e| std::fs::read(e.path()).unwrap())
        }
    })
    .await;
    let message = mail_parser::MessageParser::default().parse(&eml).unwrap();
    assert!(
        message.subject().unwrap().contains("Falafel King"),
        "{:?}",
        message.subject()
    );
    app.stop().await;
}
on_both_backends!(vendor_booth_through_stripe_on, vendor_booth_through_stripe);
