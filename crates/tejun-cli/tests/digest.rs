//! `tejun digest` through the real binary: golden renderings of the
//! shipped example logs, malformed input, .gz and stdin, redaction, HTML.

mod common;

use std::io::Write;
use std::path::Path;

use common::Lab;

fn example(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    std::fs::read_to_string(root.join(name)).unwrap()
}

fn stdout(lab: &Lab, args: &[&str]) -> String {
    let out = lab.tejun().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_example_mysql_slow_log_renders_as_the_golden_table() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    insta::assert_snapshot!(stdout(&lab, &["digest", "slow.log", "--tz", "UTC"]));
}

#[test]
fn the_example_mysql_slow_log_renders_as_the_golden_json() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    insta::assert_snapshot!(stdout(
        &lab,
        &["digest", "slow.log", "--json", "--top", "3"]
    ));
}

#[test]
fn the_example_postgres_log_renders_as_the_golden_table() {
    let lab = Lab::bare();
    lab.write("postgresql.log", &example("slow-postgres.log"));
    insta::assert_snapshot!(stdout(
        &lab,
        &["digest", "postgresql.log", "--tz", "Asia/Tokyo"]
    ));
}

#[test]
fn the_missing_index_flag_states_its_threshold_in_japanese_too() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    let ja = stdout(&lab, &["digest", "slow.log", "--lang", "ja", "--tz", "UTC"]);
    assert!(ja.contains("索引がない可能性"), "{ja}");
    assert!(ja.contains("返した行数の 100 倍以上"), "{ja}");
    let strict = stdout(
        &lab,
        &[
            "digest",
            "slow.log",
            "--index-ratio",
            "1000000",
            "--tz",
            "UTC",
        ],
    );
    assert!(!strict.contains("likely missing index"), "{strict}");
    assert!(strict.contains(">= 1000000x rows sent"), "{strict}");
}

#[test]
fn malformed_entries_are_reported_with_their_line_and_the_rest_is_digested() {
    let lab = Lab::bare();
    lab.write(
        "slow.log",
        "stray text\n\
         # Time: 2026-12-01T10:00:00Z\n\
         # Query_time: 1,5  Lock_time: 0  Rows_sent: 1  Rows_examined: 1\n\
         SELECT 1;\n\
         # User@Host: a[a] @ h []\n\
         # Time: 2026-12-01T10:00:01Z\n\
         # Query_time: 0.5  Lock_time: 0  Rows_sent: 1  Rows_examined: 1\n\
         SELECT 2;\n",
    );
    let out = lab
        .tejun()
        .args(["digest", "slow.log", "--tz", "UTC"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("slow.log: 1 queries, 3 malformed entries"),
        "{text}"
    );
    assert!(
        text.contains("slow.log:1: text outside any entry"),
        "{text}"
    );
    assert!(
        text.contains("slow.log:2: Query_time: \"1,5\" is not a number"),
        "{text}"
    );
    assert!(
        text.contains("slow.log:5: entry header without a statement"),
        "{text}"
    );
    assert!(text.contains("select ?"), "{text}");
}

#[test]
fn binary_garbage_is_digested_without_a_panic() {
    let lab = Lab::bare();
    let mut bytes: Vec<u8> = (0..20_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    bytes.extend_from_slice(b"\n# Query_time: 9  Lock_time: x\n\xff\xfe;\n#\n");
    std::fs::write(lab.path("junk.log"), &bytes).unwrap();
    let out = lab.tejun().args(["digest", "junk.log"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = lab
        .tejun()
        .args(["digest", "junk.log", "--format", "postgres", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn gz_and_stdin_give_the_same_digest_as_the_plain_file() {
    let lab = Lab::bare();
    let log = example("slow-mysql.log");
    lab.write("slow.log", &log);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.as_bytes()).unwrap();
    std::fs::write(lab.path("slow.log.gz"), gz.finish().unwrap()).unwrap();
    let plain = stdout(&lab, &["digest", "slow.log", "--json"]);
    let zipped = stdout(&lab, &["digest", "slow.log.gz", "--json"]);
    let piped = lab
        .tejun()
        .args(["digest", "-", "--json"])
        .write_stdin(log)
        .output()
        .unwrap();
    let piped = String::from_utf8(piped.stdout).unwrap();
    let classes = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["fingerprint"].clone(),
                    c["count"].clone(),
                    c["query_time"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(classes(&plain), classes(&zipped));
    assert_eq!(classes(&plain), classes(&piped));
    assert!(!classes(&plain).is_empty());
}

#[test]
fn redact_replaces_the_literals_of_samples() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    let plain = stdout(&lab, &["digest", "slow.log"]);
    assert!(plain.contains("@example."), "{plain}");
    let redacted = stdout(&lab, &["digest", "slow.log", "--redact"]);
    assert!(!redacted.contains("@example."), "{redacted}");
    assert!(
        redacted.contains("WHERE customer_email = ? ORDER BY"),
        "{redacted}"
    );
}

#[test]
fn numbers_inside_names_are_kept_unless_asked_to_replace_them() {
    let lab = Lab::bare();
    lab.write(
        "slow.log",
        "# Query_time: 1  Lock_time: 0  Rows_sent: 1  Rows_examined: 1\nSELECT * FROM db1.table2 WHERE id = 42;\n",
    );
    let kept = stdout(&lab, &["digest", "slow.log"]);
    assert!(
        kept.contains("select * from db1.table2 where id = ?"),
        "{kept}"
    );
    let replaced = stdout(&lab, &["digest", "slow.log", "--replace-embedded-numbers"]);
    assert!(
        replaced.contains("select * from d?table? where id = ?"),
        "{replaced}"
    );
}

#[test]
fn html_is_one_self_contained_page_in_the_operators_language() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    stdout(
        &lab,
        &["digest", "slow.log", "--html", "d.html", "--lang", "ja"],
    );
    let page = std::fs::read_to_string(lab.path("d.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<html lang=\"ja\">"));
    assert!(page.contains("スロークエリ集計"));
    assert!(page.contains("select id, status, total from orders where customer_email = ?"));
    assert!(page.contains("<svg"));
    for outside in ["<script", "http://", "https://", "<link"] {
        assert!(!page.contains(outside), "{outside} in the page");
    }
}

#[test]
fn bad_arguments_are_refused_with_exit_2_in_both_languages() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    let out = lab
        .tejun()
        .args(["digest", "slow.log", "--format", "oracle"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected auto, mysql or postgres"));
    let out = lab
        .tejun()
        .args(["digest", "slow.log", "--format", "oracle", "--lang", "ja"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("のいずれかを指定してください"));
    let out = lab
        .tejun()
        .args(["digest", "slow.log", "--index-ratio=-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn an_unreadable_file_exits_1_after_digesting_the_others() {
    let lab = Lab::bare();
    lab.write("slow.log", &example("slow-mysql.log"));
    let out = lab
        .tejun()
        .args(["digest", "missing.log", "slow.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.log: cannot read"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("slow.log: 40 queries"));
}

/// A slow log with one call of `SELECT n` at each of these Unix times.
fn timed_log(times: &[(i64, u32)]) -> String {
    times
        .iter()
        .map(|(t, n)| {
            format!(
                "# Query_time: 0.5  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 1\nSET timestamp={t};\nSELECT {n} FROM t;\n"
            )
        })
        .collect()
}

#[test]
fn since_and_until_keep_the_queries_of_a_range_read_in_tz() {
    let lab = Lab::bare();
    // 2026-12-01 09:59, 10:30 and 11:30 UTC: 18:59, 19:30, 20:30 in Tokyo.
    let day = 1_796_083_200;
    lab.write(
        "slow.log",
        &timed_log(&[
            (day + 9 * 3600 + 59 * 60, 1),
            (day + 37_800, 2),
            (day + 41_400, 3),
        ]),
    );
    let range = [
        "--since",
        "2026-12-01 19:00",
        "--until",
        "2026-12-01 20:00",
        "--tz",
        "Asia/Tokyo",
    ];
    let json = stdout(
        &lab,
        &[&["digest", "slow.log", "--json"][..], &range].concat(),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["queries"], 1, "{v:#}");
    assert_eq!(v["out_of_range"], 2, "{v:#}");
    assert_eq!(v["first_seen"], "2026-12-01T10:30:00Z");
    let table = stdout(
        &lab,
        &[&["--lang", "en", "digest", "slow.log"][..], &range].concat(),
    );
    assert!(
        table.contains("2 queries outside --since/--until were left out")
            && table.contains("2026-12-01 19:30:00 JST"),
        "{table}"
    );
    // RFC 3339 with its own offset: --tz does not apply.
    let after = stdout(
        &lab,
        &[
            "digest",
            "slow.log",
            "--json",
            "--since",
            "2026-12-01T11:00:00Z",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&after).unwrap();
    assert_eq!(
        (v["queries"].as_u64(), v["out_of_range"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn bad_since_window_and_baseline_flags_are_refused_with_exit_2() {
    let lab = Lab::bare();
    lab.write("slow.log", &timed_log(&[(1_796_083_200, 1)]));
    for (args, en, ja) in [
        (
            &["--since", "yesterday"][..],
            "--since \"yesterday\": expected RFC 3339",
            "経過時間で指定してください",
        ),
        (
            &["--baseline", "36h"][..],
            "expected whole days from 1d to 28d",
            "1d〜28d の日数で指定してください",
        ),
        (
            &["--baseline", "7d", "--window", "0s"][..],
            "--window \"0s\": expected a duration of at least 1s",
            "1 秒以上の長さを指定してください",
        ),
        (
            &["--baseline", "7d", "--baseline-factor", "0.5"][..],
            "expected a factor above 1",
            "1 より大きい倍率",
        ),
    ] {
        for (lang, want) in [("en", en), ("ja", ja)] {
            let out = lab
                .tejun()
                .args([&["--lang", lang, "digest", "slow.log"][..], args].concat())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains(want), "{args:?} {lang}: {stderr}");
            assert!(out.stdout.is_empty(), "nothing digested: {args:?}");
        }
    }
    // --window means nothing without --baseline.
    let out = lab
        .tejun()
        .args(["digest", "slow.log", "--window", "1h"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A multi-MB MariaDB-style slow log: `# Time` once per second (entries in
/// the same second inherit it), multi-line statements, `use db;`, an
/// administrator command, malformed entries spread through the file, and
/// query times whose sum depends on the order it is taken in as floats.
fn big_slow_log() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let start = 1_796_083_200i64;
    for n in 0..40_000i64 {
        if n % 3 == 0 {
            let t = jiff::Timestamp::from_second(start + n / 3)
                .unwrap()
                .to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%y%m%d %H:%M:%S");
            let _ = writeln!(out, "# Time: {t}");
        }
        let _ = writeln!(
            out,
            "# User@Host: app[app] @ web{} [10.0.0.{}]",
            n % 4,
            n % 9
        );
        if n % 7_919 == 100 {
            // Malformed: a query time that is not a number.
            let _ = write!(
                out,
                "# Query_time: fast  Lock_time: 0  Rows_sent: 1  Rows_examined: 1\nSELECT 1;\n"
            );
            continue;
        }
        let _ = writeln!(
            out,
            "# Query_time: {}.{:06}  Lock_time: 0.{:06}  Rows_sent: {}  Rows_examined: {}",
            n % 3,
            (n * 7_919) % 1_000_000,
            (n * 31) % 1000,
            n % 20,
            (n * 13) % 100_000
        );
        if n % 11 == 0 {
            let _ = writeln!(out, "use shop{};", n % 3);
        }
        match n % 6 {
            0 => {
                let _ = writeln!(
                    out,
                    "SELECT * FROM orders\n  WHERE email = 'u{n}@example.com'\n  AND status IN (1, 2, {n});"
                );
            }
            1 => {
                let _ = writeln!(out, "UPDATE carts SET qty = {} WHERE id = {n};", n % 5);
            }
            2 => {
                let _ = writeln!(out, "# administrator command: Ping;");
            }
            3 => {
                let _ = writeln!(out, "INSERT INTO log VALUES ({n}, 'x'), ({}, 'y');", n + 1);
            }
            _ => {
                let _ = writeln!(
                    out,
                    "SELECT name FROM t{} WHERE id = {n} /* from page {n} */;",
                    n % 50
                );
            }
        }
    }
    out
}

#[test]
fn a_large_slow_log_read_on_several_threads_digests_exactly_as_one_thread() {
    let lab = Lab::bare();
    let log = big_slow_log();
    assert!(log.len() > 4 << 20, "{} bytes", log.len());
    lab.write("slow.log", &log);
    let digest = |threads: &str| -> String {
        stdout(
            &lab,
            &[
                "digest",
                "slow.log",
                "--json",
                "--top",
                "100",
                "--tz",
                "UTC",
                "--threads",
                threads,
            ],
        )
    };
    let one = digest("1");
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["files"][0]["malformed"], 6, "{}", v["files"]);
    assert!(
        v["fingerprints"].as_u64().unwrap() > 50,
        "{}",
        v["fingerprints"]
    );
    for threads in ["3", "4", "0"] {
        assert_eq!(digest(threads), one, "--threads {threads}");
    }
    // The table too (samples' lines, first/last seen).
    let table = |threads: &str| {
        stdout(
            &lab,
            &["digest", "slow.log", "--tz", "UTC", "--threads", threads],
        )
    };
    assert_eq!(table("3"), table("1"));
}

/// A nightly job at 03:00 Berlin time, slow every night and quick the rest
/// of the day, over the week clocks went forward (2026-03-29): the same
/// window on the previous days is the same wall-clock hour, not the same
/// hour in UTC, so the job is never a regression (a slow 10:00 is).
#[test]
fn baselines_compare_the_same_wall_clock_hour_across_a_daylight_saving_change() {
    let zone = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let mut log = String::new();
    for day in 22..=31 {
        for hour in 0..24 {
            let Ok(local) = jiff::civil::date(2026, 3, day)
                .at(hour, 10, 0, 0)
                .to_zoned(zone.clone())
            else {
                continue;
            };
            // 02:xx on 29 March does not exist: jiff moves it to 03:xx.
            if local.hour() != hour {
                continue;
            }
            // ...and, once, at 10:00 on the 31st: that one is.
            let query_time = if hour == 3 || (day, hour) == (31, 10) {
                8.0
            } else {
                0.1
            };
            for call in 0..6 {
                let at = local.timestamp().as_second() + call * 60;
                log.push_str(&format!(
                    "# Time: {}\n# User@Host: app[app] @ localhost []\n# Query_time: {query_time:.6}  Lock_time: 0.000010 Rows_sent: 1  Rows_examined: 10\nSET timestamp={at};\nSELECT * FROM nightly_report WHERE day = {day};\n",
                    jiff::Timestamp::from_second(at).unwrap()
                ));
            }
        }
    }
    let lab = Lab::bare();
    lab.write("slow.log", &log);
    let out = stdout(
        &lab,
        &[
            "digest",
            "slow.log",
            "--json",
            "--tz",
            "Europe/Berlin",
            "--baseline",
            "7d",
            "--window",
            "1h",
            "--baseline-for",
            "1h",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let found = report["baseline"]["regressions"].as_array().unwrap();
    let since: Vec<&str> = found.iter().filter_map(|r| r["since"].as_str()).collect();
    assert_eq!(
        since,
        ["2026-03-31T08:00:00Z"],
        "only 10:00 on the 31st, never the nightly job: {found:#?}"
    );
}
