//! `tejun stats --html`: one self-contained page (inline SVG drawn by
//! plotters, inline CSS, no script, nothing fetched when viewed), in the
//! operator's language.
//!
//! Paths, clients and file names come from logs that attackers write to,
//! so they are only ever put in the page escaped, and never into the SVG
//! (the endpoint chart labels bars #1, #2, … and the table names them).

use std::fmt::Write as _;

use jiff::tz::TimeZone;
use plotters::prelude::*;
use tejun_locale::{Lang, format_time};
use tejun_signals::access::stats::EndpointRow;
use tejun_signals::access::window::Window;

use super::Report;
use super::table::{bytes, duration_text, ms, percent};

const WIDTH: u32 = 960;
const HEIGHT: u32 = 320;

pub(crate) fn render(report: &Report, lang: Lang, zone: &TimeZone) -> String {
    let s = &report.summary;
    let t = &s.total;
    let title = lang.pick("Access log statistics", "アクセスログ統計");
    let mut body = String::new();
    let _ = write!(body, "<h1>{title}</h1>\n<p>");
    if let (Some(first), Some(last)) = (s.first, s.last) {
        let _ = write!(
            body,
            "{} – {} · ",
            escape(&format_time(first, zone)),
            escape(&format_time(last, zone))
        );
    }
    let _ = writeln!(
        body,
        "{} {} · {} {} · {} {} · {} {}</p>",
        lang.pick("requests", "リクエスト"),
        t.requests,
        lang.pick("error rate (5xx)", "エラー率 (5xx)"),
        percent(t.error_rate),
        lang.pick("window", "集計幅"),
        duration_text(s.window_seconds),
        lang.pick("bytes", "転送量"),
        bytes(t.bytes)
    );
    if let Some(p) = &t.latency {
        let _ = writeln!(
            body,
            "<p>{} p50 {} · p95 {} · p99 {} · max {}</p>",
            lang.pick("latency", "応答時間"),
            ms(p.p50_ms),
            ms(p.p95_ms),
            ms(p.p99_ms),
            ms(p.max_ms)
        );
    }
    if !s.windows.is_empty() {
        if t.latency.is_some() {
            section(
                &mut body,
                lang.pick(
                    "Latency percentiles over time",
                    "応答時間パーセンタイルの推移",
                ),
                latency_chart(&s.windows, zone),
            );
        }
        section(
            &mut body,
            lang.pick("Status mix over time", "ステータス構成の推移"),
            status_chart(&s.windows, zone, lang),
        );
    }
    if !s.endpoints.is_empty() {
        section(
            &mut body,
            lang.pick("Top endpoints", "上位エンドポイント"),
            endpoint_chart(&s.endpoints, lang),
        );
        endpoint_table(&mut body, &s.endpoints, lang);
    }
    if !s.slow_endpoints.is_empty() {
        let _ = writeln!(
            body,
            "<h2>{}</h2>",
            lang.pick("Slowest endpoints (by p95)", "遅いエンドポイント（p95 順）")
        );
        endpoint_table(&mut body, &s.slow_endpoints, lang);
    }
    if !s.clients.is_empty() {
        let _ = writeln!(
            body,
            "<h2>{}</h2>\n<table><tr><th>{}</th><th>4xx</th><th>5xx</th><th>{}</th><th>{}</th></tr>",
            lang.pick("Top clients", "上位クライアント"),
            lang.pick("requests", "件数"),
            lang.pick("bytes", "転送量"),
            lang.pick("client", "クライアント")
        );
        for c in &s.clients {
            let _ = writeln!(
                body,
                "<tr><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td><code>{}</code></td></tr>",
                c.requests,
                c.status.client_error,
                c.status.server_error,
                bytes(c.bytes),
                escape(&c.client)
            );
        }
        body.push_str("</table>\n");
    }
    let _ = writeln!(body, "<h2>{}</h2>\n<ul>", lang.pick("Inputs", "入力"));
    for f in &report.files {
        let _ = write!(
            body,
            "<li><code>{}</code>: {} {}, {} {}",
            escape(&f.path),
            f.lines,
            lang.pick("lines", "行"),
            f.requests,
            lang.pick("requests", "件のリクエスト")
        );
        if f.malformed > 0 {
            let places: Vec<String> = f
                .malformed_lines
                .iter()
                .map(|m| format!("{}:{} {}", m.line, m.column, m.expected.describe(lang)))
                .collect();
            let _ = write!(
                body,
                ", {} {} ({})",
                f.malformed,
                lang.pick("malformed lines skipped", "行は形式が合わず除外"),
                escape(&places.join("; "))
            );
        }
        body.push_str("</li>\n");
    }
    body.push_str("</ul>\n");
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\nbody{{font-family:system-ui,\"Hiragino Sans\",\"Noto Sans JP\",sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\ntable{{border-collapse:collapse;margin:1rem 0}}\nth,td{{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}}\ntd.n{{text-align:right;font-variant-numeric:tabular-nums}}\ncode{{word-break:break-all}}\nsvg{{max-width:100%;height:auto}}\n</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        lang.code()
    )
}

fn section(body: &mut String, heading: &str, svg: Result<String, String>) {
    let _ = writeln!(body, "<h2>{heading}</h2>");
    match svg {
        Ok(svg) => {
            body.push_str(&svg);
            body.push('\n');
        }
        Err(e) => {
            let _ = writeln!(body, "<p>{}</p>", escape(&e));
        }
    }
}

fn endpoint_table(body: &mut String, rows: &[EndpointRow], lang: Lang) {
    let _ = writeln!(
        body,
        "<table><tr><th>#</th><th>{}</th><th>5xx</th><th>p50</th><th>p95</th><th>max</th><th>{}</th><th>{}</th></tr>",
        lang.pick("requests", "件数"),
        lang.pick("bytes", "転送量"),
        lang.pick("endpoint", "エンドポイント")
    );
    for (i, e) in rows.iter().enumerate() {
        let lat = |f: fn(&tejun_signals::access::latency::Percentiles) -> f64| {
            e.latency.as_ref().map_or("-".to_string(), |p| ms(f(p)))
        };
        let _ = writeln!(
            body,
            "<tr><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td><code>{}</code></td></tr>",
            i + 1,
            e.requests,
            percent(e.error_rate),
            lat(|p| p.p50_ms),
            lat(|p| p.p95_ms),
            lat(|p| p.max_ms),
            bytes(e.bytes),
            escape(&e.endpoint)
        );
    }
    body.push_str("</table>\n");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Window `x` (an index) as a clock time in `zone`.
fn clock(windows: &[Window], x: f64, zone: &TimeZone) -> String {
    let i = (x.max(0.0) as usize).min(windows.len().saturating_sub(1));
    windows
        .get(i)
        .map(|w| {
            w.start
                .to_zoned(zone.clone())
                .strftime("%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

fn latency_chart(windows: &[Window], zone: &TimeZone) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top = windows
            .iter()
            .filter_map(|w| w.latency.map(|l| l.p99_ms))
            .fold(1.0, f64::max)
            * 1.1;
        let n = windows.len().max(2) as f64 - 1.0;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|x| clock(windows, *x, zone))
            .y_label_formatter(&|y| ms(*y))
            .draw()
            .map_err(|e| e.to_string())?;
        let colours = [
            (0, "p50", BLUE),
            (1, "p95", RGBColor(230, 120, 0)),
            (2, "p99", RED),
        ];
        for (which, label, colour) in colours {
            let points = windows.iter().enumerate().filter_map(|(i, w)| {
                w.latency.map(|l| {
                    let v = [l.p50_ms, l.p95_ms, l.p99_ms][which];
                    (i as f64, v)
                })
            });
            chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn status_chart(windows: &[Window], zone: &TimeZone, lang: Lang) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top = windows.iter().map(|w| w.requests).max().unwrap_or(1).max(1) as f64 * 1.1;
        let n = windows.len().max(2) as f64 - 1.0;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n, 0f64..top)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_labels(8)
            .x_label_formatter(&|x| clock(windows, *x, zone))
            .y_desc(lang.pick("requests", "件数"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        // Stacked: each class drawn as the sum of itself and the classes
        // under it, tallest first so the smaller ones lie on top.
        type Level = fn(&Window) -> u64;
        let layers: [(&str, Level, RGBColor); 4] = [
            ("5xx", |w| w.requests, RGBColor(214, 39, 40)),
            (
                "4xx",
                |w| {
                    w.status.informational
                        + w.status.success
                        + w.status.redirect
                        + w.status.client_error
                },
                RGBColor(255, 160, 0),
            ),
            (
                "3xx",
                |w| w.status.informational + w.status.success + w.status.redirect,
                RGBColor(31, 119, 180),
            ),
            (
                "2xx",
                |w| w.status.informational + w.status.success,
                RGBColor(44, 160, 44),
            ),
        ];
        for (label, level, colour) in layers {
            let points = windows
                .iter()
                .enumerate()
                .map(|(i, w)| (i as f64, level(w) as f64));
            chart
                .draw_series(AreaSeries::new(points, 0.0, colour.mix(0.8)).border_style(colour))
                .map_err(|e| e.to_string())?
                .label(label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 15, y + 5)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn endpoint_chart(rows: &[EndpointRow], lang: Lang) -> Result<String, String> {
    let mut svg = String::new();
    {
        let height = 40 + 28 * rows.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let max = rows.iter().map(|r| r.requests).max().unwrap_or(1).max(1) as f64 * 1.05;
        let n = rows.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(40)
            // Bar i is centred on y = n-i, so integer labels name ranks.
            .build_cartesian_2d(0f64..max, 0.5f64..n + 0.5)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len() * 2 + 2)
            .y_label_formatter(&|y| {
                let r = y.round();
                if (y - r).abs() > 1e-6 || r < 1.0 || r > n {
                    String::new()
                } else {
                    format!("#{:.0}", n + 1.0 - r)
                }
            })
            .x_label_formatter(&|x| format!("{x:.0}"))
            .x_desc(lang.pick("requests", "件数"))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let y = n - i as f64;
                let colour = if r.error_rate > 0.01 {
                    RGBColor(214, 39, 40)
                } else {
                    RGBColor(31, 119, 180)
                };
                Rectangle::new(
                    [(0.0, y - 0.35), (r.requests as f64, y + 0.35)],
                    colour.filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
