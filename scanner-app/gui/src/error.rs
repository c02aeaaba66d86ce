//! The shell's two error types: [`GuiError`], detailed, for code and logs; and [`UiError`],
//! the small `{code, message}` the screen gets. The only conversion between them is the
//! `From` impl here, so what reaches the screen is decided in one place.
//!
//! Neither carries personal data: errors name files, servers and codes, never a holder.

use serde::Serialize;
use tessera_scanner::sync::SyncError;

/// Everything that can go wrong in a command.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The device library failed (database, provisioning, gate).
    #[error(transparent)]
    Device(#[from] tessera_scanner::Error),
    /// Enrollment or a sync round failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// A camera frame that does not match its stated size.
    #[error("bad camera frame: {0}")]
    BadFrame(String),
    /// A request the screen should never send.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A background task died.
    #[error("internal task failed: {0}")]
    Task(String),
}

/// What the screen shows for a failed command: a stable code and words for gate staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UiError {
    /// Stable snake_case code the UI may branch on.
    pub code: &'static str,
    /// Plain words for the person at the gate.
    pub message: String,
}

impl From<GuiError> for UiError {
    fn from(e: GuiError) -> Self {
        use tessera_scanner::Error as D;
        let code = match &e {
            GuiError::Device(D::NotProvisioned | D::NoIdentity) => "not_set_up",
            GuiError::Device(D::UnknownGate(..)) => "unknown_gate",
            GuiError::Device(D::TooNew { .. }) => "update_needed",
            GuiError::Device(_) => "device",
            GuiError::Sync(SyncError::Offline(_)) => "offline",
            GuiError::Sync(SyncError::Revoked(_)) => "revoked",
            GuiError::Sync(SyncError::Refused { .. }) => "refused",
            GuiError::Sync(SyncError::NotEnrolled) => "not_enrolled",
            GuiError::Sync(SyncError::Protocol(_)) => "protocol",
            GuiError::Sync(SyncError::Local(_)) => "device",
            GuiError::BadFrame(_) => "bad_frame",
            GuiError::BadRequest(_) => "bad_request",
            GuiError::Task(_) => "internal",
        };
        let message = match &e {
            GuiError::Device(D::NotProvisioned | D::NoIdentity) => {
                "This device is not set up yet: enroll it with the code from the organizer."
                    .to_owned()
            }
            GuiError::Sync(SyncError::Offline(why)) => format!(
                "Cannot reach the server ({why}). Check the address and the network; scanning keeps working offline."
            ),
            other => other.to_string(),
        };
        Self { code, message }
    }
}
