//! Incidents written to and folded from a real (in-memory) journal.

use std::time::Duration;

use jiff::Timestamp;
use tejun_incident::reminders;
use tejun_incident::settings::{EscalationKind, EscalationRule, IncidentSettings};
use tejun_incident::{
    DetectionIncident, DetectionMode, Incidents, Layer, OpenRequest, Role, Status, Term, Verdict,
    active_incident, open_or_attach,
};
use tejun_journal::{Journal, Query};

fn t(minutes: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + minutes * 60).unwrap()
}

fn open(journal: &Journal, now: Timestamp) -> String {
    Incidents::new(journal, "alice@ops")
        .at(now)
        .open(&OpenRequest {
            title: "DB connection timeouts".into(),
            severity: "p1".into(),
            impact: Some("checkout fails".into()),
            started_at: Some(t(-10)),
            detected_at: None,
            source: "cli".into(),
            env: None,
        })
        .unwrap()
}

#[test]
fn a_whole_incident_folds_back() {
    let journal = Journal::open_in_memory().unwrap();
    let id = open(&journal, t(0));
    let ops = Incidents::new(&journal, "alice@ops").at(t(60));
    let short = &id[4..6];
    assert_eq!(ops.resolve(short).unwrap(), id);
    ops.assign_role(&id, Role::Commander, "alice").unwrap();
    ops.set_status(&id, Status::Investigating, Some(t(5)))
        .unwrap();
    ops.note(&id, "load average 25", None).unwrap();
    let hyp = ops.hypothesis(&id, "unindexed LIKE query").unwrap();
    assert_eq!(hyp, format!("{id}-H1"));
    ops.verdict(
        &format!("{short}-h1"),
        Verdict::Confirmed,
        "slow log shows filesort",
    )
    .unwrap();
    ops.set_status(&id, Status::Mitigated, Some(t(15))).unwrap();
    ops.set_status(&id, Status::Resolved, Some(t(45))).unwrap();
    ops.cause(
        &id,
        Layer::Technical,
        "no index",
        &["why 1".into(), " ".into()],
    )
    .unwrap();
    ops.lesson(&id, "review query plans").unwrap();
    ops.action(&id, Term::Short, "bob", "add index").unwrap();

    let inc = ops.load(&id).unwrap();
    assert_eq!(inc.severity, "P1");
    assert_eq!(inc.status, Status::Resolved);
    assert_eq!(inc.started_at, t(-10));
    assert_eq!(inc.detected_at, t(0));
    assert_eq!(inc.mitigated_at(), Some(t(15)));
    assert_eq!(inc.resolved_at(), Some(t(45)));
    assert_eq!(inc.role(Role::Commander), Some("alice"));
    assert!(inc.history.iter().all(|h| h.backfilled));
    assert_eq!(
        inc.hypotheses[0].verdict.as_ref().unwrap().verdict,
        Verdict::Confirmed
    );
    assert_eq!(inc.causes[0].whys, vec!["why 1".to_string()]);
    assert_eq!(inc.actions[0].owner, "bob");
    assert_eq!(active_incident(&journal).unwrap(), None);

    // Reopen is allowed and recorded.
    let change = ops.set_status(&id, Status::Investigating, None).unwrap();
    assert!(change.reopen);
    assert_eq!(active_incident(&journal).unwrap(), Some(id));
}

#[test]
fn refused_input_writes_nothing() {
    let journal = Journal::open_in_memory().unwrap();
    let id = open(&journal, t(0));
    let ops = Incidents::new(&journal, "alice@ops").at(t(60));
    let before = journal.head().unwrap();
    assert!(
        ops.set_status(&id, Status::Mitigated, Some(t(-20)))
            .unwrap_err()
            .is_input()
    );
    assert!(
        ops.set_status(&id, Status::Closed, None)
            .unwrap_err()
            .is_input()
    );
    assert!(
        ops.set_status(&id, Status::Detected, None)
            .unwrap_err()
            .is_input()
    );
    assert!(
        ops.set_status("NOPE", Status::Resolved, None)
            .unwrap_err()
            .is_input()
    );
    assert!(
        ops.verdict(&format!("{id}-H9"), Verdict::Rejected, "x")
            .unwrap_err()
            .is_input()
    );
    assert!(ops.note(&id, "  ", None).unwrap_err().is_input());
    assert!(
        ops.note(&id, "too early", Some(t(-30)))
            .unwrap_err()
            .is_input()
    );
    assert_eq!(journal.head().unwrap(), before);
}

#[test]
fn detections_open_then_attach() {
    let journal = Journal::open_in_memory().unwrap();
    let req = |mode| DetectionIncident {
        mode,
        severity: "P1".into(),
        title: "sshd brute force".into(),
        actor: "tejun-watch".into(),
        ts: Timestamp::now(),
    };
    let first = open_or_attach(&journal, &req(DetectionMode::Attach)).unwrap();
    let again = open_or_attach(&journal, &req(DetectionMode::Attach)).unwrap();
    assert_eq!(first, again);
    let other = open_or_attach(&journal, &req(DetectionMode::Open)).unwrap();
    assert_ne!(first, other);
    assert_eq!(active_incident(&journal).unwrap(), Some(other));
}

#[test]
fn reminders_fire_once_per_rule_or_interval() {
    let journal = Journal::open_in_memory().unwrap();
    let now = Timestamp::now();
    let id = Incidents::new(&journal, "alice@ops")
        .at(now)
        .open(&OpenRequest {
            title: "outage".into(),
            severity: "P0".into(),
            impact: None,
            started_at: None,
            detected_at: None,
            source: "cli".into(),
            env: None,
        })
        .unwrap();
    let settings = IncidentSettings {
        escalation: vec![
            EscalationRule {
                name: "p0-mitigate-30m".into(),
                severities: vec!["P0".into()],
                kind: EscalationKind::NotReached {
                    status: "mitigated".into(),
                    within: Duration::from_secs(1800),
                },
            },
            EscalationRule {
                name: "quiet-15m".into(),
                severities: vec![],
                kind: EscalationKind::NoUpdateFor(Duration::from_secs(900)),
            },
            EscalationRule {
                name: "p3-only".into(),
                severities: vec!["P3".into()],
                kind: EscalationKind::NoUpdateFor(Duration::from_secs(60)),
            },
        ],
        ..IncidentSettings::default()
    };
    let minutes = |m: i64| now + jiff::SignedDuration::from_mins(m);
    assert!(
        reminders::due(&journal, &settings, minutes(10))
            .unwrap()
            .is_empty()
    );
    let fired = reminders::due(&journal, &settings, minutes(16)).unwrap();
    assert_eq!(
        fired.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
        ["quiet-15m"]
    );
    assert!(fired[0].text_ja.contains("更新がありません"));
    assert!(
        reminders::due(&journal, &settings, minutes(20))
            .unwrap()
            .is_empty()
    );
    let fired = reminders::due(&journal, &settings, minutes(31)).unwrap();
    assert_eq!(
        fired.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
        ["p0-mitigate-30m", "quiet-15m"]
    );
    assert!(
        reminders::due(&journal, &settings, minutes(35))
            .unwrap()
            .is_empty()
    );
    let events = journal
        .query(&Query {
            subject: Some(&format!("incident/{id}")),
            kind_prefix: Some("incident.reminder"),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(events.len(), 3);
}

/// Two operators validated against the same state and both appended: the
/// incident must still fold, the later change winning.
#[test]
fn racing_status_changes_still_fold() {
    let journal = Journal::open_in_memory().unwrap();
    let id = open(&journal, t(0));
    let ops = Incidents::new(&journal, "alice@ops").at(t(60));
    ops.set_status(&id, Status::Mitigated, Some(t(5))).unwrap();
    // A second writer that still saw `detected`.
    let stale = serde_json::json!({"from": "detected", "to": "resolved", "reopen": false, "backfilled": true});
    journal
        .append(tejun_journal::NewEvent {
            stream: &format!("incident/{id}"),
            refs: &[],
            kind: "incident.status",
            actor: "bob@ops",
            payload: &stale,
            ts: Some(t(6)),
        })
        .unwrap();
    let inc = ops.load(&id).unwrap();
    assert_eq!(inc.status, Status::Resolved);
    assert_eq!(inc.history[1].from, Status::Mitigated);
    assert_eq!(inc.resolved_at(), Some(t(6)));
}
