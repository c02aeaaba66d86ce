//! The replica bundle: one JSON document with everything a gate needs to decide offline
//! (event, gates, ticket types, public keys, tickets). Loaded with `tessera-scan provision`;
//! the sync protocol delivers the same facts incrementally.
//!
//! A wire type: it carries its format name and version, and a shipped version is never
//! changed, only succeeded.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The `format` field every bundle carries.
pub const FORMAT: &str = "tessera-replica-bundle";
/// The only version this software reads and writes.
pub const VERSION: u32 = 1;

/// A whole replica in one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// When the issuer produced it: the replica's age is counted from here.
    pub generated_at: DateTime<Utc>,
    /// The event the gate serves.
    pub event: BundleEvent,
    /// Public keys, by id.
    pub keys: Vec<BundleKey>,
    /// Every ticket of the event the issuer knows, with its current revision and status.
    pub tickets: Vec<BundleTicket>,
}

/// The event part of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEvent {
    /// Event id, as in the tickets' claims.
    pub id: u32,
    /// Its name, for the screen.
    pub name: String,
    /// IANA timezone name, e.g. `America/Los_Angeles`.
    pub timezone: String,
    /// Its days, as event-local dates.
    pub days: Vec<NaiveDate>,
    /// `once_per_day` or `reentry_after_exit`.
    pub policy: Policy,
    /// The gates and the zones behind each.
    pub gates: Vec<BundleGate>,
    /// Ticket types, for names on the verdict screen.
    pub ticket_types: Vec<BundleTicketType>,
}

/// The entry policy on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// One entry per valid day.
    OncePerDay,
    /// Entry again after an exit scan.
    ReentryAfterExit,
}

/// A gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleGate {
    /// "Main Gate".
    pub name: String,
    /// Zone bit mask (bit 0: general admission).
    pub zones: u16,
}

/// A ticket type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleTicketType {
    /// Id, as in the claims.
    pub id: u16,
    /// "3-Day Pass".
    pub name: String,
    /// `pass` or `vendor_booth`.
    pub kind: String,
}

/// A public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKey {
    /// Key id, as in the claims.
    pub key_id: u16,
    /// 32 bytes, hex.
    pub public_key: String,
    /// `active` or `retired`.
    pub status: KeyState,
}

/// A key's status on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Verifies tickets.
    Active,
    /// Refused.
    Retired,
}

/// A ticket as the gate knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleTicket {
    /// Ticket id, as in the claims.
    pub ticket_id: u64,
    /// Ticket type id.
    pub ticket_type: u16,
    /// Current revision.
    pub revision: u16,
    /// `valid`, `refunded`, `cancelled`, `voided` or `blocked`.
    pub status: String,
    /// Why the current revision replaced the previous one: `transfer`, `upgrade`, `reissue`.
    #[serde(default)]
    pub superseded_by: Option<String>,
    /// The holder's display name.
    #[serde(default)]
    pub holder: Option<String>,
    /// Extra words for the verdict screen (vendor business and booth).
    #[serde(default)]
    pub detail: Option<String>,
}
