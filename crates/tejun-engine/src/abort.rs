//! Operator abort (Ctrl-C, SIGTERM) as a counter the engine polls.
//!
//! A signal handler may do almost nothing safely, so it only counts. The
//! engine checks the count while waiting for a command (every 50 ms), at
//! prompts and between steps. What a signal does depends on where the run
//! is (the table is in docs/runbook.md, "Ctrl-C"):
//!
//! - the first one during pre/execute/post (or at a prompt there) aborts:
//!   the running command's process group is killed, the rollback plan runs
//!   where the change may have started, then the exit phase;
//! - during rollback and the exit phase the first one is only noted: those
//!   phases are what makes stopping safe, so they go on;
//! - the second one stops waiting: the process leaves, but only after
//!   journaling `run.stopped` and printing the exact command that rolls
//!   the change back (`tejun rollback RUN`).
//!
//! No signal ever ends the process directly: every way out goes through
//! the journal.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

#[derive(Debug, Clone)]
pub struct AbortSignal {
    count: Arc<AtomicUsize>,
    /// Set by a trigger that fired: aborts the work like a first signal,
    /// but is not a signal, so it never counts towards stopping rollback.
    tripped: Arc<AtomicBool>,
    /// How many signals make [`is_set`](Self::is_set) true.
    threshold: usize,
}

impl Default for AbortSignal {
    fn default() -> AbortSignal {
        AbortSignal {
            count: Arc::default(),
            tripped: Arc::default(),
            threshold: 1,
        }
    }
}

impl AbortSignal {
    /// A counter no signal reaches; tests [`raise`](Self::raise) it.
    pub fn never() -> AbortSignal {
        AbortSignal::default()
    }

    /// Counts SIGINT and SIGTERM.
    pub fn from_signals() -> io::Result<AbortSignal> {
        let signal = AbortSignal::default();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let count = Arc::clone(&signal.count);
            // SAFETY: the action is one atomic add, which is
            // async-signal-safe; it allocates and locks nothing.
            unsafe {
                signal_hook::low_level::register(sig, move || {
                    count.fetch_add(1, Ordering::SeqCst);
                })?;
            }
        }
        Ok(signal)
    }

    /// Whether enough signals arrived to stop what this signal guards.
    pub fn is_set(&self) -> bool {
        self.count() >= self.threshold || (self.threshold == 1 && self.is_tripped())
    }

    /// Aborts the work (not rollback or the exit phase): a trigger fired.
    pub fn trip(&self) {
        self.tripped.store(true, Ordering::SeqCst);
    }

    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }

    /// Signals received so far (by every clone).
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The same counter, set only by a second signal: for rollback and the
    /// exit phase, which a first Ctrl-C must not stop.
    pub fn cleanup(&self) -> AbortSignal {
        AbortSignal {
            count: Arc::clone(&self.count),
            tripped: Arc::clone(&self.tripped),
            threshold: self.threshold.max(2),
        }
    }

    /// Counts one signal, as a signal would.
    pub fn raise(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleanup_phases_stop_only_at_the_second_signal() {
        let main = AbortSignal::never();
        let cleanup = main.cleanup();
        assert!(!main.is_set() && !cleanup.is_set());
        main.raise();
        assert!(main.is_set(), "the first signal aborts the work");
        assert!(!cleanup.is_set(), "and is only noted by rollback and exit");
        main.raise();
        assert!(cleanup.is_set());
        assert_eq!(cleanup.cleanup().count(), 2, "one counter for all clones");
    }
}

/// Why `tejun abort` did not signal a run.
#[derive(Debug)]
pub enum RequestError {
    /// The run is not running (its lock is free): nothing to signal.
    NotRunning(crate::history::RunState),
    Journal(tejun_journal::Error),
    History(crate::history::HistoryError),
    Signal(nix::Error),
}

/// `tejun abort RUN` from another terminal: journals `abort.requested` on
/// the run's stream, then sends SIGTERM to the process that holds the run
/// (the pid of its latest start or resume), which the engine handles like
/// Ctrl-C: the running command is stopped, rollback, exit phase. Refused
/// unless the run's lock is held, so a pid from a dead run is never
/// signalled. Returns the pid signalled.
pub fn request(
    journal: &tejun_journal::Journal,
    run_id: &str,
    reason: Option<String>,
    who: &str,
) -> Result<u32, RequestError> {
    use crate::history::{RunState, run_timeline};
    let timeline = run_timeline(journal, run_id).map_err(RequestError::History)?;
    if timeline.summary.state != RunState::Running {
        return Err(RequestError::NotRunning(timeline.summary.state));
    }
    let pid = crate::events::holder_pid(
        timeline
            .events
            .iter()
            .map(|e| (e.kind.as_str(), &e.payload)),
    )
    .ok_or(RequestError::NotRunning(RunState::Interrupted))?;
    let payload = serde_json::to_value(crate::events::AbortRequested {
        run_id: run_id.to_string(),
        reason,
        pid: Some(pid),
    })
    .unwrap_or_default();
    let refs: Vec<String> = timeline
        .started
        .as_ref()
        .and_then(|s| s.incident.clone())
        .map(|i| vec![format!("incident/{i}")])
        .unwrap_or_default();
    let stream = crate::events::stream(run_id);
    journal
        .append_all(&[tejun_journal::NewEvent {
            stream: &stream,
            refs: &refs,
            kind: crate::events::ABORT_REQUESTED,
            actor: who,
            payload: &payload,
            ts: None,
        }])
        .map_err(RequestError::Journal)?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .map_err(RequestError::Signal)?;
    Ok(pid)
}
