//! `tejun check` through the real binary: the malformed-runbook corpus,
//! both languages, JSON, and the inventory.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

mod common;

use common::Lab;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// `tejun` with a predictable environment: English unless asked, no
/// colour, no inventory from the caller's environment.
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
    line: usize,
    col: usize,
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
fn corpus_lists_every_file_and_has_at_least_25() {
    let cases = manifest();
    assert!(cases.len() >= 25, "only {} cases", cases.len());
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
}

#[test]
fn every_malformed_runbook_is_reported_at_its_line_and_column() {
    let mut failures = Vec::new();
    for case in manifest() {
        let out = tejun(&corpus())
            .args(["--inventory", "inventory/tejun.yaml", "check", &case.file])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let headline = format!("{}:{}:{}: error: ", case.file, case.line, case.col);
        let ok = out.status.code() == Some(2)
            && stderr
                .lines()
                .any(|l| l.starts_with(&headline) && l.contains(&case.fragment));
        if !ok {
            failures.push(format!(
                "{}: want exit 2 and `{headline}...{}`, got exit {:?}:\n{stderr}",
                case.file,
                case.fragment,
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_corpus_error_has_a_japanese_message_at_the_same_place() {
    let mut failures = Vec::new();
    for case in manifest() {
        let out = tejun(&corpus())
            .args([
                "--lang",
                "ja",
                "--inventory",
                "inventory/tejun.yaml",
                "check",
                &case.file,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let headline = format!("{}:{}:{}: エラー: ", case.file, case.line, case.col);
        let translated = stderr
            .lines()
            .find_map(|l| l.strip_prefix(&headline))
            .is_some_and(|message| !message.is_ascii());
        if out.status.code() != Some(2) || !translated {
            failures.push(format!(
                "{}: want `{headline}` + Japanese text, got:\n{stderr}",
                case.file
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn japanese_messages_with_snippet() {
    tejun(&corpus())
        .args([
            "--lang",
            "ja",
            "--inventory",
            "inventory/tejun.yaml",
            "check",
            "07-undefined-var-run.yaml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "07-undefined-var-run.yaml:6:28: エラー: 未定義の変数 `servce`",
        ))
        .stderr(predicate::str::contains("systemctl restart {{servce}}"))
        .stderr(predicate::str::contains("^^^^^^^^^^"))
        .stderr(predicate::str::contains(
            "`service` の間違いではありませんか?",
        ));
}

#[test]
fn lang_comes_from_the_environment() {
    tejun(&corpus())
        .env("LANG", "ja_JP.UTF-8")
        .args([
            "--inventory",
            "inventory/tejun.yaml",
            "check",
            "15-bad-duration.yaml",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("時間 `5 min` が不正です"));
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let lab = Lab::bare();
    lab.write(
        "many.yaml",
        "name: x\nenv: dev\nexecute:\n  - run: echo {{a}}\n    timeout: 1 hour\n  - check: ls\n    safety: destructive\n",
    );
    let out = tejun(lab.dir.path())
        .args(["check", "many.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    let at: Vec<(u64, u64)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["col"].as_u64().unwrap()))
        .collect();
    assert_eq!(at, [(4, 15), (5, 14), (7, 13)]);
    assert!(
        json["errors"][0]["message_ja"]
            .as_str()
            .unwrap()
            .contains("未定義の変数")
    );
}

/// Five mistakes of five kinds (format, value used as code, a misspelt
/// environment, a step touching another environment's file, a negative
/// count) all come back from one `check`, not one kind per round.
#[test]
fn independent_mistakes_of_every_kind_come_back_in_one_round() {
    let lab = Lab::with_inventory(
        "environments:\n  staging: {paths: ['/srv/staging/**']}\n  production: {paths: ['/srv/production/**']}\n",
    );
    lab.write(
        "five.yaml",
        concat!(
            "name: five\n",
            "env: [staging, prodd]\n",
            "vars:\n  x: {value: 'a b'}\n",
            "execute:\n",
            "  - run: sh -c {{x}}\n",
            "  - run: echo hi > /srv/production/site.conf\n",
            "  - run: echo {{nope}}\n",
            "  - run: 'true'\n",
            "    retries: -1\n",
        ),
    );
    let out = tejun(lab.dir.path())
        .args(["check", "five.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(u64, &str)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [2, 6, 7, 8, 10], "{found:?}");
    let message = |line: u64| {
        json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["line"] == line)
            .map(|e| e["message_en"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert!(message(2).contains("`prodd`"));
    assert!(message(7).contains("/srv/production/site.conf"));
    assert!(
        message(10).contains("found negative integer"),
        "{}",
        message(10)
    );
}

#[test]
fn valid_runbook_passes_with_inventory() {
    let lab = Lab::with_inventory("environments:\n  dev: {}\n");
    lab.write("ok.yaml", "name: ok\nenv: dev\nexecute:\n  - run: 'true'\n");
    tejun(lab.dir.path())
        .args(["check", "ok.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "ok.yaml: valid runbook (1 step, env dev)",
        ))
        .stdout(predicate::str::contains("checked against"));
    let out = tejun(lab.dir.path())
        .args(["check", "ok.yaml", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn without_inventory_environments_are_not_checked_and_it_says_so() {
    let lab = Lab::bare();
    lab.write("ok.yaml", "name: ok\nenv: anywhere\n");
    tejun(lab.dir.path())
        .args(["check", "ok.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no inventory"));
}

#[test]
fn invalid_inventory_is_reported_against_its_own_file() {
    let lab = Lab::with_inventory("environments:\n  dev: {colour: red}\n");
    lab.write("ok.yaml", "name: ok\nenv: dev\n");
    tejun(lab.dir.path())
        .args(["check", "ok.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "tejun.yaml:2:9: error: unknown key `colour`",
        ))
        .stderr(predicate::str::contains("did you mean `color`?"));
}

#[test]
fn unreadable_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    tejun(dir.path())
        .args(["check", "missing.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read missing.yaml"));
}

/// A watch config is recognised by its `sources:` and loaded as `tejun
/// watch` loads it (filters, metric rules), so a mistake in one is found
/// before the watcher is (re)started, not by a watcher that will not start.
#[test]
fn check_loads_a_watch_config_as_watch_would_and_points_at_its_mistakes() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    tejun(&examples)
        .args(["check", "watch.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "valid watch config (2 sources: ssh, web)",
        ));
    let json = tejun(&examples)
        .args(["check", "watch.yaml", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(report["kind"], "watch");
    assert_eq!(report["valid"], true);
    assert_eq!(report["sources"], serde_json::json!(["ssh", "web"]));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.log"), "").unwrap();
    let config = dir.path().join("watch.yaml");
    std::fs::write(
        &config,
        "sources:\n  - name: web\n    paths: [access.log]\n    format: combined\n    metrics:\n      - {name: err, when: error_rat > 5%}\n",
    )
    .unwrap();
    let place = format!("{}:6:", config.display());
    for (lang, words) in [
        ("en", "unknown trigger metric `error_rat`"),
        ("ja", "watch 設定にエラー 1 件"),
    ] {
        tejun(dir.path())
            .args(["--lang", lang, "check", "watch.yaml"])
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains(&place).and(predicate::str::contains(words)));
    }
    let json = tejun(dir.path())
        .args(["check", "watch.yaml", "--json"])
        .assert()
        .code(2)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(report["valid"], false);
    assert!(
        report["errors"][0]["message_en"]
            .as_str()
            .unwrap()
            .contains(&place)
    );
}
