//! Orders per second in demo mode, through the HTTP API: each order buys one ticket, which
//! is signed and stored with its order, and queues its confirmation email in the same
//! transaction. The outbox worker is off, so the figure is the sales path alone; a second
//! figure is how fast one worker then renders and writes confirmation emails.
//!
//! `cargo bench -p tessera-server --bench orders` (SQLite always; PostgreSQL too when
//! `TESSERA_TEST_POSTGRES_URL` is set). `BENCH_ORDERS` and `BENCH_CONCURRENCY` tune it.
#![allow(clippy::unwrap_used, clippy::print_stderr)] // A bench: failing loudly is right.

use std::sync::Arc;
use std::time::Instant;

use sqlx::{AssertSqlSafe, Connection};
use tessera_server::config::{Secret, Settings};
use tessera_server::store::{NewTicketType, TicketKind};
use tokio::net::TcpListener;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run(label: &str, database_url: String, dir: &std::path::Path) {
    let orders = env_usize("BENCH_ORDERS", 4000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let mut settings = Settings {
        data_dir: dir.to_owned(),
        database_url: Some(Secret::new(database_url)),
        master_key: Some(Secret::new("42".repeat(32))),
        demo: true,
        database_max_connections: 16,
        ..Settings::default()
    };
    settings.email.worker = false;
    let state = tessera_server::open(settings).await.unwrap();
    let event = state.store.events().await.unwrap()[0].id;
    let tt = tessera_server::app::catalog::create_ticket_type(
        state.store.as_ref(),
        &NewTicketType {
            event_id: event,
            name: "Bench Pass".into(),
            kind: TicketKind::Pass,
            price_cents: 3500,
            currency: "USD".into(),
            capacity: 10_000_000,
            days_mask: 0b111,
            zones: 1,
            transferable: true,
        },
    )
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tessera_server::serve_state(
        state.clone(),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let body = serde_json::json!({
        "email": "bench@example.com",
        "name": "Bench Buyer",
        "items": [{"ticket_type": tt, "quantity": 1}],
    });
    let buy = |n: usize| {
        let http = http.clone();
        let url = format!("{base}/api/v1/orders");
        let body = body.clone();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        async move {
            let workers: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (http, url, body, next) =
                        (http.clone(), url.clone(), body.clone(), next.clone());
                    tokio::spawn(async move {
                        while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < n {
                            let res = http.post(&url).json(&body).send().await.unwrap();
                            assert_eq!(res.status(), 201);
                            res.bytes().await.unwrap();
                        }
                    })
                })
                .collect();
            for w in workers {
                w.await.unwrap();
            }
        }
    };
    buy(200).await; // warm-up: connections, caches, page cache
    let start = Instant::now();
    buy(orders).await;
    let elapsed = start.elapsed();
    let pending = state.store.outbox_counts().await.unwrap().pending;
    assert_eq!(
        pending as usize,
        orders + 200,
        "every order queued its email"
    );
    println!(
        "{label:<10} {orders} orders, concurrency {concurrency}: {:.2} s, {:.0} orders/s",
        elapsed.as_secs_f64(),
        orders as f64 / elapsed.as_secs_f64()
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    // Then the worker's side: render (QR PNGs, PDF, MIME) and write 500 confirmation
    // emails as .eml files, one worker, as the outbox drains them.
    let outbox = tessera_server::app::email::Outbox {
        store: state.store.clone(),
        mailer: tessera_server::app::email::Mailer::Files(dir.join("outbox")),
        settings: state.settings.clone(),
        master: state.master.clone(),
        wake: state.wake.clone(),
    };
    let emails = 500;
    let start = Instant::now();
    let mut sent = 0;
    while sent < emails {
        sent += outbox.drain_once().await.unwrap();
    }
    let elapsed = start.elapsed();
    println!(
        "{label:<10} {sent} emails to .eml by one worker: {:.2} s, {:.0} emails/s",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects a
    // quick run, so only measure when asked to.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    run("sqlite", url, dir.path()).await;

    match std::env::var("TESSERA_TEST_POSTGRES_URL") {
        Ok(base) => {
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            let name = format!("tessera_bench_{}", std::process::id());
            sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await
                .unwrap();
            let (head, _) = base.rsplit_once('/').unwrap();
            let pg_dir = tempfile::tempdir().unwrap();
            run("postgres", format!("{head}/{name}"), pg_dir.path()).await;
            sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        Err(_) => eprintln!("postgres   skipped: TESSERA_TEST_POSTGRES_URL is not set"),
    }
}
