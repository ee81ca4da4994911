//! Where windows start: multiples of their length on the operator's wall
//! clock, so a `1d` window is a local day in Asia/Tokyo and an hour window
//! starts on the hour in Asia/Kolkata (+05:30).
//!
//! The wall-clock time is floored to the window and turned back into an
//! instant in the zone; around a daylight-saving change a local day is 23
//! or 25 hours long, and a window whose wall-clock start does not exist
//! starts at the instant the clock jumped to (jiff's `compatible`).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// Window starts for one length in one zone.
#[derive(Debug, Clone)]
pub struct Align {
    width: i64,
    /// `None`: UTC, the plain `secs - secs % width`.
    zone: Option<TimeZone>,
}

impl Align {
    /// `width` seconds (at least 1) on the wall clock of `zone`.
    pub fn new(width: i64, zone: &TimeZone) -> Align {
        Align {
            width: width.max(1),
            zone: (*zone != TimeZone::UTC).then(|| zone.clone()),
        }
    }

    /// Aligned to the Unix epoch (UTC).
    pub fn utc(width: i64) -> Align {
        Align::new(width, &TimeZone::UTC)
    }

    pub fn width(&self) -> i64 {
        self.width
    }

    /// The start (Unix seconds) of the window holding `secs`.
    pub fn start(&self, secs: i64) -> i64 {
        let Some(zone) = &self.zone else {
            return secs.div_euclid(self.width) * self.width;
        };
        let Ok(t) = Timestamp::from_second(secs) else {
            return secs.div_euclid(self.width) * self.width;
        };
        let offset = i64::from(zone.to_offset(t).seconds());
        let local = (secs + offset).div_euclid(self.width) * self.width;
        let start = self.instant_of_local(zone, local);
        // A window that starts in a skipped hour: never after `secs`.
        start.min(secs)
    }

    /// The start of the window after the one starting at `start`.
    pub fn next(&self, start: i64) -> i64 {
        let Some(zone) = &self.zone else {
            return start + self.width;
        };
        let Ok(t) = Timestamp::from_second(start) else {
            return start + self.width;
        };
        let offset = i64::from(zone.to_offset(t).seconds());
        let local = (start + offset).div_euclid(self.width) * self.width + self.width;
        self.instant_of_local(zone, local).max(start + 1)
    }

    /// The instant the wall clock of `zone` reads `local` (seconds since
    /// 1970-01-01 00:00 on that clock).
    fn instant_of_local(&self, zone: &TimeZone, local: i64) -> i64 {
        let civil: Option<DateTime> = Timestamp::from_second(local)
            .ok()
            .map(|t| TimeZone::UTC.to_datetime(t));
        civil
            .and_then(|dt| zone.to_ambiguous_timestamp(dt).compatible().ok())
            .map_or(local, |t| t.as_second())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn a_day_is_a_local_day_and_utc_stays_the_epoch_multiple() {
        let tokyo = Align::new(86_400, &TimeZone::get("Asia/Tokyo").unwrap());
        // 2026-12-01 16:00 UTC is 2026-12-02 01:00 in Tokyo.
        assert_eq!(
            tokyo.start(at("2026-12-01T16:00:00Z")),
            at("2026-12-01T15:00:00Z")
        );
        assert_eq!(
            tokyo.next(at("2026-12-01T15:00:00Z")),
            at("2026-12-02T15:00:00Z")
        );
        let utc = Align::utc(86_400);
        assert_eq!(
            utc.start(at("2026-12-01T16:00:00Z")),
            at("2026-12-01T00:00:00Z")
        );
        let kolkata = Align::new(3600, &TimeZone::get("Asia/Kolkata").unwrap());
        assert_eq!(
            kolkata.start(at("2026-12-01T10:10:00Z")),
            at("2026-12-01T09:30:00Z")
        );
    }

    #[test]
    fn a_daylight_saving_day_is_23_or_25_hours_long() {
        let berlin = Align::new(86_400, &TimeZone::get("Europe/Berlin").unwrap());
        // 2026-03-29: clocks go from 02:00 to 03:00 (CET → CEST).
        let day = berlin.start(at("2026-03-29T12:00:00Z"));
        assert_eq!(day, at("2026-03-28T23:00:00Z"));
        assert_eq!(berlin.start(at("2026-03-29T00:30:00Z")), day);
        assert_eq!(berlin.next(day) - day, 23 * 3600);
        // 2026-10-25: 03:00 back to 02:00.
        let day = berlin.start(at("2026-10-25T12:00:00Z"));
        assert_eq!(berlin.next(day) - day, 25 * 3600);
    }
}
