//! The trigger language: one comparison over one probe's recent samples.
//!
//! ```text
//! error_rate(web) > 5% over 1m     failures / samples in the last minute
//! p95(web) > 3s over 1m            95th percentile latency (also p50, p90, p99)
//! failing(web) >= 3                consecutive failures, newest first
//! prometheus(errors) > 0.5         the probe's latest value
//! ```
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
    /// The probe the expression reads.
    pub probe: String,
    /// Where the probe's name is written (byte offset, length).
    pub probe_at: (usize, usize),
    pub comparison: Comparison,
    /// In the metric's unit: a fraction for `error_rate`, milliseconds for
    /// latencies, a count for `failing`, the value for `prometheus`.
    pub threshold: f64,
    /// The sliding window, for the metrics that have one.
    pub over: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    ErrorRate,
    /// Latency percentile, 1..=100.
    Percentile(u8),
    Failing,
    Prometheus,
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
        }
    }

    fn has_window(self) -> bool {
        matches!(self, Metric::ErrorRate | Metric::Percentile(_))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threshold = match self.metric {
            Metric::ErrorRate => format!("{}%", self.threshold * 100.0),
            Metric::Percentile(_) => format!("{}ms", self.threshold),
            _ => format!("{}", self.threshold),
        };
        write!(
            f,
            "{}({}) {} {threshold}",
            self.metric.name(),
            self.probe,
            self.comparison.as_str()
        )?;
        if let Some(over) = self.over {
            write!(f, " over {}", format_duration(over))?;
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
}

impl ExprError {
    pub fn message(&self, lang: Lang) -> String {
        match &self.kind {
            ExprErrorKind::UnknownMetric(m) => format!(
                "{} `{m}` ({})",
                lang.pick("unknown trigger metric", "不明なトリガー指標"),
                lang.pick(
                    "expected error_rate, p50, p90, p95, p99, failing or prometheus",
                    "error_rate, p50, p90, p95, p99, failing, prometheus のいずれか"
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
    parse(text).map_err(|mut e| {
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

fn parse(text: &str) -> Result<Expr, ExprError> {
    let mut lx = Lexer { text, pos: 0 };
    let (word, at) = lx.take(is_word);
    if word.is_empty() {
        return Err(lx.error_here(ExprErrorKind::Expected(
            "error_rate(PROBE), p95(PROBE), failing(PROBE) or prometheus(PROBE)",
            "error_rate(PROBE), p95(PROBE), failing(PROBE), prometheus(PROBE) のいずれか",
        )));
    }
    let metric = match word {
        "error_rate" => Metric::ErrorRate,
        "failing" => Metric::Failing,
        "prometheus" => Metric::Prometheus,
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
    lx.expect('(', "`(`")?;
    let (probe, probe_at) = lx.take(is_word);
    if probe.is_empty() {
        return Err(lx.error_here(ExprErrorKind::Expected("a probe name", "プローブ名")));
    }
    lx.expect(')', "`)`")?;
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
    let threshold = match (metric, unit) {
        (Metric::ErrorRate, "%") => value / 100.0,
        (Metric::ErrorRate, "") => value,
        (Metric::Percentile(_), "") => return Err(unit_error(ExprErrorKind::NeedsDurationUnit)),
        (Metric::Percentile(_), "ms") => value,
        (Metric::Percentile(_), "s") => value * 1000.0,
        (_, "") => value,
        (_, u) => return Err(unit_error(ExprErrorKind::NotHere(format!("`{u}`")))),
    };
    let (word, word_at) = lx.take(is_word);
    let over = match word {
        "" => None,
        "over" if metric.has_window() => {
            let (d, d_at) = lx.take(|c| c.is_ascii_alphanumeric());
            Some(parse_duration(d).ok_or(ExprError {
                at: d_at,
                len: d.len().max(1),
                kind: ExprErrorKind::BadDuration(d.to_string()),
            })?)
        }
        "over" => {
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
    };
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
        probe: probe.to_string(),
        probe_at: (probe_at, probe.len()),
        comparison,
        threshold,
        over,
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
