//! Views of past and current runs, folded from the journal's run events.
//!
//! `tejun runs`, `tejun show` and (later) the dashboard never keep state of
//! their own: everything here is recomputed from the events in
//! [`crate::events`], so what a view shows is exactly what was recorded.
//!
//! The one fact the journal cannot hold is whether a run without a
//! `run.ended` is still going: the process may have been killed. That is
//! answered the same way `tejun resume` answers it, by the run's lock file:
//! a live run holds an exclusive `flock` on it, so if we can take the lock
//! (and immediately drop it) nobody is running the run, and it was
//! interrupted.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tejun_journal::{Entry, Journal, Query};

use crate::events::{
    self, Outcome, RollbackStarted, RunEnded, RunPaused, RunRefused, RunResumed, RunStarted,
    StepConfirmed, StepFinished, StepStarted, StepStatus,
};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(transparent)]
    Journal(#[from] tejun_journal::Error),
    #[error("no run matches {0:?}")]
    NoSuchRun(String),
    #[error("run id {prefix:?} is ambiguous: it matches {}", candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
    },
}

pub type Result<T, E = HistoryError> = std::result::Result<T, E>;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// No end yet, and its process holds the run's lock.
    Running,
    /// No end, and nobody holds the lock: killed or crashed; `tejun resume`.
    Interrupted,
    /// Stopped at a confirm step waiting for a person (保留, or unanswered
    /// in a non-interactive run); `tejun resume` asks again.
    Paused,
    Succeeded,
    RolledBack,
    RollbackFailed,
    Failed,
    Aborted,
    /// A guard refused it before any step ran.
    Refused,
}

impl RunState {
    pub fn from_outcome(outcome: Outcome) -> RunState {
        match outcome {
            Outcome::Succeeded => RunState::Succeeded,
            Outcome::RolledBack => RunState::RolledBack,
            Outcome::RollbackFailed => RunState::RollbackFailed,
            Outcome::Failed => RunState::Failed,
            Outcome::Aborted => RunState::Aborted,
        }
    }

    /// The label shown to people, as (English, 日本語).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            RunState::Running => ("running", "実行中"),
            RunState::Interrupted => ("interrupted", "中断"),
            RunState::Paused => ("paused", "保留中"),
            RunState::Succeeded => ("succeeded", "成功"),
            RunState::RolledBack => ("rolled-back", "ロールバック済"),
            RunState::RollbackFailed => ("rollback-failed", "ロールバック失敗"),
            RunState::Failed => ("failed", "失敗"),
            RunState::Aborted => ("aborted", "中止"),
            RunState::Refused => ("refused", "拒否"),
        }
    }

    /// Whether the run has a `run.ended` (or was refused): nothing more
    /// will happen to it.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            RunState::Running | RunState::Interrupted | RunState::Paused
        )
    }
}

/// One line of `tejun runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub id: String,
    /// The runbook's name (for a refused run: its path).
    pub runbook: String,
    pub env: String,
    pub operator: String,
    pub host: String,
    pub started: Timestamp,
    pub ended: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    pub state: RunState,
    /// Main (pre..exit) steps whose last record is a finish with ok or
    /// skipped.
    pub steps_done: usize,
    pub steps_total: usize,
    pub incident: Option<String>,
    /// Why a refused run was refused, or which step a paused run waits at.
    pub note: Option<String>,
}

/// Where a step stands, from its last record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    Ok,
    Failed,
    TimedOut,
    Skipped,
    /// Started and still going (the run holds its lock).
    Running,
    /// Started and never ended, and the run is not running: the process
    /// died while it ran. Whether its command took effect is unknown.
    Unknown,
    /// A confirm step the run paused at (保留, or no one to answer it in a
    /// non-interactive run): waiting for a person, not crashed.
    Waiting,
}

impl StepState {
    pub fn from_status(status: StepStatus) -> StepState {
        match status {
            StepStatus::Ok => StepState::Ok,
            StepStatus::Failed => StepState::Failed,
            StepStatus::TimedOut => StepState::TimedOut,
            StepStatus::Skipped => StepState::Skipped,
        }
    }

    /// (English, 日本語)
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            StepState::Ok => ("ok", "正常"),
            StepState::Failed => ("failed", "失敗"),
            StepState::TimedOut => ("timed-out", "タイムアウト"),
            StepState::Skipped => ("skipped", "スキップ"),
            StepState::Running => ("running", "実行中"),
            StepState::Unknown => ("unknown", "不明"),
            StepState::Waiting => ("waiting", "回答待ち"),
        }
    }
}

/// A confirmation with the time it was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Confirmation {
    pub ts: Timestamp,
    #[serde(flatten)]
    pub confirmed: StepConfirmed,
}

/// One step as the run's events tell it, across attempts and resumes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub phase: String,
    pub step_id: String,
    pub ordinal: usize,
    /// The step kind (run, check, confirm, backup, restore).
    pub kind: String,
    pub safety: String,
    pub command: Option<String>,
    pub state: StepState,
    /// Highest attempt started.
    pub attempts: u32,
    /// First start.
    pub started: Timestamp,
    /// Last finish.
    pub ended: Option<Timestamp>,
    /// The last finished attempt, when there is one.
    pub finished: Option<StepFinished>,
    pub confirmations: Vec<Confirmation>,
}

/// One event of a run, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Happening {
    RunStarted(RunStarted),
    StepStarted(StepStarted),
    StepFinished(StepFinished),
    StepConfirmed(StepConfirmed),
    RollbackStarted(RollbackStarted),
    RunResumed(RunResumed),
    RunPaused(RunPaused),
    RunRefused(RunRefused),
    RunEnded(RunEnded),
    /// A kind this version does not know (written by a newer tejun).
    Other(Value),
}

impl Happening {
    fn decode(entry: &Entry) -> tejun_journal::Result<Happening> {
        Ok(match entry.kind.as_str() {
            events::RUN_STARTED => Happening::RunStarted(entry.decode()?),
            events::STEP_STARTED => Happening::StepStarted(entry.decode()?),
            events::STEP_FINISHED => Happening::StepFinished(entry.decode()?),
            events::STEP_CONFIRMED => Happening::StepConfirmed(entry.decode()?),
            events::ROLLBACK_STARTED => Happening::RollbackStarted(entry.decode()?),
            events::RUN_RESUMED => Happening::RunResumed(entry.decode()?),
            events::RUN_PAUSED => Happening::RunPaused(entry.decode()?),
            events::RUN_REFUSED => Happening::RunRefused(entry.decode()?),
            events::RUN_ENDED => Happening::RunEnded(entry.decode()?),
            _ => Happening::Other(entry.payload.clone()),
        })
    }
}

/// One journal event of the run, as `tejun show` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub seq: i64,
    pub ts: Timestamp,
    pub kind: String,
    pub actor: String,
    /// The payload exactly as journaled (the contract in [`crate::events`]).
    pub payload: Value,
    #[serde(skip)]
    pub happening: Happening,
}

/// Everything `tejun show RUN` displays.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunTimeline {
    pub summary: RunSummary,
    /// `None` for a refused run.
    pub started: Option<RunStarted>,
    pub rollback: Option<RollbackStarted>,
    pub ended: Option<RunEnded>,
    /// Steps in the order they first started.
    pub steps: Vec<StepView>,
    pub events: Vec<TimelineEvent>,
}

/// Every run in the journal, oldest first (journal order).
///
/// A summary needs only the run-level events and the step ends (for the
/// done count), not every step start: reading just those keeps `tejun runs`
/// quick on a journal of many long runs.
pub fn list_runs(journal: &Journal) -> Result<Vec<RunSummary>> {
    let mut entries = Vec::new();
    for kinds in ["run.", events::STEP_FINISHED] {
        entries.extend(journal.query(&Query {
            stream_prefix: Some("run/"),
            kind_prefix: Some(kinds),
            ..Query::default()
        })?);
    }
    entries.sort_by_key(|entry| entry.seq);
    let mut order: Vec<String> = Vec::new();
    let mut by_stream: HashMap<String, Vec<TimelineEvent>> = HashMap::new();
    for entry in entries {
        let stream = entry.stream.clone();
        let event = timeline_event(entry)?;
        by_stream
            .entry(stream)
            .or_insert_with_key(|stream| {
                order.push(stream.clone());
                Vec::new()
            })
            .push(event);
    }
    let mut runs = Vec::new();
    for stream in order {
        let events = by_stream.remove(&stream).unwrap_or_default();
        let id = stream.trim_start_matches("run/").to_string();
        if let Some(folded) = fold(&id, events) {
            runs.push(folded.summary);
        }
    }
    Ok(runs)
}

/// One run's timeline. `run_id` may be a unique prefix of the id.
pub fn run_timeline(journal: &Journal, run_id: &str) -> Result<RunTimeline> {
    let id = resolve_run_id(journal, run_id)?;
    let stream = events::stream(&id);
    let entries = journal.query(&Query {
        subject: Some(&stream),
        ..Query::default()
    })?;
    let events = entries
        .into_iter()
        .filter(|entry| entry.stream == stream)
        .map(timeline_event)
        .collect::<Result<Vec<_>>>()?;
    fold(&id, events).ok_or_else(|| HistoryError::NoSuchRun(run_id.to_string()))
}

/// The full run id for `prefix`: an exact id, else the one id it begins.
/// Like git, an ambiguous prefix is an error listing the candidates.
pub fn resolve_run_id(journal: &Journal, prefix: &str) -> Result<String> {
    if prefix.is_empty() || prefix.contains('/') {
        return Err(HistoryError::NoSuchRun(prefix.to_string()));
    }
    let ids: Vec<String> = journal
        .streams(&events::stream(prefix))?
        .into_iter()
        .map(|stream| stream.trim_start_matches("run/").to_string())
        .collect();
    if ids.iter().any(|id| id == prefix) {
        return Ok(prefix.to_string());
    }
    match ids.len() {
        0 => Err(HistoryError::NoSuchRun(prefix.to_string())),
        1 => Ok(ids.into_iter().next().unwrap_or_default()),
        _ => Err(HistoryError::Ambiguous {
            prefix: prefix.to_string(),
            candidates: ids,
        }),
    }
}

fn timeline_event(entry: Entry) -> Result<TimelineEvent> {
    let happening = Happening::decode(&entry)?;
    Ok(TimelineEvent {
        seq: entry.seq,
        ts: entry.ts,
        kind: entry.kind,
        actor: entry.actor,
        payload: entry.payload,
        happening,
    })
}

/// Folds one run's events (journal order). `None` when the stream has
/// neither a start nor a refusal, i.e. is not a run.
fn fold(id: &str, events: Vec<TimelineEvent>) -> Option<RunTimeline> {
    let mut started: Option<(Timestamp, RunStarted)> = None;
    let mut refused: Option<(Timestamp, RunRefused)> = None;
    let mut ended: Option<(Timestamp, RunEnded)> = None;
    let mut rollback: Option<RollbackStarted> = None;
    let mut paused_at: Option<String> = None;
    let mut steps: Vec<StepView> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();

    for event in &events {
        match &event.happening {
            Happening::RunStarted(e) => started = Some((event.ts, e.clone())),
            Happening::RunRefused(e) => refused = Some((event.ts, e.clone())),
            Happening::RunEnded(e) => ended = Some((event.ts, e.clone())),
            Happening::RollbackStarted(e) => rollback = Some(e.clone()),
            Happening::RunPaused(e) => paused_at = Some(e.step_id.clone()),
            Happening::RunResumed(_) => paused_at = None,
            Happening::StepStarted(e) => {
                let step = step_view(
                    &mut steps, &mut index, &e.step_id, &e.phase, e.ordinal, event.ts,
                );
                step.kind = e.kind.clone();
                step.safety = e.safety.clone();
                step.attempts = step.attempts.max(e.attempt);
                step.command = e.command.clone().or(step.command.take());
                step.state = StepState::Unknown;
            }
            Happening::StepFinished(e) => {
                let step = step_view(
                    &mut steps, &mut index, &e.step_id, &e.phase, e.ordinal, event.ts,
                );
                step.state = StepState::from_status(e.status);
                step.ended = Some(event.ts);
                step.attempts = step.attempts.max(e.attempt);
                step.finished = Some(e.clone());
            }
            Happening::StepConfirmed(e) => {
                let step = step_view(
                    &mut steps, &mut index, &e.step_id, &e.phase, e.ordinal, event.ts,
                );
                step.confirmations.push(Confirmation {
                    ts: event.ts,
                    confirmed: e.clone(),
                });
            }
            Happening::Other(_) => {}
        }
    }

    let summary = match (&started, &refused) {
        (Some((ts, start)), _) => {
            let state = match &ended {
                Some((_, end)) => RunState::from_outcome(end.outcome),
                None if lock_is_held(Path::new(&start.run_dir)) => RunState::Running,
                None if paused_at.is_some() => RunState::Paused,
                None => RunState::Interrupted,
            };
            RunSummary {
                id: id.to_string(),
                runbook: start.runbook.clone(),
                env: start.env.clone(),
                operator: start.operator.clone(),
                host: start.host.clone(),
                started: *ts,
                ended: ended.as_ref().map(|(ts, _)| *ts),
                duration_ms: ended.as_ref().map(|(_, end)| end.duration_ms),
                state,
                steps_done: steps
                    .iter()
                    .filter(|s| s.phase != "rollback")
                    .filter(|s| matches!(s.state, StepState::Ok | StepState::Skipped))
                    .count(),
                steps_total: start.total_steps,
                incident: start.incident.clone(),
                note: if state == RunState::Paused {
                    paused_at.clone()
                } else {
                    None
                },
            }
        }
        (None, Some((ts, refusal))) => RunSummary {
            id: id.to_string(),
            runbook: refusal.runbook.clone(),
            env: refusal.env.clone(),
            operator: refusal.operator.clone(),
            host: String::new(),
            started: *ts,
            ended: Some(*ts),
            duration_ms: Some(0),
            state: RunState::Refused,
            steps_done: 0,
            steps_total: 0,
            incident: None,
            note: Some(refusal.reason.clone()),
        },
        (None, None) => return None,
    };
    if summary.state == RunState::Paused
        && let Some(step) = steps
            .iter_mut()
            .find(|s| Some(&s.step_id) == paused_at.as_ref() && s.state == StepState::Unknown)
    {
        // Not a crash: the step is a question waiting for its answer.
        step.state = StepState::Waiting;
    }
    if summary.state == RunState::Running {
        // Only the step in flight is running; an older open one (before a
        // resume chose "skip") stays unknown.
        if let Some(last) = steps
            .iter_mut()
            .filter(|s| s.state == StepState::Unknown)
            .last()
        {
            last.state = StepState::Running;
        }
    }
    Some(RunTimeline {
        summary,
        started: started.map(|(_, s)| s),
        rollback,
        ended: ended.map(|(_, e)| e),
        steps,
        events,
    })
}

/// The view of step `id`, created (at its first event) if this is the first
/// event that names it. Normally that is `step.started`; a journal written
/// by another version may lead with something else, and the step still
/// shows.
fn step_view<'s>(
    steps: &'s mut Vec<StepView>,
    index: &mut HashMap<String, usize>,
    id: &str,
    phase: &str,
    ordinal: usize,
    ts: Timestamp,
) -> &'s mut StepView {
    let at = *index.entry(id.to_string()).or_insert_with(|| {
        steps.push(StepView {
            phase: phase.to_string(),
            step_id: id.to_string(),
            ordinal,
            kind: String::new(),
            safety: String::new(),
            command: None,
            state: StepState::Unknown,
            attempts: 0,
            started: ts,
            ended: None,
            finished: None,
            confirmations: Vec::new(),
        });
        steps.len() - 1
    });
    &mut steps[at]
}

/// Whether a live process holds the run's lock. A missing lock file or
/// folder means nobody can be holding it.
fn lock_is_held(run_dir: &Path) -> bool {
    let Ok(file) = File::open(run_dir.join(events::LOCK_FILE)) else {
        return false;
    };
    match file.try_lock() {
        // We got it, so nobody else had it; dropping `file` releases it.
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        // flock itself failed (e.g. an unsupported file system): report
        // the run as interrupted rather than claim it is alive.
        Err(TryLockError::Error(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use tejun_journal::NewEvent;

    struct Run<'a> {
        journal: &'a Journal,
        id: &'a str,
        dir: std::path::PathBuf,
    }

    impl<'a> Run<'a> {
        fn new(journal: &'a Journal, id: &'a str, base: &Path) -> Run<'a> {
            let dir = base.join(id);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(events::LOCK_FILE), "").unwrap();
            Run { journal, id, dir }
        }

        fn put(&self, kind: &str, payload: impl Serialize) {
            let payload = serde_json::to_value(payload).unwrap();
            self.journal
                .append(NewEvent {
                    stream: &events::stream(self.id),
                    refs: &[],
                    kind,
                    actor: "alice@host",
                    payload: &payload,
                    ts: None,
                })
                .unwrap();
        }

        fn start(&self, total_steps: usize) {
            self.put(
                events::RUN_STARTED,
                RunStarted {
                    run_id: self.id.into(),
                    runbook: "nginx-upstream-change".into(),
                    path: "/rb/nginx.yaml".into(),
                    runbook_sha256: "ab".repeat(32),
                    env: "staging".into(),
                    operator: "alice@host".into(),
                    host: "host".into(),
                    pid: 42,
                    run_dir: self.dir.display().to_string(),
                    vars: vec![],
                    total_steps,
                    incident: Some("INC-1".into()),
                    given_vars: None,
                    kernel_guard: None,
                    included: Vec::new(),
                },
            );
        }

        fn step_start(&self, phase: &str, step: &str, attempt: u32) {
            self.put(
                events::STEP_STARTED,
                StepStarted {
                    run_id: self.id.into(),
                    phase: phase.into(),
                    step_id: step.into(),
                    ordinal: 1,
                    attempt,
                    attempts: 1,
                    kind: "run".into(),
                    safety: "changes".into(),
                    command: Some(format!("echo {step}")),
                    batch: None,
                },
            );
        }

        fn step_end(&self, phase: &str, step: &str, attempt: u32, status: StepStatus) {
            self.put(
                events::STEP_FINISHED,
                StepFinished {
                    run_id: self.id.into(),
                    phase: phase.into(),
                    step_id: step.into(),
                    ordinal: 1,
                    attempt,
                    status,
                    exit_code: Some(if status == StepStatus::Ok { 0 } else { 1 }),
                    duration_ms: 5,
                    output_sha256: None,
                    stdout_tail: String::new(),
                    stderr_tail: String::new(),
                    error: None,
                    files: vec![],
                    hosts: vec![],
                    batch: None,
                },
            );
        }

        fn step(&self, phase: &str, step: &str, status: StepStatus) {
            self.step_start(phase, step, 1);
            self.step_end(phase, step, 1, status);
        }

        fn end(&self, outcome: Outcome) {
            self.put(
                events::RUN_ENDED,
                RunEnded {
                    run_id: self.id.into(),
                    outcome,
                    duration_ms: 1234,
                    exit_phase: None,
                },
            );
        }
    }

    #[test]
    fn a_finished_run_has_its_outcome_and_counts() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2a", dir.path());
        run.start(3);
        run.step("pre", "backup", StepStatus::Ok);
        run.step("execute", "apply", StepStatus::Ok);
        run.end(Outcome::Succeeded);
        let runs = list_runs(&journal).unwrap();
        assert_eq!(runs.len(), 1);
        let summary = &runs[0];
        assert_eq!(summary.state, RunState::Succeeded);
        assert_eq!((summary.steps_done, summary.steps_total), (2, 3));
        assert_eq!(summary.duration_ms, Some(1234));
        assert!(summary.ended.is_some());
        assert_eq!(summary.incident.as_deref(), Some("INC-1"));
        assert_eq!(summary.env, "staging");
    }

    #[test]
    fn a_run_without_end_is_interrupted_unless_its_lock_is_held() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2a", dir.path());
        run.start(2);
        run.step("pre", "one", StepStatus::Ok);
        run.step_start("execute", "two", 1);

        let timeline = run_timeline(&journal, "0k3m9q2a").unwrap();
        assert_eq!(timeline.summary.state, RunState::Interrupted);
        assert_eq!(timeline.steps[1].state, StepState::Unknown);
        assert_eq!(timeline.steps[0].state, StepState::Ok);

        // flock is per open file: this second open stands in for the run's
        // process holding its lock.
        let held = File::options()
            .write(true)
            .open(run.dir.join(events::LOCK_FILE))
            .unwrap();
        held.lock().unwrap();
        let timeline = run_timeline(&journal, "0k3m9q2a").unwrap();
        assert_eq!(timeline.summary.state, RunState::Running);
        assert_eq!(timeline.steps[1].state, StepState::Running);
        drop(held);
        assert_eq!(list_runs(&journal).unwrap()[0].state, RunState::Interrupted);
    }

    #[test]
    fn a_missing_run_folder_means_interrupted() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2a", dir.path());
        run.start(1);
        std::fs::remove_dir_all(&run.dir).unwrap();
        assert_eq!(list_runs(&journal).unwrap()[0].state, RunState::Interrupted);
    }

    #[test]
    fn paused_until_resumed() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2a", dir.path());
        run.start(2);
        run.step_start("post", "verify", 1);
        run.put(
            events::RUN_PAUSED,
            RunPaused {
                run_id: run.id.into(),
                step_id: "verify".into(),
                reason: "pending".into(),
            },
        );
        let summary = &list_runs(&journal).unwrap()[0];
        assert_eq!(summary.state, RunState::Paused);
        assert_eq!(summary.note.as_deref(), Some("verify"));
        let timeline = run_timeline(&journal, "0k3m9q2a").unwrap();
        assert_eq!(timeline.steps[0].step_id, "verify");
        assert_eq!(timeline.steps[0].state, StepState::Waiting);
        run.put(
            events::RUN_RESUMED,
            RunResumed {
                run_id: run.id.into(),
                operator: "bob@host".into(),
                pid: 7,
                total_steps: 1,
                unknown_step: None,
                choice: None,
            },
        );
        assert_eq!(list_runs(&journal).unwrap()[0].state, RunState::Interrupted);
    }

    #[test]
    fn rollback_steps_do_not_count_as_done() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2a", dir.path());
        run.start(3);
        run.step("pre", "backup", StepStatus::Ok);
        run.step("execute", "apply", StepStatus::Failed);
        run.put(
            events::ROLLBACK_STARTED,
            RollbackStarted {
                run_id: run.id.into(),
                reason: "step-failed".into(),
                failed_step: Some("apply".into()),
                batch: None,
                hosts: vec![],
            },
        );
        run.step("rollback", "restore", StepStatus::Ok);
        run.end(Outcome::RolledBack);
        let timeline = run_timeline(&journal, "0k3").unwrap();
        assert_eq!(timeline.summary.state, RunState::RolledBack);
        assert_eq!(timeline.summary.steps_done, 1);
        assert_eq!(
            timeline.rollback.unwrap().failed_step.as_deref(),
            Some("apply")
        );
        let states: Vec<_> = timeline
            .steps
            .iter()
            .map(|s| (s.step_id.as_str(), s.state))
            .collect();
        assert_eq!(
            states,
            [
                ("backup", StepState::Ok),
                ("apply", StepState::Failed),
                ("restore", StepState::Ok)
            ]
        );
        assert_eq!(timeline.events.len(), 9);
    }

    #[test]
    fn retries_and_confirmations_fold_into_one_step() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2a", dir.path());
        run.start(1);
        run.step_start("execute", "probe", 1);
        run.step_end("execute", "probe", 1, StepStatus::Failed);
        run.step_start("execute", "probe", 2);
        run.put(
            events::STEP_CONFIRMED,
            StepConfirmed {
                run_id: run.id.into(),
                phase: "execute".into(),
                step_id: "probe".into(),
                ordinal: 1,
                who: "carol@host".into(),
                answer: "ok".into(),
                evidence: Some("dashboard green".into()),
                auto: false,
            },
        );
        run.step_end("execute", "probe", 2, StepStatus::Ok);
        let timeline = run_timeline(&journal, "0k3m9q2a").unwrap();
        assert_eq!(timeline.steps.len(), 1);
        let step = &timeline.steps[0];
        assert_eq!((step.state, step.attempts), (StepState::Ok, 2));
        assert_eq!(step.confirmations[0].confirmed.who, "carol@host");
        assert_eq!(step.finished.as_ref().unwrap().attempt, 2);
    }

    #[test]
    fn refused_runs_are_listed() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = Run::new(&journal, "0k3m9q2b", dir.path());
        run.put(
            events::RUN_REFUSED,
            RunRefused {
                runbook: "/rb/nginx.yaml".into(),
                env: "production".into(),
                operator: "alice@host".into(),
                reason: "written for staging".into(),
            },
        );
        let summary = &list_runs(&journal).unwrap()[0];
        assert_eq!(summary.state, RunState::Refused);
        assert_eq!(summary.note.as_deref(), Some("written for staging"));
    }

    #[test]
    fn run_ids_resolve_by_unique_prefix() {
        let journal = Journal::open_in_memory().unwrap();
        let dir = tempfile::tempdir().unwrap();
        for id in ["0k3m9q2a", "0k3m9q2b", "0k4aaaaa"] {
            Run::new(&journal, id, dir.path()).start(1);
        }
        assert_eq!(resolve_run_id(&journal, "0k4").unwrap(), "0k4aaaaa");
        assert_eq!(resolve_run_id(&journal, "0k3m9q2b").unwrap(), "0k3m9q2b");
        match resolve_run_id(&journal, "0k3") {
            Err(HistoryError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates, ["0k3m9q2a", "0k3m9q2b"])
            }
            other => panic!("expected ambiguity, got {other:?}"),
        }
        assert!(matches!(
            resolve_run_id(&journal, "zz"),
            Err(HistoryError::NoSuchRun(_))
        ));
        assert!(matches!(
            resolve_run_id(&journal, ""),
            Err(HistoryError::NoSuchRun(_))
        ));
        assert!(matches!(
            run_timeline(&journal, "nope"),
            Err(HistoryError::NoSuchRun(_))
        ));
        let ids: Vec<_> = list_runs(&journal)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["0k3m9q2a", "0k3m9q2b", "0k4aaaaa"]);
    }

    #[test]
    fn a_corrupt_payload_is_an_error_naming_its_seq() {
        let journal = Journal::open_in_memory().unwrap();
        journal
            .append(NewEvent {
                stream: "run/0k3m9q2a",
                refs: &[],
                kind: events::RUN_STARTED,
                actor: "a",
                payload: &serde_json::json!({"run_id": 3}),
                ts: None,
            })
            .unwrap();
        let err = list_runs(&journal).unwrap_err();
        assert!(err.to_string().contains("seq 1"), "{err}");
    }
}
