//! `tejun run` with `hosts:` on the namespace test fleet: steps run on the
//! inventory's hosts over ssh, `on:` places them, rollouts go batch by
//! batch and roll back the hosts that changed, and a run can never reach a
//! host of another environment. (The hosts share this machine's file
//! system, so a step on a host appends to the lab's `markers` file.)

mod common;
mod fleet;

use common::Lab;
use predicates::prelude::*;

/// A lab whose inventory puts `hosts` (name → zone) in `staging`, all in
/// group `web`, and `prod-1` in `production`.
fn lab(fleet: &fleet::Fleet) -> Lab {
    let mut hosts = String::new();
    for (i, h) in fleet.hosts.iter().enumerate() {
        let zone = if i % 2 == 0 { "a" } else { "b" };
        hosts.push_str(&format!("      {}: {{zone: {zone}}}\n", h.name));
    }
    let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    Lab::with_inventory(&format!(
        "environments:\n  staging:\n    hosts:\n{hosts}    groups:\n      web: [{}]\n  production:\n    protected: true\n    hosts: [prod-1]\n",
        names.join(", ")
    ))
    .with_timeout(std::time::Duration::from_secs(60))
}

fn run(lab: &Lab, fleet: &fleet::Fleet, extra: &[&str]) -> assert_cmd::assert::Assert {
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .args(extra)
        .assert()
}

fn mark(lab: &Lab, what: &str) -> String {
    format!(
        "echo \"{what} $TEJUN_HOST\" >> {}",
        lab.path("markers").display()
    )
}

#[test]
fn each_step_runs_on_every_host_with_its_host_vars_once_and_local_where_asked() {
    let Some(fleet) = fleet::up("w", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: fleet\nenv: [staging]\nhosts: web\nexecute:\n  \
             - run: 'echo \"zone=$TEJUN_HOST_ZONE\"; ip -4 -o addr show eth0'\n  \
             - run: '{once}'\n    on: once\n  \
             - run: 'echo \"local ${{TEJUN_HOST:-controller}}\" >> {markers}'\n    on: local\n",
            once = mark(&lab, "once"),
            markers = lab.path("markers").display()
        ),
    );
    run(&lab, &fleet, &[]).code(0);
    let finished = lab.events("step.finished");
    let hosts: Vec<String> = finished[0]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(hosts, ["w-1", "w-2", "w-3"]);
    let stdout = finished[0]["stdout_tail"].as_str().unwrap();
    for (i, h) in fleet.hosts.iter().enumerate() {
        let zone = if i % 2 == 0 { "a" } else { "b" };
        assert!(
            stdout.contains(&format!("[{}] zone={zone}", h.name)),
            "{stdout}"
        );
        // It really ran inside that host's namespace.
        assert!(stdout.contains(&h.addr), "{stdout}");
    }
    assert_eq!(lab.markers(), ["once w-1", "local controller"]);
}

#[test]
fn limit_narrows_the_hosts_and_an_unknown_name_is_refused() {
    let Some(fleet) = fleet::up("l", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: fleet\nenv: [staging]\nhosts: web\nexecute:\n  - run: '{}'\n",
            mark(&lab, "x")
        ),
    );
    run(&lab, &fleet, &["--limit", "l-3,l-1"]).code(0);
    // The hosts run in parallel: compare as sets.
    let mut markers = lab.markers();
    markers.sort();
    assert_eq!(markers, ["x l-1", "x l-3"]);
    run(&lab, &fleet, &["--limit", "l-9"])
        .code(2)
        .stderr(predicate::str::contains(
            "`l-9` is neither a host nor a group",
        ));
}

#[test]
fn a_failing_canary_rolls_back_only_the_canary_and_the_other_hosts_are_never_touched() {
    let Some(fleet) = fleet::up("c", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: canary\nenv: [staging]\nhosts: web\nrollout:\n  serial: [1, 100%]\n\
             execute:\n  - run: '{change} && [ \"$TEJUN_HOST\" != c-1 ]'\n\
             rollback:\n  steps:\n    - run: '{undo}'\n\
             exit:\n  - run: '{exit}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
            exit = mark(&lab, "exit"),
        ),
    );
    run(&lab, &fleet, &[]).code(3);
    let markers = lab.markers();
    assert_eq!(&markers[..2], ["change c-1", "undo c-1"], "{markers:?}");
    let mut exits = markers[2..].to_vec();
    exits.sort();
    assert_eq!(exits, ["exit c-1", "exit c-2", "exit c-3"], "{markers:?}");
}

#[test]
fn a_failing_second_batch_rolls_back_every_host_that_changed() {
    let Some(fleet) = fleet::up("b", 4) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: batches\nenv: [staging]\nhosts: web\nrollout:\n  serial: [1, 1, 100%]\n\
             execute:\n  - run: '{change} && [ \"$TEJUN_HOST\" != b-2 ]'\n\
             rollback:\n  steps:\n    - run: '{undo}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
        ),
    );
    run(&lab, &fleet, &[]).code(3);
    let markers = lab.markers();
    assert_eq!(&markers[..2], ["change b-1", "change b-2"], "{markers:?}");
    let mut undone = markers[2..].to_vec();
    undone.sort();
    // b-3 and b-4 were never changed, so never rolled back.
    assert_eq!(undone, ["undo b-1", "undo b-2"], "{markers:?}");
    // `tejun show` has a row per host that ran something.
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = common::stdout(lab.tejun().args(["show", &run_id]));
    let row = |host: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(host))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row("b-1").contains("execute/execute-1 rollback/rollback-1"),
        "{shown}"
    );
    assert!(row("b-2").contains("execute/execute-1✗"), "{shown}");
    assert!(row("b-3").is_empty(), "{shown}");
}

#[test]
fn an_unknown_host_key_refuses_the_run_before_any_step() {
    let Some(fleet) = fleet::up("k", 2) else {
        return;
    };
    std::fs::write(
        &fleet.known_hosts,
        fleet::keyscan_line(&fleet.hosts[0].addr),
    )
    .unwrap();
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: keys\nenv: [staging]\nhosts: web\nexecute:\n  - run: '{}'\n",
            mark(&lab, "x")
        ),
    );
    run(&lab, &fleet, &[])
        .code(2)
        .stderr(predicate::str::contains(
            "k-2: refused: its host key is not in known_hosts",
        ))
        .stderr(predicate::str::contains("ssh-keyscan k-2"));
    assert!(lab.markers().is_empty());
}

#[test]
fn a_paused_fleet_run_is_resumed_and_rolled_back_on_its_hosts_not_here() {
    let Some(fleet) = fleet::up("p", 1) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: pause\nenv: [staging]\nhosts: web\nexecute:\n  - run: '{}'\n  - confirm: go on?\n\
             rollback:\n  steps:\n    - run: '{} && ip -4 -o addr show eth0 >> {}'\n",
            mark(&lab, "change"),
            mark(&lab, "undo"),
            lab.path("markers").display()
        ),
    );
    run(&lab, &fleet, &[]).code(5);
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Still no one to answer: paused again, nothing ran anew.
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["resume", &run_id, "--yes"])
        .assert()
        .code(5);
    assert_eq!(lab.markers(), ["change p-1"]);
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["rollback", &run_id, "--yes"])
        .assert()
        .code(3);
    let markers = lab.markers();
    assert_eq!(markers.len(), 3, "{markers:?}");
    assert_eq!(markers[1], "undo p-1");
    // The rollback ran on the host, inside its namespace.
    assert!(markers[2].contains(&fleet.host("p-1").addr), "{markers:?}");
}

#[test]
fn a_remote_backup_is_fetched_with_its_hash_and_restored_byte_for_byte() {
    let Some(fleet) = fleet::up("r", 1) else {
        return;
    };
    let lab = lab(&fleet);
    let original: Vec<u8> = (0u8..=255).chain(b"weight=1\n".iter().copied()).collect();
    std::fs::write(lab.path("site.conf"), &original).unwrap();
    let conf = lab.path("site.conf").display().to_string();
    lab.write(
        "book.yaml",
        &format!(
            "name: files\nenv: [staging]\nhosts: web\n\
             pre:\n  - id: save\n    backup: {conf}\n\
             execute:\n  - run: 'echo broken > {conf}; false'\n\
             rollback:\n  steps:\n    - restore: save\n"
        ),
    );
    run(&lab, &fleet, &[]).code(3);
    assert_eq!(std::fs::read(lab.path("site.conf")).unwrap(), original);
    let finished = lab.events("step.finished");
    let backup = &finished[0]["files"][0];
    assert_eq!(backup["path"], format!("r-1:{conf}"));
    std::fs::write(lab.path("original"), &original).unwrap();
    let sum = std::process::Command::new("sha256sum")
        .arg(lab.path("original"))
        .output()
        .unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(backup["sha256"], sum);
    let restore = finished
        .iter()
        .find(|f| f["step_id"] == "rollback-1")
        .unwrap();
    assert_eq!(restore["status"], "ok", "{restore}");
    assert_eq!(restore["files"][0]["sha256"], backup["sha256"]);
}

#[test]
fn a_host_that_dies_mid_step_fails_that_host_and_the_journal_keeps_both_results() {
    let Some(fleet) = fleet::up("d", 2) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        "name: dies\nenv: [staging]\nhosts: web\nexecute:\n  - run: 'sleep 2; echo done'\n",
    );
    let netns = fleet.host("d-2").netns.clone();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1000));
        // Everything in the host's namespace: its sshd, the session, the step.
        let _ = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ip netns pids {netns} | xargs -r kill -9"))
            .status();
    });
    run(&lab, &fleet, &[]).code(1);
    killer.join().unwrap();
    let finished = lab.events("step.finished");
    let hosts = finished[0]["hosts"].as_array().unwrap();
    assert_eq!(hosts[0]["host"], "d-1");
    assert_eq!(hosts[0]["ok"], true, "{hosts:?}");
    assert_eq!(hosts[1]["host"], "d-2");
    assert_eq!(hosts[1]["ok"], false, "{hosts:?}");
    assert_eq!(lab.events("run.ended")[0]["outcome"], "failed");
}

#[test]
fn an_auth_failure_and_an_unreachable_host_each_refuse_with_the_host_named() {
    let Some(mut fleet) = fleet::up("u", 2) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: u\nenv: [staging]\nhosts: web\nexecute:\n  - run: '{}'\n",
            mark(&lab, "x")
        ),
    );
    fleet.kill_sshd("u-2");
    run(&lab, &fleet, &[])
        .code(2)
        .stderr(predicate::str::contains("u-2: cannot connect"))
        .stderr(predicate::str::contains("nothing ran"));
    std::fs::write(fleet.dir.path().join("authorized_keys"), "").unwrap();
    run(&lab, &fleet, &["--limit", "u-1"])
        .code(2)
        .stderr(predicate::str::contains("u-1: authentication failed"));
    assert!(lab.markers().is_empty());
}

#[test]
fn max_fail_percentage_tolerates_a_failing_host_in_a_batch_but_never_in_rollback_or_exit() {
    let Some(fleet) = fleet::up("tol", 2) else {
        return;
    };
    let lab = lab(&fleet);
    // Execute fails on every host (beyond the tolerance); one host's
    // rollback step fails: the run is rollback-failed, not rolled back.
    lab.write(
        "book.yaml",
        "name: tol\nenv: [staging]\nhosts: web\nrollout:\n  max_fail_percentage: 50\n\
         execute:\n  - run: 'false'\n\
         rollback:\n  steps:\n    - run: '[ \"$TEJUN_HOST\" != tol-1 ]'\n",
    );
    run(&lab, &fleet, &[]).code(4);
    assert_eq!(lab.events("run.ended")[0]["outcome"], "rollback-failed");
    // A batch step failing on one host of two is within the tolerance; an
    // exit step failing on one host leaves the run uncleanly.
    lab.write(
        "book.yaml",
        "name: tol\nenv: [staging]\nhosts: web\nrollout:\n  max_fail_percentage: 50\n\
         execute:\n  - run: '[ \"$TEJUN_HOST\" != tol-2 ]'\n\
         exit:\n  - run: '[ \"$TEJUN_HOST\" != tol-1 ]'\n",
    );
    run(&lab, &fleet, &[]).code(4);
    let ended = lab.events("run.ended");
    assert_eq!(ended[1]["exit_phase"]["ok"], false, "{ended:?}");
}

#[test]
fn a_cmd_probe_of_a_fleet_run_runs_once_on_the_controller() {
    let Some(fleet) = fleet::up("prb", 2) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: prb\nenv: [staging]\nhosts: web\n\
             probes:\n  here:\n    cmd: 'echo \"probe ${{TEJUN_HOST:-controller}}\" >> {markers}'\n\
             execute:\n  - run: 'true'\n\
             post:\n  - id: checked\n    probe: here\n",
            markers = lab.path("markers").display()
        ),
    );
    run(&lab, &fleet, &[]).code(0);
    assert_eq!(lab.markers(), ["probe controller"]);
}
