//! The headers every response carries: no sniffing, no framing, no referrer to other sites
//! (links carry tokens), a content security policy that allows no script and no third-party
//! resource (the browser gate at `/gate/` sets its own, for its script), and
//! `Cache-Control: no-store` unless a route chose otherwise (order and ticket pages, their
//! QR codes and PDFs hold tokens and personal data, and shared caches must not keep them).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of every page: styles inline (the pages carry their own), images from the
/// server itself or inline, nothing else; no page may be framed, and `<base>` cannot move
/// relative links. Forms are not restricted: checkout forms answer with a redirect to the
/// payment provider's page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";

/// Middleware: sets the security headers on every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 3] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // `same-origin`, not `no-referrer`: under `no-referrer` browsers send `Origin: null`
        // on our own form posts, which the CSRF check refuses.
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // The browser gate sets its own (it runs a script); every other response gets this one.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
