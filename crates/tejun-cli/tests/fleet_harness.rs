//! The test fleet itself: hosts answer over ssh with strict host keys, and
//! nothing is left behind when the fleet is dropped.

mod fleet;

use std::process::Command;

#[test]
fn every_fleet_host_answers_ssh_with_its_scanned_host_key() {
    let Some(fleet) = fleet::up("web", 2) else {
        return;
    };
    for h in &fleet.hosts {
        let out = Command::new("ssh")
            .arg("-F")
            .arg(&fleet.ssh_config)
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg(&h.name)
            .arg("ip -4 addr show eth0")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            h.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(&h.addr), "{}: {stdout}", h.name);
    }
}

#[test]
fn a_dropped_fleet_leaves_no_namespace_behind() {
    let names: Vec<String> = {
        let Some(fleet) = fleet::up("gone", 1) else {
            return;
        };
        fleet.hosts.iter().map(|h| h.netns.clone()).collect()
    };
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for name in names {
        assert!(!list.contains(&name), "{name} still exists: {list}");
    }
}
