//! Crash safety: the server is SIGKILLed with confirmation emails still in its outbox (the
//! SMTP server is down, so they wait for a retry); after a restart with the SMTP server up,
//! every email arrives exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use mail_parser::MessageParser;

use crate::support::{SmtpSink, TestDb, buy, eventually, free_port};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_with_emails_in_the_outbox_sends_each_exactly_once_after_restart() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    let port = free_port();
    let env = [("TESSERA_SMTP_URL", format!("smtp://127.0.0.1:{port}"))];
    let args = ["demo", "--data-dir", &dir];
    let http = reqwest::Client::new();

    let first = crate::support::server_process(&args, &env);
    let mut orders = Vec::new();
    for _ in 0..5 {
        let (status, order) = buy(&http, &first.base, 1, 1).await;
        assert_eq!(status, 201);
        orders.push(order["id"].as_i64().unwrap());
    }
    // The SMTP server is not up: every email has failed at least once and waits.
    let store = db.store().await;
    eventually(
        "failed attempts on every email",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                let rows = store.outbox_entries().await.ok()?;
                (rows.len() == 5
                    && rows.iter().all(|r| {
                        r.status == "pending" && r.attempts >= 1 && r.last_error.is_some()
                    }))
                .then_some(())
            }
        },
    )
    .await;
    first.kill();
    assert_eq!(
        store.outbox_counts().await.unwrap().pending,
        5,
        "still queued after SIGKILL"
    );

    let sink = SmtpSink::start(db.dir.path(), port).await;
    let second = crate::support::server_process(&args, &env);
    eventually("every email sent", Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            store
                .outbox_counts()
                .await
                .ok()
                .filter(|c| c.sent == 5 && c.pending == 0)
        }
    })
    .await;
    // Each row was sent by exactly one successful attempt after the failures.
    for row in store.outbox_entries().await.unwrap() {
        assert_eq!(row.status, "sent");
    }
    // Sent rows are never claimed again, so what has arrived now is final.
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    for raw in sink.messages() {
        let msg = MessageParser::default().parse(&raw).unwrap();
        let id = msg.message_id().unwrap().to_owned();
        *per_order.entry(id).or_default() += 1;
    }
    assert_eq!(per_order.len(), 5, "{per_order:?}");
    assert!(
        per_order.values().all(|&n| n == 1),
        "duplicates: {per_order:?}"
    );
    for order in orders {
        assert!(
            per_order
                .keys()
                .any(|k| k.contains(&format!("order-{order}.")))
        );
    }
    second.kill();
}

/// Without SMTP, emails are `.eml` files named after their outbox row: the server is killed
/// while it drains a backlog, and after a restart every order has exactly one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_while_writing_eml_files_loses_none_and_duplicates_none() {
    let db = TestDb::sqlite();
    let dir = db.dir.path().display().to_string();
    let args = ["demo", "--data-dir", &dir];
    let http = reqwest::Client::new();
    // Queue a backlog with the worker off, then let a worker loose on it and kill it while
    // it is writing.
    let env_off = [("TESSERA_EMAIL_WORKER", "false".to_owned())];
    let first = crate::support::server_process(&args, &env_off);
    let mut orders = Vec::new();
    for _ in 0..40 {
        let (status, order) = buy(&http, &first.base, 1, 1).await;
        assert_eq!(status, 201);
        orders.push(order["id"].as_i64().unwrap());
    }
    first.kill();
    let store = db.store().await;
    let second = crate::support::server_process(&args, &[]);
    eventually(
        "the worker to start writing",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                store
                    .outbox_counts()
                    .await
                    .ok()
                    .filter(|c| c.sent >= 1)
                    .map(|_| ())
            }
        },
    )
    .await;
    second.kill();
    let third = crate::support::server_process(&args, &[]);
    eventually("every email written", Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            store
                .outbox_counts()
                .await
                .ok()
                .filter(|c| c.sent == 40 && c.pending == 0)
        }
    })
    .await;
    let outbox = db.dir.path().join("outbox");
    let files: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    assert_eq!(files.len(), 40, "{files:?}");
    for order in orders {
        let prefix = format!("order-{order}-");
        assert_eq!(files.iter().filter(|f| f.starts_with(&prefix)).count(), 1);
    }
    third.kill();
}
