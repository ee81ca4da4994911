//! A real MariaDB (Debian's mariadb-server) in a temporary datadir on a
//! private socket, no TCP, slow log on with `long_query_time = 0`: a
//! lookup on a column without an index is flagged by `tejun digest`, and
//! the flag is gone once the index exists. The same real log is checked
//! against pt-query-digest.

mod common;
mod digest_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Lab;

/// Durability is not what this test is about: without fsyncs the
/// bootstrap takes under a second instead of four.
const FAST: [&str; 5] = [
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=4M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--innodb-flush-method=nosync",
];

/// The server we started; stopped (by its own pid) when the test ends.
struct Server {
    child: Child,
    socket: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Server {
    let user = if nix::unistd::User::from_name("mysql")
        .ok()
        .flatten()
        .is_some()
    {
        "mysql"
    } else {
        "root"
    };
    if let Some(mysql) = nix::unistd::User::from_name(user).ok().flatten() {
        std::os::unix::fs::chown(dir, Some(mysql.uid.as_raw()), Some(mysql.gid.as_raw())).unwrap();
    }
    let datadir = dir.join("data");
    let out = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--user={user}"))
        .arg(format!("--datadir={}", datadir.display()))
        .args([
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ])
        .args(FAST)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mariadb-install-db: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let socket = dir.join("mysqld.sock");
    let child = Command::new("mariadbd")
        .arg("--no-defaults")
        .arg(format!("--user={user}"))
        .arg(format!("--datadir={}", datadir.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .arg(format!("--log-error={}", dir.join("error.log").display()))
        .arg(format!(
            "--slow-query-log-file={}",
            dir.join("slow.log").display()
        ))
        .args([
            "--skip-networking",
            "--skip-log-bin",
            "--slow-query-log=1",
            "--long-query-time=0",
        ])
        .args(FAST)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server { child, socket };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.socket.exists() {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "mariadbd exited ({status}): {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "mariadbd did not open its socket"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn sql(server: &Server, statements: &str) {
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .arg(format!("--socket={}", server.socket.display()))
        .args(["-uroot", "shop", "-e", statements])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{statements}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

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
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: starting mariadbd as its own user needs root");
        return;
    }
    if Command::new("mariadbd").arg("--version").output().is_err() {
        eprintln!("skipped: mariadbd is not installed (apt install mariadb-server)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .arg(format!("--socket={}", server.socket.display()))
        .args(["-uroot", "-e", "CREATE DATABASE shop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sql(
        &server,
        "CREATE TABLE orders (id INT PRIMARY KEY, email VARCHAR(64), total INT);
         INSERT INTO orders SELECT seq, CONCAT('u', seq, '@example.com'), seq % 1000 FROM seq_1_to_5000;",
    );
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
