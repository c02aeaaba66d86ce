//! The gate devices' use-cases (docs/sync-protocol.md): enrolling a device with a one-time
//! code (and certifying its own key for the venue mesh), knowing a device by its token,
//! serving it a page of the change feed, and taking the check-ins it uploads or carries up
//! for a peer, judged with core's `decide` through [`tessera_core::reconcile`] — the same
//! function the devices ran offline.
//!
//! Device tokens and enrollment codes are stored only as SHA-256 hashes. Each refusal is a
//! [`GateError`]; `http::sync` maps it to the device API's statuses and codes. How a code is
//! made and read is `app::devices`; the pure shaping and judging is `domain::gates`.

use chrono::{DateTime, Utc};
use tessera_core::mesh::{
    CertificateClaims, MeshError, parse_device_id, valid_device_key, verify_certificate,
};
use tessera_core::sync::{
    CertificateRequest, CertificateResponse, ChangesPage, EnrollRequest, EnrollResponse, PROTOCOL,
    RelayRefusal, RelayRequest, RelayResponse, UploadCheckIn, UploadRequest, UploadResponse,
};
use tessera_core::{EventId, Keyring};

use crate::app::devices::{hash, normalize_code};
use crate::app::storage::NoRoom;
use crate::app::{AppError, Services};
use crate::domain::gates::{
    changes_page, check_in_shape, event_config, judge, read_relayed, relay_response,
    upload_response, verify_batch,
};
use crate::store::{
    Delivery, DeviceRow, IngestOutcome, Redeemed, StoreError, StoredCheckIn, TicketState,
};

/// Most check-ins in one upload.
pub const MAX_BATCH: usize = 1000;
/// Most changes in one page.
pub const MAX_PAGE: i64 = 10_000;
/// Changes in one page when the device does not say.
const DEFAULT_PAGE: i64 = 5_000;

/// A refused device request, in words for whoever holds the device.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The request is malformed: an unknown protocol, a bad id, a bad batch.
    #[error("{0}")]
    BadRequest(String),
    /// No device token, or one the server does not know.
    #[error("this endpoint needs a device token: enroll the device with a one-time code")]
    Unauthorized,
    /// The organizer revoked this device.
    #[error("device revoked by the organizer: enroll it again with a new code")]
    Revoked,
    /// An unknown enrollment code.
    #[error("unknown enrollment code: check it, or ask the organizer for a new one")]
    BadCode,
    /// The enrollment code has expired.
    #[error("this enrollment code has expired: ask the organizer for a new one")]
    CodeExpired,
    /// A certificate asked for another key than the one the device was enrolled with.
    #[error(
        "this device was enrolled with another key: enroll it again with a new code to rejoin the venue mesh"
    )]
    KeyMismatch,
    /// The enrollment code was used already.
    #[error("this enrollment code was already used: ask the organizer for a new one")]
    CodeUsed,
    /// A relayed batch's certificate does not verify against the server's active keys, or
    /// is another event's: nothing was stored.
    #[error(
        "the recording device's certificate is refused ({0}): drop that peer's check-ins; it uploads them itself"
    )]
    BadCertificate(MeshError),
    /// The certificate verifies, but this event has no device with that id and key (it
    /// enrolled again with another key, or never here): nothing was stored.
    #[error(
        "the certificate names no device of this event with that key (enrolled again since?): drop that peer's check-ins; it uploads them itself"
    )]
    UncertifiedDevice,
    /// An active device has this id; the code was not used.
    #[error(
        "a device with this id is enrolled and active: enroll this device with its own id, or revoke the other first"
    )]
    DeviceActive,
    /// The server cannot store data now (a full disk, its free-space floor, a lost
    /// database connection); nothing was stored, the device keeps its queue and retries.
    #[error("{0}")]
    StorageUnavailable(String),
    /// The store failed; the cause is logged, never returned.
    #[error("internal error")]
    Store(StoreError),
    /// Something else broke on our side; the cause is logged, never returned.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for GateError {
    /// A storage fault is the device's to retry (logged with its cause, as every use-case
    /// logs it); any other store error is ours.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                Self::StorageUnavailable(AppError::storage_unavailable(&cause).to_string())
            }
            other => Self::Store(other),
        }
    }
}

impl From<NoRoom> for GateError {
    fn from(e: NoRoom) -> Self {
        Self::StorageUnavailable(e.to_string())
    }
}

/// Records when a device was last seen. It is bookkeeping for organizers: a failure is
/// logged and the request goes on (a check-in batch already stored stays acknowledged).
async fn touch(
    services: &Services,
    device: &str,
    now_ms: i64,
    skew: Option<i64>,
    cursor: Option<i64>,
    queued: Option<i64>,
) {
    if let Err(e) = services
        .store
        .touch_device(device, now_ms, skew, cursor, queued)
        .await
    {
        tracing::warn!(device, error = %e, "could not record the device's visit");
    }
}

/// Records a visit that reports the device's clock (enrollment, uploads): its skew.
async fn touch_with_clock(
    services: &Services,
    device: &str,
    device_time: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    let skew = (device_time - now).num_milliseconds();
    touch(
        services,
        device,
        now.timestamp_millis(),
        Some(skew),
        None,
        None,
    )
    .await;
}

/// Exchanges a one-time enrollment code for a device token (shown once; only its hash is
/// stored), and records the device's clock skew.
pub async fn enroll(
    services: &Services,
    req: &EnrollRequest,
    now: DateTime<Utc>,
) -> Result<EnrollResponse, GateError> {
    if req.protocol != PROTOCOL {
        return Err(GateError::BadRequest(format!(
            "protocol {} is not spoken here (this server speaks {PROTOCOL}): update the app",
            req.protocol
        )));
    }
    let id_ok = req.device_id.len() == 32 && req.device_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !id_ok || req.app_version.len() > 64 {
        return Err(GateError::BadRequest(
            "device_id must be 32 hex digits and app_version at most 64 characters".into(),
        ));
    }
    let device_key = req.device_key.as_deref().map(device_key).transpose()?;
    let mut raw = [0u8; 32];
    crate::app::keys::random_bytes(&mut raw).map_err(|e| GateError::Internal(e.to_string()))?;
    let token = hex::encode(raw);
    let redeemed = services
        .store
        .redeem_enrollment_code(
            &hash(&normalize_code(&req.code)),
            &req.device_id.to_ascii_lowercase(),
            &hash(&token),
            &req.app_version,
            device_key.as_ref().map(|k| &k[..]),
            now.timestamp(),
        )
        .await?;
    let device = match redeemed {
        Redeemed::Device(d) => *d,
        Redeemed::Unknown => return Err(GateError::BadCode),
        Redeemed::Expired => return Err(GateError::CodeExpired),
        Redeemed::Used => return Err(GateError::CodeUsed),
        Redeemed::DeviceActive => return Err(GateError::DeviceActive),
    };
    touch_with_clock(services, &device.id, req.device_time, now).await;
    let certificate = match device_key {
        Some(key) => Some(certify(services, &device, key, now).await?),
        None => None,
    };
    tracing::info!(device = %device.id, mesh = certificate.is_some(), "device enrolled");
    Ok(EnrollResponse {
        protocol: PROTOCOL,
        device_id: device.id,
        name: device.name,
        gate: device.gate,
        token,
        server_time: now,
        certificate,
    })
}

/// A device key as enrollment presents it: 64 hex digits of an Ed25519 public key that may
/// be certified (not a weak one, with which anyone could sign as the device).
fn device_key(hex_text: &str) -> Result<[u8; 32], GateError> {
    hex::decode(hex_text)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(valid_device_key)
        .ok_or_else(|| {
            GateError::BadRequest(
                "device_key must be 64 hex digits: the public half of the device's own Ed25519 key"
                    .into(),
            )
        })
}

/// A new certificate for an enrolled device's key under the server's current key: after the
/// key that signed its last one was retired, or for a device enrolled before it had a key
/// (which gets this one). A device with another key must enroll again: a token alone never
/// re-keys a device.
pub async fn recertify(
    services: &Services,
    device: &DeviceRow,
    req: &CertificateRequest,
    now: DateTime<Utc>,
) -> Result<CertificateResponse, GateError> {
    if req.protocol != PROTOCOL {
        return Err(GateError::BadRequest(format!(
            "protocol {} is not spoken here (this server speaks {PROTOCOL}): update the app",
            req.protocol
        )));
    }
    let key = device_key(&req.device_key)?;
    let held = services.store.claim_device_key(&device.id, &key).await?;
    if held.as_deref() != Some(&key[..]) {
        return Err(GateError::KeyMismatch);
    }
    Ok(CertificateResponse {
        protocol: PROTOCOL,
        server_time: now,
        certificate: certify(services, device, key, now).await?,
    })
}

/// The device's certificate (hex): its key, signed by the server's current ticket key, which
/// every gate's keyring holds.
async fn certify(
    services: &Services,
    device: &DeviceRow,
    device_key: [u8; 32],
    now: DateTime<Utc>,
) -> Result<String, GateError> {
    let id = parse_device_id(&device.id)
        .ok_or_else(|| GateError::Internal(format!("device id {} is not hex", device.id)))?;
    let event = event_of(device)?;
    let keys = services.keys.read().await.clone();
    let signer = keys.signer();
    let claims = CertificateClaims {
        key: signer.id(),
        event,
        device: id,
        device_key,
        issued_at_ms: now.timestamp_millis(),
    };
    Ok(hex::encode(claims.sign(signer)))
}

/// The active device a bearer token belongs to.
pub async fn authenticate(
    services: &Services,
    token: Option<&str>,
) -> Result<DeviceRow, GateError> {
    let token = token.ok_or(GateError::Unauthorized)?;
    let device = services
        .store
        .device_by_token(&hash(token))
        .await?
        .ok_or(GateError::Unauthorized)?;
    if device.status != "active" {
        return Err(GateError::Revoked);
    }
    Ok(device)
}

/// What a device asks of the change feed, as it sent it.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeedRequest<'a> {
    /// The cursor: the last change the device applied (0 at first).
    pub after: i64,
    /// Changes per page; clamped to 1..=[`MAX_PAGE`].
    pub limit: Option<i64>,
    /// The device's clock (RFC 3339), for its skew.
    pub device_time: Option<&'a str>,
    /// How many check-ins the device still holds unsent.
    pub queued: Option<&'a str>,
}

/// One page of the change feed after the device's cursor. Records what organizers see of
/// the device: when it asked, its clock skew, the cursor it will be at, what it holds.
pub async fn changes(
    services: &Services,
    device: &DeviceRow,
    request: &FeedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<ChangesPage, GateError> {
    if request.after < 0 {
        return Err(GateError::BadRequest("after must be 0 or more".into()));
    }
    let skew = request
        .device_time
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|t| (t.with_timezone(&Utc) - now).num_milliseconds());
    // What the device still holds unsent; a malformed or absurd value is ignored.
    let queued = request
        .queued
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map(i64::from);
    let limit = request.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let page = services
        .store
        .feed_page(device.event_id, request.after, limit)
        .await?;
    // The cursor the device will be at once it applies this page: organizers see its lag.
    touch(
        services,
        &device.id,
        now.timestamp_millis(),
        skew,
        Some(page.cursor),
        queued,
    )
    .await;
    Ok(changes_page(&page, now))
}

/// Checks a batch's protocol and size (an upload's or a relay's) before anything is read.
fn check_batch(protocol: u32, len: usize) -> Result<(), GateError> {
    if protocol != PROTOCOL {
        return Err(GateError::BadRequest(format!(
            "protocol {protocol} is not spoken here (this server speaks {PROTOCOL})"
        )));
    }
    if len > MAX_BATCH {
        return Err(GateError::BadRequest(format!(
            "at most {MAX_BATCH} check-ins per request"
        )));
    }
    Ok(())
}

/// The event a device scans for, as core numbers events.
fn event_of(device: &DeviceRow) -> Result<EventId, GateError> {
    u32::try_from(device.event_id)
        .map(EventId)
        .map_err(|_| GateError::Internal(format!("event id {} too large", device.event_id)))
}

/// Checks an upload's shape before anything is verified or stored.
fn check_upload(req: &UploadRequest) -> Result<(), GateError> {
    check_batch(req.protocol, req.check_ins.len())?;
    for c in &req.check_ins {
        check_in_shape(c).map_err(GateError::BadRequest)?;
    }
    Ok(())
}

/// Takes a batch of check-ins, idempotent by (device, seq): each is verified, stored (none
/// dropped, rejects flagged) and every scan of the tickets it touches judged again with
/// core's decision. The check-ins belong to `device`, never to an id the body names.
pub async fn ingest(
    services: &Services,
    device: &DeviceRow,
    req: &UploadRequest,
    now: DateTime<Utc>,
) -> Result<UploadResponse, GateError> {
    check_upload(req)?;
    services.storage.ensure_room()?;
    // How far the device's clock is off now: with each scan's own correction, how far its
    // recorded time is (ADR 0020).
    let skew_ms = (req.device_time - now).num_milliseconds();
    let keyring = services.keys.read().await.keyring().clone();
    let outcomes = store_batch(
        services,
        &keyring,
        device,
        &req.check_ins,
        skew_ms,
        Delivery::Own,
        now,
    )
    .await?;
    touch_with_clock(services, &device.id, req.device_time, now).await;
    let conflicts = outcomes.iter().filter(|o| o.verdict.conflict).count();
    tracing::info!(device = %device.id, received = req.check_ins.len(), conflicts, "check-ins uploaded");
    Ok(upload_response(outcomes, now))
}

/// Takes check-ins `carrier` carries up for another device of its event (store and forward
/// on the venue mesh, ADR 0024). The recording device's certificate must verify against an
/// active server key, for this event, and name a device the server holds with exactly that
/// key; otherwise nothing is stored. Each check-in's signature is checked (a revoked
/// device's only if recorded before its revocation); the refused are listed and not
/// stored, the rest are stored and judged exactly as the device's own upload would be,
/// keyed by (device, seq), so a check-in carried twice or also uploaded is stored once.
pub async fn relay(
    services: &Services,
    carrier: &DeviceRow,
    req: &RelayRequest,
    now: DateTime<Utc>,
) -> Result<RelayResponse, GateError> {
    check_batch(req.protocol, req.check_ins.len())?;
    services.storage.ensure_room()?;
    let certificate = hex::decode(&req.certificate)
        .map_err(|_| GateError::BadRequest("certificate must be hex".into()))?;
    let keyring = services.keys.read().await.keyring().clone();
    let verified =
        verify_certificate(&certificate, &keyring, event_of(carrier)?).map_err(|e| match e {
            MeshError::Malformed(what) => GateError::BadRequest(format!("malformed {what}")),
            refused => GateError::BadCertificate(refused),
        })?;
    let recorder = services
        .store
        .device(&verified.device_id())
        .await?
        .filter(|d| {
            d.event_id == carrier.event_id
                && d.public_key.as_deref() == Some(&verified.claims().device_key[..])
        })
        .ok_or(GateError::UncertifiedDevice)?;
    // A revoked device's check-ins count up to its revocation: what it recorded while it
    // was a trusted gate.
    let revoked_at_ms = (recorder.status != "active")
        .then(|| recorder.revoked_at.unwrap_or(0).saturating_mul(1000));
    let mut accepted: Vec<UploadCheckIn> = Vec::new();
    let mut refused = Vec::new();
    for (index, text) in req.check_ins.iter().enumerate() {
        match read_relayed(&verified, text, revoked_at_ms) {
            Ok(c) => accepted.push(c),
            Err(reason) => refused.push(RelayRefusal {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                reason,
            }),
        }
    }
    accepted.sort_by_key(|c| c.seq);
    // The recording device is not here to measure: its clock is taken as last measured.
    let skew_ms = recorder.clock_skew_ms.unwrap_or(0);
    let outcomes = if accepted.is_empty() {
        Vec::new()
    } else {
        store_batch(
            services,
            &keyring,
            &recorder,
            &accepted,
            skew_ms,
            Delivery::Relayed,
            now,
        )
        .await?
    };
    touch(
        services,
        &carrier.id,
        now.timestamp_millis(),
        None,
        None,
        None,
    )
    .await;
    let stored = outcomes.iter().filter(|o| o.stored).count();
    tracing::info!(
        carrier = %carrier.id,
        device = %recorder.id,
        received = req.check_ins.len(),
        stored,
        refused = refused.len(),
        "check-ins relayed"
    );
    Ok(relay_response(outcomes, refused, now))
}

/// Verifies a batch of `device`'s check-ins, stores it idempotently by (device, seq) and
/// judges every scan of the tickets it touches: the one path of uploads and relays.
/// `skew_ms` is the device's clock minus the server's, for each scan's clock error; the
/// codes are verified against `keyring`.
async fn store_batch(
    services: &Services,
    keyring: &Keyring,
    device: &DeviceRow,
    check_ins: &[UploadCheckIn],
    skew_ms: i64,
    delivery: Delivery,
    now: DateTime<Utc>,
) -> Result<Vec<IngestOutcome>, GateError> {
    let event = services
        .store
        .event_sync(device.event_id)
        .await?
        .ok_or_else(|| {
            GateError::Internal(format!("device's event {} missing", device.event_id))
        })?;
    let (config, gates) = event_config(&event).ok_or_else(|| {
        GateError::Internal(format!("event {} is misconfigured", device.event_id))
    })?;
    let batch = verify_batch(check_ins, keyring, skew_ms);
    let judge_fn = |s: Option<&TicketState>, rows: &[StoredCheckIn]| {
        judge(keyring, &batch.verified, &config, &gates, s, rows)
    };
    Ok(services
        .store
        .ingest_check_ins(device, &batch.items, delivery, now.timestamp(), &judge_fn)
        .await?)
}
