//! The journal events `tejun watch` writes, typed.
//!
//! The journal stores a kind and a JSON payload; these structs are the one
//! place the payloads are defined, so `tejun bans`, the incident timeline and
//! the watcher itself read back exactly what was written.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub const DETECT_TRIGGERED: &str = "detect.triggered";
pub const BAN_ADDED: &str = "ban.added";
pub const BAN_REMOVED: &str = "ban.removed";
pub const BAN_FAILED: &str = "ban.failed";
pub const WEBHOOK_SENT: &str = "webhook.sent";
pub const WEBHOOK_FAILED: &str = "webhook.failed";
pub const RUNBOOK_FINISHED: &str = "runbook.finished";
pub const METRIC_RESOLVED: &str = "metric.resolved";

/// Who writes these events.
pub const ACTOR: &str = "tejun-watch";

pub fn detect_stream(rule: &str) -> String {
    format!("detect/{rule}")
}

pub fn ban_stream(offender: &str) -> String {
    format!("ban/{offender}")
}

/// A rule reached maxretry for an offender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectTriggered {
    /// The detection's id: the events its actions write (`ban.added`,
    /// `webhook.sent`, `runbook.finished`) carry it as `detection`, and a
    /// restart uses it to tell an action already done from one still due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub rule: String,
    pub offender: String,
    pub count: u32,
    pub findtime_s: i64,
    pub maxretry: u32,
    pub severity: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub lines: Vec<LineEvidence>,
    /// A metric rule's reading (`offender` is then the source).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<crate::metrics::MetricFired>,
}

/// A metric rule's expression stopped holding. Stream `detect/<rule>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResolved {
    pub rule: String,
    pub source: String,
    /// When it had fired (log time).
    pub since: Timestamp,
    /// The endpoint or fingerprint, for an `each:` rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// One log line that counted, with its hash so evidence can be matched
/// against the log file later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineEvidence {
    pub text: String,
    pub sha256: String,
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanAdded {
    /// The detection this was done for (`None`: a reminder, older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    pub offender: String,
    pub rule: String,
    pub until: Timestamp,
    pub bantime_s: i64,
    pub backend: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoveReason {
    Expired,
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanRemoved {
    pub offender: String,
    pub reason: RemoveReason,
}

/// The firewall refused a ban: the offender is counted as banned anyway (so
/// the firewall is not hammered), and the failure is on record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanFailed {
    /// The detection this was done for (`None`: a reminder, older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    pub offender: String,
    pub rule: String,
    pub backend: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSent {
    /// The detection this was done for (`None`: a reminder, older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    /// Scheme and host only: webhook URLs carry their secret in the path.
    pub url: String,
    pub status: u16,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookFailed {
    /// The detection this was done for (`None`: a reminder, older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<String>,
    pub url: String,
    pub error: String,
    pub text: String,
}

/// A runbook started by a detection ended (or could not start). Stream
/// `detect/<rule>`, refs `run/<run_id>` (and the incident, if any).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunbookFinished {
    pub detection: String,
    pub rule: String,
    pub offender: String,
    /// Absolute path of the runbook.
    pub runbook: String,
    pub env: String,
    pub run_id: Option<String>,
    /// succeeded, rolled_back, rollback_failed, failed, aborted, paused,
    /// refused, timed_out, interrupted (the watcher stopped; it runs again
    /// at the next start) or not_started.
    pub state: String,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// The end of the run's stderr when it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
