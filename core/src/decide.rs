//! The gate decision: one pure function that the scanner runs offline and the server runs
//! on every uploaded check-in, so the two can never disagree.
//!
//! Rule order (the first rule that fails is the reason shown): malformed → unknown or retired
//! key → bad signature (those three are [`crate::verify`]'s) → wrong event → revoked → wrong
//! gate/zone → wrong day → already admitted → admit.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::event::{Direction, EntryPolicy, EventConfig, Gate};
use crate::ids::{DayMask, EventId, KeyId, Revision, ZoneMask};
use crate::ticket::{MalformedTicket, VerifiedTicket, VerifyError};

/// Where a ticket stands on the server, as last synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TicketStatus {
    /// Sold (or comped) and good.
    #[default]
    Valid,
    /// Paid back: the ticket is void.
    Refunded,
    /// The order was cancelled.
    Cancelled,
    /// Voided by an organizer.
    Voided,
    /// Blocked by an organizer (lost, suspected fraud); may be lifted.
    Blocked,
}

/// Why a newer revision replaced a ticket's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SupersedeCause {
    /// Given to another person.
    Transfer,
    /// Upgraded to another ticket type.
    Upgrade,
    /// Reissued (a lost or leaked code).
    #[default]
    Reissue,
}

/// What the replica knows about one ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketRecord {
    /// The current revision; codes with a lower revision are revoked.
    pub revision: Revision,
    /// Its status at that revision.
    pub status: TicketStatus,
    /// Why the current revision replaced the previous one, when it did.
    pub superseded_by: Option<SupersedeCause>,
}

/// One earlier scan of the same ticket, by any device, as the replica knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorScan {
    /// When it happened (the scanning device's clock).
    pub at: DateTime<Utc>,
    /// The gate's name.
    pub gate: String,
    /// The device's name.
    pub device: String,
    /// Entry or exit.
    pub direction: Direction,
    /// Whether that scan admitted (rejected scans are kept but do not count as entries).
    pub admitted: bool,
    /// The revision of the code scanned, when known. An admission made with a code older
    /// than the one being judged was someone else's (a transfer, an upgrade, a reissue): it
    /// does not count against the current holder, it is reported as a [`Warning`]. `None`
    /// (a record from before revisions were kept) counts as the current code.
    pub revision: Option<Revision>,
}

impl PriorScan {
    /// Whether this scan was made with a code older than `revision`.
    fn superseded_by(&self, revision: Revision) -> bool {
        self.revision.is_some_and(|r| r < revision)
    }
}

/// Everything the local replica contributes to one decision.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaFacts<'a> {
    /// The event this gate serves.
    pub event: &'a EventConfig,
    /// The ticket's record, or `None` when the replica has never heard of it (not synced
    /// yet, or a device in signature-only mode): the decision then rests on the signature
    /// and the check-in log alone, and says so.
    pub ticket: Option<&'a TicketRecord>,
    /// Earlier scans of this ticket by any device, in any order.
    pub history: &'a [PriorScan],
}

/// What the decision rested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Basis {
    /// The replica knows the ticket at this revision.
    Replica,
    /// The replica does not know this ticket (or this revision of it): the signature and
    /// the local check-in log were all there was.
    SignatureOnly,
}

/// A positive verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Entry or exit.
    pub direction: Direction,
    /// The event-local date of the scan.
    pub date: NaiveDate,
    /// Its index among the event's days (`None` for an exit outside the event's days).
    pub day: Option<usize>,
    /// Replica or signature only.
    pub basis: Basis,
    /// An entry after an exit on the same day (re-entry events).
    pub reentry: bool,
    /// Something staff should know; the verdict stands.
    pub warning: Option<Warning>,
}

/// What a gate tells staff beside a verdict that lets the person through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A superseded code of this ticket (before a transfer, an upgrade or a reissue) was
    /// used to get in: the person holding the current code is admitted all the same, and
    /// staff learn where and when the old code was used (the latest such use).
    SupersededCodeUsed {
        /// The admission made with the old code.
        entry: PriorEntry,
        /// Whether it was on another day than this scan (the screen then names the date).
        earlier_day: bool,
    },
    /// An exit scan of a ticket with no entry on record since its last exit (or none at
    /// all): the exit is recorded, but it is not a routine one — the person came in without
    /// a scan, or this code is a copy.
    NotInside {
        /// The last exit on record, if any.
        last_exit: Option<PriorEntry>,
    },
}

impl Warning {
    /// The stable snake_case code for scripts and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SupersededCodeUsed { .. } => "superseded_code_used",
            Self::NotInside { .. } => "not_inside",
        }
    }
}

/// The plain words a gate screen shows under the verdict.
impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SupersededCodeUsed { entry, earlier_day } => {
                let when = if *earlier_day {
                    entry.local.format("%A %-d %b %H:%M")
                } else {
                    entry.local.format("%H:%M")
                };
                write!(
                    f,
                    "Warning: the previous code of this ticket was used at {} {when} (device {})",
                    entry.gate, entry.device
                )
            }
            Self::NotInside { last_exit: None } => write!(
                f,
                "Warning: not inside — no entry on record for this ticket; exit recorded"
            ),
            Self::NotInside {
                last_exit: Some(exit),
            } => write!(
                f,
                "Warning: not inside — already went out at {} {} and no entry since; exit recorded",
                exit.gate,
                exit.local.format("%H:%M")
            ),
        }
    }
}

/// An earlier entry, with what staff need to judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorEntry {
    /// When, in UTC.
    pub at: DateTime<Utc>,
    /// When, on the event's wall clock.
    pub local: NaiveDateTime,
    /// At which gate.
    pub gate: String,
    /// By which device.
    pub device: String,
}

/// How a ticket was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Revocation {
    /// A newer revision exists: this code is dead.
    Superseded {
        /// The current revision.
        current: Revision,
        /// Why it was replaced, when known.
        cause: Option<SupersedeCause>,
    },
    /// The ticket's status is not valid.
    Status(TicketStatus),
}

/// Every reason a gate can refuse a ticket; each carries what staff need to act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Not a Tessera ticket at all.
    NotATicket,
    /// A Tessera ticket that cannot be read.
    Malformed(MalformedTicket),
    /// Signed with a key this device does not know.
    UnknownKey(KeyId),
    /// Signed with a retired key.
    RetiredKey(KeyId),
    /// Altered or forged.
    BadSignature,
    /// A genuine ticket for another event.
    WrongEvent {
        /// The ticket's event.
        ticket: EventId,
        /// The event this gate serves.
        gate: EventId,
    },
    /// Revoked (transferred, upgraded, refunded, cancelled, voided, blocked).
    Revoked(Revocation),
    /// Not valid at this gate's zones.
    WrongGate {
        /// The gate's name.
        gate: String,
        /// The ticket's zones.
        ticket_zones: ZoneMask,
        /// The gate's zones.
        gate_zones: ZoneMask,
    },
    /// Not valid today.
    WrongDay {
        /// Today on the event's wall clock.
        today: NaiveDate,
        /// Today's index among the event's days, if today is an event day.
        today_index: Option<usize>,
        /// The ticket's days.
        valid: DayMask,
        /// The dates those days fall on.
        valid_dates: Vec<NaiveDate>,
    },
    /// Already in: once-per-day events report the day's first entry; re-entry events report
    /// the last entry, with no exit scanned since.
    AlreadyAdmitted {
        /// The entry that blocks this one.
        entry: PriorEntry,
        /// The policy that applied.
        policy: EntryPolicy,
    },
}

impl Reason {
    /// The stable snake_case code for scripts and logs (see DESIGN.md's contract).
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotATicket => "not_a_ticket",
            Self::Malformed(_) => "malformed",
            Self::UnknownKey(_) => "unknown_key",
            Self::RetiredKey(_) => "retired_key",
            Self::BadSignature => "bad_signature",
            Self::WrongEvent { .. } => "wrong_event",
            Self::Revoked(_) => "revoked",
            Self::WrongGate { .. } => "wrong_gate",
            Self::WrongDay { .. } => "wrong_day",
            Self::AlreadyAdmitted { .. } => "already_admitted",
        }
    }
}

impl From<VerifyError> for Reason {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::NotATicket => Self::NotATicket,
            VerifyError::Malformed(m) => Self::Malformed(m),
            VerifyError::UnknownKey(k) => Self::UnknownKey(k),
            VerifyError::RetiredKey(k) => Self::RetiredKey(k),
            VerifyError::BadSignature => Self::BadSignature,
        }
    }
}

fn weekday_list(dates: &[NaiveDate]) -> String {
    let names: Vec<String> = dates
        .iter()
        .map(|d| d.format("%A %-d %b").to_string())
        .collect();
    names.join(", ")
}

/// The plain words a gate screen shows.
impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotATicket => write!(f, "Not a ticket: this code is not a Tessera ticket"),
            Self::Malformed(m) => write!(f, "Damaged ticket: {m}"),
            Self::UnknownKey(k) => write!(
                f,
                "Unknown signing key {k}: forged, or this device needs to sync"
            ),
            Self::RetiredKey(k) => write!(f, "Signed with retired key {k}: no longer accepted"),
            Self::BadSignature => {
                write!(f, "Forged or altered ticket: the signature does not match")
            }
            Self::WrongEvent { ticket, .. } => {
                write!(
                    f,
                    "Not a ticket of this event (ticket is for event {ticket})"
                )
            }
            Self::Revoked(Revocation::Superseded { cause, .. }) => match cause {
                Some(SupersedeCause::Transfer) => {
                    write!(f, "Ticket was transferred: this code is no longer valid")
                }
                Some(SupersedeCause::Upgrade) => {
                    write!(f, "Ticket was upgraded: ask for the new code")
                }
                Some(SupersedeCause::Reissue) | None => {
                    write!(f, "Ticket was reissued: this code is no longer valid")
                }
            },
            Self::Revoked(Revocation::Status(status)) => {
                let what = match status {
                    TicketStatus::Refunded => "refunded",
                    TicketStatus::Cancelled => "cancelled",
                    TicketStatus::Voided => "voided by the organizer",
                    TicketStatus::Blocked => "blocked by the organizer",
                    TicketStatus::Valid => "revoked",
                };
                write!(f, "Ticket was {what}")
            }
            Self::WrongGate { gate, .. } => write!(f, "Not valid at {gate}: send to another gate"),
            Self::WrongDay {
                today,
                today_index,
                valid_dates,
                ..
            } => {
                let valid = weekday_list(valid_dates);
                let today = today.format("%A %-d %b");
                match today_index {
                    Some(_) => write!(f, "Valid {valid} only — today is {today}"),
                    None => write!(f, "Valid {valid} — today ({today}) is not an event day"),
                }
            }
            Self::AlreadyAdmitted { entry, policy } => {
                let at = entry.local.format("%H:%M");
                match policy {
                    EntryPolicy::OncePerDay => write!(
                        f,
                        "Already used today at {} {at} (device {})",
                        entry.gate, entry.device
                    ),
                    EntryPolicy::ReentryAfterExit => write!(
                        f,
                        "Already inside: entered at {} {at} (device {}), no exit scanned since",
                        entry.gate, entry.device
                    ),
                }
            }
        }
    }
}

/// A verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the person through (in or out).
    Admit(Admission),
    /// Stop them, and say why.
    Reject(Reason),
}

impl Decision {
    /// Whether the verdict admits.
    pub fn is_admit(&self) -> bool {
        matches!(self, Self::Admit(_))
    }

    /// The reject reason, if any.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Admit(_) => None,
            Self::Reject(r) => Some(r),
        }
    }
}

/// Decides whether a verified ticket passes this gate now.
///
/// Pure and cheap (no allocation on the admit path unless there is a warning to give): the device calls it for every scan,
/// the server for every uploaded check-in, with the same facts giving the same verdict.
pub fn decide(
    ticket: &VerifiedTicket,
    facts: &ReplicaFacts<'_>,
    gate: &Gate,
    now: DateTime<Utc>,
) -> Decision {
    let claims = ticket.claims();
    let event = facts.event;

    if claims.event != event.id() {
        return Decision::Reject(Reason::WrongEvent {
            ticket: claims.event,
            gate: event.id(),
        });
    }

    let basis = match facts.ticket {
        Some(record) if record.revision > claims.revision => {
            return Decision::Reject(Reason::Revoked(Revocation::Superseded {
                current: record.revision,
                cause: record.superseded_by,
            }));
        }
        // A newer revision than the replica knows: the replica is stale, and its status
        // describes an older code, so the signature is all we can go on.
        Some(record) if record.revision < claims.revision => Basis::SignatureOnly,
        Some(record) if record.status != TicketStatus::Valid => {
            return Decision::Reject(Reason::Revoked(Revocation::Status(record.status)));
        }
        Some(_) => Basis::Replica,
        None => Basis::SignatureOnly,
    };

    let date = event.local_date(now);
    let day = event.day_index(date);

    if gate.direction == Direction::Exit {
        // Anyone with a genuine, unrevoked ticket may leave, whatever the day or zone; the
        // exit is recorded so a re-entry event knows they are outside. Someone who is not
        // inside by the log (no entry since the last exit) is let out with a warning, so a
        // copied code or an unscanned entry is noticed rather than waved through again.
        // On equal times an exit counts as later, as for re-entry below.
        let last = facts
            .history
            .iter()
            .filter(|s| s.admitted && !s.superseded_by(claims.revision))
            .max_by_key(|s| (s.at, s.direction == Direction::Exit));
        let warning = match last {
            Some(s) if s.direction == Direction::Entry => None,
            Some(exit) => Some(Warning::NotInside {
                last_exit: Some(prior_entry(exit, event)),
            }),
            None => Some(Warning::NotInside { last_exit: None }),
        };
        return Decision::Admit(Admission {
            direction: Direction::Exit,
            date,
            day,
            basis,
            reentry: false,
            warning,
        });
    }

    if !claims.zones.intersects(gate.zones) {
        return Decision::Reject(Reason::WrongGate {
            gate: gate.name.clone(),
            ticket_zones: claims.zones,
            gate_zones: gate.zones,
        });
    }

    let Some(day_index) = day.filter(|&d| claims.days.contains(d)) else {
        return Decision::Reject(Reason::WrongDay {
            today: date,
            today_index: day,
            valid: claims.days,
            valid_dates: event.dates_of(claims.days),
        });
    };

    // Admissions made with a superseded code were someone else's: they never count against
    // the current code; the latest is reported.
    let today = facts.history.iter().filter(|s| {
        s.admitted && !s.superseded_by(claims.revision) && event.local_date(s.at) == date
    });
    let entered_before = match event.policy() {
        EntryPolicy::OncePerDay => {
            let first = today
                .filter(|s| s.direction == Direction::Entry)
                .min_by_key(|s| s.at);
            if let Some(first) = first {
                return Decision::Reject(already(first, event));
            }
            false
        }
        EntryPolicy::ReentryAfterExit => {
            // The latest movement decides; on equal times an exit counts as later, so a
            // device whose clock put both in one second does not lock the person out.
            let mut entered = false;
            let last = today
                .inspect(|s| entered |= s.direction == Direction::Entry)
                .max_by_key(|s| (s.at, s.direction == Direction::Exit));
            if let Some(last) = last.filter(|s| s.direction == Direction::Entry) {
                return Decision::Reject(already(last, event));
            }
            entered
        }
    };

    let warning = facts
        .history
        .iter()
        .filter(|s| {
            s.admitted && s.direction == Direction::Entry && s.superseded_by(claims.revision)
        })
        .max_by_key(|s| s.at)
        .map(|s| Warning::SupersededCodeUsed {
            entry: prior_entry(s, event),
            earlier_day: event.local_date(s.at) != date,
        });

    Decision::Admit(Admission {
        direction: Direction::Entry,
        date,
        day: Some(day_index),
        basis,
        reentry: entered_before,
        warning,
    })
}

fn prior_entry(scan: &PriorScan, event: &EventConfig) -> PriorEntry {
    PriorEntry {
        at: scan.at,
        local: scan.at.with_timezone(&event.timezone()).naive_local(),
        gate: scan.gate.clone(),
        device: scan.device.clone(),
    }
}

fn already(scan: &PriorScan, event: &EventConfig) -> Reason {
    Reason::AlreadyAdmitted {
        entry: prior_entry(scan, event),
        policy: event.policy(),
    }
}
