//! Golden files for the postmortem in Japanese and English (Markdown) and
//! HTML, from a journal holding every kind of event a timeline can show.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::json;
use tejun_incident::report::{Options, Postmortem, html, markdown, skeleton};
use tejun_incident::settings::IncidentSettings;
use tejun_incident::{Incidents, Layer, OpenRequest, Role, Status, Term, Verdict};
use tejun_journal::{Journal, NewEvent};
use tejun_locale::Lang;

fn t(hhmm: &str) -> Timestamp {
    // 2026-11-22 in UTC; shown as JST (+9) in the reports.
    format!("2026-11-22T{hhmm}:00Z").parse().unwrap()
}

fn raw(
    journal: &Journal,
    stream: &str,
    refs: &[String],
    kind: &str,
    actor: &str,
    at: &str,
    payload: serde_json::Value,
) {
    journal
        .append(NewEvent {
            stream,
            refs,
            kind,
            actor,
            payload: &payload,
            ts: Some(t(at)),
        })
        .unwrap();
}

/// Case 2 of the brief (the DB cascade), with a detection, a ban, a run and
/// an evidence bundle on the timeline.
fn case(journal: &Journal) -> String {
    let ops = Incidents::new(journal, "sato@ops1").at(t("08:00"));
    let id = ops
        .open(&OpenRequest {
            title: "EC site: DB connection timeouts".into(),
            severity: "P1".into(),
            impact: Some("checkout and product pages return 503 for all users".into()),
            started_at: Some(t("05:25")),
            detected_at: Some(t("05:30")),
            source: "cli".into(),
            env: None,
        })
        .unwrap();
    let refs = vec![format!("incident/{id}")];
    raw(
        journal,
        "detect/db-timeouts",
        &refs,
        "detect.triggered",
        "tejun-watch",
        "05:31",
        json!({
            "rule": "app-db-timeout", "offender": "app-3", "count": 12, "findtime_s": 60, "maxretry": 10,
            "severity": "P1", "first_seen": "2026-11-22T05:30:10Z", "last_seen": "2026-11-22T05:30:58Z",
            "lines": [{"text": "ERROR pool exhausted: timeout after 30000ms", "sha256": "9f2c1e0b", "file": "/var/log/app/app.log"}]
        }),
    );
    raw(
        journal,
        "ban/203.0.113.9",
        &refs,
        "ban.added",
        "tejun-watch",
        "05:32",
        json!({
            "offender": "203.0.113.9", "rule": "scraper", "until": "2026-11-23T05:32:00Z", "bantime_s": 86400, "backend": "nft"
        }),
    );
    ops.assign_role(&id, Role::Commander, "Sato").unwrap();
    ops.assign_role(&id, Role::Scribe, "Suzuki").unwrap();
    let ops = Incidents::new(journal, "sato@ops1").at(t("08:00"));
    ops.set_status(&id, Status::Investigating, Some(t("05:35")))
        .unwrap();
    ops.note(
        &id,
        "load average 25 on db-1; 503s rising",
        Some(t("05:36")),
    )
    .unwrap();
    let h1 = ops
        .hypothesis(&id, "a product-page query without index exhausts the pool")
        .unwrap();
    let h2 = ops.hypothesis(&id, "the cache cluster failed").unwrap();
    ops.verdict(&h2, Verdict::Rejected, "cache hit rate normal")
        .unwrap();
    ops.verdict(
        &h1,
        Verdict::Confirmed,
        "slow log: LIKE '%...%' with filesort on 200K rows",
    )
    .unwrap();
    ops.set_status(&id, Status::Identified, Some(t("05:40")))
        .unwrap();
    raw(
        journal,
        "evidence/abc",
        &refs,
        "evidence.collected",
        "sato@ops1",
        "05:41",
        json!({
            "bundle": "/var/lib/tejun/evidence/evidence-db1.tar.gz", "bundle_sha256": "5e1f00aa", "host": "db1",
            "layers": ["os", "mysql"],
            "files": [{"name": "os/uptime.txt", "sha256": "11aa", "status": "ok"},
                      {"name": "mysql/mysql-processlist.txt", "sha256": "22bb", "status": "ok"},
                      {"name": "manifest.json", "sha256": "33cc", "status": "ok"}]
        }),
    );
    let run = "run/R1";
    raw(
        journal,
        run,
        &refs,
        "run.started",
        "tanaka@ops2",
        "05:45",
        json!({
            "run_id": "R1", "runbook": "db-relief", "path": "/rb/db-relief.yaml", "runbook_sha256": "00",
            "env": "prod", "operator": "tanaka@ops2", "host": "ops2", "pid": 1, "run_dir": "/r", "vars": [],
            "total_steps": 2, "incident": id
        }),
    );
    raw(
        journal,
        run,
        &refs,
        "approval.requested",
        "tanaka@ops2",
        "05:45",
        json!({"run_id": "R1", "count": 1, "executor": "tanaka@ops2"}),
    );
    raw(
        journal,
        run,
        &refs,
        "approval.granted",
        "sato@ops1",
        "05:45",
        json!({"run_id": "R1", "who": "sato@ops1", "reason": "flag off is reversible"}),
    );
    raw(
        journal,
        run,
        &refs,
        "step.started",
        "tanaka@ops2",
        "05:45",
        json!({
            "run_id": "R1", "phase": "execute", "step_id": "disable-flag", "ordinal": 1, "attempt": 1,
            "kind": "run", "safety": "changes", "command": "featurectl off product-search"
        }),
    );
    raw(
        journal,
        run,
        &refs,
        "step.finished",
        "tanaka@ops2",
        "05:46",
        json!({
            "run_id": "R1", "phase": "execute", "step_id": "disable-flag", "ordinal": 1, "attempt": 1,
            "status": "ok", "exit_code": 0, "duration_ms": 800, "output_sha256": null, "stdout_tail": "", "stderr_tail": "", "error": null
        }),
    );
    raw(
        journal,
        run,
        &refs,
        "step.started",
        "tanaka@ops2",
        "05:46",
        json!({
            "run_id": "R1", "phase": "post", "step_id": "verify", "ordinal": 2, "attempt": 1,
            "kind": "confirm", "safety": "read-only", "command": null
        }),
    );
    raw(
        journal,
        run,
        &refs,
        "step.confirmed",
        "tanaka@ops2",
        "05:47",
        json!({
            "run_id": "R1", "phase": "post", "step_id": "verify", "ordinal": 2, "who": "tanaka@ops2",
            "answer": "ok", "evidence": "p95 back to 400 ms", "auto": false
        }),
    );
    raw(
        journal,
        run,
        &refs,
        "step.finished",
        "tanaka@ops2",
        "05:47",
        json!({
            "run_id": "R1", "phase": "post", "step_id": "verify", "ordinal": 2, "attempt": 1,
            "status": "ok", "exit_code": null, "duration_ms": 60000, "output_sha256": null, "stdout_tail": "", "stderr_tail": "", "error": null
        }),
    );
    raw(
        journal,
        run,
        &refs,
        "run.ended",
        "tanaka@ops2",
        "05:47",
        json!({"run_id": "R1", "outcome": "succeeded", "duration_ms": 120000}),
    );
    ops.set_status(&id, Status::Mitigated, Some(t("06:15")))
        .unwrap();
    ops.set_status(&id, Status::Resolved, Some(t("07:45")))
        .unwrap();
    ops.cause(
        &id,
        Layer::Technical,
        "LIKE '%...%' query without index on a 200K-row join",
        &[
            "the query scanned and sorted every row".into(),
            "the new search feature shipped without a query plan review".into(),
        ],
    )
    .unwrap();
    ops.lesson(
        &id,
        "feature flags made the first mitigation a one-line change",
    )
    .unwrap();
    ops.action(
        &id,
        Term::Short,
        "DB team",
        "add indexes and LIMIT to the product query",
    )
    .unwrap();
    ops.action(
        &id,
        Term::Long,
        "SRE",
        "alert on connection-pool saturation",
    )
    .unwrap();
    id
}

fn opts(lang: Lang) -> Options {
    Options {
        lang,
        zone: TimeZone::get("Asia/Tokyo")
            .expect("the Asia/Tokyo zone: install Debian's tzdata package"),
        slo: Some(99.9),
        now: t("08:00"),
        settings: IncidentSettings::default(),
    }
}

fn render(lang: Lang) -> (String, String) {
    let journal = Journal::open_in_memory().unwrap();
    let id = case(&journal);
    let pm = Postmortem::load(&journal, &id).unwrap();
    (
        markdown::render(&pm, &opts(lang)).replace(&id, "INC-TEST"),
        id,
    )
}

#[test]
fn postmortem_markdown_ja() {
    let (md, _) = render(Lang::Ja);
    insta::assert_snapshot!("postmortem_ja", md);
}

#[test]
fn postmortem_markdown_en() {
    let (md, _) = render(Lang::En);
    insta::assert_snapshot!("postmortem_en", md);
}

#[test]
fn postmortem_html_en() {
    let (md, _) = render(Lang::En);
    let page = html::render(&md, "EC site: DB connection timeouts", "en");
    insta::assert_snapshot!("postmortem_html_en", page);
}

#[test]
fn nothing_is_invented_for_an_empty_incident() {
    let journal = Journal::open_in_memory().unwrap();
    let id = Incidents::new(&journal, "a@b")
        .at(t("08:00"))
        .open(&OpenRequest {
            title: "latent risk".into(),
            severity: "P3".into(),
            impact: None,
            started_at: None,
            detected_at: None,
            source: "cli".into(),
            env: None,
        })
        .unwrap();
    let pm = Postmortem::load(&journal, &id).unwrap();
    let md = markdown::render(
        &pm,
        &Options {
            slo: None,
            ..opts(Lang::En)
        },
    );
    for section in [
        "| Impact | TODO |",
        "| Cause | TODO |",
        "| Resolved | TODO |",
        "| Time to mitigate | TODO |",
        "## 5. Hypotheses\n\nTODO",
    ] {
        assert!(md.contains(section), "missing {section:?} in:\n{md}");
    }
    assert_eq!(
        md.matches("| TODO | TODO |").count(),
        3,
        "one TODO row per action term"
    );
}

#[test]
fn skeleton_round_trips_through_the_journal() {
    let journal = Journal::open_in_memory().unwrap();
    let id = case(&journal);
    let pm = Postmortem::load(&journal, &id).unwrap();
    let text = skeleton::render(&pm, Lang::Ja);
    let parsed = skeleton::parse(&text, "pm.md").unwrap();
    assert_eq!(parsed.causes, pm.incident.causes);
    assert_eq!(parsed.lessons, pm.incident.lessons);
    assert_eq!(parsed.actions, pm.incident.actions);
    let edited = text.replace(
        "### process — プロセス\n\n- TODO",
        "### process — プロセス\n\n- no query review before release\n  - why: no checklist",
    );
    let parsed = skeleton::parse(&edited, "pm.md").unwrap();
    assert_eq!(parsed.causes.len(), 2);
    assert_eq!(parsed.causes[1].layer, Layer::Process);
    assert_eq!(parsed.causes[1].whys, vec!["no checklist"]);
}
