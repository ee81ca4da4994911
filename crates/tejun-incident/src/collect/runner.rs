//! Runs one catalogue command: no shell, stdin closed, output to files (so
//! a chatty command cannot deadlock on a full pipe), a hard timeout after
//! which the process is killed, and a cap on how much output is kept.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wait_timeout::ChildExt;

use super::catalog::Entry;
use super::redact::Redactor;

/// Output kept per stream; the rest is cut with a marker.
pub const MAX_OUTPUT: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Ran and exited non-zero.
    Failed,
    /// The program is not installed.
    Missing,
    TimedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Missing => "missing",
            Status::TimedOut => "timed-out",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub layer: String,
    pub title_en: String,
    pub title_ja: String,
    /// Redacted command line.
    pub command: String,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// Why it was not ok, in English (stored in the manifest).
    pub reason: Option<String>,
    /// The same, in Japanese, for the operator's screen.
    pub reason_ja: Option<String>,
    /// Redacted stdout and stderr.
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn set(&mut self, status: Status, en: String, ja: String) {
        self.status = status;
        self.reason = Some(en);
        self.reason_ja = Some(ja);
    }
}

pub fn run_entry(entry: &Entry, default_timeout: Duration, redactor: &mut Redactor) -> Outcome {
    let timeout = entry.timeout.unwrap_or(default_timeout);
    let started = Instant::now();
    let mut outcome = Outcome {
        id: entry.id.clone(),
        layer: entry.layer.clone(),
        title_en: entry.title_en.clone(),
        title_ja: entry.title_ja.clone(),
        command: redactor.redact_argv(&entry.run),
        status: Status::Ok,
        exit_code: None,
        duration_ms: 0,
        reason: None,
        reason_ja: None,
        stdout: String::new(),
        stderr: String::new(),
    };
    let (mut out_file, mut err_file) = match (tempfile::tempfile(), tempfile::tempfile()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            outcome.set(
                Status::Failed,
                format!("cannot create a temporary file: {e}"),
                format!("一時ファイルを作成できません: {e}"),
            );
            return outcome;
        }
    };
    let spawned = Command::new(&entry.run[0])
        .args(&entry.run[1..])
        .stdin(Stdio::null())
        .stdout(
            out_file
                .try_clone()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .stderr(
            err_file
                .try_clone()
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        // Never page, never colour, never wait for a password.
        .env("PAGER", "cat")
        .env("SYSTEMD_PAGER", "")
        .env("SYSTEMD_COLORS", "0")
        .env("PGCONNECT_TIMEOUT", "5")
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            outcome.set(
                Status::Missing,
                format!("command not found: {}", entry.run[0]),
                format!("コマンドがありません: {}", entry.run[0]),
            );
            return outcome;
        }
        Err(e) => {
            outcome.set(
                Status::Failed,
                format!("cannot start {}: {e}", entry.run[0]),
                format!("{} を起動できません: {e}", entry.run[0]),
            );
            return outcome;
        }
    };
    match child.wait_timeout(timeout) {
        Ok(Some(status)) => {
            outcome.exit_code = status.code();
            if !status.success() {
                match status.code() {
                    Some(code) => outcome.set(
                        Status::Failed,
                        format!("exited with status {code}"),
                        format!("終了コード {code} で終了しました"),
                    ),
                    None => outcome.set(
                        Status::Failed,
                        "killed by a signal".into(),
                        "シグナルで終了しました".into(),
                    ),
                }
            }
        }
        Ok(None) => {
            // Our own child, by its handle: nothing else is signalled.
            let _ = child.kill();
            let _ = child.wait();
            let secs = timeout.as_secs_f64();
            outcome.set(
                Status::TimedOut,
                format!("no result within {secs} s; stopped"),
                format!("{secs} 秒以内に終わらないため停止しました"),
            );
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            outcome.set(
                Status::Failed,
                format!("waiting failed: {e}"),
                format!("終了待ちに失敗しました: {e}"),
            );
        }
    }
    outcome.duration_ms = started.elapsed().as_millis() as u64;
    outcome.stdout = redactor.redact(&read_capped(&mut out_file));
    outcome.stderr = redactor.redact(&read_capped(&mut err_file));
    outcome
}

fn read_capped(file: &mut std::fs::File) -> String {
    use std::io::Seek;
    let _ = file.seek(std::io::SeekFrom::Start(0));
    let mut bytes = Vec::new();
    let _ = file.take(MAX_OUTPUT + 1).read_to_end(&mut bytes);
    let cut = bytes.len() as u64 > MAX_OUTPUT;
    bytes.truncate(MAX_OUTPUT as usize);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        text.push_str("\n[tejun: output cut at 4 MiB]\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: &[&str], timeout: Option<Duration>) -> Entry {
        Entry {
            id: "t".into(),
            layer: "os".into(),
            title_en: "t".into(),
            title_ja: "t".into(),
            run: run.iter().map(|s| s.to_string()).collect(),
            timeout,
            origin: "test".into(),
        }
    }

    #[test]
    fn records_ok_failed_missing_and_timed_out() {
        let mut r = Redactor::default();
        let ok = run_entry(
            &entry(&["echo", "password=hunter2"], None),
            Duration::from_secs(10),
            &mut r,
        );
        assert_eq!(ok.status, Status::Ok);
        assert_eq!(ok.stdout, "password=***\n");
        let failed = run_entry(
            &entry(&["ls", "/definitely/not/here"], None),
            Duration::from_secs(10),
            &mut r,
        );
        assert_eq!(failed.status, Status::Failed);
        assert!(failed.exit_code.unwrap() != 0 && !failed.stderr.is_empty());
        let missing = run_entry(
            &entry(&["tejun-no-such-tool"], None),
            Duration::from_secs(10),
            &mut r,
        );
        assert_eq!(missing.status, Status::Missing);
        let started = Instant::now();
        let slow = run_entry(
            &entry(&["sleep", "30"], Some(Duration::from_millis(300))),
            Duration::from_secs(10),
            &mut r,
        );
        assert_eq!(slow.status, Status::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
