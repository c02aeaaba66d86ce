//! Accounts and what holders do with tickets, over HTTP on both backends: registration and
//! the confirmation link (guest orders attach), login and its rate limit, password reset
//! links (tampered, used, expired), transfer and upgrade (new revision, old code dead,
//! both people emailed), authorization on every id-taking ticket endpoint, CSRF on forms.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::on_both_backends;
use crate::support::{TestApp, TestDb, eventually, ticket_type_id};

const PASSWORD: &str = "correct horse battery";

/// Every `.eml` written so far, decoded: (recipient, subject, text body).
pub(crate) fn mails(dir: &Path) -> Vec<(String, String, String)> {
    let Ok(entries) = std::fs::read_dir(dir.join("outbox")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .filter_map(|p| {
            let raw = std::fs::read(p).ok()?;
            let msg = mail_parser::MessageParser::default().parse(&raw)?;
            let to = msg.to()?.first()?.address()?.to_owned();
            let subject = msg.subject().unwrap_or_default().to_owned();
            // Names sit between Unicode isolates (FSI, PDI); the checks here read the words.
            let text = msg
                .body_text(0)
                .map(|t| t.replace(['\u{2068}', '\u{2069}'], ""))
                .unwrap_or_default();
            Some((to, subject, text))
        })
        .collect()
}

/// Waits for an email to `to` whose text has `marker`, and returns its text.
pub(crate) async fn mail_with(dir: &Path, to: &str, marker: &str) -> String {
    eventually(
        &format!("an email to {to} with {marker}"),
        Duration::from_secs(30),
        || async {
            mails(dir)
                .into_iter()
                .find(|(rcpt, _, text)| rcpt == to && text.contains(marker))
                .map(|(_, _, text)| text)
        },
    )
    .await
}

/// The `token` of the first link in `text` that contains `path`.
pub(crate) fn link_token(text: &str, path: &str) -> String {
    let start = text
        .find(path)
        .unwrap_or_else(|| panic!("no {path} link in {text}"));
    let rest = &text[start..];
    let token = rest.split("token=").nth(1).unwrap();
    token
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect()
}

pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    bearer: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = app.http.post(app.url(path)).json(&body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get(app: &TestApp, path: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut req = app.http.get(app.url(path));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn buy_as(app: &TestApp, email: &str, name: &str, items: Value) -> Value {
    let (status, order) = post(
        app,
        "/api/v1/orders",
        None,
        json!({"email": email, "name": name, "items": items}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    order
}

/// Registers, confirms the address through the emailed link, logs in: a bearer token.
pub(crate) async fn account(app: &TestApp, dir: &Path, email: &str, name: &str) -> String {
    let (status, user) = post(
        app,
        "/api/v1/auth/register",
        None,
        json!({"email": email, "name": name, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["email_verified"], false);
    let text = mail_with(dir, &email.to_ascii_lowercase(), "/account/verify?token=").await;
    let token = link_token(&text, "/account/verify?token=");
    let (status, body) = post(app, "/api/v1/auth/verify", None, json!({"token": token})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    login(app, email, PASSWORD).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> String {
    let (status, body) = post(
        app,
        "/api/v1/auth/login",
        None,
        json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

pub(crate) async fn exec_sql(db: &TestDb, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
}

async fn guest_orders_attach_once_the_address_is_confirmed(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let one_day = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    let order = buy_as(
        &app,
        "Grace@Example.com",
        "Grace",
        json!([{"ticket_type": one_day, "quantity": 2}]),
    )
    .await;

    let (status, _) = post(
        &app,
        "/api/v1/auth/register",
        None,
        json!({"email": "grace@example.com", "name": "Grace", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    // Unconfirmed: the address could be anyone's, so nothing attaches yet.
    let token = login(&app, "grace@example.com", PASSWORD).await;
    let (_, tickets) = get(&app, "/api/v1/me/tickets", Some(&token)).await;
    assert_eq!(tickets.as_array().unwrap().len(), 0);
    // The same address again is refused.
    let (status, body) = post(
        &app,
        "/api/v1/auth/register",
        None,
        json!({"email": "GRACE@example.com", "name": "Eve", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let text = mail_with(db.dir.path(), "grace@example.com", "/account/verify?token=").await;
    let link = link_token(&text, "/account/verify?token=");
    let (status, _) = post(&app, "/api/v1/auth/verify", None, json!({"token": link})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Single use.
    let (status, body) = post(&app, "/api/v1/auth/verify", None, json!({"token": link})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_link");

    // Confirming ended the session opened before it (see
    // `confirming_an_address_ends_sessions_opened_before`): Grace logs in again.
    let (status, _) = get(&app, "/api/v1/me/tickets", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let token = login(&app, "grace@example.com", PASSWORD).await;
    let (_, tickets) = get(&app, "/api/v1/me/tickets", Some(&token)).await;
    let ids: Vec<i64> = tickets
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    let bought: Vec<i64> = order["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(bought.iter().all(|id| ids.contains(id)));
    let (_, orders) = get(&app, "/api/v1/me/orders", Some(&token)).await;
    assert_eq!(orders[0]["id"], order["id"]);
    let (_, me) = get(&app, "/api/v1/me", Some(&token)).await;
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["role"], "attendee");
    app.stop().await;
}
on_both_backends!(
    guest_orders_attach,
    guest_orders_attach_once_the_address_is_confirmed
);

async fn transfer_and_upgrade_issue_new_revisions(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let store = app.state.store.clone();
    let one_day = ticket_type_id(store.as_ref(), "1-Day Pass").await;
    let three_day = ticket_type_id(store.as_ref(), "3-Day Pass").await;
    let booth = ticket_type_id(store.as_ref(), "Food Truck Booth").await;
    let order = buy_as(
        &app,
        "ada@example.com",
        "Ada",
        json!([{"ticket_type": one_day, "quantity": 2}]),
    )
    .await;
    let (status, booked) = post(
        &app,
        "/api/v1/vendor-booths",
        None,
        json!({
            "business_name": "Falafel King", "booth_name": "The King's truck",
            "category": "food_truck", "contact_name": "Ada", "phone": "+1 714 555 0142",
            "email": "ada@example.com", "description": "Falafel"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["ticket_type"], booth);
    let access = order["access_token"].as_str().unwrap().to_owned();
    let order_id = order["id"].as_i64().unwrap();
    let tickets = order["tickets"].as_array().unwrap().clone();
    let passes: Vec<&Value> = tickets.iter().filter(|t| t["kind"] == "pass").collect();
    let vendor = &booked["tickets"][0];
    let (gift, keep) = (
        passes[0]["id"].as_i64().unwrap(),
        passes[1]["id"].as_i64().unwrap(),
    );
    let old_qr = passes[0]["qr_text"].as_str().unwrap().to_owned();

    let ada = account(&app, db.dir.path(), "ada@example.com", "Ada").await;

    // Vendor tickets, oneself, and bad input are refused and change nothing.
    let (status, body) = post(
        &app,
        &format!("/api/v1/tickets/{}/transfer", vendor["id"]),
        Some(&ada),
        json!({"email": "bob@example.com", "name": "Bob"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "not_transferable");
    let (status, body) = post(
        &app,
        &format!("/api/v1/tickets/{gift}/transfer"),
        Some(&ada),
        json!({"email": " ADA@example.com", "name": "Ada"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post(
        &app,
        &format!("/api/v1/tickets/{gift}/transfer"),
        Some(&ada),
        json!({"email": "not an email", "name": "Bob"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(store.ticket(gift).await.unwrap().unwrap().revision, 0);

    // The transfer: a new revision for Bob; the answer does not carry his code.
    let (status, body) = post(
        &app,
        &format!("/api/v1/tickets/{gift}/transfer"),
        Some(&ada),
        json!({"email": "Bob@Example.com", "name": "Bob", "revision": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revision"], 1);
    assert!(body.get("qr_text").is_none());
    // A double submit (same revision seen) changes nothing more.
    let (status, body) = post(
        &app,
        &format!("/api/v1/tickets/{gift}/transfer"),
        Some(&ada),
        json!({"email": "carol@example.com", "name": "Carol", "revision": 0}),
    )
    .await;
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::CONFLICT,
        "{status} {body}"
    );
    let t = store.ticket(gift).await.unwrap().unwrap();
    assert_eq!(
        (
            t.revision,
            t.holder_email.as_deref(),
            t.superseded_by.as_deref()
        ),
        (1, Some("bob@example.com"), Some("transfer"))
    );
    assert_ne!(t.qr_text, old_qr);

    // Ada no longer holds it anywhere: dashboard, order, order-token links.
    let (_, mine) = get(&app, "/api/v1/me/tickets", Some(&ada)).await;
    assert!(mine.as_array().unwrap().iter().all(|x| x["id"] != gift));
    let (_, o) = get(
        &app,
        &format!("/api/v1/orders/{order_id}?token={access}"),
        None,
    )
    .await;
    assert!(
        o["tickets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["id"] != gift)
    );
    for path in [
        format!("/api/v1/orders/{order_id}/tickets/{gift}/qr.png?token={access}"),
        format!("/api/v1/tickets/{gift}/qr.png?token={access}"),
        format!("/api/v1/tickets/{gift}"),
    ] {
        let res = app
            .http
            .get(app.url(&path))
            .bearer_auth(&ada)
            .send()
            .await
            .unwrap();
        assert!(
            matches!(res.status().as_u16(), 403 | 404),
            "{path}: {}",
            res.status()
        );
    }

    // Both people are told; Bob's email carries the new code's link.
    mail_with(db.dir.path(), "ada@example.com", "now belongs to Bob").await;
    let text = mail_with(db.dir.path(), "bob@example.com", "/tickets/").await;
    let link = link_token(&text, &format!("/tickets/{gift}?token="));
    let (status, shown) = get(&app, &format!("/api/v1/tickets/{gift}?token={link}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["qr_text"], t.qr_text.as_str());
    let bob = account(&app, db.dir.path(), "bob@example.com", "Bob").await;
    let (_, bobs) = get(&app, "/api/v1/me/tickets", Some(&bob)).await;
    assert_eq!(bobs[0]["id"], gift);
    assert_eq!(bobs[0]["holder_name"], "Bob");

    // The upgrade: 1-Day to 3-Day, the difference paid (demo), capacity moved.
    let before = store.ticket_types().await.unwrap();
    let sold = |types: &[tessera_server::store::TicketType], id: i64| {
        types.iter().find(|t| t.id == id).unwrap().sold
    };
    let (_, options) = get(
        &app,
        &format!("/api/v1/tickets/{keep}/upgrades"),
        Some(&ada),
    )
    .await;
    let option = options
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["ticket_type"] == three_day)
        .unwrap()
        .clone();
    assert_eq!(option["difference_cents"], 2000);
    let (status, up) = post(
        &app,
        &format!("/api/v1/tickets/{keep}/upgrade"),
        Some(&ada),
        json!({"ticket_type": three_day, "revision": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{up}");
    assert_eq!(up["ticket"]["ticket_type"], three_day);
    assert_eq!(up["ticket"]["valid_days"].as_array().unwrap().len(), 3);
    let after = store.ticket_types().await.unwrap();
    assert_eq!(sold(&after, one_day), sold(&before, one_day) - 1);
    assert_eq!(sold(&after, three_day), sold(&before, three_day) + 1);
    let paid = store
        .order(up["order_id"].as_i64().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (paid.total_cents, paid.upgrade_ticket_id),
        (2000, Some(keep))
    );
    let t = store.ticket(keep).await.unwrap().unwrap();
    assert_eq!(
        (t.revision, t.superseded_by.as_deref()),
        (1, Some("upgrade"))
    );
    // Downgrades and other events' types are refused.
    let (status, _) = post(
        &app,
        &format!("/api/v1/tickets/{keep}/upgrade"),
        Some(&ada),
        json!({"ticket_type": one_day}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    mail_with(db.dir.path(), "ada@example.com", "upgrade is done").await;
    app.stop().await;
}
on_both_backends!(
    transfer_and_upgrade,
    transfer_and_upgrade_issue_new_revisions
);

#[tokio::test]
async fn nobody_reads_or_changes_another_persons_tickets() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let one_day = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    let order = buy_as(
        &app,
        "ada@example.com",
        "Ada",
        json!([{"ticket_type": one_day, "quantity": 1}]),
    )
    .await;
    let other = buy_as(
        &app,
        "eve@example.com",
        "Eve",
        json!([{"ticket_type": one_day, "quantity": 1}]),
    )
    .await;
    let id = order["tickets"][0]["id"].as_i64().unwrap();
    let _ada = account(&app, db.dir.path(), "ada@example.com", "Ada").await;
    let eve = account(&app, db.dir.path(), "eve@example.com", "Eve").await;
    let eve_order_token = other["access_token"].as_str().unwrap();

    let reads = [
        "",
        "/qr.png",
        "/qr.svg",
        "/ticket.pdf",
        "/upgrades",
        "/wallet/apple",
        "/wallet/google",
        "/wallet/google/save",
    ];
    for suffix in reads {
        let path = format!("/api/v1/tickets/{id}{suffix}");
        let anon = app.http.get(app.url(&path)).send().await.unwrap().status();
        assert_eq!(anon, StatusCode::UNAUTHORIZED, "{path} anonymous");
        let as_eve = app
            .http
            .get(app.url(&path))
            .bearer_auth(&eve)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(as_eve, StatusCode::FORBIDDEN, "{path} as another account");
        let with_other_order = app
            .http
            .get(app.url(&format!("{path}?token={eve_order_token}")))
            .send()
            .await
            .unwrap()
            .status();
        assert!(
            matches!(with_other_order.as_u16(), 401 | 403),
            "{path} with another order's token"
        );
    }
    for (path, body) in [
        (
            format!("/api/v1/tickets/{id}/transfer"),
            json!({"email": "eve@example.com", "name": "Eve"}),
        ),
        (
            format!("/api/v1/tickets/{id}/upgrade"),
            json!({"ticket_type": 1}),
        ),
    ] {
        let (status, _) = post(&app, &path, Some(&eve), body.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let (status, _) = post(&app, &path, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // Another person's order, its PDF and its QR images with one's own token.
    let oid = order["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/orders/{oid}"),
        format!("/api/v1/orders/{oid}/tickets.pdf"),
        format!("/api/v1/orders/{oid}/tickets/{id}/qr.png"),
        format!("/api/v1/orders/{oid}/tickets/{id}/ticket.pdf"),
        format!("/orders/{oid}"),
    ] {
        let res = app
            .http
            .get(app.url(&format!("{path}?token={eve_order_token}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let t = app.state.store.ticket(id).await.unwrap().unwrap();
    assert_eq!(
        (t.revision, t.holder_email.as_deref()),
        (0, Some("ada@example.com"))
    );
    app.stop().await;
}

async fn reset_links_are_signed_expiring_and_single_use(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let token = account(&app, db.dir.path(), "ada@example.com", "Ada").await;
    let ask = || {
        post(
            &app,
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "ada@example.com"}),
        )
    };
    // Unknown addresses get the same answer and no email.
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"email": "nobody@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(ask().await.0, StatusCode::ACCEPTED);
    let text = mail_with(db.dir.path(), "ada@example.com", "/account/reset?token=").await;
    let link = link_token(&text, "/account/reset?token=");
    assert!(
        mails(db.dir.path())
            .iter()
            .all(|(to, _, _)| to != "nobody@example.com")
    );

    // Tampered: another id with the same MAC, a flipped MAC character, garbage.
    let (id, mac) = link.split_once('.').unwrap();
    let other_id = format!("{}.{mac}", id.parse::<i64>().unwrap() + 1);
    let mut flipped = link.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'a' { b'b' } else { b'a' };
    for bad in [
        other_id,
        String::from_utf8(flipped).unwrap(),
        "x".into(),
        String::new(),
    ] {
        let (status, body) = post(
            &app,
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": bad, "password": "a brand new password"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "bad_link");
    }
    // Too short a password keeps the link usable.
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": link, "password": "short"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": link, "password": "a brand new password"}),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Used: refused; the old password and the old sessions are gone.
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": link, "password": "yet another password"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&app, "/api/v1/me", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    login(&app, "ada@example.com", "a brand new password").await;

    // Expired.
    assert_eq!(ask().await.0, StatusCode::ACCEPTED);
    let fresh = eventually("a second reset email", Duration::from_secs(30), || async {
        mails(db.dir.path())
            .into_iter()
            .filter(|(_, _, t)| t.contains("/account/reset?token="))
            .map(|(_, _, t)| link_token(&t, "/account/reset?token="))
            .find(|t| *t != link)
    })
    .await;
    exec_sql(db, "UPDATE email_tokens SET expires_at = 0").await;
    // Asking again and again sends at most three reset emails an hour; past the address's
    // request limit the asker is told to wait (which says nothing about an account: every
    // address is counted alike).
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(ask().await.0.as_u16());
    }
    assert_eq!(answers, [202, 202, 202, 429, 429]);
    let user = app
        .state
        .store
        .user_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let sent = app
        .state
        .store
        .email_tokens_since(user.id, "reset", 0)
        .await
        .unwrap();
    assert_eq!(sent, 3);
    let (status, _) = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        None,
        json!({"token": fresh, "password": "an expired attempt"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}
on_both_backends!(reset_links, reset_links_are_signed_expiring_and_single_use);

#[tokio::test]
async fn logins_are_rate_limited_per_address() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    account(&app, db.dir.path(), "ada@example.com", "Ada").await;
    for _ in 0..5 {
        let (status, body) = post(
            &app,
            "/api/v1/auth/login",
            None,
            json!({"email": "ada@example.com", "password": "wrong password!"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "bad_credentials");
    }
    let (status, body) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": "ADA@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Unknown addresses answer like wrong passwords.
    let (status, body) = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": "who@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_credentials"))
    );
    app.stop().await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let one_day = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    // A browser first gets the page, which sets the CSRF cookie and puts it in the form.
    let jar = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = jar
        .get(app.url("/account/register"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(csrf.len(), 64);
    let form = |csrf: &str| {
        vec![
            ("_csrf", csrf.to_owned()),
            ("name", "Mallory".into()),
            ("email", "m@example.com".into()),
            ("password", PASSWORD.into()),
        ]
    };

    // No token, a wrong token, no cookie at all, or another site's Origin: 403, no account.
    let no_token = jar
        .post(app.url("/account/register"))
        .form(&form("")[1..])
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let wrong = jar
        .post(app.url("/account/register"))
        .form(&form(&"0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let cookieless = app
        .http
        .post(app.url("/account/register"))
        .form(&form(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(cookieless.status(), StatusCode::FORBIDDEN);
    let cross = jar
        .post(app.url("/account/register"))
        .header("Origin", "https://evil.example")
        .form(&form(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let checkout = jar
        .post(app.url("/checkout"))
        .form(&[
            ("name", "M"),
            ("email", "m@example.com"),
            (&*format!("qty_{one_day}"), "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status(), StatusCode::FORBIDDEN);
    assert!(
        app.state
            .store
            .users()
            .await
            .unwrap()
            .iter()
            .all(|u| u.email != "m@example.com")
    );
    assert_eq!(
        app.state
            .store
            .ticket_types()
            .await
            .unwrap()
            .iter()
            .map(|t| t.sold)
            .sum::<i64>(),
        0
    );

    // With it, the same post works and logs the new account in.
    let ok = jar
        .post(app.url("/account/register"))
        .form(&form(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let dashboard = jar.get(app.url("/account")).send().await.unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert!(
        dashboard
            .text()
            .await
            .unwrap()
            .contains("Confirm your email address")
    );
    // The session cookie does not make bodiless or form-encoded API posts from other sites
    // work: state-changing API calls with a cookie need a JSON body (which needs CORS).
    let bodiless = jar.post(app.url("/api/v1/me/resend")).send().await.unwrap();
    assert_eq!(bodiless.status(), StatusCode::FORBIDDEN);
    let as_form = jar
        .post(app.url("/api/v1/tickets/1/transfer"))
        .form(&[("email", "x@example.com"), ("name", "X")])
        .send()
        .await
        .unwrap();
    assert_eq!(as_form.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

/// Account pre-hijacking: an attacker registers the victim's address with a password of his
/// own and keeps the session open; the victim, who bought tickets as a guest, confirms the
/// address from the email they receive. The person who controls the mailbox decides: the
/// attacker's session ends at confirmation and never sees the victim's tickets.
async fn confirming_an_address_ends_sessions_opened_before(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "3-Day Pass").await;
    let victim = "victim@example.com";
    buy_as(
        &app,
        victim,
        "Victim",
        json!([{"ticket_type": pass, "quantity": 2}]),
    )
    .await;
    let attacker_password = "the attacker's own password";
    let (status, body) = post(
        &app,
        "/api/v1/auth/register",
        None,
        json!({"email": victim, "name": "Not Victim", "password": attacker_password}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let attacker = login(&app, victim, attacker_password).await;
    // Unconfirmed, the account sees none of the address's tickets.
    let (status, tickets) = get(&app, "/api/v1/me/tickets", Some(&attacker)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tickets.as_array().map(Vec::len), Some(0), "{tickets}");

    let text = mail_with(db.dir.path(), victim, "/account/verify?token=").await;
    let token = link_token(&text, "/account/verify?token=");
    let (status, body) = post(&app, "/api/v1/auth/verify", None, json!({"token": token})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, body) = get(&app, "/api/v1/me/tickets", Some(&attacker)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = get(&app, "/api/v1/me/orders", Some(&attacker)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await;
}

on_both_backends!(
    confirming_ends_earlier_sessions,
    confirming_an_address_ends_sessions_opened_before
);

/// A reset link left in a mailbox must not set the password later: a newer link, a reset and
/// a password change each end every earlier unused link.
async fn older_reset_links_die_with_newer_ones_and_password_changes(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    account(&app, db.dir.path(), "ada@example.com", "Ada").await;
    let links = |n: usize| {
        let dir = db.dir.path().to_owned();
        async move {
            eventually(
                &format!("{n} reset emails"),
                Duration::from_secs(30),
                || {
                    let dir = dir.clone();
                    async move {
                        let found: Vec<String> = mails(&dir)
                            .into_iter()
                            .filter(|(_, _, t)| t.contains("/account/reset?token="))
                            .map(|(_, _, t)| link_token(&t, "/account/reset?token="))
                            .collect();
                        (found.len() >= n).then_some(found)
                    }
                },
            )
            .await
        }
    };
    let ask = || {
        post(
            &app,
            "/api/v1/auth/password-reset",
            None,
            json!({"email": "ada@example.com"}),
        )
    };
    let confirm = |link: String, password: &'static str| {
        post(
            &app,
            "/api/v1/auth/password-reset/confirm",
            None,
            json!({"token": link, "password": password}),
        )
    };
    assert_eq!(ask().await.0, StatusCode::ACCEPTED);
    let first = links(1).await[0].clone();
    assert_eq!(ask().await.0, StatusCode::ACCEPTED);
    let second = links(2).await.into_iter().find(|l| *l != first).unwrap();
    let (status, body) = confirm(first.clone(), "the first new password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_link");
    let (status, body) = confirm(second.clone(), "the second new password").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // A link asked for, then the password changed another way: the link is dead.
    assert_eq!(ask().await.0, StatusCode::ACCEPTED);
    let third = links(3)
        .await
        .into_iter()
        .find(|l| *l != first && *l != second)
        .unwrap();
    let user = app
        .state
        .store
        .user_by_email("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let hash = tessera_server::app::accounts::hash_password("changed on the profile".into())
        .await
        .unwrap();
    app.state
        .store
        .set_password(user.id, &hash, chrono::Utc::now().timestamp())
        .await
        .unwrap();
    let (status, body) = confirm(third, "an attacker's password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    login(&app, "ada@example.com", "changed on the profile").await;
    app.stop().await;
}

on_both_backends!(
    older_reset_links_die,
    older_reset_links_die_with_newer_ones_and_password_changes
);
