//! `tejun bans` and `tejun unban` over a journal, without a watcher.

use std::process::{Command, Output};

use serde_json::{Value, json};
use tejun_journal::{Journal, NewEvent, Query};

fn tejun(db: &std::path::Path, args: &[&str]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("tejun"))
        .arg("--db")
        .arg(db)
        .args(args)
        .env("LANG", "C")
        .env("TZ", "Asia/Tokyo")
        .output()
        .unwrap()
}

fn event(journal: &Journal, kind: &str, offender: &str, payload: Value, ts: &str) {
    journal
        .append(NewEvent {
            stream: &format!("ban/{offender}"),
            refs: &[],
            kind,
            actor: "tejun-watch",
            payload: &payload,
            ts: Some(ts.parse().unwrap()),
        })
        .unwrap();
}

/// Three bans: one in force, one whose time ran out, one lifted.
fn seeded() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.db");
    let journal = Journal::open(&db).unwrap();
    let added = |offender: &str, until: &str| json!({"offender": offender, "rule": "sshd", "until": until, "bantime_s": 86400, "backend": "none"});
    event(
        &journal,
        "ban.added",
        "192.0.2.50",
        added("192.0.2.50", "2099-01-01T00:00:00Z"),
        "2026-11-22T01:54:36Z",
    );
    event(
        &journal,
        "ban.added",
        "2001:db8:1:2::/64",
        added("2001:db8:1:2::/64", "2020-01-02T00:00:00Z"),
        "2020-01-01T00:00:00Z",
    );
    event(
        &journal,
        "ban.added",
        "198.51.100.9",
        added("198.51.100.9", "2099-01-01T00:00:00Z"),
        "2026-11-22T01:00:00Z",
    );
    event(
        &journal,
        "ban.removed",
        "198.51.100.9",
        json!({"offender": "198.51.100.9", "reason": "manual"}),
        "2026-11-22T01:10:00Z",
    );
    (dir, db)
}

#[test]
fn without_a_journal_there_are_no_bans_and_none_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.db");
    let out = tejun(&db, &["bans"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no active bans"
    );
    let out = tejun(&db, &["bans", "--json"]);
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!([])
    );
    assert!(!db.exists());
}

#[test]
fn lists_only_bans_in_force_in_the_operator_zone() {
    let (_dir, db) = seeded();
    let out = tejun(&db, &["bans"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("OFFENDER"));
    assert!(
        lines[1].starts_with("192.0.2.50") && lines[1].contains("2026-11-22 10:54:36 JST"),
        "{text}"
    );
    let json: Value = serde_json::from_slice(&tejun(&db, &["bans", "--json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["offender"], "192.0.2.50");
    assert_eq!(json[0]["since"], "2026-11-22T01:54:36Z");
    let ja = Command::new(assert_cmd::cargo::cargo_bin("tejun"))
        .arg("--db")
        .arg(&db)
        .args(["--lang", "ja", "bans"])
        .env("TZ", "Asia/Tokyo")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&ja.stdout).starts_with("対象"));
}

#[test]
fn unban_lifts_a_ban_on_record() {
    let (_dir, db) = seeded();
    // Spelled as a dual-stack socket would log it.
    let out = tejun(&db, &["unban", "::ffff:192.0.2.50"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "unbanned 192.0.2.50"
    );
    let journal = Journal::open(&db).unwrap();
    let last = journal
        .query(&Query {
            subject: Some("ban/192.0.2.50"),
            ..Query::default()
        })
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.kind, "ban.removed");
    assert_eq!(
        last.payload,
        json!({"offender": "192.0.2.50", "reason": "manual"})
    );
    assert!(last.actor.contains('@'), "{}", last.actor);
    assert_eq!(
        serde_json::from_slice::<Value>(&tejun(&db, &["bans", "--json"]).stdout).unwrap(),
        json!([])
    );
    // Again: nothing to lift.
    let out = tejun(&db, &["unban", "192.0.2.50"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("192.0.2.50 is not banned"));
}

#[test]
fn unban_rejects_what_is_not_an_address() {
    let (_dir, db) = seeded();
    let out = tejun(&db, &["unban", "not-an-ip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`not-an-ip` is not an address or prefix")
    );
}
