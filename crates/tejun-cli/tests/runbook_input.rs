//! Runbook input the parser must not misread: literals kept as written,
//! NUL bytes and invalid UTF-8 located (also in `check --json`), and only
//! tejun's own words in messages, never a library's internals.

mod common;

use common::Lab;
use predicates::prelude::*;

#[test]
fn numbers_and_booleans_are_kept_exactly_as_written() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: literals\nenv: dev\nvars:\n  version: 1.10\n  mode: 0o755\n  flag: yes\n  big: 1e3\n  n: 007\nexecute:\n  - id: say\n    run: echo {{version}} {{mode}} {{flag}} {{big}} {{n}} > said.txt\n",
    );
    lab.run().code(0);
    assert_eq!(
        std::fs::read_to_string(lab.path("said.txt")).unwrap(),
        "1.10 0o755 yes 1e3 007\n"
    );
}

#[test]
fn a_nul_byte_is_refused_at_its_place_and_nothing_runs() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: nul\nenv: dev\nexecute:\n  - run: echo one >> markers\n\0  - run: echo two >> markers\n",
    );
    lab.run()
        .code(2)
        .stderr(contains("book.yaml:5:1:").and(contains("NUL byte")));
    assert!(lab.markers().is_empty(), "a step ran: {:?}", lab.markers());
    let out = lab
        .tejun()
        .args(["check", "book.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["errors"][0]["code"], "nul-byte");
    assert_eq!(
        (
            json["errors"][0]["line"].as_u64(),
            json["errors"][0]["col"].as_u64()
        ),
        (Some(5), Some(1))
    );
}

#[test]
fn invalid_utf8_is_located_in_check_json_plan_and_run() {
    let lab = Lab::new();
    std::fs::write(
        lab.path("book.yaml"),
        b"name: bytes\nenv: dev\nexecute:\n  - run: echo caf\xe9 >> markers\n",
    )
    .unwrap();
    let out = lab
        .tejun()
        .args(["check", "book.yaml", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = &json["errors"][0];
    assert_eq!(error["code"], "not-utf8");
    assert_eq!(
        (error["line"].as_u64(), error["col"].as_u64()),
        (Some(4), Some(18))
    );
    assert!(error["message_ja"].as_str().unwrap().contains("UTF-8"));
    lab.tejun()
        .args(["plan", "book.yaml", "--env", "dev"])
        .assert()
        .code(2)
        .stderr(contains("book.yaml:4:18:"));
    lab.run().code(2).stderr(contains("book.yaml:4:18:"));
    assert!(lab.markers().is_empty());
}

#[test]
fn parser_limits_and_second_documents_are_said_in_tejuns_words() {
    let lab = Lab::new();
    let mut bomb = String::from("name: x\nenv: dev\nvars:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut prev = 'a';
    for n in "bcdefghi".chars() {
        bomb.push_str(&format!(
            "  {n}: &{n} [{}]\n",
            vec![format!("*{prev}"); 10].join(",")
        ));
        prev = n;
    }
    bomb.push_str("execute:\n  - run: echo hi\n");
    for (text, en, ja) in [
        (
            bomb.as_str(),
            "too large or too deeply nested",
            "大きすぎる",
        ),
        (
            "name: x\nenv: dev\n---\nname: y\n",
            "a second YAML document",
            "2つ目の YAML 文書",
        ),
        (
            "name: x\nenv: dev\nexecute:\n  - run: !shell echo hi\n",
            "YAML tag `!shell`",
            "YAML タグ",
        ),
    ] {
        lab.write("book.yaml", text);
        for (lang, fragment) in [("en", en), ("ja", ja)] {
            lab.tejun()
                .args(["--lang", lang, "check", "book.yaml"])
                .assert()
                .code(2)
                .stderr(
                    contains(fragment)
                        .and(contains("Nodes {").not())
                        .and(contains("from_str_multiple").not())
                        .and(contains("budget breached").not())
                        .and(contains("DuplicateKeyPolicy").not())
                        .and(contains("Options").not()),
                );
        }
    }
}

#[test]
fn a_timeout_under_a_second_and_a_repeated_env_are_refused() {
    let lab = Lab::new();
    lab.write(
        "book.yaml",
        "name: t\nenv: [dev, dev]\ndefaults: {timeout: 500ms}\nexecute:\n  - run: echo hi\n    timeout: 0s\n",
    );
    lab.tejun()
        .args(["check", "book.yaml"])
        .assert()
        .code(2)
        .stderr(
            contains("book.yaml:2:12:")
                .and(contains("listed twice"))
                .and(contains("book.yaml:3:21:"))
                .and(contains("book.yaml:6:14:"))
                .and(contains("at least 1s")),
        );
}

fn contains(s: &str) -> predicates::str::ContainsPredicate {
    predicates::str::contains(s)
}
