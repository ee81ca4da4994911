//! The kernel-enforced layer (issue #19, "guard that matches what a
//! command will touch"): when tejun runs as root on Linux, every existing
//! path pinned to another environment is mounted read-only for the run, so
//! a write the text guard cannot see fails with EROFS and the file is
//! unchanged. Elsewhere the run says once that only the text check
//! applies, and an environment with `enforce: kernel` is refused.
//! Pins live in temporary directories, never real system paths.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use assert_cmd::Command;

mod common;

use common::Lab;

const ORIGINAL: &str = "production original\n";

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A lab with a staging and a production tree, and `steps` (YAML list
/// items) as the execute phase of a staging runbook. `T` in steps is the
/// lab's directory.
fn lab(steps: &str, enforce: &str) -> (Lab, String) {
    let lab = Lab::bare();
    let t = std::fs::canonicalize(lab.dir.path())
        .unwrap()
        .display()
        .to_string();
    std::fs::create_dir_all(lab.path("srv/production")).unwrap();
    std::fs::create_dir_all(lab.path("srv/staging")).unwrap();
    lab.write("srv/production/app.conf", ORIGINAL);
    lab.write("srv/staging/app.conf", "staging\n");
    lab.write(
        "tejun.yaml",
        &format!(
            "environments:
  staging:
    paths: ['{t}/srv/staging/**']
  production:
    protected: true
    {enforce}
    paths: ['{t}/srv/production/**']
"
        ),
    );
    lab.write(
        "book.yaml",
        &format!(
            "name: sneaky\nenv: staging\nexecute:\n{}",
            steps.replace("T/", &format!("{t}/"))
        ),
    );
    (lab, t)
}

fn production_unchanged(lab: &Lab) -> bool {
    std::fs::read_to_string(lab.path("srv/production/app.conf")).unwrap_or_default() == ORIGINAL
}

/// Written so that no word of the command names the production file: the
/// text guard lets it through.
const ASSEMBLED: &str = "  - id: own-file
    run: echo more >> T/srv/staging/app.conf
  - id: assembled
    run: f=$(printf T/srv/pro; printf duction/app.conf); echo x >> \"$f\"
";

const SYMLINK: &str = "  - id: link
    run: ln -s \"$(printf T/srv/pro)duction\" T/door && echo x >> T/door/app.conf
";

#[test]
fn a_write_through_a_path_assembled_at_run_time_fails_with_erofs() {
    let (lab, t) = lab(ASSEMBLED, "");
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !is_root() {
        assert!(
            stdout.contains("kernel guard unavailable (not-root)"),
            "{stdout}"
        );
        return;
    }
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Read-only file system"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "kernel-enforced read-only for this run: {t}/srv/production"
        )),
        "{stdout}"
    );
    assert!(production_unchanged(&lab));
    // The run's own environment stays writable.
    let staging = std::fs::read_to_string(lab.path("srv/staging/app.conf")).unwrap();
    assert_eq!(staging, "staging\nmore\n");
    // Journaled: which paths were locked.
    let started = &lab.events("run.started")[0];
    assert_eq!(
        started["kernel_guard"]["locked"],
        serde_json::json!([format!("{t}/srv/production")])
    );
    // Nothing leaks into the host's mount table.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&t), "{mounts}");
}

#[test]
fn a_symlink_made_during_the_run_does_not_reach_a_pinned_file() {
    if !is_root() {
        return;
    }
    let (lab, _) = lab(SYMLINK, "");
    let out = lab
        .tejun()
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Read-only file system"), "{stdout}");
    assert!(production_unchanged(&lab));
}

/// `tejun` as an unprivileged user (root drops to `nobody` with setpriv),
/// so the kernel layer is unavailable.
fn unprivileged(lab: &Lab) -> Command {
    if !is_root() {
        return lab.tejun();
    }
    for entry in walk(lab.dir.path()) {
        let mode = if entry.is_dir() { 0o777 } else { 0o666 };
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("tejun"))
        .current_dir(lab.dir.path())
        .env_remove("TEJUN_DB")
        .env_remove("TEJUN_INVENTORY")
        .env("HOME", lab.dir.path())
        .env("LANG", "C");
    cmd
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn without_the_kernel_layer_the_run_says_so_once_in_either_language() {
    let (lab, _) = lab("  - id: ok\n    run: 'true'\n", "");
    let out = unprivileged(&lab)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_eq!(
        stdout
            .matches("kernel guard unavailable (not-root)")
            .count(),
        1,
        "{stdout}"
    );
    let out = unprivileged(&lab)
        .args([
            "--lang",
            "ja",
            "run",
            "book.yaml",
            "--env",
            "staging",
            "--yes",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("カーネルによる保護は使えません (not-root)"),
        "{stdout}"
    );
}

#[test]
fn enforce_kernel_refuses_a_run_the_kernel_cannot_guard() {
    let (lab, _) = lab(ASSEMBLED, "enforce: kernel");
    let out = unprivileged(&lab)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`enforce: kernel`"), "{stderr}");
    assert!(production_unchanged(&lab));
    let staging = std::fs::read_to_string(lab.path("srv/staging/app.conf")).unwrap();
    assert_eq!(staging, "staging\n", "nothing ran");
}

#[test]
fn plan_says_which_paths_the_kernel_will_lock() {
    let (lab, t) = lab(ASSEMBLED, "");
    let out = lab
        .tejun()
        .args(["plan", "book.yaml", "--env", "staging", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["kernel_enforced"],
        serde_json::json!([format!("{t}/srv/production")])
    );
    let text = lab
        .tejun()
        .args(["plan", "book.yaml", "--env", "staging"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    let want = if is_root() {
        format!("kernel-enforced (read-only during the run): {t}/srv/production")
    } else {
        format!("not kernel-enforced here (not-root), text check only: {t}/srv/production")
    };
    assert!(text.contains(&want), "{text}");
}

#[test]
fn a_pinned_directory_holding_the_journal_stays_writable_and_says_why() {
    let (lab, t) = lab(
        "  - id: ok\n    run: 'true'\n  - id: two\n    run: 'true'\n",
        "",
    );
    std::fs::create_dir_all(lab.path("data")).unwrap();
    lab.write(
        "tejun.yaml",
        &format!("environments:\n  staging: {{}}\n  production:\n    paths: ['{t}/data/**']\n"),
    );
    let out = lab
        .tejun()
        .env("TEJUN_DB", lab.path("data/journal.db"))
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let plan = lab
        .tejun()
        .env("TEJUN_DB", lab.path("data/journal.db"))
        .args(["plan", "book.yaml", "--env", "staging", "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    // plan, like run, keeps the journal's directory writable.
    assert_eq!(json["kernel_enforced"], serde_json::json!([]));
    assert_eq!(json["text_check_only"][0]["why"], "holds-journal");
    let started = tejun_journal::Journal::open(&lab.path("data/journal.db"))
        .unwrap()
        .query(&tejun_journal::Query {
            kind_prefix: Some("run.started"),
            ..tejun_journal::Query::default()
        })
        .unwrap();
    let kernel = &started[0].payload["kernel_guard"];
    if is_root() {
        assert_eq!(kernel["locked"], serde_json::json!([]), "{kernel}");
        assert_eq!(kernel["text_only"][0]["why"], "holds-journal", "{kernel}");
    }
}
