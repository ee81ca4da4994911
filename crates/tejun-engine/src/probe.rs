//! Asking probes, and the trigger watch that aborts a run.
//!
//! Network probes run from this machine (`tejun_probe::net`); `cmd` probes
//! run through the run's [`Target`], so they go where steps go. A probe's
//! `from:` other than the controller is accepted but still runs here until
//! remote targets exist (docs/probes.md says so).
//!
//! The watch is one background thread for the whole of execute and post:
//! it samples every probe a trigger reads at that probe's interval, keeps
//! a sliding window per probe, and when a trigger holds it records which
//! and *trips* the run's [`AbortSignal`], which kills the running command's
//! process group exactly as Ctrl-C would; the runner then journals
//! `trigger.fired` and starts the rollback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Scope;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use tejun_probe::net::Answer;
use tejun_probe::window::evaluate;
use tejun_probe::{Metric, ProbeKind, ProbeSpec, Sample, Window};
use tejun_runbook::model::Trigger;

use crate::abort::AbortSignal;
use crate::events::TriggerFired;
use crate::target::{Exec, Target};
use tejun_runbook::fleet::On;

/// Asks `spec` once. `abort` stops a `cmd` probe's command early.
pub fn ask(
    spec: &ProbeSpec,
    target: &dyn Target,
    env: &[(String, String)],
    abort: &AbortSignal,
) -> Answer {
    if let ProbeKind::Cmd { command } = &spec.kind {
        let exec = Exec {
            command,
            timeout: spec.timeout,
            keep_bytes: 1024,
            env,
            cwd: None,
            group_file: None,
            live: None,
            // Probes run on the controller (docs/probes.md, `from:`); the
            // default `On::Each` would run them on every fleet host.
            on: On::Local,
        };
        let started = Instant::now();
        return match target.exec(&exec, abort) {
            Ok(done) => {
                let ok = done.exit_code == Some(0) && !done.timed_out && !done.aborted;
                let error = (!ok).then(|| match (done.timed_out, done.exit_code) {
                    (true, _) => format!("timed out after {}s", spec.timeout.as_secs_f64()),
                    (false, Some(code)) => format!("exit code {code}"),
                    (false, None) => "killed".to_string(),
                });
                Answer {
                    ok,
                    latency: done.duration,
                    value: done.exit_code.map(f64::from),
                    error,
                }
            }
            Err(e) => Answer {
                ok: false,
                latency: started.elapsed(),
                value: None,
                error: Some(format!("cannot start /bin/sh: {e}")),
            },
        };
    }
    tejun_probe::net::run(spec).expect("only cmd probes are not network probes")
}

#[derive(Default)]
struct State {
    /// Samples not yet journaled, per probe.
    pending: IndexMap<String, Vec<Sample>>,
    fired: Option<TriggerFired>,
}

/// The running watch; dropping it does not stop it, [`stop`](Self::stop) does.
#[derive(Clone)]
pub struct TriggerWatch {
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
}

impl TriggerWatch {
    /// Starts watching `triggers` on a thread of `scope`.
    pub fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        run_id: String,
        probes: &'env IndexMap<String, ProbeSpec>,
        triggers: &'env [Trigger],
        target: &'env dyn Target,
        env: Vec<(String, String)>,
        abort: AbortSignal,
    ) -> TriggerWatch {
        let watch = TriggerWatch {
            stop: Arc::default(),
            state: Arc::default(),
        };
        let stop = Arc::clone(&watch.stop);
        let state = Arc::clone(&watch.state);
        scope.spawn(move || {
            watch_loop(
                run_id, probes, triggers, target, &env, &abort, &stop, &state,
            );
        });
        watch
    }

    /// The trigger that fired, if one did.
    pub fn fired(&self) -> Option<TriggerFired> {
        self.state.lock().ok()?.fired.clone()
    }

    /// Samples taken since the last call, per probe.
    pub fn take_samples(&self) -> Vec<(String, Vec<Sample>)> {
        match self.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.pending)
                .into_iter()
                .filter(|(_, s)| !s.is_empty())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Stops sampling (the thread ends after the probe it is asking).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

#[allow(clippy::too_many_arguments)]
fn watch_loop(
    run_id: String,
    probes: &IndexMap<String, ProbeSpec>,
    triggers: &[Trigger],
    target: &dyn Target,
    env: &[(String, String)],
    abort: &AbortSignal,
    stop: &AtomicBool,
    state: &Mutex<State>,
) {
    let started = Instant::now();
    // Each watched probe, its window (as long as its longest trigger looks
    // back) and when it is next due.
    let mut watched: Vec<(&ProbeSpec, Window, Instant)> = Vec::new();
    for trigger in triggers {
        let Some(spec) = probes.get(&trigger.expr.probe) else {
            continue;
        };
        let over = trigger.expr.over.unwrap_or(Duration::ZERO);
        let count = match trigger.expr.metric {
            Metric::Failing => trigger.expr.threshold.max(0.0).ceil() as usize + 1,
            _ => 1,
        };
        match watched.iter_mut().find(|(s, _, _)| s.name == spec.name) {
            Some((_, window, _)) => {
                *window = Window::new(window.keep().max(over))
                    .keeping_at_least(window.min_len().max(count));
            }
            None => watched.push((spec, Window::new(over).keeping_at_least(count), started)),
        }
    }
    // Never kill the watch's own probe commands: only `stop` ends them.
    let own = AbortSignal::never();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let Some(i) = (0..watched.len()).min_by_key(|i| watched[*i].2) else {
            return;
        };
        if watched[i].2 > now {
            std::thread::sleep((watched[i].2 - now).min(Duration::from_millis(50)));
            continue;
        }
        let spec = watched[i].0;
        let answer = ask(spec, target, env, &own);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let sample = Sample {
            at_ms: started.elapsed().as_millis() as u64,
            ok: answer.ok,
            latency_ms: answer.latency.as_millis() as u64,
            value: answer.value,
            error: answer.error,
        };
        let at_ms = sample.at_ms;
        watched[i].1.push(sample.clone());
        watched[i].2 += spec.interval;
        if watched[i].2 < Instant::now() {
            // A slow probe: do not queue up missed samples.
            watched[i].2 = Instant::now();
        }
        let Ok(mut shared) = state.lock() else { return };
        shared
            .pending
            .entry(spec.name.clone())
            .or_default()
            .push(sample);
        for trigger in triggers.iter().filter(|t| t.expr.probe == spec.name) {
            if let Some(fired) = evaluate(&trigger.expr, watched[i].1.samples(), at_ms) {
                shared.fired = Some(TriggerFired {
                    run_id: run_id.clone(),
                    trigger: trigger.text.clone(),
                    probe: spec.name.clone(),
                    value: fired.value,
                    samples: fired.samples,
                    failures: fired.failures,
                    step_id: None,
                    batch: None,
                });
                drop(shared);
                abort.trip();
                return;
            }
        }
    }
}
