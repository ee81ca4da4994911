//! Asking probes, and the trigger watch that aborts a run.
//!
//! A probe runs from where its `from:` says. From the controller, network
//! probes run here (`tejun_probe::net`) and `cmd` probes through the run's
//! [`Target`] on this machine. From a host (`from: HOST`) or from every host
//! of the current batch (`from: each`), the probe is a command on that host
//! over the run's ssh connection (`tejun_probe::remote`: the host's curl
//! for http/https/prometheus, bash's `/dev/tcp` for tcp and for plain http
//! without curl, the command itself for `cmd`), one answer per host, asked
//! in parallel.
//!
//! The watch is one background thread for the whole of execute and post:
//! it samples every probe a trigger reads at that probe's interval, keeps
//! a sliding window per probe and host, and when a trigger holds it records
//! which (and on which host) and *trips* the run's [`AbortSignal`], which
//! kills the running command's process group exactly as Ctrl-C would; the
//! runner then journals `trigger.fired` and starts the rollback.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Scope;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
pub use tejun_probe::ProbeFrom;
use tejun_probe::net::Answer;
use tejun_probe::window::evaluate;
use tejun_probe::{Metric, ProbeKind, ProbeSpec, Sample, Window};
use tejun_runbook::model::Trigger;

use crate::abort::AbortSignal;
use crate::events::TriggerFired;
use crate::target::{Exec, Target};
use tejun_runbook::fleet::On;

/// Bytes of a host's answer kept for the status line and the body regex.
const REMOTE_KEEP: usize = 256 * 1024;

/// One answer, and the host it was asked from (none: the controller).
#[derive(Debug, Clone)]
pub struct HostAnswer {
    pub host: Option<String>,
    pub answer: Answer,
}

/// Asks `spec` from where its `from:` says: one answer from the
/// controller, or one per host (asked in parallel).
pub fn ask_from(
    spec: &ProbeSpec,
    target: &dyn Target,
    env: &[(String, String)],
    abort: &AbortSignal,
) -> Vec<HostAnswer> {
    let failed = |error: String| {
        vec![HostAnswer {
            host: None,
            answer: Answer {
                ok: false,
                latency: Duration::ZERO,
                value: None,
                error: Some(error),
            },
        }]
    };
    let hosts = match target.probe_hosts(&spec.from) {
        Ok(hosts) => hosts,
        Err(why) => return failed(why),
    };
    if spec.from == ProbeFrom::Controller {
        return vec![HostAnswer {
            host: None,
            answer: ask(spec, target, env, abort),
        }];
    }
    if hosts.is_empty() {
        return failed("no host left to ask from".to_string());
    }
    std::thread::scope(|scope| {
        let asked: Vec<_> = hosts
            .iter()
            .map(|host| scope.spawn(move || ask_on_host(spec, *host, env, abort)))
            .collect();
        hosts
            .iter()
            .zip(asked)
            .map(|(host, handle)| HostAnswer {
                host: Some(host.name().to_string()),
                answer: handle.join().unwrap_or_else(|_| Answer {
                    ok: false,
                    latency: Duration::ZERO,
                    value: None,
                    error: Some("the probe's thread panicked".to_string()),
                }),
            })
            .collect()
    })
}

/// With `healthy_if: any`, the hosts' answers as one (tagged with the
/// `from:` selector): a trigger then watches the group, not each host.
pub(crate) fn one_verdict_for_any(spec: &ProbeSpec, answers: Vec<HostAnswer>) -> Vec<HostAnswer> {
    if spec.healthy_if != tejun_probe::HealthyIf::Any || answers.len() < 2 {
        return answers;
    }
    let ok = answers.iter().any(|a| a.answer.ok);
    let best = answers
        .iter()
        .filter(|a| a.answer.ok == ok)
        .min_by_key(|a| a.answer.latency)
        .unwrap_or(&answers[0]);
    let error = (!ok).then(|| {
        answers
            .iter()
            .map(|a| {
                format!(
                    "{}: {}",
                    a.host.as_deref().unwrap_or("controller"),
                    a.answer.error.as_deref().unwrap_or("unhealthy")
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    });
    let host = match &spec.from {
        ProbeFrom::Host(selector) => Some(selector.clone()),
        _ => None,
    };
    vec![HostAnswer {
        host,
        answer: Answer {
            ok,
            latency: best.answer.latency,
            value: best.answer.value,
            error,
        },
    }]
}

/// Asks `spec` on one remote host over its connection.
fn ask_on_host(
    spec: &ProbeSpec,
    host: &dyn Target,
    env: &[(String, String)],
    abort: &AbortSignal,
) -> Answer {
    let Some(command) = tejun_probe::remote::command(spec) else {
        return Answer {
            ok: false,
            latency: Duration::ZERO,
            value: None,
            error: Some(format!(
                "a {} probe cannot be asked from a host",
                spec.kind.name()
            )),
        };
    };
    let exec = Exec {
        command: &command,
        timeout: spec.timeout,
        keep_bytes: REMOTE_KEEP,
        env,
        cwd: None,
        group_file: None,
        live: None,
        host_view: None,
        on: On::Each,
    };
    let started = Instant::now();
    match host.exec(&exec, abort) {
        Ok(done) => {
            let stdout = done.stdout.tail_text();
            let stderr = done.stderr.tail_text();
            let judged = tejun_probe::remote::judge(
                spec,
                &tejun_probe::remote::Ran {
                    exit_code: done.exit_code,
                    timed_out: done.timed_out || done.aborted,
                    stdout: stdout.as_bytes(),
                    stderr: &stderr,
                    duration: done.duration,
                },
            );
            Answer {
                ok: judged.ok,
                latency: judged.latency,
                value: judged.value,
                error: judged.error,
            }
        }
        Err(e) => Answer {
            ok: false,
            latency: started.elapsed(),
            value: None,
            error: Some(e.to_string()),
        },
    }
}

/// Asks `spec` once from the controller. `abort` stops a `cmd` probe's
/// command early.
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
            host_view: None,
            // From the controller; the default `On::Each` would run it on
            // every fleet host.
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
    // Each watched probe: how long its window looks back (its longest
    // trigger), how many samples it keeps at least, when it is next due,
    // and one window per host it is asked from.
    struct Watched<'a> {
        spec: &'a ProbeSpec,
        keep: Duration,
        min_len: usize,
        due: Instant,
        windows: IndexMap<Option<String>, Window>,
    }
    let mut watched: Vec<Watched<'_>> = Vec::new();
    for trigger in triggers {
        let Some(spec) = probes.get(&trigger.expr.probe) else {
            continue;
        };
        let over = trigger.expr.over.unwrap_or(Duration::ZERO);
        let count = match trigger.expr.metric {
            Metric::Failing => trigger.expr.threshold.max(0.0).ceil() as usize + 1,
            _ => 1,
        };
        match watched.iter_mut().find(|w| w.spec.name == spec.name) {
            Some(w) => {
                w.keep = w.keep.max(over);
                w.min_len = w.min_len.max(count);
            }
            None => watched.push(Watched {
                spec,
                keep: over,
                min_len: count,
                due: started,
                windows: IndexMap::new(),
            }),
        }
    }
    // Never kill the watch's own probe commands: only `stop` ends them.
    let own = AbortSignal::never();
    while !stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        let Some(i) = (0..watched.len()).min_by_key(|i| watched[*i].due) else {
            return;
        };
        if watched[i].due > now {
            std::thread::sleep((watched[i].due - now).min(Duration::from_millis(50)));
            continue;
        }
        let spec = watched[i].spec;
        let answers = one_verdict_for_any(spec, ask_from(spec, target, env, &own));
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let w = &mut watched[i];
        w.due += spec.interval;
        if w.due < Instant::now() {
            // A slow probe: do not queue up missed samples.
            w.due = Instant::now();
        }
        let at_ms = started.elapsed().as_millis() as u64;
        let Ok(mut shared) = state.lock() else { return };
        for HostAnswer { host, answer } in answers {
            let sample = Sample {
                at_ms,
                ok: answer.ok,
                latency_ms: answer.latency.as_millis() as u64,
                value: answer.value,
                error: answer.error,
                host: host.clone(),
            };
            let (keep, min_len) = (w.keep, w.min_len);
            let window = w
                .windows
                .entry(host.clone())
                .or_insert_with(|| Window::new(keep).keeping_at_least(min_len));
            window.push(sample.clone());
            shared
                .pending
                .entry(spec.name.clone())
                .or_default()
                .push(sample);
            for trigger in triggers.iter().filter(|t| t.expr.probe == spec.name) {
                if let Some(fired) = evaluate(&trigger.expr, window.samples(), at_ms) {
                    shared.fired = Some(TriggerFired {
                        run_id: run_id.clone(),
                        trigger: trigger.text.clone(),
                        probe: spec.name.clone(),
                        value: fired.value,
                        samples: fired.samples,
                        failures: fired.failures,
                        step_id: None,
                        batch: None,
                        host,
                    });
                    drop(shared);
                    abort.trip();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(healthy_if: tejun_probe::HealthyIf) -> ProbeSpec {
        ProbeSpec {
            name: "zone".into(),
            kind: ProbeKind::Tcp {
                address: "127.0.0.1:1".into(),
            },
            from: ProbeFrom::Host("zone=a".into()),
            timeout: Duration::from_secs(1),
            interval: Duration::from_secs(1),
            healthy_if,
        }
    }

    fn answer(host: &str, ok: bool, ms: u64) -> HostAnswer {
        HostAnswer {
            host: Some(host.into()),
            answer: Answer {
                ok,
                latency: Duration::from_millis(ms),
                value: None,
                error: (!ok).then(|| "refused".to_string()),
            },
        }
    }

    #[test]
    fn with_healthy_if_any_a_group_answers_as_one_healthy_while_one_host_is() {
        let any = spec(tejun_probe::HealthyIf::Any);
        let one_up =
            one_verdict_for_any(&any, vec![answer("a-1", false, 5), answer("a-2", true, 9)]);
        assert_eq!(one_up.len(), 1);
        assert!(one_up[0].answer.ok);
        assert_eq!(one_up[0].host.as_deref(), Some("zone=a"));
        let all_down =
            one_verdict_for_any(&any, vec![answer("a-1", false, 5), answer("a-2", false, 9)]);
        assert!(!all_down[0].answer.ok);
        assert_eq!(
            all_down[0].answer.error.as_deref(),
            Some("a-1: refused; a-2: refused")
        );
        // `all` keeps each host's answer (a window per host).
        let all = spec(tejun_probe::HealthyIf::All);
        assert_eq!(
            one_verdict_for_any(&all, vec![answer("a-1", false, 5), answer("a-2", true, 9)]).len(),
            2
        );
    }
}
