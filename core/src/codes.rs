//! The words core's enums are stored and sent as (the sync protocol's `status`, `policy`,
//! `direction`...), parsed and written in one place for every end.

use crate::{Basis, Direction, EntryPolicy, SupersedeCause, TicketStatus};

/// A stored status word (`valid`, `refunded`, ...).
pub fn parse_status(s: &str) -> Option<TicketStatus> {
    Some(match s {
        "valid" => TicketStatus::Valid,
        "refunded" => TicketStatus::Refunded,
        "cancelled" => TicketStatus::Cancelled,
        "voided" => TicketStatus::Voided,
        "blocked" => TicketStatus::Blocked,
        _ => return None,
    })
}

/// A stored cause word (`transfer`, `upgrade`, `reissue`).
pub fn parse_cause(s: &str) -> Option<SupersedeCause> {
    Some(match s {
        "transfer" => SupersedeCause::Transfer,
        "upgrade" => SupersedeCause::Upgrade,
        "reissue" => SupersedeCause::Reissue,
        _ => return None,
    })
}

/// The inverse of [`Direction::as_str`].
pub fn parse_direction(s: &str) -> Option<Direction> {
    Some(match s {
        "entry" => Direction::Entry,
        "exit" => Direction::Exit,
        _ => return None,
    })
}

/// `replica` or `signature_only`.
pub fn basis_str(b: Basis) -> &'static str {
    match b {
        Basis::Replica => "replica",
        Basis::SignatureOnly => "signature_only",
    }
}

/// Stored policy name.
pub fn policy_str(p: EntryPolicy) -> &'static str {
    match p {
        EntryPolicy::OncePerDay => "once_per_day",
        EntryPolicy::ReentryAfterExit => "reentry_after_exit",
    }
}

/// The inverse of [`policy_str`].
pub fn parse_policy(s: &str) -> Option<EntryPolicy> {
    Some(match s {
        "once_per_day" => EntryPolicy::OncePerDay,
        "reentry_after_exit" => EntryPolicy::ReentryAfterExit,
        _ => return None,
    })
}
