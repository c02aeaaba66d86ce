//! Shared builders: a signer, a keyring that trusts it, an event and gates.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tessera_core::{
    Claims, DayMask, Direction, EntryPolicy, EventConfig, EventId, Gate, KeyId, KeyStatus, Keyring,
    PriorScan, Revision, TicketId, TicketSigner, TicketTypeId, Tz, VerifiedTicket, ZoneMask,
    verify,
};

pub const EVENT: EventId = EventId(7);

pub fn signer() -> TicketSigner {
    TicketSigner::from_seed(KeyId(1), &[7; 32])
}

pub fn keyring() -> Keyring {
    let mut ring = Keyring::new();
    ring.insert(KeyId(1), &signer().public_key(), KeyStatus::Active)
        .unwrap();
    ring
}

pub fn claims() -> Claims {
    Claims {
        event: EVENT,
        ticket: TicketId(1001),
        ticket_type: TicketTypeId(1),
        revision: Revision(0),
        days: DayMask(0b111),
        zones: ZoneMask::GENERAL,
        booth: None,
        issued_at: 1_790_000_000,
    }
}

pub fn ticket(c: &Claims) -> VerifiedTicket {
    verify(&signer().sign(c), &keyring()).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A three-day festival in Orange County, across the end of daylight saving time
/// (Sunday 1 November 2026, 02:00 PDT → 01:00 PST).
pub fn event(policy: EntryPolicy) -> EventConfig {
    EventConfig::new(
        EVENT,
        Tz::America__Los_Angeles,
        vec![date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)],
        policy,
    )
    .unwrap()
}

pub fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

/// Saturday 31 October 2026, 14:00 in Los Angeles (PDT, UTC−7).
pub fn saturday_afternoon() -> DateTime<Utc> {
    utc(2026, 10, 31, 21, 0, 0)
}

pub fn gate(name: &str) -> Gate {
    Gate {
        name: name.into(),
        zones: ZoneMask::GENERAL,
        direction: Direction::Entry,
    }
}

pub fn exit_gate(name: &str) -> Gate {
    Gate {
        direction: Direction::Exit,
        ..gate(name)
    }
}

pub fn scan(at: DateTime<Utc>, gate: &str, device: &str, direction: Direction) -> PriorScan {
    PriorScan {
        at,
        gate: gate.into(),
        device: device.into(),
        direction,
        admitted: true,
        revision: None,
    }
}
