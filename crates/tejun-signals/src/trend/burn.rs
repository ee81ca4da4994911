//! Multi-window, multi-burn-rate alerts, as the SRE workbook defines them
//! ("Alerting on SLOs", table 5-8): an alert fires while both its long and
//! its short window burn the error budget at least `factor` times faster
//! than the SLO period allows. The burn-rate arithmetic and the SLO type
//! are `tejun-probe`'s, shared with `burn_rate(…)` in watch rules and
//! rollout triggers.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use tejun_locale::Lang;
use tejun_probe::Slo;
use tejun_probe::window::burn_rate;

use super::series::{Point, Series};

/// One row of the workbook's table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BurnWindow {
    #[serde(with = "secs")]
    pub long: Duration,
    #[serde(with = "secs")]
    pub short: Duration,
    pub factor: f64,
    /// Page (wake someone) or ticket.
    pub page: bool,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

const fn window(long_s: u64, short_s: u64, factor: f64, page: bool) -> BurnWindow {
    BurnWindow {
        long: Duration::from_secs(long_s),
        short: Duration::from_secs(short_s),
        factor,
        page,
    }
}

/// The workbook's recommendation for a 30-day SLO: 2% of the budget in
/// 1 h or 5% in 6 h pages; 10% in 3 d opens a ticket.
pub const WORKBOOK: [BurnWindow; 3] = [
    window(3600, 300, 14.4, true),
    window(6 * 3600, 1800, 6.0, true),
    window(3 * 86_400, 6 * 3600, 1.0, false),
];

/// A burn-rate alert that held from `since` to `until`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnAlert {
    pub window: BurnWindow,
    pub since: Timestamp,
    pub until: Timestamp,
    /// The highest long-window burn rate while it held.
    pub peak: f64,
}

impl BurnAlert {
    pub fn describe(&self, lang: Lang, zone: &jiff::tz::TimeZone) -> String {
        let since = tejun_locale::format_time(self.since, zone);
        let long = tejun_probe::duration::format_duration(self.window.long);
        let short = tejun_probe::duration::format_duration(self.window.short);
        let kind = match (self.window.page, lang) {
            (true, Lang::En) => "page",
            (false, Lang::En) => "ticket",
            (true, Lang::Ja) => "呼び出し",
            (false, Lang::Ja) => "チケット",
        };
        match lang {
            Lang::En => format!(
                "{kind}: error budget burning {:.1}× (≥ {} over {long} and {short}) since {since}",
                self.peak, self.window.factor
            ),
            Lang::Ja => format!(
                "{kind}: {since} からエラーバジェットを {:.1} 倍の速さで消費 ({long} と {short} の両方で {} 倍以上)",
                self.peak, self.window.factor
            ),
        }
    }
}

/// Bad and total requests of the windows ending in `(end - span, end]`.
fn tally(series: &Series, slo: &Slo, end: i64, span: Duration) -> (u64, u64) {
    let from = end - span.as_secs() as i64;
    series
        .points
        .range(from..end)
        .fold((0, 0), |(bad, total), (_, p)| {
            (bad + bad_of(slo, p), total + p.requests)
        })
}

fn bad_of(slo: &Slo, p: &Point) -> u64 {
    match slo.latency_ms {
        Some(_) => p.slow,
        None => p.errors,
    }
}

fn rate(slo: &Slo, (bad, total): (u64, u64)) -> Option<f64> {
    (total > 0).then(|| burn_rate(bad as f64 / total as f64, slo.budget()))
}

/// Every alert of `windows` over `series`, evaluated at the end of each of
/// its windows. For a latency objective the series must have been built
/// `counting_slower_than` the objective's latency.
pub fn burn_alerts(series: &Series, slo: &Slo, windows: &[BurnWindow]) -> Vec<BurnAlert> {
    let mut alerts = Vec::new();
    let ends: Vec<i64> = series
        .points
        .keys()
        .map(|start| start + series.window_s)
        .collect();
    for w in windows {
        let mut open: Option<BurnAlert> = None;
        for end in &ends {
            let long = rate(slo, tally(series, slo, *end, w.long));
            let short = rate(slo, tally(series, slo, *end, w.short));
            let burning =
                matches!((long, short), (Some(l), Some(s)) if l >= w.factor && s >= w.factor);
            let at = Timestamp::from_second(*end).unwrap_or(Timestamp::UNIX_EPOCH);
            match (&mut open, burning) {
                (Some(alert), true) => {
                    alert.until = at;
                    alert.peak = alert.peak.max(long.unwrap_or(0.0));
                }
                (None, true) => {
                    open = Some(BurnAlert {
                        window: *w,
                        since: at,
                        until: at,
                        peak: long.unwrap_or(0.0),
                    })
                }
                (Some(_), false) => alerts.extend(open.take()),
                (None, false) => {}
            }
        }
        alerts.extend(open);
    }
    alerts.sort_by_key(|a| a.since);
    alerts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn minutes(errors: &[u64]) -> Series {
        let mut s = Series::new(60);
        for (i, e) in errors.iter().enumerate() {
            s.points.insert(
                i as i64 * 60,
                Point {
                    requests: 100,
                    errors: *e,
                    slow: 0,
                    p95_ms: 10.0,
                },
            );
        }
        s
    }

    const SLO: Slo = Slo {
        objective: 0.999,
        latency_ms: None,
    };

    #[test]
    fn the_workbook_table_is_the_one_in_the_book() {
        // 2% of a 30-day budget in 1 h, 5% in 6 h, 10% in 3 d.
        let period_h = 30.0 * 24.0;
        for (w, spent) in WORKBOOK.iter().zip([0.02, 0.05, 0.10]) {
            let expected = spent * period_h / (w.long.as_secs_f64() / 3600.0);
            assert!((w.factor - expected).abs() < 1e-9, "{w:?}");
        }
    }

    #[test]
    fn an_outage_pages_and_a_healthy_hour_does_not() {
        // An hour at 0.1% errors: the budget exactly, burn rate 1.
        let mut errors = vec![0u64; 60];
        errors.iter_mut().step_by(10).for_each(|e| *e = 1);
        assert_eq!(burn_alerts(&minutes(&errors), &SLO, &WORKBOOK[..1]), vec![]);
        // Then 20 minutes at 5% errors: 50× the budget.
        errors.extend([5; 20]);
        let alerts = burn_alerts(&minutes(&errors), &SLO, &WORKBOOK[..1]);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!(alerts[0].peak >= 14.4);
        assert!(
            alerts[0]
                .describe(Lang::Ja, &jiff::tz::TimeZone::UTC)
                .contains("呼び出し")
        );
    }

    proptest! {
        #[test]
        fn an_alert_holds_only_while_both_windows_burn(
            errors in prop::collection::vec(prop::sample::select(vec![0u64, 1, 2, 10, 50]), 1..150),
        ) {
            let s = minutes(&errors);
            let w = BurnWindow { long: Duration::from_secs(3600), short: Duration::from_secs(300), factor: 14.4, page: true };
            let alerts = burn_alerts(&s, &SLO, &[w]);
            for (i, _) in errors.iter().enumerate() {
                let end = (i as i64 + 1) * 60;
                let covered = alerts.iter().any(|a| a.since.as_second() <= end && end <= a.until.as_second());
                let long = rate(&SLO, tally(&s, &SLO, end, w.long)).unwrap();
                let short = rate(&SLO, tally(&s, &SLO, end, w.short)).unwrap();
                prop_assert_eq!(covered, long >= 14.4 && short >= 14.4, "at {}", end);
            }
        }
    }
}
