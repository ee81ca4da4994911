//! `tejun audit verify` against a journal tampered with the way an attacker
//! with `sqlite3` would: raw SQL on the database file.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use tejun_journal::{Journal, NewEvent};

/// A journal with one run's worth of events: seq 1 run.started, 2..7 steps,
/// 8 run.ended.
fn journal() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".tejun/journal.db");
    let journal = Journal::open(&path).unwrap();
    let put = |kind: &str, payload: Value| {
        journal
            .append(NewEvent {
                stream: "run/0k3m9q2a",
                refs: &[],
                kind,
                actor: "alice@web-01",
                payload: &payload,
                ts: None,
            })
            .unwrap();
    };
    put(
        "run.started",
        json!({"run_id": "0k3m9q2a", "runbook": "nginx"}),
    );
    for step in ["backup", "syntax", "apply"] {
        put("step.started", json!({"step_id": step}));
        put(
            "step.finished",
            json!({"step_id": step, "status": "ok", "exit_code": 0}),
        );
    }
    put("run.ended", json!({"outcome": "succeeded"}));
    (dir, path)
}

fn sql(path: &Path, statements: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(statements)
        .unwrap();
}

fn tejun(path: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.arg("--db")
        .arg(path)
        .env("NO_COLOR", "1")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL");
    cmd
}

/// Runs `audit verify --json`; returns (exit code, report).
fn verify_json(path: &Path) -> (i32, Value) {
    let out = tejun(path)
        .args(["audit", "verify", "--json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output must parse ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code().unwrap(), report)
}

fn assert_first_bad(path: &Path, seq: i64, problem: &str) -> Value {
    let (code, report) = verify_json(path);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["intact"], false);
    assert_eq!(report["first_bad"]["seq"], seq, "{report}");
    assert_eq!(report["first_bad"]["problem"], problem, "{report}");
    report
}

#[test]
fn untouched_journal_is_intact() {
    let (_dir, path) = journal();
    let out = tejun(&path).args(["audit", "verify"]).assert().code(0);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("journal intact: 8 events verified"),
        "{stdout}"
    );
    let (code, report) = verify_json(&path);
    assert_eq!(code, 0);
    assert_eq!(report["intact"], true);
    assert_eq!(report["checked"], 8);
    assert_eq!(report["head"]["count"], 8);
    assert_eq!(report["head"]["hash"].as_str().unwrap().len(), 64);
    assert_eq!(report["first_bad"], Value::Null);
}

#[test]
fn edited_payload_is_named_in_english_and_japanese() {
    let (_dir, path) = journal();
    sql(
        &path,
        r#"UPDATE events SET payload = '{"exit_code":0,"status":"ok","step_id":"syntax-checked"}' WHERE seq = 5"#,
    );
    let report = assert_first_bad(&path, 5, "edited");
    assert_eq!(report["first_bad"]["kind"], "step.finished");
    assert_eq!(report["first_bad"]["stream"], "run/0k3m9q2a");

    let out = tejun(&path).args(["audit", "verify"]).assert().code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("journal TAMPERED: first bad event is seq 5"),
        "{stdout}"
    );
    assert!(stdout.contains("step.finished"), "{stdout}");
    assert!(stdout.contains("run/0k3m9q2a"), "{stdout}");
    assert!(stdout.contains("(edited)"), "{stdout}");

    let out = tejun(&path)
        .args(["--lang", "ja", "audit", "verify"])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("最初の不正なイベントは seq 5"), "{stdout}");
    assert!(stdout.contains("改ざん"), "{stdout}");
}

#[test]
fn deleted_middle_event_is_named() {
    let (_dir, path) = journal();
    sql(&path, "DELETE FROM events WHERE seq = 4");
    let report = assert_first_bad(&path, 4, "deleted");
    assert_eq!(
        report["first_bad"]["kind"],
        Value::Null,
        "a deleted event has no kind left"
    );
}

#[test]
fn deleted_last_event_is_named() {
    let (_dir, path) = journal();
    sql(&path, "DELETE FROM events WHERE seq = 8");
    assert_first_bad(&path, 8, "deleted");
}

#[test]
fn inserted_forged_row_is_named() {
    let (_dir, path) = journal();
    // A plausible run.ended claiming a different outcome, chained onto the
    // real last event.
    sql(
        &path,
        r#"INSERT INTO events (seq, ts, recorded_at, stream, kind, actor, payload, prev_hash, hash)
           SELECT 9, ts, recorded_at, stream, 'run.ended', actor, '{"outcome":"rolled-back"}', hash,
                  '0000000000000000000000000000000000000000000000000000000000000001'
           FROM events WHERE seq = 8"#,
    );
    let report = assert_first_bad(&path, 9, "edited");
    assert_eq!(report["first_bad"]["kind"], "run.ended");
}

#[test]
fn inserted_row_in_the_middle_is_named() {
    let (_dir, path) = journal();
    sql(
        &path,
        "UPDATE events SET seq = seq + 100 WHERE seq >= 3;
         UPDATE events SET seq = seq - 99 WHERE seq > 100;
         INSERT INTO events SELECT 3, ts, recorded_at, stream, kind, actor, payload, prev_hash, hash
           FROM events WHERE seq = 2;",
    );
    assert_first_bad(&path, 3, "broken-link");
}

#[test]
fn swapped_rows_are_named() {
    let (_dir, path) = journal();
    sql(
        &path,
        "UPDATE events SET seq = -1 WHERE seq = 3;
         UPDATE events SET seq = 3 WHERE seq = 6;
         UPDATE events SET seq = 6 WHERE seq = -1;",
    );
    let report = assert_first_bad(&path, 3, "broken-link");
    assert!(
        report["first_bad"]["message_en"]
            .as_str()
            .unwrap()
            .contains("reordered")
    );
    assert!(
        report["first_bad"]["message_ja"]
            .as_str()
            .unwrap()
            .contains("並べ替え")
    );
}

#[test]
fn swapped_contents_are_named() {
    let (_dir, path) = journal();
    // Swap everything but the seq between rows 2 and 4.
    sql(
        &path,
        "CREATE TEMP TABLE t AS SELECT * FROM events WHERE seq IN (2, 4);
         UPDATE events SET (ts, recorded_at, stream, kind, actor, payload, prev_hash, hash) =
           (SELECT ts, recorded_at, stream, kind, actor, payload, prev_hash, hash FROM t
            WHERE t.seq = 6 - events.seq)
         WHERE seq IN (2, 4);",
    );
    assert_first_bad(&path, 2, "broken-link");
}

#[test]
fn no_journal_is_bad_input_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing/journal.db");
    tejun(&path)
        .args(["audit", "verify"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no journal at"));
    assert!(!path.exists());
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn a_file_that_is_not_a_journal_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    std::fs::write(&path, "not a database ".repeat(200)).unwrap();
    let out = tejun(&path).args(["audit", "verify"]).output().unwrap();
    assert!(matches!(out.status.code(), Some(1 | 2)), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// A row with a correct seq, link and hash, made by appending to a copy of
/// the database and pasting the row back: only the chain head catches it.
#[test]
fn perfectly_forged_row_is_caught_by_the_head() {
    let (dir, path) = journal();
    let copy = dir.path().join("copy.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    Journal::open(&copy)
        .unwrap()
        .append(NewEvent {
            stream: "run/0k3m9q2a",
            refs: &[],
            kind: "step.confirmed",
            actor: "mallory@web-01",
            payload: &json!({"who": "carol", "answer": "ok"}),
            ts: None,
        })
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS copy", [copy.to_str().unwrap()])
        .unwrap();
    conn.execute(
        "INSERT INTO events SELECT * FROM copy.events WHERE seq = 9",
        [],
    )
    .unwrap();
    drop(conn);
    let report = assert_first_bad(&path, 9, "head-mismatch");
    assert_eq!(report["first_bad"]["kind"], "step.confirmed");
    assert_eq!(report["head"]["count"], 8);
}

/// The limit of any local chain: cut the end and rewrite the head, and the
/// rest verifies. A head recorded elsewhere (`--anchor`) still catches it.
#[test]
fn anchor_catches_a_cut_tail_with_a_rewritten_head() {
    let (_dir, path) = journal();
    let (_, before) = verify_json(&path);
    let anchor = format!(
        "{}:{}",
        before["head"]["count"],
        before["head"]["hash"].as_str().unwrap()
    );
    tejun(&path)
        .args(["audit", "verify", "--anchor", &anchor])
        .assert()
        .code(0);

    sql(
        &path,
        "DELETE FROM events WHERE seq >= 7;
         UPDATE chain_head SET count = 6, last_hash = (SELECT hash FROM events WHERE seq = 6);",
    );
    tejun(&path).args(["audit", "verify"]).assert().code(0);
    let out = tejun(&path)
        .args(["audit", "verify", "--json", "--anchor", &anchor])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_bad"]["seq"], 8);
    assert_eq!(report["first_bad"]["problem"], "anchor-missing");
    let out = tejun(&path)
        .args(["--lang", "ja", "audit", "verify", "--anchor", &anchor])
        .assert()
        .code(1);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        stdout.contains("アンカーのイベントがありません"),
        "{stdout}"
    );
}

#[test]
fn anchor_catches_a_rewritten_history() {
    let (_dir, path) = journal();
    let (_, before) = verify_json(&path);
    let anchor = format!("8:{}", before["head"]["hash"].as_str().unwrap());
    // Rebuild the whole journal with one step's outcome changed, so that
    // every hash and link is valid again: only the anchor knows.
    let forged = path.with_file_name("forged.db");
    {
        let journal = Journal::open(&forged).unwrap();
        let rows: Vec<(String, String, String)> = {
            let conn = rusqlite::Connection::open(&path).unwrap();
            let mut stmt = conn
                .prepare("SELECT stream, kind, payload FROM events ORDER BY seq")
                .unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        for (stream, kind, payload) in rows {
            let payload: Value =
                serde_json::from_str(&payload.replace("\"ok\"", "\"skipped\"")).unwrap();
            journal
                .append(NewEvent {
                    stream: &stream,
                    refs: &[],
                    kind: &kind,
                    actor: "alice@web-01",
                    payload: &payload,
                    ts: None,
                })
                .unwrap();
        }
    }
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    let _ = std::fs::remove_file(path.with_extension("db-shm"));
    rusqlite::Connection::open(&forged)
        .unwrap()
        .execute("VACUUM INTO ?1", [path.to_str().unwrap()])
        .unwrap();

    tejun(&path).args(["audit", "verify"]).assert().code(0);
    let out = tejun(&path)
        .args(["audit", "verify", "--json", "--anchor", &anchor])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["first_bad"]["problem"], "anchor-mismatch",
        "{report}"
    );
    assert_eq!(report["first_bad"]["kind"], "run.ended");
}

#[test]
fn a_malformed_anchor_is_a_usage_error() {
    let (_dir, path) = journal();
    for bad in ["8", "x:abc", "0:00", "8:xyz"] {
        tejun(&path)
            .args(["audit", "verify", "--anchor", bad])
            .assert()
            .code(2);
    }
}

#[test]
fn dropped_tables_fail_the_audit() {
    for table in ["events", "chain_head", "event_refs"] {
        let (_dir, path) = journal();
        sql(&path, &format!("DROP TABLE {table}"));
        let out = tejun(&path).args(["audit", "verify"]).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "DROP TABLE {table}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(table), "names the missing table: {stderr}");
    }
}
