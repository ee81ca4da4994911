//! `tejun scan` on the inputs a Debian or RHEL host has besides log files
//! (issue #22): pipes and standard input (gzip too), devices that never
//! end, and `--matches` for a filter author.

use std::io::Write;

use assert_cmd::Command;
use predicates::prelude::*;

fn tejun() -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.env("TZ", "UTC").env("LANG", "C").env("NO_COLOR", "1");
    cmd
}

/// Dated with the year, so the output does not depend on today.
const AUTH: &str = "2026-11-21T10:00:01+09:00 web1 sshd[123]: Failed password for invalid user admin from 203.0.113.5 port 2222 ssh2
2026-11-21 10:00:02 web1 sshd[123]: Failed password for root from 203.0.113.5 port 2222 ssh2
2026-11-21 10:00:03 web1 sshd[124]: Accepted publickey for deploy from 198.51.100.1 port 22 ssh2
2026-11-21 10:00:04 web1 sshd[125]: Invalid user test from ::ffff:192.0.2.9 port 22
";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

fn offenders_json(stdout: &[u8]) -> serde_json::Value {
    let json: serde_json::Value = serde_json::from_slice(stdout).unwrap();
    json["rules"][0]["offenders"].clone()
}

#[test]
fn scan_dash_reads_a_log_piped_to_standard_input() {
    let out = tejun()
        .args(["scan", "-", "--builtin", "sshd", "--json"])
        .write_stdin(AUTH)
        .assert()
        .success();
    let stdout = &out.get_output().stdout;
    let offenders = offenders_json(stdout);
    assert_eq!(offenders[0]["host"], "203.0.113.5");
    assert_eq!(offenders[0]["count"], 2);
    let json: serde_json::Value = serde_json::from_slice(stdout).unwrap();
    assert_eq!(json["files"][0]["path"], "-");
    assert_eq!(json["files"][0]["lines"], 4);
}

#[test]
fn scan_dev_stdin_reads_a_pipe() {
    tejun()
        .args(["scan", "/dev/stdin", "--builtin", "sshd"])
        .write_stdin(AUTH)
        .assert()
        .success()
        .stdout(predicate::str::contains("/dev/stdin: 4 lines, 3 hits"))
        .stderr(predicate::str::contains("Illegal seek").not());
}

#[test]
fn scan_decompresses_gzip_on_standard_input_by_its_magic_bytes() {
    let out = tejun()
        .args(["scan", "-", "--builtin", "sshd", "--json"])
        .write_stdin(gzip(AUTH.as_bytes()))
        .assert()
        .success();
    let offenders = offenders_json(&out.get_output().stdout);
    assert_eq!(offenders[0]["host"], "203.0.113.5");
    assert_eq!(offenders[1]["host"], "192.0.2.9");
}

/// A rotated log compressed without the `.gz` name is still read as gzip.
#[test]
fn scan_reads_a_gzip_file_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log.2");
    std::fs::write(&log, gzip(AUTH.as_bytes())).unwrap();
    tejun()
        .arg("scan")
        .arg(&log)
        .args(["--builtin", "sshd"])
        .assert()
        .success()
        .stdout(predicate::str::contains("4 lines, 3 hits"));
}

/// `/dev/zero` never ends: refused by name, exit 2, and no report at all
/// (not "0 lines" and success), even beside a good file.
#[test]
fn scan_refuses_a_device_that_never_ends_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, AUTH).unwrap();
    tejun()
        .arg("scan")
        .arg(&log)
        .args(["/dev/zero", "--builtin", "sshd"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(
            "error: /dev/zero: is a character device, which may never end",
        ));
    tejun()
        .env("LANG", "ja_JP.UTF-8")
        .args(["scan", "/dev/zero", "--builtin", "sshd"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "エラー: /dev/zero: キャラクタデバイスは終わらない可能性がある",
        ));
}

/// Standard input redirected from a device is refused the same way, and
/// `-` twice is refused (standard input can be read once).
#[test]
fn scan_refuses_standard_input_from_a_device_and_dash_twice() {
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let mut from_zero = std::process::Command::new(assert_cmd::cargo::cargo_bin("tejun"));
    from_zero
        .env("TZ", "UTC")
        .env("LANG", "C")
        .args(["scan", "-", "--builtin", "sshd"])
        .stdin(zero);
    // Run as is (assert_cmd would give the child a pipe of its own), and
    // killed if it reads the device after all rather than hang the suite.
    let mut child = from_zero
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    // Bounded: 20 s at most.
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("-: is a character device"), "{stderr}");
    tejun()
        .args(["scan", "-", "-", "--builtin", "sshd"])
        .write_stdin(AUTH)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "standard input is named more than once",
        ));
    // /dev/null ends at once: an empty input, not a refusal.
    tejun()
        .args(["scan", "/dev/null", "--builtin", "sshd"])
        .assert()
        .success()
        .stdout(predicate::str::contains("/dev/null: 0 lines, 0 hits"));
}

/// `--matches` lists every counted hit in input order with its rule, host,
/// time and user, then the per-input counts; `--json` gives JSON lines.
#[test]
fn scan_matches_prints_each_matching_line_with_rule_host_time_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, AUTH).unwrap();
    let text = tejun()
        .current_dir(dir.path())
        .args(["scan", "auth.log", "--builtin", "sshd", "--matches"])
        .assert()
        .success();
    let text = String::from_utf8(text.get_output().stdout.clone()).unwrap();
    insta::assert_snapshot!("scan_matches_text", text);
    let json = tejun()
        .args(["scan", "-", "--builtin", "sshd", "--matches", "--json"])
        .write_stdin(AUTH)
        .assert()
        .success();
    let json = String::from_utf8(json.get_output().stdout.clone()).unwrap();
    for line in json.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("one JSON object per line");
    }
    insta::assert_snapshot!("scan_matches_json", json);
    let ja = tejun()
        .env("LANG", "ja_JP.UTF-8")
        .current_dir(dir.path())
        .args(["scan", "auth.log", "--builtin", "sshd", "--matches"])
        .assert()
        .success();
    let ja = String::from_utf8(ja.get_output().stdout.clone()).unwrap();
    assert!(
        ja.starts_with("auth.log:1  ルール sshd  ホスト 203.0.113.5  日時 2026-11-21 01:00:01 UTC  ユーザー admin\n"),
        "{ja}"
    );
}

/// Hits outside --since/--until are not listed, as they are not counted.
#[test]
fn scan_matches_lists_only_hits_in_the_time_range() {
    let out = tejun()
        .args([
            "scan",
            "-",
            "--builtin",
            "sshd",
            "--matches",
            "--json",
            "--since",
            "2026-11-21T10:00:02Z",
        ])
        .write_stdin(AUTH)
        .assert()
        .success();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.get_output().stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| l["line_number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 4]);
}
