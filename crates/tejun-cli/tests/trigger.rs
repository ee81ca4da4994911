//! Triggers through the real binary against a real nginx: a runbook swaps
//! the site for one that answers 503 and reloads; the error-rate trigger
//! fires while post is still running, the running command's group is
//! killed, the rollback restores the config and reloads, and the health
//! gate in the rollback checks sees nginx answer again.

use std::time::{Duration, Instant};

mod common;
mod probe_nginx;

use common::Lab;
use probe_nginx::{BAD_SITE, GOOD_SITE, Nginx};

/// The case 5 runbook: change nginx's site, then bake; roll back by
/// restoring the site and reloading.
fn change_nginx(lab: &Lab, nginx: &Nginx, trigger: &str, interval: &str) {
    let bad = lab.write("bad.conf", BAD_SITE);
    let site = nginx.site();
    let reload = nginx.reload_command();
    lab.write(
        "book.yaml",
        &format!(
            "name: nginx change
env: dev
probes:
  health:
    http: {{url: {url}, status: 200, body: \"^ok\"}}
    timeout: 1s
    interval: {interval}
triggers:
  - {trigger}
pre:
  - id: healthy-before
    wait_for: {{probe: health, timeout: 10s, interval: 100ms}}
  - id: keep
    backup: {site}
execute:
  - id: change
    run: cp {bad} {site} && {reload}
post:
  - id: bake
    run: echo baking >> markers; sleep 60; echo baked >> markers
exit:
  - id: leave
    run: echo exit >> markers
rollback:
  steps:
    - id: put-back
      restore: keep
    - id: reload
      run: {reload}
  checks:
    - id: healthy-again
      wait_for: {{probe: health, timeout: 20s, interval: 100ms}}
",
            url = nginx.url("/health"),
            bad = bad.display(),
            site = site.display(),
        ),
    );
}

#[test]
fn error_rate_trigger_kills_the_bake_and_rolls_nginx_back() {
    let lab = Lab::new().with_timeout(Duration::from_secs(90));
    let nginx = Nginx::start(lab.dir.path());
    change_nginx(&lab, &nginx, "error_rate(health) > 20% over 5s", "200ms");
    let started = Instant::now();
    let out = lab.run().code(3).get_output().clone();
    let stdout =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "the 60 s bake was cut short"
    );
    assert_eq!(lab.markers(), ["baking", "exit"], "{stdout}");
    assert!(stdout.contains("TRIGGER FIRED"), "{stdout}");
    assert!(
        stdout.contains("error_rate(health) > 20% over 5s"),
        "{stdout}"
    );

    let fired = lab.events("trigger.fired");
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["trigger"], "error_rate(health) > 20% over 5s");
    assert_eq!(fired[0]["probe"], "health");
    assert_eq!(fired[0]["step_id"], "bake");
    assert!(fired[0]["value"].as_f64().unwrap() > 0.2, "{fired:?}");
    assert!(fired[0]["failures"].as_u64().unwrap() >= 1);
    let bake = lab
        .events("step.finished")
        .into_iter()
        .find(|e| e["step_id"] == "bake")
        .unwrap();
    assert_eq!(bake["error"], "stopped: a trigger fired (command killed)");
    let rollback = lab.events("rollback.started");
    assert_eq!(rollback[0]["reason"], "trigger");
    assert_eq!(lab.events("run.ended")[0]["outcome"], "rolled-back");

    // The watch's samples are journaled, failed ones among them.
    let samples: Vec<serde_json::Value> = lab
        .events("probe.samples")
        .iter()
        .flat_map(|e| e["samples"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(samples.iter().any(|s| s["ok"] == false), "{samples:?}");
    assert!(
        samples.iter().all(|s| s["latency_ms"].is_u64()),
        "{samples:?}"
    );

    // Restored byte for byte, and serving again.
    assert_eq!(std::fs::read_to_string(nginx.site()).unwrap(), GOOD_SITE);
    assert!(nginx.healthy_soon());

    // `tejun show` names the trigger with its values.
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let show = lab
        .tejun()
        .args(["show", &run_id])
        .env("NO_COLOR", "1")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let show = String::from_utf8_lossy(&show);
    assert!(show.contains("trigger fired"), "{show}");
    assert!(show.contains("error_rate(health) > 20% over 5s"), "{show}");
}

#[test]
fn a_consecutive_failures_trigger_fires_the_same_way() {
    let lab = Lab::new().with_timeout(Duration::from_secs(90));
    let nginx = Nginx::start(lab.dir.path());
    change_nginx(&lab, &nginx, "failing(health) >= 3", "200ms");
    lab.run().code(3);
    let fired = lab.events("trigger.fired");
    assert_eq!(fired[0]["value"], 3.0, "{fired:?}");
    assert!(nginx.healthy_soon());
}

#[test]
fn a_trigger_that_never_holds_lets_the_change_stand() {
    let lab = Lab::new().with_timeout(Duration::from_secs(90));
    let nginx = Nginx::start(lab.dir.path());
    let site = nginx.site();
    lab.write(
        "book.yaml",
        &format!(
            "name: fine\nenv: dev\nprobes:\n  health:\n    http: {}\n    interval: 100ms\ntriggers:\n  - failing(health) >= 2\nexecute:\n  - id: touch\n    run: touch {}\npost:\n  - id: bake\n    run: sleep 1\nrollback:\n  steps:\n    - id: undo\n      run: echo undone >> markers\n",
            nginx.url("/health"),
            site.display()
        ),
    );
    lab.run().code(0);
    assert!(lab.events("trigger.fired").is_empty());
    assert!(lab.markers().is_empty(), "no rollback");
    let taken: usize = lab
        .events("probe.samples")
        .iter()
        .map(|e| e["samples"].as_array().unwrap().len())
        .sum();
    assert!(taken >= 5, "watched all through the bake ({taken} samples)");
}

#[test]
fn a_trigger_rollback_cut_by_a_crash_is_finished_by_resume() {
    let lab = Lab::new().with_timeout(Duration::from_secs(90));
    let nginx = Nginx::start(lab.dir.path());
    change_nginx(&lab, &nginx, "failing(health) >= 2", "100ms");
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .env("TEJUN_CRASH_AT", "before-start:put-back")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "killed at the crash point");
    assert_eq!(lab.events("rollback.started")[0]["reason"], "trigger");
    assert_eq!(nginx.health(), Some(503), "the bad site is still live");
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    lab.tejun()
        .args(["resume", &run_id, "--yes"])
        .assert()
        .code(3);
    assert_eq!(lab.events("run.ended")[0]["outcome"], "rolled-back");
    assert_eq!(std::fs::read_to_string(nginx.site()).unwrap(), GOOD_SITE);
    assert!(nginx.healthy_soon());
}
