//! A secret used in a backed-up file's path never appears in a path tejun
//! prints, journals or creates: `step.finished` lists the path redacted,
//! the copy in the run folder is named by its content hash, and the
//! rollback still restores the real file.

use std::path::{Path, PathBuf};

mod common;

use common::Lab;

const TOKEN: &str = "tok-9Zq4-secretpath";

const BOOK: &str = "name: secret-paths\nenv: dev\nvars:\n  token: {required: true, secret: true}\nexecute:\n  - id: save\n    backup: [\"conf-{{token}}.txt\"]\n  - id: change\n    run: echo changed > conf-{{token}}.txt\n  - id: fail\n    run: exit 1\nrollback:\n  steps:\n    - restore: {from: save}\n";

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        }
        out.push(path);
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_secret_in_a_backup_path_is_never_printed_journaled_or_used_as_a_file_name() {
    let lab = Lab::new();
    lab.write("book.yaml", BOOK);
    let conf = lab.write(&format!("conf-{TOKEN}.txt"), "original\n");
    let mut printed = String::new();
    for json in [false, true] {
        let mut cmd = lab.tejun();
        cmd.args(["run", "book.yaml", "--env", "dev", "--yes", "--var"])
            .arg(format!("token={TOKEN}"));
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(
            matches!(out.status.code(), Some(1 | 3)),
            "the run fails and rolls back: {}",
            text(&out)
        );
        printed.push_str(&text(&out));
        // The rollback put the real file back.
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "original\n");
    }
    // The path is shown, redacted.
    assert!(printed.contains("conf-***.txt"), "{printed}");

    let finished = lab.events("step.finished");
    let files: Vec<&serde_json::Value> = finished
        .iter()
        .flat_map(|e| e["files"].as_array().into_iter().flatten())
        .collect();
    assert!(
        files.len() >= 2,
        "backup and restore list their files: {finished:?}"
    );
    for file in &files {
        assert!(
            file["path"].as_str().unwrap().ends_with("conf-***.txt"),
            "{file}"
        );
    }
    let run_id = finished[0]["run_id"].as_str().unwrap().to_string();
    for args in [vec!["show", &run_id], vec!["show", &run_id, "--json"]] {
        let out = lab.tejun().args(&args).output().unwrap();
        printed.push_str(&text(&out));
    }
    assert!(!printed.contains(TOKEN), "{printed}");

    // Neither the names nor the bytes of anything under .tejun hold it.
    let mut paths = Vec::new();
    walk(&lab.path(".tejun"), &mut paths);
    assert!(
        paths
            .iter()
            .any(|p| p.components().any(|c| c.as_os_str() == "backup"))
    );
    for path in &paths {
        assert!(
            !path.display().to_string().contains(TOKEN),
            "{}",
            path.display()
        );
        if path.is_file() {
            let bytes = std::fs::read(path).unwrap();
            assert!(
                !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}
