//! One ticket held in front of the camera is one scan: the same text is ignored while it
//! keeps being seen, and counts again only after it has been out of view for a while.

use std::time::Duration;

use crate::Instant;

/// Remembers the last text seen and when.
#[derive(Debug, Clone)]
pub struct Debouncer {
    quiet: Duration,
    last: Option<(String, Instant)>,
}

impl Debouncer {
    /// A debouncer that treats the same text as a new scan after `quiet` without it.
    pub fn new(quiet: Duration) -> Self {
        Self { quiet, last: None }
    }

    /// Whether a text seen at `now` is a new scan. Seeing the same text again extends the
    /// quiet period, so a ticket held still for a minute is still one scan.
    pub fn accept(&mut self, text: &str, now: Instant) -> bool {
        let fresh = match &self.last {
            Some((last, seen)) => {
                last != text || now.saturating_duration_since(*seen) >= self.quiet
            }
            None => true,
        };
        self.last = Some((text.to_owned(), now));
        fresh
    }
}

impl Default for Debouncer {
    /// Two seconds: long enough for a hand to move the phone away, short enough that a
    /// deliberate second scan is not lost.
    fn default() -> Self {
        Self::new(Duration::from_secs(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_ticket_held_in_view_is_one_scan() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        assert!(d.accept("A", t0));
        for ms in (100..10_000).step_by(100) {
            assert!(
                !d.accept("A", t0 + Duration::from_millis(ms)),
                "frame at {ms} ms"
            );
        }
        // Out of view for the quiet period, then shown again: a new scan.
        assert!(d.accept("A", t0 + Duration::from_millis(12_000)));
    }

    #[test]
    fn another_ticket_is_a_new_scan_at_once() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        assert!(d.accept("A", t0));
        assert!(d.accept("B", t0 + Duration::from_millis(50)));
        assert!(d.accept("A", t0 + Duration::from_millis(100)));
    }
}
