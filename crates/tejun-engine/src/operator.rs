//! The engine's only way to talk to a person.
//!
//! The engine has no terminal code: the CLI (spinner, prompts, JSON lines),
//! a test, or later the web dashboard implements [`Operator`]. Every event
//! the engine journals is also handed to [`Operator::on_event`], so what the
//! operator sees is exactly what the journal records.

use serde_json::Value;
use tejun_runbook::model::Verdict;

use crate::events;

/// An event as journaled: its kind and its typed payload.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    RunStarted(events::RunStarted),
    StepStarted(events::StepStarted),
    StepFinished(events::StepFinished),
    StepConfirmed(events::StepConfirmed),
    RollbackStarted(events::RollbackStarted),
    RunResumed(events::RunResumed),
    RunRefused(events::RunRefused),
    RunPaused(events::RunPaused),
    RunEnded(events::RunEnded),
    ExitStarted(events::ExitStarted),
    RunStopped(events::RunStopped),
    ApprovalRequested(events::ApprovalRequested),
    ProbeResult(events::ProbeResult),
    ProbeSamples(events::ProbeSamples),
    TriggerFired(events::TriggerFired),
    FleetStarted(events::FleetStarted),
    BatchGate(events::BatchGate),
    LogoffChecked(events::LogoffChecked),
}

impl RunEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            RunEvent::RunStarted(_) => events::RUN_STARTED,
            RunEvent::StepStarted(_) => events::STEP_STARTED,
            RunEvent::StepFinished(_) => events::STEP_FINISHED,
            RunEvent::StepConfirmed(_) => events::STEP_CONFIRMED,
            RunEvent::RollbackStarted(_) => events::ROLLBACK_STARTED,
            RunEvent::RunResumed(_) => events::RUN_RESUMED,
            RunEvent::RunRefused(_) => events::RUN_REFUSED,
            RunEvent::RunPaused(_) => events::RUN_PAUSED,
            RunEvent::RunEnded(_) => events::RUN_ENDED,
            RunEvent::ExitStarted(_) => events::EXIT_STARTED,
            RunEvent::RunStopped(_) => events::RUN_STOPPED,
            RunEvent::ApprovalRequested(_) => events::APPROVAL_REQUESTED,
            RunEvent::ProbeResult(_) => events::PROBE_RESULT,
            RunEvent::ProbeSamples(_) => events::PROBE_SAMPLES,
            RunEvent::TriggerFired(_) => events::TRIGGER_FIRED,
            RunEvent::FleetStarted(_) => events::FLEET_STARTED,
            RunEvent::BatchGate(_) => events::BATCH_GATE,
            RunEvent::LogoffChecked(_) => events::LOGOFF_CHECKED,
        }
    }

    pub fn payload(&self) -> Value {
        let value = match self {
            RunEvent::RunStarted(e) => serde_json::to_value(e),
            RunEvent::StepStarted(e) => serde_json::to_value(e),
            RunEvent::StepFinished(e) => serde_json::to_value(e),
            RunEvent::StepConfirmed(e) => serde_json::to_value(e),
            RunEvent::RollbackStarted(e) => serde_json::to_value(e),
            RunEvent::RunResumed(e) => serde_json::to_value(e),
            RunEvent::RunRefused(e) => serde_json::to_value(e),
            RunEvent::RunPaused(e) => serde_json::to_value(e),
            RunEvent::RunEnded(e) => serde_json::to_value(e),
            RunEvent::ExitStarted(e) => serde_json::to_value(e),
            RunEvent::RunStopped(e) => serde_json::to_value(e),
            RunEvent::ApprovalRequested(e) => serde_json::to_value(e),
            RunEvent::ProbeResult(e) => serde_json::to_value(e),
            RunEvent::ProbeSamples(e) => serde_json::to_value(e),
            RunEvent::TriggerFired(e) => serde_json::to_value(e),
            RunEvent::FleetStarted(e) => serde_json::to_value(e),
            RunEvent::BatchGate(e) => serde_json::to_value(e),
            RunEvent::LogoffChecked(e) => serde_json::to_value(e),
        };
        // These are plain structs of strings and numbers: serialising them
        // cannot fail.
        value.unwrap_or(Value::Null)
    }
}

/// A confirm step waiting for a person's verdict.
#[derive(Debug, Clone)]
pub struct ConfirmRequest<'a> {
    pub step_id: &'a str,
    pub name: Option<&'a str>,
    pub prompt: &'a str,
    pub evidence_required: bool,
    pub phase: &'a str,
}

/// A person's verdict on a confirm step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub verdict: Verdict,
    pub evidence: Option<String>,
}

/// A protected environment: the operator must type its name.
#[derive(Debug, Clone)]
pub struct EnvChallenge<'a> {
    pub env: &'a str,
    pub color: &'a str,
    pub description: Option<&'a str>,
}

/// A destructive step in a protected environment: the operator must type
/// its id.
#[derive(Debug, Clone)]
pub struct DestructiveChallenge<'a> {
    pub env: &'a str,
    pub step_id: &'a str,
    pub name: Option<&'a str>,
    pub command: Option<&'a str>,
}

/// A step that started before a crash and has no recorded end: did it run?
#[derive(Debug, Clone)]
pub struct UnknownStep<'a> {
    pub step_id: &'a str,
    pub phase: &'a str,
    pub kind: &'a str,
    pub command: Option<&'a str>,
    pub attempt: u32,
}

/// What to do with an [`UnknownStep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownChoice {
    /// Run it again (the operator judged that safe).
    Retry,
    /// Count it as done and go on.
    Skip,
    /// Run the rollback plan.
    Rollback,
}

impl UnknownChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownChoice::Retry => "retry",
            UnknownChoice::Skip => "skip",
            UnknownChoice::Rollback => "rollback",
        }
    }

    pub fn parse(text: &str) -> Option<UnknownChoice> {
        match text {
            "retry" => Some(UnknownChoice::Retry),
            "skip" => Some(UnknownChoice::Skip),
            "rollback" => Some(UnknownChoice::Rollback),
            _ => None,
        }
    }
}

/// Each host's state while a step runs on several, as it changes (the
/// step's `step.finished` event has every host's result; this is only for
/// a live view). Called from the hosts' threads, hence `Sync`.
pub trait HostView: Sync {
    fn host_started(&self, host: &str);
    fn host_finished(&self, host: &str, ok: bool, duration: std::time::Duration);
}

impl std::fmt::Debug for dyn HostView + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostView")
    }
}

/// The person (or program) on the other side of a run. Prompting methods
/// are only called when the run is interactive; they return `None` when no
/// answer could be had (end of input), which the engine treats as "no".
pub trait Operator {
    /// Every journaled event, after it is durable.
    fn on_event(&self, event: &RunEvent);
    /// Something worth saying that is not an event (a refusal's detail, a
    /// skipped Ctrl-C). Already in the operator's language.
    fn notice(&self, _text: &str) {}
    /// The operator pressed Ctrl-C (or SIGTERM arrived): the running
    /// command is being stopped and the rollback plan will run.
    fn on_abort(&self) {}
    /// Ctrl-C arrived during a phase that only notes the first one
    /// (`rollback`, `exit`): it goes on; a second Ctrl-C stops waiting.
    fn on_abort_noted(&self, _phase: &str) {}
    /// Resume found the unknown step's command still running and stopped
    /// its process group.
    fn on_leftover_stopped(&self, _step_id: &str, _group: u32) {}
    /// One line of the running command's output (stdout or stderr) as it
    /// arrives, redacted like the journal.
    fn on_output(&self, _line: &str) {}
    /// Where a fleet step shows each host's state live, if anywhere.
    fn host_view(&self) -> Option<&dyn HostView> {
        None
    }
    /// Asks for a verdict on a confirm step.
    fn confirm(&self, request: &ConfirmRequest<'_>) -> Option<Answer>;
    /// Shows the protected-environment banner and reads the typed name.
    fn type_env_name(&self, challenge: &EnvChallenge<'_>) -> Option<String>;
    /// Reads the typed id of a destructive step.
    fn type_step_id(&self, challenge: &DestructiveChallenge<'_>) -> Option<String>;
    /// Asks what to do with a step of unknown state.
    fn choose_unknown(&self, step: &UnknownStep<'_>) -> Option<UnknownChoice>;
}
