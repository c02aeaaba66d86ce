//! Feeds arbitrary input to the ticket parser and verifier: it must return an error or a
//! ticket, never panic, whatever a stranger's QR code contains.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_core::{KeyId, KeyStatus, Keyring, PREFIX, TicketSigner, base45, verify};

fuzz_target!(|data: &[u8]| {
    let signer = TicketSigner::from_seed(KeyId(1), &[7; 32]);
    let mut ring = Keyring::new();
    let _ = ring.insert(KeyId(1), &signer.public_key(), KeyStatus::Active);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = verify(text, &ring);
        let _ = base45::decode(text);
    }
    // Raw bytes behind a valid prefix reach the claims decoder and the signature check.
    let _ = verify(&format!("{PREFIX}{}", base45::encode(data)), &ring);
});
