//! What operators watch: `GET /metrics` in the Prometheus text format, `GET /readyz`, and
//! the request middleware that gives every request an id (in its log span and the
//! `x-request-id` response header) and counts it by route and status.
//!
//! Logs and labels carry route templates (`/api/v1/orders/{id}`), never query strings
//! (order tokens travel there) nor names or emails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use tracing::Instrument;

use crate::app::orders::token_hash;
use crate::app::{AppError, Services};

/// An outbox whose oldest pending email has been due this long is "stuck" for `/readyz`.
pub const OUTBOX_STUCK_MS: i64 = 15 * 60 * 1000;

/// Requests by route, method and status, since the process started.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    counts: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl HttpMetrics {
    fn record(&self, route: &str, method: &str, status: u16) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
        }
    }
}

fn request_id(req: &Request) -> String {
    // A proxy's id is kept when it looks like one; otherwise a new random one.
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut raw = [0u8; 8];
            let _ = crate::app::keys::random_bytes(&mut raw);
            hex::encode(raw)
        })
}

/// Gives the request an id and a log span, logs its outcome, counts it.
pub async fn track(State(http): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let id = request_id(&req);
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, ms = started.elapsed().as_millis() as u64, "served");
    });
    http.record(&route, &method, status);
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text exposition of the server's state, for whoever holds `metrics_token`
/// (it names devices and counts sales).
pub async fn metrics(
    State(state): State<Services>,
    Extension(http): Extension<Arc<HttpMetrics>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(sent) = crate::http::auth::bearer(&headers) else {
        return AppError::Unauthorized.into_response();
    };
    let Some(expected) = &state.settings.metrics_token else {
        return AppError::NotFound("metrics (set metrics_token to turn them on)".into())
            .into_response();
    };
    // Hashes compared, so timing says nothing about the token.
    if token_hash(sent) != token_hash(expected.expose()) {
        return AppError::WrongToken("metrics_token").into_response();
    }
    let snap = match state.store.snapshot().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "metrics: the database did not answer");
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response();
        }
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    family(
        "tessera_http_requests_total",
        "counter",
        "HTTP requests by route, method and status.",
    );
    let mut body = String::new();
    if let Ok(counts) = http.counts.lock() {
        for ((route, method, status), n) in counts.iter() {
            let _ = writeln!(
                body,
                "tessera_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                label(route),
                label(method)
            );
        }
    }
    out.push_str(&body);
    let grouped = |out: &mut String, name: &str, kind: &str, help: &str, rows: &[(String, i64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (k, n) in rows {
            let _ = writeln!(out, "{name}{{status=\"{}\"}} {n}", label(k));
        }
    };
    grouped(
        &mut out,
        "tessera_orders",
        "gauge",
        "Orders by status.",
        &snap.orders,
    );
    grouped(
        &mut out,
        "tessera_tickets",
        "gauge",
        "Issued tickets by status.",
        &snap.tickets,
    );
    grouped(
        &mut out,
        "tessera_emails",
        "gauge",
        "Outbox emails by status: pending (queued), sent, dead (failed for good).",
        &snap.outbox,
    );
    let issued: i64 = snap.tickets.iter().map(|(_, n)| n).sum();
    let single = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    single(
        &mut out,
        "tessera_tickets_issued_total",
        "counter",
        "Tickets issued.",
        issued.to_string(),
    );
    let outbox_age = snap
        .oldest_due_ms
        .map_or(0.0, |due| ((now_ms - due).max(0) as f64) / 1000.0);
    single(
        &mut out,
        "tessera_outbox_oldest_due_seconds",
        "gauge",
        "How long the oldest pending email has been due.",
        format!("{outbox_age:.3}"),
    );
    let room = state.storage.room();
    if let Some(free) = room.free {
        single(
            &mut out,
            "tessera_storage_free_bytes",
            "gauge",
            "Free space on the fullest disk the server writes to.",
            free.to_string(),
        );
    }
    single(
        &mut out,
        "tessera_storage_min_free_bytes",
        "gauge",
        "The free-space floor below which sales and uploads are refused (0: off).",
        room.min_free.to_string(),
    );
    single(
        &mut out,
        "tessera_storage_low",
        "gauge",
        "1 while free space is below the floor and sales and uploads are refused.",
        u8::from(room.is_low()).to_string(),
    );
    single(
        &mut out,
        "tessera_storage_refusals_total",
        "counter",
        "Sales and uploads refused for lack of disk space.",
        state.storage.refusals().to_string(),
    );
    single(
        &mut out,
        "tessera_check_ins_total",
        "counter",
        "Check-ins uploaded by devices.",
        snap.check_ins.to_string(),
    );
    single(
        &mut out,
        "tessera_conflicts_total",
        "counter",
        "Check-ins flagged as a second admission.",
        snap.conflicts.to_string(),
    );
    single(
        &mut out,
        "tessera_feed_head",
        "gauge",
        "The change feed's newest seq.",
        snap.feed_head.to_string(),
    );
    let mut by_status: BTreeMap<&str, i64> = BTreeMap::new();
    for d in &snap.devices {
        *by_status.entry(d.status.as_str()).or_default() += 1;
    }
    let rows: Vec<(String, i64)> = by_status
        .into_iter()
        .map(|(k, n)| (k.to_owned(), n))
        .collect();
    grouped(
        &mut out,
        "tessera_devices",
        "gauge",
        "Enrolled devices by status.",
        &rows,
    );
    let per_device =
        |out: &mut String,
         name: &str,
         help: &str,
         value: &dyn Fn(&crate::store::DeviceLag) -> Option<String>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for d in &snap.devices {
                if let Some(v) = value(d) {
                    let _ = writeln!(
                        out,
                        "{name}{{device=\"{}\",name=\"{}\"}} {v}",
                        label(&d.id),
                        label(&d.name)
                    );
                }
            }
        };
    per_device(
        &mut out,
        "tessera_device_changes_behind",
        "Feed changes a device has not asked for yet (its sync lag).",
        &|d| Some(d.changes_behind.to_string()),
    );
    per_device(
        &mut out,
        "tessera_device_last_seen_seconds",
        "Seconds since a device last reached the server.",
        &|d| {
            d.last_seen_ms
                .map(|t| format!("{:.3}", ((now_ms - t).max(0) as f64) / 1000.0))
        },
    );
    per_device(
        &mut out,
        "tessera_device_clock_skew_seconds",
        "A device's clock minus the server's.",
        &|d| d.clock_skew_ms.map(|s| format!("{:.3}", s as f64 / 1000.0)),
    );
    per_device(
        &mut out,
        "tessera_device_check_ins_total",
        "Check-ins a device uploaded.",
        &|d| Some(d.check_ins.to_string()),
    );
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// The OpenAPI part of the operations endpoints.
#[derive(utoipa::OpenApi)]
#[openapi(paths(readyz, metrics_doc), components(schemas(Readiness)))]
pub struct OpsApiDoc;

/// The Prometheus text format (documented here; served by [`metrics`]).
#[utoipa::path(
    get,
    path = "/metrics",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain"),
        (status = 401, body = crate::http::ErrorBody, description = "no bearer token"),
        (status = 403, body = crate::http::ErrorBody, description = "not the metrics_token"),
        (status = 404, body = crate::http::ErrorBody, description = "no metrics_token is configured: metrics are off"),
    )
)]
#[allow(dead_code)] // Exists for the OpenAPI document only.
fn metrics_doc() {}

/// `/readyz`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    /// Each check: `ok`, or what is wrong.
    pub checks: BTreeMap<String, String>,
}

/// Ready to serve: the database answers and takes a write, the disk is above its
/// free-space floor, migrations are current, the outbox is moving.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, body = Readiness, description = "ready"),
        (status = 503, body = Readiness, description = "not ready: see checks"),
    )
)]
pub async fn readyz(State(state): State<Services>) -> (StatusCode, Json<Readiness>) {
    let mut checks = BTreeMap::new();
    let now_ms = chrono::Utc::now().timestamp_millis();
    match state.store.snapshot().await {
        Ok(snap) => {
            checks.insert("database".to_owned(), "ok".to_owned());
            let outbox = match snap.oldest_due_ms {
                Some(due) if now_ms - due > OUTBOX_STUCK_MS => format!(
                    "stuck: the oldest pending email has been due for {} s",
                    (now_ms - due) / 1000
                ),
                _ => "ok".to_owned(),
            };
            checks.insert("outbox".to_owned(), outbox);
        }
        Err(e) => {
            tracing::error!(error = %e, "readyz: the database did not answer");
            checks.insert("database".to_owned(), "unreachable".to_owned());
        }
    }
    // A real write, committed: a database that answers reads may still refuse writes (a
    // full disk, a read-only file).
    let write = match state.store.probe_write(now_ms).await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::error!(error = %e, "readyz: the database did not take a write");
            "cannot write: see the server log".to_owned()
        }
    };
    checks.insert("database_write".to_owned(), write);
    let room = state.storage.room();
    let disk = if room.is_low() {
        format!(
            "low: {} MiB free, below the {} MiB floor (min_free_bytes); sales and uploads are refused",
            room.free.unwrap_or(0) / (1024 * 1024),
            room.min_free / (1024 * 1024)
        )
    } else if room.is_full() {
        format!("full: {} KiB free", room.free.unwrap_or(0) / 1024)
    } else {
        "ok".to_owned()
    };
    checks.insert("disk".to_owned(), disk);
    let migrations = match state.store.pending_migrations().await {
        Ok(0) => "ok".to_owned(),
        Ok(n) => format!("{n} pending: run `tessera-server migrate`"),
        Err(_) => "unknown".to_owned(),
    };
    checks.insert("migrations".to_owned(), migrations);
    let ready = checks.len() == 5 && checks.values().all(|v| v == "ok");
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            status: if ready { "ready" } else { "not_ready" }.to_owned(),
            checks,
        }),
    )
}

/// The layers that wrap every route: the security headers, request ids, logs, counts, and
/// the counts' home.
pub fn layers(router: axum::Router) -> axum::Router {
    let http = Arc::new(HttpMetrics::default());
    router
        .layer(axum::middleware::from_fn(
            crate::http::headers::security_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(http.clone(), track))
        .layer(Extension(http))
}
