//! The validated runbook, as the engine sees it.
//!
//! These types are what parsing produces once every check has passed: ids are
//! unique, variables referenced by templates exist, every step kind has its
//! fields. Source positions are kept (as [`Span`]) only where a later stage
//! may still need to point at the file, e.g. the environment guard refusing a
//! path.

use std::time::Duration;

use indexmap::IndexMap;

/// A byte range in the runbook source, with its 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub offset: usize,
    pub len: usize,
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Runbook {
    pub name: String,
    pub description: Option<String>,
    /// The environments this runbook was written for. Running it with any
    /// other `--env` is refused before a step runs.
    pub environments: Vec<String>,
    /// Where each of `environments` is written, same order, so the guard
    /// and `tejun check` can point at it.
    pub environment_spans: Vec<Span>,
    pub vars: IndexMap<String, VarDef>,
    /// Names of process environment variables whose values must never reach
    /// the journal or the screen.
    pub secret_env: Vec<String>,
    pub phases: Phases,
    pub rollback: Rollback,
    /// `approval: {count: N}`: approvals this runbook needs wherever it
    /// runs (a run needs the larger of this and its environment's).
    pub approvals: u32,
    /// `probes:`, by name (see docs/probes.md).
    pub probes: IndexMap<String, tejun_probe::ProbeSpec>,
    /// `triggers:`, watched while execute and post run.
    pub triggers: Vec<Trigger>,
    /// `hosts:`: which inventory hosts the steps run on (None: this
    /// machine only), with where it is written.
    pub hosts: Option<(String, Span)>,
    /// `rollout:`: batches over those hosts.
    pub rollout: Option<crate::fleet::Rollout>,
    /// Files brought in by `include:`, in the order first read, with the
    /// text read: a run records their hashes so `resume` notices a change.
    pub included: Vec<crate::include::IncludedFile>,
}

/// A trigger expression as written, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub text: String,
    pub expr: tejun_probe::Expr,
    pub span: Span,
}

/// A `probe:` step (one sample must be healthy) or a `wait_for:` gate
/// (sampled until it is, or its timeout passes).
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeStep {
    pub probe: String,
    /// Where the probe's name is written.
    pub probe_span: Span,
    pub gate: Option<Gate>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gate {
    /// `until: healthy` (default) or `until: unhealthy`.
    pub healthy: bool,
    pub timeout: Duration,
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VarDef {
    pub value: VarValue,
    pub secret: bool,
    pub description: Option<String>,
    /// What a value must look like; checked before anything runs.
    pub spec: VarSpec,
    /// Where the variable's name is written.
    pub span: Span,
}

/// A variable's `type` and its limits (`min`/`max`, `choices`, `pattern`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VarSpec {
    pub kind: VarType,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub choices: Vec<String>,
    /// Matched against the whole value.
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VarType {
    /// Any text (no `type`).
    #[default]
    String,
    Int,
    Number,
    Bool,
    Enum,
    Regex,
    Path,
    Host,
    Duration,
    /// Shell code chosen by the operator (`sh -c {{check_cmd}}`): the one
    /// type whose value is meant to run.
    Command,
}

#[derive(Debug, Clone, PartialEq)]
pub enum VarValue {
    /// A literal value written in the runbook (may be overridden by `--var`).
    Literal(String),
    /// Read from the process environment at run time.
    FromEnv(String),
    /// Must be given with `--var`.
    Required,
}

/// The four phases in execution order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Phases {
    pub pre: Vec<Step>,
    pub execute: Vec<Step>,
    pub post: Vec<Step>,
    pub exit: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PhaseName {
    Pre,
    Execute,
    Post,
    Exit,
    Rollback,
}

impl PhaseName {
    pub const ALL: [PhaseName; 5] = [
        PhaseName::Pre,
        PhaseName::Execute,
        PhaseName::Post,
        PhaseName::Exit,
        PhaseName::Rollback,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Pre => "pre",
            PhaseName::Execute => "execute",
            PhaseName::Post => "post",
            PhaseName::Exit => "exit",
            PhaseName::Rollback => "rollback",
        }
    }
}

/// What runs when execute or post fails, or the operator aborts: `steps`
/// restore the previous state, then `checks` verify it was restored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rollback {
    pub steps: Vec<Step>,
    pub checks: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Unique within the runbook; given or derived (`execute-3`).
    pub id: String,
    pub name: Option<String>,
    pub kind: StepKind,
    pub safety: Safety,
    pub timeout: Duration,
    pub on_failure: OnFailure,
    /// Paths this step touches, declared or taken from backup/restore. The
    /// environment guard checks them against the inventory's pins.
    pub paths: Vec<Template>,
    /// `on:`: every host, one host, or the controller.
    pub on: crate::fleet::On,
    pub span: Span,
    /// The file the step is written in when `include:` brought it in
    /// (`span` is within that file); `None` for the runbook itself.
    pub file: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// A shell command with expectations.
    Run(Command),
    /// A read-only command whose failure stops the phase.
    Check(Command),
    /// A human verdict 正常 / 異常 / 保留 with optional evidence.
    Confirm(Confirm),
    /// Copy files into the run folder with their SHA-256.
    Backup(Backup),
    /// Put files from a backup back, byte-identical.
    Restore(Restore),
    /// Ask a probe (`probe:`), or wait for it (`wait_for:`).
    Probe(ProbeStep),
    /// `logoff:` (exit phase of a fleet run): close the run's connection
    /// to each host, check over a fresh one that no other session of the
    /// user is left, then ask a probe from another host.
    Logoff(Logoff),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Logoff {
    /// Whose sessions must be gone; default: the user the run logs in as.
    pub user: Option<String>,
    /// Asked once every host is logged off ("from another client").
    pub then_probe: Option<(String, Span)>,
}

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Run(_) => "run",
            StepKind::Check(_) => "check",
            StepKind::Confirm(_) => "confirm",
            StepKind::Backup(_) => "backup",
            StepKind::Restore(_) => "restore",
            StepKind::Probe(p) if p.gate.is_some() => "wait_for",
            StepKind::Probe(_) => "probe",
            StepKind::Logoff(_) => "logoff",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    /// The command line; values reach it through the environment (`shell.rs`).
    pub command: Template,
    /// Exit codes that count as success (default `[0]`).
    pub expect_exit: Vec<i32>,
    /// Regex the stdout must match, if given.
    pub expect_stdout: Option<String>,
    /// Regex the stderr must match, if given.
    pub expect_stderr: Option<String>,
    /// Extra attempts after the first failure.
    pub retries: u32,
    pub retry_delay: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub prompt: Template,
    /// The answer a non-interactive run may give by itself; `None` means a
    /// non-interactive run stops here.
    pub auto: Option<Verdict>,
    /// Whether evidence text is required with the answer.
    pub evidence_required: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// 正常
    Ok,
    /// 異常
    Abnormal,
    /// 保留
    Pending,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    pub paths: Vec<Template>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Restore {
    /// The id of the backup step whose files are restored.
    pub from: String,
}

/// The book's operation labels: [Read-only] / [状態変更] / [破壊的].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Safety {
    ReadOnly,
    Changes,
    Destructive,
}

impl Safety {
    pub fn as_str(self) -> &'static str {
        match self {
            Safety::ReadOnly => "read-only",
            Safety::Changes => "changes",
            Safety::Destructive => "destructive",
        }
    }

    /// Reads the label back from [`Safety::as_str`] (as journaled).
    pub fn parse(label: &str) -> Option<Safety> {
        match label {
            "read-only" => Some(Safety::ReadOnly),
            "changes" => Some(Safety::Changes),
            "destructive" => Some(Safety::Destructive),
            _ => None,
        }
    }

    /// The book's operation label, as shown beside every step.
    pub fn label(self, lang: tejun_locale::Lang) -> &'static str {
        match self {
            Safety::ReadOnly => lang.pick("[read-only]", "[読み取り専用]"),
            Safety::Changes => lang.pick("[changes]", "[状態変更]"),
            Safety::Destructive => lang.pick("[destructive]", "[破壊的]"),
        }
    }
}

/// What a failing step does to its phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Default: the phase fails (pre: the run fails without rollback;
    /// execute/post: rollback runs; exit: the run is marked failed).
    Fail,
    /// The failure is recorded and the phase goes on.
    Continue,
}

/// A string with `{{name}}` placeholders, already checked against the
/// defined variables. Render it with [`crate::template`].
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub source: String,
    pub span: Span,
}
