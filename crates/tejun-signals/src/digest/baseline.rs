//! `tejun digest --baseline 7d`: per fingerprint and window, the p95 query
//! time and the p95 rows examined against the same window on previous
//! days ([`crate::trend`], the baselines `tejun stats` uses), so a query
//! that slowly lost its index is named with the hour it crossed the factor.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tejun_locale::Lang;

use crate::trend::baseline::human_duration;
use crate::trend::{BaselineSpec, Regression, Trends};

/// Window length and what counts as a regression.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineOptions {
    /// Window length in seconds (`--window`).
    pub window_s: i64,
    pub spec: BaselineSpec,
    /// Windows start on this zone's wall clock.
    pub zone: TimeZone,
}

/// What rose: the query time, or the rows a call examined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    QueryTime,
    RowsExamined,
}

/// One fingerprint whose p95 stayed `factor`× above its baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FingerprintRegression {
    pub fingerprint: String,
    pub measure: Measure,
    /// Start of the first window of the run.
    pub since: Timestamp,
    /// End of the last window of the run.
    pub until: Timestamp,
    /// Median of the run's p95 ÷ baseline.
    pub ratio: f64,
    /// Median p95 of the run and of its baselines: seconds for the query
    /// time, rows for rows examined.
    pub p95: f64,
    pub baseline: f64,
    /// When the run had lasted long enough: when an alert would fire.
    pub flagged_at: Timestamp,
}

/// The baseline section of a digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineReport {
    pub window_s: i64,
    pub baseline_days: u32,
    pub factor: f64,
    pub min_duration_s: i64,
    /// Oldest first; a query time run before a rows run of the same start.
    pub regressions: Vec<FingerprintRegression>,
}

/// Windows of query time and rows examined per fingerprint, fed while the
/// digest reads.
#[derive(Debug)]
pub struct FingerprintTrends {
    time: Trends,
    /// Rows are fed as if they were milliseconds divided by 1000: the
    /// series keeps microseconds, so one unit is one row (1% precision, up
    /// to 86 billion rows).
    rows: Trends,
}

impl FingerprintTrends {
    pub fn new(options: BaselineOptions) -> FingerprintTrends {
        FingerprintTrends {
            time: Trends::new(options.window_s, options.spec).aligned_in(&options.zone),
            rows: Trends::new(options.window_s, options.spec).aligned_in(&options.zone),
        }
    }

    /// One call of `fingerprint` that took `query_time` seconds.
    pub fn observe(
        &mut self,
        at: Timestamp,
        fingerprint: &str,
        query_time: f64,
        rows_examined: Option<u64>,
    ) {
        self.time
            .observe(at, fingerprint, query_time * 1000.0, false);
        if let Some(rows) = rows_examined {
            self.rows
                .observe(at, fingerprint, rows as f64 / 1000.0, false);
        }
    }

    pub fn finish(self) -> BaselineReport {
        let time = self.time.finish();
        let rows = self.rows.finish();
        let convert = |r: Regression, measure: Measure, unit: f64| FingerprintRegression {
            fingerprint: r.key,
            measure,
            since: r.since,
            until: r.until,
            ratio: r.ratio,
            p95: r.p95_ms * unit,
            baseline: r.baseline_ms * unit,
            flagged_at: r.flagged_at,
        };
        let mut regressions: Vec<FingerprintRegression> = time
            .regressions
            .into_iter()
            .map(|r| convert(r, Measure::QueryTime, 0.001))
            .chain(
                rows.regressions
                    .into_iter()
                    .map(|r| convert(r, Measure::RowsExamined, 1000.0)),
            )
            .collect();
        regressions.sort_by(|a, b| {
            a.since
                .cmp(&b.since)
                .then(a.fingerprint.cmp(&b.fingerprint))
                .then((a.measure as u8).cmp(&(b.measure as u8)))
        });
        BaselineReport {
            window_s: time.window_s,
            baseline_days: time.baseline_days,
            factor: time.factor,
            min_duration_s: time.min_duration_s,
            regressions,
        }
    }
}

/// Seconds as the digest shows them; rows as a whole number.
fn amount(measure: Measure, v: f64, lang: Lang) -> String {
    match measure {
        Measure::QueryTime if v < 1.0 => format!("{:.0} ms", v * 1000.0),
        Measure::QueryTime => format!("{v:.2} s"),
        Measure::RowsExamined => format!("{v:.0} {}", lang.pick("rows", "行")),
    }
}

impl FingerprintRegression {
    pub fn duration_s(&self) -> i64 {
        self.until.as_second() - self.since.as_second()
    }

    /// "fingerprint `select … where email = ?` p95 12× its baseline for
    /// 6 h since 2026-…".
    pub fn describe(&self, lang: Lang, zone: &TimeZone) -> String {
        let since = tejun_locale::format_time(self.since, zone);
        let flagged = tejun_locale::format_time(self.flagged_at, zone);
        let hours = human_duration(self.duration_s(), lang);
        let (now, usual) = (
            amount(self.measure, self.p95, lang),
            amount(self.measure, self.baseline, lang),
        );
        let what = match (self.measure, lang) {
            (Measure::QueryTime, Lang::En) => "p95",
            (Measure::RowsExamined, Lang::En) => "p95 rows examined",
            (Measure::QueryTime, Lang::Ja) => "p95 クエリ時間",
            (Measure::RowsExamined, Lang::Ja) => "p95 調べた行数",
        };
        match lang {
            Lang::En => format!(
                "fingerprint `{}` {what} {:.1}× its baseline for {hours} since {since} ({now}, usually {usual}; flagged at {flagged})",
                self.fingerprint, self.ratio
            ),
            Lang::Ja => format!(
                "フィンガープリント `{}` の {what} が {since} から {hours}、平常時の {:.1} 倍です ({now}、平常 {usual}。{flagged} に検出)",
                self.fingerprint, self.ratio
            ),
        }
    }
}

impl BaselineReport {
    /// One line per regression, or a line saying there is none.
    pub fn render(&self, lang: Lang, zone: &TimeZone) -> String {
        let window = human_duration(self.window_s, lang);
        let hold = human_duration(self.min_duration_s, lang);
        let mut out = match lang {
            Lang::En => format!(
                "baselines: {window} windows against the same time on the previous {} days; flagged when p95 stays {}× above for {hold}\n",
                self.baseline_days, self.factor
            ),
            Lang::Ja => format!(
                "平常時との比較: {window} ごとの窓を過去 {} 日の同じ時刻と比べ、p95 が {} 倍以上で {hold} 続いたら報告\n",
                self.baseline_days, self.factor
            ),
        };
        if self.regressions.is_empty() {
            out.push_str(lang.pick(
                "no fingerprint's p95 rose above its baseline\n",
                "平常時より p95 が上がったフィンガープリントはありません\n",
            ));
        }
        for r in &self.regressions {
            out.push_str(&r.describe(lang, zone));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn a_fingerprint_slower_and_scanning_more_is_reported_for_both() {
        let mut trends = FingerprintTrends::new(BaselineOptions {
            window_s: 3600,
            spec: BaselineSpec {
                days: 3,
                min_duration_s: 2 * 3600,
                ..BaselineSpec::default()
            },
            zone: TimeZone::UTC,
        });
        for day in 0..4 {
            for minute in (0..24 * 60).step_by(5) {
                let t = Timestamp::from_second(day * DAY + minute * 60).unwrap();
                let bad = day == 3 && (10 * 60..13 * 60).contains(&minute);
                let (secs, rows) = if bad { (1.2, 40_000) } else { (0.1, 1_000) };
                trends.observe(t, "select ?", secs, Some(rows));
                trends.observe(t, "select steady", 0.01, Some(5));
            }
        }
        let report = trends.finish();
        assert_eq!(report.regressions.len(), 2, "{report:#?}");
        let [time, rows] = &report.regressions[..] else {
            unreachable!()
        };
        assert_eq!(time.measure, Measure::QueryTime);
        assert_eq!(rows.measure, Measure::RowsExamined);
        assert_eq!(time.since.as_second(), 3 * DAY + 10 * 3600);
        assert_eq!(time.duration_s(), 3 * 3600);
        assert!((time.p95 - 1.2).abs() < 0.02, "{time:?}");
        assert!((rows.baseline - 1000.0).abs() < 11.0, "{rows:?}");
        assert_eq!(
            time.describe(Lang::En, &TimeZone::UTC),
            "fingerprint `select ?` p95 12.0× its baseline for 3 h since 1970-01-04 10:00:00 UTC (1.20 s, usually 100 ms; flagged at 1970-01-04 12:00:00 UTC)"
        );
        assert!(
            rows.describe(Lang::Ja, &TimeZone::UTC)
                .contains("調べた行数")
        );
    }
}
