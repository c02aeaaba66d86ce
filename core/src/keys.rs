//! The keyring: the public keys a verifier trusts, by key id, each active or retired.
//!
//! Devices fill it from sync (or a key file); the server from its key table. Rotation adds a
//! new active key while the old one keeps verifying; retiring a key makes every ticket it
//! signed unacceptable at once.

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use thiserror::Error;

use crate::ids::KeyId;

/// Whether tickets signed by a key are still accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Tickets signed by it verify.
    Active,
    /// Tickets signed by it are refused with [`crate::VerifyError::RetiredKey`].
    Retired,
}

/// A public key that cannot be used to verify anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum InvalidKey {
    /// The 32 bytes are not a point on the curve.
    #[error("key {0}: not a valid Ed25519 public key")]
    NotAPoint(KeyId),
    /// A small-order point, under which forged signatures could verify.
    #[error("key {0}: a weak (small-order) Ed25519 public key")]
    Weak(KeyId),
}

/// The public keys a verifier trusts, by id.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<KeyId, (VerifyingKey, KeyStatus)>,
}

impl Keyring {
    /// An empty keyring: every ticket is refused with `UnknownKey`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a key.
    pub fn insert(
        &mut self,
        id: KeyId,
        public: &[u8; 32],
        status: KeyStatus,
    ) -> Result<(), InvalidKey> {
        let key = VerifyingKey::from_bytes(public).map_err(|_| InvalidKey::NotAPoint(id))?;
        if key.is_weak() {
            return Err(InvalidKey::Weak(id));
        }
        self.keys.insert(id, (key, status));
        Ok(())
    }

    /// Marks a known key retired; returns whether the key was known.
    pub fn retire(&mut self, id: KeyId) -> bool {
        self.keys
            .get_mut(&id)
            .map(|(_, status)| *status = KeyStatus::Retired)
            .is_some()
    }

    /// The key and its status.
    pub fn get(&self, id: KeyId) -> Option<(&VerifyingKey, KeyStatus)> {
        self.keys.get(&id).map(|(key, status)| (key, *status))
    }

    /// Key ids with their status, ascending by id.
    pub fn ids(&self) -> impl Iterator<Item = (KeyId, KeyStatus)> + '_ {
        self.keys.iter().map(|(id, (_, status))| (*id, *status))
    }

    /// How many keys it holds, active or retired.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
