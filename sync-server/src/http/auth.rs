//! Who is asking, for axum: the client's address (`X-Forwarded-For` believed from trusted
//! proxies only), the session cookie and bearer token, the `CurrentUser`, `MaybeUser` and
//! `Organizer` extractors, the CSRF cookie middleware and the `CsrfForm`
//! extractor every form post goes through. The accounts themselves are `app::accounts`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::de::DeserializeOwned;

use crate::app::accounts::{
    CSRF_COOKIE, CurrentUser, Role, SESSION_COOKIE, SESSION_SECS, constant_time_eq, new_token,
};
use crate::app::attempts::Client;
use crate::app::orders::token_hash;
use crate::app::{AppError, Services};

/// Whether the server is reached over TLS (cookies get `Secure`).
pub fn secure_cookies(state: &Services) -> bool {
    state.settings.public_url().starts_with("https://")
}

/// A `Set-Cookie` value.
pub fn cookie(state: &Services, name: &str, value: &str, max_age: i64, same_site: &str) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite={same_site}{}",
        if secure_cookies(state) {
            "; Secure"
        } else {
            ""
        }
    )
}

/// The value of one cookie of a request.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The `Authorization: Bearer` token of a request, trimmed.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The client a request came from: the connection's peer, or, when the peer is one of the
/// `trusted` proxies, the nearest address in `X-Forwarded-For` that is not (each proxy
/// appends the address it was reached from, so the entries left of it are whatever the client
/// wrote and prove nothing).
pub fn client_address(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.contains(&ip.to_canonical());
    let peer = peer?.to_canonical();
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.into_iter().rev() {
        let Some(ip) = hop
            .parse::<IpAddr>()
            .ok()
            .or_else(|| hop.parse::<SocketAddr>().ok().map(|a| a.ip()))
        else {
            // A trusted proxy passed on something that is no address: its own view is all
            // there is.
            return Some(peer);
        };
        if !is_trusted(&ip) {
            return Some(ip.to_canonical());
        }
    }
    Some(peer)
}

impl FromRequestParts<Services> for Client {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Services,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self::new(client_address(
            &parts.headers,
            peer,
            &state.settings.http.trusted_proxies,
        )))
    }
}

/// Looks up the session a request carries: a bearer token, else the session cookie.
pub async fn current_user(
    state: &Services,
    headers: &HeaderMap,
) -> Result<Option<CurrentUser>, AppError> {
    let (token, bearer) = match bearer(headers) {
        Some(t) => (t.to_owned(), true),
        None => match cookie_value(headers, SESSION_COOKIE) {
            Some(t) => (t, false),
            None => return Ok(None),
        },
    };
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some((user, kind)) = state
        .store
        .session_user(&token_hash(&token), Utc::now().timestamp())
        .await?
    else {
        return Ok(None);
    };
    // A cookie's token is not a bearer token and the other way round.
    if (kind == "bearer") != bearer {
        return Ok(None);
    }
    let role = user
        .role
        .parse()
        .map_err(|e: String| AppError::Internal(e))?;
    Ok(Some(CurrentUser { user, role, bearer }))
}

/// Why a request's account was refused, answered as the request expects: the API's JSON
/// error for `/api/...`, and for a page what pages answer (the login page when nobody is
/// logged in, an HTML error page otherwise), never raw JSON in a browser.
#[derive(Debug)]
pub struct AuthRejection {
    /// What was wrong.
    pub error: AppError,
    /// Whether the request was for a page rather than the API.
    pub page: bool,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self.page {
            crate::http::web::PageError(self.error).into_response()
        } else {
            self.error.into_response()
        }
    }
}

impl FromRequestParts<Services> for CurrentUser {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Services,
    ) -> Result<Self, Self::Rejection> {
        let page = !parts.uri.path().starts_with("/api/");
        let refuse = |error| AuthRejection { error, page };
        let user = current_user(state, &parts.headers)
            .await
            .map_err(refuse)?
            .ok_or(refuse(AppError::LoginRequired))?;
        if !user.bearer && cross_site_risk(parts) {
            return Err(refuse(AppError::Csrf));
        }
        Ok(user)
    }
}

/// Whether a cookie-authenticated request could have been sent by another site: a
/// state-changing API call (`/api/...`, not GET/HEAD/OPTIONS) without a JSON body. A JSON
/// `Content-Type` cannot be sent cross-site without a CORS preflight, which this server never
/// grants; pages' form posts are checked by [`CsrfForm`] instead.
fn cross_site_risk(parts: &Parts) -> bool {
    use axum::http::Method;
    let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    unsafe_method && parts.uri.path().starts_with("/api/") && !json
}

/// The account of a request, if any.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequestParts<Services> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Services,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(current_user(state, &parts.headers).await?))
    }
}

/// An organizer's request: 401 without a session, 403 for any other role.
#[derive(Debug, Clone)]
pub struct Organizer(pub CurrentUser);

impl FromRequestParts<Services> for Organizer {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Services,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if user.role != Role::Organizer {
            return Err(AuthRejection {
                error: AppError::RoleRequired("organizer"),
                page: !parts.uri.path().starts_with("/api/"),
            });
        }
        Ok(Self(user))
    }
}

/// The CSRF token a request's forms carry, put in by [`csrf_cookie`].
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// A well-formed token (64 hex digits) or nothing.
fn well_formed(value: String) -> Option<String> {
    (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())).then_some(value)
}

/// The CSRF token a browser's forms must carry. With a session cookie it is bound to that
/// session: an HMAC of the session token under the master key, so a token planted by
/// whoever can set cookies for our host (a sibling subdomain, a plain-HTTP answer on the
/// way), or read from the attacker's own session, is worth nothing in the victim's. Before
/// a session (registration, login, reset) it is the browser's CSRF cookie, whose own value
/// is all a form can be bound to.
fn bound_csrf_token(state: &Services, headers: &HeaderMap) -> Option<String> {
    match cookie_value(headers, SESSION_COOKIE).and_then(well_formed) {
        Some(session) => Some(state.master.derive_token("csrf", session.as_bytes())),
        None => cookie_value(headers, CSRF_COOKIE).and_then(well_formed),
    }
}

/// Middleware: every response to a browser without the CSRF cookie sets one, and the
/// handlers see the token their forms must carry (bound to the session when there is one)
/// as a [`CsrfToken`] extension.
pub async fn csrf_cookie(
    axum::extract::State(state): axum::extract::State<Services>,
    mut request: Request,
    next: Next,
) -> Response {
    let fresh = match cookie_value(request.headers(), CSRF_COOKIE).and_then(well_formed) {
        Some(_) => None,
        None => match new_token() {
            Ok(t) => Some(t),
            Err(e) => return e.into_response(),
        },
    };
    let token = match (&fresh, bound_csrf_token(&state, request.headers())) {
        (_, Some(bound)) => bound,
        (Some(fresh), None) => fresh.clone(),
        (None, None) => String::new(),
    };
    request.extensions_mut().insert(CsrfToken(token));
    let mut response = next.run(request).await;
    if let Some(fresh) = fresh
        && let Ok(v) =
            HeaderValue::from_str(&cookie(&state, CSRF_COOKIE, &fresh, SESSION_SECS, "Strict"))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// A form post that passed the CSRF check: its `_csrf` field is the token bound to the
/// browser's session (or, before one, equals its CSRF cookie, which another site can
/// neither read nor set), and any `Origin` header is ours.
#[derive(Debug)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<Services> for CsrfForm<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &Services) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let expected = bound_csrf_token(state, &headers);
        // An opaque `Origin: null` (a sandboxed frame, a data: page, a redirect from another
        // site) is never one of our pages: refused like another site's origin.
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
            && (origin == "null" || !same_origin(state, &headers, origin))
        {
            return Err(AppError::Csrf);
        }
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(AppError::BadRequest(
                "expected a form (application/x-www-form-urlencoded)".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        let fields: HashMap<String, String> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| AppError::BadRequest(format!("malformed form: {e}")))?;
        match (expected, fields.get("_csrf")) {
            (Some(e), Some(f)) if constant_time_eq(e.as_bytes(), f.as_bytes()) => {}
            _ => return Err(AppError::Csrf),
        }
        serde_urlencoded::from_bytes(&bytes)
            .map(Self)
            .map_err(|e| AppError::Invalid(format!("form: {e}")))
    }
}

fn same_origin(state: &Services, headers: &HeaderMap, origin: &str) -> bool {
    if origin == state.settings.public_url() {
        return true;
    }
    // Without a configured public URL the server is reached at whatever Host the browser used.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.split_once("://"), host) {
        (Some((_, rest)), Some(host)) => rest == host,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let mut h = HeaderMap::new();
        h.append(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
        );
        h.append("x-forwarded-for", HeaderValue::from_static("10.0.0.2"));
        // From a stranger the header is a claim like any other: ignored.
        let stranger = Some(ip("198.51.100.9"));
        assert_eq!(client_address(&h, stranger, &proxies), stranger);
        assert_eq!(client_address(&h, stranger, &[]), stranger);
        // Through the proxies: the nearest hop that is not one, never the client's own words.
        assert_eq!(
            client_address(&h, Some(ip("10.0.0.1")), &proxies),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_address(&h, Some(ip("::ffff:10.0.0.1")), &proxies),
            Some(ip("203.0.113.7"))
        );
        // No header, or only proxies in it: the proxy is the client.
        assert_eq!(
            client_address(&HeaderMap::new(), Some(ip("10.0.0.1")), &proxies),
            Some(ip("10.0.0.1"))
        );
        let mut garbled = HeaderMap::new();
        garbled.insert(
            "x-forwarded-for",
            HeaderValue::from_static("not an address"),
        );
        assert_eq!(
            client_address(&garbled, Some(ip("10.0.0.1")), &proxies),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(client_address(&h, None, &proxies), None);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; tessera_csrf=abc; b=2"),
        );
        assert_eq!(cookie_value(&h, CSRF_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie_value(&h, SESSION_COOKIE), None);
    }
}
