//! Observations (#22) of English left in Japanese mode, each through the
//! real binary.

use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::Lab;

fn ja(lab: &Lab, args: &[&str]) -> (i32, String) {
    let out = lab
        .tejun()
        .arg("--lang")
        .arg("ja")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap(), text)
}

fn run_id(lab: &Lab) -> String {
    lab.events("run.started")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn failure_and_rollback_reasons_read_in_japanese() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: bad\n    run: exit 1\nrollback:\n  steps:\n    - id: undo\n      run: \"true\"\n",
    );
    let (code, text) = ja(&lab, &["run", "book.yaml", "--env", "dev", "--yes"]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("終了コード 1 (期待値 0)"), "{text}");
    assert!(!text.contains("expected 0"), "{text}");
    assert!(text.contains("ステップの失敗"), "{text}");
    assert!(!text.contains("step-failed"), "{text}");
    let (_, shown) = ja(&lab, &["show", &run_id(&lab)]);
    assert!(shown.contains("終了コード 1 (期待値 0)"), "{shown}");
    assert!(shown.contains("[状態変更]"), "{shown}");
    assert!(!shown.contains("[changes]"), "{shown}");
}

#[test]
fn stdout_mismatch_and_automatic_answers_read_in_japanese() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\npre:\n  - id: ask\n    confirm: ok?\n    auto: ok\n  - id: look\n    run: echo hello\n    expect: {stdout: bye}\n",
    );
    let (code, text) = ja(&lab, &["run", "book.yaml", "--env", "dev", "--yes"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("stdout がパターン /bye/ に一致しませんでした"),
        "{text}"
    );
    assert!(text.contains("自動で回答"), "{text}");
    assert!(!text.contains("answered automatically"), "{text}");
}

#[test]
fn incident_list_and_show_use_japanese_status_names_and_align_by_width() {
    let lab = Lab::new();
    let (_, id) = ja(
        &lab,
        &["incident", "open", "--title", "t", "--severity", "P2"],
    );
    let id = id.trim().to_string();
    ja(&lab, &["incident", "status", &id, "investigating"]);
    let (_, list) = ja(&lab, &["incident", "list"]);
    assert!(
        list.contains("調査中") && !list.contains("investigating"),
        "{list}"
    );
    let (_, shown) = ja(&lab, &["incident", "show", &id]);
    // 発生 and 影響範囲 are 4 and 8 columns wide: values start in one column.
    let column = |label: &str| {
        let line = shown
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap();
        let value_at = line.find(|c: char| c.is_ascii_digit() || c == '—').unwrap();
        unicode_width::UnicodeWidthStr::width(&line[..value_at])
    };
    assert_eq!(column("発生"), column("影響範囲"), "{shown}");
    assert!(shown.contains("検知 → 調査中"), "{shown}");
}

#[test]
fn audit_verify_calls_the_newest_event_the_latest() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: x\nenv: dev\nexecute:\n  - id: a\n    run: \"true\"\n",
    );
    lab.run().code(0);
    lab.tejun()
        .args(["--lang", "ja", "audit", "verify"])
        .assert()
        .code(0)
        .stdout(contains("最新:").and(contains("先頭").not()));
}
