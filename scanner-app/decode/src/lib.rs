//! Tessera's QR decoder for gate cameras: which copies of a grayscale frame to try, in
//! which order, on how many cores, for how long, and what to tell the ticket holder when a
//! code is in view but unreadable (docs/adr/0015-decoder-for-real-cameras.md,
//! docs/adr/0021-zxing-cpp-first.md). Its own crate so that the browser gate can build it
//! for `wasm32-unknown-unknown` (without the `zxing` feature).
//!
//! 0. With the `zxing` feature (the default), zxing-cpp on the frame: a large frame at half
//!    size, a global threshold, then local ones in both polarities; under a millisecond for
//!    a clean frame.
//! 1. Cheap, for every frame: quircs on a half-size copy of large frames (a ticket held up
//!    to a gate camera usually fills a good part of the frame), then on the frame itself;
//!    after a code only the full size read, the other way round (a failed attempt costs
//!    more than a successful one, and a gate sees tickets at much the same distance).
//! 2. If those fail, a search for finder patterns (1:1:3:1:1 runs) in both polarities on a
//!    locally binarized copy. None: nothing like a code is in view, stop.
//! 3. Otherwise the costly attempts, on the region around the finders, taken from the full
//!    frame and enlarged when modules are small, inverted for light-on-dark codes: local
//!    contrast normalization (dim light, glare), unsharp masking (defocus), local
//!    thresholding at two window sizes (noise, uneven light), zxing-cpp on the enlarged and
//!    the sharpened region, spread over the cores, until a text passes the caller's check
//!    or the time budget is spent. A code quirc locates but cannot decode is sampled again
//!    on a grid fitted patch by patch (`grid.rs`).
//!
//! It does not verify tickets: the caller's check (the gate verifies signatures) decides
//! whether a text is the one to stop at.

pub mod debounce;
mod filters;
mod finder;
mod grid;
#[cfg(feature = "zxing")]
mod zxing;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
/// The clock the decoder's budget and the [`debounce::Debouncer`] run on: the system's, or
/// the browser's (`performance.now()`) in WebAssembly, where `std::time::Instant` panics.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use std::time::Instant;

/// The clock the decoder's budget and the [`debounce::Debouncer`] run on: the system's, or
/// the browser's (`performance.now()`) in WebAssembly, where `std::time::Instant` panics.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use web_time::Instant;

use image::GrayImage;

use filters::{Plane, Rect};
use finder::Sighting;

/// Which decoder library to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// zxing-cpp on the whole frame first, then the attempts around quircs, with zxing-cpp
    /// also trying the prepared regions. The default when built with the `zxing` feature.
    #[cfg(feature = "zxing")]
    ZxingCpp,
    /// quircs (a port of quirc) in every attempt. The default without the `zxing` feature.
    Quircs,
    /// rqrr in every attempt.
    Rqrr,
}

impl Default for Engine {
    fn default() -> Self {
        #[cfg(feature = "zxing")]
        return Engine::ZxingCpp;
        #[cfg(not(feature = "zxing"))]
        return Engine::Quircs;
    }
}

impl Engine {
    /// The engine of the attempts after the first: zxing-cpp's are quircs's.
    fn base(self) -> Engine {
        match self {
            #[cfg(feature = "zxing")]
            Engine::ZxingCpp => Engine::Quircs,
            other => other,
        }
    }
}

/// What one frame gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A code was read and its text passed the caller's check.
    Read(String),
    /// A code is in view (finder patterns were seen) but could not be read: show the
    /// guidance, never a verdict.
    Unreadable(Guidance),
    /// Nothing like a QR code in view.
    NoCode,
}

/// What the ticket holder can do about a code the camera sees but cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guidance {
    /// The modules are too small to sample.
    HoldCloser,
    /// Part of the code is outside the picture.
    MoveIntoView,
    /// A bright reflection washes part of the code out.
    TiltAgainstGlare,
    /// Too dark to tell the modules apart.
    MoreLight,
    /// Blurred, bent or moving: the usual cause when none of the above is seen.
    HoldStill,
}

impl Guidance {
    /// A stable identifier for the UI (`hold_closer`, …).
    pub fn code(self) -> &'static str {
        match self {
            Guidance::HoldCloser => "hold_closer",
            Guidance::MoveIntoView => "move_into_view",
            Guidance::TiltAgainstGlare => "tilt_against_glare",
            Guidance::MoreLight => "more_light",
            Guidance::HoldStill => "hold_still",
        }
    }

    /// The sentence for the gate screen, addressed to the person holding the ticket.
    pub fn message(self) -> &'static str {
        match self {
            Guidance::HoldCloser => "Hold the code closer to the camera",
            Guidance::MoveIntoView => "Move the whole code into view",
            Guidance::TiltAgainstGlare => "Tilt the ticket to avoid the glare",
            Guidance::MoreLight => "Too dark: turn up the screen or find more light",
            Guidance::HoldStill => "Hold the code flat and still",
        }
    }
}

/// Time a frame may take before the decoder gives up on it, in production. A camera at
/// 30 fps delivers a new frame every 33 ms; giving up after two frame times lets the next
/// frame (often sharper: the holder steadies the ticket) have its chance.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(40);

/// Frames whose longer side exceeds this are first tried at half size.
const DOWNSCALE_ABOVE: usize = 800;

/// A reusable decoder: keeps its buffers between frames.
pub struct Decoder {
    engine: Engine,
    quirc: quircs::Quirc,
    budget: Option<Duration>,
    threads: usize,
    half: Vec<u8>,
    integral: Vec<u32>,
    /// Whether the last code the first quircs attempts read came from a large frame at full
    /// size: the next large frame is tried at full size first. A gate's camera sees tickets
    /// at much the same distance, and an attempt that fails costs more than one that reads
    /// (quircs chases every candidate): tickets whose modules are too small at half size
    /// would otherwise pay for the half-size attempt on every frame.
    full_first: bool,
}

impl Decoder {
    /// A decoder using `engine`, with [`DEFAULT_BUDGET`] per frame, on all cores.
    pub fn new(engine: Engine) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        Self {
            engine,
            quirc: quircs::Quirc::default(),
            budget: Some(DEFAULT_BUDGET),
            threads,
            half: Vec::new(),
            integral: Vec::new(),
            full_first: false,
        }
    }

    /// Sets the time budget per frame; `None` runs every attempt (tests use this, so that a
    /// slow debug build or a busy machine cannot change what is read).
    pub fn with_budget(mut self, budget: Option<Duration>) -> Self {
        self.budget = budget;
        self
    }

    /// Runs the costly attempts on `threads` threads (at least one).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The texts of the QR codes found in the frame (none or one). Codes whose payload is not
    /// UTF-8 are skipped: no Tessera ticket is. Prefer [`Decoder::scan`], which stops at a
    /// text that verifies and explains an unreadable code.
    pub fn decode(&mut self, frame: &GrayImage) -> Vec<String> {
        match self.scan(frame, &|_| true) {
            Outcome::Read(text) => vec![text],
            Outcome::Unreadable(_) | Outcome::NoCode => Vec::new(),
        }
    }

    /// Reads the frame, stopping at the first text for which `accept` returns true (give it
    /// the signature check, so a misread, however unlikely, costs another attempt rather
    /// than a verdict).
    pub fn scan(&mut self, frame: &GrayImage, accept: &(dyn Fn(&str) -> bool + Sync)) -> Outcome {
        let start = Instant::now();
        let (w, h) = (frame.width() as usize, frame.height() as usize);
        if w < 21 || h < 21 {
            return Outcome::NoCode;
        }
        let engine = self.engine.base();
        let large = w.max(h) > DOWNSCALE_ABOVE;
        let (hw, hh) = if large {
            filters::halve(frame.as_raw(), w, h, &mut self.half)
        } else {
            (0, 0)
        };
        #[cfg(feature = "zxing")]
        if self.engine == Engine::ZxingCpp {
            // A large frame is tried at half size first (a quarter of the pixels; a ticket
            // held up to a gate camera still has modules of two pixels or more); a global
            // threshold first, then local ones in both polarities; then the frame as it is
            // (a small one also at zxing-cpp's own smaller scales).
            let (px, pw, ph) = if large {
                (self.half.as_slice(), hw, hh)
            } else {
                (frame.as_raw().as_slice(), w, h)
            };
            let local = zxing::Effort::Frame { downscale: !large };
            for effort in [zxing::Effort::Quick, local] {
                if let Some(text) = zxing::read(px, pw, ph, effort, accept) {
                    return Outcome::Read(text);
                }
            }
            if large && let Some(text) = zxing::read(frame.as_raw(), w, h, local, accept) {
                return Outcome::Read(text);
            }
        }
        // A large frame at half size and as it is, in the order that read the last code.
        let sizes: &[bool] = match (large, self.full_first) {
            (false, _) => &[true],
            (true, false) => &[false, true],
            (true, true) => &[true, false],
        };
        for &full in sizes {
            let found = if full {
                run(engine, &mut self.quirc, frame.as_raw(), w, h, accept)
            } else {
                let half = std::mem::take(&mut self.half);
                let found = run(engine, &mut self.quirc, &half, hw, hh, accept);
                self.half = half;
                found
            };
            if let Some(text) = found {
                if large {
                    self.full_first = full;
                }
                return Outcome::Read(text);
            }
        }

        let full = Plane::new(frame.as_raw().clone(), w, h);
        let window = (w.max(h) / 24).max(8);
        // Smoothed first (noise breaks finder runs), then as it is (smoothing merges the
        // rings of finders under two pixels a module).
        let mut sighting = None;
        for smoothed in [true, false] {
            let source = if smoothed {
                filters::smooth(&full)
            } else {
                full.clone()
            };
            let binary = filters::binarize(&source, window, 90, &mut self.integral);
            sighting = finder::sighting(&finder::find(&binary), w, h);
            if sighting.is_some() {
                break;
            }
        }
        // A smoothed, locally thresholded copy of the whole frame (the pipeline's third step
        // since ADR 0007, 3–5 ms) reads the odd noisy or unevenly lit code, including some
        // the finder search misses.
        let binary = filters::binarize(&filters::smooth(&full), window, 85, &mut self.integral);
        if let Some(text) = run(engine, &mut self.quirc, &binary.px, w, h, accept) {
            return Outcome::Read(text);
        }
        let Some(sighting) = sighting else {
            return Outcome::NoCode;
        };
        let deadline = self.budget.map(|b| start + b);
        let jobs = plan(&sighting, w, h, large, self.engine);
        let base = Bases::new(&full, &sighting, &jobs);
        if let Some(text) = attempt_all(engine, self.threads, &base, &jobs, deadline, accept) {
            return Outcome::Read(text);
        }
        // A small frame doubled whole, as before the finder search: a finder group found in
        // the wrong place (text, a pattern) must not hide the code elsewhere.
        if !large && deadline.is_none_or(|d| Instant::now() < d) {
            let whole = Rect {
                x0: 0,
                y0: 0,
                x1: w,
                y1: h,
            };
            let doubled = filters::crop_scale(&full, whole, 2.0);
            if let Some(text) = run(
                engine,
                &mut self.quirc,
                &doubled.px,
                doubled.w,
                doubled.h,
                accept,
            ) {
                return Outcome::Read(text);
            }
        }
        Outcome::Unreadable(guidance(&full, &sighting))
    }
}

/// Runs one decoder on one picture; the first text that `accept`s.
fn run(
    engine: Engine,
    quirc: &mut quircs::Quirc,
    px: &[u8],
    w: usize,
    h: usize,
    accept: &(dyn Fn(&str) -> bool + Sync),
) -> Option<String> {
    match engine {
        #[cfg(feature = "zxing")]
        Engine::ZxingCpp => zxing::read(px, w, h, zxing::Effort::Region, accept),
        Engine::Quircs => {
            // Codes located but not decoded get a second reading on a refined grid.
            let view = grid::View { px, w, h };
            quirc
                .identify(w, h, px)
                .filter_map(Result::ok)
                .find_map(|code| {
                    match code.decode() {
                        Ok(data) => String::from_utf8(data.payload).ok().filter(|t| accept(t)),
                        Err(_) => None,
                    }
                    .or_else(|| grid::reread(view, &code, accept))
                })
        }
        Engine::Rqrr => {
            let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
                px.get(y * w + x).copied().unwrap_or(255)
            });
            img.detect_grids()
                .iter()
                .filter_map(|g| g.decode().ok())
                .map(|(_, text)| text)
                .find(|text| accept(text))
        }
    }
}

/// How to prepare one copy of the region before decoding it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Prep {
    /// As it is (cropped, scaled, inverted).
    Plain,
    /// Local contrast normalization over a window of this many modules.
    Normalize(f32),
    /// Unsharp mask.
    Sharpen,
    /// Smoothed, then thresholded against the local mean over this many modules.
    Binarize(f32),
    /// Sharpened, then thresholded.
    SharpenBinarize(f32),
}

/// One costly attempt: which base (index into the scales) and how to prepare it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Job {
    scale: usize,
    prep: Prep,
    /// Another engine than the decoder's for this attempt.
    engine: Option<Engine>,
}

/// The attempts for a sighting, likeliest first; `engine` is the decoder's (zxing-cpp, when
/// it is, also tries the enlarged and the sharpened region).
fn plan(s: &Sighting, w: usize, h: usize, large: bool, engine: Engine) -> Vec<Job> {
    #[cfg(not(feature = "zxing"))]
    let _ = engine;
    let scales = scales(s.module);
    let mut jobs = Vec::new();
    for (i, &scale) in scales.iter().enumerate() {
        let whole = s.region.x0 == 0 && s.region.y0 == 0 && s.region.x1 == w && s.region.y1 == h;
        // The whole frame as it is was the first attempt already: zxing-cpp's in both
        // polarities and at full size, quirc's in the frame's polarity (and at full size only
        // for small frames).
        let first_attempt = whole && scale == 1.0;
        #[cfg(feature = "zxing")]
        if engine == Engine::ZxingCpp {
            for prep in [Prep::Plain, Prep::Sharpen] {
                if prep == Prep::Plain && first_attempt {
                    continue;
                }
                jobs.push(Job {
                    scale: i,
                    prep,
                    engine: Some(Engine::ZxingCpp),
                });
            }
        }
        if s.module < 2.6 {
            // rqrr fits its grid differently from quirc and reads some small codes quirc
            // does not.
            jobs.push(Job {
                scale: i,
                prep: Prep::Plain,
                engine: Some(Engine::Rqrr),
            });
        }
        if s.inverted || large || !first_attempt {
            jobs.push(Job {
                scale: i,
                prep: Prep::Plain,
                engine: None,
            });
        }
        for prep in [
            Prep::Sharpen,
            Prep::Binarize(4.0),
            Prep::Normalize(6.0),
            Prep::Binarize(12.0),
            Prep::SharpenBinarize(6.0),
        ] {
            jobs.push(Job {
                scale: i,
                prep,
                engine: None,
            });
        }
    }
    jobs
}

/// Enlargements to try for a module size: quirc samples a grid reliably from about four
/// pixels a module.
fn scales(module: f32) -> Vec<f32> {
    if module < 2.6 {
        vec![2.0, 3.0]
    } else if module < 4.0 {
        vec![2.0, 1.0]
    } else if module > 10.0 {
        vec![0.5, 1.0]
    } else {
        vec![1.0, 2.0]
    }
}

/// The cropped, scaled (and, for light-on-dark codes, inverted) copies the jobs start from.
struct Bases {
    planes: Vec<Plane>,
    /// Module size in each plane's pixels.
    modules: Vec<f32>,
}

impl Bases {
    fn new(full: &Plane, s: &Sighting, jobs: &[Job]) -> Self {
        let scales = scales(s.module);
        let used = jobs.iter().map(|j| j.scale).max().map_or(0, |m| m + 1);
        let mut planes = Vec::new();
        let mut modules = Vec::new();
        let r = s.region;
        let area = ((r.x1 - r.x0) * (r.y1 - r.y0)) as f32;
        for &scale in scales.iter().take(used) {
            // Enlarging a whole frame would cost more than the budget: at most ≈ 1.2 Mpx.
            let scale = scale.min((1_200_000.0 / area).sqrt()).max(0.25);
            let mut p = if scale == 1.0
                && s.region
                    == (Rect {
                        x0: 0,
                        y0: 0,
                        x1: full.w,
                        y1: full.h,
                    }) {
                full.clone()
            } else {
                filters::crop_scale(full, s.region, scale)
            };
            if s.inverted {
                filters::invert(&mut p);
            }
            planes.push(p);
            modules.push(s.module * scale);
        }
        Self { planes, modules }
    }
}

/// Runs the jobs on `threads` threads, each taking the next job until one reads or time is
/// up.
fn attempt_all(
    engine: Engine,
    threads: usize,
    bases: &Bases,
    jobs: &[Job],
    deadline: Option<Instant>,
    accept: &(dyn Fn(&str) -> bool + Sync),
) -> Option<String> {
    let next = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let found: Mutex<Option<String>> = Mutex::new(None);
    let work = || {
        let mut quirc = quircs::Quirc::default();
        let mut ii = Vec::new();
        let mut sq = Vec::new();
        // An attempt cannot be interrupted: start one only if an attempt as long as the last
        // one still ends within the budget.
        let mut last = Duration::ZERO;
        loop {
            let now = Instant::now();
            if done.load(Ordering::Relaxed) || deadline.is_some_and(|d| now + last >= d) {
                return;
            }
            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            let base = &bases.planes[job.scale];
            let m = bases.modules[job.scale];
            let win = |modules: f32| ((m * modules) as usize).max(4);
            let prepared;
            let plane = match job.prep {
                Prep::Plain => base,
                Prep::Normalize(n) => {
                    prepared = filters::normalize(base, win(n), &mut ii, &mut sq);
                    &prepared
                }
                Prep::Sharpen => {
                    prepared = filters::sharpen(base, ((m / 2.0) as usize).max(1), 1.5, &mut ii);
                    &prepared
                }
                Prep::Binarize(n) => {
                    prepared = filters::binarize(&filters::smooth(base), win(n), 90, &mut ii);
                    &prepared
                }
                Prep::SharpenBinarize(n) => {
                    let sharp = filters::sharpen(base, ((m / 2.0) as usize).max(1), 1.5, &mut ii);
                    prepared = filters::binarize(&sharp, win(n), 90, &mut ii);
                    &prepared
                }
            };
            let read = run(
                job.engine.unwrap_or(engine),
                &mut quirc,
                &plane.px,
                plane.w,
                plane.h,
                accept,
            );
            last = now.elapsed();
            if let Some(text) = read {
                done.store(true, Ordering::Relaxed);
                if let Ok(mut slot) = found.lock() {
                    slot.get_or_insert(text);
                }
                return;
            }
        }
    };
    if threads <= 1 {
        work();
    } else {
        std::thread::scope(|scope| {
            for _ in 1..threads {
                scope.spawn(work);
            }
            work();
        });
    }
    found.into_inner().ok().flatten()
}

/// Why a sighted code was not read, judged from the region around its finders.
fn guidance(full: &Plane, s: &Sighting) -> Guidance {
    if s.clipped {
        return Guidance::MoveIntoView;
    }
    if s.module < 2.5 {
        return Guidance::HoldCloser;
    }
    let r = s.region;
    let (mut n, mut sum, mut bright) = (0u64, 0u64, 0u64);
    for y in r.y0..r.y1 {
        for &v in &full.px[y * full.w + r.x0..y * full.w + r.x1] {
            n += 1;
            sum += u64::from(v);
            bright += u64::from(v >= 250);
        }
    }
    let n = n.max(1);
    if bright * 100 >= n * 2 {
        Guidance::TiltAgainstGlare
    } else if sum / n < 50 {
        Guidance::MoreLight
    } else {
        Guidance::HoldStill
    }
}
