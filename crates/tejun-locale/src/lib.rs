//! Presentation settings every tejun view shares: the operator's language
//! and time zone.
//!
//! Messages exist in Japanese and English. Rather than a catalogue keyed by
//! strings (where a missing translation is only found at run time), every
//! message is written with [`Lang::pick`], which takes both texts: a message
//! without its other language does not compile.
//!
//! Times are stored in UTC everywhere and converted only here, for display,
//! into the operator's zone (`TZ`, e.g. `Asia/Tokyo`, else the system zone).

use std::fmt;

use jiff::{Timestamp, tz::TimeZone};

/// The language messages are shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    En,
    Ja,
}

impl Lang {
    /// Chooses the language: an explicit `--lang` wins, else `LC_ALL`,
    /// `LC_MESSAGES` and `LANG` in that order (as gettext does), else English.
    pub fn detect(explicit: Option<&str>) -> Lang {
        if let Some(lang) = explicit.and_then(Lang::parse) {
            return lang;
        }
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(value) = std::env::var(var)
                && !value.is_empty()
            {
                return Lang::parse(&value).unwrap_or(Lang::En);
            }
        }
        Lang::En
    }

    /// Parses `ja`, `ja_JP.UTF-8`, `en`, `en_US`, `C`, ...
    pub fn parse(value: &str) -> Option<Lang> {
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("ja") {
            Some(Lang::Ja)
        } else if lower.starts_with("en")
            || lower == "c"
            || lower.starts_with("c.")
            || lower == "posix"
        {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// Returns the text for this language. Both are required, so the
    /// compiler enforces that every message exists in both languages.
    pub fn pick<'a>(self, en: &'a str, ja: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Ja => ja,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Something that can describe itself in either language: errors, verdicts,
/// statuses. Implementations write both texts through [`Lang::pick`].
pub trait Localize {
    fn localize(&self, lang: Lang) -> String;
}

/// The operator's time zone: `TZ` if set and known, else the system zone,
/// else UTC.
pub fn operator_zone() -> TimeZone {
    if let Ok(name) = std::env::var("TZ") {
        let name = name.trim_start_matches(':');
        if !name.is_empty()
            && let Ok(tz) = TimeZone::get(name)
        {
            return tz;
        }
    }
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// Formats a UTC timestamp in `zone` as `2026-11-22 10:54:36 JST`.
///
/// What `strftime("%Y-%m-%d %H:%M:%S %Z")` prints, written directly: a
/// scan report formats two times per offender, and parsing the format
/// string each time cost more than the rest of the table.
pub fn format_time(ts: Timestamp, zone: &TimeZone) -> String {
    let mut out = String::with_capacity(24);
    push_time(&mut out, ts, zone);
    out
}

/// [`format_time`] appended to `out`, for callers writing many rows into
/// one reused buffer.
pub fn push_time(out: &mut String, ts: Timestamp, zone: &TimeZone) {
    let info = zone.to_offset_info(ts);
    let dt = info.offset().to_datetime(ts);
    let year = dt.year();
    if year < 0 {
        out.push('-');
    }
    // Filled in place and pushed at once: pushing digit by digit cost more
    // than the zone lookup. Years are at most four digits in jiff.
    let mut text = *b"0000-00-00 00:00:00 ";
    let year = year.unsigned_abs();
    put_two_digits(&mut text[0..2], (year / 100 % 100) as u8);
    put_two_digits(&mut text[2..4], (year % 100) as u8);
    for (at, field) in [
        (5, dt.month()),
        (8, dt.day()),
        (11, dt.hour()),
        (14, dt.minute()),
        (17, dt.second()),
    ] {
        put_two_digits(&mut text[at..at + 2], field.unsigned_abs());
    }
    out.push_str(std::str::from_utf8(&text).expect("ASCII digits"));
    out.push_str(info.abbreviation());
}

/// `value` (below 100) as two decimal digits.
fn put_two_digits(to: &mut [u8], value: u8) {
    to[0] = b'0' + value / 10 % 10;
    to[1] = b'0' + value % 10;
}

/// Formats only the time of day, for dense timelines: `10:54:36`.
pub fn format_clock(ts: Timestamp, zone: &TimeZone) -> String {
    ts.to_zoned(zone.clone()).strftime("%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locale_strings() {
        assert_eq!(Lang::parse("ja_JP.UTF-8"), Some(Lang::Ja));
        assert_eq!(Lang::parse("en_US.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("C.UTF-8"), Some(Lang::En));
        assert_eq!(Lang::parse("fr_FR"), None);
    }

    #[test]
    fn times_read_as_strftime_prints_them() {
        let zones = [
            TimeZone::UTC,
            TimeZone::get("Asia/Tokyo").unwrap(),
            TimeZone::get("America/New_York").unwrap(),
            TimeZone::fixed(jiff::tz::offset(-3)),
        ];
        // Around New York's switch to daylight time, a year < 1000, and
        // the first and last years jiff knows (four digits, one negative).
        let times = [
            0,
            1_741_503_599,
            1_741_503_600,
            1_764_000_000,
            -60_000_000_000,
            Timestamp::MIN.as_second() + 86_400,
            Timestamp::MAX.as_second() - 86_400,
        ];
        for zone in &zones {
            for second in times {
                let ts = Timestamp::from_second(second).unwrap();
                let expected = ts
                    .to_zoned(zone.clone())
                    .strftime("%Y-%m-%d %H:%M:%S %Z")
                    .to_string();
                assert_eq!(format_time(ts, zone), expected);
            }
        }
    }

    #[test]
    fn tokyo_is_shown_as_jst() {
        let ts: Timestamp = "2026-11-22T01:54:36Z".parse().unwrap();
        let tz = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(format_time(ts, &tz), "2026-11-22 10:54:36 JST");
    }
}
