//! Signed checkpoints against an attacker with `sqlite3` who also fixes
//! `chain_head` and `event_refs`, so that the chain alone verifies.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::json;
use tejun_journal::checkpoint::{self, CheckpointProblem};
use tejun_journal::{Journal, NewEvent, SigningKey};

fn journal(dir: &Path, n: usize) -> (PathBuf, Journal) {
    let path = dir.join("journal.db");
    let journal = Journal::open(&path).unwrap();
    for i in 0..n {
        journal
            .append(NewEvent {
                stream: "run/r1",
                refs: &["incident/INC-1".to_string()],
                kind: "step.finished",
                actor: "alice",
                payload: &json!({"i": i}),
                ts: None,
            })
            .unwrap();
    }
    (path, journal)
}

fn key(dir: &Path) -> (PathBuf, SigningKey) {
    let path = dir.join("keys/audit.key");
    checkpoint::create_key(&path).unwrap();
    let key = checkpoint::load_key(&path).unwrap();
    (path, key)
}

fn problem(journal: &Journal, key: &SigningKey, files: &[PathBuf]) -> Option<&'static str> {
    let all = journal
        .audit_checkpoints(&key.verifying_key(), files, false)
        .unwrap();
    let latest = journal
        .audit_checkpoints(&key.verifying_key(), files, true)
        .unwrap();
    let name = |p: Option<CheckpointProblem>| p.map(|p| p.name());
    let (all, latest) = (name(all.problem), name(latest.problem));
    assert_eq!(all, latest, "the cheap check agrees with the full one");
    all
}

#[test]
fn a_fresh_checkpoint_matches_and_is_in_the_db_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, journal) = journal(dir.path(), 5);
    let (key_path, key) = key(dir.path());
    let cp = journal.sign_checkpoint(&key).unwrap();
    let log = checkpoint::checkpoint_log_path(&key_path);
    checkpoint::append_line(&log, &cp).unwrap();
    assert_eq!(cp.count, 5);
    assert_eq!(journal.stored_checkpoints().unwrap(), vec![cp.clone()]);
    assert_eq!(checkpoint::read_file(&log).unwrap(), vec![cp]);
    let audit = journal
        .audit_checkpoints(&key.verifying_key(), &[log], false)
        .unwrap();
    assert!(audit.problem.is_none());
    assert_eq!(audit.valid, 2);
    assert_eq!(audit.latest.unwrap().checkpoint.count, 5);
}

#[test]
fn a_cut_tail_with_a_fixed_head_is_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = journal(dir.path(), 5);
    let (key_path, key) = key(dir.path());
    let cp = journal.sign_checkpoint(&key).unwrap();
    let log = checkpoint::checkpoint_log_path(&key_path);
    checkpoint::append_line(&log, &cp).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DELETE FROM events WHERE seq > 3; DELETE FROM event_refs WHERE seq > 3;
             UPDATE chain_head SET count = 3, last_hash = (SELECT hash FROM events WHERE seq = 3);
             DROP TABLE checkpoints;",
        )
        .unwrap();
    assert_eq!(
        journal.verify().unwrap().first_bad,
        None,
        "the chain is fooled"
    );
    assert_eq!(problem(&journal, &key, &[log]), Some("truncated"));
}

#[test]
fn a_rehashed_rewrite_below_the_checkpoint_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = journal(dir.path(), 4);
    let (key_path, key) = key(dir.path());
    let log = checkpoint::checkpoint_log_path(&key_path);
    checkpoint::append_line(&log, &journal.sign_checkpoint(&key).unwrap()).unwrap();
    drop(journal);
    // Rebuild with one payload changed: every hash consistent again.
    let forged_path = dir.path().join("forged.db");
    let forged = Journal::open(&forged_path).unwrap();
    for entry in Journal::open(&path)
        .unwrap()
        .query(&Default::default())
        .unwrap()
    {
        let payload = if entry.seq == 2 {
            json!({"i": 99})
        } else {
            entry.payload.clone()
        };
        forged
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
    drop(forged);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Connection::open(&forged_path)
        .unwrap()
        .execute("VACUUM INTO ?1", [path.to_str().unwrap()])
        .unwrap();
    let journal = Journal::open(&path).unwrap();
    assert_eq!(journal.verify().unwrap().first_bad, None);
    assert_eq!(problem(&journal, &key, &[log]), Some("rewritten"));
}

#[test]
fn a_checkpoint_signed_with_another_key_is_refused_and_another_journal_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (_path, journal) = journal(dir.path(), 3);
    let (key_path, key) = key(dir.path());
    let other = SigningKey::from_bytes(&[7; 32]);
    let log = checkpoint::checkpoint_log_path(&key_path);
    checkpoint::append_line(&log, &journal.sign_checkpoint(&key).unwrap()).unwrap();
    // Someone else's journal, same key: not this journal's business.
    let mut elsewhere = journal.sign_checkpoint(&key).unwrap();
    elsewhere.journal = "/elsewhere/journal.db".to_string();
    elsewhere.count = 1000;
    checkpoint::append_line(&log, &elsewhere).unwrap();
    assert_eq!(problem(&journal, &key, std::slice::from_ref(&log)), None);
    // A forgery with the attacker's own key.
    checkpoint::append_line(&log, &journal.sign_checkpoint(&other).unwrap()).unwrap();
    let audit = journal
        .audit_checkpoints(&key.verifying_key(), &[log], false)
        .unwrap();
    assert_eq!(
        audit.problem.map(|p| p.name()),
        Some("bad-checkpoint-signature")
    );
}

#[test]
fn the_tail_walk_sees_an_edit_in_the_newest_events() {
    let dir = tempfile::tempdir().unwrap();
    let (path, journal) = journal(dir.path(), 10);
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE events SET actor = 'mallory' WHERE seq = 9", [])
        .unwrap();
    let tail = journal.verify_tail(3).unwrap();
    assert_eq!(tail.first_bad.map(|t| t.seq), Some(9));
    // Older than the tail: only the full walk (or a checkpoint) sees it.
    let (path, journal) = journal_at(dir.path(), "b", 10);
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE events SET actor = 'mallory' WHERE seq = 2", [])
        .unwrap();
    assert_eq!(journal.verify_tail(3).unwrap().first_bad, None);
    assert_eq!(journal.verify().unwrap().first_bad.map(|t| t.seq), Some(2));
}

fn journal_at(dir: &Path, name: &str, n: usize) -> (PathBuf, Journal) {
    let sub = dir.join(name);
    std::fs::create_dir_all(&sub).unwrap();
    journal(&sub, n)
}
