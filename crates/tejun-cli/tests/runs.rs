//! `tejun runs` and `tejun show` over a journal holding runs in every state,
//! written with the same library and event types the engine uses.

use std::fs::File;
use std::path::PathBuf;

use assert_cmd::Command;
use jiff::{SignedDuration, Timestamp};
use predicates::prelude::*;
use serde::Serialize;
use serde_json::Value;
use tejun_engine::events::{
    self, Outcome, RollbackStarted, RunEnded, RunStarted, StepConfirmed, StepFinished, StepStarted,
    StepStatus,
};
use tejun_journal::{Journal, NewEvent};

mod common;

use common::Lab;

/// 2026-11-22 10:54:36 in Tokyo.
const T0: &str = "2026-11-22T01:54:36Z";

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    runs_dir: PathBuf,
}

struct Run<'a> {
    journal: &'a Journal,
    id: &'a str,
    dir: PathBuf,
    at: std::cell::Cell<Timestamp>,
}

impl<'a> Run<'a> {
    fn new(journal: &'a Journal, fixture: &Fixture, id: &'a str, start: Timestamp) -> Run<'a> {
        let dir = fixture.runs_dir.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(events::LOCK_FILE), "").unwrap();
        Run {
            journal,
            id,
            dir,
            at: std::cell::Cell::new(start),
        }
    }

    /// Appends with a backfilled time, each event 2 s after the last.
    fn put(&self, kind: &str, payload: impl Serialize) {
        let payload = serde_json::to_value(payload).unwrap();
        let ts = self.at.get();
        self.at.set(ts + SignedDuration::from_secs(2));
        self.journal
            .append(NewEvent {
                stream: &events::stream(self.id),
                refs: &[],
                kind,
                actor: "alice@web-01",
                payload: &payload,
                ts: Some(ts),
            })
            .unwrap();
    }

    fn start(&self, env: &str, total_steps: usize, incident: Option<&str>) {
        self.put(
            events::RUN_STARTED,
            RunStarted {
                run_id: self.id.into(),
                runbook: "nginx-upstream-change".into(),
                path: "/srv/runbooks/nginx-upstream-change.yaml".into(),
                runbook_sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                    .into(),
                env: env.into(),
                operator: "alice@web-01".into(),
                host: "web-01".into(),
                pid: 4242,
                run_dir: self.dir.display().to_string(),
                vars: vec![
                    ("upstream".into(), "app-2".into()),
                    ("token".into(), "***".into()),
                ],
                total_steps,
                incident: incident.map(str::to_string),
                given_vars: None,
                kernel_guard: None,
                included: Vec::new(),
            },
        );
    }

    fn step_start(&self, phase: &str, step: &str, command: &str) {
        self.put(
            events::STEP_STARTED,
            StepStarted {
                run_id: self.id.into(),
                phase: phase.into(),
                step_id: step.into(),
                ordinal: 1,
                attempt: 1,
                attempts: 1,
                kind: "run".into(),
                safety: "changes".into(),
                command: Some(command.into()),
                batch: None,
            },
        );
    }

    fn step_end(&self, phase: &str, step: &str, status: StepStatus, exit_code: i32, stderr: &str) {
        self.put(
            events::STEP_FINISHED,
            StepFinished {
                run_id: self.id.into(),
                phase: phase.into(),
                step_id: step.into(),
                ordinal: 1,
                attempt: 1,
                status,
                exit_code: Some(exit_code),
                duration_ms: 1250,
                output_sha256: Some(
                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
                ),
                stdout_tail: String::new(),
                stderr_tail: stderr.into(),
                error: (status != StepStatus::Ok)
                    .then(|| format!("exit code {exit_code}, expected 0")),
                files: vec![],
                hosts: vec![],
                batch: None,
            },
        );
    }

    fn step(&self, phase: &str, step: &str, command: &str) {
        self.step_start(phase, step, command);
        self.step_end(phase, step, StepStatus::Ok, 0, "");
    }

    fn end(&self, outcome: Outcome) {
        self.put(
            events::RUN_ENDED,
            RunEnded {
                run_id: self.id.into(),
                outcome,
                duration_ms: 61_000,
                exit_phase: None,
            },
        );
    }
}

/// Four runs: succeeded (staging), rolled back with a confirmation
/// (production, incident INC-7), interrupted mid-step (staging), running.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let fixture = Fixture {
        db: dir.path().join(".tejun/journal.db"),
        runs_dir: dir.path().join(".tejun/runs"),
        _dir: dir,
    };
    let journal = Journal::open(&fixture.db).unwrap();
    let t0: Timestamp = T0.parse().unwrap();
    let hour = SignedDuration::from_hours(1);

    let ok = Run::new(&journal, &fixture, "0k3m9q2a", t0);
    ok.start("staging", 2, None);
    ok.step("pre", "backup-config", "cp /etc/nginx/site.conf backup/");
    ok.step("execute", "reload", "nginx -s reload");
    ok.end(Outcome::Succeeded);

    let rb = Run::new(&journal, &fixture, "0k3m9q2b", t0 + hour);
    rb.start("production", 3, Some("INC-7"));
    rb.step("pre", "syntax-check", "nginx -t");
    rb.step_start(
        "execute",
        "apply-upstream",
        "sed -i 's/app-1/app-2/' /etc/nginx/site.conf",
    );
    rb.step_end("execute", "apply-upstream", StepStatus::Ok, 0, "");
    rb.step_start("post", "verify-traffic", "");
    rb.put(
        events::STEP_CONFIRMED,
        StepConfirmed {
            run_id: rb.id.into(),
            phase: "post".into(),
            step_id: "verify-traffic".into(),
            ordinal: 3,
            who: "carol@ops".into(),
            answer: "abnormal".into(),
            evidence: Some("502 rate 45% on the LB dashboard".into()),
            auto: false,
        },
    );
    rb.step_end(
        "post",
        "verify-traffic",
        StepStatus::Failed,
        1,
        "upstream app-3 does not exist\n",
    );
    rb.put(
        events::ROLLBACK_STARTED,
        RollbackStarted {
            run_id: rb.id.into(),
            reason: "step-failed".into(),
            failed_step: Some("verify-traffic".into()),
            batch: None,
            hosts: vec![],
        },
    );
    rb.step("rollback", "restore-config", "restore site.conf");
    rb.end(Outcome::RolledBack);

    let killed = Run::new(&journal, &fixture, "0k4aaaaa", t0 + hour * 2);
    killed.start("staging", 3, None);
    killed.step("pre", "backup-config", "cp site.conf backup/");
    killed.step_start("execute", "long-migration", "sleep 600");

    let live = Run::new(&journal, &fixture, "0k5bbbbb", t0 + hour * 3);
    live.start("dev", 1, None);
    live.step_start("execute", "wait", "sleep 5");
    fixture
}

fn tejun(fixture: &Fixture) -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.arg("--db")
        .arg(&fixture.db)
        .env("TZ", "Asia/Tokyo")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().code(0);
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

/// Holds the live run's lock, as its process would.
fn hold_lock(fixture: &Fixture, id: &str) -> File {
    let file = File::options()
        .write(true)
        .open(fixture.runs_dir.join(id).join(events::LOCK_FILE))
        .unwrap();
    file.lock().unwrap();
    file
}

fn line_of<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
}

#[test]
fn runs_lists_every_state_newest_first_in_jst() {
    let fixture = fixture();
    let _lock = hold_lock(&fixture, "0k5bbbbb");
    let out = stdout(tejun(&fixture).arg("runs"));
    let ids: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        ids,
        ["0k5bbbbb", "0k4aaaaa", "0k3m9q2b", "0k3m9q2a"],
        "{out}"
    );
    let ok = line_of(&out, "0k3m9q2a");
    assert!(ok.contains("2026-11-22 10:54:36 JST"), "{ok}");
    assert!(
        ok.contains("succeeded") && ok.contains("2/2") && ok.contains("1m01s"),
        "{ok}"
    );
    let rb = line_of(&out, "0k3m9q2b");
    assert!(
        rb.contains("11:54:36 JST") && rb.contains("rolled-back") && rb.contains("INC-7"),
        "{rb}"
    );
    assert!(
        rb.contains("2/3"),
        "rollback steps are not counted as done: {rb}"
    );
    assert!(line_of(&out, "0k4aaaaa").contains("interrupted"), "{out}");
    assert!(line_of(&out, "0k5bbbbb").contains("running"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn runs_json_parses_with_utc_times() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["runs", "--json"]));
    let runs: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(runs.len(), 4);
    let by_id = |id: &str| runs.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(by_id("0k3m9q2a")["started"], "2026-11-22T01:54:36Z");
    assert_eq!(by_id("0k3m9q2a")["state"], "succeeded");
    assert_eq!(by_id("0k3m9q2b")["state"], "rolled-back");
    assert_eq!(by_id("0k3m9q2b")["incident"], "INC-7");
    // Nobody holds its lock here: the "live" run reads as interrupted.
    assert_eq!(by_id("0k5bbbbb")["state"], "interrupted");
    assert_eq!(by_id("0k4aaaaa")["steps_done"], 1);
}

#[test]
fn runs_filters_by_env_and_limit() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["runs", "--json", "--env", "staging"]));
    let ids: Vec<String> = serde_json::from_str::<Vec<Value>>(&out)
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["0k4aaaaa", "0k3m9q2a"]);
    let out = stdout(tejun(&fixture).args(["runs", "--json", "--limit", "0"]));
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap().len(), 4);
    let out = stdout(tejun(&fixture).args(["runs", "--json", "--limit", "1"]));
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&out).unwrap()[0]["id"],
        "0k5bbbbb"
    );
}

#[test]
fn runs_in_japanese() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["--lang", "ja", "runs"]));
    assert!(
        out.contains("実行ID")
            && out.contains("成功")
            && out.contains("ロールバック済")
            && out.contains("中断"),
        "{out}"
    );
}

#[test]
fn runs_without_a_journal_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nowhere/journal.db");
    let out = Command::cargo_bin("tejun")
        .unwrap()
        .arg("--db")
        .arg(&db)
        .env("LANG", "C")
        .arg("runs")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("No runs yet."));
    assert!(!db.exists());
}

#[test]
fn show_tells_the_rolled_back_run_in_jst() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["show", "0k3m9q2b"]));
    assert!(
        out.contains("Run 0k3m9q2b") && out.contains("production") && out.contains("rolled-back"),
        "{out}"
    );
    assert!(
        out.contains("2026-11-22 11:54:36 JST"),
        "header start time in JST: {out}"
    );
    assert!(out.contains("TIME (JST)"), "{out}");
    assert!(out.contains("incident:") && out.contains("INC-7"), "{out}");
    assert!(out.contains("upstream=app-2 token=***"), "{out}");
    let applied = line_of(&out, "sed -i");
    assert!(
        applied.contains("11:54:42")
            && applied.contains("execute")
            && applied.contains("apply-upstream"),
        "{applied}"
    );
    let confirmed = line_of(&out, "confirmed");
    assert!(
        confirmed.contains("abnormal (異常)") && confirmed.contains("carol@ops"),
        "{confirmed}"
    );
    assert!(
        confirmed.contains("502 rate 45% on the LB dashboard"),
        "{confirmed}"
    );
    let failed = out
        .lines()
        .find(|l| l.contains("verify-traffic") && l.contains("finished"))
        .unwrap();
    assert!(
        failed.contains("failed") && failed.contains("1.2s") && failed.contains("exit code 1"),
        "{failed}"
    );
    assert!(line_of(&out, "step-failed").contains("rollback"), "{out}");
    assert!(line_of(&out, "run ended").contains("rolled-back"), "{out}");
    assert!(
        out.contains("upstream app-3 does not exist"),
        "stderr tail of the failed step: {out}"
    );
}

#[test]
fn show_marks_a_step_without_end_unknown() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["show", "0k4"]));
    assert!(
        out.contains("Run 0k4aaaaa") && out.contains("interrupted"),
        "{out}"
    );
    let step = out.lines().rfind(|l| l.contains("long-migration")).unwrap();
    assert!(step.contains("unknown"), "{step}");
    assert!(out.contains("tejun resume 0k4aaaaa"), "{out}");
}

#[test]
fn show_of_a_live_run_says_running() {
    let fixture = fixture();
    let _lock = hold_lock(&fixture, "0k5bbbbb");
    let out = stdout(tejun(&fixture).args(["show", "0k5"]));
    assert!(out.lines().next().unwrap().contains("running"), "{out}");
    assert!(
        out.lines()
            .rfind(|l| l.contains("wait"))
            .unwrap()
            .contains("running"),
        "{out}"
    );
}

#[test]
fn show_json_parses() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["show", "0k3m9q2b", "--json"]));
    let timeline: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(timeline["summary"]["state"], "rolled-back");
    let states: Vec<(&str, &str)> = timeline["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step_id"].as_str().unwrap(), s["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("syntax-check", "ok"),
            ("apply-upstream", "ok"),
            ("verify-traffic", "failed"),
            ("restore-config", "ok")
        ]
    );
    assert_eq!(timeline["steps"][2]["confirmations"][0]["who"], "carol@ops");
    assert_eq!(timeline["events"].as_array().unwrap().len(), 12);
    assert_eq!(timeline["events"][0]["ts"], "2026-11-22T02:54:36Z");
    assert_eq!(timeline["rollback"]["failed_step"], "verify-traffic");
}

#[test]
fn show_in_japanese() {
    let fixture = fixture();
    let out = stdout(tejun(&fixture).args(["--lang", "ja", "show", "0k3m9q2b"]));
    assert!(
        out.contains("ロールバック済") && out.contains("異常") && out.contains("回答者 carol@ops"),
        "{out}"
    );
    assert!(out.contains("時刻 (JST)"), "{out}");
}

#[test]
fn show_refuses_unknown_and_ambiguous_ids() {
    let fixture = fixture();
    tejun(&fixture)
        .args(["show", "zzz"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no run matches \"zzz\""));
    tejun(&fixture)
        .args(["show", "0k3"])
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("ambiguous")
                .and(predicates::str::contains("0k3m9q2a, 0k3m9q2b")),
        );
}

/// The whole path through the real binary: a run in progress is listed as
/// running with its step running; after `kill -9` of tejun it is
/// interrupted and the step unknown.
#[test]
fn a_killed_run_shows_as_interrupted_with_its_step_unknown() {
    let lab = Lab::new();
    // The step waits (at most 30 s) for the test to drop a file.
    lab.write(
        "book.yaml",
        "name: slow\nenv: dev\nexecute:\n  - id: first\n    run: \"true\"\n  - id: wait-for-stop\n    run: \"for i in $(seq 300); do [ -e stop ] && exit 0; sleep 0.1; done\"\n",
    );
    let tejun = || {
        let mut cmd = lab.tejun();
        cmd.env("TZ", "Asia/Tokyo");
        cmd
    };
    let mut child = lab
        .background()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runs = || -> Vec<Value> {
        let out = tejun().args(["runs", "--json"]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let id = loop {
        let listed = runs();
        let show = listed.first().map(|run| {
            let out = tejun()
                .args(["show", run["id"].as_str().unwrap(), "--json"])
                .output()
                .unwrap();
            serde_json::from_slice::<Value>(&out.stdout).unwrap()
        });
        if let Some(timeline) = show
            && timeline["steps"].as_array().is_some_and(|s| s.len() == 2)
        {
            assert_eq!(timeline["summary"]["state"], "running", "{timeline}");
            assert_eq!(timeline["steps"][1]["state"], "running", "{timeline}");
            break timeline["summary"]["id"].as_str().unwrap().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never reached its second step: {listed:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let listed = runs();
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["state"], "interrupted");
    assert_eq!(listed[0]["steps_done"], 1);
    let out = stdout(tejun().args(["show", &id]));
    assert!(out.lines().next().unwrap().contains("interrupted"), "{out}");
    assert!(
        out.lines()
            .rfind(|l| l.contains("wait-for-stop"))
            .unwrap()
            .contains("unknown"),
        "{out}"
    );
    assert!(out.contains("JST"), "{out}");
    // Let the orphaned step command finish before its folder goes away.
    lab.write("stop", "");
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// A non-interactive run stops at a confirm step nobody can answer: listed
/// as paused (not interrupted), the step waiting (not unknown). A real run
/// that succeeds is listed as succeeded with its confirmation's answer.
#[test]
fn real_runs_paused_and_succeeded() {
    let lab = Lab::new();
    let book = |name: &str, auto: &str| {
        format!(
            "name: {name}\nenv: dev\nexecute:\n  - id: change\n    run: \"true\"\npost:\n  - id: looks-right\n    confirm: Does the dashboard look right?\n{auto}"
        )
    };
    lab.write("paused.yaml", &book("asks", ""));
    lab.write("auto.yaml", &book("answers", "    auto: ok\n"));
    let tejun = || lab.tejun();
    let paused = tejun()
        .args(["run", "paused.yaml", "--env", "dev", "--yes"])
        .output()
        .unwrap();
    assert_ne!(
        paused.status.code(),
        Some(0),
        "an unanswerable confirm must stop the run: {paused:?}"
    );
    tejun()
        .args(["run", "auto.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(0);

    let out = stdout(tejun().args(["runs", "--json"]));
    let runs: Vec<Value> = serde_json::from_str(&out).unwrap();
    let by_name = |name: &str| runs.iter().find(|r| r["runbook"] == name).unwrap().clone();
    assert_eq!(by_name("asks")["state"], "paused", "{out}");
    assert_eq!(by_name("asks")["note"], "looks-right", "{out}");
    assert_eq!(by_name("answers")["state"], "succeeded", "{out}");

    let asks = by_name("asks")["id"].as_str().unwrap().to_string();
    let timeline: Value =
        serde_json::from_str(&stdout(tejun().args(["show", &asks, "--json"]))).unwrap();
    let confirm = timeline["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_id"] == "looks-right")
        .unwrap();
    assert_eq!(confirm["state"], "waiting", "{timeline}");

    let answers = by_name("answers")["id"].as_str().unwrap().to_string();
    let out = stdout(tejun().args(["show", &answers]));
    let confirmed = line_of(&out, "confirmed");
    assert!(
        confirmed.contains("ok (正常)") && confirmed.contains("(auto)"),
        "{out}"
    );
}

/// A run refused by the environment guard is listed (who tried what,
/// where, and why it was refused), and `show` tells it.
#[test]
fn a_refused_run_is_listed_with_its_reason() {
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    color: yellow\n  production:\n    color: red\n    protected: true\n",
    );
    lab.write(
        "book.yaml",
        "name: staging-only\nenv: staging\nexecute:\n  - id: change\n    run: \"true\"\n",
    );
    let tejun = || lab.tejun();
    let refused = tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "production",
            "--yes",
            "--confirm-env",
            "production",
        ])
        .output()
        .unwrap();
    assert_ne!(refused.status.code(), Some(0), "{refused:?}");
    let runs: Vec<Value> = serde_json::from_str(&stdout(tejun().args(["runs", "--json"]))).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["state"], "refused");
    assert_eq!(runs[0]["env"], "production");
    assert!(
        runs[0]["note"].as_str().unwrap().contains("staging"),
        "{runs:?}"
    );
    let id = runs[0]["id"].as_str().unwrap();
    let out = stdout(tejun().args(["show", id]));
    assert!(out.lines().next().unwrap().contains("refused"), "{out}");
    assert!(line_of(&out, "refused").contains("refused"), "{out}");
}

/// `tejun runs | head -1`: when the reader goes away, tejun stops quietly
/// instead of panicking on the broken pipe.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let fixture = fixture();
    for args in [
        &["runs"][..],
        &["runs", "--json"],
        &["show", "0k3m9q2b"],
        &["audit", "verify"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("tejun"))
            .arg("--db")
            .arg(&fixture.db)
            .args(args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
