//! Trends: baselines against previous days and SLO burn rates, over the
//! windows the access-log and slow-log readers produce.
//!
//! - [`series`]: observations folded into one point per window and key
//!   (endpoint template or query fingerprint), in bounded memory;
//! - [`baseline`]: each window against the same time on previous days, and
//!   the keys whose p95 stayed `factor`× above it;
//! - [`burn`]: multi-window burn-rate alerts for an SLO (SRE workbook).
//!
//! [`Trends`] is the small API `tejun stats --baseline 7d` (and `tejun
//! digest`) call: feed every request, then ask for the regressions.

pub mod baseline;
pub mod burn;
pub mod series;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tejun_locale::Lang;

pub use baseline::{BaselineSpec, Regression, regressions};
pub use burn::{BurnAlert, BurnWindow, WORKBOOK, burn_alerts};
pub use series::{Observation, Point, Series, SeriesBuilder};

/// Baselines over one input: feed requests in (roughly) time order.
#[derive(Debug)]
pub struct Trends {
    builder: SeriesBuilder,
    spec: BaselineSpec,
}

/// What [`Trends::finish`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendReport {
    pub window_s: i64,
    pub baseline_days: u32,
    pub factor: f64,
    pub min_duration_s: i64,
    pub regressions: Vec<Regression>,
}

impl Trends {
    /// `window_s`: the statistics window (e.g. 60 for `--window 1m`).
    pub fn new(window_s: i64, spec: BaselineSpec) -> Trends {
        Trends {
            builder: SeriesBuilder::new(window_s),
            spec,
        }
    }

    /// One request (or query) of `key` (endpoint template, fingerprint).
    pub fn observe(&mut self, at: Timestamp, key: &str, latency_ms: f64, error: bool) {
        self.builder.observe(Observation {
            at,
            key,
            latency_ms,
            error,
        });
    }

    /// Windows on the wall clock of `zone`, as `tejun stats --tz` lists them.
    pub fn aligned_in(mut self, zone: &TimeZone) -> Trends {
        self.builder = self.builder.aligned_in(zone);
        self
    }

    pub fn finish(self) -> TrendReport {
        let window_s = self.builder.window_s();
        let all = self.builder.finish();
        TrendReport {
            window_s,
            baseline_days: self.spec.days,
            factor: self.spec.factor,
            min_duration_s: self.spec.min_duration_s,
            regressions: regressions(&all, &self.spec),
        }
    }
}

impl TrendReport {
    /// One line per regression, or a line saying there is none.
    pub fn render(&self, lang: Lang, zone: &TimeZone) -> String {
        let mut out = String::new();
        if self.regressions.is_empty() {
            out.push_str(&match lang {
                Lang::En => format!(
                    "no endpoint's p95 stayed {}× above its {}-day baseline for {}\n",
                    self.factor,
                    self.baseline_days,
                    baseline::human_duration(self.min_duration_s, lang)
                ),
                Lang::Ja => format!(
                    "p95 が過去 {} 日の平常時の {} 倍以上で {} 続いたエンドポイントはありません\n",
                    self.baseline_days,
                    self.factor,
                    baseline::human_duration(self.min_duration_s, lang)
                ),
            });
        }
        for r in &self.regressions {
            out.push_str(&r.describe(lang, zone));
            out.push('\n');
        }
        out
    }
}
