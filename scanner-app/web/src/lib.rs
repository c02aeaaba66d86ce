//! Tessera's browser gate in WebAssembly: the same `verify`, `decide` and QR decoder the
//! native gate runs, for the page the server serves at `/gate` (ADR 0025).
//!
//! [`gate::GateCore`] holds the replica and the check-in queue and makes every decision;
//! [`camera::Camera`] turns canvas frames into scans. The page (`www/`) owns what only a
//! browser has: IndexedDB, `fetch`, the camera and the screen. Built by the server's build
//! script for `wasm32-unknown-unknown` and bound with wasm-bindgen; natively the same code
//! is tested as a plain library.

pub mod camera;
pub mod gate;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod bindings;
