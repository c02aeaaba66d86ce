//! The server's judgement of recorded scans: the later of two same-day admissions is the
//! conflict, whatever order the devices upload in.

use chrono::Duration;
use tessera_core::{Decision, EntryPolicy, Reason, Recorded, reconcile};

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
    };
    let second = Recorded {
        ticket: &t,
        at: at + Duration::minutes(5),
        gate: &b,
        device: "Tablet-2",
        device_admitted: true,
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
        },
        Recorded {
            ticket: &t,
            at: at + Duration::minutes(1),
            gate: &g,
            device: "T1",
            device_admitted: false,
        },
        Recorded {
            ticket: &t,
            at: at + Duration::days(1),
            gate: &g,
            device: "T1",
            device_admitted: true,
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
