//! Real nftables bans, proven with real TCP traffic between two network
//! namespaces this test creates (Debian packages `nftables` and `iproute2`;
//! run as root, as the test command does).
//!
//! Namespace A (10.231.0.1) runs a TCP listener and `tejun watch`; namespace
//! B (10.231.0.2) connects to it. The watcher bans B after two failed SSH
//! logins in its log; B's connection must then fail, and succeed again after
//! `tejun unban`. Traffic never leaves the two namespaces.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::Value;
use tejun_watch::ban::{Backend, Iptables, Nftables};

const A_ADDR: &str = "10.231.0.1";
const B_ADDR: &str = "10.231.0.2";
const PORT: &str = "18080";

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", args[0]))
}

fn ok(args: &[&str]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "`{}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn require_tools() {
    for tool in ["nft", "ip"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "`{tool}` is missing: apt-get install -y nftables iproute2"
        );
    }
    let euid = run(&["id", "-u"]);
    assert_eq!(
        String::from_utf8_lossy(&euid.stdout).trim(),
        "0",
        "the nftables tests need root (network namespaces)"
    );
}

/// Two namespaces joined by a veth pair; removed on drop, also when the
/// test fails half-way.
struct Namespaces {
    a: String,
    b: String,
    listener: Option<Child>,
}

impl Namespaces {
    fn new(tag: &str) -> Namespaces {
        require_tools();
        let id = std::process::id() % 100_000;
        let ns = Namespaces {
            a: format!("tjA{tag}{id}"),
            b: format!("tjB{tag}{id}"),
            listener: None,
        };
        let (va, vb) = (format!("tja{tag}{id}"), format!("tjb{tag}{id}"));
        ok(&["ip", "netns", "add", &ns.a]);
        ok(&["ip", "netns", "add", &ns.b]);
        ok(&[
            "ip", "link", "add", &va, "type", "veth", "peer", "name", &vb,
        ]);
        ok(&["ip", "link", "set", &va, "netns", &ns.a]);
        ok(&["ip", "link", "set", &vb, "netns", &ns.b]);
        ok(&[
            "ip",
            "-n",
            &ns.a,
            "addr",
            "add",
            &format!("{A_ADDR}/24"),
            "dev",
            &va,
        ]);
        ok(&[
            "ip",
            "-n",
            &ns.b,
            "addr",
            "add",
            &format!("{B_ADDR}/24"),
            "dev",
            &vb,
        ]);
        for (n, v) in [(&ns.a, &va), (&ns.b, &vb)] {
            ok(&["ip", "-n", n, "link", "set", v, "up"]);
            ok(&["ip", "-n", n, "link", "set", "lo", "up"]);
        }
        ns
    }

    /// A TCP listener in A that accepts and closes connections, for a
    /// bounded time.
    fn listen(&mut self) {
        let script = format!(
            "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{A_ADDR}',{PORT}))\ns.listen(16)\ns.settimeout(1)\nend=time.time()+120\nwhile time.time()<end:\n  try:\n    c,_=s.accept();c.close()\n  except OSError:\n    pass\n"
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.a, "python3", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is needed for the TCP listener");
        self.listener = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.connects() {
            assert!(
                Instant::now() < deadline,
                "the listener in {} never came up",
                self.a
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether B can open a TCP connection to A (bounded to 2 s).
    fn connects(&self) -> bool {
        let probe = format!("exec 3<>/dev/tcp/{A_ADDR}/{PORT}");
        run(&[
            "ip", "netns", "exec", &self.b, "timeout", "2", "bash", "-c", &probe,
        ])
        .status
        .success()
    }

    fn in_a(&self) -> Vec<String> {
        vec!["ip".into(), "netns".into(), "exec".into(), self.a.clone()]
    }

    fn nft_in_a(&self, args: &[&str]) -> String {
        let mut argv = vec!["ip", "netns", "exec", &self.a, "nft"];
        argv.extend_from_slice(args);
        let out = run(&argv);
        assert!(
            out.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        if let Some(mut child) = self.listener.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Deleting a namespace deletes its end of the veth, and so the pair.
        let _ = run(&["ip", "netns", "del", &self.a]);
        let _ = run(&["ip", "netns", "del", &self.b]);
    }
}

/// A child process killed when the test ends, also by a panic.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tejun() -> PathBuf {
    assert_cmd::cargo::cargo_bin("tejun")
}

fn fail_line(ip: &str) -> String {
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "{} a sshd[7]: Failed password for root from {ip} port 50000 ssh2\n",
        now.strftime("%b %e %H:%M:%S")
    )
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

#[test]
fn a_ban_blocks_tcp_from_the_other_namespace_until_unban() {
    let filter = "/etc/fail2ban/filter.d/sshd.conf";
    assert!(
        Path::new(filter).is_file(),
        "{filter} is missing: apt-get install -y fail2ban"
    );
    let mut ns = Namespaces::new("w");
    ns.listen();
    assert!(ns.connects(), "B must reach A before any ban");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.db");
    fs::write(
        dir.path().join("jail.local"),
        "[sshd]\nmaxretry = 2\nfindtime = 600\nbantime = 3600\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("watch.yaml"),
        format!("date_zone: UTC\nsources:\n  - name: ssh\n    paths: [auth.log]\n    fail2ban: {{filter: {filter}, jail: jail.local}}\n"),
    )
    .unwrap();
    let log = dir.path().join("auth.log");
    fs::write(&log, "").unwrap();

    // `tejun watch` with the default backend (nftables), inside A.
    let watch = Command::new("ip")
        .args(["netns", "exec", &ns.a])
        .arg(tejun())
        .arg("--db")
        .arg(&db)
        .args(["watch", "--json", "--config"])
        .arg(dir.path().join("watch.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut watch = KillOnDrop(watch);
    let (tx, rx) = channel::<Value>();
    let stdout = watch.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    let wait = |what: &str, pred: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no {what} from tejun watch"),
            }
        }
    };
    wait("start", &|v| v["event"] == "started");
    // The table is there and B still gets through.
    assert!(
        ns.nft_in_a(&["list", "table", "inet", "tejun"])
            .contains("ip saddr @banned4 drop")
    );
    assert!(ns.connects());

    append(&log, &fail_line(B_ADDR).repeat(2));
    let banned = wait("ban", &|v| v["event"] == "banned");
    assert_eq!(banned["offender"], B_ADDR);
    assert_eq!(banned["backend"], "nftables");
    assert!(
        ns.nft_in_a(&["list", "set", "inet", "tejun", "banned4"])
            .contains(B_ADDR)
    );
    assert!(!ns.connects(), "B must not reach A while banned");

    let unban = Command::new("ip")
        .args(["netns", "exec", &ns.a])
        .arg(tejun())
        .arg("--db")
        .arg(&db)
        .args(["unban", B_ADDR])
        .output()
        .unwrap();
    assert!(
        unban.status.success(),
        "unban: {}",
        String::from_utf8_lossy(&unban.stderr)
    );
    assert!(
        !ns.nft_in_a(&["list", "set", "inet", "tejun", "banned4"])
            .contains(B_ADDR)
    );
    assert!(ns.connects(), "B must reach A again after unban");

    let _ = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", watch.0.id())])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch.0.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            panic!("tejun watch did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_backend_is_idempotent_expires_and_bans_ipv6_prefixes() {
    let mut ns = Namespaces::new("b");
    ns.listen();
    let nft = Nftables::new("tejun", ns.in_a());
    nft.prepare().unwrap();
    nft.prepare().unwrap();
    let table = ns.nft_in_a(&["list", "table", "inet", "tejun"]);
    assert_eq!(
        table.matches("saddr @banned4 drop").count(),
        1,
        "prepare twice must not add rules twice:\n{table}"
    );

    // nftables' own timeout ends a ban even if tejun is gone.
    nft.add(format!("{B_ADDR}/32").parse().unwrap(), 3).unwrap();
    nft.add(format!("{B_ADDR}/32").parse().unwrap(), 3).unwrap();
    let started = Instant::now();
    assert!(
        ns.nft_in_a(&["list", "set", "inet", "tejun", "banned4"])
            .contains(B_ADDR)
    );
    assert!(!ns.connects(), "B must not reach A while banned");
    std::thread::sleep(Duration::from_millis(3500).saturating_sub(started.elapsed()));
    assert!(ns.connects(), "the element's timeout must lift the ban");
    // Removing what already expired is not an error.
    nft.remove(format!("{B_ADDR}/32").parse().unwrap()).unwrap();

    nft.add("2001:db8:1:2::/64".parse().unwrap(), 600).unwrap();
    let set = ns.nft_in_a(&["list", "set", "inet", "tejun", "banned6"]);
    assert!(set.contains("2001:db8:1:2::/64"), "{set}");
    nft.remove("2001:db8:1:2::/64".parse().unwrap()).unwrap();
    let set = ns.nft_in_a(&["list", "set", "inet", "tejun", "banned6"]);
    assert!(!set.contains("2001:db8:1:2::"), "{set}");
}

#[test]
fn the_iptables_backend_blocks_and_lifts_too() {
    let found = Command::new("sh")
        .args(["-c", "command -v iptables"])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "`iptables` is missing: apt-get install -y iptables"
    );
    let mut ns = Namespaces::new("i");
    ns.listen();
    let ipt = Iptables::new(ns.in_a());
    ipt.prepare().unwrap();
    let b = format!("{B_ADDR}/32").parse().unwrap();
    ipt.add(b, 600).unwrap();
    ipt.add(b, 600).unwrap();
    let rules = run(&["ip", "netns", "exec", &ns.a, "iptables", "-S", "INPUT"]);
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert_eq!(
        rules.matches("tejun").count(),
        1,
        "added twice, present once:\n{rules}"
    );
    assert!(!ns.connects(), "B must not reach A while banned");
    ipt.remove(b).unwrap();
    ipt.remove(b).unwrap();
    assert!(
        ns.connects(),
        "B must reach A again after the ban is lifted"
    );
}
