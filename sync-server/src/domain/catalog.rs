//! Catalog rules that need no database: which event "the current event" is, and when an
//! event is over.

use chrono::{DateTime, Utc};

use crate::store::Event;

/// The current event: the one whose last day is the nearest today or later, in its own
/// timezone; when every event is over, the most recent one. `None` without events.
pub fn current_event(events: &[Event], now: DateTime<Utc>) -> Option<i64> {
    let last_day = |e: &Event| {
        let tz: tessera_core::Tz = e.timezone.parse().unwrap_or(tessera_core::Tz::UTC);
        let today = now.with_timezone(&tz).date_naive();
        e.days.last().map(|d| (*d < today, *d))
    };
    events
        .iter()
        .filter_map(|e| last_day(e).map(|k| (k, e.id)))
        // Not over first, then by last day: the nearest running or coming event; if all are
        // over, the most recent (the largest day among those over).
        .min_by(|((over_a, day_a), _), ((over_b, day_b), _)| {
            over_a.cmp(over_b).then(if *over_a {
                day_b.cmp(day_a)
            } else {
                day_a.cmp(day_b)
            })
        })
        .map(|(_, id)| id)
}

/// When `event` is over: the local midnight that ends its last day, in its own timezone
/// (the later one when a DST change repeats that hour; UTC for an unknown zone). `None`
/// without days.
pub fn event_ends_at(event: &Event) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let tz: tessera_core::Tz = event.timezone.parse().unwrap_or(tessera_core::Tz::UTC);
    let after = event.days.last()?.succ_opt()?.and_hms_opt(0, 0, 0)?;
    // A midnight skipped by a DST change: the first instant after it.
    let local = tz.from_local_datetime(&after).latest().or_else(|| {
        tz.from_local_datetime(&(after + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(local.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn an_event_ends_at_the_midnight_after_its_last_day_in_its_timezone() {
        let e = event(1, (2026, 7, 10));
        let ends = Utc
            .with_ymd_and_hms(2026, 7, 11, 7, 0, 0)
            .single()
            .unwrap_or_default();
        assert_eq!(event_ends_at(&e), Some(ends));
        let no_days = Event {
            days: Vec::new(),
            ..e
        };
        assert_eq!(event_ends_at(&no_days), None);
    }

    fn event(id: i64, last: (i32, u32, u32)) -> Event {
        Event {
            id,
            name: format!("E{id}"),
            venue: String::new(),
            timezone: "America/Los_Angeles".into(),
            days: vec![NaiveDate::from_ymd_opt(last.0, last.1, last.2).unwrap_or_default()],
        }
    }

    #[test]
    fn the_nearest_running_or_coming_event_else_the_most_recent() {
        let now = Utc
            .with_ymd_and_hms(2026, 7, 10, 12, 0, 0)
            .single()
            .unwrap_or_default();
        let past = event(1, (2026, 6, 1));
        let later = event(2, (2026, 9, 1));
        let soon = event(3, (2026, 7, 10));
        assert_eq!(
            current_event(&[past.clone(), later.clone(), soon], now),
            Some(3)
        );
        assert_eq!(current_event(&[past.clone(), later], now), Some(2));
        let older = event(4, (2025, 6, 1));
        assert_eq!(current_event(&[older, past], now), Some(1));
        assert_eq!(current_event(&[], now), None);
    }
}
