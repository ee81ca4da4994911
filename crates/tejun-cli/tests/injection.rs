//! Values are data, never code: a command reads each value from its
//! environment and the shell never parses it, wherever the placeholder
//! sits in the step's own command; a value a second interpreter would read
//! as code is refused unless its type constrains it. Each attempt here
//! would create a marker file if it got through.

mod common;

use common::Lab;
use predicates::prelude::*;

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

/// Runs `runbook` (with `message` required) with `message` set to `value`,
/// expecting `code`; returns stderr.
fn run_book(lab: &Lab, runbook: &str, value: &str, code: i32) -> String {
    lab.write("book.yaml", runbook);
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
        .arg(format!("message={value}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

fn book(command: &str) -> String {
    let indented = command.replace('\n', "\n      ");
    format!(
        "name: echo\nenv: dev\nvars:\n  message:\n    required: true\nexecute:\n  - id: say\n    run: |-\n      {indented}\n"
    )
}

/// Payloads that run `touch` if the value is ever parsed as shell text.
fn payloads(pwned: &str) -> Vec<String> {
    vec![
        format!("$(touch {pwned})"),
        format!("`touch {pwned}`"),
        format!("\"; touch {pwned}; echo \""),
        format!("x\ntouch {pwned}"),
        format!("x'; touch {pwned}; '"),
    ]
}

#[test]
fn a_value_inside_double_quotes_is_data() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    for value in payloads(&pwned) {
        run_book(
            &lab,
            &book("echo \"prefix-{{message}}\" > said.txt"),
            &value,
            0,
        );
        assert!(!lab.path("PWNED").exists(), "{value:?} ran");
        let said = std::fs::read_to_string(lab.path("said.txt")).unwrap();
        assert_eq!(said, format!("prefix-{value}\n"));
    }
}

#[test]
fn a_value_in_an_unquoted_heredoc_body_is_data() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    for value in payloads(&pwned) {
        run_book(
            &lab,
            &book("cat > said.txt <<EOF\nvalue={{message}}\nEOF"),
            &value,
            0,
        );
        assert!(!lab.path("PWNED").exists(), "{value:?} ran");
        let said = std::fs::read_to_string(lab.path("said.txt")).unwrap();
        assert_eq!(said, format!("value={value}\n"));
    }
}

#[test]
fn a_newline_in_a_value_after_a_comment_does_not_end_the_comment() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    for value in payloads(&pwned) {
        run_book(&lab, &book("echo done # note: {{message}}"), &value, 0);
        assert!(!lab.path("PWNED").exists(), "{value:?} ran");
    }
}

#[test]
fn an_apostrophe_in_a_comment_does_not_hide_a_single_quoted_placeholder() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    // In the comment itself, quotes mean nothing and the value is inert.
    run_book(
        &lab,
        &book("echo done # don't '{{message}}'"),
        &format!("'; touch {pwned}; '"),
        0,
    );
    assert!(!lab.path("PWNED").exists());
    // The apostrophe does not desynchronise what follows: a single-quoted
    // placeholder on the next line is still refused before anything runs.
    let stderr = run_book(
        &lab,
        &book("echo a # don't\necho '{{message}}'"),
        &format!("'; touch {pwned}; '"),
        2,
    );
    assert!(stderr.contains("inside single quotes"), "{stderr}");
    assert!(!lab.path("PWNED").exists());
}

#[test]
fn a_value_concatenated_into_an_inner_shell_string_is_refused() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    for command in [
        "sh -c \"echo \"{{message}}",
        "bash -c \"echo {{message}}\"",
        "ssh 127.0.0.1 \"echo {{message}}\"",
        "eval echo {{message}}",
        "echo {{message}} | sh",
        "sh <<EOF\necho {{message}}\nEOF",
    ] {
        let stderr = run_book(&lab, &book(command), &format!("x; touch {pwned}"), 2);
        assert!(
            stderr.contains("as program text") && stderr.contains("book.yaml:"),
            "{command}: {stderr}"
        );
        assert!(!lab.path("PWNED").exists(), "{command} ran");
        // `tejun check` refuses it the same way.
        lab.tejun()
            .args(["check", "book.yaml"])
            .assert()
            .code(2)
            .stderr(
                predicates::str::contains("value-becomes-code")
                    .not()
                    .and(predicates::str::contains("as program text")),
            );
    }
}

/// Wrappers with long options, option values and operands are looked
/// through the same way the guard looks through them (one shared table).
#[test]
fn a_value_behind_a_wrapper_with_options_is_refused_as_program_text() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    for command in [
        "sudo --user root sh -c {{message}}",
        "timeout --signal KILL 5 sh -c {{message}}",
        "stdbuf -o L sh -c {{message}}",
        "sudo -T 5 sh -c {{message}}",
        "builtin eval {{message}}",
    ] {
        let stderr = run_book(&lab, &book(command), &format!("touch {pwned}"), 2);
        assert!(
            stderr.contains("as program text") && stderr.contains("book.yaml:"),
            "{command}: {stderr}"
        );
        assert!(!lab.path("PWNED").exists(), "{command} ran");
        lab.tejun()
            .args(["check", "book.yaml"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("as program text"));
    }
}

/// A subshell inside a subshell is not `((` arithmetic: an untyped value
/// there is accepted and arrives whole, neither split nor globbed.
#[test]
fn a_value_in_nested_subshells_is_data() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    let mut values = payloads(&pwned);
    values.push("two  spaces *".to_string());
    for value in values {
        run_book(
            &lab,
            &book("(cd . && (printf '%s\\n' {{message}} > said.txt))"),
            &value,
            0,
        );
        assert!(!lab.path("PWNED").exists(), "{value:?} ran");
        let said = std::fs::read_to_string(lab.path("said.txt")).unwrap();
        assert_eq!(said, format!("{value}\n"));
    }
}

#[test]
fn a_value_passed_as_an_argument_to_an_inner_shell_is_data() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    for value in payloads(&pwned) {
        run_book(
            &lab,
            &book("sh -c 'printf \"%s\\n\" \"$1\" > said.txt' _ {{message}}"),
            &value,
            0,
        );
        assert!(!lab.path("PWNED").exists(), "{value:?} ran");
        let said = std::fs::read_to_string(lab.path("said.txt")).unwrap();
        assert_eq!(said, format!("{value}\n"));
    }
}

const SED_BOOK: &str = "name: weights\nenv: dev\nvars:\n  conf: site.conf\n  weight: {value: 1, TYPE}\nexecute:\n  - id: apply\n    run: sed -i s/weight=1/weight={{weight}}/ {{conf}}\n";

#[test]
fn program_text_for_sed_needs_a_typed_variable() {
    let lab = Lab::new();
    lab.write("site.conf", "server a weight=1;\n");
    // Untyped, the docs' old example is refused before anything runs.
    lab.write("book.yaml", &SED_BOOK.replace(", TYPE", ""));
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(
            predicates::str::contains("book.yaml:8:").and(predicates::str::contains(
                "`{{weight}}` is handed to sed as program text",
            )),
        );
    // Typed `int`, the attack from the issue is refused naming the variable.
    lab.write("book.yaml", &SED_BOOK.replace("TYPE", "type: int"));
    let pwned = lab.path("PWNED");
    let attack = format!("weight=5/;1e touch {};#", pwned.display());
    for command in ["check", "run", "plan"] {
        let mut cmd = lab.tejun();
        cmd.args([command, "book.yaml"]);
        if command != "check" {
            cmd.args(["--env", "dev"]);
        }
        if command == "run" {
            cmd.arg("--yes");
        }
        cmd.args(["--var", &attack]).assert().code(2).stderr(
            predicates::str::contains("variable `weight`")
                .and(predicates::str::contains("must be an integer")),
        );
    }
    assert!(!pwned.exists());
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "server a weight=1;\n"
    );
    // A fitting value runs.
    lab.tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--var",
            "weight=5",
        ])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "server a weight=5;\n"
    );
}

#[test]
fn typed_values_are_checked_before_anything_runs_in_japanese_too() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: t\nenv: dev\nvars:\n  n: {required: true, type: int, min: 1, max: 3}\n  mode: {value: a, type: enum, choices: [a, b]}\n  h: {value: web1, type: host}\nexecute:\n  - id: mark\n    run: touch ran-{{n}}-{{mode}}-{{h}}\n",
    );
    for (var, fragment) in [
        ("n=4", "variable `n`"),
        ("mode=c", "variable `mode`"),
        ("h=-oProxyCommand=x", "variable `h`"),
    ] {
        let mut args = vec!["run", "book.yaml", "--env", "dev", "--yes", "--var", var];
        if !var.starts_with('n') {
            args.extend(["--var", "n=2"]);
        }
        lab.tejun()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(fragment));
        lab.tejun()
            .args(["--lang", "ja"])
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("変数"));
    }
    let ran = std::fs::read_dir(lab.path("."))
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("ran-"));
    assert!(!ran, "a step ran with a bad value");
}

#[test]
fn shell_arithmetic_takes_only_typed_numbers() {
    let lab = Lab::new();
    let pwned = lab.path("PWNED").display().to_string();
    // bash evaluates `a[$(cmd)]` inside arithmetic: untyped, refused.
    run_book(
        &lab,
        &book("echo $(( {{message}} + 1 )) > said.txt"),
        &format!("a[$(touch {pwned})]"),
        2,
    );
    assert!(!lab.path("PWNED").exists());
    lab.write(
        "book.yaml",
        "name: n\nenv: dev\nvars:\n  n: {required: true, type: int}\nexecute:\n  - id: add\n    run: echo $(( {{n}} + 1 )) > said.txt\n",
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--var", "n=4"])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(lab.path("said.txt")).unwrap(),
        "5\n"
    );
}
