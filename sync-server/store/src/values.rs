//! Typed values the store reads and writes: an email address normalised once, and the
//! closed sets of stored names (order status, outbox kind) as enums, so no caller compares
//! strings by hand.

use std::fmt;

/// An email address as the server compares and stores it: trimmed and ASCII-lowercased.
///
/// Only ASCII is folded: lowercasing non-ASCII letters could merge two addresses that a
/// mail server keeps apart (the local part is case-sensitive by the RFC; only the common
/// ASCII convention is safe to fold).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Normalises `raw` (no validation: see the server's contact rules for that).
    pub fn new(raw: &str) -> Self {
        Self(normalize_email(raw))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Email {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Email {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Email {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// The one normalisation of an address: trimmed, ASCII-lowercased ([`Email`]).
pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_ascii_folded_only() {
        assert_eq!(Email::new("  Ana@Example.ORG "), "ana@example.org");
        assert_eq!(
            Email::new("ÄRZTE@example.org").as_str(),
            "Ärzte@example.org"
        );
    }
}
