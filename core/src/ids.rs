//! Identifier newtypes and the small bit sets (days, zones) that a ticket carries.
//!
//! Each id has the width it has on the wire (see `docs/ticket-format.md`), so a value that
//! fits the type always fits the ticket; nothing here allocates or validates against an event.

use std::fmt;
use std::num::{NonZeroU16, ParseIntError};
use std::str::FromStr;

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }
    };
}

id_newtype!(
    /// Identifies a signing key; devices look public keys up by it.
    KeyId(u16)
);
id_newtype!(
    /// Identifies an event (a festival) on the server that issued the ticket.
    EventId(u32)
);
id_newtype!(
    /// Identifies one ticket for its whole life; transfers and upgrades keep the id and bump
    /// the [`Revision`].
    TicketId(u64)
);
id_newtype!(
    /// Identifies a ticket type (3-Day Pass, Food Truck Booth, ...) within its event.
    TicketTypeId(u16)
);
id_newtype!(
    /// Bumped by every transfer, upgrade or reissue; an older revision is revoked.
    Revision(u16)
);

/// Identifies a vendor booth within its event; carried by booth and vendor staff passes.
/// Never zero: zero on the wire means "no booth".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BoothId(pub NonZeroU16);

impl fmt::Display for BoothId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The days of an event a ticket is valid on: bit `i` is the event's day `i` (0-based).
///
/// Sixteen bits cap an event at sixteen days, which covers every festival we know of and
/// keeps the QR code small; a longer event would need a new format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DayMask(pub u16);

impl DayMask {
    /// The most days an event can have.
    pub const MAX_DAYS: usize = 16;

    /// A mask with exactly the given day indices set; indices of 16 or more are ignored.
    pub fn from_days(days: impl IntoIterator<Item = usize>) -> Self {
        Self(
            days.into_iter()
                .filter(|&d| d < Self::MAX_DAYS)
                .fold(0, |mask, d| mask | (1 << d)),
        )
    }

    /// Whether day `index` is in the mask.
    pub fn contains(self, index: usize) -> bool {
        index < Self::MAX_DAYS && self.0 & (1 << index) != 0
    }

    /// The day indices in the mask, ascending.
    pub fn days(self) -> impl Iterator<Item = usize> {
        (0..Self::MAX_DAYS).filter(move |&d| self.contains(d))
    }
}

/// The zones a ticket admits to, or that a gate serves: bit `i` is the event's zone `i`.
///
/// By convention zone 0 is general admission; a vendor entrance or a backstage area is
/// another zone. A ticket passes a gate when the two masks share a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ZoneMask(pub u16);

impl ZoneMask {
    /// General admission only.
    pub const GENERAL: Self = Self(1);

    /// Whether the two masks share at least one zone.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}
