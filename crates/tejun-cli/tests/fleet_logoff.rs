//! Seed story "forgotten logoff" on the namespace test fleet, with the
//! built-in `logoff:` exit step: it closes the run's own connection to
//! each host, checks over a fresh one that no ssh session of the user is
//! left (naming each one: tty, client address, login time), then asks the
//! service from a second namespace ("another client", a host outside
//! `hosts:`). A session left open makes the exit phase fail (exit 4); once
//! it is closed the run ends cleanly, and none of the run's connections
//! is left on the hosts.

mod common;
mod fleet;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Lab;
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
               from-another-client:\n    from: lo-3\n    http: {{url: '{app}', body: '^app lo-1'}}\n\
             execute:\n  - run: 'true'\n\
             exit:\n  - id: logged-off\n    logoff: {{then_probe: from-another-client}}\n",
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
    let refused = run().code(4);
    let stdout = String::from_utf8_lossy(&refused.get_output().stdout).into_owned();
    assert!(
        stdout.contains("lo-1: not logged off: 1 session(s) of root still open: pts/"),
        "{stdout}"
    );
    let logged_off = lab
        .events("step.finished")
        .into_iter()
        .find(|f| f["step_id"] == "logged-off")
        .unwrap();
    assert_eq!(logged_off["status"], "failed", "{logged_off}");
    // What was found is journaled per host: the forgotten session, named;
    // the run's own connections (closed, then the fresh check) are not.
    let checked = lab.events("logoff.checked");
    let found: Vec<(String, usize)> = checked
        .iter()
        .map(|c| {
            (
                c["host"].as_str().unwrap().to_string(),
                c["sessions"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(found, [("lo-1".to_string(), 1), ("lo-2".to_string(), 0)]);
    let session = &checked[0]["sessions"][0];
    assert_eq!(checked[0]["user"], "root");
    assert!(
        session["tty"].as_str().unwrap().starts_with("pts/"),
        "{session}"
    );
    assert!(
        session["from"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}:", fleet::ROOT_ADDR)),
        "{session}"
    );
    assert!(!session["since"].as_str().unwrap().is_empty(), "{session}");
    // Not logged off: "another client" is not asked yet.
    assert!(lab.events("probe.result").is_empty());
    // `tejun show` lists what each host's check found.
    let id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = common::stdout(lab.tejun().args(["show", &id]));
    assert!(
        shown
            .lines()
            .any(|l| l.contains("logoff lo-1") && l.contains("1 left") && l.contains("pts/")),
        "{shown}"
    );

    // Log off; the same run now ends cleanly.
    let _ = forgotten.kill();
    let _ = forgotten.wait();
    wait_until("the session to close", || {
        established_on_22(&fleet, "lo-1").is_empty()
    });
    run().code(0);
    let checked = lab.events("logoff.checked");
    assert!(
        checked[2..]
            .iter()
            .all(|c| c["sessions"] == serde_json::json!([])),
        "{checked:?}"
    );
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

#[test]
fn a_logoff_step_out_of_place_or_naming_no_probe_is_refused_at_its_place() {
    let lab = Lab::with_inventory("environments:\n  staging:\n    hosts: [a]\n");
    lab.write(
        "book.yaml",
        "name: x\nenv: [staging]\nhosts: a\n\
         probes:\n  health:\n    cmd: 'true'\n\
         execute:\n  - logoff:\n\
         exit:\n  - logoff: {then_probe: helth}\n  - logoff: {user: 'a b'}\n  - logoff:\n    on: local\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "book.yaml:8:5: error: `logoff:` belongs in `exit:`",
        ))
        .stderr(predicates::str::contains(
            "book.yaml:10:26: error: no probe named `helth` under `probes:` (did you mean `health`?)",
        ))
        .stderr(predicates::str::contains(
            "book.yaml:11:20: error: `a b` is not a user name",
        ))
        .stderr(predicates::str::contains(
            "book.yaml:12:5: error: `logoff:` runs on every host; drop `on:`",
        ));
    // Without `hosts:` there is nothing to log off from.
    lab.write(
        "local.yaml",
        "name: x\nenv: [staging]\nexecute:\n  - run: 'true'\nexit:\n  - logoff:\n",
    );
    lab.tejun()
        .args(["check", "local.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "local.yaml:6:5: error: `logoff:` needs `hosts:`",
        ));
}

/// A terminal's Ctrl-C goes to tejun's whole process group. In the exit
/// phase a first one is only noted, so it must not kill the `ssh` client
/// of the logoff check either (which would fail the check and leave the
/// run uncleanly): the check waits for the host and the run ends cleanly.
#[test]
fn a_first_ctrl_c_during_the_logoff_check_does_not_stop_it() {
    use std::os::unix::process::CommandExt;
    let Some(fleet) = fleet::up("lc", 1) else {
        return;
    };
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    hosts: [lc-1]\n    groups:\n      web: [lc-1]\n",
    )
    .with_timeout(Duration::from_secs(60));
    let pid_file = fleet.dir.path().join("sshd-lc-1.pid");
    let frozen = lab.path("frozen");
    // The host's sshd stops answering new connections just before the
    // check (the run's own master keeps working): the check waits.
    lab.write(
        "book.yaml",
        &format!(
            "name: m\nenv: [staging]\nhosts: web\n\
             execute:\n  - run: 'true'\n\
             exit:\n  - run: 'kill -STOP $(cat {pid}) && touch {frozen}'\n    on: local\n  \
             - id: logged-off\n    logoff:\n",
            pid = pid_file.display(),
            frozen = frozen.display(),
        ),
    );
    let mut child = lab
        .background()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    wait_until("the host's sshd to freeze", || frozen.exists());
    std::thread::sleep(Duration::from_millis(500));
    let group = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sshd: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sshd),
        nix::sys::signal::Signal::SIGCONT,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let logged_off = lab
        .events("step.finished")
        .into_iter()
        .find(|f| f["step_id"] == "logged-off")
        .unwrap();
    assert_eq!(logged_off["status"], "ok", "{logged_off}");
    assert_eq!(status.code(), Some(0));
}

/// The check looks at the host's process list; a host where it cannot
/// list processes (no `ps`, or one that does not take `-o`) has not been
/// checked, and must not pass as logged off.
#[test]
fn a_host_whose_process_list_cannot_be_read_is_not_logged_off() {
    let Some(fleet) = fleet::up("lp", 1) else {
        return;
    };
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    hosts: [lp-1]\n    groups:\n      web: [lp-1]\n",
    )
    .with_timeout(Duration::from_secs(60));
    // A `ps` that cannot list anything, first on the PATH of the host's
    // sessions, as on a host without procps.
    let bin = lab.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    lab.write("bin/ps", "#!/bin/sh\necho 'ps: not found' >&2\nexit 127\n");
    std::fs::set_permissions(
        bin.join("ps"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    lab.write(
        "book.yaml",
        "name: m\nenv: [staging]\nhosts: web\n\
         execute:\n  - run: 'true'\n\
         exit:\n  - id: logged-off\n    logoff:\n",
    );
    fleet.shadow_file("lp-1", "/usr/bin/ps", &bin.join("ps"));
    let refused = lab
        .tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(4);
    let stdout = String::from_utf8_lossy(&refused.get_output().stdout).into_owned();
    assert!(
        stdout.contains("lp-1: cannot check its sessions: cannot list the processes"),
        "{stdout}"
    );
}

/// tejun is killed in the exit phase (SIGKILL: no destructor closes its
/// master connections, which persist in the background). Those are the
/// run's own connections, not a session someone forgot: resume must not
/// be refused by them, and must leave none of them behind.
#[test]
fn resume_after_a_crash_in_the_exit_phase_logs_off_the_connections_the_crash_left() {
    let Some(fleet) = fleet::up("lr", 1) else {
        return;
    };
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    hosts: [lr-1]\n    groups:\n      web: [lr-1]\n",
    )
    .with_timeout(Duration::from_secs(60));
    lab.write(
        "book.yaml",
        "name: m\nenv: [staging]\nhosts: web\n\
         execute:\n  - run: 'true'\n\
         exit:\n  - id: logged-off\n    logoff:\n",
    );
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .env("TEJUN_CRASH_AT", "after-start:logged-off")
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .failure();
    let id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let resumed = lab
        .tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .assert();
    let stdout = String::from_utf8_lossy(&resumed.get_output().stdout).into_owned();
    resumed.code(0);
    assert!(!stdout.contains("not logged off"), "{stdout}");
    wait_until("the run's connections to close", || {
        established_on_22(&fleet, "lr-1").is_empty()
    });
}

/// A mosh session: `mosh-server` is started over ssh, then the ssh login
/// ends and the server goes on alone (waiting for its client), so there is
/// no `sshd` of it left to find. It is a session of the user all the same.
#[test]
fn a_mosh_session_left_open_is_not_logged_off() {
    let Some(fleet) = fleet::up("lm", 1) else {
        return;
    };
    if !std::path::Path::new("/usr/bin/mosh-server").exists() {
        eprintln!("SKIPPED: needs mosh-server (apt-get install mosh)");
        return;
    }
    let lab = Lab::with_inventory(
        "environments:\n  staging:\n    hosts: [lm-1]\n    groups:\n      web: [lm-1]\n",
    )
    .with_timeout(Duration::from_secs(60));
    lab.write(
        "book.yaml",
        "name: m\nenv: [staging]\nhosts: web\n\
         execute:\n  - run: 'true'\n\
         exit:\n  - id: logged-off\n    logoff:\n",
    );
    let started = Command::new("ssh")
        .arg("-F")
        .arg(&fleet.ssh_config)
        .args(["lm-1", "LC_ALL=C.UTF-8 mosh-server new -s"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&started.stdout).contains("MOSH CONNECT"),
        "{started:?}"
    );
    let refused = lab
        .tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(4);
    let stdout = String::from_utf8_lossy(&refused.get_output().stdout).into_owned();
    let checked = lab.events("logoff.checked");
    // Ended by its pid (the one the check named) whatever the outcome.
    for session in checked[0]["sessions"].as_array().unwrap() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(session["pid"].as_i64().unwrap() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        stdout.contains("lm-1: not logged off: 1 session(s) of root still open: mosh from ? since"),
        "{stdout}"
    );
    assert!(stdout.contains("(mosh-server pid "), "{stdout}");
}

/// `then_probe` is "another client": asked from the hosts just logged off
/// it is not (and would log in to them again after the check). `from:
/// each` is refused by `tejun check` at its place; a `from:` host that is
/// one of the run's hosts is refused before anything is contacted.
#[test]
fn a_then_probe_asked_from_the_hosts_logged_off_is_refused() {
    let lab = Lab::with_inventory("environments:\n  staging:\n    hosts: [a, b, mon]\n");
    lab.write(
        "each.yaml",
        "name: x\nenv: [staging]\nhosts: 'a,b'\n\
         probes:\n  here:\n    from: each\n    cmd: 'true'\n\
         execute:\n  - run: 'true'\n\
         exit:\n  - logoff: {then_probe: here}\n",
    );
    lab.tejun()
        .args(["check", "each.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "each.yaml:11:26: error: `then_probe: here` is asked `from: each`, from the hosts just logged off",
        ));
    lab.write(
        "own.yaml",
        "name: x\nenv: [staging]\nhosts: 'a,b'\n\
         probes:\n  there:\n    from: b\n    cmd: 'true'\n\
         execute:\n  - run: 'true'\n\
         exit:\n  - logoff: {then_probe: there}\n",
    );
    lab.tejun()
        .args(["run", "own.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "refused: `logoff:` asks `then_probe: there` from b, a host of this run it just logged off",
        ));
    assert!(lab.events("run.started").is_empty());
}
