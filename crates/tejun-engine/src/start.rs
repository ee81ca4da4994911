//! Starting a run: id and folder, variables, plan, every guard, the lock,
//! `run.started`; then the phase machine. Nothing runs unless all of that
//! succeeded, and a refusal is journaled (`run.refused`) so an audit shows
//! attempts too, not only runs.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tejun_journal::Journal;
use tejun_runbook::Inventory;
use tejun_runbook::model::{Runbook, Safety};
use tejun_runbook::plan::{Plan, ResolvedVars, RunContext, plan, redact, resolve_vars};

use crate::abort::AbortSignal;
use crate::error::EngineError;
use crate::events::{self, ApprovalRequested, RunPaused, RunRefused, RunStarted};
use crate::operator::{DestructiveChallenge, EnvChallenge, Operator, RunEvent};
use crate::recorder::Recorder;
use crate::refusal::Refusal;
use crate::replay::Replay;
use crate::runid::new_run_id;
use crate::runner::{Finish, Runner};
use crate::target::Target;
use crate::{guard, identity};

/// What every run needs from outside: where events go, who answers, where
/// commands run, and the abort flag.
pub struct Engine<'a> {
    pub journal: &'a Journal,
    pub operator: &'a dyn Operator,
    pub target: &'a dyn Target,
    pub abort: AbortSignal,
}

impl<'a> Engine<'a> {
    /// Where one run's events go, as the operator running this process.
    /// Every event of a run started for an incident refers to it, so the
    /// incident's timeline finds the run whether it was started or resumed.
    pub(crate) fn recorder(&self, run_id: &str, incident: Option<&str>) -> Recorder<'a> {
        Recorder::new(
            self.journal,
            self.operator,
            events::stream(run_id),
            incident
                .map(|i| format!("incident/{i}"))
                .into_iter()
                .collect(),
            identity::operator(),
        )
    }
}

/// What `run.paused` names as its step while a run waits for approval.
pub const APPROVAL_STEP: &str = "approval";

pub struct RunRequest<'a> {
    /// The runbook file (made absolute for the journal).
    pub runbook_path: &'a Path,
    /// Its bytes as read; hashed into `run.started`.
    pub source: &'a str,
    pub runbook: &'a Runbook,
    pub inventory: Option<&'a Inventory>,
    pub env: &'a str,
    /// `--var k=v` in order.
    pub overrides: Vec<(String, String)>,
    pub incident: Option<String>,
    /// Whether prompts can be answered (a TTY and no `--yes`).
    pub interactive: bool,
    pub confirm_env: Option<String>,
    pub confirm_destructive: bool,
    /// Where run folders go (`<journal dir>/runs`).
    pub runs_dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub finish: Finish,
}

pub fn run(engine: &Engine<'_>, request: RunRequest<'_>) -> Result<Report, EngineError> {
    let (run_id, run_dir) = reserve_run_dir(&request.runs_dir)?;
    let recorder = engine.recorder(&run_id, request.incident.as_deref());
    let runbook_path = std::path::absolute(request.runbook_path)
        .unwrap_or_else(|_| request.runbook_path.to_path_buf());
    let context = RunContext {
        env: request.env.to_string(),
        run_id: run_id.clone(),
        now: Timestamp::now().to_string(),
        runbook_dir: runbook_path
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        overrides: request.overrides.clone(),
    };
    let prepared = resolve_vars(request.runbook, &context, &|name| std::env::var(name).ok())
        .map_err(EngineError::Vars)
        .map(|vars| {
            let plan = plan(request.runbook, &vars);
            (vars, plan)
        });
    let (vars, plan) = match prepared {
        Ok(ok) => ok,
        Err(e) => {
            let _ = fs::remove_dir(&run_dir);
            return Err(e);
        }
    };
    let guarded = Guard {
        runbook: request.runbook,
        inventory: request.inventory,
        env: request.env,
        plan: &plan,
        values: &vars.values,
        interactive: request.interactive,
        confirm_env: request.confirm_env.as_deref(),
        confirm_destructive: request.confirm_destructive,
        operator: engine.operator,
    }
    .check()
    .and_then(|()| {
        let journal_dir = request.runs_dir.parent();
        kernel_lock(request.inventory, request.env, &plan, &vars, journal_dir)
    });
    if let Err(refusal) = guarded.clone() {
        let _ = fs::remove_dir(&run_dir);
        recorder.record(RunEvent::RunRefused(RunRefused {
            runbook: runbook_path.display().to_string(),
            env: request.env.to_string(),
            operator: recorder.actor.clone(),
            reason: refusal.to_string(),
        }))?;
        return Err(EngineError::Refused(refusal));
    }

    let _lock = lock_run_dir(&run_dir)?;
    let started_at = Timestamp::now();
    recorder.record(RunEvent::RunStarted(RunStarted {
        run_id: run_id.clone(),
        runbook: request.runbook.name.clone(),
        path: runbook_path.display().to_string(),
        runbook_sha256: sha256_hex(request.source.as_bytes()),
        env: request.env.to_string(),
        operator: recorder.actor.clone(),
        host: identity::hostname(),
        pid: std::process::id(),
        run_dir: run_dir.display().to_string(),
        vars: journal_vars(&vars),
        total_steps: plan.main.len(),
        incident: request.incident.clone(),
        given_vars: Some(given_names(&request.overrides)),
        kernel_guard: guarded.ok(),
        included: included_hashes(request.runbook),
    }))?;
    if let Some(fleet) = engine.target.fleet_started(&run_id) {
        recorder.record(RunEvent::FleetStarted(fleet))?;
    }
    let needed = request
        .inventory
        .and_then(|i| i.environment(request.env))
        .map_or(0, |e| e.approvals)
        .max(request.runbook.approvals);
    if needed > 0 {
        // Nothing runs yet: the request waits in the journal like a paused
        // step, and `tejun resume` continues once it is approved.
        recorder.defer(RunEvent::ApprovalRequested(ApprovalRequested {
            run_id: run_id.clone(),
            count: needed,
            executor: recorder.actor.clone(),
        }));
        recorder.record(RunEvent::RunPaused(RunPaused {
            run_id: run_id.clone(),
            step_id: APPROVAL_STEP.to_string(),
            reason: "waiting-for-approval".to_string(),
        }))?;
        return Ok(Report {
            run_id,
            run_dir,
            finish: Finish::AwaitingApproval { needed, have: 0 },
        });
    }
    let runner = Runner {
        recorder,
        operator: engine.operator,
        target: engine.target,
        abort: engine.abort.clone(),
        plan: &plan,
        secrets: &vars.secrets,
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        interactive: request.interactive,
        replay: Replay::default(),
        unknown_choice: None,
        retry_failed: false,
        started_at,
        noted: 0,
        command_env: command_env(&run_id, &run_dir, request.env),
        batch: None,
    };
    let finish = runner.run()?;
    Ok(Report {
        run_id,
        run_dir,
        finish,
    })
}

/// The guard's interactive half runs after its static checks: nobody is
/// asked to type "production" for a run that would be refused anyway.
pub(crate) struct Guard<'a> {
    pub runbook: &'a Runbook,
    pub inventory: Option<&'a Inventory>,
    pub env: &'a str,
    pub plan: &'a Plan,
    /// Variable values, substituted as is for the guard's reading.
    pub values: &'a indexmap::IndexMap<String, String>,
    pub interactive: bool,
    pub confirm_env: Option<&'a str>,
    pub confirm_destructive: bool,
    pub operator: &'a dyn Operator,
}

impl Guard<'_> {
    pub fn check(&self) -> Result<(), Refusal> {
        guard::check(
            self.runbook,
            self.inventory,
            self.env,
            self.plan,
            self.values,
        )?;
        let Some(environment) = self.inventory.and_then(|i| i.environment(self.env)) else {
            return Err(Refusal::NoInventory);
        };
        if !environment.protected {
            return Ok(());
        }
        let typed = match (self.confirm_env, self.interactive) {
            (Some(given), _) => Some(given.to_string()),
            (None, true) => self.operator.type_env_name(&EnvChallenge {
                env: self.env,
                color: &environment.color,
                description: environment.description.as_deref(),
            }),
            (None, false) => None,
        };
        if typed.as_deref().map(str::trim) != Some(self.env) {
            return Err(Refusal::ProtectedNotConfirmed {
                env: self.env.to_string(),
                given: typed,
            });
        }
        if self.confirm_destructive {
            return Ok(());
        }
        for step in self.plan.main.iter().chain(&self.plan.rollback) {
            if step.step.safety != Safety::Destructive {
                continue;
            }
            let typed = if self.interactive {
                self.operator.type_step_id(&DestructiveChallenge {
                    env: self.env,
                    step_id: &step.step.id,
                    name: step.step.name.as_deref(),
                    command: step.display_command.as_deref(),
                })
            } else {
                None
            };
            if typed.as_deref().map(str::trim) != Some(step.step.id.as_str()) {
                return Err(Refusal::DestructiveNotConfirmed {
                    env: self.env.to_string(),
                    step_id: step.step.id.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The kernel layer, once per run (or resume), on the thread that spawns
/// every step; tejun's own journal and run folders stay writable.
pub(crate) fn kernel_lock(
    inventory: Option<&Inventory>,
    env: &str,
    plan: &Plan,
    vars: &ResolvedVars,
    journal_dir: Option<&Path>,
) -> Result<guard::kernel::KernelGuard, Refusal> {
    let inventory = inventory.ok_or(Refusal::NoInventory)?;
    let keep: Vec<PathBuf> = journal_dir.map(Path::to_path_buf).into_iter().collect();
    guard::kernel::enforce(inventory, env, plan, &vars.values, &keep)
}

/// Creates `runs_dir/<new id>` exclusively; draws a new id on collision.
fn reserve_run_dir(runs_dir: &Path) -> Result<(String, PathBuf), EngineError> {
    fs::create_dir_all(runs_dir).map_err(|e| EngineError::io(runs_dir.display().to_string(), e))?;
    for _ in 0..64 {
        let id = new_run_id();
        let dir = runs_dir.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok((id, dir)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(EngineError::io(dir.display().to_string(), e)),
        }
    }
    Err(EngineError::io(
        runs_dir.display().to_string(),
        io::Error::other("could not pick a free run id"),
    ))
}

/// Takes the run's exclusive lock, held (with the returned file) for as
/// long as this process works on the run. Views tell a running run from an
/// interrupted one by trying to take it.
pub(crate) fn lock_run_dir(run_dir: &Path) -> Result<File, EngineError> {
    let path = run_dir.join(events::LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::io(path.display().to_string(), e))?;
    file.lock()
        .map_err(|e| EngineError::io(path.display().to_string(), e))?;
    Ok(file)
}

/// Each `include:` file of a runbook with the hash of the text it was
/// read with, paths made absolute so resume from another directory
/// compares the same names.
pub(crate) fn included_hashes(runbook: &Runbook) -> Vec<(String, String)> {
    runbook
        .included
        .iter()
        .map(|file| {
            let path = std::path::absolute(&file.name)
                .map_or_else(|_| file.name.clone(), |p| p.display().to_string());
            (path, sha256_hex(file.text.as_bytes()))
        })
        .collect()
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Variables as journaled: secret values masked, and any secret that
/// appears inside another value redacted too.
pub(crate) fn journal_vars(vars: &ResolvedVars) -> Vec<(String, String)> {
    vars.values
        .iter()
        .map(|(k, v)| {
            let shown = if vars.secrets.iter().any(|s| s == v) {
                "***".to_string()
            } else {
                redact(v, &vars.secrets)
            };
            (k.clone(), shown)
        })
        .collect()
}

/// The distinct names given with `--var`, in order.
fn given_names(overrides: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (name, _) in overrides {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

pub(crate) fn command_env(run_id: &str, run_dir: &Path, env: &str) -> Vec<(String, String)> {
    vec![
        ("TEJUN_RUN_ID".to_string(), run_id.to_string()),
        ("TEJUN_RUN_DIR".to_string(), run_dir.display().to_string()),
        ("TEJUN_ENV".to_string(), env.to_string()),
    ]
}
