//! Running the network probes: HTTP, TCP and Prometheus, from this machine.

use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::model::{ProbeKind, ProbeSpec};

/// Bytes of an HTTP body read for the `body` regex and Prometheus JSON.
const MAX_BODY: u64 = 1024 * 1024;

/// One probe's answer, before it is placed in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub ok: bool,
    pub latency: Duration,
    pub value: Option<f64>,
    pub error: Option<String>,
}

/// Runs a network probe. `None` for `cmd` probes, which the engine runs.
pub fn run(spec: &ProbeSpec) -> Option<Answer> {
    let started = Instant::now();
    let result = match &spec.kind {
        ProbeKind::Http {
            method,
            url,
            expect_status,
            body,
            insecure,
        } => http(
            method,
            url,
            expect_status,
            body.as_deref(),
            spec.timeout,
            *insecure,
        ),
        ProbeKind::Tcp { address } => tcp(address, spec.timeout),
        ProbeKind::Prometheus {
            base_url,
            query,
            comparison,
            threshold,
            insecure,
        } => prometheus(base_url, query, spec.timeout, *insecure).and_then(|v| {
            if comparison.holds(v, *threshold) {
                Ok(v)
            } else {
                Err((
                    Some(v),
                    format!("{v} {} {threshold} does not hold", comparison.as_str()),
                ))
            }
        }),
        ProbeKind::Cmd { .. } => return None,
    };
    let latency = started.elapsed();
    Some(match result {
        Ok(value) => Answer {
            ok: true,
            latency,
            value: Some(value),
            error: None,
        },
        Err((value, error)) => Answer {
            ok: false,
            latency,
            value,
            error: Some(error),
        },
    })
}

type Outcome = Result<f64, (Option<f64>, String)>;

/// `insecure`: the runbook said `insecure: true`, so an https certificate
/// is not verified.
fn agent(timeout: Duration, insecure: bool) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(insecure)
                .build(),
        )
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

fn http(
    method: &str,
    url: &str,
    expect: &[u16],
    body: Option<&str>,
    timeout: Duration,
    insecure: bool,
) -> Outcome {
    let agent = agent(timeout, insecure);
    let response = match method {
        "GET" => agent.get(url).call(),
        "HEAD" => agent.head(url).call(),
        "DELETE" => agent.delete(url).call(),
        "POST" => agent.post(url).send_empty(),
        "PUT" => agent.put(url).send_empty(),
        other => return Err((None, format!("unsupported method {other}"))),
    };
    let mut response = response.map_err(|e| (None, e.to_string()))?;
    let status = response.status().as_u16();
    let ok_status = if expect.is_empty() {
        (200..400).contains(&status)
    } else {
        expect.contains(&status)
    };
    if !ok_status {
        return Err((Some(f64::from(status)), format!("HTTP status {status}")));
    }
    if let Some(pattern) = body {
        let mut text = String::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_BODY)
            .read_to_string(&mut text)
            .map_err(|e| (Some(f64::from(status)), e.to_string()))?;
        let regex = Regex::new(pattern).map_err(|e| (None, e.to_string()))?;
        if !regex.is_match(&text) {
            return Err((
                Some(f64::from(status)),
                format!("body did not match /{pattern}/"),
            ));
        }
    }
    Ok(f64::from(status))
}

fn tcp(address: &str, timeout: Duration) -> Outcome {
    let addrs = address
        .to_socket_addrs()
        .map_err(|e| (None, format!("{address}: {e}")))?;
    let mut last = format!("{address}: no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(1.0),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err((Some(0.0), last))
}

/// The scalar or first vector element of an instant query.
fn prometheus(base_url: &str, query: &str, timeout: Duration, insecure: bool) -> Outcome {
    let url = format!("{}/api/v1/query", base_url.trim_end_matches('/'));
    let mut response = agent(timeout, insecure)
        .get(&url)
        .query("query", query)
        .call()
        .map_err(|e| (None, e.to_string()))?;
    let status = response.status().as_u16();
    let mut text = String::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_BODY)
        .read_to_string(&mut text)
        .map_err(|e| (None, e.to_string()))?;
    if status != 200 {
        return Err((None, format!("HTTP status {status}")));
    }
    parse_prometheus(&text).map_err(|e| (None, e))
}

pub use crate::model::parse_prometheus;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vector_and_scalar_answers() {
        let v = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.25"]}]}}"#;
        assert_eq!(parse_prometheus(v), Ok(0.25));
        let s = r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"3"]}}"#;
        assert_eq!(parse_prometheus(s), Ok(3.0));
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(parse_prometheus(empty).is_err());
    }
}
