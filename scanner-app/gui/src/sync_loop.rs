//! The background sync thread: a round every 10 s while the server answers, backing off to
//! a minute while it does not, forever; woken at once by enrollment or "sync now". It uses
//! connections of its own, so scanning never waits for it; after each round it sends the
//! screen a fresh status.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::gate::Gate;

/// The pause after a good round.
const EVERY: Duration = Duration::from_secs(10);
/// The longest pause between failed rounds.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The pause after `failures` failed rounds in a row: 2, 4, 8 … seconds, at most a minute.
pub fn backoff(failures: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(failures.clamp(1, 6))).min(MAX_BACKOFF)
}

/// Starts the thread; the gate's `kick` wakes it.
pub fn spawn<R: Runtime>(app: AppHandle<R>) -> std::io::Result<()> {
    let (tx, rx) = mpsc::channel::<()>();
    app.state::<Gate>().set_kick(tx);
    std::thread::Builder::new()
        .name("sync".into())
        .spawn(move || {
            loop {
                let gate = app.state::<Gate>();
                let progress_app = app.clone();
                let mut progress = |cursor: u64, head: u64| {
                    let _ = progress_app.emit("sync-progress", (cursor, head));
                };
                let wait = match gate.sync_round(&mut progress) {
                    Ok(Some(_)) => Some(EVERY),
                    // Not enrolled (or revoked): nothing to do until someone enrolls.
                    Ok(None) => None,
                    Err(e) if e.is_retryable() => Some(backoff(gate.sync_failures())),
                    // Refused: a retry will not fix it; the status shows why, and "sync
                    // now" or a new enrollment wakes the loop.
                    Err(_) => None,
                };
                if let Ok(status) = gate.status() {
                    let _ = app.emit("status", status);
                }
                let woken = match wait {
                    Some(d) => rx.recv_timeout(d),
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                };
                if woken == Err(RecvTimeoutError::Disconnected) {
                    return;
                }
                // Several kicks while a round ran are one more round.
                while rx.try_recv().is_ok() {}
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let secs: Vec<u64> = (0..9).map(|f| backoff(f).as_secs()).collect();
        assert_eq!(secs, [2, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
