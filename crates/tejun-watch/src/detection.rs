//! A detection and everything its actions need, as one durable record.
//!
//! When an offender reaches maxretry the watcher writes this record to
//! `watch-state.db` as *pending*, in the same transaction as the offsets past the
//! lines that triggered it, and only then acts. After every action is done
//! (and journaled, with the detection's id), the record is deleted. A
//! watcher killed anywhere in between finds the record at its next start
//! and finishes the job; the journal, where every action leaves an event
//! carrying the id, tells which actions are already done so none is done
//! twice (webhooks are the exception: a POST answered just before the
//! crash, whose result was not journaled yet, is posted again).
//!
//! The crash points ([`crash_point`]) make that window testable with a
//! real SIGKILL, as `TEJUN_CRASH_AT` does for runs in `tejun-engine`.

use ipnet::IpNet;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::IncidentAction;
use crate::events::LineEvidence;
use crate::runbook::RunbookAction;

/// One offender reaching one rule's maxretry, with its planned actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub id: String,
    pub rule: String,
    pub offender: String,
    pub count: u32,
    pub findtime_s: i64,
    pub maxretry: u32,
    pub severity: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub lines: Vec<LineEvidence>,
    /// When it triggered.
    pub at: Timestamp,
    /// Set when the rule bans and the offender is an address.
    pub ban: Option<BanPlan>,
    /// The rule bans, but the offender is a name.
    pub not_bannable: bool,
    /// Post to watch.yaml's `webhooks`.
    pub webhook: bool,
    /// And to the rule's own webhook URLs.
    pub webhook_urls: Vec<String>,
    pub incident: Option<IncidentAction>,
    pub runbooks: Vec<RunbookAction>,
    /// Set for a metric rule (the offender is then the source's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<crate::metrics::MetricFired>,
}

/// The ban a detection makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanPlan {
    pub net: IpNet,
    pub until: Timestamp,
    pub bantime_s: i64,
    /// The backend's name (`nftables`, `iptables`, `command`, `none`).
    pub backend: String,
}

/// A new detection id: time-ordered, unique within and across restarts
/// of one watcher (the counter covers detections in the same nanosecond).
pub fn new_id(now: Timestamp) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("det-{}-{n}", now.as_nanosecond())
}

/// Crash testing: with `TEJUN_CRASH_AT=watch:<point>` the watcher sends
/// itself SIGKILL there. Points: `after-pending` (a detection is durable as
/// pending, none of its actions is done), `before-done` (every action of a
/// detection is done and journaled, the pending record not yet deleted).
/// A real SIGKILL: no destructor, no flush, no save.
pub fn crash_point(point: &str) {
    static CRASH_AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let target = CRASH_AT.get_or_init(|| std::env::var("TEJUN_CRASH_AT").ok());
    if let Some(target) = target
        && target.split_once(':') == Some(("watch", point))
    {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    }
}
