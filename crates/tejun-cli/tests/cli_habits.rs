//! Command-line habits an operator relies on, through the real binary:
//! completions survive `| head`, complete `--env` from the inventory and
//! `--lang` with ja/en; `run --json` events carry their time; `check`
//! finds the inventory beside the runbook, as `run` does.

use std::process::{Command, Stdio};

mod common;

use common::Lab;

#[test]
fn completions_piped_into_head_end_quietly() {
    let lab = Lab::new();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("tejun"))
        .args(["completions", "bash"])
        .current_dir(lab.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one line, then close the pipe as `head -1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{out:?}"
    );
}

#[test]
fn completions_offer_the_inventorys_environments_and_the_two_languages() {
    let lab = Lab::with_inventory("environments:\n  staging: {}\n  production: {}\n");
    let out = lab.tejun().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("staging production"),
        "--env values missing"
    );
    assert!(script.contains("ja en"), "--lang values missing");
}

#[test]
fn run_json_events_carry_their_time() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: t\nenv: dev\nexecute:\n  - run: 'true'\n",
    );
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        let ts = event["ts"]
            .as_str()
            .unwrap_or_else(|| panic!("no ts: {line}"));
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
    }
}

#[test]
fn check_finds_the_inventory_beside_the_runbook_as_run_does() {
    let lab = Lab::bare();
    lab.write("ops/tejun.yaml", "environments:\n  dev: {}\n");
    lab.write(
        "ops/book.yaml",
        "name: t\nenv: [dev, stagin]\nexecute:\n  - run: 'true'\n",
    );
    // From the directory above: no tejun.yaml here, one beside the runbook.
    lab.tejun()
        .args(["check", "ops/book.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "environment `stagin` is not defined",
        ));
}

#[test]
fn a_journal_named_watch_db_does_not_look_like_another_watcher() {
    let lab = Lab::new();
    lab.write("auth.log", "");
    lab.write(
        "watch.yaml",
        "ban: {backend: none}\nsources:\n  - name: ssh\n    paths: [auth.log]\n    builtin: web-attacks\n",
    );
    let mut child = lab
        .background()
        .env("TEJUN_DB", lab.path("watch.db"))
        .args(["watch", "--config", "watch.yaml"])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(still_running, "watch stopped: {stderr}");
    assert!(!stderr.contains("in use by another"), "{stderr}");
    assert!(lab.path("watch-state.db").is_file());
}
