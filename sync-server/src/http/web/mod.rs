//! The server-rendered pages: templates embedded in the binary (minijinja, autoescaped),
//! the page context every template gets (the account, the CSRF token, a notice), HTML error
//! pages, and the routes of the attendee's pages (`shop`), account pages (`account`), and
//! the organizer's pages with the vendor's booth form (`organizer`).
//! No JavaScript is needed for any of it. Every attendee page is written in English and
//! Arabic: the `t` template function and [`tr`] give a message of `domain::i18n` in the
//! request's language: a logged-in account's choice, else [`choose_language`] (ADR 0022,
//! 0023).

pub(crate) mod account;
// The organizer's pages and the vendor's booth form.
pub(crate) mod organizer;
mod shop;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use minijinja::value::Kwargs;
use minijinja::{Environment, HtmlEscape, State, Value, context};
use serde::Serialize;

use crate::app::accounts::{CurrentUser, SESSION_COOKIE};
use crate::app::{AppError, Services};
use crate::domain::i18n::{self, Arg, Lang};
use crate::http::auth::{CsrfToken, cookie_value, current_user};

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
        env.add_function("tr", t);
        env.add_function("tr_text", t_text);
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

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "tessera_lang";

/// What a request asked for: the language and the path it was made to (for the switch's
/// way back).
#[derive(Debug, Clone)]
struct Asked {
    lang: Lang,
    here: String,
}

tokio::task_local! {
    static ASKED: Asked;
}

/// The language of a request without an account's choice: the switch's cookie, else the
/// best of `Accept-Language`, else English. (A logged-in account's stored choice comes
/// first: the pages' middleware applies it.)
pub fn choose_language(headers: &HeaderMap) -> Lang {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == LANG_COOKIE)
        .and_then(|(_, value)| Lang::parse(value));
    cookie
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

/// The language of an API request by an account: its choice, else the request's.
pub fn account_or_request_language(user: &CurrentUser, headers: &HeaderMap) -> Lang {
    user.user
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .unwrap_or_else(|| choose_language(headers))
}

/// The language of the request being answered (English outside one).
pub fn current_lang() -> Lang {
    ASKED.try_with(|a| a.lang).unwrap_or_default()
}

/// A message in the request's language, as plain text (for titles and notices that a
/// template escapes).
pub fn tr(key: &str) -> String {
    i18n::message(current_lang(), key, &[])
}

/// A message with arguments in the request's language, as plain text.
pub fn tr_args(key: &str, args: &[(&str, Arg<'_>)]) -> String {
    i18n::message(current_lang(), key, args)
}

/// The language an account chose, if the request carries a session of one that did.
async fn account_language(state: &Services, headers: &HeaderMap) -> Option<Lang> {
    // Most page requests carry no session: no lookup for them.
    cookie_value(headers, SESSION_COOKIE)?;
    let user = current_user(state, headers).await.ok().flatten()?;
    user.user.lang.as_deref().and_then(Lang::parse)
}

/// Runs a page request knowing its language: the account's choice, else the switch's
/// cookie, else `Accept-Language`, else English.
async fn with_language(
    axum::extract::State(state): axum::extract::State<Services>,
    request: Request,
    next: Next,
) -> Response {
    let lang = match account_language(&state, request.headers()).await {
        Some(lang) => lang,
        None => choose_language(request.headers()),
    };
    let asked = Asked {
        lang,
        here: request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
    };
    ASKED.scope(asked, next.run(request)).await
}

#[derive(Debug, serde::Deserialize)]
struct SwitchQuery {
    back: Option<String>,
}

/// `GET /lang/{code}?back=/path`: remembers the language in a cookie for a year, and for a
/// logged-in account as its choice, and goes back to the page (only a path on this site).
/// A GET that writes: another site can switch a visitor's language with a link, as it could
/// the cookie, and nothing more (ADR 0023).
async fn switch_language(
    axum::extract::State(state): axum::extract::State<Services>,
    headers: HeaderMap,
    PagePath(code): PagePath<String>,
    PageQuery(query): PageQuery<SwitchQuery>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(&code).ok_or_else(|| AppError::NotFound(format!("language {code}")))?;
    if let Some(user) = current_user(&state, &headers).await?.filter(|u| !u.bearer) {
        state.store.set_user_lang(user.user.id, lang.code()).await?;
    }
    let back = query
        .back
        .filter(|b| is_local_path(b))
        .unwrap_or_else(|| "/".to_owned());
    let mut response = see_other(&back);
    if let Ok(value) = HeaderValue::from_str(&lang_cookie(lang)) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The `Set-Cookie` value that remembers `lang` in the browser for a year.
pub(crate) fn lang_cookie(lang: Lang) -> String {
    format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )
}

/// Whether `to` is a path on this site, and stays one in a browser: browsers read `\` as
/// `/` and drop tabs and line breaks from a URL, so `/\evil.example` and `/<TAB>/evil.example`
/// would leave the site.
fn is_local_path(to: &str) -> bool {
    to.starts_with('/')
        && !to.contains('\\')
        && !to.chars().any(|c| c.is_control() || c.is_whitespace())
        && !to.starts_with("//")
}

/// The template function `tr(key, name=value, ...)`: the message in the page's language,
/// escaped, with each text argument escaped and isolated in `<bdi>` (names, addresses and
/// figures keep their own direction inside a sentence of the other); whole numbers select
/// plural forms and print as they are.
fn t(state: &State<'_, '_>, key: &str, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default();
    let names: Vec<&str> = kwargs.args().collect();
    let mut texts = Vec::new();
    let mut numbers = Vec::new();
    for name in &names {
        let value: Value = kwargs.get(name)?;
        match i64::try_from(value.clone()) {
            Ok(n) if value.is_number() => numbers.push((*name, n)),
            _ => texts.push((*name, value.to_string())),
        }
    }
    kwargs.assert_all_used()?;
    let mut args: Vec<(&str, Arg<'_>)> =
        numbers.iter().map(|(n, v)| (*n, Arg::Number(*v))).collect();
    args.extend(texts.iter().map(|(n, v)| (*n, Arg::Text(v.as_str()))));
    Ok(message_html(lang, key, &args))
}

/// The template function `tr_text(key, name=value, ...)`: the message as plain text, for
/// places where markup cannot go (an attribute, an `<option>`); autoescape escapes it.
fn t_text(state: &State<'_, '_>, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default();
    let names: Vec<&str> = kwargs.args().collect();
    let mut values = Vec::new();
    for name in &names {
        let value: Value = kwargs.get(name)?;
        values.push((*name, value));
    }
    kwargs.assert_all_used()?;
    let texts: Vec<String> = values.iter().map(|(_, v)| v.to_string()).collect();
    let args: Vec<(&str, Arg<'_>)> = values
        .iter()
        .zip(&texts)
        .map(|((name, value), text)| match i64::try_from(value.clone()) {
            Ok(n) if value.is_number() => (*name, Arg::Number(n)),
            _ => (*name, Arg::Text(text.as_str())),
        })
        .collect();
    Ok(i18n::message(lang, key, &args))
}

/// A message as HTML: escaped, each text argument escaped and isolated in `<bdi>`.
fn message_html(lang: Lang, key: &str, args: &[(&str, Arg<'_>)]) -> Value {
    // Text arguments go in as private-use markers, so the message can be escaped whole and
    // each argument put back escaped and isolated.
    let mut texts = Vec::new();
    let marked: Vec<(String, Arg<'_>)> = args
        .iter()
        .map(|(_, arg)| match arg {
            Arg::Text(text) => {
                texts.push(*text);
                (format!("\u{E000}{}\u{E001}", texts.len() - 1), *arg)
            }
            Arg::Number(_) => (String::new(), *arg),
        })
        .collect();
    let with_markers: Vec<(&str, Arg<'_>)> = args
        .iter()
        .zip(&marked)
        .map(|((name, _), (marker, arg))| match arg {
            Arg::Text(_) => (*name, Arg::Text(marker.as_str())),
            Arg::Number(_) => (*name, *arg),
        })
        .collect();
    let mut html = HtmlEscape(&i18n::message(lang, key, &with_markers)).to_string();
    for (i, text) in texts.iter().enumerate() {
        html = html.replace(
            &format!("\u{E000}{i}\u{E001}"),
            &format!("<bdi>{}</bdi>", HtmlEscape(text)),
        );
    }
    Value::from_safe_string(html)
}

/// A message with arguments in the request's language as HTML for a template, each text
/// argument (a name, an address) isolated in `<bdi>`.
pub fn tr_html(key: &str, args: &[(&str, Arg<'_>)]) -> Value {
    message_html(current_lang(), key, args)
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
        let (lang, here) = ASKED
            .try_with(|a| (a.lang, a.here.clone()))
            .unwrap_or_else(|_| (Lang::En, "/".to_owned()));
        let langs: Vec<Value> = Lang::ALL
            .iter()
            .filter(|l| **l != lang)
            .map(|l| {
                context! {
                    code => l.code(),
                    name => l.native_name(),
                    url => format!("/lang/{}?back={}", l.code(), urlencode(&here)),
                }
            })
            .collect();
        let full = context! {
            title => title, user => user, csrf => &self.csrf,
            lang => lang.code(), dir => lang.dir(), langs => langs,
            ..ctx
        };
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
        let text = error_text(current_lang(), &self.0);
        let page = Page {
            user: None,
            csrf: String::new(),
        };
        let body = page
            .render(
                "message.html",
                &tr("error-title"),
                context! {
                    heading => match current_lang() {
                        Lang::En => status.canonical_reason().unwrap_or("Error").to_owned(),
                        Lang::Ar => tr("error-title"),
                    },
                    text => text,
                    error => true,
                },
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

/// What an error page says: in English the error's own words (which name the field or the
/// ticket type), in another language the words of its code (`apperror-<code>` in the
/// message files), since the details are composed in English deep in the use-cases.
fn error_text(lang: Lang, error: &AppError) -> String {
    match lang {
        Lang::En => error.to_string(),
        Lang::Ar => {
            let wait = match error {
                AppError::TooManyAttempts { retry_after_secs }
                | AppError::TooManyHolds { retry_after_secs } => *retry_after_secs,
                _ => 0,
            };
            let wait = i64::try_from(wait).unwrap_or(i64::MAX);
            i18n::message(
                lang,
                &format!("apperror-{}", error.code()),
                &[("n", Arg::Number(wait))],
            )
        }
    }
}

/// What a form says when the use-case refused it, in the page's language (see
/// [`error_text`]).
pub(crate) fn form_error(error: &AppError) -> String {
    error_text(current_lang(), error)
}

/// Percent-encodes a path for a query value.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A redirect after a form post (303: the browser follows with a GET).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The pages in the OpenAPI document (the order page is linked from emails and Stripe).
#[derive(utoipa::OpenApi)]
#[openapi(paths(shop::order_page))]
pub struct PagesDoc;

/// The pages' routes, each knowing its request's language (which may need `state`'s store:
/// an account's choice).
pub fn routes(state: Services) -> Router<Services> {
    shop::routes()
        .merge(account::routes())
        .merge(organizer::routes())
        .route("/lang/{code}", get(switch_language))
        .layer(middleware::from_fn_with_state(state, with_language))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        env.add_function("tr", t);
        env.add_function("tr_text", t_text);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        for (name, _) in TEMPLATES {
            env.get_template(name).unwrap();
        }
    }

    /// Every message key a template or a page handler asks for exists (the `i18n` tests
    /// then hold Arabic to the same keys); `prefix-" ~ value` keys are checked for every
    /// value they can take.
    #[test]
    fn every_key_used_by_the_pages_exists() {
        let known = i18n::keys(i18n::EN_FTL);
        let sources: Vec<&str> = TEMPLATES
            .iter()
            .map(|(_, s)| *s)
            .chain([
                include_str!("mod.rs"),
                include_str!("shop.rs"),
                include_str!("account.rs"),
            ])
            .collect();
        let mut used = 0;
        for source in sources {
            for call in ["tr(\"", "tr_text(\"", "tr_args(\"", "tr_html(\""] {
                for piece in source.split(call).skip(1) {
                    let key = piece.split('"').next().unwrap_or_default();
                    if key.ends_with('-') {
                        continue;
                    }
                    used += 1;
                    assert!(known.contains(key), "{key} is used but not in en.ftl");
                }
            }
        }
        assert!(used > 100, "{used} uses found");
        let dynamic = [
            (
                "status-",
                &[
                    "valid",
                    "void",
                    "pending",
                    "paid",
                    "cancelled",
                    "expired",
                    "refunded",
                ][..],
            ),
            (
                "role-",
                &["attendee", "vendor", "gate_staff", "organizer"][..],
            ),
            ("category-", &["bazaar", "food_truck", "food_booth"][..]),
        ];
        for (prefix, values) in dynamic {
            for v in values {
                assert!(known.contains(&format!("{prefix}{v}")), "{prefix}{v}");
            }
        }
    }

    fn page_in(lang: Lang, template: &str, ctx: Value) -> String {
        let asked = Asked {
            lang,
            here: "/orders/7?token=abc".into(),
        };
        ASKED.sync_scope(asked, || {
            let page = Page {
                user: None,
                csrf: "t".into(),
            };
            page.render(template, "Order", ctx).unwrap().0
        })
    }

    fn order_ctx() -> Value {
        context! {
            number => "T-000007", status => "paid", demo => true, name => "Layla 2!",
            email => "layla@example.com", total => "$35.00", pdf_url => "/x.pdf",
            transferred => 0,
            tickets => vec![context! {
                id => 123456, type_name => "3-Day Pass", status => "valid", event => "Fest",
                days => "Fri", holder => "Layla 2!", qr_url => "/q.svg", pdf_url => "/p.pdf",
                apple_url => "/a", google_url => "/g",
            }],
        }
    }

    #[test]
    fn arabic_pages_are_right_to_left_and_english_ones_unchanged() {
        let en = page_in(Lang::En, "order.html", order_ctx());
        assert!(
            en.starts_with("<!doctype html>\n<html lang=\"en\">\n"),
            "{en}"
        );
        assert!(en.contains("<a href=\"/\">Tickets</a>"));
        // Autoescape writes `/` as `&#x2f;` in attributes; the browser reads it back.
        let switch = "href=\"&#x2f;lang&#x2f;ar?back=&#x2f;orders&#x2f;7%3Ftoken%3Dabc\"";
        assert!(en.contains(switch), "{en}");
        let ar = page_in(Lang::Ar, "order.html", order_ctx());
        assert!(ar.contains("<html lang=\"ar\" dir=\"rtl\">"), "{ar}");
        assert!(ar.contains("حاملها"), "{ar}");
        assert!(ar.contains("التذكرة 123456"), "{ar}");
        assert!(ar.contains("$35.00"), "{ar}");
        assert!(ar.contains(">English</a>"), "{ar}");
        assert!(!ar.contains("Holder"), "{ar}");
    }

    /// A name that ends in digits or punctuation keeps its place in a sentence of either
    /// direction: every user-supplied name is in its own `<bdi>`.
    #[test]
    fn names_are_isolated_in_both_languages() {
        for lang in Lang::ALL {
            let html = page_in(lang, "order.html", order_ctx());
            assert_eq!(
                html.matches("Layla 2!").count(),
                html.matches("<bdi>Layla 2!</bdi>").count(),
                "{html}"
            );
            assert!(html.contains("<bdi>layla@example.com</bdi>"), "{html}");
        }
    }

    #[test]
    fn the_language_switch_goes_back_only_to_a_path_on_this_site() {
        for local in ["/", "/events/1", "/orders/5?token=abc%20d"] {
            assert!(is_local_path(local), "{local}");
        }
        for away in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example/",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/ /evil.example",
            "evil",
            "",
        ] {
            assert!(!is_local_path(away), "{away:?}");
        }
    }

    #[test]
    fn the_language_comes_from_the_cookie_then_accept_language() {
        let mut h = HeaderMap::new();
        assert_eq!(choose_language(&h), Lang::En);
        h.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("ar-EG,ar;q=0.9"),
        );
        assert_eq!(choose_language(&h), Lang::Ar);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; tessera_lang=en"),
        );
        assert_eq!(choose_language(&h), Lang::En);
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

    /// One error of every kind an error page can show.
    fn every_error() -> Vec<AppError> {
        let all = vec![
            AppError::BadRequest("x".into()),
            AppError::Invalid("name: too long".into()),
            AppError::UnknownTicketType("no ticket type with id 9".into()),
            AppError::SoldOut("only 1 left".into()),
            AppError::SalesPaused("paused".into()),
            AppError::Unauthorized,
            AppError::Forbidden,
            AppError::WrongToken("metrics token"),
            AppError::NotFound("order 7".into()),
            AppError::MethodNotAllowed,
            AppError::PayloadTooLarge,
            AppError::UnsupportedMediaType,
            AppError::NotRefundable("refunded already".into()),
            AppError::PaymentUnavailable,
            AppError::LoginRequired,
            AppError::BadCredentials,
            AppError::RoleRequired("organizer"),
            AppError::Csrf,
            AppError::LinkClosed("revoked"),
            AppError::BadLink,
            AppError::Conflict("changed".into()),
            AppError::NotTransferable("vendor".into()),
            AppError::TooManyAttempts {
                retry_after_secs: 30,
            },
            AppError::TooManyHolds {
                retry_after_secs: 3,
            },
            AppError::Busy,
            AppError::StorageUnavailable("disk full".into()),
            AppError::Replayed,
            AppError::Internal("boom".into()),
        ];
        // Every variant is above: one AppError adds fails to build here until it is.
        for e in &all {
            match e {
                AppError::BadRequest(_)
                | AppError::Invalid(_)
                | AppError::UnknownTicketType(_)
                | AppError::SoldOut(_)
                | AppError::SalesPaused(_)
                | AppError::Unauthorized
                | AppError::Forbidden
                | AppError::WrongToken(_)
                | AppError::NotFound(_)
                | AppError::MethodNotAllowed
                | AppError::PayloadTooLarge
                | AppError::UnsupportedMediaType
                | AppError::NotRefundable(_)
                | AppError::PaymentUnavailable
                | AppError::LoginRequired
                | AppError::BadCredentials
                | AppError::RoleRequired(_)
                | AppError::Csrf
                | AppError::LinkClosed(_)
                | AppError::BadLink
                | AppError::Conflict(_)
                | AppError::NotTransferable(_)
                | AppError::TooManyAttempts { .. }
                | AppError::TooManyHolds { .. }
                | AppError::Busy
                | AppError::StorageUnavailable(_)
                | AppError::Replayed
                | AppError::Internal(_) => {}
            }
        }
        all
    }

    #[test]
    fn every_error_page_has_arabic_words() {
        let en = i18n::keys(i18n::EN_FTL);
        let ar = i18n::keys(i18n::AR_FTL);
        for e in every_error() {
            let key = format!("apperror-{}", e.code());
            assert!(en.contains(&key) && ar.contains(&key), "{key} missing");
            assert_eq!(error_text(Lang::En, &e), e.to_string());
            let text = error_text(Lang::Ar, &e);
            assert!(
                text.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
                    && !text.chars().any(|c| c.is_ascii_alphabetic()),
                "{key}: {text}"
            );
        }
        assert!(
            error_text(
                Lang::Ar,
                &AppError::TooManyAttempts {
                    retry_after_secs: 30
                }
            )
            .contains("30"),
        );
    }

    #[tokio::test]
    async fn an_arabic_error_page_is_in_arabic() {
        let asked = Asked {
            lang: Lang::Ar,
            here: "/orders/7".into(),
        };
        let response = ASKED
            .scope(asked, async {
                PageError(AppError::BadLink).into_response()
            })
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = String::from_utf8(body.to_vec()).unwrap();
        assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"), "{html}");
        assert!(html.contains("هذا الرابط غير صالح"), "{html}");
        assert!(!html.contains("this link is invalid"), "{html}");
    }
}
