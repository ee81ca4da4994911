//! The README's tour, run as written: every `sh` line between "A
//! five-minute tour" and "Reference", in a copy of `examples/`, with the
//! binary under test on `PATH`. A line's comment saying `exit N` is the
//! exit status it must end with; otherwise 0. `<RUN>` and `<ID>` are
//! filled in the way a reader would: the latest run, the incident just
//! opened. Only the lines listed in `not_run` are skipped, each with why.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

/// Lines the test does not run, and why.
fn not_run(line: &str) -> Option<&'static str> {
    if line.starts_with("cargo ") {
        Some("the binary under test is already built and on PATH")
    } else if line.starts_with("sudo ") || line.contains("/tmp/tejun-fleet") {
        Some("the practice fleet needs root and namespaces: the fleet tests run it")
    } else {
        None
    }
}

/// Commands that follow logs until stopped: they must start and keep
/// running.
fn runs_until_stopped(line: &str) -> bool {
    line.starts_with("tejun watch ")
}

fn tour(readme: &str) -> Vec<String> {
    let start = readme
        .find("## A five-minute tour")
        .expect("the tour section");
    let end = readme[start..]
        .find("\n## Reference")
        .map_or(readme.len(), |i| start + i);
    let mut lines = Vec::new();
    let mut in_block = false;
    for line in readme[start..end].lines() {
        match line.trim() {
            "```sh" => in_block = true,
            "```" => in_block = false,
            text if in_block && !text.is_empty() => lines.push(text.to_string()),
            _ => {}
        }
    }
    lines
}

/// The command and the exit status its comment promises.
fn split(line: &str) -> (String, i32) {
    let (command, comment) = match line.find(" #") {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    };
    let expect = comment
        .split("exit ")
        .nth(1)
        .and_then(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .unwrap_or(0);
    (command.trim().to_string(), expect)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

struct Reader {
    root: PathBuf,
    cwd: PathBuf,
    path: String,
    incident: Option<String>,
}

impl Reader {
    fn command(&self, text: &str) -> Command {
        let mut cmd = Command::new("bash");
        cmd.args(["-c", text])
            .current_dir(&self.cwd)
            .env("PATH", &self.path)
            .env("TEJUN_DB", self.root.join("journal.db"))
            .env("TEJUN_AUDIT_KEY", self.root.join("audit.key"))
            .env("LANG", "C.UTF-8")
            .env("NO_COLOR", "1")
            .env_remove("TEJUN_INVENTORY")
            .env_remove("SUDO_USER")
            .stdin(Stdio::null());
        cmd
    }

    fn latest_run(&self) -> String {
        let out = self.command("tejun runs --json").output().unwrap();
        let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        runs.as_array()
            .unwrap()
            .iter()
            .max_by_key(|r| r["started"].as_str().unwrap_or("").to_string())
            .expect("a run to show")["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn fill(&self, command: &str) -> String {
        let mut text = command.to_string();
        if text.contains("<RUN>") {
            text = text.replace("<RUN>", &self.latest_run());
        }
        if text.contains("<ID>") {
            let id = self
                .incident
                .as_deref()
                .expect("an incident opened before <ID>");
            text = text.replace("<ID>", id);
        }
        text
    }
}

#[test]
fn every_command_of_the_readme_tour_works_as_written() {
    let repo = common::repo_root();
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let lab = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("examples"), &lab.path().join("examples"));
    let bin = assert_cmd::cargo::cargo_bin("tejun");
    let mut reader = Reader {
        root: lab.path().to_path_buf(),
        cwd: lab.path().to_path_buf(),
        path: format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        incident: None,
    };
    let mut ran = 0;
    for line in tour(&readme) {
        if let Some(why) = not_run(&line) {
            eprintln!("not run ({why}): {line}");
            continue;
        }
        let (command, expect) = split(&line);
        if let Some(dir) = command.strip_prefix("cd ") {
            reader.cwd = reader.cwd.join(dir.trim());
            continue;
        }
        let text = reader.fill(&command);
        if runs_until_stopped(&text) {
            let mut child = reader
                .command(&text)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_secs(3));
            let status = child.try_wait().unwrap();
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            assert!(
                status.is_none(),
                "`{line}` stopped by itself ({status:?}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            ran += 1;
            continue;
        }
        let started = Instant::now();
        let out = reader.command(&text).output().unwrap();
        let code = out.status.code();
        assert_eq!(
            code,
            Some(expect),
            "`{line}` (run as `{text}` in {}) after {:?}\nstdout:\n{}\nstderr:\n{}",
            reader.cwd.display(),
            started.elapsed(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.starts_with("tejun incident open") {
            reader.incident = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        ran += 1;
    }
    assert!(
        ran >= 20,
        "only {ran} README commands ran: is the tour still there?"
    );
}
