//! The time formats access logs write, read without allocating.

use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// How a format writes the request's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `10/Oct/2000:13:55:36 -0700` (nginx `$time_local`, Apache `%t`
    /// without its brackets).
    Local,
    /// `2000-10-10T13:55:36-07:00` (nginx `$time_iso8601`; also with
    /// fractions, `Z`, or no offset, then read in the zone given).
    Iso8601,
    /// Seconds since the epoch, with fractions (nginx `$msec`).
    Epoch,
}

impl TimeFormat {
    pub fn parse(self, text: &str, zone: &TimeZone) -> Option<Timestamp> {
        match self {
            TimeFormat::Local => parse_local(text.as_bytes()),
            TimeFormat::Iso8601 => parse_iso8601(text, zone),
            TimeFormat::Epoch => parse_epoch(text),
        }
    }
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some(n)
}

fn month(name: &[u8]) -> Option<i64> {
    Some(match name {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds since the epoch of a civil time, after range checks.
fn civil_seconds(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> Option<i64> {
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// `+0900`, `-07:00` as seconds east of UTC.
fn offset(text: &[u8]) -> Option<i64> {
    let (sign, rest) = match text.first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = match rest.len() {
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        2 => (digits(rest)?, 0),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// `10/Oct/2000:13:55:36 -0700`.
pub fn parse_local(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    if b[14] != b':' || b[17] != b':' {
        return None;
    }
    let secs = civil_seconds(
        digits(&b[7..11])?,
        month(&b[3..6])?,
        digits(&b[0..2])?,
        digits(&b[12..14])?,
        digits(&b[15..17])?,
        digits(&b[18..20])?,
    )?;
    Timestamp::from_second(secs - offset(&b[21..])?).ok()
}

/// `2000-10-10T13:55:36[.fff][Z|±hh:mm]`; without an offset, in `zone`.
pub fn parse_iso8601(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, s) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut nanos = 0i64;
    if rest.first() == Some(&b'.') || rest.first() == Some(&b',') {
        let end = rest[1..]
            .iter()
            .position(|c| !c.is_ascii_digit())
            .map_or(rest.len(), |p| p + 1);
        nanos = fraction_nanos(&rest[1..end])?;
        rest = &rest[end..];
    }
    let secs = civil_seconds(y, mo, d, h, mi, s)?;
    let ts = match rest {
        b"" => {
            let dt = jiff::civil::DateTime::new(
                y as i16,
                mo as i8,
                d as i8,
                h as i8,
                mi as i8,
                s.min(59) as i8,
                0,
            )
            .ok()?;
            zone.to_ambiguous_timestamp(dt).compatible().ok()?
        }
        b"Z" | b"z" => Timestamp::from_second(secs).ok()?,
        _ => Timestamp::from_second(secs - offset(rest)?).ok()?,
    };
    ts.checked_add(jiff::SignedDuration::from_nanos(nanos)).ok()
}

/// Up to 9 fraction digits as nanoseconds (more are cut).
fn fraction_nanos(f: &[u8]) -> Option<i64> {
    if f.is_empty() {
        return None;
    }
    let mut n = 0i64;
    for i in 0..9 {
        n *= 10;
        if let Some(&c) = f.get(i) {
            if !c.is_ascii_digit() {
                return None;
            }
            n += i64::from(c - b'0');
        }
    }
    f.iter().all(u8::is_ascii_digit).then_some(n)
}

/// `1700000000.123`.
pub fn parse_epoch(text: &str) -> Option<Timestamp> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.len() > 12 {
        return None;
    }
    let secs = digits(whole.as_bytes())?;
    let nanos = match frac {
        Some(f) => fraction_nanos(f.as_bytes())?,
        None => 0,
    };
    Timestamp::new(secs, nanos as i32).ok()
}

/// The unit a duration field is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Seconds,
    Millis,
    Micros,
}

impl DurationUnit {
    /// A decimal number in this unit (`0.123`, `1234`); `None` for `-` or
    /// anything else.
    pub fn parse(self, text: &str) -> Option<Duration> {
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.len() > 12 || (whole.is_empty() && frac.is_empty()) {
            return None;
        }
        let whole = if whole.is_empty() {
            0
        } else {
            digits(whole.as_bytes())?
        };
        let frac_nanos = if frac.is_empty() {
            0
        } else {
            fraction_nanos(frac.as_bytes())?
        };
        let nanos_per_unit = match self {
            DurationUnit::Seconds => 1_000_000_000,
            DurationUnit::Millis => 1_000_000,
            DurationUnit::Micros => 1_000,
        };
        // Saturating: twelve digits of seconds overflow u64 nanoseconds.
        let nanos = (whole as u64)
            .saturating_mul(nanos_per_unit)
            .saturating_add(frac_nanos as u64 * nanos_per_unit / 1_000_000_000);
        Some(Duration::from_nanos(nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_read_as_jiff_reads_them() {
        for text in [
            "10/Oct/2000:13:55:36 -0700",
            "29/Feb/2024:00:00:00 +0900",
            "31/Dec/1999:23:59:59 +0000",
            "01/Jan/2070:12:00:00 -0330",
        ] {
            let expected = jiff::fmt::strtime::parse("%d/%b/%Y:%H:%M:%S %z", text)
                .and_then(|t| t.to_timestamp())
                .unwrap();
            assert_eq!(parse_local(text.as_bytes()), Some(expected), "{text}");
        }
        for bad in [
            "30/Feb/2024:00:00:00 +0900",
            "10/Foo/2000:13:55:36 -0700",
            "10/Oct/2000:24:55:36 -0700",
            "10/Oct/2000:13:55:36",
        ] {
            assert_eq!(parse_local(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn iso_times_with_and_without_offsets() {
        let utc = TimeZone::UTC;
        let t = parse_iso8601("2026-12-04T10:00:00+09:00", &utc).unwrap();
        assert_eq!(t.to_string(), "2026-12-04T01:00:00Z");
        let t = parse_iso8601("2026-12-04T10:00:00.250Z", &utc).unwrap();
        assert_eq!(t.to_string(), "2026-12-04T10:00:00.25Z");
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let t = parse_iso8601("2026-12-04 10:00:00", &tokyo).unwrap();
        assert_eq!(t.to_string(), "2026-12-04T01:00:00Z");
    }

    #[test]
    fn durations_in_each_unit() {
        let s = DurationUnit::Seconds;
        assert_eq!(s.parse("0.123"), Some(Duration::from_millis(123)));
        assert_eq!(s.parse("3"), Some(Duration::from_secs(3)));
        assert_eq!(s.parse("-"), None);
        assert_eq!(
            DurationUnit::Micros.parse("1500"),
            Some(Duration::from_micros(1500))
        );
        assert_eq!(
            DurationUnit::Millis.parse("2.5"),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(
            parse_epoch("1700000000.5").unwrap().as_millisecond(),
            1_700_000_000_500
        );
    }
}
