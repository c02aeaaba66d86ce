//! The venue mesh's benchmark (`cargo bench -p tessera-scanner --bench mesh`): ten gates in
//! one process, each with its own data dir, its own sessions and threads, meeting over
//! 127.0.0.1 by peer lists (a full mesh of 45 encrypted sessions).
//!
//! 1. Spread: a check-in scanned at one gate (round robin) until all nine others hold it
//!    (committed to their `device.db`), one at a time: p50, p99, max.
//! 2. A burst: 1,000 check-ins scanned as fast as the gates record them, spread over the
//!    ten gates, until every gate holds every other gate's: the time to converge.
//! 3. Bytes on the wire per check-in: the pushed frame to one peer (length, type, signed
//!    check-in, AEAD tag), and every byte the sessions wrote (version vectors included)
//!    divided by the check-ins delivered.
//!
//! `TESSERA_BENCH_QUICK=1` runs a smaller round.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "../tests/it/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::path::Path;
use std::time::{Duration, Instant};

use tessera_core::EventId;
use tessera_core::mesh::{CertificateClaims, parse_device_id};
use tessera_scanner::Scanner;
use tessera_scanner::mesh::{Mesh, MeshConfig};

const GATES: usize = 10;

fn gate(dir: &Path, name: &str, tickets: u64) -> Scanner {
    let mut s = Scanner::open(dir).unwrap();
    s.provision(&fixtures::bundle(tickets), Some(name), fixtures::now())
        .unwrap();
    let key = s.device().signer().unwrap().public_key();
    let id = parse_device_id(&s.device().identity().unwrap().device_id).unwrap();
    let server = fixtures::signer();
    let cert = CertificateClaims {
        key: server.id(),
        event: EventId(fixtures::EVENT),
        device: id,
        device_key: key,
        issued_at_ms: 0,
    }
    .sign(&server);
    s.device().set_certificate(&cert).unwrap();
    s
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let quick = std::env::var_os("TESSERA_BENCH_QUICK").is_some();
    let (spread_n, burst_n) = if quick { (30u64, 100u64) } else { (300, 1000) };
    let tickets = spread_n + burst_n + 10;
    let dirs: Vec<tempfile::TempDir> = (0..GATES).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut gates: Vec<Scanner> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| gate(d.path(), &format!("Gate {i}"), tickets))
        .collect();
    // Readers of each gate's device.db, apart from the scanning side.
    let mut readers: Vec<Scanner> = dirs
        .iter()
        .map(|d| Scanner::open(d.path()).unwrap())
        .collect();
    let mut meshes: Vec<Mesh> = Vec::with_capacity(GATES);
    for d in &dirs {
        let peers = meshes.iter().map(|m| m.local_addr().to_string()).collect();
        meshes.push(
            Mesh::start(
                d.path(),
                &MeshConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    peers,
                    mdns: false,
                },
            )
            .unwrap(),
        );
    }
    let met = Instant::now();
    while meshes.iter().any(|m| m.peers().len() < GATES - 1) {
        assert!(
            met.elapsed() < Duration::from_secs(30),
            "the gates never all met"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("{GATES} gates met in {:.0} ms", ms(met.elapsed()));

    let held_everywhere = |readers: &mut [Scanner], origin: usize, ticket: u64| {
        readers.iter_mut().enumerate().all(|(i, r)| {
            i == origin
                || !r
                    .device()
                    .held_scans(tessera_core::TicketId(ticket))
                    .unwrap()
                    .is_empty()
        })
    };

    // 1. One at a time.
    let bytes_before: u64 = meshes.iter().map(Mesh::bytes_sent).sum();
    let mut spread = Vec::with_capacity(spread_n as usize);
    let mut frame_bytes = 0usize;
    for t in 1..=spread_n {
        let origin = (t as usize) % GATES;
        let text = fixtures::ticket(t + 3);
        let started = Instant::now();
        gates[origin].scan(&text, fixtures::now()).unwrap();
        let signed = gates[origin].device().take_last_signed().unwrap();
        frame_bytes = 2 + 1 + signed.len() + 16;
        meshes[origin].push(signed);
        while !held_everywhere(&mut readers, origin, t + 3) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "check-in {t} never spread"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        spread.push(started.elapsed());
    }
    let bytes_spread: u64 = meshes.iter().map(Mesh::bytes_sent).sum::<u64>() - bytes_before;
    spread.sort();
    eprintln!(
        "spread to {} gates, {spread_n} check-ins one at a time: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        GATES - 1,
        ms(percentile(&spread, 0.5)),
        ms(percentile(&spread, 0.99)),
        ms(spread[spread.len() - 1])
    );
    eprintln!(
        "bytes on the wire: {frame_bytes} B per check-in per peer pushed (a 144-character ticket); {:.0} B per check-in delivered, every session byte counted",
        bytes_spread as f64 / (spread_n as f64 * (GATES - 1) as f64)
    );

    // 2. A burst over all gates at once.
    let started = Instant::now();
    let first = spread_n + 4;
    for (k, t) in (first..first + burst_n).enumerate() {
        let origin = k % GATES;
        gates[origin]
            .scan(&fixtures::ticket(t), fixtures::now())
            .unwrap();
        let signed = gates[origin].device().take_last_signed().unwrap();
        meshes[origin].push(signed);
    }
    let recorded = started.elapsed();
    let want = (spread_n + burst_n) * (GATES as u64 - 1) / GATES as u64;
    loop {
        let held: Vec<u64> = readers
            .iter_mut()
            .map(|r| r.device().held_counts().unwrap().0)
            .collect();
        // Every gate holds every check-in but its own.
        let total_each = spread_n + burst_n;
        let done = readers
            .iter_mut()
            .zip(&held)
            .all(|(r, h)| *h + r.device().counts().unwrap().total == total_each);
        if done {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the burst never converged: {held:?} (want about {want} each)"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    eprintln!(
        "burst: {burst_n} check-ins over {GATES} gates recorded in {:.0} ms, held by every gate after {:.0} ms",
        ms(recorded),
        ms(started.elapsed())
    );
    drop(meshes);
}
