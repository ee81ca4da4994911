//! Probes through the real binary: declared once under `probes:`, asked
//! by `probe:` steps and `wait_for:` gates against a real nginx and real
//! TCP ports, every answer journaled; bad declarations refused by `tejun
//! check` at their line:col in English and Japanese.

use std::time::{Duration, Instant};

mod common;
mod probe_nginx;

use common::Lab;
use probe_nginx::{BAD_SITE, Nginx, free_port};

#[test]
fn a_probe_step_asks_nginx_and_journals_status_and_latency() {
    let lab = Lab::new().with_timeout(Duration::from_secs(60));
    let nginx = Nginx::start(lab.dir.path());
    lab.write(
        "book.yaml",
        &format!(
            "name: probe\nenv: dev\nprobes:\n  health:\n    http:\n      url: {}\n      status: 200\n      body: \"^ok\"\n    timeout: 2s\npre:\n  - id: ask\n    probe: health\nexecute:\n  - id: noop\n    run: \"true\"\n",
            nginx.url("/health")
        ),
    );
    lab.run().code(0);
    let results = lab.events("probe.result");
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["probe"], "health");
    assert_eq!(results[0]["step_id"], "ask");
    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[0]["value"], 200.0, "the HTTP status is the value");
    assert!(results[0]["latency_ms"].as_u64().is_some());
    let started = lab.events("step.started");
    assert_eq!(started[0]["kind"], "probe");
}

#[test]
fn an_unhealthy_probe_step_fails_the_phase_with_the_reason() {
    let lab = Lab::new().with_timeout(Duration::from_secs(60));
    let nginx = Nginx::start_serving(lab.dir.path(), BAD_SITE);
    lab.write(
        "book.yaml",
        &format!(
            "name: probe\nenv: dev\nprobes:\n  health:\n    http: {}\npre:\n  - id: ask\n    probe: health\nexecute:\n  - id: noop\n    run: echo ran >> markers\n",
            nginx.url("/health")
        ),
    );
    lab.run().code(1);
    assert!(lab.markers().is_empty(), "execute never started");
    let finished = lab.events("step.finished");
    let error = finished[0]["error"].as_str().unwrap();
    assert!(error.contains("HTTP status 503"), "{error}");
    assert_eq!(lab.events("probe.result")[0]["value"], 503.0);
}

#[test]
fn wait_for_waits_until_a_tcp_port_opens_and_journals_every_answer() {
    let lab = Lab::new().with_timeout(Duration::from_secs(60));
    let port = free_port();
    lab.write(
        "book.yaml",
        &format!(
            "name: gate\nenv: dev\nprobes:\n  db:\n    tcp: 127.0.0.1:{port}\n    timeout: 1s\npre:\n  - id: up\n    wait_for: {{probe: db, until: healthy, timeout: 20s, interval: 100ms}}\nexecute:\n  - id: noop\n    run: \"true\"\n"
        ),
    );
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        // Keep accepting until the test ends.
        for conn in listener.incoming().take(1) {
            drop(conn);
        }
    });
    lab.run().code(0);
    let results = lab.events("probe.result");
    assert!(results.len() >= 2, "it asked more than once: {results:?}");
    assert_eq!(results.last().unwrap()["ok"], true);
    assert!(results.iter().any(|r| r["ok"] == false));
    opener.join().unwrap();
}

#[test]
fn wait_for_gives_up_at_its_timeout() {
    let lab = Lab::new().with_timeout(Duration::from_secs(60));
    let port = free_port();
    lab.write(
        "book.yaml",
        &format!(
            "name: gate\nenv: dev\nprobes:\n  db:\n    tcp: 127.0.0.1:{port}\npre:\n  - id: up\n    wait_for: {{probe: db, timeout: 1s, interval: 200ms}}\nexecute:\n  - id: noop\n    run: \"true\"\n"
        ),
    );
    let started = Instant::now();
    lab.run().code(1);
    assert!(started.elapsed() < Duration::from_secs(15));
    let finished = lab.events("step.finished");
    let error = finished[0]["error"].as_str().unwrap();
    assert!(error.contains("not healthy after 1s"), "{error}");
}

#[test]
fn a_cmd_probe_runs_through_the_step_target_with_the_run_environment() {
    let lab = Lab::new().with_timeout(Duration::from_secs(60));
    lab.write(
        "book.yaml",
        "name: cmd\nenv: dev\nprobes:\n  ran:\n    cmd: test -n \"$TEJUN_RUN_ID\" && echo probe >> markers\npre:\n  - id: ask\n    probe: ran\nexecute:\n  - id: noop\n    run: \"true\"\n",
    );
    lab.run().code(0);
    assert_eq!(lab.markers(), ["probe"]);
    assert_eq!(lab.events("probe.result")[0]["value"], 0.0, "exit code");
}

const BAD_BOOK: &str = "\
name: bad
env: dev
probes:
  web:
    http: htp://127.0.0.1/health
  api:
    http:
      url: http://127.0.0.1:1/
      body: \"([\"
  slow:
    tcp: 127.0.0.1:8080
    interval: soon
  good:
    tcp: 127.0.0.1:9
triggers:
  - error_rate(web) > 5% over 1x
  - p95(nope) > 3s
pre:
  - id: ask
    probe: god
";

#[test]
fn check_points_at_each_bad_probe_and_trigger_in_english_and_japanese() {
    let lab = Lab::new();
    lab.write("book.yaml", BAD_BOOK);
    let out = lab
        .tejun()
        .args(["check", "book.yaml"])
        .env("NO_COLOR", "1")
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    for expected in [
        "book.yaml:5:11",  // bad URL
        "book.yaml:9:13",  // bad regex
        "book.yaml:12:15", // bad duration
        "book.yaml:16:31", // bad `over`
        "book.yaml:17:9",  // unknown probe in a trigger
        "book.yaml:20:12", // unknown probe in a step
    ] {
        assert!(text.contains(expected), "{expected} missing in:\n{text}");
    }
    assert!(text.contains("not an http:// or https:// URL"), "{text}");
    assert!(text.contains("did you mean `good`"), "{text}");
    let out = lab
        .tejun()
        .args(["--lang", "ja", "check", "book.yaml"])
        .env("NO_COLOR", "1")
        .assert()
        .code(2)
        .get_output()
        .clone();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("という名前のプローブはありません"), "{text}");
    assert!(text.contains("期間ではありません"), "{text}");
}
