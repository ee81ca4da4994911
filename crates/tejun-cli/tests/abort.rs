//! `tejun abort RUN` from another terminal, through the real binaries: the
//! running tejun stops its command, rolls back and runs its exit phase;
//! the request is journaled; a run that is not running is refused.

use std::time::{Duration, Instant};

mod common;

use common::Lab;

fn book(lab: &Lab) {
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: long\nenv: dev\nexecute:\n  - id: change\n    run: echo changed >> {m}\n  - id: bake\n    run: echo baking >> {m}; sleep 60.0733; echo baked >> {m}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: undo\n      run: echo undone >> {m}\n"
        ),
    );
}

#[test]
fn abort_from_another_terminal_stops_the_command_rolls_back_and_runs_the_exit_phase() {
    let lab = Lab::new();
    book(&lab);
    let mut child = lab
        .background()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for_markers("the bake started", |m| m.iter().any(|l| l == "baking"));
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let started = Instant::now();
    let out = lab
        .tejun()
        .args(["abort", &run_id, "--reason", "error rate up on the canary"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("abort requested"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    assert_eq!(lab.markers(), ["changed", "baking", "undone", "exit"]);
    let requested = lab.events("abort.requested");
    assert_eq!(requested[0]["reason"], "error rate up on the canary");
    assert_eq!(requested[0]["pid"], child.id());
    assert_eq!(lab.events("rollback.started")[0]["reason"], "aborted");
    assert_eq!(lab.events("run.ended")[0]["outcome"], "aborted");
    assert!(
        !common::process_outlives("sleep 60.0733", Duration::from_secs(3)),
        "the bake's own child survived the abort"
    );
}

#[test]
fn abort_refuses_a_run_that_is_not_running() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: short\nenv: dev\nexecute:\n  - id: noop\n    run: \"true\"\n",
    );
    lab.run().code(0);
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = lab
        .tejun()
        .args(["abort", &run_id])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("is not running (succeeded)"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        lab.events("abort.requested").is_empty(),
        "nothing journaled"
    );
    lab.tejun().args(["abort", "nosuchrun"]).assert().code(2);
}
