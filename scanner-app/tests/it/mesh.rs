//! The venue mesh between gates in one process on 127.0.0.1: check-ins spread with the
//! server away, partitions heal into conflicts every gate shows, and strangers (a forged or
//! revoked certificate, a changed byte in a relayed check-in) get nothing in.

use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tessera_core::mesh::{CertificateClaims, CheckInRecord, DeviceSigner, parse_device_id};
use tessera_core::{Direction, EventId, KeyId, Revision, TicketId, TicketSigner};
use tessera_scanner::Scanner;
use tessera_scanner::mesh::session::{Role, key_exchange};
use tessera_scanner::mesh::{Mesh, MeshConfig};

use crate::fixtures::{EVENT, bundle, now, signer, ticket};

/// A provisioned gate with a certificate from `server` (the festival's key unless a test
/// forges one).
fn gate(dir: &Path, name: &str, server: &TicketSigner) -> Scanner {
    let mut s = Scanner::open(dir).unwrap();
    s.provision(&bundle(200), Some(name), now()).unwrap();
    let key = s.device().signer().unwrap().public_key();
    let id = parse_device_id(&s.device().identity().unwrap().device_id).unwrap();
    let cert = CertificateClaims {
        key: server.id(),
        event: EventId(EVENT),
        device: id,
        device_key: key,
        issued_at_ms: 0,
    }
    .sign(server);
    s.device().set_certificate(&cert).unwrap();
    s
}

fn join(dir: &Path, peers: &[&Mesh]) -> Mesh {
    Mesh::start(
        dir,
        &MeshConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: peers.iter().map(|m| m.local_addr().to_string()).collect(),
            mdns: false,
        },
    )
    .unwrap()
}

/// Waits (bounded) until `cond` holds; false when it never did.
fn within(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

fn scan(s: &mut Scanner, mesh: Option<&Mesh>, text: &str) -> tessera_scanner::ScanReport {
    let r = s.scan(text, now()).unwrap();
    if let (Some(m), Some(signed)) = (mesh, s.device().take_last_signed()) {
        m.push(signed);
    }
    r
}

fn holds(dir: &Path, ticket: u64) -> bool {
    let mut s = Scanner::open(dir).unwrap();
    !s.device().held_scans(TicketId(ticket)).unwrap().is_empty()
}

#[test]
fn a_ticket_admitted_at_one_gate_is_already_admitted_at_the_others_within_2_s() {
    let dirs: Vec<TempDir> = (0..3).map(|_| TempDir::new().unwrap()).collect();
    let mut gates: Vec<Scanner> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| gate(d.path(), &format!("Gate {i}"), &signer()))
        .collect();
    let a = join(dirs[0].path(), &[]);
    let b = join(dirs[1].path(), &[&a]);
    let c = join(dirs[2].path(), &[&a, &b]);
    assert!(
        within(Duration::from_secs(10), || [&a, &b, &c]
            .iter()
            .all(|m| m.peers().len() == 2)),
        "the three gates never all met: {:?} {:?} {:?}",
        a.peers(),
        b.peers(),
        c.peers()
    );
    for t in 10..30u64 {
        let first = scan(&mut gates[0], Some(&a), &ticket(t));
        assert_eq!(first.verdict, "admit");
        for (i, d) in dirs.iter().enumerate().skip(1) {
            assert!(
                within(Duration::from_secs(2), || holds(d.path(), t)),
                "ticket {t} did not reach gate {i} within 2 s"
            );
        }
        for (g, m) in gates.iter_mut().zip([&a, &b, &c]).skip(1) {
            let again = scan(g, Some(m), &ticket(t));
            assert_eq!(again.reason, Some("already_admitted"), "{again:?}");
            assert_eq!(again.first_entry.unwrap().device, "Gate 0");
        }
    }
    // The rejections spread too, and nothing is held twice: each gate holds the other
    // two gates' 20 check-ins each.
    for g in &mut gates {
        assert!(
            within(Duration::from_secs(5), || g
                .status(now())
                .unwrap()
                .mesh
                .held
                == 40),
            "{:?}",
            g.status(now()).unwrap().mesh
        );
        let status = g.status(now()).unwrap();
        assert_eq!(status.mesh.in_touch, 2, "{:?}", status.mesh);
        assert!(status.conflicts.is_empty(), "{:?}", status.conflicts);
    }
}

#[test]
fn a_partition_heals_into_the_same_conflict_on_every_gate() {
    let dirs: Vec<TempDir> = (0..2).map(|_| TempDir::new().unwrap()).collect();
    let mut gates: Vec<Scanner> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| gate(d.path(), &format!("Side {i}"), &signer()))
        .collect();
    // Split: neither gate runs its mesh; both admit ticket 50.
    assert_eq!(scan(&mut gates[0], None, &ticket(50)).verdict, "admit");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(scan(&mut gates[1], None, &ticket(50)).verdict, "admit");
    // Rejoin.
    let a = join(dirs[0].path(), &[]);
    let _b = join(dirs[1].path(), &[&a]);
    for d in &dirs {
        assert!(within(Duration::from_secs(10), || holds(d.path(), 50)));
    }
    for g in &mut gates {
        let status = g.status(now()).unwrap();
        let flagged: Vec<_> = status
            .conflicts
            .iter()
            .filter(|c| c.ticket_id == Some(50))
            .collect();
        assert_eq!(flagged.len(), 1, "{:?}", status.conflicts);
        assert_eq!(flagged[0].kind.as_deref(), Some("double_entry"));
        assert_eq!(flagged[0].device, "Side 1");
        // Both admissions are kept.
        assert_eq!(g.device().own_scans(TicketId(50)).unwrap().len(), 1);
        assert_eq!(g.device().held_scans(TicketId(50)).unwrap().len(), 1);
    }
}

/// A raw session to `mesh` that proves itself with `certificate` and `key`; returns what the
/// gate sent back, if anything, within a second.
fn stranger(
    mesh: &Mesh,
    certificate: &[u8],
    key: &DeviceSigner,
    then: &[Vec<u8>],
) -> Option<Vec<u8>> {
    let stream = TcpStream::connect(mesh.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut k = key_exchange(stream, Role::Dialer, [9; 32]).unwrap();
    let mut auth = vec![1u8];
    auth.extend_from_slice(certificate);
    auth.extend_from_slice(&key.sign_handshake(b'i', &k.transcript));
    auth.extend_from_slice(b"Stranger");
    k.sender.send(&auth).unwrap();
    let answer = k.receiver.recv().ok();
    for frame in then {
        let _ = k.sender.send(frame);
    }
    std::thread::sleep(Duration::from_millis(300));
    answer
}

fn certificate_for(server: &TicketSigner, device: [u8; 16], key: &DeviceSigner) -> Vec<u8> {
    CertificateClaims {
        key: server.id(),
        event: EventId(EVENT),
        device,
        device_key: key.public_key(),
        issued_at_ms: 0,
    }
    .sign(server)
    .to_vec()
}

#[test]
fn a_forged_or_revoked_certificate_is_refused_and_learns_nothing() {
    let dir = TempDir::new().unwrap();
    let mut g = gate(dir.path(), "Main", &signer());
    let mesh = join(dir.path(), &[]);
    scan(&mut g, Some(&mesh), &ticket(60));

    // A certificate "signed" by a key of the right id that is not the festival's.
    let forger = TicketSigner::from_seed(KeyId(1), &[0x66; 32]);
    let key = DeviceSigner::from_seed(&[1; 32]);
    let forged = certificate_for(&forger, [0x0f; 16], &key);
    assert_eq!(stranger(&mesh, &forged, &key, &[]), None);

    // A real certificate presented with another device's key.
    let real = certificate_for(&signer(), [0x0e; 16], &key);
    let thief = DeviceSigner::from_seed(&[2; 32]);
    assert_eq!(stranger(&mesh, &real, &thief, &[]), None);

    // A real certificate of a device the organizer revoked.
    g.replica()
        .connection()
        .execute(
            "INSERT INTO devices (device_id, name, status, public_key) VALUES (?1, 'Lost tablet', 'revoked', ?2)",
            rusqlite::params!["0e".repeat(16), key.public_key().to_vec()],
        )
        .unwrap();
    assert_eq!(stranger(&mesh, &real, &key, &[]), None);

    // A real, current certificate is answered.
    let good = certificate_for(&signer(), [0x0d; 16], &key);
    assert!(stranger(&mesh, &good, &key, &[]).is_some());
    assert!(within(Duration::from_secs(5), || {
        g.status(now()).unwrap().mesh.refused >= 3
    }));
}

#[test]
fn a_relayed_check_in_with_a_changed_byte_is_dropped() {
    let dir = TempDir::new().unwrap();
    let mut g = gate(dir.path(), "Main", &signer());
    let mesh = join(dir.path(), &[]);
    let relay_key = DeviceSigner::from_seed(&[3; 32]);
    let relay = certificate_for(&signer(), [0x0c; 16], &relay_key);
    // The check-in of a third gate, which the relay carries with that gate's certificate.
    let origin_key = DeviceSigner::from_seed(&[4; 32]);
    let origin = certificate_for(&signer(), [0x0b; 16], &origin_key);
    let record = |ticket_id: u64| CheckInRecord {
        device: [0x0b; 16],
        seq: ticket_id,
        ticket: Some((TicketId(ticket_id), Revision(0))),
        at_ms: now().timestamp_millis(),
        clock_correction_ms: 0,
        direction: Direction::Entry,
        admitted: true,
        gate: "Main Gate".into(),
        reason: None,
        text: Some(ticket(ticket_id)),
    };
    let good = origin_key.sign_check_in(&record(1)).unwrap();
    let mut changed = origin_key.sign_check_in(&record(2)).unwrap();
    // Admitted → not admitted (byte 42 of the layout), as a relay hiding an entry would.
    changed[42] ^= 1;
    let frames = vec![
        [&[3u8][..], &origin].concat(),
        [&[4u8][..], &changed].concat(),
        [&[4u8][..], &good].concat(),
    ];
    assert!(stranger(&mesh, &relay, &relay_key, &frames).is_some());
    assert!(within(Duration::from_secs(5), || {
        g.device().held_scans(TicketId(1)).unwrap().len() == 1
    }));
    assert!(g.device().held_scans(TicketId(2)).unwrap().is_empty());
    assert!(within(Duration::from_secs(5), || {
        g.status(now()).unwrap().mesh.dropped == 1
    }));
    // The held one counts at this gate.
    let r = g.scan(&ticket(1), now()).unwrap();
    assert_eq!(r.reason, Some("already_admitted"), "{r:?}");
}

#[test]
fn a_peer_missing_check_ins_below_its_highest_gets_them_all_in_rounds() {
    // Gate A holds more check-ins of its own than one answer carries; gate B holds a few of
    // them and A's latest (a pushed scan): a hole below B's highest.
    const N: u64 = 6_500;
    let dirs: Vec<TempDir> = (0..2).map(|_| TempDir::new().unwrap()).collect();
    let mut a = gate(dirs[0].path(), "A", &signer());
    let mut b = gate(dirs[1].path(), "B", &signer());
    let id = a.device().identity().unwrap().device_id.clone();
    let device = parse_device_id(&id).unwrap();
    let cert = a.device().certificate().unwrap().unwrap();
    let key = DeviceSigner::from_seed(&{
        let seed: Vec<u8> = a
            .device()
            .connection()
            .query_row("SELECT signing_seed FROM identity", [], |r| r.get(0))
            .unwrap();
        <[u8; 32]>::try_from(seed).unwrap()
    });
    let record = |seq: u64| CheckInRecord {
        device,
        seq,
        ticket: None,
        at_ms: now().timestamp_millis(),
        clock_correction_ms: 0,
        direction: Direction::Entry,
        admitted: false,
        gate: "Main Gate".into(),
        reason: Some("not_a_ticket".into()),
        text: None,
    };
    {
        let conn = a.device().connection();
        let tx = conn.transaction().unwrap();
        for seq in 1..=N {
            tx.execute(
                "INSERT INTO queue (device_id, seq, at_ms, gate, direction, verdict, reason, signed)
                 VALUES (?1, ?2, ?3, 'Main Gate', 'entry', 'reject', 'not_a_ticket', ?4)",
                rusqlite::params![id, seq as i64, now().timestamp_millis(), key.sign_check_in(&record(seq)).unwrap()],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    for seq in (1..=10).chain([N]) {
        let signed = key.sign_check_in(&record(seq)).unwrap();
        b.device()
            .hold(&record(seq), &signed, &cert, now())
            .unwrap();
    }
    let ma = join(dirs[0].path(), &[]);
    let _mb = join(dirs[1].path(), &[&ma]);
    assert!(
        within(Duration::from_secs(30), || b
            .device()
            .held_counts()
            .unwrap()
            .0
            == N),
        "B holds {} of A's {N}",
        b.device().held_counts().unwrap().0
    );
}

fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_flood_of_strangers_leaves_no_threads_behind_and_gates_still_meet() {
    use std::io::Write;
    let dirs: Vec<TempDir> = (0..2).map(|_| TempDir::new().unwrap()).collect();
    let _a = gate(dirs[0].path(), "A", &signer());
    let _b = gate(dirs[1].path(), "B", &signer());
    let ma = join(dirs[0].path(), &[]);
    std::thread::sleep(Duration::from_millis(200));
    let before = threads();
    // 300 strangers: a greeting that looks right, then gone.
    for _ in 0..300 {
        if let Ok(mut s) = TcpStream::connect(ma.local_addr()) {
            let mut hello = b"TSMESH01".to_vec();
            hello.extend_from_slice(&[7u8; 32]);
            let _ = s.write_all(&hello);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = threads();
    assert!(
        after < before + 40,
        "threads went from {before} to {after} after the strangers left"
    );
    let mb = join(dirs[1].path(), &[&ma]);
    assert!(within(Duration::from_secs(10), || ma.peers().len() == 1
        && mb.peers().len() == 1));
}
