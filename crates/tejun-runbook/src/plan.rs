//! Variables resolved and templates rendered: the exact steps a run will
//! execute, in order. `tejun plan` prints this; the engine executes it.
//!
//! INTERFACE CONTRACT: the engine is written against these types. Bodies are
//! filled in by the format-crate owner.

use std::fmt;

use indexmap::IndexMap;
use tejun_locale::{Lang, Localize};

use crate::model::{OnFailure, PhaseName, Runbook, Step, StepKind, VarValue};
use crate::shell::{env_name, render_command};
use crate::template::{Quoting, placeholders, render, render_str};

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
    /// The command with every value written in, shell-quoted: what the
    /// operator reads and the guard checks (never run as is).
    pub command: Option<String>,
    /// What the engine runs: the command referencing each value through
    /// its environment variable (`"${TEJUN_VAR_name}"`), so no value is
    /// ever parsed as shell text.
    pub exec_command: Option<String>,
    /// The `TEJUN_VAR_*` environment `exec_command` needs.
    pub env: Vec<(String, String)>,
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
    /// The runbook's probes and triggers, as written (they take no values).
    pub probes: IndexMap<String, tejun_probe::ProbeSpec>,
    pub triggers: Vec<crate::model::Trigger>,
    /// `rollout:` as written (the default when absent): the runner reads
    /// its bake, gate and rollback scope.
    pub rollout: crate::fleet::Rollout,
}

/// Why variables could not be resolved. Each names the variable so the
/// operator knows which `--var` or environment variable to supply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarError {
    /// `--var NAME=...` for a variable the runbook does not declare.
    UnknownOverride(String),
    /// `--var env=...` and friends: built-ins are set by tejun itself.
    BuiltinOverride(String),
    /// A `required` variable was not given with `--var`.
    Required(String),
    /// A `from_env` variable whose environment variable is not set.
    MissingEnv { var: String, env: String },
    /// A value that does not fit its variable's `type`.
    BadValue {
        var: String,
        reason: crate::vartype::BadValue,
    },
}

impl Localize for VarError {
    fn localize(&self, lang: Lang) -> String {
        match self {
            VarError::UnknownOverride(name) => format!(
                "{} `{name}`",
                lang.pick(
                    "--var sets a variable the runbook does not declare:",
                    "--var で手順書に宣言されていない変数を指定しています:"
                )
            ),
            VarError::BuiltinOverride(name) => format!(
                "{} `{name}`",
                lang.pick(
                    "--var cannot set a built-in variable:",
                    "--var では組み込み変数を上書きできません:"
                )
            ),
            VarError::Required(name) => format!(
                "{} `{name}` {}",
                lang.pick("required variable", "必須の変数"),
                lang.pick(
                    "is not set; pass it with --var NAME=VALUE",
                    "が指定されていません。--var NAME=VALUE で指定してください"
                )
            ),
            VarError::MissingEnv { var, env } => format!(
                "{} `{var}`: {} `{env}` {}",
                lang.pick("variable", "変数"),
                lang.pick("environment variable", "環境変数"),
                lang.pick("is not set", "が設定されていません")
            ),
            VarError::BadValue { var, reason } => match lang {
                Lang::En => format!("variable `{var}`: the value {}", reason.localize(lang)),
                Lang::Ja => format!("変数 `{var}`: 値は{}", reason.localize(lang)),
            },
        }
    }
}

impl fmt::Display for VarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.localize(Lang::En))
    }
}

impl std::error::Error for VarError {}

/// Built-in variables, always defined, never settable with `--var`.
pub const BUILTINS: [&str; 4] = ["env", "run_id", "now", "runbook_dir"];

/// Resolves every variable: built-ins from `ctx`, then each runbook var
/// from `--var`, its literal, or the process environment (through
/// `lookup_env`, so this crate stays free of I/O). Secret values, including
/// those of the runbook's `secret_env` names, are collected for redaction.
pub fn resolve_vars(
    runbook: &Runbook,
    ctx: &RunContext,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Result<ResolvedVars, VarError> {
    resolve(runbook, ctx, lookup_env, Strictness::Run)
}

/// Resolves variables as far as they are known without running, for
/// `tejun check`: a missing required value or environment variable reads
/// as empty, and values are not type-checked (check reports those itself).
pub fn resolve_vars_known(
    runbook: &Runbook,
    ctx: &RunContext,
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> ResolvedVars {
    match resolve(runbook, ctx, lookup_env, Strictness::Check) {
        Ok(resolved) => resolved,
        Err(_) => unreachable!("check-mode resolution has no error path"),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Strictness {
    Run,
    Check,
}

fn resolve(
    runbook: &Runbook,
    ctx: &RunContext,
    lookup_env: &dyn Fn(&str) -> Option<String>,
    strictness: Strictness,
) -> Result<ResolvedVars, VarError> {
    let strict = strictness == Strictness::Run;
    for (name, _) in ctx.overrides.iter().filter(|_| strict) {
        if BUILTINS.contains(&name.as_str()) {
            return Err(VarError::BuiltinOverride(name.clone()));
        }
        if !runbook.vars.contains_key(name) {
            return Err(VarError::UnknownOverride(name.clone()));
        }
    }
    let mut values = IndexMap::new();
    values.insert("env".to_string(), ctx.env.clone());
    values.insert("run_id".to_string(), ctx.run_id.clone());
    values.insert("now".to_string(), ctx.now.clone());
    values.insert("runbook_dir".to_string(), ctx.runbook_dir.clone());
    let mut secrets = Vec::new();
    for (name, def) in &runbook.vars {
        // The last `--var` wins, as with most CLIs.
        let overridden = ctx.overrides.iter().rev().find(|(k, _)| k == name);
        let value = match (overridden, &def.value) {
            (Some((_, v)), _) => v.clone(),
            // Literals may refer to built-ins and earlier variables
            // (`{{runbook_dir}}/site.conf`); `--var` values are taken as is.
            (None, VarValue::Literal(v)) => render_str(v, &values, Quoting::Raw),
            (None, VarValue::FromEnv(env)) => match lookup_env(env) {
                Some(value) => value,
                None if !strict => String::new(),
                None => {
                    return Err(VarError::MissingEnv {
                        var: name.clone(),
                        env: env.clone(),
                    });
                }
            },
            (None, VarValue::Required) if !strict => String::new(),
            (None, VarValue::Required) => return Err(VarError::Required(name.clone())),
        };
        if strict {
            def.spec
                .check(&value)
                .map_err(|reason| VarError::BadValue {
                    var: name.clone(),
                    reason,
                })?;
        }
        if def.secret && !value.is_empty() {
            secrets.push(value.clone());
        }
        values.insert(name.clone(), value);
    }
    for env in &runbook.secret_env {
        if let Some(value) = lookup_env(env)
            && !value.is_empty()
        {
            secrets.push(value);
        }
    }
    secrets.sort();
    secrets.dedup();
    Ok(ResolvedVars { values, secrets })
}

/// Replaces every occurrence of every secret in `text` with `***`. Longer
/// secrets go first so that a secret containing another is hidden whole.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut ordered: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    ordered.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for secret in ordered {
        if out.contains(secret) {
            out = out.replace(secret, "***");
        }
    }
    out
}

/// Renders every step of `runbook` with `vars`: commands shell-quoted,
/// prompts and paths raw, and a display form of each command with secrets
/// masked.
pub fn plan(runbook: &Runbook, vars: &ResolvedVars) -> Plan {
    // The display form substitutes `***` for secret values before quoting,
    // so a secret is hidden even when quoting changed how it is spelled.
    // A secret may also sit inside another value (`https://u:{{pw}}@h`).
    let mut masked = vars.values.clone();
    for value in masked.values_mut() {
        *value = redact(value, &vars.secrets);
    }
    let mut ordinal = 0;
    let mut planned = |phase: PhaseName, step: &Step| {
        ordinal += 1;
        plan_step(phase, ordinal, step, vars, &masked)
    };
    let phases = &runbook.phases;
    let mut main = Vec::new();
    for (phase, steps) in [
        (PhaseName::Pre, &phases.pre),
        (PhaseName::Execute, &phases.execute),
        (PhaseName::Post, &phases.post),
        (PhaseName::Exit, &phases.exit),
    ] {
        main.extend(steps.iter().map(|s| planned(phase, s)));
    }
    let rollback = runbook
        .rollback
        .steps
        .iter()
        .chain(&runbook.rollback.checks)
        .map(|s| planned(PhaseName::Rollback, s))
        .collect();
    Plan {
        runbook_name: runbook.name.clone(),
        env: vars.values.get("env").cloned().unwrap_or_default(),
        main,
        rollback,
        probes: runbook.probes.clone(),
        triggers: runbook.triggers.clone(),
        rollout: runbook.rollout.clone().unwrap_or_default(),
    }
}

fn plan_step(
    phase: PhaseName,
    ordinal: usize,
    step: &Step,
    vars: &ResolvedVars,
    masked: &IndexMap<String, String>,
) -> PlannedStep {
    let mut env = Vec::new();
    let (command, display_command, exec_command) = match &step.kind {
        StepKind::Run(c) | StepKind::Check(c) => {
            let command = render(&c.command, &vars.values, Quoting::Shell);
            // Secret values were swapped for `***` before quoting; a second
            // pass over the text would also mangle words that merely
            // contain a short secret.
            let display = render(&c.command, masked, Quoting::Shell);
            for p in placeholders(&c.command.source).unwrap_or_default() {
                let name = env_name(p.name);
                if !env.iter().any(|(n, _)| *n == name) {
                    let value = vars.values.get(p.name).cloned().unwrap_or_default();
                    env.push((name, value));
                }
            }
            let exec = render_command(&c.command.source);
            (Some(command), Some(display), Some(exec))
        }
        StepKind::Probe(p) => (None, Some(describe_probe_step(p)), None),
        StepKind::Logoff(l) => (None, Some(describe_logoff_step(l)), None),
        _ => (None, None, None),
    };
    let prompt = match &step.kind {
        StepKind::Confirm(c) => Some(render(&c.prompt, &vars.values, Quoting::Raw)),
        _ => None,
    };
    let paths = step
        .paths
        .iter()
        .map(|p| render(p, &vars.values, Quoting::Raw))
        .collect();
    PlannedStep {
        phase,
        ordinal,
        step: step.clone(),
        command,
        exec_command,
        env,
        display_command,
        prompt,
        paths,
    }
}

/// What a failing step does to the run, by phase and `on_failure`. The
/// engine implements these rules; `tejun plan` states them up front so the
/// operator knows before running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Pre: the run stops before execute; nothing to roll back.
    StopBeforeChange,
    /// Execute/post: the rollback plan runs.
    Rollback,
    /// Exit: the run is marked failed; no rollback (the change stands).
    MarkFailed,
    /// Rollback: the run ends rollback-failed and needs a human.
    RollbackFailed,
    /// `on_failure: continue`: recorded, the phase goes on.
    Continue,
}

impl FailureOutcome {
    pub fn of(phase: PhaseName, step: &Step) -> FailureOutcome {
        if step.on_failure == OnFailure::Continue {
            return FailureOutcome::Continue;
        }
        match phase {
            PhaseName::Pre => FailureOutcome::StopBeforeChange,
            PhaseName::Execute | PhaseName::Post => FailureOutcome::Rollback,
            PhaseName::Exit => FailureOutcome::MarkFailed,
            PhaseName::Rollback => FailureOutcome::RollbackFailed,
        }
    }

    /// Short text in (English, Japanese).
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            FailureOutcome::StopBeforeChange => (
                "run stops before execute; no rollback needed; exit phase runs",
                "実行フェーズの前で停止 (ロールバック不要、終了フェーズは実行)",
            ),
            FailureOutcome::Rollback => ("rollback runs", "ロールバックを実行"),
            FailureOutcome::MarkFailed => (
                "left uncleanly (exit 4); other exit steps still run; no rollback",
                "後始末が未完了として記録 (終了コード 4)。他の終了ステップは実行、ロールバックなし",
            ),
            FailureOutcome::RollbackFailed => (
                "rollback fails; manual recovery needed",
                "ロールバック失敗 (手動での復旧が必要)",
            ),
            FailureOutcome::Continue => (
                "failure recorded; the phase continues",
                "失敗を記録して続行",
            ),
        }
    }
}

impl Localize for FailureOutcome {
    fn localize(&self, lang: Lang) -> String {
        let (en, ja) = self.describe();
        lang.pick(en, ja).to_string()
    }
}

/// `(English, Japanese)` description of what happens when `step` fails in
/// `phase`.
pub fn describe_on_failure(phase: PhaseName, step: &Step) -> (&'static str, &'static str) {
    FailureOutcome::of(phase, step).describe()
}

/// How a logoff step reads in plans and the journal:
/// `logoff root, then probe from-another-client`.
pub fn describe_logoff_step(step: &crate::model::Logoff) -> String {
    let mut text = match &step.user {
        Some(user) => format!("logoff {user}"),
        None => "logoff".to_string(),
    };
    if let Some((probe, _)) = &step.then_probe {
        text.push_str(&format!(", then probe {probe}"));
    }
    text
}

/// How a probe step reads in plans and the journal: `probe web`,
/// `wait_for web until healthy (timeout 2m, every 1s)`.
pub fn describe_probe_step(step: &crate::model::ProbeStep) -> String {
    match &step.gate {
        None => format!("probe {}", step.probe),
        Some(gate) => format!(
            "wait_for {} until {} (timeout {}, every {})",
            step.probe,
            if gate.healthy { "healthy" } else { "unhealthy" },
            crate::duration::format_duration(gate.timeout),
            crate::duration::format_duration(gate.interval),
        ),
    }
}
