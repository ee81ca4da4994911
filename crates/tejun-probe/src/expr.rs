//! The trigger language: one comparison over one probe's recent samples.
//!
//! ```text
//! error_rate(web) > 5% over 1m     failures / samples in the last minute
//! p95(web) > 3s over 1m            95th percentile latency (also p50, p90, p99)
//! failing(web) >= 3                consecutive failures, newest first
//! prometheus(errors) > 0.5         the probe's latest value
//! count(web) > 100 over 1m         samples in the last minute
//! ```
//!
//! A log read by `tejun watch` may measure more than latency: a slow log's
//! rules name what a percentile reads (`rows_examined p95 > 10000 over
//! 5m`, `query_time p95 > 2s`), see [`Field`].
//!
//! `over` defaults to one minute where it applies and is refused where it
//! does not. Errors carry the byte offset and length of the offending text,
//! so a runbook (or a watch rule file) can point at its own line:col.

use std::fmt;
use std::time::Duration;

use tejun_locale::Lang;

use crate::duration::{format_duration, parse_duration};

/// Window of `error_rate`/`pNN` when `over` is not written.
pub const DEFAULT_OVER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub metric: Metric,
    /// What a percentile reads (latency unless a field is written).
    pub field: Field,
    /// Where the field is written (byte offset, length), when it is.
    pub field_at: Option<(usize, usize)>,
    /// The probe the expression reads.
    pub probe: String,
    /// Where the probe's name is written (byte offset, length).
    pub probe_at: (usize, usize),
    pub comparison: Comparison,
    /// In the metric's unit: a fraction for `error_rate`, milliseconds for
    /// latencies, a count for `failing`, the value for `prometheus`.
    pub threshold: f64,
    /// `threshold` is a factor of the metric's baseline (`2x baseline`):
    /// the same window on previous days, which the caller supplies.
    pub baseline: bool,
    /// The sliding window, for the metrics that have one (`burn_rate`'s
    /// long window).
    pub over: Option<Duration>,
    /// `burn_rate`'s short window (`over 1h and 5m`): both must burn.
    pub short: Option<Duration>,
    /// `for 30m`: the comparison must hold that long before it fires.
    pub sustain: Option<Duration>,
    /// `burn_rate`'s objective.
    pub slo: Option<Slo>,
}

/// A service level objective: the fraction of requests that must be good.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// 0.999 for `99.9%`.
    pub objective: f64,
    /// A latency objective (`99% < 300ms`): a request is good when it is
    /// at most this fast. Without it, good means not failed.
    pub latency_ms: Option<f64>,
}

impl Slo {
    /// The error budget: the fraction of requests allowed to be bad.
    pub fn budget(&self) -> f64 {
        1.0 - self.objective
    }
}

impl Expr {
    /// How far back the expression reads: its (long) window, if any.
    pub fn lookback(&self) -> Duration {
        self.over.unwrap_or(Duration::ZERO)
    }
}

/// The quantity a percentile reads. A sample carries one measured
/// quantity (`Sample::latency_ms`); a source that measures several (a slow
/// log) keeps one window per field, each sample's `latency_ms` holding
/// that field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Field {
    /// A request's or probe's duration (ms).
    #[default]
    Latency,
    /// A slow log's `Query_time` (ms).
    QueryTime,
    /// A slow log's `Lock_time` (ms).
    LockTime,
    /// A slow log's `Rows_sent` (a count).
    RowsSent,
    /// A slow log's `Rows_examined` (a count).
    RowsExamined,
}

impl Field {
    pub const ALL: [Field; 5] = [
        Field::Latency,
        Field::QueryTime,
        Field::LockTime,
        Field::RowsSent,
        Field::RowsExamined,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Latency => "latency",
            Field::QueryTime => "query_time",
            Field::LockTime => "lock_time",
            Field::RowsSent => "rows_sent",
            Field::RowsExamined => "rows_examined",
        }
    }

    /// The fields written before a percentile (`latency` is the default
    /// and is not written).
    fn parse(word: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| *f != Field::Latency && f.name() == word)
    }

    /// A duration (thresholds need `ms`/`s`), not a count.
    pub fn is_time(self) -> bool {
        matches!(self, Field::Latency | Field::QueryTime | Field::LockTime)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    ErrorRate,
    /// Latency percentile, 1..=100.
    Percentile(u8),
    Failing,
    Prometheus,
    /// How fast an SLO's error budget burns: the bad fraction divided by
    /// the budget (1 = the budget lasts exactly the SLO period).
    BurnRate,
    /// How many samples (requests, queries) the window holds.
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Comparison {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Gt => left > right,
            Comparison::Ge => left >= right,
            Comparison::Lt => left < right,
            Comparison::Le => left <= right,
            Comparison::Eq => left == right,
            Comparison::Ne => left != right,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
        }
    }

    /// Reads `>`, `>=`, `<`, `<=`, `==`, `!=`.
    pub fn parse(text: &str) -> Option<Comparison> {
        Some(match text {
            ">" => Comparison::Gt,
            ">=" => Comparison::Ge,
            "<" => Comparison::Lt,
            "<=" => Comparison::Le,
            "==" => Comparison::Eq,
            "!=" => Comparison::Ne,
            _ => return None,
        })
    }
}

impl Metric {
    pub fn name(self) -> String {
        match self {
            Metric::ErrorRate => "error_rate".to_string(),
            Metric::Percentile(p) => format!("p{p}"),
            Metric::Failing => "failing".to_string(),
            Metric::Prometheus => "prometheus".to_string(),
            Metric::BurnRate => "burn_rate".to_string(),
            Metric::Count => "count".to_string(),
        }
    }

    fn has_window(self) -> bool {
        matches!(
            self,
            Metric::ErrorRate | Metric::Percentile(_) | Metric::BurnRate | Metric::Count
        )
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threshold = match self.metric {
            _ if self.baseline => format!("{}x baseline", self.threshold),
            Metric::ErrorRate => format!("{}%", self.threshold * 100.0),
            Metric::Percentile(_) if self.field.is_time() => format!("{}ms", self.threshold),
            _ => format!("{}", self.threshold),
        };
        if self.field != Field::Latency {
            write!(f, "{} ", self.field.name())?;
        }
        let slo = match &self.slo {
            Some(slo) => {
                let mut text = format!(", {}%", slo.objective * 100.0);
                if let Some(ms) = slo.latency_ms {
                    text.push_str(&format!(" < {ms}ms"));
                }
                text
            }
            None => String::new(),
        };
        write!(
            f,
            "{}({}{slo}) {} {threshold}",
            self.metric.name(),
            self.probe,
            self.comparison.as_str()
        )?;
        if let Some(over) = self.over {
            write!(f, " over {}", format_duration(over))?;
        }
        if let Some(short) = self.short {
            write!(f, " and {}", format_duration(short))?;
        }
        if let Some(sustain) = self.sustain {
            write!(f, " for {}", format_duration(sustain))?;
        }
        Ok(())
    }
}

/// A problem in an expression, at `at` (byte offset) for `len` bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub at: usize,
    pub len: usize,
    pub kind: ExprErrorKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprErrorKind {
    UnknownMetric(String),
    /// What was expected here, in (English, 日本語).
    Expected(&'static str, &'static str),
    BadNumber(String),
    /// A latency threshold without `ms`/`s`.
    NeedsDurationUnit,
    BadDuration(String),
    /// `over` on `failing`/`prometheus`, `%` where it means nothing (the
    /// text as written, in backticks).
    NotHere(String),
    Trailing(String),
    /// `over 5m and 1h`: the short window is not the shorter one.
    ShortNotShorter,
}

impl ExprError {
    pub fn message(&self, lang: Lang) -> String {
        match &self.kind {
            ExprErrorKind::UnknownMetric(m) => format!(
                "{} `{m}` ({})",
                lang.pick("unknown trigger metric", "不明なトリガー指標"),
                lang.pick(
                    "expected error_rate, p50, p90, p95, p99, burn_rate, count, failing or prometheus",
                    "error_rate, p50, p90, p95, p99, burn_rate, count, failing, prometheus のいずれか"
                )
            ),
            ExprErrorKind::Expected(en, ja) => {
                format!(
                    "{} {}",
                    lang.pick("expected", "ここに必要なもの:"),
                    lang.pick(en, ja)
                )
            }
            ExprErrorKind::BadNumber(t) => {
                format!(
                    "{} `{t}`",
                    lang.pick("not a number:", "数値ではありません:")
                )
            }
            ExprErrorKind::NeedsDurationUnit => lang
                .pick(
                    "a latency threshold needs a unit (`3s`, `300ms`)",
                    "レイテンシのしきい値には単位が必要です (`3s`, `300ms`)",
                )
                .to_string(),
            ExprErrorKind::BadDuration(t) => format!(
                "{} `{t}` ({})",
                lang.pick("not a duration:", "期間ではありません:"),
                lang.pick("write 500ms, 30s, 1m", "500ms, 30s, 1m のように書きます")
            ),
            ExprErrorKind::NotHere(what) => format!(
                "{what} {}",
                lang.pick("does not apply to this metric", "はこの指標には使えません")
            ),
            ExprErrorKind::ShortNotShorter => lang
                .pick(
                    "the second window must be shorter than the first (`over 1h and 5m`)",
                    "2 つ目の期間は 1 つ目より短くしてください (`over 1h and 5m`)",
                )
                .to_string(),
            ExprErrorKind::Trailing(t) => format!(
                "{} `{t}`",
                lang.pick(
                    "unexpected text after the expression:",
                    "式の後に余分な文字があります:"
                )
            ),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.text[self.pos..]
                .chars()
                .next()
                .map_or(1, char::len_utf8);
        }
    }

    /// The next run of characters matching `f`, and where it starts.
    fn take(&mut self, f: impl Fn(char) -> bool) -> (&'a str, usize) {
        self.skip_space();
        let start = self.pos;
        let len: usize = self.text[start..]
            .chars()
            .take_while(|c| f(*c))
            .map(char::len_utf8)
            .sum();
        self.pos += len;
        (&self.text[start..start + len], start)
    }

    fn expect(&mut self, c: char, what: &'static str) -> Result<(), ExprError> {
        self.skip_space();
        if self.text[self.pos..].starts_with(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error_here(ExprErrorKind::Expected(what, what)))
        }
    }

    fn error_here(&self, kind: ExprErrorKind) -> ExprError {
        let len = self.text[self.pos..]
            .chars()
            .next()
            .map_or(0, char::len_utf8);
        ExprError {
            at: self.pos,
            len,
            kind,
        }
    }
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Parses one trigger expression. An error's span always lies within
/// `text` (at its end, it is empty), so a diagnostic can underline it.
pub fn parse_expr(text: &str) -> Result<Expr, ExprError> {
    parse_expr_in(text, None)
}

/// Parses an expression in which the probe may be left out (`error_rate >
/// 5% over 1m`): it then reads `default_probe`. Watch metric rules use this,
/// the default being the rule's own source.
pub fn parse_expr_in(text: &str, default_probe: Option<&str>) -> Result<Expr, ExprError> {
    parse(text, default_probe).map_err(|mut e| {
        e.at = e.at.min(text.len());
        while !text.is_char_boundary(e.at) {
            e.at -= 1;
        }
        e.len = e.len.min(text.len() - e.at);
        // A one-byte span on a wider character covers the whole character.
        while !text.is_char_boundary(e.at + e.len) {
            e.len += 1;
        }
        e
    })
}

fn parse(text: &str, default_probe: Option<&str>) -> Result<Expr, ExprError> {
    let mut lx = Lexer { text, pos: 0 };
    let (mut word, mut at) = lx.take(is_word);
    // `rows_examined p95`: the field a percentile reads.
    let mut field = Field::Latency;
    let mut field_at = None;
    if let Some(f) = Field::parse(word) {
        field = f;
        field_at = Some((at, word.len()));
        (word, at) = lx.take(is_word);
        let percentile = word.len() > 1
            && word.starts_with('p')
            && word[1..]
                .parse::<u8>()
                .is_ok_and(|p| (1..=100).contains(&p));
        if !percentile {
            return Err(ExprError {
                at,
                len: word.len(),
                kind: ExprErrorKind::Expected(
                    "a percentile after the field (`query_time p95`, `rows_examined p99`)",
                    "項目の後にパーセンタイル (`query_time p95`, `rows_examined p99`)",
                ),
            });
        }
    }
    if word.is_empty() {
        return Err(lx.error_here(ExprErrorKind::Expected(
            "error_rate(PROBE), p95(PROBE), burn_rate(PROBE, SLO), failing(PROBE) or prometheus(PROBE)",
            "error_rate(PROBE), p95(PROBE), burn_rate(PROBE, SLO), failing(PROBE), prometheus(PROBE) のいずれか",
        )));
    }
    let metric = match word {
        "error_rate" => Metric::ErrorRate,
        "failing" => Metric::Failing,
        "prometheus" => Metric::Prometheus,
        "burn_rate" => Metric::BurnRate,
        "count" => Metric::Count,
        w if w.len() > 1
            && w.starts_with('p')
            && let Ok(p @ 1..=100) = w[1..].parse::<u8>() =>
        {
            Metric::Percentile(p)
        }
        w => {
            return Err(ExprError {
                at,
                len: w.len(),
                kind: ExprErrorKind::UnknownMetric(w.to_string()),
            });
        }
    };
    lx.skip_space();
    let mut slo = None;
    let (probe, probe_at) = match default_probe {
        // Without parentheses the expression reads the default probe (a
        // watch rule's own source).
        Some(default) if !text[lx.pos..].starts_with('(') => (default.to_string(), (lx.pos, 0)),
        _ => {
            lx.expect('(', "`(`")?;
            lx.skip_space();
            let objective_first = text[lx.pos..].starts_with(|c: char| c.is_ascii_digit());
            let (probe, probe_at) = match (objective_first, default_probe) {
                (true, Some(default)) if metric == Metric::BurnRate => {
                    (default.to_string(), (lx.pos, 0))
                }
                _ => {
                    let (probe, probe_at) = lx.take(is_word);
                    if probe.is_empty() {
                        return Err(
                            lx.error_here(ExprErrorKind::Expected("a probe name", "プローブ名"))
                        );
                    }
                    (probe.to_string(), (probe_at, probe.len()))
                }
            };
            if metric == Metric::BurnRate {
                if probe_at.1 > 0 {
                    lx.expect(',', "`, 99.9%`")?;
                }
                slo = Some(parse_slo(&mut lx)?);
            }
            lx.expect(')', "`)`")?;
            (probe, probe_at)
        }
    };
    if metric == Metric::BurnRate && slo.is_none() {
        return Err(lx.error_here(ExprErrorKind::Expected(
            "an objective: burn_rate(web, 99.9%) or burn_rate(web, 99% < 300ms)",
            "目標値: burn_rate(web, 99.9%) または burn_rate(web, 99% < 300ms)",
        )));
    }
    let (op, op_at) = lx.take(|c| matches!(c, '<' | '>' | '=' | '!'));
    let comparison = Comparison::parse(op).ok_or(ExprError {
        at: op_at,
        len: op.len().max(1),
        kind: ExprErrorKind::Expected(
            "a comparison (>, >=, <, <=, ==, !=)",
            "比較演算子 (>, >=, <, <=, ==, !=)",
        ),
    })?;
    let (number, number_at) = lx.take(|c| c.is_ascii_digit() || c == '.' || c == '-');
    let value: f64 = number.parse().map_err(|_| ExprError {
        at: number_at,
        len: number.len().max(1),
        kind: if number.is_empty() {
            ExprErrorKind::Expected("a number", "数値")
        } else {
            ExprErrorKind::BadNumber(number.to_string())
        },
    })?;
    // The unit follows the number directly.
    let unit_at = lx.pos;
    let unit_len: usize = text[unit_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '%')
        .map(char::len_utf8)
        .sum();
    let unit = &text[unit_at..unit_at + unit_len];
    lx.pos += unit_len;
    // A missing unit is pointed at through the number it should follow.
    let unit_error = |kind| match unit_len {
        0 => ExprError {
            at: number_at,
            len: number.len(),
            kind,
        },
        _ => ExprError {
            at: unit_at,
            len: unit_len,
            kind,
        },
    };
    let mut baseline = false;
    let threshold = match (metric, unit) {
        // `2x baseline`: a factor of what the same time looked like on
        // previous days.
        (Metric::ErrorRate | Metric::Percentile(_), "x") => {
            let (word, word_at) = lx.take(is_word);
            if word != "baseline" {
                return Err(ExprError {
                    at: word_at,
                    len: word.len().max(1),
                    kind: ExprErrorKind::Expected(
                        "`baseline` after the factor",
                        "倍率の後に `baseline`",
                    ),
                });
            }
            if value <= 0.0 {
                return Err(unit_error(ExprErrorKind::BadNumber(number.to_string())));
            }
            baseline = true;
            value
        }
        (Metric::ErrorRate, "%") => value / 100.0,
        (Metric::ErrorRate, "") => value,
        // Row counts are plain numbers.
        (Metric::Percentile(_), "") if !field.is_time() => value,
        (Metric::Percentile(_), "") => return Err(unit_error(ExprErrorKind::NeedsDurationUnit)),
        (Metric::Percentile(_), "ms") if field.is_time() => value,
        (Metric::Percentile(_), "s") if field.is_time() => value * 1000.0,
        (_, "") => value,
        (_, u) => return Err(unit_error(ExprErrorKind::NotHere(format!("`{u}`")))),
    };
    let mut over = None;
    let mut short = None;
    let mut sustain = None;
    loop {
        let (word, word_at) = lx.take(is_word);
        match word {
            "" => break,
            "over" if over.is_none() && sustain.is_none() && metric.has_window() => {
                over = Some(take_duration(&mut lx)?);
                let save = lx.pos;
                let (and, and_at) = lx.take(is_word);
                if and == "and" && metric == Metric::BurnRate {
                    let d = take_duration(&mut lx)?;
                    if Some(d) >= over {
                        return Err(ExprError {
                            at: and_at,
                            len: lx.pos - and_at,
                            kind: ExprErrorKind::ShortNotShorter,
                        });
                    }
                    short = Some(d);
                } else {
                    lx.pos = save;
                }
            }
            "for" if sustain.is_none() => sustain = Some(take_duration(&mut lx)?),
            "over" if !metric.has_window() => {
                return Err(ExprError {
                    at: word_at,
                    len: 4,
                    kind: ExprErrorKind::NotHere("`over`".to_string()),
                });
            }
            w => {
                return Err(ExprError {
                    at: word_at,
                    len: w.len(),
                    kind: ExprErrorKind::Trailing(w.to_string()),
                });
            }
        }
    }
    lx.skip_space();
    if lx.pos < text.len() {
        let rest = &text[lx.pos..];
        return Err(ExprError {
            at: lx.pos,
            len: rest.len(),
            kind: ExprErrorKind::Trailing(rest.to_string()),
        });
    }
    let over = over.or(metric.has_window().then_some(DEFAULT_OVER));
    Ok(Expr {
        metric,
        field,
        field_at,
        probe,
        probe_at,
        comparison,
        threshold,
        baseline,
        over,
        short,
        sustain,
        slo,
    })
}

fn take_duration(lx: &mut Lexer<'_>) -> Result<Duration, ExprError> {
    let (d, d_at) = lx.take(|c| c.is_ascii_alphanumeric());
    parse_duration(d).filter(|d| !d.is_zero()).ok_or(ExprError {
        at: d_at,
        len: d.len().max(1),
        kind: ExprErrorKind::BadDuration(d.to_string()),
    })
}

/// `99.9%` (availability) or `99% < 300ms` (latency), inside `burn_rate(…)`.
fn parse_slo(lx: &mut Lexer<'_>) -> Result<Slo, ExprError> {
    let (number, at) = lx.take(|c| c.is_ascii_digit() || c == '.');
    let objective = number
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0 && *v < 100.0);
    let bad = |lx: &Lexer<'_>| ExprError {
        at,
        len: (lx.pos - at).max(1),
        kind: ExprErrorKind::Expected(
            "an objective between 0% and 100%, such as 99.9%",
            "0% より大きく 100% 未満の目標値 (例: 99.9%)",
        ),
    };
    let Some(objective) = objective else {
        return Err(bad(lx));
    };
    if !lx.text[lx.pos..].starts_with('%') {
        return Err(bad(lx));
    }
    lx.pos += 1;
    lx.skip_space();
    let mut latency_ms = None;
    if lx.text[lx.pos..].starts_with('<') {
        lx.pos += 1;
        let (number, n_at) = lx.take(|c| c.is_ascii_digit() || c == '.');
        let value: f64 = number.parse().map_err(|_| ExprError {
            at: n_at,
            len: number.len().max(1),
            kind: ExprErrorKind::Expected("a latency such as 300ms", "300ms のようなレイテンシ"),
        })?;
        let (unit, u_at) = lx.take(|c| c.is_ascii_alphabetic());
        latency_ms = Some(match unit {
            "ms" => value,
            "s" => value * 1000.0,
            _ => {
                return Err(ExprError {
                    at: if unit.is_empty() { n_at } else { u_at },
                    len: unit.len().max(number.len()),
                    kind: ExprErrorKind::NeedsDurationUnit,
                });
            }
        });
    }
    Ok(Slo {
        objective: objective / 100.0,
        latency_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows use the runbook's duration language (`d` included) and are
    /// written back the way an operator writes them.
    #[test]
    fn windows_share_the_duration_language() {
        let e = parse_expr("error_rate(web) > 5% over 1d").unwrap();
        assert_eq!(e.over, Some(Duration::from_secs(86_400)));
        let e = parse_expr("error_rate(web) > 5% over 1m30s").unwrap();
        assert_eq!(e.to_string(), "error_rate(web) > 5% over 1m30s");
        assert_eq!(parse_expr(&e.to_string()).unwrap(), e);
        let e = parse_expr("p95(web) > 500ms").unwrap();
        assert_eq!(e.to_string(), "p95(web) > 500ms over 1m");
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_points_inside_itself(text in "\\PC{0,40}") {
            if let Err(e) = parse_expr(&text) {
                proptest::prop_assert!(e.at <= text.len());
                proptest::prop_assert!(text.is_char_boundary(e.at));
                let _ = e.message(Lang::Ja);
            }
        }

        #[test]
        fn written_expressions_read_back(
            metric in proptest::sample::select(vec!["error_rate", "p95", "failing", "prometheus"]),
            probe in "[a-z][a-z0-9_-]{0,8}",
            op in proptest::sample::select(vec![">", ">=", "<", "<=", "==", "!="]),
            n in 0u32..1000,
        ) {
            let unit = if metric == "p95" { "ms" } else { "" };
            let e = parse_expr(&format!("{metric}({probe}) {op} {n}{unit}")).unwrap();
            proptest::prop_assert_eq!(e.probe, probe);
            proptest::prop_assert_eq!(e.comparison.as_str(), op);
            proptest::prop_assert_eq!(e.threshold, f64::from(n));
        }
    }

    #[test]
    fn reads_the_four_forms() {
        let e = parse_expr("error_rate(web) > 5% over 1m").unwrap();
        assert_eq!(e.metric, Metric::ErrorRate);
        assert_eq!(e.probe, "web");
        assert!((e.threshold - 0.05).abs() < 1e-12);
        assert_eq!(e.over, Some(Duration::from_secs(60)));
        let e = parse_expr("p95(web) > 3s over 30s").unwrap();
        assert_eq!(e.metric, Metric::Percentile(95));
        assert_eq!(e.threshold, 3000.0);
        let e = parse_expr("failing(db) >= 3").unwrap();
        assert_eq!((e.metric, e.over), (Metric::Failing, None));
        let e = parse_expr("prometheus(errs) > 0.5").unwrap();
        assert_eq!(e.comparison, Comparison::Gt);
    }

    #[test]
    fn reads_baselines_burn_rates_and_sustain() {
        let e = parse_expr("p95(web) > 2x baseline for 30m").unwrap();
        assert!(e.baseline);
        assert_eq!(e.threshold, 2.0);
        assert_eq!(e.sustain, Some(Duration::from_secs(1800)));
        assert_eq!(e.over, Some(DEFAULT_OVER));
        let e = parse_expr("burn_rate(web, 99.9%) > 14.4 over 1h and 5m").unwrap();
        assert_eq!(e.metric, Metric::BurnRate);
        assert!((e.slo.unwrap().budget() - 0.001).abs() < 1e-12);
        assert_eq!(e.over, Some(Duration::from_secs(3600)));
        assert_eq!(e.short, Some(Duration::from_secs(300)));
        let e = parse_expr("burn_rate(api, 99% < 300ms) >= 6 over 6h and 30m").unwrap();
        assert_eq!(e.slo.unwrap().latency_ms, Some(300.0));
        for text in [
            "p95(web) > 2x baseline over 5m for 30m",
            "burn_rate(web, 99.9%) > 14.4 over 1h and 5m",
            "burn_rate(web, 99% < 300ms) > 6 over 6h and 30m for 2m",
            "error_rate(web) > 5% over 1m for 10s",
        ] {
            let e = parse_expr(text).unwrap();
            assert_eq!(e.to_string(), text);
            assert_eq!(parse_expr(&e.to_string()).unwrap(), e);
        }
    }

    #[test]
    fn a_slow_log_rule_names_the_field_its_percentile_reads() {
        let e = parse_expr_in("query_time p95 > 2s over 5m", Some("db")).unwrap();
        assert_eq!(
            (e.field, e.metric, e.threshold),
            (Field::QueryTime, Metric::Percentile(95), 2000.0)
        );
        assert_eq!(e.field_at, Some((0, 10)));
        let e = parse_expr_in("rows_examined p95 > 10000 over 5m", Some("db")).unwrap();
        assert_eq!((e.field, e.threshold), (Field::RowsExamined, 10_000.0));
        let e = parse_expr_in("count > 100 over 1m", Some("db")).unwrap();
        assert_eq!(
            (e.metric, e.threshold, e.over),
            (Metric::Count, 100.0, Some(DEFAULT_OVER))
        );
        for text in [
            "lock_time p99(db) > 500ms over 5m",
            "count(db) >= 3 over 10s",
        ] {
            let e = parse_expr(text).unwrap();
            assert_eq!(e.to_string(), text);
            assert_eq!(parse_expr(&e.to_string()).unwrap(), e);
        }
        for (text, at) in [
            ("rows_examined > 10000", 14),
            ("rows_examined p95 > 10s", 22),
            ("query_time p95 > 2", 17),
            ("count > 5%", 9),
        ] {
            let e = parse_expr_in(text, Some("db")).unwrap_err();
            assert_eq!(e.at, at, "{text}: {e:?}");
            assert!(!e.message(Lang::Ja).is_empty());
        }
    }

    #[test]
    fn a_watch_rule_may_leave_out_its_source() {
        let e = parse_expr_in("error_rate > 5% over 1m", Some("web")).unwrap();
        assert_eq!(e.probe, "web");
        let e = parse_expr_in("p95 > 3s over 5m", Some("web")).unwrap();
        assert_eq!(e.threshold, 3000.0);
        let e = parse_expr_in("burn_rate(99.9%) > 14.4 over 1h and 5m", Some("web")).unwrap();
        assert_eq!(e.probe, "web");
        let e = parse_expr_in("error_rate(api) > 5%", Some("web")).unwrap();
        assert_eq!(e.probe, "api");
        assert!(
            parse_expr("error_rate > 5%").is_err(),
            "runbook triggers name their probe"
        );
    }

    #[test]
    fn new_forms_refuse_what_means_nothing() {
        for (text, at) in [
            ("burn_rate(web) > 14.4", 13),
            ("burn_rate(web, 100%) > 1", 15),
            ("burn_rate(web, 99.9%) > 14.4 over 5m and 1h", 37),
            ("p95(web) > 2x normal", 14),
            ("failing(web) > 2x baseline", 16),
            ("p95(web) > 3s for soon", 18),
            ("error_rate(web) > 5% over 1m and 5s", 29),
        ] {
            let e = parse_expr(text).unwrap_err();
            assert_eq!(e.at, at, "{text}: {e:?}");
            assert!(!e.message(Lang::Ja).is_empty());
        }
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        let text = "error_rat(web) > 5%";
        let e = parse_expr(text).unwrap_err();
        assert_eq!((e.at, e.len), (0, 9));
        let e = parse_expr("p95(web) > 3").unwrap_err();
        assert_eq!(e.kind, ExprErrorKind::NeedsDurationUnit);
        assert_eq!((e.at, e.len), (11, 1), "the number without its unit");
        // Found by fuzzing: a span that ran past the end of the text.
        let text = " p4(00A)>0001";
        let e = parse_expr(text).unwrap_err();
        assert!(e.at + e.len <= text.len());
        let text = " p00040(0_A)\nՔ";
        let e = parse_expr(text).unwrap_err();
        assert!(text.is_char_boundary(e.at + e.len), "{e:?}");
        let e = parse_expr("p95(web) >").unwrap_err();
        assert!(e.at + e.len <= "p95(web) >".len());
        let e = parse_expr("failing(web) >= 3 over 1m").unwrap_err();
        assert_eq!(e.at, 18);
        let e = parse_expr("error_rate(web) > 5% over soon").unwrap_err();
        assert_eq!(e.kind, ExprErrorKind::BadDuration("soon".into()));
        let e = parse_expr("error_rate(web) => 5%").unwrap_err();
        assert_eq!(e.at, 16);
        assert!(parse_expr("").is_err());
        assert!(parse_expr("failing(web) >= 3 and more").is_err());
    }
}
