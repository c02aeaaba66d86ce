//! Salvaging a damaged `device.db` (`tessera-scan repair`): every queued check-in that can
//! still be read, and the identity, settings and kept keyring where they can be read, go into
//! a fresh store; the damaged file is renamed aside, never deleted.
//!
//! SQLite's own `.recover` is an extension the bundled library does not carry, so the salvage
//! reads through ordinary queries on a scratch copy: the whole queue first, and when that
//! fails, range by range of `seq` (the queue's key), halving a range that fails until a single
//! check-in is left, so one garbled page costs only the check-ins stored on it. A file whose
//! 100-byte header is garbled gets a rebuilt header on the copy; a file cut short is read with
//! `writable_schema`, which lets SQLite open a file shorter than its header says.
//!
//! This module does not decide anything about tickets and never touches `replica.db`.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;

use crate::Error;
use crate::device::{self, DeviceStore, REPAIRING, SEQ_FLOOR_KEY, sibling};
use crate::replica::EventSnapshot;

/// How far past the highest sequence number seen new check-ins start when the end of the
/// queue could not be read: far beyond what one device records in a festival. A gap in the
/// numbers is harmless (the server keys check-ins by `(device, seq)` and needs no run), while
/// reusing a number the server already holds would make it drop the new check-in as a resend.
const TAIL_MARGIN: i64 = 1_000_000;

/// Settings worth asking for one by one when the settings table cannot be read whole.
const KNOWN_SETTINGS: &[&str] = &[
    "server_url",
    "device_token",
    "revoked",
    "gate",
    "direction",
    SEQ_FLOOR_KEY,
];

/// What `tessera-scan repair` prints.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// `sound` (the file was fine; nothing done), `repaired`, or `finished` (a repair that
    /// had stopped half-way was completed).
    pub outcome: &'static str,
    /// What was wrong with the file.
    pub damage: Option<String>,
    /// Where the damaged file now is (with its `-wal` and `-shm` beside it, when there were).
    pub damaged_file: Option<PathBuf>,
    /// Whether the file's header was garbled and had to be rebuilt to read it.
    pub header_rebuilt: bool,
    /// `salvaged`; `rebuilt_from_queue` (the device id recovered from its check-ins, the name
    /// reset to "Scanner"); or `lost` (provisioning or enrolling again gives a new id).
    pub identity: &'static str,
    /// The device id in the fresh store.
    pub device_id: Option<String>,
    /// Check-ins copied into the fresh store.
    pub salvaged: u64,
    /// Of which the server had acknowledged.
    pub salvaged_acknowledged: u64,
    /// Of which still to upload.
    pub salvaged_unsent: u64,
    /// Sequence numbers that could not be read, as inclusive ranges.
    pub lost_seqs: Vec<[u64; 2]>,
    /// How many numbers `lost_seqs` covers.
    pub lost: u64,
    /// Whether each lost number is known to have held a check-in (the queue's index still
    /// listed it). When false, some of the numbers may never have been used.
    pub lost_exact: bool,
    /// When the end of the queue could not be read: the first number of that end. How many
    /// check-ins it held is unknown (the report says so rather than guess).
    pub unreadable_from: Option<u64>,
    /// Settings salvaged, by name (values are not printed: one is the device's token).
    pub settings: Vec<String>,
    /// Whether the kept event and keyring (signature-only mode) were salvaged.
    pub keyring: bool,
    /// New check-ins are numbered above this, when a repair lost the highest numbers.
    pub seq_floor: Option<u64>,
    /// What to do now.
    pub next_step: String,
}

/// Repairs the `device.db` in `data_dir` if it is damaged; leaves a sound one alone.
pub fn repair(data_dir: &Path, now: DateTime<Utc>) -> Result<RepairReport, Error> {
    let path = data_dir.join("device.db");
    let tmp = sibling(&path, REPAIRING);
    if !path.exists() && tmp.exists() {
        // The salvaged store was complete (fsynced) before the damaged file was moved aside;
        // only the last rename is missing.
        std::fs::rename(&tmp, &path)?;
        device::sync_dir(&path)?;
        let mut report = empty_report("finished");
        report.next_step =
            "an interrupted repair was completed: run `tessera-scan status` to check the device"
                .into();
        return Ok(report);
    }
    if !path.exists() {
        // Nothing here, or only a write-ahead log: opening says which; there is nothing a
        // salvage can read.
        DeviceStore::open(&path)?;
        let mut report = empty_report("sound");
        report.next_step = "there was no device.db; an empty one was created".into();
        return Ok(report);
    }
    let damage = match DeviceStore::open(&path) {
        Ok(_) => {
            let mut report = empty_report("sound");
            report.next_step = "device.db is sound: nothing to repair".into();
            return Ok(report);
        }
        Err(Error::DeviceDamaged { reason, .. }) => reason,
        Err(e) => return Err(e),
    };

    // Read from a scratch copy, so the damaged file itself stays exactly as it was found.
    let scratch = sibling(&path, ".salvage");
    device::remove_files(&scratch)?;
    std::fs::copy(&path, &scratch)?;
    let wal = sibling(&path, "-wal");
    if wal.exists() {
        std::fs::copy(&wal, sibling(&scratch, "-wal"))?;
    }
    let opened = open_scratch(&scratch)?;
    // The pages as SQLite reads them (with the rebuilt header, when it needed one).
    let bytes = std::fs::read(&scratch)?;
    let salvage = match opened {
        Some((conn, header_rebuilt)) => {
            let mut s = read_store(Some(&conn), &bytes);
            s.header_rebuilt = header_rebuilt;
            s
        }
        None => read_store(None, &bytes),
    };
    device::remove_files(&scratch)?;

    // Build the fresh store completely before anything is moved.
    device::remove_files(&tmp)?;
    let mut conn = device::build_fresh(&tmp)?;
    let written = write_store(&mut conn, &salvage, now)?;
    conn.close().map_err(|(_, e)| e)?;
    std::fs::File::open(&tmp)?.sync_all()?;

    let aside = aside_name(&path, now);
    for suffix in ["-wal", "-shm"] {
        let from = sibling(&path, suffix);
        if from.exists() {
            std::fs::rename(&from, sibling(&aside, suffix))?;
        }
    }
    std::fs::rename(&path, &aside)?;
    std::fs::rename(&tmp, &path)?;
    device::sync_dir(&path)?;

    let lost_count: u64 = salvage
        .lost
        .iter()
        .map(|[a, b]| b.saturating_sub(*a) + 1)
        .sum();
    let next_step = match (written.identity, salvage.rows.is_empty()) {
        ("lost", _) => "the device's identity could not be read: provision or enroll it again (it gets a new device id); the salvaged check-ins keep their old id and upload with it".into(),
        (_, true) => "no check-in could be read; the device can scan again (run `tessera-scan status`)".into(),
        _ => "the device can scan again; sync it as soon as possible to upload the salvaged check-ins".into(),
    };
    Ok(RepairReport {
        outcome: "repaired",
        damage: Some(damage),
        damaged_file: Some(aside),
        header_rebuilt: salvage.header_rebuilt,
        identity: written.identity,
        device_id: written.device_id,
        salvaged: salvage.rows.len() as u64,
        salvaged_acknowledged: salvage
            .rows
            .iter()
            .filter(|r| r.acked_at_ms.is_some())
            .count() as u64,
        salvaged_unsent: salvage
            .rows
            .iter()
            .filter(|r| r.acked_at_ms.is_none())
            .count() as u64,
        lost_seqs: salvage.lost.clone(),
        lost: lost_count,
        lost_exact: salvage.lost_exact,
        unreadable_from: salvage.tail_from.map(i64::unsigned_abs),
        settings: salvage.settings.iter().map(|(k, _)| k.clone()).collect(),
        keyring: salvage.kept_event.is_some(),
        seq_floor: written.seq_floor.map(|f| f.unsigned_abs()),
        next_step,
    })
}

fn empty_report(outcome: &'static str) -> RepairReport {
    RepairReport {
        outcome,
        damage: None,
        damaged_file: None,
        header_rebuilt: false,
        identity: "salvaged",
        device_id: None,
        salvaged: 0,
        salvaged_acknowledged: 0,
        salvaged_unsent: 0,
        lost_seqs: Vec::new(),
        lost: 0,
        lost_exact: true,
        unreadable_from: None,
        settings: Vec::new(),
        keyring: false,
        seq_floor: None,
        next_step: String::new(),
    }
}

/// `device.db.damaged-<UTC time>`, numbered if that exists already.
fn aside_name(path: &Path, now: DateTime<Utc>) -> PathBuf {
    let base = sibling(path, &format!(".damaged-{}", now.format("%Y%m%dT%H%M%SZ")));
    let mut candidate = base.clone();
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = sibling(&base, &format!("-{n}"));
    }
    candidate
}

/// One check-in as read from the damaged file.
#[derive(Debug, Clone)]
struct Row {
    device_id: String,
    seq: i64,
    ticket_id: Option<i64>,
    revision: Option<i64>,
    at_ms: i64,
    gate: String,
    direction: String,
    verdict: String,
    reason: Option<String>,
    basis: Option<String>,
    acked_at_ms: Option<i64>,
    text: Option<String>,
    server_admitted: Option<i64>,
    server_reason: Option<String>,
    conflict: i64,
    /// The check-in as this device signed it (venue mesh), when it was.
    signed: Option<Vec<u8>>,
}

/// A device's signing seed and certificate, each when it had one.
type MeshIdentity = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Everything read from the damaged file.
#[derive(Debug, Default)]
struct Salvage {
    header_rebuilt: bool,
    identity: Option<(String, String, String)>,
    /// The device's signing seed and venue-mesh certificate, when the store had them.
    mesh_identity: Option<MeshIdentity>,
    settings: Vec<(String, String)>,
    kept_event: Option<EventSnapshot>,
    rows: Vec<Row>,
    lost: Vec<[u64; 2]>,
    lost_exact: bool,
    /// The first number of an unreadable end of the queue.
    tail_from: Option<i64>,
    /// The highest sequence number any readable part of the file mentions.
    highest_seq: i64,
}

/// Opens the scratch copy for reading; rebuilds its header when SQLite cannot read it as it
/// is. `None` when nothing in it reads as a device store.
fn open_scratch(path: &Path) -> Result<Option<(Connection, bool)>, Error> {
    if let Ok(conn) = try_open(path) {
        return Ok(Some((conn, false)));
    }
    let len = std::fs::metadata(path)?.len();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let mut header = [0u8; 100];
    if len < 512 || file.read_exact(&mut header).is_err() {
        return Ok(None);
    }
    let stated = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u32::from(n),
    };
    let mut sizes = vec![stated];
    sizes.extend([4096, 1024, 2048, 8192, 16_384, 32_768, 65_536, 512]);
    let mut tried = BTreeSet::new();
    for size in sizes {
        if !size.is_power_of_two() || !(512..=65_536).contains(&size) || !tried.insert(size) {
            continue;
        }
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&rebuilt_header(size, len))?;
        file.sync_all()?;
        if let Ok(conn) = try_open(path) {
            return Ok(Some((conn, true)));
        }
    }
    Ok(None)
}

/// A header as SQLite writes it for a rollback-journal database of `len` bytes in pages of
/// `page_size`: what a garbled header most likely said for a file this software wrote.
fn rebuilt_header(page_size: u32, len: u64) -> [u8; 100] {
    let mut h = [0u8; 100];
    h[..16].copy_from_slice(b"SQLite format 3\0");
    let size_field: u16 = u16::try_from(page_size).unwrap_or(1); // 65536 is stored as 1
    h[16..18].copy_from_slice(&size_field.to_be_bytes());
    h[18] = 1; // file format versions: rollback journal, so a log is not required
    h[19] = 1;
    h[21] = 64; // payload fractions, fixed by the format
    h[22] = 32;
    h[23] = 32;
    h[24..28].copy_from_slice(&1u32.to_be_bytes()); // change counter
    let pages = u32::try_from(len / u64::from(page_size)).unwrap_or(u32::MAX);
    h[28..32].copy_from_slice(&pages.to_be_bytes());
    h[40..44].copy_from_slice(&1u32.to_be_bytes()); // schema cookie
    h[44..48].copy_from_slice(&4u32.to_be_bytes()); // schema format
    h[56..60].copy_from_slice(&1u32.to_be_bytes()); // UTF-8
    h[92..96].copy_from_slice(&1u32.to_be_bytes()); // the page count is valid for counter 1
    h[96..100].copy_from_slice(&3_045_000u32.to_be_bytes());
    h
}

fn try_open(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::default().difference(OpenFlags::SQLITE_OPEN_CREATE);
    let conn = Connection::open_with_flags(path, flags)?;
    // `writable_schema` lets SQLite read a file shorter than its header says (a truncated
    // file is otherwise refused whole); nothing is written through this connection.
    conn.pragma_update(None, "writable_schema", true)?;
    // Check each cell's size as it is read, so a garbled page fails instead of yielding junk.
    conn.pragma_update(None, "cell_size_check", true)?;
    let queue: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'queue'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match queue {
        Some(_) => Ok(conn),
        None => Err(rusqlite::Error::QueryReturnedNoRows),
    }
}

/// Reads whatever can be read; never fails (what cannot be read is reported as lost).
/// `conn` is the scratch copy when SQLite could open it; `bytes` are its pages.
fn read_store(conn: Option<&Connection>, bytes: &[u8]) -> Salvage {
    let mut s = Salvage {
        lost_exact: true,
        ..Salvage::default()
    };
    let mut queues = Vec::new();
    if let Some(conn) = conn {
        s.identity = conn
            .query_row(
                "SELECT device_id, name, created_at FROM identity",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok();
        s.mesh_identity = conn
            .query_row("SELECT signing_seed, certificate FROM identity", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok();
        s.settings = read_settings(conn);
        s.kept_event = device::read_kept_event(conn).ok().flatten();

        let columns = queue_columns(conn);
        let mut ids = BTreeSet::new();
        if let Some((id, _, _)) = &s.identity {
            ids.insert(id.clone());
        }
        for sql in [
            "SELECT DISTINCT device_id FROM queue",
            "SELECT device_id FROM queue ORDER BY device_id, seq LIMIT 1",
            "SELECT device_id FROM queue ORDER BY device_id DESC, seq DESC LIMIT 1",
            "SELECT DISTINCT device_id FROM queue INDEXED BY queue_ticket WHERE ticket_id IS NULL",
            "SELECT DISTINCT device_id FROM queue INDEXED BY queue_ticket WHERE ticket_id IS NOT NULL",
        ] {
            ids.extend(strings(conn, sql));
        }
        // No file holds more check-ins than it has bytes for: each takes well over 32.
        let capacity = i64::try_from(bytes.len() / 32).unwrap_or(i64::MAX);
        for id in ids {
            queues.push(read_device_queue(conn, &columns, &id, capacity));
        }
    }

    // Then the pages themselves, for check-ins no query reaches: a key kept on an interior
    // page beside a lost leaf, or a queue whose root or schema page is gone. Only records of
    // the queue's exact shape count; a row already read by a query is not taken twice.
    let page_size = page_size_of(bytes);
    for values in raw::records(bytes, page_size) {
        let Some(r) = row(None, values) else { continue };
        let queue = match queues.iter_mut().position(|q| q.device_id == r.device_id) {
            Some(i) => &mut queues[i],
            None => {
                queues.push(DeviceQueue::new(r.device_id.clone()));
                let last = queues.len() - 1;
                &mut queues[last]
            }
        };
        queue.add_raw(r);
    }

    for q in queues {
        q.finish(&mut s);
    }
    s.rows
        .sort_by(|a, b| (&a.device_id, a.seq).cmp(&(&b.device_id, b.seq)));
    s
}

/// The page size the file's header states, or SQLite's default when it states nonsense.
fn page_size_of(bytes: &[u8]) -> usize {
    let stated = match bytes.get(16..18) {
        Some(&[1, 0]) => 65_536,
        Some(&[a, b]) => usize::from(u16::from_be_bytes([a, b])),
        _ => 0,
    };
    if stated.is_power_of_two() && (512..=65_536).contains(&stated) {
        stated
    } else {
        4096
    }
}

/// One device's check-ins as salvaged so far.
struct DeviceQueue {
    device_id: String,
    rows: std::collections::BTreeMap<i64, Row>,
    /// Which numbers exist, when the queue's index could be read.
    indexed: Option<BTreeSet<i64>>,
    /// Numbers no query could read.
    unreadable: Vec<i64>,
    /// The first number of an unreadable end of the queue.
    tail_from: Option<i64>,
    /// The highest number any query or the index showed.
    hi: i64,
}

impl DeviceQueue {
    fn new(device_id: String) -> Self {
        Self {
            device_id,
            rows: std::collections::BTreeMap::new(),
            indexed: None,
            unreadable: Vec::new(),
            tail_from: None,
            hi: 0,
        }
    }

    /// A check-in read from a page. A page SQLite has freed may still hold an older copy of
    /// a row; copies differ only in the acknowledgement (the rest is immutable), so the one
    /// that has it wins.
    fn add_raw(&mut self, r: Row) {
        match self.rows.get(&r.seq) {
            Some(have) if have.acked_at_ms.is_some() || r.acked_at_ms.is_none() => {}
            _ => {
                self.rows.insert(r.seq, r);
            }
        }
    }

    fn finish(self, s: &mut Salvage) {
        let got: BTreeSet<i64> = self.rows.keys().copied().collect();
        let lost: Vec<i64> = match &self.indexed {
            Some(existing) => existing.difference(&got).copied().collect(),
            None => {
                let lost: Vec<i64> = self
                    .unreadable
                    .iter()
                    .copied()
                    .filter(|n| !got.contains(n))
                    .collect();
                s.lost_exact &= lost.is_empty();
                lost
            }
        };
        let tail_from = self
            .tail_from
            .map(|from| (from..).find(|n| !got.contains(n)).unwrap_or(from));
        s.lost.extend(ranges(&lost));
        s.tail_from = s.tail_from.max(tail_from);
        s.highest_seq = s
            .highest_seq
            .max(self.hi)
            .max(got.last().copied().unwrap_or(0))
            .max(lost.last().copied().unwrap_or(0))
            .max(tail_from.unwrap_or(0));
        s.rows.extend(self.rows.into_values());
    }
}

fn strings(conn: &Connection, sql: &str) -> Vec<String> {
    let Ok(mut stmt) = conn.prepare(sql) else {
        return Vec::new();
    };
    let Ok(rows) = stmt.query_map([], |r| r.get::<_, String>(0)) else {
        return Vec::new();
    };
    rows.collect::<Result<Vec<_>, _>>().unwrap_or_default()
}

fn read_settings(conn: &Connection) -> Vec<(String, String)> {
    let all = conn
        .prepare("SELECT key, value FROM settings")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()
        });
    match all {
        Ok(all) => all,
        Err(_) => KNOWN_SETTINGS
            .iter()
            .filter_map(|k| {
                conn.query_row("SELECT value FROM settings WHERE key = ?1", [k], |r| {
                    r.get::<_, String>(0)
                })
                .ok()
                .map(|v| ((*k).to_owned(), v))
            })
            .collect(),
    }
}

/// The queue's columns in this file (older stores lack the later ones).
fn queue_columns(conn: &Connection) -> Vec<String> {
    strings(conn, "SELECT name FROM pragma_table_info('queue')")
}

const WANTED: &[&str] = &[
    "device_id",
    "seq",
    "ticket_id",
    "revision",
    "at_ms",
    "gate",
    "direction",
    "verdict",
    "reason",
    "basis",
    "acked_at_ms",
    "text",
    "server_admitted",
    "server_reason",
    "conflict",
    "signed",
];

/// Salvages one device's check-ins through queries.
fn read_device_queue(
    conn: &Connection,
    columns: &[String],
    device_id: &str,
    capacity: i64,
) -> DeviceQueue {
    let select: Vec<String> = WANTED
        .iter()
        .map(|c| {
            if columns.iter().any(|have| have == c) {
                (*c).to_owned()
            } else {
                "NULL".to_owned()
            }
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM queue WHERE device_id = ?1 AND seq BETWEEN ?2 AND ?3 ORDER BY seq",
        select.join(", ")
    );
    let range = |lo: i64, hi: i64| -> Result<Vec<Row>, ()> {
        let mut stmt = conn.prepare(&sql).map_err(|_| ())?;
        let rows = stmt
            .query_map(params![device_id, lo, hi], |r| {
                (0..WANTED.len())
                    .map(|i| r.get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|_| ())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ())?;
        // A row whose key or verdict does not read back as written is as good as unreadable.
        rows.into_iter()
            .map(|v| row(Some(device_id), v).ok_or(()))
            .collect()
    };

    // Which numbers exist, from the index on ticket_id (a separate b-tree that carries each
    // check-in's key): exact knowledge of what is lost when it reads.
    let indexed: Option<BTreeSet<i64>> = [
        "SELECT seq FROM queue INDEXED BY queue_ticket WHERE device_id = ?1 AND ticket_id IS NULL",
        "SELECT seq FROM queue INDEXED BY queue_ticket WHERE device_id = ?1 AND ticket_id IS NOT NULL",
    ]
    .iter()
    .map(|sql| {
        conn.prepare(sql).and_then(|mut stmt| {
            stmt.query_map([device_id], |r| r.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
    })
    .collect::<Result<Vec<_>, _>>()
    .ok()
    .map(|parts| parts.into_iter().flatten().collect());
    let table_max: Option<i64> = conn
        .query_row(
            "SELECT MAX(seq) FROM queue WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )
        .ok()
        .flatten();
    let mut hi = table_max
        .into_iter()
        .chain(indexed.iter().flat_map(|i| i.last().copied()))
        .max()
        .unwrap_or(0);

    let mut rows = Vec::new();
    let mut unreadable = Vec::new();
    let mut tail_from = None;
    if let Ok(all) = range(1, i64::MAX) {
        rows = all;
    } else {
        // Without the index, the highest number is unknown when the last page is bad: search
        // up to as many check-ins as the file could hold.
        let top = if indexed.is_some() {
            hi
        } else {
            hi.max(capacity)
        };
        // Halve every failing range until it is one check-in: the readable pages around a
        // bad one still give theirs. A readable empty range costs one query.
        let mut pending = vec![(1, top.max(1))];
        while let Some((lo, up)) = pending.pop() {
            match range(lo, up) {
                Ok(mut got) => rows.append(&mut got),
                Err(()) if lo == up => unreadable.push(lo),
                Err(()) => {
                    let mid = lo + (up - lo) / 2;
                    pending.push((mid + 1, up));
                    pending.push((lo, mid));
                }
            }
        }
        unreadable.sort_unstable();
        let beyond = range(top.saturating_add(1), i64::MAX);
        if let Ok(mut more) = beyond {
            rows.append(&mut more);
        }
        if indexed.is_none() {
            // Unreadable numbers running up to the search's end are the queue's unknown end,
            // not a count of lost check-ins.
            let mut end = unreadable.len();
            while end > 0 && unreadable[end - 1] == top - (unreadable.len() - end) as i64 {
                end -= 1;
            }
            if end < unreadable.len() {
                tail_from = unreadable.get(end).copied();
                unreadable.truncate(end);
            }
        }
    }
    rows.sort_by_key(|r| r.seq);
    hi = hi.max(rows.last().map_or(0, |r| r.seq));
    let mut queue = DeviceQueue::new(device_id.to_owned());
    queue.rows = rows.into_iter().map(|r| (r.seq, r)).collect();
    queue.indexed = indexed;
    queue.unreadable = unreadable;
    queue.tail_from = tail_from;
    queue.hi = hi;
    queue
}

/// Turns one read row into a check-in, or `None` when its key or verdict is not what was
/// written (for a row read from a page, when it is not shaped like a check-in at all).
/// Optional fields that do not read as their type are dropped.
fn row(device_id: Option<&str>, v: Vec<Value>) -> Option<Row> {
    // Rows of older stores lack the later columns.
    if !(11..=WANTED.len()).contains(&v.len()) {
        return None;
    }
    let text = |i: usize| match v.get(i) {
        Some(Value::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let int = |i: usize| match v.get(i) {
        Some(Value::Integer(n)) => Some(*n),
        _ => None,
    };
    let direction = text(6).filter(|d| d == "entry" || d == "exit")?;
    let verdict = text(7).filter(|d| d == "admit" || d == "reject")?;
    // An acknowledgement that cannot be read counts as none: the check-in is uploaded again,
    // which is safe because the server stores check-ins by (device_id, seq) and answers a
    // resent one as before without storing it twice.
    let acked_at_ms = int(10);
    Some(Row {
        device_id: text(0).filter(|d| match device_id {
            Some(id) => d == id,
            // Device ids are 16 random bytes in hex.
            None => d.len() == 32 && d.bytes().all(|b| b.is_ascii_hexdigit()),
        })?,
        seq: int(1).filter(|s| *s > 0)?,
        ticket_id: int(2),
        revision: int(3),
        at_ms: int(4)?,
        gate: text(5)?,
        direction,
        verdict,
        reason: text(8),
        basis: text(9),
        acked_at_ms,
        text: text(11),
        server_admitted: acked_at_ms.and(int(12)),
        server_reason: acked_at_ms.and(text(13)),
        conflict: acked_at_ms.and(int(14)).unwrap_or(0),
        signed: match v.get(15) {
            Some(Value::Blob(b)) => Some(b.clone()),
            _ => None,
        },
    })
}

/// Sorted numbers as inclusive ranges.
fn ranges(seqs: &[i64]) -> Vec<[u64; 2]> {
    let mut out: Vec<[u64; 2]> = Vec::new();
    for &s in seqs {
        let s = s.unsigned_abs();
        match out.last_mut() {
            Some(last) if last[1] + 1 == s => last[1] = s,
            _ => out.push([s, s]),
        }
    }
    out
}

struct Written {
    identity: &'static str,
    device_id: Option<String>,
    seq_floor: Option<i64>,
}

/// Writes the salvage into the fresh store, in one transaction.
fn write_store(conn: &mut Connection, s: &Salvage, now: DateTime<Utc>) -> Result<Written, Error> {
    let ids: BTreeSet<&str> = s.rows.iter().map(|r| r.device_id.as_str()).collect();
    let (identity, outcome) = match (&s.identity, ids.len()) {
        (Some((id, name, created)), _) => (
            Some((id.clone(), name.clone(), created.clone())),
            "salvaged",
        ),
        // One device's check-ins and no identity: they are this device's, so it keeps its
        // id (and with it the keys its check-ins have on the server).
        (None, 1) => (
            ids.first()
                .map(|id| ((*id).to_owned(), "Scanner".to_owned(), now.to_rfc3339())),
            "rebuilt_from_queue",
        ),
        (None, _) => (None, "lost"),
    };
    let old_floor = s
        .settings
        .iter()
        .find(|(k, _)| k == SEQ_FLOOR_KEY)
        .and_then(|(_, v)| v.parse::<i64>().ok())
        .unwrap_or(0);
    let highest_read = s.rows.iter().map(|r| r.seq).max().unwrap_or(0);
    let mut floor = old_floor.max(s.highest_seq);
    if s.tail_from.is_some() {
        floor = floor.saturating_add(TAIL_MARGIN);
    }
    let seq_floor = (floor > highest_read).then_some(floor);

    let tx = conn.transaction()?;
    if let Some((id, name, created)) = &identity {
        tx.execute(
            "INSERT INTO identity (singleton, device_id, name, created_at) VALUES (1, ?1, ?2, ?3)",
            params![id, name, created],
        )?;
        // The same device keeps its key and certificate: it stays on the venue mesh, and
        // its salvaged check-ins' signatures stay its own.
        if s.identity.as_ref().is_some_and(|(read, _, _)| read == id)
            && let Some((seed, certificate)) = &s.mesh_identity
        {
            tx.execute(
                "UPDATE identity SET signing_seed = ?1, certificate = ?2",
                params![seed, certificate],
            )?;
        }
    }
    {
        let mut setting = tx.prepare(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?;
        for (k, v) in s.settings.iter().filter(|(k, _)| k != SEQ_FLOOR_KEY) {
            setting.execute(params![k, v])?;
        }
        if let Some(floor) = seq_floor {
            setting.execute(params![SEQ_FLOOR_KEY, floor.to_string()])?;
        }
        setting.execute(params!["repaired_at", now.to_rfc3339()])?;
        let mut insert = tx.prepare(
            "INSERT INTO queue (device_id, seq, ticket_id, revision, at_ms, gate, direction, verdict,
                                reason, basis, acked_at_ms, text, server_admitted, server_reason, conflict,
                                signed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        for r in &s.rows {
            insert.execute(params![
                r.device_id,
                r.seq,
                r.ticket_id,
                r.revision,
                r.at_ms,
                r.gate,
                r.direction,
                r.verdict,
                r.reason,
                r.basis,
                r.acked_at_ms,
                r.text,
                r.server_admitted,
                r.server_reason,
                r.conflict,
                r.signed
            ])?;
        }
    }
    if let Some(kept) = &s.kept_event {
        device::write_kept_event(&tx, kept)?;
    }
    tx.commit()?;
    Ok(Written {
        identity: outcome,
        device_id: identity.map(|(id, _, _)| id),
        seq_floor,
    })
}

/// Reading records straight from b-tree pages, for what no query can reach.
mod raw {
    use rusqlite::types::Value;

    /// Every record on the file's index b-tree pages (leaf and interior), each as its field
    /// values. The queue is a WITHOUT ROWID table, so its rows are such records; callers
    /// pick them out by shape. A cell whose payload spills onto overflow pages is skipped
    /// (a check-in is far smaller than a page).
    pub(super) fn records(bytes: &[u8], page_size: usize) -> Vec<Vec<Value>> {
        let mut out = Vec::new();
        for (i, page) in bytes.chunks_exact(page_size).enumerate() {
            let h = if i == 0 { 100 } else { 0 };
            let (header, child) = match page.get(h) {
                Some(0x0A) => (8, 0),
                Some(0x02) => (12, 4),
                _ => continue,
            };
            let cells = be16(page, h + 3).unwrap_or(0).min(page_size / 4);
            for c in 0..cells {
                let Some(at) = be16(page, h + header + 2 * c) else {
                    break;
                };
                if let Some(values) = cell(page, at + child).and_then(record) {
                    out.push(values);
                }
            }
        }
        out
    }

    fn be16(b: &[u8], at: usize) -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *b.get(at)?,
            *b.get(at + 1)?,
        ])))
    }

    /// SQLite's variable-length integer: 1 to 9 bytes, big-endian, 7 bits a byte.
    fn varint(b: &[u8]) -> Option<(u64, usize)> {
        let mut v = 0u64;
        for i in 0..9 {
            let byte = *b.get(i)?;
            if i == 8 {
                return Some(((v << 8) | u64::from(byte), 9));
            }
            v = (v << 7) | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                return Some((v, i + 1));
            }
        }
        None
    }

    /// The payload of the cell at `at`, when it lies wholly on the page.
    fn cell(page: &[u8], at: usize) -> Option<&[u8]> {
        let (len, n) = varint(page.get(at..)?)?;
        let start = at + n;
        page.get(start..start.checked_add(usize::try_from(len).ok()?)?)
    }

    /// A record's values (https://www.sqlite.org/fileformat.html#record_format).
    fn record(rec: &[u8]) -> Option<Vec<Value>> {
        let (header_len, mut off) = varint(rec)?;
        let header_len = usize::try_from(header_len).ok()?;
        let mut body = header_len;
        let mut values = Vec::new();
        while off < header_len {
            let (t, n) = varint(rec.get(off..header_len)?)?;
            off += n;
            let (value, size) = match t {
                0 => (Value::Null, 0),
                1..=6 => {
                    let size = [1, 2, 3, 4, 6, 8][usize::try_from(t - 1).ok()?];
                    let raw = rec.get(body..body + size)?;
                    // Sign-extend from the first byte.
                    let first = i64::from(i8::from_ne_bytes([*raw.first()?]));
                    let v = raw
                        .iter()
                        .skip(1)
                        .fold(first, |acc, b| (acc << 8) | i64::from(*b));
                    (Value::Integer(v), size)
                }
                7 => {
                    let raw: [u8; 8] = rec.get(body..body + 8)?.try_into().ok()?;
                    (Value::Real(f64::from_be_bytes(raw)), 8)
                }
                8 => (Value::Integer(0), 0),
                9 => (Value::Integer(1), 0),
                10 | 11 => return None,
                t => {
                    let size = usize::try_from((t - 12) / 2).ok()?;
                    let raw = rec.get(body..body + size)?;
                    if t % 2 == 0 {
                        (Value::Blob(raw.to_vec()), size)
                    } else {
                        (Value::Text(String::from_utf8(raw.to_vec()).ok()?), size)
                    }
                }
            };
            body += size;
            values.push(value);
        }
        (body == rec.len()).then_some(values)
    }
}
