//! Seed case 1 (the EC database cascade), replayed: a stand-in app behind a
//! real nginx on 127.0.0.1 answers 503 once slow queries hold every
//! connection of its pool; `tejun watch`, following nginx's real access
//! log with a metric rule, must see the error rate within 10 s, open a P1
//! incident and run the mitigation runbook, whose step releases the pool,
//! after which the rule resolves. The app writes its slow queries to a
//! MariaDB-format slow log as the server would (when each ends); `tejun
//! collect --slow-log` puts its digest in the incident's evidence, and the
//! report names the slow query.

mod watch_common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use watch_common::Setup;

/// The nginx `log_format` both nginx and watch.yaml use.
const LOG_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time"#;

/// Connections in the app's database pool.
const POOL: usize = 2;

/// Pool connections held by slow queries right now.
static SLOW_HOLDING: AtomicUsize = AtomicUsize::new(0);

/// The stand-in application: `/slow` holds a pool connection until the
/// `release` file appears (a slow query the DBA kills); any request that
/// finds the pool empty gets 503 at once, as the real app's pool timeout
/// would answer.
struct App {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl App {
    fn start(release: PathBuf, slow_log: PathBuf) -> App {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let in_use = Arc::new(AtomicUsize::new(0));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let in_use = in_use.clone();
                let release = release.clone();
                let stopped = stopped.clone();
                let slow_log = slow_log.clone();
                std::thread::spawn(move || serve(stream, &in_use, &release, &slow_log, &stopped));
            }
        });
        App { port, stop }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    mut stream: TcpStream,
    in_use: &AtomicUsize,
    release: &Path,
    slow_log: &Path,
    stop: &AtomicBool,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Headers up to the blank line.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let taken = in_use.fetch_add(1, Ordering::SeqCst) < POOL;
    let status = if !taken {
        "503 Service Unavailable"
    } else if request_line.starts_with("GET /slow") {
        // The slow query: holds its connection until released (bounded).
        SLOW_HOLDING.fetch_add(1, Ordering::SeqCst);
        let began = Instant::now();
        let deadline = began + Duration::from_secs(30);
        while !release.exists() && !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        SLOW_HOLDING.fetch_sub(1, Ordering::SeqCst);
        // The server logs a slow query when it ends.
        let entry = format!(
            "# User@Host: shop[shop] @ app [127.0.0.1]\n# Query_time: {:.6}  Lock_time: 0.000100  Rows_sent: 1  Rows_examined: 4800000\nSET timestamp={};\nSELECT * FROM orders WHERE customer_email = 'c{}@example.com';\n",
            began.elapsed().as_secs_f64(),
            jiff::Timestamp::now().as_second(),
            began.elapsed().as_nanos() % 1000
        );
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(slow_log)
            .unwrap();
        let _ = log.write_all(entry.as_bytes());
        "200 OK"
    } else {
        std::thread::sleep(Duration::from_millis(5));
        "200 OK"
    };
    in_use.fetch_sub(1, Ordering::SeqCst);
    let _ = write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
    );
}

/// A real nginx proxying to the app and logging with [`LOG_FORMAT`].
struct Nginx {
    child: Child,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path, app_port: u16) -> Nginx {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed (scripts/test.sh installs it: apt-get install nginx)");
        fs::create_dir_all(dir.join("logs")).unwrap();
        fs::create_dir_all(dir.join("tmp")).unwrap();
        let port = watch_common_free_port();
        let d = dir.display();
        fs::write(
            dir.join("nginx.conf"),
            format!(
                "worker_processes 1;\nerror_log {d}/logs/error.log;\npid {d}/nginx.pid;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n  log_format timed '{LOG_FORMAT}';\n  access_log {d}/logs/access.log timed;\n\
                 client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
                 server {{\n    listen 127.0.0.1:{port};\n    location / {{ proxy_pass http://127.0.0.1:{app_port}; proxy_read_timeout 60s; }}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .args(["-p", &format!("{d}/"), "-c", &format!("{d}/nginx.conf")])
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx { child, port }
    }

    /// `GET path` through nginx; the status.
    fn get(&self, path: &str) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(40))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: shop\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}

fn watch_common_free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn case1_a_503_spike_behind_nginx_opens_a_p1_and_runs_the_mitigation_within_10_seconds() {
    let setup = Setup::new(
        1,
        60,
        "",
        &format!(
            "  - name: shop\n    paths: [nginx/logs/access.log]\n    log_format: '{LOG_FORMAT}'\n    metrics:\n      - name: shop-5xx\n        when: error_rate > 5% over 10s\n        severity: P1\n        actions:\n          - incident: {{mode: open, severity: P1}}\n          - runbook: {{path: mitigate.yaml, env: dev}}\n"
        ),
    );
    let release = setup.path("release");
    fs::write(setup.path("tejun.yaml"), "environments:\n  dev: {}\n").unwrap();
    fs::write(
        setup.path("mitigate.yaml"),
        format!(
            "name: mitigate-pool-exhaustion\nenv: [dev]\nvars:\n  rule: {{required: true}}\n  release: {}\nexecute:\n  - id: kill-slow-queries\n    run: touch {{{{release}}}}\n",
            release.display()
        ),
    )
    .unwrap();
    fs::write(
        setup.path("slow.log"),
        "/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-log. started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime\t\t    Id Command\tArgument\n",
    )
    .unwrap();
    let app = App::start(release.clone(), setup.path("slow.log"));
    let nginx = Arc::new(Nginx::start(&setup.path("nginx"), app.port));
    assert_eq!(nginx.get("/api/products"), Some(200));

    let mut watch = setup.watch();
    // Steady traffic, 50 requests a second, until the test ends.
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let (nginx, running) = (nginx.clone(), running.clone());
        std::thread::spawn(move || {
            let mut sent = 0u32;
            while running.load(Ordering::Relaxed) && sent < 5_000 {
                let _ = nginx.get("/api/products");
                sent += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        watch
            .drain_for(Duration::from_millis(500), |e| e["event"] == "triggered")
            .is_empty(),
        "healthy traffic fired the rule"
    );

    // The slow queries take every connection of the pool (one that finds
    // the pool busy with a normal request gets its 503 and is sent again).
    let broke_at = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..20 {
        if SLOW_HOLDING.load(Ordering::SeqCst) >= POOL {
            break;
        }
        let nginx = nginx.clone();
        slow.push(std::thread::spawn(move || nginx.get("/slow")));
        std::thread::sleep(Duration::from_millis(50));
    }
    let triggered = watch.wait_for("the error-rate detection", |e| e["event"] == "triggered");
    let detected_in = broke_at.elapsed();
    assert!(
        detected_in < Duration::from_secs(10),
        "detected after {detected_in:?}"
    );
    assert_eq!(triggered["rule"], "shop-5xx");
    assert_eq!(triggered["severity"], "P1");
    assert_eq!(triggered["metric"]["metric"], "error_rate");
    assert!(triggered["metric"]["value"].as_f64().unwrap() > 0.05);
    let incident = triggered["incident"]
        .as_str()
        .expect("an incident id")
        .to_string();

    let finished = watch.wait_for("the mitigation runbook", |e| {
        e["event"] == "runbook_finished"
    });
    assert_eq!(finished["state"], "succeeded", "{finished}");
    assert!(release.exists(), "the runbook's step ran");
    // A slow request that found the pool busy with normal traffic got its
    // 503 at once (and another took its place); those that held the pool
    // are answered 200 once released.
    let answers: Vec<Option<u16>> = slow.into_iter().map(|s| s.join().unwrap()).collect();
    assert!(
        answers.iter().all(Option::is_some),
        "every slow query was answered: {answers:?}"
    );
    assert!(
        answers.iter().filter(|a| **a == Some(200)).count() >= POOL,
        "the slow queries holding the pool were released: {answers:?}"
    );
    // With the pool back, the error rate falls and the rule resolves.
    let resolved = watch.wait_for("the rule resolving", |e| e["event"] == "resolved");
    assert_eq!(resolved["rule"], "shop-5xx");
    running.store(false, Ordering::Relaxed);
    load.join().unwrap();
    watch.stop();

    let opened = setup.events("incident.opened");
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["severity"], "P1");
    let detections = setup.events("detect.triggered");
    assert_eq!(detections.len(), 1, "one episode, one detection");
    let lines = detections[0]["lines"].as_array().unwrap();
    assert!(!lines.is_empty(), "the 503 lines are the evidence");
    assert!(
        lines
            .iter()
            .all(|l| l["text"].as_str().unwrap().contains("\" 503 "))
    );
    assert_eq!(setup.events("metric.resolved").len(), 1);
    let shown = setup.tejun(&["incident", "show", &incident]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{text}");
    assert!(text.contains("shop-5xx"), "{text}");

    // The evidence: the slow log's digest over the incident window names
    // the query that held the pool.
    let log = setup.path("nginx/logs/access.log");
    let collected = setup.tejun(&[
        "collect",
        "--incident",
        &incident,
        "--layers",
        "web,mysql",
        "--access-log",
        log.to_str().unwrap(),
        "--access-format",
        LOG_FORMAT,
        "--slow-log",
        setup.path("slow.log").to_str().unwrap(),
        "--out",
        setup.path("evidence").to_str().unwrap(),
        "--timeout",
        "2s",
    ]);
    assert!(
        collected.status.success(),
        "{}",
        String::from_utf8_lossy(&collected.stderr)
    );
    let report = setup.tejun(&["--lang", "en", "report", &incident]);
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.contains("`select * from orders where customer_email = ?`"),
        "{report}"
    );
    assert!(
        report.contains("Error rate in the incident window"),
        "{report}"
    );
}
