//! The live per-host view of a fleet step: on a terminal one line per host
//! (running, then its result) under the step's spinner; plain lines as
//! each host finishes when not a terminal; `--json` unchanged (events
//! only). The terminal is a real pseudo-terminal from util-linux `script`.

mod common;
mod fleet;

use std::process::Command;

use common::Lab;

fn lab(fleet: &fleet::Fleet) -> Lab {
    let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    let lab = Lab::with_inventory(&format!(
        "environments:\n  staging:\n    hosts: [{}]\n",
        names.join(", ")
    ))
    .with_timeout(std::time::Duration::from_secs(60));
    lab.write(
        "book.yaml",
        "name: view\nenv: [staging]\nhosts: '*'\nrollout: {max_fail_percentage: 50}\n\
         execute:\n  - id: slow-step\n    run: 'sleep 1; [ \"$TEJUN_HOST\" != pv-2 ]'\n",
    );
    lab
}

#[test]
fn on_a_terminal_each_host_has_its_own_live_line() {
    let Some(fleet) = fleet::up("pv", 2) else {
        return;
    };
    let lab = lab(&fleet);
    let bin = assert_cmd::cargo::cargo_bin("tejun");
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} run book.yaml --env staging --yes", bin.display()),
            "/dev/null",
        ])
        .current_dir(lab.path(""))
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .env("TEJUN_AUDIT_KEY", lab.path("audit.key"))
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .env_remove("TEJUN_DB")
        .env_remove("TEJUN_INVENTORY")
        .env_remove("SUDO_USER")
        .output()
        .expect("util-linux `script` is needed: apt-get install -y bsdutils");
    let shown = String::from_utf8_lossy(&out.stdout);
    // While the step runs: a spinner line per host; then each result.
    assert!(
        shown.contains("pv-1") && shown.contains("running"),
        "{shown:?}"
    );
    assert!(shown.contains("· pv-1"), "{shown:?}");
    let one = shown.find("· pv-1").unwrap();
    assert!(shown[one..].contains("✓ ok"), "{shown:?}");
    let two = shown.find("· pv-2").expect("pv-2's line");
    assert!(shown[two..].contains("✗ failed"), "{shown:?}");
}

#[test]
fn without_a_terminal_each_host_is_a_plain_line_and_json_is_unchanged() {
    let Some(fleet) = fleet::up("pv", 2) else {
        return;
    };
    let lab = lab(&fleet);
    let out = lab
        .tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("    · pv-")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("pv-1") && l.contains("✓ ok")),
        "{stdout}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("pv-2") && l.contains("✗ failed")),
        "{stdout}"
    );

    let json = lab
        .tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes", "--json"])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&json.stdout).lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON event: {line:?}: {e}"));
        assert!(value["kind"].is_string(), "{line}");
    }
}
