//! The page's view of the gate: one `Gate` object whose methods take and give strings
//! (JSON this crate writes and reads), so no `u64` ever becomes a JavaScript number.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::camera::Camera;
use crate::gate::{GateCore, GateError, Writes};

fn js(e: GateError) -> JsError {
    JsError::new(&e.to_string())
}

fn json<T: Serialize>(v: &T) -> Result<String, JsError> {
    serde_json::to_string(v).map_err(|e| JsError::new(&e.to_string()))
}

fn writes(w: Result<Writes, GateError>) -> Result<String, JsError> {
    json(&w.map_err(js)?)
}

/// The browser gate.
#[wasm_bindgen]
pub struct Gate {
    core: GateCore,
    camera: Camera,
}

#[wasm_bindgen]
impl Gate {
    /// An empty gate; the page restores what it stored, then syncs.
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Gate {
        Gate {
            core: GateCore::new(),
            camera: Camera::new(),
        }
    }

    /// Restores one stored `meta` entry.
    pub fn restore_meta(&mut self, key: &str, value: &str) -> Result<(), JsError> {
        self.core.restore_meta(key, value).map_err(js)
    }

    /// Restores stored tickets, one value per line; returns how many.
    pub fn restore_tickets(&mut self, lines: &str) -> Result<usize, JsError> {
        self.core.restore_tickets(lines).map_err(js)
    }

    /// Restores stored check-ins of every device, one value per line.
    pub fn restore_check_ins(&mut self, lines: &str) -> Result<usize, JsError> {
        self.core.restore_check_ins(lines).map_err(js)
    }

    /// Restores this gate's own check-ins, one value per line.
    pub fn restore_queue(&mut self, lines: &str) -> Result<usize, JsError> {
        self.core.restore_queue(lines).map_err(js)
    }

    /// Takes the device id the page drew; returns the writes.
    pub fn set_device_id(&mut self, id: &str) -> Result<String, JsError> {
        writes(self.core.set_device_id(id))
    }

    /// The device id, once drawn.
    pub fn device_id(&self) -> Option<String> {
        self.core.device_id().map(str::to_owned)
    }

    /// The device API's bearer token, once enrolled.
    pub fn token(&self) -> Option<String> {
        self.core.token().map(str::to_owned)
    }

    /// The sync cursor, in decimal.
    pub fn cursor(&self) -> String {
        self.core.cursor().to_string()
    }

    /// The body of `POST /api/v1/sync/enroll`.
    pub fn enroll_request(&self, code: &str, now_ms: f64) -> Result<String, JsError> {
        self.core.enroll_request(code, now_ms).map_err(js)
    }

    /// Applies the enrollment answer; returns the writes.
    pub fn apply_enrollment(
        &mut self,
        body: &str,
        sent_ms: f64,
        received_ms: f64,
    ) -> Result<String, JsError> {
        writes(self.core.apply_enrollment(body, sent_ms, received_ms))
    }

    /// Sets the gate; returns the writes.
    pub fn set_gate(&mut self, name: &str) -> Result<String, JsError> {
        writes(self.core.set_gate(name))
    }

    /// Sets `entry` or `exit`; returns the writes.
    pub fn set_direction(&mut self, direction: &str) -> Result<String, JsError> {
        writes(self.core.set_direction(direction))
    }

    /// Sets `en` or `ar`; returns the writes.
    pub fn set_language(&mut self, tag: &str) -> Result<String, JsError> {
        writes(self.core.set_language(tag))
    }

    /// The organizer revoked this device: wipe names and details; returns the writes.
    pub fn forget_names(&mut self) -> Result<String, JsError> {
        writes(self.core.forget_names())
    }

    /// The body of the next `POST /api/v1/sync/checkins`, or nothing to send.
    pub fn upload_request(&self, now_ms: f64) -> Result<Option<String>, JsError> {
        self.core.upload_request(now_ms).map_err(js)
    }

    /// Applies an upload's answer; returns the writes.
    pub fn apply_upload(
        &mut self,
        body: &str,
        sent_ms: f64,
        received_ms: f64,
    ) -> Result<String, JsError> {
        writes(self.core.apply_upload(body, sent_ms, received_ms))
    }

    /// Applies a page of `GET /api/v1/sync/changes`; returns `{"writes": …, "more": bool}`.
    pub fn apply_page(
        &mut self,
        body: &str,
        sent_ms: f64,
        received_ms: f64,
    ) -> Result<String, JsError> {
        #[derive(Serialize)]
        struct Applied {
            writes: Writes,
            more: bool,
        }
        let (writes, more) = self
            .core
            .apply_page(body, sent_ms, received_ms)
            .map_err(js)?;
        json(&Applied { writes, more })
    }

    /// Decides a scanned text: `{"report": …, "write": [seq, value]}`. Store the write, then
    /// [`Gate::commit`]; only then show the report.
    pub fn scan(&mut self, text: &str, now_ms: f64) -> Result<String, JsError> {
        json(&self.core.scan(text, now_ms).map_err(js)?)
    }

    /// The pending check-in is stored: it counts from now on.
    pub fn commit(&mut self) -> bool {
        self.core.commit()
    }

    /// The pending check-in could not be stored: forget it.
    pub fn abort(&mut self) {
        self.core.abort();
    }

    /// Tickets in the replica (what a sync has brought so far).
    pub fn tickets(&self) -> usize {
        self.core.tickets()
    }

    /// Check-ins the server has not confirmed yet (cheaper than `status`).
    pub fn unsent(&self) -> usize {
        self.core.unsent()
    }

    /// The status line and conflicts at the device clock's `now_ms`, as JSON.
    pub fn status(&self, now_ms: f64) -> Result<String, JsError> {
        json(&self.core.status(now_ms))
    }

    /// Reads one camera frame of RGBA pixels: `{"kind": "scan", "text"}`, `held`,
    /// `guidance` or `nothing`.
    pub fn frame(&mut self, rgba: &[u8], width: u32, height: u32) -> Result<String, JsError> {
        // Every text gets a verdict, as on the native gate: a forged code is refused by the
        // scan, not ignored by the camera.
        json(&self.camera.frame(rgba, width, height, &|_| true))
    }

    /// Reads one camera frame from its luma plane (`height` rows of `width` bytes, `stride`
    /// apart: an I420 or NV12 frame's Y plane); answers as [`Gate::frame`].
    pub fn frame_luma(
        &mut self,
        luma: &[u8],
        width: u32,
        height: u32,
        stride: u32,
    ) -> Result<String, JsError> {
        json(
            &self
                .camera
                .frame_luma(luma, width, height, stride, &|_| true),
        )
    }
}
