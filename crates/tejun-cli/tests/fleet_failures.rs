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

/// Kills everything of `netns` (its sshd, the sessions, the step), after
/// `after`; then, if `back_after`, starts its sshd again from its config.
fn die_mid_step(
    fleet: &fleet::Fleet,
    name: &str,
    after: std::time::Duration,
    back_after: Option<std::time::Duration>,
) -> std::thread::JoinHandle<()> {
    let netns = fleet.host(name).netns.clone();
    let config = fleet.dir.path().join(format!("sshd-{name}.conf"));
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ip netns pids {netns} | xargs -r kill -9"))
            .status();
        if let Some(back) = back_after {
            std::thread::sleep(back);
            // Daemonized in the namespace; the fleet's drop kills it.
            let _ = std::process::Command::new("ip")
                .args(["netns", "exec", &netns, "/usr/sbin/sshd", "-f"])
                .arg(&config)
                .status();
        }
    })
}

/// Three hosts change in one batch; two die while the step runs. The
/// step fails on those two with a clear per-host error (the connection
/// was lost and the outcome there is unknown, not ssh's raw words), the
/// rollout rolls back: the host that came back is rolled back over a new
/// connection, the one still dead fails its rollback clearly, and the
/// healthy host gets every rollback step all the same (exit 4).
#[test]
fn hosts_dying_mid_step_fail_with_an_unknown_outcome_and_the_rollback_reconnects_or_goes_on_without_them()
 {
    use std::time::Duration;
    let Some(fleet) = fleet::up("dm", 3) else {
        return;
    };
    let lab = lab(&fleet);
    let markers = lab.path("markers").display().to_string();
    lab.write(
        "book.yaml",
        &format!(
            "name: dies\nenv: [staging]\nhosts: '*'\n\
             execute:\n  - id: change\n    run: 'sleep 3; echo \"change $TEJUN_HOST\" >> {markers}'\n\
             rollback:\n  steps:\n    \
               - id: undo\n      run: 'echo \"undo $TEJUN_HOST\" >> {markers}'\n    \
               - id: reload\n      run: 'echo \"reload $TEJUN_HOST\" >> {markers}'\n",
        ),
    );
    let comes_back = die_mid_step(
        &fleet,
        "dm-2",
        Duration::from_millis(1000),
        Some(Duration::from_millis(300)),
    );
    let stays_dead = die_mid_step(&fleet, "dm-3", Duration::from_millis(1000), None);
    let out = run(&lab, &fleet).code(4);
    comes_back.join().unwrap();
    stays_dead.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();

    let finished = lab.events("step.finished");
    let change = finished.iter().find(|f| f["step_id"] == "change").unwrap();
    let hosts = change["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["ok"], true, "{hosts:?}");
    for host in &hosts[1..] {
        let name = host["host"].as_str().unwrap();
        assert_eq!(host["ok"], false, "{hosts:?}");
        assert_eq!(
            host["error"],
            format!(
                "connection to {name} lost mid-step: the step's outcome on {name} is unknown (it may have run in part, in full, or not at all)"
            ),
            "{hosts:?}"
        );
        assert!(host["exit_code"].is_null(), "{hosts:?}");
    }
    assert!(
        stdout.contains("connection to dm-2 lost mid-step"),
        "{stdout}"
    );

    // dm-2 answered again: rolled back over a new connection. dm-3 did
    // not: its rollback failed, named; dm-1 got both rollback steps.
    let mut got = lab.markers();
    got.sort();
    assert_eq!(
        got,
        [
            "change dm-1",
            "reload dm-1",
            "reload dm-2",
            "undo dm-1",
            "undo dm-2"
        ],
    );
    let undo = finished.iter().find(|f| f["step_id"] == "undo").unwrap();
    assert_eq!(undo["status"], "failed", "{undo}");
    let undo_hosts = undo["hosts"].as_array().unwrap();
    let dm3 = undo_hosts.iter().find(|h| h["host"] == "dm-3").unwrap();
    assert!(
        dm3["error"]
            .as_str()
            .unwrap()
            .contains("dm-3: cannot connect"),
        "{dm3}"
    );
    let reload = finished.iter().find(|f| f["step_id"] == "reload").unwrap();
    let reloaded: Vec<&str> = reload["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(reloaded, ["dm-1", "dm-2"]);
    assert_eq!(lab.events("run.ended")[0]["outcome"], "rollback-failed");
}

/// A rollback step `on: once` runs on one host for the whole fleet (a
/// load balancer, a database): when it fails it failed everywhere it ran,
/// so the rollback stops there as on one machine; the later steps must
/// not go on on the other hosts as if it had been rolled back.
#[test]
fn a_failing_on_once_rollback_step_stops_the_rollback() {
    let Some(fleet) = fleet::up("ro", 2) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: f\nenv: [staging]\nhosts: '*'\n\
             execute:\n  - run: 'exit 1'\n\
             rollback:\n  steps:\n    - id: switch-back\n      run: 'exit 1'\n      on: once\n    \
             - id: undo\n      run: 'echo \"undo $TEJUN_HOST\" >> {}'\n",
            lab.path("markers").display()
        ),
    );
    run(&lab, &fleet).code(4);
    assert_eq!(lab.markers(), Vec::<String>::new());
    assert!(
        !lab.events("step.started")
            .iter()
            .any(|s| s["step_id"] == "undo"),
        "the rollback went on past a failed on: once step"
    );
}
