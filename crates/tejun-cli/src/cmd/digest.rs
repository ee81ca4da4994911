//! `tejun digest`: slow-query logs (MySQL/MariaDB, PostgreSQL) grouped by
//! pt-query-digest fingerprint, the costliest first.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tejun_locale::Lang;
use tejun_signals::digest::{
    Aggregate, BaselineOptions, ClassReport, EmbeddedNumbers, Format, IndexRule, Options, Report,
};

use crate::context::{Context, Exit};
use crate::output::{pad_end, pad_start};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun digest /var/log/mysql/mariadb-slow.log
  tejun digest slow.log.1.gz slow.log --top 20 --redact
  tejun digest postgresql.log --format postgres --json
  tejun digest slow.log --html digest.html
  tejun digest slow.log --since '2026-12-01 09:00' --until '2026-12-01 18:00' --tz Asia/Tokyo
  tejun digest slow.log.2 slow.log.1 slow.log --baseline 7d --window 1h --baseline-for 3h

Fingerprints are pt-query-digest's (with --preserve-embedded-numbers unless
--replace-embedded-numbers). See docs/signals.md.
Exit codes: 0 digested, 1 a file could not be read, 2 bad arguments.")]
pub struct Args {
    /// Slow logs (plain, .gz, or - for stdin).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Log dialect: auto, mysql (MariaDB too) or postgres.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    format: String,
    /// Fingerprints to show, by total query time.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Replace literals in samples with `?`.
    #[arg(long)]
    redact: bool,
    /// Flag a missing index when rows examined are at least this many times rows sent.
    #[arg(long, value_name = "RATIO", default_value_t = IndexRule::default().min_ratio)]
    index_ratio: f64,
    /// ...and at least this many rows are examined per call on average.
    #[arg(long, value_name = "ROWS", default_value_t = IndexRule::default().min_examined_per_call)]
    index_min_rows: f64,
    /// `db1.t2` → `d?t?` as pt-query-digest does by default.
    #[arg(long)]
    replace_embedded_numbers: bool,
    /// Zone of log dates without one, and of the times shown (default: TZ / the system zone).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Only queries at or after this time (RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' in --tz, or an age like 2h).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Only queries at or before this time.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// With --baseline: window length (10m, 1h, ...).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1h",
        requires = "baseline"
    )]
    window: String,
    #[command(flatten)]
    baseline: super::stats::BaselineArgs,
    /// Threads reading a large plain file (default: one per core; 1 reads on one thread).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let lang = ctx.lang;
    let zone = match ctx.zone_or(args.tz.as_deref()) {
        Ok(zone) => zone,
        Err(exit) => return exit,
    };
    let Some(format) = Format::parse(&args.format) else {
        ctx.error(
            &format!("--format {}: expected auto, mysql or postgres", args.format),
            &format!(
                "--format {}: auto、mysql、postgres のいずれかを指定してください",
                args.format
            ),
        );
        return Exit::BadInput;
    };
    for (flag, value) in [
        ("--index-ratio", args.index_ratio),
        ("--index-min-rows", args.index_min_rows),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            ctx.error(
                &format!("{flag} {value}: expected a number of 0 or more"),
                &format!("{flag} {value}: 0 以上の数値を指定してください"),
            );
            return Exit::BadInput;
        }
    }
    let (since, until) = match (
        super::scan::time_flag("--since", args.since.as_deref(), &zone, ctx),
        super::scan::time_flag("--until", args.until.as_deref(), &zone, ctx),
    ) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(exit), _) | (_, Err(exit)) => return exit,
    };
    let baseline = match args.baseline.flags(ctx) {
        Ok(Some(spec)) => match super::stats::window_flag(&args.window, ctx) {
            Ok(window_s) => Some(BaselineOptions {
                window_s,
                spec,
                zone: zone.clone(),
            }),
            Err(exit) => return exit,
        },
        Ok(None) => None,
        Err(exit) => return exit,
    };
    let mut digest = Aggregate::new(Options {
        since,
        until,
        baseline,
        numbers: if args.replace_embedded_numbers {
            EmbeddedNumbers::Replace
        } else {
            EmbeddedNumbers::Keep
        },
        index: IndexRule {
            min_ratio: args.index_ratio,
            min_examined_per_call: args.index_min_rows,
        },
        redact: args.redact,
        zone: zone.clone(),
    });
    // A bar on a terminal only, as `tejun scan` shows it.
    let bar = (!args.json && std::io::stderr().is_terminal())
        .then(|| crate::cmd::scan::progress_bar(&args.files, lang));
    let mut failed = false;
    let threads = crate::input::threads(args.threads);
    for path in &args.files {
        let name = path.display().to_string();
        // Baselines need the queries in one piece.
        let parts = (!digest.has_baseline())
            .then(|| crate::input::plain_file_parts(path, threads))
            .flatten();
        let read = match parts {
            Some(bounds) => read_in_parts(&mut digest, path, &bounds, format, threads, bar.clone()),
            None => crate::input::open_log(path, bar.clone(), lang)
                .and_then(|input| digest.read_log(&name, input, format).map(|_| ())),
        };
        if let Err(e) = read {
            let tell = || {
                ctx.error(
                    &format!("{name}: cannot read: {e}"),
                    &format!("{name}: 読み込めません: {e}"),
                )
            };
            match &bar {
                // Printed above the bar, not through it.
                Some(bar) => bar.suspend(tell),
                None => tell(),
            }
            failed = true;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = digest.report(Some(args.top));
    if let Some(html_path) = &args.html {
        let page = html(&report, lang, &zone);
        if let Err(e) = std::fs::write(html_path, page) {
            ctx.error(
                &format!("{}: cannot write: {e}", html_path.display()),
                &format!("{}: 書き込めません: {e}", html_path.display()),
            );
            return Exit::Failed;
        }
    }
    let text = if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => text + "\n",
            Err(e) => {
                ctx.error(&e.to_string(), &e.to_string());
                return Exit::Failed;
            }
        }
    } else {
        table(&report, lang, &zone)
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        ctx.error(
            &format!("cannot write the report: {e}"),
            &format!("結果を書き出せません: {e}"),
        );
        return Exit::Failed;
    }
    if failed { Exit::Failed } else { Exit::Ok }
}

/// A large plain slow log read in parts on `threads` threads, cut where
/// an entry starts, merged in file order into `digest`.
fn read_in_parts(
    digest: &mut Aggregate,
    path: &std::path::Path,
    bounds: &[u64],
    format: Format,
    threads: usize,
    bar: Option<indicatif::ProgressBar>,
) -> std::io::Result<()> {
    use std::io::Read;
    let format = match format {
        Format::Auto => {
            // As much as read_log's buffered reader sees first.
            let mut head = Vec::with_capacity(256 << 10);
            std::fs::File::open(path)?
                .take(256 << 10)
                .read_to_end(&mut head)?;
            Format::detect(&head)
        }
        f => f,
    };
    let bounds = crate::input::cut_at_entries(path, bounds, |before, line| {
        format.starts_entry(before, line)
    })?;
    let name = path.display().to_string();
    digest.start_file(&name, format);
    let template = digest.part();
    let mut error = None;
    crate::input::read_parts(
        path,
        &bounds,
        threads,
        bar,
        |reader| {
            let mut part = template.part();
            let read = reader.and_then(|r| {
                let input = std::io::BufReader::with_capacity(256 << 10, r);
                part.read_log(&name, input, format).map(|_| ())
            });
            (part, read)
        },
        |(part, read)| {
            digest.merge(part);
            if let Err(e) = read {
                error.get_or_insert(e);
            }
        },
    );
    error.map_or(Ok(()), Err)
}

fn time(t: Option<Timestamp>, zone: &TimeZone) -> String {
    t.map_or_else(|| "-".into(), |t| tejun_locale::format_time(t, zone))
}

/// Seconds: microseconds below 10 ms (lock times live there), whole
/// seconds from 1000 s, milliseconds between.
fn secs(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v > 0.0 && v < 0.01 {
        format!("{v:.6}")
    } else {
        format!("{v:.3}")
    }
}

/// Rows examined per row sent: whole above 100, where tenths say nothing.
fn ratio_text(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The report as pt-query-digest's profile followed by one block per
/// fingerprint.
pub fn table(report: &Report, lang: Lang, zone: &TimeZone) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  {} {}  {} {} s  {} {} – {}",
        lang.pick("queries", "クエリ"),
        report.queries,
        lang.pick("fingerprints", "フィンガープリント"),
        report.fingerprints,
        lang.pick("total", "合計"),
        secs(report.query_time),
        lang.pick("from", "期間"),
        time(report.first_seen, zone),
        time(report.last_seen, zone),
    );
    if !report.classes.is_empty() {
        let _ = writeln!(
            out,
            "{} {} {} {} {} {} {} {} {}  {}",
            pad_start(lang.pick("RANK", "順位"), 4),
            pad_start(lang.pick("TOTAL s", "合計 s"), 10),
            pad_start("%", 6),
            pad_start(lang.pick("CALLS", "回数"), 8),
            pad_start(lang.pick("AVG s", "平均 s"), 9),
            pad_start("P95 s", 9),
            pad_start(lang.pick("MAX s", "最大 s"), 9),
            pad_start(lang.pick("EXAM/SENT", "調べ/返し"), 10),
            pad_end(lang.pick("INDEX?", "索引?"), 6),
            lang.pick("FINGERPRINT", "フィンガープリント"),
        );
    }
    for c in &report.classes {
        let ratio = c
            .rows
            .as_ref()
            .map_or_else(|| "-".into(), |r| ratio_text(r.examined_per_sent));
        let _ = writeln!(
            out,
            "{:>4} {:>10} {:>5.1}% {:>8} {:>9} {:>9} {:>9} {:>10} {}  {}",
            c.rank,
            secs(c.query_time.total),
            c.share * 100.0,
            c.count,
            secs(c.query_time.avg),
            secs(c.query_time.p95),
            secs(c.query_time.max),
            ratio,
            pad_end(
                if c.missing_index {
                    lang.pick("yes", "あり")
                } else {
                    ""
                },
                6
            ),
            crate::output::single_line(&c.fingerprint),
        );
    }
    if report.classes.iter().any(|c| c.rows.is_some()) {
        let _ = writeln!(out, "{}", report.index_rule.describe(lang));
    }
    if report.out_of_range > 0 {
        let _ = writeln!(
            out,
            "{}",
            match lang {
                Lang::En => format!(
                    "{} queries outside --since/--until were left out",
                    report.out_of_range
                ),
                Lang::Ja => format!(
                    "--since/--until の範囲外の {} 件のクエリは除きました",
                    report.out_of_range
                ),
            }
        );
    }
    if let Some(baseline) = &report.baseline {
        out.push('\n');
        out.push_str(&baseline.render(lang, zone));
    }
    for c in &report.classes {
        detail(&mut out, c, lang, zone);
    }
    for f in &report.files {
        let _ = write!(
            out,
            "{}: {} {}",
            f.path,
            f.queries,
            lang.pick("queries", "クエリ")
        );
        if f.malformed > 0 {
            let _ = write!(
                out,
                ", {} {}",
                f.malformed,
                lang.pick("malformed entries", "件の読めないエントリ")
            );
            let lines: Vec<String> = f
                .malformed_entries
                .iter()
                .map(|m| format!("{}:{}: {}", f.path, m.line, m.problem.text(lang)))
                .collect();
            let _ = write!(out, "\n  {}", lines.join("\n  "));
            if f.malformed as usize > lines.len() {
                let _ = write!(out, "\n  …");
            }
        }
        out.push('\n');
    }
    out
}

fn detail(out: &mut String, c: &ClassReport, lang: Lang, zone: &TimeZone) {
    let _ = writeln!(
        out,
        "\n#{} {}",
        c.rank,
        crate::output::single_line(&c.fingerprint)
    );
    let _ = writeln!(
        out,
        "   {} {}  {} {}  {} {}{}",
        lang.pick("calls", "回数"),
        c.count,
        lang.pick("first", "最初"),
        time(c.first_seen, zone),
        lang.pick("last", "最後"),
        time(c.last_seen, zone),
        c.sample_db
            .as_deref()
            .map(|db| format!("  db {db}"))
            .unwrap_or_default(),
    );
    if let Some(lock) = &c.lock_time {
        let _ = write!(
            out,
            "   {} {} s ({} {} s)",
            lang.pick("lock", "ロック"),
            secs(lock.total),
            lang.pick("max", "最大"),
            secs(lock.max)
        );
    }
    if let Some(rows) = &c.rows {
        let _ = write!(
            out,
            "  {} {} ({} {:.1})  {} {} ({} {:.1})",
            lang.pick("rows sent", "返した行"),
            rows.sent,
            lang.pick("avg", "平均"),
            rows.sent_avg,
            lang.pick("examined", "調べた行"),
            rows.examined,
            lang.pick("avg", "平均"),
            rows.examined_avg,
        );
    }
    if c.lock_time.is_some() || c.rows.is_some() {
        out.push('\n');
    }
    if c.missing_index {
        let _ = writeln!(
            out,
            "   {}",
            lang.pick(
                "likely missing index: rows examined far above rows sent",
                "索引がない可能性: 返した行数に比べ調べた行数が非常に多い"
            )
        );
    }
    let _ = writeln!(
        out,
        "   {} ({}:{}): {}",
        lang.pick("sample", "例"),
        c.sample_file,
        c.sample_line,
        crate::output::single_line(&c.sample)
    );
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// One self-contained page: no script, no link, styles inline; bars are
/// plain SVG drawn here.
pub fn html(report: &Report, lang: Lang, zone: &TimeZone) -> String {
    let mut out = String::new();
    let title = lang.pick("Slow-query digest", "スロークエリ集計");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td.fp,td.s{{text-align:left;font-family:monospace}}tr.flag td{{background:#fff3cd}}</style></head><body>\n<h1>{title}</h1>\n",
        lang.code()
    );
    let _ = writeln!(
        out,
        "<p>{} {} · {} {} · {} {} s · {} – {}</p>",
        lang.pick("queries", "クエリ"),
        report.queries,
        lang.pick("fingerprints", "フィンガープリント"),
        report.fingerprints,
        lang.pick("total", "合計"),
        secs(report.query_time),
        escape(&time(report.first_seen, zone)),
        escape(&time(report.last_seen, zone)),
    );
    let _ = writeln!(out, "<p>{}</p>", escape(&report.index_rule.describe(lang)));
    let _ = writeln!(
        out,
        "<table><tr><th>{}</th><th>{}</th><th>%</th><th></th><th>{}</th><th>{}</th><th>P95 s</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        lang.pick("rank", "順位"),
        lang.pick("total s", "合計 s"),
        lang.pick("calls", "回数"),
        lang.pick("avg s", "平均 s"),
        lang.pick("max s", "最大 s"),
        lang.pick("examined/sent", "調べ/返し"),
        lang.pick("index?", "索引?"),
        lang.pick("fingerprint", "フィンガープリント"),
    );
    for c in &report.classes {
        let width = (c.share * 120.0).round();
        let _ = writeln!(
            out,
            "<tr{}><td>{}</td><td>{}</td><td>{:.1}</td><td><svg width=\"120\" height=\"10\"><rect width=\"{width}\" height=\"10\" fill=\"#c0392b\"/></svg></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"fp\">{}<br><small class=\"s\">{}</small></td></tr>",
            if c.missing_index {
                " class=\"flag\""
            } else {
                ""
            },
            c.rank,
            secs(c.query_time.total),
            c.share * 100.0,
            c.count,
            secs(c.query_time.avg),
            secs(c.query_time.p95),
            secs(c.query_time.max),
            c.rows
                .as_ref()
                .map_or_else(|| "-".into(), |r| ratio_text(r.examined_per_sent)),
            if c.missing_index {
                lang.pick("yes", "あり")
            } else {
                ""
            },
            escape(&c.fingerprint),
            escape(&c.sample),
        );
    }
    out.push_str("</table>\n");
    if let Some(baseline) = &report.baseline {
        let _ = writeln!(
            out,
            "<h2>{}</h2>",
            lang.pick("Against the previous days", "過去の日々との比較")
        );
        let mut lines = baseline
            .render(lang, zone)
            .lines()
            .map(escape)
            .collect::<Vec<_>>();
        let rule = lines.remove(0);
        let _ = writeln!(out, "<p>{rule}</p>\n<ul>");
        for line in lines {
            let _ = writeln!(out, "<li>{line}</li>");
        }
        out.push_str("</ul>\n");
    }
    for f in &report.files {
        let _ = write!(
            out,
            "<p>{}: {} {}",
            escape(&f.path),
            f.queries,
            lang.pick("queries", "クエリ")
        );
        if f.malformed > 0 {
            let _ = write!(
                out,
                ", {} {}<br>",
                f.malformed,
                lang.pick("malformed entries", "件の読めないエントリ")
            );
            for m in &f.malformed_entries {
                let _ = write!(
                    out,
                    "{}:{}: {}<br>",
                    escape(&f.path),
                    m.line,
                    escape(&m.problem.text(lang))
                );
            }
        }
        out.push_str("</p>\n");
    }
    out.push_str("</body></html>\n");
    out
}
