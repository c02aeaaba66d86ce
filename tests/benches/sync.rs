//! Sync benchmarks (`cargo bench -p tessera-tests --bench sync`), figures in
//! docs/benchmarks.md:
//!
//! 1. First sync of 100,000 tickets: a freshly enrolled device downloads and applies the
//!    whole event (target ≤ 5 s), and the bytes on the wire per ticket (target ≤ 40), read
//!    off raw HTTP responses with gzip as the device asks for it.
//! 2. Check-in ingest on SQLite in batches of 500 (target ≥ 10,000 check-ins/s): uploads of
//!    distinct tickets, each stored, verified and judged by the server.
//!
//! `TESSERA_BENCH_QUICK=1` (or running without `--bench`) does a small smoke run.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::{Read, Write};
use std::time::Instant;

use chrono::Utc;
use tessera_core::sync::{PROTOCOL, UploadCheckIn, UploadRequest};
use tessera_scanner::sync::{SyncOptions, sync_with};
use tessera_tests::{Db, Server};

/// Bytes of the gzip-compressed feed on the wire, page by page, as the device asks for it.
fn wire_bytes(port: u16, token: &str, page: u32) -> (u64, u64) {
    let (mut cursor, mut total, mut pages) = (0u64, 0u64, 0u64);
    loop {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            s,
            "GET /api/v1/sync/changes?after={cursor}&limit={page} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {token}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = &raw[split..];
        total += body.len() as u64;
        pages += 1;
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut json)
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        cursor = v["cursor"].as_u64().unwrap();
        if !v["more"].as_bool().unwrap() {
            return (total, pages);
        }
    }
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = !benching || std::env::var_os("TESSERA_BENCH_QUICK").is_some();
    let n = if quick { 2_000 } else { 100_000 };

    let db = Db::sqlite();
    let server = Server::start(&db);
    let t = Instant::now();
    let (event, texts) = server.sell_event(n);
    eprintln!("sold {n} tickets in {:.1} s", t.elapsed().as_secs_f64());

    // 1. First sync.
    let code = server.device_code_for(event, "Bench", "Main Gate");
    let dir = tempfile::tempdir().unwrap();
    let mut scanner = tessera_scanner::Scanner::open(dir.path()).unwrap();
    tessera_scanner::sync::enroll(&mut scanner, &server.url, &code, "bench").unwrap();
    let options = SyncOptions::default();
    let t = Instant::now();
    let report = sync_with(&mut scanner, options, &mut |_, _| {}).unwrap();
    let first_sync = t.elapsed();
    assert_eq!(report.tickets, n as u64);
    let token = scanner.device().setting("device_token").unwrap().unwrap();
    let (bytes, pages) = wire_bytes(server.port(), &token, options.page);
    println!("## First sync of {n} tickets (SQLite server, release)\n");
    println!(
        "downloaded and applied in {:.2} s ({} pages of {}); {bytes} bytes on the wire = {:.1} bytes/ticket\n",
        first_sync.as_secs_f64(),
        pages,
        options.page,
        bytes as f64 / n as f64
    );

    // 2. Ingest: a second device uploads distinct admissions in batches of 500.
    let code = server.device_code_for(event, "Ingest", "Main Gate");
    let dir2 = tempfile::tempdir().unwrap();
    let mut second = tessera_scanner::Scanner::open(dir2.path()).unwrap();
    let enrolled = tessera_scanner::sync::enroll(&mut second, &server.url, &code, "bench").unwrap();
    let count = if quick { 2_000 } else { 50_000 }.min(texts.len());
    let batches: Vec<String> = texts[..count]
        .chunks(500)
        .enumerate()
        .map(|(b, chunk)| {
            serde_json::to_string(&UploadRequest {
                protocol: PROTOCOL,
                device_time: Utc::now(),
                check_ins: chunk
                    .iter()
                    .enumerate()
                    .map(|(i, text)| UploadCheckIn {
                        seq: (b * 500 + i + 1) as u64,
                        text: Some(text.clone()),
                        ticket_id: None,
                        at: Utc::now(),
                        gate: "Main Gate".into(),
                        direction: "entry".into(),
                        admitted: true,
                        reason: None,
                        clock_correction_ms: None,
                    })
                    .collect(),
            })
            .unwrap()
        })
        .collect();
    let agent = ureq::Agent::new_with_defaults();
    let t = Instant::now();
    for body in &batches {
        let resp = agent
            .post(&format!("{}/api/v1/sync/checkins", server.url))
            .header("Authorization", &format!("Bearer {}", enrolled.token))
            .header("Content-Type", "application/json")
            .send(body.as_str())
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let ingest = t.elapsed();
    println!("## Check-in ingest on SQLite, batches of 500\n");
    println!(
        "{count} check-ins in {:.2} s = {:.0} check-ins/s (each verified, stored, judged)\n",
        ingest.as_secs_f64(),
        count as f64 / ingest.as_secs_f64()
    );
    server.stop();
}
