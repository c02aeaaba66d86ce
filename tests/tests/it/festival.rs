//! The festival story: two gates enroll and sync, the network goes, both admit the same
//! ticket, the network comes back, the server keeps both admissions and flags the later one,
//! both gates learn of the conflict, and a voided ticket is refused after the next sync.

use tessera_tests::{Db, Device, Server};

fn festival(db: &Db) {
    let server = Server::start(db);
    let tickets = server.buy(2);
    let (ticket_1, ticket_2) = (&tickets[0], &tickets[1]);

    // Doors open: two gates enroll and pull the replica.
    let mut gate_a = Device::enroll(&server, "Tablet-A", "Main Gate");
    let mut gate_b = Device::enroll(&server, "Tablet-B", "North Gate");
    for gate in [&mut gate_a, &mut gate_b] {
        let status = gate.scanner.status(chrono::Utc::now()).unwrap();
        assert_eq!(status.replica.tickets, 2, "both tickets replicated");
        assert_eq!(
            status.sync.head,
            status.cursor.as_deref().and_then(|c| c.parse().ok())
        );
    }

    // The network is cut.
    let port = server.port();
    server.stop();

    // Gate B's guest arrives two minutes after gate A's, with a copy of the same code.
    let t0 = chrono::Utc::now();
    let a = gate_a.scanner.scan(&ticket_1.1, t0).unwrap();
    assert_eq!(a.verdict, "admit", "{}", a.message);
    assert_eq!(a.basis, Some("replica"));
    let b = gate_b
        .scanner
        .scan(&ticket_1.1, t0 + chrono::Duration::minutes(2))
        .unwrap();
    assert_eq!(b.verdict, "admit", "gate B cannot know: {}", b.message);

    // Syncing fails, says so, and loses nothing.
    for gate in [&mut gate_a, &mut gate_b] {
        let err = gate.sync().unwrap_err();
        assert!(err.is_retryable(), "{err}");
        let status = gate.scanner.status(chrono::Utc::now()).unwrap();
        assert!(status.sync.last_error.is_some());
        assert_eq!(status.check_ins.unsent, 1);
    }

    // The network is back.
    let server = Server::start_on(db, port);
    let pushed_a = gate_a.sync().unwrap();
    assert_eq!((pushed_a.pushed, pushed_a.conflicts), (1, 0));
    let pushed_b = gate_b.sync().unwrap();
    assert_eq!(
        (pushed_b.pushed, pushed_b.conflicts),
        (1, 1),
        "B's admission is the later one"
    );
    gate_a.sync().unwrap();

    // The server kept both and flagged B's.
    let event = server.demo_event();
    let stored = server
        .block_on(server.state.store.event_check_ins(event))
        .unwrap();
    assert_eq!(stored.len(), 2);
    let flagged: Vec<_> = stored
        .iter()
        .filter(|c| c.conflict)
        .map(|c| c.device_name.as_str())
        .collect();
    assert_eq!(flagged, vec!["Tablet-B"]);
    assert!(
        stored.iter().all(|c| c.admitted),
        "both were admissions at the gate"
    );

    // Both devices show the conflict, with both gates.
    for gate in [&mut gate_a, &mut gate_b] {
        let status = gate.scanner.status(chrono::Utc::now()).unwrap();
        assert_eq!(status.conflicts.len(), 1, "{:?}", status.conflicts);
        let c = &status.conflicts[0];
        assert_eq!(c.ticket_id, Some(ticket_1.0));
        assert_eq!(
            (c.gate.as_str(), c.device.as_str()),
            ("North Gate", "Tablet-B")
        );
        assert_eq!(c.first_gate.as_deref(), Some("Main Gate"));
        assert_eq!(c.first_device.as_deref(), Some("Tablet-A"));
        assert_eq!(status.check_ins.unsent, 0);
    }

    // A third scan anywhere is refused, naming the first admission.
    for gate in [&mut gate_a, &mut gate_b] {
        let third = gate.scan(&ticket_1.1);
        assert_eq!(third.reason, Some("already_admitted"), "{}", third.message);
    }
    let third_b = gate_b.scan(&ticket_1.1);
    let first = third_b.first_entry.unwrap();
    assert_eq!(
        first.device, "Tablet-A",
        "the earliest admission, learned through sync"
    );

    // The organizer voids ticket 2; after the next sync both gates refuse it.
    let voided = server
        .block_on(
            server
                .state
                .store
                .void_ticket(i64::try_from(ticket_2.0).unwrap()),
        )
        .unwrap();
    assert!(voided);
    for gate in [&mut gate_a, &mut gate_b] {
        gate.sync().unwrap();
        let r = gate.scan(&ticket_2.1);
        assert_eq!(r.reason, Some("revoked"), "{}", r.message);
    }
    server.stop();
}

#[test]
fn festival_on_sqlite() {
    festival(&Db::sqlite());
}

#[test]
fn festival_on_postgres() {
    if let Some(db) = Db::postgres() {
        festival(&db);
    }
}

/// The organizer revokes a lost tablet: its next sync is refused, it forgets every holder
/// name, keeps (and still uses) its check-ins, and a new code brings it back.
#[test]
fn a_revoked_device_wipes_names_and_keeps_its_check_ins() {
    let db = Db::sqlite();
    let server = Server::start(&db);
    let tickets = server.buy(2);
    let mut gate = Device::enroll(&server, "Lost-Tablet", "Main Gate");
    let first = gate.scan(&tickets[0].1);
    assert_eq!(first.holder.as_deref(), Some("Guest"));

    let device_id = gate.scanner.device().identity().unwrap().device_id.clone();
    assert!(
        server
            .block_on(server.state.store.revoke_device(&device_id, 0))
            .unwrap()
    );
    let err = gate.sync().unwrap_err();
    assert!(
        matches!(err, tessera_scanner::sync::SyncError::Revoked(_)),
        "{err}"
    );
    assert!(!err.is_retryable());

    let status = gate.scanner.status(chrono::Utc::now()).unwrap();
    assert!(status.sync.revoked);
    assert_eq!(status.check_ins.total, 1, "the queue is kept");
    assert_eq!(status.check_ins.unsent, 1);
    let second = gate.scan(&tickets[1].1);
    assert_eq!(second.verdict, "admit");
    assert_eq!(second.holder, None, "names are wiped");
    assert_eq!(gate.scan(&tickets[0].1).reason, Some("already_admitted"));

    // Enrolled again with a new code, it keeps its id and uploads what it queued.
    let code = server.device_code("Found-Tablet", "Main Gate");
    tessera_scanner::sync::enroll(&mut gate.scanner, &server.url, &code, "test").unwrap();
    let report = gate.sync().unwrap();
    assert_eq!(report.pushed, 3);
    assert_eq!(
        gate.scanner.device().identity().unwrap().device_id,
        device_id
    );
    let back = gate.scan(&tickets[1].1);
    assert_eq!(
        back.holder.as_deref(),
        Some("Guest"),
        "a full pull restored the names"
    );
    server.stop();
}
