//! What a gate knows about the event and about itself: days in the event's timezone, the
//! entry policy, and the gate's zones and direction.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use thiserror::Error;

use crate::ids::{DayMask, EventId, ZoneMask};

/// How often a ticket may enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EntryPolicy {
    /// One entry per valid day; exit scans are recorded but do not allow a second entry.
    #[default]
    OncePerDay,
    /// Entry again after an exit scan, on each valid day.
    ReentryAfterExit,
}

/// Which way a gate is scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// People coming in: every rule applies.
    #[default]
    Entry,
    /// People going out: recorded so that re-entry events know who is inside.
    Exit,
}

impl Direction {
    /// `entry` or `exit`, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entry => "entry",
            Self::Exit => "exit",
        }
    }
}

/// A scanning station: its name as staff know it, the zones it lets into, its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// "Gate B", "Vendor entrance".
    pub name: String,
    /// The zones behind this gate.
    pub zones: ZoneMask,
    /// Whether it scans people in or out.
    pub direction: Direction,
}

/// Why an event configuration is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventConfigError {
    /// An event needs at least one day.
    #[error("an event needs at least one day")]
    NoDays,
    /// More days than a ticket's day mask can address.
    #[error("an event has at most {max} days, got {0}", max = DayMask::MAX_DAYS)]
    TooManyDays(usize),
    /// The same date twice.
    #[error("day {0} is listed twice")]
    DuplicateDay(NaiveDate),
}

/// The event as the gate needs it. Day `i` of a ticket's [`DayMask`] is `days()[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConfig {
    id: EventId,
    timezone: Tz,
    days: Vec<NaiveDate>,
    policy: EntryPolicy,
}

impl EventConfig {
    /// An event with its days (sorted here) in its timezone.
    pub fn new(
        id: EventId,
        timezone: Tz,
        mut days: Vec<NaiveDate>,
        policy: EntryPolicy,
    ) -> Result<Self, EventConfigError> {
        days.sort_unstable();
        if days.is_empty() {
            return Err(EventConfigError::NoDays);
        }
        if days.len() > DayMask::MAX_DAYS {
            return Err(EventConfigError::TooManyDays(days.len()));
        }
        if let Some(day) = days.windows(2).find_map(|w| match w {
            [a, b] if a == b => Some(*a),
            _ => None,
        }) {
            return Err(EventConfigError::DuplicateDay(day));
        }
        Ok(Self {
            id,
            timezone,
            days,
            policy,
        })
    }

    /// The event's id.
    pub fn id(&self) -> EventId {
        self.id
    }
    /// The timezone its days are counted in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }
    /// Its days, ascending.
    pub fn days(&self) -> &[NaiveDate] {
        &self.days
    }
    /// Its entry policy.
    pub fn policy(&self) -> EntryPolicy {
        self.policy
    }

    /// The event-local calendar date of an instant. A day runs from local midnight to local
    /// midnight, so a day across a DST change is 23 or 25 hours long.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    /// The index of a date among the event's days.
    pub fn day_index(&self, date: NaiveDate) -> Option<usize> {
        self.days.binary_search(&date).ok()
    }

    /// The dates a day mask stands for; bits beyond the event's days are dropped.
    pub fn dates_of(&self, mask: DayMask) -> Vec<NaiveDate> {
        mask.days()
            .filter_map(|d| self.days.get(d).copied())
            .collect()
    }
}
