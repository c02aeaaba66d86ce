//! A festival to scan: a signer, a bundle for today's event, tickets.

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use tessera_core::{
    Claims, DayMask, EventId, KeyId, Revision, TicketId, TicketSigner, TicketTypeId, Tz, ZoneMask,
};
use tessera_scanner::bundle::{
    Bundle, BundleEvent, BundleGate, BundleKey, BundleTicket, BundleTicketType, FORMAT, KeyState,
    Policy, VERSION,
};

pub const EVENT: u32 = 1;
pub const TZ: Tz = Tz::America__Los_Angeles;

pub fn signer() -> TicketSigner {
    TicketSigner::from_seed(KeyId(1), &[0x11; 32])
}

pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&TZ).date_naive()
}

/// A three-day event starting today, a main gate and a vendor gate, two types, and
/// tickets 1..=n (ticket 2 refunded, ticket 3 transferred to revision 1).
pub fn bundle(n: u64) -> Bundle {
    let signer = signer();
    let mut tickets: Vec<BundleTicket> = (1..=n)
        .map(|i| BundleTicket {
            ticket_id: i,
            ticket_type: 1,
            revision: 0,
            status: "valid".into(),
            superseded_by: None,
            holder: Some(format!("Guest {i}")),
            detail: None,
        })
        .collect();
    if let Some(t) = tickets.get_mut(1) {
        t.status = "refunded".into();
    }
    if let Some(t) = tickets.get_mut(2) {
        t.revision = 1;
        t.superseded_by = Some("transfer".into());
    }
    Bundle {
        format: FORMAT.into(),
        version: VERSION,
        generated_at: Utc::now() - Duration::minutes(5),
        event: BundleEvent {
            id: EVENT,
            name: "Demo Festival".into(),
            timezone: "America/Los_Angeles".into(),
            days: (0..3).map(|d| today() + Duration::days(d)).collect(),
            policy: Policy::OncePerDay,
            gates: vec![
                BundleGate {
                    name: "Main Gate".into(),
                    zones: 0b01,
                },
                BundleGate {
                    name: "Vendor Gate".into(),
                    zones: 0b10,
                },
            ],
            ticket_types: vec![
                BundleTicketType {
                    id: 1,
                    name: "3-Day Pass".into(),
                    kind: "pass".into(),
                },
                BundleTicketType {
                    id: 2,
                    name: "1-Day Pass".into(),
                    kind: "pass".into(),
                },
            ],
        },
        keys: vec![BundleKey {
            key_id: 1,
            public_key: hex(&signer.public_key()),
            status: KeyState::Active,
        }],
        tickets,
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn claims(ticket: u64) -> Claims {
    Claims {
        event: EventId(EVENT),
        ticket: TicketId(ticket),
        ticket_type: TicketTypeId(1),
        revision: Revision(0),
        days: DayMask(0b111),
        zones: ZoneMask::GENERAL,
        booth: None,
        issued_at: 1_790_000_000,
    }
}

pub fn ticket(ticket: u64) -> String {
    signer().sign(&claims(ticket))
}

pub fn write_bundle(dir: &Path, b: &Bundle) -> std::path::PathBuf {
    let path = dir.join("bundle.json");
    std::fs::write(&path, serde_json::to_string_pretty(b).unwrap()).unwrap();
    path
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
