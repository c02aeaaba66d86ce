//! The attendee's pages: the event page (passes, prices, days, what is left) and its
//! checkout form, the order page the buyer lands on, and one ticket's page with its
//! transfer and upgrade forms.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{
    Page, PageError, PagePath, PageQuery, current_lang, form_error, see_other, tr, tr_args, tr_html,
};
use crate::app::email::held_tickets;
use crate::app::orders::{self, OrderRequest};
use crate::app::tickets::{self, ticket_token};
use crate::app::{AppError, Services};
use crate::domain::i18n::{self, Arg};
use crate::domain::render::{money, order_number, valid_days_in};
use crate::http::api::{TokenQuery, submit_order};
use crate::http::auth::{CsrfForm, CsrfToken, MaybeUser};
use crate::store::{Email, Payment, TicketStatus};
use crate::store::{TicketKind, TicketView};

pub(super) fn routes() -> Router<Services> {
    Router::new()
        .route("/", get(event_page))
        .route("/checkout", post(checkout))
        .route("/orders/{id}", get(order_page))
        .route("/tickets/{id}", get(ticket_page))
        .route("/tickets/{id}/transfer", post(transfer))
        .route("/tickets/{id}/upgrade", post(upgrade))
}

#[derive(Debug, Serialize)]
struct TypeCtx {
    id: i64,
    name: String,
    price: String,
    days_text: String,
    remaining: i64,
    max: i64,
    selected: i64,
}

/// One ticket as the pages show it.
#[derive(Debug, Serialize)]
pub(super) struct TicketCtx {
    id: i64,
    type_name: String,
    status: String,
    event: String,
    days: String,
    holder: String,
    detail: Option<String>,
    qr_url: String,
    pdf_url: String,
    apple_url: String,
    google_url: String,
    revision: i64,
    transferable: bool,
    vendor: bool,
}

impl TicketCtx {
    /// `query` is `?token=...` when the page was opened with a link token, else empty
    /// (the session cookie opens the images).
    pub(super) fn new(t: &TicketView, query: &str) -> Self {
        let vendor = t.kind == TicketKind::VendorBooth || t.booth.is_some();
        Self {
            id: t.id,
            type_name: t.type_name.clone(),
            status: t.status.to_string(),
            event: t.event.name.clone(),
            days: i18n::days_list(current_lang(), &valid_days(t.days_mask, &t.event.days)),
            holder: t.holder_name.clone(),
            detail: t.detail.clone().or_else(|| {
                t.booth
                    .map(|b| tr_args("booth-code", &[("code", Arg::Number(b))]))
            }),
            qr_url: format!("/api/v1/tickets/{}/qr.svg{query}", t.id),
            pdf_url: format!("/api/v1/tickets/{}/ticket.pdf{query}", t.id),
            apple_url: format!("/api/v1/tickets/{}/wallet/apple{query}", t.id),
            google_url: format!("/api/v1/tickets/{}/wallet/google/save{query}", t.id),
            revision: t.revision,
            transferable: t.transferable && !vendor,
            vendor,
        }
    }
}

/// The labels of the days in `days_mask`, in the request's language (as the PDF and the
/// emails write them).
fn valid_days(days_mask: u16, event_days: &[chrono::NaiveDate]) -> Vec<String> {
    valid_days_in(current_lang(), days_mask, event_days)
}

fn days_text(days: &[String]) -> String {
    i18n::days_range(current_lang(), days)
}

async fn event_page(
    State(state): State<Services>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
) -> Result<Html<String>, PageError> {
    let page = Page::new(user, csrf);
    render_event_page(&state, &page, None, &HashMap::new(), None, None).await
}

async fn render_event_page(
    state: &Services,
    page: &Page,
    error: Option<String>,
    selected: &HashMap<i64, i64>,
    name: Option<&str>,
    email: Option<&str>,
) -> Result<Html<String>, PageError> {
    let events = state.store.events().await?;
    let types = state.store.ticket_types().await?;
    let max = i64::from(state.settings.max_quantity);
    let events: Vec<_> = events
        .iter()
        .map(|e| {
            let ctx = |kind: TicketKind| -> Vec<TypeCtx> {
                types
                    .iter()
                    // Types whose sales an organizer paused are not offered.
                    .filter(|t| t.event_id == e.id && t.kind == kind && !t.sales_paused)
                    .map(|t| TypeCtx {
                        id: t.id,
                        name: t.name.clone(),
                        price: money(t.price_cents, &t.currency),
                        days_text: days_text(&valid_days(t.days_mask, &e.days)),
                        remaining: t.remaining(),
                        max: max.min(t.remaining()),
                        selected: selected.get(&t.id).copied().unwrap_or(0),
                    })
                    .collect()
            };
            let days: Vec<String> = e
                .days
                .iter()
                .map(|d| i18n::format_date(current_lang(), *d))
                .collect();
            context! {
                id => e.id,
                name => &e.name,
                venue => &e.venue,
                days_text => days_text(&days),
                passes => ctx(TicketKind::Pass),
                booths => ctx(TicketKind::VendorBooth),
            }
        })
        .collect();
    let (default_name, default_email) = page
        .user
        .as_ref()
        .map(|u| (u.user.name.clone(), u.user.email.clone()))
        .unwrap_or_default();
    page.render(
        "event.html",
        &tr("nav-tickets"),
        context! {
            events => events,
            error => error,
            demo => state.payments.provider().is_none(),
            name => name.map_or(default_name, str::to_owned),
            email => email.map_or(default_email, str::to_owned),
        },
    )
}

/// The checkout form: `qty_<type id>` fields, name and email.
async fn checkout(
    State(state): State<Services>,
    client: crate::app::attempts::Client,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let page = Page::new(user.clone(), csrf);
    let mut selected = HashMap::new();
    let mut bad_quantity = false;
    for (key, value) in &form {
        if let Some(id) = key.strip_prefix("qty_") {
            match (id.parse::<i64>(), value.trim()) {
                (Ok(_), "") => {}
                (Ok(id), v) => match v.parse::<i64>() {
                    Ok(q) if q > 0 => {
                        selected.insert(id, q);
                    }
                    Ok(0) => {}
                    _ => bad_quantity = true,
                },
                _ => bad_quantity = true,
            }
        }
    }
    let name = form.get("name").map(String::as_str).unwrap_or_default();
    let email = form.get("email").map(String::as_str).unwrap_or_default();
    let again = |error: String| async {
        render_event_page(
            &state,
            &page,
            Some(error),
            &selected,
            Some(name),
            Some(email),
        )
        .await
        .map(|html| (axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
    };
    if bad_quantity {
        return again(tr("error-quantities")).await;
    }
    if selected.is_empty() {
        return again(tr("error-choose-pass")).await;
    }
    let mut items: Vec<(i64, i64)> = selected.iter().map(|(&t, &q)| (t, q)).collect();
    items.sort_unstable();
    let request = OrderRequest {
        email: email.to_owned(),
        name: name.to_owned(),
        items,
        idempotency: None,
        lang: current_lang(),
    };
    match submit_order(&state, &request, &client).await {
        Ok((placed, checkout_url)) => {
            if let Some(u) = &user {
                state.store.set_order_user(placed.id, u.user.id).await?;
            }
            Ok(see_other(&checkout_url.unwrap_or_else(|| {
                format!("/orders/{}?token={}", placed.id, placed.access_token)
            })))
        }
        Err(e @ (AppError::Invalid(_) | AppError::SoldOut(_) | AppError::UnknownTicketType(_))) => {
            again(form_error(&e)).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The buyer's order page (HTML): the tickets the buyer still holds, with QR codes and PDF
/// links, linked from the confirmation email and the payment page's return.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    params(("id" = i64, Path), ("token" = String, Query, description = "The order's access token")),
    responses((status = 200, content_type = "text/html", description = "Order page"), (status = 401, content_type = "text/html", description = "No token"), (status = 403, content_type = "text/html", description = "Not this order's token"), (status = 404, content_type = "text/html", description = "No such order"))
)]
pub async fn order_page(
    State(state): State<Services>,
    PagePath(id): PagePath<i64>,
    PageQuery(query): PageQuery<TokenQuery>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
) -> Result<Html<String>, PageError> {
    let page = Page::new(user, csrf);
    let token = query.token.as_deref().ok_or(AppError::Unauthorized)?;
    let order = state
        .store
        .order(id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("order {id}")))?;
    orders::open_with_token(&state, &order, token, chrono::Utc::now()).await?;
    let all = state.store.order_tickets(id).await?;
    let count = all.len();
    let held = held_tickets(&order, all);
    let tickets: Vec<_> = held
        .iter()
        .map(|t| {
            let mut c = TicketCtx::new(t, "");
            c.qr_url = format!("/api/v1/orders/{id}/tickets/{}/qr.svg?token={token}", t.id);
            c.pdf_url = format!(
                "/api/v1/orders/{id}/tickets/{}/ticket.pdf?token={token}",
                t.id
            );
            let wallet = crate::app::wallet::links("", t.id, token);
            c.apple_url = wallet.apple;
            c.google_url = wallet.google;
            c
        })
        .collect();
    page.render(
        "order.html",
        &tr_args("order-title", &[("number", Arg::Text(&order_number(id)))]),
        context! {
            number => order_number(id),
            status => &order.status,
            demo => order.payment == Payment::Demo,
            name => &order.name,
            email => &order.email,
            total => money(order.total_cents, &order.currency),
            pdf_url => format!("/api/v1/orders/{id}/tickets.pdf?token={token}"),
            tickets => tickets,
            transferred => count - held.len(),
            upgrade_ticket => order.upgrade_ticket_id,
        },
    )
}

#[derive(Debug, Deserialize)]
struct NoticeQuery {
    token: Option<String>,
    done: Option<String>,
}

async fn ticket_page(
    State(state): State<Services>,
    PagePath(id): PagePath<i64>,
    PageQuery(query): PageQuery<NoticeQuery>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
) -> Result<Html<String>, PageError> {
    let page = Page::new(user.clone(), csrf);
    if user.is_none() && query.token.is_none() {
        return Err(AppError::LoginRequired.into());
    }
    let ticket = tickets::ticket_access(&state, user.as_ref(), query.token.as_deref(), id).await?;
    render_ticket(
        &state,
        &page,
        &ticket,
        query.token.as_deref(),
        notice_text(query.done.as_deref()),
        None,
    )
    .await
}

fn notice_text(done: Option<&str>) -> Option<String> {
    match done {
        Some("upgraded") => Some(tr("notice-upgraded")),
        _ => None,
    }
}

async fn render_ticket(
    state: &Services,
    page: &Page,
    ticket: &TicketView,
    token: Option<&str>,
    notice: Option<String>,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let query = token
        .map(|_| {
            format!(
                "?token={}",
                ticket_token(&state.master, ticket.id, ticket.revision)
            )
        })
        .unwrap_or_default();
    let holder = page
        .user
        .as_ref()
        .and_then(|u| u.verified_email())
        .is_some_and(|e| ticket.holder_email.as_deref() == Some(e));
    let can_change = holder && ticket.status == TicketStatus::Valid;
    let upgrades: Vec<_> = if can_change
        && ticket.kind == TicketKind::Pass
        && ticket.booth.is_none()
    {
        tickets::upgrade_options(state, ticket)
            .await?
            .into_iter()
            .map(|(t, difference)| context! { id => t.id, name => t.name, difference => money(difference, &t.currency) })
            .collect()
    } else {
        Vec::new()
    };
    page.render(
        "ticket.html",
        &tr_args("ticket-title", &[("id", Arg::Number(ticket.id))]),
        context! {
            t => TicketCtx::new(ticket, &query),
            can_change => can_change,
            upgrades => upgrades,
            demo => state.payments.provider().is_none(),
            notice => notice,
            error => error,
        },
    )
}

#[derive(Debug, Deserialize)]
struct TransferForm {
    to_name: String,
    to_email: String,
    revision: Option<i64>,
}

async fn transfer(
    State(state): State<Services>,
    PagePath(id): PagePath<i64>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<TransferForm>,
) -> Result<Response, PageError> {
    let user = user.ok_or(AppError::LoginRequired)?;
    let page = Page::new(Some(user.clone()), csrf);
    match tickets::transfer(
        &state,
        &user,
        id,
        &form.to_email,
        &form.to_name,
        form.revision,
    )
    .await
    {
        Ok(t) => Ok(page
            .render(
                "message.html",
                &tr("transferred-heading"),
                context! {
                    heading => tr("transferred-heading"),
                    text => tr_html("transferred-text", &[
                        ("type", Arg::Text(&t.type_name)),
                        ("name", Arg::Text(&t.holder_name)),
                        ("email", Arg::Text(Email::new(&form.to_email).as_str())),
                    ]),
                    link => "/account",
                    link_text => tr("back-to-my-tickets"),
                },
            )?
            .into_response()),
        Err(e @ (AppError::Invalid(_) | AppError::NotTransferable(_) | AppError::Conflict(_))) => {
            let status = e.status();
            let ticket = tickets::ticket_access(&state, Some(&user), None, id).await?;
            Ok((
                status,
                render_ticket(&state, &page, &ticket, None, None, Some(form_error(&e))).await?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct UpgradeForm {
    to_type: i64,
    revision: Option<i64>,
}

async fn upgrade(
    State(state): State<Services>,
    PagePath(id): PagePath<i64>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<UpgradeForm>,
) -> Result<Response, PageError> {
    let user = user.ok_or(AppError::LoginRequired)?;
    let page = Page::new(Some(user.clone()), csrf);
    match tickets::upgrade(
        &state,
        &user,
        id,
        form.to_type,
        form.revision,
        current_lang(),
    )
    .await
    {
        Ok(started) => Ok(see_other(
            &started
                .checkout_url
                .unwrap_or_else(|| format!("/tickets/{id}?done=upgraded")),
        )),
        Err(e @ (AppError::Invalid(_) | AppError::SoldOut(_) | AppError::Conflict(_))) => {
            let status = e.status();
            let ticket = tickets::ticket_access(&state, Some(&user), None, id).await?;
            Ok((
                status,
                render_ticket(&state, &page, &ticket, None, None, Some(form_error(&e))).await?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}
