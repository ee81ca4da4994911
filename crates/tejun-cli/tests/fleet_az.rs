//! Seed story case 2, an availability-zone failure, on the namespace test
//! fleet: hosts carry `zone:`; a runbook asks its health probe from each
//! zone's hosts (`from: zone=a`, `healthy_if: any`: a zone serves while one
//! of its hosts does) and runs the failover steps only when every host of
//! zone a fails. A host of zone a that cannot even be reached counts as
//! failing (a warning, not a refusal).

mod common;
mod fleet;

use common::Lab;
use predicates::prelude::*;

fn lab(fleet: &fleet::Fleet) -> Lab {
    let mut hosts = String::new();
    for (i, h) in fleet.hosts.iter().enumerate() {
        let zone = if i < 2 { "a" } else { "b" };
        hosts.push_str(&format!("      {}: {{zone: {zone}}}\n", h.name));
    }
    let lab = Lab::with_inventory(&format!("environments:\n  staging:\n    hosts:\n{hosts}"))
        .with_timeout(std::time::Duration::from_secs(60));
    let markers = lab.path("markers").display().to_string();
    lab.write(
        "book.yaml",
        &format!(
            "name: zone a failover\nenv: [staging]\nhosts: zone=b\n\
             probes:\n  \
               zone-a:\n    http: {{url: 'http://127.0.0.1/health', body: '^ok'}}\n    from: zone=a\n    healthy_if: any\n  \
               zone-b:\n    http: {{url: 'http://127.0.0.1/health', body: '^ok'}}\n    from: zone=b\n\
             pre:\n  \
               - id: zone-a-is-down\n    wait_for: {{probe: zone-a, until: unhealthy, timeout: 3s, interval: 1s}}\n  \
               - id: zone-b-serves\n    probe: zone-b\n\
             execute:\n  \
               - id: take-zone-a-traffic\n    run: 'echo \"failover $TEJUN_HOST_ZONE $TEJUN_HOST\" >> {markers}'\n  \
               - id: point-the-balancer-at-zone-b\n    run: 'echo \"balancer zone b\" >> {markers}'\n    on: local\n"
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

#[test]
fn a_zone_fails_over_only_when_every_host_of_it_fails() {
    let Some(mut fleet) = fleet::up("az", 4) else {
        return;
    };
    fleet.start_nginx_everywhere();
    let lab = lab(&fleet);

    // One host of zone a down: the zone still serves, no failover.
    fleet.take_down("az-1");
    run(&lab, &fleet)
        .code(1)
        .stderr(predicate::str::contains("warning: az-1: cannot connect"))
        .stdout(predicate::str::contains("probe `zone-a` not unhealthy"));
    assert!(lab.markers().is_empty(), "{:?}", lab.markers());

    // The whole zone down: the failover runs on zone b and the balancer.
    fleet.take_down("az-2");
    run(&lab, &fleet).code(0);
    let mut markers = lab.markers();
    markers.sort();
    assert_eq!(
        markers,
        ["balancer zone b", "failover b az-3", "failover b az-4"]
    );
    // Each host's answer is journaled; the step's verdict is the zone's.
    let zone_a: Vec<_> = lab
        .events("probe.result")
        .into_iter()
        .filter(|r| r["probe"] == "zone-a")
        .map(|r| (r["host"].as_str().unwrap().to_string(), r["ok"] == true))
        .collect();
    assert_eq!(
        &zone_a[zone_a.len() - 2..],
        [("az-1".to_string(), false), ("az-2".to_string(), false)]
    );
    let zone_b: Vec<_> = lab
        .events("probe.result")
        .into_iter()
        .filter(|r| r["probe"] == "zone-b")
        .map(|r| (r["host"].as_str().unwrap().to_string(), r["ok"] == true))
        .collect();
    assert_eq!(
        &zone_b[zone_b.len() - 2..],
        [("az-3".to_string(), true), ("az-4".to_string(), true)]
    );
}
