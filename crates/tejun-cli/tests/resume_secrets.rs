//! Resuming a run whose secret variables were given with `--var`: secrets
//! are never journaled, so after a real SIGKILL the operator gives them
//! again (`--var`, or typed without echo on a terminal), or the resume is
//! refused before any step runs, naming every missing secret. The secret
//! never reaches the journal, `tejun show`, `tejun runs` or the audit.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::Lab;

const TOKEN: &str = "tok-5ecr3t-Zq81";
const DB_PASS: &str = "db-5ecr3t-Wk27";

/// step-1, then step-2 and step-3 that use the secret: step-2 writes it to
/// the marker file (proof the real value was used), step-3 prints it (it
/// must be redacted from the captured output). `url` is a plain literal
/// built from the secret: journaled redacted, it must be rendered again on
/// resume, never replayed as `***`.
fn book(markers: &Path) -> String {
    let m = markers.display();
    format!(
        "name: secret-resume\nenv: dev\nvars:\n  token:\n    required: true\n    secret: true\n    description: deploy token\n  url: \"https://deploy:{{{{token}}}}@example.invalid\"\nexecute:\n  - id: step-1\n    run: echo step-1 >> {m}\n  - id: step-2\n    run: echo step-2 {{{{token}}}} {{{{url}}}} >> {m}\n  - id: step-3\n    run: echo printed {{{{token}}}}; echo step-3 >> {m}\n"
    )
}

/// Runs `book.yaml` with the secret given, killed by SIGKILL right after
/// step-1's end is durable. Returns the run id.
fn crashed_run(lab: &Lab, extra: &[&str]) -> String {
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
        .arg("--var")
        .arg(format!("token={TOKEN}"))
        .args(extra)
        .env("TEJUN_CRASH_AT", "after-finish:step-1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        None,
        "tejun should die of SIGKILL: {out:?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value =
        serde_json::from_str(stdout.lines().next().expect("run.started")).unwrap();
    assert_eq!(first["kind"], "run.started");
    first["payload"]["run_id"].as_str().unwrap().to_string()
}

fn state_of(lab: &Lab, id: &str) -> String {
    let out = lab.tejun().args(["runs", "--json"]).output().unwrap();
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    runs.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .expect("the run is listed")["state"]
        .as_str()
        .unwrap()
        .to_string()
}

fn step_starts(lab: &Lab) -> usize {
    lab.events("step.started").len()
}

fn all_bytes(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_bytes(&path, out);
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The secret is nowhere tejun keeps or shows things: every file under
/// `.tejun/` (database, WAL, run folders), `tejun show --json`, `tejun runs
/// --json` and `tejun audit verify`.
fn assert_secret_kept_out(lab: &Lab, id: &str, secret: &str) {
    let mut files = Vec::new();
    all_bytes(&lab.path(".tejun"), &mut files);
    assert!(files.iter().any(|(p, _)| p.ends_with("journal.db")));
    for (path, bytes) in &files {
        assert!(!contains(bytes, secret), "secret in {}", path.display());
    }
    for args in [
        vec!["show", id, "--json"],
        vec!["runs", "--json"],
        vec!["audit", "verify"],
    ] {
        let out = lab.tejun().args(&args).output().unwrap();
        assert!(out.status.success(), "tejun {args:?}: {out:?}");
        for bytes in [&out.stdout, &out.stderr] {
            assert!(
                !contains(bytes, secret),
                "secret shown by tejun {args:?}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

#[test]
fn a_secret_given_again_with_var_resumes_and_is_never_journaled() {
    let lab = Lab::new();
    lab.write("book.yaml", &book(&lab.path("markers")));
    let id = crashed_run(&lab, &[]);
    assert_eq!(lab.markers(), ["step-1"]);
    assert_eq!(state_of(&lab, &id), "interrupted");

    let out = lab
        .tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry", "--json"])
        .arg("--var")
        .arg(format!("token={TOKEN}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The real value reached the commands, also inside the literal built
    // from it (not a replayed `***`).
    assert_eq!(
        lab.markers(),
        [
            "step-1".to_string(),
            format!("step-2 {TOKEN} https://deploy:{TOKEN}@example.invalid"),
            "step-3".to_string(),
        ]
    );
    assert!(!contains(&out.stdout, TOKEN), "printed by resume");
    assert!(!contains(&out.stderr, TOKEN), "printed by resume");
    assert_eq!(state_of(&lab, &id), "succeeded");
    // Redacted where it was printed.
    let show = lab.tejun().args(["show", &id, "--json"]).output().unwrap();
    assert!(contains(&show.stdout, "printed ***"), "{show:?}");
    assert_secret_kept_out(&lab, &id, TOKEN);
}

#[test]
fn without_the_secret_a_non_interactive_resume_is_refused_before_any_step() {
    let lab = Lab::new();
    let m = lab.path("markers");
    // Three kinds of secret that cannot come back from the journal: a
    // required one, a literal overridden with --var at the start, and one
    // read from an environment variable that is no longer set.
    lab.write(
        "book.yaml",
        &book(&m).replace(
            "vars:\n",
            "vars:\n  api_key: {value: default-key, secret: true}\n  db_pass: {from_env: DB_PASS, secret: true}\n",
        ),
    );
    let given_key = "key-5ecr3t-Pm44";
    let mut run = lab.tejun();
    run.env("DB_PASS", DB_PASS);
    let id = {
        let out = run
            .args(["run", "book.yaml", "--env", "dev", "--yes", "--json"])
            .arg("--var")
            .arg(format!("token={TOKEN}"))
            .arg("--var")
            .arg(format!("api_key={given_key}"))
            .env("TEJUN_CRASH_AT", "after-finish:step-1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), None, "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let first: serde_json::Value =
            serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        first["payload"]["run_id"].as_str().unwrap().to_string()
    };
    let before = step_starts(&lab);

    let out = lab
        .tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .env_remove("DB_PASS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "refusing to resume",
        "`api_key`, `db_pass`, `token`",
        "nothing was run",
        "Add: --var api_key=VALUE --var db_pass=VALUE --var token=VALUE",
        "(or set DB_PASS (db_pass))",
    ] {
        assert!(stderr.contains(expected), "missing `{expected}`:\n{stderr}");
    }
    // Nothing ran: no marker, no step started, the run still interrupted.
    assert_eq!(lab.markers(), ["step-1"]);
    assert_eq!(step_starts(&lab), before);
    assert_eq!(state_of(&lab, &id), "interrupted");

    // In Japanese, the same names and flags.
    let out = lab
        .tejun()
        .args([
            "--lang",
            "ja",
            "resume",
            &id,
            "--yes",
            "--on-unknown",
            "retry",
        ])
        .env_remove("DB_PASS")
        .arg("--var")
        .arg(format!("token={TOKEN}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("再開を拒否しました: 秘密変数 `api_key`, `db_pass` は"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--var api_key=VALUE --var db_pass=VALUE"),
        "{stderr}"
    );
    assert!(!stderr.contains("`token`"), "token was given: {stderr}");
    assert_eq!(lab.markers(), ["step-1"]);

    // The environment variable is enough for db_pass; api_key, given on
    // the command line at the start, must be given again (its runbook
    // default would be the wrong value).
    let out = lab
        .tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .env("DB_PASS", DB_PASS)
        .arg("--var")
        .arg(format!("token={TOKEN}"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`api_key` are never stored"), "{stderr}");
    assert_eq!(step_starts(&lab), before);

    lab.tejun()
        .args(["resume", &id, "--yes", "--on-unknown", "retry"])
        .env("DB_PASS", DB_PASS)
        .arg("--var")
        .arg(format!("token={TOKEN}"))
        .arg("--var")
        .arg(format!("api_key={given_key}"))
        .assert()
        .code(0);
    assert_eq!(lab.markers().len(), 3, "{:?}", lab.markers());
    for secret in [TOKEN, DB_PASS, given_key] {
        assert_secret_kept_out(&lab, &id, secret);
    }
}

/// Reads `child`'s output on a thread; lines arrive on the channel.
fn pump(mut out: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Collects output until `needle` appears (or the child's output ends);
/// fails after `limit`.
fn read_until(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, needle: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !contains(seen, needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend(chunk),
            Err(_) => panic!(
                "`{needle}` never appeared; output so far:\n{}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

/// Parent pid of each process, from /proc.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The `tejun` process started (through a shell) by `script` `ancestor`.
fn tejun_below(ancestor: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            if comm.trim() != "tejun" {
                return None;
            }
            let mut up = pid;
            for _ in 0..8 {
                up = parent_of(up)?;
                if up == ancestor {
                    return Some(pid);
                }
            }
            None
        })
}

/// Waits until the terminal tejun reads from has echo switched off.
fn wait_for_echo_off(script_pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let off = tejun_below(script_pid).is_some_and(|pid| {
            Command::new("stty")
                .args(["-a", "-F", &format!("/proc/{pid}/fd/0")])
                .output()
                .is_ok_and(|out| {
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .any(|flag| flag == "-echo")
                })
        });
        if off {
            return;
        }
        assert!(Instant::now() < deadline, "echo was never switched off");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn on_a_terminal_the_missing_secret_is_asked_for_without_echo() {
    let lab = Lab::new();
    lab.write("book.yaml", &book(&lab.path("markers")));
    let id = crashed_run(&lab, &[]);
    // A real terminal: util-linux `script` runs tejun on a pseudo-terminal
    // and relays our stdin to it as typing.
    let tejun = assert_cmd::cargo::cargo_bin("tejun");
    let command = format!("{} resume {id} --on-unknown retry", tejun.display());
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(lab.dir.path())
        .env_remove("TEJUN_DB")
        .env_remove("TEJUN_INVENTORY")
        .env_remove("TEJUN_CRASH_AT")
        .env("LANG", "C")
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("`script` (util-linux, Debian package bsdutils) is needed for the terminal test");
    let rx = pump(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    read_until(
        &rx,
        &mut seen,
        "secret `token` (deploy token) is not stored in the journal; type it (hidden): ",
        Duration::from_secs(60),
    );
    // The prompt is printed just before echo is switched off: type only
    // once the terminal says it is off, as a person would (much later).
    wait_for_echo_off(child.id());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{TOKEN}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    read_until(&rx, &mut seen, "SUCCEEDED", Duration::from_secs(60));
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "tejun under script did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(200)) {
        seen.extend(chunk);
    }
    assert!(status.success(), "{}", String::from_utf8_lossy(&seen));
    assert!(
        !contains(&seen, TOKEN),
        "the typed secret was echoed or printed:\n{}",
        String::from_utf8_lossy(&seen)
    );
    assert_eq!(lab.markers().len(), 3, "{:?}", lab.markers());
    assert_eq!(
        lab.markers()[1],
        format!("step-2 {TOKEN} https://deploy:{TOKEN}@example.invalid")
    );
    assert_secret_kept_out(&lab, &id, TOKEN);
}
