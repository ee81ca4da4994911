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
    let cases: [(&str, &str, &str, (u32, u32)); 9] = [
        (
            "",
            "      - {name: slow, when: 'p95 > 3s over 1d'}\n",
            "percentiles over windows longer than 6h are not kept",
            (8, 29),
        ),
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

/// A source `db` following `slow.log` as a MariaDB slow log, with the
/// given metric rules (`      - ...` items) and extra top-level keys.
fn db(extra: &str, metrics: &str) -> Setup {
    let setup = Setup::new(
        1,
        60,
        &format!("start_at: beginning\n{extra}"),
        &format!(
            "  - name: db\n    paths: [slow.log]\n    slow_log: mysql\n    metrics:\n{metrics}"
        ),
    );
    fs::write(setup.path("slow.log"), "").unwrap();
    setup
}

/// One MariaDB slow-log entry as mariadbd writes it (the statement's
/// lines given), run at `at` (Unix seconds).
fn slow_entry(at: i64, query_time: f64, rows_examined: u64, statement: &[&str]) -> String {
    format!(
        "# User@Host: shop[shop] @ localhost []\n# Thread_id: 7  Schema: shop  QC_hit: No\n# Query_time: {query_time:.6}  Lock_time: 0.000050  Rows_sent: 1  Rows_examined: {rows_examined}\n# Rows_affected: 0  Bytes_sent: 120\nSET timestamp={at};\n{}\n",
        statement.join("\n")
    )
}

#[test]
fn a_slow_log_rule_fires_on_followed_queries_per_fingerprint_and_posts_its_webhook() {
    let (url, bodies) = watch_common::webhook_server(200);
    let setup = db(
        &format!("webhooks: [{{url: '{url}'}}]"),
        "      - {name: db-slow, when: query_time p95 > 2s over 5m, actions: [webhook]}
      - name: orders-scan
        when: rows_examined p95 > 10000 over 5m
        fingerprint: \"SELECT * FROM orders WHERE email = 'someone@example.com'\"
        severity: P2
        actions: [webhook]
      - {name: any-query-slow, when: query_time p95 > 2s over 5m, each: fingerprint, top: 10}
",
    );
    let t0 = jiff::Timestamp::now().as_second() - 60;
    // A report reading many rows, but quickly and of another fingerprint:
    // neither rule holds.
    let mut text = String::from(
        "/usr/sbin/mariadbd, Version: 11.8.3-MariaDB-0+deb13u1 (Debian). started with:\nTcp port: 0  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n# Time: 261204 10:00:00\n",
    );
    for i in 0..5 {
        text.push_str(&slow_entry(
            t0 + i,
            0.4,
            50_000,
            &["SELECT count(*) FROM audit_log;"],
        ));
    }
    // The slow lookup's entry, written up to the middle of its statement.
    let entry = slow_entry(
        t0 + 10,
        2.5,
        90_000,
        &["SELECT * FROM orders", "WHERE email = 'a@example.com';"],
    );
    let (first, rest) = entry.split_at(entry.find("WHERE").unwrap());
    text.push_str(first);
    append(&setup.path("slow.log"), &text);
    let mut watch = setup.watch();
    let early = watch.drain_for(std::time::Duration::from_secs(2), |e| {
        e["event"] == "triggered"
    });
    assert!(early.is_empty(), "{early:?}");
    // The rest of the statement: one query, assembled across two reads,
    // judged as soon as it is written.
    append(&setup.path("slow.log"), rest);
    let scan = watch.wait_for("the fingerprint rule", |e| {
        e["event"] == "triggered" && e["rule"] == "orders-scan"
    });
    assert_eq!(scan["metric"]["metric"], "rows_examined p95", "{scan}");
    assert_eq!(scan["metric"]["value"], 90000.0, "{scan}");
    assert_eq!(
        scan["metric"]["fingerprint"],
        "select * from orders where email = ?"
    );
    let slow = watch.wait_for("the query-time rule", |e| {
        e["event"] == "triggered" && e["rule"] == "db-slow"
    });
    // One slow query among six: p95 (nearest rank) is the slow one.
    assert_eq!(slow["metric"]["value"], 2500.0, "{slow}");
    // Judged per fingerprint, only the lookup's is slow.
    let each = watch.wait_for("the per-fingerprint rule", |e| {
        e["event"] == "triggered" && e["rule"] == "any-query-slow"
    });
    assert_eq!(
        each["metric"]["fingerprint"], "select * from orders where email = ?",
        "{each}"
    );
    let mut texts = Vec::new();
    for _ in 0..2 {
        let body = bodies
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("no webhook");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        texts.push(json["text"].as_str().unwrap().to_string());
    }
    assert!(
        texts.iter().any(|t| t.contains("orders-scan")
            && t.contains("select * from orders where email = ?")
            && t.contains("queries")),
        "{texts:?}"
    );
    watch.stop();
    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 3, "{triggered:?}");
    let scan = triggered
        .iter()
        .find(|e| e["rule"] == "orders-scan")
        .unwrap();
    let evidence = scan["lines"][0]["text"].as_str().unwrap();
    assert!(
        evidence.contains("Rows_examined: 90000")
            && evidence.contains("SELECT * FROM orders WHERE email = 'a@example.com'"),
        "the query itself is the evidence: {evidence}"
    );
    assert_eq!(scan["offender"], "db");
}

#[test]
fn two_slow_logs_of_one_source_are_read_apart_when_both_are_mid_entry() {
    // One source follows two slow logs (two servers, or a log and its
    // successor): an entry half written in one must not swallow the
    // other's lines, whichever is read first.
    let setup = Setup::new(
        1,
        60,
        "start_at: beginning\n",
        "  - name: db\n    paths: [a-slow.log, b-slow.log]\n    slow_log: mysql\n    metrics:
      - name: orders-scan
        when: rows_examined p95 > 10000 over 5m
        fingerprint: \"SELECT * FROM orders WHERE email = 'someone@example.com'\"
      - name: audit-scan
        when: rows_examined p95 > 10000 over 5m
        fingerprint: \"SELECT * FROM audit_log WHERE actor = 'someone'\"
",
    );
    let t0 = jiff::Timestamp::now().as_second() - 60;
    let orders = slow_entry(
        t0,
        2.5,
        90_000,
        &["SELECT * FROM orders", "WHERE email = 'a@example.com';"],
    );
    let audit = slow_entry(
        t0 + 1,
        1.5,
        70_000,
        &["SELECT * FROM audit_log", "WHERE actor = 'b';"],
    );
    let (orders_head, orders_rest) = orders.split_at(orders.find("WHERE").unwrap());
    let (audit_head, audit_rest) = audit.split_at(audit.find("WHERE").unwrap());
    fs::write(setup.path("a-slow.log"), orders_head).unwrap();
    fs::write(setup.path("b-slow.log"), audit_head).unwrap();
    let mut watch = setup.watch();
    let early = watch.drain_for(std::time::Duration::from_secs(2), |e| {
        e["event"] == "triggered" || e["event"] == "unreadable"
    });
    assert!(early.is_empty(), "{early:?}");
    append(&setup.path("a-slow.log"), orders_rest);
    append(&setup.path("b-slow.log"), audit_rest);
    let scan = watch.wait_for("the orders rule", |e| {
        e["event"] == "triggered" && e["rule"] == "orders-scan"
    });
    assert_eq!(scan["metric"]["value"], 90000.0, "{scan}");
    let scan = watch.wait_for("the audit rule", |e| {
        e["event"] == "triggered" && e["rule"] == "audit-scan"
    });
    assert_eq!(scan["metric"]["value"], 70000.0, "{scan}");
    watch.stop();
    let triggered = setup.events("detect.triggered");
    let evidence_file = |rule: &str| {
        triggered.iter().find(|e| e["rule"] == rule).unwrap()["lines"][0]["file"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        evidence_file("orders-scan").ends_with("a-slow.log"),
        "{triggered:?}"
    );
    assert!(
        evidence_file("audit-scan").ends_with("b-slow.log"),
        "{triggered:?}"
    );
}

#[test]
fn a_postgres_statement_reaching_the_log_in_two_writes_is_judged_whole() {
    // PostgreSQL's log stream is line-buffered: a long statement can reach
    // the file in pieces, the watcher waking between them.
    let setup = Setup::new(
        1,
        60,
        "start_at: beginning\n",
        "  - name: pg\n    paths: [postgresql.log]\n    slow_log: postgres\n    metrics:
      - name: orders-slow
        when: query_time p95 > 2s over 5m
        fingerprint: \"SELECT * FROM orders WHERE email = 'someone@example.com'\"
",
    );
    fs::write(setup.path("postgresql.log"), "").unwrap();
    let at = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let prefix = at.strftime("%Y-%m-%d %H:%M:%S%.3f UTC");
    let mut watch = setup.watch();
    append(
        &setup.path("postgresql.log"),
        &format!("{prefix} [4242] LOG:  duration: 2500.000 ms  statement: SELECT *\n"),
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    append(
        &setup.path("postgresql.log"),
        "\tFROM orders\n\tWHERE email = 'a@example.com';\n",
    );
    let slow = watch.wait_for("the fingerprint rule", |e| {
        e["event"] == "triggered" && e["rule"] == "orders-slow"
    });
    assert_eq!(slow["metric"]["value"], 2500.0, "{slow}");
    watch.stop();
    let triggered = setup.events("detect.triggered");
    let evidence = triggered[0]["lines"][0]["text"].as_str().unwrap();
    assert!(
        evidence.contains("SELECT * FROM orders WHERE email = 'a@example.com'"),
        "{evidence}"
    );
}

#[test]
fn slow_log_rule_mistakes_are_reported_at_their_place_in_watch_yaml() {
    // Line 10 is the first metric rule's line in `db`'s config.
    let cases: [(&str, &str, (u32, u32)); 7] = [
        (
            "      - {name: n, when: 'count > 10', each: endpoint}\n",
            "`each: endpoint` is not known here: use `each: fingerprint`",
            (10, 45),
        ),
        (
            "      - {name: n, when: 'count > 10', each: fingerprint, top: 1000}\n",
            "top must be 1..200",
            (10, 63),
        ),
        (
            "      - {name: err, when: error_rate > 5%}\n",
            "cannot be read from a slow log",
            (10, 27),
        ),
        (
            "      - {name: rows, when: 'rows_examined p95 > 10s over 5m'}\n",
            "`s` does not apply to this metric",
            (10, 51),
        ),
        (
            "      - {name: rows, when: rows_examined > 10000}\n",
            "a percentile after the field",
            (10, 42),
        ),
        (
            "      - {name: n, when: 'count > 10 over 1m', fingerprint: '  '}\n",
            "an empty fingerprint",
            (10, 61),
        ),
        (
            "      - {name: n, when: 'burn_rate(99.9%) > 1 over 1h'}\n",
            "cannot be read from a slow log",
            (10, 26),
        ),
    ];
    for (metrics, message, (line, col)) in cases {
        let setup = db("", metrics);
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
    // A slow log's fields on an access log, and an unknown dialect.
    let setup = web(
        "",
        "      - {name: rows, when: rows_examined p95 > 10000}\n",
    );
    let stderr = refused(&setup, "en");
    assert!(
        stderr.contains(":8:28: ") && stderr.contains("is read from a slow log"),
        "{stderr}"
    );
    let setup = Setup::new(
        1,
        60,
        "",
        "  - name: db\n    paths: [slow.log]\n    slow_log: oracle\n    metrics:\n      - {name: n, when: count > 1}\n",
    );
    let stderr = refused(&setup, "en");
    assert!(
        stderr.contains(":7:15: ") && stderr.contains("unknown slow log `oracle`"),
        "{stderr}"
    );
}

#[test]
fn an_endpoint_baseline_survives_a_restart_of_the_watcher() {
    let setup = web(
        &format!(
            "    log_format: '{}'\n",
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#
        ),
        "      - {name: slower, when: p95 > 2x baseline for 10m, each: endpoint, top: 5, baseline_days: 1}\n",
    );
    // Day 0, 09:00–10:00 UTC: both endpoints at 200 ms, each every 10 s.
    let day0 = 1_800_000_000 / 86_400 * 86_400 + 9 * 3600;
    let hour = |start: i64, products_secs: f64| {
        let mut text = String::new();
        for i in 0..360 {
            let at = start + i * 10;
            text.push_str(&line(at, "/api/products/42", 200, products_secs));
            text.push_str(&line(at + 5, "/api/users/7", 200, 0.2));
        }
        text
    };
    append(&setup.path("access.log"), &hour(day0, 0.2));
    let mut watch = setup.watch();
    // The whole day-0 hour is read (its last line counted) before the stop.
    let quiet = watch.drain_for(std::time::Duration::from_secs(2), |e| {
        e["event"] == "triggered"
    });
    assert!(quiet.is_empty(), "{quiet:?}");
    watch.stop();
    // Day 1, same hour: /api/products at 3× its usual time. A new watcher
    // reads only day 1 (its checkpoint is past day 0): what it compares
    // with is the history the first one saved.
    append(&setup.path("access.log"), &hour(day0 + 86_400, 0.6));
    let mut watch = setup.watch();
    let fired = watch.wait_for("the per-endpoint baseline rule", |e| {
        e["event"] == "triggered"
    });
    assert_eq!(
        fired["metric"]["endpoint"], "GET /api/products/:id",
        "{fired}"
    );
    assert!(
        (fired["metric"]["baseline"].as_f64().unwrap() - 200.0).abs() <= 2.0,
        "{fired}"
    );
    let others = watch.drain_for(std::time::Duration::from_secs(1), |e| {
        e["event"] == "triggered"
    });
    assert!(
        others.is_empty(),
        "only the slow endpoint fires: {others:?}"
    );
    watch.stop();
    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 1, "{triggered:?}");
}

#[test]
fn a_three_day_burn_rate_rule_runs_in_watch_on_per_minute_counts_kept_across_a_restart() {
    let setup = web(
        "",
        "      - {name: budget-ticket, when: 'burn_rate(99.9%) > 1 over 3d and 6h'}\n",
    );
    // Four days, one request a minute; from day 3, every 50th fails (2%).
    let day0 = 1_800_000_000 / 86_400 * 86_400;
    let mut text = String::new();
    let mut first_part = String::new();
    for minute in 0..(4 * 1440) {
        // A first watcher reads up to day 3, 02:00 (two failures in).
        if minute == 3 * 1440 + 120 {
            first_part = std::mem::take(&mut text);
        }
        let failing = minute >= 3 * 1440 && (minute - 3 * 1440) % 50 == 49;
        let at = day0 + minute * 60;
        let t = jiff::Timestamp::from_second(at)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%d/%b/%Y:%H:%M:%S %z");
        let status = if failing { 503 } else { 200 };
        text.push_str(&format!(
            "192.0.2.1 - - [{t}] \"GET /api/pay HTTP/1.1\" {status} 512 \"-\" \"curl\"\n"
        ));
    }
    append(&setup.path("access.log"), &first_part);
    let mut watch = setup.watch();
    let quiet = watch.drain_for(std::time::Duration::from_secs(2), |e| {
        e["event"] == "triggered"
    });
    assert!(quiet.is_empty(), "{quiet:?}");
    watch.stop();
    // A second one reads the rest, with the three days of counts the
    // first saved (without them its "3d" would hold two hours, and burn
    // at once).
    append(&setup.path("access.log"), &text);
    let mut watch = setup.watch();
    let fired = watch.wait_for("the 3-day burn", |e| e["event"] == "triggered");
    assert_eq!(fired["metric"]["metric"], "burn_rate");
    let requests = fired["metric"]["requests"].as_u64().unwrap();
    assert!((4319..=4320).contains(&requests), "{fired}");
    assert_eq!(fired["metric"]["bad"], 5, "{fired}");
    watch.stop();
    // 0.1% of the 4,320 requests of three days is 4.3: the fifth failure
    // of day 3 (at 04:09) is the one that burns the 3-day budget too fast.
    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 1, "{triggered:?}");
    let at: jiff::Timestamp = triggered[0]["last_seen"].as_str().unwrap().parse().unwrap();
    let into_day3 = (at.as_second() - (day0 + 3 * 86_400)) / 60;
    assert_eq!(into_day3, 249, "{}", triggered[0]);
}

#[test]
fn a_runbook_trigger_refuses_a_slow_log_field_at_its_place() {
    // The one trigger language reads fields only where a log measures
    // them: a probe measures latency, so a runbook says so at line:col.
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("book.yaml"),
        "name: t\nenv: dev\nprobes:\n  web:\n    tcp: 127.0.0.1:9\ntriggers:\n  - rows_examined p95(web) > 1000\n  - count(web) > 100 over 1m\nexecute:\n  - id: a\n    run: 'true'\n",
    )
    .unwrap();
    for (lang, words) in [
        ("en", "a probe measures latency only"),
        ("ja", "プローブが測るのはレイテンシだけです"),
    ] {
        let out = Command::new(tejun())
            .args(["--lang", lang, "check", "book.yaml"])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .env_remove("TEJUN_INVENTORY")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert!(
            text.contains("book.yaml:7:5") && text.contains(words),
            "{text}"
        );
        assert!(
            !text.contains("book.yaml:8:"),
            "count is a probe's too: {text}"
        );
    }
}
