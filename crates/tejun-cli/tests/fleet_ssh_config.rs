//! `ssh_config:` in the inventory: per environment, else at the top level,
//! read relative to the inventory, overridden by `TEJUN_SSH_CONFIG`; a
//! named file that is missing refuses the run before any connection.

mod common;
mod fleet;

use common::Lab;
use predicates::prelude::*;

fn book(lab: &Lab) {
    lab.write(
        "book.yaml",
        &format!(
            "name: c\nenv: [staging]\nhosts: '*'\nexecute:\n  - run: 'echo \"ran $TEJUN_HOST\" >> {}'\n",
            lab.path("markers").display()
        ),
    );
}

fn run(lab: &Lab) -> assert_cmd::assert::Assert {
    lab.tejun()
        .env_remove("TEJUN_SSH_CONFIG")
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
}

#[test]
fn an_environments_ssh_config_is_used_before_the_top_level_one() {
    let Some(fleet) = fleet::up("sc", 1) else {
        return;
    };
    // The top level points every host at a ProxyCommand that leaves a mark.
    let lab = Lab::with_inventory(
        "ssh_config: conf/elsewhere\nenvironments:\n  staging:\n    ssh_config: conf/staging\n    hosts: [sc-1]\n",
    );
    std::fs::create_dir_all(lab.path("conf")).unwrap();
    std::fs::copy(&fleet.ssh_config, lab.path("conf/staging")).unwrap();
    lab.write(
        "conf/elsewhere",
        &format!(
            "Host *\n  ProxyCommand sh -c 'echo %h >> {}; exit 1'\n",
            lab.path("contacted").display()
        ),
    );
    book(&lab);
    run(&lab).code(0);
    assert_eq!(lab.markers(), ["ran sc-1"]);
    assert!(!lab.path("contacted").exists());

    // Without the environment's own, the top-level one applies.
    lab.write(
        "tejun.yaml",
        "ssh_config: conf/elsewhere\nenvironments:\n  staging:\n    hosts: [sc-1]\n",
    );
    run(&lab).code(2);
    assert_eq!(
        std::fs::read_to_string(lab.path("contacted"))
            .unwrap()
            .trim(),
        "sc-1"
    );
    // TEJUN_SSH_CONFIG overrides the inventory.
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(0);
}

#[test]
fn a_missing_ssh_config_refuses_the_run_before_any_connection() {
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    ssh_config: nowhere/config\n    hosts: [web-1]\n",
    );
    book(&lab);
    run(&lab)
        .code(2)
        .stderr(predicate::str::contains(
            "the inventory's ssh_config `nowhere/config`",
        ))
        .stderr(predicate::str::contains("nothing was contacted"));
    lab.tejun().args(["check", "tejun.yaml"]).assert().code(0);
}
