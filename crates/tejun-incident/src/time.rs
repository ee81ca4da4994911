//! Times an operator types for `--at` and `--started-at`.
//!
//! Accepted: RFC 3339 with an offset (`2026-11-22T10:15:00+09:00`), a civil
//! date-time in the operator's zone (`2026-11-22 10:15[:00]`), a time of day
//! today in the operator's zone (`10:15`), or an offset back from now
//! (`-15m`, `-2h`, `-90s`).

use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::error::Error;

pub fn parse(input: &str, zone: &TimeZone, now: Timestamp) -> Result<Timestamp, Error> {
    let text = input.trim();
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(ts);
    }
    // A span reaching past the years a timestamp holds is refused below,
    // not subtracted (which panics).
    if let Some(ago) = text.strip_prefix('-')
        && let Some(span) = relative(ago)
        && let Ok(then) = now.checked_sub(span)
    {
        return Ok(then);
    }
    let civil = text.replacen(' ', "T", 1);
    if let Ok(dt) = civil.parse::<DateTime>()
        && let Ok(zoned) = dt.to_zoned(zone.clone())
    {
        return Ok(zoned.timestamp());
    }
    if let Ok(clock) = text.parse::<Time>() {
        let today = now.to_zoned(zone.clone()).date();
        if let Ok(zoned) = today.to_datetime(clock).to_zoned(zone.clone()) {
            return Ok(zoned.timestamp());
        }
    }
    Err(Error::input(
        format!(
            "cannot read the time {input:?}; use 2026-11-22T10:15:00+09:00, \"2026-11-22 10:15\", 10:15 (today, operator zone) or -15m"
        ),
        format!(
            "時刻 {input:?} を解釈できません。2026-11-22T10:15:00+09:00、\"2026-11-22 10:15\"、10:15 (本日、運用者のタイムゾーン)、-15m のいずれかで指定してください"
        ),
    ))
}

fn relative(text: &str) -> Option<SignedDuration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(SignedDuration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: `-005555555d` reaches before year -9999.
    #[test]
    fn a_span_past_the_representable_years_is_an_error() {
        let now: Timestamp = "2026-11-22T01:00:00Z".parse().unwrap();
        assert!(parse("-005555555d", &TimeZone::UTC, now).is_err());
    }

    #[test]
    fn reads_the_documented_forms() {
        let tokyo = TimeZone::get("Asia/Tokyo")
            .expect("the Asia/Tokyo zone: install Debian's tzdata package");
        let now: Timestamp = "2026-11-22T01:00:00Z".parse().unwrap();
        let at = |s| parse(s, &tokyo, now).unwrap().to_string();
        assert_eq!(at("2026-11-22T10:15:00+09:00"), "2026-11-22T01:15:00Z");
        assert_eq!(at("2026-11-22 09:30"), "2026-11-22T00:30:00Z");
        assert_eq!(at("09:45"), "2026-11-22T00:45:00Z");
        assert_eq!(at("-15m"), "2026-11-22T00:45:00Z");
        assert!(parse("yesterday-ish", &tokyo, now).unwrap_err().is_input());
    }
}
