//! `tessera-scanner-gui`: the gate screen, a thin Tauri v2 shell over the `tessera-scanner`
//! library. The shell owns the window, the commands the screen invokes, and two background
//! threads (sync, and the replayed camera when asked for one); every decision, record and
//! sync round is the library's.
//!
//! It deliberately holds no gate logic: a scan from the screen, a camera frame, a USB
//! scanner's keystrokes and `tessera-scan check` all end in `Scanner::scan`.

mod commands;
pub mod error;
pub mod gate;
mod replay;
pub mod sync_loop;
mod webview;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

use crate::gate::{FrameFeed, Gate};

/// The window's title.
pub const TITLE: &str = "Tessera — Gate";

/// `tessera-scanner [--data-dir DIR]`.
#[derive(Debug, Parser)]
#[command(name = "tessera-scanner", version, about = "Tessera gate screen")]
pub struct Args {
    /// Where the device keeps its replica and check-in queue (shared with `tessera-scan`).
    #[arg(long, env = "TESSERA_SCAN_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Replay image files from this folder as the camera (demos, kiosks, tests) instead of
    /// the webview's camera. The folder is read again on every pass.
    #[arg(long, env = "TESSERA_SCANNER_FRAMES")]
    pub frames: Option<PathBuf>,
    /// Use WebKit's generated test camera (for machines without one).
    #[arg(long, env = "TESSERA_SCANNER_MOCK_CAMERA")]
    pub mock_camera: bool,
    /// Stay off the venue mesh (by default an enrolled gate keeps the other gates on its
    /// network current directly, ADR 0024).
    #[arg(long, env = "TESSERA_SCANNER_NO_MESH")]
    pub no_mesh: bool,
    /// Where to listen for other gates.
    #[arg(
        long,
        env = "TESSERA_SCANNER_MESH_LISTEN",
        default_value = "0.0.0.0:7447"
    )]
    pub mesh_listen: std::net::SocketAddr,
    /// Another gate to dial (`host:port`; repeat for more), for networks without multicast.
    #[arg(long = "peer")]
    pub peers: Vec<String>,
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("tessera-scan")
}

/// The commands, on any runtime (the real one, or the mock one in tests).
pub fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::status,
        commands::scan_text,
        commands::decode_frame,
        commands::preview_frame,
        commands::enroll,
        commands::set_gate,
        commands::set_language,
        commands::sync_now,
        commands::camera_error,
    ])
}

/// Starts the background threads: sync, and the replayed camera when the gate has one.
pub fn start_background<R: Runtime>(app: &AppHandle<R>) -> std::io::Result<()> {
    sync_loop::spawn(app.clone())?;
    if let FrameFeed::Replay(dir) = app.state::<Gate>().feed().clone() {
        replay::spawn(app.clone(), dir)?;
    }
    Ok(())
}

/// Runs the app; returns when the window closes.
pub fn run() {
    let args = Args::parse();
    let feed = args
        .frames
        .clone()
        .map_or(FrameFeed::Webview, FrameFeed::Replay);
    let gate = match Gate::open(&args.data_dir, feed) {
        Ok(gate) if args.no_mesh => gate,
        Ok(gate) => gate.with_mesh(tessera_scanner::mesh::MeshConfig {
            listen: args.mesh_listen,
            peers: args.peers.clone(),
            mdns: true,
        }),
        Err(e) => fail(&format!(
            "cannot open the device data in {}: {e}",
            args.data_dir.display()
        )),
    };
    let mock = args.mock_camera;
    let result = with_commands(tauri::Builder::default())
        .manage(gate)
        .setup(move |app| {
            let window =
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title(TITLE)
                    .inner_size(1280.0, 800.0)
                    .min_inner_size(480.0, 480.0)
                    .build()?;
            webview::enable_camera(&window, mock)?;
            start_background(app.handle())?;
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        fail(&format!("the window failed: {e}"));
    }
}

fn fail(message: &str) -> ! {
    let _ = writeln!(std::io::stderr(), "tessera-scanner: {message}");
    std::process::exit(1)
}
