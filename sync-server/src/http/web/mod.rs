//! The server-rendered pages: templates embedded in the binary (minijinja, autoescaped),
//! the page context every template gets (the account, the CSRF token, a notice), HTML error
//! pages, and the routes of the attendee's pages (`shop`), account pages (`account`), and
//! the organizer's pages with the vendor's booth form (`organizer`).
//! No JavaScript is needed for any of it.

pub(crate) mod account;
// The organizer's pages and the vendor's booth form.
pub(crate) mod organizer;
mod shop;

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Environment, Value, context};
use serde::Serialize;

use crate::app::accounts::CurrentUser;
use crate::app::{AppError, Services};
use crate::http::auth::CsrfToken;

/// Every template, by name, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "message.html",
        include_str!("../../../templates/message.html"),
    ),
    ("event.html", include_str!("../../../templates/event.html")),
    ("order.html", include_str!("../../../templates/order.html")),
    (
        "ticket.html",
        include_str!("../../../templates/ticket.html"),
    ),
    ("login.html", include_str!("../../../templates/login.html")),
    (
        "register.html",
        include_str!("../../../templates/register.html"),
    ),
    (
        "forgot.html",
        include_str!("../../../templates/forgot.html"),
    ),
    ("reset.html", include_str!("../../../templates/reset.html")),
    (
        "verify.html",
        include_str!("../../../templates/verify.html"),
    ),
    (
        "dashboard.html",
        include_str!("../../../templates/dashboard.html"),
    ),
    (
        "profile.html",
        include_str!("../../../templates/profile.html"),
    ),
    (
        "macros.html",
        include_str!("../../../templates/macros.html"),
    ),
    // The organizer's pages and the vendor's booth form.
    (
        "organizer_nav.html",
        include_str!("../../../templates/organizer_nav.html"),
    ),
    (
        "organizer.html",
        include_str!("../../../templates/organizer.html"),
    ),
    (
        "organizer_devices.html",
        include_str!("../../../templates/organizer_devices.html"),
    ),
    (
        "organizer_orders.html",
        include_str!("../../../templates/organizer_orders.html"),
    ),
    (
        "organizer_vendors.html",
        include_str!("../../../templates/organizer_vendors.html"),
    ),
    (
        "organizer_exports.html",
        include_str!("../../../templates/organizer_exports.html"),
    ),
    (
        "vendor_booth.html",
        include_str!("../../../templates/vendor_booth.html"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // A template that does not parse is a build mistake the tests catch
            // (`every_template_parses`); here it renders as a 500 naming it.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not parse");
            }
        }
        env
    })
}

/// What every page knows: who is logged in, the CSRF token for its forms, the title.
#[derive(Debug, Clone, Serialize)]
pub struct PageUser {
    /// Display name.
    pub name: String,
    /// Address.
    pub email: String,
    /// `attendee`, `vendor`, `gate_staff`, `organizer`.
    pub role: &'static str,
    /// Whether the address is confirmed.
    pub verified: bool,
}

/// The common part of every page's context.
#[derive(Debug, Clone)]
pub struct Page {
    /// The account, if logged in.
    pub user: Option<CurrentUser>,
    /// The CSRF token for forms.
    pub csrf: String,
}

impl Page {
    /// From a request's parts.
    pub fn new(user: Option<CurrentUser>, csrf: Option<axum::Extension<CsrfToken>>) -> Self {
        Self {
            user,
            csrf: csrf.map(|c| c.0.0).unwrap_or_default(),
        }
    }

    /// Renders a template with this page's common context merged into `ctx`.
    pub fn render(
        &self,
        template: &str,
        title: &str,
        ctx: Value,
    ) -> Result<Html<String>, PageError> {
        let user = self.user.as_ref().map(|u| PageUser {
            name: u.user.name.clone(),
            email: u.user.email.clone(),
            role: u.role.as_str(),
            verified: u.user.email_verified_at.is_some(),
        });
        let full = context! { title => title, user => user, csrf => &self.csrf, ..ctx };
        let tpl = env()
            .get_template(template)
            .map_err(|e| PageError(AppError::Internal(format!("template {template}: {e}"))))?;
        tpl.render(full)
            .map(Html)
            .map_err(|e| PageError(AppError::Internal(format!("template {template}: {e:#}"))))
    }

    /// A page with one message (done, or why not).
    pub fn message(&self, title: &str, text: &str) -> Result<Html<String>, PageError> {
        self.render(
            "message.html",
            title,
            context! { heading => title, text => text },
        )
    }
}

/// An error on a page: an HTML page with the status the API would give, or a redirect to
/// the login page when a login is needed.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl From<crate::http::auth::AuthRejection> for PageError {
    fn from(r: crate::http::auth::AuthRejection) -> Self {
        Self(r.error)
    }
}

impl From<axum::extract::rejection::PathRejection> for PageError {
    /// A malformed id in a page's path is a page that does not exist.
    fn from(r: axum::extract::rejection::PathRejection) -> Self {
        Self(r.into())
    }
}

impl From<axum::extract::rejection::QueryRejection> for PageError {
    fn from(r: axum::extract::rejection::QueryRejection) -> Self {
        Self(r.into())
    }
}

/// `axum::extract::Path` for pages: a malformed path is the HTML 404 page.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(PageError))]
pub struct PagePath<T>(pub T);

/// `axum::extract::Query` for pages: a malformed query is an HTML 400 page.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(PageError))]
pub struct PageQuery<T>(pub T);

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if matches!(self.0, AppError::LoginRequired) {
            return Redirect::to("/account/login").into_response();
        }
        let status = self.0.status();
        if let AppError::Internal(cause) = &self.0 {
            tracing::error!(%cause, "page failed");
        }
        let text = self.0.to_string();
        let page = Page {
            user: None,
            csrf: String::new(),
        };
        let body = page
            .render(
                "message.html",
                "Something went wrong",
                context! { heading => status.canonical_reason().unwrap_or("Error"), text => text, error => true },
            )
            .map(|h| h.0)
            .unwrap_or_else(|_| format!("<!doctype html><title>Error</title><p>{status}</p>"));
        let mut response = (status, Html(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A redirect after a form post (303: the browser follows with a GET).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The pages in the OpenAPI document (the order page is linked from emails and Stripe).
#[derive(utoipa::OpenApi)]
#[openapi(paths(shop::order_page))]
pub struct PagesDoc;

/// The pages' routes.
pub fn routes() -> Router<Services> {
    shop::routes()
        .merge(account::routes())
        .merge(organizer::routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap();
        }
    }

    #[test]
    fn values_are_escaped() {
        let page = Page {
            user: None,
            csrf: "t".into(),
        };
        let html = page.message("Hi", "<script>alert(1)</script>").unwrap().0;
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
