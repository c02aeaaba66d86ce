//! Payments over HTTP: the Stripe webhook endpoint (its status mapping) and the
//! organizer's refund route. Verification and acting on events are `app::payments`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use crate::app::Services;
use crate::app::payments::webhook::{Event, SignatureError, WebhookError, WebhookOut, verify};
use crate::app::payments::{RefundError, RefundOut, handle_event, refund};
use crate::http::{ApiPath, ErrorBody};

impl WebhookError {
    fn status(&self) -> StatusCode {
        match self {
            Self::NotConfigured => StatusCode::NOT_FOUND,
            Self::Signature(_) | Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::UnknownOrder | Self::SessionMismatch | Self::AmountMismatch { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "stripe webhook failed");
        } else {
            tracing::warn!(code = self.code(), "stripe webhook refused");
        }
        (
            self.status(),
            Json(ErrorBody {
                error: self.code().to_owned(),
                message: self.to_string(),
            }),
        )
            .into_response()
    }
}

/// Receives a Stripe event: verifies its signature, stores it (once per id), then acts.
#[utoipa::path(
    post,
    path = "/api/v1/payments/stripe/webhook",
    request_body(content = String, description = "A Stripe event, as Stripe sends it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]")),
    responses(
        (status = 200, body = WebhookOut, description = "Handled, or handled before"),
        (status = 400, body = ErrorBody, description = "missing_signature, malformed_signature, bad_signature, stale_signature, malformed_event: nothing stored"),
        (status = 404, body = ErrorBody, description = "not_configured: no webhook secret (demo mode)"),
        (status = 422, body = ErrorBody, description = "unknown_order, session_mismatch, amount_mismatch: stored, order unchanged"),
    )
)]
pub async fn stripe_webhook(
    State(state): State<Services>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookOut>, WebhookError> {
    // An unsigned request is refused as such, configured or not.
    if !headers.contains_key("stripe-signature") {
        return Err(WebhookError::Signature(SignatureError::Missing));
    }
    let secret = state
        .settings
        .payments
        .stripe_webhook_secret
        .as_ref()
        .filter(|s| !s.expose().trim().is_empty())
        .ok_or(WebhookError::NotConfigured)?;
    let header = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let tolerance = i64::try_from(state.settings.payments.webhook_tolerance_secs).unwrap_or(300);
    verify(
        header,
        &body,
        secret.expose(),
        Utc::now().timestamp(),
        tolerance,
    )?;
    let payload = std::str::from_utf8(&body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let event: Event =
        serde_json::from_str(payload).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let outcome = handle_event(&state, &event, payload).await?;
    Ok(Json(WebhookOut {
        id: event.id,
        outcome,
    }))
}

/// The payment routes, merged into [`crate::http::api::router`].
pub fn routes() -> axum::Router<Services> {
    axum::Router::new()
        .route(
            "/api/v1/payments/stripe/webhook",
            axum::routing::post(stripe_webhook),
        )
        .route(
            "/api/v1/orders/{id}/refund",
            axum::routing::post(refund_order),
        )
}

/// `POST /api/v1/orders/{id}/refund` body.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundIn {
    /// Refund only this ticket of the order; absent means every valid ticket.
    #[serde(default)]
    pub ticket_id: Option<i64>,
}

/// Refunds an order or one ticket (organizers: `Authorization: Bearer <refund_api_token>`).
#[utoipa::path(
    post,
    path = "/api/v1/orders/{id}/refund",
    params(("id" = i64, Path, description = "Order id")),
    request_body = RefundIn,
    security(("refund_token" = [])),
    responses(
        (status = 200, body = RefundOut, description = "Refunded; the tickets are revoked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No such order or ticket, or the endpoint is off"),
        (status = 409, body = ErrorBody, description = "not_refundable: not paid, or the ticket is void already"),
        (status = 502, body = ErrorBody, description = "payment_unavailable: Stripe refused or is unreachable; nothing changed"),
    )
)]
pub async fn refund_order(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RefundOut>, crate::app::AppError> {
    use crate::app::AppError;
    let expected = state
        .settings
        .payments
        .refund_api_token
        .as_ref()
        .ok_or_else(|| AppError::NotFound("route".into()))?;
    let token = crate::http::auth::bearer(&headers).ok_or(AppError::Unauthorized)?;
    // Hashes compared, so timing says nothing about the token.
    if crate::app::orders::token_hash(token) != crate::app::orders::token_hash(expected.expose()) {
        return Err(AppError::Forbidden);
    }
    let request: RefundIn = if body.is_empty() {
        RefundIn::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(e.to_string()))?
    };
    refund(&state, id, request.ticket_id, Utc::now())
        .await
        .map(Json)
        .map_err(|e| match e {
            RefundError::NotFound(what) => AppError::NotFound(what),
            RefundError::NotRefundable(m) => AppError::NotRefundable(m),
            RefundError::Provider(e) => {
                tracing::warn!(error = %e, "refund through the provider failed");
                AppError::PaymentUnavailable
            }
            RefundError::Store(e) => AppError::Internal(e.to_string()),
        })
}
