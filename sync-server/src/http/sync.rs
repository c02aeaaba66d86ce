//! The sync API for gate devices (docs/sync-protocol.md): enrollment with one-time codes,
//! the change feed, and check-in upload judged with core's `decide` through
//! [`tessera_core::reconcile`] — the same function the devices ran offline.
//!
//! Device tokens and enrollment codes are stored only as SHA-256 hashes. Every refusal is
//! `{"error", "message"}`; a revoked device gets `401 device_revoked`.

use std::collections::HashMap;
use std::io::Write;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use tessera_core::sync::{
    ChangesPage, CheckInState, EnrollRequest, EnrollResponse, EventState, GateState, KeyState,
    PROTOCOL, SyncError, TicketState as WireTicket, TicketTypeState, UploadRequest, UploadResponse,
    UploadResult,
};
use tessera_core::{
    Direction, EntryPolicy, EventConfig, EventId, Gate, Keyring, Recorded, Revision,
    SupersedeCause, TicketRecord, TicketStatus, Tz, VerifiedTicket, ZoneMask, reconcile, verify,
};

use crate::app::devices::{hash, normalize_code};
use crate::app::storage::NoRoom;
use crate::app::{AppError, Services};
use crate::store::{
    DeviceRow, EventSync, IncomingCheckIn, Redeemed, StoreError, StoredCheckIn, TicketState,
    Verdict,
};

/// Most check-ins in one upload.
pub const MAX_BATCH: usize = 1000;
/// Most changes in one page.
pub const MAX_PAGE: i64 = 10_000;
/// Upload bodies may be larger than the general API limit.
const UPLOAD_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The OpenAPI part of the sync API. The bodies are the wire types of
/// `tessera_core::sync`, described field by field in docs/sync-protocol.md.
#[derive(utoipa::OpenApi)]
#[openapi(paths(enroll, changes, upload, enroll_page))]
pub struct SyncApiDoc;

/// The sync routes.
pub fn routes() -> Router<Services> {
    Router::new()
        .route("/api/v1/sync/enroll", post(enroll))
        .route("/api/v1/sync/changes", get(changes))
        .route("/api/v1/sync/checkins", post(upload))
        .route("/enroll", get(enroll_page))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

/// A refused sync request.
#[derive(Debug, thiserror::Error)]
pub enum SyncApiError {
    /// 400: malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or unknown device token.
    #[error("this endpoint needs a device token: enroll the device with a one-time code")]
    Unauthorized,
    /// 401: the organizer revoked this device.
    #[error("device revoked by the organizer: enroll it again with a new code")]
    Revoked,
    /// 404: unknown enrollment code.
    #[error("unknown enrollment code: check it, or ask the organizer for a new one")]
    BadCode,
    /// 410: expired code.
    #[error("this enrollment code has expired: ask the organizer for a new one")]
    CodeExpired,
    /// 409: used code.
    #[error("this enrollment code was already used: ask the organizer for a new one")]
    CodeUsed,
    /// 409: an active device has this id; the code was not used.
    #[error(
        "a device with this id is enrolled and active: enroll this device with its own id, or revoke the other first"
    )]
    DeviceActive,
    /// 503: the server cannot store data now (a full disk, its free-space floor, a lost
    /// database connection); nothing was stored, the device keeps its queue and retries.
    #[error("{0}")]
    StorageUnavailable(String),
    /// 500.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for SyncApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Revoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
            Self::BadCode => (StatusCode::NOT_FOUND, "bad_code"),
            Self::CodeExpired => (StatusCode::GONE, "code_expired"),
            Self::CodeUsed => (StatusCode::CONFLICT, "code_used"),
            Self::DeviceActive => (StatusCode::CONFLICT, "device_enrolled"),
            Self::StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Internal(cause) => {
                tracing::error!(%cause, "sync request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let body = SyncError {
            error: code.into(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Self::StorageUnavailable(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<StoreError> for SyncApiError {
    fn from(e: StoreError) -> Self {
        match AppError::from(e) {
            AppError::StorageUnavailable(m) => Self::StorageUnavailable(m),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<NoRoom> for SyncApiError {
    fn from(e: NoRoom) -> Self {
        Self::StorageUnavailable(e.to_string())
    }
}

/// Records when a device was last seen. It is bookkeeping for organizers: a failure is
/// logged and the request goes on (a check-in batch already stored stays acknowledged).
async fn touch(
    state: &Services,
    device: &str,
    now_ms: i64,
    skew: Option<i64>,
    cursor: Option<i64>,
    queued: Option<i64>,
) {
    if let Err(e) = state
        .store
        .touch_device(device, now_ms, skew, cursor, queued)
        .await
    {
        tracing::warn!(device, error = %e, "could not record the device's visit");
    }
}

/// Exchanges a one-time enrollment code for a device token.
#[utoipa::path(
    post,
    path = "/api/v1/sync/enroll",
    request_body(content_type = "application/json", description = "EnrollRequest: protocol, code, device_id (32 hex digits), app_version, device_time"),
    responses(
        (status = 200, description = "EnrollResponse: protocol, device_id, name, gate, token (shown once), server_time"),
        (status = 400, description = "malformed request"),
        (status = 404, description = "bad_code"),
        (status = 409, description = "code_used, or device_enrolled: an active device has this id (the code stays unused)"),
        (status = 410, description = "code_expired"),
    )
)]
pub async fn enroll(
    State(state): State<Services>,
    body: Result<Json<EnrollRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<EnrollResponse>, SyncApiError> {
    let Json(req) = body.map_err(|e| SyncApiError::BadRequest(e.body_text()))?;
    if req.protocol != PROTOCOL {
        return Err(SyncApiError::BadRequest(format!(
            "protocol {} is not spoken here (this server speaks {PROTOCOL}): update the app",
            req.protocol
        )));
    }
    let id_ok = req.device_id.len() == 32 && req.device_id.bytes().all(|b| b.is_ascii_hexdigit());
    if !id_ok || req.app_version.len() > 64 {
        return Err(SyncApiError::BadRequest(
            "device_id must be 32 hex digits and app_version at most 64 characters".into(),
        ));
    }
    let mut raw = [0u8; 32];
    crate::app::keys::random_bytes(&mut raw).map_err(|e| SyncApiError::Internal(e.to_string()))?;
    let token = hex::encode(raw);
    let now = Utc::now();
    let redeemed = state
        .store
        .redeem_enrollment_code(
            &hash(&normalize_code(&req.code)),
            &req.device_id.to_ascii_lowercase(),
            &hash(&token),
            &req.app_version,
            now.timestamp(),
        )
        .await?;
    let device = match redeemed {
        Redeemed::Device(d) => d,
        Redeemed::Unknown => return Err(SyncApiError::BadCode),
        Redeemed::Expired => return Err(SyncApiError::CodeExpired),
        Redeemed::Used => return Err(SyncApiError::CodeUsed),
        Redeemed::DeviceActive => return Err(SyncApiError::DeviceActive),
    };
    let skew = (req.device_time - now).num_milliseconds();
    touch(
        &state,
        &device.id,
        now.timestamp_millis(),
        Some(skew),
        None,
        None,
    )
    .await;
    tracing::info!(device = %device.id, "device enrolled");
    Ok(Json(EnrollResponse {
        protocol: PROTOCOL,
        device_id: device.id,
        name: device.name,
        gate: device.gate,
        token,
        server_time: now,
    }))
}

/// The device a request's bearer token belongs to.
async fn device(state: &Services, headers: &HeaderMap) -> Result<DeviceRow, SyncApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or(SyncApiError::Unauthorized)?;
    let device = state
        .store
        .device_by_token(&hash(token))
        .await?
        .ok_or(SyncApiError::Unauthorized)?;
    if device.status != "active" {
        return Err(SyncApiError::Revoked);
    }
    Ok(device)
}

/// `?after=&limit=`.
#[derive(Debug, Deserialize)]
pub struct ChangesQuery {
    #[serde(default)]
    after: i64,
    limit: Option<i64>,
}

/// One page of the change feed after a cursor (gzip when asked for).
#[utoipa::path(
    get,
    path = "/api/v1/sync/changes",
    params(
        ("after" = Option<i64>, Query, description = "the cursor: the last change the device applied (0 at first)"),
        ("limit" = Option<i64>, Query, description = "changes per page, 1 to 10000 (default 5000)"),
        ("X-Device-Time" = Option<String>, Header, description = "the device's clock (RFC 3339), for skew"),
        ("X-Device-Queued" = Option<u32>, Header, description = "check-ins the device still holds, not uploaded (shown to organizers)"),
    ),
    responses(
        (status = 200, description = "ChangesPage: protocol, cursor, head, more, server_time, event, keys, tickets, check_ins"),
        (status = 401, description = "unauthorized, or device_revoked"),
    ),
    security(("device_token" = []))
)]
pub async fn changes(
    State(state): State<Services>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, SyncApiError> {
    let Query(q) = query.map_err(|e| SyncApiError::BadRequest(e.body_text()))?;
    let device = device(&state, &headers).await?;
    if q.after < 0 {
        return Err(SyncApiError::BadRequest("after must be 0 or more".into()));
    }
    let now = Utc::now();
    let skew = headers
        .get("x-device-time")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|t| (t.with_timezone(&Utc) - now).num_milliseconds());
    // What the device still holds unsent; a malformed or absurd value is ignored.
    let queued = headers
        .get("x-device-queued")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok())
        .map(i64::from);
    let limit = q.limit.unwrap_or(5_000).clamp(1, MAX_PAGE);
    let page = state
        .store
        .feed_page(device.event_id, q.after, limit)
        .await?;
    // The cursor the device will be at once it applies this page: organizers see its lag.
    touch(
        &state,
        &device.id,
        now.timestamp_millis(),
        skew,
        Some(page.cursor),
        queued,
    )
    .await;
    let body = ChangesPage {
        protocol: PROTOCOL,
        cursor: u64::try_from(page.cursor).unwrap_or(0),
        head: u64::try_from(page.head).unwrap_or(0),
        more: page.more,
        server_time: now,
        event: page.event.as_ref().map(event_state),
        keys: page
            .keys
            .iter()
            .map(|(id, public, st)| KeyState {
                key_id: u16::try_from(*id).unwrap_or(0),
                public_key: hex::encode(public),
                status: st.as_str().into(),
            })
            .collect(),
        tickets: page.tickets.iter().map(wire_ticket).collect(),
        check_ins: page.check_ins.iter().map(wire_check_in).collect(),
    };
    let json = serde_json::to_vec(&body).map_err(|e| SyncApiError::Internal(e.to_string()))?;
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&json)
            .map_err(|e| SyncApiError::Internal(e.to_string()))?;
        let bytes = enc
            .finish()
            .map_err(|e| SyncApiError::Internal(e.to_string()))?;
        let mut r = bytes.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        json.into_response()
    };
    r_json(&mut response);
    Ok(response)
}

fn r_json(response: &mut Response) {
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
}

fn event_state(e: &EventSync) -> EventState {
    EventState {
        id: u32::try_from(e.event.id).unwrap_or(0),
        name: e.event.name.clone(),
        timezone: e.event.timezone.clone(),
        days: e.event.days.clone(),
        policy: e.policy.clone(),
        gates: e
            .gates
            .iter()
            .map(|g| GateState {
                name: g.name.clone(),
                zones: g.zones,
            })
            .collect(),
        ticket_types: e
            .ticket_types
            .iter()
            .map(|(id, name, kind)| TicketTypeState {
                id: u16::try_from(*id).unwrap_or(0),
                name: name.clone(),
                kind: kind.clone(),
            })
            .collect(),
    }
}

/// The server's `valid`/`void` as the device's status words.
fn device_status(status: &str) -> &'static str {
    match status {
        "valid" => "valid",
        "refunded" => "refunded",
        "cancelled" => "cancelled",
        "blocked" => "blocked",
        _ => "voided",
    }
}

fn wire_ticket(t: &TicketState) -> WireTicket {
    WireTicket {
        id: u64::try_from(t.id).unwrap_or(0),
        ticket_type: u16::try_from(t.ticket_type_id).unwrap_or(0),
        revision: u16::try_from(t.revision).unwrap_or(0),
        status: device_status(&t.status).into(),
        superseded_by: t.superseded_by.clone(),
        holder: Some(t.holder_name.clone()),
        detail: t
            .detail
            .clone()
            .or_else(|| t.booth.map(|b| format!("Booth {b}"))),
    }
}

fn wire_check_in(c: &StoredCheckIn) -> CheckInState {
    CheckInState {
        device_id: c.device_id.clone(),
        seq: u64::try_from(c.seq).unwrap_or(0),
        device_name: c.device_name.clone(),
        ticket_id: c.ticket_id.and_then(|t| u64::try_from(t).ok()),
        at: DateTime::from_timestamp_millis(c.at_ms).unwrap_or_default(),
        gate: c.gate.clone(),
        direction: c.direction.clone(),
        admitted: c.admitted,
        reason: c.reason.clone(),
        server_reason: c.server_reason.clone(),
        conflict: c.conflict,
    }
}

/// The decision's view of a stored event.
fn event_config(e: &EventSync) -> Option<(EventConfig, HashMap<String, ZoneMask>)> {
    let tz: Tz = e.event.timezone.parse().ok()?;
    let policy = match e.policy.as_str() {
        "reentry_after_exit" => EntryPolicy::ReentryAfterExit,
        _ => EntryPolicy::OncePerDay,
    };
    let config = EventConfig::new(
        EventId(u32::try_from(e.event.id).ok()?),
        tz,
        e.event.days.clone(),
        policy,
    )
    .ok()?;
    let gates = e
        .gates
        .iter()
        .map(|g| (g.name.clone(), ZoneMask(g.zones)))
        .collect();
    Some((config, gates))
}

/// Judges every stored check-in of one ticket with `reconcile`, exactly as a device would
/// have with the whole log in hand.
fn judge(
    keyring: &Keyring,
    verified_in_batch: &HashMap<String, VerifiedTicket>,
    event: &EventConfig,
    gates: &HashMap<String, ZoneMask>,
    state: Option<&TicketState>,
    rows: &[StoredCheckIn],
) -> Vec<Verdict> {
    let record = state.map(|t| TicketRecord {
        revision: Revision(u16::try_from(t.revision).unwrap_or(u16::MAX)),
        status: match t.status.as_str() {
            "valid" => TicketStatus::Valid,
            "refunded" => TicketStatus::Refunded,
            "cancelled" => TicketStatus::Cancelled,
            "blocked" => TicketStatus::Blocked,
            _ => TicketStatus::Voided,
        },
        superseded_by: match t.superseded_by.as_deref() {
            Some("transfer") => Some(SupersedeCause::Transfer),
            Some("upgrade") => Some(SupersedeCause::Upgrade),
            Some(_) => Some(SupersedeCause::Reissue),
            None => None,
        },
    });
    // The batch's own codes were verified on arrival; older rows are verified again, since
    // keys may have been retired since.
    let verified: Vec<_> = rows
        .iter()
        .map(|r| {
            r.text.as_deref().map(|t| match verified_in_batch.get(t) {
                Some(v) => Ok(v.clone()),
                None => verify(t, keyring),
            })
        })
        .collect();
    let gate_of = |r: &StoredCheckIn| Gate {
        name: r.gate.clone(),
        // A gate the server does not know admits general admission, as on the device.
        zones: gates.get(&r.gate).copied().unwrap_or(ZoneMask::GENERAL),
        direction: if r.direction == "exit" {
            Direction::Exit
        } else {
            Direction::Entry
        },
    };
    let row_gates: Vec<Gate> = rows.iter().map(gate_of).collect();
    let mut recorded = Vec::new();
    let mut index = Vec::new();
    for (i, (row, v)) in rows.iter().zip(&verified).enumerate() {
        if let (Some(Ok(ticket)), Some(gate)) = (v, row_gates.get(i)) {
            recorded.push(Recorded {
                ticket,
                at: DateTime::from_timestamp_millis(row.at_ms).unwrap_or_default(),
                gate,
                device: &row.device_name,
                device_admitted: row.admitted,
            });
            index.push(i);
        }
    }
    let judged = reconcile(record.as_ref(), event, &recorded);
    let mut out: Vec<Verdict> = verified
        .iter()
        .map(|v| Verdict {
            admitted: false,
            reason: Some(match v {
                Some(Err(e)) => tessera_core::Reason::from(*e).code().to_owned(),
                _ => "not_a_ticket".to_owned(),
            }),
            conflict: false,
        })
        .collect();
    for (i, j) in index.into_iter().zip(judged) {
        if let Some(slot) = out.get_mut(i) {
            *slot = Verdict {
                admitted: j.decision.is_admit(),
                reason: j.decision.reason().map(|r| r.code().to_owned()),
                conflict: j.conflict,
            };
        }
    }
    out
}

/// A batch of check-ins, idempotent by (device, seq); each judged with core's decision.
#[utoipa::path(
    post,
    path = "/api/v1/sync/checkins",
    request_body(content_type = "application/json", description = "UploadRequest: protocol, device_time, check_ins (at most 1000)"),
    responses(
        (status = 200, description = "UploadResponse: one result per check-in (stored, server_admitted, server_reason, conflict)"),
        (status = 400, description = "malformed request"),
        (status = 401, description = "unauthorized, or device_revoked"),
    ),
    security(("device_token" = []))
)]
pub async fn upload(
    State(state): State<Services>,
    headers: HeaderMap,
    body: Result<Json<UploadRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<UploadResponse>, SyncApiError> {
    let device = device(&state, &headers).await?;
    let Json(req) = body.map_err(|e| SyncApiError::BadRequest(e.body_text()))?;
    if req.protocol != PROTOCOL {
        return Err(SyncApiError::BadRequest(format!(
            "protocol {} is not spoken here (this server speaks {PROTOCOL})",
            req.protocol
        )));
    }
    if req.check_ins.len() > MAX_BATCH {
        return Err(SyncApiError::BadRequest(format!(
            "at most {MAX_BATCH} check-ins per request"
        )));
    }
    for c in &req.check_ins {
        let seq_ok = i64::try_from(c.seq).is_ok_and(|s| s > 0);
        let sizes_ok = c.gate.len() <= 200
            && c.text.as_ref().is_none_or(|t| t.len() <= 512)
            && c.reason.as_ref().is_none_or(|r| r.len() <= 64);
        if !seq_ok || !sizes_ok || !matches!(c.direction.as_str(), "entry" | "exit") {
            return Err(SyncApiError::BadRequest(format!(
                "check-in {}: seq must be positive, direction entry or exit, fields of sane size",
                c.seq
            )));
        }
    }
    state.storage.ensure_room()?;
    let now = Utc::now();
    let event = state
        .store
        .event_sync(device.event_id)
        .await?
        .ok_or_else(|| {
            SyncApiError::Internal(format!("device's event {} missing", device.event_id))
        })?;
    let (config, gates) = event_config(&event).ok_or_else(|| {
        SyncApiError::Internal(format!("event {} is misconfigured", device.event_id))
    })?;
    let keyring = state.keys.read().await.keyring().clone();
    let mut verified_in_batch = HashMap::new();
    let items: Vec<IncomingCheckIn> = req
        .check_ins
        .iter()
        .map(|c| {
            let verified = c.text.as_deref().map(|t| verify(t, &keyring));
            if let (Some(text), Some(Ok(v))) = (&c.text, &verified) {
                verified_in_batch.insert(text.clone(), v.clone());
            }
            let (ticket_id, unverified_reason) = match &verified {
                // A genuine ticket of another event is kept, judged `wrong_event`.
                Some(Ok(t)) => (i64::try_from(t.claims().ticket.0).ok(), None),
                Some(Err(e)) => (None, Some(tessera_core::Reason::from(*e).code().to_owned())),
                None => (
                    None,
                    c.reason.clone().or_else(|| Some("not_a_ticket".into())),
                ),
            };
            IncomingCheckIn {
                seq: i64::try_from(c.seq).unwrap_or(0),
                ticket_id,
                text: c.text.clone(),
                at_ms: c.at.timestamp_millis(),
                gate: c.gate.clone(),
                direction: c.direction.clone(),
                admitted: c.admitted,
                reason: c.reason.clone(),
                unverified_reason,
            }
        })
        .collect();
    let judge_fn = |s: Option<&TicketState>, rows: &[StoredCheckIn]| {
        judge(&keyring, &verified_in_batch, &config, &gates, s, rows)
    };
    let outcomes = state
        .store
        .ingest_check_ins(&device, &items, now.timestamp(), &judge_fn)
        .await?;
    let skew = (req.device_time - now).num_milliseconds();
    touch(
        &state,
        &device.id,
        now.timestamp_millis(),
        Some(skew),
        None,
        None,
    )
    .await;
    let conflicts = outcomes.iter().filter(|o| o.verdict.conflict).count();
    tracing::info!(device = %device.id, received = items.len(), conflicts, "check-ins uploaded");
    Ok(Json(UploadResponse {
        protocol: PROTOCOL,
        server_time: now,
        results: outcomes
            .into_iter()
            .map(|o| UploadResult {
                seq: u64::try_from(o.seq).unwrap_or(0),
                stored: o.stored,
                server_admitted: o.verdict.admitted,
                server_reason: o.verdict.reason,
                conflict: o.verdict.conflict,
            })
            .collect(),
    }))
}

/// `?code=`.
#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

/// What a phone shows when it scans an enrollment QR code: how to use it.
#[utoipa::path(
    get,
    path = "/enroll",
    params(("code" = Option<String>, Query, description = "the enrollment code")),
    responses((status = 200, description = "an HTML page", content_type = "text/html"))
)]
pub async fn enroll_page(Query(q): Query<CodeQuery>) -> Html<String> {
    let code: String = q
        .code
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(20)
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Enroll a Tessera scanner</title></head><body style=\"font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem\">\
         <h1>Enroll a Tessera scanner</h1>\
         <p>Show this QR code to the scanner app's camera on its first start, or type the code there:</p>\
         <p style=\"font-size:2rem;font-family:monospace;letter-spacing:.1em\">{code}</p>\
         <p>On a headless scanner: <code>tessera-scan enroll --server URL --code {code}</code></p>\
         <p>The code works once and expires; ask the organizer for a new one if it fails.</p></body></html>"
    ))
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
