//! Probes `from:` a host or `from: each` on the namespace test fleet: the
//! question is asked on the host over the run's ssh connection (bash's
//! `/dev/tcp`, no curl), each host answers for itself, and a `from:` host
//! obeys the environment's host rule before anything is contacted.

mod common;
mod fleet;

use common::Lab;
use predicates::prelude::*;

/// `hosts` in `staging` (group `web`, each with its nginx dir as `nginx`),
/// `prod-1` in `production`.
fn lab(fleet: &fleet::Fleet) -> Lab {
    let mut hosts = String::new();
    for h in &fleet.hosts {
        hosts.push_str(&format!(
            "      {}: {{nginx: {}}}\n",
            h.name,
            fleet.nginx_dir(&h.name).display()
        ));
    }
    let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    Lab::with_inventory(&format!(
        "environments:\n  staging:\n    hosts:\n{hosts}    groups:\n      web: [{}]\n  production:\n    protected: true\n    hosts: [prod-1]\n",
        names.join(", ")
    ))
    .with_timeout(std::time::Duration::from_secs(60))
}

fn run(lab: &Lab, fleet: &fleet::Fleet) -> assert_cmd::assert::Assert {
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
}

#[test]
fn a_probe_from_each_host_asks_that_hosts_own_service_and_journals_one_answer_per_host() {
    let Some(mut fleet) = fleet::up("pe", 2) else {
        return;
    };
    fleet.start_nginx_everywhere();
    // pe-2 serves the broken site: only its own answer may say so.
    let dir = fleet.nginx_dir("pe-2");
    std::fs::copy(dir.join("bad.conf"), dir.join("site.conf")).unwrap();
    assert!(
        fleet
            .in_host("pe-2", &fleet::nginx_reload(&dir))
            .status
            .success()
    );
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!("name: probes\nenv: [staging]\nhosts: web\n\
         probes:\n  \
           health:\n    http: {{url: 'http://127.0.0.1/health', body: '^ok'}}\n    from: each\n  \
           port:\n    tcp: 127.0.0.1:80\n    from: each\n  \
           app-on-1:\n    http: {{url: 'http://127.0.0.1/app', body: '^app pe-1\\b'}}\n    from: pe-1\n  \
           is-pe-2:\n    cmd: 'ip -4 -o addr show eth0 | grep -qF \" {addr}/\"'\n    from: pe-2\n\
         execute:\n  - probe: port\n  - probe: app-on-1\n  - probe: is-pe-2\n  - id: everyone-healthy\n    probe: health\n",
            addr = fleet.host("pe-2").addr
        ),
    );
    run(&lab, &fleet)
        .code(1)
        .stdout(predicate::str::contains("pe-2: HTTP status 502"));
    let results = lab.events("probe.result");
    let of = |probe: &str| -> Vec<(String, bool)> {
        results
            .iter()
            .filter(|r| r["probe"] == probe)
            .map(|r| (r["host"].as_str().unwrap().to_string(), r["ok"] == true))
            .collect()
    };
    assert_eq!(
        of("port"),
        [("pe-1".to_string(), true), ("pe-2".to_string(), true)]
    );
    // The body regex names pe-1: the answer came from pe-1's own nginx.
    assert_eq!(of("app-on-1"), [("pe-1".to_string(), true)]);
    assert_eq!(of("is-pe-2"), [("pe-2".to_string(), true)]);
    assert_eq!(
        of("health"),
        [("pe-1".to_string(), true), ("pe-2".to_string(), false)]
    );
    let bad = results
        .iter()
        .find(|r| r["probe"] == "health" && r["host"] == "pe-2")
        .unwrap();
    assert_eq!(bad["value"], 502.0, "{bad}");
}

#[test]
fn a_probe_from_another_environments_host_is_refused_before_any_connection() {
    let Some(fleet) = fleet::up("px", 1) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        "name: probes\nenv: [staging]\nhosts: web\n\
         probes:\n  health:\n    tcp: 127.0.0.1:80\n    from: PROD-1.\n\
         execute:\n  - probe: health\n",
    );
    // A ProxyCommand would leave a mark if anything were contacted.
    let marks = lab.path("contacted");
    let config = format!(
        "Host *\n  ProxyCommand sh -c 'echo %h >> {}; exit 1'\n",
        marks.display()
    );
    lab.write("ssh_config", &config);
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", lab.path("ssh_config"))
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is a host of environment `production`, not `staging`",
        ));
    assert!(!marks.exists(), "something was contacted");
}

#[test]
fn a_probe_from_a_host_needs_a_runbook_with_hosts() {
    let lab = Lab::with_inventory("environments:\n  staging:\n    hosts: [web-1]\n");
    lab.write(
        "book.yaml",
        "name: probes\nenv: [staging]\n\
         probes:\n  health:\n    tcp: 127.0.0.1:80\n    from: each\n\
         execute:\n  - probe: health\n",
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "probe `health` runs from a host, but the runbook has no `hosts:`",
        ));
}

#[test]
fn check_refuses_probes_a_host_cannot_ask() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: probes\nenv: [staging]\n\
         probes:\n  \
           tls:\n    http: https://127.0.0.1/health\n    from: each\n  \
           prom:\n    prometheus: {url: 'http://127.0.0.1:9090', query: up, healthy: '>= 1'}\n    from: web-1\n\
         execute:\n  - probe: tls\n  - probe: prom\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("book.yaml:6:11"))
        .stderr(predicate::str::contains("plain http://"))
        .stderr(predicate::str::contains("book.yaml:9:11"))
        .stderr(predicate::str::contains("controller only"));
}
