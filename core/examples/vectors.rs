//! Prints the test vectors of `docs/ticket-format.md` in the form the document and its test
//! use, so a changed vector can be regenerated rather than typed.

use std::num::NonZeroU16;

use tessera_core::base45;
use tessera_core::{
    BoothId, CLAIMS_LEN, Claims, DayMask, EventId, KeyId, PREFIX, Revision, TicketId, TicketSigner,
    TicketTypeId, ZoneMask,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() {
    let rfc8032_seed: [u8; 32] = [
        0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c,
        0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae,
        0x7f, 0x60,
    ];
    let sequential: [u8; 32] = std::array::from_fn(|i| i as u8);
    let vectors = [
        (
            "a 3-day general admission pass",
            sequential,
            KeyId(1),
            Claims {
                event: EventId(1),
                ticket: TicketId(1),
                ticket_type: TicketTypeId(1),
                revision: Revision(0),
                days: DayMask(0b111),
                zones: ZoneMask::GENERAL,
                booth: None,
                issued_at: 1_790_000_000,
            },
        ),
        (
            "a food truck booth pass, transferred once, vendor zone",
            rfc8032_seed,
            KeyId(2),
            Claims {
                event: EventId(42),
                ticket: TicketId(123_456_789_012),
                ticket_type: TicketTypeId(5),
                revision: Revision(1),
                days: DayMask(0b111),
                zones: ZoneMask(0b11),
                booth: NonZeroU16::new(17).map(BoothId),
                issued_at: 1_795_000_000,
            },
        ),
        (
            "every field at its largest value",
            [0x42; 32],
            KeyId(u16::MAX),
            Claims {
                event: EventId(u32::MAX),
                ticket: TicketId(u64::MAX),
                ticket_type: TicketTypeId(u16::MAX),
                revision: Revision(u16::MAX),
                days: DayMask(u16::MAX),
                zones: ZoneMask(u16::MAX),
                booth: NonZeroU16::new(u16::MAX).map(BoothId),
                issued_at: u32::MAX,
            },
        ),
    ];
    for (n, (title, seed, key, c)) in vectors.iter().enumerate() {
        let signer = TicketSigner::from_seed(*key, seed);
        let text = signer.sign(c);
        let bytes = base45::decode(&text[PREFIX.len()..]).expect("own output decodes");
        let (claims, signature) = bytes.split_at(CLAIMS_LEN);
        println!("### Vector {}: {title}\n", n + 1);
        println!("```text");
        println!("vector: {}", n + 1);
        println!("seed: {}", hex(seed));
        println!("public_key: {}", hex(&signer.public_key()));
        println!("key_id: {}", key.0);
        println!("event: {}", c.event.0);
        println!("ticket: {}", c.ticket.0);
        println!("ticket_type: {}", c.ticket_type.0);
        println!("revision: {}", c.revision.0);
        println!("days: {:#06x}", c.days.0);
        println!("zones: {:#06x}", c.zones.0);
        println!("booth: {}", c.booth.map_or(0, |b| b.0.get()));
        println!("issued_at: {}", c.issued_at);
        println!("claims: {}", hex(claims));
        println!("signature: {}", hex(signature));
        println!("qr_text: {text}");
        println!("```\n");
    }
}
