//! A run over several hosts: [`FleetTarget`] is the [`Target`] the runner
//! drives when a runbook has `hosts:`. Each step goes where its `on:` says
//! (every active host in parallel, one host, or the controller); the
//! runner moves the active set batch by batch (`rollout:`), to the hosts
//! that changed for the rollback, and to every host for the exit phase.
//!
//! One step over many hosts is one journal step: its result is the hosts'
//! results together (ok only when enough hosts succeeded, see
//! `max_fail_percentage`), with each host's own line in
//! [`Executed::hosts`] → `step.finished.hosts`.

use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use tejun_runbook::fleet::{DEFAULT_FORKS, On, RollbackScope, Rollout, plan_batches};

use crate::abort::AbortSignal;
use crate::capture::{Capture, combined_sha256};
use crate::events::{FileRecord, FleetStarted, HostError, HostStep, StepStatus};
use crate::replay::{Replay, StepRecord};
use crate::target::{Exec, Executed, Limits, LocalTarget, SshError, SshTarget, Target};

/// Decides whether a batch may be followed by the next one (probes plug in
/// here; the default has no gate).
pub trait HealthGate: Send + Sync {
    /// `Err(why)` stops the rollout and rolls back the hosts that changed.
    fn check(&self, batch: &[String]) -> Result<(), String>;
}

/// Which hosts the next steps run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Batch `n` of the rollout (0: the canary).
    Batch(usize),
    /// The hosts that may have changed, for the rollback: every host of
    /// the batches run so far (`rollout.rollback: all`), or only the last
    /// batch's (`batch`).
    Changed,
    /// Every host (pre checks, the exit phase).
    All,
}

pub struct FleetTarget {
    hosts: Vec<SshTarget>,
    /// Per host: `TEJUN_HOST` and `TEJUN_HOST_<VAR>` for its inventory vars.
    host_env: Vec<Vec<(String, String)>>,
    batches: Vec<Range<usize>>,
    forks: usize,
    max_fail_percentage: u32,
    scope: RollbackScope,
    gate: Option<Box<dyn HealthGate>>,
    /// Hosts only probes ask from (`from:` outside `hosts:`).
    probe_only: Vec<SshTarget>,
    /// Each probe `from:` selector and the host names it stands for.
    probe_selectors: Vec<(String, Vec<String>)>,
    state: Mutex<State>,
}

struct State {
    active: Vec<usize>,
    /// Hosts dropped after failing within `max_fail_percentage`: they
    /// leave the rollout's batches, not the rollback or the exit phase.
    failed: Vec<bool>,
    /// Hosts whose rollback failed a step: the rest of the rollback goes
    /// on without them (the run ends rollback-failed all the same).
    rollback_failed: Vec<bool>,
    /// Hosts that could not be reached when the run started, with why:
    /// nothing runs on them; each counts as failed in its batch.
    unreachable: Vec<Option<String>>,
    /// The last batch started (for `Changed`).
    reached: Option<usize>,
    /// What the last `select` chose: `max_fail_percentage` is a rollout
    /// tolerance and applies only to a batch, never to the rollback or the
    /// exit phase (a host failing there must fail the step).
    selection: Selection,
    /// Backups taken in this run: (step id, host index) → its files, with
    /// the real (unredacted) remote paths.
    backups: Vec<(String, usize, Vec<FileRecord>)>,
    /// Where a host's result goes as soon as it is done.
    sink: Option<std::sync::mpsc::Sender<HostStep>>,
    /// Hosts that finished the next step before a crash (see `already_done`).
    done: Vec<HostStep>,
}

impl FleetTarget {
    /// `hosts` with their inventory vars, in order; the rollout decides the
    /// batches.
    pub fn new(
        hosts: Vec<SshTarget>,
        vars: &[IndexMap<String, String>],
        rollout: Option<&Rollout>,
        gate: Option<Box<dyn HealthGate>>,
    ) -> FleetTarget {
        let rollout = rollout.cloned().unwrap_or_default();
        let batches = plan_batches(&rollout.serial, hosts.len());
        let widest = batches.iter().map(|b| b.len()).max().unwrap_or(1);
        let forks = match rollout.forks {
            0 => widest.min(DEFAULT_FORKS),
            n => n as usize,
        }
        .max(1);
        let host_env = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let mut env = vec![("TEJUN_HOST".to_string(), h.name().to_string())];
                if let Some(vars) = vars.get(i) {
                    for (name, value) in vars {
                        env.push((format!("TEJUN_HOST_{}", env_suffix(name)), value.clone()));
                    }
                }
                env
            })
            .collect();
        let n = hosts.len();
        FleetTarget {
            hosts,
            host_env,
            batches,
            forks,
            max_fail_percentage: rollout.max_fail_percentage,
            scope: rollout.rollback,
            gate,
            probe_only: Vec::new(),
            probe_selectors: Vec::new(),
            state: Mutex::new(State {
                active: (0..n).collect(),
                failed: vec![false; n],
                rollback_failed: vec![false; n],
                unreachable: vec![None; n],
                reached: None,
                selection: Selection::All,
                backups: Vec::new(),
                sink: None,
                done: Vec::new(),
            }),
        }
    }

    /// Adds hosts that probes ask from without running steps there
    /// (connected and closed with the others).
    pub fn with_probe_hosts(
        mut self,
        hosts: Vec<SshTarget>,
        selectors: Vec<(String, Vec<String>)>,
    ) -> FleetTarget {
        self.probe_only = hosts;
        self.probe_selectors = selectors;
        self
    }

    pub fn host_names(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.name().to_string()).collect()
    }

    /// Opens every host's connection, all at once (not to a host already
    /// marked unreachable); the hosts that cannot be reached, each with why.
    pub fn connect_all(&self) -> Vec<SshError> {
        let left_out: Vec<bool> = self
            .state()
            .unreachable
            .iter()
            .map(Option::is_some)
            .collect();
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .hosts
                .iter()
                .zip(left_out)
                .filter(|(_, out)| !out)
                .map(|(h, _)| h)
                .chain(&self.probe_only)
                .map(|h| scope.spawn(move || h.connect()))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().and_then(Result::err))
                .collect()
        })
    }

    /// Records that `host` could not be reached: no step runs there, and
    /// it counts as failed in its batch.
    pub fn mark_unreachable(&self, host: &str, why: &str) {
        if let Some(i) = self.hosts.iter().position(|h| h.name() == host) {
            self.state().unreachable[i] = Some(why.to_string());
        }
    }

    /// The first batch (1-based) whose unreachable hosts are more than
    /// `max_fail_percentage` allows, with how many of how many: such a run
    /// would fail there for sure, so it is refused before anything runs.
    pub fn intolerable_batch(&self) -> Option<(usize, usize, usize)> {
        let state = self.state();
        self.batches.iter().enumerate().find_map(|(n, batch)| {
            let down = batch
                .clone()
                .filter(|&i| state.unreachable[i].is_some())
                .count();
            let size = batch.len();
            let tolerated = down * 100 <= self.max_fail_percentage as usize * size && down < size;
            (down > 0 && !tolerated).then_some((n + 1, down, size))
        })
    }

    /// Ends every master connection.
    /// Ends the masters a crashed tejun left in its control directory
    /// `dir`, for every host of the run.
    pub fn close_leftovers(&self, dir: &std::path::Path) {
        for h in self.hosts.iter().chain(&self.probe_only) {
            h.close_leftover(dir);
        }
    }

    pub fn close_all(&self) {
        for h in self.hosts.iter().chain(&self.probe_only) {
            h.close();
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `exec` on the hosts `on` picks from the active set.
    fn fan_out(&self, exec: &Exec<'_>, abort: &AbortSignal) -> io::Result<Executed> {
        let started = Instant::now();
        let (selection, sink, done) = {
            let mut state = self.state();
            (
                state.selection,
                state.sink.clone(),
                std::mem::take(&mut state.done),
            )
        };
        let finished_before = |i: usize| done.iter().any(|d| d.host == self.hosts[i].name());
        let targets: Vec<usize> = {
            let live = self.live_hosts();
            match exec.on {
                On::Once => live.into_iter().take(1).collect(),
                _ => live,
            }
        };
        let carried: Vec<HostStep> = targets
            .iter()
            .filter_map(|&i| done.iter().find(|d| d.host == self.hosts[i].name()))
            .cloned()
            .collect();
        let targets: Vec<usize> = targets
            .into_iter()
            .filter(|&i| !finished_before(i))
            .collect();
        // A batch's unreachable hosts fail its first step that runs on
        // every host: counted against `max_fail_percentage`, then gone.
        let absent: Vec<(usize, String)> = {
            let state = self.state();
            match (selection, exec.on) {
                (Selection::Batch(_), On::Each) => state
                    .active
                    .iter()
                    .filter(|&&i| !state.failed[i])
                    .filter_map(|&i| state.unreachable[i].clone().map(|why| (i, why)))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let mut results: Vec<Option<io::Result<Executed>>> = Vec::new();
        results.resize_with(targets.len(), || None);
        for chunk in targets
            .chunks(self.forks)
            .zip(results.chunks_mut(self.forks))
        {
            let (indices, slots) = chunk;
            // Hosts run in parallel: their output is shown per host when
            // the step ends, not live (the live callback is one terminal's).
            let (command, timeout, keep_bytes, on, view) = (
                exec.command,
                exec.timeout,
                exec.keep_bytes,
                exec.on,
                exec.host_view,
            );
            let cwd = &exec.cwd;
            let group_file = &exec.group_file;
            std::thread::scope(|scope| {
                for (&i, slot) in indices.iter().zip(slots.iter_mut()) {
                    let host = &self.hosts[i];
                    let mut env: Vec<(String, String)> = exec.env.to_vec();
                    env.extend(self.host_env[i].iter().cloned());
                    let sink = sink.clone();
                    scope.spawn(move || {
                        let one = Exec {
                            command,
                            timeout,
                            keep_bytes,
                            env: &env,
                            cwd: cwd.clone(),
                            group_file: group_file.clone(),
                            on,
                            live: None,
                            host_view: None,
                        };
                        if let Some(view) = view {
                            view.host_started(host.name());
                        }
                        let started = Instant::now();
                        let result = host.exec(&one, abort);
                        if let Some(view) = view {
                            let ok = result.as_ref().is_ok_and(|d| {
                                d.exit_code == Some(0) && !d.timed_out && !d.aborted
                            });
                            view.host_finished(host.name(), ok, started.elapsed());
                        }
                        if let Some(sink) = sink {
                            let _ = sink.send(host_step(host.name(), &result));
                        }
                        *slot = Some(result);
                    });
                }
            });
        }
        let mut out = Capture::new(exec.keep_bytes, false);
        let mut err = Capture::new(exec.keep_bytes, true);
        let mut hosts = Vec::new();
        let mut failures = Vec::new();
        let (mut timed_out, mut aborted) = (false, false);
        let mut first_bad_code = None;
        for step in carried {
            push_prefixed(
                &mut out,
                &step.host,
                "(finished before tejun stopped; not run again)",
            );
            if !step.ok {
                first_bad_code = first_bad_code.or(step.exit_code).or(Some(1));
                if let Some(i) = self.index_of(&step.host) {
                    failures.push(i);
                }
            }
            hosts.push(step);
        }
        for (&i, result) in targets.iter().zip(results) {
            let name = self.hosts[i].name().to_string();
            let result = result.unwrap_or_else(|| Err(io::Error::other("no result")));
            let step = host_step(&name, &result);
            match &result {
                Ok(done) => {
                    timed_out |= done.timed_out;
                    aborted |= done.aborted;
                    push_prefixed(&mut out, &name, &done.stdout.tail_text());
                    push_prefixed(&mut err, &name, &done.stderr.tail_text());
                    if !step.ok {
                        first_bad_code = first_bad_code.or(done.exit_code).or(Some(1));
                    }
                }
                Err(e) => {
                    first_bad_code = first_bad_code.or(Some(255));
                    push_prefixed(&mut err, &name, &e.to_string());
                }
            }
            if !step.ok {
                failures.push(i);
            }
            hosts.push(step);
        }
        for (i, why) in &absent {
            let name = self.hosts[*i].name().to_string();
            let error = format!("unreachable since the run started: {why}");
            push_prefixed(&mut err, &name, &error);
            first_bad_code = first_bad_code.or(Some(255));
            failures.push(*i);
            hosts.push(HostStep {
                host: name,
                ok: false,
                exit_code: None,
                timed_out: false,
                duration_ms: 0,
                error: Some(error),
            });
        }
        if selection == Selection::Changed {
            let mut state = self.state();
            for &i in &failures {
                state.rollback_failed[i] = true;
            }
        }
        // Inventory order, whichever way each host's result came.
        hosts.sort_by_key(|h| self.index_of(&h.host));
        let counted = hosts.len();
        // Within max_fail_percentage the failed hosts leave the run and the
        // step counts as done; beyond it the step failed. Only a rollout
        // batch tolerates failures: a host failing a rollback or exit step
        // must fail the step, or the run would end rolled-back (or clean)
        // with that host still changed (or left uncleanly).
        let tolerated = matches!(selection, Selection::Batch(_))
            && counted > 0
            && (failures.len() * 100) as u64
                <= u64::from(self.max_fail_percentage) * counted as u64
            && failures.len() < counted;
        let exit_code = if failures.is_empty() || tolerated {
            if !failures.is_empty() {
                let mut state = self.state();
                for &i in &failures {
                    state.failed[i] = true;
                }
            }
            Some(0)
        } else {
            first_bad_code
        };
        let output_sha256 = combined_sha256(&out, &mut err);
        Ok(Executed {
            exit_code,
            signal: None,
            timed_out: timed_out && exit_code != Some(0),
            aborted,
            duration: started.elapsed(),
            output_sha256,
            stdout: out,
            stderr: err,
            hosts,
        })
    }
}

impl FleetTarget {
    /// The active hosts a step runs on: never an unreachable one, in a
    /// batch not one that left the rollout (rollback and the exit phase
    /// go to those too), in the rollback not one whose rollback failed.
    fn live_hosts(&self) -> Vec<usize> {
        let state = self.state();
        let batch = matches!(state.selection, Selection::Batch(_));
        let rollback = state.selection == Selection::Changed;
        state
            .active
            .iter()
            .copied()
            .filter(|&i| {
                state.unreachable[i].is_none()
                    && !(batch && state.failed[i])
                    && !(rollback && state.rollback_failed[i])
            })
            .collect()
    }

    fn index_of(&self, host: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name() == host)
    }
}

impl Target for FleetTarget {
    fn name(&self) -> &str {
        "fleet"
    }

    fn exec(&self, exec: &Exec<'_>, abort: &AbortSignal) -> io::Result<Executed> {
        match exec.on {
            On::Local => LocalTarget.exec(exec, abort),
            On::Each | On::Once => self.fan_out(exec, abort),
        }
    }

    fn batches(&self) -> usize {
        self.batches.len().max(1)
    }

    fn hosts(&self) -> Vec<String> {
        self.host_names()
    }

    fn active_hosts(&self) -> Vec<String> {
        self.live_hosts()
            .into_iter()
            .map(|i| self.hosts[i].name().to_string())
            .collect()
    }

    fn fleet_started(&self, run_id: &str) -> Option<FleetStarted> {
        let state = self.state();
        Some(FleetStarted {
            run_id: run_id.to_string(),
            hosts: self.host_names(),
            batches: self
                .batches
                .iter()
                .map(|b| {
                    b.clone()
                        .map(|i| self.hosts[i].name().to_string())
                        .collect()
                })
                .collect(),
            unreachable: state
                .unreachable
                .iter()
                .enumerate()
                .filter_map(|(i, why)| {
                    why.as_ref().map(|why| HostError {
                        host: self.hosts[i].name().to_string(),
                        error: why.clone(),
                    })
                })
                .collect(),
        })
    }

    /// A resumed run: which batches were reached, which hosts left the
    /// rollout within `max_fail_percentage`, and which files each host's
    /// backups hold, all from the journal.
    fn replayed(&self, replay: &Replay) {
        let mut state = self.state();
        state.backups.clear();
        for record in replay.steps.values() {
            let (batch, finished) = match record {
                StepRecord::Started(s) => (s.batch, None),
                StepRecord::Finished(f) => (f.batch, Some(f)),
            };
            if let Some(b) = batch.filter(|b| *b >= 1) {
                let n = b as usize - 1;
                state.reached = Some(state.reached.map_or(n, |r| r.max(n)));
            }
            let Some(finished) = finished else { continue };
            let passed = matches!(finished.status, StepStatus::Ok | StepStatus::Skipped);
            if passed && finished.batch.is_some() {
                for host in finished.hosts.iter().filter(|h| !h.ok) {
                    if let Some(i) = self.index_of(&host.host) {
                        state.failed[i] = true;
                    }
                }
            }
            if finished.status == StepStatus::Ok && finished.phase != "rollback" {
                for record in &finished.files {
                    let Some((host, _)) = record.path.split_once(':') else {
                        continue;
                    };
                    let Some(i) = self.index_of(host) else {
                        continue;
                    };
                    let step = finished.step_id.clone();
                    match state
                        .backups
                        .iter_mut()
                        .find(|(s, h, _)| *s == step && *h == i)
                    {
                        Some((_, _, records)) => records.push(record.clone()),
                        None => state.backups.push((step, i, vec![record.clone()])),
                    }
                }
            }
        }
    }

    fn probe_hosts(&self, from: &tejun_probe::ProbeFrom) -> Result<Vec<&dyn Target>, String> {
        use tejun_probe::ProbeFrom;
        match from {
            ProbeFrom::Controller => Ok(Vec::new()),
            ProbeFrom::Each => Ok(self
                .live_hosts()
                .into_iter()
                .map(|i| &self.hosts[i] as &dyn Target)
                .collect()),
            ProbeFrom::Host(selector) => {
                let names = self
                    .probe_selectors
                    .iter()
                    .find(|(s, _)| s == selector)
                    .map(|(_, names)| names.as_slice())
                    .unwrap_or_default();
                let found: Vec<&dyn Target> = names
                    .iter()
                    .filter_map(|name| {
                        self.hosts
                            .iter()
                            .chain(&self.probe_only)
                            .find(|h| h.name() == name)
                    })
                    .map(|h| h as &dyn Target)
                    .collect();
                if found.is_empty() {
                    Err(format!(
                        "`from: {selector}` names no connected host of this run"
                    ))
                } else {
                    Ok(found)
                }
            }
        }
    }

    fn host_results(&self, sink: Option<std::sync::mpsc::Sender<HostStep>>) {
        self.state().sink = sink;
    }

    fn stop_leftovers(&self, group_file: &Path, tag: &str) -> Vec<(String, u32)> {
        let reachable: Vec<&SshTarget> = {
            let state = self.state();
            self.hosts
                .iter()
                .enumerate()
                .filter(|(i, _)| state.unreachable[*i].is_none())
                .map(|(_, h)| h)
                .collect()
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = reachable
                .into_iter()
                .map(|h| {
                    scope.spawn(move || {
                        h.stop_leftover(group_file, tag)
                            .map(|g| (h.name().to_string(), g))
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().flatten())
                .collect()
        })
    }

    fn already_done(&self, done: Vec<HostStep>) {
        self.state().done = done;
    }

    fn select(&self, selection: Selection) {
        let mut state = self.state();
        state.selection = selection;
        state.active = match selection {
            Selection::Batch(n) => {
                state.reached = Some(state.reached.map_or(n, |r| r.max(n)));
                self.batches.get(n).cloned().unwrap_or(0..0).collect()
            }
            Selection::Changed => match (state.reached, self.scope) {
                (Some(n), RollbackScope::All) => {
                    (0..self.batches.get(n).map_or(0, |b| b.end)).collect()
                }
                (Some(n), RollbackScope::Batch) => {
                    self.batches.get(n).cloned().unwrap_or(0..0).collect()
                }
                (None, _) => Vec::new(),
            },
            Selection::All => (0..self.hosts.len()).collect(),
        };
    }

    fn backup_files(
        &self,
        run_dir: &Path,
        step_id: &str,
        paths: &[String],
        limits: Limits<'_>,
    ) -> Option<Result<Vec<FileRecord>, String>> {
        let active = self.live_hosts();
        let mut all = Vec::new();
        for i in active {
            // Once per host: a host backed up already keeps its first copy.
            let taken = self
                .state()
                .backups
                .iter()
                .any(|(step, h, _)| step == step_id && *h == i);
            if taken {
                continue;
            }
            let host = &self.hosts[i];
            let mut records = Vec::new();
            for path in paths {
                let result = host
                    .fetch(path, limits.timeout, limits.abort)
                    .map_err(|e| format!("cannot back up {e}"));
                let (bytes, mode) = match result {
                    Ok(fetched) => fetched,
                    Err(e) => return Some(Err(e)),
                };
                let sha256 = hex::encode(Sha256::digest(&bytes));
                let relative = Path::new("backup")
                    .join(step_id)
                    .join(host.name())
                    .join(&sha256);
                let write = || -> io::Result<()> {
                    let target = run_dir.join(&relative);
                    std::fs::create_dir_all(target.parent().unwrap_or(run_dir))?;
                    let partial = target.with_extension("partial");
                    std::fs::write(&partial, &bytes)?;
                    std::fs::rename(&partial, &target)
                };
                if let Err(e) = write() {
                    return Some(Err(format!(
                        "cannot store the backup of {}:{path}: {e}",
                        host.name()
                    )));
                }
                records.push(FileRecord {
                    path: format!("{}:{path}", host.name()),
                    backup: relative.display().to_string(),
                    sha256,
                    size: bytes.len() as u64,
                    mode,
                });
            }
            all.extend(records.iter().cloned());
            self.state().backups.push((step_id.to_string(), i, records));
        }
        Some(Ok(all))
    }

    fn restore_files(
        &self,
        run_dir: &Path,
        from: &str,
        limits: Limits<'_>,
    ) -> Option<Result<Vec<FileRecord>, String>> {
        let active = self.live_hosts();
        let backups: Vec<(usize, Vec<FileRecord>)> = self
            .state()
            .backups
            .iter()
            .filter(|(step, i, _)| step == from && active.contains(i))
            .map(|(_, i, records)| (*i, records.clone()))
            .collect();
        // All copies are checked before any file is put back.
        let mut copies = Vec::new();
        for (i, records) in &backups {
            for record in records {
                let copy = run_dir.join(&record.backup);
                let bytes = match std::fs::read(&copy) {
                    Ok(bytes) => bytes,
                    Err(e) => return Some(Err(format!("backup copy {}: {e}", copy.display()))),
                };
                let actual = hex::encode(Sha256::digest(&bytes));
                if actual != record.sha256 {
                    return Some(Err(format!(
                        "refusing to restore: the backup copy of {} was altered (recorded sha256 {}, now {actual}); nothing was restored",
                        record.path, record.sha256
                    )));
                }
                copies.push((*i, record.clone(), bytes));
            }
        }
        // One host failing must not leave the next ones changed: every
        // file is tried, and the step fails at the end naming each failure.
        let mut done = Vec::new();
        let mut errors = Vec::new();
        for (i, record, bytes) in copies {
            let host = &self.hosts[i];
            let remote_path = record
                .path
                .strip_prefix(&format!("{}:", host.name()))
                .unwrap_or(&record.path)
                .to_string();
            match host.put(
                &remote_path,
                &bytes,
                record.mode,
                limits.timeout,
                limits.abort,
            ) {
                Ok(sha) if sha == record.sha256 => done.push(record),
                Ok(sha) => errors.push(format!(
                    "restored {} but its sha256 is {sha}, expected {}",
                    record.path, record.sha256
                )),
                Err(e) => errors.push(format!("cannot restore {e}")),
            }
        }
        if !errors.is_empty() {
            return Some(Err(errors.join("; ")));
        }
        Some(Ok(done))
    }

    fn logoff(
        &self,
        user: Option<&str>,
        limits: Limits<'_>,
    ) -> Option<Vec<crate::logoff::HostLogoff>> {
        let hosts: Vec<&SshTarget> = self
            .live_hosts()
            .into_iter()
            .map(|i| &self.hosts[i])
            .collect();
        Some(std::thread::scope(|scope| {
            let handles: Vec<_> = hosts
                .into_iter()
                .map(|h| {
                    let check = scope.spawn(move || {
                        crate::logoff::log_off(h, user, limits.timeout, limits.abort)
                    });
                    (h.name(), check)
                })
                .collect();
            // A check that did not come back is a host not shown logged off:
            // dropping it would let the step pass without that host.
            handles
                .into_iter()
                .map(|(host, check)| {
                    check.join().unwrap_or_else(|_| crate::logoff::HostLogoff {
                        host: host.to_string(),
                        user: user.unwrap_or("?").to_string(),
                        sessions: Vec::new(),
                        error: Some("the logoff check stopped unexpectedly".into()),
                        duration: std::time::Duration::ZERO,
                    })
                })
                .collect()
        }))
    }

    fn after_batch(&self, batch: usize) -> Result<(), String> {
        let Some(gate) = &self.gate else {
            return Ok(());
        };
        let names: Vec<String> = self
            .batches
            .get(batch)
            .cloned()
            .unwrap_or(0..0)
            .map(|i| self.hosts[i].name().to_string())
            .collect();
        gate.check(&names)
    }
}

/// One host's part of a step, from what its command did.
fn host_step(name: &str, result: &io::Result<Executed>) -> HostStep {
    match result {
        Ok(done) => {
            let ok = done.exit_code == Some(0) && !done.timed_out && !done.aborted;
            HostStep {
                host: name.to_string(),
                ok,
                exit_code: done.exit_code,
                timed_out: done.timed_out,
                duration_ms: done.duration.as_millis() as u64,
                error: (!ok).then(|| last_line(&done.stderr.tail_text())),
            }
        }
        Err(e) => HostStep {
            host: name.to_string(),
            ok: false,
            exit_code: None,
            timed_out: false,
            duration_ms: 0,
            error: Some(e.to_string()),
        },
    }
}

/// `zone` → `ZONE`, anything else than letters and digits → `_`.
fn env_suffix(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Each line of `text` as `[host] line`, so many hosts' output stays
/// readable together.
fn push_prefixed(capture: &mut Capture, host: &str, text: &str) {
    for line in text.lines() {
        capture.push(format!("[{host}] {line}\n").as_bytes());
    }
}

fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// How long one host may take to connect; also the ssh `ConnectTimeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
