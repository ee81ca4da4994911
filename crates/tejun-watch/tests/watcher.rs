//! The watch loop driven directly, with a tiny stand-in for detect's rules
//! (`fail <host>`): IPv6 aggregation, IPv4-mapped addresses, the command
//! backend's templates run as real processes, and rules without bans.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use jiff::SignedDuration;
use tejun_journal::{Journal, Query};
use tejun_watch::config::Actions;
use tejun_watch::rules::{LineRules, RuleHit, RuleInfo};
use tejun_watch::{Config, Options, Report, Watcher};

struct FailRules(Vec<RuleInfo>);

impl LineRules for FailRules {
    fn rules(&self) -> &[RuleInfo] {
        &self.0
    }
    fn match_line(&mut self, line: &str) -> Vec<RuleHit> {
        match line.strip_prefix("fail ") {
            Some(host) => vec![RuleHit {
                rule: 0,
                host: host.to_string(),
                time: None,
            }],
            None => Vec::new(),
        }
    }
}

fn rule(maxretry: u32, ban: bool) -> Box<dyn LineRules> {
    Box::new(FailRules(vec![RuleInfo {
        name: "fail".into(),
        findtime: SignedDuration::from_secs(600),
        maxretry,
        bantime: Some(SignedDuration::from_secs(3600)),
        severity: Some("P2".into()),
        actions: Actions {
            ban,
            ..Actions::default()
        },
    }]))
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn options(dir: &Path, journal: &Arc<Journal>) -> Options {
    Options {
        journal: journal.clone(),
        state_dir: dir.join("state"),
        stop: Arc::new(AtomicBool::new(false)),
        lang: tejun_locale::Lang::En,
        zone: jiff::tz::TimeZone::UTC,
        incident: None,
        periodic: None,
        periodic_every: Duration::from_secs(3600),
        runbooks: None,
    }
}

fn kinds(journal: &Journal, kind: &str) -> Vec<serde_json::Value> {
    journal
        .query(&Query {
            kind_prefix: Some(kind),
            ..Query::default()
        })
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.payload)
        .collect()
}

#[test]
fn ipv6_offenders_are_banned_as_their_prefix_through_a_command_template() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, "").unwrap();
    let marks = dir.path().join("marks");
    fs::create_dir(&marks).unwrap();
    let yaml = format!(
        "ipv6_prefix: 64\nban:\n  backend: command\n  add: [touch, '{m}/ban {{ip}} {{prefix}} {{bantime}}']\n  remove: [rm, '{m}/ban {{ip}} {{prefix}} 3600']\nsources:\n  - {{name: app, paths: [app.log], builtin: unused}}\n",
        m = marks.display()
    );
    let config = Config::parse(&yaml, &dir.path().join("watch.yaml")).unwrap();
    let journal = Arc::new(Journal::open(&dir.path().join("journal.db")).unwrap());
    let mut reports = Vec::new();
    let mut report = |r: Report| reports.push(r);
    let mut watcher = Watcher::start(
        config,
        vec![rule(3, true)],
        options(dir.path(), &journal),
        &mut report,
    )
    .unwrap();
    append(
        &log,
        "fail 2001:db8:1:2::a\nfail [2001:db8:1:2:ffff::1]\nfail 2001:db8:1:3::1\nfail 2001:db8:1:2::c\n\
         fail ::ffff:192.0.2.1\nfail 192.0.2.1\nfail 192.0.2.1\n\
         fail $(touch x);\nfail $(touch x);\nfail $(touch x);\n",
    );
    watcher.poll_sources();
    watcher.save().unwrap();
    drop(watcher);
    let mut made: Vec<String> = fs::read_dir(&marks)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    made.sort();
    // Each substituted value stayed inside its one argument.
    assert_eq!(
        made,
        ["ban 192.0.2.1 32 3600", "ban 2001:db8:1:2:: 64 3600"]
    );
    let offenders: Vec<_> = kinds(&journal, "ban.added")
        .iter()
        .map(|b| b["offender"].clone())
        .collect();
    assert_eq!(offenders, ["2001:db8:1:2::/64", "192.0.2.1"]);
    let triggered = kinds(&journal, "detect.triggered");
    assert_eq!(triggered.len(), 3, "{triggered:?}");
    assert!(
        reports.iter().any(
            |r| matches!(r, Report::NotBannable { offender, .. } if offender == "$(touch x);")
        )
    );
}

#[test]
fn a_rule_without_ban_triggers_again_after_maxretry_fresh_hits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    fs::write(&log, "").unwrap();
    let yaml =
        "ban: {backend: none}\nsources:\n  - {name: app, paths: [app.log], builtin: unused}\n";
    let config = Config::parse(yaml, &dir.path().join("watch.yaml")).unwrap();
    let journal = Arc::new(Journal::open(&dir.path().join("journal.db")).unwrap());
    let mut report = |_r: Report| {};
    let mut watcher = Watcher::start(
        config,
        vec![rule(2, false)],
        options(dir.path(), &journal),
        &mut report,
    )
    .unwrap();
    append(&log, &"fail 198.51.100.1\n".repeat(5));
    watcher.poll_sources();
    // Detections are acted on once the batch that found them is saved.
    watcher.save().unwrap();
    drop(watcher);
    assert_eq!(kinds(&journal, "detect.triggered").len(), 2);
    assert!(kinds(&journal, "ban.added").is_empty());
}
