//! `tejun scan` progress: a byte bar on a terminal, nothing when piped or
//! with `--json`. The terminal is a real pseudo-terminal from util-linux's
//! `script` (Debian: bsdutils, essential).

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;

const FILTER: &str = "/etc/fail2ban/filter.d/sshd.conf";

fn tejun() -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.env("TZ", "UTC").env("LANG", "C").env("NO_COLOR", "1");
    cmd
}

/// ~5 MiB of auth.log: large enough for several progress steps (1 MiB) and
/// for the scan to split the file over threads.
fn big_log(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for i in 0..60_000u32 {
        let (h, m, s) = (i / 3600 % 24, i / 60 % 60, i % 60);
        if i % 4 == 0 {
            text.push_str(&format!(
                "Nov 21 {h:02}:{m:02}:{s:02} web1 sshd[{}]: Failed password for root from 203.0.{}.{} port 2222 ssh2\n",
                1000 + i % 5000,
                i / 250 % 256,
                1 + i % 250
            ));
        } else {
            text.push_str(&format!(
                "Nov 21 {h:02}:{m:02}:{s:02} web1 CRON[{}]: pam_unix(cron:session): session closed for user root\n",
                1000 + i % 5000
            ));
        }
    }
    let path = dir.join("auth.log");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs `tejun scan LOG --fail2ban-filter sshd.conf EXTRA` with stderr on a
/// pseudo-terminal (stdout to a file); returns what the terminal showed.
fn on_terminal(log: &Path, extra: &str, stdout: &Path) -> String {
    let bin = assert_cmd::cargo::cargo_bin("tejun");
    let command = format!(
        "{} scan {} --fail2ban-filter {FILTER} {extra} > {}",
        bin.display(),
        log.display(),
        stdout.display()
    );
    let out = StdCommand::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TZ", "UTC")
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux `script` is needed: apt-get install -y bsdutils");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn terminal_shows_a_byte_progress_bar_but_not_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = big_log(dir.path());
    let shown = on_terminal(&log, "", &dir.path().join("table.txt"));
    assert!(
        shown.contains("scanning") && shown.contains("MiB"),
        "no progress bar on the terminal: {shown:?}"
    );
    let table = std::fs::read_to_string(dir.path().join("table.txt")).unwrap();
    assert!(
        table.contains("15000 hits"),
        "the results still go to stdout: {table}"
    );

    let shown = on_terminal(&log, "--json", &dir.path().join("out.json"));
    assert!(
        !shown.contains("scanning"),
        "--json draws no bar: {shown:?}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(json["rules"][0]["matches"], 15_000);
}

#[test]
fn piped_scan_writes_nothing_to_stderr_and_the_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = big_log(dir.path());
    let out = tejun()
        .arg("scan")
        .arg(&log)
        .args(["--fail2ban-filter", FILTER, "--json"])
        .assert()
        .success();
    let output = out.get_output();
    assert!(
        output.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The JSON is streamed; it must still be one complete document.
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["files"][0]["lines"], 60_000);
    assert_eq!(json["rules"][0]["matches"], 15_000);
    let offenders = json["rules"][0]["offenders"].as_array().unwrap();
    assert_eq!(offenders.len(), 15_000, "one address per failure");
}
