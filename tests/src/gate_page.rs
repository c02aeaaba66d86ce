//! The browser gate's page (`/gate/`) as tests and benchmarks drive it: camera frames of
//! photographed tickets as a `.y4m` video for Chromium's fake camera, the gate's status as its
//! WebAssembly reports it, enrollment by a typed code.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Server;
use crate::webdriver::Browser;

/// The frames' width: the camera the gate asks for.
pub const W: usize = 1280;
/// Their height.
pub const H: usize = 720;

/// A small deterministic noise source (no dependency, the same frames every run).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> i32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % 17) as i32 - 8
    }
}

/// A camera frame of a printed ticket held up to the gate: a sheet of paper turned by
/// `angle` degrees on a dark table, lit from one side, the QR code at about five pixels a
/// module, softened by a lens and with sensor noise. `None` is the table alone.
pub fn photo(text: Option<&str>, angle: f64, seed: u64) -> Vec<u8> {
    let qr = text.map(|t| qrcode::QrCode::new(t.as_bytes()).expect("a ticket fits a QR code"));
    let modules = qr.as_ref().map_or(0, qrcode::QrCode::width);
    let colors = qr
        .as_ref()
        .map(qrcode::QrCode::to_colors)
        .unwrap_or_default();
    let (scale, quiet) = (5.0, 6.0);
    let half = (modules as f64 + 2.0 * quiet) * scale / 2.0;
    let (cx, cy) = (W as f64 * 0.55, H as f64 * 0.5);
    let (sin, cos) = angle.to_radians().sin_cos();
    let mut noise = Noise(seed);
    let mut frame = vec![0u8; W * H];
    for y in 0..H {
        for x in 0..W {
            let light = 0.75 + 0.35 * (x as f64 / W as f64);
            // Into the paper's own coordinates.
            let (dx, dy) = (x as f64 - cx, y as f64 - cy);
            let (u, v) = (dx * cos + dy * sin + half, -dx * sin + dy * cos + half);
            let paper =
                text.is_some() && (0.0..2.0 * half).contains(&u) && (0.0..2.0 * half).contains(&v);
            let base = if paper {
                let (mx, my) = (u / scale - quiet, v / scale - quiet);
                let dark = mx >= 0.0
                    && my >= 0.0
                    && (mx as usize) < modules
                    && (my as usize) < modules
                    && colors[my as usize * modules + mx as usize] == qrcode::Color::Dark;
                if dark { 40.0 } else { 215.0 }
            } else {
                70.0 + 10.0 * ((x / 40 + y / 40) % 2) as f64
            };
            let value = (base * light) as i32 + noise.next();
            frame[y * W + x] = value.clamp(0, 255) as u8;
        }
    }
    // The lens: a 2×2 box filter.
    for y in 0..H - 1 {
        for x in 0..W - 1 {
            let sum = u32::from(frame[y * W + x])
                + u32::from(frame[y * W + x + 1])
                + u32::from(frame[(y + 1) * W + x])
                + u32::from(frame[(y + 1) * W + x + 1]);
            frame[y * W + x] = (sum / 4) as u8;
        }
    }
    frame
}

/// Writes grey frames as a YUV4MPEG2 video at `fps` frames a second (what Chromium's fake
/// camera plays, looping).
pub fn write_y4m(path: &Path, frames: &[Vec<u8>], fps: u32) {
    let mut out = format!("YUV4MPEG2 W{W} H{H} F{fps}:1 Ip A1:1 C420jpeg\n").into_bytes();
    let chroma = vec![128u8; (W / 2) * (H / 2)];
    for frame in frames {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(frame);
        out.extend_from_slice(&chroma);
        out.extend_from_slice(&chroma);
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Chromium's switches for a fake camera playing `video`, allowed without asking.
pub fn camera_args(video: &Path) -> Vec<String> {
    vec![
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-video-capture={}", video.display()),
        "--autoplay-policy=no-user-gesture-required".into(),
    ]
}

/// The gate's status, as its WebAssembly module reports it.
pub fn status(b: &Browser) -> Value {
    b.js("return window.tesseraGate && window.tesseraGate.gate ? JSON.parse(window.tesseraGate.gate.status(Date.now())) : null")
}

/// Waits up to `secs` for `check` to hold of the gate's status; returns it.
pub fn wait_status(b: &Browser, what: &str, secs: u64, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = status(b);
        if !s.is_null() && check(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the gate's status is {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The page has started (from the network or the service worker's cache).
pub fn wait_ready(b: &Browser) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = b.js("return document.body ? document.body.dataset.ready : null");
        match ready.as_str() {
            Some("yes") => return,
            Some("failed") => panic!("the gate did not start: {}", b.text()),
            _ => {}
        }
        assert!(Instant::now() < deadline, "the gate did not start: {ready}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Enrolls the page's gate with a one-time code typed in, and waits for its first sync and
/// for the service worker to hold the page.
pub fn enroll(b: &Browser, server: &Server, code: &str, tickets: u64) {
    b.goto(&format!("{}/gate", server.url));
    wait_ready(b);
    assert!(b.url().ends_with("/gate/"), "{}", b.url());
    b.fill("#enroll-code", code);
    b.click("#enroll-go");
    wait_status(b, "the first sync", 60, |s| {
        s["tickets"].as_u64() >= Some(tickets) && s["event"].is_string()
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.js("return document.body.dataset.offlineReady").as_str() != Some("true") {
        assert!(
            Instant::now() < deadline,
            "the service worker never took the page"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
