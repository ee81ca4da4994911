//! Ctrl-C always ends safe, driven through the real binary on a
//! pseudo-terminal (prompts read /dev/tty): at a prompt, during a command,
//! during rollback, twice; and the exit phase after each outcome.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

mod common;

use common::Lab;

/// `tejun` with a terminal of its own: stdin, stdout and stderr are the
/// slave side of a pty that is its controlling terminal.
struct OnTerminal {
    child: Child,
    master: File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl OnTerminal {
    fn start(lab: &Lab, args: &[&str]) -> OnTerminal {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave: OwnedFd = pty.slave;
        let mut cmd = lab.background();
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; nothing allocates.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(cmd);
        let master = File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone().unwrap();
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            // Ends with EIO once the last slave descriptor closes.
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        OnTerminal {
            child,
            master,
            output,
        }
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the terminal shows `text` `times` times.
    fn wait_for(&self, text: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.output().matches(text).count() < times {
            assert!(
                Instant::now() < deadline,
                "never saw {text:?}:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_line(&mut self, line: &str) {
        writeln!(self.master, "{line}").unwrap();
    }

    /// Ctrl-C, as the terminal sends it: SIGINT to tejun.
    fn ctrl_c(&self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
    }

    fn wait(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.output());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("tejun did not end:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn outcome(lab: &Lab) -> String {
    let ended = lab.events("run.ended");
    ended.last().unwrap()["outcome"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A runbook that changes `site.conf` in execute, asks a question, and has
/// a rollback that puts it back and an exit step that leaves a marker.
fn change_then_ask(lab: &Lab, rollback_extra: &str) {
    let conf = lab.write("site.conf", "weight=1\n");
    let m = lab.path("markers");
    let (c, m) = (conf.display(), m.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo weight=5 > {c}\n  - id: looks-right\n    confirm: \"Does the page answer?\"\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n{rollback_extra}"
        ),
    );
}

#[test]
fn ctrl_c_at_a_prompt_aborts_rolls_back_and_runs_the_exit_phase() {
    let lab = Lab::new();
    change_then_ask(&lab, "");
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    term.wait_for("verdict", 1);
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=5\n"
    );
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=1\n",
        "the change is undone"
    );
    assert_eq!(lab.markers(), ["exit"], "{out}");
    assert_eq!(outcome(&lab), "aborted");
    assert_eq!(lab.events("rollback.started")[0]["reason"], "aborted");
    assert!(
        lab.events("step.confirmed").is_empty(),
        "^C is not an answer"
    );
}

#[test]
fn ctrl_c_during_a_command_kills_it_rolls_back_and_runs_the_exit_phase() {
    let lab = Lab::new();
    let conf = lab.write("site.conf", "weight=1\n");
    let m = lab.path("markers");
    let (c, m) = (conf.display(), m.display());
    lab.write(
        "book.yaml",
        &format!(
            "name: change\nenv: dev\npre:\n  - id: keep\n    backup: {c}\nexecute:\n  - id: edit\n    run: echo weight=5 > {c}; echo started >> {m}; sleep 30; echo finished >> {m}\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: put-back\n      restore: keep\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the slow step never started", |m| !m.is_empty());
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "weight=1\n");
    assert_eq!(lab.markers(), ["started", "exit"], "{out}");
    assert_eq!(outcome(&lab), "aborted");
}

#[test]
fn a_first_ctrl_c_during_rollback_is_noted_and_the_rollback_goes_on() {
    let lab = Lab::new();
    let m = lab.path("markers");
    let m = m.display();
    lab.write(
        "book.yaml",
        &format!(
            "name: x\nenv: dev\nexecute:\n  - id: breaks\n    run: exit 1\nexit:\n  - id: leave\n    run: echo exit >> {m}\nrollback:\n  steps:\n    - id: slow-undo\n      run: echo undoing >> {m}; sleep 1; echo undone >> {m}\n"
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    lab.wait_for_markers("the rollback never started", |m| !m.is_empty());
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 3, "{out}");
    assert_eq!(lab.markers(), ["undoing", "undone", "exit"], "{out}");
    assert!(out.contains("Ctrl-C noted"), "{out}");
    assert_eq!(outcome(&lab), "rolled-back");
}

#[test]
fn a_second_ctrl_c_stops_waiting_and_names_the_command_that_rolls_back() {
    let lab = Lab::new();
    let (m, fast) = (lab.path("markers"), lab.path("fast"));
    change_then_ask(
        &lab,
        &format!(
            "    - id: slow-undo\n      run: echo undoing >> {}; test -f {} || sleep 30\n",
            m.display(),
            fast.display()
        ),
    );
    let term = OnTerminal::start(&lab, &["run", "book.yaml", "--env", "dev"]);
    term.wait_for("verdict", 1);
    term.ctrl_c();
    lab.wait_for_markers("the rollback never started", |m| !m.is_empty());
    term.ctrl_c();
    let (code, out) = term.wait();
    assert_eq!(code, 130, "{out}");
    let stopped = lab.events("run.stopped");
    assert_eq!(stopped.len(), 1, "{out}");
    let run_id = lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let next = format!("tejun rollback {run_id}");
    assert_eq!(stopped[0]["next"], next.as_str());
    assert!(
        out.lines()
            .any(|l| l.contains("roll it back with") && l.contains(&next)),
        "{out}"
    );
    assert!(lab.events("run.ended").is_empty());

    // The printed command does what it says: the rollback plan, then the
    // exit phase.
    std::fs::write(&fast, "").unwrap();
    lab.tejun()
        .args(["rollback", &run_id, "--yes"])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(3);
    assert_eq!(
        std::fs::read_to_string(lab.path("site.conf")).unwrap(),
        "weight=1\n"
    );
    assert_eq!(lab.markers(), ["undoing", "undoing", "exit"]);
    assert_eq!(outcome(&lab), "rolled-back");
}
