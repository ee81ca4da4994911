//! What a run changed in the files it backed up, through the real binary:
//! a short diff at the end of the run, all of them with `show --diff`
//! (and `--json`), nothing once a rollback put the file back, and a
//! pointer instead of a wall of text for a long diff.

use predicates::prelude::*;

mod common;

use common::Lab;

const CONF: &str = "upstream app {\n  server a weight=1;\n  server b weight=1;\n}\n";

fn weights_book(lab: &Lab, then: &str) {
    lab.write("app.conf", CONF);
    let conf = lab.path("app.conf");
    let conf = conf.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: weights\nenv: dev\nexecute:\n  - id: save\n    backup: {conf}\n  - run: sed -i 's/a weight=1/a weight=5/' {conf}\n{then}"
        ),
    );
}

fn last_run(lab: &Lab) -> String {
    let out = lab.tejun().args(["runs", "--json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    runs.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_run_ends_by_showing_the_short_diff_of_what_it_changed() {
    let lab = Lab::new();
    weights_book(&lab, "");
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(changed since the backup)"))
        .stdout(predicate::str::contains(
            "-  server a weight=1;\n+  server a weight=5;",
        ));
    let id = last_run(&lab);
    lab.tejun()
        .args(["show", &id, "--diff"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("(save: changed since the backup)"))
        .stdout(predicate::str::contains("+  server a weight=5;"));
    let out = lab
        .tejun()
        .args(["show", &id, "--diff", "--json"])
        .output()
        .unwrap();
    let files: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(files[0]["state"], "changed");
    assert_eq!(files[0]["step"], "save");
    assert!(
        files[0]["diff"]
            .as_str()
            .unwrap()
            .contains("+  server a weight=5;")
    );
}

#[test]
fn a_rolled_back_run_shows_its_file_unchanged() {
    let lab = Lab::new();
    weights_book(
        &lab,
        "  - run: 'false'\nrollback:\n  steps:\n    - restore: {from: save}\n",
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("changed since the backup").not());
    assert_eq!(std::fs::read_to_string(lab.path("app.conf")).unwrap(), CONF);
    lab.tejun()
        .args(["--lang", "ja", "show", &last_run(&lab), "--diff"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("バックアップから変更なし"));
}

#[test]
fn a_long_diff_is_left_to_show_diff() {
    let lab = Lab::new();
    let conf = lab.path("big.conf");
    let before: String = (0..100).map(|i| format!("line {i}\n")).collect();
    lab.write("big.conf", &before);
    lab.write(
        "book.yaml",
        &format!(
            "name: big\nenv: dev\nexecute:\n  - id: save\n    backup: {c}\n  - run: sed -i 's/line/LINE/' {c}\n",
            c = conf.display()
        ),
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 backed-up file(s) changed"))
        .stdout(predicate::str::contains("--diff"))
        .stdout(predicate::str::contains("+LINE 50").not());
    lab.tejun()
        .args(["show", &last_run(&lab), "--diff"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("+LINE 50"));
}

#[test]
fn a_file_over_a_mebibyte_is_compared_by_hash_not_diffed() {
    let lab = Lab::new();
    let dump = lab.path("dump.sql");
    lab.write("dump.sql", &"INSERT INTO t VALUES (1);\n".repeat(50_000));
    lab.write(
        "book.yaml",
        &format!(
            "name: dump\nenv: dev\nexecute:\n  - id: save\n    backup: {d}\n  - run: echo 'INSERT INTO t VALUES (2);' >> {d}\n",
            d = dump.display()
        ),
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("over 1 MiB: compared by hash"))
        .stdout(predicate::str::contains("+INSERT").not());
    let out = lab
        .tejun()
        .args(["show", &last_run(&lab), "--diff", "--json"])
        .output()
        .unwrap();
    let files: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(files[0]["state"], "changed-large");
    assert!(files[0]["diff"].is_null());
}
