//! The decoder against its peers, per field condition, on the same frames in one run
//! (`cargo bench -p tessera-scanner --bench decoders`):
//!
//! - Tessera's decoder (`Decoder::scan`, stopping at a text whose signature verifies), and
//!   quircs and rqrr alone on the frame as it is;
//! - zbar (`zbarimg`, Debian `zbar-tools`), one process per set, its time including process
//!   start and reading the PGM files;
//! - zxing-cpp through its Python binding (PyPI `zxing-cpp`), one process per set, its time
//!   measured around `read_barcodes` only;
//! - any other decoder given as `TESSERA_BENCH_PEERS=name=/path/to/binary,...`: a program
//!   that takes PGM paths and prints `path<TAB>text<TAB>milliseconds` per frame (the rxing
//!   and zxing-cpp Rust harnesses in docs/benchmarks.md).
//!
//! Then the time to verdict on first-attempt frames and the time to give up on frames that
//! read on no attempt. `TESSERA_BENCH_QUICK=1` makes a smoke run.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "../tests/it/conditions.rs"]
#[allow(dead_code)]
mod conditions;
#[path = "../tests/it/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../tests/it/frames.rs"]
#[allow(dead_code)]
mod frames;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use conditions::Condition;
use image::GrayImage;
use tessera_core::{KeyStatus, Keyring, verify};
use tessera_scanner::decode::{Decoder, Engine, Outcome};

type Frames = Vec<(String, GrayImage)>;

fn keyring() -> Keyring {
    let mut k = Keyring::new();
    k.insert(
        tessera_core::KeyId(1),
        &fixtures::signer().public_key(),
        KeyStatus::Active,
    )
    .unwrap();
    k
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn write_pgm(path: &Path, img: &GrayImage) {
    let mut bytes = format!("P5\n{} {}\n255\n", img.width(), img.height()).into_bytes();
    bytes.extend_from_slice(img.as_raw());
    std::fs::write(path, bytes).unwrap();
}

#[derive(Default, Clone)]
struct Tally {
    ok: usize,
    wrong: usize,
    n: usize,
    time: Duration,
    times: Vec<Duration>,
}

impl Tally {
    fn add(&mut self, expected: &str, got: Option<&str>, t: Duration) {
        self.n += 1;
        self.time += t;
        self.times.push(t);
        match got {
            Some(g) if g == expected => self.ok += 1,
            Some(_) => self.wrong += 1,
            None => {}
        }
    }
    fn merge(&mut self, o: &Tally) {
        self.ok += o.ok;
        self.wrong += o.wrong;
        self.n += o.n;
        self.time += o.time;
        self.times.extend_from_slice(&o.times);
    }
    fn per_frame(&self) -> f64 {
        ms(self.time) / self.n.max(1) as f64
    }
    fn cell(&self) -> String {
        let wrong = if self.wrong > 0 {
            format!(" ({} wrong)", self.wrong)
        } else {
            String::new()
        };
        format!("{}/{}{wrong}", self.ok, self.n)
    }
}

/// `Decoder::scan` with the signature check, as the gate runs it.
fn tessera(engine: Engine, frames: &Frames, keys: &Keyring) -> Tally {
    let mut d = Decoder::new(engine);
    let accept = |t: &str| verify(t, keys).is_ok();
    let _ = d.scan(&frames[0].1, &accept);
    let mut tally = Tally::default();
    for (text, f) in frames {
        let t = Instant::now();
        let out = d.scan(f, &accept);
        let el = t.elapsed();
        let got = match &out {
            Outcome::Read(s) => Some(s.as_str()),
            _ => None,
        };
        tally.add(text, got, el);
    }
    tally
}

/// One library alone on the frame as it is, no preparation: the baseline.
fn alone(engine: Engine, frames: &Frames) -> Tally {
    let mut quirc = quircs::Quirc::default();
    let mut tally = Tally::default();
    for (text, f) in frames {
        let (w, h) = (f.width() as usize, f.height() as usize);
        let t = Instant::now();
        let got: Option<String> = if engine == Engine::Rqrr {
            let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
                f.get_pixel(x as u32, y as u32).0[0]
            });
            img.detect_grids()
                .iter()
                .find_map(|g| g.decode().ok().map(|(_, s)| s))
        } else {
            quirc
                .identify(w, h, f.as_raw())
                .filter_map(|c| c.ok()?.decode().ok())
                .find_map(|d| String::from_utf8(d.payload).ok())
        };
        tally.add(text, got.as_deref(), t.elapsed());
    }
    tally
}

fn zbar(files: &[PathBuf], frames: &Frames) -> Option<Tally> {
    let t = Instant::now();
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .args(files)
        .output()
        .ok()?;
    let el = t.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tally = Tally::default();
    for (expected, _) in frames {
        let got = text
            .lines()
            .any(|l| l == expected)
            .then_some(expected.as_str());
        tally.add(expected, got, el / frames.len() as u32);
    }
    // zbar prints one line per code without the file's name: any other line is a misread.
    tally.wrong = text
        .lines()
        .filter(|l| !l.is_empty() && !frames.iter().any(|(e, _)| e == l))
        .count();
    Some(tally)
}

const ZXING_PY: &str = r#"
import sys, time, numpy, zxingcpp
for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    head = data.split(b'\n', 3)
    w, h = map(int, head[1].split())
    img = numpy.frombuffer(head[3], dtype=numpy.uint8).reshape(h, w)
    t = time.perf_counter()
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode, try_invert=True)
    el = (time.perf_counter() - t) * 1000
    text = found[0].text if found else ''
    print(f"{path}\t{text}\t{el:.3f}")
"#;

/// A decoder in another process printing `path<TAB>text<TAB>ms` per frame.
fn per_frame_peer(cmd: &mut Command, files: &[PathBuf], frames: &Frames) -> Option<Tally> {
    let out = cmd.args(files).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let by_path: HashMap<&str, (&str, f64)> = stdout
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, '\t');
            Some((p.next()?, (p.next()?, p.next()?.parse().ok()?)))
        })
        .collect();
    let mut tally = Tally::default();
    for (file, (expected, _)) in files.iter().zip(frames) {
        let (got, t) = by_path.get(file.to_str()?).copied().unwrap_or(("", 0.0));
        let got = (!got.is_empty()).then_some(got);
        tally.add(expected, got, Duration::from_secs_f64(t / 1000.0));
    }
    Some(tally)
}

struct Row {
    label: String,
    tessera: Tally,
    /// The pure-Rust attempts alone (a build without the `zxing` feature: the browser gate).
    rust: Tally,
    quircs: Tally,
    rqrr: Tally,
    zbar: Option<Tally>,
    zxing: Option<Tally>,
    peers: Vec<Option<Tally>>,
}

fn measure(
    label: &str,
    dir: &Path,
    frames: &Frames,
    keys: &Keyring,
    peers: &[(String, String)],
) -> Row {
    std::fs::create_dir_all(dir).unwrap();
    let files: Vec<PathBuf> = (0..frames.len())
        .map(|i| dir.join(format!("{i:04}.pgm")))
        .collect();
    for (f, (_, img)) in files.iter().zip(frames) {
        write_pgm(f, img);
    }
    Row {
        label: label.into(),
        tessera: tessera(Engine::default(), frames, keys),
        rust: tessera(Engine::Quircs, frames, keys),
        quircs: alone(Engine::Quircs, frames),
        rqrr: alone(Engine::Rqrr, frames),
        zbar: zbar(&files, frames),
        zxing: per_frame_peer(
            Command::new("python3").args(["-c", ZXING_PY]),
            &files,
            frames,
        ),
        peers: peers
            .iter()
            .map(|(_, bin)| per_frame_peer(&mut Command::new(bin), &files, frames))
            .collect(),
    }
}

fn cell(t: &Option<Tally>) -> String {
    t.as_ref().map_or("—".into(), |t| {
        format!("{} | {:.2}", t.cell(), t.per_frame())
    })
}

fn print_table(rows: &[Row], peers: &[(String, String)]) {
    let names: String = peers
        .iter()
        .map(|(n, _)| format!(" {n} ok | {n} ms |"))
        .collect();
    let dashes: String = peers.iter().map(|_| "---:|---:|").collect();
    println!(
        "| set | Tessera ok | Tessera ms | pure Rust ok | pure Rust ms | quircs alone | rqrr alone | zbar ok | zbar ms | zxing-cpp ok | zxing-cpp ms |{names}"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|{dashes}");
    for r in rows {
        let extra: String = r.peers.iter().map(|p| format!(" {} |", cell(p))).collect();
        println!(
            "| {} | {} | {:.2} | {} | {:.2} | {} | {} | {} | {} |{extra}",
            r.label,
            r.tessera.cell(),
            r.tessera.per_frame(),
            r.rust.cell(),
            r.rust.per_frame(),
            r.quircs.cell(),
            r.rqrr.cell(),
            cell(&r.zbar),
            cell(&r.zxing),
        );
    }
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let quick = !benching || std::env::var_os("TESSERA_BENCH_QUICK").is_some();
    let per_size: u64 = if quick { 2 } else { 12 };
    let root = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("tessera-decoder-frames");
    let peers: Vec<(String, String)> = std::env::var("TESSERA_BENCH_PEERS")
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| {
            p.split_once('=')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let only: Option<String> = std::env::var("TESSERA_BENCH_ONLY").ok();
    let keys = keyring();

    println!("## Per condition ({per_size} frames at 640×480 + {per_size} at 1280×720)\n");
    let mut rows = Vec::new();
    let mut total = Row {
        label: "**all conditions**".into(),
        tessera: Tally::default(),
        rust: Tally::default(),
        quircs: Tally::default(),
        rqrr: Tally::default(),
        zbar: Some(Tally::default()),
        zxing: Some(Tally::default()),
        peers: peers.iter().map(|_| Some(Tally::default())).collect(),
    };
    let mut ticket = 50_000;
    for condition in Condition::ALL {
        let name = format!("{condition:?}");
        if only
            .as_ref()
            .is_some_and(|o| !o.split(',').any(|x| x == name))
        {
            continue;
        }
        let mut frames = Vec::new();
        for (w, h) in [(640u32, 480u32), (1280, 720)] {
            frames.extend(conditions::set(
                condition,
                w,
                h,
                per_size,
                fixtures::ticket,
                ticket,
            ));
            ticket += per_size;
        }
        let row = measure(
            &name,
            &root.join(name.to_lowercase()),
            &frames,
            &keys,
            &peers,
        );
        total.tessera.merge(&row.tessera);
        total.rust.merge(&row.rust);
        total.quircs.merge(&row.quircs);
        total.rqrr.merge(&row.rqrr);
        for (acc, t) in [(&mut total.zbar, &row.zbar), (&mut total.zxing, &row.zxing)] {
            match (acc.as_mut(), t) {
                (Some(a), Some(t)) => a.merge(t),
                _ => *acc = None,
            }
        }
        for (acc, t) in total.peers.iter_mut().zip(&row.peers) {
            match (acc.as_mut(), t) {
                (Some(a), Some(t)) => a.merge(t),
                _ => *acc = None,
            }
        }
        eprintln!(
            "{name}: Tessera {}, pure Rust {}",
            row.tessera.cell(),
            row.rust.cell()
        );
        rows.push(row);
    }
    rows.push(total);
    print_table(&rows, &peers);

    println!("\n## Clean and mild frames (speed: 50 a set; quick: 5)\n");
    let n = if quick { 5 } else { 50 };
    let mut rows = Vec::new();
    for (w, h) in [(640u32, 480u32), (1280, 720)] {
        for level in [frames::Level::Clean, frames::Level::Mild] {
            let frames: Frames = frames::specs(level, w, h, n)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let text = fixtures::ticket(90_000 + i as u64);
                    let img = frames::render(&text, s);
                    (text, img)
                })
                .collect();
            let label = format!("{level:?} {w}×{h}");
            rows.push(measure(
                &label,
                &root.join(label.replace('×', "x").replace(' ', "-").to_lowercase()),
                &frames,
                &keys,
                &peers,
            ));
        }
    }
    print_table(&rows, &peers);
    for r in &rows {
        let mut times = r.tessera.times.clone();
        times.sort();
        let ratio = |t: &Option<Tally>| {
            t.as_ref().map_or("—".into(), |t| {
                format!("{:.1}×", t.per_frame() / r.tessera.per_frame())
            })
        };
        println!(
            "- {}: Tessera p50 {:.2} ms, p99 {:.2} ms; zbar/Tessera time {}, zxing-cpp/Tessera time {}",
            r.label,
            ms(times[times.len() / 2]),
            ms(times[((times.len() - 1) as f64 * 0.99).round() as usize]),
            ratio(&r.zbar),
            ratio(&r.zxing),
        );
    }

    give_up(quick, &keys);
}

/// Frames that read on no attempt: no code at all, and codes with a finder pattern cut off
/// (seen, never readable). The decoder must give up on each within 60 ms.
fn give_up(quick: bool, keys: &Keyring) {
    let n = if quick { 4 } else { 40 };
    let mut d = Decoder::new(Engine::default());
    let accept = |t: &str| verify(t, keys).is_ok();
    let mut times = Vec::new();
    let mut guided = 0;
    for i in 0..n {
        let (w, h) = if i % 2 == 0 { (1280, 720) } else { (640, 480) };
        let frame = if i % 4 < 2 {
            conditions::empty_scene(w, h, i)
        } else {
            // A code whose right third (a finder pattern with it) is outside the frame.
            let text = fixtures::ticket(70_000 + i);
            let mut spec = frames::specs(frames::Level::Mild, w, h, 1)[0];
            spec.centre.0 = 1.0 - 0.15 * f64::from(h) / f64::from(w);
            frames::render(&text, &spec)
        };
        let t = Instant::now();
        let out = d.scan(&frame, &accept);
        times.push(t.elapsed());
        assert!(!matches!(out, Outcome::Read(_)), "frame {i} read");
        guided += usize::from(matches!(out, Outcome::Unreadable(_)));
    }
    times.sort();
    println!(
        "\n## Giving up\n\n{n} frames that read on no attempt (half a scene without a code, half a code cut by the frame's edge; {guided} got guidance): p50 {:.1} ms, max {:.1} ms\n",
        ms(times[times.len() / 2]),
        ms(*times.last().unwrap())
    );
}
