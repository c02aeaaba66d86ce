//! The browser gate's state and its one scan: the replica and the check-in queue in memory,
//! every change handed back to the page as [`Writes`] to make durable, and each scan decided
//! by core's `verify` and `decide` exactly as the native gate decides it.
//!
//! The page owns storage and the network (IndexedDB and `fetch` are the browser's); this type
//! owns every rule. Values the page stores are strings this module wrote and alone reads
//! back: a ticket id is a `u64`, which a JavaScript number cannot hold, so the page never
//! parses them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::sync::{
    ChangesPage, CheckInState, EnrollRequest, EnrollResponse, EventState, KeyState, PROTOCOL,
    TicketState, UploadCheckIn, UploadRequest, UploadResponse, UploadResult,
};
use tessera_core::words::{self, Language};
use tessera_core::{
    Basis, Decision, Direction, EventConfig, EventId, Gate, KeyId, KeyStatus, Keyring, PriorScan,
    Reason, ReplicaFacts, Revision, TicketId, TicketRecord, TicketStatus, ZoneMask, codes, decide,
    verify,
};

/// Skews below this (milliseconds) are measurement noise and not corrected (as on the native
/// gate).
const SMALL_SKEW_MS: i64 = 1_000;
/// Check-ins per upload request (the server takes up to 1,000).
pub const UPLOAD_BATCH: usize = 500;
/// The longest scanned text a check-in carries to the server.
const MAX_TEXT: usize = 254;

/// Why a call of the page was refused. Nothing changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateError {
    /// A server answer or a stored value did not parse.
    Malformed(String),
    /// The gate has no event yet: enroll and sync first.
    NotProvisioned,
    /// A scan waits for its check-in to be made durable; finish it first.
    Pending,
    /// A setting's value is not one the gate knows.
    BadSetting(String),
}

impl std::fmt::Display for GateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(what) => write!(f, "malformed data: {what}"),
            Self::NotProvisioned => write!(f, "this gate has no event yet: enroll and sync"),
            Self::Pending => write!(f, "the previous check-in is not stored yet"),
            Self::BadSetting(what) => write!(f, "unknown setting value: {what}"),
        }
    }
}

impl std::error::Error for GateError {}

fn malformed(e: impl std::fmt::Display) -> GateError {
    GateError::Malformed(e.to_string())
}

/// What the page must store, in one IndexedDB transaction, for a change to be durable.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Writes {
    /// `meta` entries: key and value.
    pub meta: Vec<(String, String)>,
    /// `tickets` entries: the id in decimal and the ticket's state.
    pub tickets: Vec<(String, String)>,
    /// `check_ins` entries (every device's check-ins as the server relayed them):
    /// `device:seq` and the check-in.
    pub check_ins: Vec<(String, String)>,
    /// `queue` entries (this gate's own check-ins): seq and the record.
    pub queue: Vec<(u64, String)>,
}

/// This device's credentials, once enrolled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Identity {
    /// Its id (32 hex digits).
    pub device_id: String,
    /// The name the organizer gave it.
    pub name: String,
    /// The gate the organizer assigned, if any.
    pub gate: Option<String>,
    /// The bearer token of the device API.
    pub token: String,
}

/// The gate's own settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Settings {
    /// The gate scanned at (the enrolled one, else the event's first).
    pub gate: Option<String>,
    /// `entry` or `exit`.
    pub direction: Option<String>,
    /// `en` or `ar`.
    pub language: Option<String>,
}

/// One of this gate's own check-ins as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Queued {
    /// The check-in as it is uploaded.
    pub check_in: UploadCheckIn,
    /// The revision of the code scanned, when it verified.
    pub revision: Option<u16>,
    /// The server's answer, once it has the check-in.
    pub result: Option<UploadResult>,
}

#[derive(Debug, Clone)]
struct TicketRow {
    record: TicketRecord,
    /// As the server sent it (and as stored).
    state: TicketState,
}

struct Loaded {
    state: EventState,
    config: EventConfig,
}

/// The verdict of one scan, as the page shows it (the native gate's `ScanReport` fields).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ScanReport {
    /// `admit`, `reject`, or `warning` (an exit of a ticket that is not inside).
    pub verdict: &'static str,
    /// The reject reason's code.
    pub reason: Option<&'static str>,
    /// The verdict in the gate's words.
    pub message: String,
    /// The ticket, in decimal (a JavaScript number cannot hold every id).
    pub ticket_id: Option<String>,
    /// The code's revision.
    pub revision: Option<u16>,
    /// The ticket type's name.
    pub ticket_type: Option<String>,
    /// The days the ticket is valid on.
    pub days: Vec<NaiveDate>,
    /// The holder's name, when the replica knows it.
    pub holder: Option<String>,
    /// Vendor business and booth.
    pub detail: Option<String>,
    /// `replica` or `signature_only`.
    pub basis: Option<&'static str>,
    /// For `already_admitted`: the entry that blocks this one.
    pub first_entry: Option<EntryReport>,
    /// A warning beside the verdict.
    pub warning: Option<WarningReport>,
    /// The gate's name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: &'static str,
    /// When it was decided (corrected clock).
    pub at: DateTime<Utc>,
    /// The check-in's sequence number.
    pub seq: u64,
}

/// An earlier entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EntryReport {
    /// When, UTC.
    pub at: DateTime<Utc>,
    /// On the event's wall clock.
    pub local: NaiveDateTime,
    /// Gate.
    pub gate: String,
    /// Device.
    pub device: String,
}

/// A warning beside a verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WarningReport {
    /// `superseded_code_used` or `not_inside`.
    pub code: &'static str,
    /// In the gate's words.
    pub message: String,
}

/// A scan decided but not yet durable: the page stores `write` and then calls
/// [`GateCore::commit`]; only then is the verdict shown.
#[derive(Debug, Clone, Serialize)]
pub struct PendingScan {
    /// The verdict.
    pub report: ScanReport,
    /// The `queue` entry to store: seq and record.
    pub write: (u64, String),
}

/// An admission the server flagged.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Conflict {
    /// `double_entry`, `superseded_code` or `clock_skew`.
    pub kind: Option<String>,
    /// The ticket, in decimal.
    pub ticket_id: Option<String>,
    /// When the flagged admission happened.
    pub at: DateTime<Utc>,
    /// Where.
    pub gate: String,
    /// By which device.
    pub device: String,
    /// The first admission of that ticket before it, when known: when, where, by whom.
    pub first_at: Option<DateTime<Utc>>,
    /// Its gate.
    pub first_gate: Option<String>,
    /// Its device.
    pub first_device: Option<String>,
}

/// What the gate's status line shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// This device's id (`null` before the page gave one).
    pub device_id: Option<String>,
    /// Enrolled: its name.
    pub device_name: Option<String>,
    /// The event, once synced.
    pub event: Option<String>,
    /// Its IANA time zone (times are shown on the event's clock).
    pub timezone: Option<String>,
    /// The gate scanned at.
    pub gate: Option<String>,
    /// Every gate of the event, for the switch.
    pub gates: Vec<String>,
    /// `entry` or `exit`.
    pub direction: &'static str,
    /// `en` or `ar`.
    pub language: &'static str,
    /// Tickets in the replica.
    pub tickets: usize,
    /// This gate's check-ins.
    pub check_ins: usize,
    /// Of which the server does not have yet.
    pub unsent: usize,
    /// This gate's admissions today (the event's day).
    pub admitted_today: usize,
    /// This gate's rejects today.
    pub rejected_today: usize,
    /// The sync cursor.
    pub cursor: u64,
    /// The correction applied to the clock (server minus device), in milliseconds.
    pub clock_correction_ms: i64,
    /// Admissions the server flagged, newest first.
    pub conflicts: Vec<Conflict>,
}

/// The browser gate: replica, queue and settings in memory.
pub struct GateCore {
    device_id: Option<String>,
    identity: Option<Identity>,
    settings: Settings,
    loaded: Option<Loaded>,
    keys: BTreeMap<u16, KeyState>,
    keyring: Keyring,
    cursor: u64,
    correction_ms: i64,
    tickets: HashMap<u64, TicketRow>,
    /// Every device's check-ins as the server relayed them, by `device:seq`.
    server: HashMap<String, CheckInState>,
    /// Their keys by ticket.
    server_by_ticket: HashMap<u64, Vec<String>>,
    queue: BTreeMap<u64, Queued>,
    queue_by_ticket: HashMap<u64, Vec<u64>>,
    pending: Option<(u64, Queued)>,
    history: Vec<PriorScan>,
}

impl Default for GateCore {
    fn default() -> Self {
        Self::new()
    }
}

impl GateCore {
    /// An empty gate: not enrolled, no event.
    pub fn new() -> Self {
        Self {
            device_id: None,
            identity: None,
            settings: Settings::default(),
            loaded: None,
            keys: BTreeMap::new(),
            keyring: Keyring::new(),
            cursor: 0,
            correction_ms: 0,
            tickets: HashMap::new(),
            server: HashMap::new(),
            server_by_ticket: HashMap::new(),
            queue: BTreeMap::new(),
            queue_by_ticket: HashMap::new(),
            pending: None,
            history: Vec::new(),
        }
    }

    // ---- Restoring what the page stored ----

    /// Restores one `meta` entry as stored.
    pub fn restore_meta(&mut self, key: &str, value: &str) -> Result<(), GateError> {
        match key {
            "device_id" => self.device_id = Some(value.to_owned()),
            "identity" => self.identity = Some(serde_json::from_str(value).map_err(malformed)?),
            "settings" => self.settings = serde_json::from_str(value).map_err(malformed)?,
            "event" => self.load_event(serde_json::from_str(value).map_err(malformed)?)?,
            "keys" => {
                let keys: Vec<KeyState> = serde_json::from_str(value).map_err(malformed)?;
                self.set_keys(keys);
            }
            "cursor" => self.cursor = value.parse().map_err(malformed)?,
            "correction_ms" => self.correction_ms = value.parse().map_err(malformed)?,
            // Written by a newer version of the page: kept by the page, ignored here.
            _ => {}
        }
        Ok(())
    }

    /// Restores `tickets` entries: one stored value per line.
    pub fn restore_tickets(&mut self, lines: &str) -> Result<usize, GateError> {
        each_line(lines, |t: TicketState| self.put_ticket(&t))
    }

    /// Restores `check_ins` entries: one stored value per line.
    pub fn restore_check_ins(&mut self, lines: &str) -> Result<usize, GateError> {
        each_line(lines, |c| self.put_check_in(c))
    }

    /// Restores `queue` entries: one stored value per line.
    pub fn restore_queue(&mut self, lines: &str) -> Result<usize, GateError> {
        each_line(lines, |q| self.put_queued(q))
    }

    // ---- Identity and settings ----

    /// Takes the device id the page drew (32 hex digits) at its first start.
    pub fn set_device_id(&mut self, id: &str) -> Result<Writes, GateError> {
        let id = tessera_core::mesh::parse_device_id(id)
            .map(|bytes| tessera_core::mesh::hex32(&bytes))
            .ok_or_else(|| GateError::BadSetting(format!("device id {id:?}")))?;
        self.device_id = Some(id.clone());
        Ok(Writes {
            meta: vec![("device_id".into(), id)],
            ..Writes::default()
        })
    }

    /// This device's id, once drawn.
    pub fn device_id(&self) -> Option<&str> {
        self.device_id.as_deref()
    }

    /// The bearer token, once enrolled.
    pub fn token(&self) -> Option<&str> {
        self.identity.as_ref().map(|i| i.token.as_str())
    }

    /// The sync cursor.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The enrollment request for `code` (typing is forgiving: the server normalizes it).
    pub fn enroll_request(&self, code: &str, now_ms: f64) -> Result<String, GateError> {
        let device_id = self.device_id.clone().ok_or(GateError::NotProvisioned)?;
        let req = EnrollRequest {
            protocol: PROTOCOL,
            code: code.trim().to_owned(),
            device_id,
            app_version: format!("browser-gate {}", env!("CARGO_PKG_VERSION")),
            device_time: time_of(now_ms),
            device_key: None,
        };
        serde_json::to_string(&req).map_err(malformed)
    }

    /// Applies the server's answer to an enrollment.
    pub fn apply_enrollment(
        &mut self,
        body: &str,
        sent_ms: f64,
        received_ms: f64,
    ) -> Result<Writes, GateError> {
        let resp: EnrollResponse = serde_json::from_str(body).map_err(malformed)?;
        let identity = Identity {
            device_id: resp.device_id,
            name: resp.name,
            gate: resp.gate.clone(),
            token: resp.token,
        };
        let mut writes = Writes::default();
        writes.meta.push(("identity".into(), to_json(&identity)?));
        self.identity = Some(identity);
        // A gate enrolled again (after a revocation wiped its names) pulls everything anew.
        self.cursor = 0;
        writes.meta.push(("cursor".into(), "0".into()));
        if resp.gate.is_some() {
            self.settings.gate = resp.gate;
            writes
                .meta
                .push(("settings".into(), to_json(&self.settings)?));
        }
        self.learn_clock(sent_ms, received_ms, resp.server_time, &mut writes);
        Ok(writes)
    }

    /// Sets the gate scanned at (a name the event lists).
    pub fn set_gate(&mut self, name: &str) -> Result<Writes, GateError> {
        let known = self
            .loaded
            .as_ref()
            .is_some_and(|l| l.state.gates.iter().any(|g| g.name == name));
        if !known {
            return Err(GateError::BadSetting(format!("gate {name:?}")));
        }
        self.settings.gate = Some(name.to_owned());
        self.settings_writes()
    }

    /// Sets `entry` or `exit`.
    pub fn set_direction(&mut self, direction: &str) -> Result<Writes, GateError> {
        codes::parse_direction(direction)
            .ok_or_else(|| GateError::BadSetting(format!("direction {direction:?}")))?;
        self.settings.direction = Some(direction.to_owned());
        self.settings_writes()
    }

    /// Sets the language of the gate's words (`en`, `ar`).
    pub fn set_language(&mut self, tag: &str) -> Result<Writes, GateError> {
        let lang = Language::parse(tag)
            .ok_or_else(|| GateError::BadSetting(format!("language {tag:?}")))?;
        self.settings.language = Some(lang.code().to_owned());
        self.settings_writes()
    }

    fn settings_writes(&self) -> Result<Writes, GateError> {
        Ok(Writes {
            meta: vec![("settings".into(), to_json(&self.settings)?)],
            ..Writes::default()
        })
    }

    fn language(&self) -> Language {
        self.settings
            .language
            .as_deref()
            .and_then(Language::parse)
            .unwrap_or_default()
    }

    fn direction(&self) -> Direction {
        self.settings
            .direction
            .as_deref()
            .and_then(codes::parse_direction)
            .unwrap_or(Direction::Entry)
    }

    /// The gate as the decision sees it (as the native gate picks it).
    fn gate(&self, loaded: &Loaded) -> Gate {
        let direction = self.direction();
        let wanted = self.settings.gate.as_ref();
        let found = match wanted {
            Some(name) => loaded.state.gates.iter().find(|g| &g.name == name),
            None => loaded.state.gates.first(),
        };
        match (found, wanted) {
            (Some(g), _) => Gate {
                name: g.name.clone(),
                zones: ZoneMask(g.zones),
                direction,
            },
            (None, Some(name)) => Gate {
                name: name.clone(),
                zones: ZoneMask::GENERAL,
                direction,
            },
            (None, None) => Gate {
                name: "Gate".into(),
                zones: ZoneMask::GENERAL,
                direction,
            },
        }
    }

    // ---- Sync ----

    /// The next upload batch (at most [`UPLOAD_BATCH`] unsent check-ins), or `None` when the
    /// server has them all.
    pub fn upload_request(&self, now_ms: f64) -> Result<Option<String>, GateError> {
        let check_ins: Vec<UploadCheckIn> = self
            .queue
            .values()
            .filter(|q| q.result.is_none())
            .take(UPLOAD_BATCH)
            .map(|q| q.check_in.clone())
            .collect();
        if check_ins.is_empty() {
            return Ok(None);
        }
        let req = UploadRequest {
            protocol: PROTOCOL,
            device_time: time_of(now_ms),
            check_ins,
        };
        serde_json::to_string(&req).map(Some).map_err(malformed)
    }

    /// Applies the server's answer to an upload: each check-in it took is marked with its
    /// result.
    pub fn apply_upload(
        &mut self,
        body: &str,
        sent_ms: f64,
        received_ms: f64,
    ) -> Result<Writes, GateError> {
        let resp: UploadResponse = serde_json::from_str(body).map_err(malformed)?;
        let mut writes = Writes::default();
        for result in resp.results {
            if let Some(q) = self.queue.get_mut(&result.seq) {
                q.result = Some(result);
                writes.queue.push((q.check_in.seq, to_json(q)?));
            }
        }
        self.learn_clock(sent_ms, received_ms, resp.server_time, &mut writes);
        Ok(writes)
    }

    /// Applies one page of the change feed; returns the writes and whether another page
    /// follows (`more`). A page that does not parse, names an unknown time zone or policy, or
    /// moves the cursor back changes nothing.
    pub fn apply_page(
        &mut self,
        body: &str,
        sent_ms: f64,
        received_ms: f64,
    ) -> Result<(Writes, bool), GateError> {
        let page: ChangesPage = serde_json::from_str(body).map_err(malformed)?;
        if page.cursor < self.cursor {
            return Err(GateError::Malformed(format!(
                "the cursor went back from {} to {}",
                self.cursor, page.cursor
            )));
        }
        // Parse everything before changing anything: a bad page changes nothing.
        if let Some(event) = &page.event {
            config_of(event)?;
        }
        let mut writes = Writes::default();
        if let Some(event) = page.event {
            let value = to_json(&event)?;
            self.load_event(event)?;
            writes.meta.push(("event".into(), value));
        }
        if !page.keys.is_empty() {
            for k in page.keys {
                self.keys.insert(k.key_id, k);
            }
            let keys: Vec<KeyState> = self.keys.values().cloned().collect();
            writes.meta.push(("keys".into(), to_json(&keys)?));
            self.set_keys(keys);
        }
        for t in page.tickets {
            writes.tickets.push((t.id.to_string(), to_json(&t)?));
            self.put_ticket(&t);
        }
        for c in page.check_ins {
            writes
                .check_ins
                .push((format!("{}:{}", c.device_id, c.seq), to_json(&c)?));
            self.put_check_in(c);
        }
        self.cursor = page.cursor;
        writes.meta.push(("cursor".into(), page.cursor.to_string()));
        self.learn_clock(sent_ms, received_ms, page.server_time, &mut writes);
        Ok((writes, page.more))
    }

    /// The clock correction from a round trip: the server's time taken as the middle of the
    /// request; below [`SMALL_SKEW_MS`] nothing is corrected.
    fn learn_clock(
        &mut self,
        sent_ms: f64,
        received_ms: f64,
        server: DateTime<Utc>,
        writes: &mut Writes,
    ) {
        let middle = (sent_ms + received_ms) / 2.0;
        if !middle.is_finite() {
            return;
        }
        // Whole milliseconds of a browser clock: far inside i64.
        #[allow(clippy::cast_possible_truncation)]
        let skew = middle as i64 - server.timestamp_millis();
        let correction = if skew.unsigned_abs() < SMALL_SKEW_MS.unsigned_abs() {
            0
        } else {
            skew.saturating_neg()
        };
        if correction != self.correction_ms {
            self.correction_ms = correction;
            writes
                .meta
                .push(("correction_ms".into(), correction.to_string()));
        }
    }

    fn load_event(&mut self, state: EventState) -> Result<(), GateError> {
        let config = config_of(&state)?;
        self.loaded = Some(Loaded { state, config });
        Ok(())
    }

    fn set_keys(&mut self, keys: Vec<KeyState>) {
        let mut ring = Keyring::new();
        self.keys.clear();
        for k in keys {
            let status = if k.status == "active" {
                KeyStatus::Active
            } else {
                KeyStatus::Retired
            };
            // A key that is not 32 bytes of a valid point is skipped: codes signed by it are
            // refused as signed by an unknown key.
            if let Some(bytes) = hex32(&k.public_key) {
                let _ = ring.insert(KeyId(k.key_id), &bytes, status);
            }
            self.keys.insert(k.key_id, k);
        }
        self.keyring = ring;
    }

    fn put_ticket(&mut self, t: &TicketState) {
        let status = codes::parse_status(&t.status).unwrap_or(TicketStatus::Blocked);
        let superseded_by = t.superseded_by.as_deref().and_then(codes::parse_cause);
        self.tickets.insert(
            t.id,
            TicketRow {
                record: TicketRecord {
                    revision: Revision(t.revision),
                    status,
                    superseded_by,
                },
                state: t.clone(),
            },
        );
    }

    /// The organizer revoked this device: the holders' names and the vendors' details leave
    /// the replica (statuses and revisions stay, so revoked codes are still refused); the
    /// check-in queue stays, for a new enrollment to carry up.
    pub fn forget_names(&mut self) -> Result<Writes, GateError> {
        let mut writes = Writes::default();
        for row in self.tickets.values_mut() {
            if row.state.holder.is_none() && row.state.detail.is_none() {
                continue;
            }
            row.state.holder = None;
            row.state.detail = None;
            writes
                .tickets
                .push((row.state.id.to_string(), to_json(&row.state)?));
        }
        Ok(writes)
    }

    fn put_check_in(&mut self, c: CheckInState) {
        let key = format!("{}:{}", c.device_id, c.seq);
        if let Some(ticket) = c.ticket_id {
            let keys = self.server_by_ticket.entry(ticket).or_default();
            if !keys.contains(&key) {
                keys.push(key.clone());
            }
        }
        self.server.insert(key, c);
    }

    fn put_queued(&mut self, q: Queued) {
        let seq = q.check_in.seq;
        if let Some(ticket) = q.check_in.ticket_id {
            let seqs = self.queue_by_ticket.entry(ticket).or_default();
            if !seqs.contains(&seq) {
                seqs.push(seq);
            }
        }
        self.queue.insert(seq, q);
    }

    // ---- Scanning ----

    /// Decides one scanned text at the device clock's `now_ms` (plus the learned
    /// correction). Nothing is kept until the page has stored the returned write and called
    /// [`GateCore::commit`]: a check-in that could not be stored gives no verdict.
    pub fn scan(&mut self, text: &str, now_ms: f64) -> Result<PendingScan, GateError> {
        if self.pending.is_some() {
            return Err(GateError::Pending);
        }
        let loaded = self.loaded.as_ref().ok_or(GateError::NotProvisioned)?;
        let gate = self.gate(loaded);
        let lang = self.language();
        let now = time_of(now_ms + self.correction_ms as f64);
        let text = text.trim();
        let mut report = ScanReport {
            verdict: "reject",
            reason: None,
            message: String::new(),
            ticket_id: None,
            revision: None,
            ticket_type: None,
            days: Vec::new(),
            holder: None,
            detail: None,
            basis: None,
            first_entry: None,
            warning: None,
            gate: gate.name.clone(),
            direction: gate.direction.as_str(),
            at: now,
            seq: 0,
        };
        let mut ticket_ref = None;
        let decision = match verify(text, &self.keyring) {
            Err(e) => Decision::Reject(Reason::from(e)),
            Ok(ticket) => {
                let claims = *ticket.claims();
                let id = claims.ticket;
                ticket_ref = Some((id, claims.revision));
                let own = self.device_id.as_deref().unwrap_or("");
                let own_name = self
                    .identity
                    .as_ref()
                    .map_or("this gate", |i| i.name.as_str());
                self.history.clear();
                gather_history(
                    id,
                    own,
                    own_name,
                    &self.server,
                    &self.server_by_ticket,
                    &self.queue,
                    &self.queue_by_ticket,
                    &mut self.history,
                );
                let row = self.tickets.get(&id.0);
                let facts = ReplicaFacts {
                    event: &loaded.config,
                    ticket: row.map(|r| &r.record),
                    history: &self.history,
                };
                let decision = decide(&ticket, &facts, &gate, now);
                report.ticket_id = Some(id.0.to_string());
                report.revision = Some(claims.revision.0);
                report.ticket_type = loaded
                    .state
                    .ticket_types
                    .iter()
                    .find(|t| t.id == claims.ticket_type.0)
                    .map(|t| t.name.clone());
                report.days = loaded.config.dates_of(claims.days);
                if let Some(row) = row {
                    report.holder = row.state.holder.clone();
                    report.detail = row.state.detail.clone();
                }
                decision
            }
        };
        let shown = words::shown(
            lang,
            &decision,
            report.ticket_type.as_deref(),
            Basis::Replica,
        );
        report.verdict = shown.verdict;
        report.reason = shown.reason;
        report.message = shown.message;
        report.basis = shown.basis;
        report.warning = shown
            .warning
            .map(|(code, message)| WarningReport { code, message });
        report.first_entry = shown.first_entry.map(|entry| EntryReport {
            at: entry.at,
            local: entry.local,
            gate: entry.gate.clone(),
            device: entry.device.clone(),
        });
        let seq = self.queue.keys().next_back().map_or(1, |s| s + 1);
        report.seq = seq;
        let queued = Queued {
            check_in: UploadCheckIn {
                seq,
                // Only texts that claim to be Tessera tickets travel to the server.
                text: Some(text)
                    .filter(|t| t.starts_with("TS") && t.len() <= MAX_TEXT)
                    .map(str::to_owned),
                ticket_id: ticket_ref.map(|(id, _)| id.0),
                at: now,
                gate: gate.name.clone(),
                direction: gate.direction.as_str().to_owned(),
                admitted: decision.is_admit(),
                reason: report.reason.map(str::to_owned),
                clock_correction_ms: Some(self.correction_ms),
            },
            revision: ticket_ref.map(|(_, r)| r.0),
            result: None,
        };
        let write = (seq, to_json(&queued)?);
        self.pending = Some((seq, queued));
        Ok(PendingScan { report, write })
    }

    /// The pending scan's check-in is durable: it counts from now on.
    pub fn commit(&mut self) -> bool {
        match self.pending.take() {
            Some((_, q)) => {
                self.put_queued(q);
                true
            }
            None => false,
        }
    }

    /// The pending scan's check-in could not be stored: it is forgotten, and its verdict is
    /// not shown.
    pub fn abort(&mut self) {
        self.pending = None;
    }

    // ---- Status ----

    /// Tickets in the replica.
    pub fn tickets(&self) -> usize {
        self.tickets.len()
    }

    /// Check-ins the server has not confirmed yet.
    pub fn unsent(&self) -> usize {
        self.queue.values().filter(|q| q.result.is_none()).count()
    }

    /// The status line and the conflicts, at the device clock's `now_ms`.
    pub fn status(&self, now_ms: f64) -> Status {
        let unsent = self.unsent();
        let loaded = self.loaded.as_ref();
        let (mut admitted_today, mut rejected_today) = (0, 0);
        if let Some(l) = loaded {
            let today = l
                .config
                .local_date(time_of(now_ms + self.correction_ms as f64));
            for q in self.queue.values().rev() {
                if l.config.local_date(q.check_in.at) != today {
                    continue;
                }
                if q.check_in.admitted {
                    admitted_today += 1;
                } else {
                    rejected_today += 1;
                }
            }
        }
        Status {
            device_id: self.device_id.clone(),
            device_name: self.identity.as_ref().map(|i| i.name.clone()),
            event: loaded.map(|l| l.state.name.clone()),
            timezone: loaded.map(|l| l.state.timezone.clone()),
            gate: loaded.map(|l| self.gate(l).name),
            gates: loaded.map_or_else(Vec::new, |l| {
                l.state.gates.iter().map(|g| g.name.clone()).collect()
            }),
            direction: self.direction().as_str(),
            language: self.language().code(),
            tickets: self.tickets(),
            check_ins: self.queue.len(),
            unsent,
            admitted_today,
            rejected_today,
            cursor: self.cursor,
            clock_correction_ms: self.correction_ms,
            conflicts: self.conflicts(),
        }
    }

    /// Admissions the server flagged, newest first, each with the first admission of the
    /// same ticket before it.
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut out: Vec<Conflict> = self
            .server
            .values()
            .filter(|c| c.conflict)
            .map(|c| {
                let first = c.ticket_id.and_then(|t| {
                    self.server_by_ticket
                        .get(&t)?
                        .iter()
                        .filter_map(|k| self.server.get(k))
                        .filter(|o| o.admitted && !o.conflict && o.at <= c.at)
                        .filter(|o| (o.device_id.as_str(), o.seq) != (c.device_id.as_str(), c.seq))
                        .min_by_key(|o| o.at)
                });
                Conflict {
                    kind: c.conflict_kind.clone(),
                    ticket_id: c.ticket_id.map(|t| t.to_string()),
                    at: c.at,
                    gate: c.gate.clone(),
                    device: c.device_name.clone(),
                    first_at: first.map(|f| f.at),
                    first_gate: first.map(|f| f.gate.clone()),
                    first_device: first.map(|f| f.device_name.clone()),
                }
            })
            .collect();
        out.sort_by_key(|c| std::cmp::Reverse(c.at));
        out
    }
}

/// Every earlier scan of `id` the gate knows: the server's relayed check-ins of other
/// devices, and this gate's own queue (its own check-ins come back from the server too;
/// the queue is their record here).
#[allow(clippy::too_many_arguments)]
fn gather_history(
    id: TicketId,
    own: &str,
    own_name: &str,
    server: &HashMap<String, CheckInState>,
    server_by_ticket: &HashMap<u64, Vec<String>>,
    queue: &BTreeMap<u64, Queued>,
    queue_by_ticket: &HashMap<u64, Vec<u64>>,
    out: &mut Vec<PriorScan>,
) {
    for c in server_by_ticket
        .get(&id.0)
        .into_iter()
        .flatten()
        .filter_map(|k| server.get(k))
        .filter(|c| c.device_id != own)
    {
        out.push(PriorScan {
            // Judged on the real time, as the server judges it.
            at: tessera_core::corrected(c.at, c.clock_error_ms),
            gate: c.gate.clone(),
            device: c.device_name.clone(),
            direction: codes::parse_direction(&c.direction).unwrap_or(Direction::Entry),
            admitted: c.admitted,
            revision: c.revision.map(Revision),
        });
    }
    for q in queue_by_ticket
        .get(&id.0)
        .into_iter()
        .flatten()
        .filter_map(|s| queue.get(s))
    {
        out.push(PriorScan {
            at: q.check_in.at,
            gate: q.check_in.gate.clone(),
            device: own_name.to_owned(),
            direction: codes::parse_direction(&q.check_in.direction).unwrap_or(Direction::Entry),
            admitted: q.check_in.admitted,
            revision: q.revision.map(Revision),
        });
    }
}

fn config_of(state: &EventState) -> Result<EventConfig, GateError> {
    let tz = state
        .timezone
        .parse()
        .map_err(|_| GateError::Malformed(format!("unknown timezone {:?}", state.timezone)))?;
    let policy = codes::parse_policy(&state.policy)
        .ok_or_else(|| GateError::Malformed(format!("unknown policy {:?}", state.policy)))?;
    EventConfig::new(EventId(state.id), tz, state.days.clone(), policy).map_err(malformed)
}

/// 64 hex digits as 32 bytes.
fn hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Parses each non-empty line as a `T` and hands it to `put`; returns how many.
fn each_line<T: serde::de::DeserializeOwned>(
    lines: &str,
    mut put: impl FnMut(T),
) -> Result<usize, GateError> {
    let mut n = 0;
    for line in lines.lines().filter(|l| !l.is_empty()) {
        put(serde_json::from_str(line).map_err(malformed)?);
        n += 1;
    }
    Ok(n)
}

fn to_json<T: Serialize>(v: &T) -> Result<String, GateError> {
    serde_json::to_string(v).map_err(malformed)
}

/// A browser clock reading (milliseconds since the epoch) as a time; a reading out of range
/// is the epoch.
fn time_of(ms: f64) -> DateTime<Utc> {
    // Browser clocks give whole or fractional milliseconds far inside i64.
    #[allow(clippy::cast_possible_truncation)]
    let ms = ms.floor() as i64;
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{Claims, DayMask, TicketSigner, TicketTypeId};

    const T0: f64 = 1_781_280_000_000.0; // 2026-06-12T16:00:00Z, the event's first day
    const BIG_ID: u64 = 9_007_199_254_740_993; // 2^53 + 1: no JavaScript number holds it

    fn signer() -> TicketSigner {
        TicketSigner::from_seed(KeyId(1), &[7; 32])
    }

    fn code(ticket: u64, revision: u16) -> String {
        signer().sign(&Claims {
            event: EventId(1),
            ticket: TicketId(ticket),
            ticket_type: TicketTypeId(1),
            revision: Revision(revision),
            days: DayMask(0b111),
            zones: ZoneMask::GENERAL,
            booth: None,
            issued_at: 1_781_000_000,
        })
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn page(cursor: u64, tickets: &str, check_ins: &str) -> String {
        format!(
            r#"{{"protocol":1,"cursor":{cursor},"head":{cursor},"more":false,
            "server_time":"2026-06-12T16:00:00Z",
            "event":{{"id":1,"name":"Fest","timezone":"America/Los_Angeles",
              "days":["2026-06-12","2026-06-13","2026-06-14"],"policy":"once_per_day",
              "gates":[{{"name":"Main Gate","zones":1}}],
              "ticket_types":[{{"id":1,"name":"3-Day Pass","kind":"pass"}}]}},
            "keys":[{{"key_id":1,"public_key":"{}","status":"active"}}],
            "tickets":[{tickets}],"check_ins":[{check_ins}]}}"#,
            hex(&signer().public_key())
        )
    }

    fn synced() -> GateCore {
        let mut g = GateCore::new();
        g.set_device_id("0123456789abcdef0123456789abcdef").unwrap();
        let tickets = format!(
            r#"{{"i":{BIG_ID},"t":1,"r":0,"h":"Ana"}},{{"i":5,"t":1,"r":1,"s":"refunded"}}"#
        );
        g.apply_page(&page(10, &tickets, ""), T0, T0).unwrap();
        g
    }

    fn scan(g: &mut GateCore, text: &str, at: f64) -> ScanReport {
        let p = g.scan(text, at).unwrap();
        assert!(g.commit());
        p.report
    }

    #[test]
    fn admits_once_then_refuses_with_the_first_entry() {
        let mut g = synced();
        let first = scan(&mut g, &code(BIG_ID, 0), T0);
        assert_eq!(first.verdict, "admit", "{first:?}");
        assert_eq!(first.ticket_id.as_deref(), Some("9007199254740993"));
        assert_eq!(first.holder.as_deref(), Some("Ana"));
        let again = scan(&mut g, &code(BIG_ID, 0), T0 + 60_000.0);
        assert_eq!(again.reason, Some("already_admitted"));
        assert_eq!(again.first_entry.map(|e| e.gate), Some("Main Gate".into()));
        assert_eq!(g.status(T0).admitted_today, 1);
        assert_eq!(g.status(T0).rejected_today, 1);
    }

    #[test]
    fn a_scan_not_committed_does_not_count() {
        let mut g = synced();
        let p = g.scan(&code(BIG_ID, 0), T0).unwrap();
        assert_eq!(p.report.verdict, "admit");
        assert_eq!(g.scan("x", T0).unwrap_err(), GateError::Pending);
        g.abort();
        let again = scan(&mut g, &code(BIG_ID, 0), T0 + 1.0);
        assert_eq!(
            again.verdict, "admit",
            "the aborted scan counted: {again:?}"
        );
        assert_eq!(again.seq, 1, "the aborted scan took a sequence number");
    }

    #[test]
    fn a_restored_gate_decides_as_before() {
        let mut g = synced();
        let p = g.scan(&code(BIG_ID, 0), T0).unwrap();
        g.commit();
        // What the page stored, read back into a new gate (a reload, offline).
        let mut h = GateCore::new();
        for (k, v) in g
            .set_device_id("0123456789abcdef0123456789abcdef")
            .unwrap()
            .meta
        {
            h.restore_meta(&k, &v).unwrap();
        }
        let (writes, _) = g.apply_page(&page(11, "", ""), T0, T0).unwrap();
        for (k, v) in &writes.meta {
            h.restore_meta(k, v).unwrap();
        }
        h.restore_queue(&p.write.1).unwrap();
        let again = h.scan(&code(BIG_ID, 0), T0 + 5.0).unwrap().report;
        assert_eq!(again.reason, Some("already_admitted"));
        assert_eq!(h.scan("x", T0).unwrap_err(), GateError::Pending);
    }

    #[test]
    fn refunded_superseded_and_forged_codes_are_refused() {
        let mut g = synced();
        assert_eq!(scan(&mut g, &code(5, 1), T0).reason, Some("revoked"));
        // A transferred ticket's old code, from the replica's newer revision.
        let (_, _) = g
            .apply_page(
                &page(12, r#"{"i":6,"t":1,"r":2,"c":"transfer"}"#, ""),
                T0,
                T0,
            )
            .unwrap();
        assert_eq!(scan(&mut g, &code(6, 1), T0).reason, Some("revoked"));
        let mut forged = code(7, 0).into_bytes();
        let last = forged.len() - 3;
        forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).unwrap();
        assert_ne!(scan(&mut g, &forged, T0).verdict, "admit");
        assert_eq!(
            scan(&mut g, "https://example.com", T0).reason,
            Some("not_a_ticket")
        );
    }

    #[test]
    fn another_gates_admission_from_the_server_counts_and_is_a_conflict_when_flagged() {
        let mut g = synced();
        let theirs = format!(
            r#"{{"device_id":"ffffffffffffffffffffffffffffffff","seq":1,"device_name":"Tablet-9",
            "ticket_id":{BIG_ID},"at":"2026-06-12T15:59:00Z","gate":"North","direction":"entry",
            "admitted":true,"reason":null,"server_reason":null,"conflict":false,"revision":0}}"#
        );
        g.apply_page(&page(13, "", &theirs), T0, T0).unwrap();
        let r = scan(&mut g, &code(BIG_ID, 0), T0);
        assert_eq!(r.reason, Some("already_admitted"));
        assert_eq!(r.first_entry.map(|e| e.device), Some("Tablet-9".into()));
        let ours = format!(
            r#"{{"device_id":"0123456789abcdef0123456789abcdef","seq":7,"device_name":"Browser",
            "ticket_id":{BIG_ID},"at":"2026-06-12T16:01:00Z","gate":"Main Gate","direction":"entry",
            "admitted":true,"reason":null,"server_reason":"already_admitted","conflict":true,
            "conflict_kind":"double_entry","revision":0}}"#
        );
        g.apply_page(&page(14, "", &ours), T0, T0).unwrap();
        let conflicts = g.status(T0).conflicts;
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].ticket_id.as_deref(), Some("9007199254740993"));
        assert_eq!(conflicts[0].first_device.as_deref(), Some("Tablet-9"));
    }

    #[test]
    fn uploads_carry_unsent_check_ins_once_and_results_mark_them() {
        let mut g = synced();
        scan(&mut g, &code(BIG_ID, 0), T0);
        scan(&mut g, "not a ticket", T0);
        let body = g.upload_request(T0).unwrap().unwrap();
        let req: UploadRequest = serde_json::from_str(&body).unwrap();
        assert_eq!(req.check_ins.len(), 2);
        assert_eq!(req.check_ins[0].ticket_id, Some(BIG_ID));
        assert_eq!(
            req.check_ins[1].text, None,
            "a stranger's text left the device"
        );
        let answer = r#"{"protocol":1,"server_time":"2026-06-12T16:00:00Z","results":[
            {"seq":1,"stored":true,"server_admitted":true,"server_reason":null,"conflict":false},
            {"seq":2,"stored":true,"server_admitted":false,"server_reason":"malformed","conflict":false}]}"#;
        let writes = g.apply_upload(answer, T0, T0).unwrap();
        assert_eq!(writes.queue.len(), 2);
        assert_eq!(g.upload_request(T0).unwrap(), None);
        assert_eq!(g.status(T0).unsent, 0);
    }

    #[test]
    fn a_bad_page_changes_nothing() {
        let mut g = synced();
        let before = g.cursor();
        assert!(g.apply_page("{", T0, T0).is_err());
        let bad_zone = page(20, "", "").replace("America/Los_Angeles", "Mars/Olympus");
        assert!(g.apply_page(&bad_zone, T0, T0).is_err());
        assert!(
            g.apply_page(&page(5, "", ""), T0, T0).is_err(),
            "the cursor went back"
        );
        assert_eq!(g.cursor(), before);
        assert_eq!(scan(&mut g, &code(BIG_ID, 0), T0).verdict, "admit");
    }

    #[test]
    fn a_skewed_clock_is_corrected_from_the_server_time() {
        let mut g = synced();
        // The device is a day ahead of the server.
        let ahead = T0 + 86_400_000.0;
        let writes = g.apply_page(&page(15, "", ""), ahead, ahead).unwrap().0;
        assert!(
            writes
                .meta
                .iter()
                .any(|(k, v)| k == "correction_ms" && v == "-86400000")
        );
        let r = scan(&mut g, &code(BIG_ID, 0), ahead);
        assert_eq!(r.at.timestamp_millis() as f64, T0);
    }

    #[test]
    fn a_revoked_gate_forgets_names_and_still_refuses() {
        let mut g = synced();
        scan(&mut g, &code(BIG_ID, 0), T0);
        let writes = g.forget_names().unwrap();
        assert_eq!(writes.tickets.len(), 1, "only Ana's ticket had a name");
        assert!(!writes.tickets[0].1.contains("Ana"));
        let again = scan(&mut g, &code(BIG_ID, 0), T0 + 1.0);
        assert_eq!(again.reason, Some("already_admitted"));
        assert_eq!(again.holder, None);
        assert_eq!(scan(&mut g, &code(5, 1), T0).reason, Some("revoked"));
        assert_eq!(g.status(T0).check_ins, 3, "the queue was touched");
    }

    #[test]
    fn words_follow_the_language_setting() {
        let mut g = synced();
        g.set_language("ar").unwrap();
        let r = scan(&mut g, &code(5, 1), T0);
        assert_eq!(r.reason, Some("revoked"));
        assert!(
            r.message
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
            "{}",
            r.message
        );
        assert!(g.set_language("xx").is_err());
        assert!(g.set_gate("Nowhere").is_err());
    }
}
