//! The store conformance story, run on SQLite and on PostgreSQL.

use chrono::{NaiveDate, Utc};
use tessera_server::app::catalog;
use tessera_server::app::keys::{KeyError, Keys, MasterKey};
use tessera_server::app::orders::{self, OrderRequest};
use tessera_server::config::{Secret, Settings};
use tessera_server::store::{KeyState, NewEvent, NewTicketType, Payment, StoreError, TicketKind};

use crate::on_both_backends;
use crate::support::{MASTER_KEY, TestDb};

fn master(hex: &str) -> MasterKey {
    MasterKey::load(&Settings {
        master_key: Some(Secret::new(hex)),
        ..Settings::default()
    })
    .expect("master key")
}

fn event(name: &str) -> NewEvent {
    NewEvent {
        name: name.into(),
        venue: "Hall".into(),
        timezone: "Europe/Berlin".into(),
        days: catalog::consecutive_days(NaiveDate::from_ymd_opt(2026, 7, 1).expect("date"), 2),
        gates: vec![("North".into(), 1)],
        created_at: 1_782_864_000,
    }
}

fn pass(event_id: i64, name: &str, capacity: i64) -> NewTicketType {
    NewTicketType {
        event_id,
        name: name.into(),
        kind: TicketKind::Pass,
        price_cents: 1000,
        currency: "EUR".into(),
        capacity,
        days_mask: 0b11,
        zones: 1,
        transferable: true,
    }
}

async fn catalog_round_trip(db: &TestDb) {
    let store = db.store().await;
    let id = catalog::create_event(store.as_ref(), &event("Summer"))
        .await
        .expect("event");
    assert!(matches!(
        store.create_event(&event("Summer")).await,
        Err(StoreError::Conflict(_))
    ));
    let tt = catalog::create_ticket_type(store.as_ref(), &pass(id, "Weekend", 10))
        .await
        .expect("type");
    assert!(matches!(
        store.create_ticket_type(&pass(id, "Weekend", 5)).await,
        Err(StoreError::Conflict(_))
    ));
    let mut bad = pass(id, "Too many days", 1);
    bad.days_mask = 0b100;
    assert!(
        catalog::create_ticket_type(store.as_ref(), &bad)
            .await
            .is_err()
    );
    let events = store.events().await.expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].days.len(), 2);
    let types = store.ticket_types().await.expect("types");
    assert_eq!(types.len(), 1);
    assert_eq!((types[0].id, types[0].remaining()), (tt, 10));
    assert_eq!(store.gates().await.expect("gates").len(), 1);

    // Seeding the demo twice leaves one demo event with its six ticket types.
    let now = Utc::now();
    let demo = catalog::seed_demo(store.as_ref(), now).await.expect("seed");
    assert_eq!(
        catalog::seed_demo(store.as_ref(), now)
            .await
            .expect("seed again"),
        demo
    );
    let types = store.ticket_types().await.expect("types");
    let demo_types: Vec<_> = types.iter().filter(|t| t.event_id == demo).collect();
    assert_eq!(demo_types.len(), 6);
    let price = |n: &str| {
        demo_types
            .iter()
            .find(|t| t.name == n)
            .map(|t| t.price_cents)
    };
    assert_eq!(price("3-Day Pass"), Some(3500));
    assert_eq!(price("2-Day Pass"), Some(2500));
    assert_eq!(price("1-Day Pass"), Some(1500));
    assert_eq!(price("Bazaar Vendor Booth"), Some(50_000));
    assert_eq!(price("Food Truck Booth"), Some(80_000));
    assert_eq!(price("Food Booth"), Some(60_000));
    assert_eq!(store.events().await.expect("events").len(), 2);
}
on_both_backends!(
    catalog_round_trip_and_idempotent_demo_seed,
    catalog_round_trip
);

async fn orders_take_capacity_atomically(db: &TestDb) {
    let store = db.store().await;
    let m = master(MASTER_KEY);
    let keys = Keys::load_or_create(store.as_ref(), &m)
        .await
        .expect("keys");
    let event = catalog::create_event(store.as_ref(), &event("Cap"))
        .await
        .expect("event");
    let a = catalog::create_ticket_type(store.as_ref(), &pass(event, "A", 3))
        .await
        .expect("a");
    let b = catalog::create_ticket_type(store.as_ref(), &pass(event, "B", 1))
        .await
        .expect("b");
    let request = |items: Vec<(i64, i64)>| OrderRequest {
        email: "x@example.com".into(),
        name: "X".into(),
        items,
        idempotency: None,
        lang: tessera_server::domain::i18n::Lang::En,
    };
    let placed = orders::place(
        store.as_ref(),
        keys.signer(),
        &m,
        &request(vec![(a, 2), (b, 1)]),
        Payment::Demo,
        Utc::now(),
        20,
    )
    .await
    .expect("order");
    let order = store
        .order(placed.id)
        .await
        .expect("load")
        .expect("order exists");
    assert_eq!((order.status.as_str(), order.total_cents), ("paid", 3000));
    assert!(orders::token_matches(
        &placed.access_token,
        &order.token_hash
    ));
    assert!(!order.token_hash.is_empty() && order.token_hash != placed.access_token.as_bytes());
    let tickets = store.order_tickets(placed.id).await.expect("tickets");
    assert_eq!(tickets.len(), 3);
    for t in &tickets {
        tessera_core::verify(&t.qr_text, keys.keyring()).expect("ticket verifies");
    }
    assert_eq!(store.outbox_counts().await.expect("counts").pending, 1);

    // A for 2 more fits (1 left) only partly, and B is gone: refused, nothing changes.
    let err = orders::place(
        store.as_ref(),
        keys.signer(),
        &m,
        &request(vec![(a, 1), (b, 1)]),
        Payment::Demo,
        Utc::now(),
        20,
    )
    .await
    .expect_err("sold out");
    assert!(
        matches!(err, orders::OrderError::SoldOut { ticket_type, remaining: 0 } if ticket_type == b)
    );
    let types = store.ticket_types().await.expect("types");
    let sold = |id| types.iter().find(|t| t.id == id).map(|t| t.sold);
    assert_eq!((sold(a), sold(b)), (Some(2), Some(1)));
    assert_eq!(store.outbox_counts().await.expect("counts").pending, 1);

    assert!(store.void_ticket(tickets[0].id).await.expect("void"));
    assert!(!store.void_ticket(1).await.expect("void unknown"));
    let after = store.order_tickets(placed.id).await.expect("tickets");
    assert_eq!(after.iter().filter(|t| t.status == "void").count(), 1);
}
on_both_backends!(
    orders_take_capacity_atomically_and_issue_once,
    orders_take_capacity_atomically
);

async fn outbox_leases_and_retries(db: &TestDb) {
    let store = db.store().await;
    let m = master(MASTER_KEY);
    let keys = Keys::load_or_create(store.as_ref(), &m)
        .await
        .expect("keys");
    let event = catalog::create_event(store.as_ref(), &event("Mail"))
        .await
        .expect("event");
    let a = catalog::create_ticket_type(store.as_ref(), &pass(event, "A", 5))
        .await
        .expect("a");
    let now = Utc::now();
    orders::place(
        store.as_ref(),
        keys.signer(),
        &m,
        &OrderRequest {
            email: "x@example.com".into(),
            name: "X".into(),
            items: vec![(a, 1)],
            idempotency: None,
            lang: tessera_server::domain::i18n::Lang::En,
        },
        Payment::Demo,
        now,
        20,
    )
    .await
    .expect("order");
    let t = now.timestamp_millis();
    let claimed = store
        .claim_due_emails(t, t + 1000, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    // Leased: nobody else gets it, not even after it would otherwise be due.
    assert!(
        store
            .claim_due_emails(t + 10, t + 2000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // The lease runs out (the worker crashed): due again.
    let again = store
        .claim_due_emails(t + 1001, t + 3000, 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    store
        .mark_email_failed(again[0].id, again[0].attempts, t + 5000, "smtp down", false)
        .await
        .expect("fail");
    assert!(
        store
            .claim_due_emails(t + 4000, t + 6000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        store.next_email_due_ms().await.expect("due"),
        Some(t + 5000)
    );
    let third = store
        .claim_due_emails(t + 5000, t + 7000, 10)
        .await
        .expect("claim");
    assert_eq!(third.len(), 1);
    store
        .mark_email_sent(third[0].id, third[0].attempts, t / 1000)
        .await
        .expect("sent");
    assert!(
        store
            .claim_due_emails(t + 100_000, t + 200_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let counts = store.outbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.sent, counts.dead), (0, 1, 0));
}
on_both_backends!(outbox_leases_and_retries, outbox_leases_and_retries);

async fn keys_rotate_and_stay_sealed(db: &TestDb) {
    let store = db.store().await;
    let m = master(MASTER_KEY);
    let first = Keys::load_or_create(store.as_ref(), &m)
        .await
        .expect("keys");
    assert_eq!(first.signer().id().0, 1);
    let again = Keys::load_or_create(store.as_ref(), &m)
        .await
        .expect("keys");
    assert_eq!(again.signer().public_key(), first.signer().public_key());
    let rows = store.signing_keys().await.expect("rows");
    assert_eq!(rows.len(), 1);
    // The seed is not stored in clear.
    assert_ne!(rows[0].sealed_seed.len(), 32);

    assert_eq!(Keys::rotate(store.as_ref(), &m).await.expect("rotate"), 2);
    let rotated = Keys::load_or_create(store.as_ref(), &m)
        .await
        .expect("keys");
    assert_eq!(rotated.signer().id().0, 2);
    assert_eq!(rotated.keyring().len(), 2);
    let claims = tessera_core::Claims {
        event: tessera_core::EventId(1),
        ticket: tessera_core::TicketId(7),
        ticket_type: tessera_core::TicketTypeId(1),
        revision: tessera_core::Revision(0),
        days: tessera_core::DayMask(1),
        zones: tessera_core::ZoneMask::GENERAL,
        booth: None,
        issued_at: 1_800_000_000,
    };
    // A ticket signed by the old key still verifies against the new keyring.
    let old = first.signer().sign(&claims);
    tessera_core::verify(&old, rotated.keyring()).expect("old key still verifies");
    store
        .set_key_state(1, KeyState::Retired)
        .await
        .expect("retire");
    let retired = Keys::load_or_create(store.as_ref(), &m)
        .await
        .expect("keys");
    assert!(tessera_core::verify(&old, retired.keyring()).is_err());

    let wrong = master(&"17".repeat(32));
    assert!(matches!(
        Keys::load_or_create(store.as_ref(), &wrong).await,
        Err(KeyError::WrongMasterKey(_))
    ));
}
on_both_backends!(keys_rotate_and_stay_sealed, keys_rotate_and_stay_sealed);

/// Two processes on one database (the server and an admin subcommand): each runs
/// transactions that read a booth, then write it, at the same moment as the other. On SQLite
/// a deferred transaction that read first fails with `SQLITE_BUSY_SNAPSHOT` when the other
/// commits before its first write, and no busy timeout retries that; every one of these
/// must go through.
async fn two_processes_read_then_write_side_by_side(db: &TestDb) {
    let server = db.store().await;
    let admin = db.store().await;
    let event = catalog::create_event(server.as_ref(), &event("Fair"))
        .await
        .expect("event");
    let now = Utc::now().timestamp();
    let mut booths = Vec::new();
    for code in ["A-1", "B-1"] {
        booths.push(
            server
                .create_booth(event, code, None, now)
                .await
                .expect("booth")
                .id,
        );
    }
    let writers: Vec<_> = [server, admin]
        .into_iter()
        .zip(booths)
        .map(|(store, booth)| {
            tokio::spawn(async move {
                for round in 0..200 {
                    if let Err(e) = store.assign_booth(booth, None, now).await {
                        panic!("booth {booth}, round {round}: {e}");
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
}

on_both_backends!(
    two_processes_read_then_write_side_by_side,
    two_processes_read_then_write_side_by_side
);
