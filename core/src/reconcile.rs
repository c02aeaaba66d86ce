//! The server's judgement of uploaded check-ins: every recorded scan of one ticket, from
//! every device, judged in time order with the same [`decide`] the devices ran — each scan
//! against the admissions recorded before it.
//!
//! A device that decided offline saw only its own log; the server sees everyone's. Where
//! they differ, the device's admission stands (the person is inside) and is *flagged* as a
//! conflict of one [`ConflictKind`]: a second admission of the same ticket on the same day;
//! an admission with a superseded code (the gate had not heard of the transfer, upgrade or
//! reissue); an admission by a device whose clock was more than [`CLOCK_TOLERANCE_MS`] off.
//!
//! Times here are the real times of the scans as best known: a recorded time with its
//! device's measured clock error taken off ([`corrected`]), so that a gate a day ahead is
//! judged on the day it really scanned.

use chrono::{DateTime, TimeDelta, Utc};

use crate::decide::{Decision, PriorScan, Reason, ReplicaFacts, Revocation, TicketRecord, decide};
use crate::event::{Direction, EventConfig, Gate};
use crate::ticket::VerifiedTicket;

/// How far a device's clock may be from the server's, in milliseconds, and still be taken
/// as right: within it, neither the gate nor the server corrects a recorded time or flags
/// it, and the gate says nothing about its clock. Beyond it the gate says plainly that its
/// clock is off, and the server judges its scans on the corrected time and flags its
/// admissions ([`ConflictKind::ClockSkew`]).
///
/// Two minutes: far above what a sync measures of a sound clock (half a round trip, plus a
/// batch's upload time), far below what moves a scan across an event day.
pub const CLOCK_TOLERANCE_MS: i64 = 120_000;

/// Whether a clock `error_ms` off (its time minus the real time) is badly skewed.
pub fn badly_skewed(error_ms: i64) -> bool {
    error_ms.unsigned_abs() > CLOCK_TOLERANCE_MS.unsigned_abs()
}

/// The real time of a scan recorded at `at` by a clock `error_ms` off, when that clock was
/// badly skewed; within the tolerance the recorded time stands as it is.
pub fn corrected(at: DateTime<Utc>, error_ms: Option<i64>) -> DateTime<Utc> {
    match error_ms {
        Some(e) if badly_skewed(e) => at - TimeDelta::milliseconds(e),
        _ => at,
    }
}

/// Why the server flags an admission that a gate made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConflictKind {
    /// A second admission of the same ticket (the same code) on the same day.
    DoubleEntry,
    /// An admission with a code that a newer revision had replaced: the gate had not heard
    /// of the transfer, upgrade or reissue. It does not count against the current holder.
    SupersededCode,
    /// An admission by a device whose clock was more than [`CLOCK_TOLERANCE_MS`] off: it
    /// judged the day rules and earlier entries on the wrong time.
    ClockSkew,
}

impl ConflictKind {
    /// The stable snake_case code: `double_entry`, `superseded_code`, `clock_skew`.
    pub fn code(self) -> &'static str {
        match self {
            Self::DoubleEntry => "double_entry",
            Self::SupersededCode => "superseded_code",
            Self::ClockSkew => "clock_skew",
        }
    }

    /// The kind of a stable code.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "double_entry" => Some(Self::DoubleEntry),
            "superseded_code" => Some(Self::SupersededCode),
            "clock_skew" => Some(Self::ClockSkew),
            _ => None,
        }
    }
}

/// One scan of a ticket as a device recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Recorded<'a> {
    /// The ticket as scanned (its revision may differ between scans).
    pub ticket: &'a VerifiedTicket,
    /// When, as the device recorded it (its clock, corrected by what it knew).
    pub at: DateTime<Utc>,
    /// How far the device's clock was off when it recorded the scan (its time minus the
    /// real time, in milliseconds), when measured.
    pub clock_error_ms: Option<i64>,
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
    /// The device admitted an entry that the server flags: `kind` says why.
    pub conflict: bool,
    /// Why it is flagged, when it is.
    pub kind: Option<ConflictKind>,
}

/// Why the server flags a scan, if it does. A superseded code comes first (someone got in
/// on a dead code), then a bad clock (which explains a second entry it let through), then a
/// second entry.
fn conflict_kind(scan: &Recorded<'_>, decision: &Decision) -> Option<ConflictKind> {
    if !scan.device_admitted || scan.gate.direction != Direction::Entry {
        return None;
    }
    match decision {
        Decision::Reject(Reason::Revoked(Revocation::Superseded { .. })) => {
            Some(ConflictKind::SupersededCode)
        }
        _ if scan.clock_error_ms.is_some_and(badly_skewed) => Some(ConflictKind::ClockSkew),
        Decision::Reject(Reason::AlreadyAdmitted { .. }) => Some(ConflictKind::DoubleEntry),
        _ => None,
    }
}

/// Judges `scans` (one ticket id's, any order) in time order, each at its real time
/// ([`corrected`]); results come back in input order. Ties in time keep input order, so a
/// batch uploaded in `seq` order judges stably.
pub fn reconcile(
    record: Option<&TicketRecord>,
    event: &EventConfig,
    scans: &[Recorded<'_>],
) -> Vec<Judgement> {
    let real = |s: &Recorded<'_>| corrected(s.at, s.clock_error_ms);
    let mut order: Vec<usize> = (0..scans.len()).collect();
    order.sort_by_key(|&i| scans.get(i).map(real));
    let mut history: Vec<PriorScan> = Vec::with_capacity(scans.len());
    let mut out: Vec<Option<Judgement>> = vec![None; scans.len()];
    for i in order {
        let Some(scan) = scans.get(i) else { continue };
        let at = real(scan);
        let facts = ReplicaFacts {
            event,
            ticket: record,
            history: &history,
        };
        let decision = decide(scan.ticket, &facts, scan.gate, at);
        let kind = conflict_kind(scan, &decision);
        history.push(PriorScan {
            at,
            gate: scan.gate.name.clone(),
            device: scan.device.to_owned(),
            direction: scan.gate.direction,
            // What happened at the gate counts, not what the server would have done.
            admitted: scan.device_admitted,
            revision: Some(scan.ticket.claims().revision),
        });
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(Judgement {
                decision,
                conflict: kind.is_some(),
                kind,
            });
        }
    }
    out.into_iter().flatten().collect()
}
