//! `tessera-scan`: the gate device without a GUI, for kiosks, scripts and tests. Every
//! command prints JSON on stdout (one object per scan for `check` and `run`); errors go to
//! stderr with a non-zero exit status. A verdict, admit or reject, is not an error.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Args, Parser, Subcommand, ValueEnum};
use tessera_core::Direction;
use tessera_scanner::bundle::Bundle;
use tessera_scanner::camera::{self, FrameSource, ReplaySource};
use tessera_scanner::debounce::Debouncer;
use tessera_scanner::decode::{Decoder, Engine};
use tessera_scanner::mesh::{Mesh, MeshConfig};
use tessera_scanner::words::Language;
use tessera_scanner::{ScanReport, Scanner, repair, sync};

#[derive(Parser)]
#[command(
    name = "tessera-scan",
    version,
    about = "Tessera gate scanner (headless)"
)]
struct Cli {
    /// Where the device keeps its replica and check-in queue.
    #[arg(long, global = true, env = "TESSERA_SCAN_DATA_DIR", default_value_os_t = default_data_dir())]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a replica bundle (event, keys, tickets) from a file; gives the device an identity.
    Provision {
        /// The bundle (JSON, see docs/replica-bundle.md).
        #[arg(long)]
        bundle: PathBuf,
        /// This device's name as staff will see it ("Tablet-3").
        #[arg(long)]
        name: Option<String>,
        /// The gate this device scans at.
        #[arg(long)]
        gate: Option<String>,
    },
    /// Enroll this device with a server, using a one-time code from the organizer
    /// (`tessera-server device-code`), then sync once.
    Enroll {
        /// The server's URL, e.g. http://127.0.0.1:8080 (or the whole enrollment link).
        #[arg(long)]
        server: String,
        /// The one-time code (optional when --server is the whole link).
        #[arg(long)]
        code: Option<String>,
    },
    /// Run one sync round: upload queued check-ins, then download changes.
    Sync,
    /// Choose the gate and direction.
    Gate {
        /// One of the event's gates.
        #[arg(long)]
        name: Option<String>,
        /// Scan people in or out.
        #[arg(long, value_enum)]
        direction: Option<DirectionArg>,
    },
    /// Change a setting of this gate.
    Set {
        /// The language of the verdicts' words on the screen and in `message` (the
        /// verdict, reason codes, colour and symbol stay as they are).
        #[arg(long, value_enum)]
        language: Option<LanguageArg>,
    },
    /// Decide scans and print one JSON line each.
    Check {
        #[command(flatten)]
        input: CheckArgs,
        #[command(flatten)]
        mesh: MeshArgs,
    },
    /// Scan continuously from a camera (or replayed frames) until stopped.
    Run {
        /// Camera index (see `tessera-scan cameras`).
        #[arg(long, conflicts_with = "frames")]
        camera: Option<u32>,
        /// Replay a folder of frames instead of a camera.
        #[arg(long)]
        frames: Option<PathBuf>,
        /// Decoder: `auto` is zxing-cpp first, then the attempts around quircs (quircs alone
        /// in a build without the `zxing` feature).
        #[arg(long, value_enum, default_value_t = EngineArg::Auto)]
        decoder: EngineArg,
        #[command(flatten)]
        mesh: MeshArgs,
    },
    /// Print the device's state as JSON.
    Status,
    /// Salvage a damaged device.db: every check-in that can be read, and the identity where
    /// it can, go into a fresh file; the damaged one is renamed aside. Prints what was
    /// salvaged and what was lost.
    Repair,
    /// List cameras.
    Cameras,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct CheckArgs {
    /// Decode every QR code in an image file.
    #[arg(long)]
    image: Option<PathBuf>,
    /// A QR text as scanned.
    #[arg(long)]
    text: Option<String>,
    /// One QR text per line, as a USB scanner types it.
    #[arg(long)]
    stdin: bool,
    /// Replay a folder of camera frames (debounced like a live camera).
    #[arg(long)]
    frames: Option<PathBuf>,
}

/// The venue mesh (ADR 0024): gates that share a network keep each other current without
/// the server. Needs a device enrolled with a server (its certificate).
#[derive(Args, Clone)]
struct MeshArgs {
    /// Join the venue mesh while scanning.
    #[arg(long)]
    mesh: bool,
    /// Where to listen for other gates.
    #[arg(long, default_value = "0.0.0.0:7447", requires = "mesh")]
    mesh_listen: std::net::SocketAddr,
    /// Another gate to dial (`host:port`; repeat for more), for networks without multicast.
    #[arg(long = "peer", requires = "mesh")]
    peers: Vec<String>,
    /// Do not announce or browse by multicast DNS.
    #[arg(long, requires = "mesh")]
    no_mdns: bool,
}

impl MeshArgs {
    fn start(&self, dir: &Path) -> Result<Option<Mesh>> {
        if !self.mesh {
            return Ok(None);
        }
        let mesh = Mesh::start(
            dir,
            &MeshConfig {
                listen: self.mesh_listen,
                peers: self.peers.clone(),
                mdns: !self.no_mdns,
            },
        )?;
        let _ = writeln!(
            std::io::stderr(),
            "tessera-scan: on the venue mesh, listening on {}",
            mesh.local_addr()
        );
        Ok(Some(mesh))
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum DirectionArg {
    Entry,
    Exit,
}

#[derive(Clone, Copy, ValueEnum)]
enum LanguageArg {
    En,
    Ar,
}

#[derive(Clone, Copy, ValueEnum)]
enum EngineArg {
    Auto,
    Quircs,
    Rqrr,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tessera-scan")
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "tessera-scan: {e:#}");
        std::process::exit(1);
    }
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    // The line is flushed only after the check-in is committed: a printed verdict is a
    // recorded one.
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn open(dir: &Path) -> Result<Scanner> {
    let mut scanner = Scanner::open(dir)
        .with_context(|| format!("opening the device data in {}", dir.display()))?;
    if let Ok(s) = scanner.status(Utc::now()) {
        if let Some(aside) = &s.replica_rebuilt_from {
            let _ = writeln!(
                std::io::stderr(),
                "tessera-scan: the replica was damaged and has been moved to {}; the check-in queue is intact",
                aside.display()
            );
        }
        if s.mode == Some("signature_only") {
            let _ = writeln!(
                std::io::stderr(),
                "tessera-scan: signature-only mode: no replica, so tickets are judged on their signature and this device's own check-ins; revoked or transferred tickets are not known until the next sync. Sync (or provision) as soon as possible"
            );
        }
    }
    Ok(scanner)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Provision { bundle, name, gate } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("reading {}", bundle.display()))?;
            let parsed: Bundle = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid replica bundle", bundle.display()))?;
            let mut scanner = open(&cli.data_dir)?;
            scanner.provision(&parsed, name.as_deref(), Utc::now())?;
            if gate.is_some() {
                scanner.set_gate(gate.as_deref(), None)?;
            }
            print_json(&scanner.status(Utc::now())?)
        }
        Command::Gate { name, direction } => {
            let mut scanner = open(&cli.data_dir)?;
            let direction = direction.map(|d| match d {
                DirectionArg::Entry => Direction::Entry,
                DirectionArg::Exit => Direction::Exit,
            });
            scanner.set_gate(name.as_deref(), direction)?;
            print_json(&scanner.status(Utc::now())?)
        }
        Command::Set { language } => {
            let mut scanner = open(&cli.data_dir)?;
            if let Some(language) = language {
                scanner.set_language(match language {
                    LanguageArg::En => Language::En,
                    LanguageArg::Ar => Language::Ar,
                })?;
            }
            print_json(&serde_json::json!({"language": scanner.language()?.code()}))
        }
        Command::Enroll { server, code } => {
            let (server, code) = match (code, sync::parse_enrollment_link(&server)) {
                (Some(code), _) => (server, code),
                (None, Some((server, code))) => (server, code),
                (None, None) => bail!("give --code, or the whole enrollment link as --server"),
            };
            let mut scanner = open(&cli.data_dir)?;
            let enrolled = sync::enroll(&mut scanner, &server, &code, env!("CARGO_PKG_VERSION"))?;
            let _ = writeln!(
                std::io::stderr(),
                "tessera-scan: enrolled as {:?} (device {}); syncing…",
                enrolled.name,
                enrolled.device_id
            );
            sync_round(&mut scanner)?;
            print_json(&scanner.status(Utc::now())?)
        }
        Command::Sync => {
            let mut scanner = open(&cli.data_dir)?;
            let report = sync_round(&mut scanner)?;
            print_json(&report)
        }
        Command::Check { input, mesh } => check(&cli.data_dir, input, &mesh),
        Command::Run {
            camera,
            frames,
            decoder,
            mesh,
        } => {
            let mut scanner = open(&cli.data_dir)?;
            let mesh = mesh.start(&cli.data_dir)?;
            let engine = match decoder {
                EngineArg::Auto => Engine::default(),
                EngineArg::Quircs => Engine::Quircs,
                EngineArg::Rqrr => Engine::Rqrr,
            };
            let mut source: Box<dyn FrameSource> = match (camera, frames) {
                (_, Some(dir)) => Box::new(ReplaySource::open(&dir)?),
                (index, None) => open_camera(index.unwrap_or(0))?,
            };
            let updates = spawn_sync_loop(&cli.data_dir, &mut scanner)?;
            let result = scan_frames_with(
                &mut scanner,
                source.as_mut(),
                engine,
                updates.as_ref(),
                mesh.as_ref(),
            );
            scanner.device().flush()?;
            result
        }
        Command::Status => print_json(&open(&cli.data_dir)?.status(Utc::now())?),
        Command::Repair => {
            let report = repair::repair(&cli.data_dir, Utc::now()).with_context(|| {
                format!("repairing the device data in {}", cli.data_dir.display())
            })?;
            print_json(&report)
        }
        Command::Cameras => {
            let cams = camera::list_cameras()?;
            if cams.is_empty() {
                let _ = writeln!(
                    std::io::stderr(),
                    "tessera-scan: no camera found (no /dev/video* device). Plug one in, or scan with a USB scanner: `tessera-scan check --stdin`."
                );
            }
            print_json(&cams)
        }
    }
}

#[cfg(feature = "camera")]
fn open_camera(index: u32) -> Result<Box<dyn FrameSource>> {
    if camera::list_cameras()?.is_empty() {
        bail!(
            "no camera found (no /dev/video* device); use --frames DIR to replay frames, or `check --stdin` with a USB scanner"
        );
    }
    Ok(Box::new(camera::CameraSource::open(index)?))
}

#[cfg(not(feature = "camera"))]
fn open_camera(_index: u32) -> Result<Box<dyn FrameSource>> {
    bail!("this build has no camera support; use --frames DIR")
}

/// Decides one scan, hands its signed check-in to the mesh, prints the verdict.
fn scan_one(scanner: &mut Scanner, text: &str, mesh: Option<&Mesh>) -> Result<ScanReport> {
    let report = scanner.scan(text, Utc::now())?;
    if let Some(signed) = scanner.device().take_last_signed()
        && let Some(mesh) = mesh
    {
        mesh.push(signed);
    }
    print_json(&report)?;
    Ok(report)
}

fn check(dir: &Path, args: CheckArgs, mesh: &MeshArgs) -> Result<()> {
    let mut scanner = open(dir)?;
    let mesh = mesh.start(dir)?;
    if let Some(text) = args.text {
        scan_one(&mut scanner, &text, mesh.as_ref())?;
    } else if args.stdin {
        // A USB scanner's gate runs for hours: it syncs in the background too.
        let updates = if mesh.is_some() {
            spawn_sync_loop(dir, &mut scanner)?
        } else {
            None
        };
        for line in std::io::stdin().lock().lines() {
            let line = line.context("reading standard input")?;
            if updates.as_ref().is_some_and(|rx| rx.try_iter().count() > 0) {
                scanner.reload()?;
            }
            if !line.trim().is_empty() {
                scan_one(&mut scanner, &line, mesh.as_ref())?;
            }
        }
    } else if let Some(path) = args.image {
        let frame = camera::load_gray(&path)?;
        let texts = Decoder::new(Engine::default()).decode(&frame);
        if texts.is_empty() {
            bail!("no QR code found in {}", path.display());
        }
        for text in texts {
            scan_one(&mut scanner, &text, mesh.as_ref())?;
        }
    } else if let Some(dir) = args.frames {
        scan_frames(
            &mut scanner,
            &mut ReplaySource::open(&dir)?,
            Engine::default(),
        )?;
    }
    scanner.device().flush()?;
    Ok(())
}

/// One sync round with a progress line on a terminal.
fn sync_round(scanner: &mut Scanner) -> Result<sync::SyncReport> {
    let tty = std::io::stderr().is_terminal();
    let mut progress = |cursor: u64, head: u64| {
        if tty && head > 0 {
            let _ = write!(
                std::io::stderr(),
                "\rsyncing: {cursor}/{head} changes ({}%)",
                cursor * 100 / head
            );
        }
    };
    let report = sync::sync_once(scanner, &mut progress);
    if tty {
        let _ = writeln!(std::io::stderr());
    }
    Ok(report?)
}

/// When the device is enrolled, syncs in a background thread with its own connections:
/// every 10 s while the server answers, backing off to a minute while it does not, forever.
/// The receiver hears of every round that changed the replica.
fn spawn_sync_loop(dir: &Path, scanner: &mut Scanner) -> Result<Option<mpsc::Receiver<()>>> {
    if !sync::status(scanner)?.enrolled {
        return Ok(None);
    }
    let (tx, rx) = mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let Ok(mut own) = Scanner::open(&dir) else {
            return;
        };
        let mut failures = 0u32;
        let mut correction = own.clock_status().map_or(0, |c| c.correction_ms);
        loop {
            let wait = match sync::sync_once(&mut own, &mut |_, _| {}) {
                Ok(report) => {
                    failures = 0;
                    // A new clock correction is news too: the scanning side reloads it.
                    let corrected = own.clock_status().map_or(correction, |c| c.correction_ms);
                    let changed = report.tickets > 0
                        || report.check_ins > 0
                        || report.pages > 1
                        || corrected != correction;
                    correction = corrected;
                    if changed && tx.send(()).is_err() {
                        return;
                    }
                    Duration::from_secs(10)
                }
                Err(e) if e.is_retryable() => {
                    failures = failures.saturating_add(1);
                    Duration::from_secs(2u64.saturating_pow(failures.min(6)).min(60))
                }
                // Revoked or refused: nothing a retry fixes; the status shows why.
                Err(_) => return,
            };
            std::thread::sleep(wait);
        }
    });
    Ok(Some(rx))
}

fn scan_frames(scanner: &mut Scanner, source: &mut dyn FrameSource, engine: Engine) -> Result<()> {
    scan_frames_with(scanner, source, engine, None, None)
}

fn scan_frames_with(
    scanner: &mut Scanner,
    source: &mut dyn FrameSource,
    engine: Engine,
    updates: Option<&mpsc::Receiver<()>>,
    mesh: Option<&Mesh>,
) -> Result<()> {
    let mut decoder = Decoder::new(engine);
    let mut debounce = Debouncer::default();
    // Replayed frames are taken as consecutive frames of a 30 fps camera, so the debounce
    // behaves as it would live.
    let frame_time = Duration::from_millis(33);
    let start = Instant::now();
    let mut n = 0u32;
    while let Some(frame) = source.next_frame()? {
        if updates.is_some_and(|rx| rx.try_iter().count() > 0) {
            scanner.reload()?;
        }
        let now = start + frame_time * n;
        n += 1;
        for text in decoder.decode(&frame) {
            if debounce.accept(&text, now) {
                scan_one(scanner, &text, mesh)?;
            }
        }
    }
    Ok(())
}
