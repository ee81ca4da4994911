//! Ctrl-C always ends safe, driven through the real binary on a
//! pseudo-terminal (prompts read /dev/tty): at a prompt, during a command,
//! during rollback, twice; and the exit phase after each outcome.

use std::time::Duration;

use predicates::prelude::*;

mod common;
mod pty;

use common::Lab;
use pty::OnTerminal;

fn outcome(lab: &Lab) -> String {
    let ended = lab.events("run.ended");
    ended.last().unwrap()["outcome"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A runbook that changes `site.conf` in execute, asks a question, and has
/// a rollback that puts it back and an exit step that leaves a marker.
fn change_then_ask(lab: &Lab, rollback_extra: &str) {
    let conf = lab.write("site.conf", "weight=1\n");
    let m = lab.path("markers");
    let (c, m) = (conf.display(), m.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo weight=5 > {c}\n  - id: looks-right\n    confirm: \"Does the page answer?\"\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n{rollback_extra}"
        ),
    );
}

#[test]
fn ctrl_c_at_a_prompt_aborts_rolls_back_and_runs_the_exit_phase() {
    let lab = Lab::new();
    change_then_ask(&lab, "");
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    term.wait_for("verdict", 1);
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=5\n"
    );
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=1\n",
        "the change is undone"
    );
    assert_eq!(lab.markers(), ["exit"], "{out}");
    assert_eq!(outcome(&lab), "aborted");
    assert_eq!(lab.events("rollback.started")[0]["reason"], "aborted");
    assert!(
        lab.events("step.confirmed").is_empty(),
        "^C is not an answer"
    );
}

#[test]
fn ctrl_c_during_a_command_kills_it_rolls_back_and_runs_the_exit_phase() {
    let lab = Lab::new();
    let conf = lab.write("site.conf", "weight=1\n");
    let m = lab.path("markers");
    let (c, m) = (conf.display(), m.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo weight=5 > {c}; echo started >> {m}; sleep 30.0731; echo finished >> {m}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the slow step never started", |m| !m.is_empty());
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "weight=1\n");
    assert_eq!(lab.markers(), ["started", "exit"], "{out}");
    assert_eq!(outcome(&lab), "aborted");
    assert!(
        !common::process_outlives("sleep 30.0731", Duration::from_secs(3)),
        "the command's own child survived the abort"
    );
}

#[test]
fn a_first_ctrl_c_during_rollback_is_noted_and_the_rollback_goes_on() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: slow-undo\n      run: echo undoing >> {m}; sleep 2; echo undone >> {m}\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the rollback never started", |m| !m.is_empty());
    term.ctrl_c();
    // Acknowledged at once, while the rollback step still runs.
    term.wait_for("Ctrl-C noted", 1);
    assert_eq!(lab.markers(), ["undoing"]);
    let (code, out) = term.wait();
    assert_eq!(code, 3, "{out}");
    assert_eq!(out.matches("Ctrl-C noted").count(), 1, "{out}");
    assert_eq!(lab.markers(), ["undoing", "undone", "exit"], "{out}");
    assert!(out.contains("Ctrl-C noted"), "{out}");
    assert_eq!(outcome(&lab), "rolled-back");
}

#[test]
fn a_second_ctrl_c_stops_waiting_and_names_the_command_that_rolls_back() {
    let lab = Lab::new();
    let (m, fast) = (lab.path("markers"), lab.path("fast"));
    change_then_ask(
        &lab,
        &format!(
            "    - id: slow-undo\n      run: echo undoing >> {}; test -f {} || sleep 30\n",
            m.display(),
            fast.display()
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    term.wait_for("verdict", 1);
    term.ctrl_c();
    lab.wait_for_markers("the rollback never started", |m| !m.is_empty());
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    let stopped = lab.events("run.stopped");
    assert_eq!(stopped.len(), 1, "{out}");
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let next = format!("tejun rollback {run_id}");
    assert_eq!(stopped[0]["next"], next.as_str());
    assert!(
        out.lines()
            .any(|l| l.contains("roll it back with") && l.contains(&next)),
        "{out}"
    );
    assert!(lab.events("run.ended").is_empty());

    // The printed command does what it says: the rollback plan, then the
    // exit phase.
    std::fs::write(&fast, "").unwrap();
    lab.tejun()
        .args(["rollback", &run_id, "--yes"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(3);
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=1\n"
    );
    assert_eq!(lab.markers(), ["undoing", "undoing", "exit"]);
    assert_eq!(outcome(&lab), "rolled-back");
}

/// The forgotten-logoff story: the customer check is answered abnormal,
/// and still every exit step runs and the work session is closed.
#[test]
fn the_leave_procedure_runs_its_exit_phase_when_the_customer_check_fails() {
    let lab = Lab::new();
    for file in ["tejun.yaml", "leave-procedure.yaml"] {
        std::fs::copy(
            common::repo_root().join("examples").join(file),
            lab.path(file),
        )
        .unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let port = format!("service_port={port}");
    let mut term = OnTerminal::start(
        &lab,
        &[
            "run",
            "leave-procedure.yaml",
            "--env",
            "dev",
            "--var",
            &port,
            "--var",
            "session_user=tejun-test-nobody",
        ],
    );
    term.wait_for("verdict", 1);
    // The work session is open now: the test must see it closed later.
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let session_pid = std::fs::read_to_string(format!("/tmp/tejun-leave-{run_id}/session.pid"))
        .expect("the work session was opened")
        .trim()
        .to_string();
    assert!(
        std::path::Path::new(&format!("/proc/{session_pid}")).exists(),
        "the work session is running"
    );
    term.type_line("a");
    term.wait_for("evidence", 1);
    term.type_line("the customer sees errors");
    // The exit phase's own question.
    term.wait_for("verdict", 2);
    term.type_line("o");
    term.wait_for("evidence", 2);
    term.type_line("");
    let (code, out) = term.wait();
    assert_eq!(code, 1, "{out}");
    assert_eq!(outcome(&lab), "failed");
    let finished = lab.events("step.finished");
    for step in [
        "open-work-session",
        "close-work-session",
        "no-work-process-left",
        "no-session-left",
        "service-answers",
        "logoff-confirmed",
        "stop-demo-service",
    ] {
        let done = finished
            .iter()
            .find(|e| e["step_id"] == step)
            .unwrap_or_else(|| panic!("{step} did not run:\n{out}"));
        assert_eq!(done["status"], "ok", "{step}:\n{out}");
    }
    assert!(
        !std::path::Path::new(&format!("/tmp/tejun-leave-{run_id}")).exists(),
        "the scratch directory is left behind"
    );
    // (A reaped or zombie process has no `sleep` command line.)
    let session_alive = std::fs::read(format!("/proc/{session_pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).starts_with("sleep"));
    assert!(
        !session_alive,
        "the work session (pid {session_pid}) is still running"
    );
    let ended = lab.events("run.ended");
    assert_eq!(ended[0]["exit_phase"]["ok"], true);
}

#[test]
fn a_failing_exit_step_is_reported_as_left_uncleanly() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\nexit:\n  - id: logoff\n    run: echo logoff >> {m}; exit 1\n  - id: after-it\n    run: echo after >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    lab.run().code(4).stdout(
        predicates::str::contains("LEFT UNCLEANLY").and(predicates::str::contains("logoff")),
    );
    assert_eq!(lab.markers(), ["undo", "logoff", "after"]);
    assert_eq!(outcome(&lab), "rolled-back");
    let ended = lab.events("run.ended");
    assert_eq!(ended[0]["exit_phase"]["failed_steps"][0], "logoff");
}

#[test]
fn ctrl_c_during_pre_aborts_without_rollback_and_runs_the_exit_phase() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\npre:\n  - id: slow-check\n    check: echo pre >> {m}; sleep 30\nexecute:\n  - id: change\n    run: echo change >> {m}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the pre step never started", |m| !m.is_empty());
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    assert_eq!(lab.markers(), ["pre", "exit"], "{out}");
    assert!(lab.events("rollback.started").is_empty());
    assert_eq!(outcome(&lab), "aborted");
}

#[test]
fn a_second_ctrl_c_in_the_exit_phase_names_resume_which_finishes_it() {
    let lab = Lab::new();
    let (m, fast) = (lab.path("markers"), lab.path("fast"));
    let (m, f) = (m.display(), fast.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: change\n    run: echo change >> {m}\nexit:\n  - id: slow-close\n    run: echo closing >> {m}; test -f {f} || sleep 30\n  - id: logoff\n    run: echo logoff >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undo >> {m}\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the exit phase never started", |m| m.len() == 2);
    term.ctrl_c();
    // Two signals sent at once may be delivered as one; a person's second
    // Ctrl-C comes later.
    std::thread::sleep(Duration::from_millis(300));
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // The change succeeded and is meant to stay: finishing the exit phase
    // is what is left.
    let next = format!("tejun resume {run_id}");
    assert_eq!(lab.events("run.stopped")[0]["next"], next.as_str());
    assert!(out.contains(&next), "{out}");
    std::fs::write(&fast, "").unwrap();
    lab.tejun()
        .args(["resume", &run_id, "--yes"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(0);
    assert_eq!(
        lab.markers(),
        ["change", "closing", "closing", "logoff"],
        "the killed exit step runs again, then the rest"
    );
    assert_eq!(outcome(&lab), "succeeded");
}

#[test]
fn a_trigger_firing_during_a_prompt_stops_it_and_rollback_prompts_still_ask() {
    let lab = Lab::new();
    let conf = lab.write("site.conf", "weight=1\n");
    let m = lab.path("markers");
    let (c, m) = (conf.display(), m.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: trip\nenv: dev\nprobes:\n  down:\n    cmd: 'false'\n    interval: 200ms\ntriggers:\n  - failing(down) >= 3\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo weight=5 > {c}\npost:\n  - id: looks-right\n    confirm: \"Does the page answer?\"\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n    - id: is-back\n      confirm: \"Is it back?\"\n"
        ),
    );
    let mut term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    term.wait_for("verdict", 1);
    // Nobody answers: the trigger stops the question and rolls back, whose
    // own question is asked (the trigger flag stays set).
    term.wait_for("verdict", 2);
    term.type_line("o");
    term.wait_for("evidence", 1);
    term.type_line("");
    let (code, out) = term.wait();
    assert_eq!(code, 3, "{out}");
    assert_eq!(outcome(&lab), "rolled-back");
    assert_eq!(lab.events("rollback.started")[0]["reason"], "trigger");
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=1\n"
    );
    let confirmed = lab.events("step.confirmed");
    assert_eq!(confirmed.len(), 1, "{confirmed:?}");
    assert_eq!(confirmed[0]["step_id"], "is-back");
    assert_eq!(lab.markers(), ["exit"], "{out}");
}

#[test]
fn a_second_ctrl_c_in_a_trigger_rollback_is_journaled_as_the_operators() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: trip\nenv: dev\nprobes:\n  down:\n    cmd: 'false'\n    interval: 100ms\ntriggers:\n  - failing(down) >= 2\nexecute:\n  - id: edit\n    run: 'true'\npost:\n  - id: bake\n    run: sleep 30\nrollback:\n  steps:\n    - id: slow-undo\n      run: echo undoing >> {m}; sleep 30\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the rollback never started", |m| !m.is_empty());
    term.ctrl_c();
    term.wait_for("Ctrl-C noted", 1);
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    let finished = lab.events("step.finished");
    let error = |id: &str| {
        finished
            .iter()
            .find(|e| e["step_id"] == id)
            .unwrap_or_else(|| panic!("{id} did not finish:\n{out}"))["error"]
            .clone()
    };
    assert_eq!(error("bake"), "stopped: a trigger fired (command killed)");
    assert_eq!(
        error("slow-undo"),
        "aborted by the operator (command killed)"
    );
}
