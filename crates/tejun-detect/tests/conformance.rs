//! Conformance with fail2ban's own annotated test logs.
//!
//! Every Debian filter in /etc/fail2ban/filter.d runs over its sample log in
//! fail2ban's test suite; each `# failJSON:` annotation says whether the
//! next line must match, and with which host and time. The walk follows
//! fail2ban's `samplestestcase.py`: `# fileOptions:` / `# filterOptions:`
//! blocks (several filter instances per block, `test.condition`),
//! `# addFILE:` includes, `constraint`s, one stateful filter per option
//! combination, times read in CET/CEST with "now" = 2005-08-14 10:00 UTC.
//!
//! Needs the Debian package: `apt-get install -y fail2ban`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::Value;
use tejun_detect::{DateContext, Matcher, RuleSet};

const FILTER_DIR: &str = "/etc/fail2ban/filter.d";
const LOG_DIR: &str = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs";
const TEST_NOW: i64 = 1_124_013_600;
const MUST_BE_PERFECT: &[&str] = &[
    "sshd",
    "nginx-http-auth",
    "apache-auth",
    "postfix",
    "dovecot",
    "mysqld-auth",
];

#[derive(Default, Debug, Clone)]
struct Tally {
    total: usize,
    agree: usize,
    failures: Vec<String>,
    note: String,
}

struct Instance {
    name: String,
    opts: serde_json::Map<String, Value>,
    matcher: Matcher<'static>,
}

fn zone() -> TimeZone {
    // What fail2ban's test suite sets TZ to.
    TimeZone::posix("CET-01CEST-02,M3.5.0,M10.5.0").expect("valid POSIX TZ")
}

fn eval_condition(expr: &str, name: &str, opts: &serde_json::Map<String, Value>) -> bool {
    let expr = expr.replace(' ', "");
    let quoted = |s: &str| s.trim_matches('\'').to_string();
    if let Some(v) = expr.strip_prefix("name==") {
        return name == quoted(v);
    }
    for (op, eq) in [("!=", false), ("==", true)] {
        if let Some((lhs, rhs)) = expr.split_once(op)
            && let Some(key) = lhs
                .strip_prefix("opts.get('")
                .and_then(|k| k.strip_suffix("')"))
        {
            let actual = opts.get(key).and_then(Value::as_str).map(str::to_string);
            return (actual.as_deref() == Some(quoted(rhs).as_str())) == eq;
        }
    }
    panic!("constraint not understood by the harness: {expr}");
}

fn instance(
    filter: &str,
    opts: serde_json::Map<String, Value>,
    cache: &mut HashMap<String, &'static RuleSet>,
    tally: &mut Tally,
) -> Option<Instance> {
    let options: HashMap<String, String> = opts
        .iter()
        .filter(|(k, _)| !k.starts_with("test."))
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    let key = format!("{filter}{options:?}");
    let rules = match cache.get(&key) {
        Some(r) => *r,
        None => {
            let path = Path::new(FILTER_DIR).join(format!("{filter}.conf"));
            match RuleSet::from_fail2ban_with_options(&path, &options) {
                Ok(r) => {
                    for rep in r.engine_reports() {
                        for u in &rep.unsupported {
                            let _ =
                                write!(tally.note, "unsupported: {} ({}); ", u.pattern, u.reason);
                        }
                    }
                    let leaked: &'static RuleSet = Box::leak(Box::new(r));
                    cache.insert(key.clone(), leaked);
                    leaked
                }
                Err(e) => {
                    let note = format!("filter error: {e}; ");
                    if !tally.note.contains(&note) {
                        tally.note.push_str(&note);
                    }
                    return None;
                }
            }
        }
    };
    Some(Instance {
        name: key,
        opts,
        matcher: Matcher::new(rules),
    })
}

fn run_filter(filter: &str) -> Tally {
    let mut tally = Tally::default();
    let mut cache: HashMap<String, &'static RuleSet> = HashMap::new();
    let mut matchers: HashMap<String, Instance> = HashMap::new();
    let ctx = DateContext::new(zone(), Timestamp::from_second(TEST_NOW).unwrap());
    let mut files: Vec<String> = vec![filter.to_string()];
    let mut common: serde_json::Map<String, Value> = serde_json::Map::new();
    let mut active: Vec<String> = Vec::new();
    let mut i = 0;
    while i < files.len() {
        let path = PathBuf::from(LOG_DIR).join(&files[i]);
        i += 1;
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let mut ignore_block = false;
        let mut n = 0;
        while n < lines.len() {
            let line = lines[n];
            n += 1;
            let mut faildata: serde_json::Map<String, Value> = serde_json::Map::new();
            let annotation = line.trim_start_matches('#').trim_start();
            let directive = ["failJSON:", "fileOptions:", "filterOptions:", "addFILE:"]
                .iter()
                .find(|d| line.starts_with('#') && annotation.starts_with(**d));
            let target = if let Some(d) = directive {
                let json: Value = serde_json::from_str(annotation[d.len()..].trim())
                    .unwrap_or_else(|e| panic!("{}:{n}: bad JSON: {e}", path.display()));
                match *d {
                    "fileOptions:" => {
                        common = json.as_object().cloned().unwrap_or_default();
                        continue;
                    }
                    "filterOptions:" => {
                        active.clear();
                        ignore_block = false;
                        let list = match json {
                            Value::Array(a) => a,
                            other => vec![other],
                        };
                        for item in list {
                            let mut opts = common.clone();
                            for (k, v) in item.as_object().cloned().unwrap_or_default() {
                                opts.insert(k, v);
                            }
                            if let Some(c) = opts.get("test.condition").and_then(Value::as_str) {
                                ignore_block = !eval_condition(c, filter, &opts);
                            }
                            if !ignore_block
                                && let Some(inst) = instance(filter, opts, &mut cache, &mut tally)
                            {
                                let name = inst.name.clone();
                                matchers.entry(name.clone()).or_insert(inst);
                                active.push(name);
                            }
                        }
                        continue;
                    }
                    "addFILE:" => {
                        files.push(json.as_str().unwrap_or_default().to_string());
                        continue;
                    }
                    _ => {
                        faildata = json.as_object().cloned().unwrap_or_default();
                        if n >= lines.len() {
                            break;
                        }
                        n += 1;
                        lines[n - 1]
                    }
                }
            } else if ignore_block || line.starts_with('#') || line.trim().is_empty() {
                continue;
            } else {
                line
            };
            if ignore_block {
                continue;
            }
            if active.is_empty() {
                if let Some(inst) = instance(filter, serde_json::Map::new(), &mut cache, &mut tally)
                {
                    let name = inst.name.clone();
                    matchers.entry(name.clone()).or_insert(inst);
                    active.push(name);
                } else {
                    tally.total += 1;
                    continue;
                }
            }
            for name in active.clone() {
                let inst = matchers.get_mut(&name).expect("instance exists");
                if let Some(c) = faildata.get("constraint").and_then(Value::as_str)
                    && !eval_condition(c, filter, &inst.opts)
                {
                    continue;
                }
                tally.total += 1;
                let mut hits = Vec::new();
                if inst.opts.get("logtype").and_then(Value::as_str) == Some("journal") {
                    let prefix = inst
                        .opts
                        .get("test.prefix-line")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let full = format!("{prefix}{target}");
                    inst.matcher.feed_at(
                        &full,
                        Timestamp::from_second(TEST_NOW).unwrap(),
                        &ctx,
                        &mut hits,
                    );
                } else {
                    inst.matcher.feed(target, &ctx, &mut hits);
                }
                let expect = faildata
                    .get("match")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let problem = check(&faildata, expect, &hits, &ctx);
                match problem {
                    None => tally.agree += 1,
                    Some(p) => tally
                        .failures
                        .push(format!("{}:{n} [{name}] {p}\n    {target}", files[i - 1])),
                }
            }
        }
    }
    tally
}

fn check(
    faildata: &serde_json::Map<String, Value>,
    expect: bool,
    hits: &[tejun_detect::Hit],
    ctx: &DateContext,
) -> Option<String> {
    match (expect, hits.first()) {
        (false, None) => None,
        (false, Some(h)) => Some(format!("matched (host {}) but should not", h.host_text)),
        (true, None) => Some("no match but should".into()),
        (true, Some(hit)) => {
            if let Some(host) = faildata.get("host").and_then(Value::as_str)
                && host != hit.host_text
                && host != hit.host.to_string()
            {
                return Some(format!("host {:?} != expected {host:?}", hit.host_text));
            }
            if let Some(t) = faildata.get("time").and_then(Value::as_str) {
                let civil: DateTime = t.parse().ok()?;
                let expected = ctx.zone().to_ambiguous_timestamp(civil).compatible().ok()?;
                match hit.time {
                    Some(got) if got.as_second() == expected.as_second() => {}
                    other => return Some(format!("time {other:?} != expected {expected}")),
                }
            }
            None
        }
    }
}

#[test]
fn debian_filters_agree_with_their_annotated_logs() {
    assert!(
        Path::new(FILTER_DIR).join("sshd.conf").is_file()
            && Path::new(LOG_DIR).join("sshd").is_file(),
        "fail2ban's filters and test logs are missing: run `apt-get install -y fail2ban`"
    );
    let mut filters: Vec<String> = std::fs::read_dir(FILTER_DIR)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".conf") && n != "common.conf")
        .map(|n| n.trim_end_matches(".conf").to_string())
        .filter(|n| Path::new(LOG_DIR).join(n).is_file())
        .collect();
    filters.sort();
    let mut table = String::from(
        "| filter | annotated lines | agree | % | notes |\n|---|---:|---:|---:|---|\n",
    );
    let (mut total, mut agree) = (0, 0);
    let mut imperfect = Vec::new();
    for filter in &filters {
        let tally = run_filter(filter);
        total += tally.total;
        agree += tally.agree;
        let pct = if tally.total == 0 {
            100.0
        } else {
            100.0 * tally.agree as f64 / tally.total as f64
        };
        let _ = writeln!(
            table,
            "| {filter} | {} | {} | {pct:.1} | {} |",
            tally.total,
            tally.agree,
            tally.note.replace('|', "\\|")
        );
        if tally.agree < tally.total {
            println!("--- {filter}: {}/{}", tally.agree, tally.total);
            for f in tally.failures.iter().take(6) {
                println!("  {f}");
            }
            imperfect.push(filter.clone());
        }
    }
    let pct = 100.0 * agree as f64 / total.max(1) as f64;
    let _ = writeln!(
        table,
        "| **total** ({} filters) | {total} | {agree} | {pct:.2} | |",
        filters.len()
    );
    println!("{table}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/detect/conformance.md");
    let _ = std::fs::write(
        &out,
        format!(
            "# fail2ban conformance (generated by `cargo test -p tejun-detect --test conformance`)\n\n{table}"
        ),
    );
    for must in MUST_BE_PERFECT {
        assert!(
            !imperfect.contains(&must.to_string()),
            "{must} must agree 100%"
        );
    }
    assert!(pct >= 95.0, "total agreement {pct:.2}% < 95%");
}

/// fail2ban's config parser (Python's `configparser` with
/// `inline_comment_prefixes=(";",)`) cuts a `;` that follows whitespace,
/// in a value and in its continuation lines, and keeps one glued to a
/// word. A filter with such comments must match what fail2ban-regex
/// matches (observation 13: the comment was kept as part of the regex).
#[test]
fn inline_semicolon_comments_are_cut_as_fail2ban_does() {
    let dir = tempfile::tempdir().unwrap();
    let filter = dir.path().join("inline.conf");
    std::fs::write(
        &filter,
        "[Definition]\n\
         failregex = Failed login from <HOST>$ ; pragma: codespell-ignore\n\
         \x20           Bad key;type from <HOST>$\t; tab before the comment\n\
         \x20           ; a line holding only a comment\n\
         \x20           Denied from <HOST>;$\n\
         ignoreregex =\n\
         datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S\n",
    )
    .unwrap();
    let lines = [
        ("2026-12-04 10:00:00 Failed login from 192.0.2.1", true),
        ("2026-12-04 10:00:01 Bad key;type from 192.0.2.2", true),
        ("2026-12-04 10:00:02 Denied from 192.0.2.3;", true),
        (
            "2026-12-04 10:00:03 Failed login from 192.0.2.4 ; pragma: codespell-ignore",
            false,
        ),
    ];
    let rules = RuleSet::from_fail2ban(&filter, None).unwrap();
    let ctx = DateContext::new(
        TimeZone::UTC,
        Timestamp::from_second(1_800_000_000).unwrap(),
    );
    for (line, expected) in lines {
        let hits = rules.match_line(line, &ctx);
        assert_eq!(!hits.is_empty(), expected, "{line}");
    }

    // The ground truth, when fail2ban itself is installed.
    let log = dir.path().join("inline.log");
    let text: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
    std::fs::write(&log, text).unwrap();
    let Ok(out) = std::process::Command::new("fail2ban-regex")
        .arg("--print-all-matched")
        .arg(&log)
        .arg(&filter)
        .output()
    else {
        return;
    };
    let report = String::from_utf8_lossy(&out.stdout);
    let matched = report
        .split("Matched line(s):")
        .nth(1)
        .map(|rest| rest.split("`-").next().unwrap_or(""))
        .unwrap_or("");
    for (line, expected) in lines {
        assert_eq!(
            matched.contains(line),
            expected,
            "fail2ban-regex disagrees on {line}:\n{report}"
        );
    }
}
