//! Appending, reading back, and several writers sharing one file.

use jiff::Timestamp;
use serde_json::json;
use tejun_journal::{GENESIS, Journal, NewEvent, Query};

fn event<'a>(
    stream: &'a str,
    kind: &'a str,
    refs: &'a [String],
    payload: &'a serde_json::Value,
) -> NewEvent<'a> {
    NewEvent {
        stream,
        refs,
        kind,
        actor: "alice@host",
        payload,
        ts: None,
    }
}

#[test]
fn append_chains_from_genesis() {
    let journal = Journal::open_in_memory().unwrap();
    let p = json!({"a": 1});
    let first = journal
        .append(event("run/1", "run.started", &[], &p))
        .unwrap();
    let second = journal
        .append(event("run/1", "step.started", &[], &p))
        .unwrap();
    assert_eq!((first.seq, second.seq), (1, 2));
    assert_eq!(first.prev_hash, GENESIS);
    assert_eq!(second.prev_hash, first.hash);
    assert_eq!(first.hash.len(), 64);
    assert_eq!(journal.head().unwrap(), (2, second.hash.clone()));
    assert_eq!(journal.verify().unwrap().checked, 2);
}

#[test]
fn entries_read_back_exactly_as_returned_by_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/journal.db");
    let journal = Journal::open(&path).unwrap();
    let backfilled: Timestamp = "2026-11-22T01:54:36.123456789Z".parse().unwrap();
    let refs = vec!["incident/7".to_string()];
    let payload = json!({"z": [1.5, "ピ"], "a": null, "n": -3});
    let appended = journal
        .append(NewEvent {
            ts: Some(backfilled),
            ..event("run/9", "step.finished", &refs, &payload)
        })
        .unwrap();
    drop(journal);
    let journal = Journal::open(&path).unwrap();
    let read = journal.query(&Query::default()).unwrap();
    assert_eq!(read, vec![appended.clone()]);
    assert_eq!(read[0].ts, backfilled, "nanoseconds survive the round trip");
    assert!(read[0].recorded_at > backfilled);
    assert_eq!(journal.path(), Some(path.as_path()));
}

#[test]
fn query_filters() {
    let journal = Journal::open_in_memory().unwrap();
    let p = json!({});
    let inc = vec!["incident/1".to_string()];
    journal
        .append(event("run/a", "run.started", &[], &p))
        .unwrap(); // 1
    journal
        .append(event("run/b", "run.started", &inc, &p))
        .unwrap(); // 2
    journal
        .append(event("incident/1", "incident.opened", &[], &p))
        .unwrap(); // 3
    journal
        .append(event("run/a", "step.started", &[], &p))
        .unwrap(); // 4
    journal
        .append(event("run/ab", "step.finished", &[], &p))
        .unwrap(); // 5
    journal
        .append(event("ban/1.2.3.4", "ban.added", &inc, &p))
        .unwrap(); // 6
    let seqs = |q: Query<'_>| {
        journal
            .query(&q)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seqs(Query {
            subject: Some("run/a"),
            ..Default::default()
        }),
        [1, 4]
    );
    assert_eq!(
        seqs(Query {
            subject: Some("incident/1"),
            ..Default::default()
        }),
        [2, 3, 6]
    );
    assert_eq!(
        seqs(Query {
            stream_prefix: Some("run/"),
            ..Default::default()
        }),
        [1, 2, 4, 5]
    );
    assert_eq!(
        seqs(Query {
            stream_prefix: Some("run/a"),
            ..Default::default()
        }),
        [1, 4, 5]
    );
    assert_eq!(
        seqs(Query {
            kind_prefix: Some("step."),
            ..Default::default()
        }),
        [4, 5]
    );
    assert_eq!(
        seqs(Query {
            stream_prefix: Some("run/"),
            kind_prefix: Some("run."),
            ..Default::default()
        }),
        [1, 2]
    );
    assert_eq!(
        seqs(Query {
            after_seq: Some(4),
            ..Default::default()
        }),
        [5, 6]
    );
    assert_eq!(
        seqs(Query {
            limit: Some(2),
            after_seq: Some(1),
            ..Default::default()
        }),
        [2, 3]
    );
    assert_eq!(
        seqs(Query {
            subject: Some("incident/1"),
            kind_prefix: Some("ban."),
            ..Default::default()
        }),
        [6]
    );
    // LIKE wildcards in a prefix are literal.
    assert!(
        seqs(Query {
            stream_prefix: Some("run/%"),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        journal.streams("run/").unwrap(),
        ["run/a", "run/b", "run/ab"]
    );
    assert_eq!(journal.streams("").unwrap().len(), 5);
}

#[test]
fn decode_gives_typed_payload_or_names_the_seq() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Step {
        step_id: String,
        ordinal: usize,
    }
    let journal = Journal::open_in_memory().unwrap();
    let entry = journal
        .append(event(
            "run/1",
            "step.started",
            &[],
            &json!({"step_id": "s", "ordinal": 2}),
        ))
        .unwrap();
    assert_eq!(
        entry.decode::<Step>().unwrap(),
        Step {
            step_id: "s".into(),
            ordinal: 2
        }
    );
    let wrong = journal
        .append(event("run/1", "step.started", &[], &json!({"step_id": 1})))
        .unwrap();
    let err = wrong.decode::<Step>().unwrap_err();
    assert!(err.to_string().contains("seq 2"), "{err}");
}

/// Several connections (as several processes would have) append at once;
/// the chain stays linear and verifies.
#[test]
fn concurrent_writers_keep_one_linear_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    Journal::open(&path).unwrap();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let journal = Journal::open(&path).unwrap();
                for i in 0..25 {
                    journal
                        .append(event(
                            &format!("run/{w}"),
                            "step.finished",
                            &[],
                            &json!({"i": i}),
                        ))
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let journal = Journal::open(&path).unwrap();
    let report = journal.verify().unwrap();
    assert_eq!((report.checked, report.first_bad), (100, None));
    for w in 0..4 {
        let mine = journal
            .query(&Query {
                subject: Some(&format!("run/{w}")),
                ..Default::default()
            })
            .unwrap();
        let order: Vec<i64> = mine
            .iter()
            .map(|e| e.payload["i"].as_i64().unwrap())
            .collect();
        assert_eq!(
            order,
            (0..25).collect::<Vec<_>>(),
            "each writer's events keep their order"
        );
    }
}

/// One `Journal` shared by threads (it is `Sync`).
#[test]
fn one_journal_shared_by_threads() {
    let journal = std::sync::Arc::new(Journal::open_in_memory().unwrap());
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let journal = journal.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    journal
                        .append(event("run/1", "k", &[], &json!(null)))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(journal.verify().unwrap().checked, 30);
}

#[test]
fn opening_a_directory_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let err = Journal::open(dir.path())
        .err()
        .expect("a directory is not a database");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn opening_a_non_database_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "this is not sqlite, just some words ".repeat(100)).unwrap();
    assert!(Journal::open(&path).is_err());
}

#[test]
fn append_all_is_consecutive_and_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    let journal = Journal::open(&path).unwrap();
    let p = json!({});
    journal
        .append(event("run/1", "step.started", &[], &p))
        .unwrap();
    let both = journal
        .append_all(&[
            event("run/1", "step.finished", &[], &p),
            event("run/1", "step.started", &[], &p),
        ])
        .unwrap();
    assert_eq!(both.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(both[1].prev_hash, both[0].hash);
    assert!(journal.append_all(&[]).unwrap().is_empty());
    assert_eq!(journal.verify().unwrap().checked, 3);

    // A row planted at seq 5 makes the second insert of the next batch
    // fail: the first must not be left behind either.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO events SELECT 5, ts, recorded_at, stream, kind, actor, payload, prev_hash, hash
             FROM events WHERE seq = 3",
        )
        .unwrap();
    let err = journal
        .append_all(&[
            event("run/1", "step.finished", &[], &p),
            event("run/1", "step.started", &[], &p),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("seq 5"), "{err}");
    let seqs: Vec<i64> = journal
        .query(&Query::default())
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(
        seqs,
        [1, 2, 3, 5],
        "nothing of the failed batch was written"
    );
    assert_eq!(journal.head().unwrap().0, 3);
}

/// The child half of `separate_processes_keep_one_linear_chain`: does
/// nothing unless started by it.
#[test]
fn child_writer() {
    let Ok(db) = std::env::var("TEJUN_JOURNAL_CHILD_DB") else {
        return;
    };
    let name = std::env::var("TEJUN_JOURNAL_CHILD_NAME").unwrap();
    let journal = Journal::open(std::path::Path::new(&db)).unwrap();
    for i in 0..40 {
        journal
            .append(event(
                &format!("run/{name}"),
                "step.finished",
                &[],
                &json!({"i": i}),
            ))
            .unwrap();
    }
}

/// Real processes (as a run and `tejun watch` would be) append to one file
/// at the same time: every event lands, in one verifying chain.
#[test]
fn separate_processes_keep_one_linear_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    Journal::open(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|n| {
            std::process::Command::new(&exe)
                .args(["--exact", "child_writer", "--test-threads", "1"])
                .env("TEJUN_JOURNAL_CHILD_DB", &path)
                .env("TEJUN_JOURNAL_CHILD_NAME", format!("p{n}"))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a writer process failed");
    }
    let journal = Journal::open(&path).unwrap();
    let report = journal.verify().unwrap();
    assert_eq!((report.checked, report.first_bad), (120, None));
    for n in 0..3 {
        let mine = journal
            .query(&Query {
                subject: Some(&format!("run/p{n}")),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(mine.len(), 40);
    }
}

#[test]
fn a_journal_from_a_newer_tejun_is_refused_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.db");
    Journal::open(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let err = Journal::open(&path)
        .err()
        .expect("newer schema must be refused");
    assert!(err.to_string().contains("newer"), "{err}");
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}
