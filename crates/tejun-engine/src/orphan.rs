//! A step's command that outlived tejun.
//!
//! Commands are started with `posix_spawn` (cheap) rather than fork plus a
//! "die with your parent" hook, so after `kill -9` of tejun the running
//! command keeps going in its own process group. While a command runs, the
//! run folder holds `running`: its process group, the leader's start time
//! and which step and attempt it is. `tejun resume` reads it for the
//! *unknown* step and, if that group is still alive, stops it (SIGTERM,
//! then SIGKILL) before anyone decides to retry or skip: a retry must never
//! race the attempt it replaces.
//!
//! The start time guards against pid reuse: a leader whose start time
//! differs is someone else's process and is left alone. A group whose leader
//! is gone but whose members remain is still ours: Linux does not reuse a
//! pid while a process group of that id exists.
//!
//! `running` is written just after the spawn, so a kill in between leaves a
//! command no file names. Every command therefore also carries
//! [`STEP_ENV`] naming its run folder and attempt; when the file does not
//! name the attempt, resume looks for that variable in `/proc`.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The file in the run folder.
pub const GROUP_FILE: &str = "running";

/// How a step attempt is named in the file.
pub fn tag(step_id: &str, attempt: u32) -> String {
    format!("{step_id}#{attempt}")
}

/// The variable every step command inherits: `<group file> <tag>`.
pub const STEP_ENV: &str = "TEJUN_STEP";

/// The value of [`STEP_ENV`] for `tag` of the run whose group file is `path`.
pub fn identity(path: &Path, tag: &str) -> String {
    format!("{} {tag}", path.display())
}

/// Notes `pid` (the group leader) for `tag`. Not synced: after a machine
/// crash there is no process left to find anyway.
pub fn record(path: &Path, pid: u32, tag: &str) {
    let started = start_time(pid).unwrap_or_default();
    let _ = std::fs::write(path, format!("{pid} {started} {tag}\n"));
}

/// If `tag`'s command is still running, stops its whole process group and
/// returns the group id.
pub fn stop_leftover(path: &Path, tag: &str) -> Option<u32> {
    let pid = recorded_group(path, tag).or_else(|| group_by_env(&identity(path, tag)))?;
    let group = Pid::from_raw(pid as i32);
    if killpg(group, None).is_err() {
        return None; // nothing left
    }
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && alive(group) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(group, Signal::SIGKILL);
    Some(pid)
}

/// The group the file names for `tag`, unless its leader's pid was reused.
fn recorded_group(path: &Path, tag: &str) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut fields = text.split_whitespace();
    let pid: u32 = fields.next()?.parse().ok()?;
    let started = fields.next()?;
    if fields.next()? != tag || pid <= 1 {
        return None;
    }
    match start_time(pid) {
        Some(now) if now != started => None,
        _ => Some(pid),
    }
}

/// The process group of a live process whose environment holds
/// `STEP_ENV=identity` (not this process's own group).
fn group_by_env(identity: &str) -> Option<u32> {
    let wanted = format!("{STEP_ENV}={identity}");
    let own_group = nix::unistd::getpgrp().as_raw() as u32;
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            if !environ.split(|b| *b == 0).any(|v| v == wanted.as_bytes()) {
                return None;
            }
            let fields = stat_fields(pid)?;
            let group: u32 = fields.get(2)?.parse().ok()?;
            (group > 1 && group != own_group && fields[0] != "Z").then_some(group)
        })
}

/// Whether any non-zombie member of the group is left. Orphans are reaped
/// by init (or the nearest subreaper), which may lag.
fn alive(group: Pid) -> bool {
    killpg(group, None).is_ok()
        && start_time(group.as_raw() as u32).is_some_and(|_| !is_zombie(group.as_raw() as u32))
}

fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| *s == "Z"))
}

/// Field 22 of /proc/<pid>/stat (start time in clock ticks since boot).
fn start_time(pid: u32) -> Option<String> {
    stat_fields(pid).and_then(|f| f.get(19).map(|s| s.to_string()))
}

/// /proc/<pid>/stat fields after the `(comm)`, starting with the state.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn stops_a_leftover_group_and_ignores_other_tags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(GROUP_FILE);
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .process_group(0)
            .spawn()
            .unwrap();
        record(&file, child.id(), &tag("long", 1));
        assert_eq!(stop_leftover(&file, &tag("long", 2)), None);
        assert_eq!(stop_leftover(&file, &tag("other", 1)), None);
        assert_eq!(stop_leftover(&file, &tag("long", 1)), Some(child.id()));
        let status = child.wait().unwrap();
        assert!(!status.success());
    }

    #[test]
    fn finds_a_group_no_file_names_by_its_step_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(GROUP_FILE);
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30 & sleep 30"])
            .env(STEP_ENV, identity(&file, &tag("long", 1)))
            .process_group(0)
            .spawn()
            .unwrap();
        // Until the child has exec'd, /proc shows this process's environment.
        let wanted = format!("{STEP_ENV}=");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline
            && !std::fs::read(format!("/proc/{}/environ", child.id()))
                .is_ok_and(|env| env.windows(wanted.len()).any(|w| w == wanted.as_bytes()))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        // No `running` file: only the variable can name the command.
        assert_eq!(stop_leftover(&file, &tag("long", 2)), None);
        assert_eq!(stop_leftover(&file, &tag("long", 1)), Some(child.id()));
        assert!(!child.wait().unwrap().success());
    }
}
