//! The gate's clock: the machine's time (shifted only where a test or a demonstration of a
//! wrong clock sets it so), and what the gate learned of it from the server.
//!
//! Every sync answer carries the server's time; the sync client measures this device's skew
//! from it (device minus server, the server's time taken as the middle of the request) and
//! keeps it in `device.db`. A scan adds the correction (minus the skew) to the clock's
//! reading, so the day rules and the times recorded are the server's. Nothing here reads the
//! network, and a gate that never synced decides on its own clock.
//!
//! A correction below [`SMALL_SKEW_MS`] is not applied: it is within what one measurement can
//! tell (half a round trip), and applying it would only add noise to sound clocks.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tessera_core::badly_skewed;

/// Skews below this (in milliseconds) are measurement noise and not corrected.
pub const SMALL_SKEW_MS: i64 = 1_000;

/// Where the gate reads the time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    shift: TimeDelta,
}

impl Clock {
    /// The machine's clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The machine's clock moved by `shift`: a device whose clock is wrong by that much
    /// (tests and demonstrations run the real gate on it).
    pub fn shifted(shift: TimeDelta) -> Self {
        Self { shift }
    }

    /// The clock's reading, uncorrected.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.shift
    }
}

/// The correction (server time minus device time, milliseconds) a measured skew calls for.
pub fn correction_for(skew_ms: i64) -> i64 {
    if skew_ms.unsigned_abs() < SMALL_SKEW_MS.unsigned_abs() {
        0
    } else {
        skew_ms.saturating_neg()
    }
}

/// The clock as `tessera-scan status` and the gate screen show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClockStatus {
    /// This device's clock minus the server's at the last measurement, in milliseconds
    /// (`null` until the first sync).
    pub skew_ms: Option<i64>,
    /// What each scan adds to the clock's reading, in milliseconds.
    pub correction_ms: i64,
    /// Whether the clock is more than two minutes off the server's.
    pub off: bool,
    /// Plain words for the screen when it is: how far, which way, and what to do.
    pub warning: Option<String>,
}

impl ClockStatus {
    /// The status for a measured skew (or none yet).
    pub fn from_skew(skew_ms: Option<i64>) -> Self {
        let off = skew_ms.is_some_and(badly_skewed);
        Self {
            skew_ms,
            correction_ms: skew_ms.map_or(0, correction_for),
            off,
            warning: skew_ms.filter(|_| off).map(warning),
        }
    }
}

/// "This device's clock is 1 day 0 h 3 min ahead of the server's: ..."
fn warning(skew_ms: i64) -> String {
    let minutes = skew_ms.unsigned_abs() / 60_000;
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let mut how_far = String::new();
    if days > 0 {
        how_far.push_str(&format!("{days} day{} ", if days == 1 { "" } else { "s" }));
    }
    if days > 0 || hours > 0 {
        how_far.push_str(&format!("{hours} h "));
    }
    how_far.push_str(&format!("{mins} min"));
    let way = if skew_ms > 0 { "ahead of" } else { "behind" };
    format!(
        "This device's clock is {how_far} {way} the server's. Scans use the server's time; \
         set this device's clock right."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_skews_are_not_corrected_and_large_ones_are_shown() {
        assert_eq!(correction_for(400), 0);
        assert_eq!(correction_for(-5_000), 5_000);
        let right = ClockStatus::from_skew(Some(90_000));
        assert_eq!((right.off, right.correction_ms), (false, -90_000));
        assert_eq!(right.warning, None);
        let ahead = ClockStatus::from_skew(Some(86_400_000 + 180_000));
        assert!(ahead.off);
        assert_eq!(
            ahead.warning.as_deref(),
            Some(
                "This device's clock is 1 day 0 h 3 min ahead of the server's. Scans use the \
                 server's time; set this device's clock right."
            )
        );
        let behind = ClockStatus::from_skew(Some(-7_500_000));
        assert!(behind.warning.unwrap().contains("2 h 5 min behind"));
        assert!(!ClockStatus::from_skew(None).off);
    }
}
