//! Samples over time, and whether an expression holds over them.
//!
//! A [`Window`] keeps one probe's samples for as long as the longest
//! expression reading it looks back; [`evaluate`] answers one expression at
//! one instant. Nothing fires on an empty window: no evidence is not bad
//! evidence.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::expr::{Expr, Metric, Slo};
use crate::model::Sample;

#[derive(Debug, Clone, Default)]
pub struct Window {
    samples: VecDeque<Sample>,
    /// How far back samples are kept.
    keep: Duration,
    /// How many of the newest samples are kept however old (`failing`
    /// counts samples, not time).
    min_len: usize,
}

impl Window {
    pub fn new(keep: Duration) -> Window {
        Window {
            samples: VecDeque::new(),
            keep,
            min_len: 1,
        }
    }

    /// Also keeps the newest `min_len` samples, however old.
    pub fn keeping_at_least(mut self, min_len: usize) -> Window {
        self.min_len = self.min_len.max(min_len);
        self
    }

    pub fn min_len(&self) -> usize {
        self.min_len
    }

    /// Adds a sample (samples arrive in time order) and forgets those
    /// older than `keep`.
    pub fn push(&mut self, sample: Sample) {
        let now = sample.at_ms;
        self.samples.push_back(sample);
        let keep = self.keep.as_millis() as u64;
        while let Some(first) = self.samples.front() {
            // `failing` needs the last run of failures even when older.
            if now.saturating_sub(first.at_ms) > keep && self.samples.len() > self.min_len {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    pub fn keep(&self) -> Duration {
        self.keep
    }

    pub fn samples(&self) -> impl DoubleEndedIterator<Item = &Sample> + ExactSizeIterator {
        self.samples.iter()
    }
}

/// An expression that held, with the values that made it hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fired {
    /// The metric's value (fraction, milliseconds, count or value).
    pub value: f64,
    /// Samples the value was computed from.
    pub samples: usize,
    /// Failed ones among them.
    pub failures: usize,
}

/// Whether `expr` holds over `samples` (time-ordered) at `now_ms`. An
/// expression against a baseline (`2x baseline`) never holds here: it
/// needs [`evaluate_against`] and the baseline.
pub fn evaluate<'s>(
    expr: &Expr,
    samples: impl DoubleEndedIterator<Item = &'s Sample>,
    now_ms: u64,
) -> Option<Fired> {
    evaluate_against(expr, samples, now_ms, None)
}

/// The metric's value over `samples` at `now_ms`, without comparing it:
/// `None` when there is no evidence (an empty window).
pub fn measure<'s>(
    expr: &Expr,
    samples: impl DoubleEndedIterator<Item = &'s Sample>,
    now_ms: u64,
) -> Option<Fired> {
    let inside = |over: Duration, samples: &mut dyn Iterator<Item = &'s Sample>| {
        let over = over.as_millis() as u64;
        samples
            .filter(|s| s.at_ms <= now_ms && now_ms - s.at_ms < over)
            .collect::<Vec<&Sample>>()
    };
    let mut samples = samples;
    Some(match expr.metric {
        Metric::ErrorRate | Metric::Count | Metric::BurnRate => {
            let over = expr.over.unwrap_or(crate::expr::DEFAULT_OVER);
            let inside = inside(over, &mut samples);
            return measure_counts(expr, |window| {
                let window = window.as_millis() as u64;
                let mut counts = Counts::default();
                for s in inside.iter().filter(|s| now_ms - s.at_ms < window) {
                    counts.total += 1;
                    counts.failures += usize::from(!s.ok);
                    counts.bad += usize::from(expr.slo.is_some_and(|slo| bad_for(&slo, s)));
                }
                counts
            });
        }
        Metric::Percentile(p) => {
            let over = expr.over.unwrap_or(crate::expr::DEFAULT_OVER);
            let inside = inside(over, &mut samples);
            if inside.is_empty() {
                return None;
            }
            let failures = inside.iter().filter(|s| !s.ok).count();
            let mut latencies: Vec<u64> = inside.iter().map(|s| s.latency_ms).collect();
            latencies.sort_unstable();
            Fired {
                value: percentile(&latencies, p) as f64,
                samples: inside.len(),
                failures,
            }
        }
        Metric::Failing => {
            let mut seen = 0;
            let run = samples
                .rev()
                .inspect(|_| seen += 1)
                .take_while(|s| !s.ok)
                .count();
            if seen == 0 {
                return None;
            }
            Fired {
                value: run as f64,
                samples: run,
                failures: run,
            }
        }
        Metric::Prometheus => {
            let last = samples.last()?;
            Fired {
                value: last.value?,
                samples: 1,
                failures: usize::from(!last.ok),
            }
        }
    })
}

/// Whether a sample is bad for `slo`: failed, or (latency objective) slower
/// than the objective's latency.
pub fn bad_for(slo: &Slo, sample: &Sample) -> bool {
    match slo.latency_ms {
        Some(ms) => sample.latency_ms as f64 > ms,
        None => !sample.ok,
    }
}

/// What a window holds when only counts are kept (a watcher's per-minute
/// buckets for windows of days): enough for `error_rate`, `count` and
/// `burn_rate`, not for percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub failures: usize,
    /// Bad for the expression's objective ([`bad_for`]).
    pub bad: usize,
}

/// The value of a count-based metric (`error_rate`, `count`,
/// `burn_rate`), `counts(d)` giving what the last `d` holds: the one place
/// these metrics are computed, whether a window keeps samples or counts.
/// `None` on an empty window, or for a metric counts cannot answer.
pub fn measure_counts(expr: &Expr, counts: impl Fn(Duration) -> Counts) -> Option<Fired> {
    let over = expr.over.unwrap_or(crate::expr::DEFAULT_OVER);
    let long = counts(over);
    if long.total == 0 {
        return None;
    }
    Some(match expr.metric {
        Metric::ErrorRate => Fired {
            value: long.failures as f64 / long.total as f64,
            samples: long.total,
            failures: long.failures,
        },
        Metric::Count => Fired {
            value: long.total as f64,
            samples: long.total,
            failures: long.failures,
        },
        Metric::BurnRate => {
            let slo = expr.slo?;
            let burn = |c: Counts| burn_rate(c.bad as f64 / c.total as f64, slo.budget());
            // The short window must burn too: it stops the alert soon after
            // the burning stops, as the SRE workbook's multi-window alerts do.
            if let Some(short) = expr.short {
                let short = counts(short);
                if short.total == 0 || !expr.comparison.holds(burn(short), expr.threshold) {
                    return None;
                }
            }
            Fired {
                value: burn(long),
                samples: long.total,
                failures: long.bad,
            }
        }
        _ => return None,
    })
}

/// The SRE workbook's burn rate: how many times faster than the budget
/// allows the budget is being spent.
pub fn burn_rate(bad_fraction: f64, budget: f64) -> f64 {
    if budget <= 0.0 {
        return if bad_fraction > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
    }
    bad_fraction / budget
}

/// Whether `expr` holds at `now_ms`, `baseline` being the metric's usual
/// value at this time (for `2x baseline`; without one such an expression
/// does not hold: no evidence is not bad evidence).
pub fn evaluate_against<'s>(
    expr: &Expr,
    samples: impl DoubleEndedIterator<Item = &'s Sample>,
    now_ms: u64,
    baseline: Option<f64>,
) -> Option<Fired> {
    let threshold = threshold(expr, baseline)?;
    let fired = measure(expr, samples, now_ms)?;
    expr.comparison
        .holds(fired.value, threshold)
        .then_some(fired)
}

/// [`evaluate_against`] for a window that keeps counts, not samples.
pub fn evaluate_counts_against(
    expr: &Expr,
    counts: impl Fn(Duration) -> Counts,
    baseline: Option<f64>,
) -> Option<Fired> {
    let threshold = threshold(expr, baseline)?;
    let fired = measure_counts(expr, counts)?;
    expr.comparison
        .holds(fired.value, threshold)
        .then_some(fired)
}

/// The threshold `expr` compares with: its own, or its factor times the
/// baseline (none without a baseline: no evidence is not bad evidence).
fn threshold(expr: &Expr, baseline: Option<f64>) -> Option<f64> {
    match (expr.baseline, baseline) {
        (false, _) => Some(expr.threshold),
        (true, Some(base)) if base > 0.0 => Some(expr.threshold * base),
        (true, _) => None,
    }
}

/// `for 30m`: remembers since when an expression has held, and lets it
/// fire only once it has held for its whole `sustain`.
#[derive(Debug, Clone, Default)]
pub struct Sustained {
    since_ms: Option<u64>,
}

impl Sustained {
    /// Feeds one evaluation at `now_ms`; returns what fires.
    pub fn update(&mut self, expr: &Expr, held: Option<Fired>, now_ms: u64) -> Option<Fired> {
        let Some(fired) = held else {
            self.since_ms = None;
            return None;
        };
        let since = *self.since_ms.get_or_insert(now_ms);
        let needed = expr.sustain.map_or(0, |d| d.as_millis() as u64);
        (now_ms.saturating_sub(since) >= needed).then_some(fired)
    }

    /// Since when the expression has held, if it holds.
    pub fn since_ms(&self) -> Option<u64> {
        self.since_ms
    }
}

/// Nearest-rank percentile of sorted, non-empty `values`.
pub fn percentile(sorted: &[u64], p: u8) -> u64 {
    let rank = (f64::from(p) / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::parse_expr;
    use proptest::prelude::*;

    fn sample(at_ms: u64, ok: bool, latency_ms: u64) -> Sample {
        Sample {
            at_ms,
            ok,
            latency_ms,
            value: None,
            error: None,
            host: None,
        }
    }

    fn samples_strategy() -> impl Strategy<Value = Vec<Sample>> {
        prop::collection::vec((0u64..5_000, any::<bool>(), 0u64..10_000), 0..60).prop_map(
            |mut raw| {
                raw.sort_by_key(|r| r.0);
                raw.into_iter().map(|(t, ok, l)| sample(t, ok, l)).collect()
            },
        )
    }

    proptest! {
        #[test]
        fn error_rate_is_failures_over_total_inside_the_window(
            samples in samples_strategy(), now in 0u64..6_000, over in 1u64..4_000,
        ) {
            let expr = parse_expr(&format!("error_rate(x) >= 0 over {over}ms")).unwrap();
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.at_ms <= now && now - s.at_ms < over)
                .collect();
            match evaluate(&expr, samples.iter(), now) {
                None => prop_assert!(inside.is_empty(), "fired nothing on a non-empty window"),
                Some(fired) => {
                    let failures = inside.iter().filter(|s| !s.ok).count();
                    prop_assert_eq!(fired.samples, inside.len());
                    prop_assert_eq!(fired.failures, failures);
                    prop_assert!((fired.value - failures as f64 / inside.len() as f64).abs() < 1e-12);
                }
            }
        }

        #[test]
        fn nothing_fires_on_an_empty_window(
            op in prop::sample::select(vec![">", ">=", "<", "<=", "==", "!="]),
            threshold in 0u32..10,
        ) {
            for text in [
                format!("error_rate(x) {op} {threshold}"),
                format!("p95(x) {op} {threshold}ms"),
                format!("failing(x) {op} {threshold}"),
                format!("prometheus(x) {op} {threshold}"),
            ] {
                let expr = parse_expr(&text).unwrap();
                prop_assert_eq!(evaluate(&expr, [].iter(), 1_000), None);
            }
        }

        #[test]
        fn failing_counts_the_trailing_run_of_failures(samples in samples_strategy()) {
            let expr = parse_expr("failing(x) >= 0").unwrap();
            let run = samples.iter().rev().take_while(|s| !s.ok).count();
            let fired = evaluate(&expr, samples.iter(), 10_000);
            prop_assert_eq!(fired.map(|f| f.value as usize), (!samples.is_empty()).then_some(run));
        }

        #[test]
        fn a_window_keeps_every_sample_an_expression_can_read(
            samples in samples_strategy(), over in 1u64..4_000,
        ) {
            let expr = parse_expr(&format!("error_rate(x) >= 0 over {over}ms")).unwrap();
            let mut window = Window::new(Duration::from_millis(over));
            for (i, s) in samples.iter().enumerate() {
                window.push(s.clone());
                // Everything pushed so far, as the full list would see it.
                let full = evaluate(&expr, samples[..=i].iter(), s.at_ms);
                let now = s.at_ms;
                prop_assert_eq!(evaluate(&expr, window.samples(), now), full);
            }
        }

        #[test]
        fn a_window_keeps_the_failures_a_failing_trigger_counts(
            samples in samples_strategy(), threshold in 1usize..8,
        ) {
            let expr = parse_expr(&format!("failing(x) >= {threshold}")).unwrap();
            let mut window = Window::new(Duration::ZERO).keeping_at_least(threshold);
            for (i, s) in samples.iter().enumerate() {
                window.push(s.clone());
                prop_assert_eq!(
                    evaluate(&expr, window.samples(), s.at_ms).is_some(),
                    evaluate(&expr, samples[..=i].iter(), s.at_ms).is_some()
                );
            }
        }

        #[test]
        fn percentile_is_an_element_at_least_p_percent_are_at_or_below(
            mut values in prop::collection::vec(0u64..1000, 1..50), p in 1u8..=100,
        ) {
            values.sort_unstable();
            let v = percentile(&values, p);
            let below = values.iter().filter(|x| **x <= v).count();
            prop_assert!(below as f64 >= f64::from(p) / 100.0 * values.len() as f64 - 1e-9);
            prop_assert!(values.contains(&v));
        }
    }

    proptest! {
        #[test]
        fn burn_rate_is_the_bad_fraction_over_the_budget(
            samples in samples_strategy(), now in 0u64..6_000, over in 1u64..4_000,
            objective in prop::sample::select(vec![90.0, 99.0, 99.9]),
        ) {
            let expr = parse_expr(&format!("burn_rate(x, {objective}%) >= 0 over {over}ms")).unwrap();
            let inside: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.at_ms <= now && now - s.at_ms < over)
                .collect();
            match evaluate(&expr, samples.iter(), now) {
                None => prop_assert!(inside.is_empty()),
                Some(fired) => {
                    let bad = inside.iter().filter(|s| !s.ok).count() as f64 / inside.len() as f64;
                    let budget = 1.0 - objective / 100.0;
                    prop_assert!((fired.value - bad / budget).abs() < 1e-6 * (1.0 + fired.value));
                }
            }
        }

        #[test]
        fn a_multi_window_burn_fires_only_when_both_windows_burn(
            samples in samples_strategy(), now in 0u64..6_000,
            long in 100u64..4_000, short_part in 1u64..100, threshold in 1u32..20,
        ) {
            let short = (long * short_part / 100).max(1);
            let both = parse_expr(&format!(
                "burn_rate(x, 99%) > {threshold} over {long}ms and {short}ms"
            )).unwrap();
            let long_only = parse_expr(&format!("burn_rate(x, 99%) > {threshold} over {long}ms")).unwrap();
            let short_only = parse_expr(&format!("burn_rate(x, 99%) > {threshold} over {short}ms")).unwrap();
            let fires = |e| evaluate(e, samples.iter(), now).is_some();
            prop_assert_eq!(fires(&both), fires(&long_only) && fires(&short_only));
        }

        #[test]
        fn a_baseline_threshold_is_the_factor_times_the_baseline(
            samples in samples_strategy(), now in 0u64..6_000,
            factor in 1u32..5, baseline in 1u32..5_000,
        ) {
            let relative = parse_expr(&format!("p95(x) > {factor}x baseline over 2s")).unwrap();
            let absolute = parse_expr(&format!("p95(x) > {}ms over 2s", factor * baseline)).unwrap();
            prop_assert_eq!(
                evaluate_against(&relative, samples.iter(), now, Some(f64::from(baseline))),
                evaluate(&absolute, samples.iter(), now)
            );
            prop_assert_eq!(evaluate_against(&relative, samples.iter(), now, None), None);
        }

        #[test]
        fn sustained_fires_only_after_holding_for_its_whole_duration(
            held in prop::collection::vec(any::<bool>(), 1..40), sustain in 0u64..10,
        ) {
            let expr = parse_expr(&format!("failing(x) >= 1 for {}s", sustain.max(1))).unwrap();
            let needed = sustain.max(1) * 1000;
            let mut tracker = Sustained::default();
            let fired = Fired { value: 1.0, samples: 1, failures: 1 };
            let mut since = None;
            for (i, h) in held.iter().enumerate() {
                let now = i as u64 * 1000;
                let out = tracker.update(&expr, h.then(|| fired.clone()), now);
                since = if *h { since.or(Some(now)) } else { None };
                prop_assert_eq!(out.is_some(), since.is_some_and(|s| now - s >= needed));
            }
        }
    }

    #[test]
    fn a_latency_objective_counts_slow_requests_as_bad() {
        let expr = parse_expr("burn_rate(web, 99% < 300ms) > 10 over 10s").unwrap();
        let mut s: Vec<Sample> = (0..100).map(|i| sample(i * 10, true, 100)).collect();
        assert_eq!(evaluate(&expr, s.iter(), 1_000), None);
        for i in 0..12 {
            s.push(sample(1_000 + i, true, 900));
        }
        let fired = evaluate(&expr, s.iter(), 1_012).unwrap();
        assert_eq!(fired.failures, 12);
        assert!(fired.value > 10.0);
    }

    #[test]
    fn error_rate_fires_over_five_percent() {
        let expr = parse_expr("error_rate(web) > 5% over 10s").unwrap();
        let mut s: Vec<Sample> = (0..19).map(|i| sample(i * 500, true, 3)).collect();
        assert_eq!(evaluate(&expr, s.iter(), 9_000), None);
        s.push(sample(9_500, false, 3));
        assert_eq!(
            evaluate(&expr, s.iter(), 9_500),
            None,
            "1 in 20 is 5%, not more"
        );
        s.push(sample(9_900, false, 3));
        let fired = evaluate(&expr, s.iter(), 9_900).unwrap();
        assert_eq!((fired.samples, fired.failures), (21, 2));
    }
}
