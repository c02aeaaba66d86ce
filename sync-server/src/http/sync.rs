//! The device API's routes (docs/sync-protocol.md): enrollment, the change feed (gzip when
//! asked for), check-in upload and the relay of a peer's signed check-ins, each a few lines
//! over `app::gates`, which owns the use-cases; and the one mapping from [`GateError`] to the
//! device API's statuses and codes. Every refusal is `{"error", "message"}`; a revoked device
//! gets `401 device_revoked`. Enrollment's and the relay's request bodies are described as
//! schemas by twins of core's wire types.

use std::io::Write;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;

use tessera_core::sync::{
    CertificateRequest, CertificateResponse, EnrollRequest, EnrollResponse, RelayRequest,
    RelayResponse, SyncError, UploadRequest, UploadResponse,
};

use crate::app::Services;
use crate::app::gates::{self, FeedRequest, GateError};
use crate::store::DeviceRow;

/// Upload bodies may be larger than the general API limit.
const UPLOAD_BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The OpenAPI part of the sync API. The bodies are the wire types of
/// `tessera_core::sync`, described field by field in docs/sync-protocol.md; enrollment's are
/// schemas too, so a client no one here wrote can build its request.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(enroll, changes, upload, relayed, certificate, enroll_page),
    components(schemas(
        EnrollRequestDoc,
        EnrollResponseDoc,
        RelayRequestDoc,
        CertificateRequestDoc
    ))
)]
pub struct SyncApiDoc;

/// `POST /api/v1/sync/enroll`'s body, `tessera_core::sync::EnrollRequest`, as a schema: core
/// knows nothing of OpenAPI. A test deserializes the wire type's JSON into this twin (unknown
/// fields refused), so the two cannot drift apart.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnrollRequest)]
#[allow(dead_code)] // Exists for the OpenAPI document (and the test that checks it).
pub struct EnrollRequestDoc {
    /// The sync protocol the app speaks (`1`).
    #[schema(minimum = 1)]
    protocol: u32,
    /// The one-time code printed by `tessera-server device-code` (or carried by the
    /// enrollment QR code), as typed: case, spaces and dashes do not matter.
    code: String,
    /// The device's own id: 32 hex digits, random, the first half of every check-in's key.
    #[schema(pattern = "^[0-9A-Fa-f]{32}$")]
    device_id: String,
    /// The app's version, shown to organizers.
    #[schema(max_length = 64)]
    app_version: String,
    /// The device's clock when it sent the request (RFC 3339), for its skew.
    #[schema(value_type = String, format = DateTime)]
    device_time: String,
    /// The device's own Ed25519 public key (64 hex digits), for the server to certify for
    /// the venue mesh. Absent from devices that do not mesh.
    #[schema(pattern = "^[0-9A-Fa-f]{64}$")]
    device_key: Option<String>,
}

/// `POST /api/v1/sync/enroll`'s answer, `tessera_core::sync::EnrollResponse`, as a schema.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EnrollResponse)]
#[allow(dead_code)] // Exists for the OpenAPI document (and the test that checks it).
pub struct EnrollResponseDoc {
    /// The sync protocol the server speaks.
    protocol: u32,
    /// The device id, as registered.
    device_id: String,
    /// The name the organizer gave the device.
    name: String,
    /// The gate the organizer assigned, if any.
    gate: Option<String>,
    /// The bearer token of every later request: shown once, the server keeps its hash.
    token: String,
    /// The server's clock (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    server_time: String,
    /// The device's certificate (254 hex digits: its `device_key`, event and id signed by
    /// the server's current key), when the request carried a `device_key`.
    #[schema(pattern = "^[0-9a-f]{254}$")]
    certificate: Option<String>,
}

/// `POST /api/v1/sync/relayed`'s body, `tessera_core::sync::RelayRequest`, as a schema.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelayRequest)]
#[allow(dead_code)] // Exists for the OpenAPI document (and the test that checks it).
pub struct RelayRequestDoc {
    /// The sync protocol the app speaks (`1`).
    #[schema(minimum = 1)]
    protocol: u32,
    /// The recording device's certificate, as its enrollment answer gave it (hex).
    certificate: String,
    /// The recording device's signed check-ins, each the hex of its signed layout
    /// (docs/sync-protocol.md), in `seq` order; at most 1000.
    #[schema(max_items = 1000)]
    check_ins: Vec<String>,
}

/// `POST /api/v1/sync/certificate`'s body, `tessera_core::sync::CertificateRequest`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CertificateRequest)]
#[allow(dead_code)] // Exists for the OpenAPI document.
pub struct CertificateRequestDoc {
    /// The sync protocol the app speaks (`1`).
    #[schema(minimum = 1)]
    protocol: u32,
    /// The device's Ed25519 public key: 64 hex digits.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    device_key: String,
}

/// The sync routes.
pub fn routes() -> Router<Services> {
    Router::new()
        .route("/api/v1/sync/enroll", post(enroll))
        .route("/api/v1/sync/changes", get(changes))
        .route("/api/v1/sync/checkins", post(upload))
        .route("/api/v1/sync/relayed", post(relayed))
        .route("/api/v1/sync/certificate", post(certificate))
        .route("/enroll", get(enroll_page))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
}

/// The device API's status and stable code of each refusal; the message is the error's
/// own words, except that internal causes are logged, never returned.
impl IntoResponse for GateError {
    fn into_response(self) -> Response {
        let internal = |cause: String| {
            tracing::error!(%cause, "sync request failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        };
        let (status, code) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Revoked => (StatusCode::UNAUTHORIZED, "device_revoked"),
            Self::BadCode => (StatusCode::NOT_FOUND, "bad_code"),
            Self::CodeExpired => (StatusCode::GONE, "code_expired"),
            Self::CodeUsed => (StatusCode::CONFLICT, "code_used"),
            Self::DeviceActive => (StatusCode::CONFLICT, "device_enrolled"),
            Self::BadCertificate(_) => (StatusCode::FORBIDDEN, "bad_certificate"),
            Self::UncertifiedDevice => (StatusCode::FORBIDDEN, "uncertified_device"),
            Self::KeyMismatch => (StatusCode::CONFLICT, "key_mismatch"),
            Self::StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Store(e) => internal(e.to_string()),
            Self::Internal(cause) => internal(cause.clone()),
        };
        let body = SyncError {
            error: code.into(),
            message: self.to_string(),
        };
        let mut response = (status, Json(body)).into_response();
        if matches!(self, Self::StorageUnavailable(_)) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(crate::http::error::STORAGE_RETRY_AFTER),
            );
        }
        response
    }
}

/// Exchanges a one-time enrollment code for a device token.
#[utoipa::path(
    post,
    path = "/api/v1/sync/enroll",
    request_body(content = EnrollRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, body = EnrollResponseDoc, description = "The device's token (shown once)"),
        (status = 400, description = "malformed request"),
        (status = 404, description = "bad_code"),
        (status = 409, description = "code_used, or device_enrolled: an active device has this id (the code stays unused)"),
        (status = 410, description = "code_expired"),
    )
)]
pub async fn enroll(
    State(state): State<Services>,
    body: Result<Json<EnrollRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<EnrollResponse>, GateError> {
    let Json(req) = body.map_err(|e| GateError::BadRequest(e.body_text()))?;
    Ok(Json(gates::enroll(&state, &req, Utc::now()).await?))
}

/// The device a request's bearer token belongs to.
async fn device(state: &Services, headers: &HeaderMap) -> Result<DeviceRow, GateError> {
    gates::authenticate(state, crate::http::auth::bearer(headers)).await
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
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
) -> Result<Response, GateError> {
    let Query(q) = query.map_err(|e| GateError::BadRequest(e.body_text()))?;
    let device = device(&state, &headers).await?;
    let request = FeedRequest {
        after: q.after,
        limit: q.limit,
        device_time: header_str(&headers, "x-device-time"),
        queued: header_str(&headers, "x-device-queued"),
    };
    let body = gates::changes(&state, &device, &request, Utc::now()).await?;
    let json = serde_json::to_vec(&body).map_err(|e| GateError::Internal(e.to_string()))?;
    let gzip = header_str(&headers, header::ACCEPT_ENCODING.as_str())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&json)
            .map_err(|e| GateError::Internal(e.to_string()))?;
        let bytes = enc
            .finish()
            .map_err(|e| GateError::Internal(e.to_string()))?;
        let mut r = bytes.into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        json.into_response()
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
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
) -> Result<Json<UploadResponse>, GateError> {
    let device = device(&state, &headers).await?;
    let Json(req) = body.map_err(|e| GateError::BadRequest(e.body_text()))?;
    Ok(Json(
        gates::ingest(&state, &device, &req, Utc::now()).await?,
    ))
}

/// Another device's signed check-ins, carried up by this one (store and forward on the
/// venue mesh): stored as that device's own upload would be, once per (device, seq).
#[utoipa::path(
    post,
    path = "/api/v1/sync/relayed",
    request_body(content = RelayRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "RelayResponse: one result per check-in stored or already stored (stored, server_admitted, server_reason, conflict), in seq order, and `refused`: the index and reason of each check-in refused (a changed byte, another device's, recorded after the device's revocation), of which nothing was stored"),
        (status = 400, description = "malformed request (bad_request), a malformed certificate among them"),
        (status = 401, description = "unauthorized, or device_revoked: the carrying device's token"),
        (status = 403, description = "bad_certificate (not signed by an active server key, or another event's), or uncertified_device (no device of this event with that id and key): nothing was stored"),
    ),
    security(("device_token" = []))
)]
pub async fn relayed(
    State(state): State<Services>,
    headers: HeaderMap,
    body: Result<Json<RelayRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<RelayResponse>, GateError> {
    let carrier = device(&state, &headers).await?;
    let Json(req) = body.map_err(|e| GateError::BadRequest(e.body_text()))?;
    Ok(Json(
        gates::relay(&state, &carrier, &req, Utc::now()).await?,
    ))
}

/// A new certificate for this device's key under the server's current key (the venue mesh).
#[utoipa::path(
    post,
    path = "/api/v1/sync/certificate",
    request_body(content = CertificateRequestDoc, content_type = "application/json"),
    responses(
        (status = 200, description = "CertificateResponse: `certificate`, hex of 127 bytes, and `server_time`"),
        (status = 400, description = "malformed request (bad_request): not 64 hex digits of a valid key"),
        (status = 401, description = "unauthorized, or device_revoked"),
        (status = 409, description = "key_mismatch: the device was enrolled with another key; enroll it again"),
    ),
    security(("device_token" = []))
)]
pub async fn certificate(
    State(state): State<Services>,
    headers: HeaderMap,
    body: Result<Json<CertificateRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<CertificateResponse>, GateError> {
    let device = device(&state, &headers).await?;
    let Json(req) = body.map_err(|e| GateError::BadRequest(e.body_text()))?;
    Ok(Json(
        gates::recertify(&state, &device, &req, Utc::now()).await?,
    ))
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
         <p>On a tablet or phone: <a href=\"/gate/#code={code}\">use this device as a browser gate</a> \
         (it installs from the browser and keeps working offline).</p>\
         <p>The code works once and expires; ask the organizer for a new one if it fails.</p></body></html>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema twins read the wire types' JSON with unknown fields refused: a field added
    /// to core's type and not here fails this test.
    #[test]
    fn the_enrollment_schemas_read_the_wire_types() {
        let request = EnrollRequest {
            protocol: tessera_core::sync::PROTOCOL,
            code: "ABCD-EFGH".into(),
            device_id: "a1".repeat(16),
            app_version: "tessera-scan 1".into(),
            device_time: Utc::now(),
            device_key: Some("ab".repeat(32)),
        };
        let json = serde_json::to_string(&request).unwrap_or_default();
        assert!(
            serde_json::from_str::<EnrollRequestDoc>(&json).is_ok(),
            "{json}"
        );
        let response = EnrollResponse {
            protocol: tessera_core::sync::PROTOCOL,
            device_id: "a1".repeat(16),
            name: "Gate A".into(),
            gate: Some("Main Gate".into()),
            token: "t".into(),
            server_time: Utc::now(),
            certificate: Some("cd".repeat(127)),
        };
        let json = serde_json::to_string(&response).unwrap_or_default();
        assert!(
            serde_json::from_str::<EnrollResponseDoc>(&json).is_ok(),
            "{json}"
        );
        let relay = RelayRequest {
            protocol: tessera_core::sync::PROTOCOL,
            certificate: "cd".repeat(127),
            check_ins: vec!["ef".repeat(60)],
        };
        let json = serde_json::to_string(&relay).unwrap_or_default();
        assert!(
            serde_json::from_str::<RelayRequestDoc>(&json).is_ok(),
            "{json}"
        );
    }
}
