//! What gates trust of each other on the venue mesh (ADR 0024): a device certificate (the
//! device's own Ed25519 key, signed at enrollment by a server key the replica's keyring
//! holds), check-ins signed by the device that made them, and the handshake signature that
//! binds a certificate to one encrypted session.
//!
//! Pure like the rest of core: keys come in as bytes, times as parameters. Every layout is
//! fixed and versioned, big-endian, and every signed message starts with its own context
//! string, so a signature of one kind can never pass for another (a ticket, a certificate,
//! a check-in, a handshake).

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::keys::{KeyStatus, Keyring};
use crate::{Direction, EventId, KeyId, Revision, TicketId};

/// The certificate layout version.
pub const CERTIFICATE_VERSION: u8 = 1;
/// A certificate's length in bytes: 63 signed bytes and a 64-byte signature.
pub const CERTIFICATE_LEN: usize = 127;
/// The signed check-in layout version.
pub const CHECK_IN_VERSION: u8 = 1;
/// The longest signed check-in, in bytes.
pub const CHECK_IN_MAX_LEN: usize = 43 + 11 + 3 * 255 + 64;

const CERTIFICATE_CONTEXT: &[u8] = b"tessera device certificate v1\0";
const CHECK_IN_CONTEXT: &[u8] = b"tessera check-in v1\0";
const HANDSHAKE_CONTEXT: &[u8] = b"tessera mesh handshake v1\0";
const CERT_BODY_LEN: usize = 63;
const SIGNATURE_LEN: usize = 64;

/// Why a certificate, a signed check-in or a handshake is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeshError {
    /// Not the layout this software reads (wrong length, version, or a field out of range).
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// Signed by a key the keyring does not hold.
    #[error("signed by an unknown server key {0}")]
    UnknownKey(KeyId),
    /// Signed by a retired (possibly leaked) server key.
    #[error("signed by the retired server key {0}")]
    RetiredKey(KeyId),
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// A certificate for another event than this gate's.
    #[error("a certificate for event {0}, not this gate's")]
    WrongEvent(EventId),
    /// A check-in that names another device than the certificate's.
    #[error("a check-in of another device than its certificate's")]
    WrongDevice,
}

/// A device id: 16 random bytes, written as 32 hex digits everywhere else.
pub type DeviceKeyId = [u8; 16];

/// What a certificate says: this device key belongs to this enrolled device of this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateClaims {
    /// The server key that signs it (one of the keyring's).
    pub key: KeyId,
    /// The event the device is enrolled for.
    pub event: EventId,
    /// The device id.
    pub device: DeviceKeyId,
    /// The device's own Ed25519 public key.
    pub device_key: [u8; 32],
    /// When the server issued it (Unix milliseconds).
    pub issued_at_ms: i64,
}

impl CertificateClaims {
    fn body(&self) -> [u8; CERT_BODY_LEN] {
        let mut b = [0u8; CERT_BODY_LEN];
        let mut w = Cursor::new(&mut b);
        w.put(&[CERTIFICATE_VERSION]);
        w.put(&self.key.0.to_be_bytes());
        w.put(&self.event.0.to_be_bytes());
        w.put(&self.device);
        w.put(&self.device_key);
        w.put(&self.issued_at_ms.to_be_bytes());
        b
    }

    /// Signs the claims with a server key (the one named in `key`): the certificate's bytes.
    pub fn sign(&self, server: &crate::TicketSigner) -> [u8; CERTIFICATE_LEN] {
        let claims = CertificateClaims {
            key: server.id(),
            ..*self
        };
        let body = claims.body();
        let signature = server.sign_raw(&message(CERTIFICATE_CONTEXT, &body));
        let mut out = [0u8; CERTIFICATE_LEN];
        let (b, s) = out.split_at_mut(CERT_BODY_LEN);
        b.copy_from_slice(&body);
        s.copy_from_slice(&signature);
        out
    }
}

/// A certificate whose signature verified against an active key of the keyring: the only
/// way to get one is [`verify_certificate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDevice {
    claims: CertificateClaims,
    key: VerifyingKey,
}

impl VerifiedDevice {
    /// What the certificate says.
    pub fn claims(&self) -> &CertificateClaims {
        &self.claims
    }

    /// The device id as 32 hex digits.
    pub fn device_id(&self) -> String {
        hex32(&self.claims.device)
    }

    /// Checks a signed check-in of this device and reads it.
    pub fn verify_check_in(&self, bytes: &[u8]) -> Result<CheckInRecord, MeshError> {
        let split = bytes
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(MeshError::Malformed("check-in"))?;
        let (body, sig) = bytes.split_at(split);
        let record = CheckInRecord::decode(body)?;
        if record.device != self.claims.device {
            return Err(MeshError::WrongDevice);
        }
        let sig = Signature::from_slice(sig).map_err(|_| MeshError::Malformed("check-in"))?;
        self.key
            .verify_strict(&message(CHECK_IN_CONTEXT, body), &sig)
            .map_err(|_| MeshError::BadSignature)?;
        Ok(record)
    }

    /// Checks the device's signature over a session's transcript hash, for `role` (the
    /// side that signed it: `b'i'` for the dialer, `b'r'` for the listener).
    pub fn verify_handshake(
        &self,
        role: u8,
        transcript: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), MeshError> {
        let sig =
            Signature::from_slice(signature).map_err(|_| MeshError::Malformed("handshake"))?;
        self.key
            .verify_strict(&handshake_message(role, transcript), &sig)
            .map_err(|_| MeshError::BadSignature)
    }
}

/// Whether `key` may be certified as a device key: a curve point that is not of small
/// order (a weak key would let anyone forge that device's signatures).
pub fn valid_device_key(key: &[u8; 32]) -> bool {
    VerifyingKey::from_bytes(key).is_ok_and(|k| !k.is_weak())
}

/// Reads a certificate and checks it: laid out as version 1, for `event`, signed by a key
/// of `keyring` that is active (a retired key may have leaked).
pub fn verify_certificate(
    bytes: &[u8],
    keyring: &Keyring,
    event: EventId,
) -> Result<VerifiedDevice, MeshError> {
    if bytes.len() != CERTIFICATE_LEN {
        return Err(MeshError::Malformed("certificate"));
    }
    let (body, sig) = bytes.split_at(CERT_BODY_LEN);
    let mut r = Reader::new(body);
    if r.u8()? != CERTIFICATE_VERSION {
        return Err(MeshError::Malformed("certificate"));
    }
    let claims = CertificateClaims {
        key: KeyId(r.u16()?),
        event: EventId(r.u32()?),
        device: r.array()?,
        device_key: r.array()?,
        issued_at_ms: r.i64()?,
    };
    let server = match keyring.get(claims.key) {
        None => return Err(MeshError::UnknownKey(claims.key)),
        Some((_, KeyStatus::Retired)) => return Err(MeshError::RetiredKey(claims.key)),
        Some((public, KeyStatus::Active)) => public,
    };
    let sig = Signature::from_slice(sig).map_err(|_| MeshError::Malformed("certificate"))?;
    server
        .verify_strict(&message(CERTIFICATE_CONTEXT, body), &sig)
        .map_err(|_| MeshError::BadSignature)?;
    if claims.event != event {
        return Err(MeshError::WrongEvent(claims.event));
    }
    let key = VerifyingKey::from_bytes(&claims.device_key)
        .ok()
        .filter(|k| !k.is_weak())
        .ok_or(MeshError::Malformed("certificate"))?;
    Ok(VerifiedDevice { claims, key })
}

/// A device's own signing key.
pub struct DeviceSigner {
    key: SigningKey,
}

impl std::fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSigner(<redacted>)")
    }
}

impl DeviceSigner {
    /// A signer from a 32-byte seed the caller drew at random.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    /// The public half, which the server certifies.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The check-in's signed bytes: its layout followed by this device's signature.
    pub fn sign_check_in(&self, record: &CheckInRecord) -> Result<Vec<u8>, MeshError> {
        let mut out = record.encode()?;
        let sig = self.key.sign(&message(CHECK_IN_CONTEXT, &out));
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }

    /// Signs a session's transcript hash as `role` (`b'i'` dialer, `b'r'` listener).
    pub fn sign_handshake(&self, role: u8, transcript: &[u8; 32]) -> [u8; 64] {
        self.key
            .sign(&handshake_message(role, transcript))
            .to_bytes()
    }
}

/// One check-in as its device recorded it: what travels between gates, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckInRecord {
    /// The device that made it.
    pub device: DeviceKeyId,
    /// Its number in that device's queue.
    pub seq: u64,
    /// The ticket and revision, when the code verified on the device.
    pub ticket: Option<(TicketId, Revision)>,
    /// When, corrected by what the device knew of its clock (Unix milliseconds).
    pub at_ms: i64,
    /// The correction the device applied to its clock's reading (milliseconds).
    pub clock_correction_ms: i64,
    /// Entry or exit.
    pub direction: Direction,
    /// Whether the device admitted (or let out).
    pub admitted: bool,
    /// The gate's name (at most 255 bytes).
    pub gate: String,
    /// The reject reason code.
    pub reason: Option<String>,
    /// The scanned text, when it was a Tessera ticket.
    pub text: Option<String>,
}

impl CheckInRecord {
    fn encode(&self) -> Result<Vec<u8>, MeshError> {
        let mut out = Vec::with_capacity(64 + self.gate.len() + 160);
        out.push(CHECK_IN_VERSION);
        out.extend_from_slice(&self.device);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at_ms.to_be_bytes());
        out.extend_from_slice(&self.clock_correction_ms.to_be_bytes());
        out.push(match self.direction {
            Direction::Entry => 0,
            Direction::Exit => 1,
        });
        out.push(u8::from(self.admitted));
        match self.ticket {
            None => out.push(0),
            Some((t, r)) => {
                out.push(1);
                out.extend_from_slice(&t.0.to_be_bytes());
                out.extend_from_slice(&r.0.to_be_bytes());
            }
        }
        for s in [
            Some(self.gate.as_str()),
            self.reason.as_deref(),
            self.text.as_deref(),
        ] {
            put_str(&mut out, s)?;
        }
        Ok(out)
    }

    fn decode(body: &[u8]) -> Result<Self, MeshError> {
        let mut r = Reader::new(body);
        if r.u8()? != CHECK_IN_VERSION {
            return Err(MeshError::Malformed("check-in"));
        }
        let device = r.array()?;
        let seq = r.u64()?;
        let at_ms = r.i64()?;
        let clock_correction_ms = r.i64()?;
        let direction = match r.u8()? {
            0 => Direction::Entry,
            1 => Direction::Exit,
            _ => return Err(MeshError::Malformed("check-in")),
        };
        let admitted = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(MeshError::Malformed("check-in")),
        };
        let ticket = match r.u8()? {
            0 => None,
            1 => Some((TicketId(r.u64()?), Revision(r.u16()?))),
            _ => return Err(MeshError::Malformed("check-in")),
        };
        let gate = r.string()?.ok_or(MeshError::Malformed("check-in"))?;
        let reason = r.string()?;
        let text = r.string()?;
        if !r.is_empty() || seq == 0 {
            return Err(MeshError::Malformed("check-in"));
        }
        Ok(Self {
            device,
            seq,
            ticket,
            at_ms,
            clock_correction_ms,
            direction,
            admitted,
            gate,
            reason,
            text,
        })
    }
}

/// A string as its length (one byte; 0xff for none) and UTF-8 bytes, at most 254.
fn put_str(out: &mut Vec<u8>, s: Option<&str>) -> Result<(), MeshError> {
    match s {
        None => out.push(0xff),
        Some(s) => {
            let len = u8::try_from(s.len())
                .ok()
                .filter(|&l| l < 0xff)
                .ok_or(MeshError::Malformed("check-in field longer than 254 bytes"))?;
            out.push(len);
            out.extend_from_slice(s.as_bytes());
        }
    }
    Ok(())
}

/// 32 lowercase hex digits.
pub fn hex32(id: &DeviceKeyId) -> String {
    use std::fmt::Write;
    id.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A device id from its 32 hex digits.
pub fn parse_device_id(hex: &str) -> Option<DeviceKeyId> {
    // Hex digits only: `from_str_radix` alone would take a sign (`+f`).
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        let pair = hex.get(i * 2..i * 2 + 2)?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn message(context: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + body.len());
    m.extend_from_slice(context);
    m.extend_from_slice(body);
    m
}

fn handshake_message(role: u8, transcript: &[u8; 32]) -> Vec<u8> {
    let mut m = message(HANDSHAKE_CONTEXT, &[role]);
    m.extend_from_slice(transcript);
    m
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, at: 0 }
    }

    /// Writes `bytes` at the cursor; the layouts above are sized so they always fit.
    fn put(&mut self, bytes: &[u8]) {
        if let Some(slot) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
        self.at += bytes.len();
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(rest: &'a [u8]) -> Self {
        Self { rest }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MeshError> {
        if self.rest.len() < n {
            return Err(MeshError::Malformed("layout cut short"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], MeshError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, MeshError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, MeshError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, MeshError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, MeshError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, MeshError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<Option<String>, MeshError> {
        match self.u8()? {
            0xff => Ok(None),
            len => {
                let bytes = self.take(usize::from(len))?;
                std::str::from_utf8(bytes)
                    .map(|s| Some(s.to_owned()))
                    .map_err(|_| MeshError::Malformed("check-in text"))
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TicketSigner;

    fn server() -> (TicketSigner, Keyring) {
        let signer = TicketSigner::from_seed(KeyId(3), &[5; 32]);
        let mut ring = Keyring::new();
        ring.insert(KeyId(3), &signer.public_key(), KeyStatus::Active)
            .unwrap();
        (signer, ring)
    }

    fn device() -> (DeviceSigner, [u8; CERTIFICATE_LEN]) {
        let (signer, _) = server();
        let me = DeviceSigner::from_seed(&[7; 32]);
        let cert = CertificateClaims {
            key: KeyId(0),
            event: EventId(1),
            device: [0xab; 16],
            device_key: me.public_key(),
            issued_at_ms: 1_790_000_000_000,
        }
        .sign(&signer);
        (me, cert)
    }

    fn record() -> CheckInRecord {
        CheckInRecord {
            device: [0xab; 16],
            seq: 42,
            ticket: Some((TicketId(1 << 50), Revision(2))),
            at_ms: 1_790_000_100_000,
            clock_correction_ms: -1500,
            direction: Direction::Entry,
            admitted: true,
            gate: "بوابة North".into(),
            reason: None,
            text: Some("TS1:ABC".into()),
        }
    }

    #[test]
    fn a_certificate_verifies_against_the_keyring_that_signed_it() {
        let (_, ring) = server();
        let (me, cert) = device();
        let v = verify_certificate(&cert, &ring, EventId(1)).unwrap();
        assert_eq!(v.claims().device_key, me.public_key());
        assert_eq!(v.claims().key, KeyId(3));
        assert_eq!(v.device_id(), "ab".repeat(16));
    }

    #[test]
    fn a_certificate_is_refused_for_every_changed_byte_another_event_or_a_retired_key() {
        let (_, mut ring) = server();
        let (_, cert) = device();
        for i in 0..CERTIFICATE_LEN {
            let mut bad = cert;
            bad[i] ^= 0x01;
            assert!(
                verify_certificate(&bad, &ring, EventId(1)).is_err(),
                "byte {i}"
            );
        }
        assert_eq!(
            verify_certificate(&cert, &ring, EventId(2)),
            Err(MeshError::WrongEvent(EventId(1)))
        );
        assert!(verify_certificate(&cert[..100], &ring, EventId(1)).is_err());
        ring.retire(KeyId(3));
        assert_eq!(
            verify_certificate(&cert, &ring, EventId(1)),
            Err(MeshError::RetiredKey(KeyId(3)))
        );
    }

    #[test]
    fn a_self_made_certificate_does_not_verify() {
        let (_, ring) = server();
        // A forger with its own "server" key that has the keyring's id.
        let forger = TicketSigner::from_seed(KeyId(3), &[6; 32]);
        let me = DeviceSigner::from_seed(&[7; 32]);
        let cert = CertificateClaims {
            key: KeyId(3),
            event: EventId(1),
            device: [1; 16],
            device_key: me.public_key(),
            issued_at_ms: 0,
        }
        .sign(&forger);
        assert_eq!(
            verify_certificate(&cert, &ring, EventId(1)),
            Err(MeshError::BadSignature)
        );
    }

    #[test]
    fn a_signed_check_in_round_trips_and_any_changed_byte_is_refused() {
        let (_, ring) = server();
        let (me, cert) = device();
        let dev = verify_certificate(&cert, &ring, EventId(1)).unwrap();
        let signed = me.sign_check_in(&record()).unwrap();
        assert_eq!(dev.verify_check_in(&signed).unwrap(), record());
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x20;
            assert!(dev.verify_check_in(&bad).is_err(), "byte {i}");
        }
        assert!(dev.verify_check_in(&signed[..signed.len() - 1]).is_err());
        assert!(dev.verify_check_in(&[]).is_err());
    }

    #[test]
    fn a_check_in_signed_by_another_device_is_refused() {
        let (_, ring) = server();
        let (_, cert) = device();
        let dev = verify_certificate(&cert, &ring, EventId(1)).unwrap();
        let thief = DeviceSigner::from_seed(&[8; 32]);
        let signed = thief.sign_check_in(&record()).unwrap();
        assert_eq!(dev.verify_check_in(&signed), Err(MeshError::BadSignature));
        let mut other = record();
        other.device = [0xcd; 16];
        let signed = thief.sign_check_in(&other).unwrap();
        assert_eq!(dev.verify_check_in(&signed), Err(MeshError::WrongDevice));
    }

    #[test]
    fn a_handshake_signature_binds_role_and_transcript() {
        let (_, ring) = server();
        let (me, cert) = device();
        let dev = verify_certificate(&cert, &ring, EventId(1)).unwrap();
        let th = [9u8; 32];
        let sig = me.sign_handshake(b'i', &th);
        assert!(dev.verify_handshake(b'i', &th, &sig).is_ok());
        assert!(dev.verify_handshake(b'r', &th, &sig).is_err());
        assert!(dev.verify_handshake(b'i', &[8; 32], &sig).is_err());
    }

    #[test]
    fn long_fields_are_refused_when_signing() {
        let (me, _) = device();
        let mut r = record();
        r.gate = "x".repeat(255);
        assert!(me.sign_check_in(&r).is_err());
        r.gate = "x".repeat(254);
        assert!(me.sign_check_in(&r).unwrap().len() <= CHECK_IN_MAX_LEN);
    }

    #[test]
    fn device_ids_read_back_from_hex() {
        assert_eq!(parse_device_id(&"ab".repeat(16)), Some([0xab; 16]));
        assert_eq!(parse_device_id("ab"), None);
        assert_eq!(parse_device_id(&"zz".repeat(16)), None);
        assert_eq!(parse_device_id(&"é".repeat(16)), None);
    }

    proptest::proptest! {
        #[test]
        fn reading_any_bytes_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let (_, ring) = server();
            let (_, cert) = device();
            let dev = verify_certificate(&cert, &ring, EventId(1)).unwrap();
            let _ = dev.verify_check_in(&bytes);
            let _ = verify_certificate(&bytes, &ring, EventId(1));
        }
    }
}
