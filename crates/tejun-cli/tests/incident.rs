//! `tejun incident` through the real binary: ids, prefixes, transitions,
//! backfilled times, the operator's zone, and refusals that write nothing.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

mod common;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        assert!(
            std::path::Path::new("/usr/share/zoneinfo/Asia/Tokyo").exists(),
            "times are checked in JST: install Debian's tzdata package"
        );
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn tejun(&self) -> Command {
        let mut cmd = common::tejun_in(self.dir.path());
        cmd.env("NO_COLOR", "1");
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.tejun().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn event_count(&self) -> usize {
        let journal = tejun_journal::Journal::open(&self.dir.path().join("journal.db")).unwrap();
        journal.head().unwrap().0 as usize
    }
}

fn open(env: &Env) -> String {
    let id = env.ok(&[
        "incident",
        "open",
        "--title",
        "DB timeouts",
        "--severity",
        "p1",
        "--impact",
        "checkout 503",
        "--started-at",
        "-20m",
        "--at",
        "-10m",
    ]);
    id.trim().to_string()
}

#[test]
fn open_prints_a_short_id_that_prefixes_resolve() {
    let env = Env::new();
    let id = open(&env);
    assert!(id.starts_with("INC-") && id.len() == 8, "{id}");
    let prefix = id[4..6].to_lowercase();
    let shown = env.json(&["incident", "show", &prefix, "--json"]);
    assert_eq!(shown["incident"]["id"], id.as_str());
    assert_eq!(shown["incident"]["severity"], "P1");
    assert_eq!(shown["incident"]["status"], "detected");
    assert_eq!(shown["timeline"][0]["kind"], "incident.opened");
    assert_eq!(shown["timeline"][0]["backfilled"], true);
}

#[test]
fn the_full_life_of_an_incident() {
    let env = Env::new();
    let id = open(&env);
    env.ok(&["incident", "role", &id, "commander", "Sato"]);
    env.ok(&["incident", "status", &id, "investigating", "--at", "-8m"]);
    env.ok(&["incident", "note", &id, "load average 25"]);
    let hyp = env.ok(&["incident", "hypothesis", &id, "unindexed LIKE query"]);
    assert_eq!(hyp.trim(), format!("{id}-H1"));
    env.ok(&[
        "incident",
        "verdict",
        hyp.trim(),
        "confirmed",
        "--evidence",
        "slow log shows filesort",
    ]);
    env.ok(&["incident", "status", &id, "mitigated", "--at", "-5m"]);
    env.ok(&["incident", "status", &id, "resolved"]);
    env.ok(&[
        "incident",
        "cause",
        &id,
        "--layer",
        "technical",
        "no index",
        "--why",
        "no review",
        "--why",
        "no checklist",
    ]);
    env.ok(&["incident", "lesson", &id, "review query plans"]);
    env.ok(&["incident", "severity", &id, "P0"]);
    env.ok(&[
        "incident",
        "impact",
        &id,
        "all checkouts fail; about 5M JPY per hour",
    ]);
    env.ok(&[
        "incident",
        "action",
        &id,
        "--term",
        "short",
        "--owner",
        "DB team",
        "add the index",
    ]);
    env.ok(&["incident", "status", &id, "closed"]);

    let inc = &env.json(&["incident", "show", &id, "--json"])["incident"];
    assert_eq!(inc["status"], "closed");
    assert_eq!(inc["severity"], "P0");
    assert_eq!(inc["impact"], "all checkouts fail; about 5M JPY per hour");
    assert_eq!(inc["roles"][0]["name"], "Sato");
    assert_eq!(inc["hypotheses"][0]["verdict"]["verdict"], "confirmed");
    assert_eq!(inc["causes"][0]["whys"][1], "no checklist");
    assert_eq!(inc["actions"][0]["owner"], "DB team");
    assert_eq!(inc["history"].as_array().unwrap().len(), 4);

    // Reopening is allowed and recorded as such.
    let out = env.ok(&["incident", "status", &id, "investigating"]);
    assert!(out.contains("reopened"), "{out}");
    let inc = &env.json(&["incident", "show", &id, "--json"])["incident"];
    assert_eq!(inc["history"][4]["reopen"], true);

    // The human view is in the operator's zone.
    let shown = env.ok(&["incident", "show", &id]);
    assert!(shown.contains(" JST"), "{shown}");
    assert!(shown.contains("(backfilled)"), "{shown}");
    assert!(shown.contains("reopened"), "{shown}");
}

#[test]
fn list_filters_and_json() {
    let env = Env::new();
    let a = open(&env);
    let b = env
        .ok(&["incident", "open", "--title", "latent", "--severity", "P3"])
        .trim()
        .to_string();
    env.ok(&["incident", "status", &a, "resolved"]);
    let all = env.json(&["incident", "list", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let active = env.json(&["incident", "list", "--status", "active", "--json"]);
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["id"], b.as_str());
    let p1 = env.json(&["incident", "list", "--severity", "P1,P0", "--json"]);
    assert_eq!(p1[0]["id"], a.as_str());
    let table = env.ok(&["incident", "list"]);
    assert!(
        table.contains(&a) && table.contains(&b) && table.contains("JST"),
        "{table}"
    );
}

#[test]
fn bad_input_exits_2_in_both_languages_and_writes_nothing() {
    let env = Env::new();
    let id = open(&env);
    let before = env.event_count();
    let missing_hyp = format!("{id}-H7");
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec!["incident", "status", "NOPE", "resolved"],
            "no incident",
            "インシデント",
        ),
        (
            vec!["incident", "status", &id, "detected"],
            "already detected",
            "すでに detected",
        ),
        (
            vec!["incident", "status", &id, "closed"],
            "resolve it first",
            "先に resolved",
        ),
        (
            vec!["incident", "status", &id, "mitigated", "--at", "-30m"],
            "before the impact started",
            "影響の開始",
        ),
        (
            vec!["incident", "status", &id, "mitigated", "--at", "-15m"],
            "before the incident was detected",
            "検知",
        ),
        (
            vec!["incident", "status", &id, "fixed"],
            "unknown status",
            "不明な状態",
        ),
        (
            vec!["incident", "status", &id, "resolved", "--at", "yesterday"],
            "cannot read the time",
            "時刻",
        ),
        (
            vec!["incident", "status", &id, "resolved", "--at", "+1h"],
            "cannot read the time",
            "時刻",
        ),
        (
            vec!["incident", "open", "--title", "x", "--severity", "P9"],
            "unknown severity",
            "不明な重大度",
        ),
        (
            vec![
                "incident",
                "verdict",
                "INC-ZZZZ-H1",
                "confirmed",
                "--evidence",
                "x",
            ],
            "no incident",
            "インシデント",
        ),
        (
            vec![
                "incident",
                "verdict",
                &missing_hyp,
                "confirmed",
                "--evidence",
                "x",
            ],
            "no hypothesis",
            "仮説",
        ),
        (
            vec!["incident", "role", &id, "hero", "x"],
            "unknown role",
            "不明な役割",
        ),
        (
            vec!["incident", "cause", &id, "--layer", "human", "x"],
            "unknown cause layer",
            "原因の層",
        ),
        (vec!["incident", "note", &id, "  "], "empty", "空"),
        (
            vec!["incident", "severity", &id, "P1"],
            "already P1",
            "すでに P1",
        ),
        (vec!["incident", "impact", &id, ""], "empty", "空"),
    ];
    for (args, en, ja) in &cases {
        env.tejun()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*en));
        env.tejun()
            .arg("--lang")
            .arg("ja")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*ja));
    }
    assert_eq!(env.event_count(), before, "refused commands must not write");
}

/// Runs land on the incident's timeline: with `--incident PREFIX`, and on
/// their own while an incident is active when the inventory says so.
#[test]
fn runs_attach_by_prefix_or_to_the_active_incident() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let inventory = |attach: bool| {
        let text = format!(
            "environments:\n  dev:\n    color: green\nincidents:\n  attach_active_runs: {attach}\n"
        );
        std::fs::write(d.join("tejun.yaml"), text).unwrap();
    };
    inventory(false);
    std::fs::write(
        d.join("book.yaml"),
        "name: relief\nenv: dev\nexecute:\n  - id: look\n    run: uptime\n",
    )
    .unwrap();
    let tejun = || {
        let mut cmd = Command::cargo_bin("tejun").unwrap();
        cmd.current_dir(d)
            .env_remove("TEJUN_DB")
            .env_remove("TEJUN_INVENTORY")
            .env("LANG", "C")
            .env("TEJUN_AUDIT_KEY", d.join("audit.key"))
            .env("USER", "sato");
        cmd
    };
    let out = tejun()
        .args([
            "incident",
            "open",
            "--title",
            "slow site",
            "--severity",
            "P2",
            "--env",
            "dev",
        ])
        .output()
        .unwrap();
    let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let runs_on_timeline = || {
        let out = tejun()
            .args(["incident", "show", &id, "--json"])
            .output()
            .unwrap();
        let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
        shown["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["kind"] == "run.started")
            .count()
    };

    tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .success();
    assert_eq!(
        runs_on_timeline(),
        0,
        "not attached unless the inventory says so"
    );

    tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--incident",
            &id[4..7],
        ])
        .assert()
        .success();
    assert_eq!(runs_on_timeline(), 1, "a prefix names the incident");
    tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--incident",
            "NOPE",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no incident"));

    inventory(true);
    tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "attached to the active dev incident {id}"
        )));
    assert_eq!(runs_on_timeline(), 2);
    let out = tejun()
        .args(["incident", "show", &id, "--json"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "step.finished")
        .count();
    assert_eq!(steps, 2, "each attached run's step is on the timeline");

    // A resolved incident is no longer active: runs stay on their own.
    tejun()
        .args(["incident", "status", &id, "resolved"])
        .assert()
        .success();
    tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .success();
    assert_eq!(runs_on_timeline(), 2);
}

/// `tejun audit verify` covers incident events: they are in the same chain.
#[test]
fn audit_verify_names_a_tampered_incident_note() {
    let env = Env::new();
    let id = open(&env);
    env.ok(&["incident", "note", &id, "blocked 203.0.113.0/24 at 02:20"]);
    env.ok(&["incident", "status", &id, "mitigated"]);
    let intact = env
        .tejun()
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        intact.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&intact.stdout)
    );
    let db = env.dir.path().join("journal.db");
    let note_seq: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT seq FROM events WHERE kind = 'incident.note'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    // Someone rewrites the note to hide when the block happened.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE events SET payload = replace(payload, '02:20', '02:16') WHERE seq = ?1",
            [note_seq],
        )
        .unwrap();
    let out = env
        .tejun()
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert_eq!(report["first_bad"]["seq"], note_seq, "{report}");
    assert_eq!(report["first_bad"]["problem"], "edited", "{report}");
}

/// Escalation rules from the inventory fire while `tejun watch` runs: the
/// reminder is journalled once and posted to the webhook (a server in this
/// test on 127.0.0.1), in the operator's language.
#[test]
fn reminders_reach_the_webhook_while_watch_runs() {
    use std::time::{Duration, Instant};

    let filter = "/etc/fail2ban/filter.d/sshd.conf";
    assert!(
        std::path::Path::new(filter).is_file(),
        "{filter} is missing: install Debian's fail2ban package (apt-get install -y fail2ban)"
    );
    let env = Env::new();
    let d = env.dir.path();
    let (port, rx) = common::http_endpoint(Vec::new());
    std::fs::write(
        d.join("tejun.yaml"),
        "environments:\n  dev:\n    color: green\nincidents:\n  escalation:\n    - name: p1-not-mitigated-30m\n      severities: [P1]\n      not_reached: mitigated\n      within: 30m\n",
    )
    .unwrap();
    std::fs::write(d.join("auth.log"), "").unwrap();
    std::fs::write(
        d.join("watch.yaml"),
        format!(
            "date_zone: UTC\nban: {{backend: none}}\nwebhooks:\n  - url: http://127.0.0.1:{port}/hook\nsources:\n  - name: auth\n    paths: [auth.log]\n    fail2ban: {{filter: {filter}}}\n"
        ),
    )
    .unwrap();
    // Detected 31 minutes ago and still not mitigated.
    let id = env.ok(&[
        "incident",
        "open",
        "--title",
        "checkout down",
        "--severity",
        "P1",
        "--at",
        "-31m",
    ]);
    let id = id.trim().to_string();

    let mut watch = std::process::Command::new(assert_cmd::cargo::cargo_bin("tejun"))
        .current_dir(d)
        .env("TEJUN_DB", d.join("journal.db"))
        .env("TZ", "Asia/Tokyo")
        .env_remove("TEJUN_INVENTORY")
        .args(["--lang", "ja", "watch", "--config", "watch.yaml"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Watch evaluates reminders every 30 s.
    let body = rx.recv_timeout(Duration::from_secs(60));
    let pid = watch.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while watch.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = watch.kill();
    let _ = watch.wait();
    let body = body.expect("no reminder reached the webhook within 60 s");
    let posted: Value = serde_json::from_str(&body).unwrap();
    let text = posted["text"].as_str().unwrap();
    assert!(
        text.contains(&id) && text.contains("mitigated になっていません"),
        "{text}"
    );

    let journal = tejun_journal::Journal::open(&d.join("journal.db")).unwrap();
    let reminders = journal
        .query(&tejun_journal::Query {
            subject: Some(&format!("incident/{id}")),
            kind_prefix: Some("incident.reminder"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(reminders.len(), 1, "fired once per rule per incident");
    assert_eq!(reminders[0].payload["rule"], "p1-not-mitigated-30m");
}

/// An inventory may replace the book's severities; only its names are then
/// accepted, and the report shows its definitions.
#[test]
fn severities_come_from_the_inventory_when_it_defines_them() {
    let env = Env::new();
    let d = env.dir.path();
    std::fs::write(
        d.join("tejun.yaml"),
        "environments:\n  dev:\n    color: green\nincidents:\n  severities:\n    SEV1: customer-facing outage\n    SEV2: degraded service\n",
    )
    .unwrap();
    env.tejun()
        .args(["incident", "open", "--title", "x", "--severity", "P1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("SEV1, SEV2"));
    let id = env.ok(&[
        "incident",
        "open",
        "--title",
        "payments slow",
        "--severity",
        "sev2",
    ]);
    let report = env.ok(&["report", id.trim(), "--lang", "en"]);
    assert!(
        report.contains("severity SEV2 (degraded service)"),
        "{report}"
    );
}

/// A lab for runs and incidents: `dev` and `production`, attaching runs to
/// active incidents, and a one-step runbook.
fn incident_lab() -> common::Lab {
    let lab = common::Lab::with_inventory(
        "environments:\n  dev:\n    color: green\n  production:\n    color: red\nincidents:\n  attach_active_runs: true\n",
    );
    lab.write(
        "book.yaml",
        "name: quickstart\nenv: [dev, production]\nexecute:\n  - id: look\n    run: echo look\n",
    );
    lab
}

fn lab_stdout(cmd: &mut Command) -> String {
    common::stdout(cmd)
}

fn run_ids_on_timeline(lab: &common::Lab, id: &str) -> Vec<String> {
    let shown: Value = serde_json::from_str(&lab_stdout(
        lab.tejun().args(["incident", "show", id, "--json"]),
    ))
    .unwrap();
    shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "run.started")
        .map(|r| r["seq"].to_string())
        .collect()
}

/// Observation 9: a dev quickstart run started during a P0 production
/// incident attached itself to it and landed in the P0 postmortem.
#[test]
fn a_dev_run_does_not_attach_to_a_production_incident() {
    let lab = incident_lab();
    let p0 = lab_stdout(lab.tejun().args([
        "incident",
        "open",
        "--title",
        "checkout down",
        "--severity",
        "P0",
        "--env",
        "production",
    ]))
    .trim()
    .to_string();
    // A misspelt environment is refused: it would collect no run.
    lab.tejun()
        .args([
            "incident",
            "open",
            "--title",
            "x",
            "--severity",
            "P0",
            "--env",
            "prod",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an environment"));
    // No environment named: no run attaches itself to it either.
    let unnamed = lab_stdout(lab.tejun().args([
        "incident",
        "open",
        "--title",
        "something",
        "--severity",
        "P3",
    ]))
    .trim()
    .to_string();
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .success()
        .stderr(predicate::str::contains("attached").not());
    assert!(run_ids_on_timeline(&lab, &p0).is_empty());
    assert!(run_ids_on_timeline(&lab, &unnamed).is_empty());
    let report = lab_stdout(lab.tejun().args(["report", &p0, "--lang", "en"]));
    assert!(!report.contains("quickstart"), "{report}");

    // A production run does attach.
    lab.tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "production",
            "--yes",
            "--confirm-env",
            "production",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "attached to the active production incident {p0}"
        )));
    assert_eq!(run_ids_on_timeline(&lab, &p0).len(), 1);
    // An explicit --incident still attaches any run.
    lab.tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--incident",
            &unnamed,
        ])
        .assert()
        .success();
    assert_eq!(run_ids_on_timeline(&lab, &unnamed).len(), 1);
}

#[test]
fn detach_takes_a_run_off_the_timeline_and_postmortem_with_a_journaled_reason() {
    let lab = incident_lab();
    let id = lab_stdout(lab.tejun().args([
        "incident",
        "open",
        "--title",
        "checkout down",
        "--severity",
        "P0",
        "--env",
        "dev",
    ]))
    .trim()
    .to_string();
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .success();
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(run_ids_on_timeline(&lab, &id).len(), 1);
    let report = lab_stdout(lab.tejun().args(["report", &id, "--lang", "en"]));
    assert!(report.contains(&run_id), "attached before: {report}");

    // A reason is required.
    lab.tejun()
        .args(["incident", "detach", &id, &run_id, "--reason", " "])
        .assert()
        .code(2);
    lab.tejun()
        .args(["incident", "detach", &id, "nosuchrun", "--reason", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not on incident"));
    lab.tejun()
        .args([
            "--lang",
            "ja",
            "incident",
            "detach",
            &id,
            &run_id,
            "--reason",
            "unrelated dev run",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("切り離しました"));
    assert!(run_ids_on_timeline(&lab, &id).is_empty());
    let report = lab_stdout(lab.tejun().args(["report", &id, "--lang", "en"]));
    assert!(
        report.contains("no run is recorded on this incident"),
        "the postmortem's runs section is empty again: {report}"
    );
    assert!(!report.contains(&format!("({run_id})")), "{report}");
    let shown: Value = serde_json::from_str(&lab_stdout(
        lab.tejun().args(["incident", "show", &id, "--json"]),
    ))
    .unwrap();
    let detach = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "incident.run_detached")
        .expect("the detach stays on the timeline");
    assert!(
        detach["detail"]
            .as_str()
            .unwrap()
            .contains("unrelated dev run"),
        "{detach}"
    );
    let detached = lab.events("incident.run_detached");
    assert_eq!(detached[0]["run_id"], run_id.as_str());
    assert_eq!(detached[0]["reason"], "unrelated dev run");
}

/// Observation (#22): actions had an owner but no due date or status, and
/// nothing listed the open ones across incidents.
#[test]
fn actions_have_a_due_date_and_status_and_are_listed_across_incidents() {
    let env = Env::new();
    let a = open(&env);
    let b = env
        .ok(&["incident", "open", "--title", "disk", "--severity", "P3"])
        .trim()
        .to_string();
    env.ok(&[
        "incident",
        "action",
        &a,
        "--term",
        "short",
        "--owner",
        "DB team",
        "--due",
        "2026-01-10",
        "add the index",
    ]);
    env.ok(&[
        "incident",
        "action",
        &a,
        "--term",
        "long",
        "--owner",
        "SRE",
        "alert on the pool",
    ]);
    env.ok(&[
        "incident",
        "action",
        &b,
        "--term",
        "mid",
        "--owner",
        "ops",
        "--due",
        "2025-12-01",
        "grow the disk",
    ]);
    let listed = env.json(&["incident", "actions", "--json"]);
    let rows: Vec<(String, i64, Value)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["incident"].as_str().unwrap().to_string(),
                r["number"].as_i64().unwrap(),
                r["due"].clone(),
            )
        })
        .collect();
    // Earliest due first, undated last.
    assert_eq!(
        rows,
        [
            (b.clone(), 1, Value::from("2025-12-01")),
            (a.clone(), 1, Value::from("2026-01-10")),
            (a.clone(), 2, Value::Null),
        ]
    );
    env.ok(&["incident", "action-status", &a, "1", "done"]);
    let listed = env.json(&["incident", "actions", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let all = env.json(&["incident", "actions", "--all", "--json"]);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "done" && r["text"] == "add the index"),
        "{all}"
    );
    let text = env.ok(&["--lang", "ja", "incident", "actions"]);
    assert!(
        text.contains("期限切れ") && text.contains("grow the disk"),
        "{text}"
    );
    // The report shows due dates and statuses.
    let ja = env.ok(&["report", &a, "--lang", "ja"]);
    assert!(
        ja.contains("| 1 | 短期 | add the index | DB team | 2026-01-10 | 完了 |"),
        "{ja}"
    );
    // A number that does not exist is bad input and writes nothing.
    let before = env.event_count();
    env.tejun()
        .args(["incident", "action-status", &a, "9", "done"])
        .assert()
        .code(2);
    env.tejun()
        .args([
            "incident", "action", &a, "--term", "short", "--owner", "x", "--due", "soon", "t",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("YYYY-MM-DD"));
    assert_eq!(env.event_count(), before);
}

/// Observation (#22): `incident list --json` showed `"evidence": []` where
/// `incident show --json` listed the bundle.
#[test]
fn list_json_shows_the_evidence_show_lists() {
    let env = Env::new();
    let id = open(&env);
    std::fs::write(
        env.dir.path().join("cat.yaml"),
        "commands:\n  - id: hello\n    layer: test\n    title: {en: hello, ja: こんにちは}\n    run: [echo, hi]\n    safety: read-only\n",
    )
    .unwrap();
    env.ok(&[
        "collect",
        "--catalog",
        "cat.yaml",
        "--layers",
        "test",
        "--incident",
        &id,
        "--out",
        "ev",
    ]);
    let shown = env.json(&["incident", "show", &id, "--json"]);
    let listed = env.json(&["incident", "list", "--json"]);
    assert_eq!(shown["incident"]["evidence"].as_array().unwrap().len(), 1);
    assert_eq!(
        listed[0]["evidence"], shown["incident"]["evidence"],
        "{listed}"
    );
}
