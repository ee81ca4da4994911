//! `SshTarget` against real sshd hosts of the test fleet: values stay data
//! on the remote shell, a timeout kills the remote process group, host keys
//! are checked strictly, and the master connection ends with the target.

mod fleet;

use std::time::Duration;

use tejun_engine::AbortSignal;
use tejun_engine::target::{Exec, SshError, SshOptions, SshTarget, Target};

fn options(fleet: &fleet::Fleet) -> SshOptions {
    let control_dir = fleet.dir.path().join("ctl");
    std::fs::create_dir_all(&control_dir).unwrap();
    SshOptions {
        config: Some(fleet.ssh_config.clone()),
        control_dir,
        connect_timeout: Duration::from_secs(5),
    }
}

fn exec<'a>(command: &'a str, env: &'a [(String, String)], timeout: Duration) -> Exec<'a> {
    Exec {
        command,
        timeout,
        keep_bytes: 4096,
        env,
        cwd: None,
        group_file: None,
        on: Default::default(),
        live: None,
        host_view: None,
    }
}

#[test]
fn a_value_reaches_the_remote_shell_as_data_not_code() {
    let Some(fleet) = fleet::up("data", 1) else {
        return;
    };
    let target = SshTarget::new("data-1", &options(&fleet));
    let value =
        "$(touch /tmp/tejun-pwned)`touch /tmp/tejun-pwned`'; touch /tmp/tejun-pwned; '\n\"x\"";
    let env = vec![("TEJUN_VAR_MSG".to_string(), value.to_string())];
    let done = target
        .exec(
            &exec(
                "printf '%s' \"$TEJUN_VAR_MSG\"",
                &env,
                Duration::from_secs(10),
            ),
            &AbortSignal::never(),
        )
        .unwrap();
    assert_eq!(done.exit_code, Some(0), "{}", done.stderr.tail_text());
    assert_eq!(done.stdout.tail_text(), value);
    let pwned = fleet.in_host("data-1", "test -e /tmp/tejun-pwned && echo yes || echo no");
    assert_eq!(String::from_utf8_lossy(&pwned.stdout).trim(), "no");
}

#[test]
fn a_remote_exit_code_and_both_streams_come_back() {
    let Some(fleet) = fleet::up("codes", 1) else {
        return;
    };
    let target = SshTarget::new("codes-1", &options(&fleet));
    let done = target
        .exec(
            &exec(
                "echo out; echo err >&2; exit 7",
                &[],
                Duration::from_secs(10),
            ),
            &AbortSignal::never(),
        )
        .unwrap();
    assert_eq!(done.exit_code, Some(7));
    assert_eq!(done.stdout.tail_text(), "out\n");
    assert_eq!(done.stderr.tail_text(), "err\n");
}

#[test]
fn a_timeout_kills_the_remote_process_group_not_only_the_local_client() {
    let Some(fleet) = fleet::up("tmo", 1) else {
        return;
    };
    let target = SshTarget::new("tmo-1", &options(&fleet));
    // A pipeline and a background child: all of the group must go.
    let done = target
        .exec(
            &exec(
                "sleep 313 & sleep 314 | cat; echo never",
                &[],
                Duration::from_millis(800),
            ),
            &AbortSignal::never(),
        )
        .unwrap();
    assert!(done.timed_out);
    assert!(!done.stdout.tail_text().contains("never"));
    std::thread::sleep(Duration::from_millis(300));
    let left = fleet.in_host("tmo-1", "pgrep -f 'sleep 31[34]' || true");
    assert_eq!(
        String::from_utf8_lossy(&left.stdout).trim(),
        "",
        "remote processes survived the timeout"
    );
}

#[test]
fn an_abort_kills_the_remote_command() {
    let Some(fleet) = fleet::up("abrt", 1) else {
        return;
    };
    let target = SshTarget::new("abrt-1", &options(&fleet));
    let abort = AbortSignal::never();
    let raise = abort.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        raise.raise();
    });
    let done = target
        .exec(&exec("sleep 315", &[], Duration::from_secs(60)), &abort)
        .unwrap();
    assert!(done.aborted);
    std::thread::sleep(Duration::from_millis(300));
    let left = fleet.in_host("abrt-1", "pgrep -f 'sleep 31[5]' || true");
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "");
}

#[test]
fn an_unknown_host_key_refuses_the_host_with_the_keyscan_fix() {
    let Some(fleet) = fleet::up("unk", 1) else {
        return;
    };
    std::fs::write(&fleet.known_hosts, "").unwrap();
    let target = SshTarget::new("unk-1", &options(&fleet));
    let err = target.connect().unwrap_err();
    assert!(matches!(err, SshError::UnknownHostKey { .. }), "{err:?}");
    use tejun_locale::{Lang, Localize};
    assert!(err.localize(Lang::En).contains("ssh-keyscan unk-1"));
    assert!(err.localize(Lang::Ja).contains("known_hosts にありません"));
}

#[test]
fn a_changed_host_key_refuses_the_host() {
    let Some(mut fleet) = fleet::up("chg", 1) else {
        return;
    };
    fleet.change_host_key("chg-1");
    let target = SshTarget::new("chg-1", &options(&fleet));
    let err = target.connect().unwrap_err();
    assert!(matches!(err, SshError::ChangedHostKey { .. }), "{err:?}");
    assert!(
        tejun_locale::Localize::localize(&err, tejun_locale::Lang::En)
            .contains("ssh-keygen -R chg-1")
    );
}

#[test]
fn steps_share_one_master_that_closes_with_the_target() {
    let Some(fleet) = fleet::up("mux", 1) else {
        return;
    };
    let target = SshTarget::new("mux-1", &options(&fleet));
    target.connect().unwrap();
    assert!(target.control_path().exists());
    // Each step reports the client end of its connection: with one master
    // they are all the same socket (counting connections afterwards alone
    // would pass for steps that each opened and closed their own).
    let mut clients = Vec::new();
    for _ in 0..3 {
        let done = target
            .exec(
                &exec("echo \"$SSH_CONNECTION\"", &[], Duration::from_secs(10)),
                &AbortSignal::never(),
            )
            .unwrap();
        assert_eq!(done.exit_code, Some(0));
        clients.push(done.stdout.tail_text().trim().to_string());
    }
    assert!(!clients[0].is_empty(), "no SSH_CONNECTION on the host");
    assert!(
        clients.iter().all(|c| c == &clients[0]),
        "steps used different connections: {clients:?}"
    );
    // Established connections to this host's sshd (its own network
    // namespace, so no other test's connections are counted).
    let connections = fleet.in_host(
        "mux-1",
        "ss -Htn state established '( sport = :22 )' | wc -l",
    );
    let count: u32 = String::from_utf8_lossy(&connections.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(count, 1, "steps opened their own connections");
    let control = target.control_path().to_path_buf();
    drop(target);
    assert!(!control.exists(), "the master socket outlived the target");
}

/// The wrapper notes the step's process group in a file on the host while
/// the step runs (what `tejun resume` reads after a crash) and removes it
/// when the step ends, whether it finished or was stopped; a variable
/// named like the wrapper's own cannot change what it notes.
#[test]
fn the_group_file_lives_while_the_step_runs_and_goes_when_it_ends() {
    let Some(fleet) = fleet::up("grp", 1) else {
        return;
    };
    let target = SshTarget::new("grp-1", &options(&fleet));
    let journal = fleet.dir.path().join("journal.db");
    let with_file = |command: &'static str, tag: &str, timeout: Duration| Exec {
        group_file: Some((journal.clone(), tag.to_string())),
        ..exec(command, &[], timeout)
    };
    // Finished: no group file left.
    let done = target
        .exec(
            &with_file("echo ok", "s1#1", Duration::from_secs(10)),
            &AbortSignal::never(),
        )
        .unwrap();
    assert_eq!(done.exit_code, Some(0), "{}", done.stderr.tail_text());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(target.stop_leftover(&journal, "s1#1"), None);
    // Timed out: the group is killed and the file goes with it.
    let done = target
        .exec(
            &with_file("sleep 316", "s2#1", Duration::from_millis(600)),
            &AbortSignal::never(),
        )
        .unwrap();
    assert!(done.timed_out);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(target.stop_leftover(&journal, "s2#1"), None);
    // Running (as after a crash of the controller): the file names the
    // group, and stopping it ends the command. `tejun_pgid` and `IFS`
    // from the runbook do not change what the wrapper notes.
    let env = vec![
        ("tejun_pgid".to_string(), "1".to_string()),
        ("IFS".to_string(), "0123456789".to_string()),
    ];
    let runner = std::thread::scope(|scope| {
        let running = scope.spawn(|| {
            target.exec(
                &Exec {
                    env: &env,
                    ..with_file("sleep 317", "s3#1", Duration::from_secs(20))
                },
                &AbortSignal::never(),
            )
        });
        std::thread::sleep(Duration::from_millis(1500));
        let pgid = target.stop_leftover(&journal, "s3#1");
        let done = running.join().unwrap().unwrap();
        (pgid, done)
    });
    let (pgid, done) = runner;
    let pgid = pgid.expect("no group file while the step ran");
    assert!(pgid > 1, "noted group {pgid}");
    assert!(!done.timed_out, "the leftover stop did not end the command");
    let left = fleet.in_host("grp-1", "pgrep -f 'sleep 31[67]' || true");
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "");
}
