//! A staging run can never reach a production host, however the runbook
//! or `--limit` writes it: refused before any connection is opened. The
//! ssh_config here makes any connection attempt leave a mark, so "no
//! connection" is observed, not assumed (and no root is needed).

mod common;

use common::Lab;
use predicates::prelude::*;

const INVENTORY: &str = "environments:
  staging:
    hosts:
      stg-1: {zone: a}
      shared-1: {}
    groups:
      web: [stg-1]
  production:
    protected: true
    hosts: [prod-1, PROD-2.example.com, shared-1]
";

fn lab() -> Lab {
    let lab = Lab::with_inventory(INVENTORY);
    lab.write(
        "ssh_config",
        &format!(
            "Host *\n  ProxyCommand sh -c 'echo connected >> {}; exit 1'\n",
            lab.path("connections").display()
        ),
    );
    lab
}

fn refused(lab: &Lab, hosts: &str, limit: Option<&str>, says: &str) {
    lab.write(
        "book.yaml",
        &format!("name: g\nenv: [staging]\nhosts: {hosts}\nexecute:\n  - run: 'true'\n"),
    );
    let mut cmd = lab.tejun();
    cmd.env("TEJUN_SSH_CONFIG", lab.path("ssh_config")).args([
        "run",
        "book.yaml",
        "--env",
        "staging",
        "--yes",
    ]);
    if let Some(limit) = limit {
        cmd.args(["--limit", limit]);
    }
    cmd.assert().code(2).stderr(predicate::str::contains(says));
    assert!(
        !lab.path("connections").exists(),
        "a connection was attempted for hosts: {hosts}"
    );
}

#[test]
fn a_staging_runbook_naming_a_production_host_is_refused_before_any_connection() {
    let lab = lab();
    refused(
        &lab,
        "prod-1",
        None,
        "`prod-1` is a host of environment `production`, not `staging`",
    );
    refused(
        &lab,
        "prod-2.EXAMPLE.com.",
        None,
        "is a host of environment `production`",
    );
    refused(
        &lab,
        "prod-*",
        None,
        "neither a host nor a group of environment `staging`",
    );
}

#[test]
fn limit_cannot_add_a_production_host() {
    refused(
        &lab(),
        "web",
        Some("prod-1"),
        "`prod-1` is a host of environment `production`",
    );
}

#[test]
fn a_host_listed_in_two_environments_is_refused() {
    refused(
        &lab(),
        "shared-1",
        None,
        "host `shared-1` is also listed under environment `production`",
    );
}

#[test]
fn a_host_pattern_that_reaches_a_staging_host_connects_only_there() {
    // The positive control: the same setup does try to connect for a
    // staging host (and fails, since the proxy refuses).
    let lab = lab();
    lab.write(
        "book.yaml",
        "name: g\nenv: [staging]\nhosts: 'stg-*'\nexecute:\n  - run: 'true'\n",
    );
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", lab.path("ssh_config"))
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("stg-1: cannot connect"));
    assert!(lab.path("connections").exists());
}
