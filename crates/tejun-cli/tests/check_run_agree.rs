//! `tejun check` and `tejun run` apply one guard (issue #19, observation
//! 4): for every file of the corpus and every environment of its
//! inventory, `check --env E` refuses exactly when `run --env E` does, and
//! `check` without `--env` refuses when a run in any environment the
//! runbook declares would be. Before, `check` accepted the seed case
//! (`examples/wrong-file.yaml`) that `plan` and `run` refuse.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

mod common;

use common::repo_root;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn tejun(dir: &Path, journal: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("LANG", "C")
        .env("TEJUN_DB", journal)
        .env_remove("TEJUN_INVENTORY")
        .env_remove("TEJUN_CRASH_AT");
    cmd
}

fn code(cmd: &mut Command) -> Option<i32> {
    cmd.output().unwrap().status.code()
}

#[test]
fn check_and_run_agree_on_every_corpus_file_in_every_environment() {
    let scratch = tempfile::tempdir().unwrap();
    let journal = scratch.path().join("journal.db");
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.contains("guard-wrong-file")));
    let inv = ["--inventory", "inventory/tejun.yaml"];
    let mut disagreements = Vec::new();
    for file in &files {
        let mut any_refused = false;
        for env in ["staging", "production"] {
            let check = code(
                tejun(&corpus(), &journal)
                    .args(inv)
                    .args(["check", file, "--env", env]),
            );
            let run = code(tejun(&corpus(), &journal).args(inv).args([
                "run",
                file,
                "--env",
                env,
                "--yes",
                "--confirm-env",
                env,
            ]));
            any_refused |= run == Some(2);
            if (check == Some(2)) != (run == Some(2)) {
                disagreements.push(format!("{file} --env {env}: check {check:?}, run {run:?}"));
            }
        }
        let check_all = code(tejun(&corpus(), &journal).args(inv).args(["check", file]));
        if any_refused && check_all != Some(2) {
            disagreements.push(format!("{file}: check without --env {check_all:?}"));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

#[test]
fn check_refuses_the_wrong_file_example_like_plan_and_run() {
    let examples = repo_root().join("examples");
    let scratch = tempfile::tempdir().unwrap();
    let journal = scratch.path().join("journal.db");
    let out = tejun(&examples, &journal)
        .args(["check", "wrong-file.yaml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // At the line of the `sed -i` step's command.
    let text = std::fs::read_to_string(examples.join("wrong-file.yaml")).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.contains("run: sed -i"))
        .unwrap();
    assert!(
        stderr.contains(&format!(
            "wrong-file.yaml:{line}:10: error: step `add-weights` touches `/tmp/tejun-wrong-file/production-site.conf`"
        )),
        "{stderr}"
    );
    for sub in ["plan", "run"] {
        let code = code(tejun(&examples, &journal).args([
            sub,
            "wrong-file.yaml",
            "--env",
            "staging",
            "--yes",
        ]));
        assert_eq!(code, Some(2), "{sub}");
    }
    // In Japanese, and in --json with a stable code.
    let out = tejun(&examples, &journal)
        .args([
            "--lang",
            "ja",
            "check",
            "wrong-file.yaml",
            "--env",
            "staging",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("環境 `staging` での実行を拒否しました"));
    let out = tejun(&examples, &journal)
        .args(["check", "wrong-file.yaml", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"][0]["code"], "environment-guard");
    assert_eq!(json["errors"][0]["line"], line);
}

#[test]
fn check_for_an_environment_the_runbook_is_not_written_for_is_refused_like_run() {
    let examples = repo_root().join("examples");
    let scratch = tempfile::tempdir().unwrap();
    let out = tejun(&examples, &scratch.path().join("j.db"))
        .args(["check", "quickstart.yaml", "--env", "production"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("refusing to run in environment `production`")
    );
}

#[test]
fn check_reads_commands_with_the_values_given_by_var() {
    let examples = repo_root().join("examples");
    let scratch = tempfile::tempdir().unwrap();
    let journal = scratch.path().join("j.db");
    let out = tejun(&examples, &journal)
        .args(["check", "wrong-file.yaml", "--env", "staging"])
        .args(["--var", "conf_dir=/tmp/elsewhere"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`/tmp/elsewhere/production-site.conf`"));
    let out = tejun(&examples, &journal)
        .args(["check", "wrong-file.yaml", "--var", "nope=1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("undefined variable `nope`"));
}
