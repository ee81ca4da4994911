//! `tejun collect` through the real binary: the bundle is a real tar.gz
//! (read back with tar), every manifest hash matches its file (checked with
//! sha256sum), failing/missing/slow commands are recorded and collection
//! carries on, secrets never reach the bundle, and a catalogue entry that
//! is not read-only stops everything before anything runs.

use std::path::Path;
use std::process::Command as Process;

use predicates::prelude::*;
use serde_json::Value;

mod common;

use common::{stdout, tejun_in};

fn sha256sum(path: &Path) -> String {
    let out = Process::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum (coreutils) is needed");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

const CATALOG: &str = r#"commands:
  - id: secrets
    layer: test
    title: {en: "prints secrets", ja: "秘密を出力"}
    run: [printf, "db_password=hunter2\nAuthorization: Bearer abcdefghijklmnop\nfrom 198.51.100.23\n"]
    safety: read-only
  - id: missing
    layer: test
    title: {en: "not installed", ja: "未インストール"}
    run: [tejun-no-such-tool, --version]
    safety: read-only
  - id: failing
    layer: test
    title: {en: "fails", ja: "失敗"}
    run: [ls, /tejun/not/here]
    safety: read-only
  - id: slow
    layer: test
    title: {en: "hangs", ja: "応答なし"}
    run: [sleep, "30"]
    safety: read-only
    timeout: 500ms
"#;

#[test]
fn a_bundle_with_hashes_attached_to_the_incident() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("mine.yaml"), CATALOG).unwrap();
    let id = stdout(tejun_in(d).args([
        "incident",
        "open",
        "--title",
        "ssh brute force",
        "--severity",
        "P1",
    ]));
    let id = id.trim();
    let started = std::time::Instant::now();
    let out: Value = serde_json::from_str(&stdout(tejun_in(d).args([
        "collect",
        "--catalog",
        "mine.yaml",
        "--layers",
        "test,os",
        "--incident",
        &id[4..],
        "--out",
        "ev",
        "--redact-ips",
        "--json",
    ])))
    .unwrap();
    assert!(
        started.elapsed().as_secs() < 25,
        "the slow command must be stopped by its timeout"
    );
    let status = |cmd: &str| {
        out["commands"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == cmd)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("secrets"), "ok");
    assert_eq!(status("missing"), "missing");
    assert_eq!(status("failing"), "failed");
    assert_eq!(status("slow"), "timed-out");
    assert_eq!(
        status("uptime"),
        "ok",
        "collection carried on into the os layer"
    );

    // The bundle is a real tar.gz; its manifest's hashes match the files.
    let bundle = Path::new(out["bundle"].as_str().unwrap());
    assert_eq!(out["sha256"], sha256sum(bundle).as_str());
    let unpacked = d.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let tar = Process::new("tar")
        .arg("-xzf")
        .arg(bundle)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(tar.success());
    let root = std::fs::read_dir(&unpacked)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("manifest.json")).unwrap())
            .unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), out["commands"].as_array().unwrap().len());
    for file in files {
        let path = root.join(file["name"].as_str().unwrap());
        assert_eq!(file["sha256"], sha256sum(&path).as_str(), "{path:?}");
    }
    let missing = files.iter().find(|f| f["id"] == "missing").unwrap();
    assert!(
        missing["reason"].as_str().unwrap().contains("not found"),
        "{missing}"
    );

    // Secrets are redacted, IPs pseudonymised, in output and command lines.
    let text = std::fs::read_to_string(root.join("test/secrets.txt")).unwrap();
    for secret in ["hunter2", "abcdefghijklmnop", "198.51.100.23"] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
    assert!(
        text.contains("db_password=***") && text.contains("from [ip-"),
        "{text}"
    );

    // The journal event is on the incident's timeline with the same hashes.
    let shown: Value = serde_json::from_str(&stdout(
        tejun_in(d).args(["incident", "show", id, "--json"]),
    ))
    .unwrap();
    let evidence = &shown["incident"]["evidence"][0];
    assert_eq!(evidence["bundle_sha256"], out["sha256"]);
    assert_eq!(
        evidence["files"].as_array().unwrap().len(),
        files.len() + 1,
        "plus manifest.json"
    );
    let manifest_entry = evidence["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "manifest.json")
        .unwrap();
    assert_eq!(
        manifest_entry["sha256"],
        sha256sum(&root.join("manifest.json")).as_str()
    );
}

#[test]
fn a_catalogue_entry_that_is_not_read_only_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bad = CATALOG.replace(
        "run: [ls, /tejun/not/here]\n    safety: read-only",
        "run: [ls, /tejun/not/here]\n    safety: changes-state",
    );
    std::fs::write(d.join("bad.yaml"), bad).unwrap();
    tejun_in(d)
        .args(["collect", "--catalog", "bad.yaml", "--out", "ev"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("bad.yaml:16:13").and(predicate::str::contains("read-only")),
        );
    let sneaky = CATALOG.replace("run: [ls, /tejun/not/here]", "run: [rm, -rf, /tmp/tejun-x]");
    std::fs::write(d.join("sneaky.yaml"), sneaky).unwrap();
    tejun_in(d)
        .args([
            "--lang",
            "ja",
            "collect",
            "--catalog",
            "sneaky.yaml",
            "--out",
            "ev",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("拒否").and(predicate::str::contains("rm")));
    assert!(!d.join("ev").exists(), "nothing ran, no bundle");
    tejun_in(d)
        .args(["collect", "--layers", "kernel"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown layer"));
    tejun_in(d)
        .args(["collect", "--incident", "NOPE"])
        .assert()
        .code(2);
    tejun_in(d)
        .args(["collect", "--timeout", "soon"])
        .assert()
        .code(2);
}

#[test]
fn the_catalogue_lists_every_layer_of_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let list: Value = serde_json::from_str(&stdout(
        tejun_in(dir.path()).args(["collect", "--list", "--json"]),
    ))
    .unwrap();
    let layers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["layer"].as_str().unwrap())
        .collect();
    for layer in [
        "os", "network", "web", "mysql", "postgres", "security", "boot",
    ] {
        assert!(layers.contains(&layer), "{layer}");
    }
    let runs: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["run"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    for needed in [
        "df -i",
        "systemctl --failed",
        "ss -ltnp",
        "nginx -t",
        "last -x",
        "journalctl --list-boots",
    ] {
        assert!(runs.iter().any(|r| r.starts_with(needed)), "{needed}");
    }
}
