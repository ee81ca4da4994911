//! Where commands run. A [`Target`] executes one shell command with a
//! timeout and captures its output; the runner decides what the result
//! means. `LocalTarget` runs on this machine, [`SshTarget`] on a host over the
//! system OpenSSH client.
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
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::abort::AbortSignal;
use crate::capture::{Capture, combined_sha256};
use tejun_probe::ProbeFrom;

mod ssh;
pub use ssh::{SshError, SshOptions, SshTarget, single_quote as ssh_single_quote};

/// How often a waiting command checks for timeout and abort.
const POLL: Duration = Duration::from_millis(50);
/// After its output closed, how long a command's exit is looked for every
/// [`EXIT_POLL`] before backing off to [`POLL`].
const EXIT_SOON: Duration = Duration::from_millis(100);
const EXIT_POLL: Duration = Duration::from_millis(1);
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
    /// The step's `on:`; only a fleet target looks at it.
    pub on: tejun_runbook::fleet::On,
    /// Sees output as it arrives (both streams), for an operator watching
    /// a long command; the capture is unchanged.
    pub live: Option<LiveOutput<'a>>,
    /// Told when each host of a fleet step starts and ends (a live
    /// per-host view); only a fleet target calls it.
    pub host_view: Option<&'a dyn crate::operator::HostView>,
}

/// A callback for output as it is read.
#[derive(Clone, Copy)]
pub struct LiveOutput<'a>(pub &'a dyn Fn(&[u8]));

impl std::fmt::Debug for LiveOutput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveOutput")
    }
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
    /// Each host's result, when the step ran on a fleet.
    pub hosts: Vec<crate::events::HostStep>,
}

/// How long a remote file transfer may take, and the run's abort.
#[derive(Clone, Copy)]
pub struct Limits<'a> {
    pub timeout: std::time::Duration,
    pub abort: &'a AbortSignal,
}

pub trait Target: Send + Sync {
    /// A name for messages and events (`local`, `web-1`).
    fn name(&self) -> &str;
    /// Runs `exec` to completion, timeout or abort. An `Err` means the
    /// command could not be started at all.
    fn exec(&self, exec: &Exec<'_>, abort: &AbortSignal) -> io::Result<Executed>;
    /// How many rollout batches execute and post run in (see
    /// [`crate::fleet`]); 1 for a single machine.
    fn batches(&self) -> usize {
        1
    }
    /// Moves the hosts the next steps run on.
    fn select(&self, _selection: crate::fleet::Selection) {}
    /// Every host of a fleet run, in batch order (empty on one machine).
    fn hosts(&self) -> Vec<String> {
        Vec::new()
    }
    /// The hosts the next steps run on (empty on one machine).
    fn active_hosts(&self) -> Vec<String> {
        Vec::new()
    }
    /// A fleet run's hosts and batches, journaled at its start.
    fn fleet_started(&self, _run_id: &str) -> Option<crate::events::FleetStarted> {
        None
    }
    /// A resumed run: takes back the state the journal records (batches
    /// reached, hosts that left, backups taken).
    fn replayed(&self, _replay: &crate::replay::Replay) {}
    /// Where each host's result of the next fleet steps goes as soon as
    /// that host is done (`None`: nowhere).
    fn host_results(&self, _sink: Option<std::sync::mpsc::Sender<crate::events::HostStep>>) {}
    /// Stops what a crashed run left running for step attempt `tag` on
    /// this target's hosts: each host and the process group stopped there.
    fn stop_leftovers(&self, _group_file: &std::path::Path, _tag: &str) -> Vec<(String, u32)> {
        Vec::new()
    }
    /// The next fleet step is a retry after a crash: these hosts finished
    /// it already and do not run it again; their results are kept.
    fn already_done(&self, _done: Vec<crate::events::HostStep>) {}
    /// A `backup` step's files from where this target runs them; `None`:
    /// they are on this machine (the engine copies them itself).
    fn backup_files(
        &self,
        _run_dir: &std::path::Path,
        _step_id: &str,
        _paths: &[String],
        _limits: Limits<'_>,
    ) -> Option<Result<Vec<crate::events::FileRecord>, String>> {
        None
    }
    /// A `restore` step from backup `from`, on this target's hosts;
    /// `None`: the files are on this machine.
    fn restore_files(
        &self,
        _run_dir: &std::path::Path,
        _from: &str,
        _limits: Limits<'_>,
    ) -> Option<Result<Vec<crate::events::FileRecord>, String>> {
        None
    }
    /// `logoff:` on the active hosts (see [`crate::logoff`]); `None` on
    /// one machine.
    fn logoff(
        &self,
        _user: Option<&str>,
        _limits: Limits<'_>,
    ) -> Option<Vec<crate::logoff::HostLogoff>> {
        None
    }
    /// The health gate after a batch; `Err(why)` stops the rollout.
    fn after_batch(&self, _batch: usize) -> Result<(), String> {
        Ok(())
    }
    /// The hosts a probe's `from:` asks from (empty: the controller);
    /// `Err(why)` when this target has no such host.
    fn probe_hosts(&self, from: &ProbeFrom) -> Result<Vec<&dyn Target>, String> {
        match from {
            ProbeFrom::Controller => Ok(Vec::new()),
            ProbeFrom::Each => Err("`from: each` needs a runbook with `hosts:`".to_string()),
            ProbeFrom::Host(h) => Err(format!("`from: {h}` needs a runbook with `hosts:`")),
        }
    }
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
        if let Some((path, tag)) = &exec.group_file {
            command.env(crate::orphan::STEP_ENV, crate::orphan::identity(path, tag));
        }
        let mut child = command.spawn()?;
        let pgid = Pid::from_raw(child.id() as i32);
        if let Some((path, tag)) = &exec.group_file {
            crate::recorder::crash_point("after-spawn", tag.split('#').next().unwrap_or(tag));
            crate::orphan::record(path, child.id(), tag);
        }
        supervise(&mut child, started, exec, abort, &mut |signal| {
            let _ = killpg(pgid, signal);
        })
    }
}

/// Waits for `child` while collecting its output, until it exits, times out
/// or is aborted. Stopping it is `stop`'s job: SIGTERM first, SIGKILL after
/// [`KILL_GRACE`], and SIGKILL once more at the end for what the command
/// left behind.
pub(crate) fn supervise(
    child: &mut Child,
    started: Instant,
    exec: &Exec<'_>,
    abort: &AbortSignal,
    stop: &mut dyn FnMut(Signal),
) -> io::Result<Executed> {
    // One thread does it all: poll both pipes, notice the exit, enforce
    // the timeout and the abort. (Three threads per step cost more than
    // the step.)
    let mut pipes = Pipes {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        out: Capture::new(exec.keep_bytes, false),
        err: Capture::new(exec.keep_bytes, true),
    };
    let mut status: Option<ExitStatus> = None;
    let mut exited_at = started;
    let mut timed_out = false;
    let mut aborted = false;
    let mut kill_sent: Option<Instant> = None;
    // When the pipes are closed but the exit is not yet visible (the
    // kernel closes files before it reports the exit; an ssh client exits
    // a little after its master closed the pipes), look again soon: every
    // millisecond at most for the first EXIT_SOON, then backing off up to
    // POLL (a command that closed its output and keeps running).
    let mut idle = Duration::from_micros(50);
    let mut idle_total = Duration::ZERO;
    loop {
        let tick = match status {
            Some(_) => DRAIN_GRACE.saturating_sub(exited_at.elapsed()),
            None if pipes.open() => exec
                .timeout
                .saturating_sub(started.elapsed())
                .clamp(Duration::from_millis(1), POLL),
            None => {
                let cap = if idle_total < EXIT_SOON {
                    EXIT_POLL
                } else {
                    POLL
                };
                idle = (idle * 2).min(cap);
                idle_total += idle;
                idle
            }
        };
        if status.is_some() && (!pipes.open() || tick.is_zero()) {
            break;
        }
        pipes.pump(tick, exec.live)?;
        if status.is_none()
            && let Some(done) = child.try_wait()?
        {
            status = Some(done);
            exited_at = Instant::now();
            continue;
        }
        if status.is_some() {
            continue;
        }
        match kill_sent {
            None => {
                if abort.is_set() {
                    aborted = true;
                } else if started.elapsed() >= exec.timeout {
                    timed_out = true;
                }
                if aborted || timed_out {
                    stop(Signal::SIGTERM);
                    kill_sent = Some(Instant::now());
                }
            }
            Some(at) if at.elapsed() >= KILL_GRACE => {
                stop(Signal::SIGKILL);
            }
            Some(_) => {}
        }
    }
    if kill_sent.is_some() {
        // Whatever the shell left behind in its group goes too.
        stop(Signal::SIGKILL);
    }
    let status = status.unwrap_or_else(|| ExitStatus::from_raw(0));
    let Pipes {
        out: stdout,
        err: mut stderr,
        ..
    } = pipes;
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
        hosts: Vec::new(),
    })
}

/// A command's two output pipes and what was read from them.
struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out: Capture,
    err: Capture,
}

impl Pipes {
    fn open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Waits up to `tick` for output and reads what is there; a pipe at
    /// end of file is closed.
    fn pump(&mut self, tick: Duration, live: Option<LiveOutput<'_>>) -> io::Result<()> {
        let timeout = PollTimeout::try_from(tick).unwrap_or(PollTimeout::MAX);
        let (out_ready, err_ready) = {
            let mut fds = Vec::with_capacity(2);
            if let Some(p) = &self.stdout {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            if let Some(p) = &self.stderr {
                fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok(()),
                Err(e) => return Err(io::Error::from(e)),
            }
            let ready = |fd: Option<&PollFd<'_>>| {
                fd.and_then(|f| f.revents()).is_some_and(|r| !r.is_empty())
            };
            match (self.stdout.is_some(), self.stderr.is_some()) {
                (true, true) => (ready(fds.first()), ready(fds.get(1))),
                (true, false) => (ready(fds.first()), false),
                (false, true) => (false, ready(fds.first())),
                (false, false) => (false, false),
            }
        };
        if out_ready && read_some(self.stdout.as_mut(), &mut self.out, live) {
            self.stdout = None;
        }
        if err_ready && read_some(self.stderr.as_mut(), &mut self.err, live) {
            self.stderr = None;
        }
        Ok(())
    }
}

/// Reads once from a ready pipe into `capture`; true at end of file (or a
/// read error, which ends the capture the same way).
fn read_some(
    pipe: Option<&mut impl io::Read>,
    capture: &mut Capture,
    live: Option<LiveOutput<'_>>,
) -> bool {
    let Some(pipe) = pipe else { return true };
    let mut buf = [0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => {
                capture.push(&buf[..n]);
                if let Some(LiveOutput(show)) = live {
                    show(&buf[..n]);
                }
                return false;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn run(command: &str, timeout_ms: u64) -> Executed {
        let exec = Exec {
            command,
            timeout: Duration::from_millis(timeout_ms),
            keep_bytes: 1024,
            env: &[],
            cwd: None,
            group_file: None,
            live: None,
            host_view: None,
            on: Default::default(),
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
    fn large_output_on_both_streams_is_hashed_whole_and_tailed() {
        let done = run(
            "head -c 300000 /dev/zero | tr '\\0' a; head -c 200000 /dev/zero | tr '\\0' b >&2; echo end",
            10_000,
        );
        assert_eq!(done.exit_code, Some(0));
        assert_eq!(done.stdout.total(), 300_004);
        assert_eq!(done.stderr.total(), 200_000);
        assert!(done.stdout.tail_text().ends_with("aaaend\n"));
        use sha2::{Digest, Sha256};
        let mut all = vec![b'a'; 300_000];
        all.extend_from_slice(b"end\n");
        all.extend(std::iter::repeat_n(b'b', 200_000));
        assert_eq!(done.output_sha256, hex::encode(Sha256::digest(&all)));
    }

    #[test]
    fn a_command_that_closes_its_output_early_still_times_out() {
        let started = Instant::now();
        let done = run("exec > /dev/null 2>&1; sleep 30", 300);
        assert!(done.timed_out);
        assert!(started.elapsed() < Duration::from_secs(5));
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
            live: None,
            host_view: None,
            on: Default::default(),
        };
        let done = LocalTarget.exec(&exec, &abort).unwrap();
        assert!(done.aborted);
    }
}
