//! The device's benchmarks, in one bench binary (`cargo bench -p tessera-scanner --bench scan`):
//!
//! 1. QR decode time per frame and success rate, quircs and rqrr next to zbar (`zbarimg`)
//!    on the same frames in the same run: clean, mild and degraded sets at 640×480 and
//!    1280×720. zbar runs as one `zbarimg` process over all frames of a set, so its process
//!    start is spread over the set; its time includes reading the PGM files, which ours
//!    does not (PGM parsing is a copy, a small fraction of a decode).
//! 2. Scan-to-verdict (decode + verify + decide + durable record) p50/p99 at 1280×720.
//! 3. verify + decide + record throughput against a 1,000,000-ticket replica.
//!
//! Set `TESSERA_BENCH_QUICK=1` for a smoke run with small sets.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "../tests/it/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../tests/it/frames.rs"]
#[allow(dead_code)]
mod frames;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use frames::{Level, render, specs};
use tessera_scanner::Scanner;
use tessera_scanner::decode::{Decoder, Engine};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn write_pgm(path: &Path, img: &image::GrayImage) {
    let mut bytes = format!("P5\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    bytes.extend_from_slice(img.as_raw());
    std::fs::write(path, bytes).unwrap();
}

struct SetResult {
    ok: usize,
    n: usize,
    per_frame: Duration,
}

fn ours(engine: Engine, frames: &[(String, image::GrayImage)]) -> SetResult {
    let mut d = Decoder::new(engine);
    // Warm up buffers.
    let _ = d.decode(&frames[0].1);
    let mut ok = 0;
    let t = Instant::now();
    for (text, f) in frames {
        if d.decode(f).iter().any(|t| t == text) {
            ok += 1;
        }
    }
    SetResult {
        ok,
        n: frames.len(),
        per_frame: t.elapsed() / frames.len() as u32,
    }
}

fn zbar(dir: &Path, frames: &[(String, image::GrayImage)]) -> Option<SetResult> {
    let files: Vec<PathBuf> = (0..frames.len())
        .map(|i| dir.join(format!("{i:04}.pgm")))
        .collect();
    let t = Instant::now();
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .args(&files)
        .output()
        .ok()?;
    let elapsed = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let ok = frames
        .iter()
        .filter(|(t, _)| text.lines().any(|l| l == t))
        .count();
    Some(SetResult {
        ok,
        n: frames.len(),
        per_frame: elapsed / frames.len() as u32,
    })
}

fn decode_table(n: u64, root: &Path) {
    println!("## QR decode per frame (release, one thread)\n");
    println!(
        "| set | frames | quircs ms | quircs ok | rqrr ms | rqrr ok | zbar ms | zbar ok | zbar/quircs time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        for level in [Level::Clean, Level::Mild, Level::Degraded] {
            let dir = root.join(format!("{level:?}-{w}x{h}").to_lowercase());
            std::fs::create_dir_all(&dir).unwrap();
            let frames: Vec<(String, image::GrayImage)> = specs(level, w, h, n)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let text = fixtures::ticket(10_000 + i as u64);
                    let img = render(&text, s);
                    write_pgm(&dir.join(format!("{i:04}.pgm")), &img);
                    (text, img)
                })
                .collect();
            let q = ours(Engine::Quircs, &frames);
            let r = ours(Engine::Rqrr, &frames);
            let z = zbar(&dir, &frames);
            let (zms, zok, ratio) = match &z {
                Some(z) => (
                    format!("{:.2}", ms(z.per_frame)),
                    format!("{}/{}", z.ok, z.n),
                    format!(
                        "{:.1}×",
                        z.per_frame.as_secs_f64() / q.per_frame.as_secs_f64()
                    ),
                ),
                None => ("—".into(), "zbarimg missing".into(), "—".into()),
            };
            println!(
                "| {level:?} {w}×{h} | {n} | {:.2} | {}/{} | {:.2} | {}/{} | {zms} | {zok} | {ratio} |",
                ms(q.per_frame),
                q.ok,
                q.n,
                ms(r.per_frame),
                r.ok,
                r.n,
            );
        }
    }
    println!("\nFrames kept in {} for other decoders.\n", root.display());
}

fn scan_to_verdict(n: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scanner::open(dir.path()).unwrap();
    s.provision(&fixtures::bundle(n), Some("bench"), fixtures::now())
        .unwrap();
    let frames: Vec<(String, image::GrayImage)> = specs(Level::Mild, 1280, 720, n)
        .iter()
        .enumerate()
        .map(|(i, sp)| {
            let text = fixtures::ticket(i as u64 + 1);
            (text.clone(), render(&text, sp))
        })
        .collect();
    let mut d = Decoder::new(Engine::default());
    let mut times = Vec::new();
    for (text, f) in &frames {
        let t = Instant::now();
        let found = d.decode(f);
        if let Some(code) = found.first() {
            assert_eq!(code, text);
            s.scan(code, fixtures::now()).unwrap();
        }
        times.push(t.elapsed());
    }
    times.sort();
    println!("## Scan to verdict at 1280×720 (decode + verify + decide + durable record)\n");
    println!(
        "{} mild frames: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\n",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    );
}

fn big_replica(tickets: u64, scans: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scanner::open(dir.path()).unwrap();
    let t = Instant::now();
    s.provision(&fixtures::bundle(tickets), Some("bench"), fixtures::now())
        .unwrap();
    let load = t.elapsed();
    // Tickets spread over the replica, each scanned once: every scan reads the ticket row,
    // its history, and commits a check-in with fsync.
    let step = (tickets / scans).max(1);
    let texts: Vec<String> = (0..scans).map(|i| fixtures::ticket(4 + i * step)).collect();
    let t = Instant::now();
    for text in &texts {
        let r = s.scan(text, fixtures::now()).unwrap();
        assert_eq!(r.verdict, "admit");
    }
    let elapsed = t.elapsed();
    println!("## verify + decide + record with a {tickets}-ticket replica\n");
    println!(
        "bundle load {:.1} s; {scans} scans in {:.2} s: {:.0} scans/s ({:.3} ms each; fsync at most every 200 ms)\n",
        load.as_secs_f64(),
        elapsed.as_secs_f64(),
        scans as f64 / elapsed.as_secs_f64(),
        ms(elapsed / scans as u32)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only smoke-run.
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = !benching || std::env::var_os("TESSERA_BENCH_QUICK").is_some();
    let root = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("tessera-bench-frames");
    let (frames, replica, scans) = if quick {
        (5, 1_000, 200)
    } else {
        (100, 1_000_000, 20_000)
    };
    decode_table(frames, &root);
    scan_to_verdict(if quick { 20 } else { 500 });
    big_replica(replica, scans);
}
