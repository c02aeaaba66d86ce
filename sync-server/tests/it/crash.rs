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
    // An email is marked sent just before its staged file is published: the last file may
    // appear a moment after the last mark.
    let outbox = db.dir.path().join("outbox");
    eventually("every file published", Duration::from_secs(10), || {
        let files = eml_files(&outbox);
        async move { (files.len() >= 40).then_some(()) }
    })
    .await;
    let files = eml_files(&outbox);
    assert_eq!(files.len(), 40, "{files:?}");
    for order in orders {
        let prefix = format!("order-{order}-");
        assert_eq!(files.iter().filter(|f| f.starts_with(&prefix)).count(), 1);
    }
    third.kill();
}

/// The `.eml` files in a folder, by name (staging files left out).
fn eml_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default()
}

fn staging_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
                .count()
        })
        .unwrap_or(0)
}

/// Two instances on one PostgreSQL database, each writing `.eml` files to its own folder.
/// Orders stream in while one instance is killed with SIGKILL at random moments (and
/// restarted each time), often in the middle of writing an email. Across both folders every
/// paid order's confirmation is written exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_killed_at_random_write_each_email_exactly_once() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let folder_a = tempfile::tempdir().unwrap();
    let folder_b = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (
        folder_a.path().display().to_string(),
        folder_b.path().display().to_string(),
    );
    let env = [
        ("TESSERA_DATABASE_URL", db.url.clone()),
        ("TESSERA_EMAIL_LEASE_MS", "2000".to_owned()),
    ];
    let args_a = ["demo", "--data-dir", &dir_a];
    let steady = crate::support::server_process(&["demo", "--data-dir", &dir_b], &env);
    let mut killed = crate::support::server_process(&args_a, &env);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let buyer = {
        let (base, stop) = (steady.base.clone(), stop.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut orders = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, order) = buy(&http, &base, 1, 1).await;
                assert_eq!(status, 201, "{order}");
                orders.push(order["id"].as_i64().unwrap());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            orders
        })
    };
    for _ in 0..8 {
        let wait = 150 + crate::support::random_u64() % 600;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        killed.kill();
        killed = crate::support::server_process(&args_a, &env);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let orders = buyer.await.unwrap();
    let store = db.store().await;
    let total = i64::try_from(orders.len()).unwrap();
    eventually(
        "every email written and no staging file left",
        Duration::from_secs(60),
        || {
            let store = store.clone();
            let (a, b) = (
                folder_a.path().join("outbox"),
                folder_b.path().join("outbox"),
            );
            async move {
                let counts = store.outbox_counts().await.ok()?;
                (counts.sent == total
                    && counts.pending == 0
                    && staging_files(&a) + staging_files(&b) == 0)
                    .then_some(())
            }
        },
    )
    .await;
    let files_a = eml_files(&folder_a.path().join("outbox"));
    let files_b = eml_files(&folder_b.path().join("outbox"));
    let mut per_order: BTreeMap<i64, usize> = BTreeMap::new();
    for name in files_a.iter().chain(&files_b) {
        let order = name
            .strip_prefix("order-")
            .and_then(|n| n.split('-').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected file {name}"));
        *per_order.entry(order).or_default() += 1;
    }
    eprintln!(
        "{} orders; instance A wrote {}, instance B {}",
        orders.len(),
        files_a.len(),
        files_b.len()
    );
    assert!(!files_a.is_empty(), "the killed instance took part");
    for order in &orders {
        assert_eq!(
            per_order.get(order),
            Some(&1),
            "order {order}: {per_order:?}"
        );
    }
    assert_eq!(per_order.len(), orders.len());
    drop((killed, steady));
    db.cleanup().await;
}
