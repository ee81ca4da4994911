//! Probes asked *from* a remote host (`from: HOST` or `from: each`).
//!
//! The engine runs the command [`command`] builds on the host over the
//! run's existing ssh connection and gives what it printed to [`judge`].
//! `http` (http:// and https://) and `prometheus` run the host's `curl`
//! (every value an argument, single-quoted; `-k` only with `insecure:
//! true`; `--max-time` the probe's timeout); curl reports the status and
//! the request's own time on a marker line after the body. Without curl,
//! a plain `http://` probe falls back to bash's `/dev/tcp` (HTTP/1.0, a
//! socket opened by the shell itself) and an https or prometheus probe
//! fails with a clear error for that host. `tcp` always uses `/dev/tcp`.
//! The status and body are judged here, on the controller, with the same
//! rules as a controller's probe. `cmd` probes are the command itself.
//! This module does no I/O.

use std::time::Duration;

use regex::Regex;

use crate::model::{ProbeKind, ProbeSpec};

/// Where an `http://` URL points: host, port, path (with query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTarget {
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// Splits a plain `http://host[:port]/path` URL; `None` for anything else
/// (https, a missing host, a bad port).
pub fn http_target(url: &str) -> Option<HttpTarget> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => 80,
    };
    (!host.is_empty()).then(|| HttpTarget {
        host: host.to_string(),
        port,
        path,
    })
}

/// `'value'` for a POSIX shell.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Marks the latency line the command prints on stderr.
const LATENCY_MARK: &str = "tejun-latency-us";

/// Marks the line curl prints after the body: status and seconds taken.
const CURL_MARK: &str = "tejun-curl";

/// Exit code of a probe command that needs curl on a host without it.
const NO_CURL: i32 = 98;

/// `curl ARGS` when the host has curl, else `otherwise`.
fn curl_or(args: &[String], otherwise: &str) -> String {
    format!(
        "if command -v curl >/dev/null 2>&1; then curl {}; else {otherwise}; fi",
        args.join(" ")
    )
}

/// What a host without curl says for a probe that needs it.
fn needs_curl(what: &str) -> String {
    format!(
        "echo {} >&2; exit {NO_CURL}",
        quote(&format!(
            "curl not found on the host: {what} probes from a host need curl (install it, or ask from the controller)"
        ))
    )
}

/// The curl options every probe shares: quiet but for errors, the probe's
/// timeout, the marker line, `-k` only when the runbook said `insecure`.
fn curl_common(spec: &ProbeSpec, insecure: bool) -> Vec<String> {
    let mut args = vec![
        "-sS".to_string(),
        "--max-time".to_string(),
        quote(&format!("{:.3}", spec.timeout.as_secs_f64())),
        "-w".to_string(),
        quote(&format!("\\n{CURL_MARK} %{{http_code}} %{{time_total}}\\n")),
    ];
    if insecure {
        args.push("-k".to_string());
    }
    args
}

/// The shell command that asks `spec` from a host (`None` for an http
/// probe whose URL is neither http:// nor https://).
pub fn command(spec: &ProbeSpec) -> Option<String> {
    // $EPOCHREALTIME (bash 5) times the answer on the host itself, without
    // the ssh round trip; without it the controller's clock is used.
    let timed = |body: &str| {
        format!(
            "s=$EPOCHREALTIME; {body}; rc=$?; printf '\\n{LATENCY_MARK} %s %s\\n' \"$s\" \"$EPOCHREALTIME\" >&2; exit $rc"
        )
    };
    match &spec.kind {
        ProbeKind::Cmd { command } => Some(command.clone()),
        ProbeKind::Tcp { address } => {
            let (host, port) = split_host_port(address)?;
            Some(format!(
                "bash -c {} tejun-probe {} {}",
                quote(&timed("exec 3<>\"/dev/tcp/$1/$2\"")),
                quote(host),
                quote(port)
            ))
        }
        ProbeKind::Http {
            method,
            url,
            insecure,
            ..
        } => {
            let mut args = curl_common(spec, *insecure);
            match method.as_str() {
                // `-X HEAD` would wait for a body that never comes.
                "HEAD" => {
                    args.extend(["-I".to_string(), "-o".to_string(), "/dev/null".to_string()])
                }
                "POST" | "PUT" => args.extend([
                    "-X".to_string(),
                    quote(method),
                    "-d".to_string(),
                    "''".to_string(),
                ]),
                _ => args.extend(["-X".to_string(), quote(method)]),
            }
            args.extend(["--url".to_string(), quote(url)]);
            let otherwise = match http_target(url) {
                Some(target) => dev_tcp_http(&timed, method, &target),
                None if url.starts_with("https://") => needs_curl("https"),
                None => return None,
            };
            Some(curl_or(&args, &otherwise))
        }
        ProbeKind::Prometheus {
            base_url,
            query,
            insecure,
            ..
        } => {
            let mut args = curl_common(spec, *insecure);
            args.extend([
                "-G".to_string(),
                "--data-urlencode".to_string(),
                quote(&format!("query={query}")),
                "--url".to_string(),
                quote(&format!("{}/api/v1/query", base_url.trim_end_matches('/'))),
            ]);
            Some(curl_or(&args, &needs_curl("prometheus")))
        }
    }
}

/// Plain HTTP/1.0 over bash's `/dev/tcp`: for a host without curl.
fn dev_tcp_http(timed: &dyn Fn(&str) -> String, method: &str, target: &HttpTarget) -> String {
    let body = "exec 3<>\"/dev/tcp/$1/$2\" || exit 97; \
                printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: tejun-probe\\r\\nConnection: close\\r\\n\\r\\n' \"$3\" \"$4\" \"$1\" >&3; \
                cat <&3";
    format!(
        "bash -c {} tejun-probe {} {} {} {}",
        quote(&timed(body)),
        quote(&target.host),
        quote(&target.port.to_string()),
        quote(method),
        quote(&target.path)
    )
}

fn split_host_port(address: &str) -> Option<(&str, &str)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    port.parse::<u16>().ok()?;
    Some((host, port))
}

/// What the host's command did.
pub struct Ran<'a> {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: &'a [u8],
    pub stderr: &'a str,
    /// As the controller measured it (ssh round trip included).
    pub duration: Duration,
}

/// One answer: ok, latency, value, error (as [`crate::net::Answer`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub ok: bool,
    pub latency: Duration,
    pub value: Option<f64>,
    pub error: Option<String>,
}

/// Judges what the host printed for `spec`.
pub fn judge(spec: &ProbeSpec, ran: &Ran<'_>) -> Judged {
    let curl = curl_answer(ran.stdout);
    let latency = curl
        .as_ref()
        .map(|c| c.took)
        .or_else(|| host_latency(ran.stderr))
        .unwrap_or(ran.duration);
    let failed = |value: Option<f64>, error: String| Judged {
        ok: false,
        latency,
        value,
        error: Some(error),
    };
    let passed = |value: f64| Judged {
        ok: true,
        latency,
        value: Some(value),
        error: None,
    };
    if ran.timed_out {
        return failed(
            None,
            format!("timed out after {}s", spec.timeout.as_secs_f64()),
        );
    }
    let why = || last_line(ran.stderr);
    match &spec.kind {
        ProbeKind::Cmd { .. } => match ran.exit_code {
            Some(0) => passed(0.0),
            Some(code) => {
                // What the command said is the reason worth reading.
                let said = why();
                let error = if said == NO_ANSWER {
                    format!("exit code {code}")
                } else {
                    format!("exit code {code}: {said}")
                };
                failed(Some(f64::from(code)), error)
            }
            None => failed(None, "killed".to_string()),
        },
        _ if ran.exit_code == Some(127) => failed(
            None,
            "bash not found on the host (probes from a host use curl, or bash's /dev/tcp without it)"
                .to_string(),
        ),
        ProbeKind::Tcp { .. } => match ran.exit_code {
            Some(0) => passed(1.0),
            _ => failed(Some(0.0), why()),
        },
        _ if ran.exit_code != Some(0) => failed(None, why()),
        ProbeKind::Http {
            expect_status,
            body,
            ..
        } => {
            let judged = match &curl {
                Some(c) => judge_status_and_body(c.status, &c.body, expect_status, body.as_deref()),
                None => judge_http(ran.stdout, expect_status, body.as_deref()),
            };
            match judged {
                Ok(status) => passed(status),
                Err((value, error)) => failed(value, error),
            }
        }
        ProbeKind::Prometheus {
            comparison,
            threshold,
            ..
        } => {
            let Some(c) = &curl else {
                return failed(None, "no answer from curl".to_string());
            };
            if c.status != 200 {
                return failed(None, format!("HTTP status {}", c.status));
            }
            match crate::model::parse_prometheus(&c.body) {
                Ok(v) if comparison.holds(v, *threshold) => passed(v),
                Ok(v) => failed(
                    Some(v),
                    format!("{v} {} {threshold} does not hold", comparison.as_str()),
                ),
                Err(e) => failed(None, e),
            }
        }
    }
}

/// What curl printed: the body, then its marker line.
struct CurlAnswer {
    status: u16,
    body: String,
    took: Duration,
}

fn curl_answer(stdout: &[u8]) -> Option<CurlAnswer> {
    let text = String::from_utf8_lossy(stdout);
    let at = text.rfind(&format!("\n{CURL_MARK} "))?;
    let mut parts = text[at + CURL_MARK.len() + 2..].split_whitespace();
    let status = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(CurlAnswer {
        status,
        body: text[..at].to_string(),
        took: Duration::try_from_secs_f64(seconds).ok()?,
    })
}

/// The status line and body of a raw HTTP/1.x response, judged as the
/// controller's http probe judges them.
pub fn judge_http(
    raw: &[u8],
    expect: &[u16],
    body: Option<&str>,
) -> Result<f64, (Option<f64>, String)> {
    let text = String::from_utf8_lossy(raw);
    let status_line = text.lines().next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .filter(|_| status_line.starts_with("HTTP/"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            (
                None,
                format!(
                    "not an HTTP answer: {:?}",
                    status_line.chars().take(60).collect::<String>()
                ),
            )
        })?;
    let content = text
        .split_once("\r\n\r\n")
        .or_else(|| text.split_once("\n\n"))
        .map_or("", |(_, b)| b);
    judge_status_and_body(status, content, expect, body)
}

/// A status and body, judged as the controller's http probe judges them.
fn judge_status_and_body(
    status: u16,
    content: &str,
    expect: &[u16],
    body: Option<&str>,
) -> Result<f64, (Option<f64>, String)> {
    // curl says 000 when no answer came (its error is on stderr).
    if status == 0 {
        return Err((None, "no HTTP answer".to_string()));
    }
    let ok_status = if expect.is_empty() {
        (200..400).contains(&status)
    } else {
        expect.contains(&status)
    };
    if !ok_status {
        return Err((Some(f64::from(status)), format!("HTTP status {status}")));
    }
    if let Some(pattern) = body {
        let regex = Regex::new(pattern).map_err(|e| (None, e.to_string()))?;
        if !regex.is_match(content) {
            return Err((
                Some(f64::from(status)),
                format!("body did not match /{pattern}/"),
            ));
        }
    }
    Ok(f64::from(status))
}

/// The latency the host measured, from the command's last stderr line.
fn host_latency(stderr: &str) -> Option<Duration> {
    let line = stderr.lines().rev().find(|l| l.starts_with(LATENCY_MARK))?;
    let mut parts = line.split_whitespace().skip(1);
    let micros = |s: &str| s.replace('.', "").parse::<u64>().ok();
    let start = micros(parts.next()?)?;
    let end = micros(parts.next()?)?;
    Some(Duration::from_micros(end.checked_sub(start)?))
}

const NO_ANSWER: &str = "no answer";

fn last_line(stderr: &str) -> String {
    // curl's own error line (`curl: (60) SSL certificate problem: …`),
    // not the advice it prints after it.
    let lines = || stderr.lines().map(str::trim);
    lines()
        .find(|l| l.starts_with("curl: ("))
        .or_else(|| lines().rfind(|l| !l.is_empty() && !l.starts_with(LATENCY_MARK)))
        .map(|l| l.trim_start_matches("bash: ").to_string())
        .unwrap_or_else(|| NO_ANSWER.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_split_into_host_port_and_path() {
        let t = http_target("http://127.0.0.1:8080/health?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 8080, "/health?x=1")
        );
        let t = http_target("http://web/").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("web", 80));
        assert_eq!(http_target("http://h?q").unwrap().path, "/?q");
        assert_eq!(http_target("http://[::1]:81/a").unwrap().host, "::1");
        assert!(http_target("https://h/").is_none());
        assert!(http_target("http://h:99999/").is_none());
    }

    #[test]
    fn a_raw_answer_is_judged_like_the_controllers_probe() {
        let ok = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nok up\n";
        assert_eq!(judge_http(ok, &[], Some("^ok")), Ok(200.0));
        assert!(judge_http(ok, &[], Some("^down")).is_err());
        let bad = b"HTTP/1.1 502 Bad Gateway\r\n\r\n";
        assert_eq!(judge_http(bad, &[], None).unwrap_err().0, Some(502.0));
        assert_eq!(judge_http(bad, &[502], None), Ok(502.0));
        assert!(judge_http(b"", &[], None).is_err());
    }

    #[test]
    fn the_host_measured_latency_is_read_from_the_marker() {
        let stderr = "noise\n\ntejun-latency-us 1700000000.100000 1700000000.103500\n";
        assert_eq!(host_latency(stderr), Some(Duration::from_micros(3500)));
        assert_eq!(host_latency("tejun-latency-us  \n"), None);
        assert_eq!(
            last_line("bash: connect: Connection refused\n\ntejun-latency-us 1 2\n"),
            "connect: Connection refused"
        );
    }

    #[test]
    fn the_command_runs_values_as_arguments_not_code() {
        let spec = ProbeSpec {
            name: "h".into(),
            kind: ProbeKind::Http {
                method: "GET".into(),
                url: "http://127.0.0.1:1/$(touch /tmp/x)'".into(),
                expect_status: vec![],
                body: None,
                insecure: false,
            },
            from: crate::ProbeFrom::Each,
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            healthy_if: crate::HealthyIf::All,
        };
        let cmd = command(&spec).unwrap();
        // curl gets the URL as one quoted word; the /dev/tcp fallback gets
        // the path as one.
        assert!(
            cmd.contains(r"--url 'http://127.0.0.1:1/$(touch /tmp/x)'\'''"),
            "{cmd}"
        );
        assert!(cmd.contains(r"'/$(touch /tmp/x)'\'''"), "{cmd}");
        assert!(!cmd.contains(" -k "), "insecure without asking: {cmd}");
    }

    fn spec(kind: ProbeKind) -> ProbeSpec {
        ProbeSpec {
            name: "p".into(),
            kind,
            from: crate::ProbeFrom::Each,
            timeout: Duration::from_millis(2500),
            interval: Duration::from_secs(1),
            healthy_if: crate::HealthyIf::All,
        }
    }

    fn ran<'a>(code: i32, stdout: &'a [u8], stderr: &'a str) -> Ran<'a> {
        Ran {
            exit_code: Some(code),
            timed_out: false,
            stdout,
            stderr,
            duration: Duration::from_secs(9),
        }
    }

    #[test]
    fn https_runs_curl_with_k_only_when_the_probe_says_insecure() {
        let https = |insecure| {
            spec(ProbeKind::Http {
                method: "GET".into(),
                url: "https://127.0.0.1/health".into(),
                expect_status: vec![],
                body: None,
                insecure,
            })
        };
        let strict = command(&https(false)).unwrap();
        assert!(strict.contains("curl -sS --max-time '2.500'"), "{strict}");
        assert!(!strict.contains(" -k "), "{strict}");
        assert!(
            strict.contains("curl not found on the host: https"),
            "{strict}"
        );
        assert!(command(&https(true)).unwrap().contains(" -k "));
    }

    #[test]
    fn curls_answer_is_judged_with_its_own_time_and_status() {
        let http = spec(ProbeKind::Http {
            method: "GET".into(),
            url: "https://h/".into(),
            expect_status: vec![],
            body: Some("^ok".into()),
            insecure: false,
        });
        let out = b"ok fine\n\ntejun-curl 200 0.012500\n";
        let judged = judge(&http, &ran(0, out, ""));
        assert!(judged.ok, "{judged:?}");
        assert_eq!(judged.latency, Duration::from_micros(12500));
        let bad = judge(&http, &ran(0, b"down\ntejun-curl 503 0.1\n", ""));
        assert_eq!((bad.ok, bad.value), (false, Some(503.0)));
        let tls = judge(
            &http,
            &ran(
                60,
                b"\ntejun-curl 000 0.01\n",
                "curl: (60) SSL certificate problem: self-signed certificate\n\
                 More details here: https://curl.se/docs/sslcerts.html\n\n\
                 how to fix it, please visit the web page mentioned above.\n",
            ),
        );
        assert_eq!(
            tls.error.as_deref(),
            Some("curl: (60) SSL certificate problem: self-signed certificate")
        );
        let prom = spec(ProbeKind::Prometheus {
            base_url: "http://p:9090".into(),
            query: "up".into(),
            comparison: crate::Comparison::Ge,
            threshold: 1.0,
            insecure: false,
        });
        let answer = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0"]}]}}
tejun-curl 200 0.002
"#;
        let judged = judge(&prom, &ran(0, answer, ""));
        assert_eq!(judged.value, Some(0.0));
        assert_eq!(judged.error.as_deref(), Some("0 >= 1 does not hold"));
        let none = judge(
            &prom,
            &ran(
                98,
                b"",
                "curl not found on the host: prometheus probes from a host need curl\n",
            ),
        );
        assert!(
            none.error
                .unwrap()
                .starts_with("curl not found on the host")
        );
    }
}
