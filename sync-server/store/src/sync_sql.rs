//! The sync tables: devices, enrollment codes, every device's check-ins, and the change feed
//! (filled by triggers, see `migrations/*/0002_sync.sql` and ADR 0008). Like [`super::sql`],
//! one SQL body serves both backends; the differences are the feed lock PostgreSQL takes
//! before judging uploads and how each reads a JSON array of ids.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use super::backend::{Affected, Backend};
use super::{Event, GateRow, KeyState, StoreError, is_unique_violation, mask, parse_days};

/// A registered scanning device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The id the device chose (32 hex digits).
    pub id: String,
    /// The event it scans for.
    pub event_id: i64,
    /// Its name, as staff know it.
    pub name: String,
    /// The gate the organizer assigned.
    pub gate: Option<String>,
    /// `active` or `revoked`.
    pub status: String,
    /// The app version it reported.
    pub app_version: String,
    /// Unix seconds.
    pub enrolled_at: i64,
    /// Its last request, Unix milliseconds.
    pub last_seen_ms: Option<i64>,
    /// The feed cursor it last asked from.
    pub cursor: i64,
    /// Its clock minus ours at its last request, in milliseconds.
    pub clock_skew_ms: Option<i64>,
    /// Check-ins it uploaded.
    pub check_ins: i64,
    /// Check-ins the device said it still held, not uploaded, at its last pull.
    pub queued_check_ins: Option<i64>,
    /// Its own Ed25519 public key, certified at enrollment (the venue mesh); `None` for a
    /// device that does not mesh.
    pub public_key: Option<Vec<u8>>,
    /// When the organizer revoked it (Unix seconds), while it is revoked.
    pub revoked_at: Option<i64>,
}

/// A one-time enrollment code to store (hashed).
#[derive(Debug, Clone)]
pub struct NewEnrollmentCode {
    /// SHA-256 of the normalized code.
    pub code_hash: Vec<u8>,
    /// The event the device will scan for.
    pub event_id: i64,
    /// The device's name.
    pub name: String,
    /// Its gate.
    pub gate: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

/// What redeeming a code gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The device is enrolled (boxed: the other answers carry nothing).
    Device(Box<DeviceRow>),
    /// No such code.
    Unknown,
    /// The code expired.
    Expired,
    /// The code was used already.
    Used,
    /// An active device already has the id the request names: enrollment never takes over
    /// a live gate (the code stays unused).
    DeviceActive,
}

/// An uploaded check-in, its ticket already verified by the server.
#[derive(Debug, Clone)]
pub struct IncomingCheckIn {
    /// Per-device sequence number.
    pub seq: i64,
    /// The ticket, when the server verified the text.
    pub ticket_id: Option<i64>,
    /// The scanned text (Tessera tickets only).
    pub text: Option<String>,
    /// Unix milliseconds, device clock.
    pub at_ms: i64,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: String,
    /// What the device did.
    pub admitted: bool,
    /// The device's reason.
    pub reason: Option<String>,
    /// The server's reason for codes it could not verify.
    pub unverified_reason: Option<String>,
    /// The revision of the code, when the server verified it.
    pub revision: Option<i64>,
    /// How far `at_ms` is off (the device's clock minus the server's, as measured at
    /// upload, plus the correction the device had applied), in milliseconds.
    pub clock_error_ms: Option<i64>,
}

/// A stored check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckIn {
    /// Device id.
    pub device_id: String,
    /// Sequence number.
    pub seq: i64,
    /// Device name.
    pub device_name: String,
    /// Ticket id (server-verified).
    pub ticket_id: Option<i64>,
    /// Scanned text.
    pub text: Option<String>,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: String,
    /// What the device did.
    pub admitted: bool,
    /// The device's reason.
    pub reason: Option<String>,
    /// The server's judgement.
    pub server_admitted: bool,
    /// Its reason.
    pub server_reason: Option<String>,
    /// Flagged (see `conflict_kind`).
    pub conflict: bool,
    /// `double_entry`, `superseded_code` or `clock_skew` when flagged.
    pub conflict_kind: Option<String>,
    /// The revision of the code scanned, when verified.
    pub revision: Option<i64>,
    /// How far `at_ms` is off, in milliseconds, when measured.
    pub clock_error_ms: Option<i64>,
}

/// The server's judgement of one stored check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Admit.
    pub admitted: bool,
    /// Reason when not.
    pub reason: Option<String>,
    /// Conflict flag.
    pub conflict: bool,
    /// Why it is flagged: `double_entry`, `superseded_code` or `clock_skew`.
    pub conflict_kind: Option<String>,
}

/// A ticket's state as the feed and the judge need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    /// Id.
    pub id: i64,
    /// Type id.
    pub ticket_type_id: i64,
    /// Revision.
    pub revision: i64,
    /// `valid` or `void`.
    pub status: String,
    /// Holder name.
    pub holder_name: String,
    /// Booth.
    pub booth: Option<i64>,
    /// `transfer` or `upgrade`: why the current revision replaced the previous one.
    pub superseded_by: Option<String>,
    /// Words for the gate's verdict screen: the vendor's business and booth
    /// ("Falafel King · Booth B-12") for booth tickets and staff passes.
    pub detail: Option<String>,
}

/// Judges every stored check-in of one ticket (in the order given) against its state.
pub type Judge<'a> =
    dyn Fn(Option<&TicketState>, &[StoredCheckIn]) -> Vec<Verdict> + Send + Sync + 'a;

/// The fate of one uploaded check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Sequence number.
    pub seq: i64,
    /// `false`: already stored, nothing changed.
    pub stored: bool,
    /// The server's judgement.
    pub verdict: Verdict,
}

/// The event as devices need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSync {
    /// The event.
    pub event: Event,
    /// `once_per_day` or `reentry_after_exit`.
    pub policy: String,
    /// Its gates.
    pub gates: Vec<GateRow>,
    /// Its ticket types: id, name, kind.
    pub ticket_types: Vec<(i64, String, String)>,
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The last change covered.
    pub cursor: i64,
    /// The newest change in scope.
    pub head: i64,
    /// Whether more follow.
    pub more: bool,
    /// The event, when it changed.
    pub event: Option<EventSync>,
    /// Keys that changed: id, public key, state.
    pub keys: Vec<(i64, Vec<u8>, KeyState)>,
    /// Tickets that changed.
    pub tickets: Vec<TicketState>,
    /// Check-ins that changed.
    pub check_ins: Vec<StoredCheckIn>,
    /// Every device of the event, by id, whenever the page carries the event.
    pub devices: Vec<DeviceRow>,
}

/// Who brought a batch of check-ins to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The device that recorded them: its visit is recorded (last seen).
    Own,
    /// Another device of the event carried them up (store and forward on the venue mesh):
    /// the recording device was not seen.
    Relayed,
}

/// The sync part of the store.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Stores a one-time enrollment code.
    async fn create_enrollment_code(&self, code: &NewEnrollmentCode) -> Result<(), StoreError>;
    /// Redeems a code once, registering (or re-registering) the device with a new token.
    async fn redeem_enrollment_code(
        &self,
        code_hash: &[u8],
        device_id: &str,
        token_hash: &[u8],
        app_version: &str,
        public_key: Option<&[u8]>,
        now: i64,
    ) -> Result<Redeemed, StoreError>;
    /// The device a token belongs to, revoked or not.
    async fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<DeviceRow>, StoreError>;
    /// The device with this id, revoked or not.
    async fn device(&self, id: &str) -> Result<Option<DeviceRow>, StoreError>;
    /// Every device, by enrollment time.
    async fn devices(&self) -> Result<Vec<DeviceRow>, StoreError>;
    /// Gives a device that has no key this one; returns the key the device has after (this
    /// one, or the one it had).
    async fn claim_device_key(&self, id: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Revokes a device; returns whether it existed.
    async fn revoke_device(&self, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Records a device's request: when, its clock skew, and the cursor it asked from.
    async fn touch_device(
        &self,
        id: &str,
        now_ms: i64,
        skew_ms: Option<i64>,
        cursor: Option<i64>,
        queued: Option<i64>,
    ) -> Result<(), StoreError>;
    /// The event with its policy, gates and ticket types.
    async fn event_sync(&self, event_id: i64) -> Result<Option<EventSync>, StoreError>;
    /// Stores a batch of `device`'s check-ins idempotently by `(device, seq)` and re-judges
    /// every check-in of the tickets it touches, all in one transaction. `delivery` says
    /// whether the device itself brought them (its last-seen time moves) or a peer did.
    async fn ingest_check_ins(
        &self,
        device: &DeviceRow,
        items: &[IncomingCheckIn],
        delivery: Delivery,
        now: i64,
        judge: &Judge<'_>,
    ) -> Result<Vec<IngestOutcome>, StoreError>;
    /// The changes in an event's scope after `after`, at most `limit` of them.
    async fn feed_page(
        &self,
        event_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<FeedPage, StoreError>;
    /// Every stored check-in of an event, by time (exports, tests).
    async fn event_check_ins(&self, event_id: i64) -> Result<Vec<StoredCheckIn>, StoreError>;
    /// Sets an event's entry policy.
    async fn set_event_policy(&self, event_id: i64, policy: &str) -> Result<(), StoreError>;
}

/// `SELECT` of a [`DeviceRow`].
pub(crate) const DEVICE_SELECT: &str = "SELECT id, event_id, name, gate, status, app_version, enrolled_at, \
         last_seen_ms, cursor, clock_skew_ms, check_ins, queued_check_ins, public_key, revoked_at \
         FROM devices";

/// `SELECT` of a [`StoredCheckIn`].
pub(crate) const CHECK_IN_SELECT: &str = "SELECT c.device_id, c.seq, d.name AS device_name, c.ticket_id, \
         c.text, c.at_ms, c.gate, c.direction, c.admitted, c.reason, c.server_admitted, \
         c.server_reason, c.conflict, c.conflict_kind, c.revision, c.clock_error_ms \
         FROM check_ins c JOIN devices d ON d.id = c.device_id";

fn device_from<R: Row>(row: &R) -> Result<DeviceRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<Vec<u8>>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(DeviceRow {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        name: row.try_get("name")?,
        gate: row.try_get("gate")?,
        status: row.try_get("status")?,
        app_version: row.try_get("app_version")?,
        enrolled_at: row.try_get("enrolled_at")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
        cursor: row.try_get("cursor")?,
        clock_skew_ms: row.try_get("clock_skew_ms")?,
        check_ins: row.try_get("check_ins")?,
        queued_check_ins: row.try_get("queued_check_ins")?,
        public_key: row.try_get("public_key")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn check_in_from<R: Row>(row: &R) -> Result<StoredCheckIn, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredCheckIn {
        device_id: row.try_get("device_id")?,
        seq: row.try_get("seq")?,
        device_name: row.try_get("device_name")?,
        ticket_id: row.try_get("ticket_id")?,
        text: row.try_get("text")?,
        at_ms: row.try_get("at_ms")?,
        gate: row.try_get("gate")?,
        direction: row.try_get("direction")?,
        admitted: row.try_get::<i64, _>("admitted")? != 0,
        reason: row.try_get("reason")?,
        server_admitted: row.try_get::<i64, _>("server_admitted")? != 0,
        server_reason: row.try_get("server_reason")?,
        conflict: row.try_get::<i64, _>("conflict")? != 0,
        conflict_kind: row.try_get("conflict_kind")?,
        revision: row.try_get("revision")?,
        clock_error_ms: row.try_get("clock_error_ms")?,
    })
}

fn ticket_state_from<R: Row>(row: &R) -> Result<TicketState, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(TicketState {
        id: row.try_get("id")?,
        ticket_type_id: row.try_get("ticket_type_id")?,
        revision: row.try_get("revision")?,
        status: row.try_get("status")?,
        holder_name: row.try_get("holder_name")?,
        booth: row.try_get("booth")?,
        superseded_by: row.try_get("superseded_by")?,
        detail: row.try_get("detail")?,
    })
}

/// The columns of a [`TicketState`] from `tickets t`, with the gate detail (see
/// `VENDOR_DETAIL_SQL`); assigning a booth touches the affected tickets so the change reaches
/// devices.
pub(crate) static TICKET_STATE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    [
        "t.id, t.ticket_type_id, t.revision, t.status, t.holder_name, t.booth, \
             t.superseded_by, ",
        crate::VENDOR_DETAIL_SQL,
        " AS detail",
    ]
    .concat()
});

#[async_trait]
impl<DB> SyncStore for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    DB::QueryResult: Affected,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> bool: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::ColumnIndex<DB::Row>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'q> Option<i64>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<String>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Option<Vec<u8>>: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
{
    async fn create_enrollment_code(&self, code: &NewEnrollmentCode) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query(
            "INSERT INTO enrollment_codes (code_hash, event_id, name, gate, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&code.code_hash)
        .bind(code.event_id)
        .bind(&code.name)
        .bind(&code.gate)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("enrollment code".into())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    async fn redeem_enrollment_code(
        &self,
        code_hash: &[u8],
        device_id: &str,
        token_hash: &[u8],
        app_version: &str,
        public_key: Option<&[u8]>,
        now: i64,
    ) -> Result<Redeemed, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        // Marking the code used first, conditionally, makes redemption single-use
        // also with two instances racing on one code.
        let code = sqlx::query(
            "UPDATE enrollment_codes SET used_by = $1, used_at = $2 \
             WHERE code_hash = $3 AND used_by IS NULL AND expires_at > $2 \
             RETURNING event_id, name, gate",
        )
        .bind(device_id)
        .bind(now)
        .bind(code_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(code) = code else {
            let row = sqlx::query(
                "SELECT used_by, expires_at FROM enrollment_codes WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            return Ok(match row {
                None => Redeemed::Unknown,
                Some(r) if r.try_get::<Option<String>, _>("used_by")?.is_some() => Redeemed::Used,
                Some(_) => Redeemed::Expired,
            });
        };
        let event_id: i64 = code.try_get("event_id")?;
        let name: String = code.try_get("name")?;
        let gate: Option<String> = code.try_get("gate")?;
        // A device enrolling again after the organizer revoked it (a new code for the same
        // tablet) keeps its id and its check-ins, and gets a fresh token. An active device's
        // id is never taken over, whatever code is presented: the conditional update leaves
        // it alone and the whole redemption rolls back. The device key is the one this
        // enrollment presents (or none): a re-enrolled device is certified afresh.
        let enrolled = sqlx::query(
            "INSERT INTO devices (id, event_id, name, gate, token_hash, status, app_version, enrolled_at, \
             public_key) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET event_id = excluded.event_id, name = excluded.name, \
             gate = excluded.gate, token_hash = excluded.token_hash, status = 'active', \
             app_version = excluded.app_version, enrolled_at = excluded.enrolled_at, revoked_at = NULL, \
             public_key = excluded.public_key \
             WHERE devices.status = 'revoked'",
        )
        .bind(device_id)
        .bind(event_id)
        .bind(&name)
        .bind(&gate)
        .bind(token_hash)
        .bind(app_version)
        .bind(now)
        .bind(public_key.map(<[u8]>::to_vec))
        .execute(&mut *tx)
        .await?;
        if enrolled.rows_affected() == 0 {
            return Ok(Redeemed::DeviceActive);
        }
        let device = sqlx::query(crate::sql(&[DEVICE_SELECT, " WHERE id = $1"]))
            .bind(device_id)
            .fetch_one(&mut *tx)
            .await?;
        let device = device_from(&device)?;
        tx.commit().await?;
        Ok(Redeemed::Device(Box::new(device)))
    }

    async fn device_by_token(&self, token_hash: &[u8]) -> Result<Option<DeviceRow>, StoreError> {
        sqlx::query(crate::sql(&[DEVICE_SELECT, " WHERE token_hash = $1"]))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| device_from(&r))
            .transpose()
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceRow>, StoreError> {
        sqlx::query(crate::sql(&[DEVICE_SELECT, " WHERE id = $1"]))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| device_from(&r))
            .transpose()
    }

    async fn devices(&self) -> Result<Vec<DeviceRow>, StoreError> {
        sqlx::query(crate::sql(&[DEVICE_SELECT, " ORDER BY enrolled_at, id"]))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(device_from)
            .collect()
    }

    async fn claim_device_key(&self, id: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let _w = self.write_guard().await;
        sqlx::query("UPDATE devices SET public_key = $1 WHERE id = $2 AND public_key IS NULL")
            .bind(key.to_vec())
            .bind(id)
            .execute(&self.pool)
            .await?;
        let key: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT public_key FROM devices WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(key.flatten())
    }

    async fn revoke_device(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let _w = self.write_guard().await;
        let done =
            sqlx::query("UPDATE devices SET status = 'revoked', revoked_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_device(
        &self,
        id: &str,
        now_ms: i64,
        skew_ms: Option<i64>,
        cursor: Option<i64>,
        queued: Option<i64>,
    ) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        sqlx::query(
            "UPDATE devices SET last_seen_ms = $1, clock_skew_ms = COALESCE($2, clock_skew_ms), \
             cursor = COALESCE($3, cursor), \
             queued_check_ins = COALESCE($5, queued_check_ins) WHERE id = $4",
        )
        .bind(now_ms)
        .bind(skew_ms)
        .bind(cursor)
        .bind(id)
        .bind(queued)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn event_sync(&self, event_id: i64) -> Result<Option<EventSync>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT id, name, venue, timezone, days, policy FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let event = Event {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            venue: row.try_get("venue")?,
            timezone: row.try_get("timezone")?,
            days: parse_days(&row.try_get::<String, _>("days")?)?,
        };
        let policy: String = row.try_get("policy")?;
        let gates = sqlx::query(
            "SELECT event_id, name, zones FROM gates WHERE event_id = $1 ORDER BY name",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(GateRow {
                event_id: r.try_get("event_id")?,
                name: r.try_get("name")?,
                zones: mask(r.try_get("zones")?, "zones")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let ticket_types =
            sqlx::query("SELECT id, name, kind FROM ticket_types WHERE event_id = $1 ORDER BY id")
                .bind(event_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("name")?, r.try_get("kind")?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(EventSync {
            event,
            policy,
            gates,
            ticket_types,
        }))
    }

    async fn ingest_check_ins(
        &self,
        device: &DeviceRow,
        items: &[IncomingCheckIn],
        delivery: Delivery,
        now: i64,
        judge: &Judge<'_>,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let _w = self.write_guard().await;
        let mut tx = self.begin_write().await?;
        // Judging reads every check-in of a ticket: serialize ingests (and every
        // other feed writer) so two instances never judge on half of each other.
        sqlx::query(DB::FEED_LOCK).execute(&mut *tx).await?;

        // What the server already has of this batch: answered, not judged again.
        let (lo, hi) = items.iter().fold((i64::MAX, i64::MIN), |(lo, hi), i| {
            (lo.min(i.seq), hi.max(i.seq))
        });
        let mut known: HashMap<i64, Verdict> = HashMap::new();
        for row in sqlx::query(
            "SELECT seq, server_admitted, server_reason, conflict, conflict_kind FROM check_ins \
             WHERE device_id = $1 AND seq >= $2 AND seq <= $3",
        )
        .bind(&device.id)
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut *tx)
        .await?
        {
            known.insert(
                row.try_get("seq")?,
                Verdict {
                    admitted: row.try_get::<i64, _>("server_admitted")? != 0,
                    reason: row.try_get("server_reason")?,
                    conflict: row.try_get::<i64, _>("conflict")? != 0,
                    conflict_kind: row.try_get("conflict_kind")?,
                },
            );
        }
        let mut new_items: Vec<&IncomingCheckIn> = Vec::new();
        for item in items {
            if !known.contains_key(&item.seq) && !new_items.iter().any(|n| n.seq == item.seq) {
                new_items.push(item);
            }
        }

        // Every touched ticket's state and history, in two queries.
        let mut ticket_ids: Vec<i64> = new_items.iter().filter_map(|i| i.ticket_id).collect();
        ticket_ids.sort_unstable();
        ticket_ids.dedup();
        let ids_json =
            serde_json::to_string(&ticket_ids).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut states: HashMap<i64, TicketState> = HashMap::new();
        // Built per backend (the JSON subquery differs) from constant fragments only.
        let states_sql = format!(
            "SELECT {} FROM tickets t WHERE t.id IN ({})",
            TICKET_STATE_COLUMNS.as_str(),
            DB::IDS_FROM_JSON
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(states_sql))
            .bind(&ids_json)
            .fetch_all(&mut *tx)
            .await?
        {
            let t = ticket_state_from(&row)?;
            states.insert(t.id, t);
        }
        let mut histories: HashMap<i64, Vec<StoredCheckIn>> = HashMap::new();
        let histories_sql = format!(
            "{} WHERE c.ticket_id IN ({})",
            CHECK_IN_SELECT,
            DB::IDS_FROM_JSON
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(histories_sql))
            .bind(&ids_json)
            .fetch_all(&mut *tx)
            .await?
        {
            let c = check_in_from(&row)?;
            if let Some(t) = c.ticket_id {
                histories.entry(t).or_default().push(c);
            }
        }
        let as_stored = |item: &IncomingCheckIn| StoredCheckIn {
            device_id: device.id.clone(),
            seq: item.seq,
            device_name: device.name.clone(),
            ticket_id: item.ticket_id,
            text: item.text.clone(),
            at_ms: item.at_ms,
            gate: item.gate.clone(),
            direction: item.direction.clone(),
            admitted: item.admitted,
            reason: item.reason.clone(),
            server_admitted: false,
            server_reason: item.unverified_reason.clone(),
            conflict: false,
            conflict_kind: None,
            revision: item.revision,
            clock_error_ms: item.clock_error_ms,
        };

        // Judge each ticket's whole history with the new check-ins in it; new rows are
        // written once with their verdict, older rows only when their verdict moved.
        let mut verdicts: HashMap<i64, Verdict> = HashMap::new();
        for ticket_id in &ticket_ids {
            let mut history = histories.remove(ticket_id).unwrap_or_default();
            history.extend(
                new_items
                    .iter()
                    .filter(|i| i.ticket_id == Some(*ticket_id))
                    .map(|i| as_stored(i)),
            );
            history.sort_by(|a, b| {
                (a.at_ms, &a.device_id, a.seq).cmp(&(b.at_ms, &b.device_id, b.seq))
            });
            let judged = judge(states.get(ticket_id), &history);
            for (row, v) in history.iter().zip(judged) {
                let is_new =
                    row.device_id == device.id && new_items.iter().any(|i| i.seq == row.seq);
                if is_new {
                    verdicts.insert(row.seq, v);
                } else if row.server_admitted != v.admitted
                    || row.server_reason != v.reason
                    || row.conflict != v.conflict
                    || row.conflict_kind != v.conflict_kind
                {
                    sqlx::query(
                        "UPDATE check_ins SET server_admitted = $1, server_reason = $2, conflict = $3, \
                         conflict_kind = $6 WHERE device_id = $4 AND seq = $5",
                    )
                    .bind(i64::from(v.admitted))
                    .bind(&v.reason)
                    .bind(i64::from(v.conflict))
                    .bind(&row.device_id)
                    .bind(row.seq)
                    .bind(&v.conflict_kind)
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        for item in &new_items {
            // Not a verified ticket: kept with the reason it failed.
            verdicts.entry(item.seq).or_insert_with(|| Verdict {
                admitted: false,
                reason: item.unverified_reason.clone(),
                conflict: false,
                conflict_kind: None,
            });
        }
        // 17 parameters a row: 100 rows stay far below both backends' limits.
        for chunk in new_items.chunks(100) {
            let mut insert = sqlx::QueryBuilder::<DB>::new(
                "INSERT INTO check_ins (device_id, seq, event_id, ticket_id, text, at_ms, gate, \
                 direction, admitted, reason, server_admitted, server_reason, conflict, received_at, \
                 conflict_kind, revision, clock_error_ms) ",
            );
            insert.push_values(chunk, |mut row, item| {
                let v = verdicts.get(&item.seq);
                row.push_bind(device.id.clone())
                    .push_bind(item.seq)
                    .push_bind(device.event_id)
                    .push_bind(item.ticket_id)
                    .push_bind(item.text.clone())
                    .push_bind(item.at_ms)
                    .push_bind(item.gate.clone())
                    .push_bind(item.direction.clone())
                    .push_bind(i64::from(item.admitted))
                    .push_bind(item.reason.clone())
                    .push_bind(i64::from(v.is_some_and(|v| v.admitted)))
                    .push_bind(v.and_then(|v| v.reason.clone()))
                    .push_bind(i64::from(v.is_some_and(|v| v.conflict)))
                    .push_bind(now)
                    .push_bind(v.and_then(|v| v.conflict_kind.clone()))
                    .push_bind(item.revision)
                    .push_bind(item.clock_error_ms);
            });
            insert.build().execute(&mut *tx).await?;
        }
        // A relayed batch counts as the device's check-ins, but the device was not seen.
        sqlx::query(
            "UPDATE devices SET check_ins = check_ins + $1, \
             last_seen_ms = CASE WHEN $4 = 1 THEN $2 ELSE last_seen_ms END WHERE id = $3",
        )
        .bind(new_items.len() as i64)
        .bind(now * 1000)
        .bind(&device.id)
        .bind(i64::from(delivery == Delivery::Own))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;

        // A seq repeated inside one batch is answered like its first occurrence.
        let mut first_seen: Vec<i64> = Vec::new();
        items
            .iter()
            .map(|item| {
                let stored = !known.contains_key(&item.seq) && !first_seen.contains(&item.seq);
                first_seen.push(item.seq);
                let verdict = known
                    .get(&item.seq)
                    .or_else(|| verdicts.get(&item.seq))
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("no verdict for seq {}", item.seq))
                    })?;
                Ok(IngestOutcome {
                    seq: item.seq,
                    stored,
                    verdict,
                })
            })
            .collect()
    }
    async fn feed_page(
        &self,
        event_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<FeedPage, StoreError> {
        let head: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE event_id = $1 OR event_id IS NULL",
        )
        .bind(event_id)
        .fetch_one(&self.pool)
        .await?;
        // The page ends at the limit-th change after the cursor, or at the head.
        let upper: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM changes WHERE seq > $1 AND (event_id = $2 OR event_id IS NULL) \
             ORDER BY seq LIMIT 1 OFFSET $3",
        )
        .bind(after)
        .bind(event_id)
        .bind(limit.max(1) - 1)
        .fetch_optional(&self.pool)
        .await?;
        let upper = upper.unwrap_or(head).max(after);
        let event_changed: bool = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM changes WHERE kind = 'event' AND event_id = $1 \
             AND seq > $2 AND seq <= $3",
        )
        .bind(event_id)
        .bind(after)
        .bind(upper)
        .fetch_one(&self.pool)
        .await?
            > 0;
        let event = if event_changed || after == 0 {
            self.event_sync(event_id).await?
        } else {
            None
        };
        // The event's devices travel with the event: a device enrolled, renamed, re-keyed or
        // revoked is an event change (migration 0016).
        let devices = if event.is_some() {
            sqlx::query(crate::sql(&[
                DEVICE_SELECT,
                " WHERE event_id = $1 ORDER BY id",
            ]))
            .bind(event_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(device_from)
            .collect::<Result<Vec<_>, _>>()?
        } else {
            Vec::new()
        };
        let keys = sqlx::query(
            "SELECT id, public_key, status FROM signing_keys WHERE id IN \
             (SELECT entity FROM changes WHERE kind = 'key' AND seq > $1 AND seq <= $2) ORDER BY id",
        )
        .bind(after)
        .bind(upper)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            let state = match r.try_get::<String, _>("status")?.as_str() {
                "active" => KeyState::Active,
                _ => KeyState::Retired,
            };
            Ok((r.try_get("id")?, r.try_get("public_key")?, state))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let tickets = sqlx::query(crate::sql(&["SELECT ", TICKET_STATE_COLUMNS.as_str(), " FROM tickets t WHERE t.id IN \
             (SELECT entity FROM changes WHERE kind = 'ticket' AND event_id = $1 AND seq > $2 AND seq <= $3) \
             ORDER BY t.id"]))
        .bind(event_id)
        .bind(after)
        .bind(upper)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ticket_state_from)
        .collect::<Result<Vec<_>, _>>()?;
        let check_ins = sqlx::query(crate::sql(&[
            CHECK_IN_SELECT,
            " WHERE (c.device_id, c.seq) IN \
             (SELECT device_id, entity FROM changes WHERE kind = 'check_in' AND event_id = $1 \
              AND seq > $2 AND seq <= $3) ORDER BY c.at_ms, c.device_id, c.seq",
        ]))
        .bind(event_id)
        .bind(after)
        .bind(upper)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(check_in_from)
        .collect::<Result<Vec<_>, _>>()?;
        Ok(FeedPage {
            cursor: upper,
            head,
            more: upper < head,
            event,
            keys,
            tickets,
            check_ins,
            devices,
        })
    }

    async fn event_check_ins(&self, event_id: i64) -> Result<Vec<StoredCheckIn>, StoreError> {
        sqlx::query(crate::sql(&[
            CHECK_IN_SELECT,
            " WHERE c.event_id = $1 ORDER BY c.at_ms, c.device_id, c.seq",
        ]))
        .bind(event_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(check_in_from)
        .collect()
    }

    async fn set_event_policy(&self, event_id: i64, policy: &str) -> Result<(), StoreError> {
        let _w = self.write_guard().await;
        let done = sqlx::query("UPDATE events SET policy = $1 WHERE id = $2")
            .bind(policy)
            .bind(event_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("event {event_id}")));
        }
        Ok(())
    }
}
