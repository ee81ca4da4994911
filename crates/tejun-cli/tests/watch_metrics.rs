//! `tejun watch` metric rules through the real binary: mistakes in
//! watch.yaml located at file:line:col (exit 2, nothing watched), and a
//! latency rule firing on a log read from its beginning.

mod watch_common;

use std::fs;
use std::process::Command;

use watch_common::{Setup, append, tejun};

/// A source `web` reading `access.log` with the given extra source keys
/// (`    `-indented YAML) and metric rules (`      - ...` items).
fn web(source_keys: &str, metrics: &str) -> Setup {
    let setup = Setup::new(
        1,
        60,
        "start_at: beginning",
        &format!("  - name: web\n    paths: [access.log]\n{source_keys}    metrics:\n{metrics}"),
    );
    fs::write(setup.path("access.log"), "").unwrap();
    fs::write(setup.path("tejun.yaml"), "environments:\n  dev: {}\n").unwrap();
    setup
}

/// `tejun watch` on the setup's config, expected to refuse it: its stderr.
fn refused(setup: &Setup, lang: &str) -> String {
    let out = Command::new(tejun())
        .arg("--db")
        .arg(setup.db())
        .args(["--lang", lang, "watch", "--config"])
        .arg(setup.path("watch.yaml"))
        .current_dir(setup.dir.path())
        .env_remove("TEJUN_INVENTORY")
        .env("TEJUN_AUDIT_KEY", setup.path("audit.key"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn metric_rule_mistakes_are_reported_at_their_place_in_watch_yaml() {
    // Line 8 is the first metric rule's line in `web`'s config.
    let cases: [(&str, &str, &str, (u32, u32)); 8] = [
        (
            "",
            "      - {name: err, when: error_rat > 5%}\n",
            "unknown trigger metric `error_rat`",
            (8, 27),
        ),
        (
            "",
            "      - {name: slow, when: 'p95 > 3 over 5m'}\n",
            "a latency threshold needs a unit",
            (8, 35),
        ),
        (
            "",
            "      - {name: slow, when: p95 > 2x normal}\n",
            "`baseline` after the factor",
            (8, 37),
        ),
        (
            "",
            "      - {name: down, when: failing > 3}\n",
            "cannot be read from an access log",
            (8, 28),
        ),
        (
            "",
            "      - {name: burn, when: 'burn_rate(99.9%) > 14.4 over 5m and 1h'}\n",
            "must be shorter than the first",
            (8, 61),
        ),
        (
            "    format: apache\n",
            "      - {name: err, when: error_rate > 5%}\n",
            "unknown access-log format `apache`",
            (7, 13),
        ),
        (
            "    log_format: '$remote_addr $status$body_bytes_sent [$time_local] \"$request\"'\n",
            "      - {name: err, when: error_rate > 5%}\n",
            "log_format:",
            (7, 38),
        ),
        (
            "",
            "      - name: err\n        when: error_rate > 5%\n        actions: [{runbook: {path: nowhere.yaml, env: dev}}]\n",
            "cannot read runbook",
            (10, 36),
        ),
    ];
    for (keys, metrics, message, (line, col)) in cases {
        let setup = web(keys, metrics);
        let stderr = refused(&setup, "en");
        let place = format!("{}:{line}:{col}: ", setup.path("watch.yaml").display());
        assert!(
            stderr.contains(message) && stderr.contains(&place),
            "expected `{message}` at {place}\n{}\ngot: {stderr}",
            fs::read_to_string(setup.path("watch.yaml")).unwrap()
        );
        let ja = refused(&setup, "ja");
        assert!(ja.contains(&place) && ja != stderr, "{ja}");
    }
}

/// A combined line with `$request_time`, `secs` after `at` (Unix seconds).
fn line(at: i64, path: &str, status: u16, secs: f64) -> String {
    let t = jiff::Timestamp::from_second(at)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%d/%b/%Y:%H:%M:%S %z");
    format!("192.0.2.1 - - [{t}] \"GET {path} HTTP/1.1\" {status} 512 \"-\" \"curl\" {secs:.3}\n")
}

#[test]
fn a_p95_rule_fires_once_per_episode_on_a_log_read_from_its_beginning() {
    let setup = web(
        &format!(
            "    log_format: '{}'\n",
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#
        ),
        "      - {name: slow, when: p95 > 1s over 1m, severity: P2}\n",
    );
    let t0 = 1_800_000_000;
    let mut text = String::new();
    // Ten minutes at 100 ms, two at 2 s, ten at 100 ms: one request a second.
    for i in 0..(22 * 60) {
        let slow = (600..720).contains(&i);
        text.push_str(&line(
            t0 + i,
            "/api/products",
            200,
            if slow { 2.0 } else { 0.1 },
        ));
    }
    append(&setup.path("access.log"), &text);
    let mut watch = setup.watch();
    let fired = watch.wait_for("the p95 detection", |e| e["event"] == "triggered");
    assert_eq!(fired["metric"]["metric"], "p95");
    assert!(fired["metric"]["value"].as_f64().unwrap() >= 1000.0);
    let resolved = watch.wait_for("the end of the episode", |e| e["event"] == "resolved");
    // Resolved by log time: once the last slow request left the window.
    let resolved_at: jiff::Timestamp = resolved["at"].as_str().unwrap().parse().unwrap();
    let after_last_slow = resolved_at.as_second() - (t0 + 720);
    assert!((50..=60).contains(&after_last_slow), "{resolved}");
    watch.stop();
    assert_eq!(setup.events("detect.triggered").len(), 1);
}

#[test]
fn a_burn_rate_rule_fires_only_while_both_windows_burn() {
    let setup = web(
        &format!(
            "    log_format: '{}'\n",
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#
        ),
        "      - {name: budget, when: 'burn_rate(99%) > 10 over 10m and 1m'}\n",
    );
    let t0 = 1_800_000_000;
    let mut text = String::new();
    // Twenty healthy minutes, two minutes of nothing but 503s (the short
    // window burns at 100 at once, the long one passes 10 after a minute),
    // then healthy again.
    for i in 0..(30 * 60) {
        let failing = (1200..1320).contains(&i);
        text.push_str(&line(
            t0 + i,
            "/api/pay",
            if failing { 503 } else { 200 },
            0.05,
        ));
    }
    append(&setup.path("access.log"), &text);
    let mut watch = setup.watch();
    let fired = watch.wait_for("the burn-rate detection", |e| e["event"] == "triggered");
    assert_eq!(fired["metric"]["metric"], "burn_rate");
    assert!(fired["metric"]["value"].as_f64().unwrap() > 10.0, "{fired}");
    let resolved = watch.wait_for("the burn ending", |e| e["event"] == "resolved");
    // The short window stops it a minute after the errors stop, long
    // before the 10-minute window forgets them.
    let resolved_at: jiff::Timestamp = resolved["at"].as_str().unwrap().parse().unwrap();
    let after_last_error = resolved_at.as_second() - (t0 + 1319);
    assert!((1..=61).contains(&after_last_error), "{resolved}");
    watch.stop();
    assert_eq!(setup.events("detect.triggered").len(), 1);
}

#[test]
fn lines_the_access_log_format_cannot_read_are_reported_not_silently_dropped() {
    let setup = web("", "      - {name: err, when: error_rate > 5%}\n");
    append(
        &setup.path("access.log"),
        "this is not an access log line\nneither is this\n",
    );
    let mut watch = setup.watch();
    let said = watch.wait_for("the unreadable lines", |e| e["event"] == "unreadable");
    assert_eq!(said["total"], 2, "{said}");
    watch.stop();
}
