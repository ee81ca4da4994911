//! Rollout semantics on the namespace test fleet: a health gate and `bake`
//! between batches, triggers tied to batches, `rollout.rollback: batch`,
//! `on: once` once per run, the journal keyed per batch, per-host resume
//! and rollback of a fleet run, and unreachable hosts counted against
//! `max_fail_percentage`. (The hosts share this machine's file system, so
//! a step on a host appends to the lab's `markers` file; cmd probes run on
//! the controller and append there too.)

mod common;
mod fleet;

use std::time::{Duration, Instant};

use common::Lab;
use predicates::prelude::*;

/// A lab whose inventory puts the fleet's hosts in `staging`, group `web`.
fn lab(fleet: &fleet::Fleet) -> Lab {
    let hosts: String = fleet
        .hosts
        .iter()
        .map(|h| format!("      {}: {{}}\n", h.name))
        .collect();
    let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    Lab::with_inventory(&format!(
        "environments:\n  staging:\n    hosts:\n{hosts}    groups:\n      web: [{}]\n",
        names.join(", ")
    ))
    .with_timeout(Duration::from_secs(90))
}

fn tejun(lab: &Lab, fleet: &fleet::Fleet) -> assert_cmd::Command {
    let mut cmd = lab.tejun();
    cmd.env("TEJUN_SSH_CONFIG", &fleet.ssh_config);
    cmd
}

fn run(lab: &Lab, fleet: &fleet::Fleet) -> assert_cmd::assert::Assert {
    tejun(lab, fleet)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
}

/// A shell command appending `WHAT $TEJUN_HOST` to the markers.
fn mark(lab: &Lab, what: &str) -> String {
    format!(
        "echo \"{what} $TEJUN_HOST\" >> {}",
        lab.path("markers").display()
    )
}

fn run_id(lab: &Lab) -> String {
    lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sorted(mut lines: Vec<String>) -> Vec<String> {
    lines.sort();
    lines
}

#[test]
fn each_batch_bakes_with_its_gate_holding_before_the_next_batch_starts() {
    let Some(fleet) = fleet::up("bk", 3) else {
        return;
    };
    let lab = lab(&fleet);
    let markers = lab.path("markers").display().to_string();
    lab.write(
        "book.yaml",
        &format!(
            "name: bake\nenv: [staging]\nhosts: web\n\
             rollout: {{serial: [1, 100%], bake: 1s, gate: [health]}}\n\
             probes:\n  health:\n    cmd: 'echo gate >> {markers}'\n    interval: 300ms\n\
             execute:\n  - run: '{}'\n",
            mark(&lab, "change")
        ),
    );
    let started = Instant::now();
    run(&lab, &fleet).code(0);
    // Two bakes of at least a second each.
    assert!(started.elapsed() >= Duration::from_secs(2));
    let markers = lab.markers();
    let gates_before_batch_two = markers
        .iter()
        .take_while(|m| !m.starts_with("change bk-2") && !m.starts_with("change bk-3"))
        .filter(|m| *m == "gate")
        .count();
    assert_eq!(markers[0], "change bk-1", "{markers:?}");
    // Sampled every 300ms through a 1s bake: at least 4 samples, all
    // before the second batch began.
    assert!(gates_before_batch_two >= 4, "{markers:?}");
    let gates = lab.events("batch.gate");
    assert_eq!(gates.len(), 2, "{gates:?}");
    assert_eq!(gates[0]["batch"], 1);
    assert_eq!(gates[0]["hosts"], serde_json::json!(["bk-1"]));
    assert_eq!(gates[0]["ok"], true);
    assert!(
        gates[0]["watched_ms"].as_u64().unwrap() >= 1000,
        "{gates:?}"
    );
    assert_eq!(gates[1]["hosts"], serde_json::json!(["bk-2", "bk-3"]));
}

#[test]
fn a_gate_probe_failing_in_the_canary_bake_rolls_back_the_canary_only() {
    let Some(fleet) = fleet::up("gt", 3) else {
        return;
    };
    let lab = lab(&fleet);
    let broken = lab.path("broken").display().to_string();
    lab.write(
        "book.yaml",
        &format!(
            "name: gate\nenv: [staging]\nhosts: web\n\
             rollout: {{serial: [1, 100%], bake: 30s, gate: [health]}}\n\
             probes:\n  health:\n    cmd: 'test ! -e {broken}'\n    interval: 200ms\n\
             execute:\n  - run: '{change}; sleep 0.5; touch {broken}'\n\
             rollback:\n  steps:\n    - run: '{undo}; rm -f {broken}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
        ),
    );
    let started = Instant::now();
    run(&lab, &fleet).code(3);
    // The gate failed at its first unhealthy sample, not after the bake.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(lab.markers(), ["change gt-1", "undo gt-1"]);
    let gate = &lab.events("batch.gate")[0];
    assert_eq!(gate["batch"], 1);
    assert_eq!(gate["ok"], false);
    assert_eq!(gate["failed_probe"], "health");
    assert_eq!(gate["failed_sample"]["ok"], false);
    assert_eq!(gate["failed_sample"]["value"], 1.0, "{gate}");
    let rollback = &lab.events("rollback.started")[0];
    assert!(
        rollback["reason"]
            .as_str()
            .unwrap()
            .starts_with("health-gate: probe `health` unhealthy"),
        "{rollback}"
    );
    assert_eq!(rollback["batch"], 1);
    assert_eq!(rollback["hosts"], serde_json::json!(["gt-1"]));
}

#[test]
fn a_trigger_firing_during_a_bake_rolls_back_and_journals_its_batch() {
    let Some(fleet) = fleet::up("tb", 3) else {
        return;
    };
    let lab = lab(&fleet);
    let broken = lab.path("broken").display().to_string();
    // The canary's change breaks the service only once its steps are
    // done: the trigger fires in the bake, not during a step.
    lab.write(
        "book.yaml",
        &format!(
            "name: trig\nenv: [staging]\nhosts: web\n\
             rollout: {{serial: [1, 100%], bake: 30s}}\n\
             probes:\n  health:\n    cmd: 'test ! -e {broken}'\n    interval: 200ms\n\
             triggers:\n  - failing(health) >= 2\n\
             execute:\n  - run: '{change}; (sleep 1; touch {broken}) >/dev/null 2>&1 &'\n\
             rollback:\n  steps:\n    - run: '{undo}; rm -f {broken}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
        ),
    );
    let started = Instant::now();
    run(&lab, &fleet).code(3);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(lab.markers(), ["change tb-1", "undo tb-1"]);
    let fired = &lab.events("trigger.fired")[0];
    assert_eq!(fired["trigger"], "failing(health) >= 2");
    assert_eq!(fired["batch"], 1, "{fired}");
    assert!(fired["value"].as_f64().unwrap() >= 2.0, "{fired}");
    let gate = &lab.events("batch.gate")[0];
    assert_eq!(gate["ok"], false);
    assert_eq!(gate["stopped_by"], "trigger");
    let rollback = &lab.events("rollback.started")[0];
    assert_eq!(rollback["reason"], "trigger");
    assert_eq!(rollback["batch"], 1);
}

#[test]
fn rollback_batch_rolls_back_only_the_failed_batch() {
    let Some(fleet) = fleet::up("rb", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: scope\nenv: [staging]\nhosts: web\n\
             rollout: {{serial: [1, 1, 100%], rollback: batch}}\n\
             execute:\n  - run: '{change} && [ \"$TEJUN_HOST\" != rb-2 ]'\n\
             rollback:\n  steps:\n    - run: '{undo}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
        ),
    );
    run(&lab, &fleet).code(3);
    // rb-1 passed its batch and keeps the change; rb-3 was never touched.
    assert_eq!(lab.markers(), ["change rb-1", "change rb-2", "undo rb-2"]);
    assert_eq!(
        lab.events("rollback.started")[0]["hosts"],
        serde_json::json!(["rb-2"])
    );
}

#[test]
fn each_batch_journals_its_own_steps_and_on_once_runs_once_per_run() {
    let Some(fleet) = fleet::up("ks", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: keys\nenv: [staging]\nhosts: web\nrollout: {{serial: [1]}}\n\
             execute:\n  - id: announce\n    run: '{once}'\n    on: once\n  \
             - id: change\n    run: '{change}'\n",
            once = mark(&lab, "once"),
            change = mark(&lab, "change"),
        ),
    );
    run(&lab, &fleet).code(0);
    assert_eq!(
        lab.markers(),
        ["once ks-1", "change ks-1", "change ks-2", "change ks-3"]
    );
    let finished = lab.events("step.finished");
    let keys: Vec<(String, u64)> = finished
        .iter()
        .map(|f| {
            (
                f["step_id"].as_str().unwrap().to_string(),
                f["batch"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("announce".to_string(), 1),
            ("change".to_string(), 1),
            ("change".to_string(), 2),
            ("change".to_string(), 3)
        ]
    );
    let fleet_started = &lab.events("fleet.started")[0];
    assert_eq!(
        fleet_started["batches"],
        serde_json::json!([["ks-1"], ["ks-2"], ["ks-3"]])
    );
}

/// A rollout that crashed after its canary's first step (the second's
/// start durable, its command not spawned): resume finishes each host
/// exactly where it stopped, every step once per host.
#[test]
fn a_crashed_rollout_resumes_each_host_where_it_stopped() {
    let Some(fleet) = fleet::up("rs", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: resume\nenv: [staging]\nhosts: web\nrollout: {{serial: [1, 100%]}}\n\
             pre:\n  - id: look\n    run: '{look}'\n\
             execute:\n  - id: one\n    run: '{one}'\n  - id: two\n    run: '{two}'\n",
            look = mark(&lab, "look"),
            one = mark(&lab, "one"),
            two = mark(&lab, "two"),
        ),
    );
    tejun(&lab, &fleet)
        .env("TEJUN_CRASH_AT", "after-finish:one")
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .failure();
    let before = sorted(lab.markers());
    assert_eq!(before, ["look rs-1", "look rs-2", "look rs-3", "one rs-1"]);
    let id = run_id(&lab);
    tejun(&lab, &fleet)
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(0);
    let after = lab.markers()[4..].to_vec();
    assert_eq!(after[0], "two rs-1", "{after:?}");
    assert_eq!(
        sorted(after[1..].to_vec()),
        ["one rs-2", "one rs-3", "two rs-2", "two rs-3"]
    );
    assert_eq!(lab.events("run.ended")[0]["outcome"], "succeeded");
}

/// tejun dies while a step runs on two hosts, one done, one still busy:
/// the done host's end is journaled at once (`host.finished`); resume
/// first stops the command the crash left running on the busy host, then
/// runs the step again only there.
#[test]
fn a_step_interrupted_mid_batch_runs_again_only_on_the_hosts_that_had_not_finished() {
    let Some(fleet) = fleet::up("mh", 2) else {
        return;
    };
    let lab = lab(&fleet);
    let go = lab.path("go").display().to_string();
    lab.write(
        "book.yaml",
        &format!(
            "name: mid\nenv: [staging]\nhosts: web\n\
             execute:\n  - id: change\n    run: 'if [ \"$TEJUN_HOST\" = mh-2 ] && [ ! -e {go} ]; then sleep 61; exit 1; fi; {change}'\n",
            change = mark(&lab, "change"),
        ),
    );
    let mut child = lab
        .background()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    // mh-1 done and journaled, mh-2 busy.
    while lab.events("host.finished").is_empty()
        || !common::process_outlives("sleep 61", Duration::ZERO)
    {
        assert!(Instant::now() < deadline, "mh-1 never finished");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = lab.events("host.finished");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["host"], "mh-1");
    assert_eq!(done[0]["ok"], true);
    assert_eq!(lab.markers(), ["change mh-1"]);
    // The busy host's command outlived tejun.
    assert!(common::process_outlives("sleep 61", Duration::ZERO));
    std::fs::write(&go, "").unwrap();
    let id = run_id(&lab);
    tejun(&lab, &fleet)
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(0);
    // mh-1 was not changed twice; the leftover on mh-2 is gone.
    assert_eq!(lab.markers(), ["change mh-1", "change mh-2"]);
    assert!(!common::process_outlives(
        "sleep 61",
        Duration::from_secs(2)
    ));
    let finished = lab.events("step.finished");
    let hosts: Vec<(String, bool)> = finished[0]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["host"].as_str().unwrap().to_string(), h["ok"] == true))
        .collect();
    assert_eq!(
        hosts,
        [("mh-1".to_string(), true), ("mh-2".to_string(), true)]
    );
    assert_eq!(finished[0]["attempt"], 2);
}

/// `tejun rollback RUN` of a rollout that stopped in its canary rolls
/// back the canary and nothing else, on the host, not here.
#[test]
fn rollback_of_a_fleet_run_rolls_back_exactly_the_hosts_that_changed() {
    let Some(fleet) = fleet::up("rr", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: rollback\nenv: [staging]\nhosts: web\nrollout: {{serial: [1, 100%]}}\n\
             execute:\n  - id: change\n    run: '{change}'\n  - confirm: canary looks right?\n\
             rollback:\n  steps:\n    - run: '{undo} && ip -4 -o addr show eth0 >> {markers}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
            markers = lab.path("markers").display(),
        ),
    );
    // The confirm has no `auto:`: a non-interactive run pauses there.
    run(&lab, &fleet).code(5);
    let id = run_id(&lab);
    tejun(&lab, &fleet)
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(3);
    let markers = lab.markers();
    assert_eq!(&markers[..2], ["change rr-1", "undo rr-1"], "{markers:?}");
    // It ran in the canary's own namespace.
    assert!(markers[2].contains(&fleet.host("rr-1").addr), "{markers:?}");
    assert_eq!(markers.len(), 3, "{markers:?}");
    assert_eq!(
        lab.events("rollback.started")[0]["hosts"],
        serde_json::json!(["rr-1"])
    );
    // `show` keeps its per-host table.
    let shown = common::stdout(lab.tejun().args(["show", &id]));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("rr-1") && l.contains("rollback/rollback-1")),
        "{shown}"
    );
}

#[test]
fn an_unreachable_host_counts_against_max_fail_percentage_in_its_batch() {
    let Some(mut fleet) = fleet::up("ur", 4) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: down\nenv: [staging]\nhosts: web\n\
             rollout: {{serial: [1, 100%], max_fail_percentage: 34}}\n\
             pre:\n  - run: '{look}'\n\
             execute:\n  - run: '{change}'\n",
            look = mark(&lab, "look"),
            change = mark(&lab, "change"),
        ),
    );
    fleet.kill_sshd("ur-3");
    run(&lab, &fleet)
        .code(0)
        .stderr(predicate::str::contains("ur-3: cannot connect"))
        .stderr(predicate::str::contains("counts as failed in its batch"));
    let markers = sorted(lab.markers());
    assert_eq!(
        markers,
        [
            "change ur-1",
            "change ur-2",
            "change ur-4",
            "look ur-1",
            "look ur-2",
            "look ur-4"
        ]
    );
    let finished = lab.events("step.finished");
    let batch_two = finished.iter().find(|f| f["batch"] == 2).unwrap();
    let down = batch_two["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == "ur-3")
        .unwrap();
    assert_eq!(down["ok"], false);
    assert!(
        down["error"].as_str().unwrap().contains("unreachable"),
        "{down}"
    );
    assert_eq!(
        lab.events("fleet.started")[0]["unreachable"][0]["host"],
        "ur-3"
    );
    // Beyond the percentage the run is refused before anything runs.
    std::fs::remove_file(lab.path("markers")).unwrap();
    lab.write(
        "book.yaml",
        &format!(
            "name: down\nenv: [staging]\nhosts: web\nrollout: {{serial: [1, 100%]}}\n\
             execute:\n  - run: '{}'\n",
            mark(&lab, "change")
        ),
    );
    run(&lab, &fleet).code(2).stderr(predicate::str::contains(
        "1 of the 3 hosts of batch 2 cannot be reached",
    ));
    assert!(lab.markers().is_empty());
}

#[test]
fn a_remote_backup_that_hangs_times_out_with_the_step() {
    let Some(fleet) = fleet::up("hb", 1) else {
        return;
    };
    let lab = lab(&fleet);
    std::fs::write(lab.path("site.conf"), "x\n").unwrap();
    let netns = fleet.host("hb-1").netns.clone();
    // The host freezes (every process of its namespace stopped) after the
    // connection is up: the fetch would wait forever.
    lab.write(
        "book.yaml",
        &format!(
            "name: hang\nenv: [staging]\nhosts: web\n\
             pre:\n  - run: 'ip netns pids {netns} | xargs -r kill -STOP'\n    on: local\n  \
             - id: save\n    backup: {}\n    timeout: 2s\n",
            lab.path("site.conf").display()
        ),
    );
    let started = Instant::now();
    run(&lab, &fleet).code(1);
    assert!(started.elapsed() < Duration::from_secs(30));
    let finished = lab.events("step.finished");
    let save = finished.iter().find(|f| f["step_id"] == "save").unwrap();
    assert_eq!(save["status"], "failed");
    assert!(
        save["error"]
            .as_str()
            .unwrap()
            .contains("timed out after 2s"),
        "{save}"
    );
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ip netns pids {netns} | xargs -r kill -CONT"))
        .status();
}

#[test]
fn a_bad_bake_gate_or_rollback_scope_is_refused_at_its_place() {
    let lab = Lab::with_inventory("environments:\n  staging:\n    hosts: [a]\n");
    lab.write(
        "book.yaml",
        "name: x\nenv: [staging]\nhosts: a\n\
         rollout: {bake: 10, gate: [helth], rollback: some}\n\
         probes:\n  health:\n    cmd: 'true'\n\
         execute:\n  - run: 'true'\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "book.yaml:4:17: error: invalid duration `10`",
        ))
        .stderr(predicate::str::contains(
            "book.yaml:4:28: error: no probe named `helth` under `probes:` (did you mean `health`?)",
        ))
        .stderr(predicate::str::contains(
            "book.yaml:4:46: error: invalid `rollback` value `some`: use one of all, batch",
        ));
}

#[test]
fn an_abort_stops_a_remote_backup_that_hangs() {
    let Some(fleet) = fleet::up("ha", 1) else {
        return;
    };
    let lab = lab(&fleet);
    std::fs::write(lab.path("site.conf"), "x\n").unwrap();
    let netns = fleet.host("ha-1").netns.clone();
    lab.write(
        "book.yaml",
        &format!(
            "name: hang\nenv: [staging]\nhosts: web\n\
             pre:\n  - run: 'ip netns pids {netns} | xargs -r kill -STOP; {frozen}'\n    on: local\n  \
             - id: save\n    backup: {conf}\n    timeout: 5m\n",
            frozen = mark(&lab, "frozen"),
            conf = lab.path("site.conf").display()
        ),
    );
    let mut child = lab
        .background()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for_markers("the host was not frozen", |m| !m.is_empty());
    std::thread::sleep(Duration::from_millis(500));
    let stopped = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the backup did not stop on Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    assert!(stopped.elapsed() < Duration::from_secs(10));
    let finished = lab.events("step.finished");
    let save = finished.iter().find(|f| f["step_id"] == "save").unwrap();
    assert!(
        save["error"].as_str().unwrap().contains("aborted"),
        "{save}"
    );
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ip netns pids {netns} | xargs -r kill -CONT"))
        .status();
}

/// tejun dies while a step runs: rf-1 had already failed it, rf-2 is
/// still busy. The run had decided rf-1 failed, so resume keeps that
/// decision (rf-1 is not tried again, its failure counts against
/// max_fail_percentage 0 and both hosts are rolled back); only with
/// `--retry-failed` does rf-1 run the step again.
#[test]
fn resume_keeps_a_host_failure_from_before_the_crash_unless_retry_failed() {
    let Some(fleet) = fleet::up("rf", 2) else {
        return;
    };
    let crash_mid_step = |lab: &Lab| -> String {
        let go = lab.path("go").display().to_string();
        lab.write(
            "book.yaml",
            &format!(
                "name: mid\nenv: [staging]\nhosts: web\n\
                 execute:\n  - id: change\n    run: '{try_}; if [ ! -e {go} ]; then [ \"$TEJUN_HOST\" = rf-1 ] && exit 1; sleep 61; exit 1; fi; {change}'\n\
                 rollback:\n  steps:\n    - run: '{undo}'\n",
                try_ = mark(lab, "try"),
                change = mark(lab, "change"),
                undo = mark(lab, "undo"),
            ),
        );
        let mut child = lab
            .background()
            .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
            .args(["run", "book.yaml", "--env", "staging", "--yes"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        // rf-1 failed and journaled, rf-2 busy.
        while lab.events("host.finished").is_empty()
            || !common::process_outlives("sleep 61", Duration::ZERO)
        {
            assert!(Instant::now() < deadline, "rf-1 never finished");
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let done = lab.events("host.finished");
        assert_eq!(
            (&done[0]["host"], &done[0]["ok"]),
            (&"rf-1".into(), &false.into())
        );
        std::fs::write(&go, "").unwrap();
        run_id(lab)
    };

    // By default: rf-1 keeps its failure, the rollout rolls back.
    let lab = lab(&fleet);
    let id = crash_mid_step(&lab);
    tejun(&lab, &fleet)
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert()
        .code(3);
    assert_eq!(
        sorted(lab.markers()),
        [
            "change rf-2",
            "try rf-1",
            "try rf-2",
            "try rf-2",
            "undo rf-1",
            "undo rf-2"
        ]
    );
    let change = lab
        .events("step.finished")
        .into_iter()
        .find(|f| f["step_id"] == "change")
        .unwrap();
    assert_eq!(change["status"], "failed", "{change}");
    assert_eq!(change["hosts"][0]["host"], "rf-1");
    assert_eq!(change["hosts"][0]["ok"], false);
    assert_eq!(lab.events("run.ended")[0]["outcome"], "rolled-back");

    // --retry-failed: rf-1 runs the step again, and now it succeeds.
    let lab = self::lab(&fleet);
    let id = crash_mid_step(&lab);
    tejun(&lab, &fleet)
        .args([
            "resume",
            &id,
            "--yes",
            "--on-unknown",
            "retry",
            "--retry-failed",
        ])
        .assert()
        .code(0);
    assert_eq!(
        sorted(lab.markers()),
        [
            "change rf-1",
            "change rf-2",
            "try rf-1",
            "try rf-1",
            "try rf-2",
            "try rf-2"
        ]
    );
}

/// A host that was down when the run started had nothing run on it: when
/// it answers again by the time the run is rolled back (or resumed), it
/// stays out: no rollback steps, no exit steps there.
#[test]
fn a_host_unreachable_when_the_run_started_stays_out_of_its_rollback_and_exit_phase() {
    let Some(mut fleet) = fleet::up("uo", 3) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!(
            "name: down\nenv: [staging]\nhosts: web\n\
             rollout: {{max_fail_percentage: 34}}\n\
             execute:\n  - run: '{change}'\n  - confirm: looks right?\n\
             rollback:\n  steps:\n    - run: '{undo}'\n\
             exit:\n  - run: '{exit}'\n",
            change = mark(&lab, "change"),
            undo = mark(&lab, "undo"),
            exit = mark(&lab, "exit"),
        ),
    );
    fleet.kill_sshd("uo-3");
    // The confirm has no `auto:`: a non-interactive run pauses there.
    run(&lab, &fleet).code(5);
    fleet.restart_sshd("uo-3");
    let id = run_id(&lab);
    tejun(&lab, &fleet)
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(3);
    assert_eq!(
        sorted(lab.markers()),
        [
            "change uo-1",
            "change uo-2",
            "exit uo-1",
            "exit uo-2",
            "undo uo-1",
            "undo uo-2"
        ]
    );
    assert_eq!(
        lab.events("rollback.started")[0]["hosts"],
        serde_json::json!(["uo-1", "uo-2"])
    );
}
