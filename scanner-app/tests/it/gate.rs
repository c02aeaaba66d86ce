//! The gate library: provision, scan, decide offline, record durably.

use chrono::Duration;
use tessera_core::{Claims, EventId, KeyId, TicketSigner};
use tessera_scanner::Scanner;

use crate::fixtures::*;

fn provisioned() -> (tempfile::TempDir, Scanner) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scanner::open(dir.path()).unwrap();
    s.provision(&bundle(10), Some("Tablet-3"), now()).unwrap();
    (dir, s)
}

#[test]
fn admits_then_refuses_the_second_scan_with_time_and_gate_of_the_first() {
    let (_dir, mut s) = provisioned();
    let t0 = now();
    let first = s.scan(&ticket(1), t0).unwrap();
    assert_eq!(first.verdict, "admit", "{first:?}");
    assert_eq!(first.reason, None);
    assert_eq!(first.ticket_id, Some(1));
    assert_eq!(first.ticket_type.as_deref(), Some("3-Day Pass"));
    assert_eq!(first.holder.as_deref(), Some("Guest 1"));
    assert_eq!(first.days.len(), 3);
    assert_eq!(first.basis, Some("replica"));
    assert_eq!(first.seq, 1);

    let second = s.scan(&ticket(1), t0 + Duration::minutes(3)).unwrap();
    assert_eq!(second.verdict, "reject");
    assert_eq!(second.reason, Some("already_admitted"));
    let entry = second.first_entry.unwrap();
    assert_eq!(entry.gate, "Main Gate");
    assert_eq!(entry.device, "Tablet-3");
    assert_eq!(entry.at.timestamp_millis(), t0.timestamp_millis());
    assert!(second.message.contains("Main Gate"), "{}", second.message);
    assert_eq!(second.seq, 2);
}

#[test]
fn each_bad_input_gets_its_reason_and_is_recorded() {
    let (_dir, mut s) = provisioned();
    let forger = TicketSigner::from_seed(KeyId(1), &[0x22; 32]);
    let unknown_key = TicketSigner::from_seed(KeyId(9), &[0x33; 32]);
    let mut tampered = ticket(4).into_bytes();
    tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
    let cases: Vec<(String, &str)> = vec![
        ("https://example.org/ticket/1".into(), "not_a_ticket"),
        ("WIFI:S:Festival;T:WPA;P:secret;;".into(), "not_a_ticket"),
        ("TS1:ABC".into(), "malformed"),
        ("TS9:ABC".into(), "malformed"),
        (
            String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x41]).into_owned(),
            "not_a_ticket",
        ),
        (String::from_utf8(tampered).unwrap(), "bad_signature"),
        (forger.sign(&claims(5)), "bad_signature"),
        (unknown_key.sign(&claims(5)), "unknown_key"),
        (
            signer().sign(&Claims {
                event: EventId(99),
                ..claims(5)
            }),
            "wrong_event",
        ),
        (ticket(2), "revoked"),
        (ticket(3), "revoked"),
    ];
    let n = cases.len();
    for (text, want) in cases {
        let r = s.scan(&text, now()).unwrap();
        assert_eq!(
            (r.verdict, r.reason),
            ("reject", Some(want)),
            "{text:?}: {}",
            r.message
        );
    }
    let counts = s.status(now()).unwrap().check_ins;
    assert_eq!(counts.total as usize, n);
    assert_eq!(counts.rejected as usize, n);
}

#[test]
fn a_ticket_unknown_to_the_replica_is_judged_on_its_signature_and_says_so() {
    let (_dir, mut s) = provisioned();
    let r = s.scan(&ticket(500), now()).unwrap();
    assert_eq!(r.verdict, "admit");
    assert_eq!(r.basis, Some("signature_only"));
    assert!(r.message.contains("signature only"));
    let again = s.scan(&ticket(500), now()).unwrap();
    assert_eq!(again.reason, Some("already_admitted"));
}

#[test]
fn the_vendor_gate_refuses_general_passes() {
    let (_dir, mut s) = provisioned();
    s.set_gate(Some("Vendor Gate"), None).unwrap();
    let r = s.scan(&ticket(1), now()).unwrap();
    assert_eq!(r.reason, Some("wrong_gate"));
    assert!(s.set_gate(Some("Backstage"), None).is_err());
}

#[test]
fn exits_let_people_back_in_only_under_a_reentry_policy() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scanner::open(dir.path()).unwrap();
    let mut b = bundle(5);
    b.event.policy = tessera_scanner::bundle::Policy::ReentryAfterExit;
    s.provision(&b, None, now()).unwrap();
    let t = now();
    assert_eq!(s.scan(&ticket(1), t).unwrap().verdict, "admit");
    assert_eq!(
        s.scan(&ticket(1), t + Duration::minutes(1)).unwrap().reason,
        Some("already_admitted")
    );
    s.set_gate(None, Some(tessera_core::Direction::Exit))
        .unwrap();
    assert_eq!(
        s.scan(&ticket(1), t + Duration::minutes(2))
            .unwrap()
            .verdict,
        "admit"
    );
    s.set_gate(None, Some(tessera_core::Direction::Entry))
        .unwrap();
    let back = s.scan(&ticket(1), t + Duration::minutes(3)).unwrap();
    assert_eq!(back.verdict, "admit");
    assert!(back.message.starts_with("Welcome back"));
}

#[test]
fn scanning_before_provisioning_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scanner::open(dir.path()).unwrap();
    let e = s.scan(&ticket(1), now()).unwrap_err();
    assert!(e.to_string().contains("provision"), "{e}");
}

#[test]
fn the_queue_survives_a_corrupt_replica() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = Scanner::open(dir.path()).unwrap();
        s.provision(&bundle(10), Some("Tablet-3"), now()).unwrap();
        for i in 1..=4 {
            s.scan(&ticket(i), now()).unwrap();
        }
    }
    for f in ["replica.db-wal", "replica.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    std::fs::write(
        dir.path().join("replica.db"),
        b"this is not a database, it was overwritten",
    )
    .unwrap();

    let mut s = Scanner::open(dir.path()).unwrap();
    let status = s.status(now()).unwrap();
    assert!(status.replica_rebuilt_from.is_some());
    assert_eq!(status.replica.tickets, 0, "the replica starts afresh");
    assert_eq!(status.check_ins.total, 4, "the queue is intact");
    // Until it is provisioned or synced again, the gate decides with the event and keys it
    // kept in device.db, and says so.
    assert_eq!(status.event.as_deref(), Some("Demo Festival"));
    assert_eq!(status.mode, Some("signature_only"));
    // Re-provisioned, the device still remembers whom it admitted.
    s.provision(&bundle(10), None, now()).unwrap();
    assert_eq!(s.status(now()).unwrap().mode, Some("replica"));
    assert_eq!(
        s.scan(&ticket(1), now()).unwrap().reason,
        Some("already_admitted")
    );
    assert_eq!(s.device().identity().unwrap().name, "Tablet-3");
}

#[test]
fn the_queue_is_append_only() {
    let (_dir, mut s) = provisioned();
    s.scan(&ticket(1), now()).unwrap();
    let conn = s.device().connection();
    assert!(conn.execute("DELETE FROM queue", []).is_err());
    assert!(
        conn.execute("UPDATE queue SET verdict = 'reject'", [])
            .is_err()
    );
    assert!(conn.execute("UPDATE queue SET acked_at_ms = 1", []).is_ok());
    assert_eq!(s.device().all().unwrap().len(), 1);
}

#[test]
fn a_bad_bundle_changes_nothing() {
    let (_dir, mut s) = provisioned();
    let mut b = bundle(3);
    b.keys[0].public_key = "zz".into();
    assert!(s.provision(&b, None, now()).is_err());
    let mut b = bundle(3);
    b.version = 2;
    assert!(s.provision(&b, None, now()).is_err());
    let mut b = bundle(3);
    b.event.timezone = "Mars/Olympus".into();
    assert!(s.provision(&b, None, now()).is_err());
    assert_eq!(s.status(now()).unwrap().replica.tickets, 10);
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Scanner::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("device.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let e = Scanner::open(dir.path()).err().unwrap();
    assert!(e.to_string().contains("update tessera-scan"), "{e}");
}
