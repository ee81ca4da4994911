//! A real `nginx` on 127.0.0.1 for the probe, trigger and abort tests: its
//! own prefix, config and port in a temporary directory, in the foreground
//! (`daemon off`), killed by pid when the test ends. The served site is
//! `site.conf`, which a runbook swaps between [`GOOD_SITE`] and
//! [`BAD_SITE`] and reloads with [`Nginx::reload_command`].
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const GOOD_SITE: &str = "location /health { return 200 \"ok\\n\"; }\n";
pub const BAD_SITE: &str = "location /health { return 503 \"down\\n\"; }\n";

pub struct Nginx {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    /// Starts nginx in `dir` serving [`GOOD_SITE`]; waits until it answers.
    pub fn start(dir: &Path) -> Nginx {
        Nginx::start_serving(dir, GOOD_SITE)
    }

    /// Starts nginx serving `site` (no reload, so no old workers).
    pub fn start_serving(dir: &Path, site: &str) -> Nginx {
        Nginx::start_with(dir, "", site)
    }

    /// Starts nginx with `http` added to its `http {}` block (a
    /// `log_format`, say) and serving `site`.
    pub fn start_with(dir: &Path, http: &str, site: &str) -> Nginx {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed (scripts/test.sh installs it: apt-get install nginx)");
        let dir = dir.join("nginx");
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        let port = free_port();
        std::fs::write(dir.join("site.conf"), site).unwrap();
        let d = dir.display();
        std::fs::write(
            dir.join("nginx.conf"),
            format!(
                "worker_processes 1;\nerror_log {d}/logs/error.log;\npid {d}/nginx.pid;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n  access_log off;\n{http}\n  client_body_temp_path {d}/tmp;\n  proxy_temp_path {d}/tmp;\n  fastcgi_temp_path {d}/tmp;\n  uwsgi_temp_path {d}/tmp;\n  scgi_temp_path {d}/tmp;\n\
                 server {{\n    listen 127.0.0.1:{port};\n    include {d}/site.conf;\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .args(["-p", &format!("{d}/"), "-c", &format!("{d}/nginx.conf")])
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let nginx = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    pub fn site(&self) -> PathBuf {
        self.dir.join("site.conf")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The shell command that makes nginx re-read its config.
    pub fn reload_command(&self) -> String {
        let d = self.dir.display();
        format!("nginx -p {d}/ -c {d}/nginx.conf -s reload")
    }

    /// Whether `/health` answers 200 within a few seconds: old workers of
    /// a reload may still answer a connection or two with the old config.
    pub fn healthy_soon(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.health() != Some(200) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// The status of `GET /health`, by hand (HTTP/1.0, no client crate).
    pub fn health(&self) -> Option<u16> {
        use std::io::{Read, Write};
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        text.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The master (our child) takes its workers with it on SIGTERM.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
