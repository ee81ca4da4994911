//! Baselines: each window against the same time of day on previous days.
//!
//! The baseline of a window is the median p95 of the windows starting
//! exactly 1, 2, … `days` days earlier (those that exist and had enough
//! requests). The median keeps one bad day from moving it. A key has
//! *regressed* while its p95 stays at least `factor` times its baseline for
//! at least `min_duration`; windows without traffic neither break nor
//! extend such a run.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tejun_locale::Lang;

use super::series::{Point, Series};

const DAY_S: i64 = 86_400;

/// What counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaselineSpec {
    /// How many previous days make the baseline (`--baseline 7d`).
    pub days: u32,
    /// p95 at least this many times its baseline.
    pub factor: f64,
    /// For at least this long (seconds).
    pub min_duration_s: i64,
    /// Windows with fewer requests are too noisy to judge or to compare with.
    pub min_requests: u64,
}

impl Default for BaselineSpec {
    fn default() -> BaselineSpec {
        BaselineSpec {
            days: 7,
            factor: 2.0,
            min_duration_s: 1800,
            min_requests: 5,
        }
    }
}

/// The baseline p95 of the window starting at `start`: the median of the
/// same window on the previous `days` days.
pub fn baseline_at(series: &Series, start: i64, spec: &BaselineSpec) -> Option<f64> {
    baseline_of(series, start, spec, |p| p.p95_ms)
}

/// The median of `value` over the same window on the previous days (p95,
/// error rate, ...).
pub fn baseline_of(
    series: &Series,
    start: i64,
    spec: &BaselineSpec,
    value: impl Fn(&Point) -> f64,
) -> Option<f64> {
    let mut previous: Vec<f64> = (1..=i64::from(spec.days))
        .filter_map(|d| series.points.get(&series.days_before(start, d)))
        .filter(|p| p.requests >= spec.min_requests)
        .map(value)
        .collect();
    median(&mut previous)
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// One key whose p95 stayed `factor`× above its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    /// Endpoint template or fingerprint.
    pub key: String,
    /// Start of the first window of the run.
    pub since: Timestamp,
    /// End of the last window of the run.
    pub until: Timestamp,
    /// Median of the run's p95 / baseline.
    pub ratio: f64,
    /// Median p95 of the run, and of its baselines.
    pub p95_ms: f64,
    pub baseline_ms: f64,
    /// When the run had lasted `min_duration`: when an alert would fire.
    pub flagged_at: Timestamp,
}

impl Regression {
    pub fn duration_s(&self) -> i64 {
        self.until.as_second() - self.since.as_second()
    }

    /// "`/api/products` p95 2.3× its baseline for 6 h since 2026-…".
    pub fn describe(&self, lang: Lang, zone: &TimeZone) -> String {
        let since = tejun_locale::format_time(self.since, zone);
        let hours = human_duration(self.duration_s(), lang);
        match lang {
            Lang::En => format!(
                "`{}` p95 {:.1}× its baseline for {hours} since {since} ({:.0} ms, usually {:.0} ms)",
                self.key, self.ratio, self.p95_ms, self.baseline_ms
            ),
            Lang::Ja => format!(
                "`{}` の p95 が {since} から {hours}、平常時の {:.1} 倍です ({:.0} ms、平常 {:.0} ms)",
                self.key, self.ratio, self.p95_ms, self.baseline_ms
            ),
        }
    }
}

/// `6 h`, `45 min`, `2 d 3 h` (日本語: `6 時間`, `45 分`, `2 日 3 時間`).
pub fn human_duration(secs: i64, lang: Lang) -> String {
    let (days, hours, mins) = (secs / DAY_S, secs % DAY_S / 3600, secs % 3600 / 60);
    let unit = |en: &'static str, ja: &'static str| lang.pick(en, ja);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} {}", unit("d", "日")));
    }
    if hours > 0 {
        parts.push(format!("{hours} {}", unit("h", "時間")));
    }
    if mins > 0 && days == 0 {
        parts.push(format!("{mins} {}", unit("min", "分")));
    }
    if parts.is_empty() {
        parts.push(format!("{secs} {}", unit("s", "秒")));
    }
    parts.join(" ")
}

/// Every run in every series where p95 stayed `factor`× above baseline
/// for `min_duration_s`, oldest first.
pub fn regressions(all: &BTreeMap<String, Series>, spec: &BaselineSpec) -> Vec<Regression> {
    let mut found = Vec::new();
    for (key, series) in all {
        let mut run: Vec<(i64, f64, f64)> = Vec::new();
        let mut flush = |run: &mut Vec<(i64, f64, f64)>| {
            if let Some(r) = close_run(key, run, series.window_s, spec) {
                found.push(r);
            }
            run.clear();
        };
        for (start, point) in &series.points {
            if point.requests < spec.min_requests {
                continue;
            }
            let Some(base) = baseline_at(series, *start, spec) else {
                flush(&mut run);
                continue;
            };
            if base > 0.0 && point.p95_ms >= spec.factor * base {
                run.push((*start, point.p95_ms, base));
            } else {
                flush(&mut run);
            }
        }
        flush(&mut run);
    }
    found.sort_by_key(|r| r.since);
    found
}

fn close_run(
    key: &str,
    run: &[(i64, f64, f64)],
    window_s: i64,
    spec: &BaselineSpec,
) -> Option<Regression> {
    let first = run.first()?.0;
    let last = run.last()?.0 + window_s;
    if last - first < spec.min_duration_s {
        return None;
    }
    // The first window whose end makes the run long enough.
    let flagged = run
        .iter()
        .map(|(start, _, _)| start + window_s)
        .find(|end| end - first >= spec.min_duration_s)?;
    let mut ratios: Vec<f64> = run.iter().map(|(_, p, b)| p / b).collect();
    let mut p95s: Vec<f64> = run.iter().map(|(_, p, _)| *p).collect();
    let mut bases: Vec<f64> = run.iter().map(|(_, _, b)| *b).collect();
    Some(Regression {
        key: key.to_string(),
        since: Timestamp::from_second(first).ok()?,
        until: Timestamp::from_second(last).ok()?,
        ratio: median(&mut ratios)?,
        p95_ms: median(&mut p95s)?,
        baseline_ms: median(&mut bases)?,
        flagged_at: Timestamp::from_second(flagged).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn point(p95_ms: f64) -> Point {
        Point {
            requests: 100,
            errors: 0,
            slow: 0,
            p95_ms,
        }
    }

    /// `days` days of hourly windows with p95 `f(day, hour)`.
    fn series(days: i64, f: impl Fn(i64, i64) -> f64) -> Series {
        let mut s = Series::new(3600);
        for d in 0..days {
            for h in 0..24 {
                s.points.insert(d * DAY_S + h * 3600, point(f(d, h)));
            }
        }
        s
    }

    #[test]
    fn a_steady_service_has_no_regression_and_a_doubling_one_has() {
        let spec = BaselineSpec {
            min_duration_s: 6 * 3600,
            ..BaselineSpec::default()
        };
        // A daily shape (busy afternoons) is not a regression.
        let steady = series(7, |_, h| if (12..18).contains(&h) { 900.0 } else { 200.0 });
        let all = BTreeMap::from([("/".to_string(), steady)]);
        assert_eq!(regressions(&all, &spec), vec![]);
        // Day 5 from 08:00: 2.3× for 6 h.
        let worse = series(7, |d, h| {
            if d == 5 && (8..14).contains(&h) {
                460.0
            } else {
                200.0
            }
        });
        let all = BTreeMap::from([("/api/products".to_string(), worse)]);
        let found = regressions(&all, &spec);
        assert_eq!(found.len(), 1, "{found:?}");
        let r = &found[0];
        assert_eq!(r.since.as_second(), 5 * DAY_S + 8 * 3600);
        assert_eq!(r.duration_s(), 6 * 3600);
        assert!((r.ratio - 2.3).abs() < 1e-9);
        assert_eq!(
            r.describe(Lang::En, &TimeZone::UTC),
            "`/api/products` p95 2.3× its baseline for 6 h since 1970-01-06 08:00:00 UTC (460 ms, usually 200 ms)"
        );
        assert!(r.describe(Lang::Ja, &TimeZone::UTC).contains("6 時間"));
    }

    proptest! {
        #[test]
        fn the_baseline_is_a_median_of_previous_days(
            values in prop::collection::vec(1.0f64..5_000.0, 1..8), days in 1u32..8,
        ) {
            let mut s = Series::new(60);
            let today = 10 * DAY_S;
            for (i, v) in values.iter().enumerate() {
                s.points.insert(today - (i as i64 + 1) * DAY_S, point(*v));
            }
            let spec = BaselineSpec { days, ..BaselineSpec::default() };
            let base = baseline_at(&s, today, &spec).unwrap();
            let used: Vec<f64> = values.iter().take(days as usize).copied().collect();
            let below = used.iter().filter(|v| **v <= base + 1e-9).count();
            let above = used.iter().filter(|v| **v >= base - 1e-9).count();
            prop_assert!(below * 2 >= used.len() && above * 2 >= used.len());
        }

        #[test]
        fn a_flagged_run_is_long_enough_and_above_the_factor_throughout(
            shape in prop::collection::vec(prop::sample::select(vec![100.0, 150.0, 300.0, 900.0]), 24 * 4),
            factor in prop::sample::select(vec![1.5, 2.0, 3.0]),
            min_hours in 1i64..6,
        ) {
            let s = series(4, |d, h| shape[(d * 24 + h) as usize]);
            let spec = BaselineSpec { days: 3, factor, min_duration_s: min_hours * 3600, min_requests: 1 };
            let all = BTreeMap::from([("/k".to_string(), s.clone())]);
            for r in regressions(&all, &spec) {
                prop_assert!(r.duration_s() >= spec.min_duration_s);
                prop_assert!(r.flagged_at.as_second() - r.since.as_second() >= spec.min_duration_s);
                prop_assert!(r.flagged_at <= r.until);
                let mut t = r.since.as_second();
                while t < r.until.as_second() {
                    let p = s.points[&t].p95_ms;
                    let base = baseline_at(&s, t, &spec).unwrap();
                    prop_assert!(p >= factor * base);
                    t += 3600;
                }
            }
        }
    }
}
