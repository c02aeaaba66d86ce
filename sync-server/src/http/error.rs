//! The one mapping from the application's errors to HTTP: each [`AppError`] variant's status
//! and stable code, the `{"error", "message"}` body, and axum's extractor rejections.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppError;

impl AppError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    /// The stable snake_case code of this error (`sold_out`, `bad_link`, ...).
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            Self::UnknownTicketType(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_ticket_type"),
            Self::SoldOut(_) => (StatusCode::CONFLICT, "sold_out"),
            Self::SalesPaused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "sales_paused"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden | Self::WrongToken(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::NotRefundable(_) => (StatusCode::CONFLICT, "not_refundable"),
            Self::PaymentUnavailable => (StatusCode::BAD_GATEWAY, "payment_unavailable"),
            Self::LoginRequired => (StatusCode::UNAUTHORIZED, "login_required"),
            Self::BadCredentials => (StatusCode::UNAUTHORIZED, "bad_credentials"),
            Self::RoleRequired(_) => (StatusCode::FORBIDDEN, "role_required"),
            Self::Csrf => (StatusCode::FORBIDDEN, "csrf"),
            Self::BadLink => (StatusCode::BAD_REQUEST, "bad_link"),
            Self::LinkClosed(_) => (StatusCode::FORBIDDEN, "link_closed"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::NotTransferable(_) => (StatusCode::CONFLICT, "not_transferable"),
            Self::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            Self::TooManyHolds { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_holds"),
            Self::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            Self::StorageUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable"),
            Self::Replayed => (StatusCode::CONFLICT, "conflict"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// `Retry-After` seconds of a `storage_unavailable` answer, on every API.
pub(crate) const STORAGE_RETRY_AFTER: &str = "5";

/// The error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code: `bad_request`, `invalid`, `unknown_ticket_type`, `sold_out`,
    /// `sales_paused`,
    /// `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`, `payload_too_large`,
    /// `unsupported_media_type`, `not_refundable`, `payment_unavailable`, `login_required`,
    /// `bad_credentials`, `role_required`, `csrf`, `bad_link`, `link_closed` (an order link
    /// revoked, or expired after the event), `conflict`, `not_transferable`,
    /// `too_many_attempts` (429, with `Retry-After`), `too_many_holds` (429, with
    /// `Retry-After`: unpaid orders), `busy` (503, with `Retry-After`), `storage_unavailable` (503,
    /// with `Retry-After`: nothing was saved), `internal`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let mut response = (
            status,
            Json(ErrorBody {
                error: code.to_owned(),
                message: self.to_string(),
            }),
        )
            .into_response();
        let retry_after = match self {
            Self::Busy => Some(HeaderValue::from_static("1")),
            Self::StorageUnavailable(_) => Some(HeaderValue::from_static(STORAGE_RETRY_AFTER)),
            Self::TooManyAttempts { retry_after_secs }
            | Self::TooManyHolds { retry_after_secs } => Some(HeaderValue::from(retry_after_secs)),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::Invalid(r.body_text()),
            _ => Self::BadRequest(r.body_text()),
        }
    }
}

impl From<PathRejection> for AppError {
    fn from(_: PathRejection) -> Self {
        Self::NotFound("resource".into())
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest(r.body_text())
    }
}

/// Adds to every operation of `doc` the errors the shared machinery answers, so the document
/// lists every status the server can return: with a request body 400 (not JSON or not a
/// form), 413, 415 and 422 (a field of the wrong type); with query parameters 400 (a
/// malformed query); with path parameters 404 (a
/// malformed id names nothing); and 503 wherever the store is read or written (`busy`,
/// `storage_unavailable`, with `Retry-After`). Pages document them as HTML.
pub fn document_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    for (path, item) in &mut doc.paths.paths {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let page = operation.responses.responses.values().any(|r| match r {
                RefOr::T(r) => r.content.contains_key("text/html"),
                RefOr::Ref(_) => false,
            });
            let mut statuses: Vec<(&str, &str)> = Vec::new();
            if operation.request_body.is_some() {
                statuses.extend([
                    ("400", "malformed body (bad_request)"),
                    ("413", "body too large (payload_too_large)"),
                    ("415", "wrong Content-Type (unsupported_media_type)"),
                    (
                        "422",
                        "a field is missing, of the wrong type or invalid (invalid)",
                    ),
                ]);
            }
            let query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query));
            if query && operation.request_body.is_none() {
                statuses.push(("400", "malformed query (bad_request)"));
            }
            if path.contains('{') {
                statuses.push(("404", "no such resource, or a malformed id (not_found)"));
            }
            if path != "/api/openapi.json" {
                statuses.push((
                    "503",
                    "busy, or storage_unavailable: nothing was saved; retry after Retry-After",
                ));
            }
            for (status, description) in statuses {
                let content = if page {
                    ContentBuilder::new().build()
                } else {
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build()
                };
                let media = if page {
                    "text/html"
                } else {
                    "application/json"
                };
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(media, content)
                            .into()
                    });
            }
        }
    }
}
