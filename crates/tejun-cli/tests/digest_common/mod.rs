//! The check that `tejun digest` and pt-query-digest agree on a log:
//! same fingerprints with the same counts and total query time, and the
//! same top 10 by total time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::Lab;

/// Whether pt-query-digest is installed (scripts/test.sh installs it).
pub fn have_pt() -> bool {
    Command::new("pt-query-digest")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One fingerprint: calls and total query time.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub count: u64,
    pub total: f64,
}

/// pt-query-digest writes bytes above ASCII as Latin-1 characters in its
/// JSON (`日` comes out as `æ\u0097¥`): read them back as the UTF-8 they were.
fn undo_double_encoding(text: &str) -> String {
    if text.chars().all(|c| (c as u32) < 256) {
        let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
        if let Ok(s) = String::from_utf8(bytes) {
            return s;
        }
    }
    text.to_string()
}

/// pt-query-digest's classes, in its order (`--order-by Query_time:sum`).
pub fn pt_classes(log: &Path, preserve_numbers: bool) -> Vec<(String, Class)> {
    let mut cmd = Command::new("pt-query-digest");
    cmd.args([
        "--output",
        "json",
        "--limit",
        "100%:100000",
        "--no-version-check",
    ]);
    if preserve_numbers {
        cmd.arg("--preserve-embedded-numbers");
    }
    let out = cmd.arg(log).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let number = |v: &serde_json::Value| {
                v.as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .or_else(|| v.as_f64())
                    .unwrap()
            };
            (
                undo_double_encoding(c["fingerprint"].as_str().unwrap()),
                Class {
                    count: c["query_count"].as_u64().unwrap(),
                    total: number(&c["metrics"]["Query_time"]["sum"]),
                },
            )
        })
        .collect()
}

/// tejun's classes, in its order.
pub fn tejun_classes(lab: &Lab, log: &Path, preserve_numbers: bool) -> Vec<(String, Class)> {
    let mut cmd = lab.tejun();
    cmd.arg("digest")
        .arg(log)
        .args(["--json", "--top", "100000"]);
    if !preserve_numbers {
        cmd.arg("--replace-embedded-numbers");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["fingerprint"].as_str().unwrap().to_string(),
                Class {
                    count: c["count"].as_u64().unwrap(),
                    total: c["query_time"]["total"].as_f64().unwrap(),
                },
            )
        })
        .collect()
}

/// Asserts both tools agree on `log`; returns how many fingerprints.
pub fn assert_same_digest(lab: &Lab, log: &Path, preserve_numbers: bool) -> usize {
    let pt = pt_classes(log, preserve_numbers);
    let tejun = tejun_classes(lab, log, preserve_numbers);
    // pt-query-digest makes an empty-fingerprint class of a `use db;` that
    // no statement follows; tejun reports that entry as malformed.
    let pt: Vec<_> = pt.into_iter().filter(|(f, _)| !f.is_empty()).collect();
    let pt_map: BTreeMap<_, _> = pt.iter().cloned().collect();
    let tejun_map: BTreeMap<_, _> = tejun.iter().cloned().collect();
    let only_pt: Vec<_> = pt_map
        .keys()
        .filter(|k| !tejun_map.contains_key(*k))
        .collect();
    let only_tejun: Vec<_> = tejun_map
        .keys()
        .filter(|k| !pt_map.contains_key(*k))
        .collect();
    assert!(
        only_pt.is_empty() && only_tejun.is_empty(),
        "{}: fingerprints only pt-query-digest made: {only_pt:#?}\nonly tejun made: {only_tejun:#?}",
        log.display()
    );
    for (fingerprint, p) in &pt_map {
        let t = &tejun_map[fingerprint];
        assert_eq!(p.count, t.count, "{fingerprint}: calls");
        // pt prints sums with six decimals.
        assert!(
            (p.total - t.total).abs() < 1e-5,
            "{fingerprint}: total query time {} vs {}",
            p.total,
            t.total
        );
    }
    let top = |classes: &[(String, Class)]| {
        classes
            .iter()
            .take(10)
            .map(|(f, _)| f.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(top(&pt), top(&tejun), "{}: top 10", log.display());
    pt_map.len()
}
