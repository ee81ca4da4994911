//! The two-person rule on one shared host: an environment with
//! `approval: {count: 1}` runs nothing until someone other than the
//! executor approved. Different people are simulated the way sudo on a
//! bastion tells them apart: `SUDO_USER` for a root process (root can
//! always pretend; that is the bastion's trust model).

use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::Lab;

const INVENTORY: &str = "environments:\n  dev:\n    color: green\n    approval: {count: 1}\n";

/// SUDO_USER only counts for root: elsewhere these tests cannot play two
/// people and say so instead of failing.
fn as_root() -> bool {
    let root = nix::unistd::geteuid().is_root();
    if !root {
        eprintln!("skipped: simulating two people with SUDO_USER needs root");
    }
    root
}

fn lab() -> Lab {
    let lab = Lab::with_inventory(INVENTORY);
    let m = lab.path("markers");
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\nexecute:\n  - id: change\n    run: echo changed >> {}\nrollback:\n  steps:\n    - id: undo\n      run: \"true\"\n",
            m.display()
        ),
    );
    lab
}

fn as_person(lab: &Lab, who: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    lab.tejun().env("SUDO_USER", who).args(args).assert()
}

fn run_id(lab: &Lab) -> String {
    lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_run_needing_approval_waits_and_only_someone_else_can_approve_it() {
    if !as_root() {
        return;
    }
    let lab = lab();
    let out = as_person(
        &lab,
        "alice",
        &["run", "book.yaml", "--env", "dev", "--yes"],
    )
    .code(5)
    .get_output()
    .clone();
    let id = run_id(&lab);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("tejun approve {id}")),
        "{out:?}"
    );
    assert!(lab.markers().is_empty(), "nothing runs before approval");
    assert_eq!(lab.events("approval.requested")[0]["count"], 1);

    // The executor cannot approve their own run, in either language.
    as_person(&lab, "alice", &["approve", &id])
        .code(2)
        .stderr(contains("someone else"));
    as_person(&lab, "alice", &["--lang", "ja", "approve", &id])
        .code(2)
        .stderr(contains("二人ルール"));
    // Still waiting.
    as_person(&lab, "alice", &["resume", &id, "--yes"]).code(5);
    assert!(lab.markers().is_empty());

    as_person(&lab, "bob", &["approve", &id, "--reason", "diff checked"])
        .code(0)
        .stdout(contains("approved").and(contains("bob")));
    // Nobody approves twice.
    as_person(&lab, "bob", &["approve", &id])
        .code(2)
        .stderr(contains("already decided"));

    as_person(&lab, "alice", &["resume", &id, "--yes"])
        .code(0)
        .stdout(contains("SUCCEEDED"));
    assert_eq!(lab.markers(), ["changed"]);
    let granted = lab.events("approval.granted");
    assert_eq!(granted.len(), 1);
    assert!(granted[0]["who"].as_str().unwrap().starts_with("bob@"));
    assert_eq!(granted[0]["reason"], "diff checked");

    as_person(&lab, "alice", &["show", &id])
        .code(0)
        .stdout(contains("approved").and(contains("bob@")));
}

#[test]
fn a_rejected_run_never_runs() {
    if !as_root() {
        return;
    }
    let lab = lab();
    as_person(
        &lab,
        "alice",
        &["run", "book.yaml", "--env", "dev", "--yes"],
    )
    .code(5);
    let id = run_id(&lab);
    // Nothing ran, so there is nothing to roll back either.
    as_person(&lab, "alice", &["rollback", &id, "--yes"])
        .code(2)
        .stderr(contains("nothing to roll back"));
    as_person(
        &lab,
        "carol",
        &["reject", &id, "--reason", "not during the sale"],
    )
    .code(0);
    as_person(&lab, "alice", &["resume", &id, "--yes"])
        .code(2)
        .stderr(contains("rejected by carol"));
    assert!(lab.markers().is_empty());
    // A decided run takes no more decisions.
    as_person(&lab, "bob", &["approve", &id]).code(2);
}

#[test]
fn approval_count_zero_is_refused_with_its_location() {
    let lab = Lab::with_inventory("environments:\n  dev:\n    approval: {count: 0}\n");
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: a\n    run: true\n",
    );
    lab.run().code(2).stderr(contains("tejun.yaml:3"));
}

#[test]
fn approvals_of_an_attached_run_appear_in_the_incident_postmortem() {
    if !as_root() {
        return;
    }
    let lab = lab();
    let opened = as_person(
        &lab,
        "alice",
        &["incident", "open", "--title", "t", "--severity", "P3"],
    )
    .code(0)
    .get_output()
    .stdout
    .clone();
    let incident = String::from_utf8_lossy(&opened).trim().to_string();
    as_person(
        &lab,
        "alice",
        &[
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--incident",
            &incident,
        ],
    )
    .code(5);
    let id = run_id(&lab);
    as_person(&lab, "bob", &["approve", &id, "--reason", "diff checked"]).code(0);
    as_person(
        &lab,
        "alice",
        &["--lang", "ja", "report", &incident, "--format", "md"],
    )
    .code(0)
    .stdout(
        contains("承認の依頼")
            .and(contains("| 承認 | bob@"))
            .and(contains("理由: diff checked")),
    );
}

#[test]
fn a_run_needs_the_larger_of_the_runbook_and_environment_approvals() {
    if !as_root() {
        return;
    }
    let lab =
        Lab::with_inventory("environments:\n  dev:\n    color: green\n    approval: {count: 1}\n");
    let m = lab.path("markers");
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\napproval: {{count: 2}}\nexecute:\n  - id: change\n    run: echo changed >> {}\n",
            m.display()
        ),
    );
    as_person(
        &lab,
        "alice",
        &["run", "book.yaml", "--env", "dev", "--yes"],
    )
    .code(5);
    // The larger of the runbook's 2 and the environment's 1.
    assert_eq!(lab.events("approval.requested")[0]["count"], 2);
    let id = run_id(&lab);
    as_person(&lab, "bob", &["approve", &id]).code(0);
    as_person(&lab, "alice", &["resume", &id, "--yes"]).code(5);
    assert!(lab.markers().is_empty());
    as_person(&lab, "carol", &["approve", &id]).code(0);
    as_person(&lab, "alice", &["resume", &id, "--yes"]).code(0);
    assert_eq!(lab.markers(), ["changed"]);
}

#[test]
fn a_bad_runbook_approval_is_refused_with_its_location_in_both_languages() {
    let lab = Lab::with_inventory("environments:\n  dev: {}\n");
    for (approval, en, ja) in [
        ("{count: 0}", "a positive integer", "1 以上の整数"),
        ("{count: two}", "a non-negative integer", "0 以上の整数"),
        ("{}", "count", "count"),
        ("{count: 1, who: ops}", "who", "who"),
    ] {
        lab.write(
            "book.yaml",
            &format!(
                "name: x\nenv: dev\napproval: {approval}\nexecute:\n  - id: a\n    run: \"true\"\n"
            ),
        );
        lab.tejun()
            .args(["check", "book.yaml"])
            .assert()
            .code(2)
            .stderr(contains("book.yaml:3:").and(contains(en)));
        lab.tejun()
            .args(["--lang", "ja", "run", "book.yaml", "--env", "dev", "--yes"])
            .assert()
            .code(2)
            .stderr(contains("book.yaml:3:").and(contains(ja)));
        assert!(
            lab.events("run.started").is_empty(),
            "{approval}: nothing ran"
        );
    }
}
