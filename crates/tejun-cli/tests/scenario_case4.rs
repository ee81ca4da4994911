//! Seed case 4 (the slow degradation), replayed: seven days of nginx access
//! and MariaDB slow logs in which `/api/products` creeps from 200 ms to
//! 3,000 ms because the query behind it lost its index (rows examined grow
//! with the table). `tejun stats --baseline 7d` must flag the endpoint on
//! day 2, naming the hour; `tejun watch` with `p95 > 2x baseline for 30m`,
//! reading the same log from its beginning, must fire on day 2 too; and
//! `tejun digest` of the first and the last day must name the fingerprint
//! whose rows examined grew.

mod watch_common;

use std::fmt::Write as _;
use std::fs;
use std::process::Command;

use serde_json::Value;
use watch_common::{Setup, tejun};

const LOG_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#;

/// 2026-11-01 00:00:00 UTC, day 1 of the replay.
const START: i64 = 1_793_491_200;
const DAY: i64 = 86_400;
/// One request of each endpoint every this many seconds.
const EVERY: i64 = 10;

/// The p95 `/api/products` should have at `t`: 200 ms on day 1, then a
/// straight climb to 3,000 ms at the start of day 6, flat after.
fn products_p95_ms(t: i64) -> f64 {
    let days = (t - START) as f64 / DAY as f64;
    200.0 + 2800.0 * ((days - 1.0) / 5.0).clamp(0.0, 1.0)
}

fn line(out: &mut String, t: i64, path: &str, ms: f64) {
    let when = jiff::Timestamp::from_second(t)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%d/%b/%Y:%H:%M:%S %z");
    let _ = writeln!(
        out,
        "198.51.100.7 - - [{when}] \"GET {path} HTTP/1.1\" 200 2048 \"-\" \"Mozilla/5.0\" {:.3}",
        ms / 1000.0
    );
}

/// Seven days of access log: products requests spread evenly between 55%
/// and 100% of the moment's p95 target, and a steady `/api/cart`.
fn access_log() -> String {
    let mut out = String::new();
    let mut n = 0u64;
    for t in (START..START + 7 * DAY).step_by(EVERY as usize) {
        n += 1;
        let target = products_p95_ms(t);
        let ms = target * (0.55 + 0.05 * ((n * 7) % 10) as f64);
        line(&mut out, t, &format!("/api/products/{}", 1000 + n % 97), ms);
        line(&mut out, t + 5, "/api/cart", 40.0 + (n % 5) as f64 * 10.0);
    }
    out
}

/// One day of MariaDB slow log: the products query examines `examined`
/// rows (no index on category_id: the whole table), the cart query 10.
fn slow_log(day: i64, examined: u64) -> String {
    let mut out = String::from(
        "/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-0+deb12u1-log (Debian 12). started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
    );
    for i in 0..50i64 {
        let t = START + day * DAY + i * 600;
        let _ = write!(
            out,
            "# User@Host: shop[shop] @ web1 [10.0.1.12]\n# Thread_id: 7  Schema: shop  QC_hit: No\n# Query_time: {:.6}  Lock_time: 0.000100  Rows_sent: 20  Rows_examined: {examined}\nSET timestamp={t};\nSELECT id, name, price FROM products WHERE category_id = {} AND active = 1 ORDER BY name LIMIT 20;\n",
            examined as f64 / 200_000.0,
            i % 40
        );
        let _ = write!(
            out,
            "# User@Host: shop[shop] @ web1 [10.0.1.12]\n# Thread_id: 8  Schema: shop  QC_hit: No\n# Query_time: 0.002000  Lock_time: 0.000050  Rows_sent: 3  Rows_examined: 10\nSET timestamp={};\nSELECT item_id, qty FROM cart_items WHERE cart_id = {};\n",
            t + 1,
            9000 + i
        );
    }
    out
}

fn run(args: &[&str], dir: &std::path::Path) -> (String, String) {
    let out = Command::new(tejun())
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .env_remove("TEJUN_INVENTORY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    (stdout, stderr)
}

/// Hour and day (1-based) of a log time.
fn day_and_hour(t: i64) -> (i64, i64) {
    ((t - START) / DAY + 1, (t - START) % DAY / 3600)
}

#[test]
fn case4_a_p95_creeping_up_for_days_is_flagged_on_day_2_and_the_digest_names_the_query() {
    let setup = Setup::new(
        1,
        60,
        "start_at: beginning",
        &format!(
            "  - name: shop\n    paths: [access.log]\n    log_format: '{LOG_FORMAT}'\n    metrics:\n      - {{name: shop-slower, when: p95 > 2x baseline for 30m, severity: P3}}\n"
        ),
    );
    let dir = setup.dir.path();
    fs::write(setup.path("access.log"), access_log()).unwrap();

    // tejun stats --baseline 7d: by endpoint, in ten-minute windows.
    let log = setup.path("access.log");
    let log = log.to_str().unwrap();
    let base = [
        "--lang",
        "en",
        "stats",
        log,
        "--nginx-format",
        LOG_FORMAT,
        "--window",
        "10m",
        "--baseline",
        "7d",
    ];
    let (json, _) = run(&[&base[..], &["--json"]].concat(), dir);
    let report: Value = serde_json::from_str(&json).unwrap();
    let found = report["trends"]["regressions"].as_array().unwrap();
    assert!(!found.is_empty(), "{}", report["trends"]);
    assert!(
        found.iter().all(|r| r["key"] == "GET /api/products/:id"),
        "only the degrading endpoint: {found:#?}"
    );
    let first = &found[0];
    let flagged: jiff::Timestamp = first["flagged_at"].as_str().unwrap().parse().unwrap();
    let (day, hour) = day_and_hour(flagged.as_second());
    eprintln!("stats --baseline 7d flags /api/products on day {day} at {hour:02}:00 UTC");
    assert_eq!(day, 2, "{first:#}");
    // The climb starts at day 2 00:00 and doubles 200 ms by ~08:34; with
    // the 30-minute hold and 10-minute windows, flagged within 08:00–10:00.
    assert!((8..=9).contains(&hour), "{first:#}");
    let (text, _) = run(&base, dir);
    assert!(
        text.contains("`GET /api/products/:id` p95") && text.contains("× its baseline for"),
        "{text}"
    );
    let (ja, _) = run(&[&["--lang", "ja"][..], &base[2..]].concat(), dir);
    assert!(ja.contains("平常時の") && ja.contains("倍です"), "{ja}");

    // tejun watch, the same rule over the whole source, replaying the log.
    let mut watch = setup.watch();
    let fired = watch.wait_for("the baseline detection", |e| e["event"] == "triggered");
    watch.stop();
    let detections = setup.events("detect.triggered");
    let at: jiff::Timestamp = detections[0]["last_seen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (day, hour) = day_and_hour(at.as_second());
    eprintln!("watch `p95 > 2x baseline for 30m` fires on day {day} at {hour:02}:xx UTC");
    assert_eq!(day, 2, "{fired:#}");
    assert!(
        fired["metric"]["baseline"].as_f64().unwrap() > 0.0,
        "{fired:#}"
    );

    // tejun digest of day 1 and day 6: the products query examines 50× the rows.
    fs::write(setup.path("slow-day1.log"), slow_log(0, 10_000)).unwrap();
    fs::write(setup.path("slow-day6.log"), slow_log(5, 500_000)).unwrap();
    let examined = |file: &str| -> Vec<(String, f64, bool)> {
        let (json, _) = run(&["digest", file, "--json"], dir);
        let v: Value = serde_json::from_str(&json).unwrap();
        v["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["fingerprint"].as_str().unwrap().to_string(),
                    c["rows"]["examined_avg"].as_f64().unwrap(),
                    c["missing_index"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let before = examined("slow-day1.log");
    let after = examined("slow-day6.log");
    let grew: Vec<&String> = after
        .iter()
        .filter(|(fp, rows, _)| {
            before
                .iter()
                .any(|(b, was, _)| b == fp && *rows >= 10.0 * was)
        })
        .map(|(fp, _, _)| fp)
        .collect();
    assert_eq!(
        grew,
        [
            "select id, name, price from products where category_id = ? and active = ? order by name limit ?"
        ],
        "{after:#?}"
    );
    assert!(
        after
            .iter()
            .any(|(fp, _, missing)| fp.contains("from products") && *missing)
    );
}

/// Seven days of MariaDB slow log behind the same degradation: the products
/// query's time follows `/api/products`' p95 target and its rows examined
/// grow with it (the table it scans grows; no index on category_id), one
/// call a minute; the cart query stays at 2 ms and 10 rows.
fn seven_day_slow_log() -> String {
    let mut out = String::from(
        "/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-0+deb12u1-log (Debian 12). started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
    );
    for (n, t) in (START..START + 7 * DAY).step_by(60).enumerate() {
        let target = products_p95_ms(t);
        let ms = target * (0.55 + 0.05 * ((n * 7) % 10) as f64);
        let _ = write!(
            out,
            "# User@Host: shop[shop] @ web1 [10.0.1.12]\n# Thread_id: 7  Schema: shop  QC_hit: No\n# Query_time: {:.6}  Lock_time: 0.000100  Rows_sent: 20  Rows_examined: {}\nSET timestamp={t};\nSELECT id, name, price FROM products WHERE category_id = {} AND active = 1 ORDER BY name LIMIT 20;\n",
            ms / 1000.0,
            (target * 50.0) as u64,
            n % 40
        );
        if n % 5 == 0 {
            let _ = write!(
                out,
                "# User@Host: shop[shop] @ web1 [10.0.1.12]\n# Thread_id: 8  Schema: shop  QC_hit: No\n# Query_time: 0.002000  Lock_time: 0.000050  Rows_sent: 3  Rows_examined: 10\nSET timestamp={};\nSELECT item_id, qty FROM cart_items WHERE cart_id = {};\n",
                t + 1,
                9000 + n
            );
        }
    }
    out
}

/// The baseline section of `tejun digest`'s table: from its rule line to
/// the first fingerprint block.
fn baseline_section(table: &str) -> String {
    let start = table
        .find("baselines:")
        .or_else(|| table.find("平常時との比較"))
        .expect("a baseline section");
    let rest = &table[start..];
    rest[..rest.find("\n#1 ").unwrap_or(rest.len())]
        .trim_end()
        .to_string()
}

#[test]
fn case4_digest_baseline_names_the_fingerprint_and_the_hour_on_day_2() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("slow.log"), seven_day_slow_log()).unwrap();
    let base = [
        "digest",
        "slow.log",
        "--baseline",
        "7d",
        "--window",
        "10m",
        "--tz",
        "UTC",
    ];
    let (json, _) = run(
        &[&["--lang", "en"][..], &base, &["--json"]].concat(),
        dir.path(),
    );
    let report: Value = serde_json::from_str(&json).unwrap();
    let found = report["baseline"]["regressions"].as_array().unwrap();
    let products = "select id, name, price from products where category_id = ? and active = ? order by name limit ?";
    assert!(
        found.iter().all(|r| r["fingerprint"] == products),
        "only the products query: {found:#?}"
    );
    for measure in ["query_time", "rows_examined"] {
        let first = found
            .iter()
            .find(|r| r["measure"] == measure)
            .unwrap_or_else(|| panic!("no {measure} regression: {found:#?}"));
        let flagged: jiff::Timestamp = first["flagged_at"].as_str().unwrap().parse().unwrap();
        let (day, hour) = day_and_hour(flagged.as_second());
        eprintln!(
            "digest --baseline 7d flags the products query's {measure} on day {day} at {hour:02}:xx UTC"
        );
        assert_eq!(day, 2, "{first:#}");
        // As for the endpoint: doubled by ~08:34, held 30 minutes.
        assert!((8..=9).contains(&hour), "{first:#}");
        assert!(first["ratio"].as_f64().unwrap() >= 2.0, "{first:#}");
    }

    let (en, _) = run(&[&["--lang", "en"][..], &base].concat(), dir.path());
    let (ja, _) = run(&[&["--lang", "ja"][..], &base].concat(), dir.path());
    insta::assert_snapshot!("case4_digest_baseline_en", baseline_section(&en));
    insta::assert_snapshot!("case4_digest_baseline_ja", baseline_section(&ja));

    let html = dir.path().join("digest.html");
    run(
        &[
            &["--lang", "en"][..],
            &base,
            &["--html", html.to_str().unwrap()],
        ]
        .concat(),
        dir.path(),
    );
    let page = fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Against the previous days")
            && page.contains("<li>fingerprint `select id, name, price from products"),
        "{page}"
    );
}
