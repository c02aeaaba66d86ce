//! The decision table: every rule of the gate, in order, and the clock edges (midnight in the
//! event's timezone, the end of daylight saving time).

use std::num::NonZeroU16;

use chrono::{Duration, Timelike};
use tessera_core::{
    Basis, BoothId, Claims, DayMask, Decision, Direction, EntryPolicy, EventId, KeyId, KeyStatus,
    Keyring, Reason, ReplicaFacts, Revision, Revocation, SupersedeCause, TicketRecord,
    TicketStatus, ZoneMask, decide, verify,
};

use crate::fixtures::*;

fn facts<'a>(
    event: &'a tessera_core::EventConfig,
    ticket: Option<&'a TicketRecord>,
    history: &'a [tessera_core::PriorScan],
) -> ReplicaFacts<'a> {
    ReplicaFacts {
        event,
        ticket,
        history,
    }
}

/// A table row: name, claims, replica record, history, expected code.
type Row<'a> = (
    &'a str,
    Claims,
    Option<&'a TicketRecord>,
    &'a [tessera_core::PriorScan],
    &'a str,
);

const VALID: TicketRecord = TicketRecord {
    revision: Revision(0),
    status: TicketStatus::Valid,
    superseded_by: None,
};

fn code(d: &Decision) -> &'static str {
    d.reason().map_or("admit", Reason::code)
}

#[test]
fn admits_a_valid_ticket_on_a_valid_day() {
    let ev = event(EntryPolicy::OncePerDay);
    let d = decide(
        &ticket(&claims()),
        &facts(&ev, Some(&VALID), &[]),
        &gate("Gate A"),
        saturday_afternoon(),
    );
    let Decision::Admit(a) = d else {
        panic!("expected admit, got {d:?}")
    };
    assert_eq!(a.day, Some(0));
    assert_eq!(a.date, date(2026, 10, 31));
    assert_eq!(a.basis, Basis::Replica);
    assert_eq!(a.direction, Direction::Entry);
    assert!(!a.reentry);
}

/// One row per rule: the claims, the replica record, the gate, the history, the expected code.
#[test]
fn each_rule_rejects_with_its_own_reason() {
    let ev = event(EntryPolicy::OncePerDay);
    let now = saturday_afternoon();
    let earlier = now - Duration::hours(2);
    let other_event = Claims {
        event: EventId(8),
        ..claims()
    };
    let sunday_only = Claims {
        days: DayMask(0b010),
        ..claims()
    };
    let vendor_zone_only = Claims {
        zones: ZoneMask(0b10),
        ..claims()
    };
    let superseded = TicketRecord {
        revision: Revision(1),
        status: TicketStatus::Valid,
        superseded_by: Some(SupersedeCause::Transfer),
    };
    let refunded = TicketRecord {
        status: TicketStatus::Refunded,
        ..VALID
    };
    let blocked = TicketRecord {
        status: TicketStatus::Blocked,
        ..VALID
    };
    let entered = [scan(earlier, "Gate B", "Tablet-3", Direction::Entry)];
    let rejected_earlier = [tessera_core::PriorScan {
        admitted: false,
        ..scan(earlier, "Gate B", "Tablet-3", Direction::Entry)
    }];

    let rows: Vec<Row<'_>> = vec![
        ("valid", claims(), Some(&VALID), &[], "admit"),
        ("other event", other_event, Some(&VALID), &[], "wrong_event"),
        (
            "superseded revision",
            claims(),
            Some(&superseded),
            &[],
            "revoked",
        ),
        ("refunded", claims(), Some(&refunded), &[], "revoked"),
        ("blocked", claims(), Some(&blocked), &[], "revoked"),
        (
            "vendor zone at GA gate",
            vendor_zone_only,
            Some(&VALID),
            &[],
            "wrong_gate",
        ),
        (
            "sunday pass on saturday",
            sunday_only,
            Some(&VALID),
            &[],
            "wrong_day",
        ),
        (
            "second entry",
            claims(),
            Some(&VALID),
            &entered,
            "already_admitted",
        ),
        (
            "earlier scan was rejected",
            claims(),
            Some(&VALID),
            &rejected_earlier,
            "admit",
        ),
        ("unknown to replica", claims(), None, &[], "admit"),
        (
            "unknown to replica, seen before",
            claims(),
            None,
            &entered,
            "already_admitted",
        ),
    ];
    for (name, c, record, history, want) in rows {
        let d = decide(
            &ticket(&c),
            &facts(&ev, record, history),
            &gate("Gate A"),
            now,
        );
        assert_eq!(code(&d), want, "{name}: {d:?}");
    }
}

#[test]
fn rule_order_wrong_event_beats_revoked_beats_gate_beats_day_beats_already() {
    let ev = event(EntryPolicy::OncePerDay);
    let now = saturday_afternoon();
    let entered = [scan(
        now - Duration::hours(1),
        "Gate B",
        "T",
        Direction::Entry,
    )];
    let refunded = TicketRecord {
        status: TicketStatus::Refunded,
        ..VALID
    };
    let everything_wrong = Claims {
        days: DayMask(0b100),
        zones: ZoneMask(0b10),
        ..claims()
    };
    let check = |c: &Claims, record: Option<&TicketRecord>| {
        code(&decide(
            &ticket(c),
            &facts(&ev, record, &entered),
            &gate("A"),
            now,
        ))
    };
    assert_eq!(
        check(
            &Claims {
                event: EventId(9),
                ..everything_wrong
            },
            Some(&refunded)
        ),
        "wrong_event"
    );
    assert_eq!(check(&everything_wrong, Some(&refunded)), "revoked");
    assert_eq!(check(&everything_wrong, Some(&VALID)), "wrong_gate");
    let ga = Claims {
        zones: ZoneMask::GENERAL,
        ..everything_wrong
    };
    assert_eq!(check(&ga, Some(&VALID)), "wrong_day");
    assert_eq!(check(&claims(), Some(&VALID)), "already_admitted");
}

#[test]
fn verify_errors_come_first_and_map_to_reasons() {
    let good = signer().sign(&claims());
    let mut ring = keyring();
    assert!(verify(&good, &ring).is_ok());

    let forged = tessera_core::TicketSigner::from_seed(KeyId(1), &[8; 32]).sign(&claims());
    let r: Reason = verify(&forged, &ring).unwrap_err().into();
    assert_eq!(r.code(), "bad_signature");

    let r: Reason = verify(&good, &Keyring::new()).unwrap_err().into();
    assert_eq!(r, Reason::UnknownKey(KeyId(1)));

    assert!(ring.retire(KeyId(1)));
    let r: Reason = verify(&good, &ring).unwrap_err().into();
    assert_eq!(r, Reason::RetiredKey(KeyId(1)));

    let r: Reason = verify("https://tessera.example/t/1", &ring)
        .unwrap_err()
        .into();
    assert_eq!(r.code(), "not_a_ticket");
    let r: Reason = verify("TS1:%%%", &ring).unwrap_err().into();
    assert_eq!(r.code(), "malformed");
}

#[test]
fn rotation_keeps_old_tickets_valid_until_the_old_key_is_retired() {
    let old = signer();
    let new = tessera_core::TicketSigner::from_seed(KeyId(2), &[9; 32]);
    let mut ring = Keyring::new();
    ring.insert(old.id(), &old.public_key(), KeyStatus::Active)
        .unwrap();
    ring.insert(new.id(), &new.public_key(), KeyStatus::Active)
        .unwrap();
    let old_text = old.sign(&claims());
    let new_text = new.sign(&claims());
    assert_eq!(verify(&old_text, &ring).unwrap().key(), KeyId(1));
    assert_eq!(verify(&new_text, &ring).unwrap().key(), KeyId(2));
    ring.retire(KeyId(1));
    assert!(verify(&old_text, &ring).is_err());
    assert!(verify(&new_text, &ring).is_ok());
}

#[test]
fn already_admitted_names_the_first_entry_in_local_time() {
    let ev = event(EntryPolicy::OncePerDay);
    let first = utc(2026, 10, 31, 21, 2, 0); // 14:02 PDT
    let second = utc(2026, 10, 31, 22, 30, 0);
    let history = [
        scan(second, "Gate C", "Laptop-1", Direction::Entry),
        scan(first, "Gate B", "Tablet-3", Direction::Entry),
    ];
    let d = decide(
        &ticket(&claims()),
        &facts(&ev, Some(&VALID), &history),
        &gate("Gate A"),
        utc(2026, 10, 31, 23, 0, 0),
    );
    let Decision::Reject(reason @ Reason::AlreadyAdmitted { entry, .. }) = &d else {
        panic!("expected already admitted, got {d:?}")
    };
    assert_eq!(entry.gate, "Gate B");
    assert_eq!(entry.device, "Tablet-3");
    assert_eq!(entry.local.hour(), 14);
    assert_eq!(entry.local.minute(), 2);
    assert_eq!(
        reason.to_string(),
        "Already used today at Gate B 14:02 (device Tablet-3)"
    );
}

#[test]
fn an_entry_yesterday_does_not_block_today() {
    let ev = event(EntryPolicy::OncePerDay);
    let history = [scan(saturday_afternoon(), "Gate B", "T", Direction::Entry)];
    let sunday = saturday_afternoon() + Duration::days(1);
    let d = decide(
        &ticket(&claims()),
        &facts(&ev, Some(&VALID), &history),
        &gate("A"),
        sunday,
    );
    assert_eq!(code(&d), "admit");
}

#[test]
fn midnight_is_event_local() {
    let ev = event(EntryPolicy::OncePerDay);
    let saturday_only = Claims {
        days: DayMask(0b001),
        ..claims()
    };
    let t = ticket(&saturday_only);
    let f = facts(&ev, Some(&VALID), &[]);
    // 23:59:59 PDT on Saturday is already Sunday in UTC: still Saturday at the gate.
    let last_second = utc(2026, 11, 1, 6, 59, 59);
    assert_eq!(code(&decide(&t, &f, &gate("A"), last_second)), "admit");
    // One second later it is Sunday in Los Angeles.
    let d = decide(&t, &f, &gate("A"), last_second + Duration::seconds(1));
    let Decision::Reject(
        reason @ Reason::WrongDay {
            today, today_index, ..
        },
    ) = &d
    else {
        panic!("expected wrong day, got {d:?}")
    };
    assert_eq!(*today, date(2026, 11, 1));
    assert_eq!(*today_index, Some(1));
    assert_eq!(
        reason.to_string(),
        "Valid Saturday 31 Oct only — today is Sunday 1 Nov"
    );
}

#[test]
fn days_follow_the_wall_clock_across_the_end_of_daylight_saving_time() {
    let ev = event(EntryPolicy::OncePerDay);
    let sunday_only = ticket(&Claims {
        days: DayMask(0b010),
        ..claims()
    });
    let f = facts(&ev, Some(&VALID), &[]);
    // 01:30 happens twice on Sunday 1 November: at 08:30 UTC (PDT) and 09:30 UTC (PST).
    for at in [utc(2026, 11, 1, 8, 30, 0), utc(2026, 11, 1, 9, 30, 0)] {
        assert_eq!(
            code(&decide(&sunday_only, &f, &gate("A"), at)),
            "admit",
            "{at}"
        );
    }
    // Sunday is 25 hours long: 23:30 PST Sunday is 07:30 UTC Monday, which a fixed
    // UTC−7 offset would wrongly call Monday 00:30.
    let late_sunday = utc(2026, 11, 2, 7, 30, 0);
    assert_eq!(
        code(&decide(&sunday_only, &f, &gate("A"), late_sunday)),
        "admit"
    );
    // And 08:00 UTC Monday is Monday 00:00 PST.
    let monday = utc(2026, 11, 2, 8, 0, 0);
    assert_eq!(
        code(&decide(&sunday_only, &f, &gate("A"), monday)),
        "wrong_day"
    );

    // A Saturday entry at 23:30 PDT does not block Sunday 00:30 PDT, an hour later.
    let history = [scan(utc(2026, 11, 1, 6, 30, 0), "B", "T", Direction::Entry)];
    let both = ticket(&claims());
    let f = facts(&ev, Some(&VALID), &history);
    assert_eq!(
        code(&decide(&both, &f, &gate("A"), utc(2026, 11, 1, 7, 30, 0))),
        "admit"
    );
}

#[test]
fn outside_the_event_days_is_wrong_day_with_no_index() {
    let ev = event(EntryPolicy::OncePerDay);
    let friday = utc(2026, 10, 30, 20, 0, 0);
    let d = decide(
        &ticket(&claims()),
        &facts(&ev, Some(&VALID), &[]),
        &gate("A"),
        friday,
    );
    let Some(Reason::WrongDay {
        today_index: None,
        valid_dates,
        ..
    }) = d.reason()
    else {
        panic!("expected wrong day, got {d:?}")
    };
    assert_eq!(valid_dates.len(), 3);
    assert!(
        d.reason()
            .unwrap()
            .to_string()
            .contains("is not an event day")
    );
}

#[test]
fn reentry_after_exit_when_the_event_allows_it() {
    let ev = event(EntryPolicy::ReentryAfterExit);
    let t = ticket(&claims());
    let now = saturday_afternoon();
    let h = |m: i64| now - Duration::minutes(m);

    let inside = [scan(h(60), "Gate B", "Tablet-3", Direction::Entry)];
    let d = decide(&t, &facts(&ev, Some(&VALID), &inside), &gate("A"), now);
    let Some(reason @ Reason::AlreadyAdmitted { policy, .. }) = d.reason() else {
        panic!("expected already admitted, got {d:?}")
    };
    assert_eq!(*policy, EntryPolicy::ReentryAfterExit);
    assert!(reason.to_string().starts_with("Already inside"));

    // Histories arrive from many devices in any order.
    let went_out = [
        scan(h(30), "Gate B", "Tablet-3", Direction::Exit),
        scan(h(60), "Gate B", "Tablet-3", Direction::Entry),
    ];
    let d = decide(&t, &facts(&ev, Some(&VALID), &went_out), &gate("A"), now);
    let Decision::Admit(a) = d else {
        panic!("expected re-entry, got {d:?}")
    };
    assert!(a.reentry);

    let back_in = [
        scan(h(60), "Gate B", "Tablet-3", Direction::Entry),
        scan(h(20), "Gate C", "Laptop-1", Direction::Entry),
        scan(h(30), "Gate B", "Tablet-3", Direction::Exit),
    ];
    let d = decide(&t, &facts(&ev, Some(&VALID), &back_in), &gate("A"), now);
    let Some(Reason::AlreadyAdmitted { entry, .. }) = d.reason() else {
        panic!("expected already inside, got {d:?}")
    };
    assert_eq!(entry.gate, "Gate C", "the latest entry is the one reported");

    // Under the default policy an exit does not open the door again.
    let once = event(EntryPolicy::OncePerDay);
    let d = decide(&t, &facts(&once, Some(&VALID), &went_out), &gate("A"), now);
    assert_eq!(code(&d), "already_admitted");
}

#[test]
fn exits_ignore_day_and_zone_but_not_event_or_revocation() {
    let ev = event(EntryPolicy::ReentryAfterExit);
    let after_the_festival = utc(2026, 11, 3, 9, 0, 0);
    let vendor = Claims {
        zones: ZoneMask(0b10),
        ..claims()
    };
    let d = decide(
        &ticket(&vendor),
        &facts(&ev, Some(&VALID), &[]),
        &exit_gate("Out"),
        after_the_festival,
    );
    let Decision::Admit(a) = d else {
        panic!("expected exit, got {d:?}")
    };
    assert_eq!(a.direction, Direction::Exit);
    assert_eq!(a.day, None);

    let refunded = TicketRecord {
        status: TicketStatus::Refunded,
        ..VALID
    };
    let now = saturday_afternoon();
    assert_eq!(
        code(&decide(
            &ticket(&claims()),
            &facts(&ev, Some(&refunded), &[]),
            &exit_gate("Out"),
            now
        )),
        "revoked"
    );
    let other = Claims {
        event: EventId(1),
        ..claims()
    };
    assert_eq!(
        code(&decide(
            &ticket(&other),
            &facts(&ev, Some(&VALID), &[]),
            &exit_gate("Out"),
            now
        )),
        "wrong_event"
    );
}

#[test]
fn revocation_by_revision_names_the_cause() {
    let ev = event(EntryPolicy::OncePerDay);
    let now = saturday_afternoon();
    for (cause, words) in [
        (Some(SupersedeCause::Transfer), "transferred"),
        (Some(SupersedeCause::Upgrade), "upgraded"),
        (None, "reissued"),
    ] {
        let record = TicketRecord {
            revision: Revision(3),
            status: TicketStatus::Valid,
            superseded_by: cause,
        };
        let d = decide(
            &ticket(&claims()),
            &facts(&ev, Some(&record), &[]),
            &gate("A"),
            now,
        );
        assert_eq!(
            d.reason(),
            Some(&Reason::Revoked(Revocation::Superseded {
                current: Revision(3),
                cause
            }))
        );
        assert!(d.reason().unwrap().to_string().contains(words));
    }
}

#[test]
fn a_newer_revision_than_the_replica_knows_is_judged_on_its_signature() {
    let ev = event(EntryPolicy::OncePerDay);
    let refunded_rev0 = TicketRecord {
        status: TicketStatus::Refunded,
        ..VALID
    };
    let upgraded = Claims {
        revision: Revision(1),
        ..claims()
    };
    let d = decide(
        &ticket(&upgraded),
        &facts(&ev, Some(&refunded_rev0), &[]),
        &gate("A"),
        saturday_afternoon(),
    );
    let Decision::Admit(a) = d else {
        panic!("expected admit, got {d:?}")
    };
    assert_eq!(a.basis, Basis::SignatureOnly);
}

#[test]
fn booth_passes_enter_through_the_vendor_gate() {
    let ev = event(EntryPolicy::OncePerDay);
    let booth_pass = Claims {
        zones: ZoneMask(0b11),
        booth: NonZeroU16::new(4).map(BoothId),
        ..claims()
    };
    let vendor_gate = tessera_core::Gate {
        zones: ZoneMask(0b10),
        ..gate("Vendor entrance")
    };
    let now = saturday_afternoon();
    let f = facts(&ev, Some(&VALID), &[]);
    assert_eq!(
        code(&decide(&ticket(&booth_pass), &f, &vendor_gate, now)),
        "admit"
    );
    let d = decide(&ticket(&claims()), &f, &vendor_gate, now);
    assert_eq!(code(&d), "wrong_gate");
    assert_eq!(
        d.reason().unwrap().to_string(),
        "Not valid at Vendor entrance: send to another gate"
    );
}

/// The old code of a transferred ticket got someone in (at a gate that had not heard of the
/// transfer); the new holder's code is admitted all the same, with a warning naming where
/// and when the old code was used.
#[test]
fn an_admission_with_a_superseded_code_does_not_count_against_the_current_holder() {
    let ev = event(EntryPolicy::OncePerDay);
    let now = saturday_afternoon();
    let transferred = TicketRecord {
        revision: Revision(1),
        status: TicketStatus::Valid,
        superseded_by: Some(SupersedeCause::Transfer),
    };
    let new_code = Claims {
        revision: Revision(1),
        ..claims()
    };
    let stale_use = tessera_core::PriorScan {
        revision: Some(Revision(0)),
        ..scan(
            now - Duration::minutes(50),
            "North Gate",
            "Tablet-N",
            Direction::Entry,
        )
    };
    let d = decide(
        &ticket(&new_code),
        &facts(&ev, Some(&transferred), std::slice::from_ref(&stale_use)),
        &gate("Main Gate"),
        now,
    );
    let Decision::Admit(a) = &d else {
        panic!("the new holder is admitted: {d:?}")
    };
    let warning = a.warning.as_ref().expect("a warning");
    assert_eq!(warning.code(), "superseded_code_used");
    assert_eq!(
        warning.to_string(),
        "Warning: the previous code of this ticket was used at North Gate 13:10 (device Tablet-N)"
    );

    // The old code itself stays revoked, and an entry with the current code still blocks.
    let old = decide(
        &ticket(&claims()),
        &facts(&ev, Some(&transferred), &[]),
        &gate("Main Gate"),
        now,
    );
    assert_eq!(code(&old), "revoked");
    let current_use = tessera_core::PriorScan {
        revision: Some(Revision(1)),
        ..scan(
            now - Duration::minutes(5),
            "Main Gate",
            "Tablet-M",
            Direction::Entry,
        )
    };
    let twice = decide(
        &ticket(&new_code),
        &facts(&ev, Some(&transferred), &[stale_use.clone(), current_use]),
        &gate("Main Gate"),
        now,
    );
    assert_eq!(code(&twice), "already_admitted");
    let Some(Reason::AlreadyAdmitted { entry, .. }) = twice.reason() else {
        panic!("{twice:?}")
    };
    assert_eq!(
        entry.gate, "Main Gate",
        "the holder's own entry, not the stale one"
    );

    // Used the day before: the warning names the date.
    let yesterday = tessera_core::PriorScan {
        at: stale_use.at - Duration::days(1),
        ..stale_use
    };
    let next_day = decide(
        &ticket(&new_code),
        &facts(&ev, Some(&transferred), &[yesterday]),
        &gate("Main Gate"),
        now,
    );
    let Decision::Admit(a) = next_day else {
        panic!("{next_day:?}")
    };
    assert!(
        a.warning
            .unwrap()
            .to_string()
            .contains("Friday 30 Oct 13:10"),
        "names the day"
    );
}

/// An exit scan of a ticket that is not inside by the log lets the person out, with a
/// warning: every time, not as a routine exit.
#[test]
fn an_exit_of_a_ticket_not_inside_is_a_warning() {
    let ev = event(EntryPolicy::OncePerDay);
    let now = saturday_afternoon();
    let t = ticket(&claims());
    let out = exit_gate("Out");
    let warning = |history: &[tessera_core::PriorScan]| {
        let d = decide(&t, &facts(&ev, Some(&VALID), history), &out, now);
        let Decision::Admit(a) = d else {
            panic!("exits are let through: {d:?}")
        };
        assert_eq!(a.direction, Direction::Exit);
        a.warning
    };
    let never_in = warning(&[]).expect("not inside");
    assert_eq!(never_in.code(), "not_inside");
    assert!(never_in.to_string().contains("no entry on record"));

    let entered = scan(now - Duration::hours(2), "Gate A", "T1", Direction::Entry);
    assert_eq!(
        warning(std::slice::from_ref(&entered)),
        None,
        "inside: a routine exit"
    );

    let went_out = scan(now - Duration::hours(1), "Out", "T2", Direction::Exit);
    let again = warning(&[entered.clone(), went_out]).expect("already out");
    assert!(
        again.to_string().contains("already went out at Out 13:00"),
        "{again}"
    );

    // Same second: the exit counts as later, as for re-entry.
    let same = scan(entered.at, "Out", "T2", Direction::Exit);
    assert!(warning(&[entered, same]).is_some());
}
