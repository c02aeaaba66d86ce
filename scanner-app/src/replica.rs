//! The replica (`replica.db`): what the server knows about the event, kept on the device so
//! the gate decides offline. Everything in it can be rebuilt, so a corrupt file is moved
//! aside and started afresh instead of stopping the gate.
//!
//! WAL, one connection (this process is the only writer); reads take `&self`, writes
//! `&mut self` inside one transaction.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tessera_core::{
    Direction, EventConfig, EventId, KeyId, Keyring, PriorScan, Revision, TicketId, TicketRecord,
    Tz, ZoneMask,
};

use crate::Error;
use tessera_core::sync::ChangesPage;

use crate::bundle::{self, Bundle};
use crate::codes;
use crate::schema;

/// The event as loaded from the replica, with everything a scan needs in memory.
#[derive(Debug, Clone)]
pub struct EventInfo {
    /// The decision's view of the event.
    pub config: EventConfig,
    /// Its name.
    pub name: String,
    /// Gates and their zones.
    pub gates: Vec<(String, ZoneMask)>,
    /// Ticket type names and kinds by id.
    pub ticket_types: HashMap<u16, (String, String)>,
}

/// A ticket's row: the decision's record plus what the screen shows.
#[derive(Debug, Clone)]
pub struct TicketRow {
    /// Revision and status.
    pub record: TicketRecord,
    /// Its ticket type id.
    pub ticket_type: u16,
    /// The holder's display name.
    pub holder: Option<String>,
    /// Extra words (vendor business and booth).
    pub detail: Option<String>,
}

/// What one applied page held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyCounts {
    /// Tickets written.
    pub tickets: u64,
    /// Check-ins written.
    pub check_ins: u64,
}

/// A device as the server lists it (for the mesh's membership checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownDevice {
    /// Its name.
    pub name: String,
    /// Revoked by the organizer.
    pub revoked: bool,
    /// Its certified key, when it has one.
    pub public_key: Option<Vec<u8>>,
}

/// An admission the server flagged, with the first admission of that ticket before it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    /// Why: `double_entry` (a second entry that day), `superseded_code` (an entry on a code
    /// that a transfer, upgrade or reissue had replaced) or `clock_skew` (an entry by a
    /// device whose clock was more than two minutes off). `null` from servers that predate
    /// the kinds (a second entry).
    pub kind: Option<String>,
    /// The ticket.
    pub ticket_id: Option<u64>,
    /// When the flagged admission happened.
    pub at: DateTime<Utc>,
    /// Where.
    pub gate: String,
    /// By which device.
    pub device: String,
    /// When the first admission happened.
    pub first_at: Option<DateTime<Utc>>,
    /// Where.
    pub first_gate: Option<String>,
    /// By which device.
    pub first_device: Option<String>,
}

/// Row counts for `status`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ReplicaCounts {
    /// Tickets known.
    pub tickets: u64,
    /// Of which revoked (not valid).
    pub revoked: u64,
    /// Public keys.
    pub keys: u64,
    /// Check-ins of every device (this one's included) as the server relayed them.
    pub relayed_check_ins: u64,
}

/// The replica's event and keys as stored, without tickets or personal data: everything a
/// gate needs to decide on a ticket's signature alone. The scanner keeps a copy in
/// `device.db` so a gate whose replica is lost keeps deciding until its next sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSnapshot {
    /// Event id.
    pub id: u32,
    /// Event name.
    pub name: String,
    /// IANA timezone name.
    pub timezone: String,
    /// The days, a JSON array of ISO dates.
    pub days: String,
    /// `once_per_day` or `reentry_after_exit`.
    pub policy: String,
    /// Gate names and zone masks, by name.
    pub gates: Vec<(String, u16)>,
    /// Ticket type id, name and kind, by id.
    pub ticket_types: Vec<(u16, String, String)>,
    /// Key id, public key bytes and `active` / `retired`, by id.
    pub keys: Vec<(u16, Vec<u8>, String)>,
}

impl EventSnapshot {
    /// The event as a scan needs it.
    pub fn event(&self) -> Result<EventInfo, Error> {
        let tz: Tz = self
            .timezone
            .parse()
            .map_err(|_| bad(format!("unknown timezone {:?}", self.timezone)))?;
        let days: Vec<NaiveDate> =
            serde_json::from_str(&self.days).map_err(|e| bad(e.to_string()))?;
        let policy = codes::parse_policy(&self.policy)
            .ok_or_else(|| bad(format!("unknown policy {:?}", self.policy)))?;
        let config =
            EventConfig::new(EventId(self.id), tz, days, policy).map_err(|e| bad(e.to_string()))?;
        Ok(EventInfo {
            config,
            name: self.name.clone(),
            gates: self
                .gates
                .iter()
                .map(|(name, zones)| (name.clone(), ZoneMask(*zones)))
                .collect(),
            ticket_types: self
                .ticket_types
                .iter()
                .map(|(id, name, kind)| (*id, (name.clone(), kind.clone())))
                .collect(),
        })
    }

    /// The keys as a keyring.
    pub fn keyring(&self) -> Keyring {
        keyring_of(&self.keys)
    }
}

/// A keyring from stored rows; a key that is not a valid point is skipped, so tickets signed
/// by it are refused as signed by an unknown key.
fn keyring_of(rows: &[(u16, Vec<u8>, String)]) -> Keyring {
    let mut ring = Keyring::new();
    for (id, bytes, status) in rows {
        let status = if status == "active" {
            tessera_core::KeyStatus::Active
        } else {
            tessera_core::KeyStatus::Retired
        };
        if let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) {
            let _ = ring.insert(KeyId(*id), &bytes, status);
        }
    }
    ring
}

/// The local replica.
pub struct Replica {
    conn: Connection,
}

fn id_to_sql(id: TicketId) -> i64 {
    // Bit for bit: SQLite integers are i64; the round trip through `as` is lossless.
    id.0 as i64
}

impl Replica {
    /// Opens (or creates) the replica at `path`. A file that is not a sound SQLite database
    /// is moved aside to `<path>.corrupt-<unix seconds>` and replaced by an empty replica;
    /// the moved path is returned so the caller can say so.
    pub fn open(path: &Path) -> Result<(Self, Option<PathBuf>), Error> {
        match Self::open_checked(path) {
            Ok(conn) => Ok((Self { conn }, None)),
            Err(Error::Sqlite(e)) if is_corruption(&e) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let aside = path.with_extension(format!("db.corrupt-{stamp}"));
                std::fs::rename(path, &aside)?;
                for suffix in ["-wal", "-shm"] {
                    let mut side = path.as_os_str().to_owned();
                    side.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(side));
                }
                let conn = Self::open_checked(path)?;
                Ok((Self { conn }, Some(aside)))
            }
            Err(e) => Err(e),
        }
    }

    fn open_checked(path: &Path) -> Result<Connection, Error> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // The replica is rebuildable: a power cut may cost its last transaction, never its
        // consistency, so it does not pay for an fsync per write.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let check: String = conn.pragma_query_value(None, "quick_check", |r| r.get(0))?;
        if check != "ok" {
            return Err(Error::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(check),
            )));
        }
        schema::upgrade(&mut conn, "replica", schema::REPLICA)?;
        Ok(conn)
    }

    /// Replaces the whole replica with a bundle's contents, in one transaction: a device
    /// never decides on half a bundle.
    pub fn load_bundle(&mut self, b: &Bundle) -> Result<(), Error> {
        check_bundle(b)?;
        let tx = self.conn.transaction()?;
        for table in ["keys", "tickets"] {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
        write_event(&tx, &b.event)?;
        {
            let mut key =
                tx.prepare("INSERT INTO keys (key_id, public_key, status) VALUES (?1, ?2, ?3)")?;
            for k in &b.keys {
                let bytes = hex::decode(&k.public_key)
                    .map_err(|_| bad(format!("key {}: public key is not hex", k.key_id)))?;
                let status = match k.status {
                    bundle::KeyState::Active => "active",
                    bundle::KeyState::Retired => "retired",
                };
                key.execute(params![k.key_id, bytes, status])?;
            }
            let mut ticket = tx.prepare(
                "INSERT INTO tickets (ticket_id, ticket_type, revision, status, superseded_by, holder, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for t in &b.tickets {
                ticket.execute(params![
                    id_to_sql(TicketId(t.ticket_id)),
                    t.ticket_type,
                    t.revision,
                    t.status,
                    t.superseded_by,
                    t.holder,
                    t.detail
                ])?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('generated_at', ?1), ('source', 'bundle')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![b.generated_at.to_rfc3339()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The event, or `None` before the device was provisioned.
    pub fn event(&self) -> Result<Option<EventInfo>, Error> {
        self.snapshot()?.map(|s| s.event()).transpose()
    }

    /// The event, its gates and ticket types, and the keys, as stored (no tickets): what the
    /// scanner keeps in `device.db` for signature-only mode. `None` before provisioning.
    pub fn snapshot(&self) -> Result<Option<EventSnapshot>, Error> {
        let row = self
            .conn
            .query_row(
                "SELECT id, name, timezone, days, policy FROM event",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((id, name, timezone, days, policy)) = row else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare("SELECT name, zones FROM gates ORDER BY name")?;
        let gates = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, kind FROM ticket_types ORDER BY id")?;
        let ticket_types = stmt
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
            keys: self.key_rows()?,
        }))
    }

    fn key_rows(&self) -> Result<Vec<(u16, Vec<u8>, String)>, Error> {
        let mut stmt = self
            .conn
            .prepare("SELECT key_id, public_key, status FROM keys ORDER BY key_id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The public keys, as a keyring. A stored key that is not a valid point is skipped:
    /// tickets signed by it are refused as signed by an unknown key.
    pub fn keyring(&self) -> Result<Keyring, Error> {
        Ok(keyring_of(&self.key_rows()?))
    }

    /// The ticket's row, if the replica knows it.
    pub fn ticket(&self, id: TicketId) -> Result<Option<TicketRow>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT ticket_type, revision, status, superseded_by, holder, detail
             FROM tickets WHERE ticket_id = ?1",
        )?;
        let row = stmt
            .query_row([id_to_sql(id)], |r| {
                Ok((
                    r.get::<_, u16>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })
            .optional()?;
        Ok(row.map(
            |(ticket_type, revision, status, superseded, holder, detail)| TicketRow {
                record: TicketRecord {
                    revision: Revision(revision),
                    // An unknown status word (a newer server) revokes rather than admits.
                    status: codes::parse_status(&status)
                        .unwrap_or(tessera_core::TicketStatus::Blocked),
                    superseded_by: superseded.as_deref().and_then(codes::parse_cause),
                },
                ticket_type,
                holder,
                detail,
            },
        ))
    }

    /// Appends other devices' check-ins of this ticket to `out` (this device's own come from
    /// its queue, which knows them first).
    pub fn history(
        &self,
        id: TicketId,
        own_device: &str,
        out: &mut Vec<PriorScan>,
    ) -> Result<(), Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, gate, device_name, direction, admitted, revision, clock_error_ms
             FROM check_ins WHERE ticket_id = ?1 AND device_id <> ?2",
        )?;
        let rows = stmt.query_map(params![id_to_sql(id), own_device], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, Option<u16>>(5)?,
                r.get::<_, Option<i64>>(6)?,
            ))
        })?;
        for row in rows {
            let (at_ms, gate, device, direction, admitted, revision, clock_error_ms) = row?;
            let at = DateTime::from_timestamp_millis(at_ms).unwrap_or_default();
            out.push(PriorScan {
                // Judged on the real time, as the server judges it: a scan by a gate whose
                // clock was badly off counts on the day it really happened.
                at: tessera_core::corrected(at, clock_error_ms),
                gate,
                device,
                direction: codes::parse_direction(&direction).unwrap_or(Direction::Entry),
                admitted,
                revision: revision.map(Revision),
            });
        }
        Ok(())
    }

    /// When the replica's contents were produced by the issuer.
    pub fn generated_at(&self) -> Result<Option<DateTime<Utc>>, Error> {
        let v: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'generated_at'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(v.and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
            .map(|d| d.with_timezone(&Utc)))
    }

    /// The sync cursor, once the device has synced.
    pub fn cursor(&self) -> Result<Option<String>, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Row counts.
    pub fn counts(&self) -> Result<ReplicaCounts, Error> {
        let count = |sql: &str| -> Result<u64, Error> {
            Ok(self
                .conn
                .query_row(sql, [], |r| r.get::<_, i64>(0))?
                .unsigned_abs())
        };
        Ok(ReplicaCounts {
            tickets: count("SELECT COUNT(*) FROM tickets")?,
            revoked: count("SELECT COUNT(*) FROM tickets WHERE status <> 'valid'")?,
            keys: count("SELECT COUNT(*) FROM keys")?,
            relayed_check_ins: count("SELECT COUNT(*) FROM check_ins")?,
        })
    }

    /// Applies one page of the change feed in one transaction, cursor included: a page is
    /// applied whole or not at all, so an interrupted pull resumes where it stopped.
    pub fn apply_page(&mut self, page: &ChangesPage) -> Result<ApplyCounts, Error> {
        let mut counts = ApplyCounts::default();
        let event = page.event.as_ref().map(|e| bundle::BundleEvent {
            id: e.id,
            name: e.name.clone(),
            timezone: e.timezone.clone(),
            days: e.days.clone(),
            policy: match e.policy.as_str() {
                "reentry_after_exit" => bundle::Policy::ReentryAfterExit,
                _ => bundle::Policy::OncePerDay,
            },
            gates: e
                .gates
                .iter()
                .map(|g| bundle::BundleGate {
                    name: g.name.clone(),
                    zones: g.zones,
                })
                .collect(),
            ticket_types: e
                .ticket_types
                .iter()
                .map(|t| bundle::BundleTicketType {
                    id: t.id,
                    name: t.name.clone(),
                    kind: t.kind.clone(),
                })
                .collect(),
        });
        if let Some(e) = &event {
            check_event(e)?;
        }
        let tx = self.conn.transaction()?;
        if let Some(e) = &event {
            write_event(&tx, e)?;
        }
        {
            let mut key = tx.prepare_cached(
                "INSERT INTO keys (key_id, public_key, status) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key, status = excluded.status",
            )?;
            for k in &page.keys {
                let bytes = hex::decode(&k.public_key)
                    .map_err(|_| bad(format!("key {}: not hex", k.key_id)))?;
                key.execute(params![k.key_id, bytes, k.status])?;
            }
            let mut ticket = tx.prepare_cached(
                "INSERT INTO tickets (ticket_id, ticket_type, revision, status, superseded_by, holder, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (ticket_id) DO UPDATE SET ticket_type = excluded.ticket_type,
                    revision = excluded.revision, status = excluded.status,
                    superseded_by = excluded.superseded_by, holder = excluded.holder,
                    detail = excluded.detail",
            )?;
            for t in &page.tickets {
                ticket.execute(params![
                    id_to_sql(TicketId(t.id)),
                    t.ticket_type,
                    t.revision,
                    t.status,
                    t.superseded_by,
                    t.holder,
                    t.detail
                ])?;
                counts.tickets += 1;
            }
            let mut check_in = tx.prepare_cached(
                "INSERT INTO check_ins (device_id, seq, ticket_id, at_ms, gate, device_name, direction,
                                        admitted, reason, server_reason, conflict, conflict_kind,
                                        revision, clock_error_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (device_id, seq) DO UPDATE SET server_reason = excluded.server_reason,
                    conflict = excluded.conflict, conflict_kind = excluded.conflict_kind,
                    revision = excluded.revision, clock_error_ms = excluded.clock_error_ms",
            )?;
            for c in &page.check_ins {
                check_in.execute(params![
                    c.device_id,
                    c.seq as i64,
                    c.ticket_id.map(|t| id_to_sql(TicketId(t))),
                    c.at.timestamp_millis(),
                    c.gate,
                    c.device_name,
                    c.direction,
                    c.admitted,
                    c.reason,
                    c.server_reason,
                    c.conflict,
                    c.conflict_kind,
                    c.revision,
                    c.clock_error_ms
                ])?;
                counts.check_ins += 1;
            }
            if !page.devices.is_empty() {
                // The whole list comes with every page that carries the event.
                tx.execute("DELETE FROM devices", [])?;
                let mut device = tx.prepare_cached(
                    "INSERT INTO devices (device_id, name, status, public_key) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (device_id) DO UPDATE SET name = excluded.name,
                        status = excluded.status, public_key = excluded.public_key",
                )?;
                for d in &page.devices {
                    let key = d.public_key.as_deref().and_then(|k| hex::decode(k).ok());
                    device.execute(params![d.device_id, d.name, d.status, key])?;
                }
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value)
             VALUES ('cursor', ?1), ('head', ?2), ('generated_at', ?3), ('source', 'sync')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![
                page.cursor.to_string(),
                page.head.to_string(),
                page.server_time.to_rfc3339()
            ],
        )?;
        tx.commit()?;
        Ok(counts)
    }

    /// Conflicts the replica knows: admissions the server flagged as second ones, each with
    /// the first admission of that ticket before it.
    pub fn conflicts(&self) -> Result<Vec<Conflict>, Error> {
        let mut stmt = self.conn.prepare(
            "SELECT c.ticket_id, c.at_ms, c.gate, c.device_name, f.at_ms, f.gate, f.device_name,
                    c.conflict_kind
             FROM check_ins c
             LEFT JOIN check_ins f ON (f.device_id, f.seq) = (
                 SELECT x.device_id, x.seq FROM check_ins x
                 WHERE x.ticket_id = c.ticket_id AND x.admitted = 1 AND x.conflict = 0
                   AND x.direction = 'entry' AND x.at_ms <= c.at_ms
                 ORDER BY x.at_ms LIMIT 1)
             WHERE c.conflict = 1
             ORDER BY c.at_ms DESC LIMIT 200",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Conflict {
                kind: r.get(7)?,
                ticket_id: r.get::<_, Option<i64>>(0)?.map(|t| t as u64),
                at: DateTime::from_timestamp_millis(r.get(1)?).unwrap_or_default(),
                gate: r.get(2)?,
                device: r.get(3)?,
                first_at: r
                    .get::<_, Option<i64>>(4)?
                    .and_then(DateTime::from_timestamp_millis),
                first_gate: r.get(5)?,
                first_device: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A device as the server last listed it: its name, whether it is revoked, and its
    /// certified key.
    pub fn device(&self, device_id: &str) -> Result<Option<KnownDevice>, Error> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, status, public_key FROM devices WHERE device_id = ?1",
                [device_id],
                |r| {
                    Ok(KnownDevice {
                        name: r.get(0)?,
                        revoked: r.get::<_, String>(1)? == "revoked",
                        public_key: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Whether the server's feed brought this check-in already.
    pub fn has_check_in(&self, device_id: &str, seq: u64) -> Result<bool, Error> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM check_ins WHERE device_id = ?1 AND seq = ?2")?
            .exists(params![device_id, i64::try_from(seq).unwrap_or(i64::MAX)])?)
    }

    /// Forgets every holder name and detail (a revoked device must not keep personal data);
    /// ticket revisions and statuses stay, so the device still refuses revoked codes.
    pub fn wipe_personal_data(&mut self) -> Result<(), Error> {
        self.conn.execute_batch(
            "UPDATE tickets SET holder = NULL, detail = NULL;
             INSERT INTO meta (key, value) VALUES ('revoked', 'true')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value;",
        )?;
        Ok(())
    }

    /// A meta value.
    pub fn meta(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Sets a meta value.
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// The connection, for the sync client's bulk writes and for tests.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Replaces the event, its gates and ticket types.
fn write_event(tx: &rusqlite::Transaction<'_>, e: &bundle::BundleEvent) -> Result<(), Error> {
    for table in ["event", "gates", "ticket_types"] {
        tx.execute(&format!("DELETE FROM {table}"), [])?;
    }
    let days = serde_json::to_string(&e.days).map_err(|err| bad(err.to_string()))?;
    tx.execute(
        "INSERT INTO event (id, name, timezone, days, policy) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            e.id,
            e.name,
            e.timezone,
            days,
            codes::policy_str(codes::policy(e.policy))
        ],
    )?;
    let mut gate = tx.prepare("INSERT INTO gates (name, zones) VALUES (?1, ?2)")?;
    for g in &e.gates {
        gate.execute(params![g.name, g.zones])?;
    }
    let mut ty = tx.prepare("INSERT INTO ticket_types (id, name, kind) VALUES (?1, ?2, ?3)")?;
    for t in &e.ticket_types {
        ty.execute(params![t.id, t.name, t.kind])?;
    }
    Ok(())
}

/// Checks an event the way core will use it.
fn check_event(e: &bundle::BundleEvent) -> Result<(), Error> {
    e.timezone
        .parse::<Tz>()
        .map_err(|_| bad(format!("unknown timezone {:?}", e.timezone)))?;
    EventConfig::new(
        EventId(e.id),
        Tz::UTC,
        e.days.clone(),
        codes::policy(e.policy),
    )
    .map_err(|err| bad(err.to_string()))?;
    Ok(())
}

fn bad(reason: String) -> Error {
    Error::BadBundle(reason)
}

/// Checks what serde cannot: format and version, and values core would refuse.
fn check_bundle(b: &Bundle) -> Result<(), Error> {
    if b.format != bundle::FORMAT {
        return Err(bad(format!("not a replica bundle (format {:?})", b.format)));
    }
    if b.version != bundle::VERSION {
        return Err(bad(format!(
            "bundle version {} is not supported (this software reads version {})",
            b.version,
            bundle::VERSION
        )));
    }
    check_event(&b.event)?;
    let mut ring = Keyring::new();
    for k in &b.keys {
        let bytes: [u8; 32] = hex::decode(&k.public_key)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                bad(format!(
                    "key {}: public key must be 32 bytes of hex",
                    k.key_id
                ))
            })?;
        ring.insert(KeyId(k.key_id), &bytes, codes::key_status(k.status))
            .map_err(|e| bad(e.to_string()))?;
    }
    for t in &b.tickets {
        if codes::parse_status(&t.status).is_none() {
            return Err(bad(format!(
                "ticket {}: unknown status {:?}",
                t.ticket_id, t.status
            )));
        }
        if let Some(c) = &t.superseded_by
            && codes::parse_cause(c).is_none()
        {
            return Err(bad(format!("ticket {}: unknown cause {c:?}", t.ticket_id)));
        }
    }
    Ok(())
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}
