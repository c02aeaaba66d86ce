//! The gate's state, without Tauri: the scanner behind a mutex, the camera pipeline
//! (decoder + debounce), the counters and recent scans the screen shows, and the sync
//! round. Commands and background threads call these methods; none of them waits for the
//! network while holding the scanner, so a scan is never held up by sync.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use image::GrayImage;
use serde::Serialize;
use tessera_core::Direction;
use tessera_scanner::debounce::Debouncer;
use tessera_scanner::decode::{Decoder, Engine};
use tessera_scanner::mesh::{Mesh, MeshConfig};
use tessera_scanner::sync::{self, SyncError};
use tessera_scanner::words::Language;
use tessera_scanner::{ScanReport, Scanner, StatusReport};

use crate::error::GuiError;

/// Scans kept for the recent-scans list.
const RECENT: usize = 12;

/// Where camera frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameFeed {
    /// The webview's `getUserMedia`; frames arrive through the `decode_frame` command.
    Webview,
    /// Image files replayed from a folder by a thread in this process (tests, demos, kiosks).
    Replay(PathBuf),
}

/// What a scanned code turned out to be.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Seen {
    /// A ticket (or something that is not one): a verdict, already recorded.
    Scan {
        /// The verdict.
        report: Box<ScanReport>,
    },
    /// An enrollment link (`<server>/enroll?code=<CODE>`): nothing recorded.
    Enrollment {
        /// The server.
        server: String,
        /// The one-time code.
        code: String,
    },
}

/// One decoded camera frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameResult {
    /// Time spent in the QR decoder, in microseconds.
    pub decode_us: u64,
    /// A new scan, when the frame held a code not seen just before.
    pub seen: Option<Seen>,
}

/// Admissions and rejects of the event-local day.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Today {
    /// The day counted.
    pub date: NaiveDate,
    /// Entries admitted by this device that day.
    pub admitted: u64,
    /// Rejects that day.
    pub rejected: u64,
}

/// Sync as the screen sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncView {
    /// `true` after a round that reached the server, `false` after one that did not,
    /// `None` before the first round (or when not enrolled).
    pub online: Option<bool>,
    /// Failed rounds in a row.
    pub failures: u32,
    /// A round is running.
    pub syncing: bool,
    /// `(cursor, head)` of the running round.
    pub progress: Option<(u64, u64)>,
}

/// The camera as the screen sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CameraView {
    /// `webview` or `replay`.
    pub feed: &'static str,
    /// Frames decoded since start.
    pub frames: u64,
    /// Mean decode time over the last frames, in milliseconds.
    pub decode_ms: f64,
    /// The replay source's last error (a missing folder, an unreadable file).
    pub error: Option<String>,
}

/// Everything the status bar, the counters and the lists show.
#[derive(Debug, Clone, Serialize)]
pub struct GateStatus {
    /// Increases with every status taken: events and command answers can arrive out of
    /// order, and the page keeps the newest.
    pub generation: u64,
    /// The library's status (device, event, gate, replica age, queue, sync, conflicts).
    #[serde(flatten)]
    pub device: StatusReport,
    /// The event's gates, to choose from.
    pub gates: Vec<String>,
    /// The event's time zone (IANA name): times on the screen are the event's wall clock,
    /// as in the reasons the library words, whatever zone the device is set to.
    pub timezone: Option<String>,
    /// Sync as seen by this app.
    pub link: SyncView,
    /// Today's counts.
    pub today: Option<Today>,
    /// The latest scans, newest first.
    pub recent: Vec<ScanReport>,
    /// The camera.
    pub camera: CameraView,
    /// An enrollment link seen and not used yet.
    pub enrollment_link: Option<EnrollmentLink>,
    /// This app's version.
    pub app_version: &'static str,
    /// The language of the verdicts' words (`en`, `ar`): a gate setting.
    pub language: &'static str,
}

struct CameraPipe {
    decoder: Decoder,
    debounce: Debouncer,
}

/// An enrollment link read by the camera or a scanner.
#[derive(Debug, Clone, Serialize)]
pub struct EnrollmentLink {
    /// The server.
    pub server: String,
    /// The one-time code.
    pub code: String,
}

#[derive(Default)]
struct View {
    recent: VecDeque<ScanReport>,
    // The last enrollment link seen until enrollment succeeds: the camera may read it
    // before the page listens for events (and then debounces it while it stays in view).
    enrollment: Option<EnrollmentLink>,
    today: Option<Today>,
    link: SyncView,
    camera: CameraView,
}

/// A grayscale frame for the preview of replayed frames.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Frame number.
    pub n: u64,
    /// The pixels.
    pub frame: GrayImage,
}

/// The gate device as the shell holds it.
pub struct Gate {
    dir: PathBuf,
    feed: FrameFeed,
    scanner: Mutex<Scanner>,
    camera: Mutex<CameraPipe>,
    view: Mutex<View>,
    preview: Mutex<Option<Preview>>,
    kick: Mutex<Option<Sender<()>>>,
    // Held for a whole sync round (or enrollment), so two rounds never overlap.
    round: Mutex<()>,
    generation: AtomicU64,
    /// How to join the venue mesh (`None`: this gate stays off it).
    mesh_config: Option<MeshConfig>,
    /// The venue mesh, once this gate has a certificate and an event.
    mesh: Mutex<Option<Mesh>>,
}

/// Locks a mutex; a thread that panicked while holding it left data that is still whole
/// (every write to it is a single assignment), so keep going rather than stop the gate.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Gate {
    /// Opens the device data in `dir`.
    pub fn open(dir: &Path, feed: FrameFeed) -> Result<Self, GuiError> {
        let scanner = Scanner::open(dir)?;
        let view = View {
            camera: CameraView {
                feed: match feed {
                    FrameFeed::Webview => "webview",
                    FrameFeed::Replay(_) => "replay",
                },
                ..CameraView::default()
            },
            ..View::default()
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            feed,
            scanner: Mutex::new(scanner),
            camera: Mutex::new(CameraPipe {
                decoder: Decoder::new(Engine::default()),
                debounce: Debouncer::default(),
            }),
            view: Mutex::new(view),
            preview: Mutex::new(None),
            kick: Mutex::new(None),
            round: Mutex::new(()),
            generation: AtomicU64::new(0),
            mesh_config: None,
            mesh: Mutex::new(None),
        })
    }

    /// Joins the venue mesh with `config` whenever the gate can (now, or once it is
    /// enrolled and has its event).
    #[must_use]
    pub fn with_mesh(mut self, config: MeshConfig) -> Self {
        self.mesh_config = Some(config);
        self.join_mesh();
        self
    }

    /// Starts the mesh if it is wanted, not running, and the gate has what it needs; on a
    /// port another program holds, any free port (peers find it by multicast DNS).
    fn join_mesh(&self) {
        let Some(config) = &self.mesh_config else {
            return;
        };
        let mut mesh = lock(&self.mesh);
        if mesh.is_some() {
            return;
        }
        let started = Mesh::start(&self.dir, config).or_else(|e| match e {
            tessera_scanner::Error::Io(_) => Mesh::start(
                &self.dir,
                &MeshConfig {
                    listen: std::net::SocketAddr::new(config.listen.ip(), 0),
                    ..config.clone()
                },
            ),
            e => Err(e),
        });
        *mesh = started.ok();
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where frames come from.
    pub fn feed(&self) -> &FrameFeed {
        &self.feed
    }

    /// Decides a scanned text (camera, keyboard wedge or typed): a verdict recorded before
    /// it returns, or an enrollment link.
    pub fn scan_text(&self, text: &str) -> Result<Seen, GuiError> {
        if let Some((server, code)) = sync::parse_enrollment_link(text) {
            lock(&self.view).enrollment = Some(EnrollmentLink {
                server: server.clone(),
                code: code.clone(),
            });
            return Ok(Seen::Enrollment { server, code });
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(GuiError::BadRequest("empty code".into()));
        }
        let report = {
            let mut scanner = lock(&self.scanner);
            let now = scanner.clock().now();
            let report = scanner.scan(text, now)?;
            if let Some(signed) = scanner.device().take_last_signed()
                && let Some(mesh) = lock(&self.mesh).as_ref()
            {
                mesh.push(signed);
            }
            report
        };
        self.note(&report);
        Ok(Seen::Scan {
            report: Box::new(report),
        })
    }

    /// Decodes one grayscale frame; a code not seen just before becomes a scan.
    pub fn decode_frame(&self, frame: &GrayImage) -> Result<FrameResult, GuiError> {
        let started = Instant::now();
        let fresh: Vec<String> = {
            let mut cam = lock(&self.camera);
            let texts = cam.decoder.decode(frame);
            let now = Instant::now();
            texts
                .into_iter()
                .filter(|t| cam.debounce.accept(t, now))
                .collect()
        };
        let decode_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        {
            let mut view = lock(&self.view);
            let cam = &mut view.camera;
            cam.frames += 1;
            // An exponential mean over about the last 16 frames.
            let ms = decode_us as f64 / 1000.0;
            cam.decode_ms = if cam.frames == 1 {
                ms
            } else {
                cam.decode_ms + (ms - cam.decode_ms) / 16.0
            };
        }
        let seen = match fresh.first() {
            Some(text) => Some(self.scan_text(text)?),
            None => None,
        };
        Ok(FrameResult { decode_us, seen })
    }

    /// Keeps the latest replayed frame for the preview.
    pub fn set_preview(&self, preview: Preview) {
        *lock(&self.preview) = Some(preview);
    }

    /// The latest replayed frame, if newer than frame `after`.
    pub fn preview(&self, after: u64) -> Option<Preview> {
        lock(&self.preview)
            .as_ref()
            .filter(|p| p.n > after)
            .cloned()
    }

    /// Records a camera problem for the status bar (`None` clears it).
    pub fn set_camera_error(&self, error: Option<String>) {
        lock(&self.view).camera.error = error;
    }

    fn note(&self, report: &ScanReport) {
        // Lock order everywhere: the scanner before the view, never the other way round.
        let date = self.local_date(report.at);
        let mut view = lock(&self.view);
        view.recent.push_front(report.clone());
        view.recent.truncate(RECENT);
        if let Some(today) = view.today.as_mut().filter(|t| Some(t.date) == date) {
            match report.verdict {
                "admit" if report.direction == "entry" => today.admitted += 1,
                // Exits, routine or not inside (a warning), let the person through.
                "admit" | "warning" => {}
                _ => today.rejected += 1,
            }
        }
    }

    fn local_date(&self, at: DateTime<Utc>) -> Option<NaiveDate> {
        let mut scanner = lock(&self.scanner);
        let event = scanner.replica().event().ok()??;
        Some(event.config.local_date(at))
    }

    /// Today's counts, recounted from the queue when the day changed (or at first use).
    fn today(&self, now: DateTime<Utc>) -> Result<Option<Today>, GuiError> {
        let Some(date) = self.local_date(now) else {
            return Ok(None);
        };
        if let Some(t) = lock(&self.view).today.filter(|t| t.date == date) {
            return Ok(Some(t));
        }
        let mut today = Today {
            date,
            admitted: 0,
            rejected: 0,
        };
        {
            let mut scanner = lock(&self.scanner);
            let Some(event) = scanner.replica().event()? else {
                return Ok(None);
            };
            for c in scanner.device().all()? {
                if event.config.local_date(c.at) != date {
                    continue;
                }
                match c.verdict.as_str() {
                    "admit" if c.direction == "entry" => today.admitted += 1,
                    "admit" => {}
                    _ => today.rejected += 1,
                }
            }
        }
        lock(&self.view).today = Some(today);
        Ok(Some(today))
    }

    /// Everything the screen shows.
    pub fn status(&self) -> Result<GateStatus, GuiError> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        // The link state first: a sync round records its outcome in the database before it
        // updates the link, so a link that says offline always comes with the error read
        // below, never with the state from before the round.
        let link = lock(&self.view).link.clone();
        // The day on the server's time, as the scans are decided.
        let now = lock(&self.scanner).now();
        let today = self.today(now)?;
        let (device, event, language) = {
            let mut scanner = lock(&self.scanner);
            (
                scanner.status(now)?,
                scanner.replica().event()?,
                scanner.language()?,
            )
        };
        let timezone = event
            .as_ref()
            .map(|e| e.config.timezone().name().to_owned());
        let gates = event
            .map(|e| e.gates.into_iter().map(|(name, _)| name).collect())
            .unwrap_or_default();
        let view = lock(&self.view);
        Ok(GateStatus {
            generation,
            device,
            gates,
            timezone,
            link,
            today,
            recent: view.recent.iter().cloned().collect(),
            camera: view.camera.clone(),
            enrollment_link: view.enrollment.clone(),
            app_version: env!("CARGO_PKG_VERSION"),
            language: language.code(),
        })
    }

    /// Sets the language of the verdicts' words (`en` or `ar`), from the next scan on.
    pub fn set_language(&self, code: &str) -> Result<(), GuiError> {
        let language = Language::parse(code)
            .ok_or_else(|| GuiError::BadRequest(format!("language {code:?}: expected en or ar")))?;
        lock(&self.scanner).set_language(language)?;
        Ok(())
    }

    /// Chooses the gate and/or the direction (`entry` or `exit`).
    pub fn set_gate(&self, name: Option<&str>, direction: Option<&str>) -> Result<(), GuiError> {
        let direction = match direction {
            None => None,
            Some("entry") => Some(Direction::Entry),
            Some("exit") => Some(Direction::Exit),
            Some(other) => {
                return Err(GuiError::BadRequest(format!(
                    "direction {other:?}: expected entry or exit"
                )));
            }
        };
        lock(&self.scanner).set_gate(name, direction)?;
        Ok(())
    }

    /// Enrolls with a one-time code and runs the first sync round, on connections of its
    /// own: the scanner is locked only to be reopened with the new identity at the end.
    pub fn enroll(
        &self,
        server: &str,
        code: &str,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<(), GuiError> {
        let server = server.trim();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(GuiError::BadRequest(format!(
                "the server address must start with http:// or https:// (got {server:?})"
            )));
        }
        let _round = lock(&self.round);
        let mut own = Scanner::open(&self.dir)?;
        sync::enroll(&mut own, server, code, env!("CARGO_PKG_VERSION"))?;
        let first = self.run_round(&mut own, progress);
        *lock(&self.scanner) = Scanner::open(&self.dir)?;
        {
            let mut view = lock(&self.view);
            view.today = None;
            view.enrollment = None;
        }
        match first {
            // Enrolled; the server went away right after: the sync loop keeps trying.
            Err(e) if e.is_retryable() => Ok(()),
            other => other.map(|_| ()).map_err(GuiError::from),
        }
    }

    /// One sync round on connections of its own. `Ok(None)` when the device is not
    /// enrolled (or was revoked): nothing to do until someone enrolls it.
    pub fn sync_round(
        &self,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<Option<sync::SyncReport>, SyncError> {
        let _round = lock(&self.round);
        let mut own = Scanner::open(&self.dir)?;
        let st = sync::status(&mut own)?;
        if !st.enrolled || st.revoked {
            lock(&self.view).link.online = None;
            return Ok(None);
        }
        self.run_round(&mut own, progress).map(Some)
    }

    fn run_round(
        &self,
        own: &mut Scanner,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<sync::SyncReport, SyncError> {
        lock(&self.view).link.syncing = true;
        let result = sync::sync_once(own, &mut |cursor, head| {
            lock(&self.view).link.progress = Some((cursor, head));
            progress(cursor, head);
        });
        let reloaded = match &result {
            Ok(_) => lock(&self.scanner).reload(),
            Err(_) => Ok(()),
        };
        if result.is_ok() {
            // Enrolled, with its event: the mesh can start if it has not.
            self.join_mesh();
        }
        let mut view = lock(&self.view);
        let link = &mut view.link;
        link.syncing = false;
        link.progress = None;
        match &result {
            Ok(_) => {
                link.online = Some(true);
                link.failures = 0;
            }
            Err(e) => {
                link.online = Some(!matches!(e, SyncError::Offline(_)));
                link.failures = link.failures.saturating_add(1);
            }
        }
        reloaded?;
        result
    }

    /// Failed sync rounds in a row.
    pub fn sync_failures(&self) -> u32 {
        lock(&self.view).link.failures
    }

    /// Sets the channel that wakes the sync loop.
    pub fn set_kick(&self, tx: Sender<()>) {
        *lock(&self.kick) = Some(tx);
    }

    /// Wakes the sync loop now (after enrollment, or "sync now").
    pub fn kick(&self) {
        if let Some(tx) = lock(&self.kick).as_ref() {
            let _ = tx.send(());
        }
    }
}
