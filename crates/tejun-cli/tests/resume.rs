//! Resume after a real SIGKILL, at every point between the durable writes:
//! before a step's start is journaled, after it is journaled but before the
//! command runs, while the command runs, and after its end is journaled but
//! before the next step. Each step appends a line to a marker file; the
//! markers prove that finished steps run exactly once.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

use common::Lab;

/// What only the crash tests ask of a lab.
trait CrashLab {
    fn run_until_crash(&self, crash: &str) -> String;
}

impl CrashLab for Lab {
    /// Runs `book.yaml` with `--json`, expecting it to be killed at `crash`;
    /// returns the run id from the `run.started` line.
    fn run_until_crash(&self, crash: &str) -> String {
        let out = self
            .tejun()
            .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
            .env("TEJUN_CRASH_AT", crash)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            None,
            "tejun should have died of SIGKILL: {out:?}"
        );
        run_id(&String::from_utf8_lossy(&out.stdout))
    }
}

/// The state `tejun runs` shows for `id`.
fn state_of(lab: &Lab, id: &str) -> String {
    let out = lab.tejun().args(["runs", "--json"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .expect("the run is listed");
    run["state"].as_str().unwrap().to_string()
}

fn run_id(json_lines: &str) -> String {
    let first = json_lines.lines().next().expect("a run.started line");
    let event: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(event["kind"], "run.started");
    event["payload"]["run_id"].as_str().unwrap().to_string()
}

/// Three steps, each appending its marker.
fn three_steps(markers: &Path) -> String {
    let m = markers.display();
    format!(
        "name: three\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: step-2\n    run: echo step-2 >> {m}\n  - id: step-3\n    run: echo step-3 >> {m}\n"
    )
}

#[test]
fn killed_between_two_steps_resumes_with_the_next_step() {
    // Step 1's end and step 2's start are one commit; the kill comes right
    // after it, before step 2's command is spawned. Step 2 is unknown to
    // resume (its start is durable): retry runs it, once.
    let lab = Lab::new();
    lab.write("book.yaml", &three_steps(&lab.path("markers")));
    let id = lab.run_until_crash("after-finish:step-1");
    assert_eq!(lab.markers(), ["step-1"]);
    assert_eq!(state_of(&lab, &id), "interrupted");
    let out = lab
        .tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(lab.markers(), ["step-1", "step-2", "step-3"]);
    assert_eq!(state_of(&lab, &id), "succeeded");
    // Progress counts against the whole runbook, as the first run did.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3/3"), "{stdout}");
}

#[test]
fn killed_before_a_step_started_leaves_the_previous_step_unknown() {
    // Step 1's command ran, but the kill comes before its end (and step
    // 2's start) were committed: step 1 is unknown. The operator knows it
    // ran (its marker is there) and skips it; it is not run again.
    let lab = Lab::new();
    lab.write("book.yaml", &three_steps(&lab.path("markers")));
    let id = lab.run_until_crash("before-start:step-2");
    assert_eq!(lab.markers(), ["step-1"]);
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "skip"])
        .assert()
        .code(0);
    assert_eq!(lab.markers(), ["step-1", "step-2", "step-3"]);
}

#[test]
fn killed_before_the_first_step_resumes_from_the_start() {
    let lab = Lab::new();
    lab.write("book.yaml", &three_steps(&lab.path("markers")));
    let id = lab.run_until_crash("before-start:step-1");
    assert!(lab.markers().is_empty());
    // Nothing had started: no question to answer.
    lab.tejun().args(["resume", &id, "--yes"]).assert().code(0);
    assert_eq!(lab.markers(), ["step-1", "step-2", "step-3"]);
}

#[test]
fn killed_after_start_is_unknown_and_retry_runs_it() {
    let lab = Lab::new();
    lab.write("book.yaml", &three_steps(&lab.path("markers")));
    let id = lab.run_until_crash("after-start:step-2");
    assert_eq!(lab.markers(), ["step-1"]);
    // Non-interactive without --on-unknown: refused, nothing runs.
    lab.tejun()
        .args(["resume", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--on-unknown"));
    assert_eq!(lab.markers(), ["step-1"]);
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(0);
    assert_eq!(lab.markers(), ["step-1", "step-2", "step-3"]);
    // And the run is over: a second resume is refused.
    lab.tejun()
        .args(["resume", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already ended"));
}

/// Polls `ready` until it holds; a loaded machine gets a generous minute
/// before the test fails with `what`.
fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The step attempt (`step-2#1`) whose command the lab's only run last
/// started, from the run folder's `running` file (`PID START TAG`).
fn running_tag(lab: &Lab) -> Option<String> {
    let runs = std::fs::read_dir(lab.path(".tejun/runs")).ok()?;
    runs.flatten().find_map(|run| {
        let text = std::fs::read_to_string(run.path().join("running")).ok()?;
        text.split_whitespace().nth(2).map(str::to_string)
    })
}

/// Starts a run whose step-2 is long, waits until it is running, and kills
/// tejun with SIGKILL from outside. Returns the run id.
fn kill_during_long_step(lab: &Lab) -> String {
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: long\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: step-2\n    run: echo step-2-start >> {m}; test -e {m}.once || {{ touch {m}.once; sleep 30; }}; echo step-2 >> {m}\n  - id: step-3\n    run: echo step-3 >> {m}\n"
        ),
    );
    let mut child = lab
        .background()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill only once the step is really in its long sleep *and* tejun has
    // recorded its process group. The marker alone is not enough on a
    // loaded machine: the shell can print it before tejun, descheduled
    // right after spawning, writes `running` (still naming step-1), or
    // before the shell reaches `touch` (then a retry would sleep again).
    let once = lab.path("markers.once");
    wait_until("step-2 never got to its sleep", || {
        lab.markers().iter().any(|line| line == "step-2-start")
            && once.exists()
            && running_tag(lab).as_deref() == Some("step-2#1")
    });
    child.kill().unwrap(); // SIGKILL
    let out = child.wait_with_output().unwrap();
    run_id(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn killed_during_a_long_step_then_skipped() {
    let lab = Lab::new();
    let id = kill_during_long_step(&lab);
    assert_eq!(state_of(&lab, &id), "interrupted");
    // The step's command outlived tejun (still sleeping); resume stops it
    // before skipping, so its tail never runs.
    skip_stops_the_leftover(&lab, &id);
}

/// Resumes `id` skipping its unknown step-2, whose command outlived the
/// crash: resume must stop it, so its tail never runs.
fn skip_stops_the_leftover(lab: &Lab, id: &str) {
    lab.tejun()
        .args(["resume", id, "--yes", "--on-unknown", "skip"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "was still running after the crash",
        ));
    assert_eq!(lab.markers(), ["step-1", "step-2-start", "step-3"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lab.markers(), ["step-1", "step-2-start", "step-3"]);
}

#[test]
fn killed_right_after_spawning_a_step_still_stops_its_command() {
    // The kill lands after the spawn but before tejun noted the command's
    // process group in `running`: resume finds the command by the
    // TEJUN_STEP variable it inherited and stops it before skipping.
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: long\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: step-2\n    run: echo step-2-start >> {m}; sleep 30; echo step-2 >> {m}\n  - id: step-3\n    run: echo step-3 >> {m}\n"
        ),
    );
    let id = lab.run_until_crash("after-spawn:step-2");
    assert_eq!(running_tag(&lab).as_deref(), Some("step-1#1"));
    wait_until("step-2's command never started", || {
        lab.markers().iter().any(|line| line == "step-2-start")
    });
    skip_stops_the_leftover(&lab, &id);
}

#[test]
fn killed_during_a_long_step_then_retried() {
    let lab = Lab::new();
    let id = kill_during_long_step(&lab);
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(0);
    assert_eq!(
        lab.markers(),
        ["step-1", "step-2-start", "step-2-start", "step-2", "step-3"]
    );
}

#[test]
fn unknown_step_resolved_by_rollback_runs_the_rollback_plan() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: rb\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: step-2\n    run: echo step-2 >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let id = lab.run_until_crash("after-start:step-2");
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "rollback"])
        .assert()
        .code(3)
        .stdout(predicates::str::contains("ROLLED BACK"));
    assert_eq!(lab.markers(), ["step-1", "undo"]);
}

#[test]
fn killed_during_rollback_continues_the_rollback() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: rb\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: breaks\n    run: exit 1\nrollback:\n  steps:\n    - id: undo-1\n      run: echo undo-1 >> {m}\n    - id: undo-2\n      run: echo undo-2 >> {m}\n  checks:\n    - id: undone\n      check: grep -q undo-2 {m}\n"
        ),
    );
    let id = lab.run_until_crash("after-finish:undo-1");
    assert_eq!(lab.markers(), ["step-1", "undo-1"]);
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(3)
        .stdout(predicates::str::contains("ROLLED BACK"));
    assert_eq!(lab.markers(), ["step-1", "undo-1", "undo-2"]);
}

#[test]
fn resume_refuses_a_changed_runbook() {
    let lab = Lab::new();
    let book = three_steps(&lab.path("markers"));
    lab.write("book.yaml", &book);
    let id = lab.run_until_crash("after-finish:step-1");
    lab.write("book.yaml", &format!("{book}# edited after the crash\n"));
    lab.tejun()
        .args(["resume", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("changed since the run started"));
    assert_eq!(lab.markers(), ["step-1"]);
}

#[test]
fn resume_refuses_a_run_another_process_still_runs() {
    let lab = Lab::new();
    let m = lab.path("markers");
    // The step holds the run until the test releases it (at most 60 s), so
    // the resume below meets a live run however slow the machine is; a
    // fixed `sleep` could end first and turn "still running" into "ended".
    let release = lab.path("release");
    lab.write(
        "book.yaml",
        &format!(
            "name: busy\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}; i=0; while [ ! -e {r} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; test -e {r}\n",
            m = m.display(),
            r = release.display()
        ),
    );
    let child = lab
        .background()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for_markers("step-1 never started", |m| !m.is_empty());
    let runs = std::fs::read_dir(lab.path(".tejun/runs")).unwrap();
    let id = runs
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("still running"));
    std::fs::write(&release, "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(lab.markers(), ["step-1"]);
}

#[test]
fn a_non_interactive_run_pauses_at_a_confirm_without_auto() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: ask\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\npost:\n  - id: looks-good\n    confirm: Does the site answer?\n  - id: step-3\n    run: echo step-3 >> {m}\n"
        ),
    );
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "paused");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"run.paused\""), "{stdout}");
    assert!(!stdout.contains("\"run.ended\""), "{stdout}");
    let id = run_id(&stdout);
    assert_eq!(state_of(&lab, &id), "paused");
    // Still nobody to answer: it pauses again, and step-1 is not re-run.
    lab.tejun().args(["resume", &id, "--yes"]).assert().code(5);
    assert_eq!(lab.markers(), ["step-1"]);
}

#[test]
fn resume_on_unknown_rollback_rolls_back_a_run_paused_at_a_confirm() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: ask\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\npost:\n  - id: looks-good\n    confirm: Does the site answer?\n  - id: step-3\n    run: echo step-3 >> {m}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let id = run_id(&String::from_utf8_lossy(&out.stdout));
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "rollback"])
        .assert()
        .code(3)
        .stdout(predicates::str::contains("ROLLED BACK"));
    assert_eq!(lab.markers(), ["step-1", "undo", "exit"]);
    assert_eq!(state_of(&lab, &id), "rolled-back");
}

#[test]
fn a_resume_inside_the_exit_phase_finishes_it_with_the_outcome_before_it() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: rb\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\nexit:\n  - id: close-1\n    run: echo close-1 >> {m}\n  - id: close-2\n    run: echo close-2 >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let id = lab.run_until_crash("after-start:close-2");
    assert_eq!(lab.markers(), ["undo", "close-1"]);
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(3)
        .stdout(predicates::str::contains("ROLLED BACK"));
    assert_eq!(lab.markers(), ["undo", "close-1", "close-2"]);
    assert_eq!(state_of(&lab, &id), "rolled-back");
}

#[test]
fn rollback_is_refused_for_an_unknown_exit_step_and_retry_finishes_it() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: rb\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\nexit:\n  - id: leave\n    run: echo leave >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let id = lab.run_until_crash("after-start:leave");
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "rollback"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(format!("tejun rollback {id}")));
    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(0);
    assert_eq!(lab.markers(), ["step-1", "leave"]);
}
