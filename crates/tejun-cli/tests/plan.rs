//! `tejun plan` through the real binary: what it prints, what it refuses.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

const INVENTORY: &str = r#"
environments:
  staging: {color: yellow, paths: ["/srv/staging/**", "**/staging-*.conf"]}
  production: {protected: true, paths: ["**/production-*.conf"]}
"#;

const RUNBOOK: &str = r#"
name: upstream weight
env: staging
vars:
  conf: "{{runbook_dir}}/staging-site.conf"
  weight: {value: "5", type: int}
  note: {required: true}
  token: {from_env: PLAN_TEST_TOKEN, secret: true}
pre:
  - id: save
    backup: ["{{conf}}"]
  - check: grep -q upstream {{conf}}
    timeout: 5s
execute:
  - id: apply
    run: sed -i s/weight=1/weight={{weight}}/ {{conf}} && logger {{note}}
  - id: notify
    run: 'curl -fsS -H "Authorization: Bearer "{{token}} http://127.0.0.1:9/hook'
    on_failure: continue
  - id: purge
    run: rm -rf /srv/staging/cache
    safety: destructive
post:
  - confirm: Does the site answer?
exit:
  - run: logger done
rollback:
  steps:
    - restore: {from: save}
  checks:
    - check: grep -q weight=1 {{conf}}
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tejun.yaml"), INVENTORY).unwrap();
    std::fs::write(dir.path().join("change.yaml"), RUNBOOK).unwrap();
    dir
}

fn tejun(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tejun").expect("tejun binary");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env("PLAN_TEST_TOKEN", "tok-s3cret-value")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("TEJUN_INVENTORY")
        .env_remove("TEJUN_DB");
    cmd
}

/// `tejun plan change.yaml --env staging` with its one required var set.
fn plan_staging(dir: &Path) -> Command {
    let mut cmd = tejun(dir);
    cmd.args(["plan", "change.yaml", "--env", "staging", "--var", "note=x"]);
    cmd
}

#[test]
fn prints_every_step_phase_by_phase() {
    let dir = setup();
    let out = tejun(dir.path())
        .args([
            "plan",
            "change.yaml",
            "--env",
            "staging",
            "--var",
            "note=CHG-42",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let conf = std::fs::canonicalize(dir.path())
        .unwrap()
        .join("staging-site.conf");
    let conf = conf.display();
    for expected in [
        "Plan: upstream weight  env: staging  (9 steps, nothing run)".to_string(),
        "== pre: before the change ==".to_string(),
        "  1. save  backup  [read-only]  timeout 10m".to_string(),
        format!("     paths: {conf}"),
        "  2. pre-2  check  [read-only]  timeout 5s".to_string(),
        "on failure: run stops before execute; no rollback needed; exit phase runs".to_string(),
        "  3. apply  run  [changes]".to_string(),
        format!("     $ sed -i s/weight=1/weight=5/ {conf} && logger CHG-42"),
        "on failure: rollback runs".to_string(),
        "on failure: failure recorded; the phase continues".to_string(),
        "  5. purge  run  [destructive]".to_string(),
        "     ? Does the site answer?".to_string(),
        "on failure: left uncleanly (exit 4); other exit steps still run; no rollback".to_string(),
        "== rollback: only when execute or post fails, or on abort ==".to_string(),
        "  8. rollback-1  restore  [changes]".to_string(),
        "     from backup save".to_string(),
        "  9. rollback-check-1  check  [read-only]".to_string(),
    ] {
        assert!(text.contains(&expected), "missing `{expected}` in:\n{text}");
    }
    assert!(!text.contains("tok-s3cret-value"), "secret leaked:\n{text}");
    assert!(text.contains("Bearer \"'***' http"), "{text}");
}

#[test]
fn japanese_labels() {
    let dir = setup();
    tejun(dir.path())
        .args([
            "--lang",
            "ja",
            "plan",
            "change.yaml",
            "--env",
            "staging",
            "--var",
            "note=x",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("[読み取り専用]"))
        .stdout(predicate::str::contains("[状態変更]"))
        .stdout(predicate::str::contains("[破壊的]"))
        .stdout(predicate::str::contains("失敗時: ロールバックを実行"));
}

#[test]
fn a_variable_cannot_inject_a_command() {
    let dir = setup();
    let out = tejun(dir.path())
        .args(["plan", "change.yaml", "--env", "staging", "--json"])
        .args(["--var", "note=x; touch /tmp/pwned #"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let apply = &json["steps"][2];
    assert_eq!(apply["id"], "apply");
    let command = apply["command"].as_str().unwrap();
    assert!(
        command.ends_with("&& logger 'x; touch /tmp/pwned #'"),
        "{command}"
    );
    // `weight` is sed program text, so it is typed and `$(id)` is refused.
    tejun(dir.path())
        .args(["plan", "change.yaml", "--env", "staging"])
        .args(["--var", "note=x", "--var", "weight=$(id)"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("variable `weight`"));
    assert_eq!(json["steps"][2]["safety"], "changes");
    assert_eq!(json["steps"][3]["on_failure"], "continue");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("tok-s3cret-value"));
}

#[test]
fn refuses_an_environment_the_runbook_is_not_written_for() {
    let dir = setup();
    tejun(dir.path())
        .args([
            "plan",
            "change.yaml",
            "--env",
            "production",
            "--var",
            "note=x",
        ])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "written for staging, not `production`",
        ));
}

#[test]
fn refuses_without_inventory_or_when_it_lacks_the_env() {
    let dir = setup();
    std::fs::remove_file(dir.path().join("tejun.yaml")).unwrap();
    plan_staging(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no inventory found"));
    std::fs::write(dir.path().join("tejun.yaml"), "environments:\n  dev: {}\n").unwrap();
    plan_staging(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "change.yaml:3:6: error: environment `staging` is not defined",
        ));
}

#[test]
fn refuses_the_wrong_file() {
    let dir = setup();
    let wrong = RUNBOOK.replace(
        "{{runbook_dir}}/staging-site.conf",
        "/etc/nginx/production-site.conf",
    );
    let wrong = wrong.replace(
        "backup: [\"{{conf}}\"]",
        "backup: [/etc/nginx/production-site.conf]",
    );
    std::fs::write(dir.path().join("change.yaml"), wrong).unwrap();
    plan_staging(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "belongs to environment `production`",
        ));
}

#[test]
fn refuses_the_wrong_file_named_through_a_variable() {
    let dir = setup();
    plan_staging(dir.path())
        .args(["--var", "conf=/etc/nginx/production-site.conf"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "step `save` touches `/etc/nginx/production-site.conf`",
        ))
        .stderr(predicate::str::contains("`production`"));
}

#[test]
fn refuses_the_wrong_file_named_only_in_a_command() {
    let dir = setup();
    let wrong = RUNBOOK.replace(
        "run: sed -i s/weight=1/weight={{weight}}/ {{conf}}",
        "run: sed -i s/weight=1/weight={{weight}}/ /srv/www/production-site.conf",
    );
    std::fs::write(dir.path().join("change.yaml"), wrong).unwrap();
    plan_staging(dir.path())
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains(
            "step `apply` touches `/srv/www/production-site.conf`",
        ));
}

#[test]
fn variable_problems_are_bad_input() {
    let dir = setup();
    tejun(dir.path())
        .args(["plan", "change.yaml", "--env", "staging"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "required variable `note` is not set",
        ));
    tejun(dir.path())
        .args([
            "plan",
            "change.yaml",
            "--env",
            "staging",
            "--var",
            "note=x",
            "--var",
            "nope=1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not declare: `nope`"));
    plan_staging(dir.path())
        .env_remove("PLAN_TEST_TOKEN")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`PLAN_TEST_TOKEN` is not set"));
    tejun(dir.path())
        .args([
            "plan",
            "change.yaml",
            "--env",
            "staging",
            "--var",
            "novalue",
        ])
        .assert()
        .code(2);
}

#[test]
fn invalid_runbook_is_reported_like_check() {
    let dir = setup();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "name: x\nenv: staging\nexecute:\n  - run: echo {{nope}}\n",
    )
    .unwrap();
    tejun(dir.path())
        .args(["plan", "bad.yaml", "--env", "staging"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad.yaml:4:15: error: undefined variable `nope`",
        ));
}
