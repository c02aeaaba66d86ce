//! The browser gate in headless Chromium (ADR 0025, issue 21):
//! - verify + decide per second inside the page's WebAssembly (`Gate.scan` then `abort`: the
//!   verdict and its record, without storing), against the same crate natively in this run;
//! - scan-to-verdict from the fake camera at 1280×720: frame presented → decoded → check-in
//!   stored in IndexedDB → verdict drawn, p50 / p90 / p99 / max, step by step, with frames
//!   read from their luma plane (WebCodecs) and then through a canvas;
//! - the gate's download: every file of `/gate/`, plain and gzipped as the server sends it;
//! - a full-size festival of 100,000 tickets: the first sync into the page (pulled, applied,
//!   committed to IndexedDB), the start from storage on each reload after it, the storage it
//!   takes, and the status line's cost once the gate holds 10,000 check-ins.
//!
//! `cargo bench -p tessera-tests --bench browser_gate` (needs Debian's chromium and
//! chromium-driver, as the tests do); `TESSERA_BENCH_QUICK=1` (or running without `--bench`)
//! makes the festival 2,000 tickets, `TESSERA_BENCH_TICKETS=N` N. Figures in
//! docs/benchmarks.md.
#![allow(clippy::unwrap_used)] // A benchmark: a failed unwrap is a failed run.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_gate_web::gate::GateCore;
use tessera_tests::gate_page::{H, W, camera_args, enroll, photo, status, wait_ready, write_y4m};
use tessera_tests::webdriver::{self, Browser, Launch};
use tessera_tests::{Db, Server};

const TICKETS: u32 = 40;
const SAMPLES: usize = 300;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name:<48} n={:<4} p50 {:>6.1} ms  p90 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.9),
        percentile(&v, 0.99),
        v.last().copied().unwrap_or_default()
    );
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect()
}

/// [`SAMPLES`] camera scans, timed by the page from the frame presented to the verdict; with
/// `through_canvas` the page reads frames through the canvas.
fn scan_to_verdict(b: &Browser, how: &str, through_canvas: bool) {
    let frames = if through_canvas { "false" } else { "null" };
    b.js(&format!(
        "const t = window.tesseraGate; t.camera.frames = {frames}; t.timings.length = 0; \
         t.parts.length = 0; t.camera.decodeMs.length = 0; return null"
    ));
    let deadline = Instant::now() + Duration::from_secs(180);
    let timings = loop {
        let t = numbers(&b.js("return window.tesseraGate.timings"));
        if t.len() >= SAMPLES || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let decode = numbers(&b.js("return window.tesseraGate.camera.decodeMs"));
    let parts = b.js("return window.tesseraGate.parts");
    let path = b.js("return window.tesseraGate.camera.path");
    println!(
        "\nscan-to-verdict at {W}×{H}, frames read through {how} (the page read: {path}), \
         frame presented → verdict drawn, check-in stored:"
    );
    summary("  camera scans", timings);
    summary("  reading + decoding (every frame)", decode);
    println!("  where the camera scans' time went:");
    for (part, what) in [
        ("wait", "frame presented → its callback"),
        ("read", "the frame's pixels read"),
        ("decode", "grey + decoder"),
        ("queued", "behind the scan before"),
        ("decide", "verify + decide"),
        ("store", "check-in committed (strict)"),
    ] {
        let v = parts
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p[part].as_f64())
            .collect();
        summary(&format!("    {part:<7}{what}"), v);
    }
}

/// The same crate natively, on the server's own feed: scans per second of `code`.
fn native_rate(server: &Server, code: &str) -> f64 {
    let enroll_code = server.device_code("Bench-native", "Main Gate");
    let device_id = "00000000000000000000000000000b0b";
    let mut g = GateCore::new();
    g.set_device_id(device_id).unwrap();
    let now = chrono::Utc::now().timestamp_millis() as f64;
    let body = g.enroll_request(&enroll_code, now).unwrap();
    let answer = ureq::post(&format!("{}/api/v1/sync/enroll", server.url))
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    g.apply_enrollment(&answer, now, now).unwrap();
    let token = g.token().unwrap().to_owned();
    loop {
        let page = ureq::get(&format!(
            "{}/api/v1/sync/changes?after={}&limit=5000",
            server.url,
            g.cursor()
        ))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
        if !g.apply_page(&page, now, now).unwrap().1 {
            break;
        }
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        let p = g.scan(code, now).unwrap();
        std::hint::black_box(&p);
        g.abort();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// A festival of `n` tickets in a fresh browser gate: first sync, restarts, storage, and the
/// status line with 10,000 check-ins held.
fn festival(server: &Server, n: usize) {
    let t = Instant::now();
    let (event, texts) = server.sell_event(n);
    println!(
        "\nA festival of {n} tickets (sold in {:.0} s):",
        t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let b = Browser::start_with(1280, 800, dir.path().join("shots"), &Launch::default());
    b.goto(&format!("{}/gate/", server.url));
    wait_ready(&b);
    b.fill(
        "#enroll-code",
        &server.device_code_for(event, "Bench-festival", "Main Gate"),
    );
    let started = Instant::now();
    b.click("#enroll-go");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = b.js("const s = window.tesseraGate; \
             return s.syncing === null && s.gate.tickets() > 0 && s.lastSync !== null \
               ? s.gate.tickets() : null");
        if let Some(tickets) = done.as_u64() {
            assert_eq!(
                tickets, n as u64,
                "the first sync brought {tickets} tickets"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first sync took over 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "  first sync: enrolled, pulled, applied and committed in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let p = b.js("return window.tesseraGate.pulled");
    let ms = |k: &str| p[k].as_f64().unwrap_or_default() / 1000.0;
    println!(
        "    {} pages: fetched {:.2} s, applied in WebAssembly {:.2} s, committed to IndexedDB {:.2} s",
        p["pages"],
        ms("fetch_ms"),
        ms("apply_ms"),
        ms("store_ms")
    );
    let used = b.js_async(
        "const done = arguments[arguments.length - 1]; \
         navigator.storage.estimate().then((e) => done(e.usage)).catch(() => done(null));",
    );
    println!(
        "  storage the browser reports for the gate's origin: {:.1} MB",
        used.as_f64().unwrap_or_default() / 1e6
    );
    let mut restores = Vec::new();
    let mut readies = Vec::new();
    for _ in 0..5 {
        b.goto(&format!("{}/gate/", server.url));
        wait_ready(&b);
        let startup = b.js("return window.tesseraGate.startup");
        restores.push(startup["restore_ms"].as_f64().unwrap());
        readies.push(startup["ready_ms"].as_f64().unwrap());
        assert_eq!(
            b.js("return window.tesseraGate.gate.tickets()").as_u64(),
            Some(n as u64)
        );
    }
    summary("  reload: replica read back", restores);
    summary("  reload: navigation to working gate", readies);

    // 10,000 check-ins held (in memory only: this profile is thrown away), then the status
    // line the page draws after every verdict.
    let code = texts.first().unwrap();
    let cost = b.js(&format!(
        "const g = window.tesseraGate.gate; const code = {code:?}; \
         for (let i = 0; i < 10000; i++) {{ g.scan(code, Date.now()); g.commit(); }} \
         const t0 = performance.now(); for (let i = 0; i < 20; i++) g.status(Date.now()); \
         return (performance.now() - t0) / 20;"
    ));
    println!(
        "  status line with 10,000 check-ins held: {:.2} ms a call",
        cost.as_f64().unwrap_or_default()
    );
}

fn main() {
    if !webdriver::available() {
        println!("browser_gate bench: chromium and chromium-driver are needed");
        return;
    }
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = !benching || std::env::var_os("TESSERA_BENCH_QUICK").is_some();
    let db = Db::sqlite();
    let server = Server::start(&db);
    let mut tickets = Vec::new();
    while tickets.len() < TICKETS as usize {
        tickets.extend(server.buy(10));
    }
    let spare = server.buy(1).remove(0).1;

    println!("\nThe gate's download (GET /gate/ and what its service worker caches):");
    let mut plain_total = 0;
    let mut gz_total = 0;
    for (name, plain, gz) in tessera_server::http::gate::sizes() {
        println!("  {name:<28} {plain:>9} B  gzip {gz:>8} B");
        plain_total += plain;
        gz_total += gz;
    }
    println!("  {:<28} {plain_total:>9} B  gzip {gz_total:>8} B", "total");

    // The camera: each ticket once, a frame apiece, ten frames a second, looping.
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("camera.y4m");
    let frames: Vec<Vec<u8>> = tickets
        .iter()
        .enumerate()
        .map(|(i, (_, code))| photo(Some(code), 4.0 + (i % 7) as f64, i as u64))
        .collect();
    write_y4m(&video, &frames, 10);
    let args = camera_args(&video);
    let b = Browser::start_with(
        1280,
        800,
        dir.path().join("shots"),
        &Launch {
            args: &args,
            ..Launch::default()
        },
    );
    enroll(
        &b,
        &server,
        &server.device_code("Bench-browser", "Main Gate"),
        u64::from(TICKETS),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let size = b
            .js("const v = document.getElementById('video'); return [v.videoWidth, v.videoHeight]");
        if size == json!([W, H]) {
            break;
        }
        assert!(Instant::now() < deadline, "the camera's frames are {size}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Verify + decide in the page, once the camera's scan in flight (if any) has been stored
    // (a scan is refused while another is pending); the loop then holds the thread, so the
    // camera waits.
    let script = format!(
        "const done = arguments[arguments.length - 1]; const t = window.tesseraGate; \
         t.queue.then(() => {{ \
           const g = t.gate; const code = {spare:?}; let n = 0; \
           const t0 = performance.now(); \
           while (performance.now() - t0 < 2000) {{ g.scan(code, Date.now()); g.abort(); n++; }} \
           done(n / ((performance.now() - t0) / 1000)); \
         }}).catch((e) => done(String(e)));"
    );
    let rate = b.js_async(&script);
    let browser_rate = rate
        .as_f64()
        .unwrap_or_else(|| panic!("verify + decide in the page: {rate}"));
    let native = native_rate(&server, &spare);
    println!("\nverify + decide (a valid ticket, the admit path):");
    println!("  in the browser (WebAssembly)  {browser_rate:>9.0} /s");
    println!(
        "  native, same crate            {native:>9.0} /s   (browser/native {:.2})",
        browser_rate / native
    );

    // Scan-to-verdict from the camera: the frames as the page reads them where it can (the
    // luma plane through WebCodecs), then through the canvas, as a browser without it does.
    scan_to_verdict(&b, "the luma plane (WebCodecs)", false);
    scan_to_verdict(&b, "the canvas (RGBA read-back)", true);
    let s = status(&b);
    println!(
        "\ncheck-ins recorded: {} ({} admitted today)",
        s["check_ins"], s["admitted_today"]
    );
    drop(b);
    let n = std::env::var("TESSERA_BENCH_TICKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(if quick { 2_000 } else { 100_000 });
    festival(&server, n);
}
