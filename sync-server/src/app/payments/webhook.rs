//! Stripe webhooks: the `Stripe-Signature` check (HMAC-SHA256 over `"{t}.{payload}"` with
//! the endpoint's secret, a timestamp tolerance, any of several `v1` signatures), the few
//! event fields Tessera reads, and the HTTP endpoint. Verification is pure (time is a
//! parameter) so it is tested without a clock; what an event does to orders is in the
//! parent module.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Why a webhook request was refused. Nothing is stored or changed for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header.
    #[error("the Stripe-Signature header is missing")]
    Missing,
    /// The header has no `t=` or no `v1=`, or a malformed one.
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    /// No `v1` signature matches the payload under the endpoint secret.
    #[error("no v1 signature matches the payload: check the webhook signing secret")]
    Mismatch,
    /// The timestamp is outside the tolerance (a replay, or a badly wrong clock).
    #[error("the signature timestamp is {age_secs} s away from now, more than {tolerance_secs} s")]
    Stale {
        /// Seconds between the signature and now.
        age_secs: i64,
        /// The tolerance in force.
        tolerance_secs: i64,
    },
}

/// The hex HMAC-SHA256 Stripe puts in `v1=`: over `"{timestamp}.{payload}"`, keyed with the
/// whole endpoint secret (`whsec_...` included, as Stripe does).
pub fn sign(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, payload).finalize().into_bytes())
}

fn mac(secret: &str, timestamp: i64, payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac
}

/// A `Stripe-Signature` header value as Stripe sends it.
pub fn signature_header(secret: &str, timestamp: i64, payload: &[u8]) -> String {
    format!("t={timestamp},v1={}", sign(secret, timestamp, payload))
}

/// Checks a `Stripe-Signature` header against the payload: one of its `v1` values must be
/// the HMAC (compared in constant time) and its timestamp within `tolerance_secs` of `now`.
/// Other schemes (`v0`) are ignored, as Stripe's libraries do.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            continue;
        };
        match key {
            "t" => timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let matches = signatures
        .iter()
        .any(|sig| mac(secret, timestamp, payload).verify_slice(sig).is_ok());
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    let age = now.saturating_sub(timestamp);
    if age.abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            age_secs: age,
            tolerance_secs,
        });
    }
    Ok(())
}

/// The parts of a Stripe event Tessera reads (the whole payload is stored).
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `evt_...`: the deduplication key.
    pub id: String,
    /// `checkout.session.completed`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The object the event is about.
    pub data: EventData,
}

/// `data` of an event.
#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    /// The object the event is about: a Checkout Session for `checkout.session.*`, anything
    /// else for the types Tessera ignores, so it is read leniently (see [`Event::session`]).
    pub object: serde_json::Value,
}

impl Event {
    /// The Checkout Session fields of `data.object`; a field that is absent or of another
    /// shape (another object type, an expanded sub-object) reads as `None`, so an event
    /// Tessera does not act on is never refused for its shape.
    pub fn session(&self) -> SessionObject {
        let o = &self.data.object;
        let text = |k: &str| {
            o.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        SessionObject {
            id: text("id"),
            client_reference_id: text("client_reference_id"),
            amount_total: o.get("amount_total").and_then(serde_json::Value::as_i64),
            currency: text("currency"),
            payment_status: text("payment_status"),
            payment_intent: text("payment_intent"),
        }
    }
}

/// The Checkout Session fields Tessera reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionObject {
    /// `cs_...`.
    pub id: Option<String>,
    /// The order id Tessera put in.
    pub client_reference_id: Option<String>,
    /// What the buyer paid, minor units.
    pub amount_total: Option<i64>,
    /// Lowercase ISO 4217 code.
    pub currency: Option<String>,
    /// `paid`, `unpaid` (async methods still settling), `no_payment_required`.
    pub payment_status: Option<String>,
    /// `pi_...`, needed for refunds.
    pub payment_intent: Option<String>,
}

impl SessionObject {
    /// The order this session pays for.
    pub fn order_id(&self) -> Option<i64> {
        self.client_reference_id.as_deref()?.parse().ok()
    }
}

/// What the webhook answers on success.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookOut {
    /// The event id.
    pub id: String,
    /// What handling it did: `issued`, `reissued_after_expiry`, `duplicate`,
    /// `refunded_late_payment`, `expired`, `awaiting_async_payment`, `ignored`, ...
    pub outcome: String,
}

/// Why the webhook refused an event; each maps to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// 404: no webhook secret configured (demo mode).
    #[error("Stripe webhooks are not configured on this server")]
    NotConfigured,
    /// 400: missing, malformed, wrong or stale signature.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// 400: not a Stripe event.
    #[error("the body is not a Stripe event: {0}")]
    Malformed(String),
    /// 422: the event names no order of ours.
    #[error("the event names no known order")]
    UnknownOrder,
    /// 422: the session is not the one created for the order.
    #[error("the Checkout Session is not the one created for this order")]
    SessionMismatch,
    /// 422: paid amount or currency differs from the order's.
    #[error("paid {paid} but the order costs {expected}")]
    AmountMismatch {
        /// What Stripe reports.
        paid: String,
        /// What the order costs.
        expected: String,
    },
    /// 500 (Stripe retries): the store or Stripe failed.
    #[error("internal error")]
    Internal(String),
}

impl WebhookError {
    /// The stable code, also stored as the event's outcome when it was stored.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Signature(SignatureError::Missing) => "missing_signature",
            Self::Signature(SignatureError::Malformed) => "malformed_signature",
            Self::Signature(SignatureError::Mismatch) => "bad_signature",
            Self::Signature(SignatureError::Stale { .. }) => "stale_signature",
            Self::Malformed(_) => "malformed_event",
            Self::UnknownOrder => "unknown_order",
            Self::SessionMismatch => "session_mismatch",
            Self::AmountMismatch { .. } => "amount_mismatch",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<crate::store::StoreError> for WebhookError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";

    #[test]
    fn a_signature_made_like_stripes_verifies() {
        let body = br#"{"id":"evt_1"}"#;
        let header = signature_header(SECRET, 1_700_000_000, body);
        assert_eq!(
            verify(Some(&header), body, SECRET, 1_700_000_010, 300),
            Ok(())
        );
    }

    #[test]
    fn any_of_several_v1_values_may_match() {
        let body = b"{}";
        let good = sign(SECRET, 100, body);
        let header = format!("t=100,v1={},v0=abc,v1={good}", "00".repeat(32));
        assert_eq!(verify(Some(&header), body, SECRET, 100, 300), Ok(()));
    }

    #[test]
    fn tampering_wrong_secret_stale_and_malformed_are_refused() {
        let body = b"{\"amount\":100}";
        let header = signature_header(SECRET, 1000, body);
        assert_eq!(
            verify(Some(&header), b"{\"amount\":1}", SECRET, 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), body, "whsec_other", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify(Some(&header), body, SECRET, 1301, 300),
            Err(SignatureError::Stale { age_secs: 301, .. })
        ));
        assert_eq!(
            verify(None, body, SECRET, 1000, 300),
            Err(SignatureError::Missing)
        );
        for bad in ["", "v1=00", "t=abc,v1=00", "t=1000"] {
            assert!(verify(Some(bad), body, SECRET, 1000, 300).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_of_other_shapes_parse_and_read_as_no_session() {
        let charge = r#"{"id":"evt_c","type":"charge.refunded","data":{"object":
            {"id":"ch_1","object":"charge","payment_intent":{"id":"pi_1"},"amount":5}}}"#;
        let event: Event = serde_json::from_str(charge).unwrap();
        let s = event.session();
        assert_eq!(s.id.as_deref(), Some("ch_1"));
        assert_eq!(
            (s.order_id(), s.amount_total, s.payment_intent),
            (None, None, None)
        );
    }
}
