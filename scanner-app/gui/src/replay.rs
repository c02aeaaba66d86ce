//! The replayed camera: a thread that reads image files from a folder in name order, over
//! and over at camera pace, and puts each through the gate's decoder exactly as a camera
//! frame would go. The folder is listed again on every pass, so a demo (or a test) changes
//! what the "camera" sees by replacing files. The screen polls the latest frame for its
//! preview through the `preview_frame` command.
//!
//! This is also the native capture path measured in docs/adr/0009-gui-camera-path.md: a
//! nokhwa camera would plug in here as another `FrameSource`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tauri::{AppHandle, Emitter, Manager, Runtime};
use tessera_scanner::camera::{FrameSource, ReplaySource};

use crate::gate::{Gate, Preview};

/// Frames per second replayed: a webcam's usual rate for QR scanning.
pub const FPS: u32 = 15;

/// Starts the replay thread over `dir`.
pub fn spawn<R: Runtime>(app: AppHandle<R>, dir: PathBuf) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("camera-replay".into())
        .spawn(move || {
            let period = Duration::from_secs(1) / FPS;
            let mut n = 0u64;
            let mut next = Instant::now();
            loop {
                let gate = app.state::<Gate>();
                let mut source = match ReplaySource::open(&dir) {
                    Ok(s) => s,
                    Err(e) => {
                        gate.set_camera_error(Some(format!(
                            "replay folder {}: {e}",
                            dir.display()
                        )));
                        pace(&mut next, period);
                        continue;
                    }
                };
                let mut any = false;
                loop {
                    let frame = match source.next_frame() {
                        Ok(Some(frame)) => frame,
                        Ok(None) => break,
                        // A file being replaced: skip it, as a camera drops a bad frame.
                        Err(_) => continue,
                    };
                    any = true;
                    gate.set_camera_error(None);
                    n += 1;
                    // The preview gets the frame before the decoder works on it.
                    gate.set_preview(Preview {
                        n,
                        frame: frame.clone(),
                    });
                    match gate.decode_frame(&frame) {
                        Ok(result) => {
                            if let Some(seen) = result.seen {
                                let _ = app.emit("scan", seen);
                                if let Ok(status) = gate.status() {
                                    let _ = app.emit("status", status);
                                }
                            }
                        }
                        Err(e) => gate.set_camera_error(Some(e.to_string())),
                    }
                    pace(&mut next, period);
                }
                if !any {
                    pace(&mut next, period);
                }
            }
        })
        .map(|_| ())
}

/// Waits for the next frame time, as a camera delivers frames at its rate.
fn pace(next: &mut Instant, period: Duration) {
    *next += period;
    let now = Instant::now();
    if *next > now {
        std::thread::sleep(*next - now);
    } else {
        // Running late (a slow decode): start counting from now rather than bursting.
        *next = now;
    }
}
