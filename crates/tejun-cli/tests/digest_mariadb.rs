//! A real MariaDB (Debian's mariadb-server) in a temporary datadir on a
//! private socket, no TCP, slow log on with `long_query_time = 0`: a
//! lookup on a column without an index is flagged by `tejun digest`, and
//! the flag is gone once the index exists. The same real log is checked
//! against pt-query-digest.

mod common;
mod digest_common;
mod mariadb;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Lab;
use mariadb::{skip_reason, sql, start_shop};

/// Waits until `log` holds `count` email lookups: the server writes a
/// statement's entry after the client has its answer, so the last one can
/// lag the client's exit.
fn wait_for_lookups(log: &Path, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let seen = text.matches("SELECT * FROM orders WHERE email = ").count();
        if seen >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {seen} of {count} lookups",
            log.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The digest's entry for the email lookup.
fn email_lookup(lab: &Lab, log: &Path) -> serde_json::Value {
    let out = lab
        .tejun()
        .arg("digest")
        .arg(log)
        .args(["--json", "--top", "100"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files"][0]["malformed"], 0, "{report:#}");
    report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["fingerprint"] == "select * from orders where email = ?")
        .cloned()
        .unwrap_or_else(|| panic!("no email lookup in {report:#}"))
}

#[test]
fn a_real_mariadb_slow_log_flags_the_missing_index_until_it_is_added() {
    if let Some(reason) = skip_reason() {
        eprintln!("{reason}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_shop(dir.path());
    let lookups: String = (1..=20)
        .map(|i| {
            format!(
                "SELECT * FROM orders WHERE email = 'u{}@example.com';\n",
                i * 97
            )
        })
        .collect();
    sql(&server, &lookups);

    let lab = Lab::bare();
    let before = lab.path("before.log");
    wait_for_lookups(&dir.path().join("slow.log"), 20);
    std::fs::copy(dir.path().join("slow.log"), &before).unwrap();
    let scan = email_lookup(&lab, &before);
    assert_eq!(scan["count"], 20);
    assert_eq!(scan["rows"]["examined_avg"], 5000.0, "{scan:#}");
    assert_eq!(scan["missing_index"], true, "{scan:#}");

    // A fresh slow log for the second round.
    let after_path = dir.path().join("slow-after.log");
    sql(
        &server,
        &format!(
            "CREATE INDEX orders_email ON orders (email);
             SET GLOBAL slow_query_log_file = '{}';",
            after_path.display()
        ),
    );
    sql(&server, &lookups);
    let after = lab.path("after.log");
    wait_for_lookups(&after_path, 20);
    std::fs::copy(&after_path, &after).unwrap();
    let seek = email_lookup(&lab, &after);
    assert_eq!(seek["count"], 20);
    assert_eq!(seek["missing_index"], false, "{seek:#}");
    assert!(
        seek["rows"]["examined_avg"].as_f64().unwrap() <= 1.0,
        "{seek:#}"
    );

    // The table says so in words too, with the threshold.
    let table = lab.tejun().arg("digest").arg(&before).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("likely missing index"), "{table}");
    assert!(table.contains(">= 100x rows sent"), "{table}");

    if digest_common::have_pt() {
        digest_common::assert_same_digest(&lab, &before, true);
        digest_common::assert_same_digest(&lab, &after, true);
    } else {
        eprintln!("pt-query-digest not installed: its comparison on the real log skipped");
    }
    drop(server);
}
