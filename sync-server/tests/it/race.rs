//! 200 concurrent buyers race for the last 50 tickets: exactly 50 sold, on SQLite (one
//! server) and on PostgreSQL (two server processes on one database).

use std::sync::Arc;

use tessera_server::app::catalog;
use tessera_server::store::{NewTicketType, Store, TicketKind};

use crate::support::{TestApp, TestDb, buy};

async fn last_fifty(store: &dyn Store) -> i64 {
    let event = store.events().await.unwrap()[0].id;
    catalog::create_ticket_type(
        store,
        &NewTicketType {
            event_id: event,
            name: "Last Fifty".into(),
            kind: TicketKind::Pass,
            price_cents: 3500,
            currency: "USD".into(),
            capacity: 50,
            days_mask: 0b111,
            zones: 1,
            transferable: true,
        },
    )
    .await
    .unwrap()
}

async fn race(bases: Vec<String>, ticket_type: i64) -> (usize, usize) {
    let http = reqwest::Client::new();
    let bases = Arc::new(bases);
    let buyers: Vec<_> = (0..200)
        .map(|i| {
            let http = http.clone();
            let bases = bases.clone();
            tokio::spawn(async move { buy(&http, &bases[i % bases.len()], ticket_type, 1).await.0 })
        })
        .collect();
    let mut created = 0;
    let mut sold_out = 0;
    for b in buyers {
        match b.await.unwrap() {
            201 => created += 1,
            409 => sold_out += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    (created, sold_out)
}

async fn assert_exactly_fifty(store: &dyn Store, ticket_type: i64) {
    let tt = store
        .ticket_types()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.id == ticket_type)
        .unwrap();
    assert_eq!((tt.sold, tt.remaining()), (50, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_200_buyers_for_the_last_50_tickets() {
    let db = TestDb::sqlite();
    let mut settings = db.settings();
    settings.email.worker = false;
    let app = TestApp::spawn(settings).await;
    let tt = last_fifty(app.state.store.as_ref()).await;
    let (created, sold_out) = race(vec![app.base.clone()], tt).await;
    assert_eq!((created, sold_out), (50, 150));
    assert_exactly_fifty(app.state.store.as_ref(), tt).await;
    assert_eq!(app.state.store.outbox_counts().await.unwrap().pending, 50);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_two_server_processes_200_buyers_for_the_last_50_tickets() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store().await;
    catalog::seed_demo(store.as_ref(), chrono::Utc::now())
        .await
        .unwrap();
    let tt = last_fifty(store.as_ref()).await;
    let env = [
        ("TESSERA_DATABASE_URL", db.url.clone()),
        ("TESSERA_EMAIL_WORKER", "false".to_owned()),
    ];
    let dir = db.dir.path().display().to_string();
    let one = crate::support::server_process(&["serve", "--data-dir", &dir], &env);
    let two = crate::support::server_process(&["serve", "--data-dir", &dir], &env);
    let (created, sold_out) = race(vec![one.base.clone(), two.base.clone()], tt).await;
    assert_eq!((created, sold_out), (50, 150));
    assert_exactly_fifty(store.as_ref(), tt).await;
    one.kill();
    two.kill();
    db.cleanup().await;
}
