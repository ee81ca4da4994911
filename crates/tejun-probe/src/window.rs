//! Samples over time, and whether an expression holds over them.
//!
//! A [`Window`] keeps one probe's samples for as long as the longest
//! expression reading it looks back; [`evaluate`] answers one expression at
//! one instant. Nothing fires on an empty window: no evidence is not bad
//! evidence.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::expr::{Expr, Metric};
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

/// Whether `expr` holds over `samples` (time-ordered) at `now_ms`.
pub fn evaluate<'s>(
    expr: &Expr,
    samples: impl DoubleEndedIterator<Item = &'s Sample>,
    now_ms: u64,
) -> Option<Fired> {
    let (value, count, failures) = match expr.metric {
        Metric::ErrorRate | Metric::Percentile(_) => {
            let over = expr.over.unwrap_or(crate::expr::DEFAULT_OVER).as_millis() as u64;
            let inside: Vec<&Sample> = samples
                .filter(|s| s.at_ms <= now_ms && now_ms - s.at_ms < over)
                .collect();
            if inside.is_empty() {
                return None;
            }
            let failures = inside.iter().filter(|s| !s.ok).count();
            let value = match expr.metric {
                Metric::ErrorRate => failures as f64 / inside.len() as f64,
                Metric::Percentile(p) => {
                    let mut latencies: Vec<u64> = inside.iter().map(|s| s.latency_ms).collect();
                    latencies.sort_unstable();
                    percentile(&latencies, p) as f64
                }
                _ => unreachable!("matched above"),
            };
            (value, inside.len(), failures)
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
            (run as f64, run, run)
        }
        Metric::Prometheus => {
            let last = samples.last()?;
            (last.value?, 1, usize::from(!last.ok))
        }
    };
    expr.comparison
        .holds(value, expr.threshold)
        .then_some(Fired {
            value,
            samples: count,
            failures,
        })
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
