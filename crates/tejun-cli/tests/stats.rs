//! `tejun stats` as a user runs it: the shipped example log, the formats a
//! user pastes, compressed files and pipes, bad lines and bad formats.

use std::io::Write;
use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;

fn tejun() -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.env("TZ", "UTC").env("LANG", "C").env("NO_COLOR", "1");
    cmd
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn json(assert: &assert_cmd::assert::Assert) -> serde_json::Value {
    serde_json::from_slice(&assert.get_output().stdout).unwrap()
}

const COMBINED: &str = r#"203.0.113.7 - - [04/Dec/2026:10:00:01 +0000] "GET /api/items/42?x=1 HTTP/1.1" 200 512 "-" "curl/8.5.0"
203.0.113.7 - - [04/Dec/2026:10:00:30 +0000] "GET /api/items/43 HTTP/1.1" 503 0 "-" "curl/8.5.0"
198.51.100.2 - - [04/Dec/2026:10:01:05 +0000] "POST /login HTTP/1.1" 302 0 "-" "Mozilla/5.0"
198.51.100.2 - - [04/Dec/2026:10:02:59 +0000] "GET /api/items/9f86d081884c7d65 HTTP/1.1" 404 10 "-" "Mozilla/5.0"
"#;

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn example_args(cmd: &mut Command) -> &mut Command {
    cmd.arg("stats")
        .arg("--nginx-format")
        .arg(format!("@{}", example("nginx-log-format.conf").display()))
        .arg(example("access-timed.log"))
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[test]
fn the_shipped_example_renders_the_golden_table() {
    let out = example_args(&mut tejun())
        .args(["--window", "2m"])
        .assert()
        .success();
    // Paths in the footer differ per checkout.
    let text = stdout(&out).replace(
        &example("access-timed.log").display().to_string(),
        "access-timed.log",
    );
    insta::assert_snapshot!("stats_table_en", text);
}

#[test]
fn the_shipped_example_renders_the_golden_table_in_japanese() {
    let out = example_args(&mut tejun())
        .args(["--window", "5m", "--top", "3", "--lang", "ja"])
        .assert()
        .success();
    let text = stdout(&out).replace(
        &example("access-timed.log").display().to_string(),
        "access-timed.log",
    );
    insta::assert_snapshot!("stats_table_ja", text);
}

#[test]
fn the_shipped_example_gives_the_golden_json() {
    let out = example_args(&mut tejun())
        .args(["--window", "5m", "--top", "3", "--json"])
        .assert()
        .success();
    let mut value = json(&out);
    value["files"][0]["path"] = "access-timed.log".into();
    insta::assert_snapshot!("stats_json", serde_json::to_string_pretty(&value).unwrap());
}

#[test]
fn combined_lines_fill_windows_templates_and_error_rates() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "access.log", COMBINED.as_bytes());
    let out = tejun()
        .arg("stats")
        .arg(&log)
        .arg("--json")
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["total"]["requests"], 4);
    assert_eq!(v["total"]["status"]["5xx"], 1);
    assert_eq!(v["total"]["error_rate"], 0.25);
    // Three one-minute windows, 10:00 to 10:02.
    let windows = v["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3);
    assert_eq!(windows[0]["start"], "2026-12-04T10:00:00Z");
    assert_eq!(windows[0]["requests"], 2);
    assert_eq!(windows[0]["error_rate"], 0.5);
    assert_eq!(v["endpoints"][0]["endpoint"], "GET /api/items/:id");
    assert_eq!(v["endpoints"][0]["requests"], 3);
    assert_eq!(v["clients"][0]["client"], "198.51.100.2");
    // No request time in combined: no latency anywhere.
    assert!(v["total"]["latency"].is_null());
}

#[test]
fn malformed_lines_are_counted_with_their_line_numbers_and_never_stop_the_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = COMBINED.as_bytes().to_vec();
    bytes.extend_from_slice(b"garbage line\n\xff\xfe\x00binary\n");
    bytes.extend_from_slice(
        r#"1.2.3.4 - - [04/Dec/2026:10:03:00 +0000] "GET / HTTP/1.1" 2x0 1 "-" "-""#.as_bytes(),
    );
    bytes.extend_from_slice(b"\n\n");
    bytes.extend_from_slice(COMBINED.lines().next().unwrap().as_bytes());
    let log = write(&dir, "access.log", &bytes);
    let out = tejun().arg("stats").arg(&log).assert().success();
    let text = stdout(&out);
    assert!(
        text.contains("3 malformed lines skipped (5:1 expected the format's text between fields; 6:1 expected UTF-8 text without NUL bytes; 7:59 expected a 3-digit status)"),
        "{text}"
    );
    assert!(text.contains("9 lines, 5 requests"), "{text}");
    let out = tejun()
        .arg("stats")
        .arg(&log)
        .arg("--json")
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["files"][0]["malformed"], 3);
    assert_eq!(v["files"][0]["malformed_lines"][2]["line"], 7);
    assert_eq!(v["files"][0]["malformed_lines"][2]["expected"], "status");
}

#[test]
fn a_log_format_variable_that_cannot_be_read_is_refused_at_its_line_and_column() {
    let format = "log_format timed '$remote_addr [$time_local] \"$request\" '\n    '$status$body_bytes_sent $request_time';";
    tejun()
        .args(["stats", "--nginx-format", format, "-"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: --nginx-format:2:13: $body_bytes_sent directly follows $status",
        ));
    tejun()
        .args(["stats", "--nginx-format", format, "-", "--lang", "ja"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "エラー: --nginx-format:2:13: $body_bytes_sent が $status の直後にあり",
        ));
    // From a file: the file's own line and column.
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        &dir,
        "fmt.conf",
        b"# mine\nlog_format x '[$time_local] ${status';\n",
    );
    tejun()
        .args(["stats", "--nginx-format"])
        .arg(format!("@{}", conf.display()))
        .arg("-")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:2:29: `${{status` is missing its closing",
            conf.display()
        )));
}

#[test]
fn apache_microseconds_become_latency_percentiles() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (i, micros) in [1_000u64, 2_000, 3_000, 250_000].iter().enumerate() {
        text.push_str(&format!(
            "192.0.2.{i} - - [04/Dec/2026:10:00:0{i} +0000] \"GET /x HTTP/1.1\" 200 5 \"-\" \"ua\" {micros}\n"
        ));
    }
    let log = write(&dir, "access_log", text.as_bytes());
    let out = tejun()
        .arg("stats")
        .arg(&log)
        .args([
            "--apache-format",
            r#"LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D" timed"#,
            "--json",
        ])
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["total"]["latency"]["count"], 4);
    // HdrHistogram keeps two significant digits.
    let p50 = v["total"]["latency"]["p50_ms"].as_f64().unwrap();
    assert!((2.0..=2.02).contains(&p50), "{p50}");
    let max = v["total"]["latency"]["max_ms"].as_f64().unwrap();
    assert!((249.0..=251.0).contains(&max), "{max}");
}

#[test]
fn json_lines_are_read_with_a_field_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        &dir,
        "app.jsonl",
        br#"{"ts":"2026-12-04T10:00:00Z","route":"/orders/7","method":"GET","code":200,"dur":120}
{"ts":"2026-12-04T10:00:10Z","route":"/orders/8","method":"GET","code":500,"dur":3000}
"#,
    );
    let out = tejun()
        .arg("stats")
        .arg(&log)
        .args([
            "--format",
            "json",
            "--fields",
            "time=ts,path=route,status=code,request_time=dur:ms",
            "--json",
        ])
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["total"]["requests"], 2);
    assert_eq!(v["endpoints"][0]["endpoint"], "GET /orders/:id");
    let max = v["total"]["latency"]["max_ms"].as_f64().unwrap();
    assert!((3000.0..=3030.0).contains(&max), "{max}");
    tejun()
        .arg("stats")
        .arg(&log)
        .args(["--format", "json", "--fields", "time=ts,latency=dur"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--fields:1:9: unknown part `latency`",
        ));
}

#[test]
fn gzip_files_and_standard_input_read_like_plain_files() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("access.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(COMBINED.as_bytes()).unwrap();
    enc.finish().unwrap();
    let out = tejun()
        .arg("stats")
        .arg(&gz)
        .arg("-")
        .arg("--json")
        .write_stdin(COMBINED)
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["total"]["requests"], 8);
    assert_eq!(v["files"][1]["path"], "-");
    assert_eq!(v["files"][1]["requests"], 4);
}

#[test]
fn since_and_until_keep_only_their_requests() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "access.log", COMBINED.as_bytes());
    let out = tejun()
        .arg("stats")
        .arg(&log)
        .args([
            "--since",
            "2026-12-04 10:00:30",
            "--until",
            "2026-12-04T10:01:59Z",
            "--json",
        ])
        .assert()
        .success();
    let v = json(&out);
    assert_eq!(v["total"]["requests"], 2);
    assert_eq!(v["out_of_range"], 2);
}

#[test]
fn an_unreadable_file_fails_but_the_others_are_still_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(&dir, "access.log", COMBINED.as_bytes());
    let out = tejun()
        .arg("stats")
        .arg(dir.path().join("missing.log"))
        .arg(&log)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.log: cannot read"));
    assert!(stdout(&out).contains("requests 4"));
}

#[test]
fn the_html_page_is_self_contained_with_charts_and_escapes_what_logs_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = r#"203.0.113.9 - - [04/Dec/2026:10:00:09 +0000] "GET /<script>alert(1)</script> HTTP/1.1" 200 1 "-" "-""#;
    let log = write(
        &dir,
        "access.log",
        format!("{COMBINED}{hostile}\n").as_bytes(),
    );
    let page = dir.path().join("report.html");
    tejun()
        .arg("stats")
        .arg(&log)
        .arg("--html")
        .arg(&page)
        .args(["--lang", "ja"])
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"ja\">"));
    assert!(html.contains("ステータス構成の推移") && html.contains("上位エンドポイント"));
    // Two charts (status mix, endpoints; no latency in combined), inline.
    assert_eq!(html.matches("<svg").count(), 2, "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("GET /&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Nothing fetched when viewed.
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains(" src=") && !without_ns.contains("<link"));
}

#[test]
fn the_html_page_charts_latency_percentiles_when_the_format_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    example_args(&mut tejun())
        .arg("--html")
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Latency percentiles over time"));
    assert_eq!(html.matches("<svg").count(), 3);
    for label in [">p50<", ">p95<", ">p99<", ">5xx<", ">#1<"] {
        assert!(
            html.replace(char::is_whitespace, "").contains(label),
            "{label}"
        );
    }
}

/// Runs `tejun stats LOG EXTRA` with stderr on a pseudo-terminal (util-linux
/// `script`, as the scan progress test does) and stdout to a file; returns
/// what the terminal showed.
fn on_terminal(log: &std::path::Path, extra: &str, stdout: &std::path::Path) -> String {
    let bin = assert_cmd::cargo::cargo_bin("tejun");
    let command = format!(
        "{} stats {} {extra} > {}",
        bin.display(),
        log.display(),
        stdout.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TZ", "UTC")
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux `script` is needed: apt-get install -y bsdutils");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_long_input_shows_a_progress_bar_on_a_terminal_but_not_with_json() {
    let dir = tempfile::tempdir().unwrap();
    // ~6 MiB: several progress steps of 1 MiB.
    let mut text = String::new();
    for i in 0..60_000u32 {
        text.push_str(&format!(
            "10.0.{}.{} - - [04/Dec/2026:10:{:02}:{:02} +0000] \"GET /api/items/{i} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"\n",
            i / 250 % 256,
            i % 250,
            i / 60 % 60,
            i % 60,
            i % 5000
        ));
    }
    let log = write(&dir, "access.log", text.as_bytes());
    let shown = on_terminal(&log, "", &dir.path().join("table.txt"));
    assert!(
        shown.contains("scanning") && shown.contains("MiB"),
        "no progress bar: {shown:?}"
    );
    let table = std::fs::read_to_string(dir.path().join("table.txt")).unwrap();
    assert!(table.contains("requests 60000"), "{table}");
    let shown = on_terminal(&log, "--json", &dir.path().join("out.json"));
    assert!(
        !shown.contains("scanning"),
        "--json draws no bar: {shown:?}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(json["total"]["requests"], 60_000);
}

#[test]
fn a_log_in_another_format_is_named_as_probably_the_wrong_format() {
    let json_line = r#"{"time":"2026-12-04T10:00:00Z","status":200,"path":"/"}"#;
    tejun()
        .args(["stats", "-"])
        .write_stdin(format!("{json_line}\n{json_line}\n"))
        .assert()
        .success()
        .stderr(predicate::str::contains("-: no line matched the format"));
    tejun()
        .args(["stats", "-", "--format", "json"])
        .write_stdin(format!("{json_line}\n"))
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
}

#[test]
fn a_day_window_is_a_local_day_in_the_operators_zone() {
    // 14:30 and 15:30 UTC on Dec 4: Dec 4 23:30 and Dec 5 00:30 in Tokyo.
    let log = r#"203.0.113.7 - - [04/Dec/2026:14:30:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"
203.0.113.7 - - [04/Dec/2026:15:30:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "access.log", log.as_bytes());
    let windows = |zone: &[&str]| -> Vec<(String, u64)> {
        let out = tejun()
            .args(["stats", "--window", "1d", "--json"])
            .args(zone)
            .arg(&path)
            .assert()
            .success();
        json(&out)["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["start"].as_str().unwrap().to_string(),
                    w["requests"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    // UTC (TZ=UTC): one day holds both.
    assert_eq!(windows(&[]), [("2026-12-04T00:00:00Z".to_string(), 2)]);
    // --tz Asia/Tokyo: two local days, starting at Tokyo midnight.
    assert_eq!(
        windows(&["--tz", "Asia/Tokyo"]),
        [
            ("2026-12-03T15:00:00Z".to_string(), 1),
            ("2026-12-04T15:00:00Z".to_string(), 1)
        ]
    );
    // TZ alone says the same.
    let out = tejun()
        .env("TZ", "Asia/Tokyo")
        .args(["stats", "--window", "1d", "--json"])
        .arg(&path)
        .assert()
        .success();
    assert_eq!(json(&out)["windows"].as_array().unwrap().len(), 2);
}

/// A multi-MB log in time order with every figure a part could get wrong:
/// windows across part boundaries, many endpoints and clients, 5xx,
/// latencies, and malformed lines late in the file.
fn big_timed_log() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let start = 1_796_083_200i64; // 2026-12-01 00:00 UTC
    for n in 0..60_000i64 {
        let t = jiff::Timestamp::from_second(start + n / 2)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%d/%b/%Y:%H:%M:%S %z");
        if n % 9_001 == 4_000 {
            out.push_str("this line is not in the format\n");
            continue;
        }
        let status = if n % 97 == 0 { 503 } else { 200 };
        let _ = writeln!(
            out,
            "10.0.{}.{} - - [{t}] \"GET /api/items/{}/part{} HTTP/1.1\" {status} {} \"-\" \"bench/1.0\" {}.{:03}",
            n % 7,
            n % 251,
            n % 1013,
            n % 40,
            100 + n % 5000,
            n % 3,
            (n * 37) % 1000
        );
    }
    out
}

#[test]
fn a_large_file_read_on_several_threads_reports_exactly_what_one_thread_does() {
    let dir = tempfile::tempdir().unwrap();
    let log = big_timed_log();
    assert!(log.len() > 5 << 20, "{} bytes", log.len());
    let path = write(&dir, "access.log", log.as_bytes());
    let format = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#;
    let report = |threads: &str| -> String {
        let out = tejun()
            .args(["stats", "--json", "--top", "50", "--nginx-format", format])
            .args(["--threads", threads])
            .arg(&path)
            .assert()
            .success();
        stdout(&out)
    };
    let one = report("1");
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["files"][0]["malformed"], 7, "{}", v["files"]);
    assert_eq!(v["files"][0]["malformed_lines"][4]["line"], 40_005);
    assert_eq!(v["late"], 0);
    // Three and four threads cut the file differently; the default is one
    // per core.
    for threads in ["3", "4", "0"] {
        assert_eq!(report(threads), one, "--threads {threads}");
    }
}

/// Apache logs a request at the time it started, so a long request's line
/// comes after newer ones: lines a couple of minutes out of order, read on
/// several threads, give the windows (percentiles, late count) one thread
/// gives.
#[test]
fn lines_a_little_out_of_order_read_on_several_threads_report_what_one_thread_does() {
    use std::fmt::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_796_083_200; // 2026-12-01 00:00 UTC
    let mut log = String::new();
    for n in 0..16_000i64 {
        // One line in five started 130 s before its neighbours.
        let at = t0 + n * 2 - if n % 5 == 4 { 130 } else { 0 };
        let t = jiff::Timestamp::from_second(at)
            .unwrap()
            .strftime("%d/%b/%Y:%H:%M:%S +0000");
        let _ = writeln!(
            log,
            "10.0.0.{} - - [{t}] \"GET /a/{} HTTP/1.1\" {} 512 \"-\" \"curl/8\" 0.{:03}",
            n % 7,
            n % 5,
            if n % 3 == 0 { 500 } else { 200 },
            (n * 37) % 1000
        );
    }
    assert!(log.len() > 1 << 20, "{} bytes", log.len());
    let path = write(&dir, "access.log", log.as_bytes());
    let format = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#;
    let report = |threads: &str| -> String {
        let out = tejun()
            .args(["stats", "--json", "--nginx-format", format])
            .args(["--threads", threads])
            .arg(&path)
            .assert()
            .success();
        stdout(&out)
    };
    let one = report("1");
    let v: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(v["late"], 0);
    for threads in ["2", "4"] {
        assert_eq!(report(threads), one, "--threads {threads}");
    }
}
