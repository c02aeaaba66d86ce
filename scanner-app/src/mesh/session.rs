//! One encrypted, authenticated session between two gates over TCP (ADR 0024).
//!
//! Each side sends a fresh X25519 key; both derive two ChaCha20-Poly1305 keys (one per
//! direction) from the shared secret with HKDF-SHA256, salted by the transcript hash (both
//! ephemeral keys). Inside the encrypted channel the dialer proves who it is first: its
//! certificate and its device key's signature over the transcript hash and its role. The
//! listener checks it before it sends anything of its own, then proves itself the same way.
//! A signature over this session's transcript cannot be replayed into another session, and
//! a peer that fails the check has learned nothing but an ephemeral key.
//!
//! Frames are a 2-byte length and a ciphertext; the nonce is a per-direction counter, so a
//! frame replayed, dropped or reordered fails to decrypt and ends the session.

use std::io::{Read, Write};
use std::net::TcpStream;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The greeting each side sends first: protocol name and version.
const MAGIC: &[u8; 8] = b"TSMESH01";
/// The largest plaintext of one frame.
pub const MAX_FRAME: usize = 60_000;
const TAG: usize = 16;

/// Why a session failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The socket failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer does not speak this protocol, or a frame did not decrypt.
    #[error("protocol: {0}")]
    Protocol(&'static str),
}

/// Which end of the TCP connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opened the connection.
    Dialer,
    /// Accepted it.
    Listener,
}

impl Role {
    /// The byte signed with the transcript.
    pub fn byte(self) -> u8 {
        match self {
            Self::Dialer => b'i',
            Self::Listener => b'r',
        }
    }

    /// The other end.
    pub fn peer(self) -> Self {
        match self {
            Self::Dialer => Self::Listener,
            Self::Listener => Self::Dialer,
        }
    }
}

/// The sending half of a session.
pub struct Sender {
    stream: TcpStream,
    cipher: ChaCha20Poly1305,
    counter: u64,
    /// Bytes written on the wire (frames, headers and tags included).
    pub bytes: u64,
}

/// The receiving half of a session.
pub struct Receiver {
    stream: TcpStream,
    cipher: ChaCha20Poly1305,
    counter: u64,
}

/// A session after the key exchange, before the peers proved who they are.
pub struct Keyed {
    /// What each side signs: the hash of the protocol name and both ephemeral keys.
    pub transcript: [u8; 32],
    /// Sending half.
    pub sender: Sender,
    /// Receiving half.
    pub receiver: Receiver,
}

/// Exchanges ephemeral keys on `stream` and derives the session keys. `secret` is 32 random
/// bytes the caller drew for this session only.
pub fn key_exchange(
    mut stream: TcpStream,
    role: Role,
    secret: [u8; 32],
) -> Result<Keyed, SessionError> {
    let mine = MontgomeryPoint::mul_base_clamped(secret);
    let mut hello = [0u8; 40];
    hello[..8].copy_from_slice(MAGIC);
    hello[8..].copy_from_slice(mine.as_bytes());
    stream.write_all(&hello)?;
    let mut theirs = [0u8; 40];
    stream.read_exact(&mut theirs)?;
    if &theirs[..8] != MAGIC {
        return Err(SessionError::Protocol(
            "not a Tessera gate (or another version)",
        ));
    }
    let mut peer = [0u8; 32];
    peer.copy_from_slice(&theirs[8..]);
    let shared = MontgomeryPoint(peer).mul_clamped(secret);
    if shared.as_bytes().iter().all(|&b| b == 0) {
        return Err(SessionError::Protocol("a degenerate key"));
    }
    let (dialer, listener) = match role {
        Role::Dialer => (mine.to_bytes(), peer),
        Role::Listener => (peer, mine.to_bytes()),
    };
    let transcript: [u8; 32] = Sha256::new()
        .chain_update(MAGIC)
        .chain_update(dialer)
        .chain_update(listener)
        .finalize()
        .into();
    let (to_listener, to_dialer) = derive_keys(shared.as_bytes(), &transcript);
    let (send_key, recv_key) = match role {
        Role::Dialer => (to_listener, to_dialer),
        Role::Listener => (to_dialer, to_listener),
    };
    let read = stream.try_clone()?;
    Ok(Keyed {
        transcript,
        sender: Sender {
            stream,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&send_key)),
            counter: 0,
            bytes: 40,
        },
        receiver: Receiver {
            stream: read,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&recv_key)),
            counter: 0,
        },
    })
}

/// HKDF-SHA256 (RFC 5869) with the transcript as salt: the dialer-to-listener key, then the
/// listener-to-dialer key.
fn derive_keys(shared: &[u8; 32], transcript: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let hmac = |key: &[u8], parts: &[&[u8]]| -> [u8; 32] {
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    };
    let info: &[u8] = b"tessera mesh session keys v1";
    let prk = hmac(transcript, &[shared]);
    let first = hmac(&prk, &[info, &[1]]);
    let second = hmac(&prk, &[&first, info, &[2]]);
    (first, second)
}

fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

impl Sender {
    /// Encrypts and writes one frame.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        if plaintext.len() > MAX_FRAME {
            return Err(SessionError::Protocol("frame too large"));
        }
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce(self.counter)), plaintext)
            .map_err(|_| SessionError::Protocol("encryption failed"))?;
        self.counter += 1;
        let len =
            u16::try_from(sealed.len()).map_err(|_| SessionError::Protocol("frame too large"))?;
        let mut frame = Vec::with_capacity(2 + sealed.len());
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&sealed);
        self.stream.write_all(&frame)?;
        self.bytes += frame.len() as u64;
        Ok(())
    }

    /// Closes both directions of the connection.
    pub fn shutdown(&self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Receiver {
    /// Reads and decrypts one frame.
    pub fn recv(&mut self) -> Result<Vec<u8>, SessionError> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len)?;
        let len = usize::from(u16::from_be_bytes(len));
        if len < TAG {
            return Err(SessionError::Protocol("short frame"));
        }
        let mut sealed = vec![0u8; len];
        self.stream.read_exact(&mut sealed)?;
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce(self.counter)), sealed.as_slice())
            .map_err(|_| SessionError::Protocol("a frame did not decrypt"))?;
        self.counter += 1;
        Ok(plain)
    }

    /// The socket, to set its read timeout.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair() -> (Keyed, Keyed) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            key_exchange(s, Role::Listener, [2; 32]).unwrap()
        });
        let d = key_exchange(TcpStream::connect(addr).unwrap(), Role::Dialer, [1; 32]).unwrap();
        (d, t.join().unwrap())
    }

    #[test]
    fn both_ends_agree_and_frames_round_trip_both_ways() {
        let (mut d, mut l) = pair();
        assert_eq!(d.transcript, l.transcript);
        d.sender.send(b"hello").unwrap();
        d.sender.send(&[7u8; MAX_FRAME]).unwrap();
        assert_eq!(l.receiver.recv().unwrap(), b"hello");
        assert_eq!(l.receiver.recv().unwrap(), vec![7u8; MAX_FRAME]);
        l.sender.send(b"back").unwrap();
        assert_eq!(d.receiver.recv().unwrap(), b"back");
        assert!(d.sender.send(&[0u8; MAX_FRAME + 1]).is_err());
    }

    #[test]
    fn a_changed_byte_on_the_wire_ends_the_session() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut k = key_exchange(s, Role::Listener, [2; 32]).unwrap();
            k.receiver.recv()
        });
        let mut stream = TcpStream::connect(addr).unwrap();
        let raw = stream.try_clone().unwrap();
        let d = key_exchange(raw, Role::Dialer, [1; 32]).unwrap();
        // Seal a frame, flip a byte of its ciphertext, and write that instead.
        let sealed = d
            .sender
            .cipher
            .encrypt(Nonce::from_slice(&nonce(0)), &b"admit"[..])
            .unwrap();
        let mut frame = (sealed.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&sealed);
        frame[4] ^= 1;
        stream.write_all(&frame).unwrap();
        assert!(matches!(t.join().unwrap(), Err(SessionError::Protocol(_))));
    }

    #[test]
    fn a_stranger_that_speaks_something_else_is_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            key_exchange(s, Role::Listener, [2; 32]).err()
        });
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: gate.example\r\nAccept: */*\r\n\r\n")
            .unwrap();
        assert!(matches!(t.join().unwrap(), Some(SessionError::Protocol(_))));
    }
}
