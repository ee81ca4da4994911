//! What a probe is, as a runbook declares it, and what one answer is.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default for a probe's `timeout`.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    pub name: String,
    pub kind: ProbeKind,
    pub from: ProbeFrom,
    /// Longest one probe may take; a slower answer is a failure.
    pub timeout: Duration,
    /// Time between samples while triggers watch it (default 1s).
    pub interval: Duration,
    /// Asked from several hosts: healthy when all answer healthy (default)
    /// or when any does (a zone serves while one of its hosts does).
    pub healthy_if: HealthyIf,
}

/// How the answers of several hosts make one verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthyIf {
    #[default]
    All,
    Any,
}

impl HealthyIf {
    /// The verdict of `answers` (each healthy or not); none is unhealthy.
    pub fn holds(self, answers: impl IntoIterator<Item = bool>) -> bool {
        let mut answers = answers.into_iter().peekable();
        if answers.peek().is_none() {
            return false;
        }
        match self {
            HealthyIf::All => answers.all(|ok| ok),
            HealthyIf::Any => answers.any(|ok| ok),
        }
    }
}

/// Default for a probe's `interval`.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq)]
pub enum ProbeKind {
    Http {
        method: String,
        url: String,
        /// Status codes that count as healthy (default 200..=399).
        expect_status: Vec<u16>,
        /// Regex the body must match, if given.
        body: Option<String>,
        /// `insecure: true`: an https certificate is not verified (`curl
        /// -k`). Only when the runbook says so.
        insecure: bool,
    },
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// A read-only shell command; exit 0 is healthy. Run by the engine.
    Cmd { command: String },
    /// An instant query; healthy when `value <comparison> threshold` holds.
    Prometheus {
        base_url: String,
        query: String,
        comparison: crate::Comparison,
        threshold: f64,
        /// As for `Http`.
        insecure: bool,
    },
}

impl ProbeKind {
    pub fn name(&self) -> &'static str {
        match self {
            ProbeKind::Http { .. } => "http",
            ProbeKind::Tcp { .. } => "tcp",
            ProbeKind::Cmd { .. } => "cmd",
            ProbeKind::Prometheus { .. } => "prometheus",
        }
    }
}

/// Reads a Prometheus instant-query answer
/// (`{"status":"success","data":{"resultType":"vector","result":[{"value":[t,"0.5"]}]}}`):
/// the scalar, or the first vector element.
pub fn parse_prometheus(text: &str) -> Result<f64, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a Prometheus answer: {e}"))?;
    if json["status"] != "success" {
        return Err(format!("query failed: {}", json["error"]));
    }
    let data = &json["data"];
    let pair = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => match data["result"].as_array().and_then(|r| r.first()) {
            Some(first) => &first["value"],
            None => return Err("the query returned no series".to_string()),
        },
        other => return Err(format!("unsupported result type {other:?}")),
    };
    pair[1]
        .as_str()
        .and_then(|v| v.parse::<f64>().ok())
        .ok_or_else(|| format!("no numeric value in {pair}"))
}

/// Where a probe runs from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProbeFrom {
    /// The machine tejun runs on.
    #[default]
    Controller,
    /// The hosts of the run's environment a selector names: a host, a
    /// group, or `var=value` over host variables (`zone=a`).
    Host(String),
    /// Every host of the current batch, each asking for itself.
    Each,
}

/// One answer of one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the watch started (monotonic).
    pub at_ms: u64,
    pub ok: bool,
    pub latency_ms: u64,
    /// The number a probe yields: HTTP status, Prometheus value, exit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The host it was asked from (`from: HOST`/`each`); none: the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}
