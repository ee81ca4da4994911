//! Properties: any sequence of appends verifies, and any single change to
//! one stored row is detected and named at that row.

use std::path::Path;

use proptest::prelude::*;
use rusqlite::Connection;
use serde_json::{Value, json};
use tejun_journal::{Journal, NewEvent, Query, TamperKind};

#[derive(Debug, Clone)]
struct Ev {
    stream: String,
    kind: String,
    refs: Vec<String>,
    payload: Value,
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e9f64..1e9).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn event() -> impl Strategy<Value = Ev> {
    (
        "(run|incident|ban)/[a-z0-9]{1,6}",
        "[a-z]{1,6}\\.[a-z]{1,6}",
        prop::collection::vec("[a-z]{1,5}/[0-9]{1,3}", 0..3),
        json_value(),
    )
        .prop_map(|(stream, kind, refs, payload)| Ev {
            stream,
            kind,
            refs,
            payload,
        })
}

fn write(journal: &Journal, events: &[Ev]) {
    for ev in events {
        journal
            .append(NewEvent {
                stream: &ev.stream,
                refs: &ev.refs,
                kind: &ev.kind,
                actor: "prop@test",
                payload: &ev.payload,
                ts: None,
            })
            .unwrap();
    }
}

#[derive(Debug, Clone, Copy)]
enum Mutation {
    Column(&'static str),
    AddRef,
    Delete,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::sample::select(vec![
            "ts",
            "recorded_at",
            "stream",
            "kind",
            "actor",
            "payload",
            "prev_hash",
            "hash"
        ])
        .prop_map(Mutation::Column),
        Just(Mutation::AddRef),
        Just(Mutation::Delete),
    ]
}

fn mutate(path: &Path, seq: i64, mutation: Mutation, junk: &str) {
    let conn = Connection::open(path).unwrap();
    match mutation {
        Mutation::Column(column) => {
            // Append a suffix, so the new value always differs from the old.
            conn.execute(
                &format!("UPDATE events SET {column} = {column} || ?1 WHERE seq = ?2"),
                rusqlite::params![junk, seq],
            )
            .unwrap();
        }
        Mutation::AddRef => {
            conn.execute(
                "INSERT INTO event_refs (seq, pos, subject) VALUES (?1, 1000, ?2)",
                rusqlite::params![seq, junk],
            )
            .unwrap();
        }
        Mutation::Delete => {
            conn.execute("DELETE FROM events WHERE seq = ?1", [seq])
                .unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_appends_verify(events in prop::collection::vec(event(), 0..20)) {
        let journal = Journal::open_in_memory().unwrap();
        write(&journal, &events);
        let report = journal.verify().unwrap();
        prop_assert_eq!(report.checked, events.len() as i64);
        prop_assert_eq!(report.first_bad, None);
        let back = journal.query(&Default::default()).unwrap();
        prop_assert_eq!(back.len(), events.len());
        for (entry, ev) in back.iter().zip(&events) {
            prop_assert_eq!(&entry.payload, &ev.payload);
            prop_assert_eq!(&entry.refs, &ev.refs);
            prop_assert_eq!(&entry.stream, &ev.stream);
        }
    }

    /// Every filter returns exactly the events a plain scan would.
    #[test]
    fn query_filters_match_a_scan(
        events in prop::collection::vec(event(), 0..20),
        subject_pick in any::<prop::sample::Index>(),
        prefix_len in 0usize..6,
        after in 0i64..20,
    ) {
        let journal = Journal::open_in_memory().unwrap();
        write(&journal, &events);
        let numbered = || events.iter().enumerate().map(|(i, ev)| (i as i64 + 1, ev));
        let seqs = |q: Query<'_>| journal.query(&q).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>();

        let subjects: Vec<&String> = events.iter().flat_map(|e| std::iter::once(&e.stream).chain(&e.refs)).collect();
        if !subjects.is_empty() {
            let subject = subjects[subject_pick.index(subjects.len())].as_str();
            let expected: Vec<i64> = numbered()
                .filter(|(_, ev)| ev.stream == subject || ev.refs.iter().any(|r| r == subject))
                .map(|(seq, _)| seq)
                .collect();
            prop_assert_eq!(seqs(Query { subject: Some(subject), ..Default::default() }), expected);
        }
        if let Some(first) = events.first() {
            let prefix: String = first.stream.chars().take(prefix_len).collect();
            let expected: Vec<i64> =
                numbered().filter(|(_, ev)| ev.stream.starts_with(&prefix)).map(|(seq, _)| seq).collect();
            prop_assert_eq!(seqs(Query { stream_prefix: Some(&prefix), ..Default::default() }), expected);
            let kind_prefix: String = first.kind.chars().take(prefix_len).collect();
            let expected: Vec<i64> = numbered()
                .filter(|(seq, ev)| ev.kind.starts_with(&kind_prefix) && *seq > after)
                .map(|(seq, _)| seq)
                .collect();
            prop_assert_eq!(
                seqs(Query { kind_prefix: Some(&kind_prefix), after_seq: Some(after), ..Default::default() }),
                expected
            );
            let mut streams: Vec<String> = Vec::new();
            for ev in &events {
                if ev.stream.starts_with(&prefix) && !streams.contains(&ev.stream) {
                    streams.push(ev.stream.clone());
                }
            }
            prop_assert_eq!(journal.streams(&prefix).unwrap(), streams);
        }
    }

    #[test]
    fn any_single_row_change_is_named(
        events in prop::collection::vec(event(), 1..10),
        pick in any::<prop::sample::Index>(),
        mutation in mutation(),
        junk in "[ -~]{1,8}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.db");
        write(&Journal::open(&path).unwrap(), &events);
        let seq = pick.index(events.len()) as i64 + 1;
        mutate(&path, seq, mutation, &junk);
        let bad = Journal::open(&path).unwrap().verify().unwrap().first_bad;
        let bad = bad.expect("the change must be detected");
        prop_assert_eq!(bad.seq, seq);
        let expected = match mutation {
            Mutation::Column("prev_hash") => TamperKind::BrokenLink,
            Mutation::Delete => TamperKind::Deleted,
            _ => TamperKind::Edited,
        };
        prop_assert_eq!(bad.problem, expected);
    }
}
