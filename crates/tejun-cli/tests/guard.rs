//! The environment guard, fail-closed: every refusal happens before any
//! step runs (proved by marker files that must not appear), exits 2, says
//! why, and is journaled as `run.refused`.

use assert_cmd::assert::Assert;
use predicates::prelude::*;
use predicates::str::contains;
use tejun_journal::{Journal, Query};

mod common;

use common::{Lab, repo_root};

const INVENTORY: &str = "\
environments:
  dev:
    color: green
  staging:
    color: yellow
    paths: ['**/staging-*.conf']
  production:
    color: red
    protected: true
    hosts: [web-1, web-2]
    paths: ['**/production-*.conf']
";

/// A lab with the inventory above.
fn lab() -> Lab {
    Lab::with_inventory(INVENTORY)
}

/// What only the guard tests ask of a lab.
trait GuardLab {
    fn marker_exists(&self) -> bool;
    fn refusals(&self) -> Vec<serde_json::Value>;
    fn book(&self, envs: &str, extra_step_keys: &str);
    fn run_in(&self, env: &str, extra: &[&str]) -> Assert;
}

impl GuardLab for Lab {
    /// `tejun run book.yaml --env ENV --yes EXTRA...`.
    fn run_in(&self, env: &str, extra: &[&str]) -> Assert {
        self.tejun()
            .args(["run", "book.yaml", "--env", env, "--yes"])
            .args(extra)
            .assert()
    }

    fn marker_exists(&self) -> bool {
        self.path("marker").exists()
    }

    fn refusals(&self) -> Vec<serde_json::Value> {
        self.events("run.refused")
    }

    /// A runbook for `envs` whose one step creates `marker`.
    fn book(&self, envs: &str, extra_step_keys: &str) {
        self.write(
            "book.yaml",
            &format!(
                "name: guarded\nenv: {envs}\nexecute:\n  - id: touch-marker\n    run: touch {}\n{extra_step_keys}",
                self.path("marker").display()
            ),
        );
    }
}

fn repo_file(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative)).unwrap()
}

#[test]
fn a_runbook_is_refused_in_an_environment_it_was_not_written_for() {
    let lab = lab();
    lab.book("dev", "");
    lab.run_in("staging", &[]).code(2).stderr(
        contains("refusing to run in environment `staging`").and(contains("written for dev")),
    );
    assert!(!lab.marker_exists());
    let refusals = lab.refusals();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0]["env"], "staging");
}

#[test]
fn an_environment_the_inventory_does_not_define_is_refused() {
    let lab = lab();
    lab.book("[dev, qa]", "");
    lab.run_in("qa", &[])
        .code(2)
        .stderr(contains("`qa` is not defined in the inventory"));
    assert!(!lab.marker_exists());
}

#[test]
fn no_inventory_means_no_run_and_says_how_to_create_one() {
    let lab = Lab::bare();
    lab.book("dev", "");
    lab.run_in("dev", &[])
        .code(2)
        .stderr(contains("no inventory").and(contains("examples/tejun.yaml")));
    assert!(!lab.marker_exists());
}

#[test]
fn the_wrong_file_example_is_refused_before_any_step() {
    let lab = lab();
    let conf_dir = lab.path("nginx");
    std::fs::create_dir(&conf_dir).unwrap();
    let production = "upstream app {\n    server 10.0.0.1:8080;\n}\n";
    std::fs::write(conf_dir.join("production-site.conf"), production).unwrap();
    std::fs::write(conf_dir.join("staging-site.conf"), production).unwrap();
    lab.write("tejun.yaml", &repo_file("examples/tejun.yaml"));
    lab.write("wrong-file.yaml", &repo_file("examples/wrong-file.yaml"));
    let conf_var = format!("conf_dir={}", conf_dir.display());
    lab.tejun()
        .args([
            "run",
            "wrong-file.yaml",
            "--env",
            "staging",
            "--yes",
            "--var",
            &conf_var,
        ])
        .assert()
        .code(2)
        .stderr(
            contains("step `add-weights`")
                .and(contains("production-site.conf"))
                .and(contains("pins to environment `production`")),
        );
    // Not even the read-only pre check ran, and the file is untouched.
    assert_eq!(
        std::fs::read_to_string(conf_dir.join("production-site.conf")).unwrap(),
        production
    );
    let refusals = lab.refusals();
    assert_eq!(refusals.len(), 1);
    assert!(
        refusals[0]["reason"]
            .as_str()
            .unwrap()
            .contains("production-site.conf")
    );
    let journal = Journal::open(&lab.path(".tejun/journal.db")).unwrap();
    let steps = journal
        .query(&Query {
            kind_prefix: Some("step."),
            ..Query::default()
        })
        .unwrap();
    assert!(steps.is_empty(), "no step may start: {steps:?}");
}

#[test]
fn a_backup_of_a_file_pinned_elsewhere_is_refused() {
    let lab = lab();
    lab.write("production-site.conf", "x");
    lab.book(
        "staging",
        "  - id: keep-copy\n    backup: production-site.conf\n",
    );
    lab.run_in("staging", &[])
        .code(2)
        .stderr(contains("keep-copy").and(contains("production")));
    assert!(!lab.marker_exists());
}

#[test]
fn a_protected_environment_needs_its_name_typed() {
    let lab = lab();
    lab.book("production", "");
    lab.run_in("production", &[])
        .code(2)
        .stderr(contains("protected environment").and(contains("--confirm-env")));
    assert!(!lab.marker_exists());
    lab.run_in("production", &["--confirm-env", "staging"])
        .code(2);
    assert!(!lab.marker_exists());
    lab.run_in("production", &["--confirm-env", "production"])
        .code(0);
    assert!(lab.marker_exists());
}

#[test]
fn a_destructive_step_in_a_protected_environment_needs_its_own_confirmation() {
    let lab = lab();
    lab.book("production", "    safety: destructive\n");
    lab.run_in("production", &["--confirm-env", "production"])
        .code(2)
        .stderr(contains("destructive step `touch-marker`"));
    assert!(!lab.marker_exists());
    lab.run_in(
        "production",
        &["--confirm-env", "production", "--confirm-destructive"],
    )
    .code(0);
    assert!(lab.marker_exists());
}

#[test]
fn refusals_are_in_japanese_with_lang_ja() {
    let lab = lab();
    lab.book("dev", "");
    lab.tejun()
        .args([
            "--lang",
            "ja",
            "run",
            "book.yaml",
            "--env",
            "staging",
            "--yes",
        ])
        .assert()
        .code(2)
        .stderr(contains("実行を拒否しました"));
}

#[test]
fn a_host_the_inventory_lists_under_another_environment_is_refused() {
    let lab = lab();
    lab.write(
        "book.yaml",
        &format!(
            "name: h\nenv: staging\nexecute:\n  - id: local\n    run: touch {}\n  - id: remote\n    run: ssh deploy@WEB-2 systemctl reload nginx\n",
            lab.path("marker").display()
        ),
    );
    lab.run_in("staging", &[]).code(2).stderr(
        contains("step `remote`")
            .and(contains("WEB-2"))
            .and(contains("`production`")),
    );
    assert!(!lab.marker_exists());
}
