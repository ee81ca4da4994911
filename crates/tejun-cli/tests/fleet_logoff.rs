//! Seed story "forgotten logoff" on the namespace test fleet. The exit
//! phase checks on each host that no ssh session of the operator's user is
//! left besides the run's own connection (`ss` for the host's port 22
//! connections, their `sshd: USER@…` processes), then asks the service
//! from a second namespace ("another client", a host outside `hosts:`).
//! A session left open makes the exit phase fail (exit 4); once it is
//! closed the run ends cleanly, and the run's own master connections are
//! gone from the hosts afterwards.

mod common;
mod fleet;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Lab;

/// The check the docs give (docs/fleet.md, "Forgotten logoff").
const NO_SESSION_LEFT: &str = r#"me=$(echo "$SSH_CLIENT" | awk '{print $1":"$2}')
left=$(ss -Htnp state established '( sport = :22 )' | awk -v me="$me" '$4 != me' |
  grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u |
  while read -r pid; do ps -o args= -p "$pid" --ppid "$pid"; done | grep "^sshd: $USER[@ ]")
[ -z "$left" ] || { echo "sessions of $USER still open: $left" >&2; exit 1; }"#;

fn indent(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| format!("{by}{l}\n"))
        .collect::<String>()
}

fn established_on_22(fleet: &fleet::Fleet, host: &str) -> String {
    let out = fleet.in_host(host, "ss -Htn state established '( sport = :22 )'");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_forgotten_session_stops_the_exit_phase_and_closing_it_lets_the_run_end_cleanly() {
    let Some(mut fleet) = fleet::up("lo", 3) else {
        return;
    };
    fleet.start_nginx("lo-1");
    fleet.start_nginx("lo-2");
    fleet.route_between_hosts();
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    hosts: [lo-1, lo-2, lo-3]\n    groups:\n      web: [lo-1, lo-2]\n",
    )
    .with_timeout(Duration::from_secs(60));
    let app = format!("http://{}/app", fleet.host("lo-1").addr);
    lab.write(
        "book.yaml",
        &format!(
            "name: maintenance\nenv: [staging]\nhosts: web\n\
             probes:\n  \
               no-session-left:\n    from: each\n    cmd: |\n{check}  \
               from-another-client:\n    from: lo-3\n    http: {{url: '{app}', body: '^app lo-1'}}\n\
             execute:\n  - run: 'true'\n\
             exit:\n  - id: logged-off\n    probe: no-session-left\n  \
               - id: still-answers\n    probe: from-another-client\n",
            check = indent(NO_SESSION_LEFT, "      "),
        ),
    );
    let run = || {
        lab.tejun()
            .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
            .args(["run", "book.yaml", "--env", "staging", "--yes"])
            .assert()
    };

    // The operator's own interactive session, never logged off.
    let mut forgotten: Child = Command::new("ssh")
        .arg("-F")
        .arg(&fleet.ssh_config)
        .args(["-tt", "lo-1", "sleep 60"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("the forgotten session", || {
        !established_on_22(&fleet, "lo-1").is_empty()
    });
    run()
        .code(4)
        .stdout(predicates::str::contains("sessions of root still open"));
    let logged_off = lab
        .events("step.finished")
        .into_iter()
        .find(|f| f["step_id"] == "logged-off")
        .unwrap();
    assert_eq!(logged_off["status"], "failed", "{logged_off}");
    let results = lab.events("probe.result");
    let session_check: Vec<(String, bool)> = results
        .iter()
        .filter(|r| r["probe"] == "no-session-left")
        .map(|r| (r["host"].as_str().unwrap().to_string(), r["ok"] == true))
        .collect();
    assert_eq!(
        session_check,
        [("lo-1".to_string(), false), ("lo-2".to_string(), true)]
    );

    // Log off; the same run now ends cleanly.
    let _ = forgotten.kill();
    let _ = forgotten.wait();
    wait_until("the session to close", || {
        established_on_22(&fleet, "lo-1").is_empty()
    });
    run().code(0);
    let another_client: Vec<_> = lab
        .events("probe.result")
        .into_iter()
        .filter(|r| r["probe"] == "from-another-client")
        .collect();
    let last = another_client.last().unwrap();
    assert_eq!((&last["host"], &last["ok"]), (&"lo-3".into(), &true.into()));
    // And the run closed its own connections: nothing of it is left.
    for host in ["lo-1", "lo-2", "lo-3"] {
        wait_until("the run's master connections to close", || {
            established_on_22(&fleet, host).is_empty()
        });
    }
}
