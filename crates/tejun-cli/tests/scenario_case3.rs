//! The security case of the brief, replayed end to end through the real
//! binary and real components (fail2ban's own sshd filter, tar, sha256sum):
//!
//! 1. an SSH brute-force log is appended while `tejun watch` runs;
//! 2. the sshd rule bans the three attacking addresses of one /24 and opens
//!    a P1 incident;
//! 3. `tejun collect` attaches evidence;
//! 4. an operator note and a hypothesis with its verdict are added;
//! 5. a remediation run (tighten fail2ban) is executed with `--incident`;
//! 6. the incident is mitigated and resolved;
//! 7. `tejun report --lang ja` is parsed and must hold the bans, the
//!    detection's line hashes, the evidence hashes, the run's steps and
//!    durations that match the journal.
//!
//! Needs Debian's `fail2ban` package (for /etc/fail2ban/filter.d/sshd.conf).
//! Every wait is bounded.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::Value;

const SSHD_FILTER: &str = "/etc/fail2ban/filter.d/sshd.conf";
const WAIT: Duration = Duration::from_secs(20);
/// Documentation addresses (RFC 5737): never contacted, only written to a log.
const ATTACKERS: [&str; 3] = ["203.0.113.5", "203.0.113.6", "203.0.113.7"];

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        assert!(
            Path::new(SSHD_FILTER).is_file(),
            "{SSHD_FILTER} is missing: install Debian's fail2ban package (apt-get install -y fail2ban)"
        );
        let case = Case {
            dir: tempfile::tempdir().unwrap(),
        };
        case.write("auth.log", "");
        case.write(
            "jail.local",
            "[sshd]\nenabled = true\nfindtime = 600\nmaxretry = 5\nbantime = 600\n",
        );
        case.write(
            "watch.yaml",
            &format!(
                "date_zone: UTC\nban: {{backend: none}}\nsources:\n  - name: auth\n    paths: [auth.log]\n    fail2ban: {{filter: {SSHD_FILTER}, jail: jail.local}}\n    actions: [ban, {{incident: {{mode: attach, severity: P1, title: \"SSH brute force from 203.0.113.0/24\"}}}}]\n"
            ),
        );
        case.write("tejun.yaml", "environments:\n  dev:\n    color: green\n");
        case.write(
            "tighten-fail2ban.yaml",
            "name: tighten-fail2ban\nenv: dev\nexecute:\n  - id: write-jail\n    name: Tighten the sshd jail (maxretry 3, bantime 86400, findtime 3600)\n    run: printf '[sshd]\\nmaxretry = 3\\nbantime = 86400\\nfindtime = 3600\\n' > jail.d-sshd.local\npost:\n  - id: jail-tightened\n    name: The jail holds the new limits\n    check: grep -c '= ' jail.d-sshd.local\n    expect:\n      stdout: \"^3\"\n",
        );
        case
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        fs::write(self.path(name), text).unwrap();
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("tejun"));
        cmd.current_dir(self.dir.path())
            .env("TEJUN_DB", self.path("journal.db"))
            .env_remove("TEJUN_INVENTORY")
            .env("TZ", "Asia/Tokyo")
            .env("LANG", "C")
            .env("USER", "yamada");
        cmd
    }

    fn tejun(&self, args: &[&str]) -> String {
        let out = self.command().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "tejun {args:?} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.tejun(args)).unwrap()
    }
}

/// `tejun watch --json`, read line by line on a thread.
struct Watch {
    child: Child,
    events: Receiver<Value>,
}

impl Watch {
    fn start(case: &Case) -> Watch {
        let mut child = case
            .command()
            .args(["watch", "--json", "--config", "watch.yaml"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, events) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut watch = Watch { child, events };
        watch.wait_for("started", |e| e["event"] == "started");
        watch
    }

    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(event) if pred(&event) => return event,
                Ok(event) => seen.push(event),
                Err(_) => panic!("no `{what}` from tejun watch within {WAIT:?}; saw {seen:#?}"),
            }
        }
    }

    fn stop(mut self) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "tejun watch did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn attack_lines(ip: &str, count: usize) -> String {
    let now = Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let stamp = now.strftime("%b %e %H:%M:%S");
    (0..count)
        .map(|i| format!("{stamp} web1 sshd[{}]: Failed password for invalid user admin from {ip} port {} ssh2\n", 4000 + i, 50000 + i))
        .collect()
}

/// The report's `## ` sections by heading.
fn sections(md: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut current: Option<(String, String)> = None;
    for line in md.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            if let Some((h, body)) = current.take() {
                out.insert(h, body);
            }
            current = Some((heading.trim().to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((h, body)) = current {
        out.insert(h, body);
    }
    out
}

/// Every Markdown table row in `text` (header and separator rows excluded),
/// as trimmed cells.
fn rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in text.lines() {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_string())
            .collect();
        if !in_table {
            in_table = true; // header
            continue;
        }
        if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
            continue;
        }
        rows.push(cells);
    }
    rows
}

fn value_of(rows: &[Vec<String>], key: &str) -> String {
    rows.iter()
        .find(|r| r[0] == key)
        .unwrap_or_else(|| panic!("no row {key:?} in {rows:?}"))[1]
        .clone()
}

/// What the report must show for a span, computed here from the journal.
fn ja_duration(from: &str, to: &str) -> String {
    let from: Timestamp = from.parse().unwrap();
    let to: Timestamp = to.parse().unwrap();
    let secs = to.duration_since(from).as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    // As people say it: zero parts left out (10分, 1時間, 2時間20分).
    let parts: String = [(h, "時間"), (m, "分"), (s, "秒")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0秒".to_string()
    } else {
        parts
    }
}

#[test]
fn case3_ssh_brute_force_from_detection_to_postmortem() {
    let case = Case::new();

    // 1–2. The attack arrives while watch runs; the rule bans and opens P1.
    let mut watch = Watch::start(&case);
    let mut log = OpenOptions::new()
        .append(true)
        .open(case.path("auth.log"))
        .unwrap();
    for ip in ATTACKERS {
        log.write_all(attack_lines(ip, 6).as_bytes()).unwrap();
    }
    log.flush().unwrap();
    let mut incident = None;
    for ip in ATTACKERS {
        let event = watch.wait_for(&format!("detection of {ip}"), |e| {
            e["event"] == "triggered" && e["offender"] == ip
        });
        let id = event["incident"]
            .as_str()
            .expect("the detection names its incident")
            .to_string();
        assert_eq!(
            incident.get_or_insert(id.clone()),
            &id,
            "all three attach to one incident"
        );
    }
    watch.stop();
    let id = incident.unwrap();
    let shown = case.json(&["incident", "show", &id, "--json"]);
    assert_eq!(shown["incident"]["severity"], "P1");
    assert_eq!(shown["incident"]["source"], "detection");

    // 3. Evidence.
    let collected = case.json(&[
        "collect",
        "--incident",
        &id,
        "--layers",
        "os,security",
        "--out",
        "evidence",
        "--json",
    ]);
    let bundle_sha = collected["sha256"].as_str().unwrap().to_string();

    // 4. The operator's note, hypothesis and verdict.
    case.tejun(&["incident", "role", &id, "commander", "Yamada"]);
    case.tejun(&["incident", "status", &id, "investigating"]);
    case.tejun(&[
        "incident",
        "note",
        &id,
        "three addresses of 203.0.113.0/24 tried admin over SSH",
    ]);
    let hyp = case.tejun(&[
        "incident",
        "hypothesis",
        &id,
        "a credential-stuffing bot targets the admin account",
    ]);
    case.tejun(&[
        "incident",
        "verdict",
        hyp.trim(),
        "confirmed",
        "--evidence",
        "same /24, same user, 6 tries each within a minute",
    ]);
    case.tejun(&["incident", "status", &id, "identified"]);

    // 5. The remediation run, attached by --incident.
    case.tejun(&[
        "run",
        "tighten-fail2ban.yaml",
        "--env",
        "dev",
        "--yes",
        "--incident",
        &id,
    ]);
    assert!(
        fs::read_to_string(case.path("jail.d-sshd.local"))
            .unwrap()
            .contains("bantime = 86400")
    );

    // 6. Mitigated and resolved.
    case.tejun(&["incident", "status", &id, "mitigated"]);
    case.tejun(&["incident", "status", &id, "resolved"]);

    // 7. The postmortem, parsed.
    let md = case.tejun(&["report", &id, "--lang", "ja", "--slo", "99.9"]);
    let parts = sections(&md);
    let summary = rows(&parts["1. 事例概要"]);
    assert!(
        value_of(&summary, "原因").contains("credential-stuffing bot"),
        "{summary:?}"
    );
    assert_eq!(value_of(&summary, "対応体制"), "指揮者: Yamada");

    // Bans: one per attacker, from the journal, with the backend used.
    let evidence_part = &parts["4. 検知と証拠"];
    let (bans_text, bundles_text) = evidence_part.split_once("### 証拠バンドル").unwrap();
    let bans = rows(bans_text);
    for ip in ATTACKERS {
        let row = bans
            .iter()
            .find(|r| r[1] == ip)
            .unwrap_or_else(|| panic!("no ban of {ip} in {bans:?}"));
        assert_eq!(row[2], "sshd");
        assert_eq!(row[4], "none");
    }
    // The matched lines' hashes are those the detections journalled.
    let journal = tejun_journal::Journal::open(&case.path("journal.db")).unwrap();
    let detections = journal
        .query(&tejun_journal::Query {
            subject: Some(&format!("incident/{id}")),
            kind_prefix: Some("detect.triggered"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(detections.len(), 3);
    for detection in &detections {
        for line in detection.payload["lines"].as_array().unwrap() {
            let sha = line["sha256"].as_str().unwrap();
            assert!(
                evidence_part.contains(&format!("sha256 `{sha}`")),
                "line hash {sha} missing"
            );
        }
    }
    // Evidence: the bundle's hash and every file's hash, as collect wrote them.
    assert!(
        bundles_text.contains(&format!("(sha256 `{bundle_sha}`)")),
        "{bundles_text}"
    );
    let files = rows(bundles_text);
    for file in collected["files"].as_array().unwrap() {
        let row = files
            .iter()
            .find(|r| r[0] == file["name"].as_str().unwrap())
            .expect("file listed");
        assert_eq!(row[1], format!("`{}`", file["sha256"].as_str().unwrap()));
        assert_eq!(row[2], file["status"].as_str().unwrap());
    }

    // Hypothesis and its verdict.
    let hyps = rows(&parts["5. 仮説と検証"]);
    assert_eq!(hyps[0][0], hyp.trim());
    assert_eq!(hyps[0][2], "確認済み");

    // The run's steps and commands, from the journal.
    let done = &parts["7. 実施した対応"];
    assert!(
        done.contains("`tighten-fail2ban`") && done.contains("結果: 成功"),
        "{done}"
    );
    // Steps are a numbered list, each command in a code block.
    let write = done
        .split("`execute/write-jail`")
        .nth(1)
        .expect("write-jail step");
    assert!(write.starts_with(" [状態変更] — 成功"), "{write}");
    let block = write
        .split("```")
        .nth(1)
        .expect("its command in a code block");
    assert!(block.contains("bantime = 86400"), "{block}");
    let check = done
        .split("`post/jail-tightened`")
        .nth(1)
        .expect("check step");
    assert!(check.contains("— 成功"), "{check}");

    // Durations match the journal's times.
    let inc = &case.json(&["incident", "show", &id, "--json"])["incident"];
    let started = inc["started_at"].as_str().unwrap();
    let detected = inc["detected_at"].as_str().unwrap();
    let at = |status: &str| {
        inc["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["to"] == status)
            .unwrap()["at"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let impact = rows(&parts["3. 影響"]);
    assert_eq!(
        value_of(&impact, "検知までの時間"),
        ja_duration(started, detected)
    );
    assert_eq!(
        value_of(&impact, "緩和までの時間"),
        ja_duration(started, &at("mitigated"))
    );
    assert_eq!(
        value_of(&impact, "復旧までの時間"),
        ja_duration(started, &at("resolved"))
    );
    assert_eq!(
        value_of(&impact, "継続時間 (発生→復旧)"),
        ja_duration(started, &at("resolved"))
    );
    let used_secs = at("mitigated")
        .parse::<Timestamp>()
        .unwrap()
        .duration_since(started.parse().unwrap())
        .as_secs_f64();
    let percent = used_secs / (0.001 * 30.0 * 86_400.0) * 100.0;
    assert!(
        value_of(&impact, "エラーバジェット消費").starts_with(&format!("{percent:.1}% (")),
        "{impact:?}"
    );

    // The timeline holds every kind of event, in JST; a run is its start
    // and its end (its steps are in section 7).
    let timeline = rows(&parts["2. タイムライン"]);
    for event in [
        "インシデント起票",
        "検知",
        "遮断 (BAN)",
        "証拠の収集",
        "メモ",
        "仮説",
        "仮説の判定",
        "影響の開始",
        "手順の実行開始",
        "手順の実行終了",
        "状態変更",
    ] {
        assert!(
            timeline.iter().any(|r| r[1] == event),
            "{event} missing from the timeline"
        );
    }
    assert!(
        !timeline.iter().any(|r| r[1].starts_with("ステップ")),
        "{timeline:?}"
    );
    assert!(
        timeline.iter().all(|r| r[0].ends_with(" JST")),
        "{timeline:?}"
    );
    assert!(
        timeline
            .iter()
            .any(|r| r[1] == "メモ" && r[2] == format!("yamada@{} [指揮者]", hostname())),
        "{timeline:?}"
    );
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}
