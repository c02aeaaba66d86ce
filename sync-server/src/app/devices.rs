//! Gate devices: one-time enrollment codes (only their hash is stored) and how a typed code
//! is read back. Enrollment itself, the change feed and uploads are `app::gates`.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::app::{AppError, Services};
use crate::store::NewEnrollmentCode;

/// Crockford's base32 without I, L, O, U: nothing to misread when typing a code.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// What is stored of a secret (codes, tokens): its SHA-256.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Normalizes a typed code: upper case, no separators, easily confused letters mapped.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// Creates a one-time enrollment code for a device; returns it as staff will type it
/// (`XXXX-XXXX-XXXX`). Only its hash is stored.
pub async fn create_device_code(
    state: &Services,
    event_id: i64,
    name: &str,
    gate: Option<&str>,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let mut raw = [0u8; 12];
    crate::app::keys::random_bytes(&mut raw).map_err(|e| AppError::Internal(e.to_string()))?;
    let chars: String = raw
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect();
    let code = format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12]);
    state
        .store
        .create_enrollment_code(&NewEnrollmentCode {
            code_hash: hash(&normalize_code(&code)),
            event_id,
            name: name.to_owned(),
            gate: gate.map(str::to_owned),
            created_at: now.timestamp(),
            expires_at: (now + ttl).timestamp(),
        })
        .await?;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_codes_normalize() {
        assert_eq!(normalize_code("abcd-efgh-jkmn"), "ABCDEFGHJKMN");
        assert_eq!(normalize_code(" O1L0 I "), "01101");
    }
}
