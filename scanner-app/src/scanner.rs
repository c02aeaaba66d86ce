//! The gate: one scan from QR text to a durable check-in and a verdict. Verify with the
//! replica's keyring, gather the facts, [`tessera_core::decide`], record, report.
//!
//! The network is never touched here: every scan is decided from local state.
//!
//! Each load of the replica's event and keys is also kept in `device.db`. When the replica
//! has no event (it was damaged and rebuilt empty, or deleted) but `device.db` kept one, the
//! gate runs in signature-only mode: it decides with the kept event and keyring and its own
//! check-in log, and says so, until a sync or a provision fills the replica again
//! (docs/adr/0014-gate-file-damage.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde::Serialize;
use tessera_core::{
    Basis, Decision, Direction, Gate, Keyring, Reason, ReplicaFacts, TicketId, ZoneMask, decide,
    verify,
};

use crate::Error;
use crate::bundle::Bundle;
use crate::clock::{Clock, ClockStatus, SMALL_SKEW_MS, correction_for};
use crate::codes;
use crate::device::{DeviceStore, NewCheckIn, QueueCounts};
use crate::replica::{EventInfo, Replica, ReplicaCounts};
use crate::words::{self, Language};

/// The verdict of one scan, as printed by `tessera-scan check` and shown by the GUI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    /// `admit` or `reject`; `warning` for an exit scan of a ticket that is not inside by the
    /// log (the person is let out and the exit recorded, but it is no routine exit).
    pub verdict: &'static str,
    /// Reject reason code (`null` on admit).
    pub reason: Option<&'static str>,
    /// The verdict in plain words for the screen.
    pub message: String,
    /// The ticket, when the code verified.
    pub ticket_id: Option<u64>,
    /// Its revision.
    pub revision: Option<u16>,
    /// The ticket type's name.
    pub ticket_type: Option<String>,
    /// The dates the ticket is valid on.
    pub days: Vec<NaiveDate>,
    /// The holder's display name, when the replica knows it.
    pub holder: Option<String>,
    /// Extra words (vendor business and booth).
    pub detail: Option<String>,
    /// `replica`, or `signature_only` when the replica does not know the ticket.
    pub basis: Option<&'static str>,
    /// What the gate is deciding with: `replica`, or `signature_only` while its replica is
    /// being rebuilt (every scan is then judged on the signature and this device's own log).
    pub mode: &'static str,
    /// For `already_admitted`: the entry that blocks this one.
    pub first_entry: Option<EntryReport>,
    /// What staff should know beside the verdict: the previous code of this ticket was used
    /// (`superseded_code_used`), or an exit of a ticket that is not inside (`not_inside`).
    pub warning: Option<WarningReport>,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: &'static str,
    /// When the scan was decided.
    pub at: DateTime<Utc>,
    /// The check-in's sequence number in this device's queue.
    pub seq: u64,
    /// Verify + decide + durable record, in microseconds.
    pub latency_us: u64,
}

/// A warning beside a verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarningReport {
    /// `superseded_code_used` or `not_inside`.
    pub code: &'static str,
    /// Plain words for the screen.
    pub message: String,
}

/// An earlier entry, for the "already admitted" screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryReport {
    /// When, UTC.
    pub at: DateTime<Utc>,
    /// When, on the event's wall clock.
    pub local: NaiveDateTime,
    /// Gate.
    pub gate: String,
    /// Device name.
    pub device: String,
}

/// What `tessera-scan status` prints.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// This device.
    pub device: Option<crate::device::Identity>,
    /// The event served, if provisioned.
    pub event: Option<String>,
    /// The gate scanned at.
    pub gate: Option<String>,
    /// `entry` or `exit`.
    pub direction: &'static str,
    /// `replica`; `signature_only` while the replica is lost and the gate decides with the
    /// event and keys kept in `device.db` until its next sync; `null` before provisioning.
    pub mode: Option<&'static str>,
    /// The sync cursor (none until the device syncs).
    pub cursor: Option<String>,
    /// When the replica's data was produced by the server.
    pub replica_generated_at: Option<DateTime<Utc>>,
    /// Its age in seconds.
    pub replica_age_seconds: Option<i64>,
    /// Replica counts.
    pub replica: ReplicaCounts,
    /// Check-in counts; `unsent` is the queue length.
    pub check_ins: QueueCounts,
    /// Set when a corrupt replica was moved aside at open.
    pub replica_rebuilt_from: Option<PathBuf>,
    /// Enrollment and the last sync round.
    pub sync: crate::sync::SyncStatus,
    /// Admissions the server flagged, with their kind, as far as this device knows (newest
    /// first).
    pub conflicts: Vec<crate::replica::Conflict>,
    /// This device's clock against the server's, and the correction scans use; `warning`
    /// says plainly when it is more than two minutes off.
    pub clock: ClockStatus,
    /// The venue mesh: the gates this one is in touch with, and the check-ins it holds for
    /// others (ADR 0024).
    pub mesh: crate::mesh::MeshStatus,
}

/// The keyring, the event and its gates (name, zones).
pub(crate) type LoadedParts = (Keyring, tessera_core::EventConfig, Vec<(String, ZoneMask)>);

struct Loaded {
    event: EventInfo,
    keyring: Keyring,
    gate: Gate,
    /// `Replica`, or `SignatureOnly` when the event and keys came from `device.db`.
    mode: Basis,
}

/// A gate device: replica, device store, and what a scan needs in memory.
pub struct Scanner {
    replica: Replica,
    device: DeviceStore,
    loaded: Option<Loaded>,
    rebuilt_from: Option<PathBuf>,
    history: Vec<tessera_core::PriorScan>,
    clock: Clock,
    /// Added to the clock's reading for every scan (milliseconds), from the last measured
    /// skew.
    correction_ms: i64,
}

const GATE_KEY: &str = "gate";
/// This device's clock minus the server's at the last measurement, in milliseconds.
pub(crate) const SKEW_KEY: &str = "clock_skew_ms";
const DIRECTION_KEY: &str = "direction";

impl Scanner {
    /// Opens the device's data directory (created if missing): `replica.db` and `device.db`.
    pub fn open(data_dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(data_dir)?;
        let device = DeviceStore::open(&data_dir.join("device.db"))?;
        let (replica, rebuilt_from) = Replica::open(&data_dir.join("replica.db"))?;
        let mut s = Self {
            replica,
            device,
            loaded: None,
            rebuilt_from,
            history: Vec::with_capacity(16),
            clock: Clock::system(),
            correction_ms: 0,
        };
        s.reload()?;
        Ok(s)
    }

    /// Re-reads event, keys and gate after the replica or the settings changed, and keeps
    /// the replica's event and keys in `device.db`; without a replica event, falls back to the
    /// kept ones (signature-only mode).
    pub fn reload(&mut self) -> Result<(), Error> {
        self.correction_ms = self.device.clock_correction_for(u64::MAX)?;
        let (snapshot, mode) = match self.replica.snapshot()? {
            Some(snapshot) => {
                self.device.keep_event(&snapshot)?;
                (Some(snapshot), Basis::Replica)
            }
            None => (self.device.kept_event()?, Basis::SignatureOnly),
        };
        self.loaded = match snapshot {
            None => None,
            Some(snapshot) => {
                let event = snapshot.event()?;
                let gate = self.pick_gate(&event)?;
                Some(Loaded {
                    event,
                    keyring: snapshot.keyring(),
                    gate,
                    mode,
                })
            }
        };
        Ok(())
    }

    /// The clock this gate reads (the machine's, unless a test shifts it).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Reads the time from `clock` from now on (tests and demonstrations of a wrong clock).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    fn skew(&self) -> Result<Option<i64>, Error> {
        Ok(self.device.setting(SKEW_KEY)?.and_then(|s| s.parse().ok()))
    }

    /// Keeps a measured skew (this device's clock minus the server's, milliseconds): scans
    /// from now on add its correction to the clock's reading, and the correction is recorded
    /// from the next check-in on, for the server to know how far each scan's time was off.
    ///
    /// A correction within [`SMALL_SKEW_MS`] of the one in force is measurement noise and
    /// leaves it as it is.
    pub fn learn_skew(&mut self, skew_ms: i64) -> Result<(), Error> {
        self.device.set_setting(SKEW_KEY, &skew_ms.to_string())?;
        let correction = correction_for(skew_ms);
        if correction.abs_diff(self.correction_ms) >= SMALL_SKEW_MS.unsigned_abs() {
            self.device.set_clock_correction(correction)?;
            self.correction_ms = correction;
        }
        Ok(())
    }

    /// The clock against the server's, for `status` and the gate screen.
    pub fn clock_status(&self) -> Result<ClockStatus, Error> {
        Ok(ClockStatus {
            correction_ms: self.correction_ms,
            ..ClockStatus::from_skew(self.skew()?)
        })
    }

    /// The corrected time: the clock's reading plus the learned correction.
    pub fn now(&self) -> DateTime<Utc> {
        self.corrected(self.clock.now())
    }

    fn corrected(&self, reading: DateTime<Utc>) -> DateTime<Utc> {
        reading + TimeDelta::milliseconds(self.correction_ms)
    }

    /// `Replica`, or `SignatureOnly` while the gate decides with the event and keys kept in
    /// `device.db`; `None` before provisioning.
    pub fn mode(&self) -> Option<Basis> {
        self.loaded.as_ref().map(|l| l.mode)
    }

    fn pick_gate(&self, event: &EventInfo) -> Result<Gate, Error> {
        let direction = match self.device.setting(DIRECTION_KEY)?.as_deref() {
            Some("exit") => Direction::Exit,
            _ => Direction::Entry,
        };
        let wanted = self.device.setting(GATE_KEY)?;
        let found = match &wanted {
            Some(name) => event.gates.iter().find(|(n, _)| n == name),
            None => event.gates.first(),
        };
        Ok(match (found, wanted) {
            (Some((name, zones)), _) => Gate {
                name: name.clone(),
                zones: *zones,
                direction,
            },
            // A gate the event no longer lists: keep its name, admit general admission only,
            // rather than refusing to scan.
            (None, Some(name)) => Gate {
                name,
                zones: ZoneMask::GENERAL,
                direction,
            },
            (None, None) => Gate {
                name: "Gate".into(),
                zones: ZoneMask::GENERAL,
                direction,
            },
        })
    }

    /// Loads a replica bundle and gives the device an identity if it has none.
    pub fn provision(
        &mut self,
        bundle: &Bundle,
        device_name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        if let Some(gate) = self.device.setting(GATE_KEY)?
            && !bundle.event.gates.iter().any(|g| g.name == gate)
        {
            // The stored gate is not in the new event: fall back to the first gate.
            self.device.set_setting(
                GATE_KEY,
                &bundle
                    .event
                    .gates
                    .first()
                    .map_or("Gate".into(), |g| g.name.clone()),
            )?;
        }
        self.replica.load_bundle(bundle)?;
        self.device.ensure_identity(device_name, now)?;
        self.reload()
    }

    /// Chooses the gate (by name, one of the event's) and the direction.
    pub fn set_gate(
        &mut self,
        name: Option<&str>,
        direction: Option<Direction>,
    ) -> Result<(), Error> {
        if let Some(name) = name {
            if let Some(l) = &self.loaded
                && !l.event.gates.iter().any(|(n, _)| n == name)
            {
                let known: Vec<_> = l.event.gates.iter().map(|(n, _)| n.as_str()).collect();
                return Err(Error::UnknownGate(name.to_owned(), known.join(", ")));
            }
            self.device.set_setting(GATE_KEY, name)?;
        }
        if let Some(d) = direction {
            self.device.set_setting(DIRECTION_KEY, d.as_str())?;
        }
        self.reload()
    }

    /// The gate scans are decided for.
    pub fn gate(&self) -> Option<&Gate> {
        self.loaded.as_ref().map(|l| &l.gate)
    }

    /// Decides one scanned text and records the check-in durably before returning. `now` is
    /// the device clock's reading; the scan is decided and recorded at that time plus the
    /// correction learned from the server (the day rules use the server's time).
    ///
    /// Leading and trailing white space is ignored (keyboard-wedge scanners add line
    /// endings; a ticket never starts or ends with a space).
    pub fn scan(&mut self, text: &str, now: DateTime<Utc>) -> Result<ScanReport, Error> {
        let started = Instant::now();
        let now = self.corrected(now);
        // Check-ins are stored to the millisecond; report the instant as stored.
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let loaded = self.loaded.as_ref().ok_or(Error::NotProvisioned)?;
        let gate = &loaded.gate;
        let event = &loaded.event;

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
            mode: codes::basis_str(loaded.mode),
            first_entry: None,
            warning: None,
            gate: gate.name.clone(),
            direction: gate.direction.as_str(),
            at: now,
            seq: 0,
            latency_us: 0,
        };

        let decision = match verify(text.trim(), &loaded.keyring) {
            Err(e) => Decision::Reject(Reason::from(e)),
            Ok(ticket) => {
                let claims = *ticket.claims();
                let id = claims.ticket;
                let row = self.replica.ticket(id)?;
                self.history.clear();
                let own = self.device.identity().map_or("", |i| i.device_id.as_str());
                self.replica.history(id, own, &mut self.history)?;
                self.device.history(id, &mut self.history)?;
                // Other gates' check-ins heard on the mesh that the server has not relayed.
                let mut held = std::mem::take(&mut self.history);
                self.device.peer_history(
                    id,
                    &|device| self.device_name(device),
                    &|device, seq| self.replica.has_check_in(device, seq).unwrap_or(false),
                    &mut held,
                )?;
                self.history = held;
                let facts = ReplicaFacts {
                    event: &event.config,
                    ticket: row.as_ref().map(|r| &r.record),
                    history: &self.history,
                };
                let decision = decide(&ticket, &facts, gate, now);
                report.ticket_id = Some(id.0);
                report.revision = Some(claims.revision.0);
                report.ticket_type = event
                    .ticket_types
                    .get(&claims.ticket_type.0)
                    .map(|(name, _)| name.clone());
                report.days = event.config.dates_of(claims.days);
                if let Some(row) = row {
                    report.holder = row.holder;
                    report.detail = row.detail;
                }
                decision
            }
        };

        // The screen's words in the gate's language (`words.rs`); codes stay as they are.
        let lang = self.device.setting(words::LANGUAGE_KEY).ok().flatten();
        let lang = lang
            .as_deref()
            .and_then(Language::parse)
            .unwrap_or_default();
        let shown = words::shown(lang, &decision, report.ticket_type.as_deref(), loaded.mode);
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

        report.seq = self.device.record(&NewCheckIn {
            ticket: report
                .ticket_id
                .zip(report.revision)
                .map(|(t, r)| (TicketId(t), r)),
            at: now,
            gate: &report.gate,
            direction: gate.direction,
            admitted: decision.is_admit(),
            reason: report.reason,
            basis: report.basis,
            // Only texts that claim to be Tessera tickets travel to the server.
            // (At most 254 bytes: what a signed check-in carries.)
            text: Some(text.trim()).filter(|t| t.starts_with("TS") && t.len() <= 254),
        })?;
        report.latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Ok(report)
    }

    /// The device's state for `tessera-scan status`.
    pub fn status(&mut self, now: DateTime<Utc>) -> Result<StatusReport, Error> {
        let sync = crate::sync::status(self)?;
        let mesh = self.mesh_status(now)?;
        let mut conflicts = self.replica.conflicts()?;
        // What the mesh shows that the server has not judged yet.
        for c in self.mesh_conflicts()? {
            let known = conflicts
                .iter()
                .any(|k| k.ticket_id == c.ticket_id && k.at == c.at && k.gate == c.gate);
            if !known {
                conflicts.push(c);
            }
        }
        conflicts.sort_by_key(|c| std::cmp::Reverse(c.at));
        let generated = self.replica.generated_at()?;
        Ok(StatusReport {
            device: self.device.identity().cloned(),
            event: self.loaded.as_ref().map(|l| l.event.name.clone()),
            gate: self.loaded.as_ref().map(|l| l.gate.name.clone()),
            direction: self
                .loaded
                .as_ref()
                .map_or("entry", |l| l.gate.direction.as_str()),
            mode: self.mode().map(codes::basis_str),
            cursor: self.replica.cursor()?,
            replica_generated_at: generated,
            replica_age_seconds: generated.map(|g| (now - g).num_seconds()),
            replica: self.replica.counts()?,
            check_ins: self.device.counts()?,
            replica_rebuilt_from: self.rebuilt_from.clone(),
            sync,
            conflicts,
            clock: self.clock_status()?,
            mesh,
        })
    }

    /// The device store (queue, identity).
    pub fn device(&mut self) -> &mut DeviceStore {
        &mut self.device
    }

    /// The replica.
    pub fn replica(&mut self) -> &mut Replica {
        &mut self.replica
    }

    pub(crate) fn replica_ref(&self) -> &Replica {
        &self.replica
    }

    pub(crate) fn device_ref(&self) -> &DeviceStore {
        &self.device
    }

    /// The event this gate serves, once provisioned.
    pub fn event_id(&self) -> Option<tessera_core::EventId> {
        self.loaded.as_ref().map(|l| l.event.config.id())
    }

    /// The keyring, the event and its gates, for judging held check-ins.
    pub(crate) fn loaded_parts(&self) -> Option<LoadedParts> {
        self.loaded.as_ref().map(|l| {
            (
                l.keyring.clone(),
                l.event.config.clone(),
                l.event.gates.clone(),
            )
        })
    }

    /// The keyring scans are verified with, once provisioned.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.loaded.as_ref().map(|l| &l.keyring)
    }
}
