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
        .env("TEJUN_AUDIT_KEY", path.with_file_name("no-audit.key"))
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

// ---- Signed checkpoints: tamper evidence that survives a consistent rewrite.

mod common;
use common::Lab;

const BOOK: &str = "name: two steps\nenv: dev\nexecute:\n  - id: one\n    run: echo one\n  - id: two\n    run: echo two\n";

/// A lab with an audit key (`audit.key` in the lab) and one finished run,
/// which signed a checkpoint on its own.
fn signed_lab() -> Lab {
    let lab = Lab::new();
    lab.write("book.yaml", BOOK);
    lab.tejun().args(["audit", "key", "init"]).assert().code(0);
    lab.run().code(0);
    lab
}

fn lab_verify(lab: &Lab, extra: &[&str]) -> (i32, Value) {
    let out = lab
        .tejun()
        .args(["audit", "verify", "--json"])
        .args(extra)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "--json output must parse ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), report)
}

fn lab_db(lab: &Lab) -> PathBuf {
    lab.path(".tejun/journal.db")
}

fn event_count(lab: &Lab) -> i64 {
    rusqlite::Connection::open(lab_db(lab))
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

/// What an attacker with `sqlite3` does to cut the last `n` events so that
/// the chain alone still verifies: delete them and their refs, point the
/// head at the new last event, and drop the checkpoints kept in the DB.
fn cut_tail(lab: &Lab, n: i64) {
    sql(
        &lab_db(lab),
        &format!(
            "DELETE FROM event_refs WHERE seq > (SELECT max(seq) - {n} FROM events);
             DELETE FROM events WHERE seq > (SELECT max(seq) - {n} FROM events);
             UPDATE chain_head SET count = (SELECT max(seq) FROM events),
                 last_hash = (SELECT hash FROM events ORDER BY seq DESC LIMIT 1);
             DELETE FROM checkpoints;"
        ),
    );
}

#[test]
fn a_run_end_signs_a_checkpoint_in_the_db_and_beside_the_key() {
    let lab = signed_lab();
    let events = event_count(&lab);
    let lines = std::fs::read_to_string(lab.path("audit.checkpoints")).unwrap();
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let line: Value = serde_json::from_str(lines.trim()).unwrap();
    assert_eq!(line["count"], events);
    let stored: i64 = rusqlite::Connection::open(lab_db(&lab))
        .unwrap()
        .query_row("SELECT count(*) FROM checkpoints", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(lab.path("audit.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is the owner's only");
    }
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["checkpoint"]["count"], events);
    assert_eq!(report["signed_through"], events);
    assert_eq!(report["unsigned_tail"], Value::Null);
    let out = lab.tejun().args(["audit", "verify"]).assert().code(0);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("every event is covered by a signed checkpoint"),
        "{stdout}"
    );
}

#[test]
fn a_key_is_never_overwritten() {
    let lab = signed_lab();
    let before = std::fs::read(lab.path("audit.key")).unwrap();
    lab.tejun()
        .args(["audit", "key", "init"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already exists"));
    assert_eq!(std::fs::read(lab.path("audit.key")).unwrap(), before);
}

#[test]
fn checkpoint_exposes_events_cut_from_the_end_with_the_head_rewritten() {
    let lab = signed_lab();
    let events = event_count(&lab);
    cut_tail(&lab, 2);
    // The chain alone is fooled...
    let plain = tejun(&lab_db(&lab))
        .args(["audit", "verify"])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    // ...the checkpoint beside the key is not.
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad"]["problem"], "truncated", "{report}");
    assert_eq!(report["first_bad"]["seq"], events - 1);
    let out = lab.tejun().args(["audit", "verify"]).assert().code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("cut from the end"), "{stdout}");
    let out = lab
        .tejun()
        .args(["--lang", "ja", "audit", "verify"])
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("末尾のイベントが削除されています"),
        "{stdout}"
    );
}

#[test]
fn checkpoint_exposes_the_whole_journal_deleted() {
    let lab = signed_lab();
    sql(
        &lab_db(&lab),
        "DELETE FROM events; DELETE FROM event_refs; DELETE FROM chain_head; DELETE FROM checkpoints;",
    );
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["intact"], false);
    assert_eq!(report["checked"], 0);
    assert_eq!(report["first_bad"]["problem"], "truncated", "{report}");
    let out = lab.tejun().args(["audit", "verify"]).assert().code(1);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!stdout.contains("journal intact"), "{stdout}");
}

#[test]
fn checkpoint_exposes_an_edit_rehashed_through_the_whole_chain() {
    let lab = signed_lab();
    let path = lab_db(&lab);
    // Rebuild the journal with the second step's output changed: every
    // hash, link, ref and the head are consistent again, and the copy has
    // no checkpoints.
    let forged = lab.path("forged.db");
    {
        let original = Journal::open(&path).unwrap();
        let journal = Journal::open(&forged).unwrap();
        for entry in original.query(&Default::default()).unwrap() {
            let payload: Value = serde_json::from_str(
                &serde_json::to_string(&entry.payload)
                    .unwrap()
                    .replace("\"two\"", "\"owt\""),
            )
            .unwrap();
            journal
                .append(NewEvent {
                    stream: &entry.stream,
                    refs: &entry.refs,
                    kind: &entry.kind,
                    actor: &entry.actor,
                    payload: &payload,
                    ts: Some(entry.ts),
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
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad"]["problem"], "rewritten", "{report}");
    assert_eq!(report["first_bad"]["kind"], "run.ended", "{report}");
}

#[test]
fn a_checkpoint_edited_without_the_key_is_refused() {
    let lab = signed_lab();
    let file = lab.path("audit.checkpoints");
    let line = std::fs::read_to_string(&file).unwrap();
    let mut forged: Value = serde_json::from_str(line.trim()).unwrap();
    forged["count"] = json!(1);
    forged["head"] = json!(Journal::open(&lab_db(&lab)).unwrap().hash_of(1).unwrap());
    std::fs::write(&file, format!("{forged}\n")).unwrap();
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        report["first_bad"]["problem"], "bad-checkpoint-signature",
        "{report}"
    );
}

#[test]
fn verify_refuses_a_witness_file_that_is_not_there() {
    let lab = signed_lab();
    // A mistyped witness path must not read as "no checkpoint contradicted".
    lab.tejun()
        .args([
            "audit",
            "verify",
            "--witness",
            "/nonexistent/typo.checkpoints",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no witness file"));
}

#[test]
fn a_witness_file_survives_the_checkpoints_beside_the_key() {
    let lab = signed_lab();
    let witness = lab.path("witness/web-01.checkpoints");
    lab.tejun()
        .args(["audit", "checkpoint", "--witness"])
        .arg(&witness)
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(&witness).unwrap().lines().count(),
        1
    );
    cut_tail(&lab, 1);
    std::fs::remove_file(lab.path("audit.checkpoints")).unwrap();
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 0, "with every copy but the witness gone: {report}");
    let (code, report) = lab_verify(&lab, &["--witness", witness.to_str().unwrap()]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad"]["problem"], "truncated", "{report}");
}

#[test]
fn verify_says_what_the_unsigned_tail_cannot_prove() {
    let lab = signed_lab();
    let events = event_count(&lab);
    lab.tejun()
        .args(["incident", "open", "--title", "t", "--severity", "P3"])
        .assert()
        .code(0);
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["unsigned_tail"], json!([events + 1, events + 1]));
    let out = lab.tejun().args(["audit", "verify"]).assert().code(0);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains(&format!(
            "events {}..{} come after the last checkpoint",
            events + 1,
            events + 1
        )),
        "{stdout}"
    );
    assert!(stdout.contains("without trace"), "{stdout}");
}

#[test]
fn verify_without_a_key_says_a_cut_cannot_be_detected() {
    let lab = Lab::new();
    lab.write("book.yaml", BOOK);
    lab.run().code(0);
    let out = lab.tejun().args(["audit", "verify"]).assert().code(0);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("no audit key"), "{stdout}");
}

#[test]
fn run_and_incident_refuse_to_append_to_a_cut_journal() {
    let lab = signed_lab();
    cut_tail(&lab, 2);
    let before = event_count(&lab);
    let out = lab.run().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("does not verify"), "{stderr}");
    assert!(stderr.contains("--allow-unverified-journal"), "{stderr}");
    lab.tejun()
        .args([
            "--lang",
            "ja",
            "incident",
            "open",
            "--title",
            "t",
            "--severity",
            "P3",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("追記を拒否します"));
    assert_eq!(event_count(&lab), before, "a refusal writes nothing");
    // Reading is still allowed.
    lab.tejun().args(["incident", "list"]).assert().code(0);

    // The override works and is itself journaled.
    lab.tejun()
        .args([
            "run",
            "book.yaml",
            "--env",
            "dev",
            "--yes",
            "--allow-unverified-journal",
        ])
        .assert()
        .code(0)
        .stderr(predicates::str::contains("override is journaled"));
    let overrides = lab.events("audit.unverified_append");
    assert_eq!(overrides.len(), 1, "{overrides:?}");
    assert_eq!(overrides[0]["command"], "run");
}

#[test]
fn checkpoint_approve_and_abort_refuse_a_cut_journal() {
    let lab = signed_lab();
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    cut_tail(&lab, 2);
    let before = event_count(&lab);
    // Signing the cut head would make it pass the next check before an append.
    for args in [
        vec!["audit", "checkpoint"],
        vec!["approve", run_id.as_str()],
        vec!["reject", run_id.as_str()],
        vec!["abort", run_id.as_str()],
    ] {
        lab.tejun()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("does not verify"));
    }
    assert_eq!(event_count(&lab), before, "a refusal writes nothing");
    lab.tejun().args(["audit", "verify"]).assert().code(1);
}

#[test]
fn run_refuses_an_edited_tail_even_without_a_key() {
    let lab = Lab::new();
    lab.write("book.yaml", BOOK);
    lab.run().code(0);
    sql(
        &lab_db(&lab),
        r#"UPDATE events SET payload = '{"outcome":"failed"}' WHERE seq = (SELECT max(seq) FROM events)"#,
    );
    lab.run()
        .code(2)
        .stderr(predicates::str::contains("does not verify"));
}

const PAUSING_BOOK: &str = "name: ask\nenv: dev\nexecute:\n  - id: one\n    run: echo one\npost:\n  - id: looks-good\n    confirm: Does the site answer?\nrollback:\n  steps:\n    - id: undo\n      run: echo undo\n";

/// A run paused at a confirm (exit 5), in a lab with an audit key; its id.
fn paused_run(lab: &Lab) -> String {
    lab.write("book.yaml", PAUSING_BOOK);
    lab.tejun().args(["audit", "key", "init"]).assert().code(0);
    lab.run().code(5);
    lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn resume_and_rollback_refuse_to_append_to_an_edited_journal() {
    let lab = Lab::new();
    let id = paused_run(&lab);
    sql(
        &lab_db(&lab),
        r#"UPDATE events SET actor = 'mallory' WHERE seq = (SELECT max(seq) FROM events)"#,
    );
    let before = event_count(&lab);
    for command in ["resume", "rollback"] {
        lab.tejun()
            .args([command, &id, "--yes"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("does not verify"));
    }
    assert_eq!(event_count(&lab), before, "a refusal writes nothing");
}

#[test]
fn resume_and_rollback_sign_a_checkpoint_when_they_end() {
    let lab = Lab::new();
    let id = paused_run(&lab);
    let signed = || {
        std::fs::read_to_string(lab.path("audit.checkpoints"))
            .unwrap()
            .lines()
            .count()
    };
    let after_run = signed();
    lab.tejun().args(["resume", &id, "--yes"]).assert().code(5);
    assert_eq!(signed(), after_run + 1, "resume signed a checkpoint");
    lab.tejun()
        .args(["rollback", &id, "--yes"])
        .assert()
        .code(3);
    assert_eq!(signed(), after_run + 2, "rollback signed a checkpoint");
    let (code, report) = lab_verify(&lab, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["checkpoint"]["count"], event_count(&lab));
}
