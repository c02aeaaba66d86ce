//! The server's judgement of uploaded check-ins: every recorded scan of one ticket, from
//! every device, judged in time order with the same [`decide`] the devices ran — each scan
//! against the admissions recorded before it.
//!
//! A device that decided offline saw only its own log; the server sees everyone's. Where
//! they differ, the device's admission stands (the person is inside) and is *flagged*: a
//! second admission of the same ticket on the same day is a conflict.

use chrono::{DateTime, Utc};

use crate::decide::{Decision, PriorScan, Reason, ReplicaFacts, TicketRecord, decide};
use crate::event::{Direction, EventConfig, Gate};
use crate::ticket::VerifiedTicket;

/// One scan of a ticket as a device recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The ticket as scanned (its revision may differ between scans).
    pub ticket: &'a VerifiedTicket,
    /// When (the device's clock).
    pub at: DateTime<Utc>,
    /// The gate, as the server knows it (zones, direction).
    pub gate: &'a Gate,
    /// The device's name.
    pub device: &'a str,
    /// Whether the device admitted.
    pub device_admitted: bool,
}

/// The server's verdict on one recorded scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// What `decide` says given every admission recorded before this scan.
    pub decision: Decision,
    /// The device admitted an entry that an earlier admission of the same day forbids.
    pub conflict: bool,
}

/// Judges `scans` (one ticket id's, any order) in time order; results come back in input order.
/// Ties in time keep input order, so a batch uploaded in `seq` order judges stably.
pub fn reconcile(
    record: Option<&TicketRecord>,
    event: &EventConfig,
    scans: &[Recorded<'_>],
) -> Vec<Judgement> {
    let mut order: Vec<usize> = (0..scans.len()).collect();
    order.sort_by_key(|&i| scans.get(i).map(|s| s.at));
    let mut history: Vec<PriorScan> = Vec::with_capacity(scans.len());
    let mut out: Vec<Option<Judgement>> = vec![None; scans.len()];
    for i in order {
        let Some(scan) = scans.get(i) else { continue };
        let facts = ReplicaFacts {
            event,
            ticket: record,
            history: &history,
        };
        let decision = decide(scan.ticket, &facts, scan.gate, scan.at);
        let conflict = scan.device_admitted
            && scan.gate.direction == Direction::Entry
            && matches!(decision, Decision::Reject(Reason::AlreadyAdmitted { .. }));
        history.push(PriorScan {
            at: scan.at,
            gate: scan.gate.name.clone(),
            device: scan.device.to_owned(),
            direction: scan.gate.direction,
            // What happened at the gate counts, not what the server would have done.
            admitted: scan.device_admitted,
        });
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(Judgement { decision, conflict });
        }
    }
    out.into_iter().flatten().collect()
}
