//! What the mesh reads and writes in `device.db`: the version vector (per device, the highest
//! `seq` held and how many), the signed check-ins a peer lacks, and other gates' check-ins
//! held durably once verified.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tessera_core::mesh::{CheckInRecord, hex32};
use tessera_core::{Direction, PriorScan, Revision, TicketId};

use crate::Error;
use crate::codes;
use crate::device::DeviceStore;

/// What this gate holds of one device's check-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The device.
    pub device: [u8; 16],
    /// The highest `seq` held.
    pub max_seq: u64,
    /// How many are held (fewer than `max_seq` where a repair skipped numbers, or where some
    /// were missed).
    pub count: u64,
}

/// A signed check-in's `seq` and signed bytes.
pub type SignedRow = (u64, Vec<u8>);

/// A check-in held for another gate, for decisions and the local conflict view.
#[derive(Debug, Clone)]
pub struct HeldScan {
    /// The recording device (32 hex digits).
    pub device_id: String,
    /// Its `seq`.
    pub seq: u64,
    /// When (that device's corrected clock).
    pub at: DateTime<Utc>,
    /// The gate.
    pub gate: String,
    /// Entry or exit.
    pub direction: Direction,
    /// Whether it admitted.
    pub admitted: bool,
    /// The revision of the code scanned.
    pub revision: Option<Revision>,
    /// The scanned text.
    pub text: Option<String>,
}

impl DeviceStore {
    /// The version vector: every device this gate holds signed check-ins of (itself
    /// included).
    pub fn held(&self) -> Result<Vec<Held>, Error> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT device_id, MAX(seq), COUNT(*) FROM queue WHERE signed IS NOT NULL GROUP BY device_id
             UNION ALL
             SELECT device_id, MAX(seq), COUNT(*) FROM peer_check_ins GROUP BY device_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?;
        let mut out: Vec<Held> = Vec::new();
        for row in rows {
            let (id, max, count) = row?;
            let Some(device) = tessera_core::mesh::parse_device_id(&id) else {
                continue;
            };
            out.push(Held {
                device,
                max_seq: max.unsigned_abs(),
                count: count.unsigned_abs(),
            });
        }
        Ok(out)
    }

    /// How many signed check-ins of `device` this gate holds with `seq <= upto`.
    pub fn held_upto(&self, device: &[u8; 16], upto: u64) -> Result<u64, Error> {
        let id = hex32(device);
        let upto = i64::try_from(upto).unwrap_or(i64::MAX);
        let n: i64 = self.conn().query_row(
            "SELECT (SELECT COUNT(*) FROM queue WHERE device_id = ?1 AND seq <= ?2 AND signed IS NOT NULL)
                  + (SELECT COUNT(*) FROM peer_check_ins WHERE device_id = ?1 AND seq <= ?2)",
            params![id, upto],
            |r| r.get(0),
        )?;
        Ok(n.unsigned_abs())
    }

    /// The signed check-ins of `device` with `seq > after`, oldest first, at most `limit`.
    pub fn signed_after(
        &self,
        device: &[u8; 16],
        after: u64,
        limit: u32,
    ) -> Result<Vec<SignedRow>, Error> {
        let id = hex32(device);
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, signed FROM queue WHERE device_id = ?1 AND seq > ?2 AND signed IS NOT NULL
             UNION ALL
             SELECT seq, signed FROM peer_check_ins WHERE device_id = ?1 AND seq > ?2
             ORDER BY 1 LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![id, after, limit], |r| {
            Ok((r.get::<_, i64>(0)?.unsigned_abs(), r.get::<_, Vec<u8>>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The certificate kept for another device's held check-ins.
    pub fn peer_certificate(&self, device: &[u8; 16]) -> Result<Option<Vec<u8>>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT certificate FROM peer_certificates WHERE device_id = ?1",
                [hex32(device)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Keeps a peer's certificate and the name it gave in its handshake.
    pub fn remember_peer(
        &mut self,
        device: &[u8; 16],
        certificate: &[u8],
        name: &str,
    ) -> Result<(), Error> {
        self.conn().execute(
            "INSERT INTO peer_certificates (device_id, certificate, name) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id) DO UPDATE SET certificate = excluded.certificate,
                name = excluded.name",
            params![hex32(device), certificate, name],
        )?;
        Ok(())
    }

    /// A peer's name as it gave it, if it was ever met directly.
    pub fn peer_name(&self, device_id: &str) -> Result<Option<String>, Error> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name FROM peer_certificates WHERE device_id = ?1",
                [device_id],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Holds a verified check-in of another device, with the certificate it verified under,
    /// in one commit. Returns whether it was new.
    pub fn hold(
        &mut self,
        record: &CheckInRecord,
        signed: &[u8],
        certificate: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let id = hex32(&record.device);
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "INSERT INTO peer_certificates (device_id, certificate) VALUES (?1, ?2)
             ON CONFLICT (device_id) DO UPDATE SET certificate = excluded.certificate
             WHERE certificate <> excluded.certificate",
            params![id, certificate],
        )?;
        let n = tx.execute(
            "INSERT INTO peer_check_ins (device_id, seq, ticket_id, revision, at_ms, gate, direction,
                                         admitted, text, signed, received_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (device_id, seq) DO NOTHING",
            params![
                id,
                i64::try_from(record.seq).unwrap_or(i64::MAX),
                record.ticket.map(|(t, _)| t.0 as i64),
                record.ticket.map(|(_, r)| r.0),
                record.at_ms,
                record.gate,
                record.direction.as_str(),
                record.admitted,
                record.text,
                signed,
                now.timestamp_millis(),
            ],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    /// Other gates' check-ins of `ticket`, skipping those `known` says the replica has from
    /// the server already.
    pub fn peer_history(
        &self,
        ticket: TicketId,
        names: &dyn Fn(&str) -> String,
        known: &dyn Fn(&str, u64) -> bool,
        out: &mut Vec<PriorScan>,
    ) -> Result<(), Error> {
        for s in self.held_scans(ticket)? {
            if known(&s.device_id, s.seq) {
                continue;
            }
            out.push(PriorScan {
                at: s.at,
                gate: s.gate,
                device: names(&s.device_id),
                direction: s.direction,
                admitted: s.admitted,
                revision: s.revision,
            });
        }
        Ok(())
    }

    /// Every held check-in of `ticket` from other gates.
    pub fn held_scans(&self, ticket: TicketId) -> Result<Vec<HeldScan>, Error> {
        self.scans_of(
            "SELECT device_id, seq, at_ms, gate, direction, admitted, text, revision
             FROM peer_check_ins WHERE ticket_id = ?1",
            ticket,
        )
    }

    /// This gate's own check-ins of `ticket`, in the same shape.
    pub fn own_scans(&self, ticket: TicketId) -> Result<Vec<HeldScan>, Error> {
        self.scans_of(
            "SELECT device_id, seq, at_ms, gate, direction, verdict = 'admit', text, revision
             FROM queue WHERE ticket_id = ?1",
            ticket,
        )
    }

    /// Reads `sql`'s rows (device, seq, time, gate, direction, admitted, text, revision).
    fn scans_of(&self, sql: &str, ticket: TicketId) -> Result<Vec<HeldScan>, Error> {
        let mut stmt = self.conn().prepare_cached(sql)?;
        let rows = stmt.query_map([ticket.0 as i64], |r| {
            Ok(HeldScan {
                device_id: r.get(0)?,
                seq: r.get::<_, i64>(1)?.unsigned_abs(),
                at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                gate: r.get(3)?,
                direction: codes::parse_direction(&r.get::<_, String>(4)?)
                    .unwrap_or(Direction::Entry),
                admitted: r.get(5)?,
                text: r.get(6)?,
                revision: r.get::<_, Option<u16>>(7)?.map(Revision),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Replaces what is flagged for `ticket` with `flagged` (device id, seq, conflict).
    pub fn keep_mesh_conflicts(
        &mut self,
        ticket: TicketId,
        flagged: &[(String, u64, crate::replica::Conflict)],
    ) -> Result<(), Error> {
        let tx = self.conn_mut().transaction()?;
        tx.execute(
            "DELETE FROM mesh_conflicts WHERE ticket_id = ?1",
            [ticket.0 as i64],
        )?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO mesh_conflicts (device_id, seq, ticket_id, kind, at_ms, gate, device,
                                             first_at_ms, first_gate, first_device)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (device_id, seq, c) in flagged {
                insert.execute(params![
                    device_id,
                    i64::try_from(*seq).unwrap_or(i64::MAX),
                    ticket.0 as i64,
                    c.kind,
                    c.at.timestamp_millis(),
                    c.gate,
                    c.device,
                    c.first_at.map(|t| t.timestamp_millis()),
                    c.first_gate,
                    c.first_device,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// What the mesh's check-ins were judged to show, newest first, at most 200.
    pub fn mesh_conflicts(&self) -> Result<Vec<crate::replica::Conflict>, Error> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT kind, ticket_id, at_ms, gate, device, first_at_ms, first_gate, first_device
             FROM mesh_conflicts ORDER BY at_ms DESC LIMIT 200",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(crate::replica::Conflict {
                kind: r.get(0)?,
                ticket_id: r.get::<_, Option<i64>>(1)?.map(|t| t as u64),
                at: DateTime::from_timestamp_millis(r.get(2)?).unwrap_or_default(),
                gate: r.get(3)?,
                device: r.get(4)?,
                first_at: r
                    .get::<_, Option<i64>>(5)?
                    .and_then(DateTime::from_timestamp_millis),
                first_gate: r.get(6)?,
                first_device: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Held check-ins the server has not confirmed yet, grouped by device, at most `limit`
    /// per device: what this gate carries up for others.
    pub fn unrelayed(&self, limit: u32) -> Result<Vec<(String, Vec<SignedRow>)>, Error> {
        let mut devices = self
            .conn()
            .prepare("SELECT DISTINCT device_id FROM peer_check_ins WHERE relayed_at_ms IS NULL")?;
        let ids = devices
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT seq, signed FROM peer_check_ins WHERE device_id = ?1 AND relayed_at_ms IS NULL
             ORDER BY seq LIMIT ?2",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let rows = stmt
                .query_map(params![id, limit], |r| {
                    Ok((r.get::<_, i64>(0)?.unsigned_abs(), r.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push((id, rows));
        }
        Ok(out)
    }

    /// Marks held check-ins as confirmed by the server.
    pub fn mark_relayed(
        &mut self,
        device_id: &str,
        seqs: &[u64],
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let tx = self.conn_mut().transaction()?;
        {
            let mut stmt = tx.prepare(
                "UPDATE peer_check_ins SET relayed_at_ms = ?1
                 WHERE device_id = ?2 AND seq = ?3 AND relayed_at_ms IS NULL",
            )?;
            for seq in seqs {
                stmt.execute(params![
                    at.timestamp_millis(),
                    device_id,
                    i64::try_from(*seq).unwrap_or(i64::MAX)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// How many check-ins of other gates are held, and how many of them the server has not
    /// confirmed.
    pub fn held_counts(&self) -> Result<(u64, u64), Error> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE relayed_at_ms IS NULL) FROM peer_check_ins",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?.unsigned_abs(),
                    r.get::<_, i64>(1)?.unsigned_abs(),
                ))
            },
        )?)
    }
}
