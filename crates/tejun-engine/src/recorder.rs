//! Writes a run's events: durable in the journal first, then shown to the
//! operator. One place, so nothing is ever shown that is not recorded.
//!
//! Batching: a step's `step.finished` is held back and committed in the same
//! transaction as whatever comes next, usually the next `step.started`. That
//! keeps both promises (a step's end is durable before the next step
//! starts; a step's start is durable before its command is spawned) with one
//! fsync per step instead of two, which is most of tejun's per-step cost.
//! Anything that may wait (a retry delay) flushes first, so a held-back end
//! never sits unwritten while time passes.

use std::cell::RefCell;

use tejun_journal::{Journal, NewEvent};

use crate::error::EngineError;
use crate::operator::{Operator, RunEvent};

pub struct Recorder<'a> {
    pub journal: &'a Journal,
    pub operator: &'a dyn Operator,
    pub stream: String,
    /// `incident/<ID>` when the run belongs to an incident.
    pub refs: Vec<String>,
    pub actor: String,
    pending: RefCell<Vec<RunEvent>>,
}

impl<'a> Recorder<'a> {
    pub fn new(
        journal: &'a Journal,
        operator: &'a dyn Operator,
        stream: String,
        refs: Vec<String>,
        actor: String,
    ) -> Recorder<'a> {
        Recorder {
            journal,
            operator,
            stream,
            refs,
            actor,
            pending: RefCell::new(Vec::new()),
        }
    }

    /// Appends `event` (and anything held back); durable when this returns.
    pub fn record(&self, event: RunEvent) -> Result<(), EngineError> {
        self.pending.borrow_mut().push(event);
        self.flush()
    }

    /// Holds `event` back until the next [`record`](Self::record) or
    /// [`flush`](Self::flush).
    pub fn defer(&self, event: RunEvent) {
        self.pending.borrow_mut().push(event);
    }

    /// Commits everything held back in one transaction.
    pub fn flush(&self) -> Result<(), EngineError> {
        let batch: Vec<RunEvent> = std::mem::take(&mut *self.pending.borrow_mut());
        if batch.is_empty() {
            return Ok(());
        }
        for event in &batch {
            if let RunEvent::StepStarted(e) = event {
                crash_point("before-start", &e.step_id);
            }
        }
        let payloads: Vec<serde_json::Value> = batch.iter().map(RunEvent::payload).collect();
        let events: Vec<NewEvent<'_>> = batch
            .iter()
            .zip(&payloads)
            .map(|(event, payload)| NewEvent {
                stream: &self.stream,
                refs: &self.refs,
                kind: event.kind(),
                actor: &self.actor,
                payload,
                ts: None,
            })
            .collect();
        self.journal.append_all(&events)?;
        for event in &batch {
            self.operator.on_event(event);
        }
        for event in &batch {
            match event {
                RunEvent::StepFinished(e) => crash_point("after-finish", &e.step_id),
                RunEvent::StepStarted(e) => crash_point("after-start", &e.step_id),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Crash testing: with `TEJUN_CRASH_AT=<point>:<step id>` the process sends
/// itself SIGKILL right there, so tests can prove resume at exact points
/// around the durable writes. Points: `before-start` (the step's start, and
/// the previous step's end, are not yet durable), `after-start` (its start
/// is durable, its command not yet spawned), `after-spawn` (its command
/// runs, its process group not yet noted in `running`), `after-finish` (its
/// end is durable). A real SIGKILL: nothing after it runs, no destructor,
/// no flush.
pub(crate) fn crash_point(point: &str, step_id: &str) {
    static CRASH_AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let target = CRASH_AT.get_or_init(|| std::env::var("TEJUN_CRASH_AT").ok());
    if let Some(target) = target
        && target.split_once(':') == Some((point, step_id))
    {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
    }
}
