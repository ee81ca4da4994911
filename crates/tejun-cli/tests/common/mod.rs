//! Helpers the CLI's integration tests share: a throw-away workspace with an
//! inventory, the real `tejun` binary started in it with a predictable
//! environment, and the journal read back. Kept in one place so that every
//! test drives tejun the same way and a change to how it is started (a new
//! environment variable to clear, say) is made once.
//!
//! Each test file uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use tejun_journal::{Journal, Query};
use tempfile::TempDir;

/// One unprotected environment, enough for a runbook to run.
pub const DEV_INVENTORY: &str = "environments:\n  dev:\n    color: green\n";

/// A temporary directory to run tejun in. Its journal is the default one,
/// `.tejun/journal.db` beside the files the test writes.
pub struct Lab {
    pub dir: TempDir,
    timeout: Option<Duration>,
}

impl Lab {
    /// A lab whose `tejun.yaml` defines only `dev`.
    pub fn new() -> Lab {
        Lab::with_inventory(DEV_INVENTORY)
    }

    pub fn with_inventory(inventory: &str) -> Lab {
        let lab = Lab::bare();
        lab.write("tejun.yaml", inventory);
        lab
    }

    /// No inventory anywhere.
    pub fn bare() -> Lab {
        Lab {
            dir: tempfile::tempdir().unwrap(),
            timeout: None,
        }
    }

    /// Every `tejun` this lab starts is killed after `limit`, so a hung
    /// command fails the test instead of hanging it.
    pub fn with_timeout(mut self, limit: Duration) -> Lab {
        self.timeout = Some(limit);
        self
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `tejun` in the lab, in English, ignoring the caller's journal,
    /// inventory and crash-point settings.
    pub fn tejun(&self) -> Command {
        let mut cmd = Command::cargo_bin("tejun").unwrap();
        cmd.current_dir(self.dir.path())
            .env_remove("TEJUN_DB")
            .env_remove("TEJUN_INVENTORY")
            .env_remove("TEJUN_CRASH_AT")
            // Never the developer's own audit key: checkpoints stay in the lab.
            .env("TEJUN_AUDIT_KEY", self.path("audit.key"))
            .env_remove("SUDO_USER")
            .env("LANG", "C");
        if let Some(limit) = self.timeout {
            cmd.timeout(limit);
        }
        cmd
    }

    /// `tejun` to start in the background, for tests that kill it or race
    /// it: the environment of [`Lab::tejun`], no stdin, stdout and stderr
    /// piped (a caller that never reads them sets them to null).
    pub fn background(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("tejun"));
        cmd.current_dir(self.dir.path())
            .env_remove("TEJUN_DB")
            .env_remove("TEJUN_INVENTORY")
            .env_remove("TEJUN_CRASH_AT")
            .env("TEJUN_AUDIT_KEY", self.path("audit.key"))
            .env_remove("SUDO_USER")
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Polls the markers until `ready` holds; after 20 s the test fails
    /// with `what`.
    pub fn wait_for_markers(&self, what: &str, ready: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready(&self.markers()) {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `tejun run book.yaml --env dev --yes`.
    pub fn run(&self) -> Assert {
        self.tejun()
            .args(["run", "book.yaml", "--env", "dev", "--yes"])
            .assert()
    }

    /// The lines steps appended to the `markers` file, in order.
    pub fn markers(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("markers"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The payloads of the journaled events whose kind starts with `kind`.
    pub fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        let journal = Journal::open(&self.path(".tejun/journal.db")).unwrap();
        journal
            .query(&Query {
                kind_prefix: Some(kind),
                ..Query::default()
            })
            .unwrap()
            .into_iter()
            .map(|e| e.payload)
            .collect()
    }
}

/// `tejun` in `dir` with its journal at `dir/journal.db`, Tokyo time, in
/// English, as operator `sato`, with no inventory from the caller.
pub fn tejun_in(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("tejun").unwrap();
    cmd.current_dir(dir)
        .env("TEJUN_DB", dir.join("journal.db"))
        .env("TZ", "Asia/Tokyo")
        .env("LANG", "C")
        .env("USER", "sato")
        .env("TEJUN_AUDIT_KEY", dir.join("audit.key"))
        .env_remove("SUDO_USER")
        .env_remove("TEJUN_INVENTORY");
    cmd
}

/// Stdout of a command that must succeed; its stderr is shown if not.
pub fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The repository root, for the examples and docs tests check.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether a process whose command line contains `needle` is still alive
/// after up to `grace`. A test gives its long-running command a unique
/// argument (`sleep 30.0731`) so it can prove the command itself, not just
/// the shell around it, was killed.
pub fn process_outlives(needle: &str, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        let alive = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok())
            .any(|cmdline| {
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                text.contains(needle)
            });
        if !alive || Instant::now() >= deadline {
            return alive;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP endpoint on 127.0.0.1 (a webhook's receiver): answers each
/// request with the next status of `statuses` (then 200) and hands over
/// each request's body. It serves at most 16 requests.
#[allow(dead_code)]
pub fn http_endpoint(statuses: Vec<u16>) -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in server.incoming().take(16) {
            let Ok(mut stream) = stream else { break };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let status = statuses.next().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (port, rx)
}
