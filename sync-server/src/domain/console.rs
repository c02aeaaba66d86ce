//! The organizer console's figures, computed from store rows with no IO: which devices are
//! ready for doors open, the live gate counts, the scans chart, and CSV fields (RFC 4180,
//! with spreadsheet formulas defused).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::Tz;
use utoipa::ToSchema;

use crate::store::{CheckInRow, DeviceRow};

/// A device and whether it is ready for doors open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeviceStatus {
    /// Device id.
    pub id: String,
    /// Its name ("Tablet-3").
    pub name: String,
    /// The gate it scans at.
    pub gate: Option<String>,
    /// `active` or `revoked`.
    pub status: String,
    /// The app version it reported.
    pub app_version: String,
    /// Its last sync, Unix milliseconds.
    pub last_seen_ms: Option<i64>,
    /// The feed cursor its replica is at.
    pub cursor: i64,
    /// Changes it does not have yet (head minus cursor).
    pub behind: i64,
    /// Its clock minus the server's, in milliseconds, at its last sync.
    pub clock_skew_ms: Option<i64>,
    /// Check-ins it reported so far.
    pub check_ins: i64,
    /// Check-ins it said it still held, not uploaded, at its last pull (`None`: not reported).
    pub queued_check_ins: Option<i64>,
    /// Synced within the window and has every change.
    pub current: bool,
    /// Why not, in words for the organizer (empty when current).
    pub problem: String,
}

/// Doors-open readiness: every device of an event, current or not.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadinessOut {
    /// The event.
    pub event_id: i64,
    /// The feed's newest change for the event: a current device's cursor.
    pub head: i64,
    /// The window, minutes: a device must have synced within it.
    pub within_minutes: i64,
    /// Active devices that are current.
    pub ready: usize,
    /// Active devices.
    pub active: usize,
    /// Every device, enrollment order.
    pub devices: Vec<DeviceStatus>,
}

/// Clock skews beyond this are flagged: a gate's "today" would be wrong near midnight.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Which devices are current: synced within `within_minutes` of `now_ms` and at the head.
pub fn readiness(
    devices: &[DeviceRow],
    head: i64,
    now_ms: i64,
    within_minutes: i64,
) -> Vec<DeviceStatus> {
    devices
        .iter()
        .map(|d| {
            let behind = (head - d.cursor).max(0);
            let fresh = d
                .last_seen_ms
                .is_some_and(|t| now_ms - t <= within_minutes * 60_000);
            let problem = if d.status != "active" {
                "revoked".to_owned()
            } else if d.last_seen_ms.is_none() {
                "never synced".to_owned()
            } else if !fresh {
                format!("no sync in the last {within_minutes} minutes")
            } else if behind > 0 {
                format!("{behind} changes behind: sync it again")
            } else if let Some(queued) = d.queued_check_ins.filter(|&q| q > 0) {
                format!("{queued} check-ins not uploaded yet: sync it again")
            } else if d.clock_skew_ms.is_some_and(|s| s.abs() > MAX_SKEW_MS) {
                "clock is more than 5 minutes off: set its time".to_owned()
            } else {
                String::new()
            };
            DeviceStatus {
                id: d.id.clone(),
                name: d.name.clone(),
                gate: d.gate.clone(),
                status: d.status.clone(),
                app_version: d.app_version.clone(),
                last_seen_ms: d.last_seen_ms,
                cursor: d.cursor,
                behind,
                clock_skew_ms: d.clock_skew_ms,
                check_ins: d.check_ins,
                queued_check_ins: d.queued_check_ins,
                current: problem.is_empty(),
                problem,
            }
        })
        .collect()
}

/// A count by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Count {
    /// Gate, ticket type, day, or reason.
    pub name: String,
    /// How many.
    pub count: i64,
}

/// A flagged second admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConflictOut {
    /// The ticket.
    pub ticket_id: Option<i64>,
    /// Its type.
    pub ticket_type: Option<String>,
    /// When (device clock), RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
    /// Where.
    pub gate: String,
    /// Which device.
    pub device_name: String,
    /// Why it is flagged: `double_entry` (a second entry that day), `superseded_code` (an
    /// entry on a code a transfer, upgrade or reissue replaced) or `clock_skew` (an entry
    /// by a device whose clock was more than two minutes off).
    pub kind: String,
}

/// Live gate figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LiveOut {
    /// The event-local date "today" is.
    #[schema(value_type = String, format = Date)]
    pub today: NaiveDate,
    /// Entries admitted today.
    pub admitted_today: i64,
    /// Today's admissions per gate.
    pub per_gate: Vec<Count>,
    /// Today's admissions per ticket type.
    pub per_ticket_type: Vec<Count>,
    /// Admissions per event day (ISO date), every day.
    pub per_day: Vec<Count>,
    /// People inside now (re-entry events: last admitted scan was an entry); `null` for
    /// once-per-day events, which do not scan exits.
    pub inside: Option<i64>,
    /// Scans (any verdict) in each of the last 60 minutes, oldest first.
    pub scans_per_minute: Vec<i64>,
    /// Rejections today, by the reason the gate showed.
    pub rejects_by_reason: Vec<Count>,
    /// Every flagged conflict, newest first.
    pub conflicts: Vec<ConflictOut>,
}

fn counted(map: BTreeMap<String, i64>) -> Vec<Count> {
    map.into_iter()
        .map(|(name, count)| Count { name, count })
        .collect()
}

/// The live figures from every check-in of an event (by time), in its timezone.
pub fn live(rows: &[CheckInRow], tz: Tz, reentry: bool, now: DateTime<Utc>) -> LiveOut {
    let local_day = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&tz)
            .date_naive()
    };
    let today = now.with_timezone(&tz).date_naive();
    let mut per_gate = BTreeMap::new();
    let mut per_type = BTreeMap::new();
    let mut per_day = BTreeMap::new();
    let mut rejects = BTreeMap::new();
    let mut last_move: HashMap<i64, bool> = HashMap::new();
    let mut per_minute = vec![0i64; 60];
    let now_ms = now.timestamp_millis();
    let mut admitted_today = 0;
    for r in rows {
        let day = local_day(r.at_ms);
        let ago = (now_ms - r.at_ms).div_euclid(60_000);
        if (0..60).contains(&ago)
            && let Some(slot) = per_minute.get_mut(usize::try_from(59 - ago).unwrap_or(0))
        {
            *slot += 1;
        }
        if !r.admitted {
            if day == today {
                *rejects
                    .entry(r.reason.clone().unwrap_or_else(|| "unknown".into()))
                    .or_insert(0) += 1;
            }
            continue;
        }
        if r.direction == "entry" {
            *per_day.entry(day.to_string()).or_insert(0) += 1;
            if day == today {
                admitted_today += 1;
                *per_gate.entry(r.gate.clone()).or_insert(0) += 1;
                *per_type
                    .entry(r.ticket_type.clone().unwrap_or_else(|| "unknown".into()))
                    .or_insert(0) += 1;
            }
        }
        if day == today
            && let Some(t) = r.ticket_id
        {
            last_move.insert(t, r.direction == "entry");
        }
    }
    let mut conflicts: Vec<ConflictOut> = rows
        .iter()
        .filter(|r| r.conflict)
        .map(|r| ConflictOut {
            ticket_id: r.ticket_id,
            ticket_type: r.ticket_type.clone(),
            at: DateTime::from_timestamp_millis(r.at_ms).unwrap_or_default(),
            gate: r.gate.clone(),
            device_name: r.device_name.clone(),
            kind: r
                .conflict_kind
                .clone()
                .unwrap_or_else(|| "double_entry".into()),
        })
        .collect();
    conflicts.reverse();
    LiveOut {
        today,
        admitted_today,
        per_gate: counted(per_gate),
        per_ticket_type: counted(per_type),
        per_day: counted(per_day),
        inside: reentry.then(|| {
            i64::try_from(last_move.values().filter(|inside| **inside).count()).unwrap_or(0)
        }),
        scans_per_minute: per_minute,
        rejects_by_reason: counted(rejects),
        conflicts,
    }
}

/// Scans per minute as an inline SVG bar chart (no script, no external file): one bar a
/// minute, oldest on the left, with a text alternative for screen readers.
pub fn scans_chart_svg(per_minute: &[i64]) -> String {
    let max = per_minute.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = per_minute.iter().sum();
    let (w, h, bar) = (600, 120, 10);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" \
         aria-labelledby=\"chart-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">Scans per minute over the last hour: {total} in all, \
         at most {max} in one minute</title>\
         <line x1=\"0\" y1=\"{h}\" x2=\"{w}\" y2=\"{h}\" stroke=\"currentColor\"/>"
    );
    for (i, n) in per_minute.iter().enumerate() {
        let height = n * (h - 10) / max;
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"{bw}\" height=\"{height}\" fill=\"#2563eb\">\
             <title>{ago} min ago: {n}</title></rect>",
            x = i * bar,
            y = h - height,
            bw = bar - 2,
            ago = per_minute.len() - i - 1,
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// One CSV record (RFC 4180): fields with a comma, quote, CR or LF are quoted, quotes
/// doubled; the line ends with CRLF. A text field that a spreadsheet would run as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or CR, and not a number) gets a leading `'`:
/// names and business names come from public forms.
pub fn csv<I, S>(fields: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut line = String::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let raw = f.as_ref();
        let neutral;
        let f = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) && raw.parse::<f64>().is_err()
        {
            neutral = format!("'{raw}");
            neutral.as_str()
        } else {
            raw
        };
        if f.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&f.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(f);
        }
    }
    line.push_str("\r\n");
    line
}

/// Unix milliseconds as an ISO 8601 UTC time.
pub fn iso_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Unix seconds as an ISO 8601 UTC time.
pub fn iso_s(s: i64) -> String {
    iso_ms(s.saturating_mul(1000))
}

/// An optional value as a CSV field (empty when absent).
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(id: &str, last_seen_ms: Option<i64>, cursor: i64) -> DeviceRow {
        DeviceRow {
            id: id.into(),
            event_id: 1,
            name: id.into(),
            gate: Some("Main Gate".into()),
            status: "active".into(),
            app_version: "1".into(),
            enrolled_at: 0,
            last_seen_ms,
            cursor,
            clock_skew_ms: Some(120),
            check_ins: 0,
            queued_check_ins: Some(0),
            public_key: None,
            revoked_at: None,
        }
    }

    #[test]
    fn readiness_says_which_devices_are_current_and_why_not() {
        let now = 10_000_000;
        let out = readiness(
            &[
                device("synced", Some(now - 60_000), 40),
                device("never", None, 0),
                device("stale", Some(now - 16 * 60_000), 40),
                device("behind", Some(now - 1000), 39),
                DeviceRow {
                    queued_check_ins: Some(3),
                    ..device("holding", Some(now - 1000), 40)
                },
            ],
            40,
            now,
            15,
        );
        let current: Vec<_> = out.iter().map(|d| (d.id.as_str(), d.current)).collect();
        assert_eq!(
            current,
            [
                ("synced", true),
                ("never", false),
                ("stale", false),
                ("behind", false),
                ("holding", false)
            ]
        );
        assert_eq!(
            out[4].problem,
            "3 check-ins not uploaded yet: sync it again"
        );
        assert_eq!(out[1].problem, "never synced");
        assert!(out[2].problem.contains("15 minutes"), "{}", out[2].problem);
        assert_eq!(out[3].behind, 1);
    }

    fn row(ticket: i64, at: DateTime<Utc>, gate: &str, dir: &str, admitted: bool) -> CheckInRow {
        CheckInRow {
            device_id: "d".into(),
            seq: 1,
            device_name: "Tablet".into(),
            ticket_id: Some(ticket),
            ticket_type: Some("3-Day Pass".into()),
            at_ms: at.timestamp_millis(),
            gate: gate.into(),
            direction: dir.into(),
            admitted,
            reason: (!admitted).then(|| "already_admitted".into()),
            server_admitted: admitted,
            server_reason: None,
            conflict: false,
            conflict_kind: None,
        }
    }

    #[test]
    fn live_counts_today_in_the_event_timezone() {
        let tz: Tz = "America/Los_Angeles".parse().unwrap();
        // 20:00 UTC is noon in Los Angeles; 07:00 UTC that day was yesterday there.
        let now = DateTime::parse_from_rfc3339("2026-07-10T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let yesterday = DateTime::parse_from_rfc3339("2026-07-10T06:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let minute = chrono::Duration::minutes(1);
        let rows = vec![
            row(1, yesterday, "Main Gate", "entry", true),
            row(1, now - minute * 30, "Main Gate", "entry", true),
            row(2, now - minute * 20, "North Gate", "entry", true),
            row(2, now - minute * 10, "North Gate", "exit", true),
            row(1, now - minute * 5, "North Gate", "entry", false),
        ];
        let out = live(&rows, tz, true, now);
        assert_eq!(out.today.to_string(), "2026-07-10");
        assert_eq!(out.admitted_today, 2);
        assert_eq!(
            out.per_gate,
            [
                Count {
                    name: "Main Gate".into(),
                    count: 1
                },
                Count {
                    name: "North Gate".into(),
                    count: 1
                }
            ]
        );
        assert_eq!(out.per_day.len(), 2);
        assert_eq!(out.inside, Some(1));
        assert_eq!(out.scans_per_minute.len(), 60);
        assert_eq!(out.scans_per_minute.iter().sum::<i64>(), 4);
        assert_eq!(out.scans_per_minute[59 - 5], 1);
        assert_eq!(out.rejects_by_reason[0].name, "already_admitted");
        assert_eq!(live(&rows, tz, false, now).inside, None);
    }

    #[test]
    fn the_chart_has_a_bar_a_minute_and_words_for_screen_readers() {
        let mut minutes = vec![0; 60];
        minutes[59] = 4;
        minutes[0] = 2;
        let svg = scans_chart_svg(&minutes);
        assert_eq!(svg.matches("<rect").count(), 60);
        assert!(svg.contains("6 in all, at most 4 in one minute"), "{svg}");
        assert!(
            svg.contains("height=\"110\""),
            "the busiest minute is full height"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(csv(["a", "b c", ""]), "a,b c,\r\n");
        assert_eq!(
            csv(["Falafel, King", "say \"hi\"", "two\nlines"]),
            "\"Falafel, King\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n"
        );
        // Formulas are defused; numbers stay numbers.
        assert_eq!(
            csv([
                "=HYPERLINK(\"x\")",
                "@SUM(A1)",
                "+1 714",
                "-120",
                "-1.5",
                "a=b"
            ]),
            "\"'=HYPERLINK(\"\"x\"\")\",'@SUM(A1),'+1 714,-120,-1.5,a=b\r\n"
        );
    }
}
