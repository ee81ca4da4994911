//! `tejun watch` following a real MariaDB's slow log (Debian's
//! mariadb-server, temporary datadir, private socket, no TCP,
//! `long_query_time = 0`): a lookup by an unindexed column reads every row,
//! the fingerprint's `rows_examined` rule fires on the server's own entries
//! and posts its webhook; the server's other statements do not count.

mod watch_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use watch_common::{Setup, webhook_server};

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

#[test]
fn a_rows_examined_rule_fires_on_a_real_mariadb_slow_log_followed_by_watch() {
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
         INSERT INTO orders SELECT seq, CONCAT('u', seq, '@example.com'), seq % 1000 FROM seq_1_to_5000;
         SELECT count(*) FROM orders;",
    );
    let (url, bodies) = webhook_server(200);
    let slow_log = dir.path().join("slow.log");
    let setup = Setup::new(
        1,
        60,
        &format!("start_at: beginning\nwebhooks: [{{url: '{url}'}}]"),
        &format!(
            "  - name: shop-db\n    paths: ['{}']\n    slow_log: mysql\n    metrics:\n      - name: orders-scan\n        when: rows_examined p95 > 1000 over 5m\n        fingerprint: select * from orders where email = ?\n        actions: [webhook]\n",
            slow_log.display()
        ),
    );
    let mut watch = setup.watch();
    // The bulk insert and the count examined rows too, but are other
    // fingerprints: nothing fires on them.
    let quiet = watch.drain_for(Duration::from_secs(1), |e| e["event"] == "triggered");
    assert!(quiet.is_empty(), "{quiet:?}");
    sql(
        &server,
        "SELECT * FROM orders WHERE email = 'u97@example.com';
         SELECT * FROM orders WHERE email = 'u194@example.com';",
    );
    let fired = watch.wait_for("the rows_examined rule", |e| e["event"] == "triggered");
    assert_eq!(fired["rule"], "orders-scan");
    assert_eq!(fired["metric"]["metric"], "rows_examined p95", "{fired}");
    assert_eq!(
        fired["metric"]["value"], 5000.0,
        "a full scan of 5000 rows: {fired}"
    );
    let body = bodies
        .recv_timeout(Duration::from_secs(20))
        .expect("no webhook");
    assert!(
        body.contains("orders-scan") && body.contains("select * from orders where email = ?"),
        "{body}"
    );
    watch.stop();
    let triggered = setup.events("detect.triggered");
    assert_eq!(triggered.len(), 1, "{triggered:?}");
    let evidence = triggered[0]["lines"][0]["text"].as_str().unwrap();
    assert!(
        evidence.contains("Rows_examined: 5000") && evidence.contains("u97@example.com"),
        "{evidence}"
    );
}
