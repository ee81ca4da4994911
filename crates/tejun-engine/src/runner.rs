//! The phase machine: pre → execute → post → exit, and rollback.
//!
//! Outcomes, decided here and nowhere else. The exit phase (clean-up,
//! logoff, final checks) runs after every one of them: when the work goes
//! wrong is exactly when people forget to log off.
//!
//! | what happened                                   | rollback? | outcome          | then |
//! |-------------------------------------------------|-----------|------------------|------|
//! | every step ok (or failed with `on_failure: continue`) | no  | succeeded        | exit phase |
//! | a pre step failed                               | no (nothing changed yet) | failed | exit phase |
//! | an execute/post step failed                     | yes       | rolled-back, or rollback-failed | exit phase |
//! | … and the runbook has no rollback plan          | —         | failed           | exit phase |
//! | Ctrl-C / SIGTERM during pre                     | no        | aborted          | exit phase |
//! | Ctrl-C / SIGTERM during execute/post            | yes       | aborted, or rollback-failed | exit phase |
//! | a rollback step or rollback check failed        | stops     | rollback-failed  | exit phase |
//! | a second Ctrl-C during rollback or exit phase   | stops waiting | (none: `run.stopped`) | no |
//!
//! The exit phase runs every exit step even when one fails (clean-up is
//! best effort, and a failed check must not skip the logoff); a failing
//! exit step is reported beside the outcome (`run.ended.exit_phase`) as
//! *left uncleanly*, never folded away. A success whose exit phase failed
//! ends `failed`. The first Ctrl-C during rollback or the exit phase is
//! only noted (see [`AbortSignal`]).
//!
//! A confirm answered 保留 (pending), or one a non-interactive run cannot
//! answer, *pauses* the run: `run.paused` is journaled, no `run.ended`, and
//! `tejun resume` asks again. Pausing keeps the decision with a person
//! instead of guessing "failed" (which would leave the change half-done) or
//! "rolled back" (which may undo a good change).
//!
//! Every step's start is durable before anything happens, and its end
//! before the next step starts; the runner consults the [`Replay`] first,
//! so a resumed run skips what already finished.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use regex::Regex;
use tejun_runbook::model::{Command, PhaseName, ProbeStep, StepKind, Verdict};
use tejun_runbook::plan::{FailureOutcome, Plan, PlannedStep, redact};

use crate::abort::AbortSignal;
use crate::backup;
use crate::error::EngineError;
use crate::events::{
    BatchGate, ExitPhaseResult, ExitStarted, FileRecord, Outcome, ProbeResult, ProbeSamples,
    RollbackStarted, RunEnded, RunPaused, RunStopped, StepConfirmed, StepFinished, StepStarted,
    StepStatus, TriggerFired,
};
use crate::fleet::Selection;
use crate::operator::{Answer, ConfirmRequest, Operator, RunEvent, UnknownChoice};
use crate::probe::TriggerWatch;
use crate::recorder::Recorder;
use crate::replay::{Replay, StepRecord};
use crate::target::{Exec, Executed, Limits, Target};
use tejun_runbook::fleet::On;

/// Bytes of each stream kept to show and match; the rest is only hashed.
const KEEP_TAIL: usize = 8 * 1024;
/// Kept when a step has a stdout/stderr regex to match.
const KEEP_FOR_MATCH: usize = 1024 * 1024;
/// What goes into the journal of each stream.
const JOURNAL_TAIL_BYTES: usize = 2048;
const JOURNAL_TAIL_LINES: usize = 20;

/// How a run left off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Ended, the exit phase clean (or absent).
    Ended(Outcome),
    /// Ended, but exit steps failed: the run was left uncleanly.
    LeftUncleanly {
        outcome: Outcome,
        failed_steps: Vec<String>,
    },
    /// Waiting for a person at a confirm step; resume continues it.
    Paused { step_id: String },
    /// A second Ctrl-C stopped waiting before rollback or the exit phase
    /// finished; `next` is the exact command to run now.
    Stopped { next: String },
    /// The run needs approvals it does not have yet (nothing ran).
    AwaitingApproval { needed: u32, have: u32 },
}

/// Where the work before the exit phase came to.
enum Flow<'p> {
    Done(Outcome),
    Paused(&'p PlannedStep, String),
    /// A second Ctrl-C during rollback: the change may still be live.
    Stopped(&'p PlannedStep),
}

enum StepEnd {
    Ok,
    Failed,
    Aborted,
    Paused(String),
    /// The operator chose rollback for an unknown step.
    RollbackRequested,
}

pub struct Runner<'a> {
    pub recorder: Recorder<'a>,
    pub operator: &'a dyn Operator,
    pub target: &'a dyn Target,
    pub abort: AbortSignal,
    pub plan: &'a Plan,
    pub secrets: &'a [String],
    pub run_id: String,
    pub run_dir: PathBuf,
    pub interactive: bool,
    pub replay: Replay,
    /// Resume's decision for the unknown step.
    pub unknown_choice: Option<UnknownChoice>,
    /// `tejun resume --retry-failed`: a retried fleet step runs again on
    /// the hosts that had failed it before the crash too (by default they
    /// keep their failure, as the run had decided).
    pub retry_failed: bool,
    /// When the run first started (for `run.ended`'s duration).
    pub started_at: Timestamp,
    /// Signals already reported to the operator.
    pub noted: usize,
    /// Environment variables every command gets (`TEJUN_RUN_ID`, ...).
    pub command_env: Vec<(String, String)>,
    /// The rollout batch running (1-based) while execute/post run on a
    /// fleet; `None` otherwise.
    pub batch: Option<u32>,
}

impl<'a> Runner<'a> {
    pub fn run(mut self) -> Result<Finish, EngineError> {
        // A resumed fleet run takes back where each host stands.
        self.target.replayed(&self.replay);
        let flow = if let Some(outcome) = self.replay.exit_started {
            // Resumed inside the exit phase.
            Flow::Done(outcome)
        } else if let Some(rollback) = self.replay.rollback.clone() {
            let success = if rollback.reason == "aborted" {
                Outcome::Aborted
            } else {
                Outcome::RolledBack
            };
            self.target.select(Selection::Changed);
            self.run_rollback(success)?
        } else {
            self.main()?
        };
        match flow {
            Flow::Done(outcome) => self.exit_phase(outcome),
            Flow::Paused(step, reason) => self.pause(step, reason),
            Flow::Stopped(step) => self.stop(step, true),
        }
    }

    /// Pre, execute and post, and the rollback they call for. Triggers
    /// are watched from the first execute step to the end of post.
    fn main(&mut self) -> Result<Flow<'a>, EngineError> {
        let (plan, target) = (self.plan, self.target);
        std::thread::scope(|scope| {
            let mut watch: Option<TriggerWatch> = None;
            let flow = self.batches(&mut |runner: &Runner<'a>| {
                watch
                    .get_or_insert_with(|| {
                        TriggerWatch::start(
                            scope,
                            runner.run_id.clone(),
                            &plan.probes,
                            &plan.triggers,
                            target,
                            runner.command_env.clone(),
                            runner.abort.clone(),
                        )
                    })
                    .clone()
            });
            // Every way out stops it: the scope waits for its thread.
            if let Some(watch) = &watch {
                watch.stop();
            }
            flow
        })
    }

    /// Journals the watch's samples (with the next record) and, when a
    /// trigger fired, `trigger.fired`; returns it.
    fn watch_report(
        &mut self,
        watch: Option<&TriggerWatch>,
        step_id: Option<&str>,
    ) -> Result<Option<TriggerFired>, EngineError> {
        let Some(watch) = watch else { return Ok(None) };
        for (probe, samples) in watch.take_samples() {
            self.recorder.defer(RunEvent::ProbeSamples(ProbeSamples {
                run_id: self.run_id.clone(),
                probe,
                samples,
            }));
        }
        let Some(mut fired) = watch.fired() else {
            return Ok(None);
        };
        watch.stop();
        fired.step_id = step_id.map(str::to_string);
        fired.batch = self.batch;
        self.recorder
            .record(RunEvent::TriggerFired(fired.clone()))?;
        Ok(Some(fired))
    }

    /// Pre checks run on every host before any changes; execute and post
    /// then run batch by batch (one batch on a single machine).
    fn batches(
        &mut self,
        watch_for: &mut dyn FnMut(&Runner<'a>) -> TriggerWatch,
    ) -> Result<Flow<'a>, EngineError> {
        let plan = self.plan;
        let batches = self.target.batches();
        self.target.select(Selection::All);
        let mut watching = false;
        let pre: Vec<&'a PlannedStep> = plan
            .main
            .iter()
            .filter(|s| s.phase == PhaseName::Pre)
            .collect();
        if let Some(flow) = self.main_steps(&pre, watch_for, &mut watching)? {
            return Ok(flow);
        }
        let change: Vec<&'a PlannedStep> = plan
            .main
            .iter()
            .filter(|s| matches!(s.phase, PhaseName::Execute | PhaseName::Post))
            .collect();
        let fleet = !self.target.hosts().is_empty();
        for batch in 0..batches {
            self.target.select(Selection::Batch(batch));
            // The same steps again, on the next hosts: journaled with their
            // batch, so each batch's steps are told apart (and resumed).
            self.batch = fleet.then_some(batch as u32 + 1);
            let steps: Vec<&'a PlannedStep> = change
                .iter()
                .copied()
                .filter(|s| batch == 0 || runs_every_batch(s))
                .collect();
            if let Some(flow) = self.main_steps(&steps, watch_for, &mut watching)? {
                return Ok(flow);
            }
            if let Some(flow) = self.bake(batch, watch_for, &mut watching)? {
                return Ok(flow);
            }
            if let Err(why) = self.target.after_batch(batch) {
                if watching {
                    // Rollback follows: the change is no longer live, and a
                    // trigger must not trip the abort under the rollback.
                    watch_for(self).stop();
                }
                return self.rollback(
                    &format!("health-gate: {why}"),
                    None,
                    Outcome::RolledBack,
                    Outcome::Failed,
                );
            }
        }
        self.batch = None;
        if watching {
            let watch = watch_for(self);
            watch.stop();
            // A trigger that held as post ended still counts.
            if self.watch_report(Some(&watch), None)?.is_some() {
                return self.rollback("trigger", None, Outcome::RolledBack, Outcome::Failed);
            }
            self.recorder.flush()?;
        }
        Ok(Flow::Done(Outcome::Succeeded))
    }

    /// The replay key of `step` where the run is now (its batch, if any).
    fn key(&self, step: &PlannedStep) -> String {
        Replay::key(&step.step.id, self.batch)
    }

    /// The health gate after batch `batch`: every `rollout.gate` probe is
    /// asked at its interval for `rollout.bake` (at least once each) while
    /// the triggers keep watching. An unhealthy sample, a trigger or an
    /// abort stops the rollout and rolls back; `batch.gate` journals how
    /// it went, with the failing sample.
    fn bake(
        &mut self,
        batch: usize,
        watch_for: &mut dyn FnMut(&Runner<'a>) -> TriggerWatch,
        watching: &mut bool,
    ) -> Result<Option<Flow<'a>>, EngineError> {
        let plan = self.plan;
        let rollout = &plan.rollout;
        let number = batch as u32 + 1;
        if (rollout.bake.is_zero() && rollout.gate.is_empty())
            || self.replay.gates_passed.contains(&number)
        {
            return Ok(None);
        }
        let watch = (!plan.triggers.is_empty()).then(|| {
            *watching = true;
            watch_for(self)
        });
        let specs: Vec<&tejun_probe::ProbeSpec> = rollout
            .gate
            .iter()
            .filter_map(|(name, _)| plan.probes.get(name))
            .collect();
        let mut env = self.command_env.clone();
        env.push(("TEJUN_BATCH".to_string(), number.to_string()));
        let started = Instant::now();
        let mut due = vec![started; specs.len()];
        let mut samples: Vec<Vec<tejun_probe::Sample>> = vec![Vec::new(); specs.len()];
        let mut failed: Option<(usize, tejun_probe::Sample)> = None;
        let mut stopped_by: Option<&str> = None;
        loop {
            for (i, spec) in specs.iter().enumerate() {
                if due[i] > Instant::now() {
                    continue;
                }
                // Asked from where the probe says (`from:` a host or each);
                // the gate holds only while every answer is healthy.
                let answers = crate::probe::one_verdict_for_any(
                    spec,
                    crate::probe::ask_from(spec, self.target, &env, &self.abort),
                );
                let Some(crate::probe::HostAnswer { host, answer }) = answers
                    .iter()
                    .find(|a| !a.answer.ok)
                    .or(answers.first())
                    .cloned()
                else {
                    continue;
                };
                let sample = tejun_probe::Sample {
                    at_ms: started.elapsed().as_millis() as u64,
                    ok: answer.ok,
                    latency_ms: answer.latency.as_millis() as u64,
                    value: answer.value,
                    error: answer.error.map(|e| redact(&e, self.secrets)),
                    host,
                };
                samples[i].push(sample.clone());
                due[i] = (due[i] + spec.interval).max(Instant::now());
                if !sample.ok {
                    failed = Some((i, sample));
                    break;
                }
            }
            if failed.is_some() {
                break;
            }
            if self.abort.is_set() {
                // The watch trips the abort when a trigger holds.
                let by_trigger = self.abort.is_tripped() && self.abort.count() == 0;
                stopped_by = Some(if by_trigger { "trigger" } else { "aborted" });
                break;
            }
            let sampled = samples.iter().all(|s| !s.is_empty());
            if sampled && started.elapsed() >= rollout.bake {
                break;
            }
            let next = due
                .iter()
                .copied()
                .chain([started + rollout.bake])
                .min()
                .unwrap_or_else(Instant::now);
            std::thread::sleep(
                next.saturating_duration_since(Instant::now())
                    .clamp(Duration::from_millis(1), Duration::from_millis(50)),
            );
        }
        for (spec, samples) in specs.iter().zip(samples) {
            if !samples.is_empty() {
                self.recorder.defer(RunEvent::ProbeSamples(ProbeSamples {
                    run_id: self.run_id.clone(),
                    probe: spec.name.clone(),
                    samples,
                }));
            }
        }
        let watched = started.elapsed();
        self.recorder.record(RunEvent::BatchGate(BatchGate {
            run_id: self.run_id.clone(),
            batch: number,
            hosts: self.target.active_hosts(),
            bake_ms: rollout.bake.as_millis() as u64,
            watched_ms: watched.as_millis() as u64,
            gate: specs.iter().map(|s| s.name.clone()).collect(),
            ok: failed.is_none() && stopped_by.is_none(),
            failed_probe: failed.as_ref().map(|(i, _)| specs[*i].name.clone()),
            failed_sample: failed.as_ref().map(|(_, s)| s.clone()),
            stopped_by: stopped_by.map(str::to_string),
        }))?;
        if failed.is_none() && stopped_by.is_none() {
            self.replay.gates_passed.insert(number);
            // Journal the watch's samples; a trigger that fired just now
            // still counts.
            if self.watch_report(watch.as_ref(), None)?.is_some() {
                return self
                    .rollback("trigger", None, Outcome::RolledBack, Outcome::Failed)
                    .map(Some);
            }
            return Ok(None);
        }
        if let Some(watch) = &watch {
            // Rollback follows: the change is no longer live.
            watch.stop();
        }
        if let Some((i, sample)) = failed {
            let why = sample
                .error
                .clone()
                .unwrap_or_else(|| "unhealthy".to_string());
            let reason = format!(
                "health-gate: probe `{}` unhealthy {:.1}s into the {}s bake of batch {number}: {why}",
                specs[i].name,
                sample.at_ms as f64 / 1000.0,
                rollout.bake.as_secs_f64(),
            );
            // Samples the watch took until now.
            self.watch_report(watch.as_ref(), None)?;
            return self
                .rollback(&reason, None, Outcome::RolledBack, Outcome::Failed)
                .map(Some);
        }
        if stopped_by == Some("trigger") && self.watch_report(watch.as_ref(), None)?.is_some() {
            return self
                .rollback("trigger", None, Outcome::RolledBack, Outcome::Failed)
                .map(Some);
        }
        self.operator.on_abort();
        self.noted = self.abort.count();
        self.rollback("aborted", None, Outcome::Aborted, Outcome::Aborted)
            .map(Some)
    }

    /// Runs `steps` in order; `Some(flow)` when the run goes no further.
    /// Triggers are watched from the first execute step on.
    fn main_steps(
        &mut self,
        steps: &[&'a PlannedStep],
        watch_for: &mut dyn FnMut(&Runner<'a>) -> TriggerWatch,
        watching: &mut bool,
    ) -> Result<Option<Flow<'a>>, EngineError> {
        let plan = self.plan;
        for &step in steps {
            let watch = if !plan.triggers.is_empty()
                && matches!(step.phase, PhaseName::Execute | PhaseName::Post)
            {
                *watching = true;
                Some(watch_for(self))
            } else {
                None
            };
            // Aborted between steps: no step is to blame.
            let between = self.abort.is_set();
            let end = if between {
                StepEnd::Aborted
            } else {
                self.step(step, false)?
            };
            let blamed = (!between).then_some(step.step.id.as_str());
            let goes_on = match end {
                StepEnd::Ok => true,
                StepEnd::Failed => matches!(
                    FailureOutcome::of(step.phase, &step.step),
                    FailureOutcome::Continue
                ),
                _ => false,
            };
            if let (Some(watch), false) = (&watch, goes_on) {
                // Rollback or a pause follows: the change is no longer live.
                watch.stop();
            }
            if !matches!(end, StepEnd::Paused(_))
                && self.watch_report(watch.as_ref(), blamed)?.is_some()
            {
                return self
                    .rollback("trigger", blamed, Outcome::RolledBack, Outcome::Failed)
                    .map(Some);
            }
            match end {
                StepEnd::Ok => {}
                StepEnd::Paused(reason) => return Ok(Some(Flow::Paused(step, reason))),
                StepEnd::RollbackRequested => {
                    return self
                        .rollback(
                            "unknown-step",
                            Some(&step.step.id),
                            Outcome::RolledBack,
                            Outcome::Failed,
                        )
                        .map(Some);
                }
                StepEnd::Aborted => {
                    self.operator.on_abort();
                    self.noted = self.abort.count();
                    return match step.phase {
                        PhaseName::Execute | PhaseName::Post => self
                            .rollback("aborted", blamed, Outcome::Aborted, Outcome::Aborted)
                            .map(Some),
                        _ => Ok(Some(Flow::Done(Outcome::Aborted))),
                    };
                }
                StepEnd::Failed => match FailureOutcome::of(step.phase, &step.step) {
                    FailureOutcome::Continue => {}
                    FailureOutcome::Rollback => {
                        return self
                            .rollback(
                                "step-failed",
                                Some(&step.step.id),
                                Outcome::RolledBack,
                                Outcome::Failed,
                            )
                            .map(Some);
                    }
                    FailureOutcome::StopBeforeChange
                    | FailureOutcome::MarkFailed
                    | FailureOutcome::RollbackFailed => {
                        return Ok(Some(Flow::Done(Outcome::Failed)));
                    }
                },
            }
        }
        Ok(None)
    }

    /// Starts the rollback plan. `success` is the outcome when it works;
    /// `without_plan` when the runbook has none.
    fn rollback(
        &mut self,
        reason: &str,
        failed_step: Option<&str>,
        success: Outcome,
        without_plan: Outcome,
    ) -> Result<Flow<'a>, EngineError> {
        if self.plan.rollback.is_empty() {
            return Ok(Flow::Done(without_plan));
        }
        // Only the hosts this run may have changed.
        self.target.select(Selection::Changed);
        self.recorder
            .record(RunEvent::RollbackStarted(RollbackStarted {
                run_id: self.run_id.clone(),
                reason: reason.to_string(),
                failed_step: failed_step.map(str::to_string),
                batch: self.batch,
                hosts: self.target.active_hosts(),
            }))?;
        self.batch = None;
        self.run_rollback(success)
    }

    fn run_rollback(&mut self, success: Outcome) -> Result<Flow<'a>, EngineError> {
        // A first Ctrl-C does not stop a rollback: see `abort`.
        self.abort = self.abort.cleanup();
        let plan = self.plan;
        let mut failed_on_some_hosts = false;
        for step in &plan.rollback {
            match self.step(step, true)? {
                StepEnd::Ok => {}
                StepEnd::Paused(reason) => return Ok(Flow::Paused(step, reason)),
                StepEnd::Aborted => return Ok(Flow::Stopped(step)),
                StepEnd::Failed
                    if step.step.on_failure == tejun_runbook::model::OnFailure::Continue => {}
                // On a fleet, a host whose rollback failed (a dead host)
                // must not cost the others theirs: they go on without it.
                // Not past an `on: once` step: it failed everywhere it ran.
                StepEnd::Failed
                    if step.step.on == On::Each && !self.target.active_hosts().is_empty() =>
                {
                    failed_on_some_hosts = true;
                }
                StepEnd::Failed | StepEnd::RollbackRequested => {
                    return Ok(Flow::Done(Outcome::RollbackFailed));
                }
            }
            self.note_signals("rollback");
        }
        if failed_on_some_hosts {
            return Ok(Flow::Done(Outcome::RollbackFailed));
        }
        Ok(Flow::Done(success))
    }

    /// Runs every exit step, whatever the outcome; a failing one does not
    /// stop the others.
    fn exit_phase(&mut self, outcome: Outcome) -> Result<Finish, EngineError> {
        let plan = self.plan;
        self.batch = None;
        self.target.select(Selection::All);
        let steps: Vec<&PlannedStep> = plan
            .main
            .iter()
            .filter(|s| s.phase == PhaseName::Exit)
            .collect();
        if steps.is_empty() {
            return self.end(outcome, None);
        }
        if self.replay.exit_started.is_none() {
            // Committed with the first exit step's start.
            self.recorder.defer(RunEvent::ExitStarted(ExitStarted {
                run_id: self.run_id.clone(),
                outcome,
            }));
            self.replay.exit_started = Some(outcome);
        }
        self.abort = self.abort.cleanup();
        let mut failed_steps = Vec::new();
        for step in steps {
            let end = if self.abort.is_set() {
                StepEnd::Aborted
            } else {
                self.step(step, false)?
            };
            match end {
                StepEnd::Ok => {}
                StepEnd::Failed
                    if step.step.on_failure == tejun_runbook::model::OnFailure::Continue => {}
                StepEnd::Failed | StepEnd::RollbackRequested => {
                    failed_steps.push(step.step.id.clone())
                }
                StepEnd::Paused(reason) => return self.pause(step, reason),
                StepEnd::Aborted => {
                    let live = outcome == Outcome::RollbackFailed && !plan.rollback.is_empty();
                    return self.stop(step, live);
                }
            }
            self.note_signals("exit");
        }
        // A success whose clean-up failed is not a success.
        let outcome = match (outcome, failed_steps.is_empty()) {
            (Outcome::Succeeded, false) => Outcome::Failed,
            (outcome, _) => outcome,
        };
        let result = ExitPhaseResult {
            ok: failed_steps.is_empty(),
            failed_steps,
        };
        self.end(outcome, Some(result))
    }

    /// Tells the operator about signals the current phase only notes.
    fn note_signals(&mut self, phase: &str) {
        let count = self.abort.count();
        if count > self.noted {
            self.noted = count;
            self.operator.on_abort_noted(phase);
        }
    }

    fn end(
        &mut self,
        outcome: Outcome,
        exit_phase: Option<ExitPhaseResult>,
    ) -> Result<Finish, EngineError> {
        let duration_ms = Timestamp::now()
            .duration_since(self.started_at)
            .as_millis()
            .max(0) as u64;
        self.recorder.record(RunEvent::RunEnded(RunEnded {
            run_id: self.run_id.clone(),
            outcome,
            duration_ms,
            exit_phase: exit_phase.clone(),
        }))?;
        Ok(match exit_phase {
            Some(result) if !result.ok => Finish::LeftUncleanly {
                outcome,
                failed_steps: result.failed_steps,
            },
            _ => Finish::Ended(outcome),
        })
    }

    fn pause(&mut self, step: &PlannedStep, reason: String) -> Result<Finish, EngineError> {
        self.recorder.record(RunEvent::RunPaused(RunPaused {
            run_id: self.run_id.clone(),
            step_id: step.step.id.clone(),
            reason,
        }))?;
        Ok(Finish::Paused {
            step_id: step.step.id.clone(),
        })
    }

    /// A second Ctrl-C: journal where the run stopped and the one command
    /// that makes it safe, before the process leaves. `live`: the change
    /// may still be in place (rollback unfinished).
    fn stop(&mut self, step: &PlannedStep, live: bool) -> Result<Finish, EngineError> {
        let next = if live {
            format!("tejun rollback {}", self.run_id)
        } else {
            format!("tejun resume {}", self.run_id)
        };
        self.recorder.record(RunEvent::RunStopped(RunStopped {
            run_id: self.run_id.clone(),
            phase: step.phase.as_str().to_string(),
            step_id: Some(step.step.id.clone()),
            next: next.clone(),
            batch: self.batch,
        }))?;
        Ok(Finish::Stopped { next })
    }

    /// Runs one step, or takes its result from the replay.
    fn step(&mut self, step: &PlannedStep, in_rollback: bool) -> Result<StepEnd, EngineError> {
        let max_attempts = match &step.step.kind {
            StepKind::Run(c) | StepKind::Check(c) => c.retries + 1,
            _ => 1,
        };
        let mut first_attempt = 1;
        match self.replay.steps.get(&self.key(step)).cloned() {
            None => {}
            Some(StepRecord::Finished(done)) => match done.status {
                StepStatus::Ok | StepStatus::Skipped => return Ok(StepEnd::Ok),
                StepStatus::Failed | StepStatus::TimedOut if done.attempt < max_attempts => {
                    // Died between two attempts: the retry was planned anyway.
                    first_attempt = done.attempt + 1;
                }
                StepStatus::Failed | StepStatus::TimedOut => return Ok(StepEnd::Failed),
            },
            Some(StepRecord::Started(open)) => {
                let choice = match &step.step.kind {
                    // Asking again has no side effect; rollback is the
                    // one choice that means something else.
                    StepKind::Confirm(_)
                        if self.unknown_choice == Some(UnknownChoice::Rollback) =>
                    {
                        UnknownChoice::Rollback
                    }
                    StepKind::Confirm(_) => UnknownChoice::Retry,
                    _ => self.unknown_choice.unwrap_or(UnknownChoice::Retry),
                };
                match (choice, in_rollback) {
                    (UnknownChoice::Retry, _) | (UnknownChoice::Rollback, true) => {
                        first_attempt = open.attempt + 1;
                        // Hosts that finished it before the crash keep
                        // their result, a failure too (it counts against
                        // max_fail_percentage and the rollback as it would
                        // have); only the others run it again.
                        if let Some((attempt, hosts)) =
                            self.replay.hosts_done.remove(&self.key(step))
                            && attempt == open.attempt
                            && step.step.on != On::Local
                            && matches!(step.step.kind, StepKind::Run(_) | StepKind::Check(_))
                        {
                            let retry_failed = self.retry_failed;
                            self.target.already_done(
                                hosts
                                    .into_iter()
                                    .filter(|h| h.ok || !retry_failed)
                                    .collect(),
                            );
                        }
                    }
                    (UnknownChoice::Skip, _) => {
                        self.finish(step, open.attempt, StepStatus::Skipped, Default::default())?;
                        return Ok(StepEnd::Ok);
                    }
                    (UnknownChoice::Rollback, false) => {
                        let error =
                            "state unknown after a crash; the operator chose rollback".to_string();
                        let outcome = StepResult::error(error);
                        self.finish(step, open.attempt, StepStatus::Skipped, outcome)?;
                        return Ok(StepEnd::RollbackRequested);
                    }
                }
            }
        }
        match &step.step.kind {
            StepKind::Run(command) | StepKind::Check(command) => self.command_step(
                step,
                command,
                first_attempt,
                max_attempts.max(first_attempt),
            ),
            StepKind::Confirm(confirm) => {
                self.start(step, first_attempt)?;
                self.confirm_step(step, confirm, first_attempt)
            }
            StepKind::Probe(probe) => {
                self.start(step, first_attempt)?;
                self.probe_step(step, probe, first_attempt)
            }
            StepKind::Logoff(logoff) => {
                self.start(step, first_attempt)?;
                self.logoff_step(step, logoff, first_attempt)
            }
            StepKind::Backup(_) => {
                self.start(step, first_attempt)?;
                let started = Instant::now();
                let limits = Limits {
                    timeout: step.step.timeout,
                    abort: &self.abort,
                };
                let remote = (step.step.on != On::Local)
                    .then(|| {
                        self.target
                            .backup_files(&self.run_dir, &step.step.id, &step.paths, limits)
                    })
                    .flatten();
                let result = match remote {
                    Some(remote) => remote,
                    None => backup::backup(&self.run_dir, &step.step.id, &step.paths),
                };
                self.file_step(step, first_attempt, started, result)
            }
            StepKind::Restore(restore) => {
                self.start(step, first_attempt)?;
                let started = Instant::now();
                let limits = Limits {
                    timeout: step.step.timeout,
                    abort: &self.abort,
                };
                let remote = (step.step.on != On::Local)
                    .then(|| {
                        self.target
                            .restore_files(&self.run_dir, &restore.from, limits)
                    })
                    .flatten();
                if let Some(result) = remote {
                    return self.file_step(step, first_attempt, started, result);
                }
                let result = match self.replay.backup_files(&restore.from) {
                    Some(files) => backup::restore(&self.run_dir, files, &step.paths, self.secrets),
                    // The run failed before the backup: the files were not
                    // changed by this run, so there is nothing to put back.
                    None => {
                        let outcome = StepResult {
                            error: Some(format!(
                                "backup `{}` did not run in this run; nothing to restore",
                                restore.from
                            )),
                            duration: started.elapsed(),
                            ..Default::default()
                        };
                        self.finish(step, first_attempt, StepStatus::Skipped, outcome)?;
                        return Ok(StepEnd::Ok);
                    }
                };
                self.file_step(step, first_attempt, started, result)
            }
        }
    }

    fn start(&self, step: &PlannedStep, attempt: u32) -> Result<(), EngineError> {
        self.recorder.record(RunEvent::StepStarted(StepStarted {
            run_id: self.run_id.clone(),
            phase: step.phase.as_str().to_string(),
            step_id: step.step.id.clone(),
            ordinal: step.ordinal,
            attempt,
            attempts: match &step.step.kind {
                StepKind::Run(c) | StepKind::Check(c) => c.retries + 1,
                _ => 1,
            },
            kind: step.step.kind.name().to_string(),
            safety: step.step.safety.as_str().to_string(),
            command: step.display_command.clone(),
            batch: self.batch,
        }))
    }

    fn finish(
        &mut self,
        step: &PlannedStep,
        attempt: u32,
        status: StepStatus,
        o: StepResult,
    ) -> Result<(), EngineError> {
        let finished = StepFinished {
            run_id: self.run_id.clone(),
            phase: step.phase.as_str().to_string(),
            step_id: step.step.id.clone(),
            ordinal: step.ordinal,
            attempt,
            status,
            exit_code: o.exit_code,
            duration_ms: o.duration.as_millis() as u64,
            output_sha256: o.output_sha256,
            stdout_tail: o.stdout_tail,
            stderr_tail: o.stderr_tail,
            error: o.error.map(|e| redact(&e, self.secrets)),
            files: backup::redacted(o.files, self.secrets),
            hosts: o.hosts,
            batch: self.batch,
        };
        // Keep the replay current: a restore later in this run reads the
        // backup's files from it, exactly as a resumed run would.
        self.replay
            .steps
            .insert(self.key(step), StepRecord::Finished(finished.clone()));
        // Committed with whatever comes next (see `recorder`).
        self.recorder.defer(RunEvent::StepFinished(finished));
        Ok(())
    }

    fn command_step(
        &mut self,
        step: &PlannedStep,
        command: &Command,
        first_attempt: u32,
        max_attempts: u32,
    ) -> Result<StepEnd, EngineError> {
        // Values reach the shell through the environment, never as text.
        let line = step.exec_command.clone().unwrap_or_default();
        let has_regex = command.expect_stdout.is_some() || command.expect_stderr.is_some();
        let mut env = self.command_env.clone();
        env.push(("TEJUN_STEP_ID".to_string(), step.step.id.clone()));
        env.extend(step.env.iter().cloned());
        for attempt in first_attempt..=max_attempts {
            if attempt > first_attempt {
                // The failed attempt's end must not wait unwritten.
                self.recorder.flush()?;
                if !self.sleep_abortable(command.retry_delay) {
                    return Ok(StepEnd::Aborted);
                }
            }
            self.start(step, attempt)?;
            let live = crate::live::Lines::new(self.operator, self.secrets);
            let exec = Exec {
                command: &line,
                timeout: step.step.timeout,
                keep_bytes: if has_regex { KEEP_FOR_MATCH } else { KEEP_TAIL },
                env: &env,
                cwd: None,
                group_file: Some((
                    self.run_dir.join(crate::orphan::GROUP_FILE),
                    crate::orphan::tag(&step.step.id, attempt),
                )),
                on: step.step.on,
                live: Some(crate::target::LiveOutput(&|bytes| live.push(bytes))),
                host_view: self.operator.host_view(),
            };
            let executed = self.exec_journaling_hosts(step, attempt, &exec);
            live.finish();
            let (status, outcome, aborted) = match executed {
                Ok(done) => {
                    let verdict = evaluate(command, &done, step.step.timeout);
                    let status = match (&verdict, done.timed_out) {
                        (Ok(()), _) => StepStatus::Ok,
                        (Err(_), true) => StepStatus::TimedOut,
                        (Err(_), false) => StepStatus::Failed,
                    };
                    let aborted = done.aborted;
                    // Not the operator: the trigger watch tripped the abort.
                    // Once tripped the flag stays set, so a later kill after
                    // a signal (a second Ctrl-C in rollback) is the operator's.
                    let by_trigger = aborted && self.abort.is_tripped() && self.abort.count() == 0;
                    let error = match verdict {
                        Err(_) if by_trigger => {
                            Some("stopped: a trigger fired (command killed)".to_string())
                        }
                        verdict => verdict.err(),
                    };
                    (status, self.outcome_of(done, error), aborted)
                }
                Err(e) => (
                    StepStatus::Failed,
                    StepResult::error(format!("cannot start /bin/sh: {e}")),
                    false,
                ),
            };
            self.finish(step, attempt, status, outcome)?;
            if status == StepStatus::Ok {
                return Ok(StepEnd::Ok);
            }
            if aborted || self.abort.is_set() {
                return Ok(StepEnd::Aborted);
            }
        }
        Ok(StepEnd::Failed)
    }

    /// Runs `exec`; on a fleet, each host's result is journaled
    /// (`host.finished`) the moment that host is done, by a writer thread,
    /// so a crash mid-step loses no host's end.
    fn exec_journaling_hosts(
        &self,
        step: &PlannedStep,
        attempt: u32,
        exec: &Exec<'_>,
    ) -> std::io::Result<Executed> {
        if step.step.on == On::Local || self.target.hosts().is_empty() {
            return self.target.exec(exec, &self.abort);
        }
        let (tx, rx) = std::sync::mpsc::channel::<crate::events::HostStep>();
        let journal = self.recorder.journal;
        let (stream, refs, actor) = (
            &self.recorder.stream,
            &self.recorder.refs,
            &self.recorder.actor,
        );
        let (run_id, step_id, batch) = (&self.run_id, &step.step.id, self.batch);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                // Hosts finishing together are written in one transaction.
                while let Ok(first) = rx.recv() {
                    let results: Vec<_> = std::iter::once(first).chain(rx.try_iter()).collect();
                    let payloads: Vec<serde_json::Value> = results
                        .into_iter()
                        .map(|result| {
                            let event = crate::events::HostFinished {
                                run_id: run_id.clone(),
                                step_id: step_id.clone(),
                                batch,
                                attempt,
                                result,
                            };
                            serde_json::to_value(&event).unwrap_or_default()
                        })
                        .collect();
                    let events: Vec<tejun_journal::NewEvent<'_>> = payloads
                        .iter()
                        .map(|payload| tejun_journal::NewEvent {
                            stream,
                            refs,
                            kind: crate::events::HOST_FINISHED,
                            actor,
                            payload,
                            ts: None,
                        })
                        .collect();
                    // Best effort: the step's own end records every host too.
                    let _ = journal.append_all(&events);
                }
            });
            self.target.host_results(Some(tx));
            let executed = self.target.exec(exec, &self.abort);
            // Dropping the sender ends the writer.
            self.target.host_results(None);
            executed
        })
    }

    /// Sleeps `delay` unless aborted first; false when aborted.
    fn sleep_abortable(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if self.abort.is_set() {
                return false;
            }
            std::thread::sleep(
                until
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(50)),
            );
        }
        !self.abort.is_set()
    }

    fn outcome_of(&self, done: Executed, error: Option<String>) -> StepResult {
        StepResult {
            exit_code: done.exit_code,
            duration: done.duration,
            output_sha256: Some(done.output_sha256),
            stdout_tail: journal_tail(&redact(&done.stdout.tail_text(), self.secrets)),
            stderr_tail: journal_tail(&redact(&done.stderr.tail_text(), self.secrets)),
            error,
            files: Vec::new(),
            hosts: done.hosts,
        }
    }

    fn confirm_step(
        &mut self,
        step: &PlannedStep,
        confirm: &tejun_runbook::model::Confirm,
        attempt: u32,
    ) -> Result<StepEnd, EngineError> {
        let started = Instant::now();
        let prompt = redact(step.prompt.as_deref().unwrap_or(""), self.secrets);
        let (answer, auto) = if self.interactive {
            let request = ConfirmRequest {
                step_id: &step.step.id,
                name: step.step.name.as_deref(),
                prompt: &prompt,
                evidence_required: confirm.evidence_required,
                phase: step.phase.as_str(),
            };
            loop {
                let before = self.abort.count();
                let tripped_before = self.abort.is_tripped();
                let answer = self.operator.confirm(&request);
                // Ctrl-C at the prompt of a phase that only notes it (rollback,
                // exit): the question stays.
                if answer.is_none() && !self.abort.is_set() && self.abort.count() > before {
                    self.note_signals(step.phase.as_str());
                    continue;
                }
                // A trigger firing stops the prompt of the work (the abort is
                // set); rollback and exit do not stop for it: ask again.
                if answer.is_none()
                    && !self.abort.is_set()
                    && !tripped_before
                    && self.abort.is_tripped()
                {
                    continue;
                }
                break (answer, false);
            }
        } else {
            let auto = confirm.auto.map(|verdict| Answer {
                verdict,
                evidence: Some(
                    "answered automatically (non-interactive run, `auto:` in the runbook)"
                        .to_string(),
                ),
            });
            (auto, true)
        };
        if self.abort.is_set() {
            // Ctrl-C while the question was open: an abort, not an answer.
            return Ok(StepEnd::Aborted);
        }
        let Some(answer) = answer else {
            return Ok(StepEnd::Paused("unanswered".to_string()));
        };
        self.recorder
            .record(RunEvent::StepConfirmed(StepConfirmed {
                run_id: self.run_id.clone(),
                phase: step.phase.as_str().to_string(),
                step_id: step.step.id.clone(),
                ordinal: step.ordinal,
                who: self.recorder.actor.clone(),
                answer: verdict_name(answer.verdict).to_string(),
                evidence: answer.evidence.as_deref().map(|e| redact(e, self.secrets)),
                auto,
            }))?;
        let outcome = StepResult {
            duration: started.elapsed(),
            ..Default::default()
        };
        match answer.verdict {
            Verdict::Ok => {
                self.finish(step, attempt, StepStatus::Ok, outcome)?;
                Ok(StepEnd::Ok)
            }
            Verdict::Abnormal => {
                let outcome = StepResult {
                    error: Some("answered abnormal (異常)".to_string()),
                    ..outcome
                };
                self.finish(step, attempt, StepStatus::Failed, outcome)?;
                Ok(StepEnd::Failed)
            }
            Verdict::Pending => Ok(StepEnd::Paused("pending".to_string())),
        }
    }

    /// `probe:` asks once; `wait_for:` asks every `interval` until the
    /// probe is as wanted or `timeout` passes. Every answer is journaled.
    fn probe_step(
        &mut self,
        step: &PlannedStep,
        probe: &ProbeStep,
        attempt: u32,
    ) -> Result<StepEnd, EngineError> {
        let started = Instant::now();
        let Some(spec) = self.plan.probes.get(&probe.probe) else {
            let outcome = StepResult::error(format!("no probe named `{}`", probe.probe));
            self.finish(step, attempt, StepStatus::Failed, outcome)?;
            return Ok(StepEnd::Failed);
        };
        let want = probe.gate.is_none_or(|g| g.healthy);
        let mut env = self.command_env.clone();
        env.push(("TEJUN_STEP_ID".to_string(), step.step.id.clone()));
        loop {
            let answers = self.ask_probe(step, spec, &env)?;
            if self.abort.is_set() {
                return Ok(StepEnd::Aborted);
            }
            // Healthy when every host answered healthy (`healthy_if: any`:
            // when one did).
            let healthy = spec.healthy_if.holds(answers.iter().map(|a| a.answer.ok));
            let last = describe_answers(&answers);
            let gate = match probe.gate {
                Some(gate) if healthy != want && started.elapsed() < gate.timeout => gate,
                gate => {
                    let status = if healthy == want {
                        StepStatus::Ok
                    } else {
                        StepStatus::Failed
                    };
                    let error = (status == StepStatus::Failed).then(|| match gate {
                        Some(g) => format!(
                            "probe `{}` not {} after {}s (last: {last})",
                            spec.name,
                            if want { "healthy" } else { "unhealthy" },
                            g.timeout.as_secs_f64()
                        ),
                        None => format!("probe `{}` unhealthy: {last}", spec.name),
                    });
                    let outcome = StepResult {
                        duration: started.elapsed(),
                        error: error.map(|e| redact(&e, self.secrets)),
                        ..Default::default()
                    };
                    self.finish(step, attempt, status, outcome)?;
                    return Ok(if status == StepStatus::Ok {
                        StepEnd::Ok
                    } else {
                        StepEnd::Failed
                    });
                }
            };
            let left = gate.timeout.saturating_sub(started.elapsed());
            if !self.sleep_abortable(gate.interval.min(left)) {
                return Ok(StepEnd::Aborted);
            }
        }
    }

    /// Asks `spec` once (from where its `from:` says), journaling every
    /// answer.
    fn ask_probe(
        &mut self,
        step: &PlannedStep,
        spec: &tejun_probe::ProbeSpec,
        env: &[(String, String)],
    ) -> Result<Vec<crate::probe::HostAnswer>, EngineError> {
        let answers = crate::probe::ask_from(spec, self.target, env, &self.abort);
        for crate::probe::HostAnswer { host, answer } in &answers {
            self.recorder.record(RunEvent::ProbeResult(ProbeResult {
                run_id: self.run_id.clone(),
                step_id: step.step.id.clone(),
                probe: spec.name.clone(),
                ok: answer.ok,
                latency_ms: answer.latency.as_millis() as u64,
                value: answer.value,
                error: answer.error.as_deref().map(|e| redact(e, self.secrets)),
                host: host.clone(),
            }))?;
        }
        Ok(answers)
    }

    /// `logoff:` closes the run's connection to every host, fails while
    /// a session of the user is left on one (naming each), and once all
    /// are logged off asks `then_probe` ("from another client").
    fn logoff_step(
        &mut self,
        step: &PlannedStep,
        logoff: &tejun_runbook::model::Logoff,
        attempt: u32,
    ) -> Result<StepEnd, EngineError> {
        let started = Instant::now();
        let limits = Limits {
            timeout: step.step.timeout,
            abort: &self.abort,
        };
        let Some(found) = self.target.logoff(logoff.user.as_deref(), limits) else {
            let outcome = StepResult::error("`logoff:` needs a runbook with `hosts:`".to_string());
            self.finish(step, attempt, StepStatus::Failed, outcome)?;
            return Ok(StepEnd::Failed);
        };
        let mut problems = Vec::new();
        let mut lines = String::new();
        let mut hosts = Vec::new();
        for host in &found {
            self.recorder
                .record(RunEvent::LogoffChecked(crate::events::LogoffChecked {
                    run_id: self.run_id.clone(),
                    step_id: step.step.id.clone(),
                    host: host.host.clone(),
                    user: host.user.clone(),
                    sessions: host.sessions.clone(),
                    error: host.error.clone(),
                }))?;
            let problem = match &host.error {
                Some(e) => Some(format!("{}: {e}", host.host)),
                None if !host.sessions.is_empty() => Some(format!(
                    "{}: not logged off: {} session(s) of {} still open: {}",
                    host.host,
                    host.sessions.len(),
                    host.user,
                    host.sessions
                        .iter()
                        .map(crate::logoff::HostLogoff::describe)
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
                None => None,
            };
            lines.push_str(&match &problem {
                Some(p) => format!("[{}] {}\n", host.host, p),
                None => format!(
                    "[{}] logged off: no session of {} left\n",
                    host.host, host.user
                ),
            });
            hosts.push(crate::events::HostStep {
                host: host.host.clone(),
                ok: problem.is_none(),
                exit_code: None,
                timed_out: false,
                duration_ms: host.duration.as_millis() as u64,
                error: problem.clone(),
            });
            problems.extend(problem);
        }
        if self.abort.is_set() {
            return Ok(StepEnd::Aborted);
        }
        if problems.is_empty()
            && let Some((name, _)) = &logoff.then_probe
        {
            match self.plan.probes.get(name) {
                None => problems.push(format!("no probe named `{name}`")),
                Some(spec) => {
                    let mut env = self.command_env.clone();
                    env.push(("TEJUN_STEP_ID".to_string(), step.step.id.clone()));
                    let answers = self.ask_probe(step, spec, &env)?;
                    let healthy = spec.healthy_if.holds(answers.iter().map(|a| a.answer.ok));
                    let last = describe_answers(&answers);
                    if healthy {
                        lines.push_str(&format!("probe `{name}`: {last}\n"));
                    } else {
                        problems.push(format!(
                            "logged off, but probe `{name}` (another client) is unhealthy: {last}"
                        ));
                    }
                }
            }
        }
        let status = if problems.is_empty() {
            StepStatus::Ok
        } else {
            StepStatus::Failed
        };
        let outcome = StepResult {
            duration: started.elapsed(),
            stdout_tail: journal_tail(&redact(&lines, self.secrets)),
            error: (!problems.is_empty()).then(|| redact(&problems.join("; "), self.secrets)),
            hosts,
            ..Default::default()
        };
        self.finish(step, attempt, status, outcome)?;
        Ok(if status == StepStatus::Ok {
            StepEnd::Ok
        } else {
            StepEnd::Failed
        })
    }

    fn file_step(
        &mut self,
        step: &PlannedStep,
        attempt: u32,
        started: Instant,
        result: Result<Vec<FileRecord>, String>,
    ) -> Result<StepEnd, EngineError> {
        let (status, files, error) = match result {
            Ok(files) => (StepStatus::Ok, files, None),
            Err(e) => (StepStatus::Failed, Vec::new(), Some(e)),
        };
        let outcome = StepResult {
            duration: started.elapsed(),
            error,
            files,
            ..Default::default()
        };
        self.finish(step, attempt, status, outcome)?;
        Ok(if status == StepStatus::Ok {
            StepEnd::Ok
        } else if self.abort.is_set() {
            // A remote copy stopped by Ctrl-C: an abort, not a failure.
            StepEnd::Aborted
        } else {
            StepEnd::Failed
        })
    }
}

/// Whether a change step runs in every batch of a rollout. `on: once` runs
/// once per run, and a backup on this machine is taken once (a later
/// batch would overwrite it with already-changed files); the rest runs on
/// each batch's hosts.
fn runs_every_batch(step: &PlannedStep) -> bool {
    match step.step.on {
        On::Once => false,
        On::Local => !matches!(step.step.kind, StepKind::Backup(_)),
        On::Each => true,
    }
}

/// What a probe's answers say, for the step's error: each unhealthy
/// host's error (`web-1: HTTP status 502`), or the latency when healthy.
fn describe_answers(answers: &[crate::probe::HostAnswer]) -> String {
    let bad: Vec<String> = answers
        .iter()
        .filter(|a| !a.answer.ok)
        .map(|a| {
            let error = a.answer.error.as_deref().unwrap_or("unhealthy");
            match &a.host {
                Some(host) => format!("{host}: {error}"),
                None => error.to_string(),
            }
        })
        .collect();
    if bad.is_empty() {
        let slowest = answers
            .iter()
            .map(|a| a.answer.latency)
            .max()
            .unwrap_or_default();
        format!("healthy in {}ms", slowest.as_millis())
    } else {
        bad.join("; ")
    }
}

/// The parts of `step.finished` a step produces.
#[derive(Debug, Default)]
struct StepResult {
    exit_code: Option<i32>,
    duration: Duration,
    output_sha256: Option<String>,
    stdout_tail: String,
    stderr_tail: String,
    error: Option<String>,
    files: Vec<FileRecord>,
    hosts: Vec<crate::events::HostStep>,
}

impl StepResult {
    fn error(error: String) -> StepResult {
        StepResult {
            error: Some(error),
            ..Default::default()
        }
    }
}

pub fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Abnormal => "abnormal",
        Verdict::Pending => "pending",
    }
}

/// Whether a finished command met its expectations; the reason when not.
fn evaluate(command: &Command, done: &Executed, timeout: Duration) -> Result<(), String> {
    if done.aborted {
        return Err("aborted by the operator (command killed)".to_string());
    }
    if done.timed_out {
        return Err(format!(
            "timed out after {}s (process group killed)",
            timeout.as_secs_f64()
        ));
    }
    let Some(code) = done.exit_code else {
        return Err(format!("killed by signal {}", done.signal.unwrap_or(0)));
    };
    if !command.expect_exit.contains(&code) {
        let expected: Vec<String> = command.expect_exit.iter().map(i32::to_string).collect();
        return Err(format!(
            "exit code {code}, expected {}",
            expected.join(" or ")
        ));
    }
    for (stream, pattern, capture) in [
        ("stdout", &command.expect_stdout, &done.stdout),
        ("stderr", &command.expect_stderr, &done.stderr),
    ] {
        if let Some(pattern) = pattern {
            let regex = Regex::new(pattern).map_err(|e| format!("invalid {stream} regex: {e}"))?;
            if !regex.is_match(&capture.tail_text()) {
                return Err(format!("{stream} did not match /{pattern}/"));
            }
        }
    }
    Ok(())
}

/// The last lines of `text`, bounded in lines and bytes.
fn journal_tail(text: &str) -> String {
    let mut start = text.len().saturating_sub(JOURNAL_TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let tail = &text[start..];
    let lines: Vec<&str> = tail.lines().collect();
    let keep = &lines[lines.len().saturating_sub(JOURNAL_TAIL_LINES)..];
    keep.join("\n")
}
