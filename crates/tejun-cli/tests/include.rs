//! `include:` through the real binary: a team's shared exit block runs
//! when the work goes wrong, errors point into the included file, bad
//! includes are refused at the include, and resume notices a changed
//! include as it notices a changed runbook.

use predicates::str::contains;

mod common;

use common::Lab;

/// The team rule, written once: every session ends by checking and
/// leaving cleanly.
fn write_leave_block(lab: &Lab) {
    let m = lab.path("markers");
    lab.write(
        "shared/leave.yaml",
        &format!(
            "# Every runbook of the team ends with this.\n- id: leave\n  run: echo left-{{{{env}}}} >> {}\n",
            m.display()
        ),
    );
}

#[test]
fn an_included_exit_block_runs_when_the_work_fails() {
    let lab = Lab::new();
    write_leave_block(&lab);
    let m = lab.path("markers");
    lab.write(
        "book.yaml",
        &format!(
            "name: fails\nenv: dev\nexecute:\n  - run: echo work >> {m}; exit 1\nexit:\n  - include: shared/leave.yaml\n",
            m = m.display()
        ),
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(1);
    assert_eq!(lab.markers(), ["work", "left-dev"]);
}

#[test]
fn an_error_in_an_included_file_is_shown_at_its_own_line_and_column() {
    let lab = Lab::new();
    lab.write(
        "shared/leave.yaml",
        "- run: echo ok\n- run: echo {{nobody}}\n",
    );
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexit:\n  - include: shared/leave.yaml\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(contains(
            "shared/leave.yaml:2:13: error: undefined variable `nobody`",
        ))
        .stderr(contains("2 | - run: echo {{nobody}}"));
    let out = lab
        .tejun()
        .args(["check", "book.yaml", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = &json["errors"][0];
    assert_eq!(
        (
            error["file"].as_str(),
            error["line"].as_u64(),
            error["col"].as_u64()
        ),
        (Some("shared/leave.yaml"), Some(2), Some(13))
    );
    // The run refuses the same way: nothing runs.
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(2)
        .stderr(contains("shared/leave.yaml:2:13"));
}

#[test]
fn a_missing_or_circular_include_is_refused_where_it_is_written() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - include: nowhere.yaml\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(contains(
            "book.yaml:4:14: error: cannot include `nowhere.yaml`",
        ));
    lab.write("a.yaml", "- include: b.yaml\n");
    lab.write("b.yaml", "- run: 'true'\n- include: a.yaml\n");
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - include: a.yaml\n",
    );
    lab.tejun()
        .args(["--lang", "ja", "check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(contains("b.yaml:2:12"))
        .stderr(contains("自分自身を include"));
}

#[test]
fn a_step_in_an_included_file_is_judged_by_the_environment_guard() {
    let lab = Lab::with_inventory(
        "environments:\n  dev: {}\n  production: {paths: ['/srv/production/**']}\n",
    );
    lab.write(
        "shared/deploy.yaml",
        "- run: cp new.conf /srv/production/site.conf\n",
    );
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - include: shared/deploy.yaml\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(contains("shared/deploy.yaml:1:8"))
        .stderr(contains("/srv/production/site.conf"));
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(2);
}

#[test]
fn resume_refuses_a_run_whose_included_file_changed() {
    let lab = Lab::new();
    write_leave_block(&lab);
    let m = lab.path("markers");
    lab.write(
        "book.yaml",
        &format!(
            "name: three\nenv: dev\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: step-2\n    run: echo step-2 >> {m}\nexit:\n  - include: shared/leave.yaml\n",
            m = m.display()
        ),
    );
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
        .env("TEJUN_CRASH_AT", "after-finish:step-1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        None,
        "killed at the crash point: {out:?}"
    );
    let first = String::from_utf8_lossy(&out.stdout);
    let started: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let id = started["payload"]["run_id"].as_str().unwrap().to_string();
    assert!(
        started["payload"]["included"][0][0]
            .as_str()
            .unwrap()
            .ends_with("shared/leave.yaml"),
        "{started}"
    );
    lab.write("shared/leave.yaml", "- run: echo changed\n");
    lab.tejun()
        .args(["resume", &id, "--yes"])
        .assert()
        .code(2)
        .stderr(contains("leave.yaml"))
        .stderr(contains("changed since the run started"));
    assert_eq!(lab.markers(), ["step-1"]);
}
