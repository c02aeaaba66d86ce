//! The test vectors of `docs/ticket-format.md`, read from the document itself and checked
//! byte for byte, so the document cannot drift from the code.

use std::collections::HashMap;
use std::num::NonZeroU16;

use tessera_core::{
    BoothId, CLAIMS_LEN, Claims, DayMask, EventId, KeyId, KeyStatus, Keyring, PREFIX, Revision,
    TicketId, TicketSigner, TicketTypeId, ZoneMask, base45, verify,
};

const DOC: &str = include_str!("../../../docs/ticket-format.md");

fn vectors() -> Vec<HashMap<String, String>> {
    let mut out = Vec::new();
    let mut current: Option<HashMap<String, String>> = None;
    for line in DOC.lines() {
        match (line.trim(), current.as_mut()) {
            ("```text", None) => current = Some(HashMap::new()),
            ("```", Some(_)) => {
                let v = current.take().unwrap();
                if v.contains_key("vector") {
                    out.push(v);
                }
            }
            (l, Some(v)) => {
                if let Some((k, val)) = l.split_once(": ") {
                    v.insert(k.to_string(), val.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

fn num<T: std::str::FromStr>(v: &HashMap<String, String>, key: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    v[key].parse().unwrap()
}

fn hex_u16(v: &HashMap<String, String>, key: &str) -> u16 {
    u16::from_str_radix(v[key].trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn documented_vectors_match_byte_for_byte() {
    let vectors = vectors();
    assert!(
        vectors.len() >= 3,
        "the format doc must hold at least 3 vectors"
    );
    for v in vectors {
        let n = &v["vector"];
        let seed: [u8; 32] = hex::decode(&v["seed"]).unwrap().try_into().unwrap();
        let key = KeyId(num(&v, "key_id"));
        let signer = TicketSigner::from_seed(key, &seed);
        assert_eq!(
            hex::encode(signer.public_key()),
            v["public_key"],
            "vector {n}: public key"
        );
        let claims = Claims {
            event: EventId(num(&v, "event")),
            ticket: TicketId(num(&v, "ticket")),
            ticket_type: TicketTypeId(num(&v, "ticket_type")),
            revision: Revision(num(&v, "revision")),
            days: DayMask(hex_u16(&v, "days")),
            zones: ZoneMask(hex_u16(&v, "zones")),
            booth: NonZeroU16::new(num(&v, "booth")).map(BoothId),
            issued_at: num(&v, "issued_at"),
        };
        let text = signer.sign(&claims);
        assert_eq!(text, v["qr_text"], "vector {n}: QR text");

        let bytes = base45::decode(&text[PREFIX.len()..]).unwrap();
        assert_eq!(
            hex::encode(&bytes[..CLAIMS_LEN]),
            v["claims"],
            "vector {n}: claims bytes"
        );
        assert_eq!(
            hex::encode(&bytes[CLAIMS_LEN..]),
            v["signature"],
            "vector {n}: signature"
        );

        // An independent verifier needs only the public key from the document.
        let public: [u8; 32] = hex::decode(&v["public_key"]).unwrap().try_into().unwrap();
        let mut ring = Keyring::new();
        ring.insert(key, &public, KeyStatus::Active).unwrap();
        assert_eq!(
            verify(&v["qr_text"], &ring).unwrap().claims(),
            &claims,
            "vector {n}"
        );
    }
}
