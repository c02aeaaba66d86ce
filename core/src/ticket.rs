//! The signed ticket: claims, their v1 byte layout, the QR text, and signing.
//!
//! The layout is documented byte by byte in `docs/ticket-format.md`; a change to anything
//! here that alters bytes needs a new format version, never an edit of v1. Parsing never
//! panics and never allocates more than the fixed-size ticket (fuzzed in `core/fuzz`).

use std::num::NonZeroU16;

use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey};
use thiserror::Error;

use crate::base45::{self, Base45Error};
use crate::ids::{BoothId, DayMask, EventId, KeyId, Revision, TicketId, TicketTypeId, ZoneMask};
use crate::keys::{KeyStatus, Keyring};

/// The format version this crate writes, and the only one it reads.
pub const FORMAT_VERSION: u8 = 1;
/// The text every v1 ticket starts with; the digit is the format version.
pub const PREFIX: &str = "TS1:";
/// Bytes of the encoded claims (version and key id included).
pub const CLAIMS_LEN: usize = 29;
/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of a whole v1 ticket: claims then signature.
pub const TICKET_LEN: usize = CLAIMS_LEN + SIGNATURE_LEN;
/// Characters of a whole v1 QR text: the prefix and 93 bytes in base45.
pub const TEXT_LEN: usize = PREFIX.len() + TICKET_LEN / 2 * 3 + 2;
/// Prepended to the claims before signing, so a Tessera ticket signature can never be
/// replayed as the signature of another kind of message made with the same key.
pub const SIGNING_CONTEXT: &[u8] = b"tessera-ticket-v1:";

/// What a ticket says about itself. No personal data: the holder's name lives in the
/// replica, where it can be changed and wiped, never in a QR code that outlives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Claims {
    /// The event the ticket admits to.
    pub event: EventId,
    /// The ticket's id, stable across revisions.
    pub ticket: TicketId,
    /// Its ticket type within the event.
    pub ticket_type: TicketTypeId,
    /// Bumped by transfer, upgrade and reissue; older revisions are revoked.
    pub revision: Revision,
    /// The event days the ticket is valid on.
    pub days: DayMask,
    /// The zones it admits to (zone 0: general admission).
    pub zones: ZoneMask,
    /// The vendor booth it belongs to, for booth and vendor staff passes.
    pub booth: Option<BoothId>,
    /// When it was signed, in whole seconds since the Unix epoch (UTC). `u32` lasts until 2106.
    pub issued_at: u32,
}

impl Claims {
    /// The issue time as a UTC timestamp.
    pub fn issued_at_utc(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(i64::from(self.issued_at), 0).unwrap_or_default()
    }

    fn encode(&self, key: KeyId) -> [u8; CLAIMS_LEN] {
        let mut out = [0u8; CLAIMS_LEN];
        let mut w = Writer {
            buf: &mut out,
            at: 0,
        };
        w.put(&[FORMAT_VERSION]);
        w.put(&key.0.to_be_bytes());
        w.put(&self.event.0.to_be_bytes());
        w.put(&self.ticket.0.to_be_bytes());
        w.put(&self.ticket_type.0.to_be_bytes());
        w.put(&self.revision.0.to_be_bytes());
        w.put(&self.days.0.to_be_bytes());
        w.put(&self.zones.0.to_be_bytes());
        w.put(&self.booth.map_or(0, |b| b.0.get()).to_be_bytes());
        w.put(&self.issued_at.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8; CLAIMS_LEN]) -> Result<(KeyId, Self), MalformedTicket> {
        let mut r = Reader { buf: bytes, at: 0 };
        let version = r.u8();
        if version != FORMAT_VERSION {
            return Err(MalformedTicket::VersionMismatch { inner: version });
        }
        let key = KeyId(r.u16());
        let claims = Self {
            event: EventId(r.u32()),
            ticket: TicketId(r.u64()),
            ticket_type: TicketTypeId(r.u16()),
            revision: Revision(r.u16()),
            days: DayMask(r.u16()),
            zones: ZoneMask(r.u16()),
            booth: NonZeroU16::new(r.u16()).map(BoothId),
            issued_at: r.u32(),
        };
        Ok((key, claims))
    }
}

/// Writes into a fixed buffer whose size the caller computed from the same field list.
struct Writer<'a> {
    buf: &'a mut [u8; CLAIMS_LEN],
    at: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

/// Reads big-endian integers from a buffer of exactly [`CLAIMS_LEN`] bytes, so no read
/// can run past the end; a short read (impossible by construction) yields zeros.
struct Reader<'a> {
    buf: &'a [u8; CLAIMS_LEN],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.buf.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }
    fn u8(&mut self) -> u8 {
        u8::from_be_bytes(self.take())
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take())
    }
}

/// Why a text that claims to be a Tessera ticket cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MalformedTicket {
    /// A ticket of a format version this software does not know (perhaps a newer one).
    #[error("ticket format version {0} is not supported by this software")]
    UnsupportedVersion(u8),
    /// The text after the prefix is not base45 (a damaged or hand-typed code).
    #[error("ticket text is damaged: {0}")]
    Base45(#[from] Base45Error),
    /// The ticket has the wrong number of bytes.
    #[error("ticket has {actual} bytes, a v{FORMAT_VERSION} ticket has {TICKET_LEN}")]
    Length {
        /// Bytes found.
        actual: usize,
    },
    /// The version inside the signed bytes disagrees with the text prefix.
    #[error("ticket says version {inner} inside a v{FORMAT_VERSION} envelope")]
    VersionMismatch {
        /// The version byte found inside.
        inner: u8,
    },
}

/// Why [`verify`] refused a text. Variants follow the gate rule order: the first that
/// applies is the one reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// Not a Tessera ticket at all (a URL, a Wi-Fi code, another system's ticket).
    #[error("this code is not a Tessera ticket")]
    NotATicket,
    /// A Tessera ticket that cannot be read.
    #[error(transparent)]
    Malformed(#[from] MalformedTicket),
    /// Signed with a key this device does not know: forged, or the device has not synced.
    #[error("signed with unknown key {0}: forged, or this device has not synced its keys")]
    UnknownKey(KeyId),
    /// Signed with a key the organizer retired.
    #[error("signed with key {0}, which has been retired")]
    RetiredKey(KeyId),
    /// The signature does not match: the ticket was altered or forged.
    #[error("signature does not match: the ticket was altered or forged")]
    BadSignature,
}

/// A ticket whose signature checked out against an active key of a [`Keyring`].
///
/// The fields are private and the only constructor is [`verify`]: holding one is proof that
/// the claims were signed by a key the holder trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTicket {
    key: KeyId,
    claims: Claims,
}

impl VerifiedTicket {
    /// The signed claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
    /// The key that signed it.
    pub fn key(&self) -> KeyId {
        self.key
    }
}

/// Splits a QR text into key id, claims, signed message and signature, checking only form.
fn parse(text: &str) -> Result<(KeyId, Claims, [u8; CLAIMS_LEN], Signature), VerifyError> {
    let Some(body) = text.strip_prefix(PREFIX) else {
        // "TS" + digits + ":" is a Tessera envelope of another version; anything else is
        // not ours at all, and the gate says so instead of calling it damaged.
        let version = text
            .strip_prefix("TS")
            .and_then(|rest| rest.split_once(':'))
            .and_then(|(v, _)| v.parse::<u8>().ok());
        return Err(match version {
            Some(v) => MalformedTicket::UnsupportedVersion(v).into(),
            None => VerifyError::NotATicket,
        });
    };
    // Check the length before decoding, so a huge input costs nothing.
    if body.len() != TEXT_LEN - PREFIX.len() {
        let approx = body.len() / 3 * 2 + usize::from(body.len() % 3 == 2);
        return Err(MalformedTicket::Length { actual: approx }.into());
    }
    let bytes = base45::decode(body).map_err(MalformedTicket::from)?;
    let (Some(claim_bytes), Some(sig_bytes)) = (
        bytes
            .get(..CLAIMS_LEN)
            .and_then(|b| <[u8; CLAIMS_LEN]>::try_from(b).ok()),
        bytes
            .get(CLAIMS_LEN..)
            .and_then(|b| <[u8; SIGNATURE_LEN]>::try_from(b).ok()),
    ) else {
        return Err(MalformedTicket::Length {
            actual: bytes.len(),
        }
        .into());
    };
    let (key, claims) = Claims::decode(&claim_bytes)?;
    Ok((key, claims, claim_bytes, Signature::from_bytes(&sig_bytes)))
}

fn signed_message(claims: &[u8; CLAIMS_LEN]) -> [u8; SIGNING_CONTEXT.len() + CLAIMS_LEN] {
    let mut msg = [0u8; SIGNING_CONTEXT.len() + CLAIMS_LEN];
    let (ctx, rest) = msg.split_at_mut(SIGNING_CONTEXT.len());
    ctx.copy_from_slice(SIGNING_CONTEXT);
    rest.copy_from_slice(claims);
    msg
}

/// Reads and authenticates a QR text: the only way to obtain a [`VerifiedTicket`].
///
/// The text must be exactly what was issued (no surrounding white space: input layers trim
/// the line endings that keyboard-wedge scanners add).
pub fn verify(text: &str, keyring: &Keyring) -> Result<VerifiedTicket, VerifyError> {
    let (key, claims, claim_bytes, signature) = parse(text)?;
    let public = match keyring.get(key) {
        None => return Err(VerifyError::UnknownKey(key)),
        Some((_, KeyStatus::Retired)) => return Err(VerifyError::RetiredKey(key)),
        Some((public, KeyStatus::Active)) => public,
    };
    // verify_strict also refuses small-order keys and malleable signatures, so one ticket
    // has exactly one valid text.
    public
        .verify_strict(&signed_message(&claim_bytes), &signature)
        .map_err(|_| VerifyError::BadSignature)?;
    Ok(VerifiedTicket { key, claims })
}

/// A private signing key with its id: what the server holds to issue tickets.
pub struct TicketSigner {
    id: KeyId,
    key: SigningKey,
}

impl std::fmt::Debug for TicketSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TicketSigner")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl TicketSigner {
    /// A signer from a 32-byte Ed25519 seed. Core makes no randomness: the caller brings it.
    pub fn from_seed(id: KeyId, seed: &[u8; 32]) -> Self {
        Self {
            id,
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The key id written into every ticket this signer signs.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The public half, as it goes into a [`Keyring`].
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `message` as it is: for [`crate::mesh`]'s device certificates, whose messages
    /// start with their own context string so they can never pass for a ticket's.
    pub(crate) fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs the claims and returns the QR text.
    pub fn sign(&self, claims: &Claims) -> String {
        let claim_bytes = claims.encode(self.id);
        let signature = self.key.sign(&signed_message(&claim_bytes));
        let mut bytes = [0u8; TICKET_LEN];
        let (c, s) = bytes.split_at_mut(CLAIMS_LEN);
        c.copy_from_slice(&claim_bytes);
        s.copy_from_slice(&signature.to_bytes());
        let mut text = String::with_capacity(TEXT_LEN);
        text.push_str(PREFIX);
        text.push_str(&base45::encode(&bytes));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            event: EventId(7),
            ticket: TicketId(0x0102_0304_0506_0708),
            ticket_type: TicketTypeId(3),
            revision: Revision(2),
            days: DayMask(0b101),
            zones: ZoneMask::GENERAL,
            booth: NonZeroU16::new(12).map(BoothId),
            issued_at: 1_790_000_000,
        }
    }

    #[test]
    fn encode_layout_is_big_endian_and_fixed() {
        let b = claims().encode(KeyId(0x0a0b));
        assert_eq!(b[0], 1);
        assert_eq!(&b[1..3], &[0x0a, 0x0b]);
        assert_eq!(&b[3..7], &[0, 0, 0, 7]);
        assert_eq!(&b[7..15], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&b[23..25], &[0, 12]);
        assert_eq!(Claims::decode(&b).unwrap(), (KeyId(0x0a0b), claims()));
    }

    #[test]
    fn text_has_the_documented_length() {
        let signer = TicketSigner::from_seed(KeyId(1), &[9; 32]);
        let text = signer.sign(&claims());
        assert_eq!(text.len(), TEXT_LEN);
        assert_eq!(TEXT_LEN, 144);
    }

    #[test]
    fn classifies_foreign_and_future_texts() {
        let ring = Keyring::new();
        assert_eq!(
            verify("https://example.org", &ring),
            Err(VerifyError::NotATicket)
        );
        assert_eq!(verify("WIFI:S:net;;", &ring), Err(VerifyError::NotATicket));
        assert_eq!(verify("", &ring), Err(VerifyError::NotATicket));
        assert_eq!(
            verify("TS2:ABC", &ring),
            Err(MalformedTicket::UnsupportedVersion(2).into())
        );
        assert!(matches!(
            verify("TS1:ABC", &ring),
            Err(VerifyError::Malformed(MalformedTicket::Length { .. }))
        ));
    }
}
