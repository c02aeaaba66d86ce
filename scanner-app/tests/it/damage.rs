//! Damaged device files: a `device.db` that is empty, cut short or garbled is refused and
//! salvaged by `tessera-scan repair`; a damaged `replica.db` leaves the gate scanning in
//! signature-only mode. Every check-in recorded before the damage that lies on a readable
//! page must come back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tessera_scanner::device::{Ack, QueuedCheckIn};
use tessera_scanner::{Error, Scanner};

use crate::fixtures::{bundle, now, ticket};

/// How a file is damaged.
#[derive(Debug, Clone, Copy)]
enum Damage {
    /// Cut to 0 bytes.
    Empty,
    /// Cut at the start of a page in the middle of the queue (or the tickets table).
    Truncated,
    /// The 100-byte database header overwritten with junk.
    GarbledHeader,
    /// One page in the middle of the queue (or the tickets table) overwritten with junk.
    GarbledPage,
}

const CASES: [Damage; 4] = [
    Damage::Empty,
    Damage::Truncated,
    Damage::GarbledHeader,
    Damage::GarbledPage,
];

/// Check-ins recorded before the damage.
const SCANS: u64 = 240;
/// Of which the server acknowledged the first.
const ACKED: u64 = 60;
/// Tickets in the bundle: enough for the replica's tickets table to span many pages.
const TICKETS: u64 = 2_000;

fn tessera_scan(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tessera-scan"));
    c.arg("--data-dir").arg(dir);
    c
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// A provisioned device with `SCANS` check-ins, the first `ACKED` acknowledged, closed (so
/// its write-ahead log is checkpointed into the file). Returns its queue.
fn device_with_history(dir: &Path) -> Vec<QueuedCheckIn> {
    let mut s = Scanner::open(dir).unwrap();
    s.provision(&bundle(TICKETS), Some("Tablet-3"), now())
        .unwrap();
    for i in 1..=SCANS {
        s.scan(&ticket(i), now()).unwrap();
    }
    let acks: Vec<Ack> = (1..=ACKED)
        .map(|seq| Ack {
            seq,
            server_admitted: true,
            server_reason: None,
            conflict: false,
        })
        .collect();
    s.device().acknowledge(&acks, now()).unwrap();
    let queue = s.device().all().unwrap();
    assert_eq!(queue.len() as u64, SCANS);
    queue
}

/// Junk that is the same on every run.
fn junk(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Just enough of the SQLite file format to find which page holds what.
struct Pages {
    bytes: Vec<u8>,
    size: usize,
}

impl Pages {
    fn read(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap();
        let size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65_536,
            n => usize::from(n),
        };
        Self { bytes, size }
    }

    fn page(&self, n: u32) -> (&[u8], usize) {
        let start = (n as usize - 1) * self.size;
        let header = if n == 1 { 100 } else { 0 };
        (&self.bytes[start..start + self.size], header)
    }

    /// The leaf pages of the b-tree rooted at `root`, in key order.
    fn leaves(&self, root: u32) -> Vec<u32> {
        let (p, h) = self.page(root);
        match p[h] {
            0x0A | 0x0D => vec![root],
            0x02 | 0x05 => {
                let cells = usize::from(u16::from_be_bytes([p[h + 3], p[h + 4]]));
                let mut children: Vec<u32> = (0..cells)
                    .map(|i| {
                        let at =
                            usize::from(u16::from_be_bytes([p[h + 12 + 2 * i], p[h + 13 + 2 * i]]));
                        u32::from_be_bytes(p[at..at + 4].try_into().unwrap())
                    })
                    .collect();
                children.push(u32::from_be_bytes(p[h + 8..h + 12].try_into().unwrap()));
                children.into_iter().flat_map(|c| self.leaves(c)).collect()
            }
            other => panic!("page {root}: unexpected b-tree page type {other:#x}"),
        }
    }

    /// The `seq` of every check-in on a page of the queue. It is a WITHOUT ROWID table, so
    /// interior pages hold check-ins too (the keys that divide the leaves); each cell is a
    /// record whose first two fields are device_id and seq.
    fn queue_seqs(&self, n: u32) -> Vec<u64> {
        let (p, h) = self.page(n);
        let (header, child) = match p[h] {
            0x0A => (8, 0),
            0x02 => (12, 4),
            other => panic!("page {n} is not a queue page ({other:#x})"),
        };
        let cells = usize::from(u16::from_be_bytes([p[h + 3], p[h + 4]]));
        (0..cells)
            .map(|i| {
                let at = usize::from(u16::from_be_bytes([
                    p[h + header + 2 * i],
                    p[h + header + 1 + 2 * i],
                ])) + child;
                let (_, n) = varint(&p[at..]); // payload size
                let record = &p[at + n..];
                let (header_len, mut off) = varint(record);
                let (t_id, n) = varint(&record[off..]);
                off += n;
                let (t_seq, _) = varint(&record[off..]);
                assert!(t_id >= 13 && t_id % 2 == 1, "device_id is text");
                let body = header_len as usize + ((t_id - 13) / 2) as usize;
                let len = match t_seq {
                    1..=4 => t_seq as usize,
                    5 => 6,
                    6 => 8,
                    8 => return 0,
                    9 => return 1,
                    other => panic!("seq has serial type {other}"),
                };
                record[body..body + len]
                    .iter()
                    .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            })
            .collect()
    }

    /// The check-ins on the pages of the queue's b-tree (read from the intact file) that
    /// `alive` says the damage left readable.
    fn seqs_on(&self, root: u32, alive: &dyn Fn(u32) -> bool) -> BTreeSet<u64> {
        let mut seqs = BTreeSet::new();
        if alive(root) {
            seqs.extend(self.queue_seqs(root));
        }
        let (p, h) = self.page(root);
        if p[h] == 0x02 {
            let cells = usize::from(u16::from_be_bytes([p[h + 3], p[h + 4]]));
            let mut children: Vec<u32> = (0..cells)
                .map(|i| {
                    let at =
                        usize::from(u16::from_be_bytes([p[h + 12 + 2 * i], p[h + 13 + 2 * i]]));
                    u32::from_be_bytes(p[at..at + 4].try_into().unwrap())
                })
                .collect();
            children.push(u32::from_be_bytes(p[h + 8..h + 12].try_into().unwrap()));
            for c in children {
                seqs.extend(self.seqs_on(c, alive));
            }
        }
        seqs
    }
}

fn varint(b: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(9) {
        if i == 8 {
            return ((v << 8) | u64::from(*byte), 9);
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    (v, 9)
}

fn root_page(path: &Path, table: &str) -> u32 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(
        "SELECT rootpage FROM sqlite_master WHERE name = ?1",
        [table],
        |r| r.get(0),
    )
    .unwrap()
}

/// Damages `path`. The page cases pick a leaf page in the middle of `table`'s b-tree (in
/// key order), so readable pages lie on both sides of it; returns that page.
fn damage(path: &Path, how: Damage, table: &str) -> Option<u32> {
    let pages = Pages::read(path);
    let leaves = pages.leaves(root_page(path, table));
    assert!(leaves.len() >= 5, "{table} spans {} pages", leaves.len());
    let middle = leaves[leaves.len() / 2];
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    match how {
        Damage::Empty => file.set_len(0).unwrap(),
        Damage::Truncated => file
            .set_len(u64::from(middle - 1) * pages.size as u64)
            .unwrap(),
        Damage::GarbledHeader => {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&junk(100, 7), 0).unwrap();
        }
        Damage::GarbledPage => {
            use std::os::unix::fs::FileExt;
            file.write_all_at(
                &junk(pages.size, 11),
                u64::from(middle - 1) * pages.size as u64,
            )
            .unwrap();
        }
    }
    file.sync_all().unwrap();
    matches!(how, Damage::Truncated | Damage::GarbledPage).then_some(middle)
}

/// The check-ins that lie on pages the damage left readable.
fn survivors(db: &Pages, how: Damage, page: Option<u32>, root: u32) -> BTreeSet<u64> {
    match (how, page) {
        (Damage::Empty, _) => BTreeSet::new(),
        (Damage::GarbledHeader, _) => db.seqs_on(root, &|_| true),
        (Damage::Truncated, Some(cut)) => db.seqs_on(root, &|p| p < cut),
        (Damage::GarbledPage, Some(bad)) => db.seqs_on(root, &|p| p != bad),
        _ => unreachable!(),
    }
}

#[test]
fn a_damaged_device_db_is_refused_and_repair_salvages_every_readable_check_in() {
    for how in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("device");
        let before = device_with_history(&dir);
        let (identity, key) = {
            let mut s = Scanner::open(&dir).unwrap();
            let key = s.device().signer().unwrap().public_key();
            (s.device().identity().cloned().unwrap(), key)
        };
        let db = dir.join("device.db");
        let intact = Pages::read(&db);
        let queue_root = root_page(&db, "queue");
        let page = damage(&db, how, "queue");
        let expected = survivors(&intact, how, page, queue_root);
        let damaged_bytes = std::fs::read(&db).unwrap();
        match how {
            Damage::Empty => assert!(expected.is_empty()),
            Damage::GarbledHeader => assert_eq!(expected.len() as u64, SCANS, "{how:?}"),
            // The page cases must prove something: check-ins lost on one side, kept on both.
            Damage::Truncated | Damage::GarbledPage => {
                assert!(expected.len() as u64 > SCANS / 3, "{how:?}: {expected:?}");
                assert!((expected.len() as u64) < SCANS, "{how:?}");
            }
        }
        if let Damage::GarbledPage = how {
            let lost: Vec<u64> = (1..=SCANS).filter(|s| !expected.contains(s)).collect();
            assert!(
                expected.contains(&1) && expected.contains(&SCANS),
                "{lost:?}"
            );
        }

        // Refused by the library and by the CLI, naming the file and the way out.
        let e = Scanner::open(&dir).err().unwrap();
        assert!(matches!(e, Error::DeviceDamaged { .. }), "{how:?}: {e}");
        let message = e.to_string();
        assert!(message.contains(&db.display().to_string()), "{message}");
        assert!(
            message.contains(&format!("tessera-scan repair --data-dir {}", dir.display())),
            "{message}"
        );
        let out = tessera_scan(&dir).arg("status").output().unwrap();
        assert!(
            !out.status.success(),
            "{how:?}: status ran on a damaged file"
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("tessera-scan repair"),
            "{how:?}"
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            damaged_bytes,
            "{how:?}: refusing changed the file"
        );

        // Repaired through the CLI.
        let report = json(&tessera_scan(&dir).arg("repair").output().unwrap());
        assert_eq!(report["outcome"], "repaired", "{how:?}: {report}");
        assert_eq!(
            report["salvaged"],
            expected.len() as u64,
            "{how:?}: {report}"
        );
        let aside = PathBuf::from(report["damaged_file"].as_str().unwrap());
        assert!(
            aside
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("device.db.damaged-")
        );
        assert_eq!(
            std::fs::read(&aside).unwrap(),
            damaged_bytes,
            "{how:?}: the damaged file is kept as it was"
        );

        let mut s = Scanner::open(&dir).unwrap();
        assert_eq!(s.device().integrity_check().unwrap(), "ok");
        let after = s.device().all().unwrap();
        let seqs: BTreeSet<u64> = after.iter().map(|q| q.seq).collect();
        assert_eq!(seqs, expected, "{how:?}: exactly the readable check-ins");
        for q in &after {
            let was = before.iter().find(|b| b.seq == q.seq).unwrap();
            assert_eq!(q, was, "{how:?}: seq {} came back changed", q.seq);
        }
        let unsent = after.iter().filter(|q| !q.acked).count() as u64;
        assert_eq!(report["salvaged_unsent"], unsent, "{report}");
        if report["identity"] == "salvaged" {
            // Its own key too: the salvaged check-ins' signatures stay its own.
            assert_eq!(s.device().signer().unwrap().public_key(), key, "{how:?}");
        }

        // The fresh store is append-only too.
        let conn = s.device().connection();
        let triggers: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'
                 AND name IN ('queue_no_delete', 'queue_immutable')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 2);
        if !expected.is_empty() {
            assert!(conn.execute("DELETE FROM queue", []).is_err());
            assert!(
                conn.execute("UPDATE queue SET verdict = 'admit'", [])
                    .is_err()
            );
        }

        match how {
            Damage::Empty => {
                assert_eq!(report["identity"], "lost", "{report}");
                assert!(s.device().identity().is_none());
            }
            _ => {
                assert_eq!(report["identity"], "salvaged", "{report}");
                assert_eq!(s.device().identity(), Some(&identity));
                // A new check-in never takes a number an earlier one may have had.
                let r = s.scan(&ticket(SCANS + 5), now()).unwrap();
                assert!(r.seq > SCANS, "{how:?}: new check-in numbered {}", r.seq);
                assert_eq!(r.verdict, "admit");
            }
        }
        if let Damage::GarbledPage = how {
            // The queue's index still lists every check-in: the loss is known exactly.
            let lost: Vec<u64> = (1..=SCANS).filter(|s| !expected.contains(s)).collect();
            let first = *lost.first().unwrap();
            let last = *lost.last().unwrap();
            assert_eq!(lost.len() as u64, last - first + 1, "one page, one run");
            assert_eq!(report["lost_seqs"], serde_json::json!([[first, last]]));
            assert_eq!(report["lost_exact"], true);
            // A ticket admitted on a readable page is still refused.
            let kept = *expected.iter().find(|s| **s > last).unwrap();
            assert_eq!(
                s.scan(&ticket(kept), now()).unwrap().reason,
                Some("already_admitted")
            );
        }
        if let Damage::GarbledHeader = how {
            assert_eq!(report["header_rebuilt"], true);
            assert_eq!(report["lost"], 0);
        }
        drop(s);

        let again = json(&tessera_scan(&dir).arg("repair").output().unwrap());
        assert_eq!(again["outcome"], "sound", "{how:?}");
    }
}

#[test]
fn a_damaged_replica_db_leaves_the_gate_scanning_on_signatures() {
    for how in CASES {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("device");
        let before = device_with_history(&dir);
        damage(&dir.join("replica.db"), how, "tickets");

        let mut s = Scanner::open(&dir).unwrap();
        let status = s.status(now()).unwrap();
        assert_eq!(status.mode, Some("signature_only"), "{how:?}");
        assert_eq!(status.event.as_deref(), Some("Demo Festival"));
        assert_eq!(status.replica.tickets, 0);
        assert_eq!(status.check_ins.total as usize, before.len());
        if !matches!(how, Damage::Empty) {
            // An empty file is a valid empty database; anything else is moved aside.
            let aside = status.replica_rebuilt_from.clone().unwrap();
            assert!(aside.exists(), "{how:?}");
        }

        // Its own admissions still count ...
        let again = s.scan(&ticket(1), now()).unwrap();
        assert_eq!(again.reason, Some("already_admitted"), "{how:?}");
        assert_eq!(again.mode, "signature_only");
        // ... a new ticket is judged on its signature ...
        let new = s.scan(&ticket(SCANS + 1), now()).unwrap();
        assert_eq!((new.verdict, new.basis), ("admit", Some("signature_only")));
        assert_eq!(new.ticket_type.as_deref(), Some("3-Day Pass"));
        assert_eq!(new.holder, None, "no personal data outside the replica");
        assert!(new.message.contains("signature only"), "{}", new.message);
        // ... and this is the mode's limit: ticket 2 was refunded, but until the next sync
        // the gate cannot know.
        assert_eq!(s.scan(&ticket(2), now()).unwrap().verdict, "admit");
        drop(s);

        // The CLI says so too.
        let status = json(&tessera_scan(&dir).arg("status").output().unwrap());
        assert_eq!(status["mode"], "signature_only");
        let out = tessera_scan(&dir)
            .args(["check", "--text", &ticket(SCANS + 2)])
            .output()
            .unwrap();
        let scan = json(&out);
        assert_eq!(scan["verdict"], "admit");
        assert_eq!(scan["basis"], "signature_only");
        assert_eq!(scan["mode"], "signature_only");
        assert!(String::from_utf8_lossy(&out.stderr).contains("signature-only mode"));

        // No check-in lost; provisioned again, the gate is back on its replica.
        let mut s = Scanner::open(&dir).unwrap();
        let queue = s.device().all().unwrap();
        assert_eq!(queue.len(), before.len() + 4, "{how:?}");
        assert_eq!(&queue[..before.len()], &before[..]);
        s.provision(&bundle(TICKETS), None, now()).unwrap();
        assert_eq!(s.status(now()).unwrap().mode, Some("replica"));
        assert_eq!(
            s.scan(&ticket(2), now()).unwrap().reason,
            Some("revoked"),
            "{how:?}"
        );
    }
}

#[test]
fn a_missing_device_db_is_created_but_traces_of_an_old_one_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new");
    let s = Scanner::open(&dir).unwrap();
    drop(s);
    assert!(dir.join("device.db").metadata().unwrap().len() > 0);
    assert!(!dir.join("device.db.creating").exists());

    // A device.db deleted while its write-ahead log still holds check-ins.
    let dir = tmp.path().join("deleted");
    device_with_history(&dir);
    let mut s = Scanner::open(&dir).unwrap();
    s.scan(&ticket(SCANS + 1), now()).unwrap();
    std::fs::copy(dir.join("device.db-wal"), tmp.path().join("wal")).unwrap();
    drop(s);
    std::fs::remove_file(dir.join("device.db")).unwrap();
    std::fs::copy(tmp.path().join("wal"), dir.join("device.db-wal")).unwrap();
    let e = Scanner::open(&dir).err().unwrap();
    assert!(matches!(e, Error::DeviceDamaged { .. }), "{e}");
    assert!(e.to_string().contains("write-ahead log"), "{e}");
    assert!(
        !dir.join("device.db").exists(),
        "nothing created in its place"
    );
}
