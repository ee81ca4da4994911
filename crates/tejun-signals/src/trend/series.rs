//! Window series: one point per fixed window (per endpoint or fingerprint),
//! built from observations in bounded memory.
//!
//! Only the windows still open hold a latency histogram; a window is closed
//! (reduced to its counts and p95) once the input has moved two windows
//! past it, so seven days of one-minute windows cost a few numbers each.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use jiff::Timestamp;
use serde::Serialize;

/// One request (or query) as trends see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub at: Timestamp,
    /// The endpoint template (`/api/products/:id`) or query fingerprint.
    pub key: &'a str,
    pub latency_ms: f64,
    /// Failed (5xx for an access log).
    pub error: bool,
}

/// One closed window of one key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub requests: u64,
    pub errors: u64,
    /// Requests slower than the latency objective the builder was given.
    pub slow: u64,
    pub p95_ms: f64,
}

/// The closed windows of one key, by window start (Unix seconds).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Series {
    pub window_s: i64,
    pub points: BTreeMap<i64, Point>,
    /// The zone windows start on the wall clock of (`None`: UTC).
    #[serde(skip)]
    pub zone: Option<jiff::tz::TimeZone>,
}

impl Series {
    pub fn new(window_s: i64) -> Series {
        Series {
            window_s,
            points: BTreeMap::new(),
            zone: None,
        }
    }

    /// The start of the same window `days` days before the one starting
    /// at `start`: the same wall-clock time, so across a daylight-saving
    /// change 03:00 is still compared with 03:00.
    pub fn days_before(&self, start: i64, days: i64) -> i64 {
        const DAY_S: i64 = 86_400;
        let Some(zone) = &self.zone else {
            return start - days * DAY_S;
        };
        jiff::Timestamp::from_second(start)
            .ok()
            .and_then(|t| {
                t.to_zoned(zone.clone())
                    .checked_sub(jiff::Span::new().days(days))
                    .ok()
            })
            .map_or(start - days * DAY_S, |z| z.timestamp().as_second())
    }
}

/// Latencies are kept in microseconds, 2 significant digits (1% error),
/// up to one day.
const HIGHEST_US: u64 = 86_400_000_000;

#[derive(Debug)]
struct Open {
    latencies: Histogram<u32>,
    errors: u64,
    slow: u64,
}

impl Open {
    fn new() -> Open {
        Open {
            latencies: Histogram::new_with_bounds(1, HIGHEST_US, 2).expect("valid bounds"),
            errors: 0,
            slow: 0,
        }
    }

    fn close(&self) -> Point {
        Point {
            requests: self.latencies.len(),
            errors: self.errors,
            slow: self.slow,
            p95_ms: self.latencies.value_at_quantile(0.95) as f64 / 1000.0,
        }
    }
}

/// Folds observations into a [`Series`] per key.
#[derive(Debug)]
pub struct SeriesBuilder {
    window_s: i64,
    /// Where windows start (UTC unless [`SeriesBuilder::aligned_in`]).
    align: crate::align::Align,
    /// The zone of `align` (`None`: UTC), for the series built.
    zone: Option<jiff::tz::TimeZone>,
    /// Requests slower than this count as `slow` (a latency SLO).
    slow_ms: Option<f64>,
    /// Open windows by key, then start (looked up by `&str`: no
    /// allocation per request).
    open: BTreeMap<String, BTreeMap<i64, Open>>,
    done: BTreeMap<String, Series>,
    newest: i64,
}

impl SeriesBuilder {
    /// `window_s` ≥ 1.
    pub fn new(window_s: i64) -> SeriesBuilder {
        SeriesBuilder {
            window_s: window_s.max(1),
            align: crate::align::Align::utc(window_s),
            zone: None,
            slow_ms: None,
            open: BTreeMap::new(),
            done: BTreeMap::new(),
            newest: i64::MIN,
        }
    }

    /// Counts requests slower than `ms` in [`Point::slow`].
    pub fn counting_slower_than(mut self, ms: f64) -> SeriesBuilder {
        self.slow_ms = Some(ms);
        self
    }

    /// Windows on the wall clock of `zone` (a `1d` window is a local day).
    pub fn aligned_in(mut self, zone: &jiff::tz::TimeZone) -> SeriesBuilder {
        self.align = crate::align::Align::new(self.window_s, zone);
        self.zone = (*zone != jiff::tz::TimeZone::UTC).then(|| zone.clone());
        self
    }

    pub fn window_s(&self) -> i64 {
        self.window_s
    }

    pub fn observe(&mut self, o: Observation<'_>) {
        let secs = o.at.as_second();
        let start = self.align.start(secs);
        let slow = self.slow_ms.is_some_and(|ms| o.latency_ms > ms);
        // A line older than the windows already closed still counts, in a
        // window of its own: logs merged from several files are not in order.
        if !self.open.contains_key(o.key) {
            self.open.insert(o.key.to_string(), BTreeMap::new());
        }
        let open = self
            .open
            .get_mut(o.key)
            .expect("inserted above")
            .entry(start)
            .or_insert_with(Open::new);
        let us = (o.latency_ms.max(0.0) * 1000.0).round() as u64;
        let _ = open.latencies.record(us.clamp(1, HIGHEST_US));
        open.errors += u64::from(o.error);
        open.slow += u64::from(slow);
        if start > self.newest {
            self.newest = start;
            self.close_before(start - 2 * self.window_s);
        }
    }

    fn close_before(&mut self, limit: i64) {
        for (key, windows) in &mut self.open {
            let keep = windows.split_off(&limit);
            let closed = std::mem::replace(windows, keep);
            if closed.is_empty() {
                continue;
            }
            let series = self.done.entry(key.clone()).or_insert_with(|| Series {
                zone: self.zone.clone(),
                ..Series::new(self.window_s)
            });
            for (start, open) in closed {
                let point = open.close();
                match series.points.get_mut(&start) {
                    // Late lines for a closed window: merged by counts; the
                    // p95 of the larger part stands.
                    Some(old) => {
                        if point.requests > old.requests {
                            old.p95_ms = point.p95_ms;
                        }
                        old.requests += point.requests;
                        old.errors += point.errors;
                        old.slow += point.slow;
                    }
                    None => {
                        series.points.insert(start, point);
                    }
                }
            }
        }
        self.open.retain(|_, windows| !windows.is_empty());
    }

    /// The closed windows of `key` so far (a watcher's history).
    pub fn series(&self, key: &str) -> Option<&Series> {
        self.done.get(key)
    }

    /// Drops closed windows that start before `secs`: a watcher keeps only
    /// the days its baselines look back.
    pub fn forget_before(&mut self, secs: i64) {
        for series in self.done.values_mut() {
            series.points = series.points.split_off(&secs);
        }
    }

    /// Forgets every window of `key` (a watcher stopped tracking it).
    pub fn forget_key(&mut self, key: &str) {
        self.open.remove(key);
        self.done.remove(key);
    }

    /// Puts back a closed window saved by a previous process.
    pub fn restore(&mut self, key: &str, start: i64, point: Point) {
        self.done
            .entry(key.to_string())
            .or_insert_with(|| Series {
                zone: self.zone.clone(),
                ..Series::new(self.window_s)
            })
            .points
            .insert(start, point);
    }

    /// Closed windows starting at or after `start`, by key: what a watcher
    /// saves after each batch.
    pub fn closed_since(&self, start: i64) -> impl Iterator<Item = (&str, i64, &Point)> {
        self.done.iter().flat_map(move |(key, series)| {
            series
                .points
                .range(start..)
                .map(move |(s, p)| (key.as_str(), *s, p))
        })
    }

    /// Closes every window and returns the series by key.
    pub fn finish(mut self) -> BTreeMap<String, Series> {
        self.close_before(i64::MAX);
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_observation_lands_in_exactly_one_window(
            obs in prop::collection::vec((0i64..20_000, 0u8..3, 0u32..5_000, any::<bool>()), 0..200),
            window in 1i64..600,
        ) {
            let mut builder = SeriesBuilder::new(window).counting_slower_than(1000.0);
            let keys = ["/a", "/b", "/c"];
            for (t, k, ms, err) in &obs {
                builder.observe(Observation {
                    at: Timestamp::from_second(*t).unwrap(),
                    key: keys[usize::from(*k)],
                    latency_ms: f64::from(*ms),
                    error: *err,
                });
            }
            let all = builder.finish();
            for (i, key) in keys.iter().enumerate() {
                let mine: Vec<_> = obs.iter().filter(|o| usize::from(o.1) == i).collect();
                let series = all.get(*key);
                let total: u64 = series.map_or(0, |s| s.points.values().map(|p| p.requests).sum());
                let errors: u64 = series.map_or(0, |s| s.points.values().map(|p| p.errors).sum());
                let slow: u64 = series.map_or(0, |s| s.points.values().map(|p| p.slow).sum());
                prop_assert_eq!(total, mine.len() as u64);
                prop_assert_eq!(errors, mine.iter().filter(|o| o.3).count() as u64);
                prop_assert_eq!(slow, mine.iter().filter(|o| o.2 > 1000).count() as u64);
                for start in series.map(|s| s.points.keys().copied().collect::<Vec<_>>()).unwrap_or_default() {
                    prop_assert_eq!(start.rem_euclid(window), 0);
                }
            }
        }

        #[test]
        fn a_windows_p95_is_within_one_percent_of_the_exact_one(
            latencies in prop::collection::vec(1u32..100_000, 1..300),
        ) {
            let mut builder = SeriesBuilder::new(60);
            for ms in &latencies {
                builder.observe(Observation {
                    at: Timestamp::from_second(600).unwrap(),
                    key: "/",
                    latency_ms: f64::from(*ms),
                    error: false,
                });
            }
            let p95 = builder.finish()["/"].points[&600].p95_ms;
            let mut sorted: Vec<u64> = latencies.iter().map(|l| u64::from(*l)).collect();
            sorted.sort_unstable();
            let exact = tejun_probe::window::percentile(&sorted, 95) as f64;
            prop_assert!((p95 - exact).abs() <= exact * 0.01 + 0.001, "{p95} vs {exact}");
        }
    }
}
