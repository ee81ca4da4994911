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
    pub rule: String,
    pub offender: String,
    pub count: u32,
    pub findtime_s: i64,
    pub maxretry: u32,
    pub severity: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub lines: Vec<LineEvidence>,
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
    pub offender: String,
    pub rule: String,
    pub backend: String,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSent {
    /// Scheme and host only: webhook URLs carry their secret in the path.
    pub url: String,
    pub status: u16,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookFailed {
    pub url: String,
    pub error: String,
    pub text: String,
}
