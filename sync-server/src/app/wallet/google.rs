//! Google Wallet: the "Save to Google Wallet" link of a ticket, a JWT signed RS256 with the
//! organizer's service-account key (or a generated demo key) that carries the event's ticket
//! class and the ticket revision's object. Building the claims is pure; only signing needs
//! the key. Objects already saved are not updated from here (that takes Google's REST API).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{Value, json};

use super::WalletError;
use crate::config::GoogleWalletSettings;
use crate::domain::i18n::{self, Arg, Lang};
use crate::domain::render::valid_days_in;
use crate::store::{Order, TicketView};
use crate::store::{OrderStatus, TicketStatus};

/// The issuer id demo links carry.
pub const DEMO_ISSUER_ID: &str = "3388000000000000000";
/// The service-account email demo JWTs are issued by.
pub const DEMO_CLIENT_EMAIL: &str = "tessera-demo@tessera.invalid";
const DEMO_FILE: &str = "google-demo-key.pem";
/// Where a save JWT is sent.
pub const SAVE_URL: &str = "https://pay.google.com/gp/v/save/";

/// A service account that may write to an issuer's passes.
pub struct GoogleSigner {
    /// The Google Wallet issuer id (the prefix of class and object ids).
    pub issuer_id: String,
    /// The service account, the JWT's `iss`.
    pub client_email: String,
    /// True for the generated demo key.
    pub demo: bool,
    key: PKey<Private>,
}

impl std::fmt::Debug for GoogleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSigner")
            .field("issuer_id", &self.issuer_id)
            .field("client_email", &self.client_email)
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: String,
}

impl GoogleSigner {
    /// The configured service account, or `None` when no key file is set (demo mode).
    pub fn from_settings(google: &GoogleWalletSettings) -> Result<Option<Self>, WalletError> {
        let Some(path) = &google.service_account_key else {
            return Ok(None);
        };
        let issuer_id = google
            .issuer_id
            .clone()
            .ok_or(WalletError::Incomplete("wallet.google.issuer_id"))?;
        let text = std::fs::read(path).map_err(|source| WalletError::File {
            what: "Google service account key",
            path: path.display().to_string(),
            source,
        })?;
        let credential = |reason: String| WalletError::Credential {
            what: "Google service account key",
            path: path.display().to_string(),
            reason,
        };
        // The parse error may quote the file, and the file holds the private key.
        let account: ServiceAccount = serde_json::from_slice(&text).map_err(|_| {
            credential("not a service account JSON key with client_email and private_key".into())
        })?;
        let key = PKey::private_key_from_pem(account.private_key.as_bytes())
            .map_err(|e| credential(e.to_string()))?;
        if key.rsa().is_err() {
            return Err(credential("the private key is not an RSA key".into()));
        }
        Ok(Some(Self {
            issuer_id,
            client_email: account.client_email,
            demo: false,
            key,
        }))
    }

    /// The demo key in `dir`, generated on first use (0600).
    pub fn demo(dir: &Path) -> Result<Self, WalletError> {
        let path = dir.join(DEMO_FILE);
        let pem = super::load_or_create(&path, || {
            Ok(super::apple::rsa_key()?.private_key_to_pem_pkcs8()?)
        })?;
        let key = PKey::private_key_from_pem(&pem).map_err(|e| WalletError::Credential {
            what: "demo Google key",
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            issuer_id: DEMO_ISSUER_ID.to_owned(),
            client_email: DEMO_CLIENT_EMAIL.to_owned(),
            demo: true,
            key,
        })
    }

    /// `header.payload.signature`, RS256.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, WalletError> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let mut signer = Signer::new(MessageDigest::sha256(), &self.key)?;
        signer.update(signing_input.as_bytes())?;
        let signature = URL_SAFE_NO_PAD.encode(signer.sign_to_vec()?);
        Ok(format!("{signing_input}.{signature}"))
    }
}

/// The id of an event's ticket class.
pub fn class_id(issuer_id: &str, event_id: i64) -> String {
    format!("{issuer_id}.event-{event_id}")
}

/// The id of a ticket revision's object: a transfer makes a new object for the new holder.
pub fn object_id(issuer_id: &str, ticket_id: i64, revision: i64) -> String {
    format!("{issuer_id}.ticket-{ticket_id}-r{revision}")
}

/// A value in the language it is written in.
fn localized(lang: Lang, value: &str) -> Value {
    json!({"defaultValue": {"language": lang.code(), "value": value}})
}

/// The save-to-wallet claims of a ticket's current revision: `ACTIVE` while it is valid,
/// `INACTIVE` once it is void or its order refunded.
pub fn save_claims(
    signer: &GoogleSigner,
    organization: &str,
    origin: &str,
    order: &Order,
    ticket: &TicketView,
    now: i64,
) -> Value {
    let t = ticket;
    // Labels in the order's language, as on its PDF.
    let lang = Lang::parse(&order.lang).unwrap_or_default();
    let w = |key: &str| i18n::message(lang, key, &[]);
    let localized = |value: &str| localized(lang, value);
    let active = t.status == TicketStatus::Valid && order.status == OrderStatus::Paid;
    let demo = if signer.demo {
        format!(" ({})", w("wallet-demo"))
    } else {
        String::new()
    };
    let mut class = json!({
        "id": class_id(&signer.issuer_id, t.event.id),
        "issuerName": format!("{organization}{demo}"),
        "reviewStatus": "UNDER_REVIEW",
        "eventName": localized(&t.event.name),
        "venue": {"name": localized(&t.event.venue), "address": localized(&t.event.venue)},
    });
    // The event runs from its first day's local midnight to the midnight after its last.
    let start = t
        .event
        .days
        .first()
        .and_then(|d| super::apple::local_iso(&t.event.timezone, *d, chrono::NaiveTime::MIN));
    let end = t
        .event
        .days
        .last()
        .and_then(|d| d.succ_opt())
        .and_then(|d| super::apple::local_iso(&t.event.timezone, d, chrono::NaiveTime::MIN));
    if let (Some(start), Some(end)) = (start, end) {
        class["dateTime"] = json!({"start": start, "end": end});
    }
    let mut modules = vec![json!({
        "id": "valid",
        "header": w("wallet-valid-header"),
        "body": i18n::days_list(lang, &valid_days_in(lang, t.days_mask, &t.event.days)),
    })];
    if let Some(detail) = i18n::vendor_line(lang, t) {
        // A vendor pass: business and booth, as the gate shows them, in the order's words.
        modules.push(json!({"id": "vendor", "header": w("wallet-vendor-header"), "body": detail}));
    }
    let object = json!({
        "id": object_id(&signer.issuer_id, t.id, t.revision),
        "classId": class_id(&signer.issuer_id, t.event.id),
        "state": if active { "ACTIVE" } else { "INACTIVE" },
        "barcode": {
            "type": "QR_CODE",
            "value": t.qr_text,
            "alternateText": i18n::message(lang, "ticket-n", &[("id", Arg::Number(t.id))]),
        },
        "ticketHolderName": t.holder_name,
        "ticketNumber": t.id.to_string(),
        "ticketType": localized(&t.type_name),
        "textModulesData": modules,
    });
    json!({
        "iss": signer.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": now,
        "origins": [origin],
        "payload": {"eventTicketClasses": [class], "eventTicketObjects": [object]},
    })
}
