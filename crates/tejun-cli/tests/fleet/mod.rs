//! A throw-away fleet for tests: N "hosts", each a network namespace with
//! its own address in 198.18.0.0/24 (the RFC 2544 benchmark range, never
//! routed anywhere) and its own `sshd`, reached from the root namespace
//! over a veth pair. Everything it needs (host keys, a client key, the
//! `known_hosts` made by `ssh-keyscan`, an `ssh_config` naming the hosts)
//! lives in one temporary directory.
//!
//! `Fleet::up` returns `None` (after saying why) when the machine cannot
//! host one: not root, or no `sshd`/`ip`. Dropping the fleet kills every
//! `sshd` and deletes every namespace and veth, also when the test panicked.
//!
//! Addresses are leased through lock files in /tmp so fleets of parallel
//! tests (and `scripts/fleet-up.sh`) never share one; namespace names carry
//! the process id and a counter.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

static FLEETS: AtomicUsize = AtomicUsize::new(0);
/// Where address leases are kept (shared with scripts/fleet-up.sh).
const LEASES: &str = "/tmp/tejun-fleet-leases";
/// Host addresses are 198.18.0.FIRST ..= 198.18.0.LAST; .1 is the root
/// namespace's side of every veth.
const FIRST: u8 = 10;
const LAST: u8 = 250;
pub const ROOT_ADDR: &str = "198.18.0.1";

pub struct FleetHost {
    /// The name the `ssh_config` gives it (`web-1`).
    pub name: String,
    pub netns: String,
    pub addr: String,
    veth: String,
    sshd: Option<Child>,
    nginx: Option<Child>,
    lease: PathBuf,
}

pub struct Fleet {
    pub dir: TempDir,
    pub hosts: Vec<FleetHost>,
    /// `Host NAME` blocks for every host: address, user root, the test key,
    /// the fleet's own known_hosts.
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    /// The client's private key.
    pub key: PathBuf,
}

/// Why this machine cannot host a test fleet, if it cannot.
pub fn unavailable() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("fleet tests need root (network namespaces)".into());
    }
    for tool in [
        "/usr/sbin/sshd",
        "/usr/bin/ssh",
        "/usr/bin/ssh-keygen",
        "/usr/bin/ssh-keyscan",
    ] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "fleet tests need {tool} (apt-get install openssh-server openssh-client)"
            ));
        }
    }
    if run_quiet("ip", &["netns", "list"]).is_err() {
        return Some("fleet tests need `ip netns` (iproute2)".into());
    }
    None
}

/// Starts a fleet of hosts named `{prefix}-1` ..= `{prefix}-n`, or says why
/// it cannot and returns `None` (the test then passes as skipped).
pub fn up(prefix: &str, n: usize) -> Option<Fleet> {
    if let Some(why) = unavailable() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    Some(Fleet::start(prefix, n))
}

impl Fleet {
    fn start(prefix: &str, n: usize) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        // sshd refuses keys in group/world-writable places; the temp dir
        // is 0700 already, the files below are made 0600.
        let key = dir.path().join("id_ed25519");
        keygen(&key);
        let authorized = dir.path().join("authorized_keys");
        fs::copy(key.with_extension("pub"), &authorized).unwrap();
        fs::create_dir_all("/run/sshd").unwrap();

        let fleet_no = FLEETS.fetch_add(1, Ordering::SeqCst);
        let mut fleet = Fleet {
            ssh_config: dir.path().join("ssh_config"),
            known_hosts: dir.path().join("known_hosts"),
            key,
            hosts: Vec::new(),
            dir,
        };
        for i in 1..=n {
            let (addr, lease) = lease_address();
            let octet = addr.rsplit('.').next().unwrap().to_string();
            let host = FleetHost {
                name: format!("{prefix}-{i}"),
                netns: format!("tj-{}-{fleet_no}-{i}", std::process::id()),
                veth: format!("tjv{octet}"),
                addr,
                sshd: None,
                nginx: None,
                lease,
            };
            fleet.hosts.push(host);
            let idx = fleet.hosts.len() - 1;
            fleet.plumb(idx);
            fleet.start_sshd(idx);
        }
        fleet.write_client_files();
        fleet
    }

    /// Namespace, veth pair, addresses and routes for host `idx`.
    fn plumb(&self, idx: usize) {
        let h = &self.hosts[idx];
        let peer = format!("{}p", h.veth);
        run(&format!("ip netns add {}", h.netns));
        run(&format!(
            "ip link add {} type veth peer name {peer}",
            h.veth
        ));
        run(&format!("ip link set {peer} netns {}", h.netns));
        run(&format!("ip addr add {ROOT_ADDR}/32 dev {}", h.veth));
        run(&format!("ip link set {} up", h.veth));
        run(&format!(
            "ip route add {}/32 dev {} src {ROOT_ADDR}",
            h.addr, h.veth
        ));
        let ns = format!("ip netns exec {}", h.netns);
        run(&format!("{ns} ip link set lo up"));
        run(&format!("{ns} ip link set {peer} name eth0"));
        run(&format!("{ns} ip addr add {}/32 dev eth0", h.addr));
        run(&format!("{ns} ip link set eth0 up"));
        run(&format!("{ns} ip route add {ROOT_ADDR}/32 dev eth0"));
    }

    /// This host's `sshd`: its own host key and config, root login with the
    /// fleet's key only. Sessions get a `HOME` of their own: the hosts share
    /// this machine's file system, and root's real `.bashrc` may run
    /// `pyenv rehash`, which waits on (and prints about) a lock that a
    /// session killed by a test leaves behind.
    fn start_sshd(&mut self, idx: usize) {
        let dir = self.dir.path().to_path_buf();
        let h = &self.hosts[idx];
        let host_key = dir.join(format!("host-{}", h.name));
        if !host_key.exists() {
            keygen(&host_key);
        }
        let config = dir.join(format!("sshd-{}.conf", h.name));
        let home = dir.join("home");
        fs::create_dir_all(&home).unwrap();
        fs::write(
            &config,
            format!(
                "ListenAddress {addr}:22\n\
                 HostKey {key}\n\
                 PidFile {dir}/sshd-{name}.pid\n\
                 AuthorizedKeysFile {dir}/authorized_keys\n\
                 PermitRootLogin prohibit-password\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 UsePAM no\n\
                 StrictModes no\n\
                 MaxSessions 100\n\
                 MaxStartups 100:30:200\n\
                 Include {dir}/sshd-{name}.d/*.conf\n\
                 SetEnv HOME={home}\n\
                 LogLevel ERROR\n",
                addr = h.addr,
                key = host_key.display(),
                dir = dir.display(),
                home = home.display(),
                name = h.name,
            ),
        )
        .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &h.netns,
                "/usr/sbin/sshd",
                "-D",
                "-e",
                "-f",
            ])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join(format!("sshd-{}.log", h.name))).unwrap())
            .spawn()
            .unwrap();
        self.hosts[idx].sshd = Some(child);
        wait_for_port(&self.hosts[idx].addr);
    }

    /// known_hosts from `ssh-keyscan` (as an operator would make it) and
    /// an ssh_config with one `Host` block per host.
    fn write_client_files(&self) {
        let mut known = String::new();
        let mut config = String::new();
        for h in &self.hosts {
            known.push_str(&keyscan(&h.addr));
            config.push_str(&format!(
                "Host {name}\n  HostName {addr}\n  User root\n  IdentityFile {key}\n  \
                 IdentitiesOnly yes\n  UserKnownHostsFile {known}\n  GlobalKnownHostsFile /dev/null\n  \
                 ConnectTimeout 5\n",
                name = h.name,
                addr = h.addr,
                key = self.key.display(),
                known = self.known_hosts.display(),
            ));
        }
        fs::write(&self.known_hosts, known).unwrap();
        fs::write(&self.ssh_config, config).unwrap();
    }

    pub fn host(&self, name: &str) -> &FleetHost {
        self.hosts.iter().find(|h| h.name == name).unwrap()
    }

    /// Runs `script` with `sh -c` inside `name`'s namespace (not over ssh):
    /// how a test looks at a host behind tejun's back.
    pub fn in_host(&self, name: &str, script: &str) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.host(name).netns, "sh", "-c", script])
            .output()
            .unwrap()
    }

    /// Starts an `nginx` in every host's namespace (see [`Fleet::start_nginx`]).
    pub fn start_nginx_everywhere(&mut self) {
        let names: Vec<String> = self.hosts.iter().map(|h| h.name.clone()).collect();
        for name in names {
            self.start_nginx(&name);
        }
    }

    /// Starts an `nginx` in `name`'s namespace, on port 80 of its loopback
    /// and of its address: `/health` answers `ok`, `/app` answers
    /// `app NAME`. Its directory ([`Fleet::nginx_dir`]) holds the served
    /// `site.conf` and two versions to copy over it: `good.conf` (the same)
    /// and `bad.conf` (`/health` answers 502). Reload with
    /// [`nginx_reload`]'s command.
    pub fn start_nginx(&mut self, name: &str) {
        let dir = self.nginx_dir(name);
        fs::create_dir_all(dir.join("logs")).unwrap();
        let good = format!(
            "location /health {{ return 200 \"ok\\n\"; }}\nlocation /app {{ return 200 \"app {name}\\n\"; }}\n"
        );
        let bad = format!(
            "location /health {{ return 502 \"bad gateway\\n\"; }}\nlocation /app {{ return 502 \"app {name} broken\\n\"; }}\n"
        );
        fs::write(dir.join("good.conf"), &good).unwrap();
        fs::write(dir.join("bad.conf"), &bad).unwrap();
        fs::write(dir.join("site.conf"), &good).unwrap();
        let d = dir.display();
        let addr = self.host(name).addr.clone();
        fs::write(
            dir.join("nginx.conf"),
            format!(
                "worker_processes 1;\nerror_log {d}/logs/error.log;\npid {d}/nginx.pid;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
                 server {{\n    listen 127.0.0.1:80;\n    listen {addr}:80;\n    include {d}/site.conf;\n  }}\n  include {d}/servers/*.conf;\n}}\n"
            ),
        )
        .unwrap();
        let h = self.hosts.iter_mut().find(|h| h.name == name).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &h.netns, "nginx"])
            .args(["-p", &format!("{d}/"), "-c", &format!("{d}/nginx.conf")])
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx (scripts/test.sh installs it)");
        h.nginx = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.health(name) != Some(200) {
            assert!(Instant::now() < deadline, "nginx on {name} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Restarts `name`'s sshd with its sessions' `PATH` limited to a copy
    /// of `/usr/bin` (symbolic links) without `curl`: a host without curl.
    pub fn without_curl(&mut self, name: &str) {
        let bin = self.dir.path().join(format!("bin-{name}"));
        fs::create_dir_all(&bin).unwrap();
        for entry in fs::read_dir("/usr/bin").unwrap().flatten() {
            if entry.file_name() != "curl" {
                let _ = std::os::unix::fs::symlink(entry.path(), bin.join(entry.file_name()));
            }
        }
        let drop_in = self.dir.path().join(format!("sshd-{name}.d"));
        fs::create_dir_all(&drop_in).unwrap();
        // sshd takes the first `SetEnv` line only: this one (included
        // before the main one) repeats the main one's variable.
        fs::write(
            drop_in.join("path.conf"),
            format!(
                "SetEnv HOME={} PATH={}:/usr/sbin\n",
                self.dir.path().join("home").display(),
                bin.display()
            ),
        )
        .unwrap();
        self.kill_sshd(name);
        let idx = self.hosts.iter().position(|h| h.name == name).unwrap();
        self.start_sshd(idx);
    }

    /// `name`'s nginx directory (its `site.conf`, `good.conf`, `bad.conf`;
    /// extra `server` blocks go in `servers/*.conf`).
    pub fn nginx_dir(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("nginx-{name}"))
    }

    /// The status `GET /health` answers on `name` (asked from the root
    /// namespace over the veth), or `None` when nothing answers.
    pub fn health(&self, name: &str) -> Option<u16> {
        use std::io::{Read, Write};
        let addr: std::net::SocketAddr = format!("{}:80", self.host(name).addr).parse().ok()?;
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.split_whitespace().nth(1)?.parse().ok()
    }

    /// Lets the hosts reach each other (through the root namespace), as
    /// real hosts of one network would: "another client" probes use it.
    pub fn route_between_hosts(&self) {
        run("sysctl -qw net.ipv4.ip_forward=1");
        for h in &self.hosts {
            run(&format!(
                "ip netns exec {} ip route replace 198.18.0.0/24 via {ROOT_ADDR} dev eth0 onlink",
                h.netns
            ));
        }
    }

    /// Takes `name` down: everything running in its namespace (sshd,
    /// nginx, sessions) is killed, as when a host or its zone fails.
    pub fn take_down(&mut self, name: &str) {
        let h = self.hosts.iter_mut().find(|h| h.name == name).unwrap();
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("ip netns pids {} | xargs -r kill -9", h.netns))
            .status();
        for child in [h.sshd.take(), h.nginx.take()].into_iter().flatten() {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops `name`'s sshd (the host "dies" for ssh).
    pub fn kill_sshd(&mut self, name: &str) {
        let h = self.hosts.iter_mut().find(|h| h.name == name).unwrap();
        if let Some(mut child) = h.sshd.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts `name`'s sshd again (the host answers again).
    pub fn restart_sshd(&mut self, name: &str) {
        self.kill_sshd(name);
        let idx = self.hosts.iter().position(|h| h.name == name).unwrap();
        self.start_sshd(idx);
    }

    /// Puts `with` over `path` for everything `name`'s sshd starts (a
    /// bind mount in its own mount namespace, which `ip netns exec` gave
    /// it): the host's sessions see another file there, this machine not.
    pub fn shadow_file(&self, name: &str, path: &str, with: &Path) {
        let h = self.host(name);
        let pid = h.sshd.as_ref().unwrap().id();
        run(&format!(
            "nsenter -t {pid} -m mount --bind {} {path}",
            with.display()
        ));
    }

    /// Gives `name` a new host key and restarts its sshd: the fleet's
    /// known_hosts now holds a stale key for it.
    pub fn change_host_key(&mut self, name: &str) {
        self.kill_sshd(name);
        let idx = self.hosts.iter().position(|h| h.name == name).unwrap();
        let key = self.dir.path().join(format!("host-{name}"));
        let _ = fs::remove_file(&key);
        let _ = fs::remove_file(key.with_extension("pub"));
        keygen(&key);
        self.start_sshd(idx);
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            if let Some(mut child) = h.nginx.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            if let Some(mut child) = h.sshd.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
            // Deleting the namespace kills what still runs in it only once
            // the last process leaves; sessions sshd forked are in it too.
            let _ = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "ip netns pids {ns} 2>/dev/null | xargs -r kill -9; ip netns del {ns}; ip link del {veth}",
                    ns = h.netns,
                    veth = h.veth
                ))
                .stderr(Stdio::null())
                .status();
            let _ = fs::remove_file(&h.lease);
        }
    }
}

/// Leases a free host address: a lock file created exclusively; a lease
/// whose process is gone is taken over.
fn lease_address() -> (String, PathBuf) {
    fs::create_dir_all(LEASES).unwrap();
    let _ = fs::set_permissions(LEASES, fs::Permissions::from_mode(0o700));
    for octet in FIRST..=LAST {
        let addr = format!("198.18.0.{octet}");
        let lease = Path::new(LEASES).join(&addr);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lease)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    writeln!(f, "{}", std::process::id()).unwrap();
                    return (addr, lease);
                }
                Err(_) => {
                    let holder = fs::read_to_string(&lease).unwrap_or_default();
                    let alive = holder
                        .trim()
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if alive || holder.is_empty() {
                        break;
                    }
                    // A crashed test's veth may still hold the name.
                    let _ = Command::new("ip")
                        .args(["link", "del", &format!("tjv{octet}")])
                        .stderr(Stdio::null())
                        .status();
                    let _ = fs::remove_file(&lease);
                }
            }
        }
    }
    panic!("no free fleet address in 198.18.0.{FIRST}-{LAST}");
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "tejun-fleet-test",
            "-f",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shell command, run on a host, that makes its nginx (directory
/// `dir`) re-read its config.
pub fn nginx_reload(dir: &Path) -> String {
    let d = dir.display();
    format!("nginx -p {d}/ -c {d}/nginx.conf -s reload")
}

/// `addr`'s host key line, as `ssh-keyscan` prints it.
pub fn keyscan_line(addr: &str) -> String {
    keyscan(addr)
}

fn keyscan(addr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("ssh-keyscan")
            .args(["-T", "2", "-t", "ed25519", addr])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("ssh-ed25519") {
            return text;
        }
        assert!(Instant::now() < deadline, "ssh-keyscan {addr} found no key");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let target = format!("{addr}:22").parse().unwrap();
    while std::net::TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "sshd on {addr} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(command: &str) {
    let out = Command::new("sh").arg("-c").arg(command).output().unwrap();
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_quiet(program: &str, args: &[&str]) -> Result<(), ()> {
    match Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        _ => Err(()),
    }
}
