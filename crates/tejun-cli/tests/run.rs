//! `tejun run`: commands with their expectations (exit codes, stdout and
//! stderr patterns), timeouts that kill the whole process group, retries,
//! and the three output faces (plain lines, JSON lines, exit codes).

use std::path::PathBuf;
use std::time::{Duration, Instant};
use tejun_journal::{Journal, Query};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::{Lab, repo_root};

/// A lab whose commands are killed after a minute: these tests start
/// commands that could hang (timeouts, retries).
fn lab() -> Lab {
    Lab::new().with_timeout(Duration::from_secs(60))
}

/// What only these tests ask of a lab.
trait RunLab {
    fn book(&self, steps: &str);
    fn finished(&self) -> Vec<serde_json::Value>;
}

impl RunLab for Lab {
    fn book(&self, steps: &str) {
        self.write(
            "book.yaml",
            &format!("name: t\nenv: dev\nexecute:\n{steps}"),
        );
    }

    fn finished(&self) -> Vec<serde_json::Value> {
        self.events("step.finished")
    }
}

#[test]
fn a_timeout_kills_the_command_and_everything_it_started() {
    let lab = lab();
    let pid_file = lab.path("bg.pid");
    lab.book(&format!(
        "  - id: hangs\n    run: sleep 60 & echo $! > {}; wait\n    timeout: 1s\n",
        pid_file.display()
    ));
    let started = Instant::now();
    lab.run().code(1).stdout(contains("timed out after 1s"));
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    let finished = lab.finished();
    assert_eq!(finished[0]["status"], "timed-out");
    // The background sleep was in the step's process group: it is gone.
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.contains(") Z ") {
            break; // a zombie waiting for its reaper is dead
        }
        assert!(
            Instant::now() < deadline,
            "background child {pid} survived the timeout"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn retries_run_the_command_again_after_the_delay() {
    let lab = lab();
    let attempts = lab.path("attempts");
    let a = attempts.display();
    lab.book(&format!(
        "  - id: flaky\n    run: echo x >> {a}; test $(wc -l < {a}) -ge 3\n    retries: 3\n    retry_delay: 100ms\n"
    ));
    let started = Instant::now();
    lab.run().code(0);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(&attempts).unwrap().lines().count(),
        3
    );
    let finished = lab.finished();
    let statuses: Vec<_> = finished
        .iter()
        .map(|f| {
            (
                f["attempt"].as_u64().unwrap(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [(1, "failed".into()), (2, "failed".into()), (3, "ok".into())]
    );
}

#[test]
fn retries_run_out_and_the_step_fails() {
    let lab = lab();
    let attempts = lab.path("attempts");
    lab.book(&format!(
        "  - id: broken\n    run: echo x >> {}; exit 7\n    retries: 2\n    retry_delay: 10ms\n",
        attempts.display()
    ));
    lab.run()
        .code(1)
        .stdout(contains("exit code 7, expected 0"));
    assert_eq!(
        std::fs::read_to_string(&attempts).unwrap().lines().count(),
        3
    );
}

#[test]
fn expected_exit_codes_and_output_patterns() {
    let lab = lab();
    lab.book(
        "  - id: grep-miss\n    check: grep -q nothing /dev/null\n    expect:\n      exit: [1]\n  - id: version\n    run: echo nginx/1.24.0; echo syntax-is-ok >&2\n    expect:\n      stdout: 'nginx/1\\.\\d+'\n      stderr: 'syntax-is-ok'\n",
    );
    lab.run().code(0);

    lab.book(
        "  - id: version\n    run: echo 'nginx/0.9'\n    expect:\n      stdout: 'nginx/1\\.\\d+'\n",
    );
    lab.run().code(1).stdout(contains("stdout did not match"));
    lab.book("  - id: stderr\n    run: echo fine\n    expect:\n      stderr: 'warning'\n");
    lab.run().code(1).stdout(contains("stderr did not match"));
}

#[test]
fn json_lines_are_the_journaled_events_in_order() {
    let lab = lab();
    lab.book("  - id: one\n    run: echo hello\n  - id: two\n    check: 'true'\n");
    let opened = lab
        .tejun()
        .args(["incident", "open", "--title", "json", "--severity", "P3"])
        .output()
        .unwrap();
    assert!(opened.status.success(), "{opened:?}");
    let incident = String::from_utf8(opened.stdout).unwrap().trim().to_string();
    let out = lab
        .tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--json",
            "--incident",
            &incident,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let kinds: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "run.started",
            "step.started",
            "step.finished",
            "step.started",
            "step.finished",
            "run.ended"
        ]
    );
    // Every event of the run also belongs to the incident.
    let journal = Journal::open(&lab.path(".tejun/journal.db")).unwrap();
    let run = journal
        .query(&Query {
            stream_prefix: Some("run/"),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(run.len(), 6);
    let tag = format!("incident/{incident}");
    assert!(run.iter().all(|e| e.refs == [tag.clone()]), "{run:?}");
    let by_incident = journal
        .query(&Query {
            subject: Some(&tag),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(
        by_incident
            .iter()
            .filter(|e| e.stream.starts_with("run/"))
            .count(),
        6
    );
    let finished = lab.finished();
    assert_eq!(finished[0]["stdout_tail"], "hello");
    assert_eq!(
        finished[0]["output_sha256"],
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" // sha256("hello\n")
    );
}

#[test]
fn plain_output_when_not_a_terminal() {
    let lab = lab();
    lab.book("  - id: one\n    run: echo hello\n  - id: two\n    run: 'true'\n");
    lab.run().code(0).stdout(
        contains("[1/2] execute one")
            .and(contains("[2/2] execute two"))
            .and(contains("SUCCEEDED")),
    );
}

#[test]
fn japanese_output() {
    let lab = lab();
    lab.book("  - id: one\n    run: exit 1\n");
    lab.tejun()
        .args(["--lang", "ja", "run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(1)
        .stdout(contains("失敗"));
}

#[test]
fn the_start_of_a_step_is_journaled_before_its_command_runs() {
    let lab = lab();
    let db = lab.path(".tejun/journal.db");
    // The step itself looks into the journal (with sqlite-free means: the
    // WAL or database file must already mention its own id).
    lab.book("  - id: self-aware-step\n    run: grep -qa self-aware-step .tejun/journal.db .tejun/journal.db-wal\n");
    lab.run().code(0);
    assert!(db.exists());
}

#[test]
fn bad_var_syntax_and_unknown_vars_are_bad_input() {
    let lab = lab();
    lab.book("  - id: one\n    run: 'true'\n");
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--var", "novalue"])
        .assert()
        .code(2);
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--var", "nope=1"])
        .assert()
        .code(2)
        .stderr(contains("nope"));
    lab.tejun()
        .args(["run", "missing.yaml", "--env", "dev"])
        .assert()
        .code(2)
        .stderr(contains("missing.yaml"));
}

/// Runs an example from a lab holding a copy of examples/ (inventory
/// included), so its journal stays in the lab.
fn example(name: &str, env: &str, extra: &[&str]) -> (Lab, assert_cmd::assert::Assert) {
    let lab = lab();
    for file in ["tejun.yaml", name] {
        std::fs::copy(repo_root().join("examples").join(file), lab.path(file)).unwrap();
    }
    let assert = lab
        .tejun()
        .args(["run", name, "--env", env, "--yes"])
        .args(extra)
        .assert();
    (lab, assert)
}

#[test]
fn every_example_passes_check() {
    let dir = repo_root().join("examples");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // The inventory, and watch.yaml (a watch config, which the README
        // test runs with `tejun watch`) are not runbooks.
        if name == "tejun.yaml"
            || name == "watch.yaml"
            || path.extension().is_none_or(|e| e != "yaml")
        {
            continue;
        }
        // The seed case is meant to be refused, by check as by run.
        let want = if name == "wrong-file.yaml" { 2 } else { 0 };
        Command::cargo_bin("tejun")
            .unwrap()
            .args(["check"])
            .arg(&path)
            .arg("--inventory")
            .arg(dir.join("tejun.yaml"))
            .assert()
            .code(want);
    }
}

#[test]
fn the_quickstart_example_succeeds() {
    let (_lab, assert) = example("quickstart.yaml", "dev", &[]);
    assert.code(0).stdout(contains("SUCCEEDED"));
}

/// The `/tmp/<prefix>-<run id>` scratch directory of the lab's only run.
fn scratch_of(lab: &Lab, prefix: &str) -> PathBuf {
    let started = lab.events("run.started");
    let id = started.last().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    PathBuf::from(format!("/tmp/{prefix}-{id}"))
}

#[test]
fn the_quickstart_example_rolls_back_and_cleans_up_when_its_check_fails() {
    let (lab, assert) = example("quickstart.yaml", "dev", &["--var", "greeting="]);
    assert
        .code(3)
        .stdout(contains("restore-motd").and(contains("ROLLED BACK")));
    assert!(!scratch_of(&lab, "tejun-quickstart").exists());
}

#[test]
fn the_nginx_example_changes_the_upstream_and_rolls_back_a_bad_weight() {
    let lab = lab();
    let conf = lab.write(
        "staging-site.conf",
        "upstream app {\n    server 10.0.0.10:8080;\n    server 10.0.0.11:8080;\n}\n",
    );
    let original = std::fs::read(&conf).unwrap();
    let (_lab, assert) = example(
        "nginx-upstream-change.yaml",
        "staging",
        &["--var", &format!("conf={}", conf.display())],
    );
    assert.code(0);
    let changed = std::fs::read_to_string(&conf).unwrap();
    assert!(
        changed.contains("    server 10.0.0.12:8080 weight=3;\n"),
        "{changed}"
    );

    std::fs::write(&conf, &original).unwrap();
    let (_lab, assert) = example(
        "nginx-upstream-change.yaml",
        "staging",
        &[
            "--var",
            &format!("conf={}", conf.display()),
            "--var",
            "weight=heavy",
        ],
    );
    let (lab, assert) = (_lab, assert);
    assert.code(3).stdout(contains("ROLLED BACK"));
    assert_eq!(std::fs::read(&conf).unwrap(), original);
    assert!(
        !scratch_of(&lab, "tejun-nginx").exists(),
        "the exit phase cleans up after a rollback"
    );
}

#[test]
fn the_leave_procedure_example_succeeds() {
    // A free port for the stand-in service; a user with no sessions, so
    // the test does not depend on who is logged in to the machine.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_lab, assert) = example(
        "leave-procedure.yaml",
        "dev",
        &[
            "--var",
            &format!("service_port={port}"),
            "--var",
            "session_user=tejun-test-nobody",
        ],
    );
    assert
        .code(0)
        .stdout(contains("service-answers").and(contains("SUCCEEDED")));
}
