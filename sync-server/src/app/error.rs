//! The one error every use-case returns: what went wrong, in words for the person who must
//! act, classified so that `http::error` maps each variant to one status and code.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::app::orders::OrderError;
use crate::domain::render;
use crate::store::StoreError;

/// Every API error, as `{"error": code, "message": text}` with the status each variant
/// names. Internal causes are logged, never returned.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the body is not JSON, or a path or query parameter is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 422: well-formed but invalid (a field's value, an unknown ticket type).
    #[error("{0}")]
    Invalid(String),
    /// 422: an order names a ticket type that does not exist.
    #[error("{0}")]
    UnknownTicketType(String),
    /// 409: not enough tickets left.
    #[error("{0}")]
    SoldOut(String),
    /// 422: an order names a ticket type whose sales the organizer paused.
    #[error("{0}")]
    SalesPaused(String),
    /// 401: no access token.
    #[error("this endpoint needs the order's access token: Authorization: Bearer <access_token>")]
    Unauthorized,
    /// 403: an access token that is not this order's.
    #[error("the access token does not belong to this order")]
    Forbidden,
    /// 403: a bearer token that is not the configured one (named, never shown).
    #[error("this is not the {0}")]
    WrongToken(&'static str),
    /// 404: no such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 413: the body is larger than `max_body_bytes`.
    #[error("request body too large")]
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 409: the order or ticket cannot be refunded in its state.
    #[error("{0}")]
    NotRefundable(String),
    /// 502: the payment provider failed; nothing changed.
    #[error("the payment provider is unavailable, please try again")]
    PaymentUnavailable,
    /// 401: this needs a logged-in account (a session cookie or `Authorization: Bearer`).
    #[error("please log in first")]
    LoginRequired,
    /// 401: wrong email or password.
    #[error("wrong email or password")]
    BadCredentials,
    /// 403: the account's role may not do this.
    #[error("this needs the {0} role")]
    RoleRequired(&'static str),
    /// 403: a form post without the right CSRF token (or from another site).
    #[error("the form expired or came from another site: reload the page and try again")]
    Csrf,
    /// 403: an order link that was revoked, or expired after the event.
    #[error("{0}")]
    LinkClosed(&'static str),
    /// 400: an email link that is tampered with, used or expired.
    #[error("this link is invalid, used or expired: ask for a new one")]
    BadLink,
    /// 409: the resource changed meanwhile, or the request conflicts with its state.
    #[error("{0}")]
    Conflict(String),
    /// 409: vendor tickets and passes of non-transferable types stay with their holder.
    #[error("{0}")]
    NotTransferable(String),
    /// 429: too many attempts at an account form from this client or for this address
    /// lately; the next is counted once the oldest leaves its window.
    #[error("too many attempts: try again in {retry_after_secs} seconds, or reset your password")]
    TooManyAttempts {
        /// When a slot frees (`Retry-After`).
        retry_after_secs: u64,
    },
    /// 429: the buyer's address or network holds as many unpaid orders as it may.
    #[error(
        "too many unpaid orders from this address or network: pay or let one expire, or try again in {retry_after_secs} seconds"
    )]
    TooManyHolds {
        /// When a hold frees (`Retry-After`).
        retry_after_secs: u64,
    },
    /// 503: too many requests are waiting for a password check; try again in a moment.
    #[error("the server is busy: try again in a moment")]
    Busy,
    /// 503: the database cannot take writes now (a full disk, an I/O error, a lost
    /// connection), or the disk is below its free-space floor; nothing was saved.
    #[error("{0}")]
    StorageUnavailable(String),
    /// 409: an `Idempotency-Key` names an order made meanwhile by the same request; the
    /// endpoint answers with that order instead (this never reaches a client otherwise).
    #[error("this request was made already: fetch its order")]
    Replayed,
    /// 500: something broke on our side; the cause is in the server log.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for AppError {
    /// The one reading of the store's errors: a taken name is a conflict that names it, a
    /// changed row a conflict that says what to do, a missing row a 404, no capacity
    /// `sold_out`; anything else is ours to fix (logged, never shown).
    fn from(e: StoreError) -> Self {
        match e {
            e @ StoreError::Conflict(_) => Self::Conflict(e.to_string()),
            StoreError::Changed(m) => Self::Conflict(m),
            StoreError::NotFound(what) => Self::NotFound(what),
            e @ StoreError::SoldOut { .. } => Self::SoldOut(e.to_string()),
            StoreError::Unavailable(cause) => Self::storage_unavailable(&cause),
            StoreError::Replayed => Self::Replayed,
            other => Self::Internal(other.to_string()),
        }
    }
}

/// How often a storage fault is written to the log while it lasts: a full disk refuses
/// every request, and a line for each would bury everything else (and fill what is left).
const STORAGE_LOG_EVERY: Duration = Duration::from_secs(10);

/// Lets one line through per period and counts the ones it holds back.
#[derive(Debug, Default)]
struct LogThrottle {
    /// When the last line was let through (milliseconds since the first call, plus one; 0:
    /// never).
    last: AtomicU64,
    /// Lines held back since then.
    held: AtomicU64,
}

impl LogThrottle {
    /// At `now` (time since the process's first call): `Some(lines held back since the last
    /// one)` when a line may be written, `None` when it is held back.
    fn admit(&self, now: Duration, every: Duration) -> Option<u64> {
        let now_ms = u64::try_from(now.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        let due = last == 0 || now_ms.saturating_sub(last) >= every.as_millis() as u64;
        if due
            && self
                .last
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.held.swap(0, Ordering::Relaxed));
        }
        self.held.fetch_add(1, Ordering::Relaxed);
        None
    }
}

impl AppError {
    /// The store could not write: logged with its cause (which may name paths, never
    /// personal data) at most once every 10 seconds, with the number of refusals
    /// not logged since; answered with words for the client.
    pub fn storage_unavailable(cause: &str) -> Self {
        static START: OnceLock<Instant> = OnceLock::new();
        static THROTTLE: LogThrottle = LogThrottle {
            last: AtomicU64::new(0),
            held: AtomicU64::new(0),
        };
        let now = START.get_or_init(Instant::now).elapsed();
        if let Some(held) = THROTTLE.admit(now, STORAGE_LOG_EVERY) {
            tracing::error!(%cause, not_logged_since = held, "storage unavailable");
        }
        Self::StorageUnavailable(
            "the server cannot store data right now: nothing was saved; try again in a moment"
                .to_owned(),
        )
    }
}

impl From<render::RenderError> for AppError {
    fn from(e: render::RenderError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<OrderError> for AppError {
    fn from(e: OrderError) -> Self {
        match e {
            OrderError::Invalid(m) => Self::Invalid(m),
            e @ OrderError::UnknownTicketType(_) => Self::UnknownTicketType(e.to_string()),
            e @ OrderError::SoldOut { .. } => Self::SoldOut(e.to_string()),
            e @ OrderError::SalesPaused(_) => Self::SalesPaused(e.to_string()),
            OrderError::Store(StoreError::NotFound(what)) => {
                Self::UnknownTicketType(format!("{what} not found"))
            }
            OrderError::Store(e @ (StoreError::Unavailable(_) | StoreError::Replayed)) => {
                Self::from(e)
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lasting_storage_fault_is_logged_once_a_period_with_what_was_held_back() {
        let t = LogThrottle::default();
        let every = Duration::from_secs(10);
        let at = Duration::from_millis;
        assert_eq!(t.admit(at(0), every), Some(0));
        for ms in [1, 500, 9_999] {
            assert_eq!(t.admit(at(ms), every), None);
        }
        assert_eq!(t.admit(at(10_000), every), Some(3));
        assert_eq!(t.admit(at(10_001), every), None);
        assert_eq!(t.admit(at(60_000), every), Some(1));
    }
}
