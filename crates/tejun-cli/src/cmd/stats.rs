//! `tejun stats`: per-window request statistics over access logs (nginx,
//! Apache, JSON lines; `.gz` and stdin included).

mod html;
mod table;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use tejun_signals::access::json::JsonFormat;
use tejun_signals::access::template::Templates;
use tejun_signals::access::{
    AccessFormat, FileStats, FormatError, LineFormat, Stats, StatsOptions, Summary, apache, nginx,
    read_log,
};

use crate::context::{Context, Exit};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun stats /var/log/nginx/access.log
  tejun stats access.log.1 access.log.2.gz --window 5m --since 2h
  tejun stats access.log --nginx-format \"log_format timed '\\$remote_addr [\\$time_local] \\\"\\$request\\\" \\$status \\$body_bytes_sent \\$request_time';\"
  tejun stats access.log --nginx-format @/etc/nginx/conf.d/log_format.conf
  tejun stats access_log --apache-format '%h %l %u %t \"%r\" %>s %b %D'
  tejun stats app.jsonl --format json --fields time=ts,request_time=dur:ms
  zcat access.log.*.gz | tejun stats - --json
  tejun stats access.log --html report.html --lang ja

Exit codes: 0 read, 1 an input could not be read, 2 bad format or arguments.")]
pub struct Args {
    /// Access logs (plain or .gz); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Predefined format: combined (nginx and Apache default), common, json.
    #[arg(long, value_name = "NAME", default_value = "combined",
          value_parser = ["combined", "common", "json"])]
    format: String,
    /// Your nginx log_format line, as in nginx.conf (or @FILE holding it).
    #[arg(long, value_name = "LOG_FORMAT", conflicts_with = "apache_format")]
    nginx_format: Option<String>,
    /// Your Apache LogFormat string (or @FILE holding it).
    #[arg(long, value_name = "LOGFORMAT")]
    apache_format: Option<String>,
    /// JSON keys for --format json: PART=KEY[,...]; durations take :s, :ms or :us.
    #[arg(long, value_name = "PART=KEY,...")]
    fields: Option<String>,
    /// Window length (1m, 5m, 1h, ...).
    #[arg(long, value_name = "DURATION", default_value = "1m")]
    window: String,
    /// Only requests at or after this time (RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' in --tz, or an age like 2h).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Only requests at or before this time.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// Zone of times without one, and of the report (default: TZ / the system zone).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Rows in each top list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Also read path segments matching this regex (whole) as ids; repeatable.
    #[arg(long, value_name = "REGEX")]
    id_pattern: Vec<String>,
    /// Count paths as written, without turning ids into :id.
    #[arg(long)]
    no_templates: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Also write a self-contained HTML page with charts.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    #[command(flatten)]
    baseline: BaselineArgs,
    /// Threads reading a large plain file (default: one per core; 1 reads on one thread).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// `--baseline 7d [--baseline-factor 2] [--baseline-for 30m]`, shared by
/// `tejun stats` and `tejun digest`.
#[derive(clap::Args, Debug)]
pub(crate) struct BaselineArgs {
    /// Compare each window with the same time on the previous days (7d) and
    /// report endpoints (stats) or fingerprints (digest) whose p95 rose.
    #[arg(long, value_name = "DAYS")]
    baseline: Option<String>,
    /// With --baseline: how many times its baseline a p95 must reach.
    #[arg(
        long,
        value_name = "FACTOR",
        default_value_t = 2.0,
        requires = "baseline"
    )]
    baseline_factor: f64,
    /// With --baseline: for how long (30m, 6h).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "30m",
        requires = "baseline"
    )]
    baseline_for: String,
}

impl BaselineArgs {
    /// The spec asked for, `None` without `--baseline`, or exit 2 with the
    /// reason said in both languages.
    pub(crate) fn flags(
        &self,
        ctx: &Context,
    ) -> Result<Option<tejun_signals::trend::BaselineSpec>, Exit> {
        let Some(days) = &self.baseline else {
            return Ok(None);
        };
        baseline_spec(days, self.baseline_factor, &self.baseline_for)
            .map(Some)
            .map_err(|(en, ja)| {
                ctx.error(&en, &ja);
                Exit::BadInput
            })
    }
}

/// The whole report: inputs and statistics.
#[derive(serde::Serialize)]
pub(crate) struct Report {
    pub files: Vec<FileStats>,
    #[serde(flatten)]
    pub summary: Summary,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let lang = ctx.lang;
    let zone = match ctx.zone_or(args.tz.as_deref()) {
        Ok(zone) => zone,
        Err(exit) => return exit,
    };
    let mut options = StatsOptions {
        top: args.top,
        zone: zone.clone(),
        ..StatsOptions::default()
    };
    for (slot, flag, value) in [
        (&mut options.since, "--since", &args.since),
        (&mut options.until, "--until", &args.until),
    ] {
        match super::scan::time_flag(flag, value.as_deref(), &zone, ctx) {
            Ok(t) => *slot = t,
            Err(exit) => return exit,
        }
    }
    match window_flag(&args.window, ctx) {
        Ok(secs) => options.window_seconds = secs,
        Err(exit) => return exit,
    }
    let mut templates = Templates {
        enabled: !args.no_templates,
        ..Templates::default()
    };
    for p in &args.id_pattern {
        match regex::Regex::new(p) {
            Ok(re) => templates.patterns.push(re),
            Err(e) => {
                ctx.error(
                    &format!("--id-pattern {p:?}: {e}"),
                    &format!("--id-pattern {p:?}: 正規表現が不正です: {e}"),
                );
                return Exit::BadInput;
            }
        }
    }
    options.templates = templates;
    match args.baseline.flags(ctx) {
        Ok(spec) => options.baseline = spec,
        Err(exit) => return exit,
    }
    let format = match build_format(&args, &zone) {
        Ok(f) => f,
        Err((origin, e)) => {
            let (en, ja) = (
                e.message(tejun_locale::Lang::En),
                e.message(tejun_locale::Lang::Ja),
            );
            ctx.error(
                &format!("{origin}:{}:{}: {en}", e.line, e.column),
                &format!("{origin}:{}:{}: {ja}", e.line, e.column),
            );
            return Exit::BadInput;
        }
    };
    if args.fields.is_some() && args.format != "json" {
        ctx.error(
            "--fields maps JSON keys: give --format json",
            "--fields は JSON のキー対応です。--format json と一緒に指定してください",
        );
        return Exit::BadInput;
    }
    if args.files.iter().filter(|p| is_stdin(p)).count() > 1 {
        ctx.error(
            "`-` (standard input) can be given once",
            "`-`（標準入力）は 1 回だけ指定できます",
        );
        return Exit::BadInput;
    }

    // A bar on a terminal only: piped output and --json stay unchanged.
    let bar = (!args.json && std::io::stderr().is_terminal())
        .then(|| super::scan::progress_bar(&args.files, lang));
    let part_options = options.clone();
    let mut stats = Stats::new(options);
    let threads = crate::input::threads(args.threads);
    let mut files = Vec::new();
    for path in &args.files {
        let mut file = FileStats {
            path: path.display().to_string(),
            ..FileStats::default()
        };
        // Baselines need the requests in one piece.
        let parts = (!stats.has_baseline())
            .then(|| crate::input::plain_file_parts(path, threads))
            .flatten();
        match parts {
            Some(bounds) => crate::input::read_parts(
                path,
                &bounds,
                threads,
                bar.clone(),
                |reader| {
                    let mut part = Stats::part(part_options.clone());
                    let mut part_file = FileStats::default();
                    match reader {
                        Ok(reader) => read_log(reader, &format, &mut part, &mut part_file),
                        Err(e) => part_file.error = Some(e.to_string()),
                    }
                    (part, part_file)
                },
                |(part, part_file)| {
                    stats.merge(part);
                    file.merge(part_file);
                },
            ),
            None => match crate::input::open_log(path, bar.clone(), lang) {
                Ok(reader) => read_log(reader, &format, &mut stats, &mut file),
                Err(e) => file.error = Some(e.to_string()),
            },
        }
        files.push(file);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = Report {
        files,
        summary: stats.finish(),
    };
    if let Some(path) = &args.html {
        let page = html::render(&report, lang, &zone);
        if let Err(e) = std::fs::write(path, page) {
            ctx.error(
                &format!("{}: cannot write: {e}", path.display()),
                &format!("{}: 書き込めません: {e}", path.display()),
            );
            return Exit::Failed;
        }
    }
    let written = if args.json {
        serde_json::to_string_pretty(&report)
            .map_err(std::io::Error::from)
            .and_then(|text| {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{text}").and_then(|()| out.flush())
            })
    } else {
        let mut text = table::render(&report, lang, &zone);
        if let Some(trends) = &report.summary.trends {
            text.push('\n');
            text.push_str(&trends.render(lang, &zone));
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            ctx.error(
                &format!("cannot write the report: {e}"),
                &format!("結果を書き出せません: {e}"),
            );
            return Exit::Failed;
        }
        Ok(()) => {}
    }
    let mut failed = false;
    for f in &report.files {
        if f.requests == 0 && f.malformed > 0 {
            // Every line rejected: most likely the wrong format.
            anstream::eprintln!(
                "{}: {}: {}",
                lang.pick("warning", "警告"),
                f.path,
                lang.pick(
                    "no line matched the format; give the one the log is written with (--nginx-format, --apache-format or --format json, see docs/signals.md)",
                    "書式に合う行がありません。ログを書いた書式を指定してください（--nginx-format、--apache-format、--format json。docs/signals.md 参照）"
                )
            );
        }
        if let Some(e) = &f.error {
            failed = true;
            ctx.error(
                &format!("{}: cannot read: {e}", f.path),
                &format!("{}: 読み込めません: {e}", f.path),
            );
        }
    }
    if failed { Exit::Failed } else { Exit::Ok }
}

/// `--window 5m`: at least one second, as `tejun scan --since` reads
/// durations.
pub(crate) fn window_flag(window: &str, ctx: &Context) -> Result<i64, Exit> {
    match tejun_detect::fail2ban::jail::parse_duration(window) {
        Some(secs) if secs >= 1 => Ok(secs),
        _ => {
            ctx.error(
                &format!("--window {window:?}: expected a duration of at least 1s, like 1m or 5m"),
                &format!("--window {window:?}: 1m や 5m のように 1 秒以上の長さを指定してください"),
            );
            Err(Exit::BadInput)
        }
    }
}

/// `--baseline 7d --baseline-factor 2 --baseline-for 30m`, checked.
fn baseline_spec(
    days: &str,
    factor: f64,
    duration: &str,
) -> Result<tejun_signals::trend::BaselineSpec, (String, String)> {
    let day = std::time::Duration::from_secs(86_400);
    let days = tejun_runbook::duration::parse_duration(days)
        .filter(|d| d.as_secs() % 86_400 == 0 && (day..=day * 28).contains(d))
        .map(|d| (d.as_secs() / 86_400) as u32)
        .ok_or_else(|| {
            (
                format!("--baseline {days:?}: expected whole days from 1d to 28d, like 7d"),
                format!("--baseline {days:?}: 7d のように 1d〜28d の日数で指定してください"),
            )
        })?;
    if !(factor.is_finite() && factor > 1.0) {
        return Err((
            format!("--baseline-factor {factor}: expected a factor above 1, like 2"),
            format!("--baseline-factor {factor}: 2 のように 1 より大きい倍率を指定してください"),
        ));
    }
    let min = tejun_runbook::duration::parse_duration(duration)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            (
                format!("--baseline-for {duration:?}: expected a duration like 30m or 6h"),
                format!("--baseline-for {duration:?}: 30m や 6h のような長さを指定してください"),
            )
        })?;
    Ok(tejun_signals::trend::BaselineSpec {
        days,
        factor,
        min_duration_s: min.as_secs() as i64,
        ..tejun_signals::trend::BaselineSpec::default()
    })
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The format the flags ask for; an error names where its text came from
/// (the flag, or the @FILE) so line:col can be found.
fn build_format(args: &Args, zone: &TimeZone) -> Result<AccessFormat, (String, FormatError)> {
    let text_of = |flag: &str, value: &str| -> Result<(String, String), (String, FormatError)> {
        match value.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .map(|text| (path.to_string(), text))
                .map_err(|e| {
                    (
                        path.to_string(),
                        FormatError::new(
                            1,
                            1,
                            format!("cannot read: {e}"),
                            format!("読み込めません: {e}"),
                        ),
                    )
                }),
            None => Ok((flag.to_string(), value.to_string())),
        }
    };
    if let Some(value) = &args.nginx_format {
        let (origin, text) = text_of("--nginx-format", value)?;
        return nginx::compile(&text, zone.clone())
            .map(AccessFormat::Line)
            .map_err(|e| (origin, e));
    }
    if let Some(value) = &args.apache_format {
        let (origin, text) = text_of("--apache-format", value)?;
        return apache::compile(&text, zone.clone())
            .map(AccessFormat::Line)
            .map_err(|e| (origin, e));
    }
    match args.format.as_str() {
        "json" => JsonFormat::new(args.fields.as_deref().unwrap_or(""), zone.clone())
            .map(AccessFormat::Json)
            .map_err(|e| ("--fields".to_string(), e)),
        "common" => Ok(AccessFormat::Line(LineFormat::common(zone.clone()))),
        _ => Ok(AccessFormat::Line(LineFormat::combined(zone.clone()))),
    }
}
