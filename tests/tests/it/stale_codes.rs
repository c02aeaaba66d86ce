//! A stale code after a transfer: the old holder's code is used at a gate that has not
//! synced since the transfer. The gate admits it (right for what it knew); the server keeps
//! that admission, refuses it as `revoked` and flags it as a conflict of its own kind; every
//! gate learns of it; and the new holder's valid code is still admitted, at every gate and by
//! the server, with a warning naming where and when the old code was used.

use chrono::{DateTime, Utc};
use tessera_tests::{Db, Device, Server};

/// The demo festival's wall clock, as gate screens show it.
fn local_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&tessera_core::Tz::America__Los_Angeles)
        .format("%H:%M")
        .to_string()
}

fn a_transferred_code_used_at_a_stale_gate(db: &Db) {
    let server = Server::start(db);
    let tickets = server.buy(1);
    let (ticket_id, old_code) = (tickets[0].0, tickets[0].1.clone());

    // Doors open: both gates are current.
    let mut north = Device::enroll(&server, "Tablet-N", "North Gate");
    let mut main = Device::enroll(&server, "Tablet-M", "Main Gate");

    // The holder gives the ticket away. Main Gate syncs; North Gate's network is down.
    let new_code = server.transfer(ticket_id, &old_code, "Bob");
    main.sync().unwrap();
    let refused = main.scan(&old_code);
    assert_eq!(refused.reason, Some("revoked"), "{}", refused.message);

    // The old code is shown at North Gate, which cannot know.
    let stale = north.scan(&old_code);
    assert_eq!(stale.verdict, "admit", "{}", stale.message);

    // North's network is back: the server keeps the admission, refuses it, and flags it.
    north.sync().unwrap();
    let event = server.demo_event();
    let stored = server
        .block_on(server.state.store.event_check_ins(event))
        .unwrap();
    let at_north = stored.iter().find(|c| c.device_name == "Tablet-N").unwrap();
    assert!(at_north.admitted, "what happened at the gate is kept");
    assert!(!at_north.server_admitted);
    assert_eq!(at_north.server_reason.as_deref(), Some("revoked"));
    assert!(
        at_north.conflict,
        "someone got in on a dead code: {at_north:?}"
    );
    assert_eq!(at_north.conflict_kind.as_deref(), Some("superseded_code"));

    // The new holder arrives at Main Gate: admitted, with the warning.
    main.sync().unwrap();
    let welcome = main.scan(&new_code);
    assert_eq!(welcome.verdict, "admit", "{}", welcome.message);
    assert_eq!(welcome.reason, None);
    let warning = welcome.warning.as_ref().expect("a warning");
    assert_eq!(warning.code, "superseded_code_used");
    assert!(
        warning
            .message
            .contains("previous code of this ticket was used at North Gate"),
        "{}",
        warning.message
    );
    assert!(
        warning.message.contains(&local_time(stale.at)),
        "names the time: {}",
        warning.message
    );

    // The server agrees: the new holder's entry is admitted and no conflict.
    let pushed = main.sync().unwrap();
    assert_eq!((pushed.pushed, pushed.conflicts), (1, 0));
    let stored = server
        .block_on(server.state.store.event_check_ins(event))
        .unwrap();
    let admitted_new = stored
        .iter()
        .find(|c| c.device_name == "Tablet-M" && c.admitted)
        .unwrap();
    assert!(admitted_new.server_admitted, "{admitted_new:?}");
    assert!(!admitted_new.conflict);
    let at_north = stored.iter().find(|c| c.device_name == "Tablet-N").unwrap();
    assert!(at_north.conflict, "the stale admission stays flagged");

    // Every gate knows of the stale admission through the feed, by its kind; North, now
    // current, refuses the old code and still admits nobody twice on the new one.
    north.sync().unwrap();
    for gate in [&mut north, &mut main] {
        let status = gate.scanner.status(Utc::now()).unwrap();
        let kinds: Vec<_> = status
            .conflicts
            .iter()
            .map(|c| (c.ticket_id, c.gate.as_str(), c.kind.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            vec![(Some(ticket_id), "North Gate", Some("superseded_code"))]
        );
    }
    assert_eq!(north.scan(&old_code).reason, Some("revoked"));
    let again = north.scan(&new_code);
    assert_eq!(again.reason, Some("already_admitted"), "{}", again.message);
    assert_eq!(again.first_entry.unwrap().gate, "Main Gate");
    server.stop();
}

#[test]
fn a_transferred_code_used_at_a_stale_gate_on_sqlite() {
    a_transferred_code_used_at_a_stale_gate(&Db::sqlite());
}

#[test]
fn a_transferred_code_used_at_a_stale_gate_on_postgres() {
    if let Some(db) = Db::postgres() {
        a_transferred_code_used_at_a_stale_gate(&db);
    }
}
