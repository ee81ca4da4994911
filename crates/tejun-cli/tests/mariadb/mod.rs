//! A real MariaDB (Debian's mariadb-server) for tests: a temporary datadir,
//! a private socket, no TCP, and the slow log on with `long_query_time = 0`,
//! shared by the digest and watch tests that read its slow log.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Durability is not what this test is about: without fsyncs the
/// bootstrap takes under a second instead of four.
pub const FAST: [&str; 5] = [
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=4M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-doublewrite=0",
    "--innodb-flush-method=nosync",
];

/// The server we started; stopped (by its own pid) when the test ends.
pub struct Server {
    child: Child,
    pub socket: PathBuf,
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

/// Bootstraps a datadir in `dir` and starts `mariadbd` on a socket there,
/// slow log (`dir/slow.log`) on for every statement.
pub fn start(dir: &Path) -> Server {
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

/// Runs `statements` in database `shop` as root, failing the test on error.
pub fn sql(server: &Server, statements: &str) {
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

/// Why a MariaDB test cannot run here (printed as it skips), if it cannot.
pub fn skip_reason() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("skipped: starting mariadbd as its own user needs root");
    }
    if Command::new("mariadbd").arg("--version").output().is_err() {
        return Some("skipped: mariadbd is not installed (apt install mariadb-server)");
    }
    None
}

/// A started server with database `shop` and its table `orders` (5,000
/// rows, no index on `email`): the lookup a missing index makes slow.
pub fn start_shop(dir: &Path) -> Server {
    let server = start(dir);
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
    server
}
