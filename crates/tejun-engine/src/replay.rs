//! What a run's journal says already happened, step by step. A new run
//! starts with an empty replay; a resumed one with the journal's. The runner
//! consults it before every step, which is how finished steps are never run
//! again and how a step that started without an end is recognised as
//! *unknown*.

use std::collections::{HashMap, HashSet};

use tejun_journal::Entry;

use crate::events::{self, FileRecord, RollbackStarted, StepFinished, StepStarted, StepStatus};

/// The last thing recorded for a step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepRecord {
    /// Started, no end: the process died while it ran (or between the
    /// durable start and the spawn). Its state is unknown.
    Started(StepStarted),
    Finished(StepFinished),
}

#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Keyed by [`Replay::key`]: a step of a rollout runs once per batch.
    pub steps: HashMap<String, StepRecord>,
    /// Batches (1-based) whose health gate held.
    pub gates_passed: HashSet<u32>,
    /// For a fleet step that started and never ended: its attempt and the
    /// hosts that had finished it (`host.finished`), by [`Replay::key`].
    pub hosts_done: HashMap<String, (u32, Vec<events::HostStep>)>,
    pub rollback: Option<RollbackStarted>,
    /// Id of the step a non-interactive or 保留 answer paused at, if the run
    /// is paused there.
    pub paused_at: Option<String>,
    /// The outcome recorded when the exit phase began, if it did.
    pub exit_started: Option<crate::events::Outcome>,
}

impl Replay {
    /// The replay key of a step: its id, and its batch in a rollout.
    pub fn key(step_id: &str, batch: Option<u32>) -> String {
        match batch {
            Some(b) => format!("{step_id}#{b}"),
            None => step_id.to_string(),
        }
    }

    pub fn from_entries(entries: &[Entry]) -> Result<Replay, tejun_journal::Error> {
        let mut replay = Replay::default();
        for entry in entries {
            match entry.kind.as_str() {
                events::STEP_STARTED => {
                    let started: StepStarted = entry.decode()?;
                    replay.steps.insert(
                        Replay::key(&started.step_id, started.batch),
                        StepRecord::Started(started),
                    );
                }
                events::STEP_FINISHED => {
                    let finished: StepFinished = entry.decode()?;
                    let key = Replay::key(&finished.step_id, finished.batch);
                    replay.hosts_done.remove(&key);
                    replay.steps.insert(key, StepRecord::Finished(finished));
                }
                events::ROLLBACK_STARTED => replay.rollback = Some(entry.decode()?),
                events::EXIT_STARTED => {
                    let started: events::ExitStarted = entry.decode()?;
                    replay.exit_started = Some(started.outcome);
                }
                // The step a second Ctrl-C killed did not fail on its own:
                // it runs again.
                events::RUN_STOPPED => {
                    let stopped: events::RunStopped = entry.decode()?;
                    if let Some(step) = stopped.step_id {
                        replay.steps.remove(&Replay::key(&step, stopped.batch));
                    }
                }
                events::HOST_FINISHED => {
                    let host: events::HostFinished = entry.decode()?;
                    let key = Replay::key(&host.step_id, host.batch);
                    let slot = replay
                        .hosts_done
                        .entry(key)
                        .or_insert_with(|| (host.attempt, Vec::new()));
                    if slot.0 != host.attempt {
                        *slot = (host.attempt, Vec::new());
                    }
                    slot.1.push(host.result);
                }
                events::BATCH_GATE => {
                    let gate: events::BatchGate = entry.decode()?;
                    if gate.ok {
                        replay.gates_passed.insert(gate.batch);
                    }
                }
                events::RUN_PAUSED => {
                    let paused: events::RunPaused = entry.decode()?;
                    replay.paused_at = Some(paused.step_id);
                }
                _ => {}
            }
        }
        Ok(replay)
    }

    /// The step that started and never ended, if any (at most one: steps run
    /// one at a time and each end is durable before the next start).
    pub fn unknown(&self) -> Option<&StepStarted> {
        let mut open: Vec<&StepStarted> = self
            .steps
            .values()
            .filter_map(|r| match r {
                StepRecord::Started(s) => Some(s),
                StepRecord::Finished(_) => None,
            })
            .collect();
        open.sort_by_key(|s| s.ordinal);
        open.pop()
    }

    /// Files a finished backup step recorded (a backup on this machine
    /// runs once per run, whichever batch it ran in).
    pub fn backup_files(&self, step_id: &str) -> Option<&[FileRecord]> {
        self.steps.values().find_map(|record| match record {
            StepRecord::Finished(f) if f.step_id == step_id && f.status == StepStatus::Ok => {
                Some(f.files.as_slice())
            }
            _ => None,
        })
    }
}
