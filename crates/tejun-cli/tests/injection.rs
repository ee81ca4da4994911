//! No variable value can add a command: values are substituted as one
//! shell word. Each attempt here would create a file if it got through.

use std::path::PathBuf;

use assert_cmd::Command;
use tempfile::TempDir;

struct Lab {
    dir: TempDir,
}

impl Lab {
    fn new() -> Lab {
        let lab = Lab {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::write(
            lab.path("tejun.yaml"),
            "environments:\n  dev:\n    color: green\n",
        )
        .unwrap();
        std::fs::write(
            lab.path("book.yaml"),
            "name: echo\nenv: dev\nvars:\n  message:\n    required: true\nexecute:\n  - id: say\n    run: echo {{message}} > said.txt\n",
        )
        .unwrap();
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run_with(&self, value: &str) {
        Command::cargo_bin("tejun")
            .unwrap()
            .current_dir(self.dir.path())
            .env_remove("TEJUN_DB")
            .env_remove("TEJUN_INVENTORY")
            .args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
            .arg(format!("message={value}"))
            .assert()
            .code(0);
    }
}

fn attempt(payload: impl Fn(&str) -> String) {
    let lab = Lab::new();
    let pwned = lab.path("PWNED");
    let value = payload(&pwned.display().to_string());
    lab.run_with(&value);
    assert!(
        !pwned.exists(),
        "injection through {value:?} created {}",
        pwned.display()
    );
    // The value arrived as data, whole.
    let said = std::fs::read_to_string(lab.path("said.txt")).unwrap();
    assert!(
        said.lines().next().unwrap() == value,
        "{said:?} vs {value:?}"
    );
}

#[test]
fn a_single_quote_cannot_break_out() {
    attempt(|pwned| format!("x'; touch {pwned}; '"));
}

#[test]
fn command_substitution_is_not_run() {
    attempt(|pwned| format!("$(touch {pwned})"));
}

#[test]
fn backticks_semicolons_and_newlines_are_not_run() {
    attempt(|pwned| format!("`touch {pwned}`"));
    attempt(|pwned| format!("a; touch {pwned}"));
    attempt(|pwned| format!("a && touch {pwned} || touch {pwned}"));
}

#[test]
fn a_placeholder_inside_shell_quotes_is_rejected_before_running() {
    // Inside quotes a value could close them; the format refuses the
    // runbook outright (exit 2) rather than guess.
    let lab = Lab::new();
    let pwned = lab.path("PWNED");
    std::fs::write(
        lab.path("book.yaml"),
        "name: echo\nenv: dev\nvars:\n  message:\n    required: true\nexecute:\n  - id: say\n    run: echo \"prefix-{{message}}\"\n",
    )
    .unwrap();
    Command::cargo_bin("tejun")
        .unwrap()
        .current_dir(lab.dir.path())
        .env_remove("TEJUN_DB")
        .env_remove("TEJUN_INVENTORY")
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
        .arg(format!("message=\"; touch {}; echo \"", pwned.display()))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("book.yaml:8:"));
    assert!(!pwned.exists());
}
