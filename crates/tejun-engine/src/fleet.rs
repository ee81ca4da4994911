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
use tejun_runbook::fleet::{DEFAULT_FORKS, On, Rollout, plan_batches};

use crate::abort::AbortSignal;
use crate::capture::{Capture, combined_sha256};
use crate::events::{FileRecord, HostStep};
use crate::target::{Exec, Executed, LocalTarget, SshError, SshTarget, Target};

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
    /// Every host of the batches run so far: the ones that may have
    /// changed, for the rollback.
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
    gate: Option<Box<dyn HealthGate>>,
    /// Hosts only probes ask from (`from:` outside `hosts:`).
    probe_only: Vec<SshTarget>,
    /// Each probe `from:` selector and the host names it stands for.
    probe_selectors: Vec<(String, Vec<String>)>,
    state: Mutex<State>,
}

struct State {
    active: Vec<usize>,
    /// Hosts dropped after failing within `max_fail_percentage`.
    failed: Vec<bool>,
    /// The last batch started (for `Changed`).
    reached: Option<usize>,
    /// What the last `select` chose: `max_fail_percentage` is a rollout
    /// tolerance and applies only to a batch, never to the rollback or the
    /// exit phase (a host failing there must fail the step).
    selection: Selection,
    /// Backups taken in this run: (step id, host index) → its files, with
    /// the real (unredacted) remote paths.
    backups: Vec<(String, usize, Vec<FileRecord>)>,
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
            gate,
            probe_only: Vec::new(),
            probe_selectors: Vec::new(),
            state: Mutex::new(State {
                active: (0..n).collect(),
                failed: vec![false; n],
                reached: None,
                selection: Selection::All,
                backups: Vec::new(),
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

    /// Opens every host's connection, all at once; the hosts that cannot be
    /// reached, each with why.
    pub fn connect_all(&self) -> Vec<SshError> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .hosts
                .iter()
                .chain(&self.probe_only)
                .map(|h| scope.spawn(move || h.connect()))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok().and_then(Result::err))
                .collect()
        })
    }

    /// Ends every master connection.
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
        let selection = self.state().selection;
        let targets: Vec<usize> = {
            let live = self.live_hosts();
            match exec.on {
                On::Once => live.into_iter().take(1).collect(),
                _ => live,
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
            std::thread::scope(|scope| {
                for (&i, slot) in indices.iter().zip(slots.iter_mut()) {
                    let host = &self.hosts[i];
                    let mut env: Vec<(String, String)> = exec.env.to_vec();
                    env.extend(self.host_env[i].iter().cloned());
                    scope.spawn(move || {
                        let one = Exec {
                            command,
                            timeout,
                            keep_bytes,
                            env: &env,
                            cwd: cwd.clone(),
                            group_file: None,
                            on,
                            live: None,
                            host_view: None,
                        };
                        if let Some(view) = view {
                            view.host_started(host.name());
                        }
                        let started = Instant::now();
                        let done = host.exec(&one, abort);
                        if let Some(view) = view {
                            let ok = done.as_ref().is_ok_and(|d| {
                                d.exit_code == Some(0) && !d.timed_out && !d.aborted
                            });
                            view.host_finished(host.name(), ok, started.elapsed());
                        }
                        *slot = Some(done);
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
        for (&i, result) in targets.iter().zip(results) {
            let name = self.hosts[i].name().to_string();
            let step = match result.unwrap_or_else(|| Err(io::Error::other("no result"))) {
                Ok(done) => {
                    timed_out |= done.timed_out;
                    aborted |= done.aborted;
                    let ok = done.exit_code == Some(0) && !done.timed_out && !done.aborted;
                    let stdout = done.stdout.tail_text();
                    let stderr = done.stderr.tail_text();
                    push_prefixed(&mut out, &name, &stdout);
                    push_prefixed(&mut err, &name, &stderr);
                    if !ok {
                        first_bad_code = first_bad_code.or(done.exit_code).or(Some(1));
                    }
                    HostStep {
                        host: name,
                        ok,
                        exit_code: done.exit_code,
                        timed_out: done.timed_out,
                        duration_ms: done.duration.as_millis() as u64,
                        error: (!ok).then(|| last_line(&stderr)),
                    }
                }
                Err(e) => {
                    first_bad_code = first_bad_code.or(Some(255));
                    push_prefixed(&mut err, &name, &e.to_string());
                    HostStep {
                        host: name,
                        ok: false,
                        exit_code: None,
                        timed_out: false,
                        duration_ms: 0,
                        error: Some(e.to_string()),
                    }
                }
            };
            if !step.ok {
                failures.push(i);
            }
            hosts.push(step);
        }
        // Within max_fail_percentage the failed hosts leave the run and the
        // step counts as done; beyond it the step failed. Only a rollout
        // batch tolerates failures: a host failing a rollback or exit step
        // must fail the step, or the run would end rolled-back (or clean)
        // with that host still changed (or left uncleanly).
        let tolerated = matches!(selection, Selection::Batch(_))
            && !targets.is_empty()
            && (failures.len() * 100) as u64
                <= u64::from(self.max_fail_percentage) * targets.len() as u64
            && failures.len() < targets.len();
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
    /// The active hosts that have not left the run.
    fn live_hosts(&self) -> Vec<usize> {
        let state = self.state();
        state
            .active
            .iter()
            .copied()
            .filter(|&i| !state.failed[i])
            .collect()
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

    fn select(&self, selection: Selection) {
        let mut state = self.state();
        state.selection = selection;
        state.active = match selection {
            Selection::Batch(n) => {
                state.reached = Some(n);
                self.batches.get(n).cloned().unwrap_or(0..0).collect()
            }
            Selection::Changed => match state.reached {
                Some(n) => (0..self.batches.get(n).map_or(0, |b| b.end)).collect(),
                None => Vec::new(),
            },
            Selection::All => (0..self.hosts.len()).collect(),
        };
        if selection == Selection::Changed || selection == Selection::All {
            // Rollback and clean-up go to every host that may need them,
            // failed ones first of all.
            state.failed.iter_mut().for_each(|f| *f = false);
        }
    }

    fn backup_files(
        &self,
        run_dir: &Path,
        step_id: &str,
        paths: &[String],
    ) -> Option<Result<Vec<FileRecord>, String>> {
        let active = self.live_hosts();
        let mut all = Vec::new();
        for i in active {
            let host = &self.hosts[i];
            let mut records = Vec::new();
            for path in paths {
                let result = host.fetch(path).map_err(|e| format!("cannot back up {e}"));
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

    fn restore_files(&self, run_dir: &Path, from: &str) -> Option<Result<Vec<FileRecord>, String>> {
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
            match host.put(&remote_path, &bytes, record.mode) {
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
