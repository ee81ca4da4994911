//! Variables resolved and templates rendered: the exact steps a run will
//! execute, in order. `tejun plan` prints this; the engine executes it.
//!
//! INTERFACE CONTRACT: the engine is written against these types. Bodies are
//! filled in by the format-crate owner.

use indexmap::IndexMap;

use crate::model::{PhaseName, Runbook, Step};

/// Values known only at run time, supplied by the caller (the engine or
/// `tejun plan`), so this crate stays free of I/O.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// `--env`
    pub env: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub now: String,
    /// Directory the runbook file is in.
    pub runbook_dir: String,
    /// `--var k=v`, in order given.
    pub overrides: Vec<(String, String)>,
}

/// Every variable's value, and which ones are secret.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedVars {
    /// Built-ins (`env`, `run_id`, `now`, `runbook_dir`) and runbook vars.
    pub values: IndexMap<String, String>,
    /// Values that must never reach the journal or screen: secret vars and
    /// the values of the runbook's `secret_env` variables. Non-empty only.
    pub secrets: Vec<String>,
}

/// A step with everything substituted.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    pub phase: PhaseName,
    /// 1-based position across the whole run (pre..exit), rollback steps
    /// numbered after exit.
    pub ordinal: usize,
    pub step: Step,
    /// The shell command to execute (run/check), variables shell-quoted.
    pub command: Option<String>,
    /// `command` with secret values replaced by `***`, for display/journal.
    pub display_command: Option<String>,
    /// Confirm prompt, rendered raw.
    pub prompt: Option<String>,
    /// Paths (declared, backup paths), rendered raw.
    pub paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub runbook_name: String,
    pub env: String,
    /// pre, execute, post, exit in order.
    pub main: Vec<PlannedStep>,
    /// rollback steps then rollback checks (checks have phase Rollback and
    /// a `check` kind).
    pub rollback: Vec<PlannedStep>,
}
