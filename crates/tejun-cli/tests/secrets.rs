//! Secret values (a `secret: true` var, and the values of the environment
//! variables a runbook lists in `secret_env`) never reach the journal or
//! the screen: not in commands, not in captured output, not in errors.
//! Checked against the raw bytes of every file under `.tejun/` (database,
//! WAL, run folders) and everything tejun printed.

use std::path::{Path, PathBuf};

const TOKEN: &str = "s3cr3t-Tok3n-9f8e71";
const API_KEY: &str = "k3y-Env-77aa0c";

mod common;

use common::Lab;

fn lab() -> Lab {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: secrets\nenv: dev\nvars:\n  token:\n    required: true\n    secret: true\nsecret_env: [API_KEY]\nexecute:\n  - id: use-token\n    run: echo token={{token}}; echo key=$API_KEY >&2\n  - id: check-token\n    check: echo {{token}} $API_KEY; test {{token}} = wrong\n    expect:\n      stdout: \"never-matches\"\n",
    );
    lab
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

fn run(lab: &Lab, json: bool) -> (Vec<u8>, Vec<u8>) {
    let mut cmd = lab.tejun();
    cmd.env("API_KEY", API_KEY)
        .args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
        .arg(format!("token={TOKEN}"));
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the check step fails on purpose: {out:?}"
    );
    (out.stdout, out.stderr)
}

#[test]
fn secrets_never_reach_the_journal_or_the_screen() {
    let lab = lab();
    let mut printed = Vec::new();
    for json in [false, true] {
        let (stdout, stderr) = run(&lab, json);
        printed.push(("stdout", stdout));
        printed.push(("stderr", stderr));
    }
    for (name, bytes) in &printed {
        for secret in [TOKEN, API_KEY] {
            assert!(
                !contains(bytes, secret),
                "{secret} printed on {name}: {}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
    // The redaction is visible where the values were.
    let json_out = String::from_utf8_lossy(&printed[2].1);
    assert!(json_out.contains("token=***"), "{json_out}");
    assert!(json_out.contains("key=***"), "{json_out}");

    let mut files = Vec::new();
    all_bytes(&lab.path(".tejun"), &mut files);
    assert!(files.iter().any(|(p, _)| p.ends_with("journal.db")));
    for (path, bytes) in &files {
        for secret in [TOKEN, API_KEY] {
            assert!(
                !contains(bytes, secret),
                "{secret} found in {}",
                path.display()
            );
        }
    }
    // A sanity check that the search works: the non-secret runbook name is there.
    assert!(files.iter().any(|(_, b)| contains(b, "use-token")));
}
