//! Languages kept with orders and accounts (migration 0015) and what they choose, on both
//! backends: an order keeps the language of the request that placed it, an account the one
//! it chose (the switch, the profile, its registration), which comes before the cookie and
//! `Accept-Language` on pages; the emails are written in them — an order's confirmation (with
//! its PDF's labels) in the order's language through a real SMTP server, an account's
//! notices in the account's, else the order's.

use std::path::Path;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::on_both_backends;
use crate::support::{SmtpSink, TestApp, TestDb, eventually, free_port, ticket_type_id};

const PASSWORD: &str = "correct horse battery";
const NAME: &str = "محمد عبد الله";

/// Places an order over the API with the given `Accept-Language` (none if empty).
async fn order_in(app: &TestApp, accept: &str, email: &str, name: &str, pass: i64) -> Value {
    let mut req = app.http.post(app.url("/api/v1/orders")).json(&json!({
        "email": email, "name": name, "items": [{"ticket_type": pass, "quantity": 1}]
    }));
    if !accept.is_empty() {
        req = req.header("Accept-Language", accept);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

/// The `lang` attribute of a page fetched with these cookies and `Accept-Language`.
async fn page_lang(app: &TestApp, path: &str, cookies: &str, accept: &str) -> String {
    let html = app
        .http
        .get(app.url(path))
        .header("Cookie", cookies)
        .header("Accept-Language", accept)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = html
        .find("<html lang=\"")
        .expect("an html element with lang")
        + 12;
    html[at..at + 2].to_owned()
}

async fn orders_and_accounts_keep_their_language(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let store = app.state.store.clone();
    let pass = ticket_type_id(store.as_ref(), "1-Day Pass").await;

    // An order keeps the language of the request that placed it.
    let ar = order_in(&app, "ar-EG, en;q=0.5", "m@example.com", NAME, pass).await;
    let en = order_in(&app, "", "ada@example.com", "Ada", pass).await;
    let lang_of = |order: &Value| {
        let store = store.clone();
        let id = order["id"].as_i64().unwrap();
        async move { store.order(id).await.unwrap().unwrap().lang }
    };
    assert_eq!(lang_of(&ar).await, "ar");
    assert_eq!(lang_of(&en).await, "en");

    // An account registered from an English request starts in English.
    let (status, user) = crate::accounts::post(
        &app,
        "/api/v1/auth/register",
        None,
        json!({"email": "grace@example.com", "name": "Grace", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_i64().unwrap();
    assert_eq!(
        store.user(id).await.unwrap().unwrap().lang.as_deref(),
        Some("en")
    );

    // A browser session of that account uses the switch: the account keeps Arabic.
    let token = tessera_server::app::accounts::new_token().unwrap();
    let now = chrono::Utc::now().timestamp();
    store
        .create_session(
            &tessera_server::app::orders::token_hash(&token),
            id,
            "cookie",
            now,
            now + 3600,
        )
        .await
        .unwrap();
    let session = format!("tessera_session={token}");
    let res = app
        .http
        .get(app.url("/lang/ar?back=/account/profile"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    // Back on the profile (the client follows the redirect), in Arabic.
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("<html lang=\"ar\""));
    assert_eq!(
        store.user(id).await.unwrap().unwrap().lang.as_deref(),
        Some("ar")
    );

    // The account's choice comes before the cookie and Accept-Language; without the
    // session the same browser gets what those say.
    let english = "tessera_lang=en";
    assert_eq!(
        page_lang(&app, "/", &format!("{english}; {session}"), "en").await,
        "ar"
    );
    assert_eq!(page_lang(&app, "/", english, "en").await, "en");
    assert_eq!(page_lang(&app, "/", "", "ar").await, "ar");
    app.stop().await;
}
on_both_backends!(
    orders_and_accounts_keep_their_language,
    orders_and_accounts_keep_their_language
);

/// The PDF's text as `pdftotext` reads it, or `None` (said loudly) without poppler.
fn pdftotext(pdf: &[u8], dir: &Path) -> Option<String> {
    let file = dir.join("confirmation.pdf");
    std::fs::write(&file, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
    {
        Ok(out) if out.status.success() => Some(
            String::from_utf8_lossy(&out.stdout)
                .chars()
                .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'))
                .collect(),
        ),
        _ => {
            eprintln!("SKIPPED: pdftotext is not installed; ./scripts/test installs poppler-utils");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_arabic_order_is_confirmed_in_arabic_with_arabic_pdf_labels() {
    let db = TestDb::sqlite();
    let sink = SmtpSink::start(db.dir.path(), free_port()).await;
    let mut settings = db.settings();
    settings.email.smtp_url = Some(tessera_server::config::Secret::new(sink.url()));
    let app = TestApp::spawn(settings).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "2-Day Pass").await;
    let order = order_in(&app, "ar", "m@example.com", NAME, pass).await;
    let raw = eventually(
        "the email at the SMTP server",
        Duration::from_secs(30),
        || {
            let m = sink.messages();
            async move { m.into_iter().next() }
        },
    )
    .await;
    let msg = MessageParser::default().parse(&raw).unwrap();
    let subject = msg.subject().unwrap();
    assert!(subject.starts_with("[تجربة] تذاكرك لـ "), "{subject}");
    assert!(subject.contains(order["number"].as_str().unwrap()));
    assert_eq!(
        msg.header_raw("Content-Language").map(str::trim),
        Some("ar")
    );

    // The HTML is right to left, its words Arabic, the name isolated.
    let html = msg.body_html(0).unwrap();
    assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
    assert!(
        html.contains(&format!("مرحبًا <bdi>{NAME}</bdi>،")),
        "{html}"
    );
    assert!(
        html.contains(&format!("حاملها: <bdi>{NAME}</bdi>")),
        "{html}"
    );
    assert!(html.contains("أضف إلى Apple Wallet"), "{html}");
    assert!(
        !html.contains("Holder") && !html.contains("Total"),
        "{html}"
    );

    // The plain text too, the name between Unicode isolates; links stay bare.
    let text = msg.body_text(0).unwrap();
    assert!(
        text.contains(&format!("مرحبًا \u{2068}{NAME}\u{2069}،")),
        "{text}"
    );
    assert!(text.contains("المجموع: $"), "{text}");
    assert!(
        text.contains("صفحة طلبك: http://") && text.contains("?token="),
        "{text}"
    );
    assert!(!text.contains("Your tickets"), "{text}");

    // The attached PDF's labels are Arabic, the name in logical order.
    let pdf = msg
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|ct| ct.ctype() == "application" && ct.subtype() == Some("pdf"))
        })
        .expect("the PDF is attached")
        .contents()
        .to_vec();
    if let Some(text) = pdftotext(&pdf, db.dir.path()) {
        // pdftotext puts the colon of a right-to-left line on the other side of its space.
        assert!(
            text.lines()
                .any(|l| l.contains("حاملها") && l.contains(NAME)),
            "{text}"
        );
        assert!(text.contains("صالحة"), "{text}");
        assert!(text.contains("طلب تجريبي"), "{text}");
        assert!(
            !text.contains("Holder") && !text.contains("Valid") && !text.contains('?'),
            "{text}"
        );
    }
    app.stop().await;
}

async fn notices_follow_the_account_then_the_order(db: &TestDb) {
    let app = TestApp::spawn(db.settings()).await;
    let store = app.state.store.clone();
    let dir = db.dir.path();
    let pass = ticket_type_id(store.as_ref(), "1-Day Pass").await;

    // Registered from an Arabic page: the confirmation link comes in Arabic.
    let res = app
        .http
        .post(app.url("/api/v1/auth/register"))
        .header("Accept-Language", "ar")
        .json(&json!({"email": "ada@example.com", "name": "Ada", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let verify = mail_to(dir, "ada@example.com", "/account/verify?token=").await;
    assert_eq!(verify.0, "أكّد عنوان بريدك الإلكتروني");
    assert!(verify.1.starts_with("مرحبًا،"), "{}", verify.1);
    let token = crate::accounts::link_token(&verify.1, "/account/verify?token=");
    let (status, _) =
        crate::accounts::post(&app, "/api/v1/auth/verify", None, json!({"token": token})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, login) = crate::accounts::post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let bearer = login["token"].as_str().unwrap().to_owned();

    // An English order: its confirmation is English, but the account's notice about its
    // ticket is Arabic (the account's choice first); the recipient, who has no account, gets
    // English.
    let order = order_in(&app, "en", "ada@example.com", "Ada", pass).await;
    let confirmation = mail_to(dir, "ada@example.com", "Your order page:").await;
    assert!(
        confirmation.0.contains("Your tickets for"),
        "{}",
        confirmation.0
    );
    let gift = order["tickets"][0]["id"].as_i64().unwrap();
    let (status, body) = crate::accounts::post(
        &app,
        &format!("/api/v1/tickets/{gift}/transfer"),
        Some(&bearer),
        json!({"email": "bob@example.com", "name": "Bob", "revision": 0}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let out = mail_to(dir, "ada@example.com", "أصبحت الآن باسم").await;
    assert!(out.0.starts_with("نُقلت تذكرتك"), "{}", out.0);
    assert!(out.1.contains("\u{2068}Bob\u{2069}"), "{}", out.1);
    let received = mail_to(dir, "bob@example.com", "/tickets/").await;
    assert!(received.0.starts_with("You received a"), "{}", received.0);
    app.stop().await;
}
on_both_backends!(
    notices_follow_the_account_then_the_order,
    notices_follow_the_account_then_the_order
);

/// Waits for an `.eml` to `to` whose text has `marker`: its subject and text, as sent.
async fn mail_to(dir: &Path, to: &str, marker: &str) -> (String, String) {
    eventually(
        &format!("an email to {to} with {marker}"),
        Duration::from_secs(30),
        || async {
            let entries = std::fs::read_dir(dir.join("outbox")).ok()?;
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .filter_map(|p| std::fs::read(p).ok())
                .find_map(|raw| {
                    let msg = MessageParser::default().parse(&raw)?;
                    let rcpt = msg.to()?.first()?.address()?.to_owned();
                    let text = msg.body_text(0)?.into_owned();
                    (rcpt == to && text.contains(marker))
                        .then(|| (msg.subject().unwrap_or_default().to_owned(), text))
                })
        },
    )
    .await
}

/// A browser-like client (cookies kept) that reads a form page and returns it with its
/// CSRF token.
async fn form_page(
    app: &TestApp,
    jar: &reqwest::Client,
    path: &str,
    accept: &str,
) -> (String, String) {
    let page = jar
        .get(app.url(path))
        .header("Accept-Language", accept)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .expect("a form with a CSRF token")
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    (page, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_booth_form_and_its_refusals_read_in_arabic() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let jar = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (page, csrf) = form_page(&app, &jar, "/vendors/booth", "ar").await;
    assert!(page.contains("<html lang=\"ar\" dir=\"rtl\">"), "{page}");
    assert!(
        page.contains("احجز جناح بائع") && page.contains("جناح عربة طعام"),
        "{page}"
    );
    assert!(!page.contains("Business name") && !page.contains("Book a vendor booth"));

    // A refused booking comes back on the form, in the page's language.
    let post = |accept: &'static str, csrf: String| {
        jar.post(app.url("/vendors/booth"))
            .header("Accept-Language", accept)
            .form(&[
                ("_csrf", csrf),
                ("category", "food_truck".into()),
                ("business_name", " ".into()),
                ("booth_name", "The King's truck".into()),
                ("contact_name", "سمير حداد".into()),
                ("phone", "+1 714 555 0142".into()),
                ("email", "samir@example.com".into()),
                ("description", "Falafel".into()),
            ])
            .send()
    };
    let refused = post("ar", csrf.clone()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("بعض ما أدخلته غير صالح"), "{html}");
    let refused = post("en", csrf).await.unwrap();
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("business_name"),
        "English keeps the detail: {html}"
    );
    app.stop().await;
}
