//! The events a run writes to the journal, stream `run/<run_id>`.
//!
//! Views (`tejun runs`, `tejun show`, incident timelines, resume) read these
//! back, so the payloads are the contract between the engine and every view.
//! Secret values never appear in them: commands and output are redacted
//! before an event is built.

use serde::{Deserialize, Serialize};

pub const RUN_STARTED: &str = "run.started";
pub const STEP_STARTED: &str = "step.started";
pub const STEP_FINISHED: &str = "step.finished";
pub const STEP_CONFIRMED: &str = "step.confirmed";
pub const ROLLBACK_STARTED: &str = "rollback.started";
pub const RUN_RESUMED: &str = "run.resumed";
pub const RUN_REFUSED: &str = "run.refused";
pub const RUN_ENDED: &str = "run.ended";

/// Journal stream for a run.
pub fn stream(run_id: &str) -> String {
    format!("run/{run_id}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: String,
    pub runbook: String,
    /// Absolute path of the runbook file.
    pub path: String,
    /// SHA-256 of the runbook file as run (resume refuses a changed file).
    pub runbook_sha256: String,
    pub env: String,
    /// user@host of the operator.
    pub operator: String,
    pub host: String,
    pub pid: u32,
    /// The run's folder (backups, lock file).
    pub run_dir: String,
    /// Non-secret variable values; secret ones as `***`.
    pub vars: Vec<(String, String)>,
    /// Total main steps (pre..exit).
    pub total_steps: usize,
    /// Incident this run belongs to, if any (also in the event's refs).
    pub incident: Option<String>,
    /// Names (never values) of the variables given with `--var`. Resume
    /// needs them: a secret given on the command line must be given again,
    /// and a runbook literal that was not overridden is rendered afresh
    /// rather than replayed from its redacted copy. `None` for runs
    /// journaled before this was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_vars: Option<Vec<String>>,
    /// Paths of other environments the kernel keeps read-only for this run,
    /// or why it cannot (`guard::kernel`). `None` for older runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_guard: Option<crate::guard::kernel::KernelGuard>,
    /// Files brought in by `include:`: absolute path and SHA-256 of each,
    /// so resume and rollback refuse a changed one as they refuse a
    /// changed runbook.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepStarted {
    pub run_id: String,
    pub phase: String,
    pub step_id: String,
    pub ordinal: usize,
    pub attempt: u32,
    /// Attempts the step may take (`retries` + 1); 0 in older journals.
    #[serde(default)]
    pub attempts: u32,
    pub kind: String,
    pub safety: String,
    /// Redacted command line, for run/check steps.
    pub command: Option<String>,
    /// The rollout batch (1 = the canary) of an execute/post step in a
    /// fleet run: the same step runs once per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    Ok,
    Failed,
    TimedOut,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepFinished {
    pub run_id: String,
    pub phase: String,
    pub step_id: String,
    pub ordinal: usize,
    pub attempt: u32,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub duration_ms: u64,
    /// SHA-256 of stdout followed by stderr, as captured (before redaction).
    pub output_sha256: Option<String>,
    /// Last lines of output, bounded and redacted.
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// Why it failed, in English, when it did.
    pub error: Option<String>,
    /// Files a backup or restore step handled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileRecord>,
    /// Each host's result when the step ran on a fleet (absent in older
    /// journals and for steps on this machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostStep>,
    /// The rollout batch (1 = the canary) of an execute/post step in a
    /// fleet run: the same step runs once per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
}

/// One host's part of a fleet step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStep {
    pub host: String,
    pub ok: bool,
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub timed_out: bool,
    pub duration_ms: u64,
    /// The last line the host wrote to stderr when it failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepConfirmed {
    pub run_id: String,
    pub phase: String,
    pub step_id: String,
    pub ordinal: usize,
    pub who: String,
    /// ok / abnormal / pending
    pub answer: String,
    pub evidence: Option<String>,
    /// Answered by the step's `auto` in a non-interactive run.
    pub auto: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackStarted {
    pub run_id: String,
    /// step-failed, aborted (Ctrl-C), unknown-step (resume), ...
    pub reason: String,
    pub failed_step: Option<String>,
    /// The batch that failed its step, gate or trigger (fleet runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// The hosts the rollback plan runs on (fleet runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// The pid of the process that holds a run: the one of its latest
/// `run.resumed`, else of its `run.started`. `events` are the run's
/// (kind, payload) in journal order. Used by `tejun abort` (whom to
/// signal) and by resume's "still running" refusal.
pub fn holder_pid<'e>(
    events: impl DoubleEndedIterator<Item = (&'e str, &'e serde_json::Value)>,
) -> Option<u32> {
    #[derive(Deserialize)]
    struct Pid {
        pid: u32,
    }
    events.rev().find_map(|(kind, payload)| match kind {
        RUN_RESUMED | RUN_STARTED => Pid::deserialize(payload).ok().map(|p| p.pid),
        _ => None,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResumed {
    pub run_id: String,
    pub operator: String,
    pub pid: u32,
    /// Total main steps, as at the start (older journals lack it).
    #[serde(default)]
    pub total_steps: usize,
    /// The step that had started with no end, and what the operator chose.
    pub unknown_step: Option<String>,
    /// retry / skip / rollback
    pub choice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRefused {
    pub runbook: String,
    pub env: String,
    pub operator: String,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Succeeded,
    RolledBack,
    RollbackFailed,
    Failed,
    Aborted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEnded {
    pub run_id: String,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// The exit phase's own result, reported beside the outcome and never
    /// folded into it. `None` when the runbook has no exit steps (and in
    /// journals written before the exit phase always ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_phase: Option<ExitPhaseResult>,
}

/// How the exit phase (clean-up, logoff, final checks) went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitPhaseResult {
    /// Every exit step ended ok (or failed with `on_failure: continue`).
    pub ok: bool,
    /// Exit steps that failed: the run was left uncleanly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_steps: Vec<String>,
}

/// The exit phase began; `outcome` is what the run came to before it, so a
/// resume that stops inside the exit phase knows how the run ends.
/// Journaled together with the first exit step's start (no extra fsync).
pub const EXIT_STARTED: &str = "exit.started";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExitStarted {
    pub run_id: String,
    pub outcome: Outcome,
}

/// A second Ctrl-C stopped waiting: the process leaves before the
/// rollback or exit phase finished. No `run.ended` follows; `next` is the
/// exact command the operator was shown (`tejun rollback RUN` while the
/// change may still be live, else `tejun resume RUN`).
pub const RUN_STOPPED: &str = "run.stopped";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStopped {
    pub run_id: String,
    pub phase: String,
    pub step_id: Option<String>,
    pub next: String,
    /// The rollout batch (1 = the canary) of an execute/post step in a
    /// fleet run: the same step runs once per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
}

/// A run that needs approval from someone other than its executor waits
/// here (`tejun approve RUN`, then `tejun resume RUN`).
pub const APPROVAL_REQUESTED: &str = "approval.requested";
pub const APPROVAL_GRANTED: &str = "approval.granted";
pub const APPROVAL_REJECTED: &str = "approval.rejected";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequested {
    pub run_id: String,
    /// Approvals needed (from distinct people, none the executor).
    pub count: u32,
    /// Who asked: the executor (user@host).
    pub executor: String,
}

/// `approval.granted` and `approval.rejected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    pub run_id: String,
    /// user@host of the approver, from the login identity.
    pub who: String,
    pub reason: Option<String>,
}

/// Name of the lock file inside a run's folder. The running process holds an
/// exclusive `flock` on it; a run whose lock can be taken by someone else and
/// that has no `run.ended` is *interrupted*.
pub const LOCK_FILE: &str = "lock";

/// A run stopped to wait for a person: a confirm step answered 保留
/// (pending), or one a non-interactive run could not answer. No `run.ended`
/// follows; `tejun resume RUN` asks the question again.
pub const RUN_PAUSED: &str = "run.paused";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPaused {
    pub run_id: String,
    pub step_id: String,
    /// pending (answered 保留) / unanswered (non-interactive run)
    pub reason: String,
}

/// One file a backup or restore step handled; listed in its
/// `step.finished` event (`files`) so a restore, even after a crash, checks
/// the backup against the hash the journal recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// The original path, absolute.
    pub path: String,
    /// The copy inside the run folder, relative to the run folder.
    pub backup: String,
    pub sha256: String,
    pub size: u64,
    /// Unix permission bits.
    pub mode: u32,
}

pub const PROBE_RESULT: &str = "probe.result";
pub const PROBE_SAMPLES: &str = "probe.samples";
pub const TRIGGER_FIRED: &str = "trigger.fired";
pub const ABORT_REQUESTED: &str = "abort.requested";

/// One answer of a probe asked by a `probe:` or `wait_for:` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub run_id: String,
    pub step_id: String,
    pub probe: String,
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The host it was asked from; none: the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// Samples the trigger watch took since its last batch (one event per
/// batch, written between steps, so watching costs no fsync per sample).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeSamples {
    pub run_id: String,
    pub probe: String,
    pub samples: Vec<tejun_probe::Sample>,
}

/// A trigger held: the work was aborted and rollback starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerFired {
    pub run_id: String,
    /// The expression as written.
    pub trigger: String,
    pub probe: String,
    /// The metric's value that made it hold (fraction, ms, count, value).
    pub value: f64,
    pub samples: usize,
    pub failures: usize,
    /// The step that was running or next, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// The rollout batch running or baking when it fired (fleet runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    /// The host whose answers fired it (a probe `from:` a host or `each`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `tejun abort RUN` asked a running run to stop (stream `run/<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortRequested {
    pub run_id: String,
    pub reason: Option<String>,
    /// The process signalled, if it was running.
    pub pid: Option<u32>,
}

pub const FLEET_STARTED: &str = "fleet.started";
pub const BATCH_GATE: &str = "batch.gate";

/// A fleet run's hosts and batches, journaled after `run.started`:
/// resume and rollback reconnect to exactly these hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetStarted {
    pub run_id: String,
    /// Every host of the run, in batch order.
    pub hosts: Vec<String>,
    /// The hosts of each batch (the first is the canary).
    pub batches: Vec<Vec<String>>,
    /// Hosts that could not be reached when the run started, with why;
    /// each counts as failed in its batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<HostError>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostError {
    pub host: String,
    pub error: String,
}

/// A batch's health gate: its `gate` probes sampled for `bake` after the
/// batch's steps; `ok: false` stops the rollout and rolls back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchGate {
    pub run_id: String,
    pub batch: u32,
    pub hosts: Vec<String>,
    /// The bake asked for and how long the gate actually watched.
    pub bake_ms: u64,
    pub watched_ms: u64,
    pub gate: Vec<String>,
    pub ok: bool,
    /// The sample that failed the gate, with its probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_probe: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_sample: Option<tejun_probe::Sample>,
    /// Why the bake ended early otherwise (`trigger`, `aborted`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

pub const HOST_FINISHED: &str = "host.finished";

/// One host finished its part of a fleet step (journaled as it happens,
/// before the step's own end): a resumed run that retries the step runs
/// it again only on the hosts that had not finished it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFinished {
    pub run_id: String,
    pub step_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    pub attempt: u32,
    #[serde(flatten)]
    pub result: HostStep,
}

pub const LOGOFF_CHECKED: &str = "logoff.checked";

/// What a `logoff:` step found on one host, after closing the run's own
/// connection there: the sessions of `user` still open (none: logged off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoffChecked {
    pub run_id: String,
    pub step_id: String,
    pub host: String,
    /// Whose sessions were looked for (empty when the check could not run).
    pub user: String,
    pub sessions: Vec<OpenSession>,
    /// Why the check could not run on the host, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An ssh session of the user on a host, as `logoff:` found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenSession {
    /// Its `sshd` process on the host.
    pub pid: u32,
    /// `pts/0`, or `notty` for a session without a terminal.
    pub tty: String,
    /// The client's address and port (`?` when the host does not say).
    pub from: String,
    /// When it logged in (the process's start, host time).
    pub since: String,
}
