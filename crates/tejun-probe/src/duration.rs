//! Durations as operators write them: `500ms`, `30s`, `5m`, `1h`, `1d`,
//! and combinations such as `1h30m`. The one parser for runbooks
//! (`timeout:`, `duration` variables; re-exported as
//! `tejun_runbook::duration`) and trigger expressions (`over 1m`).
//!
//! A unit is always required. `timeout: 30` is rejected rather than read as
//! seconds, because a timeout misread by a factor of 1000 is the kind of
//! silent mistake a runbook exists to prevent.

use std::time::Duration;

/// Parses `500ms`, `30s`, `5m`, `1h`, `1d`, `1h30m`, `1m30s`. Returns `None` for
/// anything else, including an empty string, a missing unit, or overflow.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60)?),
            "h" => Duration::from_secs(number.checked_mul(3600)?),
            "d" => Duration::from_secs(number.checked_mul(86_400)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// Formats a duration the way it would be written: `500ms`, `30s`, `5m`,
/// `1h30m`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in [
            "",
            "30",
            "s",
            "5 m",
            "5min",
            "-5s",
            "1.5s",
            "99999999999999999999h",
            "5m3",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for text in ["500ms", "30s", "5m", "1h30m", "1d"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
