//! Metric rules on a followed access log: `error_rate > 5% over 1m`,
//! `p95 > 3s over 5m`, `p95 > 2x baseline for 30m`,
//! `burn_rate(99.9%) > 14.4 over 1h and 5m`; and on a followed slow log:
//! `query_time p95 > 2s over 5m`, `count > 100 over 1m`,
//! `rows_examined p95 > 10000 over 5m`, optionally for one fingerprint.
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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use tejun_locale::Lang;
use tejun_probe::window::{Window, evaluate_against, evaluate_counts_against};
use tejun_probe::{Expr, Field, Fired, Metric, Sample, Sustained};
use tejun_signals::access::LineFormat;
use tejun_signals::digest::{EmbeddedNumbers, FollowedSlowLog, Query};
use tejun_signals::trend::baseline::{BaselineSpec, baseline_of};
use tejun_signals::trend::series::{Observation, Point, SeriesBuilder};

use crate::buckets::{Buckets, SavedMinute};
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
    /// Slow logs: judge only the queries of this fingerprint (written as
    /// pt-query-digest prints it, or as a sample statement).
    #[serde(default)]
    pub fingerprint: Option<Spanned<String>>,
    /// `endpoint` (access logs) or `fingerprint` (slow logs): judge each
    /// apart, one episode each.
    #[serde(default)]
    pub each: Option<Spanned<String>>,
    /// With `each`: how many keys are tracked (default 20).
    #[serde(default)]
    pub top: Option<Spanned<u32>>,
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
    /// Slow logs: only the queries with this fingerprint count.
    pub fingerprint: Option<String>,
    /// `each:`: judged per endpoint (or fingerprint), for at most this
    /// many of them.
    pub each: Option<usize>,
    /// Its window is longer than samples are kept for: it reads
    /// per-minute counts.
    pub bucketed: bool,
    /// Runbook actions not checked yet (see [`prepare`]).
    pub unchecked_runbooks: Vec<RawRunbook>,
}

/// What a source with metric rules is read as.
#[derive(Debug, Clone)]
pub enum MetricInput {
    /// An access log in this format: one sample per request.
    Access(LineFormat),
    /// A MySQL/MariaDB or PostgreSQL slow log: one sample per query.
    SlowLog(tejun_signals::digest::Format),
}

/// A source's input and metric rules.
#[derive(Debug, Clone)]
pub struct MetricSpec {
    pub input: MetricInput,
    pub rules: Vec<MetricRule>,
}

/// The longest window kept as samples (one per request), which
/// percentiles need; longer windows keep per-minute counts.
pub const LONGEST_WINDOW: Duration = Duration::from_secs(6 * 3600);

/// The longest window kept as per-minute counts (`error_rate`, `count`,
/// `burn_rate`).
pub const LONGEST_COUNTED: Duration = Duration::from_secs(28 * 86_400);

/// `each:` tracks this many endpoints or fingerprints unless `top` says.
pub const DEFAULT_TOP: usize = 20;
/// The most `top` may be.
pub const MAX_TOP: u32 = 200;

/// Reads one rule. `at(offset)` locates a byte of the `when:` text in the
/// config file.
pub(crate) fn build_rule(
    raw: RawMetric,
    source: &str,
    slow_log: bool,
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
    if slow_log {
        return slow_log_rule(raw, name, text, expr, located);
    }
    if let Some((field_at, _)) = expr.field_at {
        return Err(located(
            &raw.when.referenced,
            field_at,
            format!(
                "rule `{name}`: `{}` is read from a slow log, and this source is an access log (add `slow_log: mysql` or `slow_log: postgres` to the source)",
                expr.field.name()
            ),
            format!(
                "ルール `{name}`: `{}` はスローログの項目ですが、このソースはアクセスログです (ソースに `slow_log: mysql` か `slow_log: postgres` を書いてください)",
                expr.field.name()
            ),
        ));
    }
    if let Some(fp) = &raw.fingerprint {
        return Err(located(
            &fp.referenced,
            0,
            format!(
                "rule `{name}`: `fingerprint` is for slow logs, and this source is an access log"
            ),
            format!(
                "ルール `{name}`: `fingerprint` はスローログ用ですが、このソースはアクセスログです"
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
    finish_rule(raw, name, text, expr, None, false, located)
}

/// A rule on a slow log: what a query measures (`query_time`, `lock_time`,
/// `rows_sent`, `rows_examined`; a bare `p95` is `query_time p95`), how
/// many there are (`count`), a latency objective's burn rate; optionally
/// for one fingerprint.
fn slow_log_rule(
    raw: RawMetric,
    name: String,
    text: String,
    mut expr: Expr,
    located: impl Fn(&serde_saphyr::Location, usize, String, String) -> ConfigError,
) -> Result<MetricRule, ConfigError> {
    if let Metric::Percentile(_) = expr.metric
        && expr.field == Field::Latency
    {
        expr.field = Field::QueryTime;
    }
    let unusable = match expr.metric {
        Metric::Failing | Metric::Prometheus | Metric::ErrorRate => Some(expr.metric.name()),
        Metric::BurnRate if expr.slo.is_some_and(|s| s.latency_ms.is_none()) => {
            Some("burn_rate(99.9%)".to_string())
        }
        Metric::Percentile(p) if expr.baseline && (p != 95 || expr.field != Field::QueryTime) => {
            Some(format!("{} p{p} … baseline", expr.field.name()))
        }
        _ => None,
    };
    if let Some(what) = unusable {
        return Err(located(
            &raw.when.referenced,
            0,
            format!(
                "rule `{name}`: `{what}` cannot be read from a slow log (a query has no status: use query_time/lock_time/rows_sent/rows_examined pNN, count, or burn_rate(99% < 2s); baselines are kept for query_time p95)"
            ),
            format!(
                "ルール `{name}`: `{what}` はスローログから読めません (クエリにステータスはありません。query_time/lock_time/rows_sent/rows_examined の pNN、count、burn_rate(99% < 2s) を使います。ベースラインは query_time p95 のみ)"
            ),
        ));
    }
    let fingerprint = match &raw.fingerprint {
        None => None,
        Some(fp) => {
            let normalised =
                tejun_signals::digest::fingerprint(fp.value.trim(), EmbeddedNumbers::Keep);
            if normalised.is_empty() {
                return Err(located(
                    &fp.referenced,
                    0,
                    format!("rule `{name}`: an empty fingerprint matches no query"),
                    format!("ルール `{name}`: 空のフィンガープリントはどのクエリにも一致しません"),
                ));
            }
            if expr.baseline {
                return Err(located(
                    &fp.referenced,
                    0,
                    format!(
                        "rule `{name}`: baselines of one fingerprint are kept with `each: fingerprint`"
                    ),
                    format!(
                        "ルール `{name}`: フィンガープリントごとのベースラインは `each: fingerprint` で持ちます"
                    ),
                ));
            }
            if let Some(each) = &raw.each {
                return Err(located(
                    &each.referenced,
                    0,
                    format!("rule `{name}`: give `fingerprint` or `each`, not both"),
                    format!(
                        "ルール `{name}`: `fingerprint` と `each` はどちらか一方だけにしてください"
                    ),
                ));
            }
            Some(normalised)
        }
    };
    finish_rule(raw, name, text, expr, fingerprint, true, located)
}

/// What every metric rule checks: its window, `baseline_days`, actions.
fn finish_rule(
    raw: RawMetric,
    name: String,
    text: String,
    expr: Expr,
    fingerprint: Option<String>,
    slow_log: bool,
    located: impl Fn(&serde_saphyr::Location, usize, String, String) -> ConfigError,
) -> Result<MetricRule, ConfigError> {
    let key = if slow_log { "fingerprint" } else { "endpoint" };
    let each = match (&raw.each, &raw.top) {
        (None, None) => None,
        (None, Some(top)) => {
            return Err(located(
                &top.referenced,
                0,
                format!("rule `{name}`: `top` bounds `each: {key}`, which is not given"),
                format!(
                    "ルール `{name}`: `top` は `each: {key}` の上限ですが、`each` がありません"
                ),
            ));
        }
        (Some(each), _) if each.value.trim() != key => {
            return Err(located(
                &each.referenced,
                0,
                format!(
                    "rule `{name}`: `each: {}` is not known here: use `each: {key}`",
                    each.value.trim()
                ),
                format!(
                    "ルール `{name}`: `each: {}` はここでは使えません: `each: {key}` と書いてください",
                    each.value.trim()
                ),
            ));
        }
        (Some(_), Some(top)) if !(1..=MAX_TOP).contains(&top.value) => {
            return Err(located(
                &top.referenced,
                0,
                format!("rule `{name}`: top must be 1..{MAX_TOP}, not {}", top.value),
                format!(
                    "ルール `{name}`: top は 1〜{MAX_TOP} で指定してください ({} は不可)",
                    top.value
                ),
            ));
        }
        (Some(_), top) => Some(top.as_ref().map_or(DEFAULT_TOP, |t| t.value as usize)),
    };
    let bucketed = expr.lookback() > LONGEST_WINDOW;
    let long_refused = if expr.lookback() > LONGEST_COUNTED {
        Some((
            "windows longer than 28d are not kept by a watcher",
            "28d を超える窓は watch では保持しません",
        ))
    } else if bucketed && matches!(expr.metric, Metric::Percentile(_)) {
        Some((
            "percentiles over windows longer than 6h are not kept by a watcher (one sample per request); error_rate, count and burn_rate are, up to 28d (per-minute counts)",
            "6h を超える窓のパーセンタイルは watch では保持しません (リクエストごとに 1 サンプル)。error_rate・count・burn_rate は 28d まで保持します (1 分ごとの件数)",
        ))
    } else if bucketed && (expr.baseline || each.is_some()) {
        Some((
            "windows longer than 6h are kept for the whole source, without baselines or `each`",
            "6h を超える窓はソース全体で保持し、ベースラインや `each` とは併用できません",
        ))
    } else {
        None
    };
    if let Some((en, ja)) = long_refused {
        return Err(located(
            &raw.when.referenced,
            0,
            format!("rule `{name}`: {en}"),
            format!("ルール `{name}`: {ja}"),
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
        fingerprint,
        each,
        bucketed,
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
    /// `error_rate`, `p95`, `burn_rate`, `count`, `query_time p95`,
    /// `rows_examined p95`.
    pub metric: String,
    /// Fraction, milliseconds, rows, a count or a burn rate.
    pub value: f64,
    /// What it was compared with (the factor times the baseline, for one).
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// Requests (queries, for a slow log) in the window, and the failed
    /// (or slow) ones among them.
    pub requests: usize,
    pub bad: usize,
    /// The samples are a slow log's queries, not requests.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queries: bool,
    /// The fingerprint a slow-log rule is limited to (or, with `each:
    /// fingerprint`, the one that fired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// With `each: endpoint`: the endpoint that fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl MetricFired {
    fn show(&self, v: f64) -> String {
        match self.metric.as_str() {
            "error_rate" => format!("{:.1}%", v * 100.0),
            "burn_rate" => format!("{v:.1}×"),
            "count" => format!("{v:.0}"),
            m if m.starts_with("rows_") => format!("{v:.0}"),
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
        let of = match self.fingerprint.as_ref().or(self.endpoint.as_ref()) {
            Some(fp) => match lang {
                Lang::En => format!(" of `{fp}`"),
                Lang::Ja => format!(" (`{fp}`)"),
            },
            None => String::new(),
        };
        match (lang, self.queries) {
            (Lang::En, false) => format!(
                "{}{of} = {} (threshold {}{base}, {} requests, {} bad) — `{}`",
                self.metric,
                self.show(self.value),
                self.show(self.threshold),
                self.requests,
                self.bad,
                self.expr
            ),
            (Lang::Ja, false) => format!(
                "{}{of} = {} (しきい値 {}{base}、リクエスト {} 件中 {} 件が不良) — `{}`",
                self.metric,
                self.show(self.value),
                self.show(self.threshold),
                self.requests,
                self.bad,
                self.expr
            ),
            (Lang::En, true) => format!(
                "{}{of} = {} (threshold {}{base}, {} queries) — `{}`",
                self.metric,
                self.show(self.value),
                self.show(self.threshold),
                self.requests,
                self.expr
            ),
            (Lang::Ja, true) => format!(
                "{}{of} = {} (しきい値 {}{base}、クエリ {} 件) — `{}`",
                self.metric,
                self.show(self.value),
                self.show(self.threshold),
                self.requests,
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
        /// The latest bad lines (queries, for a slow log), as evidence:
        /// (text, file).
        lines: Vec<(String, String)>,
    },
    Resolved {
        rule: usize,
        at: Timestamp,
        /// When it had fired.
        since: Timestamp,
        /// The endpoint or fingerprint, for an `each:` rule.
        key: Option<String>,
    },
}

/// Whether one expression holds, and since when it fired.
#[derive(Default)]
struct Episode {
    sustained: Sustained,
    /// Fired and not yet resolved: when.
    firing: Option<Timestamp>,
}

struct RuleRun {
    episode: Episode,
    /// The window it reads, in [`MetricRun::windows`] (`None` for an
    /// `each:` rule, whose windows are its keys').
    window: Option<usize>,
    per_key: Option<PerKey>,
}

/// How many bad lines a detection carries as evidence.
const EVIDENCE_LINES: usize = 10;

/// The samples some rules read: one field of the queries of one
/// fingerprint (or of every query), or an access log's requests.
struct Samples {
    fingerprint: Option<String>,
    field: Field,
    window: Window,
    /// Per-minute counts, for rules whose windows are longer than
    /// samples are kept for.
    buckets: Option<Buckets>,
    /// The latest evidence: bad requests, or the queries themselves.
    recent: VecDeque<(String, String)>,
}

/// One endpoint or fingerprint of an `each:` rule.
struct Keyed {
    window: Window,
    recent: VecDeque<(String, String)>,
    episode: Episode,
}

/// An `each:` rule's keys: the `top` most requested endpoints (or
/// fingerprints) are tracked, by a request count halved every hour of log
/// time so that yesterday's traffic gives way to today's. Counts are kept
/// for at most 10 × `top` keys (the less frequent half is dropped when
/// full), so memory is bounded whatever the log holds.
struct PerKey {
    top: usize,
    keep: Duration,
    tracked: HashMap<String, Keyed>,
    counts: HashMap<String, f64>,
    halved_at: i64,
}

impl PerKey {
    fn new(top: usize, keep: Duration) -> PerKey {
        PerKey {
            top,
            keep,
            tracked: HashMap::new(),
            counts: HashMap::new(),
            halved_at: i64::MIN,
        }
    }

    /// Counts one request of `key` at `at_s`; true when `key` is tracked
    /// (then `evicted` may name the key it replaced).
    fn admit(&mut self, key: &str, at_s: i64, evicted: &mut Vec<String>) -> bool {
        if at_s.saturating_sub(self.halved_at) >= 3600 {
            self.halved_at = at_s;
            self.counts.values_mut().for_each(|c| *c /= 2.0);
        }
        if self.counts.len() >= self.top * 10 && !self.counts.contains_key(key) {
            let mut values: Vec<f64> = self.counts.values().copied().collect();
            values.sort_by(f64::total_cmp);
            let median = values[values.len() / 2];
            let tracked = &self.tracked;
            self.counts
                .retain(|k, c| *c > median || tracked.contains_key(k));
        }
        let count = {
            let c = self.counts.entry(key.to_string()).or_default();
            *c += 1.0;
            *c
        };
        if self.tracked.contains_key(key) {
            return true;
        }
        if self.tracked.len() >= self.top {
            // The least requested key that is not firing makes room, if
            // this one is requested more.
            let weakest = self
                .tracked
                .iter()
                .filter(|(_, k)| k.episode.firing.is_none())
                .map(|(name, _)| (name.clone(), self.counts.get(name).copied().unwrap_or(0.0)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match weakest {
                Some((name, c)) if c < count => {
                    self.tracked.remove(&name);
                    evicted.push(name);
                }
                _ => return false,
            }
        }
        self.tracked.insert(
            key.to_string(),
            Keyed {
                window: Window::new(self.keep),
                recent: VecDeque::new(),
                episode: Episode::default(),
            },
        );
        true
    }
}

/// How a source's lines become samples.
enum Reader {
    Access {
        format: LineFormat,
        templates: tejun_signals::access::template::Templates,
    },
    SlowLog {
        format: tejun_signals::digest::Format,
        /// One reader per followed file: an entry half written in one
        /// file must not take in another's lines. A reader between
        /// entries is dropped (files rotated away leave nothing behind).
        logs: HashMap<String, FollowedSlowLog>,
        fingerprinter: tejun_signals::digest::Fingerprinter,
    },
}

/// A source's metric rules at run time: the samples their windows read,
/// the window series their baselines read, and whether each is firing.
pub struct MetricRun {
    spec: MetricSpec,
    reader: Reader,
    rules: Vec<RuleRun>,
    windows: Vec<Samples>,
    /// Per-minute points for baselines: the whole source's (key `""`)
    /// and each tracked key's of `each:` baseline rules, kept as many days
    /// back as the longest `baseline_days` (a few numbers per minute).
    history: Option<SeriesBuilder>,
    history_days: u32,
    /// When history was last trimmed (Unix seconds).
    trimmed_at: i64,
    /// Closed history points from this start on are not saved yet.
    saved_from: i64,
    /// Keys whose history was dropped since the last save.
    forgotten: Vec<String>,
    /// The minute of log time `each:` rules were last all evaluated in.
    swept_minute: i64,
    /// Lines the format could not read (malformed entries, for a slow
    /// log).
    pub unreadable: u64,
}

/// Baseline windows: one minute, the statistics default.
const BASELINE_WINDOW_S: i64 = 60;

/// The history key of the whole source.
const SOURCE_KEY: &str = "";

/// A slow-log statement as evidence: its figures, then the statement on
/// one line (cut at 1,000 characters).
fn query_evidence(q: &Query) -> String {
    let mut statement: String = q.text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = statement.char_indices().nth(1000) {
        statement.truncate(cut);
        statement.push('…');
    }
    let mut figures = format!("# Query_time: {:.6}", q.query_time);
    if let Some(lock) = q.lock_time {
        figures.push_str(&format!("  Lock_time: {lock:.6}"));
    }
    if let Some(rows) = q.rows_sent {
        figures.push_str(&format!("  Rows_sent: {rows}"));
    }
    if let Some(rows) = q.rows_examined {
        figures.push_str(&format!("  Rows_examined: {rows}"));
    }
    format!("{figures}  {statement}")
}

fn push_recent(recent: &mut VecDeque<(String, String)>, text: &str, file: &str) {
    if recent.len() == EVIDENCE_LINES {
        recent.pop_front();
    }
    recent.push_back((text.to_string(), file.to_string()));
}

/// One request or query, as every window sees it.
struct Seen<'a> {
    at: Timestamp,
    ok: bool,
    status: Option<f64>,
    /// Endpoint or fingerprint, when some rule needs it.
    key: Option<&'a str>,
    /// The evidence line, when this one is evidence.
    evidence: Option<&'a str>,
    file: &'a str,
}

impl MetricRun {
    pub fn new(spec: MetricSpec) -> MetricRun {
        let mut windows: Vec<Samples> = Vec::new();
        let mut rules = Vec::new();
        for rule in &spec.rules {
            if let Some(top) = rule.each {
                rules.push(RuleRun {
                    episode: Episode::default(),
                    window: None,
                    per_key: Some(PerKey::new(top, rule.expr.lookback())),
                });
                continue;
            }
            let index = match windows
                .iter()
                .position(|w| w.fingerprint == rule.fingerprint && w.field == rule.expr.field)
            {
                Some(index) => index,
                None => {
                    windows.push(Samples {
                        fingerprint: rule.fingerprint.clone(),
                        field: rule.expr.field,
                        window: Window::new(Duration::ZERO),
                        buckets: None,
                        recent: VecDeque::new(),
                    });
                    windows.len() - 1
                }
            };
            let samples = &mut windows[index];
            if rule.bucketed {
                let keep = samples
                    .buckets
                    .as_ref()
                    .map_or(Duration::ZERO, Buckets::keep)
                    .max(rule.expr.lookback());
                let mut buckets = Buckets::new(keep);
                for slo in spec
                    .rules
                    .iter()
                    .filter(|r| r.bucketed)
                    .filter_map(|r| r.expr.slo)
                {
                    if let Some(ms) = slo.latency_ms {
                        buckets.counting_slower_than(ms);
                    }
                }
                samples.buckets = Some(buckets);
            } else {
                let keep = samples.window.keep().max(rule.expr.lookback());
                samples.window = Window::new(keep);
            }
            rules.push(RuleRun {
                episode: Episode::default(),
                window: Some(index),
                per_key: None,
            });
        }
        let baselines: Vec<&MetricRule> = spec.rules.iter().filter(|r| r.expr.baseline).collect();
        let history_days = baselines.iter().map(|r| r.baseline_days).max().unwrap_or(0);
        let reader = match &spec.input {
            MetricInput::Access(format) => Reader::Access {
                format: format.clone(),
                templates: Default::default(),
            },
            MetricInput::SlowLog(format) => Reader::SlowLog {
                format: *format,
                logs: HashMap::new(),
                fingerprinter: Default::default(),
            },
        };
        MetricRun {
            reader,
            rules,
            windows,
            history: (!baselines.is_empty()).then(|| SeriesBuilder::new(BASELINE_WINDOW_S)),
            history_days,
            trimmed_at: i64::MIN,
            saved_from: i64::MIN,
            forgotten: Vec::new(),
            swept_minute: i64::MIN,
            unreadable: 0,
            spec,
        }
    }

    pub fn rule(&self, index: usize) -> &MetricRule {
        &self.spec.rules[index]
    }

    fn needs_key(&self) -> bool {
        self.rules.iter().any(|r| r.per_key.is_some())
            || self.windows.iter().any(|w| w.fingerprint.is_some())
    }

    /// Reads one line of the source and evaluates every rule at its time
    /// (a slow log's rules, once the line finished a query).
    pub fn line(&mut self, line: &str, file: &str, events: &mut Vec<MetricEvent>) {
        let needs_key = self.needs_key();
        let (request, templates) = match &mut self.reader {
            Reader::Access { format, templates } => (format.parse(line), &*templates),
            Reader::SlowLog { format, logs, .. } => {
                let log = match logs.get_mut(file) {
                    Some(log) => log,
                    None => logs.entry(file.to_string()).or_insert_with(|| {
                        FollowedSlowLog::new(*format, tejun_locale::operator_zone())
                    }),
                };
                let mut out = Vec::new();
                log.line(line, &mut out);
                self.queries(out, file, events);
                return;
            }
        };
        let Ok(request) = request else {
            self.unreadable += 1;
            return;
        };
        let latency_ms = request
            .request_time
            .or(request.upstream_time)
            .map_or(0, |d| d.as_millis() as u64);
        let ok = request.status < 500;
        let mut key = String::new();
        if needs_key {
            if !request.method.is_empty() {
                key.push_str(request.method);
                key.push(' ');
            }
            templates.push(request.path, &mut key);
        }
        let seen = Seen {
            at: request.time,
            ok,
            status: Some(f64::from(request.status)),
            key: needs_key.then_some(key.as_str()),
            evidence: (!ok).then_some(line),
            file,
        };
        self.observe(&seen, |_| latency_ms);
        self.evaluate_all(&seen, events);
    }

    /// Everything written so far has been read: a slow log's query in
    /// progress is judged if its statement is complete.
    pub fn written(&mut self, events: &mut Vec<MetricEvent>) {
        let Reader::SlowLog { logs, .. } = &mut self.reader else {
            return;
        };
        let mut finished = Vec::new();
        for (file, log) in logs.iter_mut() {
            let mut out = Vec::new();
            log.written(&mut out);
            if !out.is_empty() {
                finished.push((file.clone(), out));
            }
        }
        logs.retain(|_, log| !log.idle());
        // In file-name order, the same on every run.
        finished.sort_by(|a, b| a.0.cmp(&b.0));
        for (file, out) in finished {
            self.queries(out, &file, events);
        }
    }

    fn queries(
        &mut self,
        out: Vec<Result<Query, tejun_signals::digest::Malformed>>,
        file: &str,
        events: &mut Vec<MetricEvent>,
    ) {
        let needs_key = self.needs_key();
        for entry in out {
            let Ok(q) = entry else {
                self.unreadable += 1;
                continue;
            };
            let Reader::SlowLog { fingerprinter, .. } = &mut self.reader else {
                return;
            };
            let fingerprint = needs_key.then(|| {
                fingerprinter
                    .fingerprint(&q.text, EmbeddedNumbers::Keep)
                    .to_string()
            });
            let evidence = query_evidence(&q);
            let seen = Seen {
                // A query without a time in its entry is judged when read.
                at: q.time.unwrap_or_else(Timestamp::now),
                ok: true,
                status: None,
                key: fingerprint.as_deref(),
                evidence: Some(&evidence),
                file,
            };
            let value = |field: Field| -> u64 {
                let ms = |s: f64| (s * 1000.0).round().max(0.0) as u64;
                match field {
                    Field::Latency | Field::QueryTime => ms(q.query_time),
                    Field::LockTime => ms(q.lock_time.unwrap_or(0.0)),
                    Field::RowsSent => q.rows_sent.unwrap_or(0),
                    Field::RowsExamined => q.rows_examined.unwrap_or(0),
                }
            };
            self.observe(&seen, value);
            self.evaluate_all(&seen, events);
        }
    }

    /// One request or query: a sample in every window it belongs to
    /// (`value` gives each window's field), and a point of history.
    fn observe(&mut self, seen: &Seen<'_>, value: impl Fn(Field) -> u64) {
        let at_ms = u64::try_from(seen.at.as_millisecond()).unwrap_or(0);
        let sample = |field: Field| Sample {
            at_ms,
            ok: seen.ok,
            latency_ms: value(field),
            value: seen.status,
            error: None,
            host: None,
        };
        for samples in &mut self.windows {
            if samples.fingerprint.is_some() && samples.fingerprint.as_deref() != seen.key {
                continue;
            }
            samples.window.push(sample(samples.field));
            if let Some(buckets) = &mut samples.buckets {
                buckets.push(seen.at.as_second(), seen.ok, value(samples.field));
            }
            if let Some(text) = seen.evidence {
                push_recent(&mut samples.recent, text, seen.file);
            }
        }
        let mut evicted = Vec::new();
        let mut keyed_history = false;
        if let Some(key) = seen.key {
            for (run, rule) in self.rules.iter_mut().zip(&self.spec.rules) {
                let Some(per_key) = &mut run.per_key else {
                    continue;
                };
                if !per_key.admit(key, seen.at.as_second(), &mut evicted) {
                    continue;
                }
                keyed_history |= rule.expr.baseline;
                let keyed = per_key.tracked.get_mut(key).expect("admitted");
                keyed.window.push(sample(rule.expr.field));
                if let Some(text) = seen.evidence {
                    push_recent(&mut keyed.recent, text, seen.file);
                }
            }
        }
        let Some(history) = &mut self.history else {
            return;
        };
        // A key one `each:` rule dropped may be another's still: its
        // history goes only when no rule tracks it.
        for key in evicted {
            let still = self.rules.iter().any(|r| {
                r.per_key
                    .as_ref()
                    .is_some_and(|p| p.tracked.contains_key(&key))
            });
            if !still {
                history.forget_key(&key);
                self.forgotten.push(key);
            }
        }
        let latency_ms = value(Field::QueryTime) as f64;
        let whole = self
            .spec
            .rules
            .iter()
            .any(|r| r.expr.baseline && r.each.is_none());
        if whole {
            history.observe(Observation {
                at: seen.at,
                key: SOURCE_KEY,
                latency_ms,
                error: !seen.ok,
            });
        }
        if keyed_history && let Some(key) = seen.key {
            history.observe(Observation {
                at: seen.at,
                key,
                latency_ms,
                error: !seen.ok,
            });
        }
        // Hourly, with a day's margin past the oldest day a baseline reads.
        if seen.at.as_second().saturating_sub(self.trimmed_at) >= 3600 {
            self.trimmed_at = seen.at.as_second();
            let cutoff = cutoff(self.trimmed_at, self.history_days);
            history.forget_before(cutoff);
        }
    }

    fn history_cutoff(&self) -> i64 {
        cutoff(self.trimmed_at, self.history_days)
    }

    fn evaluate_all(&mut self, seen: &Seen<'_>, events: &mut Vec<MetricEvent>) {
        let at = seen.at;
        let at_ms = u64::try_from(at.as_millisecond()).unwrap_or(0);
        // Keys that got no request now are judged once a minute of log
        // time, so an episode resolves even when its key falls silent.
        let minute = at.as_second().div_euclid(60);
        let sweep = minute != self.swept_minute;
        self.swept_minute = minute;
        for index in 0..self.rules.len() {
            if self.rules[index].per_key.is_none() {
                self.evaluate(index, None, at, at_ms, events);
                continue;
            }
            let keys: Vec<String> = match (sweep, seen.key) {
                (true, _) => self.rules[index]
                    .per_key
                    .as_ref()
                    .map(|p| p.tracked.keys().cloned().collect())
                    .unwrap_or_default(),
                (false, Some(key)) => vec![key.to_string()],
                (false, None) => Vec::new(),
            };
            for key in keys {
                self.evaluate(index, Some(&key), at, at_ms, events);
            }
        }
    }

    fn baseline(&self, rule: &MetricRule, key: Option<&str>, at: Timestamp) -> Option<f64> {
        let series = self.history.as_ref()?.series(key.unwrap_or(SOURCE_KEY))?;
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

    fn evaluate(
        &mut self,
        index: usize,
        key: Option<&str>,
        at: Timestamp,
        at_ms: u64,
        events: &mut Vec<MetricEvent>,
    ) {
        let rule = &self.spec.rules[index];
        let baseline = if rule.expr.baseline {
            self.baseline(rule, key, at)
        } else {
            None
        };
        let queries = matches!(self.reader, Reader::SlowLog { .. });
        let run = &mut self.rules[index];
        let (window, buckets, recent, episode) = match (key, &mut run.per_key, run.window) {
            (Some(key), Some(per_key), _) => {
                let Some(keyed) = per_key.tracked.get_mut(key) else {
                    return;
                };
                (&keyed.window, None, &keyed.recent, &mut keyed.episode)
            }
            (None, None, Some(w)) => {
                let samples = &self.windows[w];
                (
                    &samples.window,
                    samples.buckets.as_ref(),
                    &samples.recent,
                    &mut run.episode,
                )
            }
            _ => return,
        };
        let held = match buckets {
            Some(buckets) if rule.bucketed => evaluate_counts_against(
                &rule.expr,
                |over| buckets.counts(at.as_second(), over, rule.expr.slo.as_ref()),
                baseline,
            ),
            _ => evaluate_against(&rule.expr, window.samples(), at_ms, baseline),
        };
        let fired = episode.sustained.update(&rule.expr, held.clone(), at_ms);
        match (fired, episode.firing) {
            (Some(fired), None) => {
                episode.firing = Some(at);
                let mut fired = describe(rule, &fired, baseline);
                fired.queries = queries;
                if let Some(key) = key {
                    if queries {
                        fired.fingerprint = Some(key.to_string());
                    } else {
                        fired.endpoint = Some(key.to_string());
                    }
                }
                events.push(MetricEvent::Fired {
                    rule: index,
                    at,
                    fired,
                    lines: recent.iter().cloned().collect(),
                });
            }
            (None, Some(since)) if held.is_none() => {
                episode.firing = None;
                events.push(MetricEvent::Resolved {
                    rule: index,
                    at,
                    since,
                    key: key.map(str::to_string),
                });
            }
            _ => {}
        }
    }

    /// What to save of the baseline history: points closed since the last
    /// call (by history key), keys dropped meanwhile, and the start
    /// before which saved points are no longer read.
    pub fn history_to_save(&mut self) -> Option<HistoryUpdate> {
        let history = self.history.as_ref()?;
        let points: Vec<(String, i64, Point)> = history
            .closed_since(self.saved_from)
            .map(|(k, s, p)| (k.to_string(), s, *p))
            .collect();
        if let Some(newest) = points.iter().map(|p| p.1).max() {
            self.saved_from = newest + 1;
        }
        Some(HistoryUpdate {
            points,
            forgotten: std::mem::take(&mut self.forgotten),
            before: self.history_cutoff(),
        })
    }

    /// Per-minute counts of long windows changed since the last call, by
    /// window name (`field/fingerprint`), with the first minute each
    /// still keeps.
    pub fn buckets_to_save(&mut self) -> Vec<BucketUpdate> {
        self.windows
            .iter_mut()
            .filter_map(|w| {
                let name = bucket_name(w);
                let (minutes, first) = w.buckets.as_mut()?.take_dirty();
                Some((name, minutes, first))
            })
            .collect()
    }

    /// Puts back the per-minute counts a previous watcher saved, by
    /// window name (see [`MetricRun::buckets_to_save`]).
    pub fn restore_buckets(&mut self, mut saved: HashMap<String, Vec<SavedMinute>>) {
        for w in &mut self.windows {
            let name = bucket_name(w);
            if let (Some(buckets), Some(minutes)) = (w.buckets.as_mut(), saved.remove(&name)) {
                buckets.restore(minutes);
            }
        }
    }

    /// Puts back the history a previous watcher saved: the whole source's,
    /// and the keys of `each:` baseline rules (the most requested first,
    /// as many as each rule tracks).
    pub fn restore_history(&mut self, points: Vec<(String, i64, Point)>) {
        let Some(history) = &mut self.history else {
            return;
        };
        let mut requests: HashMap<&str, u64> = HashMap::new();
        for (key, _, point) in &points {
            if key != SOURCE_KEY {
                *requests.entry(key).or_default() += point.requests;
            }
        }
        let mut keys: Vec<(&str, u64)> = requests.into_iter().collect();
        keys.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut kept: HashSet<&str> = HashSet::new();
        for (run, rule) in self.rules.iter_mut().zip(&self.spec.rules) {
            let Some(per_key) = &mut run.per_key else {
                continue;
            };
            if !rule.expr.baseline {
                continue;
            }
            for (key, total) in keys.iter().take(per_key.top) {
                kept.insert(key);
                per_key.counts.insert(key.to_string(), *total as f64);
                per_key.tracked.insert(
                    key.to_string(),
                    Keyed {
                        window: Window::new(per_key.keep),
                        recent: VecDeque::new(),
                        episode: Episode::default(),
                    },
                );
            }
        }
        let mut newest = i64::MIN;
        for (key, start, point) in &points {
            if key == SOURCE_KEY || kept.contains(key.as_str()) {
                history.restore(key, *start, *point);
                newest = newest.max(*start);
            }
        }
        self.saved_from = self.saved_from.max(newest.saturating_add(1));
    }
}

/// What a source's metric rules save after a batch.
#[derive(Debug, Default)]
pub struct MetricSave {
    pub history: Option<HistoryUpdate>,
    pub buckets: Vec<BucketUpdate>,
}

impl MetricRun {
    /// Baseline history and long-window counts changed since the last
    /// call.
    pub fn to_save(&mut self) -> MetricSave {
        MetricSave {
            history: self.history_to_save(),
            buckets: self.buckets_to_save(),
        }
    }
}

/// A long window's minutes to save: (window name, changed minutes, the
/// first minute still kept).
pub type BucketUpdate = (String, Vec<SavedMinute>, Option<i64>);

/// How a long window's counts are named in `watch-state.db`.
fn bucket_name(w: &Samples) -> String {
    format!(
        "{}/{}",
        w.field.name(),
        w.fingerprint.as_deref().unwrap_or("")
    )
}

/// History older than this (Unix seconds) is not read by any baseline:
/// a day's margin past the oldest day one reads.
fn cutoff(newest: i64, days: u32) -> i64 {
    newest.saturating_sub((i64::from(days) + 1) * 86_400)
}

/// Baseline history to save after a batch (see
/// [`MetricRun::history_to_save`]).
#[derive(Debug, Default)]
pub struct HistoryUpdate {
    /// (history key, window start, point); the key is `""` for the whole
    /// source.
    pub points: Vec<(String, i64, Point)>,
    pub forgotten: Vec<String>,
    /// Points starting before this are no longer read.
    pub before: i64,
}

fn describe(rule: &MetricRule, fired: &Fired, baseline: Option<f64>) -> MetricFired {
    let metric = match (rule.expr.metric, rule.expr.field) {
        (Metric::Percentile(p), Field::Latency) => format!("p{p}"),
        (Metric::Percentile(p), field) => format!("{} p{p}", field.name()),
        (m, _) => m.name(),
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
        queries: false,
        fingerprint: rule.fingerprint.clone(),
        endpoint: None,
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
            fingerprint: None,
            each: None,
            bucketed: tejun_probe::parse_expr_in(text, Some("web"))
                .unwrap()
                .lookback()
                > LONGEST_WINDOW,
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
        MetricRun::new(MetricSpec {
            input: MetricInput::Access(format),
            rules: rules.iter().map(|t| rule(t)).collect(),
        })
    }

    #[test]
    fn each_tracks_at_most_top_keys_and_a_busier_one_takes_the_quietest_place() {
        let mut keys = PerKey::new(2, Duration::from_secs(60));
        let mut evicted = Vec::new();
        for _ in 0..5 {
            assert!(keys.admit("GET /a", 0, &mut evicted));
        }
        assert!(keys.admit("GET /b", 0, &mut evicted));
        // Full: a key seen once is not busier than `/b` (also once).
        assert!(!keys.admit("GET /c", 0, &mut evicted));
        // Seen again, it is: it takes `/b`'s place.
        assert!(keys.admit("GET /c", 0, &mut evicted));
        assert_eq!(evicted, ["GET /b"]);
        assert_eq!(keys.tracked.len(), 2);
        // Counts are bounded too, whatever the number of keys seen.
        for i in 0..10_000 {
            keys.admit(&format!("GET /scan/{i}"), 0, &mut evicted);
        }
        assert!(keys.counts.len() <= 20, "{}", keys.counts.len());
        assert!(keys.tracked.contains_key("GET /a"));
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
