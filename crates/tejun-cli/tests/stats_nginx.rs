//! `tejun stats` on the access log a real nginx writes with the shipped
//! `log_format` (examples/nginx-log-format.conf), under a small bounded
//! load on loopback: a slow upstream behind `proxy_pass`, errors, misses.

mod probe_nginx;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use probe_nginx::Nginx;

/// How long the stand-in upstream takes to answer.
const UPSTREAM_DELAY: Duration = Duration::from_millis(120);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An upstream that answers every request after [`UPSTREAM_DELAY`].
fn slow_upstream() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_slowly(stream));
        }
    });
    port
}

fn answer_slowly(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
        head.push(byte[0]);
    }
    std::thread::sleep(UPSTREAM_DELAY);
    let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
}

fn get(port: u16, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.0\r\nHost: shop.test\r\nUser-Agent: stats-test\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn stats_reads_the_request_times_a_real_nginx_logs() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = slow_upstream();
    let log = dir.path().join("nginx/logs/access.log");
    let log_format =
        std::fs::read_to_string(repo().join("examples/nginx-log-format.conf")).unwrap();
    let site = format!(
        "access_log {} timed;\n\
         location /fast {{ return 200 \"ok\\n\"; }}\n\
         location /broken {{ return 503; }}\n\
         location /slow/ {{ proxy_pass http://127.0.0.1:{upstream}; }}\n",
        log.display()
    );
    let nginx = Nginx::start_with(dir.path(), &log_format, &site);
    // Bounded load: 45 requests, about a second in all.
    for _ in 0..30 {
        assert_eq!(get(nginx.port, "/fast"), 200);
    }
    for i in 0..8 {
        assert_eq!(get(nginx.port, &format!("/slow/{}", 1000 + i)), 200);
    }
    for _ in 0..4 {
        assert_eq!(get(nginx.port, "/broken"), 503);
    }
    for _ in 0..3 {
        assert_eq!(get(nginx.port, "/missing.php"), 404);
    }
    drop(nginx);

    let out = Command::cargo_bin("tejun")
        .unwrap()
        .env("TZ", "UTC")
        .env("LANG", "C")
        .current_dir(repo())
        .args([
            "stats",
            "--nginx-format",
            "@examples/nginx-log-format.conf",
            "--json",
        ])
        .arg(&log)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["files"][0]["malformed"], 0, "{v:#}");
    assert_eq!(v["total"]["requests"], 45);
    assert_eq!(v["total"]["status"]["5xx"], 4);
    assert_eq!(v["total"]["status"]["4xx"], 3);
    let endpoint = |name: &str| {
        v["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["endpoint"] == name)
            .unwrap_or_else(|| panic!("no {name} in {v:#}"))
            .clone()
    };
    let slow = endpoint("GET /slow/:id");
    assert_eq!(slow["requests"], 8);
    let p50 = slow["latency"]["p50_ms"].as_f64().unwrap();
    assert!((110.0..2000.0).contains(&p50), "slow p50 {p50}");
    let fast = endpoint("GET /fast");
    assert!(
        fast["latency"]["p95_ms"].as_f64().unwrap() < 100.0,
        "{fast:#}"
    );
    assert_eq!(v["slow_endpoints"][0]["endpoint"], "GET /slow/:id");
    assert_eq!(v["clients"][0]["client"], "127.0.0.1");
}
