//! `logoff:`, the forgotten-logoff check as a built-in exit step. On each
//! host it closes the run's own master connection (`ssh -O exit`), then
//! looks over a connection of its own, which it subtracts exactly (its
//! own `sshd` processes are its ancestors), for ssh sessions of the user
//! still open: every `sshd: USER@TTY` process, with or without a
//! terminal (`who` would miss the latter), with its client address and
//! login time. A process in another network namespace is another host's
//! (containers, or the test fleet, share one process table) and is not
//! counted. A `mosh-server` of the user is a session too (the ssh login
//! that started it has ended).

use std::time::{Duration, Instant};

use crate::abort::AbortSignal;
use crate::events::OpenSession;
use crate::target::SshTarget;
use crate::target::ssh_single_quote;

/// The "tty" of a mosh session: its `mosh-server` outlives the ssh login
/// that started it, so no `sshd` is left to find.
pub const MOSH: &str = "mosh";

/// What `logoff:` found on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLogoff {
    pub host: String,
    /// Whose sessions were looked for.
    pub user: String,
    pub sessions: Vec<OpenSession>,
    /// Why the host could not be checked, if it could not.
    pub error: Option<String>,
    pub duration: Duration,
}

impl HostLogoff {
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.sessions.is_empty()
    }

    /// `pts/0 from 198.18.0.1:41234 since Fri Dec  4 23:10:01 2026 (sshd pid 1234)`.
    pub fn describe(session: &OpenSession) -> String {
        let process = if session.tty == MOSH {
            "mosh-server"
        } else {
            "sshd"
        };
        format!(
            "{} from {} since {} ({process} pid {})",
            session.tty, session.from, session.since, session.pid
        )
    }
}

/// The check run on the host: prints `user NAME`, then one
/// `session PID TTY FROM SINCE` line (tab-separated) per session of the
/// user that is not this check's own connection, then `end`. A host
/// whose process list cannot be read fails it (never "no session"). A
/// session found is looked at again after a second: one that was closing
/// (the run's own master, just told to exit) is gone by then and does
/// not count, nor does one that ended while the check looked.
pub fn check_script(user: Option<&str>) -> String {
    let user = match user {
        Some(u) => ssh_single_quote(u),
        None => "$(id -un)".to_string(),
    };
    format!(
        r#"u={user}
mine=" "; p=$$; net=$(readlink /proc/$$/ns/net 2>/dev/null)
while [ -n "$p" ] && [ "$p" -gt 1 ]; do mine="$mine$p "; p=$(ps -o ppid= -p "$p" | tr -d ' '); done
printf 'user\t%s\n' "$u"
procs=$(ps -eo pid=,ppid=,args=) && [ -n "$procs" ] || {{ echo "cannot list the processes (ps -eo pid=,ppid=,args= failed)" >&2; exit 3; }}
waited=
printf '%s\n' "$procs" | while read -r pid ppid args; do
  case "$args" in "sshd: $u@"*|"sshd-session: $u@"*) ;; *) continue ;; esac
  case "$mine" in *" $pid "*) continue ;; esac
  [ -n "$waited" ] || {{ sleep 1; waited=1; }}
  [ "$(ps -o args= -p "$pid" 2>/dev/null)" = "$args" ] || continue
  theirs=$(readlink /proc/"$pid"/ns/net 2>/dev/null)
  [ -n "$theirs" ] && [ -n "$net" ] && [ "$theirs" != "$net" ] && continue
  tty=${{args#*@}}; tty=${{tty%% *}}
  since=$(ps -o lstart= -p "$pid" 2>/dev/null)
  [ -n "$since" ] || continue
  from=$(ss -Htnp state established 2>/dev/null | grep -e "pid=$pid," -e "pid=$ppid," | awk '{{print $4; exit}}')
  printf 'session\t%s\t%s\t%s\t%s\n' "$pid" "$tty" "${{from:-?}}" "$since"
done
ps -u "$u" -o pid=,ppid=,stat=,comm= 2>/dev/null | while read -r pid ppid stat comm; do
  [ "$comm" = mosh-server ] || continue
  case "$stat" in Z*) continue ;; esac
  [ "$(ps -o comm= -p "$ppid" 2>/dev/null)" = mosh-server ] && continue
  theirs=$(readlink /proc/"$pid"/ns/net 2>/dev/null)
  [ -n "$theirs" ] && [ -n "$net" ] && [ "$theirs" != "$net" ] && continue
  since=$(ps -o lstart= -p "$pid" 2>/dev/null)
  [ -n "$since" ] || continue
  printf 'session\t%s\tmosh\t?\t%s\n' "$pid" "$since"
done
echo end
"#
    )
}

/// Reads what [`check_script`] printed: the user, unless the check did
/// not get to its end (then nothing was checked).
pub fn parse(stdout: &str) -> (Option<String>, Vec<OpenSession>) {
    let mut user = None;
    let mut sessions = Vec::new();
    let mut ended = false;
    for line in stdout.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["end"] => ended = true,
            ["user", name] => user = Some(name.to_string()),
            ["session", pid, tty, from, since] => {
                if let Ok(pid) = pid.trim().parse() {
                    sessions.push(OpenSession {
                        pid,
                        tty: tty.to_string(),
                        from: from.to_string(),
                        since: since.trim().to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    (user.filter(|_| ended), sessions)
}

/// Logs `host` off: closes its master, then checks over a fresh
/// connection.
pub fn log_off(
    host: &SshTarget,
    user: Option<&str>,
    timeout: Duration,
    abort: &AbortSignal,
) -> HostLogoff {
    use crate::target::Target;
    let started = Instant::now();
    host.close();
    let result = host.fresh(&check_script(user), timeout, abort);
    let mut found = HostLogoff {
        host: host.name().to_string(),
        user: user.unwrap_or_default().to_string(),
        sessions: Vec::new(),
        error: None,
        duration: Duration::ZERO,
    };
    match result {
        Ok(out) if out.status.success() => {
            let (name, sessions) = parse(&String::from_utf8_lossy(&out.stdout));
            match name {
                Some(name) => {
                    found.user = name;
                    found.sessions = sessions;
                }
                None => found.error = Some("the session check did not finish".to_string()),
            }
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let said = stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("ssh failed")
                .trim()
                .to_string();
            found.error = Some(format!("cannot check its sessions: {said}"));
        }
        Err(e) => found.error = Some(format!("cannot check its sessions: {e}")),
    }
    found.duration = started.elapsed();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_reports_the_user_and_each_session_left() {
        let (user, sessions) = parse(
            "user\troot\nsession\t1234\tpts/0\t198.18.0.1:41234\tFri Dec  4 23:10:01 2026\nnoise\nend\n",
        );
        assert_eq!(user.as_deref(), Some("root"));
        assert_eq!(
            sessions,
            [OpenSession {
                pid: 1234,
                tty: "pts/0".into(),
                from: "198.18.0.1:41234".into(),
                since: "Fri Dec  4 23:10:01 2026".into(),
            }]
        );
    }

    #[test]
    fn the_check_runs_here_and_never_counts_itself() {
        // Run by a local sh outside any ssh session: it names the user and
        // finds no session that is its own ancestor.
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(check_script(Some("tejun-no-such-user")))
            .output()
            .unwrap();
        let (user, sessions) = parse(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(user.as_deref(), Some("tejun-no-such-user"));
        assert!(sessions.is_empty());
    }
}
