//! The events an incident writes, on the stream `incident/<id>`, and the
//! evidence event `tejun collect` writes on `evidence/<bundle>` with a ref to
//! the incident. These payloads are the contract between the writers (CLI,
//! `tejun watch`) and every view (show, report, reminders, the dashboard).
//!
//! The event's own `ts` is when the thing happened; for facts learned
//! afterwards (`--at`) it is the given time and the payload says
//! `backfilled: true` (the journal's `recorded_at` keeps the writing time).

use serde::{Deserialize, Serialize};

use crate::model::{Layer, Role, Status, Term, Verdict};

pub const OPENED: &str = "incident.opened";
pub const STATUS: &str = "incident.status";
pub const ROLE: &str = "incident.role";
pub const NOTE: &str = "incident.note";
pub const HYPOTHESIS: &str = "incident.hypothesis";
pub const VERDICT: &str = "incident.verdict";
pub const CAUSE: &str = "incident.cause";
pub const LESSON: &str = "incident.lesson";
pub const ACTION: &str = "incident.action";
/// An improvement action's status changed (`incident action-status`).
pub const ACTION_STATUS: &str = "incident.action_status";
pub const SEVERITY: &str = "incident.severity";
pub const IMPACT: &str = "incident.impact";
pub const POSTMORTEM: &str = "incident.postmortem";
pub const REMINDER: &str = "incident.reminder";
pub const EVIDENCE: &str = "evidence.collected";
/// A run that was attached by mistake leaves the timeline and postmortem.
pub const RUN_DETACHED: &str = "incident.run_detached";

/// Written by `tejun watch` (tejun-watch owns the payloads).
pub const DETECT_TRIGGERED: &str = "detect.triggered";
pub const BAN_ADDED: &str = "ban.added";

/// Journal stream of an incident.
pub fn stream(id: &str) -> String {
    format!("incident/{id}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub impact: Option<String>,
    /// When the impact began; the event's ts is when it was detected.
    pub started_at: jiff::Timestamp,
    /// `cli` or `detection`.
    pub source: String,
    pub backfilled: bool,
    /// The environment it affects; runs attach themselves automatically
    /// only to an active incident of their own environment. Absent in
    /// incidents opened before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetached {
    pub run_id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChanged {
    pub from: Status,
    pub to: Status,
    pub reopen: bool,
    pub backfilled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleAssigned {
    pub role: Role,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteAdded {
    pub text: String,
    pub backfilled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisAdded {
    /// `<incident>-H<n>`.
    pub hypothesis: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictGiven {
    pub hypothesis: String,
    pub verdict: Verdict,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub layer: Layer,
    pub text: String,
    /// The 5 whys, in order.
    #[serde(default)]
    pub whys: Vec<String>,
}

/// The severity was reassessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityChanged {
    pub from: String,
    pub to: String,
}

/// The impact statement was written or rewritten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpactStated {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lesson {
    pub text: String,
}

pub use crate::model::ActionStatus;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub term: Term,
    pub owner: String,
    pub text: String,
    /// When it should be done (`--due YYYY-MM-DD`); older events have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<jiff::civil::Date>,
    #[serde(default)]
    pub status: ActionStatus,
}

/// `incident.action_status`: action `number` (1-based, as listed) is now
/// `status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionStatusChanged {
    pub number: usize,
    pub status: ActionStatus,
}

/// The postmortem's causes, lessons and actions as edited in a Markdown
/// skeleton (`tejun report --from`). Replaces the lists entered so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostmortemImported {
    pub file: String,
    pub sha256: String,
    pub causes: Vec<Cause>,
    pub lessons: Vec<Lesson>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderFired {
    pub rule: String,
    pub severity: String,
    pub status: Status,
    pub text_en: String,
    pub text_ja: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceCollected {
    /// Absolute path of the tar.gz bundle.
    pub bundle: String,
    pub bundle_sha256: String,
    pub host: String,
    pub layers: Vec<String>,
    pub files: Vec<EvidenceFile>,
    /// The service's signals over the incident window (`--access-log`,
    /// `--slow-log`), for the report's impact figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals: Option<Signals>,
}

/// What the access and slow logs said over the incident window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    pub from: jiff::Timestamp,
    pub until: jiff::Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessFigures>,
    /// The slow log's top fingerprints by total query time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<QueryFigure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessFigures {
    pub log: String,
    pub requests: u64,
    /// 5xx / requests.
    pub error_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryFigure {
    pub fingerprint: String,
    pub count: u64,
    /// Seconds.
    pub query_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_examined_avg: Option<f64>,
    pub missing_index: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceFile {
    pub name: String,
    pub sha256: String,
    /// ok / failed / missing / timed-out
    pub status: String,
}
