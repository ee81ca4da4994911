//! `tejun watch` carries out every action a rule file can name: a rule's
//! own ban settings (backend, IPv6 prefix) against real ip6tables in a
//! network namespace this test creates, `runbook:` actions run by the real
//! `tejun run` (success, failure and a hang stopped at its timeout), and
//! actions that survive a SIGKILL of the watcher between a detection and
//! its actions (at least once, and never twice once done).
//!
//! Every wait is bounded; a failed wait prints what the watcher said.

mod watch_common;

use std::fs;
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use serde_json::Value;

use watch_common::*;

/// One failure line of the rules below, from `ip`.
fn hit(ip: &str) -> String {
    format!("2026-01-01 00:00:00 login failed from {ip}\n")
}

/// A setup whose source `app` reads `app.log` with `rules.yaml` (one rule,
/// `app-login`, maxretry 2, undated hits counted at arrival) whose actions
/// are `actions` (YAML flow list), and an inventory with `dev` and the
/// protected `prod`.
fn app(actions: &str, extra: &str) -> Setup {
    let setup = Setup::new(
        2,
        600,
        extra,
        "  - name: app\n    paths: [app.log]\n    rules: rules.yaml\n",
    );
    fs::write(
        setup.path("rules.yaml"),
        format!(
            "rules:\n  - name: app-login\n    regex: ['login failed from <HOST>']\n    date: '{{NONE}}'\n    maxretry: 2\n    bantime: 1h\n    actions:\n{actions}"
        ),
    )
    .unwrap();
    fs::write(
        setup.path("tejun.yaml"),
        "environments:\n  dev: {}\n  prod: {protected: true}\n",
    )
    .unwrap();
    fs::write(setup.path("app.log"), "").unwrap();
    setup
}

/// A runbook that appends `offender rule count reason` to `markers`.
fn marker_book(setup: &Setup) {
    let markers = setup.path("markers");
    fs::write(
        setup.path("block.yaml"),
        format!(
            "name: block\nenv: [dev, prod]\nvars:\n  offender: {{required: true}}\n  rule: {{required: true}}\n  count: {{required: true}}\n  reason: {{value: none}}\n  markers: {}\nexecute:\n  - id: note\n    run: echo {{{{offender}}}} {{{{rule}}}} {{{{count}}}} {{{{reason}}}} >> {{{{markers}}}}\n",
            markers.display()
        ),
    )
    .unwrap();
}

fn markers(setup: &Setup) -> Vec<String> {
    fs::read_to_string(setup.path("markers"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `tejun watch` on the setup's config, expected to refuse it: its stderr.
fn refused(setup: &Setup) -> String {
    let out = Command::new(tejun())
        .arg("--db")
        .arg(setup.db())
        .args(["--lang", "en", "watch", "--config"])
        .arg(setup.path("watch.yaml"))
        .current_dir(setup.dir.path())
        .env_remove("TEJUN_INVENTORY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn runbook_actions_run_tejun_run_and_their_outcome_is_journaled() {
    let setup = app(
        "      - runbook: {path: block.yaml, env: dev, params: {reason: brute-force}}\n      - runbook: {path: broken.yaml, env: dev}\n      - runbook: {path: hang.yaml, env: dev, timeout: 2}\n",
        "",
    );
    marker_book(&setup);
    fs::write(
        setup.path("broken.yaml"),
        "name: broken\nenv: dev\nexecute:\n  - id: fail\n    run: exit 3\n",
    )
    .unwrap();
    fs::write(
        setup.path("hang.yaml"),
        "name: hang\nenv: dev\nexecute:\n  - id: hang\n    run: sleep 60\n    timeout: 10m\n",
    )
    .unwrap();
    let mut watch = setup.watch();
    let started = Instant::now();
    append(&setup.path("app.log"), &hit("192.0.2.50").repeat(2));
    let ends = watch.wait_n("three runbook ends", 3, |e| {
        e["event"] == "runbook_finished"
    });
    let state_of = |name: &str| -> &Value {
        ends.iter()
            .find(|e| e["runbook"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no end of {name}: {ends:#?}"))
    };
    let ok = state_of("block.yaml");
    assert_eq!(ok["state"], "succeeded", "{ok}");
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(
        markers(&setup),
        ["192.0.2.50 app-login 2 brute-force"],
        "the runbook got the offender, rule, count and params"
    );
    let failed = state_of("broken.yaml");
    assert_eq!(failed["exit_code"], 1, "{failed}");
    assert_eq!(failed["state"], "failed", "{failed}");
    let hung = state_of("hang.yaml");
    assert_eq!(hung["state"], "timed_out", "{hung}");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "the hang was stopped at its 2 s timeout, not waited for"
    );

    // On record: each end names the detection and the run.
    let detection = &setup.events("detect.triggered")[0];
    let finished = setup.events("runbook.finished");
    assert_eq!(finished.len(), 3, "{finished:#?}");
    for end in &finished {
        assert_eq!(end["detection"], detection["id"], "{end}");
        assert_eq!(end["offender"], "192.0.2.50");
    }
    let run_id = ok["run_id"].as_str().expect("the run's id");
    let runs = setup.events("run.ended");
    assert!(
        runs.iter()
            .any(|r| r["run_id"] == run_id && r["outcome"] == "succeeded"),
        "the run itself is in the same journal: {runs:#?}"
    );
    let entries = setup
        .journal()
        .query(&tejun_journal::Query {
            subject: Some(&format!("run/{run_id}")),
            kind_prefix: Some("runbook.finished"),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(entries.len(), 1, "runbook.finished refers to its run");

    // The watcher carries on after a failed and a hung runbook.
    append(&setup.path("app.log"), &hit("192.0.2.51").repeat(2));
    watch.wait_n("the next detection's runbooks", 3, |e| {
        e["event"] == "runbook_finished" && e["offender"] == "192.0.2.51"
    });
    let stderr = watch.stop();
    assert!(
        stderr.is_empty() || !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn runbook_and_ban_mistakes_in_a_rule_file_are_reported_at_their_place() {
    let cases: [(&str, &str, (u32, u32)); 7] = [
        (
            "      - runbook: {path: block.yaml}\n",
            "missing field `env`",
            (8, 19),
        ),
        (
            "      - runbook: {path: nowhere.yaml, env: dev}\n",
            "cannot read runbook",
            (8, 25),
        ),
        (
            "      - runbook: {path: block.yaml, env: staging}\n",
            "is written for dev, prod, not `staging`",
            (8, 42),
        ),
        (
            "      - runbook: {path: block.yaml, env: prod}\n",
            "`prod` is protected: add `confirm_env: prod`",
            (8, 42),
        ),
        (
            "      - runbook: {path: block.yaml, env: dev, params: {ticket: X}}\n",
            "declares no variable `ticket`",
            (8, 64),
        ),
        (
            "      - ban: {ipv6_prefix: 200}\n",
            "ipv6_prefix must be 1..128, not 200",
            (8, 28),
        ),
        (
            "      - ban: {backend: pf}\n",
            "unknown ban backend `pf`",
            (8, 24),
        ),
    ];
    for (actions, message, (line, col)) in cases {
        let setup = app(actions, "");
        marker_book(&setup);
        let stderr = refused(&setup);
        let rules = setup.path("rules.yaml");
        let place = format!("{}:{line}:{col}: ", rules.display());
        assert!(
            stderr.contains(message) && stderr.contains(&place),
            "{actions}: expected `{message}` at {place}, got:\n{stderr}"
        );
    }
    // A destructive step cannot run unattended in a protected environment.
    let setup = app(
        "      - runbook: {path: wipe.yaml, env: prod, confirm_env: prod}\n",
        "",
    );
    fs::write(
        setup.path("wipe.yaml"),
        "name: wipe\nenv: prod\nexecute:\n  - id: wipe\n    run: rm -rf /nonexistent/tejun-test\n    safety: destructive\n",
    )
    .unwrap();
    let stderr = refused(&setup);
    assert!(
        stderr.contains("destructive step `wipe`")
            && stderr.contains(&format!("{}:8:41: ", setup.path("rules.yaml").display())),
        "{stderr}"
    );
    // A protected environment named twice is accepted.
    let setup = app(
        "      - runbook: {path: block.yaml, env: prod, confirm_env: prod}\n",
        "",
    );
    marker_book(&setup);
    setup.watch().stop();
}

/// A network namespace of this test's own, deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("tejun-wa-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("`ip` from iproute2 is needed (apt-get install -y iproute2)");
        assert!(out.status.success(), "ip netns add: {out:?}");
        Netns(name)
    }

    fn run(&self, argv: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(argv)
            .output()
            .unwrap();
        assert!(out.status.success(), "{argv:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn a_rules_own_ban_backend_and_ipv6_prefix_win_over_watch_yaml() {
    assert!(
        Command::new("ip6tables").arg("--version").output().is_ok(),
        "ip6tables is needed (apt-get install -y iptables)"
    );
    let ns = Netns::new("ban");
    // watch.yaml says nftables and /64; the rule says iptables and /48.
    let setup = app(
        "      - ban: {backend: iptables, ipv6_prefix: 48}\n",
        "ipv6_prefix: 64\n",
    );
    let config = fs::read_to_string(setup.path("watch.yaml"))
        .unwrap()
        .replace(
            "ban: {backend: none}",
            &format!("ban: {{backend: nftables, netns: {}}}", ns.0),
        );
    fs::write(setup.path("watch.yaml"), config).unwrap();
    let mut watch = setup.watch();
    // Two addresses of two /64s of one /48 count as one offender.
    append(
        &setup.path("app.log"),
        &(hit("2001:db8:7:1::5") + &hit("2001:db8:7:2::9")),
    );
    let banned = watch.wait_for("the /48 ban", |e| e["event"] == "banned");
    assert_eq!(banned["offender"], "2001:db8:7::/48", "{banned}");
    assert_eq!(banned["backend"], "iptables");
    let rules = ns.run(&["ip6tables", "-S", "INPUT"]);
    assert!(
        rules.contains("-s 2001:db8:7::/48") && rules.contains("-j DROP"),
        "{rules}"
    );
    // Only the backend a rule uses is set up: no nftables table appeared.
    let tables = ns.run(&["nft", "list", "tables"]);
    assert!(!tables.contains("tejun"), "{tables}");
    let added = &setup.events("ban.added")[0];
    assert_eq!(added["backend"], "iptables");
    assert_eq!(
        added["detection"],
        setup.events("detect.triggered")[0]["id"]
    );
    // Unban goes through the backend the ban was made with.
    let config = setup.path("watch.yaml");
    let out = setup.tejun(&[
        "unban",
        "2001:db8:7::/48",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    watch.wait_for("the unban", |e| e["event"] == "unbanned");
    let deadline = Instant::now() + Duration::from_secs(5);
    while ns
        .run(&["ip6tables", "-S", "INPUT"])
        .contains("2001:db8:7::/48")
    {
        assert!(
            Instant::now() < deadline,
            "the ip6tables rule was not removed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    watch.stop();
}

/// A rule that bans, posts to `url` and runs `block.yaml`.
fn crash_setup(url: &str) -> Setup {
    let setup = app(
        "      - ban: {}\n      - webhook: {url: URL}\n      - runbook: {path: block.yaml, env: dev}\n"
            .replace("URL", url)
            .as_str(),
        "",
    );
    marker_book(&setup);
    setup
}

/// Waits (bounded) until the watcher died of SIGKILL.
fn killed(watch: &mut Watch) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(9), "{status}: {}", watch.stderr());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the watcher did not reach its crash point; events: {:#?}\n{}",
            watch.seen,
            watch.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bodies the webhook server received within `quiet`.
fn posts(bodies: &Receiver<String>, quiet: Duration) -> Vec<String> {
    let deadline = Instant::now() + quiet;
    let mut got = Vec::new();
    while let Ok(body) = bodies.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        got.push(body);
    }
    got
}

#[test]
fn actions_cut_off_by_a_crash_are_carried_out_after_restart() {
    let (url, bodies) = webhook_server(200);
    let setup = crash_setup(&url);
    let mut watch = Watch::start_with(&setup, &[("TEJUN_CRASH_AT", "watch:after-pending")]);
    append(&setup.path("app.log"), &hit("198.51.100.77").repeat(2));
    killed(&mut watch);
    // Killed with the detection pending and nothing done.
    assert!(setup.events("detect.triggered").is_empty());
    assert!(setup.events("ban.added").is_empty());
    assert!(markers(&setup).is_empty());
    assert!(posts(&bodies, Duration::from_millis(200)).is_empty());

    let mut watch = setup.watch();
    let resumed = watch.wait_for("resumed", |e| e["event"] == "resumed");
    assert_eq!(resumed["detections"], 1);
    watch.wait_for("the ban", is("banned", "198.51.100.77"));
    let end = watch.wait_for("the runbook", |e| e["event"] == "runbook_finished");
    assert_eq!(end["state"], "succeeded", "{end}");
    watch.wait_for("the webhook", |e| e["event"] == "webhook");
    let posted = posts(&bodies, Duration::from_millis(500));
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert!(posted[0].contains("198.51.100.77"), "{posted:?}");
    // Done once each, and the lines were not read (and counted) again.
    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 1, "{triggered:#?}");
    let id = &triggered[0]["id"];
    for kind in ["ban.added", "webhook.sent", "runbook.finished"] {
        let events = setup.events(kind);
        assert_eq!(events.len(), 1, "{kind}: {events:#?}");
        assert_eq!(&events[0]["detection"], id, "{kind}");
    }
    assert_eq!(markers(&setup), ["198.51.100.77 app-login 2 none"]);
    watch.stop();
    // Nothing is left pending.
    let mut again = setup.watch();
    assert!(
        again
            .drain_for(Duration::from_millis(300), |e| e["event"] == "resumed")
            .is_empty()
    );
    again.stop();
}

#[test]
fn actions_done_before_a_crash_are_not_repeated_after_restart() {
    let (url, bodies) = webhook_server(200);
    let setup = crash_setup(&url);
    // Killed after every action is done and journaled, before the
    // detection's pending record is deleted.
    let mut watch = Watch::start_with(&setup, &[("TEJUN_CRASH_AT", "watch:before-done")]);
    append(&setup.path("app.log"), &hit("198.51.100.78").repeat(2));
    killed(&mut watch);
    let once = |setup: &Setup| {
        for kind in [
            "detect.triggered",
            "ban.added",
            "webhook.sent",
            "runbook.finished",
        ] {
            assert_eq!(setup.events(kind).len(), 1, "{kind}");
        }
        assert_eq!(markers(setup), ["198.51.100.78 app-login 2 none"]);
    };
    once(&setup);
    assert_eq!(posts(&bodies, Duration::from_millis(200)).len(), 1);

    let mut watch = setup.watch();
    let resumed = watch.wait_for("resumed", |e| e["event"] == "resumed");
    assert_eq!(resumed["detections"], 1);
    let repeated = watch.drain_for(Duration::from_millis(1500), |e| {
        ["triggered", "banned", "runbook_started", "webhook"]
            .contains(&e["event"].as_str().unwrap_or(""))
    });
    assert!(repeated.is_empty(), "{repeated:#?}");
    assert!(posts(&bodies, Duration::from_millis(200)).is_empty());
    once(&setup);
    watch.stop();
    let mut again = setup.watch();
    assert!(
        again
            .drain_for(Duration::from_millis(300), |e| e["event"] == "resumed")
            .is_empty(),
        "the pending record was deleted"
    );
    again.stop();
}

#[test]
fn a_runbook_cut_short_by_stopping_the_watcher_runs_again_at_the_next_start() {
    let setup = app("      - runbook: {path: slow.yaml, env: dev}\n", "");
    let gate = setup.path("gate");
    fs::write(&gate, "").unwrap();
    fs::write(
        setup.path("slow.yaml"),
        format!(
            "name: slow\nenv: dev\nvars:\n  offender: {{required: true}}\n  markers: {}\n  gate: {}\nexecute:\n  - id: note\n    run: echo {{{{offender}}}} >> {{{{markers}}}}\n  - id: wait\n    run: while [ -e {{{{gate}}}} ]; do sleep 0.1; done\n",
            setup.path("markers").display(),
            gate.display()
        ),
    )
    .unwrap();
    let mut watch = setup.watch();
    append(&setup.path("app.log"), &hit("203.0.113.9").repeat(2));
    watch.wait_for("the runbook start", |e| e["event"] == "runbook_started");
    let deadline = Instant::now() + Duration::from_secs(10);
    while markers(&setup).is_empty() {
        assert!(Instant::now() < deadline, "the runbook did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGTERM: the watcher stops the run (it rolls back) and exits.
    watch.stop();
    let ends = setup.events("runbook.finished");
    assert_eq!(ends.len(), 1, "{ends:#?}");
    assert_eq!(ends[0]["state"], "interrupted", "{ends:#?}");

    fs::remove_file(&gate).unwrap();
    let mut watch = setup.watch();
    let resumed = watch.wait_for("resumed", |e| e["event"] == "resumed");
    assert_eq!(resumed["detections"], 1);
    let end = watch.wait_for("the second run", |e| e["event"] == "runbook_finished");
    assert_eq!(end["state"], "succeeded", "{end}");
    assert_eq!(markers(&setup), ["203.0.113.9", "203.0.113.9"]);
    assert_eq!(setup.events("detect.triggered").len(), 1);
    watch.stop();
}
