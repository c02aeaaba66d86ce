//! The words a gate screen shows, in English or Arabic (a gate setting: `language` in the
//! native gate's `device.db`, a setting of the browser gate): the line of an admission,
//! every reject reason and every warning. Words only: the verdict, the reason and warning
//! codes, the colour and the symbol are the same in every language, and names (gates,
//! devices, ticket types) print as they are, isolated (FSI … PDI) inside Arabic sentences. A
//! plain table per language, no message files: a gate carries no i18n library for some forty
//! sentences. English is core's `Display`.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

use crate::{
    Admission, Basis, Decision, Direction, EntryPolicy, PriorEntry, Reason, Revocation,
    SupersedeCause, TicketStatus, Warning, codes,
};

/// A language the gate speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// English, the default.
    #[default]
    En,
    /// Arabic.
    Ar,
}

impl Language {
    /// Every language, in the order a switch lists them.
    pub const ALL: [Self; 2] = [Self::En, Self::Ar];

    /// The BCP 47 code, as stored and shown (`en`, `ar`).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ar => "ar",
        }
    }

    /// `en` or `ar` (any case, a region allowed: `ar-EG`).
    pub fn parse(tag: &str) -> Option<Self> {
        match tag
            .trim()
            .split(['-', '_'])
            .next()?
            .to_ascii_lowercase()
            .as_str()
        {
            "en" => Some(Self::En),
            "ar" => Some(Self::Ar),
            _ => None,
        }
    }
}

/// A name inside an Arabic sentence, kept in its own direction.
fn iso(s: &str) -> String {
    format!("\u{2068}{s}\u{2069}")
}

const AR_WEEKDAYS: [&str; 7] = [
    "الاثنين",
    "الثلاثاء",
    "الأربعاء",
    "الخميس",
    "الجمعة",
    "السبت",
    "الأحد",
];
const AR_MONTHS: [&str; 12] = [
    "يناير",
    "فبراير",
    "مارس",
    "أبريل",
    "مايو",
    "يونيو",
    "يوليو",
    "أغسطس",
    "سبتمبر",
    "أكتوبر",
    "نوفمبر",
    "ديسمبر",
];

/// `الجمعة 12 يونيو`: the Arabic of core's `%A %-d %b` (CLDR's names, ASCII digits as on
/// the tickets); the server's pages add the year.
pub fn ar_day(date: NaiveDate) -> String {
    let weekday = AR_WEEKDAYS
        .get(date.weekday().num_days_from_monday() as usize)
        .copied()
        .unwrap_or_default();
    let month = AR_MONTHS
        .get(date.month0() as usize)
        .copied()
        .unwrap_or_default();
    format!("{weekday} {} {month}", date.day())
}

fn ar_days(dates: &[NaiveDate]) -> String {
    dates
        .iter()
        .map(|d| ar_day(*d))
        .collect::<Vec<_>>()
        .join("، ")
}

fn ar_time(at: NaiveDateTime) -> String {
    at.format("%H:%M").to_string()
}

/// What a gate screen shows of one decision: the same for the native gate and the browser
/// gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown<'a> {
    /// `admit`, `reject`, or `warning` (an exit of a ticket that is not inside: let out and
    /// recorded, shown apart from a routine exit).
    pub verdict: &'static str,
    /// The reject reason's code.
    pub reason: Option<&'static str>,
    /// The verdict in the gate's words.
    pub message: String,
    /// An admission's basis: `replica` or `signature_only`.
    pub basis: Option<&'static str>,
    /// A warning beside the verdict: its code and words.
    pub warning: Option<(&'static str, String)>,
    /// For `already_admitted`: the entry that blocks this one.
    pub first_entry: Option<&'a PriorEntry>,
}

/// The screen's view of `decision` in `language`; `mode` is what the gate decides with
/// (`SignatureOnly` while its replica is rebuilt).
pub fn shown<'a>(
    language: Language,
    decision: &'a Decision,
    ticket_type: Option<&str>,
    mode: Basis,
) -> Shown<'a> {
    match decision {
        Decision::Admit(a) => {
            let beside = a.warning.as_ref().map(|w| (w.code(), warning(language, w)));
            let (verdict, message) = match &a.warning {
                Some(w @ Warning::NotInside { .. }) => ("warning", warning(language, w)),
                _ => ("admit", admit(language, a, ticket_type, mode)),
            };
            Shown {
                verdict,
                reason: None,
                message,
                basis: Some(codes::basis_str(a.basis)),
                warning: beside,
                first_entry: None,
            }
        }
        Decision::Reject(r) => Shown {
            verdict: "reject",
            reason: Some(r.code()),
            message: reason(language, r),
            basis: None,
            warning: None,
            first_entry: match r {
                Reason::AlreadyAdmitted { entry, .. } => Some(entry),
                _ => None,
            },
        },
    }
}

/// The line shown for an admission (in, back in, out), with the signature-only note.
pub fn admit(language: Language, a: &Admission, ticket_type: Option<&str>, mode: Basis) -> String {
    let (what, verdict, rebuilding, not_in_replica) = match language {
        Language::En => (
            ticket_type.unwrap_or("Ticket").to_owned(),
            match (a.direction, a.reentry) {
                (Direction::Exit, _) => "Exit recorded",
                (Direction::Entry, true) => "Welcome back",
                (Direction::Entry, false) => "Admit",
            },
            " (signature only: the replica is being rebuilt; sync soon)",
            " (signature only: this ticket is not in the replica yet)",
        ),
        Language::Ar => (
            ticket_type.map_or_else(|| "تذكرة".to_owned(), iso),
            match (a.direction, a.reentry) {
                (Direction::Exit, _) => "سُجّل الخروج",
                (Direction::Entry, true) => "أهلًا بعودتك",
                (Direction::Entry, false) => "دخول",
            },
            " (بالتوقيع فقط: يُعاد بناء النسخة المحلية؛ زامِن قريبًا)",
            " (بالتوقيع فقط: هذه التذكرة ليست في النسخة المحلية بعد)",
        ),
    };
    let mut m = format!("{verdict} — {what}");
    if mode == Basis::SignatureOnly {
        m.push_str(rebuilding);
    } else if a.basis == Basis::SignatureOnly {
        m.push_str(not_in_replica);
    }
    m
}

/// The words of a reject reason.
pub fn reason(language: Language, r: &Reason) -> String {
    match language {
        Language::En => r.to_string(),
        Language::Ar => ar_reason(r),
    }
}

fn ar_reason(r: &Reason) -> String {
    match r {
        Reason::NotATicket => "ليست تذكرة: هذا الرمز ليس تذكرة Tessera".to_owned(),
        Reason::Malformed(_) => "تذكرة تالفة: الرمز ناقص أو مشوّه".to_owned(),
        Reason::UnknownKey(k) => {
            format!("مفتاح توقيع غير معروف {k}: مزوّرة، أو يحتاج هذا الجهاز إلى مزامنة")
        }
        Reason::RetiredKey(k) => format!("موقّعة بمفتاح مسحوب {k}: لم تعد مقبولة"),
        Reason::BadSignature => "تذكرة مزوّرة أو معدّلة: التوقيع غير مطابق".to_owned(),
        Reason::WrongEvent { ticket, .. } => {
            format!("ليست تذكرة لهذه الفعالية (التذكرة للفعالية {ticket})")
        }
        Reason::Revoked(Revocation::Superseded { cause, .. }) => match cause {
            Some(SupersedeCause::Transfer) => "نُقلت التذكرة: هذا الرمز لم يعد صالحًا",
            Some(SupersedeCause::Upgrade) => "رُقّيت التذكرة: اطلب الرمز الجديد",
            Some(SupersedeCause::Reissue) | None => "أُعيد إصدار التذكرة: هذا الرمز لم يعد صالحًا",
        }
        .to_owned(),
        Reason::Revoked(Revocation::Status(status)) => match status {
            TicketStatus::Refunded => "استُرد ثمن هذه التذكرة",
            TicketStatus::Cancelled => "أُلغيت هذه التذكرة",
            TicketStatus::Voided => "ألغى المنظّم هذه التذكرة",
            TicketStatus::Blocked => "حظر المنظّم هذه التذكرة",
            TicketStatus::Valid => "سُحبت هذه التذكرة",
        }
        .to_owned(),
        Reason::WrongGate { gate, .. } => {
            format!("غير صالحة عند {}: وجّهه إلى بوابة أخرى", iso(gate))
        }
        Reason::WrongDay {
            today,
            today_index,
            valid_dates,
            ..
        } => {
            let valid = ar_days(valid_dates);
            let today = ar_day(*today);
            match today_index {
                Some(_) => format!("صالحة {valid} فقط — اليوم {today}"),
                None => format!("صالحة {valid} — اليوم ({today}) ليس من أيام الفعالية"),
            }
        }
        Reason::AlreadyAdmitted { entry, policy } => {
            let (gate, at, device) = (iso(&entry.gate), ar_time(entry.local), iso(&entry.device));
            match policy {
                EntryPolicy::OncePerDay => {
                    format!("استُخدمت اليوم عند {gate} الساعة {at} (الجهاز {device})")
                }
                EntryPolicy::ReentryAfterExit => format!(
                    "بالداخل بالفعل: دخل عند {gate} الساعة {at} (الجهاز {device})، ولم يُمسح خروج منذ ذلك"
                ),
            }
        }
    }
}

/// The words of a warning beside a verdict.
pub fn warning(language: Language, w: &Warning) -> String {
    match language {
        Language::En => w.to_string(),
        Language::Ar => match w {
            Warning::SupersededCodeUsed { entry, earlier_day } => {
                let when = if *earlier_day {
                    format!("{} {}", ar_day(entry.local.date()), ar_time(entry.local))
                } else {
                    ar_time(entry.local)
                };
                format!(
                    "تنبيه: استُخدم الرمز السابق لهذه التذكرة عند {} {when} (الجهاز {})",
                    iso(&entry.gate),
                    iso(&entry.device)
                )
            }
            Warning::NotInside { last_exit: None } => {
                "تنبيه: ليس بالداخل — لا دخول مسجّل لهذه التذكرة؛ سُجّل الخروج".to_owned()
            }
            Warning::NotInside {
                last_exit: Some(exit),
            } => format!(
                "تنبيه: ليس بالداخل — خرج بالفعل عند {} الساعة {} ولم يُسجَّل دخول منذ ذلك؛ سُجّل الخروج",
                iso(&exit.gate),
                ar_time(exit.local)
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DayMask, EventId, KeyId, MalformedTicket, PriorEntry, Revision, ZoneMask};
    use chrono::{NaiveTime, TimeZone, Utc};

    fn entry() -> PriorEntry {
        PriorEntry {
            at: Utc.with_ymd_and_hms(2026, 6, 12, 18, 5, 0).unwrap(),
            local: NaiveDate::from_ymd_opt(2026, 6, 12)
                .unwrap()
                .and_time(NaiveTime::from_hms_opt(21, 5, 0).unwrap()),
            gate: "North Gate 2".into(),
            device: "Tablet-3".into(),
        }
    }

    /// One reason of every kind core has, each sub-case of `revoked` included.
    fn every_reason() -> Vec<Reason> {
        let friday = NaiveDate::from_ymd_opt(2026, 6, 12).unwrap();
        let mut all = vec![
            Reason::NotATicket,
            Reason::Malformed(MalformedTicket::UnsupportedVersion(9)),
            Reason::UnknownKey(KeyId(7)),
            Reason::RetiredKey(KeyId(3)),
            Reason::BadSignature,
            Reason::WrongEvent {
                ticket: EventId(2),
                gate: EventId(1),
            },
            Reason::WrongGate {
                gate: "VIP Gate".into(),
                ticket_zones: ZoneMask::GENERAL,
                gate_zones: ZoneMask(2),
            },
            Reason::WrongDay {
                today: friday,
                today_index: Some(0),
                valid: DayMask(0b10),
                valid_dates: vec![friday.succ_opt().unwrap()],
            },
            Reason::WrongDay {
                today: friday,
                today_index: None,
                valid: DayMask(0b1),
                valid_dates: vec![friday.succ_opt().unwrap()],
            },
        ];
        for cause in [
            Some(SupersedeCause::Transfer),
            Some(SupersedeCause::Upgrade),
            Some(SupersedeCause::Reissue),
            None,
        ] {
            all.push(Reason::Revoked(Revocation::Superseded {
                current: Revision(2),
                cause,
            }));
        }
        for status in [
            TicketStatus::Valid,
            TicketStatus::Refunded,
            TicketStatus::Cancelled,
            TicketStatus::Voided,
            TicketStatus::Blocked,
        ] {
            all.push(Reason::Revoked(Revocation::Status(status)));
        }
        for policy in [EntryPolicy::OncePerDay, EntryPolicy::ReentryAfterExit] {
            all.push(Reason::AlreadyAdmitted {
                entry: entry(),
                policy,
            });
        }
        all
    }

    /// Whether `text` is written in Arabic: Arabic letters, and no English word outside the
    /// names and the brand it quotes.
    fn is_arabic(text: &str) -> bool {
        let mut rest = text.to_owned();
        for quoted in [
            "North Gate 2",
            "Tablet-3",
            "VIP Gate",
            "Tessera",
            "3-Day Pass",
        ] {
            rest = rest.replace(quoted, "");
        }
        rest.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
            && !rest.chars().any(|c| c.is_ascii_alphabetic())
    }

    #[test]
    fn every_reason_and_warning_has_arabic_words() {
        let reasons = every_reason();
        // Every code core can give is here: a reason core adds fails this test (and the
        // `match` in `ar_reason`, which has no catch-all, fails to build).
        let mut codes: Vec<&str> = reasons.iter().map(Reason::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(
            codes,
            [
                "already_admitted",
                "bad_signature",
                "malformed",
                "not_a_ticket",
                "retired_key",
                "revoked",
                "unknown_key",
                "wrong_day",
                "wrong_event",
                "wrong_gate",
            ]
        );
        for r in &reasons {
            let (en, ar) = (reason(Language::En, r), reason(Language::Ar, r));
            assert_eq!(en, r.to_string(), "English is core's words");
            assert!(is_arabic(&ar), "{}: {ar}", r.code());
        }
        let warnings = [
            Warning::SupersededCodeUsed {
                entry: entry(),
                earlier_day: false,
            },
            Warning::SupersededCodeUsed {
                entry: entry(),
                earlier_day: true,
            },
            Warning::NotInside { last_exit: None },
            Warning::NotInside {
                last_exit: Some(entry()),
            },
        ];
        let mut codes: Vec<&str> = warnings.iter().map(Warning::code).collect();
        codes.dedup();
        assert_eq!(codes, ["superseded_code_used", "not_inside"]);
        for w in &warnings {
            assert_eq!(warning(Language::En, w), w.to_string());
            let ar = warning(Language::Ar, w);
            assert!(is_arabic(&ar), "{}: {ar}", w.code());
        }
    }

    #[test]
    fn arabic_keeps_names_figures_and_times_as_they_are() {
        let r = Reason::AlreadyAdmitted {
            entry: entry(),
            policy: EntryPolicy::OncePerDay,
        };
        let ar = reason(Language::Ar, &r);
        assert!(ar.contains("\u{2068}North Gate 2\u{2069}"), "{ar}");
        assert!(
            ar.contains("21:05") && ar.contains("\u{2068}Tablet-3\u{2069}"),
            "{ar}"
        );
        let day = Reason::WrongDay {
            today: NaiveDate::from_ymd_opt(2026, 6, 12).unwrap(),
            today_index: Some(0),
            valid: DayMask(0b10),
            valid_dates: vec![NaiveDate::from_ymd_opt(2026, 6, 13).unwrap()],
        };
        assert_eq!(
            reason(Language::Ar, &day),
            "صالحة السبت 13 يونيو فقط — اليوم الجمعة 12 يونيو"
        );
    }

    #[test]
    fn admissions_read_in_both_languages() {
        let admission = |direction, reentry, basis| Admission {
            direction,
            date: NaiveDate::from_ymd_opt(2026, 6, 12).unwrap(),
            day: Some(0),
            basis,
            reentry,
            warning: None,
        };
        let a = admission(Direction::Entry, false, Basis::Replica);
        assert_eq!(
            admit(Language::En, &a, Some("3-Day Pass"), Basis::Replica),
            "Admit — 3-Day Pass"
        );
        assert_eq!(
            admit(Language::Ar, &a, Some("3-Day Pass"), Basis::Replica),
            "دخول — \u{2068}3-Day Pass\u{2069}"
        );
        for (direction, reentry) in [
            (Direction::Entry, false),
            (Direction::Entry, true),
            (Direction::Exit, false),
        ] {
            for (basis, mode) in [
                (Basis::Replica, Basis::Replica),
                (Basis::SignatureOnly, Basis::Replica),
                (Basis::SignatureOnly, Basis::SignatureOnly),
            ] {
                let a = admission(direction, reentry, basis);
                assert!(is_arabic(&admit(Language::Ar, &a, None, mode)));
            }
        }
        assert_eq!(Language::parse("AR-eg"), Some(Language::Ar));
        assert_eq!(Language::parse("fr"), None);
    }
}
