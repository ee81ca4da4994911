//! `tejun scan` and `tejun watch` on the systemd journal (issue #22): real
//! journal files, written by `systemd-journal-remote` from journal export
//! format (Debian's `systemd-journal-remote` package) and read through
//! `journalctl`, as on a Debian or RHEL host where sshd logs only there.

mod watch_common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

use watch_common::*;

const JOURNAL_REMOTE: &str = "/lib/systemd/systemd-journal-remote";

/// One journal entry: when (µs after now), which unit and process, what.
struct Entry<'a> {
    after_us: u64,
    unit: &'a str,
    comm: &'a str,
    message: String,
}

fn sshd(after_us: u64, message: String) -> Entry<'static> {
    Entry {
        after_us,
        unit: "sshd.service",
        comm: "sshd",
        message,
    }
}

fn failure(ip: &str, port: u32) -> String {
    format!("Failed password for root from {ip} port {port} ssh2")
}

/// Writes `entries` as the journal file `dir/name` (a fresh file each
/// call, as a journal rotates), timed from `base_us`.
fn write_journal(dir: &Path, name: &str, base_us: u64, entries: &[Entry<'_>]) {
    assert!(
        Path::new(JOURNAL_REMOTE).is_file(),
        "{JOURNAL_REMOTE} is missing: install Debian's systemd-journal-remote package (apt-get install -y systemd-journal-remote)"
    );
    std::fs::create_dir_all(dir).unwrap();
    let mut export = String::new();
    for (i, e) in entries.iter().enumerate() {
        let t = base_us + e.after_us;
        // A process per connection, as sshd has.
        let pid = 4000 + i;
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={t}\n__MONOTONIC_TIMESTAMP={t}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER=sshd\n_PID={pid}\n_SYSTEMD_UNIT={}\n_COMM={}\nPRIORITY=5\nMESSAGE={}\n\n",
            e.unit, e.comm, e.message
        ));
    }
    let source = dir.join(format!("{name}.export"));
    std::fs::write(&source, export).unwrap();
    let out = std::process::Command::new(JOURNAL_REMOTE)
        .arg(format!("--output={}", dir.join(name).display()))
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemd-journal-remote: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&source).unwrap();
}

fn now_us() -> u64 {
    jiff::Timestamp::now().as_microsecond() as u64
}

fn scan() -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.env("TZ", "UTC").env("LANG", "C").env("NO_COLOR", "1");
    cmd
}

fn journal_dir(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("journal")
}

/// A fail2ban filter read for the journal selects entries with its own
/// `journalmatch` (`_SYSTEMD_UNIT=sshd.service + _COMM=sshd`): an sshd-like
/// line from another unit is not counted, and each hit has the entry's
/// time.
#[test]
fn scan_reads_the_journal_with_the_filters_journalmatch() {
    let dir = tempfile::tempdir().unwrap();
    let journal = journal_dir(&dir);
    // 2026-11-21T10:00:00Z
    let base = 1_795_255_200_000_000;
    write_journal(
        &journal,
        "system.journal",
        base,
        &[
            sshd(0, failure("203.0.113.5", 1)),
            Entry {
                after_us: 1_000_000,
                unit: "fake.service",
                comm: "fake",
                message: failure("198.51.100.9", 2),
            },
            sshd(2_000_000, failure("203.0.113.5", 3)),
            sshd(
                3_000_000,
                "Accepted publickey for deploy from 192.0.2.1 port 4 ssh2".into(),
            ),
        ],
    );
    let out = scan()
        .args([
            "scan",
            "--fail2ban-filter",
            SSHD_FILTER,
            "--json",
            "--journal-directory",
        ])
        .arg(&journal)
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let offenders = json["rules"][0]["offenders"].as_array().unwrap();
    assert_eq!(offenders.len(), 1, "{json:#}");
    assert_eq!(offenders[0]["host"], "203.0.113.5");
    assert_eq!(offenders[0]["count"], 2);
    assert_eq!(offenders[0]["first"], "2026-11-21T10:00:00Z");
    assert_eq!(offenders[0]["last"], "2026-11-21T10:00:02Z");
    assert_eq!(json["files"][0]["lines"], 3, "the other unit is not read");

    // --unit instead of the filter's match, --since, and --matches.
    scan()
        .args(["scan", "--builtin", "sshd", "--matches", "--unit", "fake.service"])
        .args(["--since", "2026-11-21T10:00:01Z", "--journal-directory"])
        .arg(&journal)
        .assert()
        .success()
        .stdout(
            predicate::str::contains(
                "rule sshd  host 198.51.100.9  time 2026-11-21 10:00:01 UTC  user root\n  | web1 sshd[4001]: Failed password for root from 198.51.100.9 port 2 ssh2",
            )
            .and(predicate::str::contains("203.0.113.5").not()),
        );
}

/// A journal that cannot be read is reported by name and the scan fails
/// (exit 1), as an unreadable file does.
#[test]
fn scan_reports_a_journal_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    scan()
        .args(["scan", "--builtin", "sshd", "--journal-directory"])
        .arg(dir.path().join("missing"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read: journalctl"));
}

/// `watch` follows the journal, and across a restart resumes after the
/// last entry it counted: entries written while it was stopped are
/// counted (none lost), entries counted before are not counted again
/// (none doubled). Each failure has its own port, so the detection's
/// evidence shows exactly which entries were counted.
#[test]
fn watch_resumes_the_journal_from_its_cursor_with_nothing_lost_or_doubled() {
    let sources = "  - name: sshd-journal\n    journal: {directory: journal}\n    fail2ban: {filter: /etc/fail2ban/filter.d/sshd.conf, jail: jail.local}\n";
    let setup = Setup::new(3, 600, "start_at: beginning", sources);
    let journal = setup.path("journal");
    let base = now_us();
    // Two failures from .50, then three from .51, which trigger: once
    // .51 is seen, .50's two are counted.
    let mut first: Vec<Entry> = (1..=2)
        .map(|p| sshd(p, failure("192.0.2.50", p as u32)))
        .collect();
    first.extend((3..=5).map(|p| sshd(p, failure("192.0.2.51", p as u32))));
    write_journal(&journal, "system.journal", base, &first);
    let mut watch = setup.watch();
    watch.wait_for("the journal backlog", is("triggered", "192.0.2.51"));
    // Saved with the batch: the stop below saves again regardless.
    watch.stop();

    // Written while no watcher runs (a new file, as after a rotation).
    write_journal(
        &journal,
        "system@later.journal",
        base + 1_000,
        &[sshd(6, failure("192.0.2.50", 6))],
    );
    let mut watch = setup.watch();
    let t = watch.wait_for("the third failure of .50", is("triggered", "192.0.2.50"));
    assert_eq!(t["count"], 3);
    assert!(
        watch
            .drain_for(Duration::from_millis(700), |e| e["event"] == "triggered")
            .is_empty(),
        "nothing counted twice"
    );
    // Live: an entry written while watching is seen.
    write_journal(
        &journal,
        "system@live.journal",
        base + 2_000,
        &(7..=9)
            .map(|p| sshd(p, failure("192.0.2.52", p as u32)))
            .collect::<Vec<_>>(),
    );
    watch.wait_for("live entries", is("triggered", "192.0.2.52"));
    watch.stop();

    let triggered = setup.events("detect.triggered");
    let of = |ip: &str| -> Vec<Vec<String>> {
        triggered
            .iter()
            .filter(|t| t["offender"] == ip)
            .map(|t| {
                t["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["text"].as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let ports = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.split(" port ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let fifty = of("192.0.2.50");
    assert_eq!(fifty.len(), 1, "{triggered:#?}");
    assert_eq!(ports(&fifty[0]), ["1", "2", "6"]);
    assert!(
        fifty[0][0].starts_with("web1 sshd[4000]: Failed password"),
        "{fifty:?}"
    );
    assert_eq!(of("192.0.2.51").len(), 1);
    assert_eq!(of("192.0.2.52").len(), 1);
}

/// A journal source whose `journalctl` cannot start reading is said, in
/// the operator's language, without stopping the watcher.
#[test]
fn watch_says_when_the_journal_cannot_be_read() {
    let sources = "  - name: sshd-journal\n    journal: {directory: no-such-dir, match: '_COMM=sshd'}\n    builtin: sshd\n";
    let setup = Setup::new(3, 600, "", sources);
    let mut watch = setup.watch();
    let ended = watch.wait_for("journal_ended", |e| e["event"] == "journal_ended");
    assert_eq!(ended["source"], "sshd-journal");
    assert!(
        ended["error"].as_str().unwrap().contains("no-such-dir"),
        "{ended}"
    );
    watch.stop();
}

/// fail2ban's own jail settings carry over: a source that names only a
/// filter and a jail with `backend = systemd` reads the journal, with the
/// jail's `journalmatch` in place of the filter's (here Debian's unit name
/// and OpenSSH 9.8's `sshd-session`, which the filter's match misses).
#[test]
fn watch_maps_a_jail_with_backend_systemd_and_its_journalmatch() {
    let sources = "  - name: sshd\n    fail2ban: {filter: /etc/fail2ban/filter.d/sshd.conf, jail: jail.local}\n";
    let setup = Setup::new(2, 600, "start_at: beginning", sources);
    std::fs::write(
        setup.path("jail.local"),
        "[sshd]\nenabled = true\nbackend = systemd\njournalmatch = _SYSTEMD_UNIT=ssh.service\nfindtime = 600\nmaxretry = 2\nbantime = 600\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(setup.path("watch.yaml")).unwrap();
    // The system journal is not this test's: read the test's directory.
    let journal = setup.path("journal");
    write_journal(
        &journal,
        "system.journal",
        now_us(),
        &[1, 2].map(|p| Entry {
            after_us: p,
            unit: "ssh.service",
            comm: "sshd-session",
            message: failure("192.0.2.60", p as u32),
        }),
    );
    // The test's own journal directory; the match is left to the jail.
    std::fs::write(
        setup.path("watch.yaml"),
        config.replace(
            "  - name: sshd\n",
            "  - name: sshd\n    journal: {directory: journal}\n",
        ),
    )
    .unwrap();
    let mut watch = setup.watch();
    watch.wait_for("the jail's journalmatch", is("triggered", "192.0.2.60"));
    watch.stop();

    // Named by the jail alone, the source follows the system journal (from
    // its end: this host's journal is not the test's to read).
    std::fs::write(
        setup.path("watch.yaml"),
        config.replace("start_at: beginning", ""),
    )
    .unwrap();
    let watch = setup.watch();
    let started = watch.seen[0].clone();
    assert_eq!(started["journals"], 1, "{started}");
    assert_eq!(started["files"], 0, "{started}");
    watch.stop();

    // Without `backend = systemd` and with no paths, the source is refused
    // at its location.
    std::fs::write(
        setup.path("jail.local"),
        "[sshd]\nenabled = true\nmaxretry = 2\n",
    )
    .unwrap();
    std::fs::write(setup.path("watch.yaml"), config).unwrap();
    let out = setup.tejun(&[
        "watch",
        "--config",
        setup.path("watch.yaml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("watch.yaml:")
            && stderr.contains("its jail's backend is `auto`, not `systemd`"),
        "{stderr}"
    );
}
