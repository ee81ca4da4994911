//! `tejun collect --access-log --slow-log` and the report's impact figures,
//! through the real binary: the bundle gains a stats summary (web layer)
//! and a digest top 10 (mysql layer) of the incident window only, and
//! `tejun report` cites that window's error rate, p95 and heaviest query
//! (golden files, ja and en).

use std::fmt::Write as _;

use serde_json::Value;

mod common;

use common::{stdout, tejun_in};

/// 2026-11-22 00:00 JST (the tests run with TZ=Asia/Tokyo).
const DAY: i64 = 1_795_273_200;

fn at(hh: i64, mm: i64) -> i64 {
    DAY + hh * 3600 + mm * 60
}

/// 09:00–12:00, one request every 5 s; 10:00–10:30 one in four is a 503
/// and every request takes 1.2 s; otherwise 200 in 80 ms.
fn access_log() -> String {
    let mut out = String::new();
    for (i, t) in (at(9, 0)..at(12, 0)).step_by(5).enumerate() {
        let bad = (at(10, 0)..at(10, 30)).contains(&t);
        let status = if bad && i % 4 == 0 { 503 } else { 200 };
        let secs = if bad { 1.2 } else { 0.08 };
        let when = jiff::Timestamp::from_second(t)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::get("Asia/Tokyo").unwrap())
            .strftime("%d/%b/%Y:%H:%M:%S %z");
        let _ = writeln!(
            out,
            "203.0.113.9 - - [{when}] \"GET /api/checkout HTTP/1.1\" {status} 128 \"-\" \"app\" {secs:.3}"
        );
    }
    out
}

/// The heavy query runs only inside the window; a report query only
/// before it (it must not show).
fn slow_log() -> String {
    let mut out = String::from(
        "/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-log. started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
    );
    for i in 0..6 {
        let _ = write!(
            out,
            "# User@Host: shop[shop] @ web1 [10.0.1.12]\n# Query_time: 9.500000  Lock_time: 0.000100  Rows_sent: 1  Rows_examined: 2400000\nSET timestamp={};\nSELECT * FROM orders WHERE customer_email = 'u{i}@example.com';\n",
            at(10, 5 + i)
        );
        let _ = write!(
            out,
            "# User@Host: shop[shop] @ batch [10.0.1.40]\n# Query_time: 30.000000  Lock_time: 0.000100  Rows_sent: 10  Rows_examined: 10\nSET timestamp={};\nSELECT SUM(total) FROM sales_report WHERE month = {i};\n",
            at(8, i)
        );
    }
    out
}

/// The report's Figures rows that come from the logs.
fn signal_rows(report: &str) -> String {
    report
        .lines()
        .filter(|l| {
            [
                "access log",
                "アクセスログ",
                "p95",
                "slow log",
                "スロークエリログ",
            ]
            .iter()
            .any(|k| l.contains(k))
                && l.starts_with('|')
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn collect_adds_the_windows_stats_and_digest_and_the_report_cites_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("access.log"), access_log()).unwrap();
    std::fs::write(d.join("slow.log"), slow_log()).unwrap();
    let id = stdout(tejun_in(d).args([
        "incident",
        "open",
        "--title",
        "checkout 503s",
        "--severity",
        "P1",
        "--started-at",
        "2026-11-22 10:10",
        "--at",
        "2026-11-22 10:12",
    ]));
    let id = id.trim().to_string();
    stdout(tejun_in(d).args([
        "incident",
        "status",
        &id,
        "resolved",
        "--at",
        "2026-11-22 10:30",
    ]));
    let out: Value = serde_json::from_str(&stdout(tejun_in(d).args([
        "collect",
        "--layers",
        "web,mysql",
        "--incident",
        &id,
        "--access-log",
        "access.log",
        "--access-format",
        r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#,
        "--slow-log",
        "slow.log",
        "--out",
        "ev",
        "--timeout",
        "2s",
        "--json",
    ])))
    .unwrap();
    let files: Vec<&str> = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"web/access-stats.txt"), "{files:?}");
    assert!(files.contains(&"mysql/slow-digest.txt"), "{files:?}");

    // The window is 10:00 (10 min before the impact) → 10:30 (resolved):
    // 361 requests, 90 of them 503s, the window slow throughout.
    let en = stdout(tejun_in(d).args(["report", &id, "--lang", "en"]));
    let ja = stdout(tejun_in(d).args(["report", &id, "--lang", "ja"]));
    insta::assert_snapshot!("report_signal_rows_en", signal_rows(&en));
    insta::assert_snapshot!("report_signal_rows_ja", signal_rows(&ja));
    assert!(
        !en.contains("sales_report"),
        "a query outside the window is not cited"
    );
}
