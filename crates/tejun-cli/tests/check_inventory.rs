//! `tejun check` on an inventory (`tejun.yaml`) through the real binary:
//! recognised by its shape or named with `--inventory`, the malformed
//! inventory corpus at exact line:col in both languages and in JSON, and an
//! invalid inventory reported against its own file when a runbook is
//! checked.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

mod common;

use common::{Lab, repo_root};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventory_corpus")
}

/// `tejun` in `dir`, English unless asked, no colour, and no inventory or
/// journal from the caller's environment.
fn tejun(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tejun").expect("tejun binary");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("TEJUN_INVENTORY")
        .env_remove("TEJUN_DB");
    cmd
}

struct Case {
    file: String,
    line: u64,
    col: u64,
    fragment: String,
}

fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus().join("expected.txt")).expect("expected.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.split_whitespace();
            let file = parts.next().unwrap().to_string();
            let (line, col) = parts.next().unwrap().split_once(':').expect("LINE:COL");
            Case {
                file,
                line: line.parse().unwrap(),
                col: col.parse().unwrap(),
                fragment: parts.collect::<Vec<_>>().join(" "),
            }
        })
        .collect()
}

#[test]
fn corpus_lists_every_file_and_covers_the_required_kinds() {
    let cases = manifest();
    assert!(cases.len() >= 8, "only {} cases", cases.len());
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "expected.txt and the corpus differ");
    // The kinds of mistake the corpus must keep covering.
    for needed in [
        "invalid YAML",
        "unknown key",
        "must be true or false",
        "invalid color",
        "duplicate mapping key",
        "is relative",
        "invalid path pattern",
        "`hosts` must be",
        "defines no environment",
    ] {
        assert!(
            cases.iter().any(|c| c.fragment.contains(needed)),
            "no case for `{needed}`"
        );
    }
}

/// Runs `args` in the corpus and returns (exit code, stderr).
fn check(args: &[&str]) -> (Option<i32>, String) {
    let out = tejun(&corpus()).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_malformed_inventory_is_reported_at_its_line_and_column() {
    let mut failures = Vec::new();
    for case in manifest() {
        let headline = format!("{}:{}:{}: error: ", case.file, case.line, case.col);
        let summary = format!("{}: ", case.file);
        // By its shape, and named explicitly: the same report.
        for args in [
            vec!["check", case.file.as_str()],
            vec!["check", "--inventory", case.file.as_str()],
        ] {
            let (code, stderr) = check(&args);
            let at_place = stderr
                .lines()
                .any(|l| l.starts_with(&headline) && l.contains(&case.fragment));
            let said_inventory = stderr
                .lines()
                .any(|l| l.starts_with(&summary) && l.contains("error(s) in the inventory"));
            // The snippet shows the offending line under the headline.
            let snippet = format!(" --> {}:{}:{}", case.file, case.line, case.col);
            if code != Some(2) || !at_place || !said_inventory || !stderr.contains(&snippet) {
                failures.push(format!(
                    "tejun {}: want exit 2, `{headline}...{}`, the snippet and an inventory summary; got exit {code:?}:\n{stderr}",
                    args.join(" "),
                    case.fragment,
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_inventory_error_has_a_japanese_message_at_the_same_place() {
    let mut failures = Vec::new();
    for case in manifest() {
        let (code, stderr) = check(&["--lang", "ja", "check", &case.file]);
        let headline = format!("{}:{}:{}: エラー: ", case.file, case.line, case.col);
        let translated = stderr
            .lines()
            .find_map(|l| l.strip_prefix(&headline))
            .is_some_and(|message| !message.is_ascii());
        let summary = stderr.contains(&format!("{}: インベントリにエラー", case.file));
        if code != Some(2) || !translated || !summary {
            failures.push(format!(
                "{}: want `{headline}` + Japanese text, got:\n{stderr}",
                case.file
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn json_names_the_kind_and_every_error_location() {
    let mut failures = Vec::new();
    for case in manifest() {
        let out = tejun(&corpus())
            .args(["check", &case.file, "--json"])
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let first = &json["errors"][0];
        let ok = out.status.code() == Some(2)
            && json["kind"] == "inventory"
            && json["valid"] == false
            && first["file"] == case.file.as_str()
            && first["line"] == case.line
            && first["col"] == case.col
            && first["message_en"]
                .as_str()
                .is_some_and(|m| m.contains(&case.fragment))
            && first["message_ja"].as_str().is_some_and(|m| !m.is_ascii());
        if !ok {
            failures.push(format!("{}: {json:#}", case.file));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_shipped_example_inventory_is_valid_and_says_what_it_checked() {
    let example = repo_root().join("examples/tejun.yaml");
    let example = example.to_str().unwrap();
    tejun(&repo_root())
        .args(["check", example])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "valid inventory (3 environments: dev, staging, production; protected: production)",
        ));
    let out = tejun(&repo_root())
        .args(["check", "--inventory", example, "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "inventory");
    assert_eq!(json["valid"], true);
    assert_eq!(
        json["environments"],
        serde_json::json!(["dev", "staging", "production"])
    );
    tejun(&repo_root())
        .args(["--lang", "ja", "check", example])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "インベントリとして問題なし (環境 3 件",
        ));
}

#[test]
fn without_a_file_the_inventory_found_is_checked() {
    let lab = Lab::with_inventory("environments:\n  dev:\n    colour: green\n");
    let out = tejun(lab.dir.path()).args(["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tejun.yaml:3:5: error: unknown key `colour`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `color`?"), "{stderr}");
    lab.write("tejun.yaml", common::DEV_INVENTORY);
    tejun(lab.dir.path())
        .args(["check"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "valid inventory (1 environments: dev",
        ));
}

#[test]
fn nothing_to_check_is_a_usage_error() {
    let lab = Lab::bare();
    tejun(lab.dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nothing to check"));
}

#[test]
fn a_runbook_is_still_checked_as_a_runbook_and_says_so() {
    let lab = Lab::new();
    lab.write("ok.yaml", "name: ok\nenv: dev\nexecute:\n  - run: 'true'\n");
    tejun(lab.dir.path())
        .args(["check", "ok.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "ok.yaml: valid runbook (1 step, env dev)",
        ));
    let out = tejun(lab.dir.path())
        .args(["check", "ok.yaml", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "runbook");
    // A runbook with a (wrong) `environments:` key is still a runbook:
    // it has a name and phases.
    lab.write(
        "mixed.yaml",
        "name: x\nenv: dev\nenvironments: {dev: {}}\nexecute: []\n",
    );
    tejun(lab.dir.path())
        .args(["check", "mixed.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "mixed.yaml:3:1: error: unknown key `environments`",
        ))
        .stderr(predicate::str::contains("error(s) in the runbook"));
}

#[test]
fn an_invalid_inventory_is_reported_at_its_own_place_beside_the_runbooks_errors() {
    let lab = Lab::with_inventory("environments:\n  dev:\n    color: purple\n");
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - run: echo {{nope}}\n",
    );
    let out = tejun(lab.dir.path())
        .args(["check", "book.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "book.yaml:4:15: error: undefined variable `nope`",
        " --> book.yaml:4:15",
        "book.yaml: 1 error(s) in the runbook",
        "tejun.yaml:3:12: error: invalid color `purple`",
        "/tejun.yaml:3:12\n", // the snippet's ` --> PATH:3:12` line
        "tejun.yaml: 1 error(s) in the inventory",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    // The inventory's error is not shown as the runbook's.
    assert!(!stderr.contains("book.yaml:3:12"), "{stderr}");

    let out = tejun(lab.dir.path())
        .args(["check", "book.yaml", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "runbook");
    // The inventory found by walking up from the current directory is
    // named by its full path.
    let file_name = |v: &serde_json::Value| {
        let path = Path::new(v.as_str().unwrap());
        path.file_name().unwrap().to_string_lossy().into_owned()
    };
    assert_eq!(file_name(&json["inventory"]), "tejun.yaml");
    let at: Vec<(String, u64, u64)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                file_name(&e["file"]),
                e["line"].as_u64().unwrap(),
                e["col"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        at,
        [("book.yaml".into(), 4, 15), ("tejun.yaml".into(), 3, 12)]
    );
}
