//! The free-space guard: new sales and check-in uploads are refused while a disk that holds
//! the data directory or the SQLite database has less room than `min_free_bytes`, so the
//! database never fills its disk in the middle of a write. The refusal is a 503
//! `storage_unavailable` that changes nothing; orders and gates try again later.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::app::AppError;
use crate::config::Settings;

/// The disks the server writes to and their floor.
#[derive(Debug)]
pub struct Storage {
    paths: Vec<PathBuf>,
    min_free: u64,
    low: AtomicBool,
    refusals: AtomicU64,
}

/// What the guard saw at one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// The least free space among the watched disks, in bytes (`None` where it cannot be
    /// read: not a Unix system, or no watched path exists yet).
    pub free: Option<u64>,
    /// The floor.
    pub min_free: u64,
}

/// Below this much free space a disk counts as full, whatever the floor.
pub const FULL_BELOW: u64 = 1024 * 1024;

impl Room {
    /// Whether there is less room than the floor.
    pub fn is_low(&self) -> bool {
        self.min_free > 0 && self.free.is_some_and(|f| f < self.min_free)
    }

    /// Whether the disk is all but full (under [`FULL_BELOW`]), even with the guard off.
    pub fn is_full(&self) -> bool {
        self.free.is_some_and(|f| f < FULL_BELOW)
    }
}

impl Storage {
    /// Watches the data directory and, on SQLite, the database file's directory.
    pub fn from_settings(settings: &Settings) -> Self {
        let mut paths = vec![settings.data_dir.clone()];
        if let Some(file) = sqlite_file(&settings.database_url())
            && let Some(dir) = file.parent()
            && !dir.as_os_str().is_empty()
            && !paths.iter().any(|p| p == dir)
        {
            paths.push(dir.to_owned());
        }
        Self {
            paths,
            min_free: settings.min_free_bytes,
            low: AtomicBool::new(false),
            refusals: AtomicU64::new(0),
        }
    }

    /// Looks at the disks now.
    pub fn room(&self) -> Room {
        let free = self.paths.iter().filter_map(|p| free_bytes(p)).min();
        let room = Room {
            free,
            min_free: self.min_free,
        };
        // The log says when the guard trips and when it lets go, not at every request.
        let low = room.is_low();
        if self.low.swap(low, Ordering::Relaxed) != low {
            if low {
                tracing::warn!(
                    free_bytes = room.free,
                    min_free_bytes = self.min_free,
                    "disk space below the floor: new sales and check-in uploads are refused until space is freed"
                );
            } else {
                tracing::info!(
                    free_bytes = room.free,
                    "disk space above the floor again: sales and uploads resume"
                );
            }
        }
        room
    }

    /// `Ok` when there is room for a new sale or upload; otherwise why not.
    pub fn ensure_room(&self) -> Result<(), NoRoom> {
        let room = self.room();
        if room.is_low() {
            self.refusals.fetch_add(1, Ordering::Relaxed);
            return Err(NoRoom(format!(
                "the server is low on disk space ({} MiB free, {} MiB needed): nothing was saved; try again later",
                room.free.unwrap_or(0) / (1024 * 1024),
                room.min_free / (1024 * 1024)
            )));
        }
        Ok(())
    }

    /// Requests refused for lack of room since the process started.
    pub fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }
}

/// A sale or upload refused by the free-space guard; its text says so for a person.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoRoom(String);

impl From<NoRoom> for AppError {
    /// A 503 `storage_unavailable`, as when the database itself cannot write.
    fn from(e: NoRoom) -> Self {
        Self::StorageUnavailable(e.0)
    }
}

/// The database file a `sqlite:` URL names (`None` for other URLs and in-memory databases).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Bytes an unprivileged writer may still use on the disk holding `path` (or its nearest
/// existing ancestor).
fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(existing).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///var/lib/t/tessera.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/t/tessera.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:data.db"),
            Some(PathBuf::from("data.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://root@127.0.0.1/test"), None);
    }

    #[test]
    fn the_floor_trips_below_it_and_not_when_off() {
        let room = |free, min_free| Room { free, min_free };
        assert!(room(Some(10), 11).is_low());
        assert!(!room(Some(11), 11).is_low());
        assert!(!room(Some(0), 0).is_low(), "0 turns the guard off");
        assert!(!room(None, 11).is_low(), "unreadable is not low");
    }

    #[test]
    fn a_real_disk_reports_its_room() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(&dir.path().join("not/yet/created"));
        assert!(free.is_some_and(|f| f > 0), "{free:?}");
    }
}
