//! Probes `from:` a host or `from: each` on the namespace test fleet: the
//! question is asked on the host over the run's ssh connection (the host's
//! curl; bash's `/dev/tcp` for tcp and for plain http without curl), each
//! host answers for itself, and a `from:` host obeys the environment's
//! host rule before anything is contacted.

mod common;
mod fleet;

use common::Lab;
use predicates::prelude::*;

/// `hosts` in `staging` (group `web`, each with its nginx dir as `nginx`),
/// `prod-1` in `production`.
fn lab(fleet: &fleet::Fleet) -> Lab {
    let mut hosts = String::new();
    for h in &fleet.hosts {
        hosts.push_str(&format!(
            "      {}: {{nginx: {}}}\n",
            h.name,
            fleet.nginx_dir(&h.name).display()
        ));
    }
    let names: Vec<&str> = fleet.hosts.iter().map(|h| h.name.as_str()).collect();
    Lab::with_inventory(&format!(
        "environments:\n  staging:\n    hosts:\n{hosts}    groups:\n      web: [{}]\n  production:\n    protected: true\n    hosts: [prod-1]\n",
        names.join(", ")
    ))
    .with_timeout(std::time::Duration::from_secs(60))
}

fn run(lab: &Lab, fleet: &fleet::Fleet) -> assert_cmd::assert::Assert {
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", &fleet.ssh_config)
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
}

#[test]
fn a_probe_from_each_host_asks_that_hosts_own_service_and_journals_one_answer_per_host() {
    let Some(mut fleet) = fleet::up("pe", 2) else {
        return;
    };
    fleet.start_nginx_everywhere();
    // pe-2 serves the broken site: only its own answer may say so.
    let dir = fleet.nginx_dir("pe-2");
    std::fs::copy(dir.join("bad.conf"), dir.join("site.conf")).unwrap();
    assert!(
        fleet
            .in_host("pe-2", &fleet::nginx_reload(&dir))
            .status
            .success()
    );
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        &format!("name: probes\nenv: [staging]\nhosts: web\n\
         probes:\n  \
           health:\n    http: {{url: 'http://127.0.0.1/health', body: '^ok'}}\n    from: each\n  \
           port:\n    tcp: 127.0.0.1:80\n    from: each\n  \
           app-on-1:\n    http: {{url: 'http://127.0.0.1/app', body: '^app pe-1\\b'}}\n    from: pe-1\n  \
           is-pe-2:\n    cmd: 'ip -4 -o addr show eth0 | grep -qF \" {addr}/\"'\n    from: pe-2\n\
         execute:\n  - probe: port\n  - probe: app-on-1\n  - probe: is-pe-2\n  - id: everyone-healthy\n    probe: health\n",
            addr = fleet.host("pe-2").addr
        ),
    );
    run(&lab, &fleet)
        .code(1)
        .stdout(predicate::str::contains("pe-2: HTTP status 502"));
    let results = lab.events("probe.result");
    let of = |probe: &str| -> Vec<(String, bool)> {
        results
            .iter()
            .filter(|r| r["probe"] == probe)
            .map(|r| (r["host"].as_str().unwrap().to_string(), r["ok"] == true))
            .collect()
    };
    assert_eq!(
        of("port"),
        [("pe-1".to_string(), true), ("pe-2".to_string(), true)]
    );
    // The body regex names pe-1: the answer came from pe-1's own nginx.
    assert_eq!(of("app-on-1"), [("pe-1".to_string(), true)]);
    assert_eq!(of("is-pe-2"), [("pe-2".to_string(), true)]);
    assert_eq!(
        of("health"),
        [("pe-1".to_string(), true), ("pe-2".to_string(), false)]
    );
    let bad = results
        .iter()
        .find(|r| r["probe"] == "health" && r["host"] == "pe-2")
        .unwrap();
    assert_eq!(bad["value"], 502.0, "{bad}");
}

#[test]
fn a_probe_from_another_environments_host_is_refused_before_any_connection() {
    let Some(fleet) = fleet::up("px", 1) else {
        return;
    };
    let lab = lab(&fleet);
    lab.write(
        "book.yaml",
        "name: probes\nenv: [staging]\nhosts: web\n\
         probes:\n  health:\n    tcp: 127.0.0.1:80\n    from: PROD-1.\n\
         execute:\n  - probe: health\n",
    );
    // A ProxyCommand would leave a mark if anything were contacted.
    let marks = lab.path("contacted");
    let config = format!(
        "Host *\n  ProxyCommand sh -c 'echo %h >> {}; exit 1'\n",
        marks.display()
    );
    lab.write("ssh_config", &config);
    lab.tejun()
        .env("TEJUN_SSH_CONFIG", lab.path("ssh_config"))
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "is a host of environment `production`, not `staging`",
        ));
    assert!(!marks.exists(), "something was contacted");
}

#[test]
fn a_probe_from_a_host_needs_a_runbook_with_hosts() {
    let lab = Lab::with_inventory("environments:\n  staging:\n    hosts: [web-1]\n");
    lab.write(
        "book.yaml",
        "name: probes\nenv: [staging]\n\
         probes:\n  health:\n    tcp: 127.0.0.1:80\n    from: each\n\
         execute:\n  - probe: health\n",
    );
    lab.tejun()
        .args(["run", "book.yaml", "--env", "staging", "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "probe `health` runs from a host, but the runbook has no `hosts:`",
        ));
}

#[test]
fn check_accepts_https_and_prometheus_probes_from_a_host() {
    let lab = Lab::with_inventory("environments:\n  staging:\n    hosts: [web-1]\n");
    lab.write(
        "book.yaml",
        "name: probes\nenv: [staging]\nhosts: web-1\n\
         probes:\n  \
           tls:\n    http: {url: 'https://127.0.0.1/health', insecure: true}\n    from: each\n  \
           prom:\n    prometheus: {url: 'http://127.0.0.1:9090', query: up, healthy: '>= 1'}\n    from: web-1\n\
         execute:\n  - probe: tls\n  - probe: prom\n",
    );
    lab.tejun().args(["check", "book.yaml"]).assert().success();
    // `insecure` is a yes or no, nothing else.
    lab.write(
        "bad.yaml",
        "name: probes\nenv: [staging]\n\
         probes:\n  tls:\n    http: {url: 'https://127.0.0.1/health', insecure: maybe}\n\
         execute:\n  - probe: tls\n",
    );
    lab.tejun()
        .args(["check", "bad.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.yaml:5:55"))
        .stderr(predicate::str::contains("`insecure` must be true or false"));
}

/// A self-signed certificate made here, an https server and a stand-in
/// Prometheus endpoint (`/api/v1/query`, answering 0.25 only for the
/// query `up{job="web"}` sent URL-encoded) on `name`'s loopback.
fn serve_tls_and_prometheus(fleet: &fleet::Fleet, name: &str) {
    let dir = fleet.nginx_dir(name);
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (scripts/test.sh installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::create_dir_all(dir.join("servers")).unwrap();
    std::fs::write(
        dir.join("servers/tls.conf"),
        format!(
            "server {{\n  listen 127.0.0.1:443 ssl;\n  listen {addr}:443 ssl;\n  ssl_certificate {cert};\n  ssl_certificate_key {key};\n  \
             location /health {{ return 200 \"ok tls\\n\"; }}\n  \
             location = /api/v1/query {{\n    default_type application/json;\n    \
             if ($arg_query != \"up%7bjob%3d%22web%22%7d\") {{ return 400 \"wrong query $arg_query\\n\"; }}\n    \
             return 200 '{{\"status\":\"success\",\"data\":{{\"resultType\":\"vector\",\"result\":[{{\"metric\":{{}},\"value\":[1,\"0.25\"]}}]}}}}';\n  }}\n}}\n",
            cert = cert.display(),
            key = key.display(),
            addr = fleet.host(name).addr
        ),
    )
    .unwrap();
    let reload = fleet.in_host(name, &fleet::nginx_reload(&dir));
    assert!(
        reload.status.success(),
        "{}",
        String::from_utf8_lossy(&reload.stderr)
    );
    // The reload is asynchronous: wait for the https server to answer.
    for _ in 0..100 {
        if fleet
            .in_host(name, "curl -sk https://127.0.0.1/health")
            .stdout
            .starts_with(b"ok tls")
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no https server on {name}");
}

#[test]
fn https_and_prometheus_probes_from_a_host_run_its_curl_and_say_so_on_a_host_without() {
    let Some(mut fleet) = fleet::up("pc", 2) else {
        return;
    };
    fleet.start_nginx_everywhere();
    serve_tls_and_prometheus(&fleet, "pc-1");
    serve_tls_and_prometheus(&fleet, "pc-2");
    fleet.without_curl("pc-2");
    let lab = lab(&fleet);
    let probes = "probes:\n  \
           tls:\n    http: {url: 'https://127.0.0.1/health', body: '^ok tls', insecure: true}\n    from: each\n  \
           tls-on-1:\n    http: {url: 'https://127.0.0.1/health', body: '^ok tls', insecure: true}\n    from: pc-1\n  \
           strict:\n    http: 'https://127.0.0.1/health'\n    from: pc-1\n  \
           prom:\n    prometheus: {url: 'https://127.0.0.1/', query: 'up{job=\"web\"}', healthy: '< 0.5', insecure: true}\n    from: pc-1\n  \
           plain:\n    http: {url: 'http://127.0.0.1/health', body: '^ok'}\n    from: pc-2\n  \
           here:\n    http: {url: 'https://ADDR/health', body: '^ok tls', insecure: true}\n  \
           strict-here:\n    http: 'https://ADDR/health'\n";
    let probes = probes.replace("ADDR", &fleet.host("pc-1").addr);
    let book = |steps: &str| {
        format!("name: probes\nenv: [staging]\nhosts: web\n{probes}execute:\n{steps}")
    };
    // With curl: https (insecure, as the probe says) and the Prometheus
    // query; without: plain http still answers through /dev/tcp.
    lab.write(
        "book.yaml",
        &book("  - probe: tls-on-1\n  - probe: prom\n  - probe: plain\n  - probe: here\n"),
    );
    run(&lab, &fleet).success();
    // The controller's own https probe follows the same rule.
    lab.write("book.yaml", &book("  - probe: strict-here\n"));
    run(&lab, &fleet).code(1);
    // A certificate nobody vouches for is refused unless the probe says
    // `insecure: true`.
    lab.write("book.yaml", &book("  - probe: strict\n"));
    run(&lab, &fleet).code(1);
    // https from a host without curl: that host's answer says why.
    lab.write("book.yaml", &book("  - probe: tls\n"));
    run(&lab, &fleet)
        .code(1)
        .stdout(predicate::str::contains("pc-2: curl not found on the host"));
    let results = lab.events("probe.result");
    let of = |probe: &str| -> Vec<(String, bool, Option<f64>, String)> {
        results
            .iter()
            .filter(|r| r["probe"] == probe)
            .map(|r| {
                (
                    r["host"].as_str().unwrap().to_string(),
                    r["ok"] == true,
                    r["value"].as_f64(),
                    r["error"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        of("tls-on-1"),
        [("pc-1".into(), true, Some(200.0), String::new())]
    );
    assert_eq!(
        of("prom"),
        [("pc-1".into(), true, Some(0.25), String::new())]
    );
    assert_eq!(
        of("plain"),
        [("pc-2".into(), true, Some(200.0), String::new())]
    );
    let here = results.iter().find(|r| r["probe"] == "here").unwrap();
    assert_eq!(
        (here["ok"].as_bool(), here["value"].as_f64()),
        (Some(true), Some(200.0)),
        "{here}"
    );
    let strict_here = results
        .iter()
        .find(|r| r["probe"] == "strict-here")
        .unwrap();
    assert_eq!(strict_here["ok"], false, "{strict_here}");
    let strict = of("strict");
    assert_eq!(strict.len(), 1);
    assert!(!strict[0].1);
    assert!(strict[0].3.contains("certificate"), "{strict:?}");
    let tls = of("tls");
    assert_eq!(tls.len(), 2, "{tls:?}");
    assert_eq!((tls[0].0.as_str(), tls[0].1), ("pc-1", true));
    assert_eq!((tls[1].0.as_str(), tls[1].1), ("pc-2", false));
    assert!(
        tls[1]
            .3
            .starts_with("curl not found on the host: https probes from a host need curl"),
        "{tls:?}"
    );
    // Latency is curl's own time for the request, not the ssh round trip.
    let latency = results.iter().find(|r| r["probe"] == "tls-on-1").unwrap()["latency_ms"]
        .as_u64()
        .unwrap();
    assert!(latency < 1000, "latency {latency} ms");
}
