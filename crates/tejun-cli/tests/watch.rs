//! `tejun watch` end to end: the real binary follows real files with
//! fail2ban's own sshd filter (Debian's `fail2ban` package), writes the
//! journal, survives rotation and restarts, posts webhooks to a server in
//! this test, and opens incidents.
//!
//! Every wait is bounded; a failed wait prints what the watcher said.

mod watch_common;

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::Value;
use tejun_journal::Query;

use watch_common::*;

#[test]
fn maxretry_failures_ban_and_journal_the_offender() {
    let setup = Setup::sshd(3, 600, "");
    let mut watch = setup.watch();
    append(&setup.path("auth.log"), &fail("192.0.2.7").repeat(2));
    assert!(
        watch
            .drain_for(Duration::from_millis(500), |e| e["event"] == "triggered")
            .is_empty()
    );
    append(&setup.path("auth.log"), &fail("192.0.2.7"));
    watch.wait_for("triggered", is("triggered", "192.0.2.7"));
    watch.wait_for("banned", is("banned", "192.0.2.7"));
    // While banned, more failures from it neither count nor ban again.
    append(&setup.path("auth.log"), &fail("192.0.2.7").repeat(4));
    assert!(
        watch
            .drain_for(Duration::from_millis(700), |e| e["event"] == "triggered")
            .is_empty()
    );
    watch.stop();

    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 1);
    let t = &triggered[0];
    assert_eq!(
        (
            t["rule"].as_str(),
            t["offender"].as_str(),
            t["count"].as_u64()
        ),
        (Some("sshd"), Some("192.0.2.7"), Some(3))
    );
    assert_eq!(
        (t["findtime_s"].as_i64(), t["maxretry"].as_u64()),
        (Some(600), Some(3))
    );
    let lines = t["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0]["text"]
            .as_str()
            .unwrap()
            .contains("Failed password for root from 192.0.2.7")
    );
    assert_eq!(lines[0]["sha256"].as_str().unwrap().len(), 64);
    assert!(lines[0]["file"].as_str().unwrap().ends_with("auth.log"));
    let bans = setup.events("ban.added");
    assert_eq!(bans.len(), 1);
    assert_eq!(
        (bans[0]["offender"].as_str(), bans[0]["bantime_s"].as_i64()),
        (Some("192.0.2.7"), Some(600))
    );
    assert_eq!(bans[0]["backend"], "none");
    let entries = setup
        .journal()
        .query(&Query {
            stream_prefix: Some("ban/"),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(entries[0].stream, "ban/192.0.2.7");
    assert_eq!(entries[0].actor, "tejun-watch");
}

#[test]
fn ignoreip_and_ipv4_mapped_addresses() {
    let setup = Setup::sshd(3, 600, "ignoreip: [192.0.2.0/28, '::1']");
    let mut watch = setup.watch();
    let log = setup.path("auth.log");
    append(&log, &fail("192.0.2.5").repeat(5));
    append(&log, &fail("::ffff:198.51.100.9").repeat(2));
    append(&log, &fail("198.51.100.9"));
    watch.wait_for("banned", is("banned", "198.51.100.9"));
    watch.stop();
    let bans = setup.events("ban.added");
    assert_eq!(bans.len(), 1, "{bans:?}");
    assert!(
        setup
            .events("detect.triggered")
            .iter()
            .all(|t| t["offender"] != "192.0.2.5")
    );
}

#[test]
fn follows_rotation_truncation_late_and_vanishing_files() {
    let sources = format!(
        "  - name: auth\n    paths: [auth.log, 'extra-*.log']\n    fail2ban: {{filter: {SSHD_FILTER}, jail: jail.local}}\n"
    );
    // maxretry 1: every line is one detection, so lines can be counted.
    let setup = Setup::new(1, 600, "", &sources);
    let log = setup.path("auth.log");
    fs::write(&log, "").unwrap();
    let mut watch = setup.watch();
    let mut n = 0;
    let mut line = |count: usize| -> String {
        (0..count)
            .map(|_| {
                n += 1;
                fail(&format!("203.0.113.{n}"))
            })
            .collect()
    };

    append(&log, &line(2));
    watch.wait_n("2 detections", 2, |e| e["event"] == "triggered");

    // Rename rotation: lines written to the old file after the rename are
    // read, then the new file from its start.
    let rotated = setup.path("auth.log.1");
    fs::rename(&log, &rotated).unwrap();
    append(&rotated, &line(1));
    append(&log, &line(2));
    watch.wait_n("3 detections after rename", 3, |e| {
        e["event"] == "triggered"
    });

    // copytruncate
    append(&log, &line(1));
    watch.wait_n("1 detection", 1, |e| e["event"] == "triggered");
    fs::copy(&log, setup.path("auth.log.2")).unwrap();
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    append(&log, &line(2));
    watch.wait_for("truncation notice", |e| {
        e["event"] == "file" && e["notice"]["kind"] == "truncated"
    });
    watch.wait_n("2 detections after copytruncate", 2, |e| {
        e["event"] == "triggered"
    });

    // A file that appears later, matched by the glob.
    append(&setup.path("extra-1.log"), &line(1));
    watch.wait_n("1 detection from a new file", 1, |e| {
        e["event"] == "triggered"
    });

    // A file deleted mid-watch: said once, the others keep going, and it is
    // picked up again when it comes back.
    fs::remove_file(&log).unwrap();
    watch.wait_for("disappeared", |e| {
        e["event"] == "file" && e["notice"]["kind"] == "disappeared"
    });
    append(&setup.path("extra-1.log"), &line(1));
    watch.wait_n("1 detection while auth.log is gone", 1, |e| {
        e["event"] == "triggered"
    });
    append(&log, &line(1));
    watch.wait_n("1 detection after auth.log came back", 1, |e| {
        e["event"] == "triggered"
    });
    watch.stop();

    let offenders: Vec<String> = setup
        .events("detect.triggered")
        .iter()
        .map(|t| t["offender"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (1..=n).map(|i| format!("203.0.113.{i}")).collect();
    let mut sorted = offenders.clone();
    sorted.sort_by_key(|o| o.rsplit('.').next().unwrap().parse::<u32>().unwrap());
    assert_eq!(sorted, expected, "every line exactly once");
}

#[test]
fn a_restart_neither_rereads_nor_skips_and_keeps_open_windows() {
    let setup = Setup::sshd(1, 600, "");
    let log = setup.path("auth.log");
    let mut watch = setup.watch();
    append(
        &log,
        &(1..=5)
            .map(|i| fail(&format!("203.0.113.{i}")))
            .collect::<String>(),
    );
    watch.wait_n("5 detections", 5, |e| e["event"] == "triggered");
    watch.stop();
    // Written while no watcher runs, including a partial last line, and a
    // rotation.
    append(
        &log,
        &(6..=7)
            .map(|i| fail(&format!("203.0.113.{i}")))
            .collect::<String>(),
    );
    fs::rename(&log, setup.path("auth.log.1")).unwrap();
    append(&log, &fail("203.0.113.8"));
    let partial = fail("203.0.113.9");
    let (head, tail) = partial.split_at(20);
    append(&log, head);
    let mut watch = setup.watch();
    watch.wait_n("3 detections from the backlog", 3, |e| {
        e["event"] == "triggered"
    });
    append(&log, tail);
    watch.wait_for("the completed partial line", is("triggered", "203.0.113.9"));
    assert!(
        watch
            .drain_for(Duration::from_millis(500), |e| e["event"] == "triggered")
            .is_empty()
    );
    watch.stop();
    let offenders: Vec<String> = setup
        .events("detect.triggered")
        .iter()
        .map(|t| t["offender"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        offenders,
        (1..=9)
            .map(|i| format!("203.0.113.{i}"))
            .collect::<Vec<_>>()
    );

    // An offender two failures into a window of three keeps them.
    let setup = Setup::sshd(3, 600, "");
    let log = setup.path("auth.log");
    let watch = setup.watch();
    append(&log, &fail("198.51.100.77").repeat(2));
    std::thread::sleep(Duration::from_millis(600));
    watch.stop();
    let mut watch = setup.watch();
    append(&log, &fail("198.51.100.77"));
    let t = watch.wait_for(
        "third failure after restart",
        is("triggered", "198.51.100.77"),
    );
    assert_eq!(t["count"], 3);
    watch.stop();
}

#[test]
fn bans_expire_on_time_even_across_a_restart() {
    let setup = Setup::sshd(2, 5, "");
    let log = setup.path("auth.log");
    let mut watch = setup.watch();
    append(&log, &fail("198.51.100.1").repeat(2));
    watch.wait_for("banned", is("banned", "198.51.100.1"));
    // Expiry while running.
    watch.wait_for("expired", is("unbanned", "198.51.100.1"));
    // Banned again, then the watcher stops before the ban ends.
    append(&log, &fail("198.51.100.1").repeat(2));
    watch.wait_for("banned again", is("banned", "198.51.100.1"));
    append(&log, &fail("198.51.100.2").repeat(2));
    let last = watch.wait_for("second ban", is("banned", "198.51.100.2"));
    watch.stop();
    let listed = setup.tejun(&["bans", "--json"]);
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let until: jiff::Timestamp = last["until"].as_str().unwrap().parse().unwrap();
    let left = until
        .duration_since(jiff::Timestamp::now())
        .as_millis()
        .max(0) as u64;
    std::thread::sleep(Duration::from_millis(left + 300));
    // Overdue now: `tejun bans` no longer lists them, and the next watcher
    // lifts them at start.
    let listed: Value = serde_json::from_slice(&setup.tejun(&["bans", "--json"]).stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
    let mut watch = setup.watch();
    watch.drain_for(Duration::from_millis(300), |_| false);
    watch.stop();
    let removed = setup.events("ban.removed");
    assert_eq!(removed.len(), 3, "{removed:?}");
    assert!(removed.iter().all(|r| r["reason"] == "expired"));
}

#[test]
fn unban_lifts_a_ban_and_the_watcher_counts_afresh() {
    let setup = Setup::sshd(2, 3600, "");
    let log = setup.path("auth.log");
    let mut watch = setup.watch();
    append(&log, &fail("198.51.100.5").repeat(2));
    watch.wait_for("banned", is("banned", "198.51.100.5"));
    let out = setup.tejun(&["unban", "198.51.100.5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "unbanned 198.51.100.5"
    );
    let listed: Value = serde_json::from_slice(&setup.tejun(&["bans", "--json"]).stdout).unwrap();
    assert_eq!(listed, serde_json::json!([]));
    // The watcher learns of it from the journal (within a second).
    watch.wait_for("the watcher noticing", |e| {
        e["event"] == "unbanned" && e["offender"] == "198.51.100.5" && e["reason"] == "manual"
    });
    append(&log, &fail("198.51.100.5").repeat(2));
    watch.wait_for("banned again", is("banned", "198.51.100.5"));
    watch.stop();
    let removed = setup.events("ban.removed");
    assert_eq!(
        removed,
        [serde_json::json!({"offender": "198.51.100.5", "reason": "manual"})]
    );
    assert_eq!(setup.events("ban.added").len(), 2);
}

#[test]
fn webhooks_post_slack_json_and_failures_are_journaled() {
    let (url, bodies) = webhook_server(200);
    // A second hook nobody listens on: its failure must not stop anything.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let extra = format!(
        "webhooks:\n  - {{url: '{url}', timeout_s: 5}}\n  - {{url: '{dead_url}', timeout_s: 2}}"
    );
    let setup = Setup::sshd(2, 600, &extra);
    let mut watch = setup.watch();
    append(&setup.path("auth.log"), &fail("198.51.100.20").repeat(2));
    let body = bodies.recv_timeout(WAIT).expect("no webhook received");
    let json: Value = serde_json::from_str(&body).unwrap();
    let text = json["text"].as_str().unwrap();
    assert!(
        text.contains("198.51.100.20") && text.contains("sshd") && text.contains("banned until"),
        "{text}"
    );
    watch.wait_for("webhook sent", |e| {
        e["event"] == "webhook" && e["outcome"]["result"] == "sent"
    });
    watch.wait_for("webhook failed", |e| {
        e["event"] == "webhook" && e["outcome"]["result"] == "failed"
    });
    watch.stop();
    let sent = setup.events("webhook.sent");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["status"], 200);
    // The secret part of the URL is not written to the journal.
    assert!(
        !sent[0]["url"].as_str().unwrap().contains("secret"),
        "{sent:?}"
    );
    assert_eq!(setup.events("webhook.failed").len(), 1);
}

#[test]
fn a_rule_with_an_incident_action_opens_one_and_refers_to_it() {
    require_fail2ban();
    let setup = Setup::sshd(2, 600, "");
    let config = fs::read_to_string(setup.path("watch.yaml")).unwrap()
        + "    actions: [ban, {incident: {mode: attach, severity: P1}}]\n";
    fs::write(setup.path("watch.yaml"), config).unwrap();
    let mut watch = setup.watch();
    append(&setup.path("auth.log"), &fail("198.51.100.30").repeat(2));
    append(&setup.path("auth.log"), &fail("198.51.100.31").repeat(2));
    let first = watch.wait_for("first detection", is("triggered", "198.51.100.30"));
    let second = watch.wait_for("second detection", is("triggered", "198.51.100.31"));
    let id = first["incident"]
        .as_str()
        .expect("an incident id")
        .to_string();
    // attach: the second detection joins the same incident.
    assert_eq!(second["incident"], first["incident"]);
    watch.stop();
    let journal = setup.journal();
    let on_incident = journal
        .query(&Query {
            subject: Some(&format!("incident/{id}")),
            ..Query::default()
        })
        .unwrap();
    let kinds: Vec<&str> = on_incident.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "detect.triggered").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "ban.added").count(),
        2,
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| k.starts_with("incident.")),
        "{kinds:?}"
    );
}

#[test]
fn bad_config_is_reported_at_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("watch.yaml");
    fs::write(&config, "ignoreip: [10.0.0.0/8, 300.1.1.1]\nsources: []\n").unwrap();
    let out = Command::new(tejun())
        .args(["--lang", "en", "watch", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:1:24: `300.1.1.1` in ignoreip",
            config.display()
        )),
        "{stderr}"
    );

    fs::write(&config, "sources:\n  - name: a\n    paths: [a.log]\n    fail2ban: {filter: /nonexistent/sshd.conf}\n").unwrap();
    let out = Command::new(tejun())
        .args(["--lang", "ja", "watch", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:4:24", config.display())) && stderr.contains("エラー"),
        "{stderr}"
    );
}

#[test]
fn one_state_directory_serves_one_watcher() {
    let setup = Setup::sshd(3, 600, "");
    let watch = setup.watch();
    let out = Command::new(tejun())
        .arg("--db")
        .arg(setup.db())
        .args(["--lang", "en", "watch", "--config"])
        .arg(setup.path("watch.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another `tejun watch`"));
    watch.stop();
}

#[test]
fn lines_without_a_readable_date_are_counted_at_arrival_and_reported() {
    let setup = Setup::sshd(2, 600, "");
    let mut watch = setup.watch();
    let undated = "web1 sshd[4242]: Failed password for root from 198.51.100.60 port 50022 ssh2\n";
    append(&setup.path("auth.log"), &undated.repeat(2));
    watch.wait_for("a detection", is("triggered", "198.51.100.60"));
    let said = watch.wait_for("undated report", |e| e["event"] == "undated");
    assert_eq!(said["total"], 2);
    watch.stop();
}

#[test]
fn escalation_reminders_of_detection_incidents_reach_the_inventory_webhook() {
    let (url, bodies) = webhook_server(200);
    let setup = Setup::sshd(2, 600, "reminder_check_s: 1");
    let config = fs::read_to_string(setup.path("watch.yaml")).unwrap()
        + "    actions: [ban, {incident: {mode: open, severity: P1, title: SSH brute force}}]\n";
    fs::write(setup.path("watch.yaml"), config).unwrap();
    fs::write(
        setup.path("tejun.yaml"),
        format!("incidents:\n  webhook: '{url}'\n  escalation:\n    - {{name: stale, no_update_for: 1s}}\n"),
    )
    .unwrap();
    let mut child = Command::new(tejun())
        .arg("--db")
        .arg(setup.db())
        .arg("--inventory")
        .arg(setup.path("tejun.yaml"))
        .args(["watch", "--json", "--config"])
        .arg(setup.path("watch.yaml"))
        .env("LANG", "C")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, events) = channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx
                .send(serde_json::from_str(&line).unwrap_or(Value::Null))
                .is_err()
            {
                break;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    while events
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .expect("watch did not start")["event"]
        != "started"
    {}
    append(&setup.path("auth.log"), &fail("198.51.100.40").repeat(2));
    // No watch.yaml webhooks: the only POSTs are reminders, to the inventory's URL.
    let body = bodies.recv_timeout(WAIT).expect("no reminder posted");
    let _ = child.kill();
    let _ = child.wait();
    let text = serde_json::from_str::<Value>(&body).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!text.is_empty());
    let reminders = setup
        .journal()
        .query(&Query {
            kind_prefix: Some("incident.reminder"),
            ..Query::default()
        })
        .unwrap();
    assert!(!reminders.is_empty(), "the reminder is journaled");
}

#[test]
fn source_actions_override_the_rules_own() {
    let setup = Setup::sshd(2, 600, "");
    let config = fs::read_to_string(setup.path("watch.yaml")).unwrap() + "    actions: [journal]\n";
    fs::write(setup.path("watch.yaml"), config).unwrap();
    let mut watch = setup.watch();
    append(&setup.path("auth.log"), &fail("198.51.100.70").repeat(2));
    watch.wait_for("a detection", is("triggered", "198.51.100.70"));
    assert!(
        watch
            .drain_for(Duration::from_millis(500), |e| e["event"] == "banned")
            .is_empty()
    );
    watch.stop();
    assert_eq!(setup.events("detect.triggered").len(), 1);
    assert!(setup.events("ban.added").is_empty());
}

#[test]
fn builtin_rules_and_ipv6_offenders_banned_as_their_slash_64() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("watch.yaml"),
        "date_zone: UTC\nipv6_prefix: 64\nban: {backend: none}\nsources:\n  - {name: ssh, paths: [auth.log], builtin: sshd}\n",
    )
    .unwrap();
    fs::write(dir.path().join("auth.log"), "").unwrap();
    let setup = Setup { dir };
    let mut watch = setup.watch();
    // Five addresses of one /64 (the built-in sshd rule has maxretry 5).
    let lines: String = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|h| fail(&format!("2001:db8:1:2::{h}")))
        .collect();
    append(&setup.path("auth.log"), &lines);
    let banned = watch.wait_for("the /64 banned", |e| e["event"] == "banned");
    assert_eq!(banned["offender"], "2001:db8:1:2::/64");
    watch.stop();
    let journal = setup.journal();
    let streams = journal.streams("ban/").unwrap();
    assert_eq!(streams, ["ban/2001:db8:1:2::/64"]);
}

#[test]
fn polling_alone_follows_too() {
    let setup = Setup::sshd(1, 600, "inotify: false");
    let log = setup.path("auth.log");
    let mut watch = setup.watch();
    assert_eq!(watch.seen[0]["inotify"], false);
    append(&log, &fail("203.0.113.200"));
    watch.wait_for("a detection by polling", is("triggered", "203.0.113.200"));
    fs::rename(&log, setup.path("auth.log.1")).unwrap();
    append(&log, &fail("203.0.113.201"));
    watch.wait_for(
        "after rotation, by polling",
        is("triggered", "203.0.113.201"),
    );
    watch.stop();
}
