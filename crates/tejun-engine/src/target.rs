//! Where commands run. A [`Target`] executes one shell command with a
//! timeout and captures its output; the runner decides what the result
//! means. `LocalTarget` runs on this machine; SSH targets plug in here later.
//!
//! Each command runs as `sh -c CMD` in its own process group, so a timeout or
//! an abort can kill everything it started (pipelines, subshells), and so the
//! terminal's Ctrl-C reaches tejun, which then decides, rather than the
//! command.
//!
//! Spawning uses `posix_spawn` (no `pre_exec` hook): forking a copy of
//! tejun's address space for every step cost as much as the step itself.
//! The price is that a command outlives a `kill -9` of tejun; its process
//! group is written to [`Exec::group_file`] so `tejun resume` can find and
//! stop it before deciding about the unknown step (see [`crate::orphan`]).

use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::abort::AbortSignal;
use crate::capture::{Capture, combined_sha256};

/// How often a waiting command checks for timeout and abort.
const POLL: Duration = Duration::from_millis(50);
/// Between SIGTERM and SIGKILL when a command is stopped.
const KILL_GRACE: Duration = Duration::from_secs(1);
/// How long to keep reading output after the shell exited: background
/// children may hold the pipes open forever.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// One command to execute.
#[derive(Debug, Clone)]
pub struct Exec<'a> {
    pub command: &'a str,
    pub timeout: Duration,
    /// Bytes of each stream to keep (the rest is only hashed).
    pub keep_bytes: usize,
    /// Extra environment variables for the command.
    pub env: &'a [(String, String)],
    pub cwd: Option<PathBuf>,
    /// Where to note the command's process group, with a tag (step and
    /// attempt), while it runs.
    pub group_file: Option<(PathBuf, String)>,
}

/// What happened to a command.
#[derive(Debug)]
pub struct Executed {
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub timed_out: bool,
    pub aborted: bool,
    pub duration: Duration,
    /// SHA-256 of stdout followed by stderr.
    pub output_sha256: String,
    pub stdout: Capture,
    pub stderr: Capture,
}

pub trait Target: Send + Sync {
    /// A name for messages and events (`local`, `web-1`).
    fn name(&self) -> &str;
    /// Runs `exec` to completion, timeout or abort. An `Err` means the
    /// command could not be started at all.
    fn exec(&self, exec: &Exec<'_>, abort: &AbortSignal) -> io::Result<Executed>;
}

/// Runs commands on this machine with `/bin/sh`.
#[derive(Debug, Default, Clone)]
pub struct LocalTarget;

impl Target for LocalTarget {
    fn name(&self) -> &str {
        "local"
    }

    fn exec(&self, exec: &Exec<'_>, abort: &AbortSignal) -> io::Result<Executed> {
        let started = Instant::now();
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(exec.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .envs(exec.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &exec.cwd {
            command.current_dir(cwd);
        }
        let mut child = command.spawn()?;
        let pgid = Pid::from_raw(child.id() as i32);
        if let Some((path, tag)) = &exec.group_file {
            crate::orphan::record(path, child.id(), tag);
        }

        let stdout = Arc::new(Mutex::new(Capture::new(exec.keep_bytes, false)));
        let stderr = Arc::new(Mutex::new(Capture::new(exec.keep_bytes, true)));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let readers = [
            (
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
                &stdout,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
                &stderr,
            ),
        ]
        .into_iter()
        .filter_map(|(pipe, capture)| pipe.map(|p| (p, Arc::clone(capture))))
        .map(|(pipe, capture)| {
            let done = done_tx.clone();
            thread::spawn(move || {
                drain_into(pipe, &capture);
                let _ = done.send(());
            })
        })
        .count();
        drop(done_tx);

        let (status_tx, status_rx) = mpsc::channel::<io::Result<ExitStatus>>();
        thread::spawn(move || {
            let _ = status_tx.send(child.wait());
        });

        let mut timed_out = false;
        let mut aborted = false;
        let mut kill_sent: Option<Instant> = None;
        let status = loop {
            let wait = if kill_sent.is_some() {
                POLL
            } else {
                exec.timeout
                    .saturating_sub(started.elapsed())
                    .clamp(Duration::from_millis(1), POLL)
            };
            match status_rx.recv_timeout(wait) {
                Ok(status) => break status?,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("lost track of the child process"));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            match kill_sent {
                None => {
                    if abort.is_set() {
                        aborted = true;
                    } else if started.elapsed() >= exec.timeout {
                        timed_out = true;
                    }
                    if aborted || timed_out {
                        let _ = killpg(pgid, Signal::SIGTERM);
                        kill_sent = Some(Instant::now());
                    }
                }
                Some(at) if at.elapsed() >= KILL_GRACE => {
                    let _ = killpg(pgid, Signal::SIGKILL);
                }
                Some(_) => {}
            }
        };
        if kill_sent.is_some() {
            // Whatever the shell left behind in its group goes too.
            let _ = killpg(pgid, Signal::SIGKILL);
        }

        let deadline = Instant::now() + DRAIN_GRACE;
        for _ in 0..readers {
            let left = deadline.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        let stdout = take(&stdout);
        let mut stderr = take(&stderr);
        let output_sha256 = combined_sha256(&stdout, &mut stderr);
        Ok(Executed {
            exit_code: status.code(),
            signal: status.signal(),
            timed_out,
            aborted,
            duration: started.elapsed(),
            output_sha256,
            stdout,
            stderr,
        })
    }
}

fn drain_into(pipe: Box<dyn io::Read + Send>, capture: &Mutex<Capture>) {
    let mut pipe = pipe;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => lock(capture).push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

fn lock(capture: &Mutex<Capture>) -> std::sync::MutexGuard<'_, Capture> {
    capture.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes the capture out, leaving an empty one for a reader that may still
/// be attached to a pipe a background child holds open.
fn take(capture: &Mutex<Capture>) -> Capture {
    std::mem::replace(&mut *lock(capture), Capture::new(0, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(command: &str, timeout_ms: u64) -> Executed {
        let exec = Exec {
            command,
            timeout: Duration::from_millis(timeout_ms),
            keep_bytes: 1024,
            env: &[],
            cwd: None,
            group_file: None,
        };
        LocalTarget.exec(&exec, &AbortSignal::never()).unwrap()
    }

    #[test]
    fn captures_exit_code_and_both_streams() {
        let done = run("echo out; echo err >&2; exit 3", 5_000);
        assert_eq!(done.exit_code, Some(3));
        assert_eq!(done.stdout.tail_text(), "out\n");
        assert_eq!(done.stderr.tail_text(), "err\n");
        assert!(!done.timed_out);
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let started = Instant::now();
        let done = run("sleep 30 | cat; echo never", 300);
        assert!(done.timed_out);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(!done.stdout.tail_text().contains("never"));
    }

    #[test]
    fn background_child_holding_the_pipe_does_not_hang_the_step() {
        let started = Instant::now();
        let done = run("sleep 5 & echo ok", 10_000);
        assert_eq!(done.exit_code, Some(0));
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn abort_stops_the_command() {
        let abort = AbortSignal::never();
        let flag = abort.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            flag.raise();
        });
        let exec = Exec {
            command: "sleep 30",
            timeout: Duration::from_secs(60),
            keep_bytes: 16,
            env: &[],
            cwd: None,
            group_file: None,
        };
        let done = LocalTarget.exec(&exec, &abort).unwrap();
        assert!(done.aborted);
    }
}
