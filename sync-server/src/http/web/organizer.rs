//! The organizer's pages (`/organizer/...`, organizer role only) and the vendor's booth form
//! (`/vendors/booth`, public): the dashboard (doors-open readiness, live gates with the
//! scans-per-minute chart, refreshed every 30 seconds), devices (enrollment codes shown as
//! QR codes, revocation), orders and tickets (search, void, resend, comp, ticket types),
//! vendors (booths, assignment, staff passes) and exports. Each form is a CSRF-checked post
//! answered with a redirect (303) carrying a notice or an error, except the enrollment code,
//! which is shown once on the page the post returns.
//!
//! The figures and actions are `crate::http::console`'s and `crate::app::vendors`'s; this module only
//! turns forms into calls and results into template contexts.

use axum::extract::{FromRequestParts, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use chrono::{DateTime, Utc};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Page, PageError, PagePath, PageQuery, see_other};
use crate::app::vendors::{self, BoothPurchaseIn, VendorError};
use crate::app::{AppError, Services};
use crate::domain::render::{money, order_number};
use crate::http::auth::{CsrfForm, CsrfToken, MaybeUser, Organizer};
use crate::http::console;
use crate::store::BoothCategory;
use crate::store::TicketStatus;

pub(super) fn routes() -> Router<Services> {
    Router::new()
        .route("/organizer", get(dashboard))
        .route("/organizer/devices", get(devices_page).post(create_code))
        .route("/organizer/devices/{id}/revoke", post(revoke))
        .route("/organizer/orders", get(orders_page))
        .route("/organizer/orders/{id}/resend", post(resend))
        .route("/organizer/tickets/{id}/void", post(void))
        .route("/organizer/comps", post(comp))
        .route("/organizer/ticket-types/{id}", post(edit_type))
        .route("/organizer/vendors", get(vendors_page))
        .route("/organizer/booths", post(create_booth))
        .route("/organizer/booths/{id}/assign", post(assign))
        .route("/organizer/booths/{id}/staff", post(staff))
        .route("/organizer/exports", get(exports_page))
        .route("/organizer/keys/rotate", post(rotate))
        .route("/vendors/booth", get(booth_form).post(buy_booth))
}

/// An organizer's page request: like [`Organizer`], but refused as pages are (a redirect to
/// the login page without a session, an HTML 403 page for other roles).
struct OrganizerPage(crate::app::accounts::CurrentUser);

impl FromRequestParts<Services> for OrganizerPage {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Services,
    ) -> Result<Self, PageError> {
        Ok(Self(Organizer::from_request_parts(parts, state).await?.0))
    }
}

/// `?notice=&error=&q=` on organizer pages after a form post.
#[derive(Debug, Default, Deserialize)]
struct Flash {
    notice: Option<String>,
    error: Option<String>,
    #[serde(default)]
    q: String,
}

/// A redirect to `path` with a notice (or an error) for the page to show.
fn back(path: &str, key: &str, text: &str) -> Response {
    let query = serde_urlencoded::to_string([(key, text)]).unwrap_or_default();
    let sep = if path.contains('?') { '&' } else { '?' };
    see_other(&format!("{path}{sep}{query}"))
}

/// An action's outcome as a redirect: the notice, or the error's message.
fn done(path: &str, result: Result<String, AppError>) -> Result<Response, PageError> {
    match result {
        Ok(notice) => Ok(back(path, "notice", &notice)),
        Err(AppError::Internal(cause)) => Err(PageError(AppError::Internal(cause))),
        Err(e) => Ok(back(path, "error", &e.to_string())),
    }
}

fn time_ago(ms: Option<i64>, now: DateTime<Utc>) -> String {
    let Some(ms) = ms else {
        return "never".into();
    };
    let secs = (now.timestamp_millis() - ms).max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

#[derive(Debug, Serialize)]
struct DeviceCtx {
    id: String,
    name: String,
    gate: String,
    status: String,
    app_version: String,
    last_sync: String,
    cursor: i64,
    behind: i64,
    skew: String,
    check_ins: i64,
    queued: Option<i64>,
    current: bool,
    problem: String,
}

fn device_ctx(d: &crate::domain::console::DeviceStatus, now: DateTime<Utc>) -> DeviceCtx {
    DeviceCtx {
        id: d.id.clone(),
        name: d.name.clone(),
        gate: d.gate.clone().unwrap_or_else(|| "any".into()),
        status: d.status.clone(),
        app_version: d.app_version.clone(),
        last_sync: time_ago(d.last_seen_ms, now),
        cursor: d.cursor,
        behind: d.behind,
        skew: d.clock_skew_ms.map_or_else(
            || "unknown".into(),
            // Tenths of a second, and no "-0.0" for a few milliseconds.
            |ms| match (ms as f64 / 100.0).round() / 10.0 {
                0.0 => "0.0 s".into(),
                secs => format!("{secs:+.1} s"),
            },
        ),
        check_ins: d.check_ins,
        queued: d.queued_check_ins,
        current: d.current,
        problem: d.problem.clone(),
    }
}

async fn readiness_ctx(state: &Services, now: DateTime<Utc>) -> Result<Value, PageError> {
    let r = crate::app::console::readiness_of(state, None, None, now).await?;
    Ok(context! {
        head => r.head,
        within => r.within_minutes,
        ready => r.ready,
        active => r.active,
        devices => r.devices.iter().map(|d| device_ctx(d, now)).collect::<Vec<_>>(),
    })
}

/// The organizer's dashboard: readiness and live gates, refreshed every 30 seconds.
async fn dashboard(
    State(state): State<Services>,
    OrganizerPage(user): OrganizerPage,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(flash): PageQuery<Flash>,
) -> Result<Html<String>, PageError> {
    let now = Utc::now();
    let readiness = readiness_ctx(&state, now).await?;
    let live = crate::app::console::live_of(&state, None, now).await?;
    let chart = Value::from_safe_string(crate::domain::console::scans_chart_svg(
        &live.scans_per_minute,
    ));
    let last_hour: i64 = live.scans_per_minute.iter().sum();
    Page::new(Some(user), csrf).render(
        "organizer.html",
        "Organizer",
        context! {
            readiness => readiness,
            live => live,
            chart => chart,
            last_hour => last_hour,
            updated => now.format("%H:%M:%S UTC").to_string(),
            notice => flash.notice,
            error => flash.error,
            refresh => true,
        },
    )
}

async fn devices_ctx(
    state: &Services,
    user: crate::app::accounts::CurrentUser,
    csrf: Option<Extension<CsrfToken>>,
    flash: Flash,
    code: Option<Value>,
) -> Result<Html<String>, PageError> {
    let now = Utc::now();
    let readiness = readiness_ctx(state, now).await?;
    let gates: Vec<String> = state
        .store
        .gates()
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    Page::new(Some(user), csrf).render(
        "organizer_devices.html",
        "Gate devices",
        context! {
            readiness => readiness,
            gates => gates,
            code => code,
            notice => flash.notice,
            error => flash.error,
        },
    )
}

/// Devices: readiness, the enrollment form, revocation.
async fn devices_page(
    State(state): State<Services>,
    OrganizerPage(user): OrganizerPage,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(flash): PageQuery<Flash>,
) -> Result<Html<String>, PageError> {
    devices_ctx(&state, user, csrf, flash, None).await
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    name: String,
    #[serde(default)]
    gate: String,
}

/// Creates an enrollment code and shows it, with its QR code, once.
async fn create_code(
    State(state): State<Services>,
    OrganizerPage(user): OrganizerPage,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let body = console::DeviceCodeIn {
        name: form.name,
        gate: Some(form.gate).filter(|g| !g.trim().is_empty()),
        event_id: None,
        ttl_hours: None,
    };
    match console::new_device_code(&state, body).await {
        Ok(code) => {
            let ctx = context! {
                code => code.code,
                link => code.enroll_url,
                server => state.settings.public_url(),
                qr => Value::from_safe_string(code.qr_svg),
                expires => DateTime::from_timestamp(code.expires_at, 0)
                    .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
            };
            Ok(devices_ctx(&state, user, csrf, Flash::default(), Some(ctx))
                .await?
                .into_response())
        }
        Err(AppError::Internal(cause)) => Err(PageError(AppError::Internal(cause))),
        Err(e) => Ok(back("/organizer/devices", "error", &e.to_string())),
    }
}

/// Revokes a device.
async fn revoke(
    State(state): State<Services>,
    _: OrganizerPage,
    PagePath(id): PagePath<String>,
    CsrfForm(_): CsrfForm<serde_json::Value>,
) -> Result<Response, PageError> {
    let result = match state.store.revoke_device(&id, Utc::now().timestamp()).await {
        Ok(true) => Ok("Device revoked: its token no longer works.".to_owned()),
        Ok(false) => Err(AppError::NotFound(format!("device {id}"))),
        Err(e) => Err(e.into()),
    };
    done("/organizer/devices", result)
}

/// Orders and tickets: search, void, resend, comp; ticket types.
async fn orders_page(
    State(state): State<Services>,
    OrganizerPage(user): OrganizerPage,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(flash): PageQuery<Flash>,
) -> Result<Html<String>, PageError> {
    let found = console::search_of(&state, &flash.q, Some(50)).await?;
    let orders: Vec<Value> = found
        .orders
        .iter()
        .map(|o| {
            context! {
                id => o.id,
                number => order_number(o.id),
                email => o.email,
                name => o.name,
                status => o.status,
                payment => o.payment,
                total => money(o.total_cents, &o.currency),
                tickets => o.tickets,
                date => DateTime::from_timestamp(o.created_at, 0).map(|d| d.format("%Y-%m-%d %H:%M").to_string()),
            }
        })
        .collect();
    let types: Vec<Value> = state
        .store
        .ticket_types()
        .await?
        .into_iter()
        .map(|t| {
            context! {
                id => t.id,
                name => t.name,
                price => money(t.price_cents, &t.currency),
                price_value => format!("{}.{:02}", t.price_cents / 100, t.price_cents % 100),
                capacity => t.capacity,
                sold => t.sold,
                paused => t.sales_paused,
            }
        })
        .collect();
    Page::new(Some(user), csrf).render(
        "organizer_orders.html",
        "Orders and tickets",
        context! {
            q => flash.q,
            orders => orders,
            tickets => found.tickets,
            types => types,
            notice => flash.notice,
            error => flash.error,
        },
    )
}

#[derive(Debug, Deserialize)]
struct QForm {
    #[serde(default)]
    q: String,
}

fn orders_path(q: &str) -> String {
    if q.is_empty() {
        "/organizer/orders".into()
    } else {
        format!(
            "/organizer/orders?{}",
            serde_urlencoded::to_string([("q", q)]).unwrap_or_default()
        )
    }
}

/// Queues an order's confirmation again.
async fn resend(
    State(state): State<Services>,
    _: OrganizerPage,
    PagePath(id): PagePath<i64>,
    CsrfForm(form): CsrfForm<QForm>,
) -> Result<Response, PageError> {
    let result = state
        .store
        .queue_confirmation(id, Utc::now().timestamp())
        .await
        .map_err(AppError::from)
        .map(|()| {
            state.wake.notify_one();
            format!("The confirmation of order {} is queued.", order_number(id))
        });
    done(&orders_path(&form.q), result)
}

/// Voids a ticket.
async fn void(
    State(state): State<Services>,
    _: OrganizerPage,
    PagePath(id): PagePath<i64>,
    CsrfForm(form): CsrfForm<QForm>,
) -> Result<Response, PageError> {
    let result = match state.store.void_ticket(id).await {
        Ok(true) => Ok(format!(
            "Ticket {id} is void: gates refuse it after their next sync."
        )),
        Ok(false) => Err(AppError::NotFound(format!("ticket {id}"))),
        Err(e) => Err(e.into()),
    };
    done(&orders_path(&form.q), result)
}

#[derive(Debug, Deserialize)]
struct CompForm {
    ticket_type: i64,
    email: String,
    name: String,
    count: i64,
}

/// Issues complimentary tickets.
async fn comp(
    State(state): State<Services>,
    _: OrganizerPage,
    CsrfForm(form): CsrfForm<CompForm>,
) -> Result<Response, PageError> {
    let request = crate::app::orders::OrderRequest {
        email: form.email.clone(),
        name: form.name,
        items: vec![(form.ticket_type, form.count)],
        idempotency: None,
        lang: super::current_lang(),
    };
    let result =
        crate::app::orders::comp(&state, &request, state.settings.max_quantity, Utc::now())
            .await
            .map_err(AppError::from)
            .map(|placed| {
                format!(
                    "Order {} issued and emailed to {}.",
                    order_number(placed.id),
                    form.email
                )
            });
    done("/organizer/orders", result)
}

#[derive(Debug, Deserialize)]
struct TypeForm {
    action: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    capacity: String,
}

/// "35", "35.5" or "35.50" as cents.
fn parse_money(text: &str) -> Option<i64> {
    let text = text.trim().trim_start_matches('$');
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || frac.len() > 2 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse::<i64>().ok()?,
    };
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// Pauses, resumes, or edits a ticket type.
async fn edit_type(
    State(state): State<Services>,
    _: OrganizerPage,
    PagePath(id): PagePath<i64>,
    CsrfForm(form): CsrfForm<TypeForm>,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let result = match form.action.as_str() {
        "pause" => store
            .set_sales_paused(id, true)
            .await
            .map_err(AppError::from)
            .map(|()| "Sales paused.".to_owned()),
        "resume" => store
            .set_sales_paused(id, false)
            .await
            .map_err(AppError::from)
            .map(|()| "Sales resumed.".to_owned()),
        "edit" => match (
            parse_money(&form.price),
            form.capacity.trim().parse::<i64>(),
        ) {
            (Some(price), Ok(capacity)) if capacity >= 0 => store
                .edit_unsold_ticket_type(id, price, capacity)
                .await
                .map_err(AppError::from)
                .map(|()| "Price and capacity changed.".to_owned()),
            _ => Err(AppError::Invalid(
                "price must be an amount like 35.00 and capacity a whole number".into(),
            )),
        },
        _ => Err(AppError::BadRequest("unknown action".into())),
    };
    done("/organizer/orders", result)
}

/// Vendors: booth purchases, booths, assignment, staff passes.
async fn vendors_page(
    State(state): State<Services>,
    OrganizerPage(user): OrganizerPage,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(flash): PageQuery<Flash>,
) -> Result<Html<String>, PageError> {
    let purchases = state.store.vendor_purchases(None).await?;
    let booths = state.store.booths().await?;
    let purchases: Vec<Value> = purchases
        .iter()
        .map(|p| {
            context! {
                order_id => p.order_id,
                number => order_number(p.order_id),
                status => p.order_status,
                business => p.business_name,
                booth_name => p.booth_name,
                category => p.category.label(),
            category_code => p.category.as_str(),
                contact => p.contact_name,
                phone => p.phone,
                email => p.email,
                booth => p.booth.as_ref().map(|b| b.1.clone()),
                staff => p.staff_passes,
            }
        })
        .collect();
    let unassigned: Vec<Value> = state
        .store
        .vendor_purchases(None)
        .await?
        .iter()
        .filter(|p| p.order_status == "paid" && p.booth.is_none())
        .map(|p| {
            context! {
                order_id => p.order_id,
                label => format!("{} — {} ({})", p.business_name, p.booth_name, p.category.label()),
            }
        })
        .collect();
    let booths: Vec<Value> = booths
        .iter()
        .map(|b| {
            context! {
                id => b.id,
                code => b.code,
                category => b.category.map(BoothCategory::label),
                business => b.business_name,
                assigned => b.order_id.is_some(),
            }
        })
        .collect();
    let categories: Vec<Value> = BoothCategory::ALL
        .iter()
        .map(|c| context! { value => c.as_str(), label => c.label() })
        .collect();
    Page::new(Some(user), csrf).render(
        "organizer_vendors.html",
        "Vendors and booths",
        context! {
            purchases => purchases,
            unassigned => unassigned,
            booths => booths,
            categories => categories,
            notice => flash.notice,
            error => flash.error,
        },
    )
}

#[derive(Debug, Deserialize)]
struct BoothForm {
    code: String,
    #[serde(default)]
    category: String,
}

/// Creates a booth.
async fn create_booth(
    State(state): State<Services>,
    _: OrganizerPage,
    CsrfForm(form): CsrfForm<BoothForm>,
) -> Result<Response, PageError> {
    let result = async {
        let code = vendors::booth_code(&form.code)?;
        let category = BoothCategory::parse(form.category.trim());
        let event = crate::app::catalog::event_id(state.store.as_ref(), None, Utc::now()).await?;
        state
            .store
            .create_booth(event, &code, category, Utc::now().timestamp())
            .await
            .map_err(VendorError::from)?;
        Ok::<_, AppError>(format!("Booth {code} created."))
    }
    .await;
    done("/organizer/vendors", result)
}

#[derive(Debug, Deserialize)]
struct AssignForm {
    order_id: String,
}

/// Assigns a booth to a purchase (or frees it with an empty choice).
async fn assign(
    State(state): State<Services>,
    _: OrganizerPage,
    PagePath(id): PagePath<i64>,
    CsrfForm(form): CsrfForm<AssignForm>,
) -> Result<Response, PageError> {
    let order = form.order_id.trim().parse::<i64>().ok();
    let result = state
        .store
        .assign_booth(id, order, Utc::now().timestamp())
        .await
        .map_err(|e| AppError::from(VendorError::from(e)))
        .map(|()| match order {
            Some(_) => "Booth assigned: gates show it after their next sync.".to_owned(),
            None => "Booth freed.".to_owned(),
        });
    done("/organizer/vendors", result)
}

#[derive(Debug, Deserialize)]
struct StaffForm {
    count: String,
}

/// Grants staff passes for a booth.
async fn staff(
    State(state): State<Services>,
    _: OrganizerPage,
    PagePath(id): PagePath<i64>,
    CsrfForm(form): CsrfForm<StaffForm>,
) -> Result<Response, PageError> {
    let result = match form.count.trim().parse::<u32>() {
        Ok(count) => vendors::grant_staff_passes(&state, id, count, &[], Utc::now())
            .await
            .map_err(AppError::from)
            .map(|passes| {
                format!(
                    "{} staff passes issued and emailed to the vendor.",
                    passes.len()
                )
            }),
        Err(_) => Err(AppError::Invalid("count must be a whole number".into())),
    };
    done("/organizer/vendors", result)
}

/// Exports and key rotation.
async fn exports_page(
    State(state): State<Services>,
    OrganizerPage(user): OrganizerPage,
    csrf: Option<Extension<CsrfToken>>,
    PageQuery(flash): PageQuery<Flash>,
) -> Result<Html<String>, PageError> {
    let keys: Vec<Value> = state
        .store
        .signing_keys()
        .await?
        .iter()
        .map(|k| {
            context! {
                id => k.id,
                status => k.state.as_str(),
                created => DateTime::from_timestamp(k.created_at, 0).map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string()),
            }
        })
        .collect();
    Page::new(Some(user), csrf).render(
        "organizer_exports.html",
        "Exports and keys",
        context! { keys => keys, notice => flash.notice, error => flash.error },
    )
}

/// Rotates the signing key.
async fn rotate(
    State(state): State<Services>,
    _: OrganizerPage,
    CsrfForm(_): CsrfForm<serde_json::Value>,
) -> Result<Response, PageError> {
    let result = crate::app::console::rotate(&state).await.map(|id| {
        format!("Key {id} signs from now on. Sync every gate device so it learns the key.")
    });
    done("/organizer/exports", result)
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct BoothFormFields {
    #[serde(default)]
    business_name: String,
    #[serde(default)]
    booth_name: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    description: String,
}

async fn render_booth_form(
    state: &Services,
    page: &Page,
    form: &BoothFormFields,
    error: Option<String>,
) -> Result<Html<String>, PageError> {
    let types = state.store.ticket_types().await?;
    let categories: Vec<Value> = BoothCategory::ALL
        .iter()
        .map(|c| {
            let tt = types.iter().find(|t| {
                t.kind == crate::store::TicketKind::VendorBooth
                    && t.name == vendors::category_type_name(*c)
            });
            context! {
                value => c.as_str(),
                price => tt.map(|t| money(t.price_cents, &t.currency)),
                remaining => tt.map(crate::store::TicketType::remaining),
                paused => tt.is_some_and(|t| t.sales_paused),
                checked => form.category == c.as_str(),
            }
        })
        .collect();
    page.render(
        "vendor_booth.html",
        &super::tr("booth-form-title"),
        context! {
            form => form,
            categories => categories,
            error => error,
            demo => state.payments.provider().is_none(),
        },
    )
}

/// The booth form.
async fn booth_form(
    State(state): State<Services>,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
) -> Result<Html<String>, PageError> {
    let mut form = BoothFormFields::default();
    if let Some(u) = &user {
        form.email = u.user.email.clone();
        form.contact_name = u.user.name.clone();
    }
    render_booth_form(&state, &Page::new(user, csrf), &form, None).await
}

/// Books a booth from the form: to Stripe's page, or (demo) to the order page.
async fn buy_booth(
    State(state): State<Services>,
    client: crate::app::attempts::Client,
    MaybeUser(user): MaybeUser,
    csrf: Option<Extension<CsrfToken>>,
    CsrfForm(form): CsrfForm<BoothFormFields>,
) -> Result<Response, PageError> {
    let page = Page::new(user.clone(), csrf);
    let input = BoothPurchaseIn {
        business_name: form.business_name.clone(),
        booth_name: form.booth_name.clone(),
        category: form.category.clone(),
        contact_name: form.contact_name.clone(),
        phone: form.phone.clone(),
        email: form.email.clone(),
        description: form.description.clone(),
        ticket_type: None,
    };
    match vendors::buy_booth(
        &state,
        &input,
        None,
        &client,
        super::current_lang(),
        Utc::now(),
    )
    .await
    {
        Ok(bought) => {
            if let Some(u) = &user {
                state
                    .store
                    .set_order_user(bought.placed.id, u.user.id)
                    .await?;
            }
            Ok(see_other(&bought.checkout_url.unwrap_or_else(|| {
                format!(
                    "/orders/{}?token={}",
                    bought.placed.id, bought.placed.access_token
                )
            })))
        }
        Err(e) => match AppError::from(e) {
            AppError::Internal(cause) => Err(PageError(AppError::Internal(cause))),
            AppError::PaymentUnavailable => Err(PageError(AppError::PaymentUnavailable)),
            e => {
                let html =
                    render_booth_form(&state, &page, &form, Some(super::form_error(&e))).await?;
                Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
            }
        },
    }
}

/// The booths of a vendor's verified address, for their dashboard: purchase, assigned
/// booth and staff passes.
pub async fn vendor_booths(state: &Services, email: Option<&str>) -> Result<Vec<Value>, PageError> {
    let Some(email) = email else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for p in state.store.vendor_purchases(Some(email)).await? {
        let staff = match &p.booth {
            Some((id, _)) => state.store.staff_passes(*id).await?,
            None => Vec::new(),
        };
        out.push(context! {
            number => order_number(p.order_id),
            url => format!("/orders/{}?token={}", p.order_id, state.master.order_token(p.order_id)),
            status => p.order_status,
            business => p.business_name,
            booth_name => p.booth_name,
            category => p.category.label(),
            category_code => p.category.as_str(),
            booth => p.booth.as_ref().map(|b| b.1.clone()),
            staff => staff.iter().filter(|t| t.status == TicketStatus::Valid).map(|t| context! {
                id => t.id,
                holder => t.holder_name,
                qr_url => format!("/api/v1/tickets/{}/qr.svg", t.id),
                pdf_url => format!("/api/v1/tickets/{}/ticket.pdf", t.id),
            }).collect::<Vec<_>>(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_parses_like_people_type_it() {
        assert_eq!(parse_money("35"), Some(3500));
        assert_eq!(parse_money("$35.5"), Some(3550));
        assert_eq!(parse_money(" 0.05 "), Some(5));
        assert_eq!(parse_money("35.555"), None);
        assert_eq!(parse_money("-1"), None);
        assert_eq!(parse_money(""), None);
    }
}
