//! Operator abort (Ctrl-C, SIGTERM) as a flag the engine polls.
//!
//! A signal handler may do almost nothing safely, so it only sets an atomic
//! flag. The engine checks it while waiting for a command (every 50 ms) and
//! between steps: the running command's process group is killed and the
//! rollback plan runs. Rollback itself ignores the flag: stopping a rollback
//! halfway leaves the system in the worst state of all; `kill -9` and
//! `tejun resume` remain for the truly stuck.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Default)]
pub struct AbortSignal {
    flag: Arc<AtomicBool>,
}

impl AbortSignal {
    /// A flag no signal sets; for tests and rollback.
    pub fn never() -> AbortSignal {
        AbortSignal::default()
    }

    /// A flag set by SIGINT and SIGTERM. A second SIGINT while the flag is
    /// already set ends the process at once (exit 130): the way out of a
    /// stuck prompt or a rollback the operator wants to leave. The journal
    /// keeps the run resumable either way.
    pub fn from_signals() -> io::Result<AbortSignal> {
        let signal = AbortSignal::default();
        // Order matters: the shutdown check must see the flag as it was
        // before this signal set it.
        signal_hook::flag::register_conditional_shutdown(
            signal_hook::consts::SIGINT,
            130,
            Arc::clone(&signal.flag),
        )?;
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&signal.flag))?;
        }
        Ok(signal)
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Sets the flag, as a signal would.
    pub fn raise(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }
}
