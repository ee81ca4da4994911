//! Fingerprints and the top-10 order of `tejun digest` against
//! pt-query-digest itself (Debian's percona-toolkit) on the same logs: the
//! shipped example, a corpus of fingerprint corner cases, and a generated
//! log of 60 statement shapes with random literals. The real MariaDB log
//! is compared in `digest_mariadb.rs`.

mod common;
mod digest_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Lab;
use digest_common::{assert_same_digest, have_pt};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn fingerprints_and_top_10_match_pt_query_digest_on_the_example_log() {
    if !have_pt() {
        eprintln!("skipped: pt-query-digest is not installed (apt install percona-toolkit)");
        return;
    }
    let lab = Lab::bare();
    let log = repo().join("examples/slow-mysql.log");
    assert_eq!(assert_same_digest(&lab, &log, true), 8);
}

#[test]
fn fingerprint_corner_cases_match_pt_query_digest_in_both_number_modes() {
    if !have_pt() {
        eprintln!("skipped: pt-query-digest is not installed (apt install percona-toolkit)");
        return;
    }
    let lab = Lab::bare();
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/digest_corpus/corner-cases.log");
    assert!(assert_same_digest(&lab, &log, true) >= 35);
    assert!(assert_same_digest(&lab, &log, false) >= 35);
}

#[test]
fn fingerprints_and_top_10_match_pt_query_digest_on_a_generated_log() {
    if !have_pt() {
        eprintln!("skipped: pt-query-digest is not installed (apt install percona-toolkit)");
        return;
    }
    let lab = Lab::bare();
    let log = lab.path("generated.log");
    let out = Command::new("python3")
        .arg(repo().join("bench/gen-slowlog.py"))
        .args(["400K", "11"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&log, out.stdout).unwrap();
    assert!(assert_same_digest(&lab, &log, true) > 100);
}
