//! No variable value can add a command: values are substituted as one
//! shell word. Each attempt here would create a file if it got through.

mod common;

use common::Lab;

/// A lab whose runbook writes its one variable to `said.txt`.
fn lab() -> Lab {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: echo\nenv: dev\nvars:\n  message:\n    required: true\nexecute:\n  - id: say\n    run: echo {{message}} > said.txt\n",
    );
    lab
}

/// Runs the runbook with `message` set to `value`; it must succeed.
fn run_with(lab: &Lab, value: &str) {
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
        .arg(format!("message={value}"))
        .assert()
        .code(0);
}

fn attempt(payload: impl Fn(&str) -> String) {
    let lab = lab();
    let pwned = lab.path("PWNED");
    let value = payload(&pwned.display().to_string());
    run_with(&lab, &value);
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
    let lab = lab();
    let pwned = lab.path("PWNED");
    lab.write(
        "book.yaml",
        "name: echo\nenv: dev\nvars:\n  message:\n    required: true\nexecute:\n  - id: say\n    run: echo \"prefix-{{message}}\"\n",
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
        .arg(format!("message=\"; touch {}; echo \"", pwned.display()))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("book.yaml:8:"));
    assert!(!pwned.exists());
}
