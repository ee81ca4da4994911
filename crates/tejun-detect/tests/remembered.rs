//! Differential test of results remembered by shape (`tejun_detect::memo`):
//! every Debian fail2ban filter, in every distinct `mode` it defines, over
//! every fail2ban test log, must give exactly the same hits (rule, pattern
//! index, host, user, time, line) and line statistics when a matcher
//! remembers capture and date results as when it searches every line
//! afresh. Logs are fed whole, one matcher per log, so lines of one shape
//! meet each other, and a filter also sees thousands of lines it was not
//! written for.
//!
//! Needs the Debian package: `apt-get install -y fail2ban`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use tejun_detect::{DateContext, Hit, LineStats, Matcher, RuleSet};

const FILTER_DIR: &str = "/etc/fail2ban/filter.d";
const LOG_DIR: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";

fn sorted_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (install the Debian package: apt-get install -y fail2ban)",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file() && keep(p))
        .collect();
    files.sort();
    files
}

/// The `mode` values a filter defines (`mdre-<mode> = ...`), plus its
/// default (no option).
fn modes(filter: &Path) -> Vec<Option<String>> {
    let text = std::fs::read_to_string(filter).expect("readable filter");
    let mut modes = vec![None];
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("mdre-")
            && let Some((name, _)) = rest.split_once('=')
        {
            let name = name.trim();
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric())
                && !modes.contains(&Some(name.to_string()))
            {
                modes.push(Some(name.to_string()));
            }
        }
    }
    modes
}

type LineResult = (Vec<Hit>, LineStats);

fn run(mut matcher: Matcher<'_>, lines: &[&str], ctx: &DateContext) -> Vec<LineResult> {
    lines
        .iter()
        .map(|line| {
            let mut hits = Vec::new();
            let stats = matcher.feed(line, ctx, &mut hits);
            (hits, stats)
        })
        .collect()
}

/// What one filter mode compared.
struct Compared {
    label: String,
    lines: usize,
    hits: usize,
}

/// Everything that decides what a rule matches: two filter modes with the
/// same key (a filter's default and its `mode=normal`) give the same hits.
fn rule_key(rules: &RuleSet) -> String {
    let mut key = String::new();
    for r in &rules.rules {
        let sources = r
            .prefregex
            .iter()
            .chain(&r.failregex)
            .chain(&r.ignoreregex)
            .map(|p| p.source.as_str());
        let dates = r.dates.templates.iter().map(|t| t.name.as_str());
        key.push_str(&format!(
            "{:?}|{:?}|{}|{}|{}|{:?}|{:?}\n",
            r.prefregex.as_ref().map(|p| &p.source),
            sources.collect::<Vec<_>>(),
            r.ignoreregex.len(),
            r.maxlines,
            r.cut_date,
            r.decode,
            (dates.collect::<Vec<_>>(), r.dates.none),
        ));
    }
    key
}

fn compare(
    filter: &Path,
    mode: Option<&str>,
    logs: &[(String, String)],
    ctx: &DateContext,
    seen: &Mutex<HashSet<String>>,
) -> Option<Compared> {
    let options: HashMap<String, String> = mode
        .iter()
        .map(|m| ("mode".to_string(), m.to_string()))
        .collect();
    // Some files in filter.d are only included by others.
    let rules = RuleSet::from_fail2ban_with_options(filter, &options).ok()?;
    if !seen.lock().unwrap().insert(rule_key(&rules)) {
        return None;
    }
    let label = format!("{}[mode={}]", filter.display(), mode.unwrap_or("-"));
    let (mut lines_seen, mut hits) = (0, 0);
    for (log, text) in logs {
        let lines: Vec<&str> = text.lines().collect();
        let remembered = run(Matcher::new(&rules), &lines, ctx);
        let full = run(Matcher::full_path(&rules), &lines, ctx);
        for (n, (r, f)) in remembered.iter().zip(&full).enumerate() {
            assert_eq!(
                r,
                f,
                "{label} on {log}:{}: remembered results differ from a fresh search\n{}",
                n + 1,
                lines[n]
            );
            hits += f.0.len();
        }
        lines_seen += lines.len();
    }
    Some(Compared {
        label,
        lines: lines_seen,
        hits,
    })
}

#[test]
fn remembered_results_give_the_full_path_hits_on_every_filter_and_log() {
    let ctx = DateContext::new(
        TimeZone::posix("CET-01CEST-02,M3.5.0,M10.5.0").expect("valid POSIX TZ"),
        Timestamp::from_second(1_124_013_600).expect("valid time"),
    );
    let logs: Vec<(String, String)> = sorted_files(Path::new(LOG_DIR), |_| true)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable log");
            (
                p.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )
        })
        .collect();
    assert!(
        logs.len() > 50,
        "expected fail2ban's test logs in {LOG_DIR}"
    );
    let filters = sorted_files(Path::new(FILTER_DIR), |p| {
        p.extension().is_some_and(|e| e == "conf")
    });

    let jobs: Vec<(&PathBuf, Option<String>)> = filters
        .iter()
        .flat_map(|f| modes(f).into_iter().map(move |m| (f, m)))
        .collect();
    // Two threads: the comparison runs ~100k lines per filter in debug.
    let seen = Mutex::new(HashSet::new());
    let next = AtomicUsize::new(0);
    let results: Vec<Compared> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (jobs, logs, ctx, seen, next) = (&jobs, &logs, &ctx, &seen, &next);
                scope.spawn(move || {
                    // Jobs are taken one at a time: a few filters (sshd's
                    // modes) cost far more than the rest.
                    std::iter::from_fn(|| jobs.get(next.fetch_add(1, Ordering::Relaxed)))
                        .filter_map(|(filter, mode)| {
                            compare(filter, mode.as_deref(), logs, ctx, seen)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let compared_lines: usize = results.iter().map(|r| r.lines).sum();
    let compared_hits: usize = results.iter().map(|r| r.hits).sum();
    let labels: Vec<&str> = results.iter().map(|r| r.label.as_str()).collect();
    // Guards against a test that compares nothing.
    assert!(compared_lines > 80_000, "compared {compared_lines} lines");
    assert!(compared_hits > 1_000, "compared {compared_hits} hits");
    assert!(
        labels.iter().any(|l| l.contains("/sshd.conf")),
        "the sshd filter must be compared; compared: {labels:?}"
    );
    assert!(
        labels.len() >= 80,
        "only {} distinct filter modes compared",
        labels.len()
    );
    eprintln!(
        "{} filter modes, {compared_lines} lines, {compared_hits} hits: identical",
        labels.len()
    );
}
