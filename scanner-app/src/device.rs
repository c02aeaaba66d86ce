//! The device store (`device.db`): this device's identity, settings, and its append-only
//! check-in queue — the things the server cannot give back. Kept apart from the replica so
//! that rebuilding a corrupt replica never touches them.
//!
//! Every check-in is committed before its verdict is shown, so it survives the process being
//! killed. Commits fsync the log unless another commit did within the last
//! [`SYNC_INTERVAL`]: a gate scanning at human pace fsyncs every check-in, a burst shares one
//! fsync per interval, and a hard power cut can cost at most that interval's check-ins
//! (docs/adr/0006-check-in-durability.md).
//!
//! A `device.db` that is there but empty, cut short or garbled is refused, never replaced
//! ([`Error::DeviceDamaged`]); `tessera-scan repair` ([`crate::repair`]) salvages it. A new
//! store is built under another name and renamed into place, so a `device.db` of 0 bytes is
//! never one this software was still creating (docs/adr/0014-gate-file-damage.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tessera_core::mesh::{CheckInRecord, DeviceSigner};
use tessera_core::{Direction, PriorScan, Revision, TicketId};

use crate::Error;
use crate::codes;
use crate::replica::EventSnapshot;
use crate::schema;

/// Who this device is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// Random, stable id: the first half of every check-in's key.
    pub device_id: String,
    /// The name staff gave it ("Tablet-3").
    pub name: String,
}

/// A check-in to append.
#[derive(Debug, Clone)]
pub struct NewCheckIn<'a> {
    /// The ticket, when the code verified.
    pub ticket: Option<(TicketId, u16)>,
    /// When (device clock).
    pub at: DateTime<Utc>,
    /// Gate name.
    pub gate: &'a str,
    /// Entry or exit.
    pub direction: Direction,
    /// Admitted or not.
    pub admitted: bool,
    /// Reject reason code.
    pub reason: Option<&'static str>,
    /// `replica` or `signature_only`, when decided.
    pub basis: Option<&'static str>,
    /// The scanned text, when it looked like a Tessera ticket (never anything else: a
    /// stranger's Wi-Fi code is not ours to keep).
    pub text: Option<&'a str>,
}

/// A check-in as queued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueuedCheckIn {
    /// Device id.
    pub device_id: String,
    /// Per-device sequence number, from 1.
    pub seq: u64,
    /// The ticket, when the code verified.
    pub ticket_id: Option<u64>,
    /// Its revision.
    pub revision: Option<u16>,
    /// When.
    pub at: DateTime<Utc>,
    /// Gate name.
    pub gate: String,
    /// `entry` or `exit`.
    pub direction: String,
    /// `admit` or `reject`.
    pub verdict: String,
    /// Reject reason code.
    pub reason: Option<String>,
    /// The scanned text, for the server to judge.
    pub text: Option<String>,
    /// Whether the server acknowledged it.
    pub acked: bool,
    /// The server's reason, when it judged differently.
    pub server_reason: Option<String>,
    /// Flagged by the server as a second admission that day.
    pub conflict: bool,
}

/// The server's answer for one uploaded check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Which check-in.
    pub seq: u64,
    /// Whether the server admits it.
    pub server_admitted: bool,
    /// Its reason when it does not.
    pub server_reason: Option<String>,
    /// Flagged as a conflict.
    pub conflict: bool,
}

/// Queue counts for `status`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct QueueCounts {
    /// Every check-in this device recorded.
    pub total: u64,
    /// Not yet acknowledged by the server.
    pub unsent: u64,
    /// Admitted entries.
    pub admitted: u64,
    /// Rejects.
    pub rejected: u64,
}

/// The longest a committed check-in waits for an fsync: the most a hard power cut can lose.
pub const SYNC_INTERVAL: Duration = Duration::from_millis(200);

/// The setting below which no new check-in is numbered: set by a repair that could not read
/// every sequence number, so a new check-in never reuses one the server may already hold.
pub(crate) const SEQ_FLOOR_KEY: &str = "seq_floor";

/// The device store.
pub struct DeviceStore {
    conn: Connection,
    identity: Option<Identity>,
    last_fsync: Option<Instant>,
    seq_floor: i64,
    signer: Option<DeviceSigner>,
    /// The seed `signer` was made from.
    signer_seed: Option<[u8; 32]>,
    last_signed: Option<Vec<u8>>,
}

impl DeviceStore {
    /// Opens the store, creating it when `path` does not exist. A file that is there but
    /// empty, cut short or garbled is refused with [`Error::DeviceDamaged`]: the queue in it
    /// exists nowhere else, so it is never replaced behind the operator's back.
    pub fn open(path: &Path) -> Result<Self, Error> {
        match std::fs::metadata(path) {
            // A store this software creates is complete before it has this name (see
            // `create`), so an empty `device.db` was truncated, or copied or restored badly.
            // Even then it may stand for an identity the server knows: refuse.
            Ok(meta) if meta.len() == 0 => {
                return Err(damaged(path, "the file is empty (0 bytes)".into()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                refuse_traces(path)?;
                create(path)?;
            }
            Err(e) => return Err(e.into()),
        }
        Self::open_existing(path).map_err(|e| match e {
            Error::Sqlite(s) if is_corruption(&s) => damaged(path, s.to_string()),
            e => e,
        })
    }

    fn open_existing(path: &Path) -> Result<Self, Error> {
        // Never create here: a file that vanished since the check above is not a new device.
        let flags = OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE);
        let mut conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        let check: String = conn.pragma_query_value(None, "quick_check", |r| r.get(0))?;
        if check != "ok" {
            let first = check.lines().next().unwrap_or("integrity check failed");
            return Err(damaged(path, format!("integrity check: {first}")));
        }
        schema::upgrade(&mut conn, "device store", schema::DEVICE)?;
        // From here on, `record` chooses per commit (see the module doc).
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let identity = conn
            .query_row("SELECT device_id, name FROM identity", [], |r| {
                Ok(Identity {
                    device_id: r.get(0)?,
                    name: r.get(1)?,
                })
            })
            .optional()?;
        let seq_floor = conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [SEQ_FLOOR_KEY],
                |r| r.get::<_, String>(0),
            )
            .optional()?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        Ok(Self {
            conn,
            identity,
            last_fsync: None,
            seq_floor,
            signer: None,
            signer_seed: None,
            last_signed: None,
        })
    }

    /// This device's identity, if it has one.
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Gives the device an identity (a random id and the given name) unless it has one;
    /// renames it if `name` is given and differs.
    pub fn ensure_identity(
        &mut self,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<&Identity, Error> {
        match (&self.identity, name) {
            (Some(id), Some(n)) if id.name != n => {
                self.conn.execute("UPDATE identity SET name = ?1", [n])?;
            }
            (Some(_), _) => {}
            (None, name) => {
                let mut raw = [0u8; 16];
                getrandom::fill(&mut raw).map_err(|e| Error::Random(e.to_string()))?;
                let device_id = hex::encode(raw);
                self.conn.execute(
                    "INSERT INTO identity (singleton, device_id, name, created_at) VALUES (1, ?1, ?2, ?3)",
                    params![device_id, name.unwrap_or("Scanner"), now.to_rfc3339()],
                )?;
            }
        }
        self.identity = self
            .conn
            .query_row("SELECT device_id, name FROM identity", [], |r| {
                Ok(Some(Identity {
                    device_id: r.get(0)?,
                    name: r.get(1)?,
                }))
            })?;
        self.identity.as_ref().ok_or(Error::NoIdentity)
    }

    /// A setting.
    pub fn setting(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Stores a setting.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Appends a check-in and commits it; returns its sequence number.
    ///
    /// The commit is in the WAL before this returns (safe against a killed process). It is
    /// fsynced unless the previous fsync was less than [`SYNC_INTERVAL`] ago; then the next
    /// fsynced commit, or [`DeviceStore::flush`], makes it power-safe with everything before.
    pub fn record(&mut self, c: &NewCheckIn<'_>) -> Result<u64, Error> {
        let now = Instant::now();
        let fsync = self
            .last_fsync
            .is_none_or(|t| now.saturating_duration_since(t) >= SYNC_INTERVAL);
        if fsync {
            // SQLite reads the level at commit time: FULL fsyncs the WAL, which also
            // persists every earlier NORMAL commit in it.
            self.conn.pragma_update(None, "synchronous", "FULL")?;
        }
        let seq = self.insert(c);
        if fsync {
            self.conn.pragma_update(None, "synchronous", "NORMAL")?;
            if seq.is_ok() {
                self.last_fsync = Some(now);
            }
        }
        seq
    }

    /// Fsyncs every committed check-in now (on shutdown, or before telling staff the
    /// device may be switched off).
    pub fn flush(&mut self) -> Result<(), Error> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        // An empty write transaction still syncs the WAL at commit.
        self.conn.execute_batch(
            "BEGIN IMMEDIATE; INSERT INTO settings (key, value) VALUES ('last_flush', datetime('now'))
             ON CONFLICT (key) DO UPDATE SET value = excluded.value; COMMIT;",
        )?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.last_fsync = Some(Instant::now());
        Ok(())
    }

    fn insert(&mut self, c: &NewCheckIn<'_>) -> Result<u64, Error> {
        self.signer()?;
        let id = self.identity.as_ref().ok_or(Error::NoIdentity)?;
        let device = tessera_core::mesh::parse_device_id(&id.device_id);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seq: i64 = tx.query_row(
            "SELECT MAX(COALESCE(MAX(seq), 0), ?2) + 1 FROM queue WHERE device_id = ?1",
            params![id.device_id, self.seq_floor],
            |r| r.get(0),
        )?;
        let correction: i64 = tx
            .query_row(
                "SELECT correction_ms FROM clock_corrections WHERE from_seq <= ?1
                 ORDER BY from_seq DESC LIMIT 1",
                [seq],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        // Signed as recorded, so a peer that relays it cannot change it (ADR 0024). A device
        // id that is not 32 hex digits (provisioned before ids were) has nothing to sign with.
        let signed = match (device, &self.signer) {
            (Some(device), Some(signer)) => signer
                .sign_check_in(&CheckInRecord {
                    device,
                    seq: u64::try_from(seq).unwrap_or(0),
                    ticket: c.ticket.map(|(t, r)| (t, Revision(r))),
                    at_ms: c.at.timestamp_millis(),
                    clock_correction_ms: correction,
                    direction: c.direction,
                    admitted: c.admitted,
                    gate: c.gate.to_owned(),
                    reason: c.reason.map(str::to_owned),
                    text: c.text.map(str::to_owned),
                })
                .ok(),
            _ => None,
        };
        tx.execute(
            "INSERT INTO queue (device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict, reason, basis, text, signed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                id.device_id,
                seq,
                c.ticket.map(|(t, _)| t.0 as i64),
                c.ticket.map(|(_, r)| r),
                c.at.timestamp_millis(),
                c.gate,
                c.direction.as_str(),
                if c.admitted { "admit" } else { "reject" },
                c.reason,
                c.basis,
                c.text,
                signed,
            ],
        )?;
        tx.commit()?;
        self.last_signed = signed;
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    /// The signed layout of the check-in recorded last, once: what the mesh pushes to peers.
    pub fn take_last_signed(&mut self) -> Option<Vec<u8>> {
        self.last_signed.take()
    }

    /// This device's signing key, made (and kept in the identity row) on first use.
    /// Read from the file every time (another process may have enrolled the device again
    /// with a new key); the key itself is rebuilt only when the seed changed.
    pub fn signer(&mut self) -> Result<&DeviceSigner, Error> {
        let stored: Option<[u8; 32]> = self
            .conn
            .query_row("SELECT signing_seed FROM identity", [], |r| {
                r.get::<_, Option<Vec<u8>>>(0)
            })
            .optional()?
            .flatten()
            .and_then(|s| <[u8; 32]>::try_from(s).ok());
        if stored.is_none() || stored != self.signer_seed {
            let seed: [u8; 32] = match stored {
                Some(seed) => seed,
                None => {
                    if self.identity.is_none() {
                        return Err(Error::NoIdentity);
                    }
                    let mut seed = [0u8; 32];
                    getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
                    // Another connection (the mesh's, the sync thread's) may have drawn one
                    // first: the seed stored is the one.
                    self.conn.execute(
                        "UPDATE identity SET signing_seed = ?1 WHERE signing_seed IS NULL",
                        [&seed[..]],
                    )?;
                    let stored: Option<Vec<u8>> =
                        self.conn
                            .query_row("SELECT signing_seed FROM identity", [], |r| r.get(0))?;
                    stored
                        .and_then(|s| <[u8; 32]>::try_from(s).ok())
                        .ok_or(Error::NoIdentity)?
                }
            };
            self.signer = Some(DeviceSigner::from_seed(&seed));
            self.signer_seed = Some(seed);
        }
        self.signer.as_ref().ok_or(Error::NoIdentity)
    }

    /// The certificate the server gave this device's key, if it was enrolled with one.
    pub fn certificate(&self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .conn
            .query_row("SELECT certificate FROM identity", [], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Installs the key an enrollment certified, with its certificate (or none), in one
    /// write: each enrollment draws a new key, so a copy of this file taken before (a stolen
    /// gate's) holds a key the server no longer lists. Check-ins already recorded keep the
    /// signatures they were made with.
    pub fn install_key(
        &mut self,
        seed: &[u8; 32],
        certificate: Option<&[u8]>,
    ) -> Result<(), Error> {
        self.conn.execute(
            "UPDATE identity SET signing_seed = ?1, certificate = ?2",
            params![&seed[..], certificate],
        )?;
        self.signer = Some(DeviceSigner::from_seed(seed));
        self.signer_seed = Some(*seed);
        Ok(())
    }

    /// Keeps the certificate the server gave this device's key.
    pub fn set_certificate(&mut self, certificate: &[u8]) -> Result<(), Error> {
        self.conn
            .execute("UPDATE identity SET certificate = ?1", [certificate])?;
        Ok(())
    }

    /// Appends this device's own scans of a ticket to `out`.
    pub fn history(&self, ticket: TicketId, out: &mut Vec<PriorScan>) -> Result<(), Error> {
        let device = self
            .identity
            .as_ref()
            .map_or("this device", |i| i.name.as_str());
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, gate, direction, verdict, revision FROM queue WHERE ticket_id = ?1",
        )?;
        let rows = stmt.query_map([ticket.0 as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<u16>>(4)?,
            ))
        })?;
        for row in rows {
            let (at_ms, gate, direction, verdict, revision) = row?;
            out.push(PriorScan {
                at: DateTime::from_timestamp_millis(at_ms).unwrap_or_default(),
                gate,
                device: device.to_owned(),
                direction: codes::parse_direction(&direction).unwrap_or(Direction::Entry),
                admitted: verdict == "admit",
                revision: revision.map(Revision),
            });
        }
        Ok(())
    }

    /// Records the clock correction (milliseconds) applied from the next check-in on, when it
    /// differs from the one in force.
    pub fn set_clock_correction(&mut self, correction_ms: i64) -> Result<(), Error> {
        if self.clock_correction_for(u64::MAX)? == correction_ms {
            return Ok(());
        }
        self.conn.execute(
            "INSERT INTO clock_corrections (from_seq, correction_ms)
             SELECT MAX(COALESCE((SELECT MAX(seq) FROM queue), 0), ?2) + 1, ?1
             ON CONFLICT (from_seq) DO UPDATE SET correction_ms = excluded.correction_ms",
            params![correction_ms, self.seq_floor],
        )?;
        Ok(())
    }

    /// The clock correction (milliseconds) that applied to check-in `seq`: 0 before any.
    pub fn clock_correction_for(&self, seq: u64) -> Result<i64, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT correction_ms FROM clock_corrections WHERE from_seq <= ?1
                 ORDER BY from_seq DESC LIMIT 1",
                [i64::try_from(seq).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    /// Counts for `status`.
    pub fn counts(&self) -> Result<QueueCounts, Error> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*),
                    COUNT(*) FILTER (WHERE acked_at_ms IS NULL),
                    COUNT(*) FILTER (WHERE verdict = 'admit' AND direction = 'entry'),
                    COUNT(*) FILTER (WHERE verdict = 'reject')
             FROM queue",
            [],
            |r| {
                Ok(QueueCounts {
                    total: r.get::<_, i64>(0)?.unsigned_abs(),
                    unsent: r.get::<_, i64>(1)?.unsigned_abs(),
                    admitted: r.get::<_, i64>(2)?.unsigned_abs(),
                    rejected: r.get::<_, i64>(3)?.unsigned_abs(),
                })
            },
        )?)
    }

    /// The oldest unacknowledged check-ins, at most `limit`, for upload.
    pub fn unsent(&self, limit: u32) -> Result<Vec<QueuedCheckIn>, Error> {
        self.select("WHERE acked_at_ms IS NULL ORDER BY seq LIMIT ?1", limit)
    }

    /// Records the server's acknowledgements, in one transaction.
    pub fn acknowledge(&mut self, acks: &[Ack], at: DateTime<Utc>) -> Result<(), Error> {
        let device_id = self
            .identity
            .as_ref()
            .ok_or(Error::NoIdentity)?
            .device_id
            .clone();
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare(
                "UPDATE queue SET acked_at_ms = COALESCE(acked_at_ms, ?1), server_admitted = ?2,
                        server_reason = ?3, conflict = ?4
                 WHERE device_id = ?5 AND seq = ?6",
            )?;
            for a in acks {
                stmt.execute(params![
                    at.timestamp_millis(),
                    a.server_admitted,
                    a.server_reason,
                    a.conflict,
                    device_id,
                    a.seq as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// This device's check-ins the server flagged as conflicts.
    pub fn conflicts(&self) -> Result<Vec<QueuedCheckIn>, Error> {
        self.select("WHERE conflict = 1 ORDER BY seq LIMIT ?1", 1000)
    }

    /// Every check-in, oldest first (for tests and exports).
    pub fn all(&self) -> Result<Vec<QueuedCheckIn>, Error> {
        self.select("ORDER BY seq LIMIT ?1", u32::MAX)
    }

    fn select(&self, tail: &str, limit: u32) -> Result<Vec<QueuedCheckIn>, Error> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict, reason, acked_at_ms,
                    text, server_reason, conflict
             FROM queue {tail}"
        ))?;
        let rows = stmt.query_map([limit], |r| {
            Ok(QueuedCheckIn {
                device_id: r.get(0)?,
                seq: r.get::<_, i64>(1)? as u64,
                ticket_id: r.get::<_, Option<i64>>(2)?.map(|t| t as u64),
                revision: r.get(3)?,
                at: DateTime::from_timestamp_millis(r.get(4)?).unwrap_or_default(),
                gate: r.get(5)?,
                direction: r.get(6)?,
                verdict: r.get(7)?,
                reason: r.get(8)?,
                acked: r.get::<_, Option<i64>>(9)?.is_some(),
                text: r.get(10)?,
                server_reason: r.get(11)?,
                conflict: r.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The event and keyring kept for signature-only mode, if the replica ever had one.
    pub fn kept_event(&self) -> Result<Option<EventSnapshot>, Error> {
        read_kept_event(&self.conn)
    }

    /// Keeps the replica's event and keyring, writing only when they changed. Returns
    /// whether it wrote.
    pub fn keep_event(&mut self, snapshot: &EventSnapshot) -> Result<bool, Error> {
        if self.kept_event()?.as_ref() == Some(snapshot) {
            return Ok(false);
        }
        let tx = self.conn.transaction()?;
        write_kept_event(&tx, snapshot)?;
        tx.commit()?;
        Ok(true)
    }

    /// `PRAGMA integrity_check`: `ok` for a sound file.
    pub fn integrity_check(&self) -> Result<String, Error> {
        Ok(self
            .conn
            .pragma_query_value(None, "integrity_check", |r| r.get(0))?)
    }

    /// The connection, for the sync client and tests.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Reads the kept event and keyring.
pub(crate) fn read_kept_event(conn: &Connection) -> Result<Option<EventSnapshot>, Error> {
    let row = conn
        .query_row(
            "SELECT event_id, name, timezone, days, policy FROM kept_event",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((id, name, timezone, days, policy)) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare("SELECT name, zones FROM kept_gates ORDER BY name")?;
    let gates = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt = conn.prepare("SELECT id, name, kind FROM kept_ticket_types ORDER BY id")?;
    let ticket_types = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut stmt =
        conn.prepare("SELECT key_id, public_key, status FROM kept_keys ORDER BY key_id")?;
    let keys = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(EventSnapshot {
        id,
        name,
        timezone,
        days,
        policy,
        gates,
        ticket_types,
        keys,
    }))
}

/// Replaces the kept event and keyring inside the caller's transaction.
pub(crate) fn write_kept_event(
    tx: &rusqlite::Transaction<'_>,
    s: &EventSnapshot,
) -> Result<(), Error> {
    tx.execute_batch(
        "DELETE FROM kept_event; DELETE FROM kept_gates; DELETE FROM kept_ticket_types;
         DELETE FROM kept_keys;",
    )?;
    tx.execute(
        "INSERT INTO kept_event (singleton, event_id, name, timezone, days, policy)
         VALUES (1, ?1, ?2, ?3, ?4, ?5)",
        params![s.id, s.name, s.timezone, s.days, s.policy],
    )?;
    let mut gate = tx.prepare("INSERT INTO kept_gates (name, zones) VALUES (?1, ?2)")?;
    for (name, zones) in &s.gates {
        gate.execute(params![name, zones])?;
    }
    let mut ty =
        tx.prepare("INSERT INTO kept_ticket_types (id, name, kind) VALUES (?1, ?2, ?3)")?;
    for (id, name, kind) in &s.ticket_types {
        ty.execute(params![id, name, kind])?;
    }
    let mut key =
        tx.prepare("INSERT INTO kept_keys (key_id, public_key, status) VALUES (?1, ?2, ?3)")?;
    for (id, bytes, status) in &s.keys {
        key.execute(params![id, bytes, status])?;
    }
    Ok(())
}

/// The error for a damaged store at `path`.
pub(crate) fn damaged(path: &Path, reason: String) -> Error {
    Error::DeviceDamaged {
        path: path.to_path_buf(),
        data_dir: path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf(),
        reason,
    }
}

/// Whether SQLite found the file damaged (rather than busy, full or unreadable).
pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

/// `path` with `suffix` appended to its file name (`device.db` → `device.db-wal`).
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Where a new store is built before it is renamed to its real name.
const CREATING: &str = ".creating";
/// Where `repair` builds the salvaged store; complete (fsynced) before the damaged file is
/// moved aside, so finding it with no `device.db` means a repair stopped half-way.
pub(crate) const REPAIRING: &str = ".repairing";

/// A missing `device.db` is a new device, unless something says a store was there.
fn refuse_traces(path: &Path) -> Result<(), Error> {
    let wal = sibling(path, "-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return Err(damaged(
            path,
            format!(
                "the file is missing but its write-ahead log {} is still there: it was deleted or moved. Put it back",
                wal.display()
            ),
        ));
    }
    if sibling(path, REPAIRING).exists() {
        return Err(damaged(path, "a repair was interrupted".into()));
    }
    Ok(())
}

/// Creates a sound, empty store at `path`: built and fsynced under another name, then renamed,
/// so `path` never names a half-created file.
fn create(path: &Path) -> Result<(), Error> {
    let tmp = sibling(path, CREATING);
    // A leftover from an interrupted creation never held a check-in: no identity is given
    // before the store has its real name.
    remove_files(&tmp)?;
    let conn = build_fresh(&tmp)?;
    install(conn, &tmp, path)
}

/// A new store with the whole schema at `path` (which must not exist).
pub(crate) fn build_fresh(path: &Path) -> Result<Connection, Error> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    schema::upgrade(&mut conn, "device store", schema::DEVICE)?;
    Ok(conn)
}

/// Closes `conn` on `tmp` (checkpointing its log into the file), fsyncs it, and renames it to
/// `dest`, fsyncing the directory so the new name survives a power cut.
pub(crate) fn install(conn: Connection, tmp: &Path, dest: &Path) -> Result<(), Error> {
    conn.close().map_err(|(_, e)| e)?;
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, dest)?;
    sync_dir(dest)
}

/// Fsyncs the directory holding `path`.
pub(crate) fn sync_dir(path: &Path) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Removes a database file and its `-wal` and `-shm`, if there.
pub(crate) fn remove_files(path: &Path) -> Result<(), Error> {
    for p in [
        path.to_path_buf(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ] {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}
