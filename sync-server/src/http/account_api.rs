//! The account and ticket API (`/api/v1/auth/...`, `/api/v1/me/...`, `/api/v1/tickets/...`):
//! what the pages do, for programs. Bearer tokens come from `POST /api/v1/auth/login`; the
//! session cookie works too. A ticket's QR images and PDF open for its holder, its
//! per-revision link token, or the order's token while the buyer still holds it.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::app::accounts::{self, CurrentUser, Role};
use crate::app::accounts::{create_account, resend_tickets, reset_with_link, verify_with_link};
use crate::app::attempts::Client;
use crate::app::orders::{self, token_hash};
use crate::app::tickets;
use crate::app::{AppError, Services};
use crate::domain::render::{self, money, order_number};
use crate::http::api::{TicketOut, TokenQuery, ticket_out_at};
use crate::http::auth::MaybeUser;
use crate::http::{ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::store::TicketStatus;
use crate::store::{TicketView, User};

/// The routes.
pub fn routes() -> Router<Services> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/verify", post(verify))
        .route("/api/v1/auth/password-reset", post(password_reset))
        .route(
            "/api/v1/auth/password-reset/confirm",
            post(password_reset_confirm),
        )
        .route("/api/v1/me", get(me).patch(update_me))
        .route("/api/v1/me/tickets", get(my_tickets))
        .route("/api/v1/me/orders", get(my_orders))
        .route("/api/v1/me/resend", post(resend))
        .route("/api/v1/tickets/{id}", get(ticket))
        .route("/api/v1/tickets/{id}/qr.png", get(ticket_png))
        .route("/api/v1/tickets/{id}/qr.svg", get(ticket_svg))
        .route("/api/v1/tickets/{id}/ticket.pdf", get(ticket_pdf))
        .route("/api/v1/tickets/{id}/transfer", post(transfer))
        .route("/api/v1/tickets/{id}/upgrades", get(upgrades))
        .route("/api/v1/tickets/{id}/upgrade", post(upgrade))
}

/// The account API's part of the OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        register,
        login,
        logout,
        verify,
        password_reset,
        password_reset_confirm,
        me,
        update_me,
        my_tickets,
        my_orders,
        resend,
        ticket,
        ticket_png,
        ticket_svg,
        ticket_pdf,
        transfer,
        upgrades,
        upgrade
    ),
    components(schemas(
        RegisterIn,
        LoginIn,
        LoginOut,
        UserOut,
        Role,
        TokenIn,
        EmailIn,
        ResetIn,
        ProfileIn,
        AccountOrderOut,
        TransferIn,
        TransferOut,
        UpgradeOptionOut,
        UpgradeIn,
        UpgradeOut
    ))
)]
pub struct AccountApiDoc;

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RegisterIn {
    /// Email (the login; tickets bought with it attach once it is confirmed).
    #[schema(schema_with = orders::email_schema)]
    pub email: String,
    /// Display name.
    #[schema(schema_with = orders::person_name_schema)]
    pub name: String,
    /// 10 to 128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
}

/// An account.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Whether the email is confirmed.
    pub email_verified: bool,
}

fn user_out(u: &User) -> UserOut {
    UserOut {
        id: u.id,
        email: u.email.clone(),
        name: u.name.clone(),
        role: u.role.clone(),
        email_verified: u.email_verified_at.is_some(),
    }
}

/// Creates an attendee account and emails the confirmation link. Registrations are limited
/// per client and per address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/register", request_body = RegisterIn,
    responses((status = 201, body = UserOut), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the next attempt is counted")))))]
pub async fn register(
    State(state): State<Services>,
    client: Client,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterIn>,
) -> Result<(StatusCode, Json<UserOut>), AppError> {
    let lang = crate::http::web::choose_language(&headers);
    let user = create_account(
        &state,
        &client,
        &body.name,
        &body.email,
        &body.password,
        lang,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user_out(&user))))
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginIn {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A bearer token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginOut {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The account.
    pub user: UserOut,
}

/// Logs in: returns a bearer token. Failed logins are limited per address from one client,
/// per address and per client: beyond a limit, 429 with `Retry-After` (a wait, never a
/// lock-out; another client of the account's owner is not slowed by a stranger's guesses).
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginIn,
    responses((status = 200, body = LoginOut), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the next attempt is counted")))))]
pub async fn login(
    State(state): State<Services>,
    client: Client,
    ApiJson(body): ApiJson<LoginIn>,
) -> Result<Json<LoginOut>, AppError> {
    let user = accounts::authenticate(&state, &client, &body.email, &body.password).await?;
    let token = accounts::start_session(&state, user.id, "bearer").await?;
    Ok(Json(LoginOut {
        token,
        expires_at: Utc::now().timestamp() + accounts::SESSION_SECS,
        user: user_out(&user),
    }))
}

/// Ends the bearer token's session.
#[utoipa::path(post, path = "/api/v1/auth/logout", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<Services>,
    user: CurrentUser,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    if user.bearer
        && let Some(token) = crate::http::auth::bearer(&headers)
    {
        state.store.delete_session(&token_hash(token)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A token from an email link.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenIn {
    /// The `token` query parameter of the link.
    pub token: String,
}

/// Confirms an email address with the token of its link.
#[utoipa::path(post, path = "/api/v1/auth/verify", request_body = TokenIn,
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub async fn verify(
    State(state): State<Services>,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<StatusCode, AppError> {
    verify_with_link(&state, &body.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An email address.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailIn {
    /// Email.
    pub email: String,
}

/// Emails a password-reset link if the address has an account (202 either way). Requests
/// are limited per client and per address (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/password-reset", request_body = EmailIn,
    responses((status = 202),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the next attempt is counted")))))]
pub async fn password_reset(
    State(state): State<Services>,
    client: Client,
    ApiJson(body): ApiJson<EmailIn>,
) -> Result<StatusCode, AppError> {
    accounts::send_reset(&state, &client, &body.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A new password with the reset link's token.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResetIn {
    /// The link's token.
    pub token: String,
    /// The new password.
    pub password: String,
}

/// Sets a new password (ends every session of the account, and forgets the address's failed
/// logins). Failed uses of links are limited per client (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", request_body = ResetIn,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the next attempt is counted")))))]
pub async fn password_reset_confirm(
    State(state): State<Services>,
    client: Client,
    ApiJson(body): ApiJson<ResetIn>,
) -> Result<StatusCode, AppError> {
    reset_with_link(&state, &client, &body.token, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in account.
#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = ErrorBody)))]
pub async fn me(user: CurrentUser) -> Json<UserOut> {
    Json(user_out(&user.user))
}

/// Profile changes.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileIn {
    /// Display name.
    pub name: String,
}

/// Changes the display name.
#[utoipa::path(patch, path = "/api/v1/me", request_body = ProfileIn, security(("bearer" = [])),
    responses((status = 200, body = UserOut), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_me(
    State(state): State<Services>,
    user: CurrentUser,
    ApiJson(body): ApiJson<ProfileIn>,
) -> Result<Json<UserOut>, AppError> {
    let name = body.name.trim();
    orders::validate_contact(&user.user.email, name)?;
    state.store.set_name(user.user.id, name).await?;
    let mut out = user_out(&user.user);
    name.clone_into(&mut out.name);
    Ok(Json(out))
}

fn account_ticket(t: &TicketView) -> TicketOut {
    ticket_out_at(&format!("/api/v1/tickets/{}", t.id), t)
}

/// The tickets the account holds (its confirmed address), passes and vendor tickets alike
/// (`kind` tells them apart).
#[utoipa::path(get, path = "/api/v1/me/tickets", security(("bearer" = [])),
    responses((status = 200, body = Vec<TicketOut>), (status = 401, body = ErrorBody)))]
pub async fn my_tickets(
    State(state): State<Services>,
    user: CurrentUser,
) -> Result<Json<Vec<TicketOut>>, AppError> {
    let tickets = match user.verified_email() {
        Some(email) => state.store.holder_tickets(email).await?,
        None => Vec::new(),
    };
    Ok(Json(tickets.iter().map(account_ticket).collect()))
}

/// An order as its account sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccountOrderOut {
    /// Id.
    pub id: i64,
    /// `T-<id>`.
    pub number: String,
    /// Status.
    pub status: String,
    /// Total, minor units.
    pub total_cents: i64,
    /// Total, formatted.
    pub total: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The ticket an upgrade order paid for.
    pub upgrade_ticket_id: Option<i64>,
    /// The order's access token (for `GET /api/v1/orders/{id}`).
    pub access_token: String,
}

/// The account's orders: placed while logged in, or with its confirmed address.
#[utoipa::path(get, path = "/api/v1/me/orders", security(("bearer" = [])),
    responses((status = 200, body = Vec<AccountOrderOut>), (status = 401, body = ErrorBody)))]
pub async fn my_orders(
    State(state): State<Services>,
    user: CurrentUser,
) -> Result<Json<Vec<AccountOrderOut>>, AppError> {
    let orders = state
        .store
        .account_orders(user.user.id, user.verified_email())
        .await?;
    Ok(Json(
        orders
            .into_iter()
            .map(|o| AccountOrderOut {
                number: order_number(o.id),
                total: money(o.total_cents, &o.currency),
                access_token: state.master.order_token(o.id),
                id: o.id,
                status: o.status.to_string(),
                total_cents: o.total_cents,
                created_at: o.created_at,
                upgrade_ticket_id: o.upgrade_ticket_id,
            })
            .collect(),
    ))
}

/// Emails every ticket the account holds again.
#[utoipa::path(post, path = "/api/v1/me/resend", operation_id = "resend_verification", security(("bearer" = [])),
    responses((status = 202), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn resend(
    State(state): State<Services>,
    user: CurrentUser,
) -> Result<StatusCode, AppError> {
    resend_tickets(&state, &user).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn access(
    state: &Services,
    user: &Option<CurrentUser>,
    query: &TokenQuery,
    id: i64,
) -> Result<TicketView, AppError> {
    tickets::ticket_access(state, user.as_ref(), query.token.as_deref(), id).await
}

/// One ticket (its holder, or `?token=`).
#[utoipa::path(get, path = "/api/v1/tickets/{id}", params(("id" = i64, Path)),
    security(("bearer" = []), ("ticket_token" = [])),
    responses((status = 200, body = TicketOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ticket(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    MaybeUser(user): MaybeUser,
) -> Result<Json<TicketOut>, AppError> {
    let t = access(&state, &user, &query, id).await?;
    Ok(Json(account_ticket(&t)))
}

fn no_store(content_type: &'static str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        body,
    )
        .into_response()
}

fn valid(t: TicketView) -> Result<TicketView, AppError> {
    if t.status == TicketStatus::Valid {
        Ok(t)
    } else {
        Err(AppError::Conflict(format!(
            "ticket {} is {}",
            t.id, t.status
        )))
    }
}

/// A ticket's QR code as PNG.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/qr.png", params(("id" = i64, Path)),
    security(("bearer" = []), ("ticket_token" = [])),
    responses((status = 200, content_type = "image/png", description = "QR code"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn ticket_png(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, AppError> {
    let t = valid(access(&state, &user, &query, id).await?)?;
    Ok(no_store("image/png", render::qr_png(&t.qr_text)?))
}

/// A ticket's QR code as SVG.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/qr.svg", params(("id" = i64, Path)),
    security(("bearer" = []), ("ticket_token" = [])),
    responses((status = 200, content_type = "image/svg+xml", description = "QR code"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn ticket_svg(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, AppError> {
    let t = valid(access(&state, &user, &query, id).await?)?;
    Ok(no_store(
        "image/svg+xml",
        render::qr_svg(&t.qr_text)?.into_bytes(),
    ))
}

/// A ticket as a one-page PDF.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/ticket.pdf", params(("id" = i64, Path)),
    security(("bearer" = []), ("ticket_token" = [])),
    responses((status = 200, content_type = "application/pdf", description = "PDF"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn ticket_pdf(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<TokenQuery>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, AppError> {
    let t = valid(access(&state, &user, &query, id).await?)?;
    let order = state
        .store
        .order(t.order_id)
        .await?
        .ok_or_else(|| AppError::Internal(format!("order {} vanished", t.order_id)))?;
    Ok(no_store(
        "application/pdf",
        render::tickets_pdf(&order, std::slice::from_ref(&t))?,
    ))
}

/// Who gets a ticket.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferIn {
    /// Their email.
    pub email: String,
    /// Their name (printed on the new ticket).
    pub name: String,
    /// The revision you saw; a ticket that changed since refuses (409).
    pub revision: Option<i64>,
}

/// A done transfer (the new QR code goes to the recipient only).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferOut {
    /// The ticket.
    pub ticket_id: i64,
    /// Its new revision.
    pub revision: i64,
    /// The new holder's name.
    pub holder_name: String,
}

/// Gives a held ticket to another person: new revision and QR for them, the old code
/// revoked at every gate, both emailed. Vendor tickets refuse (409 `not_transferable`).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/transfer", params(("id" = i64, Path)), request_body = TransferIn,
    security(("bearer" = [])),
    responses((status = 200, body = TransferOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn transfer(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    user: CurrentUser,
    ApiJson(body): ApiJson<TransferIn>,
) -> Result<Json<TransferOut>, AppError> {
    let t = tickets::transfer(&state, &user, id, &body.email, &body.name, body.revision).await?;
    Ok(Json(TransferOut {
        ticket_id: t.id,
        revision: t.revision,
        holder_name: t.holder_name,
    }))
}

/// A pass a ticket can become.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeOptionOut {
    /// Ticket type id.
    pub ticket_type: i64,
    /// Its name.
    pub name: String,
    /// What the upgrade costs, minor units.
    pub difference_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// The passes a held ticket can be upgraded to, with the difference to pay.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/upgrades", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<UpgradeOptionOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn upgrades(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    user: CurrentUser,
) -> Result<Json<Vec<UpgradeOptionOut>>, AppError> {
    let t = tickets::ticket_access(&state, Some(&user), None, id).await?;
    Ok(Json(
        tickets::upgrade_options(&state, &t)
            .await?
            .into_iter()
            .map(|(tt, difference)| UpgradeOptionOut {
                ticket_type: tt.id,
                name: tt.name,
                difference_cents: difference,
                currency: tt.currency,
            })
            .collect(),
    ))
}

/// An upgrade.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpgradeIn {
    /// The ticket type to upgrade to.
    pub ticket_type: i64,
    /// The revision you saw.
    pub revision: Option<i64>,
}

/// A done upgrade.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeOut {
    /// The ticket at its new revision.
    pub ticket: TicketOut,
    /// The order that pays the difference.
    pub order_id: i64,
    /// With a card provider: where to pay; the ticket changes once the payment is confirmed.
    pub checkout_url: Option<String>,
}

/// Upgrades a held pass to a dearer one, paying the difference; new revision, the old code
/// revoked.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/upgrade", params(("id" = i64, Path)), request_body = UpgradeIn,
    security(("bearer" = [])),
    responses((status = 200, body = UpgradeOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn upgrade(
    State(state): State<Services>,
    ApiPath(id): ApiPath<i64>,
    user: CurrentUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpgradeIn>,
) -> Result<Json<UpgradeOut>, AppError> {
    let lang = crate::http::web::account_or_request_language(&user, &headers);
    let started =
        tickets::upgrade(&state, &user, id, body.ticket_type, body.revision, lang).await?;
    Ok(Json(UpgradeOut {
        ticket: account_ticket(&started.ticket),
        order_id: started.order_id,
        checkout_url: started.checkout_url,
    }))
}
