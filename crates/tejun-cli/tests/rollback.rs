//! Rollback: a failing execute/post step runs the rollback plan, and
//! `restore` puts the backed-up file back byte for byte (content, SHA-256
//! and mode). Pre and exit failures do not roll back; a broken rollback is
//! reported as rollback-failed; Ctrl-C aborts and rolls back. The exit
//! phase runs after every one of them.

use std::os::unix::fs::PermissionsExt;
use std::process::Command as StdCommand;
use std::time::{Duration, Instant};

use predicates::str::contains;

mod common;

use common::Lab;

/// What only the rollback tests ask of a lab.
trait RollbackLab {
    fn outcome(&self) -> String;
}

impl RollbackLab for Lab {
    fn outcome(&self) -> String {
        let ended = self.events("run.ended");
        assert_eq!(ended.len(), 1);
        ended[0]["outcome"].as_str().unwrap().to_string()
    }
}

#[test]
fn a_failing_step_rolls_back_and_restore_is_byte_identical() {
    let lab = Lab::new();
    // Binary content, no trailing newline, an unusual mode.
    let original: Vec<u8> = (0u8..=255)
        .chain(*b"upstream app { server 10.0.0.1:8080; }")
        .collect();
    let conf = lab.path("site.conf");
    std::fs::write(&conf, &original).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    let sha_before = tejun_engine::backup::sha256_file(&conf).unwrap();
    let c = conf.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: printf 'server 10.9.9.9 weight=5;' >> {c} && chmod 600 {c}\n  - id: verify\n    check: grep -q 'no such upstream' {c}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n  checks:\n    - id: restored\n      check: test -f {c}\n"
        ),
    );
    lab.run()
        .code(3)
        .stdout(contains("ROLLBACK").and(contains("ROLLED BACK")));
    assert_eq!(std::fs::read(&conf).unwrap(), original);
    assert_eq!(
        tejun_engine::backup::sha256_file(&conf).unwrap(),
        sha_before
    );
    assert_eq!(
        std::fs::metadata(&conf).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert_eq!(lab.outcome(), "rolled-back");
    // The journal recorded the same hash for the backup and the restore.
    let finished = lab.events("step.finished");
    let files = |id: &str| {
        finished.iter().find(|e| e["step_id"] == id).unwrap()["files"][0]["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(files("keep"), sha_before);
    assert_eq!(files("put-back"), sha_before);
    let rollback = lab.events("rollback.started");
    assert_eq!(rollback[0]["failed_step"], "verify");
}

use predicates::prelude::*;

#[test]
fn a_tampered_backup_is_not_restored() {
    let lab = Lab::new();
    let conf = lab.write("site.conf", "good\n");
    let c = conf.display();
    // The execute step changes the file, then corrupts the backup copy in
    // the run folder, then fails.
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo bad > {c}; for f in \"$TEJUN_RUN_DIR\"/backup/keep/*; do echo evil > \"$f\"; done; exit 1\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n"
        ),
    );
    lab.run()
        .code(4)
        .stdout(contains("ROLLBACK FAILED").and(contains("altered")));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "bad\n");
    assert_eq!(lab.outcome(), "rollback-failed");
}

fn book_with_markers(lab: &Lab, pre: &str, execute: &str, exit: &str) {
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: phases\nenv: dev\npre:\n  - id: pre-step\n    run: echo pre >> {m}; {pre}\nexecute:\n  - id: exec-step\n    run: echo execute >> {m}; {execute}\nexit:\n  - id: exit-step\n    run: echo exit >> {m}; {exit}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
}

#[test]
fn a_pre_failure_stops_without_rollback_and_still_runs_the_exit_phase() {
    let lab = Lab::new();
    book_with_markers(&lab, "exit 4", "true", "true");
    lab.run().code(1).stdout(contains("FAILED"));
    assert_eq!(lab.markers(), ["pre", "exit"]);
    assert_eq!(lab.outcome(), "failed");
}

#[test]
fn an_exit_failure_fails_without_rollback_and_is_left_uncleanly() {
    let lab = Lab::new();
    book_with_markers(&lab, "true", "true", "exit 1");
    lab.run()
        .code(4)
        .stdout(contains("LEFT UNCLEANLY").and(contains("exit-step")));
    assert_eq!(lab.markers(), ["pre", "execute", "exit"]);
    assert_eq!(lab.outcome(), "failed");
}

#[test]
fn an_execute_failure_skips_the_rest_rolls_back_and_runs_the_exit_phase() {
    let lab = Lab::new();
    book_with_markers(&lab, "true", "exit 1", "true");
    lab.run().code(3);
    assert_eq!(lab.markers(), ["pre", "execute", "undo", "exit"]);
    assert_eq!(lab.outcome(), "rolled-back");
    let ended = lab.events("run.ended");
    assert_eq!(ended[0]["exit_phase"]["ok"], true);
}

#[test]
fn a_failed_rollback_still_runs_the_exit_phase() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: exit 1\n"
        ),
    );
    lab.run().code(4).stdout(contains("ROLLBACK FAILED"));
    assert_eq!(lab.markers(), ["exit"]);
    assert_eq!(lab.outcome(), "rollback-failed");
}

#[test]
fn a_failing_rollback_step_is_rollback_failed() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\nrollback:\n  steps:\n    - id: undo-1\n      run: exit 1\n    - id: undo-2\n      run: echo undo-2 >> {m}\n"
        ),
    );
    lab.run().code(4).stdout(contains("ROLLBACK FAILED"));
    assert!(
        lab.markers().is_empty(),
        "a rollback stops at its first failure"
    );
    assert_eq!(lab.outcome(), "rollback-failed");
}

#[test]
fn a_failure_without_a_rollback_plan_is_failed() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\n",
    );
    lab.run().code(1);
    assert_eq!(lab.outcome(), "failed");
}

#[test]
fn on_failure_continue_records_the_failure_and_goes_on() {
    let lab = Lab::new();
    let m = lab.path("markers");
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: optional\n    run: exit 1\n    on_failure: continue\n  - id: next\n    run: echo next >> {}\n",
            m.display()
        ),
    );
    lab.run().code(0);
    assert_eq!(lab.markers(), ["next"]);
    assert_eq!(lab.outcome(), "succeeded");
}

#[test]
fn ctrl_c_kills_the_command_rolls_back_and_ends_aborted() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: slow\n    run: echo started >> {m}; sleep 30.0732; echo finished >> {m}\n  - id: later\n    run: echo later >> {m}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let child = lab
        .background()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .spawn()
        .unwrap();
    lab.wait_for_markers("the slow step never started", |m| !m.is_empty());
    let started = Instant::now();
    let status = StdCommand::new("sh")
        // The shell's builtin kill: no dependency on procps.
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "abort took {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ABORTED"));
    assert_eq!(lab.markers(), ["started", "undo", "exit"]);
    assert_eq!(lab.outcome(), "aborted");
    assert_eq!(lab.events("rollback.started")[0]["reason"], "aborted");
    assert!(
        !common::process_outlives("sleep 30.0732", Duration::from_secs(3)),
        "the command's own child survived Ctrl-C"
    );
}

/// The run id of the lab's latest run.
fn last_run(lab: &Lab) -> String {
    let started = lab.events("run.started");
    started.last().unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn tejun_rollback_undoes_a_succeeded_run_then_runs_the_exit_phase_and_refuses_a_second_time() {
    let lab = Lab::new();
    let conf = lab.write("site.conf", "weight=1\n");
    let m = lab.path("markers");
    let (c, m) = (conf.display(), m.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo weight=5 > {c}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n"
        ),
    );
    lab.run().code(0);
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "weight=5\n");
    let id = last_run(&lab);
    lab.tejun()
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(3)
        .stdout(contains("ROLLED BACK"));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "weight=1\n");
    assert_eq!(lab.markers(), ["exit", "exit"]);
    assert_eq!(lab.events("rollback.started")[0]["reason"], "operator");
    lab.tejun()
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(contains("already rolled back"));
}

#[test]
fn tejun_rollback_refuses_a_run_whose_runbook_changed() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    let book = format!(
        "name: x\nenv: dev\nexecute:\n  - id: edit\n    run: echo edit >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
    );
    lab.write("book.yaml", &book);
    lab.run().code(0);
    let id = last_run(&lab);
    lab.write("book.yaml", &book.replace("echo undo", "echo other"));
    lab.tejun()
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(contains("changed"));
    assert_eq!(lab.markers(), ["edit"]);
}

#[test]
fn tejun_rollback_refuses_a_runbook_without_a_rollback_plan() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: edit\n    run: true\n",
    );
    lab.run().code(0);
    let id = last_run(&lab);
    lab.tejun()
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(contains("no rollback plan"));
}
