//! Metric rules on a followed access log: `error_rate > 5% over 1m`,
//! `p95 > 3s over 5m`, `p95 > 2x baseline for 30m`,
//! `burn_rate(99.9%) > 14.4 over 1h and 5m`.
//!
//! The expression language and its evaluator are `tejun-probe`'s, the very
//! ones rollout triggers use: every request read from the log is a sample
//! (failed when its status is 5xx, its latency the logged request time),
//! stamped with the log's own time, so a log read from its beginning is
//! judged as it was lived. Baselines come from `tejun-signals`' window
//! series of what this watcher has read (see [`MetricRun`]).
//!
//! A rule fires when its expression starts to hold (after its `for`), and
//! fires again only after it stopped holding: one detection per episode.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tejun_locale::Lang;
use tejun_probe::window::{Window, evaluate_against};
use tejun_probe::{Expr, Fired, Metric, Sample, Sustained};
use tejun_signals::access::LineFormat;
use tejun_signals::trend::baseline::{BaselineSpec, baseline_of};
use tejun_signals::trend::series::{Observation, SeriesBuilder};

use crate::config::{Actions, At, ConfigError, IncidentAction};
use crate::runbook::RunbookContext;

/// A metric rule as written in watch.yaml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetric {
    pub name: Spanned<String>,
    pub when: Spanned<String>,
    #[serde(default)]
    pub severity: Option<String>,
    /// Days a baseline looks back (default 7).
    #[serde(default)]
    pub baseline_days: Option<Spanned<u32>>,
    #[serde(default)]
    pub actions: Vec<RawMetricAction>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawMetricAction {
    Webhook,
    Journal,
    Incident(IncidentAction),
    Runbook(Box<RawRunbook>),
}

/// A `runbook:` action, checked once the inventory is known ([`prepare`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRunbook {
    path: Spanned<String>,
    env: Spanned<String>,
    #[serde(default)]
    confirm_env: Option<Spanned<String>>,
    #[serde(default)]
    timeout: Option<Spanned<tejun_detect::model::RunbookTimeout>>,
    #[serde(default)]
    params: BTreeMap<String, Spanned<String>>,
}

/// A validated metric rule.
#[derive(Debug, Clone)]
pub struct MetricRule {
    pub name: String,
    pub expr: Expr,
    /// The expression as written.
    pub text: String,
    pub severity: Option<String>,
    pub actions: Actions,
    pub baseline_days: u32,
    /// Runbook actions not checked yet (see [`prepare`]).
    pub unchecked_runbooks: Vec<RawRunbook>,
}

/// A source's access-log format and metric rules.
#[derive(Debug, Clone)]
pub struct MetricSpec {
    pub format: LineFormat,
    pub rules: Vec<MetricRule>,
}

/// The longest a burn-rate or percentile window may be: samples are kept
/// for it, one per request.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(6 * 3600);

/// Reads one rule. `at(offset)` locates a byte of the `when:` text in the
/// config file.
pub(crate) fn build_rule(
    raw: RawMetric,
    source: &str,
    at: impl Fn(&serde_saphyr::Location, usize) -> At,
) -> Result<MetricRule, ConfigError> {
    let name = raw.name.value.trim().to_string();
    let located =
        |loc: &serde_saphyr::Location, offset: usize, en: String, ja: String| ConfigError {
            at: Some(at(loc, offset)),
            en,
            ja,
        };
    if name.is_empty() || name.contains('/') {
        return Err(located(
            &raw.name.referenced,
            0,
            "a metric rule name must be non-empty and contain no `/`".into(),
            "メトリクスルール名は空にできず、`/` も使えません".into(),
        ));
    }
    let text = raw.when.value.clone();
    let expr = tejun_probe::parse_expr_in(&text, Some(source)).map_err(|e| {
        located(
            &raw.when.referenced,
            e.at,
            format!("rule `{name}`: {}", e.message(Lang::En)),
            format!("ルール `{name}`: {}", e.message(Lang::Ja)),
        )
    })?;
    if expr.probe != source {
        return Err(located(
            &raw.when.referenced,
            expr.probe_at.0,
            format!(
                "rule `{name}` reads `{}`, but a metric rule reads its own source `{source}` (leave the name out: `error_rate > 5%`)",
                expr.probe
            ),
            format!(
                "ルール `{name}` は `{}` を参照していますが、メトリクスルールは自分のソース `{source}` しか読めません (`error_rate > 5%` のように省略してください)",
                expr.probe
            ),
        ));
    }
    let unusable = match expr.metric {
        Metric::Failing | Metric::Prometheus => Some(expr.metric.name()),
        Metric::Percentile(p) if expr.baseline && p != 95 => Some(format!("p{p} … baseline")),
        _ => None,
    };
    if let Some(what) = unusable {
        return Err(located(
            &raw.when.referenced,
            0,
            format!(
                "rule `{name}`: `{what}` cannot be read from an access log (use error_rate, pNN, burn_rate; baselines are kept for p95 and error_rate)"
            ),
            format!(
                "ルール `{name}`: `{what}` はアクセスログから読めません (error_rate, pNN, burn_rate を使います。ベースラインは p95 と error_rate のみ)"
            ),
        ));
    }
    if expr.lookback() > LONGEST_WINDOW {
        return Err(located(
            &raw.when.referenced,
            0,
            format!(
                "rule `{name}`: windows longer than 6h are not kept by a watcher (one sample per request); use `tejun stats` for longer spans"
            ),
            format!(
                "ルール `{name}`: 6h を超える窓は watch では保持しません (リクエストごとに 1 サンプル)。長い期間は `tejun stats` を使ってください"
            ),
        ));
    }
    let baseline_days = match &raw.baseline_days {
        None => 7,
        Some(d) if (1..=28).contains(&d.value) => d.value,
        Some(d) => {
            return Err(located(
                &d.referenced,
                0,
                format!("baseline_days must be 1..28, not {}", d.value),
                format!(
                    "baseline_days は 1〜28 で指定してください ({} は不可)",
                    d.value
                ),
            ));
        }
    };
    let mut actions = Actions::default();
    let mut unchecked_runbooks = Vec::new();
    for action in raw.actions {
        match action {
            RawMetricAction::Webhook => actions.webhook = true,
            RawMetricAction::Journal => {}
            RawMetricAction::Incident(incident) => actions.incident = Some(incident),
            RawMetricAction::Runbook(runbook) => unchecked_runbooks.push(*runbook),
        }
    }
    Ok(MetricRule {
        name,
        expr,
        text,
        severity: raw.severity,
        actions,
        baseline_days,
        unchecked_runbooks,
    })
}

/// Checks every metric rule's runbook actions (the runbook, its
/// environment, its variables) against the inventory, before anything is
/// watched; errors point at watch.yaml.
pub fn prepare(config: &mut crate::Config, cx: &RunbookContext) -> Result<(), ConfigError> {
    let file = config.path.clone();
    for source in &mut config.sources {
        let Some(spec) = &mut source.metrics else {
            continue;
        };
        for rule in &mut spec.rules {
            for raw in std::mem::take(&mut rule.unchecked_runbooks) {
                let spec = crate::runbook::Spec {
                    path: &raw.path,
                    env: &raw.env,
                    confirm_env: raw.confirm_env.as_ref(),
                    timeout: raw.timeout.as_ref(),
                    params: &raw.params,
                };
                let checked = crate::runbook::check(&spec, &file, cx).map_err(|mut e| {
                    e.en = format!("rule `{}`: {}", rule.name, e.en);
                    e.ja = format!("ルール `{}`: {}", rule.name, e.ja);
                    e
                })?;
                rule.actions.runbooks.push(checked);
            }
        }
    }
    Ok(())
}

/// What a metric rule saw when it fired: journaled with the detection,
/// and the text of its webhook, incident title and report line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricFired {
    /// The expression as written.
    pub expr: String,
    /// `error_rate`, `p95`, `burn_rate`.
    pub metric: String,
    /// Fraction, milliseconds or burn rate.
    pub value: f64,
    /// What it was compared with (the factor times the baseline, for one).
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Requests in the window, and the failed (or slow) ones among them.
    pub requests: usize,
    pub bad: usize,
}

impl MetricFired {
    fn show(&self, v: f64) -> String {
        match self.metric.as_str() {
            "error_rate" => format!("{:.1}%", v * 100.0),
            "burn_rate" => format!("{v:.1}×"),
            _ => format!("{v:.0} ms"),
        }
    }

    /// `error_rate = 12.5% (> 5.0%, 120 requests)`.
    pub fn describe(&self, lang: Lang) -> String {
        let base = match self.baseline {
            Some(b) => match lang {
                Lang::En => format!(", baseline {}", self.show(b)),
                Lang::Ja => format!("、平常時 {}", self.show(b)),
            },
            None => String::new(),
        };
        match lang {
            Lang::En => format!(
                "{} = {} (threshold {}{base}, {} requests, {} bad) — `{}`",
                self.metric,
                self.show(self.value),
                self.show(self.threshold),
                self.requests,
                self.bad,
                self.expr
            ),
            Lang::Ja => format!(
                "{} = {} (しきい値 {}{base}、リクエスト {} 件中 {} 件が不良) — `{}`",
                self.metric,
                self.show(self.value),
                self.show(self.threshold),
                self.requests,
                self.bad,
                self.expr
            ),
        }
    }
}

/// One rule's change of state on one line.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricEvent {
    Fired {
        rule: usize,
        at: Timestamp,
        fired: MetricFired,
        /// The latest bad lines, as evidence: (text, file).
        lines: Vec<(String, String)>,
    },
    Resolved {
        rule: usize,
        at: Timestamp,
        /// When it had fired.
        since: Timestamp,
    },
}

struct RuleRun {
    sustained: Sustained,
    /// Fired and not yet resolved: when.
    firing: Option<Timestamp>,
}

/// How many bad lines a detection carries as evidence.
const EVIDENCE_LINES: usize = 10;

/// A source's metric rules at run time: the samples their windows read,
/// the window series their baselines read, and whether each is firing.
pub struct MetricRun {
    source: String,
    spec: MetricSpec,
    rules: Vec<RuleRun>,
    window: Window,
    /// Per-minute points of this source, for baselines, kept as many days
    /// back as the longest `baseline_days` (a few numbers per minute).
    history: Option<SeriesBuilder>,
    history_days: u32,
    /// When history was last trimmed (Unix seconds).
    trimmed_at: i64,
    recent_bad: VecDeque<(String, String)>,
    /// Lines the format could not read.
    pub unreadable: u64,
}

/// Baseline windows: one minute, the statistics default.
const BASELINE_WINDOW_S: i64 = 60;

impl MetricRun {
    pub fn new(source: &str, spec: MetricSpec) -> MetricRun {
        let keep = spec
            .rules
            .iter()
            .map(|r| r.expr.lookback())
            .max()
            .unwrap_or_default();
        let baselines: Vec<&MetricRule> = spec.rules.iter().filter(|r| r.expr.baseline).collect();
        let history_days = baselines.iter().map(|r| r.baseline_days).max().unwrap_or(0);
        MetricRun {
            source: source.to_string(),
            rules: spec
                .rules
                .iter()
                .map(|_| RuleRun {
                    sustained: Sustained::default(),
                    firing: None,
                })
                .collect(),
            window: Window::new(keep),
            history: (!baselines.is_empty()).then(|| SeriesBuilder::new(BASELINE_WINDOW_S)),
            history_days,
            trimmed_at: i64::MIN,
            recent_bad: VecDeque::new(),
            unreadable: 0,
            spec,
        }
    }

    pub fn rule(&self, index: usize) -> &MetricRule {
        &self.spec.rules[index]
    }

    /// Reads one line of the source and evaluates every rule at its time.
    pub fn line(&mut self, line: &str, file: &str, events: &mut Vec<MetricEvent>) {
        let Ok(request) = self.spec.format.parse(line) else {
            self.unreadable += 1;
            return;
        };
        let at = request.time;
        let at_ms = u64::try_from(at.as_millisecond()).unwrap_or(0);
        let latency_ms = request
            .request_time
            .or(request.upstream_time)
            .map_or(0, |d| d.as_millis() as u64);
        let ok = request.status < 500;
        let sample = Sample {
            at_ms,
            ok,
            latency_ms,
            value: Some(f64::from(request.status)),
            error: None,
            host: None,
        };
        if !ok {
            if self.recent_bad.len() == EVIDENCE_LINES {
                self.recent_bad.pop_front();
            }
            self.recent_bad
                .push_back((line.to_string(), file.to_string()));
        }
        self.window.push(sample);
        if let Some(history) = &mut self.history {
            history.observe(Observation {
                at,
                key: &self.source,
                latency_ms: latency_ms as f64,
                error: !ok,
            });
            // Hourly, with a day's margin past the oldest day a baseline reads.
            if at.as_second().saturating_sub(self.trimmed_at) >= 3600 {
                self.trimmed_at = at.as_second();
                history.forget_before(at.as_second() - (i64::from(self.history_days) + 1) * 86_400);
            }
        }
        for index in 0..self.rules.len() {
            self.evaluate(index, at, at_ms, events);
        }
    }

    fn baseline(&self, rule: &MetricRule, at: Timestamp) -> Option<f64> {
        let series = self.history.as_ref()?.series(&self.source)?;
        let start = at.as_second().div_euclid(BASELINE_WINDOW_S) * BASELINE_WINDOW_S;
        let spec = BaselineSpec {
            days: rule.baseline_days,
            ..BaselineSpec::default()
        };
        match rule.expr.metric {
            Metric::ErrorRate => baseline_of(series, start, &spec, |p| {
                p.errors as f64 / p.requests.max(1) as f64
            }),
            _ => baseline_of(series, start, &spec, |p| p.p95_ms),
        }
    }

    fn evaluate(&mut self, index: usize, at: Timestamp, at_ms: u64, events: &mut Vec<MetricEvent>) {
        let rule = &self.spec.rules[index];
        let baseline = if rule.expr.baseline {
            self.baseline(rule, at)
        } else {
            None
        };
        let held = evaluate_against(&rule.expr, self.window.samples(), at_ms, baseline);
        let run = &mut self.rules[index];
        let fired = run.sustained.update(&rule.expr, held.clone(), at_ms);
        match (fired, run.firing) {
            (Some(fired), None) => {
                run.firing = Some(at);
                events.push(MetricEvent::Fired {
                    rule: index,
                    at,
                    fired: describe(rule, &fired, baseline),
                    lines: self.recent_bad.iter().cloned().collect(),
                });
            }
            (None, Some(since)) if held.is_none() => {
                run.firing = None;
                events.push(MetricEvent::Resolved {
                    rule: index,
                    at,
                    since,
                });
            }
            _ => {}
        }
    }
}

fn describe(rule: &MetricRule, fired: &Fired, baseline: Option<f64>) -> MetricFired {
    let metric = match rule.expr.metric {
        Metric::Percentile(p) => format!("p{p}"),
        m => m.name(),
    };
    MetricFired {
        expr: rule.text.clone(),
        metric,
        value: fired.value,
        threshold: match baseline {
            Some(b) => rule.expr.threshold * b,
            None => rule.expr.threshold,
        },
        baseline,
        requests: fired.samples,
        bad: fired.failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> MetricRule {
        MetricRule {
            name: "r".into(),
            expr: tejun_probe::parse_expr_in(text, Some("web")).unwrap(),
            text: text.into(),
            severity: None,
            actions: Actions::default(),
            baseline_days: 7,
            unchecked_runbooks: Vec::new(),
        }
    }

    fn line(at: Timestamp, status: u16, secs: f64) -> String {
        let t = at
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%d/%b/%Y:%H:%M:%S %z");
        format!("127.0.0.1 - - [{t}] \"GET /api/x HTTP/1.1\" {status} 10 \"-\" \"t\" {secs:.3}")
    }

    fn run(rules: &[&str]) -> MetricRun {
        let format = tejun_signals::access::nginx::compile(
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" $request_time",
            jiff::tz::TimeZone::UTC,
        )
        .unwrap();
        MetricRun::new(
            "web",
            MetricSpec {
                format,
                rules: rules.iter().map(|t| rule(t)).collect(),
            },
        )
    }

    #[test]
    fn an_error_burst_fires_once_and_resolves_once() {
        let mut run = run(&["error_rate > 5% over 10s"]);
        let t0 = Timestamp::from_second(1_800_000_000).unwrap();
        let mut events = Vec::new();
        for i in 0..100 {
            let at = t0 + jiff::SignedDuration::from_millis(i * 100);
            let status = if (40..60).contains(&i) { 503 } else { 200 };
            run.line(&line(at, status, 0.01), "access.log", &mut events);
        }
        // Then healthy for long enough that the window forgets the burst.
        for i in 0..200 {
            let at = t0 + jiff::SignedDuration::from_millis(10_000 + i * 100);
            run.line(&line(at, 200, 0.01), "access.log", &mut events);
        }
        let fired: Vec<_> = events
            .iter()
            .filter(|e| matches!(e, MetricEvent::Fired { .. }))
            .collect();
        let resolved = events
            .iter()
            .filter(|e| matches!(e, MetricEvent::Resolved { .. }))
            .count();
        assert_eq!((fired.len(), resolved), (1, 1), "{events:?}");
        let MetricEvent::Fired { fired, lines, .. } = fired[0] else {
            unreachable!()
        };
        assert!(fired.value > 0.05);
        assert!(lines.iter().all(|(l, _)| l.contains(" 503 ")));
        assert!(fired.describe(Lang::Ja).contains("しきい値 5.0%"));
    }

    #[test]
    fn a_baseline_rule_needs_a_previous_day_and_fires_on_a_doubling() {
        let mut run = run(&["p95 > 2x baseline for 10m"]);
        let t0 = Timestamp::from_second(1_800_000_000 / 86_400 * 86_400).unwrap();
        let mut events = Vec::new();
        // Two days, one request every 10 s: 200 ms on day 0, 600 ms on day 1
        // from 06:00.
        for i in 0..(2 * 8640) {
            let at = t0 + jiff::SignedDuration::from_secs(i * 10);
            let slow = i >= 8640 + 6 * 360;
            let secs = if slow { 0.6 } else { 0.2 };
            run.line(&line(at, 200, secs), "access.log", &mut events);
        }
        let fired: Vec<Timestamp> = events
            .iter()
            .filter_map(|e| match e {
                MetricEvent::Fired { at, .. } => Some(*at),
                _ => None,
            })
            .collect();
        assert_eq!(fired.len(), 1, "{events:?}");
        let since_six = fired[0].as_second() - (t0.as_second() + 86_400 + 6 * 3600);
        // The 1-minute window must be all slow (≤ 1 min), then 10 min held.
        assert!((600..=660).contains(&since_six), "{since_six}");
    }
}
