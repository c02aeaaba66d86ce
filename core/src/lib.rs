//! Tessera's core: the signed ticket format, its verification, and the gate decision.
//!
//! Pure by design: no IO, no clock, no randomness. Time comes in as a parameter and keys
//! come in as bytes, so the scanner (offline) and the server (judging uploads) run the same
//! code on the same facts and reach the same verdict. The sync protocol's wire types live
//! here too ([`sync`]), so both ends share one definition.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unwrap_used,
        clippy::expect_used
    )
)]
#![warn(missing_docs)]

pub mod base45;
pub mod codes;
mod decide;
mod event;
mod ids;
mod keys;
pub mod mesh;
mod reconcile;
pub mod sync;
mod ticket;
pub mod words;

pub use chrono_tz::Tz;
pub use decide::{
    Admission, Basis, Decision, PriorEntry, PriorScan, Reason, ReplicaFacts, Revocation,
    SupersedeCause, TicketRecord, TicketStatus, Warning, decide,
};
pub use event::{Direction, EntryPolicy, EventConfig, EventConfigError, Gate};
pub use ids::{BoothId, DayMask, EventId, KeyId, Revision, TicketId, TicketTypeId, ZoneMask};
pub use keys::{InvalidKey, KeyStatus, Keyring};
pub use reconcile::{
    CLOCK_TOLERANCE_MS, ConflictKind, Judgement, Recorded, badly_skewed, corrected, reconcile,
};
pub use ticket::{
    CLAIMS_LEN, Claims, FORMAT_VERSION, MalformedTicket, PREFIX, SIGNATURE_LEN, SIGNING_CONTEXT,
    TEXT_LEN, TICKET_LEN, TicketSigner, VerifiedTicket, VerifyError, verify,
};
