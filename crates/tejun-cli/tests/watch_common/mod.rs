//! Helpers the `tejun watch` integration tests share (watch.rs,
//! watch_actions.rs): a directory with a jail and a watch config, the real
//! binary started with `--json` and its events awaited with bounds, and a
//! webhook receiver on 127.0.0.1.
//!
//! Each test file uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tejun_journal::{Journal, Query};

pub const SSHD_FILTER: &str = "/etc/fail2ban/filter.d/sshd.conf";
pub const WAIT: Duration = Duration::from_secs(15);

pub fn tejun() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tejun")
}

pub fn require_fail2ban() {
    assert!(
        Path::new(SSHD_FILTER).is_file(),
        "{SSHD_FILTER} is missing: install Debian's fail2ban package (apt-get install -y fail2ban)"
    );
}

/// One sshd failure line from `ip`, dated now (UTC, as the config says).
pub fn fail(ip: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "{} web1 sshd[4242]: Failed password for root from {ip} port 50022 ssh2\n",
        now.strftime("%b %e %H:%M:%S")
    )
}

pub fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// A test directory with a jail (maxretry, bantime) and a watch config.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(maxretry: u32, bantime: u32, extra: &str, sources: &str) -> Setup {
        require_fail2ban();
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("jail.local"),
            format!("[sshd]\nenabled = true\nfindtime = 600\nmaxretry = {maxretry}\nbantime = {bantime}\n"),
        )
        .unwrap();
        let config =
            format!("date_zone: UTC\nban: {{backend: none}}\n{extra}\nsources:\n{sources}",);
        fs::write(dir.path().join("watch.yaml"), config).unwrap();
        Setup { dir }
    }

    /// The usual single source: `auth.log` with fail2ban's sshd filter.
    pub fn sshd(maxretry: u32, bantime: u32, extra: &str) -> Setup {
        let sources = format!(
            "  - name: auth\n    paths: [auth.log]\n    fail2ban: {{filter: {SSHD_FILTER}, jail: jail.local}}\n"
        );
        let setup = Setup::new(maxretry, bantime, extra, &sources);
        fs::write(setup.path("auth.log"), "").unwrap();
        setup
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn db(&self) -> PathBuf {
        self.path("journal.db")
    }

    pub fn watch(&self) -> Watch {
        Watch::start(self)
    }

    pub fn journal(&self) -> Journal {
        Journal::open(&self.db()).unwrap()
    }

    /// Payloads of every event of `kind`, in order.
    pub fn events(&self, kind: &str) -> Vec<Value> {
        self.journal()
            .query(&Query {
                kind_prefix: Some(kind),
                ..Query::default()
            })
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.payload)
            .collect()
    }

    pub fn tejun(&self, args: &[&str]) -> std::process::Output {
        Command::new(tejun())
            .arg("--db")
            .arg(self.db())
            .args(args)
            .env("LANG", "C")
            .env("TEJUN_AUDIT_KEY", self.path("audit.key"))
            .output()
            .unwrap()
    }
}

/// A running `tejun watch --json`.
pub struct Watch {
    pub child: Child,
    pub events: Receiver<Value>,
    /// Everything received, for failure messages.
    pub seen: Vec<Value>,
    /// Received but not yet matched by a wait.
    pub unmatched: Vec<Value>,
    pub stderr: Arc<Mutex<String>>,
}

impl Watch {
    pub fn start(setup: &Setup) -> Watch {
        Watch::start_with(setup, &[])
    }

    /// Started in the setup's directory (so a `tejun.yaml` there is the
    /// inventory), with `env` added (e.g. `TEJUN_CRASH_AT`).
    pub fn start_with(setup: &Setup, env: &[(&str, &str)]) -> Watch {
        let mut child = Command::new(tejun())
            .arg("--db")
            .arg(setup.db())
            .args(["watch", "--json", "--config"])
            .arg(setup.path("watch.yaml"))
            .current_dir(setup.dir.path())
            .env("LANG", "C")
            .env_remove("TEJUN_INVENTORY")
            .env_remove("TEJUN_CRASH_AT")
            .env("TEJUN_AUDIT_KEY", setup.path("audit.key"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, events) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut watch = Watch {
            child,
            events,
            seen: Vec::new(),
            unmatched: Vec::new(),
            stderr,
        };
        watch.wait_for("started", |e| e["event"] == "started");
        watch
    }

    /// Waits (bounded) for an event matching `pred` not seen before.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.unmatched.iter().position(&pred) {
            return self.unmatched.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    self.seen.push(event.clone());
                    if pred(&event) {
                        return event;
                    }
                    self.unmatched.push(event);
                }
                Err(_) => panic!(
                    "no `{what}` within {WAIT:?}.\nevents: {:#?}\nstderr:\n{}",
                    self.seen,
                    self.stderr.lock().unwrap()
                ),
            }
        }
    }

    pub fn wait_n(&mut self, what: &str, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        (0..n).map(|_| self.wait_for(what, &pred)).collect()
    }

    /// Collects events for `quiet` and returns those matching `pred`: used
    /// to prove something did NOT happen.
    pub fn drain_for(&mut self, quiet: Duration, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + quiet;
        let mut found: Vec<Value> = self.unmatched.iter().filter(|e| pred(e)).cloned().collect();
        self.unmatched.retain(|e| !pred(e));
        while let Ok(event) = self
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(event.clone());
            if pred(&event) {
                found.push(event);
            } else {
                self.unmatched.push(event);
            }
        }
        found
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGTERM, then a bounded wait for a clean exit.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        // The shell's own `kill`: no procps needed.
        Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "watch exited with {status}; stderr:\n{}",
                    self.stderr()
                );
                break;
            }
            assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Let the stderr reader catch up with the last lines.
        std::thread::sleep(Duration::from_millis(100));
        self.stderr()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn is(kind: &'static str, offender: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["event"] == kind && e["offender"] == offender
}

/// Accepts HTTP requests on 127.0.0.1 and hands their bodies to the test.
pub fn webhook_server(status: u16) -> (String, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/services/T000/B000/secret",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut stream) = stream else { break };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                line.clear();
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
            if tx
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}
