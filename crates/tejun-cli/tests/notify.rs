//! `notify:` through the real binary and a real HTTP endpoint on
//! loopback: a production run is announced at its start and its end, a
//! failed post is retried, a target hears only its environments and
//! events, incident changes reach stakeholders in their language, every
//! attempt is journaled without the URL's secret, and a dead endpoint does
//! not hold a run hostage.

use std::net::TcpListener;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

mod common;

use common::{Lab, http_endpoint};

fn texts(rx: &Receiver<String>, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(body) = rx.recv_timeout(left) else {
            break;
        };
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        out.push(json["text"].as_str().unwrap().to_string());
    }
    out
}

fn inventory(port: u16, extra: &str) -> String {
    format!(
        "environments:\n  dev: {{}}\n  production: {{}}\nnotify:\n  - name: ops-chat\n    url_env: OPS_HOOK\n    environments: [production]\n    on: [run.started, run.finished]\n{extra}"
    )
    .replace("PORT", &port.to_string())
}

#[test]
fn a_production_run_is_announced_at_start_and_end_after_a_retry() {
    // The first post fails with 503: the worker tries again.
    let (port, rx) = http_endpoint(vec![503]);
    let lab = Lab::with_inventory(&inventory(port, ""));
    lab.write(
        "book.yaml",
        "name: reload\nenv: [dev, production]\nexecute:\n  - run: 'true'\n",
    );
    lab.tejun()
        .env(
            "OPS_HOOK",
            format!("http://127.0.0.1:{port}/services/T0/B0/secret"),
        )
        .args([
            "run",
            "book.yaml",
            "--env",
            "production",
            "--yes",
            "--confirm-env",
            "production",
        ])
        .assert()
        .code(0);
    let got = texts(&rx, 3);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].contains("started: reload in production"), "{got:?}");
    assert_eq!(got[0], got[1], "the failed post is sent again");
    assert!(
        got[2].contains("SUCCEEDED: reload in production"),
        "{got:?}"
    );
    let sent = lab.events("notify.sent");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["attempts"], 2);
    assert_eq!(sent[0]["target"], "ops-chat");
    let url = sent[0]["url"].as_str().unwrap();
    assert!(
        !url.contains("secret"),
        "the URL's secret is not journaled: {url}"
    );
}

#[test]
fn a_target_hears_only_its_environments_and_events_in_its_language() {
    let (port, rx) = http_endpoint(vec![]);
    let lab = Lab::with_inventory(&inventory(
        port,
        "  - name: stakeholders\n    url: http://127.0.0.1:PORT/hook\n    on: [incident]\n    lang: ja\n",
    ));
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - run: 'true'\n",
    );
    // A dev run: ops-chat hears only production, stakeholders only incidents.
    lab.tejun()
        .env("OPS_HOOK", format!("http://127.0.0.1:{port}/x"))
        .args(["run", "book.yaml", "--env", "dev", "--yes"])
        .assert()
        .code(0);
    let id = lab
        .tejun()
        .args([
            "incident",
            "open",
            "--title",
            "checkout down",
            "--severity",
            "P1",
        ])
        .output()
        .unwrap();
    let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
    lab.tejun()
        .args(["incident", "status", &id, "mitigated"])
        .assert()
        .code(0);
    let got = texts(&rx, 2);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].contains(&format!("[P1] {id} checkout down: 発生")),
        "{got:?}"
    );
    assert!(got[1].contains("状態 → 緩和済み"), "{got:?}");
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing about the dev run"
    );
}

#[test]
fn a_dead_endpoint_is_journaled_as_failed_and_does_not_hold_the_run() {
    // A port nothing listens on: every attempt is refused at once.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let lab = Lab::with_inventory(&inventory(port, ""));
    lab.write(
        "book.yaml",
        "name: x\nenv: production\nexecute:\n  - run: 'true'\n",
    );
    let started = Instant::now();
    lab.tejun()
        .env("OPS_HOOK", format!("http://127.0.0.1:{port}/x"))
        .args([
            "run",
            "book.yaml",
            "--env",
            "production",
            "--yes",
            "--confirm-env",
            "production",
        ])
        .assert()
        .code(0);
    assert!(started.elapsed() < Duration::from_secs(20), "bounded wait");
    let failed = lab.events("notify.failed");
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0]["attempts"], 3);
}

#[test]
fn a_notify_target_with_mistakes_is_reported_at_its_lines() {
    let lab = Lab::with_inventory(
        "environments:\n  dev: {}\nnotify:\n  - name: a\n    url: ftp://x\n  - name: b\n    url_env: X\n    on: [run.begun]\n    environments: [prod]\n  - name: c\n",
    );
    let out = lab
        .tejun()
        .args(["check", "tejun.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let at: Vec<(u64, &str)> = json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        at,
        [
            (5, "bad-webhook"),
            (8, "bad-choice"),
            (9, "unknown-environment"),
            (10, "notify-needs-one-url")
        ]
    );
}
