//! `tejun scan`: batch detection over whole log files (`.gz` included),
//! pipes and standard input, with tejun rules, built-in rule sets or
//! fail2ban filter files. Inputs are told apart by
//! `tejun_detect::input` before anything is read.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use indicatif::{ProgressBar, ProgressStyle};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tejun_detect::RuleSet;
use tejun_detect::scan::{
    MatchSink, MatchedLine, OffenderReport, Progress, ScanOptions, ScanReport, scan_checked,
};
use tejun_locale::Lang;

use crate::context::{Context, Exit};
use crate::output::{pad_end, pad_start};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  tejun scan /var/log/auth.log --builtin sshd
  tejun scan /var/log/auth.log* --fail2ban-filter /etc/fail2ban/filter.d/sshd.conf
  tejun scan auth.log --fail2ban-filter 'sshd.conf[mode=aggressive]' --jail /etc/fail2ban/jail.local --jail-name sshd
  tejun scan access.log.gz --builtin web-attacks --since 2026-11-21T00:00:00Z --json
  tejun scan app.log --rules rules.yaml --tz Asia/Tokyo
  zcat auth.log.2.gz | tejun scan - --builtin sshd
  tejun scan auth.log --builtin sshd --matches
  tejun scan --journal --fail2ban-filter /etc/fail2ban/filter.d/sshd.conf --since 1d
  tejun scan --journal --unit ssh.service --builtin sshd --matches

Built-in sets: sshd, web-auth, web-attacks, mysql (see docs/rules.md).
Exit codes: 0 scanned, 1 an input could not be read, 2 bad rules or arguments, or an input refused (a device that may never end).")]
pub struct Args {
    /// Log files to scan (plain or .gz); `-` or a pipe reads standard input.
    #[arg(
        required_unless_present_any = ["journal", "journal_match", "unit", "journal_directory", "journal_file"],
        value_name = "FILE"
    )]
    files: Vec<PathBuf>,
    /// Read the systemd journal too (the system's, or --journal-directory /
    /// --journal-file). A fail2ban filter's journalmatch selects entries
    /// unless --journal-match or --unit is given.
    #[arg(long)]
    journal: bool,
    /// Journal match in fail2ban's journalmatch syntax, e.g.
    /// '_SYSTEMD_UNIT=ssh.service + _COMM=sshd' (repeatable, ORed).
    #[arg(long, value_name = "FIELD=VALUE [+ ...]")]
    journal_match: Vec<String>,
    /// Journal entries of this systemd unit (repeatable).
    #[arg(long, value_name = "UNIT")]
    unit: Vec<String>,
    /// Journal directory to read instead of the system journal.
    #[arg(long, value_name = "DIR")]
    journal_directory: Option<PathBuf>,
    /// Journal file to read instead of the system journal (repeatable).
    #[arg(long, value_name = "FILE.journal")]
    journal_file: Vec<PathBuf>,
    /// tejun rule file (YAML, see docs/rules.md).
    #[arg(long, value_name = "RULES.yaml", conflicts_with_all = ["builtin", "fail2ban_filter"])]
    rules: Option<PathBuf>,
    /// Built-in rule sets, comma separated.
    #[arg(
        long,
        value_name = "SET,...",
        value_delimiter = ',',
        conflicts_with = "fail2ban_filter"
    )]
    builtin: Vec<String>,
    /// fail2ban filter file, optionally with options: 'sshd.conf[mode=aggressive]'.
    #[arg(long, value_name = "PATH.conf")]
    fail2ban_filter: Option<String>,
    /// jail.conf / jail.local for findtime, maxretry, bantime and filter options.
    #[arg(long, value_name = "PATH", requires = "fail2ban_filter")]
    jail: Option<PathBuf>,
    /// Jail section to read (default: the filter's name).
    #[arg(long, value_name = "NAME", requires = "jail")]
    jail_name: Option<String>,
    /// Only hits at or after this time (RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' in --tz, or an age like 2h, 1d).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Only hits at or before this time.
    #[arg(long, value_name = "T")]
    until: Option<String>,
    /// Zone of dates without one (default: TZ / the system zone).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Print each matching line with its rule, host, time and user instead
    /// of the offender table (with --json: one JSON object per line).
    #[arg(long)]
    matches: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Context) -> Exit {
    let lang = ctx.lang;
    let zone = match ctx.zone_or(args.tz.as_deref()) {
        Ok(zone) => zone,
        Err(exit) => return exit,
    };
    let mut times = [None, None];
    for (slot, (flag, value)) in times
        .iter_mut()
        .zip([("--since", &args.since), ("--until", &args.until)])
    {
        if let Some(v) = value {
            match parse_time(v, &zone) {
                Some(t) => *slot = Some(t),
                None => {
                    ctx.error(
                        &format!("{flag} {v:?}: expected RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' or an age like 2h"),
                        &format!("{flag} {v:?}: RFC 3339、'YYYY-MM-DD HH:MM[:SS]'、または 2h のような経過時間で指定してください"),
                    );
                    return Exit::BadInput;
                }
            }
        }
    }
    // Every input is checked before any is read: a refused one refuses
    // the scan, with nothing half done.
    let mut inputs = match tejun_detect::input::check_all(&args.files) {
        Ok(inputs) => inputs,
        Err(e) => {
            ctx.error(&e.message(Lang::En), &e.message(Lang::Ja));
            return Exit::BadInput;
        }
    };
    let rules = match load_rules(&args) {
        Ok(r) => r,
        Err(e) => {
            ctx.error(&e, &format!("ルールを読み込めません: {e}"));
            return Exit::BadInput;
        }
    };
    if rules.rules.is_empty() {
        ctx.error(
            "no rules: give --rules, --builtin or --fail2ban-filter",
            "ルールがありません: --rules、--builtin または --fail2ban-filter を指定してください",
        );
        return Exit::BadInput;
    }
    if args.journal
        || !args.journal_match.is_empty()
        || !args.unit.is_empty()
        || args.journal_directory.is_some()
        || !args.journal_file.is_empty()
    {
        let mut matches = args.journal_match.clone();
        if matches.is_empty() && args.unit.is_empty() {
            // fail2ban's `backend = systemd`: the filter's (or jail's)
            // journalmatch picks the entries.
            matches.extend(
                rules
                    .rules
                    .iter()
                    .filter_map(|r| r.params.journalmatch.clone()),
            );
        }
        inputs.push(Ok(tejun_detect::input::Input::journal(
            tejun_detect::input::journald::Query {
                matches,
                units: args.unit.clone(),
                directory: args.journal_directory.clone(),
                files: args.journal_file.clone(),
                since: times[0],
                until: times[1],
            },
        )));
    }
    for rep in rules.engine_reports() {
        for u in &rep.unsupported {
            anstream::eprintln!(
                "{}: {}: {} {}: {}",
                lang.pick("warning", "警告"),
                rep.rule,
                lang.pick(
                    "unsupported pattern skipped",
                    "未対応のパターンを除外しました"
                ),
                u.pattern,
                u.reason
            );
        }
    }
    // A bar on a terminal only: piped output and --json stay unchanged.
    let bar =
        (!args.json && std::io::stderr().is_terminal()).then(|| progress_bar(&args.files, lang));
    let printer = args
        .matches
        .then(|| Arc::new(Mutex::new(MatchPrinter::new(args.json, lang, zone.clone()))));
    let options = ScanOptions {
        since: times[0],
        until: times[1],
        zone: zone.clone(),
        progress: bar
            .clone()
            .map(|bar| Progress(Arc::new(move |bytes| bar.inc(bytes)))),
        matches: printer.clone().map(|printer| {
            MatchSink(Arc::new(Mutex::new(move |m: &MatchedLine<'_>| {
                printer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .print(m)
            })))
        }),
        ..ScanOptions::default()
    };
    let report = scan_checked(&rules, inputs, &options);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(printer) = printer {
        let mut printer = printer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut result = printer.finish();
        if !args.json && result.is_ok() {
            // The per-input counts close the listing, as after the table.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            result = write_file_lines(&mut out, &report, lang).and_then(|()| out.flush());
        }
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => {
                ctx.error(
                    &format!("cannot write the matches: {e}"),
                    &format!("一致行を書き出せません: {e}"),
                );
                return Exit::Failed;
            }
            Ok(()) => {}
        }
    } else if args.json {
        // Streamed: a report with ~65k offenders is ~17 MB of JSON, and
        // building it as one string doubled peak memory.
        let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
        let written = serde_json::to_writer_pretty(&mut out, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
        if let Err(e) = written {
            ctx.error(
                &format!("cannot write the report: {e}"),
                &format!("結果を書き出せません: {e}"),
            );
            return Exit::Failed;
        }
    } else {
        // Plain stdout: the table has no colour for anstream to strip, and
        // stripping scanned every byte of tens of thousands of rows.
        let mut out = std::io::BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
        match write_table(&mut out, &report, ctx.lang, &zone) {
            // The reader left (`| head`): no one to tell.
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
    }
    for f in &report.files {
        if let Some(e) = &f.error {
            ctx.error(
                &format!("{}: cannot read: {e}", f.path),
                &format!("{}: 読み込めません: {e}", f.path),
            );
        }
    }
    let exit = if report.failed_files() > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    };
    // The process ends here: freeing tens of thousands of offenders one by
    // one took 10 ms that the OS does at once.
    std::mem::forget(report);
    exit
}

/// Bytes read across all files, with rate and ETA.
pub(crate) fn progress_bar(files: &[PathBuf], lang: Lang) -> ProgressBar {
    let total: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::new(total);
    let template = format!(
        "{} {{bar:30}} {{bytes}}/{{total_bytes}} {{binary_bytes_per_sec}} {} {{eta}}",
        lang.pick("scanning", "走査中"),
        lang.pick("ETA", "残り"),
    );
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn load_rules(args: &Args) -> Result<RuleSet, String> {
    if let Some(path) = &args.rules {
        return RuleSet::load_yaml_file(path).map_err(|e| e.to_string());
    }
    if let Some(filter) = &args.fail2ban_filter {
        let (name, _) = tejun_detect::fail2ban::filter::parse_filter_spec(filter);
        let jail_name = args.jail_name.clone().unwrap_or_else(|| {
            std::path::Path::new(&name)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default()
        });
        let jail = args.jail.as_deref().map(|p| (p, jail_name.as_str()));
        return RuleSet::from_fail2ban(std::path::Path::new(filter), jail)
            .map_err(|e| e.to_string());
    }
    let names: Vec<&str> = args
        .builtin
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    RuleSet::builtin(&names).map_err(|e| e.to_string())
}

/// `--since`/`--until` of `stats` and `digest`: [`parse_time`], or the
/// error said in both languages (exit 2).
pub(crate) fn time_flag(
    flag: &str,
    value: Option<&str>,
    zone: &TimeZone,
    ctx: &crate::context::Context,
) -> Result<Option<Timestamp>, Exit> {
    let Some(v) = value else { return Ok(None) };
    parse_time(v, zone).map(Some).ok_or_else(|| {
        ctx.error(
            &format!("{flag} {v:?}: expected RFC 3339, 'YYYY-MM-DD HH:MM[:SS]' or an age like 2h"),
            &format!("{flag} {v:?}: RFC 3339、'YYYY-MM-DD HH:MM[:SS]'、または 2h のような経過時間で指定してください"),
        );
        Exit::BadInput
    })
}

/// RFC 3339, a civil date-time in `zone`, or an age (`2h` = two hours ago).
pub(crate) fn parse_time(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts);
    }
    if let Ok(dt) = text.replace(' ', "T").parse::<jiff::civil::DateTime>() {
        return zone.to_ambiguous_timestamp(dt).compatible().ok();
    }
    if let Ok(d) = text.parse::<jiff::civil::Date>() {
        return zone
            .to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .ok();
    }
    let secs = tejun_detect::fail2ban::jail::parse_duration(text)?;
    Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(secs))
        .ok()
}

/// Pads `row` with spaces up to `len` bytes.
fn pad_to(row: &mut String, len: usize) {
    const SPACES: &str = "                                        ";
    let mut missing = len.saturating_sub(row.len());
    // Bounded: each turn pads at least one space.
    while missing > 0 {
        let now = missing.min(SPACES.len());
        row.push_str(&SPACES[..now]);
        missing -= now;
    }
}

/// Appends `n` in decimal, padded with spaces on the left to `width`:
/// without the allocation `to_string` makes (one per offender row).
fn push_right_aligned(row: &mut String, mut n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    // Bounded: u64 has at most 20 digits.
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let text = std::str::from_utf8(&digits[start..]).unwrap_or("?");
    pad_to(row, row.len() + width.saturating_sub(text.len()));
    row.push_str(text);
}

/// The report as a table. Buffered: stdout flushes every line otherwise,
/// and a report lists tens of thousands of offenders.
/// Offender rows rendered by one thread at a time (see [`write_table`]).
const ROWS_PER_BLOCK: usize = 4096;

/// Table rows for `offenders`. Times are appended without `fmt`; hosts and
/// times are ASCII, so padding by bytes is padding by width.
fn render_rows(offenders: &[OffenderReport], zone: &TimeZone) -> String {
    let mut rows = String::with_capacity(offenders.len() * 100);
    for o in offenders {
        let row_start = rows.len();
        rows.push_str("  ");
        o.host.push_to(&mut rows);
        pad_to(&mut rows, row_start + 2 + 40);
        rows.push(' ');
        push_right_aligned(&mut rows, o.count, 7);
        for t in [o.first, o.last] {
            rows.push_str("  ");
            let start = rows.len();
            match t {
                Some(t) => tejun_locale::push_time(&mut rows, t, zone),
                None => rows.push('-'),
            }
            pad_to(&mut rows, start + 23);
        }
        rows.push_str("  ");
        for (i, user) in o.users.iter().enumerate() {
            if i > 0 {
                rows.push(',');
            }
            rows.push_str(user);
        }
        rows.push('\n');
    }
    rows
}

fn write_table(
    out: &mut impl Write,
    report: &ScanReport,
    lang: Lang,
    zone: &TimeZone,
) -> std::io::Result<()> {
    for rule in &report.rules {
        writeln!(
            out,
            "{} {}  {} {}  {} {}",
            lang.pick("rule", "ルール"),
            rule.rule,
            lang.pick("matches", "一致"),
            rule.matches,
            lang.pick("offenders", "攻撃元"),
            rule.offenders.len()
        )?;
        if rule.offenders.is_empty() {
            continue;
        }
        // Labels padded by display width, so Japanese ones line up too.
        writeln!(
            out,
            "  {} {}  {}  {}  {}",
            pad_end(lang.pick("HOST", "ホスト"), 40),
            pad_start(lang.pick("COUNT", "件数"), 7),
            pad_end(lang.pick("FIRST", "最初"), 23),
            pad_end(lang.pick("LAST", "最後"), 23),
            lang.pick("USERS", "ユーザー")
        )?;
        // Tens of thousands of rows: rendered in blocks over the cores,
        // written in order.
        let blocks: Vec<&[OffenderReport]> = rule.offenders.chunks(ROWS_PER_BLOCK).collect();
        for block in tejun_detect::parallel::map(&blocks, |block| render_rows(block, zone)) {
            out.write_all(block.as_bytes())?;
        }
    }
    write_file_lines(out, report, lang)?;
    write_engine_lines(out, report, lang)
}

/// One line per input: lines read, hits, and what was odd about them.
fn write_file_lines(out: &mut impl Write, report: &ScanReport, lang: Lang) -> std::io::Result<()> {
    for f in &report.files {
        let mut notes = Vec::new();
        if f.undated > 0 {
            notes.push(format!(
                "{} {}",
                f.undated,
                lang.pick("hits without a readable date", "件は日時を読めない一致")
            ));
        }
        if f.out_of_range > 0 {
            notes.push(format!(
                "{} {}",
                f.out_of_range,
                lang.pick("hits outside --since/--until", "件は期間外")
            ));
        }
        if f.long_lines > 0 {
            notes.push(format!(
                "{} {}",
                f.long_lines,
                lang.pick(
                    "lines over 1 MiB matched on their start",
                    "行は 1 MiB 超のため先頭のみ照合"
                )
            ));
        }
        if f.binary_lines > 0 {
            notes.push(format!(
                "{} {}",
                f.binary_lines,
                lang.pick(
                    "lines with binary data or invalid UTF-8",
                    "行はバイナリまたは不正な UTF-8"
                )
            ));
        }
        if f.match_errors > 0 {
            notes.push(format!(
                "{} {}",
                f.match_errors,
                lang.pick(
                    "pattern runs stopped at the backtracking limit",
                    "回バックトラック上限で照合を中断"
                )
            ));
        }
        writeln!(
            out,
            "{}: {} {}, {} {}{}",
            f.path,
            f.lines,
            lang.pick("lines", "行"),
            f.hits,
            lang.pick("hits", "件一致"),
            if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            }
        )?;
    }
    Ok(())
}

/// Patterns that run on the backtracking engine, named.
fn write_engine_lines(
    out: &mut impl Write,
    report: &ScanReport,
    lang: Lang,
) -> std::io::Result<()> {
    for e in &report.engines {
        for b in &e.backtracking {
            writeln!(
                out,
                "{}: {} {} ({})",
                e.rule,
                lang.pick("backtracking engine for", "バックトラック方式で実行:"),
                b.pattern,
                b.needs.join(", ")
            )?;
        }
    }
    out.flush()
}

/// `--matches`: each counted hit as it is found, in input order, like
/// `fail2ban-regex --print-all-matched`. The first write error stops the
/// listing (a reader that left, `| head`) and is given back by `finish`.
struct MatchPrinter {
    out: std::io::BufWriter<std::io::Stdout>,
    json: bool,
    lang: Lang,
    zone: TimeZone,
    error: Option<std::io::Error>,
}

/// One `--matches --json` line.
#[derive(serde::Serialize)]
struct MatchJson<'a> {
    input: &'a str,
    line_number: u64,
    rule: &'a str,
    /// Index of the failregex that matched, in the rule's order.
    pattern: usize,
    host: String,
    time: Option<Timestamp>,
    user: Option<&'a str>,
    line: &'a str,
}

impl MatchPrinter {
    fn new(json: bool, lang: Lang, zone: TimeZone) -> MatchPrinter {
        MatchPrinter {
            out: std::io::BufWriter::with_capacity(64 << 10, std::io::stdout()),
            json,
            lang,
            zone,
            error: None,
        }
    }

    fn print(&mut self, m: &MatchedLine<'_>) {
        if self.error.is_some() {
            return;
        }
        let hit = &m.hit;
        let host = tejun_detect::Offender::parse(hit.host_text).to_string();
        let written = if self.json {
            let row = MatchJson {
                input: m.input,
                line_number: m.line_number,
                rule: hit.rule_name,
                pattern: hit.pattern,
                host,
                time: hit.time,
                user: hit.user,
                line: hit.line,
            };
            serde_json::to_writer(&mut self.out, &row)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(self.out))
        } else {
            let lang = self.lang;
            let time = hit.time.map_or_else(
                || "-".to_string(),
                |t| tejun_locale::format_time(t, &self.zone),
            );
            writeln!(
                self.out,
                "{}:{}  {} {}  {} {}  {} {}  {} {}\n  | {}",
                m.input,
                m.line_number,
                lang.pick("rule", "ルール"),
                hit.rule_name,
                lang.pick("host", "ホスト"),
                host,
                lang.pick("time", "日時"),
                time,
                lang.pick("user", "ユーザー"),
                hit.user.unwrap_or("-"),
                hit.line.replace('\n', "\n  | "),
            )
        };
        if let Err(e) = written {
            self.error = Some(e);
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => self.out.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::push_right_aligned;

    #[test]
    fn counts_are_right_aligned_as_format_aligns_them() {
        for n in [0, 7, 10, 1_234_567, 12_345_678, u64::MAX] {
            let mut row = String::from("x");
            push_right_aligned(&mut row, n, 7);
            assert_eq!(row, format!("x{n:>7}"));
        }
    }
}
