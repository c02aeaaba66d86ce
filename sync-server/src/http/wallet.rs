//! The wallet's HTTP side: a ticket's Apple pass and Google link (guarded like its PDF, by
//! [`authorize_ticket`]), and Apple's PassKit web service under `/api/v1/wallet/apple/v1/`
//! (device registrations, serials updated since a tag, the latest pass, device logs).
//! Handlers are short: check, read the store, build with `apple`/`google`, answer.
//!
//! The web service's tag is the change feed's seq (see `store::wallet_sql`); the latest
//! pass's `Last-Modified` carries the same seq as seconds after the Unix epoch, which Wallet
//! echoes back verbatim in `If-Modified-Since`: a clock no instance can skew.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::wallet::apple::{self, PassFacts, PassState};
use crate::app::wallet::{WalletError, google};
use crate::app::{AppError, Services};
use crate::http::api::{TokenQuery, authorize_ticket};
use crate::http::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::{NewRegistration, Order, StoreError, TicketView};
use crate::store::{OrderStatus, TicketStatus};

/// The wallet routes, merged into [`crate::http::api::router`].
pub fn routes() -> Router<Services> {
    const DEVICE: &str = "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}";
    Router::new()
        .route("/api/v1/tickets/{id}/wallet/apple", get(apple_pass))
        .route("/api/v1/tickets/{id}/wallet/google", get(google_link))
        .route("/api/v1/tickets/{id}/wallet/google/save", get(google_save))
        .route(
            "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}",
            post(register).delete(unregister),
        )
        .route(DEVICE, get(updated_serials))
        .route(
            "/api/v1/wallet/apple/v1/passes/{pass_type}/{serial}",
            get(latest_pass),
        )
        .route("/api/v1/wallet/apple/v1/log", post(device_log))
}

impl From<WalletError> for AppError {
    fn from(e: WalletError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// An error of the PassKit web service: its own 401 (Wallet's `ApplePass` scheme, not the
/// order token), everything else as the API's errors.
#[derive(Debug)]
pub enum PassKitError {
    /// 401: no `Authorization: ApplePass <token>`, or not this pass's token.
    Unauthorized,
    /// Any other error, as the API answers it.
    Api(AppError),
}

impl From<AppError> for PassKitError {
    fn from(e: AppError) -> Self {
        Self::Api(e)
    }
}

impl From<StoreError> for PassKitError {
    fn from(e: StoreError) -> Self {
        Self::Api(e.into())
    }
}

impl IntoResponse for PassKitError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                Json(ErrorBody {
                    error: "unauthorized".into(),
                    message: "this endpoint needs the pass's authenticationToken: \
                              Authorization: ApplePass <token>"
                        .into(),
                }),
            )
                .into_response(),
            Self::Api(e) => e.into_response(),
        }
    }
}

/// Longest device library identifier or push token accepted (Apple's are 32 and 64 hex
/// digits).
const MAX_ID_LEN: usize = 128;

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks `Authorization: ApplePass <token>` against the serial's derived token.
fn pass_authorized(
    state: &Services,
    headers: &HeaderMap,
    serial: &str,
) -> Result<(), PassKitError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ApplePass "))
        .map(str::trim)
        .ok_or(PassKitError::Unauthorized)?;
    let expected = state.master.pass_token(serial);
    if given.len() == expected.len() && openssl::memcmp::eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(PassKitError::Unauthorized)
    }
}

fn check_pass_type(state: &Services, pass_type: &str) -> Result<(), AppError> {
    if pass_type == state.wallet.pass_type_id() {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("pass type {pass_type}")))
    }
}

/// The ticket a serial names, its order, and the serial's revision; 404 for a serial of no
/// ticket or of a revision that does not exist yet.
async fn serial_ticket(
    state: &Services,
    serial: &str,
) -> Result<(Order, TicketView, i64), AppError> {
    let unknown = || AppError::NotFound(format!("pass {serial}"));
    let (ticket_id, revision) = apple::parse_serial(serial).ok_or_else(unknown)?;
    let order_id = state
        .store
        .ticket_order_id(ticket_id)
        .await?
        .ok_or_else(unknown)?;
    let order = state.store.order(order_id).await?.ok_or_else(unknown)?;
    let ticket = state
        .store
        .order_tickets(order_id)
        .await?
        .into_iter()
        .find(|t| t.id == ticket_id)
        .ok_or_else(unknown)?;
    if revision > ticket.revision {
        return Err(unknown());
    }
    Ok((order, ticket, revision))
}

/// The seq as an HTTP date (seconds after the epoch), for `Last-Modified`.
fn http_date(seq: i64) -> String {
    chrono::DateTime::from_timestamp(seq, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn parse_http_date(value: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(value.trim(), "%a, %d %b %Y %H:%M:%S GMT")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// The signed `.pkpass` of `revision` of a ticket, and the feed seq it reflects.
async fn pkpass(
    state: &Services,
    order: &Order,
    ticket: &TicketView,
    revision: i64,
) -> Result<(Vec<u8>, i64), AppError> {
    let signer = state.wallet.apple().await?;
    // Read before the pass is built: a change after this is a later seq, so the phone
    // asks again rather than keeping a stale pass under a fresh tag.
    let seq = state.store.ticket_feed_seq(ticket.id).await?.unwrap_or(0);
    let pass_state = if revision < ticket.revision {
        PassState::Superseded
    } else if ticket.status != TicketStatus::Valid || order.status != OrderStatus::Paid {
        PassState::Void
    } else {
        PassState::Current
    };
    let serial = apple::serial(ticket.id, revision);
    let token = state.master.pass_token(&serial);
    let web_service_url = format!("{}/api/v1/wallet/apple", state.settings.public_url());
    let settings = state.wallet.settings();
    let facts = PassFacts {
        ticket,
        order,
        revision,
        state: pass_state,
        organization: &settings.organization_name,
        pass_type_id: &signer.pass_type_id,
        team_id: &signer.team_id,
        web_service_url: &web_service_url,
        auth_token: &token,
        location: settings.latitude.zip(settings.longitude),
        demo: signer.demo,
    };
    let pass = apple::pass_json(&facts);
    let bytes = tokio::task::spawn_blocking(move || apple::package(&pass, &signer))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok((bytes, seq))
}

fn pkpass_response(ticket_id: i64, bytes: Vec<u8>, seq: i64) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apple.pkpass"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"ticket-{ticket_id}.pkpass\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(seq)) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    // The pass holds the QR code and its download URL may carry the order token.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (headers, bytes).into_response()
}

/// A ticket's Apple Wallet pass (current revision).
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}/wallet/apple",
    params(("id" = i64, Path, description = "Ticket id")),
    security(("access_token" = [])),
    responses(
        (status = 200, content_type = "application/vnd.apple.pkpass", description = "The signed pass: pass.json, images, manifest.json, signature (demo-labelled without an Apple certificate)"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn apple_pass(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (order, ticket) = authorize_ticket(&state, &headers, &query, id).await?;
    let (bytes, seq) = pkpass(&state, &order, &ticket, ticket.revision).await?;
    Ok(pkpass_response(ticket.id, bytes, seq))
}

/// `GET /api/v1/tickets/{id}/wallet/google` body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GoogleSaveOut {
    /// `https://pay.google.com/gp/v/save/<jwt>`: open it to save the ticket.
    pub url: String,
    /// True when signed with the generated demo key: Google refuses such links.
    pub demo: bool,
}

async fn google_url(
    state: &Services,
    order: &Order,
    ticket: &TicketView,
) -> Result<GoogleSaveOut, AppError> {
    let signer = state.wallet.google().await?;
    let claims = google::save_claims(
        &signer,
        &state.wallet.settings().organization_name,
        &state.settings.public_url(),
        order,
        ticket,
        chrono::Utc::now().timestamp(),
    );
    let jwt = signer.sign_jwt(&claims)?;
    Ok(GoogleSaveOut {
        url: format!("{}{jwt}", google::SAVE_URL),
        demo: signer.demo,
    })
}

/// A ticket's "Save to Google Wallet" link: a JWT (RS256) with the event's class and the
/// ticket revision's object, `INACTIVE` when the ticket is void or refunded.
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}/wallet/google",
    params(("id" = i64, Path, description = "Ticket id")),
    security(("access_token" = [])),
    responses(
        (status = 200, body = GoogleSaveOut),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn google_link(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Json<GoogleSaveOut>, AppError> {
    let (order, ticket) = authorize_ticket(&state, &headers, &query, id).await?;
    Ok(Json(google_url(&state, &order, &ticket).await?))
}

/// Redirects to the ticket's Google save page (for links in pages and emails).
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}/wallet/google/save",
    params(("id" = i64, Path, description = "Ticket id")),
    security(("access_token" = [])),
    responses(
        (status = 303, description = "To https://pay.google.com/gp/v/save/<jwt>"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn google_save(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    headers: HeaderMap,
) -> Result<Redirect, AppError> {
    let (order, ticket) = authorize_ticket(&state, &headers, &query, id).await?;
    Ok(Redirect::to(
        &google_url(&state, &order, &ticket).await?.url,
    ))
}

/// A device registration's body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationIn {
    /// The APNs token to push "pass updated" to.
    #[serde(rename = "pushToken")]
    pub push_token: String,
}

/// Registers a device to hear about a pass (Apple's PassKit web service).
#[utoipa::path(
    post,
    operation_id = "wallet_register_device",
    path = "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}",
    params(
        ("device" = String, Path, description = "deviceLibraryIdentifier"),
        ("pass_type" = String, Path, description = "passTypeIdentifier"),
        ("serial" = String, Path, description = "serialNumber: T<ticket>R<revision>"),
        ("Authorization" = String, Header, description = "ApplePass <authenticationToken>"),
    ),
    request_body = RegistrationIn,
    responses(
        (status = 201, description = "Registered"), (status = 200, description = "Already registered"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<Services>,
    ApiPath((device, pass_type, serial)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegistrationIn>,
) -> Result<StatusCode, PassKitError> {
    pass_authorized(&state, &headers, &serial)?;
    check_pass_type(&state, &pass_type)?;
    if !valid_id(&device) || !valid_id(&body.push_token) {
        return Err(AppError::BadRequest(
            "deviceLibraryIdentifier and pushToken must be 1 to 128 letters, digits, '-', '_' or '.'"
                .into(),
        )
        .into());
    }
    let (_, ticket, revision) = serial_ticket(&state, &serial).await?;
    let new = state
        .store
        .register_pass(&NewRegistration {
            device_library_id: device,
            pass_type_id: pass_type,
            serial,
            ticket_id: ticket.id,
            revision,
            push_token: body.push_token,
            created_at: chrono::Utc::now().timestamp(),
        })
        .await?;
    Ok(if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// Unregisters a device from a pass.
#[utoipa::path(
    delete,
    path = "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}",
    params(
        ("device" = String, Path), ("pass_type" = String, Path), ("serial" = String, Path),
        ("Authorization" = String, Header, description = "ApplePass <authenticationToken>"),
    ),
    responses((status = 200, description = "Not registered (any more)"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn unregister(
    State(state): State<Services>,
    ApiPath((device, pass_type, serial)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, PassKitError> {
    pass_authorized(&state, &headers, &serial)?;
    check_pass_type(&state, &pass_type)?;
    state
        .store
        .unregister_pass(&device, &pass_type, &serial)
        .await?;
    Ok(StatusCode::OK)
}

/// `passesUpdatedSince` query.
#[derive(Debug, Deserialize)]
pub struct UpdatedQuery {
    #[serde(rename = "passesUpdatedSince")]
    passes_updated_since: Option<String>,
}

/// Serials updated since a tag.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SerialsOut {
    /// `serialNumbers`: the device's passes changed after the tag.
    #[serde(rename = "serialNumbers")]
    pub serial_numbers: Vec<String>,
    /// `lastUpdated`: the tag to send next time (a change-feed seq).
    #[serde(rename = "lastUpdated")]
    pub last_updated: String,
}

/// The serial numbers of a device's passes that changed since `passesUpdatedSince`.
#[utoipa::path(
    get,
    path = "/api/v1/wallet/apple/v1/devices/{device}/registrations/{pass_type}",
    params(
        ("device" = String, Path), ("pass_type" = String, Path),
        ("passesUpdatedSince" = Option<String>, Query, description = "The lastUpdated tag of the previous answer"),
    ),
    responses(
        (status = 200, body = SerialsOut), (status = 204, description = "Nothing changed"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn updated_serials(
    State(state): State<Services>,
    ApiPath((device, pass_type)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<UpdatedQuery>,
) -> Result<Response, AppError> {
    check_pass_type(&state, &pass_type)?;
    let since = match query.passes_updated_since.as_deref().map(str::trim) {
        None | Some("") => 0,
        Some(tag) => tag.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            AppError::BadRequest(format!(
                "passesUpdatedSince {tag:?} is not a tag this server gave"
            ))
        })?,
    };
    let updated = state
        .store
        .passes_updated_since(&device, &pass_type, since)
        .await?;
    let Some(last) = updated.iter().map(|(_, seq)| *seq).max() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    Ok(Json(SerialsOut {
        serial_numbers: updated.into_iter().map(|(serial, _)| serial).collect(),
        last_updated: last.to_string(),
    })
    .into_response())
}

/// The latest version of a pass: voided when its revision was superseded (transfer,
/// upgrade), or the ticket is void or refunded.
#[utoipa::path(
    get,
    path = "/api/v1/wallet/apple/v1/passes/{pass_type}/{serial}",
    params(
        ("pass_type" = String, Path), ("serial" = String, Path),
        ("Authorization" = String, Header, description = "ApplePass <authenticationToken>"),
        ("If-Modified-Since" = Option<String>, Header, description = "The Last-Modified of the pass the device has"),
    ),
    responses(
        (status = 200, content_type = "application/vnd.apple.pkpass", description = "The pass"),
        (status = 304, description = "Not modified"),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    )
)]
pub async fn latest_pass(
    State(state): State<Services>,
    ApiPath((pass_type, serial)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PassKitError> {
    pass_authorized(&state, &headers, &serial)?;
    check_pass_type(&state, &pass_type)?;
    let (order, ticket, revision) = serial_ticket(&state, &serial).await?;
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date);
    if let Some(since) = since {
        let seq = state.store.ticket_feed_seq(ticket.id).await?.unwrap_or(0);
        if seq <= since {
            return Ok(StatusCode::NOT_MODIFIED.into_response());
        }
    }
    let (bytes, seq) = pkpass(&state, &order, &ticket, revision).await?;
    Ok(pkpass_response(ticket.id, bytes, seq))
}

/// Log messages a device sends about the web service.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogIn {
    /// The messages.
    pub logs: Vec<String>,
}

/// Most device log lines written per request, and characters per line.
const LOG_LINES: usize = 20;
const LOG_CHARS: usize = 300;

/// Records a device's log messages in the server log (truncated, control characters
/// replaced, at most 20 per request).
#[utoipa::path(
    post,
    path = "/api/v1/wallet/apple/v1/log",
    request_body = LogIn,
    responses((status = 200, description = "Logged"), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody))
)]
pub async fn device_log(ApiJson(body): ApiJson<LogIn>) -> StatusCode {
    for line in body.logs.iter().take(LOG_LINES) {
        let clean: String = line
            .chars()
            .take(LOG_CHARS)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        tracing::info!(device_log = %clean, "apple wallet device log");
    }
    StatusCode::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_tags_survive_the_http_date_round_trip() {
        for seq in [0, 1, 59, 86_400, 1_234_567_890, 9_999_999_999] {
            assert_eq!(parse_http_date(&http_date(seq)), Some(seq));
        }
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn ids_are_short_and_plain() {
        assert!(valid_id("a1b2c3d4e5f6"));
        assert!(!valid_id(""));
        assert!(!valid_id("a/b"));
        assert!(!valid_id(&"a".repeat(MAX_ID_LEN + 1)));
    }
}
