//! Every kind of tampering someone with `sqlite3` on the database file could
//! do, done exactly that way (raw SQL on the file), and what `verify` says.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use serde_json::json;
use tejun_journal::{Journal, NewEvent, Tamper, TamperKind};

/// A journal of `n` events on disk; every third carries refs.
fn journal(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let journal = Journal::open(&path).unwrap();
    for i in 1..=n {
        let refs = if i % 3 == 0 {
            vec![format!("incident/{i}"), "ban/10.0.0.1".to_string()]
        } else {
            vec![]
        };
        journal
            .append(NewEvent {
                stream: &format!("run/r{}", i % 2),
                refs: &refs,
                kind: if i == 1 {
                    "run.started"
                } else {
                    "step.finished"
                },
                actor: "alice@host",
                payload: &json!({"i": i, "note": "ok"}),
                ts: None,
            })
            .unwrap();
    }
    (dir, path)
}

fn sql(path: &Path, statements: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(statements).unwrap();
}

fn first_bad(path: &Path) -> Option<Tamper> {
    Journal::open(path).unwrap().verify().unwrap().first_bad
}

fn bad(seq: i64, problem: TamperKind) -> Option<Tamper> {
    Some(Tamper { seq, problem })
}

#[test]
fn an_untouched_journal_verifies() {
    let (_dir, path) = journal(7);
    let report = Journal::open(&path).unwrap().verify().unwrap();
    assert_eq!(report.checked, 7);
    assert_eq!(report.first_bad, None);
}

#[test]
fn an_empty_journal_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let report = Journal::open(&dir.path().join("j.db"))
        .unwrap()
        .verify()
        .unwrap();
    assert_eq!((report.checked, report.first_bad), (0, None));
}

#[test]
fn edited_payload_is_named() {
    let (_dir, path) = journal(6);
    sql(
        &path,
        r#"UPDATE events SET payload = '{"i":3,"note":"fine"}' WHERE seq = 3"#,
    );
    assert_eq!(first_bad(&path), bad(3, TamperKind::Edited));
}

#[test]
fn payload_whitespace_alone_is_an_edit() {
    let (_dir, path) = journal(6);
    sql(
        &path,
        r#"UPDATE events SET payload = '{"i": 4,"note":"ok"}' WHERE seq = 4"#,
    );
    assert_eq!(first_bad(&path), bad(4, TamperKind::Edited));
}

#[test]
fn every_column_is_covered() {
    for (column, value) in [
        ("ts", "2020-01-01T00:00:00.000000000Z"),
        ("recorded_at", "2020-01-01T00:00:00.000000000Z"),
        ("stream", "run/other"),
        ("kind", "run.ended"),
        ("actor", "mallory@host"),
        ("hash", "00"),
    ] {
        let (_dir, path) = journal(5);
        sql(
            &path,
            &format!("UPDATE events SET {column} = '{value}' WHERE seq = 2"),
        );
        assert_eq!(
            first_bad(&path),
            bad(2, TamperKind::Edited),
            "column {column}"
        );
    }
}

#[test]
fn edited_prev_hash_breaks_the_link() {
    let (_dir, path) = journal(5);
    sql(&path, "UPDATE events SET prev_hash = hash WHERE seq = 4");
    assert_eq!(first_bad(&path), bad(4, TamperKind::BrokenLink));
}

#[test]
fn refs_are_covered() {
    // Event 3 has two refs.
    for statement in [
        "DELETE FROM event_refs WHERE seq = 3 AND pos = 1",
        "UPDATE event_refs SET subject = 'incident/99' WHERE seq = 3 AND pos = 0",
        "INSERT INTO event_refs (seq, pos, subject) VALUES (3, 2, 'incident/1')",
        "UPDATE event_refs SET pos = 5 - pos WHERE seq = 3",
        "INSERT INTO event_refs (seq, pos, subject) VALUES (2, 0, 'incident/1')",
    ] {
        let (_dir, path) = journal(5);
        sql(&path, statement);
        let expected = if statement.contains("(2, 0") { 2 } else { 3 };
        assert_eq!(
            first_bad(&path),
            bad(expected, TamperKind::Edited),
            "{statement}"
        );
    }
}

#[test]
fn ref_to_a_missing_event_is_reported() {
    let (_dir, path) = journal(5);
    sql(
        &path,
        "INSERT INTO event_refs (seq, pos, subject) VALUES (40, 0, 'incident/1')",
    );
    assert!(first_bad(&path).is_some());
}

#[test]
fn deleted_middle_event_is_named() {
    let (_dir, path) = journal(6);
    sql(&path, "DELETE FROM events WHERE seq = 3");
    assert_eq!(first_bad(&path), bad(3, TamperKind::Deleted));
}

#[test]
fn deleted_and_renumbered_breaks_the_link() {
    let (_dir, path) = journal(6);
    sql(
        &path,
        "DELETE FROM events WHERE seq = 3;
         UPDATE events SET seq = seq + 1000 WHERE seq > 3;
         UPDATE events SET seq = seq - 1001 WHERE seq > 1000;",
    );
    assert_eq!(first_bad(&path), bad(3, TamperKind::BrokenLink));
}

#[test]
fn deleted_last_event_is_named() {
    let (_dir, path) = journal(6);
    sql(&path, "DELETE FROM events WHERE seq = 6");
    assert_eq!(first_bad(&path), bad(6, TamperKind::Deleted));
}

#[test]
fn deleting_everything_is_named() {
    let (_dir, path) = journal(4);
    sql(&path, "DELETE FROM events; DELETE FROM event_refs;");
    assert_eq!(first_bad(&path), bad(1, TamperKind::Deleted));
}

#[test]
fn appending_after_a_tail_deletion_keeps_the_gap_visible() {
    let (_dir, path) = journal(4);
    sql(&path, "DELETE FROM events WHERE seq = 4");
    let journal = Journal::open(&path).unwrap();
    let entry = journal
        .append(NewEvent {
            stream: "run/x",
            refs: &[],
            kind: "k",
            actor: "a",
            payload: &json!(1),
            ts: None,
        })
        .unwrap();
    assert_eq!(
        entry.seq, 5,
        "appends chain onto the head, not onto the surviving tail"
    );
    assert_eq!(
        journal.verify().unwrap().first_bad,
        bad(4, TamperKind::Deleted)
    );
}

#[test]
fn inserted_duplicate_in_the_middle_is_named() {
    let (_dir, path) = journal(6);
    sql(
        &path,
        "UPDATE events SET seq = seq + 1000 WHERE seq >= 3;
         UPDATE events SET seq = seq - 999 WHERE seq > 1000;
         INSERT INTO events SELECT 3, ts, recorded_at, stream, kind, actor, payload, prev_hash, hash
           FROM events WHERE seq = 2;",
    );
    assert_eq!(first_bad(&path), bad(3, TamperKind::BrokenLink));
}

#[test]
fn forged_row_at_the_end_is_named() {
    let (_dir, path) = journal(4);
    sql(
        &path,
        "INSERT INTO events SELECT 5, ts, recorded_at, stream, kind, actor,
            '{\"forged\":true}', hash, hash FROM events WHERE seq = 4",
    );
    assert_eq!(first_bad(&path), bad(5, TamperKind::Edited));
}

/// The strongest forgery short of rewriting the head: a row with a correct
/// seq, link and hash, made by appending to a copy of the database.
#[test]
fn perfectly_forged_row_at_the_end_is_caught_by_the_head() {
    let (dir, path) = journal(4);
    let copy = dir.path().join("copy.db");
    Connection::open(&path)
        .unwrap()
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    Journal::open(&copy)
        .unwrap()
        .append(NewEvent {
            stream: "run/r0",
            refs: &[],
            kind: "run.ended",
            actor: "mallory",
            payload: &json!({}),
            ts: None,
        })
        .unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS copy", [copy.to_str().unwrap()])
        .unwrap();
    conn.execute(
        "INSERT INTO events SELECT * FROM copy.events WHERE seq = 5",
        [],
    )
    .unwrap();
    drop(conn);
    assert_eq!(
        Journal::open(&copy).unwrap().verify().unwrap().first_bad,
        None
    );
    assert_eq!(first_bad(&path), bad(5, TamperKind::HeadMismatch));
}

#[test]
fn swapped_rows_are_named() {
    let swap = |a: i64, b: i64| {
        format!(
            "UPDATE events SET seq = -1 WHERE seq = {a};
             UPDATE events SET seq = {a} WHERE seq = {b};
             UPDATE events SET seq = {b} WHERE seq = -1;"
        )
    };
    for (a, b) in [(2, 5), (3, 4), (1, 6)] {
        let (_dir, path) = journal(6);
        sql(&path, &swap(a, b));
        assert_eq!(
            first_bad(&path),
            bad(a, TamperKind::BrokenLink),
            "swap {a}<->{b}"
        );
    }
}

#[test]
fn swapped_payloads_are_named() {
    let (_dir, path) = journal(6);
    let conn = Connection::open(&path).unwrap();
    let p2: String = conn
        .query_row("SELECT payload FROM events WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    let p4: String = conn
        .query_row("SELECT payload FROM events WHERE seq = 4", [], |r| r.get(0))
        .unwrap();
    conn.execute("UPDATE events SET payload = ?1 WHERE seq = 2", params![p4])
        .unwrap();
    conn.execute("UPDATE events SET payload = ?1 WHERE seq = 4", params![p2])
        .unwrap();
    drop(conn);
    assert_eq!(first_bad(&path), bad(2, TamperKind::Edited));
}

#[test]
fn edited_head_is_reported() {
    let (_dir, path) = journal(4);
    sql(&path, "UPDATE chain_head SET last_hash = 'ff'");
    assert_eq!(first_bad(&path), bad(4, TamperKind::HeadMismatch));
    let (_dir, path) = journal(4);
    sql(&path, "UPDATE chain_head SET count = 9");
    assert_eq!(first_bad(&path), bad(5, TamperKind::Deleted));
    let (_dir, path) = journal(4);
    sql(&path, "DELETE FROM chain_head");
    assert_eq!(first_bad(&path), bad(1, TamperKind::HeadMismatch));
}

/// The documented limit of a local chain: someone who cuts the tail *and*
/// rewrites the head leaves a chain that verifies. A head recorded elsewhere
/// (`Journal::head`) still exposes it.
#[test]
fn a_head_recorded_elsewhere_catches_a_rewritten_tail() {
    let (_dir, path) = journal(5);
    let recorded = Journal::open(&path).unwrap().head().unwrap();
    sql(
        &path,
        "DELETE FROM events WHERE seq = 5;
         UPDATE chain_head SET count = 4, last_hash = (SELECT hash FROM events WHERE seq = 4);",
    );
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.verify().unwrap().first_bad, None);
    assert_ne!(journal.head().unwrap(), recorded);
    assert_eq!(journal.hash_of(recorded.0).unwrap(), None);
    assert_eq!(journal.hash_of(4).unwrap().map(|h| h.len()), Some(64));
}

#[test]
fn non_text_column_is_an_edit() {
    let (_dir, path) = journal(3);
    sql(&path, "UPDATE events SET payload = x'7b7d' WHERE seq = 2");
    assert_eq!(first_bad(&path), bad(2, TamperKind::Edited));
}

#[test]
fn describe_names_a_bad_event_even_when_mangled() {
    let (_dir, path) = journal(3);
    sql(
        &path,
        "UPDATE events SET kind = x'ff', stream = 7 WHERE seq = 2",
    );
    let journal = Journal::open(&path).unwrap();
    assert_eq!(
        journal.verify().unwrap().first_bad,
        bad(2, TamperKind::Edited)
    );
    let (kind, stream) = journal.describe(2).unwrap().unwrap();
    assert_eq!((kind.as_str(), stream.as_str()), ("<blob>", "7"));
    assert_eq!(
        journal.describe(3).unwrap(),
        Some(("step.finished".to_string(), "run/r1".to_string()))
    );
    assert_eq!(journal.describe(9).unwrap(), None);
}
