//! The commands the screen invokes. Each is a few lines: call the gate, tell the screen,
//! map the error. Blocking work runs off the main thread (async commands run on the
//! runtime's pool; enrollment, which waits for the network, on a blocking thread).

use image::GrayImage;
use tauri::ipc::{InvokeBody, Request, Response};
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::error::{GuiError, UiError};
use crate::gate::{FrameResult, Gate, GateStatus, Seen};

/// Tells the screen about a scan and the counters it changed.
fn announce<R: Runtime>(app: &AppHandle<R>, gate: &Gate, seen: &Seen) {
    let _ = app.emit("scan", seen);
    if let Ok(status) = gate.status() {
        let _ = app.emit("status", status);
    }
}

/// Everything the screen shows.
#[tauri::command]
pub async fn status(gate: State<'_, Gate>) -> Result<GateStatus, UiError> {
    Ok(gate.status()?)
}

/// A code typed by a keyboard-wedge scanner or by hand.
#[tauri::command]
pub async fn scan_text<R: Runtime>(
    app: AppHandle<R>,
    gate: State<'_, Gate>,
    text: String,
) -> Result<Seen, UiError> {
    let seen = gate.scan_text(&text)?;
    announce(&app, &gate, &seen);
    Ok(seen)
}

/// A grayscale camera frame from the webview: the raw pixels as the body, the size in the
/// `x-frame-width` and `x-frame-height` headers.
#[tauri::command]
pub async fn decode_frame<R: Runtime>(
    app: AppHandle<R>,
    gate: State<'_, Gate>,
    request: Request<'_>,
) -> Result<FrameResult, UiError> {
    let frame = frame_of(&request)?;
    let result = gate.decode_frame(&frame)?;
    if let Some(seen) = &result.seen {
        announce(&app, &gate, seen);
    }
    Ok(result)
}

fn frame_of(request: &Request<'_>) -> Result<GrayImage, GuiError> {
    let InvokeBody::Raw(pixels) = request.body() else {
        return Err(GuiError::BadFrame("expected raw bytes".into()));
    };
    let dim = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&v| (1..=4096).contains(&v))
            .ok_or_else(|| GuiError::BadFrame(format!("missing or bad {name} header")))
    };
    let (w, h) = (dim("x-frame-width")?, dim("x-frame-height")?);
    let len = pixels.len();
    GrayImage::from_raw(w, h, pixels.clone())
        .ok_or_else(|| GuiError::BadFrame(format!("{len} bytes for a {w}×{h} frame")))
}

/// The latest replayed frame when newer than `after`: 16 bytes of header (frame number
/// u64, width u32, height u32, little-endian) and the gray pixels; empty when there is none.
#[tauri::command]
pub async fn preview_frame(gate: State<'_, Gate>, after: u64) -> Result<Response, UiError> {
    let Some(p) = gate.preview(after) else {
        return Ok(Response::new(Vec::new()));
    };
    let mut out = Vec::with_capacity(16 + p.frame.as_raw().len());
    out.extend_from_slice(&p.n.to_le_bytes());
    out.extend_from_slice(&p.frame.width().to_le_bytes());
    out.extend_from_slice(&p.frame.height().to_le_bytes());
    out.extend_from_slice(p.frame.as_raw());
    Ok(Response::new(out))
}

/// Enrolls with the organizer's one-time code, then syncs once.
#[tauri::command]
pub async fn enroll<R: Runtime>(
    app: AppHandle<R>,
    server: String,
    code: String,
) -> Result<GateStatus, UiError> {
    let worker = app.clone();
    let status = tauri::async_runtime::spawn_blocking(move || -> Result<GateStatus, GuiError> {
        let gate = worker.state::<Gate>();
        let emitter = worker.clone();
        gate.enroll(&server, &code, &mut |cursor, head| {
            let _ = emitter.emit("sync-progress", (cursor, head));
        })?;
        gate.kick();
        gate.status()
    })
    .await
    .map_err(|e| GuiError::Task(e.to_string()))??;
    let _ = app.emit("status", &status);
    Ok(status)
}

/// Chooses the gate and/or the direction (`entry`, `exit`).
#[tauri::command]
pub async fn set_gate<R: Runtime>(
    app: AppHandle<R>,
    gate: State<'_, Gate>,
    name: Option<String>,
    direction: Option<String>,
) -> Result<GateStatus, UiError> {
    gate.set_gate(name.as_deref(), direction.as_deref())?;
    let status = gate.status()?;
    let _ = app.emit("status", &status);
    Ok(status)
}

/// Sets the language of the verdicts' words (`en`, `ar`); codes, colours and symbols stay.
#[tauri::command]
pub async fn set_language<R: Runtime>(
    app: AppHandle<R>,
    gate: State<'_, Gate>,
    language: String,
) -> Result<GateStatus, UiError> {
    gate.set_language(&language)?;
    let status = gate.status()?;
    let _ = app.emit("status", &status);
    Ok(status)
}

/// Runs a sync round now instead of waiting for the next one.
#[tauri::command]
pub fn sync_now(gate: State<'_, Gate>) {
    gate.kick();
}

/// The webview's camera trouble (no camera, permission refused), for the status bar;
/// `None` once the camera runs.
#[tauri::command]
pub fn camera_error(gate: State<'_, Gate>, message: Option<String>) {
    gate.set_camera_error(message);
}
