//! Probes asked *from* a remote host (`from: HOST` or `from: each`).
//!
//! The engine runs the command [`command`] builds on the host over the
//! run's existing ssh connection and gives what it printed to [`judge`].
//! No curl is needed on the host: `http` and `tcp` use bash's `/dev/tcp`
//! (a socket opened by the shell itself), so the command only opens a
//! connection and reads; it writes no file and starts no other program.
//! `http` speaks plain HTTP/1.0 (`https://` from a host is refused when the
//! runbook is read); the status line and body are judged here, on the
//! controller, with the same rules as a controller's probe. `cmd` probes
//! are the command itself. This module does no I/O.

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

/// The shell command that asks `spec` from a host. `None` for kinds that
/// run only from the controller (prometheus) or URLs `/dev/tcp` cannot
/// reach (https).
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
        ProbeKind::Http { method, url, .. } => {
            let target = http_target(url)?;
            let body = "exec 3<>\"/dev/tcp/$1/$2\" || exit 97; \
                        printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\nUser-Agent: tejun-probe\\r\\nConnection: close\\r\\n\\r\\n' \"$3\" \"$4\" \"$1\" >&3; \
                        cat <&3";
            Some(format!(
                "bash -c {} tejun-probe {} {} {} {}",
                quote(&timed(body)),
                quote(&target.host),
                quote(&target.port.to_string()),
                quote(method),
                quote(&target.path)
            ))
        }
        ProbeKind::Prometheus { .. } => None,
    }
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
    let latency = host_latency(ran.stderr).unwrap_or(ran.duration);
    let failed = |value: Option<f64>, error: String| Judged {
        ok: false,
        latency,
        value,
        error: Some(error),
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
            Some(0) => Judged {
                ok: true,
                latency,
                value: Some(0.0),
                error: None,
            },
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
            "bash not found on the host (probes from a host use bash's /dev/tcp)".to_string(),
        ),
        ProbeKind::Tcp { .. } => match ran.exit_code {
            Some(0) => Judged {
                ok: true,
                latency,
                value: Some(1.0),
                error: None,
            },
            _ => failed(Some(0.0), why()),
        },
        ProbeKind::Http {
            expect_status,
            body,
            ..
        } => {
            if ran.exit_code != Some(0) {
                return failed(None, why());
            }
            match judge_http(ran.stdout, expect_status, body.as_deref()) {
                Ok(status) => Judged {
                    ok: true,
                    latency,
                    value: Some(status),
                    error: None,
                },
                Err((value, error)) => failed(value, error),
            }
        }
        ProbeKind::Prometheus { .. } => failed(
            None,
            "prometheus probes run from the controller only".to_string(),
        ),
    }
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
    let ok_status = if expect.is_empty() {
        (200..400).contains(&status)
    } else {
        expect.contains(&status)
    };
    if !ok_status {
        return Err((Some(f64::from(status)), format!("HTTP status {status}")));
    }
    if let Some(pattern) = body {
        let content = text
            .split_once("\r\n\r\n")
            .or_else(|| text.split_once("\n\n"))
            .map_or("", |(_, b)| b);
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
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with(LATENCY_MARK))
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
            },
            from: crate::ProbeFrom::Each,
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            healthy_if: crate::HealthyIf::All,
        };
        let cmd = command(&spec).unwrap();
        assert!(cmd.ends_with(r"'/$(touch /tmp/x)'\'''"), "{cmd}");
    }
}
