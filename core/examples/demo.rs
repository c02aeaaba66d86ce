//! A walk through one ticket's life at the gate, with nothing but tessera-core: sign a
//! 3-Day Pass, print its QR text and code, verify it, admit it, refuse the second scan,
//! refuse a forged copy. Run with `cargo run -p tessera-core --example demo`.

use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Duration, Utc};
use qrcode::render::unicode::Dense1x2;
use qrcode::{EcLevel, QrCode};
use tessera_core::{
    Claims, DayMask, Decision, Direction, EntryPolicy, EventConfig, EventId, Gate, KeyId,
    KeyStatus, Keyring, PriorScan, ReplicaFacts, Revision, TicketId, TicketRecord, TicketSigner,
    TicketStatus, TicketTypeId, Tz, ZoneMask, decide, verify,
};

fn show(label: &str, text: &str, ring: &Keyring, facts: &ReplicaFacts<'_>, now: DateTime<Utc>) {
    let gate = Gate {
        name: "Gate A".into(),
        zones: ZoneMask::GENERAL,
        direction: Direction::Entry,
    };
    let verdict = match verify(text, ring) {
        Err(e) => format!("REJECT  {}", tessera_core::Reason::from(e)),
        Ok(ticket) => match decide(&ticket, facts, &gate, now) {
            Decision::Admit(a) => format!("ADMIT   day {} ({})", a.day.unwrap_or(0) + 1, a.date),
            Decision::Reject(r) => format!("REJECT  {r}  [{}]", r.code()),
        },
    };
    println!("{label:<28} {verdict}");
}

fn main() {
    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let now = DateTime::from_timestamp(i64::try_from(now_secs).unwrap_or(0), 0).unwrap_or_default();

    // The demo festival: three days starting today in Orange County.
    let tz = Tz::America__Los_Angeles;
    let today = now.with_timezone(&tz).date_naive();
    let days = (0..3).map(|i| today + Duration::days(i)).collect();
    let event = EventConfig::new(EventId(1), tz, days, EntryPolicy::OncePerDay)
        .expect("three distinct days");

    // The server's side: a signing key (a fixed demo seed here; the server draws a random one).
    let signer = TicketSigner::from_seed(KeyId(1), &[0x5e; 32]);
    let claims = Claims {
        event: event.id(),
        ticket: TicketId(1),
        ticket_type: TicketTypeId(1),
        revision: Revision(0),
        days: DayMask::from_days(0..3),
        zones: ZoneMask::GENERAL,
        booth: None,
        issued_at: u32::try_from(now_secs).unwrap_or(u32::MAX),
    };
    let text = signer.sign(&claims);
    let code = QrCode::with_error_correction_level(&text, EcLevel::Q).expect("fits a QR code");
    println!(
        "A 3-Day Pass for the demo festival ({} to {}):\n",
        event.days()[0],
        event.days()[2]
    );
    println!("{}", code.render::<Dense1x2>().quiet_zone(true).build());
    println!(
        "QR text ({} characters, QR {:?} at ECC Q):\n{text}\n",
        text.len(),
        code.version()
    );

    // The gate's side: only the public key.
    let mut ring = Keyring::new();
    ring.insert(signer.id(), &signer.public_key(), KeyStatus::Active)
        .expect("a valid key");
    let record = TicketRecord {
        revision: Revision(0),
        status: TicketStatus::Valid,
        superseded_by: None,
    };
    let mut history = Vec::new();
    let facts = ReplicaFacts {
        event: &event,
        ticket: Some(&record),
        history: &history,
    };
    show("first scan", &text, &ring, &facts, now);

    history.push(PriorScan {
        at: now,
        gate: "Gate A".into(),
        device: "demo".into(),
        direction: Direction::Entry,
        admitted: true,
        revision: Some(claims.revision),
    });
    let facts = ReplicaFacts {
        event: &event,
        ticket: Some(&record),
        history: &history,
    };
    show(
        "same ticket, a minute later",
        &text,
        &ring,
        &facts,
        now + Duration::minutes(1),
    );

    let forged = TicketSigner::from_seed(KeyId(1), &[0x66; 32]).sign(&Claims {
        ticket: TicketId(2),
        ..claims
    });
    show("a forged ticket", &forged, &ring, &facts, now);
    show("a URL", "https://example.org/", &ring, &facts, now);
}
