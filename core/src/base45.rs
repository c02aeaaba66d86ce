//! Base45 (RFC 9285): bytes as text in the 45-character alphabet of the QR alphanumeric mode.
//!
//! QR alphanumeric mode stores 5.5 bits per character against 8 bits per byte in byte mode,
//! and every decoder (phones, zbar, USB scanners typing into a text field) returns the text
//! unchanged, where byte mode is often re-encoded as Latin-1 or UTF-8 on the way.

use thiserror::Error;

const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Why a string is not valid base45.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Base45Error {
    /// A character outside the base45 alphabet (lower case letters included).
    #[error("character {0:?} at position {1} is not in the base45 alphabet")]
    BadCharacter(char, usize),
    /// The length leaves a single dangling character, which no byte sequence encodes to.
    #[error("base45 text of length {0} cannot be decoded: a single trailing character")]
    BadLength(usize),
    /// A group decodes to a value too large for its bytes (non-canonical encoding).
    #[error("base45 group at position {0} is out of range")]
    OutOfRange(usize),
}

/// Encodes bytes as base45 text.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(2) * 3);
    let mut push = |v: usize| {
        if let Some(&c) = ALPHABET.get(v % 45) {
            out.push(char::from(c));
        }
    };
    for pair in bytes.chunks(2) {
        match *pair {
            [a, b] => {
                let n = usize::from(a) * 256 + usize::from(b);
                push(n);
                push(n / 45);
                push(n / (45 * 45));
            }
            [a] => {
                let n = usize::from(a);
                push(n);
                push(n / 45);
            }
            _ => {}
        }
    }
    out
}

fn value(c: u8, position: usize) -> Result<u32, Base45Error> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .map(|v| v as u32)
        .ok_or(Base45Error::BadCharacter(char::from(c), position))
}

/// Decodes base45 text; rejects anything that [`encode`] would not have produced.
pub fn decode(text: &str) -> Result<Vec<u8>, Base45Error> {
    let raw = text.as_bytes();
    if raw.len() % 3 == 1 {
        return Err(Base45Error::BadLength(raw.len()));
    }
    let mut out = Vec::with_capacity(raw.len() / 3 * 2 + 1);
    for (group, chunk) in raw.chunks(3).enumerate() {
        let at = group * 3;
        let digits = chunk
            .iter()
            .enumerate()
            .map(|(i, &c)| value(c, at + i))
            .collect::<Result<Vec<_>, _>>()?;
        match *digits.as_slice() {
            [c, d, e] => {
                let n = c + d * 45 + e * 45 * 45;
                let n = u16::try_from(n).map_err(|_| Base45Error::OutOfRange(at))?;
                out.extend_from_slice(&n.to_be_bytes());
            }
            [c, d] => {
                let n = c + d * 45;
                out.push(u8::try_from(n).map_err(|_| Base45Error::OutOfRange(at))?);
            }
            _ => return Err(Base45Error::BadLength(raw.len())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9285_examples() {
        assert_eq!(encode(b"AB"), "BB8");
        assert_eq!(encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(encode(b""), "");
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn rejects_non_canonical_and_foreign_input() {
        assert_eq!(decode("GGW"), Err(Base45Error::OutOfRange(0)));
        assert_eq!(decode(":::"), Err(Base45Error::OutOfRange(0)));
        assert_eq!(decode("A"), Err(Base45Error::BadLength(1)));
        assert_eq!(decode("ab8"), Err(Base45Error::BadCharacter('a', 0)));
        assert!(matches!(
            decode("BB8é"),
            Err(Base45Error::BadCharacter(_, 3))
        ));
        // Two characters encode one byte: anything above 255 is not canonical.
        assert_eq!(decode("::"), Err(Base45Error::OutOfRange(0)));
    }
}
