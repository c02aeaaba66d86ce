//! The device store (`device.db`): this device's identity, settings, and its append-only
//! check-in queue — the things the server cannot give back. Kept apart from the replica so
//! that rebuilding a corrupt replica never touches them.
//!
//! Every check-in is committed before its verdict is shown, so it survives the process being
//! killed. Commits fsync the log unless another commit did within the last
//! [`SYNC_INTERVAL`]: a gate scanning at human pace fsyncs every check-in, a burst shares one
//! fsync per interval, and a hard power cut can cost at most that interval's check-ins
//! (docs/adr/0006-check-in-durability.md).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tessera_core::{Direction, PriorScan, TicketId};

use crate::Error;
use crate::codes;
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

/// The device store.
pub struct DeviceStore {
    conn: Connection,
    identity: Option<Identity>,
    last_fsync: Option<Instant>,
}

impl DeviceStore {
    /// Opens (or creates) the store. Unlike the replica, a damaged store is never replaced:
    /// opening fails and says so, because the queue in it exists nowhere else.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
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
        Ok(Self {
            conn,
            identity,
            last_fsync: None,
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
        let id = self.identity.as_ref().ok_or(Error::NoIdentity)?;
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO queue (device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict, reason, basis, text)
             VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM queue WHERE device_id = ?1),
                     ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             RETURNING seq",
        )?;
        let seq: i64 = stmt.query_row(
            params![
                id.device_id,
                c.ticket.map(|(t, _)| t.0 as i64),
                c.ticket.map(|(_, r)| r),
                c.at.timestamp_millis(),
                c.gate,
                c.direction.as_str(),
                if c.admitted { "admit" } else { "reject" },
                c.reason,
                c.basis,
                c.text,
            ],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(seq).unwrap_or(0))
    }

    /// Appends this device's own scans of a ticket to `out`.
    pub fn history(&self, ticket: TicketId, out: &mut Vec<PriorScan>) -> Result<(), Error> {
        let device = self
            .identity
            .as_ref()
            .map_or("this device", |i| i.name.as_str());
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, gate, direction, verdict FROM queue WHERE ticket_id = ?1",
        )?;
        let rows = stmt.query_map([ticket.0 as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (at_ms, gate, direction, verdict) = row?;
            out.push(PriorScan {
                at: DateTime::from_timestamp_millis(at_ms).unwrap_or_default(),
                gate,
                device: device.to_owned(),
                direction: codes::parse_direction(&direction).unwrap_or(Direction::Entry),
                admitted: verdict == "admit",
            });
        }
        Ok(())
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
}
