//! `tejun scan` as a user runs it: real files, real fail2ban filters, bad
//! input that must not stop the other files.

use std::io::Write;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

fn tejun() -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.env("TZ", "UTC").env("LANG", "C").env("NO_COLOR", "1");
    cmd
}

const AUTH: &str = "Nov 21 10:00:01 web1 sshd[123]: Failed password for invalid user admin from 203.0.113.5 port 2222 ssh2
Nov 21 10:00:02 web1 sshd[123]: Failed password for root from 203.0.113.5 port 2222 ssh2
Nov 21 10:00:03 web1 sshd[124]: Accepted publickey for deploy from 198.51.100.1 port 22 ssh2
Nov 21 10:00:04 web1 sshd[125]: Invalid user test from ::ffff:192.0.2.9 port 22
";

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn builtin_sshd_counts_offenders_and_users() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "auth.log", AUTH.as_bytes());
    let out = tejun()
        .arg("scan")
        .arg(&log)
        .args(["--builtin", "sshd", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let offenders = &json["rules"][0]["offenders"];
    assert_eq!(offenders[0]["host"], "203.0.113.5");
    assert_eq!(offenders[0]["count"], 2);
    assert_eq!(offenders[0]["users"], serde_json::json!(["admin", "root"]));
    assert_eq!(
        offenders[1]["host"], "192.0.2.9",
        "IPv4-mapped IPv6 is normalised"
    );
}

#[test]
fn debian_sshd_filter_with_jail_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2_like_gzip(AUTH.as_bytes());
    let log = write(&dir, "auth.log.1.gz", &std::mem::take(&mut gz));
    let jail = write(
        &dir,
        "jail.local",
        b"[DEFAULT]\nbantime = 1h\n[sshd]\nenabled = true\nmaxretry = 3\nfindtime = 10m\n",
    );
    tejun()
        .arg("scan")
        .arg(&log)
        .args([
            "--fail2ban-filter",
            "/etc/fail2ban/filter.d/sshd.conf",
            "--jail",
        ])
        .arg(&jail)
        .args(["--jail-name", "sshd"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("203.0.113.5").and(
                predicate::str::contains("2026-11-21 10:00:01 UTC")
                    .or(predicate::str::contains("10:00:01")),
            ),
        );
}

/// gzip via the system tool, so the test does not depend on our own writer.
fn flate2_like_gzip(data: &[u8]) -> Vec<u8> {
    let mut child = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip is installed");
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn bad_files_are_reported_and_others_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "auth.log", AUTH.as_bytes());
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let binary = write(&dir, "garbage.bin", &garbage);
    let mut huge = vec![b'x'; 10 << 20];
    huge.extend_from_slice(b"\n");
    huge.extend_from_slice(AUTH.lines().next().unwrap().as_bytes());
    huge.extend_from_slice(b"\n");
    let long = write(&dir, "long.log", &huge);
    let mut invalid = b"Nov 21 10:00:05 web1 sshd[9]: Failed password for \xff\xfe from 203.0.113.77 port 1 ssh2\n".to_vec();
    invalid.extend_from_slice(b"\xc3\x28 noise\n");
    let bad_utf8 = write(&dir, "bad-utf8.log", &invalid);
    let missing = dir.path().join("missing.log");
    let out = tejun()
        .arg("scan")
        .args([&good, &binary, &long, &bad_utf8, &missing])
        .args(["--builtin", "sshd", "--json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.log"));
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files[0]["hits"], 3);
    assert!(files[1]["binary_lines"].as_u64().unwrap() > 0);
    assert_eq!(files[2]["long_lines"], 1);
    assert_eq!(
        files[2]["hits"], 1,
        "the line after a 10 MB line is still read"
    );
    assert_eq!(files[3]["hits"], 1, "invalid UTF-8 is read lossily");
    assert!(files[4]["error"].as_str().is_some());
}

#[test]
fn unsupported_filter_construct_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "auth.log", AUTH.as_bytes());
    let filter = write(
        &dir,
        "weird.conf",
        b"[Definition]\nfailregex = sshd\\[\\d+\\]: Failed \\S+ for .* from <HOST> port\n            ^broken (unclosed <HOST>\n",
    );
    tejun()
        .arg("scan")
        .arg(&log)
        .arg("--fail2ban-filter")
        .arg(&filter)
        .assert()
        .success()
        .stderr(
            predicate::str::contains("unsupported pattern")
                .and(predicate::str::contains("^broken (unclosed <HOST>")),
        )
        .stdout(predicate::str::contains("203.0.113.5"));
    let empty = write(&dir, "empty.conf", b"[Definition]\nfailregex =\n");
    tejun()
        .arg("scan")
        .arg(&log)
        .arg("--fail2ban-filter")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no failregex"));
}

#[test]
fn rule_yaml_errors_have_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "auth.log", AUTH.as_bytes());
    let rules = write(
        &dir,
        "rules.yaml",
        b"rules:\n  - name: x\n    regex:\n      - 'no host group here'\n",
    );
    tejun()
        .arg("scan")
        .arg(&log)
        .arg("--rules")
        .arg(&rules)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("rules.yaml:4:").and(predicate::str::contains("host capture")),
        );
}

#[test]
fn redos_pattern_completes_instantly_on_the_linear_engine() {
    let dir = tempfile::tempdir().unwrap();
    let mut line = String::from("203.0.113.9 ");
    line.push_str(&"a".repeat(50_000));
    line.push('!');
    line.push('\n');
    let log = write(&dir, "evil.log", line.repeat(20).as_bytes());
    let rules = write(
        &dir,
        "rules.yaml",
        b"rules:\n  - name: redos\n    regex:\n      - '^<HOST> (a+)+$'\n",
    );
    let start = Instant::now();
    tejun()
        .arg("scan")
        .arg(&log)
        .arg("--rules")
        .arg(&rules)
        .assert()
        .success()
        .stdout(predicate::str::contains("matches 0"));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    // The same shape forced onto the backtracking engine (a look-ahead makes
    // it need one) stops at the backtracking limit: counted, not hung.
    let fancy = write(
        &dir,
        "fancy.yaml",
        b"rules:\n  - name: redos\n    regex:\n      - '^<HOST> ((?=a)a+)+$'\n",
    );
    let start = Instant::now();
    tejun()
        .arg("scan")
        .arg(&log)
        .arg("--rules")
        .arg(&fancy)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "pattern runs stopped at the backtracking limit",
        ));
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn since_until_and_bad_times() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "auth.log", AUTH.as_bytes());
    let out = tejun()
        .arg("scan")
        .arg(&log)
        .args([
            "--builtin",
            "sshd",
            "--json",
            "--since",
            "2026-11-21T10:00:02Z",
            "--until",
            "2026-11-21T10:00:03Z",
        ])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["rules"][0]["matches"], 1);
    tejun()
        .arg("scan")
        .arg(&log)
        .args(["--builtin", "sshd", "--since", "yesterday-ish"])
        .assert()
        .code(2);
    tejun()
        .arg("scan")
        .arg(&log)
        .args(["--builtin", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("web-attacks"));
}

/// `tejun scan big.log | head -3` is how a table gets read: the reader
/// leaving must end the scan quietly, not panic on the closed pipe.
#[test]
fn a_closed_pipe_ends_the_table_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    // Enough offenders that the table outgrows the pipe and the buffer.
    let log: String = (0..40_000)
        .map(|i| {
            format!(
                "Nov 21 10:00:01 web1 sshd[1]: Invalid user u from 10.{}.{}.{} port 22\n",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )
        })
        .collect();
    let log = write(&dir, "auth.log", log.as_bytes());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("tejun"))
        .env("TZ", "UTC")
        .env("LANG", "C")
        .arg("scan")
        .arg(&log)
        .args(["--builtin", "sshd"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("rule sshd"), "{first}");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

#[test]
fn japanese_table_header_lines_up_with_its_rows() {
    use unicode_width::UnicodeWidthStr;
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "auth.log", AUTH.as_bytes());
    let out = tejun()
        .env("LANG", "ja_JP.UTF-8")
        .arg("scan")
        .arg(&log)
        .args(["--builtin", "sshd"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let header = text.lines().find(|l| l.contains("件数")).unwrap();
    let row = text.lines().find(|l| l.contains("203.0.113.5")).unwrap();
    // Where each column ends, in display cells: the count is right-aligned
    // under 件数, and the first time starts where 最初 does.
    let cells_to = |line: &str, needle: &str, end: bool| {
        let at = line.find(needle).unwrap() + if end { needle.len() } else { 0 };
        line[..at].width()
    };
    assert_eq!(
        cells_to(header, "件数", true),
        cells_to(row, " 2 ", true) - 1
    );
    assert_eq!(
        cells_to(header, "最初", false),
        cells_to(row, "2026", false)
    );
}
