//! The server's judgement of recorded scans: the later of two same-day admissions is the
//! conflict, whatever order the devices upload in.

use chrono::Duration;
use tessera_core::{ConflictKind, Decision, EntryPolicy, Reason, Recorded, reconcile};

use crate::fixtures::*;

#[test]
fn the_later_admission_is_the_conflict_in_any_upload_order() {
    let ev = event(EntryPolicy::OncePerDay);
    let t = ticket(&claims());
    let (a, b) = (gate("Gate A"), gate("Gate B"));
    let at = saturday_afternoon();
    let first = Recorded {
        ticket: &t,
        at,
        gate: &a,
        device: "Tablet-1",
        device_admitted: true,
        clock_error_ms: None,
    };
    let second = Recorded {
        ticket: &t,
        at: at + Duration::minutes(5),
        gate: &b,
        device: "Tablet-2",
        device_admitted: true,
        clock_error_ms: None,
    };
    for scans in [[first, second], [second, first]] {
        let judged = reconcile(None, &ev, &scans);
        let flags: Vec<bool> = judged.iter().map(|j| j.conflict).collect();
        let later = scans.iter().position(|s| s.device == "Tablet-2").unwrap();
        assert!(flags[later] && !flags[1 - later], "{flags:?}");
        let Decision::Reject(Reason::AlreadyAdmitted { entry, .. }) = &judged[later].decision
        else {
            panic!("{:?}", judged[later].decision)
        };
        assert_eq!(entry.gate, "Gate A");
    }
}

#[test]
fn a_device_reject_is_history_without_an_entry_and_no_conflict() {
    let ev = event(EntryPolicy::OncePerDay);
    let t = ticket(&claims());
    let g = gate("Gate A");
    let at = saturday_afternoon();
    let scans = [
        Recorded {
            ticket: &t,
            at,
            gate: &g,
            device: "T1",
            device_admitted: true,
            clock_error_ms: None,
        },
        Recorded {
            ticket: &t,
            at: at + Duration::minutes(1),
            gate: &g,
            device: "T1",
            device_admitted: false,
            clock_error_ms: None,
        },
        Recorded {
            ticket: &t,
            at: at + Duration::days(1),
            gate: &g,
            device: "T1",
            device_admitted: true,
            clock_error_ms: None,
        },
    ];
    let judged = reconcile(None, &ev, &scans);
    assert!(judged[0].decision.is_admit());
    assert_eq!(
        judged[1].decision.reason().map(Reason::code),
        Some("already_admitted")
    );
    assert!(
        !judged[1].conflict,
        "the device refused it: nothing to flag"
    );
    assert!(judged[2].decision.is_admit(), "a new day");
}

/// A gate that had not heard of the transfer admitted the old code: the server refuses it
/// (`revoked`) and flags it as its own kind of conflict; the new holder's entry later that
/// day is admitted, not a second entry.
#[test]
fn an_admission_with_a_superseded_code_is_its_own_conflict() {
    let ev = event(EntryPolicy::OncePerDay);
    let old = ticket(&claims());
    let new = ticket(&tessera_core::Claims {
        revision: tessera_core::Revision(1),
        ..claims()
    });
    let record = tessera_core::TicketRecord {
        revision: tessera_core::Revision(1),
        status: tessera_core::TicketStatus::Valid,
        superseded_by: Some(tessera_core::SupersedeCause::Transfer),
    };
    let (north, main) = (gate("North Gate"), gate("Main Gate"));
    let at = saturday_afternoon();
    let scans = [
        Recorded {
            ticket: &old,
            at,
            clock_error_ms: None,
            gate: &north,
            device: "Tablet-N",
            device_admitted: true,
        },
        Recorded {
            ticket: &new,
            at: at + Duration::hours(1),
            clock_error_ms: None,
            gate: &main,
            device: "Tablet-M",
            device_admitted: true,
        },
    ];
    let judged = reconcile(Some(&record), &ev, &scans);
    assert_eq!(
        judged[0].decision.reason().map(Reason::code),
        Some("revoked")
    );
    assert!(judged[0].conflict);
    assert_eq!(judged[0].kind, Some(ConflictKind::SupersededCode));
    let Decision::Admit(a) = &judged[1].decision else {
        panic!("{:?}", judged[1].decision)
    };
    assert_eq!(
        a.warning.as_ref().map(tessera_core::Warning::code),
        Some("superseded_code_used")
    );
    assert!(!judged[1].conflict);
    assert_eq!(judged[1].kind, None);
}

/// A gate a day ahead admitted a 3-day pass that a correct gate had admitted the same real
/// day: judged on the real time, it is a second entry; flagged for its clock.
#[test]
fn a_badly_skewed_admission_is_judged_on_the_real_time_and_flagged() {
    let ev = event(EntryPolicy::OncePerDay);
    let t = ticket(&claims());
    let (main, north) = (gate("Main Gate"), gate("North Gate"));
    let at = saturday_afternoon();
    let day_ms = 86_400_000;
    let scans = [
        Recorded {
            ticket: &t,
            at,
            clock_error_ms: Some(40),
            gate: &main,
            device: "Tablet-M",
            device_admitted: true,
        },
        Recorded {
            ticket: &t,
            at: at + Duration::minutes(5) + Duration::days(1),
            clock_error_ms: Some(day_ms),
            gate: &north,
            device: "Tablet-N",
            device_admitted: true,
        },
    ];
    let judged = reconcile(None, &ev, &scans);
    assert!(judged[0].decision.is_admit());
    assert!(!judged[0].conflict, "a clock 40 ms off is right");
    assert_eq!(
        judged[1].decision.reason().map(Reason::code),
        Some("already_admitted")
    );
    assert_eq!(judged[1].kind, Some(ConflictKind::ClockSkew));

    // Without the measured error, the two scans fall on different days: nothing to see.
    let blind = [
        scans[0],
        Recorded {
            clock_error_ms: None,
            ..scans[1]
        },
    ];
    assert!(reconcile(None, &ev, &blind).iter().all(|j| !j.conflict));
    assert_eq!(
        tessera_core::corrected(at, Some(-3 * 60_000)),
        at + Duration::minutes(3)
    );
    assert_eq!(
        tessera_core::corrected(at, Some(90_000)),
        at,
        "within two minutes"
    );
}
