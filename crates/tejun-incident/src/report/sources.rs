//! Runs, detections and bans on an incident's timeline, read from the
//! other crates' events by field name (their JSON is the contract).

use jiff::Timestamp;
use serde_json::Value;
use tejun_journal::Entry;

use crate::events;

#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub run_id: String,
    pub runbook: String,
    pub env: String,
    pub operator: String,
    pub started_at: Timestamp,
    pub outcome: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Timestamp,
    pub phase: String,
    pub step_id: String,
    pub safety: String,
    pub command: Option<String>,
    /// ok / failed / timed-out / skipped, or None if it never finished.
    pub status: Option<String>,
    pub exit_code: Option<i64>,
    pub confirmed: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub at: Timestamp,
    pub rule: String,
    pub offender: String,
    pub count: String,
    pub lines: Vec<LogLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub text: String,
    pub sha256: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub at: Timestamp,
    pub offender: String,
    pub rule: String,
    pub until: String,
    pub bantime_s: String,
    pub backend: String,
}

fn s(p: &Value, key: &str) -> String {
    match p.get(key) {
        Some(Value::String(v)) => v.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

pub fn runs(entries: &[Entry]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for entry in entries.iter().filter(|e| e.stream.starts_with("run/")) {
        let p = &entry.payload;
        let run_id = s(p, "run_id");
        if entry.kind == "run.started" {
            runs.push(Run {
                run_id,
                runbook: s(p, "runbook"),
                env: s(p, "env"),
                operator: p
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or(&entry.actor)
                    .to_string(),
                started_at: entry.ts,
                outcome: None,
                steps: Vec::new(),
            });
            continue;
        }
        let Some(run) = runs.iter_mut().rev().find(|r| r.run_id == run_id) else {
            continue;
        };
        let step_id = s(p, "step_id");
        let phase = s(p, "phase");
        match entry.kind.as_str() {
            "step.started" => run.steps.push(Step {
                at: entry.ts,
                phase,
                step_id,
                safety: s(p, "safety"),
                command: p.get("command").and_then(Value::as_str).map(str::to_string),
                status: None,
                exit_code: None,
                confirmed: None,
            }),
            "step.finished" | "step.confirmed" => {
                if let Some(step) = run
                    .steps
                    .iter_mut()
                    .rev()
                    .find(|st| st.step_id == step_id && st.phase == phase)
                {
                    if entry.kind == "step.finished" {
                        step.status = Some(s(p, "status"));
                        step.exit_code = p.get("exit_code").and_then(Value::as_i64);
                    } else {
                        step.confirmed = Some(format!("{} ({})", s(p, "answer"), s(p, "who")));
                    }
                }
            }
            "run.ended" => run.outcome = Some(s(p, "outcome")),
            _ => {}
        }
    }
    runs
}

pub fn detections(entries: &[Entry]) -> Vec<Detection> {
    entries
        .iter()
        .filter(|e| e.kind == events::DETECT_TRIGGERED)
        .map(|e| {
            let p = &e.payload;
            let lines = p
                .get("lines")
                .and_then(Value::as_array)
                .map(|lines| {
                    lines
                        .iter()
                        .map(|l| LogLine {
                            text: s(l, "text"),
                            sha256: s(l, "sha256"),
                            file: s(l, "file"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Detection {
                at: e.ts,
                rule: s(p, "rule"),
                offender: s(p, "offender"),
                count: s(p, "count"),
                lines,
            }
        })
        .collect()
}

pub fn bans(entries: &[Entry]) -> Vec<Ban> {
    entries
        .iter()
        .filter(|e| e.kind == events::BAN_ADDED)
        .map(|e| {
            let p = &e.payload;
            Ban {
                at: e.ts,
                offender: s(p, "offender"),
                rule: s(p, "rule"),
                until: s(p, "until"),
                bantime_s: s(p, "bantime_s"),
                backend: s(p, "backend"),
            }
        })
        .collect()
}
