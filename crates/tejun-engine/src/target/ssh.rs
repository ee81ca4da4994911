//! Commands on a remote host through the system OpenSSH client, so the
//! user's `~/.ssh/config` (aliases, `ProxyJump`, agents, ports, keys)
//! applies unchanged.
//!
//! - One connection per host per run: [`SshTarget::connect`] starts a
//!   ControlMaster whose socket lives in a private directory of the run;
//!   every step reuses it; [`SshTarget::close`] ends it (`ssh -O exit`).
//! - Host keys are always checked (`StrictHostKeyChecking=yes`,
//!   `BatchMode=yes`): an unknown or changed key refuses the host with the
//!   fix, never a prompt and never a silent accept.
//! - Values are data: the command's environment travels as
//!   `export NAME='value'` lines of a script on the remote shell's stdin,
//!   single-quoted, so no value is ever parsed as code; the step's own
//!   command follows as one single-quoted word for `sh -c`.
//! - sshd starts every session (each step over the master too) in a new
//!   session and process group; the wrapper script writes that group's id
//!   to a file on the host so a timeout or an abort kills the command's
//!   whole group there too (`kill -TERM -- -PGID` over the same master),
//!   not only the local client. The wrapper starts no program of its own
//!   on the way (no `setsid`, no `sh -c`, no `rm` waited for): each one
//!   was a fork and exec on the host per step (BENCHMARKS.md, per-step
//!   overhead).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};
use tejun_locale::{Lang, Localize};

use super::{Exec, Executed, Target, supervise};
use crate::abort::AbortSignal;

/// How the controller reaches hosts; shared by every host of a run.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// `ssh -F FILE` instead of the user's own `~/.ssh/config` (the
    /// inventory's `ssh_config:`, or `TEJUN_SSH_CONFIG`).
    pub config: Option<PathBuf>,
    /// A private (0700) directory for the master sockets; short, since a
    /// socket path may not exceed 107 bytes.
    pub control_dir: PathBuf,
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
}

/// Why a host could not be reached. Each names the host and what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SshError {
    #[error("{host}: host key unknown")]
    UnknownHostKey { host: String },
    #[error("{host}: host key changed")]
    ChangedHostKey { host: String },
    #[error("{host}: authentication failed: {detail}")]
    Auth { host: String, detail: String },
    #[error("{host}: unreachable: {detail}")]
    Unreachable { host: String, detail: String },
}

impl SshError {
    pub fn host(&self) -> &str {
        match self {
            SshError::UnknownHostKey { host }
            | SshError::ChangedHostKey { host }
            | SshError::Auth { host, .. }
            | SshError::Unreachable { host, .. } => host,
        }
    }

    /// Classifies what `ssh` said when it could not connect.
    fn from_stderr(host: &str, stderr: &str) -> SshError {
        let host = host.to_string();
        let detail = stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with('@'))
            .unwrap_or("ssh exited 255")
            .to_string();
        if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            SshError::ChangedHostKey { host }
        } else if stderr.contains("Host key verification failed")
            || stderr.contains("host key is known for")
        {
            SshError::UnknownHostKey { host }
        } else if stderr.contains("Permission denied") {
            SshError::Auth { host, detail }
        } else {
            SshError::Unreachable { host, detail }
        }
    }
}

impl Localize for SshError {
    fn localize(&self, lang: Lang) -> String {
        match self {
            SshError::UnknownHostKey { host } => lang.pick(
                &format!(
                    "{host}: refused: its host key is not in known_hosts, and tejun never connects to an unverified host. \
                     Check the key's fingerprint out of band, then add it: ssh-keyscan {host} >> ~/.ssh/known_hosts"
                ),
                &format!(
                    "{host}: 拒否: ホスト鍵が known_hosts にありません。tejun は未確認のホストに接続しません。\
                     鍵のフィンガープリントを別経路で確認してから追加してください: ssh-keyscan {host} >> ~/.ssh/known_hosts"
                ),
            )
            .to_string(),
            SshError::ChangedHostKey { host } => lang.pick(
                &format!(
                    "{host}: refused: its host key CHANGED since it was recorded in known_hosts (a reinstalled host, or someone in between). \
                     Find out why first; if the new key is right: ssh-keygen -R {host} && ssh-keyscan {host} >> ~/.ssh/known_hosts"
                ),
                &format!(
                    "{host}: 拒否: ホスト鍵が known_hosts の記録から変わっています(再構築か、中間者の可能性)。\
                     まず原因を確認し、新しい鍵が正しければ: ssh-keygen -R {host} && ssh-keyscan {host} >> ~/.ssh/known_hosts"
                ),
            )
            .to_string(),
            SshError::Auth { host, detail } => lang.pick(
                &format!("{host}: authentication failed ({detail}); check the key and user in your ssh config"),
                &format!("{host}: 認証に失敗しました ({detail})。ssh 設定の鍵とユーザーを確認してください"),
            )
            .to_string(),
            SshError::Unreachable { host, detail } => lang.pick(
                &format!("{host}: cannot connect ({detail})"),
                &format!("{host}: 接続できません ({detail})"),
            )
            .to_string(),
        }
    }
}

/// One remote host.
#[derive(Debug)]
pub struct SshTarget {
    host: String,
    options: SshOptions,
    control: PathBuf,
    /// Whether a master is running (so `close` knows to end it).
    master: Mutex<bool>,
}

impl SshTarget {
    pub fn new(host: &str, options: &SshOptions) -> SshTarget {
        let digest = hex::encode(Sha256::digest(host.as_bytes()));
        SshTarget {
            host: host.to_string(),
            control: options.control_dir.join(&digest[..16]),
            options: options.clone(),
            master: Mutex::new(false),
        }
    }

    /// `ssh` with the options every invocation shares; `master` says how
    /// this one uses the control socket.
    fn ssh(&self, master: &str) -> Command {
        self.ssh_via(master, &self.control.display().to_string())
    }

    /// `ssh` through control socket `path` (`none`: a connection of its own).
    fn ssh_via(&self, master: &str, path: &str) -> Command {
        let mut command = Command::new(ssh_program());
        if let Some(config) = &self.options.config {
            command.arg("-F").arg(config);
        }
        command
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                self.options.connect_timeout.as_secs().max(1)
            ))
            .arg("-o")
            .arg(format!("ControlMaster={master}"))
            .arg("-o")
            .arg(format!("ControlPath={path}"))
            .stdin(Stdio::null())
            // Out of the terminal's process group: a Ctrl-C reaches tejun,
            // which decides (a first one does not stop rollback or the
            // exit phase), not every `ssh` it runs.
            .process_group(0);
        command
    }

    /// Opens the host's master connection (authenticates, checks the host
    /// key). Idempotent.
    pub fn connect(&self) -> Result<(), SshError> {
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        if *master {
            return Ok(());
        }
        // `-f` returns once authenticated; the master stays in the
        // background until `close`.
        let out = self
            .ssh("yes")
            .args(["-o", "ControlPersist=yes", "-N", "-f", "--"])
            .arg(&self.host)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| SshError::Unreachable {
                host: self.host.clone(),
                detail: format!("cannot start ssh: {e}"),
            })?;
        if !out.status.success() {
            return Err(SshError::from_stderr(
                &self.host,
                &String::from_utf8_lossy(&out.stderr),
            ));
        }
        *master = true;
        Ok(())
    }

    /// Ends the master connection, if one is open.
    pub fn close(&self) {
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        if *master {
            let _ = self
                .ssh("no")
                .args(["-O", "exit", "--"])
                .arg(&self.host)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            *master = false;
        }
    }

    /// Ends the master a crashed tejun left for this host in its control
    /// directory `dir` (a master persists in the background, holding a
    /// session open on the host, until told to exit).
    pub fn close_leftover(&self, dir: &Path) {
        let Some(name) = self.control.file_name() else {
            return;
        };
        let socket = dir.join(name);
        if !socket.exists() {
            return;
        }
        let _ = self
            .ssh_via("no", &socket.display().to_string())
            .args(["-O", "exit", "--"])
            .arg(&self.host)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Whether the master connection still answers (`ssh -O check`).
    fn alive(&self) -> bool {
        self.ssh("no")
            .args(["-O", "check", "--"])
            .arg(&self.host)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The master died with its connection: the next command starts a new
    /// one instead of trying its dead socket.
    fn forget_master(&self) {
        let mut master = self.master.lock().unwrap_or_else(|p| p.into_inner());
        *master = false;
        let _ = std::fs::remove_file(&self.control);
    }

    /// Runs `remote` over a connection of its own, not the run's master
    /// (`logoff:` checks sessions after closing it); bounded like a fetch.
    pub fn fresh(
        &self,
        remote: &str,
        timeout: Duration,
        abort: &AbortSignal,
    ) -> io::Result<std::process::Output> {
        let mut command = self.ssh_via("no", "none");
        command.arg("--").arg(&self.host).arg(remote);
        self.bounded(command, None, timeout, abort, "logoff")
    }

    /// The control socket (tests look for it; the exit phase checks it is
    /// gone).
    pub fn control_path(&self) -> &Path {
        &self.control
    }

    /// A remote regular file's bytes and permission bits, over the master;
    /// given up (the local client killed) after `timeout` or on `abort`.
    pub fn fetch(
        &self,
        path: &str,
        timeout: Duration,
        abort: &AbortSignal,
    ) -> io::Result<(Vec<u8>, u32)> {
        let quoted = single_quote(path);
        let mut command = self.ssh("no");
        command.arg("--").arg(&self.host).arg(format!(
            "test -f {quoted} || {{ echo 'not a regular file' >&2; exit 1; }}; stat -c %a {quoted} >&2 && cat {quoted}"
        ));
        let out = self.bounded(command, None, timeout, abort, path)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{}:{path}: {}",
                self.host,
                stderr.trim()
            )));
        }
        let mode = stderr
            .lines()
            .last()
            .and_then(|l| u32::from_str_radix(l.trim(), 8).ok())
            .unwrap_or(0o600);
        Ok((out.stdout, mode))
    }

    /// Writes `bytes` to a remote path (beside it first, then renamed over
    /// it) with `mode`; the SHA-256 the host computed of the result. The
    /// copy replaces the file only when its hash is right, so a transfer
    /// cut short (timeout, abort, a dropped connection) leaves the file
    /// as it was.
    pub fn put(
        &self,
        path: &str,
        bytes: &[u8],
        mode: u32,
        timeout: Duration,
        abort: &AbortSignal,
    ) -> io::Result<String> {
        let quoted = single_quote(path);
        let temp = single_quote(&format!("{path}.tejun-restore"));
        let sha = hex::encode(Sha256::digest(bytes));
        let mut command = self.ssh("no");
        command.arg("--").arg(&self.host).arg(format!(
            "cat > {temp} && printf '%s  %s\\n' {sha} {temp} | sha256sum -c --status \\
             && chmod {mode:o} {temp} && mv -f {temp} {quoted} && sha256sum {quoted} \\
             || {{ s=$?; rm -f {temp}; echo 'the restore did not complete (a partial copy never replaces the file)' >&2; exit $s; }}"
        ));
        let out = self.bounded(command, Some(bytes), timeout, abort, path)?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "{}:{path}: {}",
                self.host,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string())
    }

    /// Runs `command` with `input` on its stdin, collecting its output,
    /// killing it after `timeout` or when `abort` is set.
    fn bounded(
        &self,
        mut command: Command,
        input: Option<&[u8]>,
        timeout: Duration,
        abort: &AbortSignal,
        path: &str,
    ) -> io::Result<std::process::Output> {
        use std::io::Read;
        let mut child = command
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let deadline = Instant::now() + timeout;
        // Readers and the writer are detached threads: the client hands
        // its pipes to the master, which may hold them open after the
        // client is killed (a frozen host), so they may never see EOF.
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut buf);
                }
                let _ = tx.send(buf);
            });
            rx
        };
        let stdout = reader(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let stderr = reader(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        if let (Some(mut stdin), Some(bytes)) = (child.stdin.take(), input) {
            let bytes = bytes.to_vec();
            // Dropping stdin at the end sends EOF.
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            let why = if abort.is_set() {
                Some(format!("{}:{path}: aborted", self.host))
            } else if Instant::now() >= deadline {
                Some(format!(
                    "{}:{path}: timed out after {}s",
                    self.host,
                    timeout.as_secs_f64()
                ))
            } else {
                None
            };
            if let Some(why) = why {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(io::ErrorKind::TimedOut, why));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The client exited: the master closes the session's pipes with
        // it. Wait for them only until the deadline all the same.
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        let stdout = stdout.recv_timeout(left).unwrap_or_default();
        let stderr = stderr.recv_timeout(left).unwrap_or_default();
        Ok(std::process::Output {
            status,
            stdout,
            stderr,
        })
    }

    /// Where the remote process group of step attempt `tag` of the run
    /// whose group file is `file` is noted on this host.
    fn pgid_file(&self, file: &Path, tag: &str) -> String {
        let mut digest = Sha256::new();
        for part in [file.display().to_string().as_str(), tag, &self.host] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        format!("/tmp/tejun-{}.pgid", &hex::encode(digest.finalize())[..24])
    }

    /// Stops the remote process group a crashed run left running for step
    /// attempt `tag` (TERM, then KILL after a second); its group id when
    /// there was one.
    pub fn stop_leftover(&self, file: &Path, tag: &str) -> Option<u32> {
        let f = single_quote(&self.pgid_file(file, tag));
        let out = self
            .ssh("no")
            .arg("--")
            .arg(&self.host)
            .arg(format!(
                "pgid=$(cat {f} 2>/dev/null) && {SIGNALLABLE} && kill -TERM -- -\"$pgid\" 2>/dev/null \
                 && echo \"$pgid\" && sleep 1 && kill -KILL -- -\"$pgid\" 2>/dev/null; rm -f {f}; true"
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// Runs a short command over the master, without output capture.
    fn quick(&self, remote: &str) {
        let _ = self
            .ssh("no")
            .arg("--")
            .arg(&self.host)
            .arg(remote)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for SshTarget {
    fn drop(&mut self) {
        self.close();
    }
}

/// A host's part of a step whose connection broke while it ran.
pub fn connection_lost(host: &str) -> String {
    format!(
        "connection to {host} lost mid-step: the step's outcome on {host} is unknown (it may have run in part, in full, or not at all)"
    )
}

/// The `ssh` client, looked up in `PATH` once per process rather than at
/// every step's spawn.
fn ssh_program() -> &'static Path {
    static PROGRAM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PROGRAM.get_or_init(|| {
        std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("ssh"))
            .find(|path| {
                use std::os::unix::fs::PermissionsExt;
                path.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
            .unwrap_or_else(|| PathBuf::from("ssh"))
    })
}

/// A script up to this size goes to the client's stdin pipe at once: a
/// pipe holds at least one page, so the write cannot block.
const INLINE_SCRIPT: usize = 4096;

/// `'value'` for a POSIX shell: nothing inside single quotes is special
/// except the quote itself.
pub fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn valid_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The script the remote `sh -s` reads: the session's process group
/// noted in `pgid_file`, then, in a subshell, the exports and the command.
///
/// `sh -s` is the session sshd started (the login shell execs it), so its
/// process group holds the command and everything it starts; it is read
/// from `/proc` (falling back to `$$`) and noted before anything of the
/// runbook's is evaluated, and the exports live only in the subshell, so
/// no value (`IFS`, a variable named like the wrapper's own) can change
/// what is noted or removed. The command runs with `eval` in that
/// subshell, like `sh -c` but without a second exec; stdin is
/// `/dev/null`, as for a local step (the script itself is on the shell's
/// stdin). The group file is removed in the background, and only while it
/// still holds this group, so the client's exit does not wait for an `rm`.
pub fn remote_script(exec: &Exec<'_>, pgid_file: &str) -> io::Result<String> {
    let pgid_file = single_quote(pgid_file);
    let mut script = format!(
        "set +e\n\
         tejun_pgid=$$\n\
         read -r tejun_s 2>/dev/null </proc/$$/stat && tejun_s=${{tejun_s##*\") \"}} && set -- $tejun_s && tejun_pgid=$3\n\
         echo \"$tejun_pgid\" > {pgid_file}\n\
         (unset tejun_s tejun_pgid; set --\n"
    );
    for (name, value) in exec.env {
        if !valid_env_name(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a variable name: {name:?}"),
            ));
        }
        script.push_str(&format!("export {name}={}\n", single_quote(value)));
    }
    if let Some(cwd) = &exec.cwd {
        script.push_str(&format!(
            "cd {} || exit 1\n",
            single_quote(&cwd.display().to_string())
        ));
    }
    script.push_str(&format!(
        "eval {}) </dev/null\n\
         tejun_rc=$?\n\
         {{ read -r tejun_p < {pgid_file} && [ \"$tejun_p\" = \"$tejun_pgid\" ] && rm -f {pgid_file}; }} </dev/null >/dev/null 2>&1 &\n\
         exit $tejun_rc\n",
        single_quote(exec.command)
    ));
    Ok(script)
}

/// A shell test that `$pgid` is a process group tejun may signal: a number
/// above 1 (`kill -- -1` would signal every process the user may).
const SIGNALLABLE: &str = "[ \"$pgid\" -gt 1 ] 2>/dev/null";

impl Target for SshTarget {
    fn name(&self) -> &str {
        &self.host
    }

    fn exec(&self, exec: &Exec<'_>, abort: &AbortSignal) -> io::Result<Executed> {
        self.connect()
            .map_err(|e| io::Error::other(e.localize(Lang::En)))?;
        let started = Instant::now();
        let pgid_file = match &exec.group_file {
            // Named after the run's step attempt, so a resume after a crash
            // finds a command that outlived it (`stop_leftover`).
            Some((file, tag)) => self.pgid_file(file, tag),
            None => {
                let mut nonce = [0u8; 8];
                // The nonce keeps concurrent steps' pgid files apart.
                getrandom::fill(&mut nonce).map_err(|e| {
                    io::Error::other(format!("no randomness for the step's nonce: {e}"))
                })?;
                format!("/tmp/tejun-{}.pgid", hex::encode(nonce))
            }
        };
        let script = remote_script(exec, &pgid_file)?;
        let mut child = self
            .ssh("no")
            .arg("--")
            .arg(&self.host)
            .arg("/bin/sh -s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let client = Pid::from_raw(child.id() as i32);
        // A larger script is written from a thread: one larger than the
        // pipe buffer must not block the timeout.
        if let Some(mut stdin) = child.stdin.take() {
            if script.len() <= INLINE_SCRIPT {
                let _ = stdin.write_all(script.as_bytes());
            } else {
                std::thread::spawn(move || {
                    let _ = stdin.write_all(script.as_bytes());
                });
            }
        }
        let mut sent: Vec<Signal> = Vec::new();
        let mut done = supervise(&mut child, started, exec, abort, &mut |signal| {
            if sent.contains(&signal) {
                return;
            }
            sent.push(signal);
            let name = if signal == Signal::SIGKILL {
                "KILL"
            } else {
                "TERM"
            };
            // The group's leader is the wrapper itself, so a TERM that ends
            // the group leaves the file behind; the KILL (always sent last)
            // removes it.
            let cleanup = if signal == Signal::SIGKILL {
                format!("; rm -f {}", single_quote(&pgid_file))
            } else {
                String::new()
            };
            self.quick(&format!(
                "pgid=$(cat {f} 2>/dev/null) && {SIGNALLABLE} && kill -{name} -- -\"$pgid\"{cleanup}",
                f = single_quote(&pgid_file)
            ));
            if signal == Signal::SIGKILL {
                let _ = killpg(client, Signal::SIGKILL);
            }
        })?;
        if done.exit_code == Some(255) && !done.timed_out && !done.aborted && !self.alive() {
            // 255 with the master gone is ssh's own failure, not the
            // command's exit: the connection broke mid-step, and whether
            // the command ran there is unknown. The next command
            // reconnects (a new master) once the host answers again.
            self.forget_master();
            done.exit_code = None;
            done.stderr
                .push(format!("\n{}\n", connection_lost(&self.host)).as_bytes());
        }
        Ok(done)
    }
}

use std::os::unix::process::CommandExt;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_single_quoted_so_the_remote_shell_reads_them_as_data() {
        assert_eq!(single_quote("a'b"), r"'a'\''b'");
        let env = vec![(
            "TEJUN_VAR_X".to_string(),
            "$(touch /tmp/pwned)'; rm -rf /".to_string(),
        )];
        let exec = Exec {
            command: "echo \"$TEJUN_VAR_X\"",
            timeout: Duration::from_secs(1),
            keep_bytes: 16,
            env: &env,
            cwd: None,
            group_file: None,
            on: Default::default(),
            live: None,
            host_view: None,
        };
        let script = remote_script(&exec, "/tmp/x.pgid").unwrap();
        // The script, run by a local sh, prints the value unchanged.
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "$(touch /tmp/pwned)'; rm -rf /\n"
        );
    }

    #[test]
    fn the_wrapper_notes_its_own_process_group_whatever_the_values() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.pgid");
        // Variables named like the wrapper's own, and an IFS that would
        // split numbers apart, live only in the command's subshell.
        let env = vec![
            ("tejun_pgid".to_string(), "1".to_string()),
            ("IFS".to_string(), "0123456789".to_string()),
        ];
        let exec = Exec {
            command: "echo \"$tejun_pgid\"",
            timeout: Duration::from_secs(5),
            keep_bytes: 16,
            env: &env,
            cwd: None,
            group_file: None,
            on: Default::default(),
            live: None,
            host_view: None,
        };
        let script = remote_script(&exec, &file.display().to_string()).unwrap();
        // Stop the script before its end so the file is still there.
        let script = script.replace("tejun_rc=$?", "exit 0");
        let mut child = Command::new("/bin/sh")
            .arg("-s")
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let noted = std::fs::read_to_string(&file).unwrap();
        assert_eq!(noted.trim(), pid.to_string());
        // The command saw the runbook's value, not the wrapper's.
        assert!(
            String::from_utf8_lossy(&out.stdout).starts_with("1\n"),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    #[test]
    fn an_environment_name_that_is_not_a_name_is_refused() {
        let env = vec![("X; rm".to_string(), "v".to_string())];
        let exec = Exec {
            command: "true",
            timeout: Duration::from_secs(1),
            keep_bytes: 16,
            env: &env,
            cwd: None,
            group_file: None,
            on: Default::default(),
            live: None,
            host_view: None,
        };
        assert!(remote_script(&exec, "/tmp/x").is_err());
    }

    #[test]
    fn ssh_failures_are_classified_by_what_ssh_said() {
        let changed = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.\n";
        assert!(matches!(
            SshError::from_stderr("web-1", changed),
            SshError::ChangedHostKey { .. }
        ));
        assert!(matches!(
            SshError::from_stderr(
                "web-1",
                "No ED25519 host key is known for 198.18.0.11 and you have requested strict checking.\nHost key verification failed.\n"
            ),
            SshError::UnknownHostKey { .. }
        ));
        assert!(matches!(
            SshError::from_stderr("web-1", "root@x: Permission denied (publickey).\n"),
            SshError::Auth { .. }
        ));
    }
}
