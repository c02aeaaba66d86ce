//! The sync protocol's wire types, shared by the server and the devices
//! (docs/sync-protocol.md). Every message carries the protocol version; a shipped shape is
//! never changed, only succeeded.
//!
//! The change feed is *state-based*: a page carries the current state of every entity that
//! changed after the cursor, so applying pages is idempotent and order within a page does not
//! matter. Field names are short on purpose: a first sync carries every ticket of the event.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The protocol version this software speaks.
pub const PROTOCOL: u32 = 1;

/// Device → server: exchange a one-time enrollment code for a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The one-time code printed by `tessera-server device-code`.
    pub code: String,
    /// The device's own id (random, 32 hex digits): the first half of every check-in key.
    pub device_id: String,
    /// The app's version, shown to organizers.
    pub app_version: String,
    /// The device's clock when it sent the request.
    pub device_time: DateTime<Utc>,
    /// The device's own Ed25519 public key (64 hex digits), for the server to certify: gates
    /// of the venue mesh accept each other by that certificate (ADR 0024). Absent from
    /// devices that do not mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
}

/// Server → device: the enrolled device's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The device id, as registered.
    pub device_id: String,
    /// The name the organizer gave the device.
    pub name: String,
    /// The gate the organizer assigned, if any.
    pub gate: Option<String>,
    /// The bearer token for every later request. Shown once; the server keeps a hash.
    pub token: String,
    /// The server's clock.
    pub server_time: DateTime<Utc>,
    /// The device's certificate (hex of [`crate::mesh::CERTIFICATE_LEN`] bytes): its
    /// `device_key` signed by the server's current key, when the request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// Server → device: one page of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangesPage {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The cursor to ask from next time (the last change this page covers).
    pub cursor: u64,
    /// The newest change the server has; `cursor == head` means the device is current.
    pub head: u64,
    /// Whether another page follows at once.
    pub more: bool,
    /// The server's clock when it built the page.
    pub server_time: DateTime<Utc>,
    /// The event, when its configuration changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventState>,
    /// Keys that changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyState>,
    /// Tickets that changed (new, transferred, refunded, voided...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<TicketState>,
    /// Check-ins of every device, with the server's verdict and conflict flag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check_ins: Vec<CheckInState>,
    /// Every device of the event, whenever the page carries the event (a device enrolled,
    /// renamed, re-keyed or revoked is an event change): gates refuse mesh peers whose
    /// certificate names a revoked device or a key the server no longer holds for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceState>,
}

/// A device as its peers on the venue mesh need to know it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Device id (32 hex digits).
    pub device_id: String,
    /// Its name.
    pub name: String,
    /// `active` or `revoked`.
    pub status: String,
    /// Its certified public key (64 hex digits), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// The event as gates need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventState {
    /// Event id (as in the tickets).
    pub id: u32,
    /// Name.
    pub name: String,
    /// IANA timezone.
    pub timezone: String,
    /// Days, ascending.
    pub days: Vec<NaiveDate>,
    /// `once_per_day` or `reentry_after_exit`.
    pub policy: String,
    /// Gates: name and zone mask.
    pub gates: Vec<GateState>,
    /// Ticket types: id, name, kind.
    pub ticket_types: Vec<TicketTypeState>,
}

/// A gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateState {
    /// Name.
    pub name: String,
    /// Zone mask.
    pub zones: u16,
}

/// A ticket type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTypeState {
    /// Id.
    pub id: u16,
    /// Name.
    pub name: String,
    /// `pass` or `vendor_booth`.
    pub kind: String,
}

/// A signing key's public half.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyState {
    /// Key id.
    pub key_id: u16,
    /// 32 bytes, hex.
    pub public_key: String,
    /// `active` or `retired`.
    pub status: String,
}

/// A ticket's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketState {
    /// Ticket id.
    #[serde(rename = "i")]
    pub id: u64,
    /// Ticket type id.
    #[serde(rename = "t")]
    pub ticket_type: u16,
    /// Current revision.
    #[serde(rename = "r")]
    pub revision: u16,
    /// `valid`, `refunded`, `cancelled`, `voided` or `blocked`; omitted when valid.
    #[serde(rename = "s", default = "valid", skip_serializing_if = "is_valid")]
    pub status: String,
    /// `transfer`, `upgrade` or `reissue`, when a revision replaced the previous one.
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    /// The holder's display name.
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// Extra words for the verdict screen (vendor business and booth).
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn valid() -> String {
    "valid".into()
}

fn is_valid(s: &str) -> bool {
    s == "valid"
}

/// A check-in as the server keeps it: the device's record and the server's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckInState {
    /// The device that recorded it.
    pub device_id: String,
    /// Its sequence number on that device.
    pub seq: u64,
    /// The device's name.
    pub device_name: String,
    /// The ticket, when the code verified.
    pub ticket_id: Option<u64>,
    /// When (device clock).
    pub at: DateTime<Utc>,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: String,
    /// Whether the device admitted.
    pub admitted: bool,
    /// The device's reject reason.
    pub reason: Option<String>,
    /// The server's reason when it judged differently (e.g. `already_admitted`).
    pub server_reason: Option<String>,
    /// An admission the server flags (kept, never undone): a second admission of the
    /// same ticket on the same day, one made with a superseded code, or one by a device
    /// whose clock was badly off. `conflict_kind` says which.
    pub conflict: bool,
    /// `double_entry`, `superseded_code` or `clock_skew` when `conflict` is set; absent from
    /// servers older than these kinds (a flagged admission is then a `double_entry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_kind: Option<String>,
    /// The revision of the code scanned, when the server verified it: a gate does not
    /// count an admission made with a superseded code against the current holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u16>,
    /// How far the recording device's clock was off (its time minus the server's, in
    /// milliseconds) as measured when it uploaded; `at` minus this is the real time when
    /// it is beyond [`crate::CLOCK_TOLERANCE_MS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_error_ms: Option<i64>,
}

/// Device → server: a batch of queued check-ins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequest {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The device's own clock, uncorrected, when it sent the batch: the server measures its
    /// skew from it.
    pub device_time: DateTime<Utc>,
    /// The check-ins, in `seq` order.
    pub check_ins: Vec<UploadCheckIn>,
}

/// One check-in as the device recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCheckIn {
    /// Per-device sequence number (with the device id: the idempotency key).
    pub seq: u64,
    /// The scanned text when it was a Tessera ticket, so the server can verify and judge it
    /// with the same code the device ran.
    pub text: Option<String>,
    /// The ticket, when the code verified on the device.
    pub ticket_id: Option<u64>,
    /// When (device clock).
    pub at: DateTime<Utc>,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: String,
    /// Whether the device admitted.
    pub admitted: bool,
    /// The device's reject reason.
    pub reason: Option<String>,
    /// What the device added to its clock's reading for `at`, in milliseconds: the
    /// correction it had learned from the server (server time minus device time) when it
    /// recorded the scan. With the skew the server measures at upload, it gives how far
    /// `at` is off. Absent from devices that do not correct their clocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_correction_ms: Option<i64>,
}

/// Server → device: what became of each uploaded check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResponse {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The server's clock.
    pub server_time: DateTime<Utc>,
    /// One result per uploaded check-in, in the same order.
    pub results: Vec<UploadResult>,
}

/// The fate of one uploaded check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadResult {
    /// Its sequence number.
    pub seq: u64,
    /// `false` when the server already had it (a resent batch): nothing changed.
    pub stored: bool,
    /// Whether the server, judging with the same decision function, admits it.
    pub server_admitted: bool,
    /// The server's reason when it does not.
    pub server_reason: Option<String>,
    /// Flagged: a second admission of the same ticket that day, an admission with a
    /// superseded code, or one made on a badly wrong clock.
    pub conflict: bool,
    /// `double_entry`, `superseded_code` or `clock_skew` when flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_kind: Option<String>,
}

/// Device → server: check-ins of another device, carried up for it (store and forward on
/// the venue mesh, ADR 0024). The server stores them exactly as that device's own upload
/// would, keyed by (device, seq), after checking the certificate and every signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRequest {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The recording device's certificate (hex of [`crate::mesh::CERTIFICATE_LEN`] bytes).
    pub certificate: String,
    /// Its signed check-ins (hex of each signed layout, [`crate::mesh`]), in `seq` order.
    pub check_ins: Vec<String>,
}

/// Server → device: what became of relayed check-ins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayResponse {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The server's clock.
    pub server_time: DateTime<Utc>,
    /// One result per stored (or already stored) check-in, in `seq` order.
    pub results: Vec<UploadResult>,
    /// Check-ins refused (a changed byte, another device's, malformed), by their index in
    /// the request: nothing of them was stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RelayRefusal>,
}

/// A relayed check-in the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRefusal {
    /// Its index in [`RelayRequest::check_ins`].
    pub index: u32,
    /// Why, in words.
    pub reason: String,
}

/// Device → server: a certificate for this device's key, under the server's current key
/// (after the key that signed the last one was retired, or for a device enrolled before it
/// had a key). The bearer token says which device; a device without a key gets this one, a
/// device with another key is refused (it must enroll again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRequest {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The device's Ed25519 public key (64 hex digits).
    pub device_key: String,
}

/// Server → device: the new certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateResponse {
    /// [`PROTOCOL`].
    pub protocol: u32,
    /// The server's clock.
    pub server_time: DateTime<Utc>,
    /// Hex of [`crate::mesh::CERTIFICATE_LEN`] bytes.
    pub certificate: String,
}

/// The error body of every refused sync request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncError {
    /// Stable code: `device_revoked`, `unauthorized`, `bad_code`, `code_expired`, ...
    pub error: String,
    /// For the person who must act.
    pub message: String,
}
