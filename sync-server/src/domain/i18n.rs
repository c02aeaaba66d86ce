//! The languages of the attendee's pages, emails, PDF and wallet labels: English and
//! Arabic. Which language a request asks for (`Accept-Language`, a cookie, an account's
//! choice; orders and accounts keep theirs, ADR 0023), the messages in
//! Fluent files compiled into the binary (`sync-server/locales/*.ftl`), and dates in each
//! language's words (ADR 0022). Whether a page is laid out right to left follows from the
//! language. No IO: how a message is escaped and its names isolated (`<bdi>`, Unicode
//! isolates) is its caller's (`http::web`, `domain::email`), through [`message_marked`].

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// The English messages, the reference every other language must match key for key.
pub const EN_FTL: &str = include_str!("../../locales/en.ftl");
/// The Arabic messages.
pub const AR_FTL: &str = include_str!("../../locales/ar.ftl");

/// A language the pages and emails are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English, the default.
    #[default]
    En,
    /// Arabic, right to left.
    Ar,
}

impl Lang {
    /// Every language, in the order the language switch lists them.
    pub const ALL: [Self; 2] = [Self::En, Self::Ar];

    /// The BCP 47 code (`lang` attribute, cookie value).
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ar => "ar",
        }
    }

    /// Whether the language is written right to left.
    pub fn is_rtl(self) -> bool {
        matches!(self, Self::Ar)
    }

    /// The writing direction for `dir`.
    pub fn dir(self) -> &'static str {
        match self {
            Self::En => "ltr",
            Self::Ar => "rtl",
        }
    }

    /// The language's name in itself, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Ar => "العربية",
        }
    }

    /// A language tag (`ar`, `ar-EG`, `EN-us`) as one of ours, if it is one.
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Self::En),
            "ar" => Some(Self::Ar),
            _ => None,
        }
    }

    /// The best of ours for an `Accept-Language` header: the highest-weighted tag we
    /// speak (the first of equal weights), else `None`.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok());
            let (Some(lang), Some(q)) = (Self::parse(tag), q) else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    fn source(self) -> &'static str {
        match self {
            Self::En => EN_FTL,
            Self::Ar => AR_FTL,
        }
    }
}

/// One value a message is formatted with.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text, shown as it is.
    Text(&'a str),
    /// A whole number: selects plural forms; printed with ASCII digits and no grouping, so
    /// ticket ids and counts read the same in both languages.
    Number(i64),
}

fn bundles() -> &'static [FluentBundle<FluentResource>; 2] {
    static BUNDLES: OnceLock<[FluentBundle<FluentResource>; 2]> = OnceLock::new();
    BUNDLES.get_or_init(|| Lang::ALL.map(bundle))
}

fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let id = lang
        .code()
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = FluentBundle::new_concurrent(vec![id]);
    // Names are isolated by the HTML around them (`<bdi>`); Unicode isolate marks would
    // also land in plain-text emails, subjects and attribute values.
    bundle.set_use_isolating(false);
    let resource =
        FluentResource::try_new(lang.source().to_owned()).unwrap_or_else(|(r, errors)| {
            // A file that does not parse fully is a build mistake the tests catch; the rest
            // of its messages still serve.
            tracing::error!(lang = lang.code(), ?errors, "message file does not parse");
            r
        });
    if let Err(errors) = bundle.add_resource(resource) {
        tracing::error!(lang = lang.code(), ?errors, "duplicate messages");
    }
    bundle
}

fn index(lang: Lang) -> usize {
    match lang {
        Lang::En => 0,
        Lang::Ar => 1,
    }
}

/// The message `key` in `lang`, formatted with `args`. A key missing from `lang` falls back
/// to English, and a key missing from English prints as itself (both logged; the tests
/// keep both from happening).
pub fn message(lang: Lang, key: &str, args: &[(&str, Arg<'_>)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, arg) in args {
        match *arg {
            Arg::Text(s) => fluent_args.set(*name, FluentValue::from(s)),
            Arg::Number(n) => fluent_args.set(*name, FluentValue::from(n)),
        }
    }
    for lang in [lang, Lang::En] {
        let bundle = &bundles()[index(lang)];
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            tracing::error!(lang = lang.code(), key, "message missing");
            continue;
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        if !errors.is_empty() {
            tracing::error!(lang = lang.code(), key, ?errors, "message formatting");
        }
        return text.into_owned();
    }
    key.to_owned()
}

/// A vendor ticket's business and booth in `lang`'s words ("Falafel King · Booth B-12",
/// "فلافل الملك · الجناح B-12", "… · booth to be assigned"); `None` for any other ticket. The
/// business name is the vendor's own and prints as written.
pub fn vendor_line(lang: Lang, t: &crate::store::TicketView) -> Option<String> {
    t.detail.as_ref()?;
    let booth = match &t.booth_code {
        Some(code) => message(lang, "vendor-booth", &[("code", Arg::Text(code))]),
        None => message(lang, "vendor-booth-unassigned", &[]),
    };
    Some(match &t.vendor_business {
        Some(business) => format!("{business} · {booth}"),
        None => booth,
    })
}

/// The message `key` with each text argument put back after the message went through
/// `escape`: an argument `isolate`d passes through `isolate` (a name wrapped in `<bdi>` or
/// in Unicode isolates), any other through `escape` alone. Arguments go into the message as
/// private-use markers, so neither the message's own text nor an argument is escaped twice.
pub fn message_marked(
    lang: Lang,
    key: &str,
    args: &[(&str, Arg<'_>, bool)],
    escape: &dyn Fn(&str) -> String,
    isolate: &dyn Fn(&str) -> String,
) -> String {
    let markers: Vec<String> = (0..args.len())
        .map(|i| format!("\u{E000}{i}\u{E001}"))
        .collect();
    let with_markers: Vec<(&str, Arg<'_>)> = args
        .iter()
        .zip(&markers)
        .map(|((name, arg, _), marker)| match arg {
            Arg::Text(_) => (*name, Arg::Text(marker.as_str())),
            Arg::Number(_) => (*name, *arg),
        })
        .collect();
    let mut out = escape(&message(lang, key, &with_markers));
    for ((_, arg, isolated), marker) in args.iter().zip(&markers) {
        if let Arg::Text(text) = arg {
            let value = if *isolated {
                isolate(text)
            } else {
                escape(text)
            };
            out = out.replace(marker.as_str(), &value);
        }
    }
    out
}

/// The keys of the messages in a Fluent source (for the tests that compare languages).
pub fn keys(source: &str) -> BTreeSet<String> {
    let resource = match FluentResource::try_new(source.to_owned()) {
        Ok(r) | Err((r, _)) => r,
    };
    resource
        .entries()
        .filter_map(|e| match e {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

/// A festival day as people read it: `Fri 12 Jun 2026`, or `الجمعة 12 يونيو 2026` (the
/// weekday and month names of CLDR's `ar`, the digits ASCII as on the tickets — ADR 0022).
pub fn format_date(lang: Lang, date: NaiveDate) -> String {
    match lang {
        Lang::En => date.format("%a %-d %b %Y").to_string(),
        Lang::Ar => format!("{} {}", tessera_core::words::ar_day(date), date.year()),
    }
}

/// A run of days: `Fri 12 Jun 2026 to Sun 14 Jun 2026`, one day alone, or nothing.
pub fn days_range(lang: Lang, days: &[String]) -> String {
    match days {
        [] => String::new(),
        [one] => one.clone(),
        [first, .., last] => message(
            lang,
            "days-range",
            &[("first", Arg::Text(first)), ("last", Arg::Text(last))],
        ),
    }
}

/// A list of days: `Fri 12 Jun 2026, Sat 13 Jun 2026` (Arabic with its own comma).
pub fn days_list(lang: Lang, days: &[String]) -> String {
    days.join(match lang {
        Lang::En => ", ",
        Lang::Ar => "، ",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_language_we_speak() {
        assert_eq!(Lang::from_accept_language("ar"), Some(Lang::Ar));
        assert_eq!(
            Lang::from_accept_language("fr-FR, ar-EG;q=0.8, en;q=0.5"),
            Some(Lang::Ar)
        );
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,ar;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("ar;q=0, en"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn every_message_exists_in_both_languages() {
        let en = keys(EN_FTL);
        let ar = keys(AR_FTL);
        assert!(en.len() > 50, "{} English messages", en.len());
        let only_en: Vec<_> = en.difference(&ar).collect();
        let only_ar: Vec<_> = ar.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_ar.is_empty(),
            "only in en.ftl: {only_en:?}; only in ar.ftl: {only_ar:?}"
        );
    }

    #[test]
    fn both_message_files_parse_and_every_message_formats() {
        for lang in Lang::ALL {
            if let Err((_, errors)) = FluentResource::try_new(lang.source().to_owned()) {
                panic!("{}.ftl: {errors:?}", lang.code());
            }
            for key in keys(lang.source()) {
                let bundle = &bundles()[index(lang)];
                let pattern = bundle.get_message(&key).and_then(|m| m.value());
                assert!(pattern.is_some(), "{}: {key} has no value", lang.code());
            }
        }
    }

    #[test]
    fn arabic_dates_keep_ascii_digits() {
        let d = NaiveDate::from_ymd_opt(2026, 6, 12).unwrap();
        assert_eq!(format_date(Lang::En, d), "Fri 12 Jun 2026");
        assert_eq!(format_date(Lang::Ar, d), "الجمعة 12 يونيو 2026");
    }

    #[test]
    fn plurals_follow_the_language() {
        let left = |lang, n| message(lang, "type-left", &[("n", Arg::Number(n))]);
        assert_eq!(left(Lang::En, 3), "3 left");
        assert!(left(Lang::Ar, 3).contains('3'), "{}", left(Lang::Ar, 3));
        assert_ne!(left(Lang::Ar, 1), left(Lang::Ar, 11));
    }
}
