//! Properties of the format: round trips, tamper evidence, no panic on any input, and the
//! QR size budget.

use std::num::NonZeroU16;

use proptest::prelude::*;
use qrcode::{EcLevel, QrCode, Version};
use tessera_core::{
    BoothId, Claims, DayMask, EventId, KeyId, KeyStatus, Keyring, PREFIX, Revision, TEXT_LEN,
    TicketId, TicketSigner, TicketTypeId, VerifyError, ZoneMask, base45, verify,
};

use crate::fixtures::{claims, keyring, signer};

fn arb_claims() -> impl Strategy<Value = Claims> {
    (
        any::<u32>(),
        any::<u64>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
    )
        .prop_map(|(e, t, ty, rev, days, zones, booth, at)| Claims {
            event: EventId(e),
            ticket: TicketId(t),
            ticket_type: TicketTypeId(ty),
            revision: Revision(rev),
            days: DayMask(days),
            zones: ZoneMask(zones),
            booth: NonZeroU16::new(booth).map(BoothId),
            issued_at: at,
        })
}

proptest! {
    #[test]
    fn sign_then_verify_round_trips(c in arb_claims(), seed in any::<[u8; 32]>(), key in any::<u16>()) {
        let signer = TicketSigner::from_seed(KeyId(key), &seed);
        let mut ring = Keyring::new();
        ring.insert(KeyId(key), &signer.public_key(), KeyStatus::Active).unwrap();
        let text = signer.sign(&c);
        prop_assert_eq!(text.len(), TEXT_LEN);
        prop_assert!(text.starts_with(PREFIX));
        prop_assert!(!text.ends_with(' '), "input layers may trim: a ticket never ends in a space");
        let verified = verify(&text, &ring).unwrap();
        prop_assert_eq!(verified.claims(), &c);
        prop_assert_eq!(verified.key(), KeyId(key));
    }

    #[test]
    fn base45_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        prop_assert_eq!(base45::decode(&base45::encode(&bytes)).unwrap(), bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = verify(&text, &keyring());
        let _ = base45::decode(&text);
    }

    #[test]
    fn arbitrary_prefixed_base45_never_panics_nor_verifies(text in "[0-9A-Z $%*+./:-]{0,200}") {
        let with_prefix = format!("{PREFIX}{text}");
        prop_assert!(verify(&with_prefix, &keyring()).is_err());
    }

    #[test]
    fn arbitrary_bytes_under_the_prefix_never_verify(bytes in proptest::collection::vec(any::<u8>(), 93)) {
        let text = format!("{PREFIX}{}", base45::encode(&bytes));
        prop_assert!(verify(&text, &keyring()).is_err());
    }
}

/// Every single-character change of a valid text, to any other ASCII character, is refused.
#[test]
fn any_single_byte_change_is_rejected() {
    let ring = keyring();
    let text = signer().sign(&claims());
    assert!(verify(&text, &ring).is_ok());
    let mut tried = 0;
    for i in 0..text.len() {
        for b in 0u8..128 {
            let mut bytes = text.clone().into_bytes();
            if bytes[i] == b {
                continue;
            }
            bytes[i] = b;
            let changed = String::from_utf8(bytes).unwrap();
            assert!(
                verify(&changed, &ring).is_err(),
                "changing byte {i} to {b:#04x} was accepted"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, TEXT_LEN * 127);
}

#[test]
fn truncated_and_extended_texts_are_rejected() {
    let ring = keyring();
    let text = signer().sign(&claims());
    for cut in 0..text.len() {
        assert!(
            verify(&text[..cut], &ring).is_err(),
            "prefix of length {cut}"
        );
    }
    assert!(matches!(
        verify(&format!("{text}0"), &ring),
        Err(VerifyError::Malformed(_))
    ));
    let huge = format!("{PREFIX}{}", "0".repeat(10_000_000));
    assert!(matches!(
        verify(&huge, &ring),
        Err(VerifyError::Malformed(_))
    ));
}

/// DESIGN.md's budget: QR version 8 (49×49 modules) or lower at error correction level Q.
/// Every v1 ticket has the same length, so the largest ticket is any ticket; take the one
/// with every field at its maximum anyway.
#[test]
fn the_largest_ticket_fits_qr_version_8_at_ecc_q() {
    let largest = Claims {
        event: EventId(u32::MAX),
        ticket: TicketId(u64::MAX),
        ticket_type: TicketTypeId(u16::MAX),
        revision: Revision(u16::MAX),
        days: DayMask(u16::MAX),
        zones: ZoneMask(u16::MAX),
        booth: NonZeroU16::new(u16::MAX).map(BoothId),
        issued_at: u32::MAX,
    };
    let text = TicketSigner::from_seed(KeyId(u16::MAX), &[0xff; 32]).sign(&largest);
    let code = QrCode::with_error_correction_level(&text, EcLevel::Q).unwrap();
    let Version::Normal(v) = code.version() else {
        panic!("unexpected micro QR")
    };
    assert!(v <= 8, "ticket needs QR version {v} at ECC Q");
    assert_eq!(code.width(), 17 + 4 * v as usize);
    // The recorded figure in docs/ticket-format.md.
    assert_eq!(v, 8);
    let m = QrCode::with_error_correction_level(&text, EcLevel::M).unwrap();
    assert_eq!(m.version(), Version::Normal(6));
    let l = QrCode::with_error_correction_level(&text, EcLevel::L).unwrap();
    assert_eq!(l.version(), Version::Normal(5));
}
