//! Tessera's gate device: the offline replica, the durable check-in queue, QR decoding, the
//! camera, and the headless `tessera-scan` CLI over them.
//!
//! No GUI toolkit here (the Tauri shell in `gui/` stands on this crate) and no network on
//! the scan path: every verdict comes from local state through `tessera_core::decide`.

pub mod bundle;
pub mod camera;
pub mod clock;
mod codes;
pub mod device;
pub mod mesh;
pub mod repair;
pub mod replica;
pub mod scanner;
mod schema;
pub mod sync;
pub mod words;

/// The QR decoder (its own crate, so that the browser gate can build it for wasm32).
pub use tessera_decode as decode;
pub use tessera_decode::debounce;

use std::path::PathBuf;

pub use scanner::{ScanReport, Scanner, StatusReport};

/// What can go wrong on a device, worded for the person at the gate or the organizer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The local database failed.
    #[error("local database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A database written by a newer version of this software.
    #[error(
        "the {what} is schema version {found}, this software knows up to {known}: update tessera-scan"
    )]
    TooNew {
        /// Replica or device store.
        what: &'static str,
        /// Its version.
        found: usize,
        /// Ours.
        known: usize,
    },
    /// `device.db` exists but cannot be trusted: empty, cut short, or garbled. It is never
    /// replaced on its own, because the check-ins queued in it exist nowhere else.
    #[error(
        "device.db at {path} is damaged ({reason}): this gate will not start on it, because its queued check-ins exist nowhere else. Run `tessera-scan repair --data-dir {data_dir}` to salvage them into a fresh file (the damaged one is kept beside it)",
        path = .path.display(),
        data_dir = .data_dir.display()
    )]
    DeviceDamaged {
        /// The damaged file (or, when it is missing, where it should be).
        path: PathBuf,
        /// Its data directory, for the repair command.
        data_dir: PathBuf,
        /// What is wrong with it, in a few words.
        reason: String,
    },
    /// No event loaded yet.
    #[error("this device has no event yet: load one with `tessera-scan provision --bundle FILE`")]
    NotProvisioned,
    /// No device identity yet.
    #[error("this device has no identity yet: provision it first")]
    NoIdentity,
    /// A bundle that cannot be loaded.
    #[error("cannot load the bundle: {0}")]
    BadBundle(String),
    /// A gate the event does not have.
    #[error("there is no gate {0:?} in this event (gates: {1})")]
    UnknownGate(String, String),
    /// File IO.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An image that cannot be read.
    #[error("cannot read image {path}: {reason}", path = .path.display())]
    Image {
        /// The file.
        path: PathBuf,
        /// What the image decoder said.
        reason: String,
    },
    /// The camera failed.
    #[error("camera: {0}")]
    Camera(String),
    /// The OS random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
    /// This gate cannot join the venue mesh.
    #[error("venue mesh: {0}")]
    Mesh(String),
}
