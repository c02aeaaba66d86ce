//! Signing keys: created on first start, seeds sealed at rest with XChaCha20-Poly1305 under
//! a master key (from config, or a 0600 key file in the data dir), rotated by
//! `keys rotate`. Owns the server's [`TicketSigner`] and [`Keyring`]; the ticket format
//! itself is tessera-core's.

use std::io::Write;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tessera_core::{KeyId, KeyStatus, Keyring, TicketSigner};

use crate::config::{Secret, Settings};
use crate::store::{KeyRow, KeyState, Store, StoreError};

const NONCE_LEN: usize = 24;

/// Why the keys could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The master key in the settings is not 64 hex digits.
    #[error("master_key must be 64 hex digits (32 bytes)")]
    BadMasterKey,
    /// The master key file could not be read or created.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A sealed seed does not open under this master key.
    #[error(
        "cannot decrypt signing key {0}: wrong master key (every server instance on one database must share master_key)"
    )]
    WrongMasterKey(i64),
    /// A stored key is unusable.
    #[error("signing key {0} is corrupt")]
    Corrupt(i64),
    /// No more key ids.
    #[error("all 65535 key ids are used")]
    Exhausted,
    /// No signing key has this id.
    #[error("there is no signing key {0} (see `tessera-server keys list`)")]
    UnknownKey(i64),
    /// The key signs new tickets: another must take over first.
    #[error(
        "key {0} signs new tickets: rotate first (`tessera-server keys rotate`), then retire it"
    )]
    SigningKey(i64),
    /// The OS random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// HMAC accepts keys of any length; this is never reached.
fn unreachable_hmac() -> ! {
    panic!("HMAC-SHA256 accepts every key length")
}

/// Fills `buf` from the OS random number generator.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}

/// The key that seals signing seeds at rest and derives the order access-token key.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    token_key: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// The configured master key, or the key file in the data dir (created with mode 0600
    /// on first use).
    pub fn load(settings: &Settings) -> Result<Self, KeyError> {
        match &settings.master_key {
            Some(secret) => Self::from_hex(secret),
            None => Self::from_file(&settings.data_dir.join("master.key")),
        }
    }

    fn from_hex(secret: &Secret) -> Result<Self, KeyError> {
        let bytes = hex::decode(secret.expose().trim()).map_err(|_| KeyError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::BadMasterKey)?;
        Ok(Self::from_bytes(key))
    }

    fn from_bytes(key: [u8; 32]) -> Self {
        // A separate key for access tokens, so a token never doubles as encryption input.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| {
            unreachable_hmac();
        });
        mac.update(b"tessera order access token v1");
        Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            token_key: mac.finalize().into_bytes().into(),
        }
    }

    /// The access token of an order: `HMAC-SHA256(token key, order id)` in hex. Derived, not
    /// stored: the database keeps only its SHA-256, and the email worker can still put the
    /// order page's link in the confirmation (see `docs/adr/0003-keys-and-tokens.md`).
    pub fn order_token(&self, order_id: i64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.token_key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(&order_id.to_be_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A token derived for one purpose: `HMAC-SHA256(token key, label || 0 || data)` in hex.
    /// Used for the links of account emails and per-ticket access tokens.
    pub fn derive_token(&self, label: &str, data: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.token_key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        hex::encode(mac.finalize().into_bytes())
    }

    /// The `authenticationToken` of a wallet pass: `HMAC-SHA256(token key, label || serial)`
    /// in hex. Derived like order tokens, so nothing is stored and every instance agrees;
    /// the label keeps it apart from order tokens (whose input is 8 bytes).
    pub fn pass_token(&self, serial: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.token_key)
            .unwrap_or_else(|_| unreachable_hmac());
        mac.update(b"tessera wallet pass v1\0");
        mac.update(serial.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn from_file(path: &Path) -> Result<Self, KeyError> {
        let err = |source| KeyError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&Secret::new(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(err)?;
                }
                let mut key = [0u8; 32];
                random_bytes(&mut key)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                match options.open(path) {
                    Ok(mut file) => {
                        file.write_all(hex::encode(key).as_bytes()).map_err(err)?;
                        file.sync_all().map_err(err)?;
                        Ok(Self::from_bytes(key))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let text = std::fs::read_to_string(path).map_err(err)?;
                        Self::from_hex(&Secret::new(text))
                    }
                    Err(e) => Err(err(e)),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Encrypts a seed; the key id is authenticated so a sealed seed cannot be moved to
    /// another id.
    fn seal(&self, id: i64, seed: &[u8; 32]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let aad = id.to_be_bytes();
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: seed,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Corrupt(id))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn open(&self, id: i64, sealed: &[u8]) -> Result<[u8; 32], KeyError> {
        if sealed.len() <= NONCE_LEN {
            return Err(KeyError::Corrupt(id));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let aad = id.to_be_bytes();
        let seed = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::WrongMasterKey(id))?;
        seed.try_into().map_err(|_| KeyError::Corrupt(id))
    }
}

/// The server's keys: the newest active key signs, every stored key is in the keyring.
#[derive(Debug)]
pub struct Keys {
    signer: TicketSigner,
    keyring: Keyring,
    published: Vec<PublishedKey>,
}

/// A public key as `GET /api/v1/keys` publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    /// Key id.
    pub id: u16,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
    /// Active or retired.
    pub state: KeyState,
}

impl Keys {
    /// Loads the keys, creating key 1 if there is none (safe when several instances start
    /// at once: the first insert wins and the others load it).
    pub async fn load_or_create(store: &dyn Store, master: &MasterKey) -> Result<Self, KeyError> {
        let mut rows = store.signing_keys().await?;
        if !rows.iter().any(|r| r.state == KeyState::Active) {
            let next = rows.iter().map(|r| r.id).max().unwrap_or(0) + 1;
            create_key(store, master, next).await?;
            rows = store.signing_keys().await?;
        }
        Self::from_rows(&rows, master)
    }

    /// Adds a new active key with the next id; older keys keep verifying. Returns its id.
    pub async fn rotate(store: &dyn Store, master: &MasterKey) -> Result<u16, KeyError> {
        loop {
            let rows = store.signing_keys().await?;
            // Refuse to rotate under a different master key: the old keys must stay usable.
            for row in &rows {
                master.open(row.id, &row.sealed_seed)?;
            }
            let next = rows.iter().map(|r| r.id).max().unwrap_or(0) + 1;
            if create_key(store, master, next).await? {
                return u16::try_from(next).map_err(|_| KeyError::Exhausted);
            }
        }
    }

    /// Retires a key: from then on every ticket it signed is refused (`retired_key`), by the
    /// server at once and by each gate at its next sync (the feed carries the key's state).
    /// The key that signs new tickets (the newest active one) is refused: rotate first.
    /// Retiring a retired key changes nothing.
    pub async fn retire(store: &dyn Store, key_id: i64) -> Result<(), KeyError> {
        let rows = store.signing_keys().await?;
        let key = rows
            .iter()
            .find(|r| r.id == key_id)
            .ok_or(KeyError::UnknownKey(key_id))?;
        if key.state == KeyState::Retired {
            return Ok(());
        }
        let signer = rows
            .iter()
            .filter(|r| r.state == KeyState::Active)
            .map(|r| r.id)
            .max();
        if signer == Some(key_id) {
            return Err(KeyError::SigningKey(key_id));
        }
        store.set_key_state(key_id, KeyState::Retired).await?;
        Ok(())
    }

    fn from_rows(rows: &[KeyRow], master: &MasterKey) -> Result<Self, KeyError> {
        let mut keyring = Keyring::new();
        let mut published = Vec::new();
        let mut signer = None;
        for row in rows {
            let id = u16::try_from(row.id).map_err(|_| KeyError::Corrupt(row.id))?;
            let public: [u8; 32] = row
                .public_key
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::Corrupt(row.id))?;
            let status = match row.state {
                KeyState::Active => KeyStatus::Active,
                KeyState::Retired => KeyStatus::Retired,
            };
            keyring
                .insert(KeyId(id), &public, status)
                .map_err(|_| KeyError::Corrupt(row.id))?;
            published.push(PublishedKey {
                id,
                public_key: public,
                state: row.state,
            });
            if row.state == KeyState::Active {
                let seed = master.open(row.id, &row.sealed_seed)?;
                let candidate = TicketSigner::from_seed(KeyId(id), &seed);
                if candidate.public_key() != public {
                    return Err(KeyError::Corrupt(row.id));
                }
                // Rows come by ascending id: the last active one is the newest.
                signer = Some(candidate);
            }
        }
        let signer = signer.ok_or(KeyError::Exhausted)?;
        Ok(Self {
            signer,
            keyring,
            published,
        })
    }

    /// The key that signs new tickets.
    pub fn signer(&self) -> &TicketSigner {
        &self.signer
    }

    /// Every key, active or retired, for verification.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The public keys, by id.
    pub fn published(&self) -> &[PublishedKey] {
        &self.published
    }
}

/// Creates and stores key `id`; false if another process took the id first.
async fn create_key(store: &dyn Store, master: &MasterKey, id: i64) -> Result<bool, KeyError> {
    let key_id = u16::try_from(id).map_err(|_| KeyError::Exhausted)?;
    let mut seed = [0u8; 32];
    random_bytes(&mut seed)?;
    let signer = TicketSigner::from_seed(KeyId(key_id), &seed);
    let row = KeyRow {
        id,
        public_key: signer.public_key().to_vec(),
        sealed_seed: master.seal(id, &seed)?,
        state: KeyState::Active,
        created_at: chrono::Utc::now().timestamp(),
    };
    Ok(store.insert_signing_key(&row).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_seed_opens_only_with_its_key_and_id() {
        let a = MasterKey::from_hex(&Secret::new("11".repeat(32))).unwrap();
        let b = MasterKey::from_hex(&Secret::new("22".repeat(32))).unwrap();
        let seed = [7u8; 32];
        let sealed = a.seal(1, &seed).unwrap();
        assert_eq!(a.open(1, &sealed).unwrap(), seed);
        assert!(matches!(
            b.open(1, &sealed),
            Err(KeyError::WrongMasterKey(1))
        ));
        assert!(a.open(2, &sealed).is_err());
        assert!(!sealed.windows(32).any(|w| w == seed));
    }

    #[test]
    fn master_key_must_be_32_bytes_of_hex() {
        assert!(MasterKey::from_hex(&Secret::new("abcd")).is_err());
        assert!(MasterKey::from_hex(&Secret::new("zz".repeat(32))).is_err());
    }
}
