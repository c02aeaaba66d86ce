//! Throughput of the gate's hot path: `verify` alone, `decide` alone, and the two together.
//!
//! Run with `cargo bench -p tessera-core --bench verify_decide`; figures go to
//! `docs/benchmarks.md`. The ratio that matters is (verify + decide) / verify, target ≥ 0.8:
//! the decision must stay cheap next to one Ed25519 verification.

#![allow(clippy::unwrap_used)] // Bench set-up: a failure there is a broken bench.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use divan::{Bencher, black_box};
use tessera_core::{
    Claims, DayMask, Direction, EntryPolicy, EventConfig, EventId, Gate, KeyId, KeyStatus, Keyring,
    PriorScan, ReplicaFacts, Revision, TicketId, TicketRecord, TicketSigner, TicketStatus,
    TicketTypeId, Tz, ZoneMask, decide, verify,
};

fn main() {
    divan::main();
}

struct Setup {
    text: String,
    ring: Keyring,
    event: EventConfig,
    gate: Gate,
    record: TicketRecord,
    history: Vec<PriorScan>,
    now: DateTime<Utc>,
}

fn setup() -> Setup {
    // A keyring with a rotated key, as a real device has after a season.
    let old = TicketSigner::from_seed(KeyId(1), &[1; 32]);
    let signer = TicketSigner::from_seed(KeyId(2), &[2; 32]);
    let mut ring = Keyring::new();
    ring.insert(old.id(), &old.public_key(), KeyStatus::Active)
        .unwrap();
    ring.insert(signer.id(), &signer.public_key(), KeyStatus::Active)
        .unwrap();
    let claims = Claims {
        event: EventId(1),
        ticket: TicketId(123_456),
        ticket_type: TicketTypeId(1),
        revision: Revision(1),
        days: DayMask(0b111),
        zones: ZoneMask::GENERAL,
        booth: None,
        issued_at: 1_790_000_000,
    };
    let day = |d| NaiveDate::from_ymd_opt(2026, 7, d).unwrap();
    let event = EventConfig::new(
        EventId(1),
        Tz::America__Los_Angeles,
        vec![day(10), day(11), day(12)],
        EntryPolicy::ReentryAfterExit,
    )
    .unwrap();
    let at = |d, h| Utc.with_ymd_and_hms(2026, 7, d, h, 0, 0).unwrap();
    // The ticket was used on the first two days and went in and out once today: the
    // decision has to walk a realistic history and admit the re-entry.
    let scan = |t, direction| PriorScan {
        at: t,
        gate: "Gate B".into(),
        device: "Tablet-3".into(),
        direction,
        admitted: true,
        revision: None,
    };
    let history = vec![
        scan(at(10, 20), Direction::Entry),
        scan(at(11, 19), Direction::Entry),
        scan(at(12, 18), Direction::Entry),
        scan(at(12, 21), Direction::Exit),
    ];
    Setup {
        text: signer.sign(&claims),
        ring,
        event,
        gate: Gate {
            name: "Gate A".into(),
            zones: ZoneMask::GENERAL,
            direction: Direction::Entry,
        },
        record: TicketRecord {
            revision: Revision(1),
            status: TicketStatus::Valid,
            superseded_by: None,
        },
        history,
        now: at(12, 23),
    }
}

#[divan::bench]
fn verify_alone(b: Bencher<'_, '_>) {
    let s = setup();
    b.bench(|| verify(black_box(&s.text), &s.ring).is_ok());
}

#[divan::bench]
fn decide_alone(b: Bencher<'_, '_>) {
    let s = setup();
    let ticket = verify(&s.text, &s.ring).unwrap();
    let facts = ReplicaFacts {
        event: &s.event,
        ticket: Some(&s.record),
        history: &s.history,
    };
    b.bench(|| decide(black_box(&ticket), &facts, &s.gate, black_box(s.now)).is_admit());
}

#[divan::bench]
fn verify_then_decide(b: Bencher<'_, '_>) {
    let s = setup();
    let facts = ReplicaFacts {
        event: &s.event,
        ticket: Some(&s.record),
        history: &s.history,
    };
    b.bench(|| {
        let ticket = verify(black_box(&s.text), &s.ring).unwrap();
        let d = decide(&ticket, &facts, &s.gate, black_box(s.now));
        assert!(d.is_admit());
    });
}
