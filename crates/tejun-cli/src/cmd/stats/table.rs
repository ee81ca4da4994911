//! The terminal view of `tejun stats`: totals, sparklines over the
//! windows, the windows themselves and the top lists.

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use tejun_locale::{Lang, format_time};
use tejun_signals::access::latency::Percentiles;
use tejun_signals::access::stats::EndpointRow;
use tejun_signals::access::window::Window;

use super::Report;
use crate::output::{pad_end, pad_start};

/// Windows listed in the table (the latest ones); all are in the
/// sparklines, `--json` and `--html`.
const TABLE_WINDOWS: usize = 60;
/// Sparkline width in cells.
const SPARK_WIDTH: usize = 60;

pub(crate) fn render(report: &Report, lang: Lang, zone: &TimeZone) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let t = &s.total;
    let _ = write!(
        out,
        "{} {}",
        lang.pick("requests", "リクエスト"),
        t.requests
    );
    if let (Some(first), Some(last)) = (s.first, s.last) {
        let _ = write!(
            out,
            "  {} – {}",
            format_time(first, zone),
            format_time(last, zone)
        );
    }
    let _ = writeln!(
        out,
        "  {} {}",
        lang.pick("window", "集計幅"),
        duration_text(s.window_seconds)
    );
    let _ = writeln!(
        out,
        "  {}  2xx {}  3xx {}  4xx {}  5xx {}{}  {} {}",
        pad_end(lang.pick("status", "ステータス"), 10),
        t.status.success,
        t.status.redirect,
        t.status.client_error,
        t.status.server_error,
        if t.status.informational + t.status.other > 0 {
            format!(
                "  {} {}",
                lang.pick("other", "その他"),
                t.status.informational + t.status.other
            )
        } else {
            String::new()
        },
        lang.pick("error rate (5xx)", "エラー率 (5xx)"),
        percent(t.error_rate)
    );
    match &t.latency {
        Some(p) => {
            let _ = writeln!(
                out,
                "  {}  p50 {}  p95 {}  p99 {}  max {}",
                pad_end(lang.pick("latency", "応答時間"), 10),
                ms(p.p50_ms),
                ms(p.p95_ms),
                ms(p.p99_ms),
                ms(p.max_ms)
            );
        }
        None if t.requests > 0 => {
            let _ = writeln!(
                out,
                "  {}  {}",
                pad_end(lang.pick("latency", "応答時間"), 10),
                lang.pick(
                    "not in this format (add $request_time, %D or a request_time field)",
                    "この書式にはありません（$request_time、%D または request_time を追加してください）"
                )
            );
        }
        None => {}
    }
    let _ = writeln!(
        out,
        "  {}  {}",
        pad_end(lang.pick("bytes", "転送量"), 10),
        bytes(t.bytes)
    );

    if s.windows.len() > 1 {
        out.push('\n');
        type Series = (&'static str, fn(&Window) -> f64, fn(f64) -> String);
        let series: [Series; 3] = [
            (
                lang.pick("requests", "リクエスト"),
                |w| w.requests as f64,
                |v| format!("{v:.0}"),
            ),
            (lang.pick("5xx rate", "5xx 率"), |w| w.error_rate, percent),
            ("p95", |w| w.latency.map_or(0.0, |l| l.p95_ms), ms),
        ];
        let timed = s.total.latency.is_some();
        for (label, value, show) in series.into_iter().take(if timed { 3 } else { 2 }) {
            let values: Vec<f64> = s.windows.iter().map(value).collect();
            let max = values.iter().copied().fold(0.0, f64::max);
            let _ = writeln!(
                out,
                "  {}  {}  {} {}",
                pad_end(label, 10),
                sparkline(&values, SPARK_WIDTH),
                lang.pick("max", "最大"),
                show(max)
            );
        }
    }

    if !s.windows.is_empty() {
        out.push('\n');
        let header = [
            lang.pick("WINDOW", "時間帯"),
            lang.pick("REQS", "件数"),
            "2xx",
            "3xx",
            "4xx",
            "5xx",
            lang.pick("ERR%", "エラー率"),
            "P50",
            "P95",
            "P99",
            "MAX",
            lang.pick("BYTES", "転送量"),
        ];
        let rows: Vec<Vec<String>> = s
            .windows
            .iter()
            .skip(s.windows.len().saturating_sub(TABLE_WINDOWS))
            .map(|w| {
                let l = w.latency.unwrap_or_default();
                let lat = |v: f64| {
                    if w.latency.is_some() {
                        ms(v)
                    } else {
                        "-".into()
                    }
                };
                vec![
                    format_time(w.start, zone),
                    w.requests.to_string(),
                    w.status.success.to_string(),
                    w.status.redirect.to_string(),
                    w.status.client_error.to_string(),
                    w.status.server_error.to_string(),
                    percent(w.error_rate),
                    lat(l.p50_ms),
                    lat(l.p95_ms),
                    lat(l.p99_ms),
                    lat(l.max_ms),
                    bytes(w.bytes),
                ]
            })
            .collect();
        write_table(&mut out, &header, &rows, &[0]);
        if s.windows.len() > TABLE_WINDOWS {
            let _ = writeln!(
                out,
                "  ({} {})",
                s.windows.len() - TABLE_WINDOWS,
                lang.pick(
                    "earlier windows: see --json or --html",
                    "件の前の時間帯は --json か --html で"
                )
            );
        }
    }

    let endpoint_header = [
        lang.pick("REQS", "件数"),
        lang.pick("5xx%", "5xx 率"),
        "P50",
        "P95",
        "MAX",
        lang.pick("BYTES", "転送量"),
        lang.pick("ENDPOINT", "エンドポイント"),
    ];
    let endpoint_rows = |rows: &[EndpointRow]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|e| {
                let l: Option<Percentiles> = e.latency;
                let lat = |f: fn(&Percentiles) -> f64| l.as_ref().map_or("-".into(), |p| ms(f(p)));
                vec![
                    e.requests.to_string(),
                    percent(e.error_rate),
                    lat(|p| p.p50_ms),
                    lat(|p| p.p95_ms),
                    lat(|p| p.max_ms),
                    bytes(e.bytes),
                    e.endpoint.clone(),
                ]
            })
            .collect()
    };
    if !s.endpoints.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            lang.pick("Top endpoints", "上位エンドポイント")
        );
        write_table(
            &mut out,
            &endpoint_header,
            &endpoint_rows(&s.endpoints),
            &[6],
        );
    }
    if !s.slow_endpoints.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            lang.pick("Slowest endpoints (by p95)", "遅いエンドポイント（p95 順）")
        );
        write_table(
            &mut out,
            &endpoint_header,
            &endpoint_rows(&s.slow_endpoints),
            &[6],
        );
    }
    if s.endpoint_count_error > 0 {
        let _ = writeln!(
            out,
            "  ({} {})",
            lang.pick(
                "more distinct endpoints than kept: counts may be short by up to",
                "エンドポイントが多すぎるため、件数は最大で次の数だけ少ない可能性があります:"
            ),
            s.endpoint_count_error
        );
    }
    if !s.clients.is_empty() {
        let _ = writeln!(out, "\n{}", lang.pick("Top clients", "上位クライアント"));
        let header = [
            lang.pick("REQS", "件数"),
            "4xx",
            "5xx",
            lang.pick("BYTES", "転送量"),
            lang.pick("CLIENT", "クライアント"),
        ];
        let rows: Vec<Vec<String>> = s
            .clients
            .iter()
            .map(|c| {
                vec![
                    c.requests.to_string(),
                    c.status.client_error.to_string(),
                    c.status.server_error.to_string(),
                    bytes(c.bytes),
                    if c.client.is_empty() {
                        "-".into()
                    } else {
                        c.client.clone()
                    },
                ]
            })
            .collect();
        write_table(&mut out, &header, &rows, &[4]);
        if s.client_count_error > 0 {
            let _ = writeln!(
                out,
                "  ({} {})",
                lang.pick(
                    "more distinct clients than kept: counts may be short by up to",
                    "クライアントが多すぎるため、件数は最大で次の数だけ少ない可能性があります:"
                ),
                s.client_count_error
            );
        }
    }

    out.push('\n');
    for f in &report.files {
        let _ = write!(
            out,
            "{}: {} {}, {} {}",
            f.path,
            f.lines,
            lang.pick("lines", "行"),
            f.requests,
            lang.pick("requests", "件のリクエスト")
        );
        if f.malformed > 0 {
            let places: Vec<String> = f
                .malformed_lines
                .iter()
                .map(|m| {
                    format!(
                        "{}:{} {} {}",
                        m.line,
                        m.column,
                        lang.pick("expected", "期待:"),
                        m.expected.describe(lang)
                    )
                })
                .collect();
            let _ = write!(
                out,
                ", {} {} ({})",
                f.malformed,
                lang.pick("malformed lines skipped", "行は形式が合わず除外"),
                places.join("; ")
            );
        }
        out.push('\n');
    }
    if s.out_of_range > 0 {
        let _ = writeln!(
            out,
            "{} {}",
            s.out_of_range,
            lang.pick("requests outside --since/--until", "件は期間外")
        );
    }
    if s.late > 0 {
        let _ = writeln!(
            out,
            "{} {}",
            s.late,
            lang.pick(
                "requests far out of time order: counted, but not in their window's percentiles",
                "件は時刻順から大きく外れたため、件数には含め、その時間帯のパーセンタイルには含めていません"
            )
        );
    }
    out
}

/// Numbers right-aligned, the `text` columns left-aligned (the last column
/// is not padded).
fn write_table(out: &mut String, header: &[&str], rows: &[Vec<String>], text: &[usize]) {
    use unicode_width::UnicodeWidthStr;
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].width())
                .chain([header[c].width()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let left = |c: usize| text.contains(&c);
    let line = |cells: Vec<&str>| -> String {
        let mut l = String::from(" ");
        for (c, cell) in cells.iter().enumerate() {
            l.push(' ');
            if c + 1 == cells.len() && left(c) {
                l.push_str(cell);
            } else if left(c) {
                l.push_str(&pad_end(cell, widths[c]));
            } else {
                l.push_str(&pad_start(cell, widths[c]));
            }
        }
        l.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for r in rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

/// Values as block characters, squeezed to `width` cells (each cell the
/// largest value it covers).
pub(crate) fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if values.is_empty() {
        return String::new();
    }
    let cells = values.len().min(width);
    let mut squeezed = vec![0.0f64; cells];
    for (i, v) in values.iter().enumerate() {
        let cell = i * cells / values.len();
        squeezed[cell] = squeezed[cell].max(*v);
    }
    let max = squeezed.iter().copied().fold(0.0, f64::max);
    squeezed
        .iter()
        .map(|v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

pub(crate) fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2}s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.1}ms")
    }
}

pub(crate) fn percent(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[unit])
    }
}

pub(crate) fn duration_text(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_largest_value() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0], 60), "▁▃▅█");
        assert_eq!(sparkline(&[0.0; 3], 60), "▁▁▁");
        assert_eq!(sparkline(&[1.0, 9.0, 1.0, 1.0], 2), "█▂");
    }
}
