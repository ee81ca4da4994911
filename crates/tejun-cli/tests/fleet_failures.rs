//! Hosts that cannot be reached, through the real binary: an unreachable
//! host, a changed host key and a failed login each refuse the run with a
//! message naming that host only (and the fix), nothing runs on any host,
//! and the journal of earlier runs still verifies. (The engine-level cases
//! are in fleet_ssh.rs; a host dying mid-step is in fleet_run.rs.)

mod common;
mod fleet;

use common::Lab;
use predicates::prelude::*;

fn lab(fleet: &fleet::Fleet) -> Lab {
    let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    let lab = Lab::with_inventory(&format!(
        "environments:\n  staging:\n    hosts: [{}]\n",
        names.join(", ")
    ))
    .with_timeout(std::time::Duration::from_secs(60));
    lab.write(
        "book.yaml",
        &format!(
            "name: f\nenv: [staging]\nhosts: '*'\nexecute:\n  - run: 'echo \"ran $TEJUN_HOST\" >> {}'\n",
            lab.path("markers").display()
        ),
    );
    lab
}

fn run(lab: &Lab, fleet: &fleet::Fleet) -> assert_cmd::assert::Assert {
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
}

/// A good run first (so the journal has something to lose), then the
/// broken host's refusal: `says` about `bad` only, nothing ran, the
/// journal still verifies.
fn refused_for(lab: &Lab, fleet: &fleet::Fleet, bad: &str, good: &str, says: &str) {
    let before = lab.markers();
    assert_eq!(
        before.len(),
        2,
        "the first run reached both hosts: {before:?}"
    );
    let out = run(lab, fleet)
        .code(2)
        .stderr(predicate::str::contains(says));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains(&format!("{bad}: ")), "{stderr}");
    assert!(!stderr.contains(&format!("{good}: ")), "{stderr}");
    assert!(stderr.contains("nothing ran"), "{stderr}");
    assert_eq!(lab.markers(), before, "something ran");
    lab.tejun().args(["audit", "verify"]).assert().code(0);
    assert_eq!(lab.events("run.ended").len(), 1);
}

#[test]
fn an_unreachable_host_refuses_the_run_naming_that_host() {
    let Some(mut fleet) = fleet::up("un", 2) else {
        return;
    };
    let lab = lab(&fleet);
    run(&lab, &fleet).code(0);
    fleet.kill_sshd("un-2");
    refused_for(&lab, &fleet, "un-2", "un-1", "un-2: cannot connect");
}

#[test]
fn a_changed_host_key_refuses_the_run_with_the_fix() {
    let Some(mut fleet) = fleet::up("hk", 2) else {
        return;
    };
    let lab = lab(&fleet);
    run(&lab, &fleet).code(0);
    fleet.change_host_key("hk-2");
    refused_for(&lab, &fleet, "hk-2", "hk-1", "ssh-keygen -R hk-2");
}

#[test]
fn a_failed_login_refuses_the_run_naming_that_host() {
    let Some(fleet) = fleet::up("au", 2) else {
        return;
    };
    let lab = lab(&fleet);
    run(&lab, &fleet).code(0);
    // au-2 is offered a key its sshd does not know.
    let stranger = lab.path("stranger");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(keygen.success());
    let config = std::fs::read_to_string(&fleet.ssh_config).unwrap();
    let (first, second) = config.split_at(config.find("Host au-2").unwrap());
    let second = second.replace(
        &fleet.key.display().to_string(),
        &stranger.display().to_string(),
    );
    std::fs::write(&fleet.ssh_config, format!("{first}{second}")).unwrap();
    refused_for(&lab, &fleet, "au-2", "au-1", "au-2: authentication failed");
}
