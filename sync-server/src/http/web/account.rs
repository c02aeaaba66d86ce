//! The account pages: register, log in and out, forgotten password and its reset link, the
//! address confirmation link, the profile, and the dashboard with the account's tickets
//! (passes and vendor tickets apart), its orders and "email me my tickets again".

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Deserialize;

use super::shop::TicketCtx;
use super::{Page, PageError, PageQuery, form_error, see_other, tr};
use crate::app::accounts::{
    self, CurrentUser, SESSION_COOKIE, SESSION_SECS, create_account, resend_tickets,
    reset_with_link, verify_with_link,
};
use crate::app::attempts::Client;
use crate::app::orders::token_hash;
use crate::app::{AppError, Services};
use crate::domain::i18n::Lang;
use crate::domain::render::{money, order_number};
use crate::http::auth::{CsrfForm, CsrfToken, MaybeUser, cookie, cookie_value};
use crate::store::TicketKind;

pub(super) fn routes() -> Router<Services> {
    Router::new()
        .route("/account", get(dashboard))
        .route("/account/register", get(register_page).post(register))
        .route("/account/login", get(login_page).post(login))
        .route("/account/logout", post(logout))
        .route("/account/forgot", get(forgot_page).post(forgot))
        .route("/account/reset", get(reset_page).post(reset))
        .route("/account/verify", get(verify_page).post(verify))
        .route("/account/verify/resend", post(verify_resend))
        .route("/account/profile", get(profile_page).post(profile))
        .route("/account/password", post(password))
        .route("/account/resend", post(resend))
}

fn with_session(state: &Services, token: &str, mut response: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&cookie(state, SESSION_COOKIE, token, SESSION_SECS, "Lax"))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

#[derive(Debug, Deserialize, Default)]
struct Prefill {
    email: Option<String>,
    notice: Option<String>,
}

async fn register_page(
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(q): PageQuery<Prefill>,
) -> Result<Html<String>, PageError> {
    Page::new(user, csrf).render(
        "register.html",
        &tr("register-heading"),
        context! { email => q.email.unwrap_or_default(), name => "" },
    )
}

#[derive(Debug, Deserialize)]
struct RegisterForm {
    name: String,
    email: String,
    password: String,
}

async fn register(
    State(state): State<Services>,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<RegisterForm>,
) -> Result<Response, PageError> {
    match create_account(
        &state,
        &client,
        &form.name,
        &form.email,
        &form.password,
        super::current_lang(),
    )
    .await
    {
        Ok(user) => {
            let token = accounts::start_session(&state, user.id, "cookie").await?;
            Ok(with_session(
                &state,
                &token,
                see_other("/account?notice=registered"),
            ))
        }
        Err(
            e @ (AppError::Invalid(_) | AppError::Conflict(_) | AppError::TooManyAttempts { .. }),
        ) => {
            let status = e.status();
            let html = Page::new(None, csrf).render(
                "register.html",
                &tr("register-heading"),
                context! { error => form_error(&e), email => form.email, name => form.name },
            )?;
            Ok((status, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn login_page(
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(q): PageQuery<Prefill>,
) -> Result<Html<String>, PageError> {
    let notice = match q.notice.as_deref() {
        Some("reset") => Some(tr("notice-password-reset")),
        Some("logged_out") => Some(tr("notice-logged-out")),
        Some("verified") => Some(tr("notice-verified-log-in")),
        _ => None,
    };
    Page::new(user, csrf).render(
        "login.html",
        &tr("nav-log-in"),
        context! { email => q.email.unwrap_or_default(), notice => notice },
    )
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(state): State<Services>,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    match accounts::authenticate(&state, &client, &form.email, &form.password).await {
        Ok(user) => {
            let token = accounts::start_session(&state, user.id, "cookie").await?;
            Ok(with_session(&state, &token, see_other("/account")))
        }
        Err(e @ (AppError::BadCredentials | AppError::TooManyAttempts { .. })) => {
            let status = e.status();
            let html = Page::new(None, csrf).render(
                "login.html",
                &tr("nav-log-in"),
                context! { error => form_error(&e), email => form.email },
            )?;
            Ok((status, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct Empty {}

async fn logout(
    State(state): State<Services>,
    headers: axum::http::HeaderMap,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE) {
        state.store.delete_session(&token_hash(&token)).await?;
    }
    let mut response = see_other("/account/login?notice=logged_out");
    if let Ok(v) = HeaderValue::from_str(&cookie(&state, SESSION_COOKIE, "", 0, "Lax")) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

async fn forgot_page(
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
) -> Result<Html<String>, PageError> {
    Page::new(user, csrf).render("forgot.html", &tr("forgot-heading"), context! {})
}

#[derive(Debug, Deserialize)]
struct ForgotForm {
    email: String,
}

async fn forgot(
    State(state): State<Services>,
    client: Client,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<ForgotForm>,
) -> Result<Html<String>, PageError> {
    accounts::send_reset(&state, &client, &form.email).await?;
    Page::new(user, csrf).render(
        "forgot.html",
        &tr("forgot-heading"),
        context! { notice => tr("notice-reset-sent") },
    )
}

#[derive(Debug, Deserialize)]
struct TokenParam {
    token: Option<String>,
}

async fn reset_page(
    State(state): State<Services>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(q): PageQuery<TokenParam>,
) -> Result<Html<String>, PageError> {
    let token = q.token.unwrap_or_default();
    accounts::email_link(&state, "reset", &token).await?;
    Page::new(user, csrf).render(
        "reset.html",
        &tr("reset-heading"),
        context! { token => token },
    )
}

#[derive(Debug, Deserialize)]
struct ResetForm {
    token: String,
    password: String,
}

async fn reset(
    State(state): State<Services>,
    client: Client,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<ResetForm>,
) -> Result<Response, PageError> {
    match reset_with_link(&state, &client, &form.token, &form.password).await {
        Ok(()) => Ok(see_other("/account/login?notice=reset")),
        Err(e @ AppError::Invalid(_)) => {
            let html = Page::new(None, csrf).render(
                "reset.html",
                &tr("reset-heading"),
                context! { token => form.token, error => form_error(&e) },
            )?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn verify_page(
    State(state): State<Services>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(q): PageQuery<TokenParam>,
) -> Result<Html<String>, PageError> {
    // Following the link only shows a button: mail scanners that open links must not use
    // the token up.
    let token = q.token.unwrap_or_default();
    accounts::email_link(&state, "verify", &token).await?;
    Page::new(user, csrf).render(
        "verify.html",
        &tr("verify-title"),
        context! { token => token },
    )
}

#[derive(Debug, Deserialize)]
struct VerifyForm {
    token: String,
}

async fn verify(
    State(state): State<Services>,
    MaybeUser(user): MaybeUser,
    CsrfForm(form): CsrfForm<VerifyForm>,
) -> Result<Response, PageError> {
    let verified = verify_with_link(&state, &form.token).await?;
    // Confirming ended every session of the account. The browser that followed the link
    // from the mailbox while logged in to this very account is the mailbox's owner: it gets
    // a fresh session; any other browser logs in again.
    match user {
        Some(u) if u.user.id == verified => {
            let token = accounts::start_session(&state, verified, "cookie").await?;
            Ok(with_session(
                &state,
                &token,
                see_other("/account?notice=verified"),
            ))
        }
        _ => Ok(see_other("/account/login?notice=verified")),
    }
}

async fn verify_resend(
    State(state): State<Services>,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    if user.verified_email().is_none() {
        accounts::send_verification(&state, &user.user).await?;
    }
    Ok(see_other("/account?notice=verify_sent"))
}

async fn profile_page(
    user: CurrentUser,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(q): PageQuery<Prefill>,
) -> Result<Html<String>, PageError> {
    let notice = match q.notice.as_deref() {
        Some("saved") => Some(tr("notice-saved")),
        Some("password") => Some(tr("notice-password-changed")),
        _ => None,
    };
    Page::new(Some(user), csrf).render(
        "profile.html",
        &tr("profile-heading"),
        context! { notice => notice, languages => languages() },
    )
}

/// The languages the profile offers, as `{code, name}`.
fn languages() -> Vec<minijinja::Value> {
    Lang::ALL
        .iter()
        .map(|l| context! { code => l.code(), name => l.native_name() })
        .collect()
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    name: String,
    /// The account's language (absent from older forms: left as it is).
    lang: Option<String>,
}

async fn profile(
    State(state): State<Services>,
    user: CurrentUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> Result<Response, PageError> {
    let name = form.name.trim();
    if let Err(e) = crate::app::orders::validate_contact(&user.user.email, name) {
        let html = Page::new(Some(user), csrf).render(
            "profile.html",
            &tr("profile-heading"),
            context! { error => form_error(&AppError::from(e)), languages => languages() },
        )?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    state.store.set_name(user.user.id, name).await?;
    let mut response = see_other("/account/profile?notice=saved");
    if let Some(lang) = form.lang.as_deref().and_then(Lang::parse) {
        state.store.set_user_lang(user.user.id, lang.code()).await?;
        // The browser keeps it too, for the pages it opens logged out.
        if let Ok(v) = HeaderValue::from_str(&super::lang_cookie(lang)) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    current: String,
    password: String,
}

async fn password(
    State(state): State<Services>,
    client: Client,
    user: CurrentUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let result = async {
        accounts::authenticate(&state, &client, &user.user.email, &form.current).await?;
        accounts::validate_password(&form.password)?;
        let hash = accounts::hash_password(form.password.clone()).await?;
        state
            .store
            .set_password(user.user.id, &hash, Utc::now().timestamp())
            .await?;
        accounts::start_session(&state, user.user.id, "cookie").await
    }
    .await;
    match result {
        Ok(token) => Ok(with_session(
            &state,
            &token,
            see_other("/account/profile?notice=password"),
        )),
        Err(
            e
            @ (AppError::BadCredentials | AppError::Invalid(_) | AppError::TooManyAttempts { .. }),
        ) => {
            let status = e.status();
            let html = Page::new(Some(user), csrf).render(
                "profile.html",
                &tr("profile-heading"),
                context! { error => form_error(&e), languages => languages() },
            )?;
            Ok((status, html).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn dashboard(
    State(state): State<Services>,
    user: CurrentUser,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(q): PageQuery<Prefill>,
) -> Result<Html<String>, PageError> {
    let tickets = match user.verified_email() {
        Some(email) => state.store.holder_tickets(email).await?,
        None => Vec::new(),
    };
    let (vendor, passes): (Vec<_>, Vec<_>) = tickets
        .iter()
        .partition(|t| t.kind == TicketKind::VendorBooth || t.booth.is_some());
    let orders: Vec<_> = state
        .store
        .account_orders(user.user.id, user.verified_email())
        .await?
        .into_iter()
        .map(|o| {
            context! {
                number => order_number(o.id),
                url => format!("/orders/{}?token={}", o.id, state.master.order_token(o.id)),
                date => DateTime::from_timestamp(o.created_at, 0).map(|d| d.format("%Y-%m-%d").to_string()),
                status => o.status,
                total => money(o.total_cents, &o.currency),
                upgrade => o.upgrade_ticket_id.is_some(),
            }
        })
        .collect();
    let notice = match q.notice.as_deref() {
        Some("registered") => Some(tr("notice-registered")),
        Some("verified") => Some(tr("notice-verified")),
        Some("verify_sent") => Some(tr("notice-verify-sent")),
        Some("resent") => Some(tr("notice-resent")),
        _ => None,
    };
    // A vendor's booths: assignment and staff passes.
    let booths = super::organizer::vendor_booths(&state, user.verified_email()).await?;
    Page::new(Some(user), csrf).render(
        "dashboard.html",
        &tr("nav-my-tickets"),
        context! {
            passes => passes.iter().map(|t| TicketCtx::new(t, "")).collect::<Vec<_>>(),
            vendor => vendor.iter().map(|t| TicketCtx::new(t, "")).collect::<Vec<_>>(),
            orders => orders,
            notice => notice,
            booths => booths,
        },
    )
}

async fn resend(
    State(state): State<Services>,
    user: CurrentUser,
    CsrfForm(_): CsrfForm<Empty>,
) -> Result<Response, PageError> {
    resend_tickets(&state, &user).await?;
    Ok(see_other("/account?notice=resent"))
}
