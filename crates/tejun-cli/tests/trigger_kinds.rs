//! The latency and Prometheus triggers and probes, through the real binary.
//! Latency: nginx proxies `/health` to a port that accepts connections and
//! never answers, so each probe takes its whole timeout. Prometheus: nginx
//! serves a fixed answer in Prometheus's `/api/v1/query` format (a stand-in
//! for a Prometheus server, which the test machine does not have; the
//! probe speaks plain HTTP and JSON to it exactly as to Prometheus).

use std::net::TcpListener;
use std::time::Duration;

mod common;
mod probe_nginx;

use common::Lab;
use probe_nginx::Nginx;

fn prometheus_site(value: &str) -> String {
    format!(
        "location /health {{ return 200 \"ok\\n\"; }}\nlocation /api/v1/query {{ default_type application/json; return 200 '{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{{\"metric\":{{}},\"value\":[1700000000,\"{value}\"]}}]}}}}'; }}\n"
    )
}

/// A runbook whose execute step puts `bad` in place and reloads, with
/// `probes`/`trigger`, a bake, and a rollback that restores and reloads.
fn book(lab: &Lab, nginx: &Nginx, probes: &str, trigger: &str, bad: &str) {
    let bad = lab.write("bad.conf", bad);
    let (site, reload) = (nginx.site(), nginx.reload_command());
    lab.write(
        "book.yaml",
        &format!(
            "name: kinds\nenv: dev\nprobes:\n{probes}triggers:\n  - {trigger}\npre:\n  - id: keep\n    backup: {site}\nexecute:\n  - id: change\n    run: cp {bad} {site} && {reload}\npost:\n  - id: bake\n    run: sleep 60\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n    - id: reload\n      run: {reload}\n",
            site = site.display(),
            bad = bad.display()
        ),
    );
}

#[test]
fn a_p95_latency_trigger_fires_when_answers_get_slow() {
    let lab = Lab::new().with_timeout(Duration::from_secs(90));
    let nginx = Nginx::start(lab.dir.path());
    // Accepts (the kernel completes the handshake) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let slow = format!(
        "location /health {{ proxy_pass http://127.0.0.1:{port}; proxy_read_timeout 30s; }}\n"
    );
    let probes = format!(
        "  health:\n    http: {}\n    timeout: 700ms\n    interval: 100ms\n",
        nginx.url("/health")
    );
    book(&lab, &nginx, &probes, "p95(health) > 500ms over 10s", &slow);
    lab.run().code(3);
    let fired = lab.events("trigger.fired");
    assert_eq!(fired[0]["trigger"], "p95(health) > 500ms over 10s");
    assert!(fired[0]["value"].as_f64().unwrap() > 500.0, "{fired:?}");
    assert!(nginx.healthy_soon());
    drop(silent);
}

#[test]
fn a_prometheus_probe_and_trigger_read_the_query_value() {
    let lab = Lab::new().with_timeout(Duration::from_secs(90));
    let nginx = Nginx::start_serving(lab.dir.path(), &prometheus_site("0.1"));
    let base = nginx.url("");
    let probes = format!(
        "  errors:\n    prometheus:\n      url: {base}\n      query: sum(rate(http_requests_total{{code=~\"5..\"}}[1m]))\n      healthy: \"< 0.5\"\n    interval: 100ms\n"
    );
    book(
        &lab,
        &nginx,
        &probes,
        "prometheus(errors) > 0.5",
        &prometheus_site("0.9"),
    );
    lab.run().code(3);
    let fired = lab.events("trigger.fired");
    assert_eq!(fired[0]["value"], 0.9, "{fired:?}");
    let samples: Vec<serde_json::Value> = lab
        .events("probe.samples")
        .iter()
        .flat_map(|e| e["samples"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        samples
            .iter()
            .any(|s| s["value"] == 0.9 && s["ok"] == false),
        "0.9 is not < 0.5: unhealthy, with its value: {samples:?}"
    );
}
