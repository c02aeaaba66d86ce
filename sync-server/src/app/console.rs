//! What the organizer's console reads and does beyond single writes: doors-open readiness,
//! live gate figures, CSV exports and key rotation, computed from store rows with the pure
//! functions of `domain::console`. The console API and the organizer's pages both call these.

use chrono::{DateTime, Utc};
use tessera_core::Tz;

use crate::app::catalog::event_id;
use crate::app::{AppError, Services};
use crate::domain::console::{LiveOut, ReadinessOut, csv, iso_ms, iso_s, live, opt, readiness};
use crate::store::DeviceRow;

/// Computes readiness for an event.
pub async fn readiness_of(
    state: &Services,
    event: Option<i64>,
    within_minutes: Option<i64>,
    now: DateTime<Utc>,
) -> Result<ReadinessOut, AppError> {
    let event_id = event_id(state.store.as_ref(), event, Utc::now()).await?;
    let within = within_minutes.unwrap_or(15).clamp(1, 24 * 60);
    let head = state.store.feed_head(event_id).await?;
    let devices: Vec<DeviceRow> = state
        .store
        .devices()
        .await?
        .into_iter()
        .filter(|d| d.event_id == event_id)
        .collect();
    let devices = readiness(&devices, head, now.timestamp_millis(), within);
    Ok(ReadinessOut {
        event_id,
        head,
        within_minutes: within,
        ready: devices.iter().filter(|d| d.current).count(),
        active: devices.iter().filter(|d| d.status == "active").count(),
        devices,
    })
}

/// Computes the live figures of an event.
pub async fn live_of(
    state: &Services,
    event: Option<i64>,
    now: DateTime<Utc>,
) -> Result<LiveOut, AppError> {
    let event_id = event_id(state.store.as_ref(), event, Utc::now()).await?;
    let sync = state
        .store
        .event_sync(event_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("event {event_id}")))?;
    let tz: Tz = sync.event.timezone.parse().unwrap_or(Tz::UTC);
    let rows = state.store.console_check_ins(event_id).await?;
    Ok(live(&rows, tz, sync.policy == "reentry_after_exit", now))
}

/// Builds one export: `orders`, `tickets`, `check-ins` or `conflicts`.
pub async fn export(state: &Services, what: &str, event: Option<i64>) -> Result<String, AppError> {
    let store = state.store.as_ref();
    let mut out = String::new();
    match what {
        "orders" => {
            out.push_str(&csv([
                "order_id",
                "number",
                "status",
                "payment",
                "email",
                "name",
                "total_cents",
                "currency",
                "tickets",
                "created_at",
            ]));
            for o in store.search_orders("", i64::MAX).await? {
                out.push_str(&csv([
                    o.id.to_string(),
                    crate::domain::render::order_number(o.id),
                    o.status,
                    o.payment,
                    o.email,
                    o.name,
                    o.total_cents.to_string(),
                    o.currency,
                    o.tickets.to_string(),
                    iso_s(o.created_at),
                ]));
            }
        }
        "tickets" => {
            out.push_str(&csv([
                "ticket_id",
                "order_id",
                "email",
                "event_id",
                "ticket_type_id",
                "ticket_type",
                "kind",
                "holder_name",
                "status",
                "revision",
                "booth",
                "issued_at",
            ]));
            for t in store.search_tickets("", i64::MAX).await? {
                out.push_str(&csv([
                    t.id.to_string(),
                    t.order_id.to_string(),
                    t.email,
                    t.event_id.to_string(),
                    t.ticket_type_id.to_string(),
                    t.type_name,
                    t.kind.as_str().to_owned(),
                    t.holder_name,
                    t.status,
                    t.revision.to_string(),
                    opt(t.booth),
                    iso_s(t.issued_at),
                ]));
            }
        }
        "check-ins" | "conflicts" => {
            let event_id = event_id(store, event, Utc::now()).await?;
            out.push_str(&csv([
                "device_id",
                "seq",
                "device_name",
                "ticket_id",
                "ticket_type",
                "at",
                "gate",
                "direction",
                "admitted",
                "reason",
                "server_admitted",
                "server_reason",
                "conflict",
                "conflict_kind",
            ]));
            for c in store.console_check_ins(event_id).await? {
                if what == "conflicts" && !c.conflict {
                    continue;
                }
                out.push_str(&csv([
                    c.device_id,
                    c.seq.to_string(),
                    c.device_name,
                    opt(c.ticket_id),
                    c.ticket_type.unwrap_or_default(),
                    iso_ms(c.at_ms),
                    c.gate,
                    c.direction,
                    c.admitted.to_string(),
                    c.reason.unwrap_or_default(),
                    c.server_admitted.to_string(),
                    c.server_reason.unwrap_or_default(),
                    c.conflict.to_string(),
                    c.conflict_kind.unwrap_or_default(),
                ]));
            }
        }
        other => return Err(AppError::NotFound(format!("export {other:?}"))),
    }
    Ok(out)
}

/// Rotates the signing key and makes this process sign with the new one at once (other
/// instances pick it up within `keys_reload_ms`).
pub async fn rotate(state: &Services) -> Result<u16, AppError> {
    let id = crate::app::keys::Keys::rotate(state.store.as_ref(), &state.master)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let keys = crate::app::keys::Keys::load_or_create(state.store.as_ref(), &state.master)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    *state.keys.write().await = std::sync::Arc::new(keys);
    tracing::info!(key = id, "signing key rotated from the console");
    Ok(id)
}

/// Retires a signing key ([`crate::app::keys::Keys::retire`]) and makes this process refuse
/// its tickets at once (other instances within `keys_reload_ms`).
pub async fn retire_key(state: &Services, key_id: i64) -> Result<(), AppError> {
    use crate::app::keys::{KeyError, Keys};
    Keys::retire(state.store.as_ref(), key_id)
        .await
        .map_err(|e| match e {
            KeyError::UnknownKey(id) => AppError::NotFound(format!("signing key {id}")),
            e @ KeyError::SigningKey(_) => AppError::Conflict(e.to_string()),
            e => AppError::Internal(e.to_string()),
        })?;
    let keys = Keys::load_or_create(state.store.as_ref(), &state.master)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    *state.keys.write().await = std::sync::Arc::new(keys);
    Ok(())
}
