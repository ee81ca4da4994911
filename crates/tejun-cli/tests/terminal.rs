//! Observations (#22) about what the terminal shows, through the real
//! binary; "on a terminal" is a real pseudo-terminal from util-linux's
//! `script`.

use std::process::Command as StdCommand;

use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::Lab;

/// Runs `tejun ARGS` in the lab with stdin, stdout and stderr on a
/// pseudo-terminal; returns what the terminal showed (escapes included).
fn on_terminal(lab: &Lab, args: &str) -> String {
    let bin = assert_cmd::cargo::cargo_bin("tejun");
    let out = StdCommand::new("script")
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .current_dir(lab.path(""))
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .env("TEJUN_AUDIT_KEY", lab.path("audit.key"))
        .env_remove("TEJUN_DB")
        .env_remove("TEJUN_INVENTORY")
        .env_remove("SUDO_USER")
        .output()
        .expect("util-linux `script` is needed: apt-get install -y bsdutils");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn on_a_terminal_the_step_header_with_its_command_stays_in_the_scrollback() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: reload\n    run: echo reloaded-marker\n",
    );
    let shown = on_terminal(&lab, "run book.yaml --env dev --yes");
    // Every line the terminal kept: carriage returns and erases drop what a
    // spinner drew over.
    let kept: Vec<String> = shown
        .split('\n')
        .map(|l| {
            let l = l.trim_end_matches('\r');
            l.rsplit('\r').next().unwrap_or(l).to_string()
        })
        .collect();
    assert!(
        kept.iter()
            .any(|l| l.contains("[1/1] execute reload") && l.contains("$ echo reloaded-marker")),
        "{shown:?}"
    );
    assert!(kept.iter().any(|l| l.contains("· 1 step ·")), "{shown:?}");
}

#[test]
fn retries_are_counted() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: flaky\n    run: test -f done || { touch done; exit 1; }\n    retries: 3\n    retry_delay: 10ms\n",
    );
    lab.run()
        .code(0)
        .stdout(contains("flaky (retry 1/3)").and(contains("retry 2/3").not()));
}

#[test]
fn plan_counts_one_step_and_promises_no_rollback_that_does_not_exist() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: only\n    run: echo hi\n",
    );
    lab.tejun()
        .args(["plan", "book.yaml", "--env", "dev"])
        .assert()
        .code(0)
        .stdout(
            contains("1 step, nothing run")
                .and(contains("no rollback plan"))
                .and(contains("rollback runs").not()),
        );
}

#[test]
fn a_mistyped_environment_gets_a_suggestion() {
    let lab = Lab::with_inventory("environments:\n  dev: {}\n  staging: {}\n");
    lab.write(
        "book.yaml",
        "name: x\nenv: [dev, staging]\nexecute:\n  - id: a\n    run: \"true\"\n",
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "stagin", "--yes"])
        .assert()
        .code(2)
        .stderr(contains(
            "unknown environment `stagin`; did you mean `staging`?",
        ));
    lab.tejun()
        .args([
            "--lang",
            "ja",
            "run",
            "book.yaml",
            "--env",
            "stagin",
            "--yes",
        ])
        .assert()
        .code(2)
        .stderr(contains("`staging` のことですか"));
}

#[test]
fn an_unsupported_language_is_refused() {
    let lab = Lab::new();
    lab.tejun()
        .args(["--lang", "fr", "runs"])
        .assert()
        .code(2)
        .stderr(contains("fr"));
}

/// Observation (#22): `tick 1..5` appeared only after ^C; output is shown
/// while the command still runs, indented under its step, and bounded.
#[test]
fn a_long_commands_output_is_streamed_while_it_runs() {
    use std::io::BufRead;
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: long\n    run: |\n      echo tick-1\n      sleep 30\n      echo tick-2\n",
    );
    let mut child = lab
        .background()
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let _ = tx.send(line.unwrap_or_default());
        }
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut seen = Vec::new();
    let streamed = loop {
        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
            Ok(line) => {
                let done = line.contains("│ tick-1");
                seen.push(line);
                if done {
                    break true;
                }
            }
            Err(_) if std::time::Instant::now() > deadline => break false,
            Err(_) => {}
        }
    };
    let still_running = child.try_wait().unwrap().is_none();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait();
    assert!(streamed && still_running, "{seen:?}");
}

#[test]
fn a_flood_of_output_is_bounded_on_screen() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: flood\n    run: seq 1 1000\n",
    );
    let out = lab.run().code(0).get_output().stdout.clone();
    let out = String::from_utf8_lossy(&out);
    let shown = out
        .lines()
        .filter(|l| l.starts_with("    │ ") && !l.contains("│ …"))
        .count();
    assert_eq!(shown, 40, "{out}");
    assert!(out.contains("960 more lines"), "{out}");
}
