//! Confirmation email through a real SMTP server process (aiosmtpd) and as `.eml` files:
//! the received message is parsed, the QR codes are decoded from the inline images and
//! verified with tessera-core.

use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;

use crate::support::{
    SmtpSink, TestApp, TestDb, buy, eventually, free_port, keyring, ticket_type_id,
};

fn decode_qr(png: &[u8]) -> String {
    let img = image::load_from_memory(png).expect("png").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().expect("QR decodes").1
}

/// Checks a confirmation email against the order; returns its Message-ID.
fn check_confirmation(raw: &[u8], order: &Value, ring: &tessera_core::Keyring) -> String {
    let msg = MessageParser::default()
        .parse(raw)
        .expect("parses as email");
    let subject = msg.subject().expect("subject");
    assert!(subject.starts_with("[DEMO]"), "{subject}");
    assert!(
        subject.contains(order["number"].as_str().unwrap()),
        "{subject}"
    );
    let text = msg.body_text(0).expect("plain text part");
    let html = msg.body_html(0).expect("html part");
    assert!(text.contains("Total: $") && text.contains("DEMO"));
    assert!(text.contains(&format!("/orders/{}?token=", order["id"])));
    let tickets = order["tickets"].as_array().unwrap();
    let mut decoded = Vec::new();
    let mut pdfs = 0;
    for part in &msg.parts {
        let Some(ct) = part.content_type() else {
            continue;
        };
        match (ct.ctype(), ct.subtype()) {
            ("image", Some("png")) => {
                let cid = part.content_id().expect("inline image has a Content-ID");
                assert!(
                    html.contains(&format!("cid:{cid}")),
                    "html references {cid}"
                );
                decoded.push(decode_qr(part.contents()));
            }
            ("application", Some("pdf")) => {
                assert!(part.contents().starts_with(b"%PDF"));
                assert!(part.attachment_name().is_some_and(|n| n.ends_with(".pdf")));
                pdfs += 1;
            }
            _ => {}
        }
    }
    assert_eq!(pdfs, 1, "the order PDF is attached");
    assert_eq!(decoded.len(), tickets.len(), "one inline QR per ticket");
    for t in tickets {
        let qr = t["qr_text"].as_str().unwrap();
        assert!(
            decoded.iter().any(|d| d == qr),
            "QR of ticket {} is in the email",
            t["id"]
        );
        let verified = tessera_core::verify(qr, ring).expect("QR from the email verifies");
        assert_eq!(verified.claims().ticket.0, t["id"].as_u64().unwrap());
    }
    msg.message_id().expect("Message-ID").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smtp_confirmation_carries_inline_qr_codes_that_verify() {
    let db = TestDb::sqlite();
    let sink = SmtpSink::start(db.dir.path(), free_port()).await;
    let mut settings = db.settings();
    settings.email.smtp_url = Some(tessera_server::config::Secret::new(sink.url()));
    let app = TestApp::spawn(settings).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "2-Day Pass").await;
    let (status, order) = buy(&app.http, &app.base, pass, 2).await;
    assert_eq!(status, 201);
    let messages = eventually(
        "the email at the SMTP server",
        Duration::from_secs(30),
        || {
            let m = sink.messages();
            async move { (!m.is_empty()).then_some(m) }
        },
    )
    .await;
    assert_eq!(messages.len(), 1);
    let ring = keyring(&app.http, &app.base).await;
    check_confirmation(&messages[0], &order, &ring);
    let counts = eventually(
        "the outbox row marked sent",
        Duration::from_secs(10),
        || {
            let store = app.state.store.clone();
            async move { store.outbox_counts().await.ok().filter(|c| c.sent == 1) }
        },
    )
    .await;
    assert_eq!(counts.pending, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_smtp_the_confirmation_is_an_eml_file() {
    let db = TestDb::sqlite();
    let app = TestApp::spawn(db.settings()).await;
    let pass = ticket_type_id(app.state.store.as_ref(), "1-Day Pass").await;
    let (status, order) = buy(&app.http, &app.base, pass, 1).await;
    assert_eq!(status, 201);
    let outbox = db.dir.path().join("outbox");
    let file = eventually("the .eml file", Duration::from_secs(30), || {
        let outbox = outbox.clone();
        async move {
            std::fs::read_dir(&outbox)
                .ok()?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml"))
        }
    })
    .await;
    assert!(
        file.file_name()
            .unwrap()
            .to_string_lossy()
            .contains(&order["id"].to_string())
    );
    let ring = keyring(&app.http, &app.base).await;
    check_confirmation(&std::fs::read(&file).unwrap(), &order, &ring);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_instances_send_each_email_exactly_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let sink = SmtpSink::start(db.dir.path(), free_port()).await;
    let mut settings = db.settings();
    settings.email.smtp_url = Some(tessera_server::config::Secret::new(sink.url()));
    let one = TestApp::spawn(settings.clone()).await;
    let two = TestApp::spawn(settings).await;
    let pass = ticket_type_id(one.state.store.as_ref(), "3-Day Pass").await;
    let mut orders = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &one } else { &two };
        let (status, order) = buy(&app.http, &app.base, pass, 1).await;
        assert_eq!(status, 201);
        orders.push(order["id"].as_i64().unwrap());
    }
    let store = one.state.store.clone();
    eventually("all ten emails sent", Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            store
                .outbox_counts()
                .await
                .ok()
                .filter(|c| c.sent == 10 && c.pending == 0)
        }
    })
    .await;
    let mut ids: Vec<String> = sink
        .messages()
        .iter()
        .map(|raw| {
            let msg = MessageParser::default().parse(raw).unwrap();
            msg.message_id().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    let received = ids.len();
    ids.dedup();
    assert_eq!((received, ids.len()), (10, 10), "each email exactly once");
    for order in orders {
        assert!(ids.iter().any(|m| m.contains(&format!("order-{order}."))));
    }
    one.stop().await;
    two.stop().await;
    db.cleanup().await;
}
