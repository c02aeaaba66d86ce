//! Wrong clocks at the gate. North Gate's clock runs a day ahead; Main Gate's is right. Both
//! admit the same 3-Day Pass on the same real day while the network is down: the server must
//! flag it. North learned its offset from the server at enrollment, so it decides with the
//! server's time and says plainly that its clock is off; a third gate whose clock jumps a day
//! ahead after its last sync cannot know, so the server, measuring the skew when it uploads,
//! judges its admissions on the real time and flags them. An exit scan of a ticket that is
//! not inside is a warning, every time, not another exit.

use chrono::{DateTime, Duration, Utc};
use tessera_tests::{Db, Device, Server};

fn stored_for(server: &Server, ticket_id: u64) -> Vec<tessera_server::store::StoredCheckIn> {
    let event = server.demo_event();
    server
        .block_on(server.state.store.event_check_ins(event))
        .unwrap()
        .into_iter()
        .filter(|c| c.ticket_id == Some(i64::try_from(ticket_id).unwrap()))
        .collect()
}

/// Scans `minutes` after now on the device's clock (the guest arrives later).
fn scan_later(gate: &mut Device, text: &str, minutes: i64) -> tessera_scanner::ScanReport {
    let at = gate.scanner.clock().now() + Duration::minutes(minutes);
    gate.scanner.scan(text, at).unwrap()
}

fn close_to_now(at: DateTime<Utc>) -> bool {
    (at - Utc::now()).num_minutes().abs() < 5
}

fn a_gate_a_day_ahead(db: &Db) {
    let server = Server::start(db);
    let tickets = server.buy(3);
    let (pass_1, pass_2, never_in) = (&tickets[0], &tickets[1], &tickets[2]);

    let mut main = Device::enroll(&server, "Tablet-M", "Main Gate");
    let mut north = Device::enroll_with_clock(&server, "Tablet-N", "North Gate", Duration::days(1));
    let mut east = Device::enroll(&server, "Tablet-E", "Main Gate");

    // North knows its clock is a day ahead and says so; Main's is right and says nothing.
    let status = north.scanner.status(north.scanner.clock().now()).unwrap();
    assert!(status.clock.off, "{:?}", status.clock);
    let warning = status.clock.warning.as_deref().unwrap();
    assert!(warning.contains("ahead"), "{warning}");
    assert!(!main.scanner.status(Utc::now()).unwrap().clock.off);

    // The network is cut. East's clock is set a day ahead by mistake.
    let port = server.port();
    server.stop();
    east.set_clock_shift(Duration::days(1));

    // Main admits pass 1; minutes later North, which cannot know, admits it too — on the
    // server's time, not its own.
    let first = main.scan(&pass_1.1);
    assert_eq!(first.verdict, "admit", "{}", first.message);
    let second = scan_later(&mut north, &pass_1.1, 2);
    assert_eq!(second.verdict, "admit", "{}", second.message);
    assert!(close_to_now(second.at), "decided at {}", second.at);

    // East admits pass 2 on its wrong clock; minutes later Main admits it too.
    let skewed = east.scan(&pass_2.1);
    assert_eq!(skewed.verdict, "admit", "{}", skewed.message);
    let after = scan_later(&mut main, &pass_2.1, 3);
    assert_eq!(after.verdict, "admit", "{}", after.message);

    // A ticket that never came in is scanned at an exit, twice: a warning each time.
    main.scanner
        .set_gate(None, Some(tessera_core::Direction::Exit))
        .unwrap();
    for _ in 0..2 {
        let out = main.scan(&never_in.1);
        assert_eq!(out.verdict, "warning", "{}", out.message);
        assert_eq!(out.warning.as_ref().unwrap().code, "not_inside");
    }
    main.scanner
        .set_gate(None, Some(tessera_core::Direction::Entry))
        .unwrap();

    // The network is back; every gate syncs.
    let server = Server::start_on(db, port);
    main.sync().unwrap();
    north.sync().unwrap();
    east.sync().unwrap();
    main.sync().unwrap();

    // Pass 1: both admissions kept, North's (the later) flagged as a second entry.
    let stored = stored_for(&server, pass_1.0);
    assert_eq!(stored.len(), 2);
    let at_north = stored.iter().find(|c| c.device_name == "Tablet-N").unwrap();
    assert!(at_north.conflict, "{stored:?}");
    assert_eq!(at_north.conflict_kind.as_deref(), Some("double_entry"));
    assert!(
        stored.iter().all(|c| c.admitted),
        "both were admissions at the gate"
    );

    // Pass 2: East's admission, judged on the real time, came first; it is flagged for its
    // clock, and Main's, the second entry of the day, is flagged too.
    let stored = stored_for(&server, pass_2.0);
    assert_eq!(stored.len(), 2);
    let at_east = stored.iter().find(|c| c.device_name == "Tablet-E").unwrap();
    let at_main = stored.iter().find(|c| c.device_name == "Tablet-M").unwrap();
    assert!(at_east.conflict, "{at_east:?}");
    assert_eq!(at_east.conflict_kind.as_deref(), Some("clock_skew"));
    let error = at_east.clock_error_ms.unwrap();
    assert!((error - 86_400_000).abs() < 60_000, "{error}");
    assert!(at_main.conflict, "{at_main:?}");
    assert_eq!(at_main.conflict_kind.as_deref(), Some("double_entry"));

    // The exits were recorded: the server lets people out too, with no conflict.
    let exits = stored_for(&server, never_in.0);
    assert_eq!(exits.len(), 2);
    assert!(exits.iter().all(|c| c.server_admitted && !c.conflict));

    // East now knows its clock is off, says so, and decides on the server's time: pass 2
    // was used today.
    let status = east.scanner.status(east.scanner.clock().now()).unwrap();
    assert!(status.clock.off, "{:?}", status.clock);
    let again = east.scan(&pass_2.1);
    assert_eq!(again.reason, Some("already_admitted"), "{}", again.message);
    assert!(close_to_now(again.at), "decided at {}", again.at);

    // Every gate shows the three conflicts with their kinds.
    for gate in [&mut main, &mut north, &mut east] {
        gate.sync().unwrap();
        let status = gate.scanner.status(Utc::now()).unwrap();
        let mut kinds: Vec<_> = status
            .conflicts
            .iter()
            .map(|c| c.kind.clone().unwrap_or_default())
            .collect();
        kinds.sort();
        assert_eq!(kinds, ["clock_skew", "double_entry", "double_entry"]);
    }
    server.stop();
}

#[test]
fn a_gate_a_day_ahead_on_sqlite() {
    a_gate_a_day_ahead(&Db::sqlite());
}

#[test]
fn a_gate_a_day_ahead_on_postgres() {
    if let Some(db) = Db::postgres() {
        a_gate_a_day_ahead(&db);
    }
}
