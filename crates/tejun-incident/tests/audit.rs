//! Incident events live in the one hash chain: editing one after the fact
//! is found by the journal's verify, like any run event.

use tejun_incident::{Incidents, OpenRequest, Status};
use tejun_journal::{Journal, TamperKind};

#[test]
fn tampering_with_an_incident_event_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.db");
    let note_seq;
    {
        let journal = Journal::open(&db).unwrap();
        let ops = Incidents::new(&journal, "sato@ops1");
        let id = ops
            .open(&OpenRequest {
                title: "sshd brute force".into(),
                severity: "P1".into(),
                impact: None,
                started_at: None,
                detected_at: None,
                source: "cli".into(),
                env: None,
            })
            .unwrap();
        ops.note(&id, "blocked 203.0.113.0/24 at 02:20", None)
            .unwrap();
        ops.set_status(&id, Status::Mitigated, None).unwrap();
        assert_eq!(journal.verify().unwrap().first_bad, None);
        note_seq = journal.head().unwrap().0 - 1;
    }
    // Someone rewrites the note to hide when the block happened.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let changed = conn
        .execute(
            "UPDATE events SET payload = replace(payload, '02:20', '02:16') WHERE kind = 'incident.note'",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(conn);
    let journal = Journal::open(&db).unwrap();
    let report = journal.verify().unwrap();
    let bad = report.first_bad.expect("tampering must be detected");
    assert_eq!(bad.seq, note_seq);
    assert_eq!(bad.problem, TamperKind::Edited);
}
