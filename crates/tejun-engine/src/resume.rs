//! Continuing an interrupted run from its journal.
//!
//! The journal is the only state: which steps finished (never run again),
//! which one started without an end (*unknown*: the operator chooses retry,
//! skip or rollback), whether rollback had begun (it continues), and the
//! variables the run used. Secret values are the exception: never
//! journaled, they must come again from the operator (see
//! [`missing_secrets`]), or resume refuses before anything runs. Resume
//! also refuses when the runbook file changed (its SHA-256 differs from
//! `run.started`), when the run already ended, and when another live
//! process still holds the run's lock. The environment guard runs again in
//! full: the inventory may have changed since.

use std::fs::{self, File, TryLockError};
use std::path::PathBuf;

use jiff::Timestamp;
use tejun_journal::{Entry, Journal, Query};
use tejun_runbook::Inventory;
use tejun_runbook::model::{Runbook, VarValue};
use tejun_runbook::plan::{BUILTINS, RunContext, plan, resolve_vars};

use crate::approval::Approvals;
use crate::error::EngineError;
use crate::events::{self, Outcome, RollbackStarted, RunEnded, RunRefused, RunResumed, RunStarted};
use crate::operator::{RunEvent, UnknownChoice, UnknownStep};
use crate::orphan;
use crate::refusal::Refusal;
use crate::replay::Replay;
use crate::replay::StepRecord;
use crate::runid::is_run_id;
use crate::runner::Finish;
use crate::runner::Runner;
use crate::start::{Engine, Guard, Report, command_env, kernel_lock, sha256_hex};

/// An interrupted run, loaded and locked: ready to be resumed once the CLI
/// has parsed its runbook from `source`.
pub struct Prepared {
    pub run_id: String,
    /// Approvals asked for and given so far.
    pub approvals: Approvals,
    /// Prepared for `tejun rollback`, not for resume.
    pub for_rollback: bool,
    pub started: RunStarted,
    pub started_at: Timestamp,
    /// The runbook file's text, verified against the recorded hash.
    pub source: String,
    pub replay: Replay,
    /// A fleet run's hosts and batches as journaled when it started.
    pub fleet: Option<events::FleetStarted>,
    /// Every process that ran this run (its start and each resume): a
    /// crashed one may have left ssh connections behind.
    pub pids: Vec<u32>,
    lock: File,
}

pub fn prepare(journal: &Journal, run_id: &str) -> Result<Prepared, EngineError> {
    prepare_with(journal, run_id, false)
}

/// Like [`prepare`], for `tejun rollback`: a run that ended may be rolled
/// back too, unless it already was.
pub fn prepare_rollback(journal: &Journal, run_id: &str) -> Result<Prepared, EngineError> {
    prepare_with(journal, run_id, true)
}

fn prepare_with(
    journal: &Journal,
    run_id: &str,
    for_rollback: bool,
) -> Result<Prepared, EngineError> {
    let no_such = || {
        EngineError::Refused(Refusal::NoSuchRun {
            run_id: run_id.to_string(),
        })
    };
    if !is_run_id(run_id) {
        return Err(no_such());
    }
    let stream = events::stream(run_id);
    let entries: Vec<Entry> = journal
        .query(&Query {
            subject: Some(&stream),
            ..Query::default()
        })?
        .into_iter()
        .filter(|e| e.stream == stream)
        .collect();
    let start = entries
        .iter()
        .find(|e| e.kind == events::RUN_STARTED)
        .ok_or_else(no_such)?;
    let started: RunStarted = start.decode()?;
    if for_rollback {
        if already_rolled_back(&entries)? {
            return Err(EngineError::Refused(Refusal::AlreadyRolledBack {
                run_id: run_id.to_string(),
            }));
        }
    } else if let Some(end) = entries.iter().find(|e| e.kind == events::RUN_ENDED) {
        let ended: RunEnded = end.decode()?;
        let outcome = serde_json::to_value(ended.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return Err(EngineError::Refused(Refusal::AlreadyEnded {
            run_id: run_id.to_string(),
            outcome,
        }));
    }
    let lock_path = PathBuf::from(&started.run_dir).join(events::LOCK_FILE);
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| EngineError::io(lock_path.display().to_string(), e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let pid = events::holder_pid(entries.iter().map(|e| (e.kind.as_str(), &e.payload)))
                .unwrap_or(started.pid);
            return Err(EngineError::Refused(Refusal::StillRunning {
                run_id: run_id.to_string(),
                pid,
            }));
        }
        Err(TryLockError::Error(e)) => {
            return Err(EngineError::io(lock_path.display().to_string(), e));
        }
    }
    let source = fs::read_to_string(&started.path).map_err(|e| {
        EngineError::Refused(Refusal::RunbookMissing {
            path: started.path.clone(),
            error: e.to_string(),
        })
    })?;
    let now = sha256_hex(source.as_bytes());
    if now != started.runbook_sha256 {
        return Err(EngineError::Refused(Refusal::RunbookChanged {
            path: started.path.clone(),
            recorded: started.runbook_sha256.clone(),
            now,
        }));
    }
    let replay = Replay::from_entries(&entries)?;
    let fleet = entries
        .iter()
        .find(|e| e.kind == events::FLEET_STARTED)
        .map(|e| e.decode())
        .transpose()?;
    let pids = entries
        .iter()
        .filter(|e| matches!(e.kind.as_str(), events::RUN_STARTED | events::RUN_RESUMED))
        .filter_map(|e| e.payload.get("pid").and_then(serde_json::Value::as_u64))
        .map(|pid| pid as u32)
        .collect();
    Ok(Prepared {
        fleet,
        pids,
        run_id: run_id.to_string(),
        approvals: Approvals::from_entries(&entries)?,
        for_rollback,
        started_at: start.ts,
        started,
        source,
        replay,
        lock,
    })
}

/// Whether the run's last rollback completed: a `rollback.started`
/// followed by an end (or the exit phase) that is rolled-back or aborted.
fn already_rolled_back(entries: &[Entry]) -> Result<bool, tejun_journal::Error> {
    let mut rolling_back = false;
    let mut done = false;
    for entry in entries {
        let outcome = match entry.kind.as_str() {
            events::ROLLBACK_STARTED => {
                rolling_back = true;
                done = false;
                continue;
            }
            events::RUN_ENDED => entry.decode::<RunEnded>()?.outcome,
            events::EXIT_STARTED => entry.decode::<events::ExitStarted>()?.outcome,
            _ => continue,
        };
        done = rolling_back && matches!(outcome, Outcome::RolledBack | Outcome::Aborted);
    }
    Ok(done)
}

pub struct ResumeRequest<'a> {
    pub runbook: &'a Runbook,
    pub inventory: Option<&'a Inventory>,
    /// `--var` again, for secret variables (never journaled).
    pub overrides: Vec<(String, String)>,
    pub on_unknown: Option<UnknownChoice>,
    /// Run a retried fleet step again on the hosts that had failed it
    /// before the crash (default: they keep their failure).
    pub retry_failed: bool,
    pub interactive: bool,
    pub confirm_env: Option<String>,
    pub confirm_destructive: bool,
}

/// A secret variable resume cannot take from the journal and was not given
/// again: the CLI asks for it on a terminal, or refuses naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingSecret {
    pub name: String,
    /// The runbook's `description` of it, for the prompt.
    pub description: Option<String>,
    /// The environment variable it may come from instead (`from_env`).
    pub from_env: Option<String>,
}

/// The secret variables `tejun resume` must be given again for this run,
/// with `given` the `--var`s of the resume. Empty when none is missing.
pub fn missing_secrets(
    prepared: &Prepared,
    runbook: &Runbook,
    given: &[(String, String)],
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Vec<MissingSecret> {
    restore_vars(&prepared.started, runbook, given, lookup_env).missing
}

/// How each variable of an interrupted run gets its value back.
struct Restored {
    /// Recorded values to use again, as if given with `--var`.
    replay: Vec<(String, String)>,
    /// Secrets that cannot be had: never journaled, not given again.
    missing: Vec<MissingSecret>,
}

/// Decides, for each runbook variable not given again with `--var`,
/// whether its value is replayed from `run.started`, resolved afresh (a
/// runbook literal, which renders the same from the recorded built-ins; a
/// secret read from the environment), or missing (a secret that only the
/// operator knows: `required`, or given with `--var` when the run started).
fn restore_vars(
    started: &RunStarted,
    runbook: &Runbook,
    given: &[(String, String)],
    lookup_env: &dyn Fn(&str) -> Option<String>,
) -> Restored {
    let mut restored = Restored {
        replay: Vec::new(),
        missing: Vec::new(),
    };
    for (name, def) in &runbook.vars {
        if given.iter().any(|(k, _)| k == name) {
            continue;
        }
        let recorded = started.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        // `None` for runs journaled before the names were recorded.
        let given_at_start = started
            .given_vars
            .as_ref()
            .map(|names| names.contains(name));
        let masked = recorded.is_none_or(|v| v == "***");
        if def.secret && masked {
            let missing = match &def.value {
                VarValue::Required => true,
                VarValue::Literal(_) => given_at_start == Some(true),
                VarValue::FromEnv(env) => given_at_start == Some(true) || lookup_env(env).is_none(),
            };
            if missing {
                restored.missing.push(MissingSecret {
                    name: name.clone(),
                    description: def.description.clone(),
                    from_env: match &def.value {
                        VarValue::FromEnv(env) => Some(env.clone()),
                        _ => None,
                    },
                });
            }
            continue;
        }
        let Some(value) = recorded else { continue };
        let fresh_literal = match (&def.value, given_at_start) {
            (VarValue::Literal(_), Some(given)) => !given,
            // An older run: a literal whose recorded copy had a secret
            // redacted out of it must be rendered again, not replayed.
            (VarValue::Literal(_), None) => value.contains("***"),
            _ => false,
        };
        if !fresh_literal {
            restored.replay.push((name.clone(), value.clone()));
        }
    }
    restored
}

pub fn resume(
    engine: &Engine<'_>,
    prepared: Prepared,
    request: ResumeRequest<'_>,
) -> Result<Report, EngineError> {
    let Prepared {
        run_id,
        started,
        started_at,
        mut replay,
        approvals,
        for_rollback,
        lock: _lock,
        ..
    } = prepared;
    let recorder = engine.recorder(&run_id, started.incident.as_deref());
    let actor = recorder.actor.clone();
    let refuse = |refusal: Refusal| -> Result<Report, EngineError> {
        recorder.record(RunEvent::RunRefused(RunRefused {
            runbook: started.path.clone(),
            env: started.env.clone(),
            operator: actor.clone(),
            reason: refusal.to_string(),
        }))?;
        Err(EngineError::Refused(refusal))
    };

    let now_included = crate::start::included_hashes(request.runbook);
    for (path, recorded) in &started.included {
        let now = now_included
            .iter()
            .find(|(p, _)| p == path)
            .map_or_else(|| "(no longer included)".to_string(), |(_, h)| h.clone());
        if &now != recorded {
            return refuse(Refusal::RunbookChanged {
                path: path.clone(),
                recorded: recorded.clone(),
                now,
            });
        }
    }
    let lookup_env = |name: &str| std::env::var(name).ok();
    let restored = restore_vars(&started, request.runbook, &request.overrides, &lookup_env);
    if !restored.missing.is_empty() {
        return refuse(Refusal::SecretsNeeded {
            vars: restored
                .missing
                .into_iter()
                .map(|m| (m.name, m.from_env))
                .collect(),
        });
    }
    let recorded = |name: &str| {
        started
            .vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut overrides = restored.replay;
    overrides.extend(request.overrides.iter().cloned());
    let context = RunContext {
        env: started.env.clone(),
        run_id: run_id.clone(),
        now: recorded("now").unwrap_or_else(|| started_at.to_string()),
        runbook_dir: recorded("runbook_dir").unwrap_or_default(),
        overrides: overrides
            .into_iter()
            .filter(|(k, _)| !BUILTINS.contains(&k.as_str()))
            .collect(),
    };
    let vars = resolve_vars(request.runbook, &context, &lookup_env).map_err(EngineError::Vars)?;
    let plan = plan(request.runbook, &vars);
    let guard = Guard {
        runbook: request.runbook,
        inventory: request.inventory,
        env: &started.env,
        plan: &plan,
        values: &vars.values,
        interactive: request.interactive,
        confirm_env: request.confirm_env.as_deref(),
        confirm_destructive: request.confirm_destructive,
        operator: engine.operator,
    };
    // runs/<id> sits in the journal's directory.
    let journal_dir = std::path::Path::new(&started.run_dir)
        .parent()
        .and_then(std::path::Path::parent);
    let kernel = |()| kernel_lock(request.inventory, &started.env, &plan, &vars, journal_dir);
    if let Err(refusal) = guard.check().and_then(kernel) {
        return refuse(refusal);
    }

    if for_rollback && plan.rollback.is_empty() {
        return refuse(Refusal::NoRollbackPlan { run_id });
    }
    if for_rollback && replay.steps.is_empty() {
        return refuse(Refusal::NothingRan { run_id });
    }
    if !for_rollback {
        if let Some((who, reason)) = approvals.rejected.clone() {
            return refuse(Refusal::Rejected {
                run_id,
                who,
                reason,
            });
        }
        if !approvals.enough() {
            return Ok(Report {
                run_dir: PathBuf::from(&started.run_dir),
                run_id,
                finish: Finish::AwaitingApproval {
                    needed: approvals.needed,
                    have: approvals.granted.len() as u32,
                },
            });
        }
    }

    let mut choice = None;
    let unknown = replay.unknown().cloned();
    // A command that outlived the crash must be stopped before anyone
    // decides to run it again.
    if let Some(open) = &unknown {
        let file = PathBuf::from(&started.run_dir).join(orphan::GROUP_FILE);
        let tag = orphan::tag(&open.step_id, open.attempt);
        if let Some(group) = orphan::stop_leftover(&file, &tag) {
            engine.operator.on_leftover_stopped(&open.step_id, group);
        }
        // And on the hosts of a fleet run (before any connection is used
        // for anything else).
        for (host, group) in engine.target.stop_leftovers(&file, &tag) {
            engine
                .operator
                .on_leftover_stopped(&format!("{} @ {host}", open.step_id), group);
        }
    }
    if for_rollback {
        // The rollback plan runs whatever the unknown step did.
        choice = unknown.as_ref().map(|_| UnknownChoice::Rollback);
    } else if let Some(open) = &unknown
        && open.kind == "confirm"
    {
        // Asking again is the default; rollback is the one choice that
        // means something else at a question.
        choice = request.on_unknown.filter(|c| *c == UnknownChoice::Rollback);
    } else if let Some(open) = &unknown {
        choice = request.on_unknown.or_else(|| {
            if !request.interactive {
                return None;
            }
            engine.operator.choose_unknown(&UnknownStep {
                step_id: &open.step_id,
                phase: &open.phase,
                kind: &open.kind,
                command: open.command.as_deref(),
                attempt: open.attempt,
            })
        });
        if choice.is_none() {
            return refuse(Refusal::UnknownNeedsChoice {
                step_id: open.step_id.clone(),
            });
        }
    }
    // The exit phase runs after the outcome is decided: `rollback` for one
    // of its steps would only skip that step (and leave the run uncleanly),
    // so it is refused; `tejun rollback RUN` rolls the run back.
    if let Some(open) = &unknown
        && !for_rollback
        && open.phase == "exit"
        && choice == Some(UnknownChoice::Rollback)
    {
        return refuse(Refusal::UnknownExitNoRollback {
            run_id: run_id.clone(),
            step_id: open.step_id.clone(),
        });
    }
    recorder.record(RunEvent::RunResumed(RunResumed {
        run_id: run_id.clone(),
        operator: actor.clone(),
        pid: std::process::id(),
        total_steps: plan.main.len(),
        unknown_step: unknown.as_ref().map(|u| u.step_id.clone()),
        choice: unknown
            .as_ref()
            .map(|_| choice.unwrap_or(UnknownChoice::Retry).as_str().to_string()),
    }))?;
    if for_rollback {
        // The whole rollback plan runs again (a restore is idempotent),
        // then the exit phase, even where they ran before.
        replay.steps.retain(|_, record| {
            let phase = match record {
                StepRecord::Started(s) => &s.phase,
                StepRecord::Finished(f) => &f.phase,
            };
            phase != "rollback" && phase != "exit"
        });
        replay.exit_started = None;
        // Exactly the hosts the run may have changed (fleet runs).
        engine.target.replayed(&replay);
        engine.target.select(crate::fleet::Selection::Changed);
        let rollback = RollbackStarted {
            run_id: run_id.clone(),
            reason: "operator".to_string(),
            failed_step: None,
            batch: None,
            hosts: engine.target.active_hosts(),
        };
        recorder.record(RunEvent::RollbackStarted(rollback.clone()))?;
        replay.rollback = Some(rollback);
    }
    let run_dir = PathBuf::from(&started.run_dir);
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
        replay,
        unknown_choice: choice,
        retry_failed: request.retry_failed,
        started_at,
        noted: 0,
        command_env: command_env(&run_id, &run_dir, &started.env),
        batch: None,
    };
    let finish = runner.run()?;
    Ok(Report {
        run_id,
        run_dir,
        finish,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK: &str = "name: x\nenv: dev\nvars:\n  token: {required: true, secret: true}\n  key: {value: default-key, secret: true}\n  pass: {from_env: PASS, secret: true}\n  url: \"https://u:{{token}}@h\"\n  host: {from_env: HOST}\n  ticket: {required: true}\n";

    fn started(given: Option<&[&str]>) -> RunStarted {
        let vars = [
            ("token", "***"),
            ("key", "***"),
            ("pass", "***"),
            ("url", "https://u:***@h"),
            ("host", "web-1"),
            ("ticket", "CHG-1"),
        ];
        RunStarted {
            run_id: "r".into(),
            runbook: "x".into(),
            path: "/x.yaml".into(),
            runbook_sha256: String::new(),
            env: "dev".into(),
            operator: "a@h".into(),
            host: "h".into(),
            pid: 1,
            run_dir: "/tmp".into(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            total_steps: 0,
            incident: None,
            given_vars: given.map(|g| g.iter().map(|s| s.to_string()).collect()),
            kernel_guard: None,
            included: Vec::new(),
        }
    }

    fn names(restored: &Restored) -> (Vec<&str>, Vec<&str>) {
        (
            restored.missing.iter().map(|m| m.name.as_str()).collect(),
            restored.replay.iter().map(|(k, _)| k.as_str()).collect(),
        )
    }

    #[test]
    fn secrets_the_journal_cannot_give_back_are_missing() {
        let runbook = tejun_runbook::parse_runbook(BOOK, "x.yaml").unwrap();
        let no_env = |_: &str| None;
        let with_env = |name: &str| (name == "PASS").then(|| "p".to_string());

        // Given at the start: token (required), key (over its default),
        // ticket (plain). The literal url is rendered again, not replayed.
        let run = started(Some(&["token", "key", "ticket"]));
        let restored = restore_vars(&run, &runbook, &[], &no_env);
        assert_eq!(
            names(&restored),
            (vec!["token", "key", "pass"], vec!["host", "ticket"])
        );
        assert_eq!(restored.missing[2].from_env.as_deref(), Some("PASS"));
        let restored = restore_vars(&run, &runbook, &[], &with_env);
        assert_eq!(names(&restored).0, ["token", "key"]);
        let given = [
            ("token".to_string(), "t".to_string()),
            ("key".into(), "k".into()),
        ];
        assert!(
            restore_vars(&run, &runbook, &given, &with_env)
                .missing
                .is_empty()
        );

        // key kept its default: nothing to ask for it.
        let run = started(Some(&["token", "ticket"]));
        assert_eq!(
            names(&restore_vars(&run, &runbook, &[], &with_env)).0,
            ["token"]
        );
    }

    #[test]
    fn older_runs_replay_all_but_redacted_literals() {
        let runbook = tejun_runbook::parse_runbook(BOOK, "x.yaml").unwrap();
        let restored = restore_vars(&started(None), &runbook, &[], &|_| None);
        assert_eq!(
            names(&restored),
            (vec!["token", "pass"], vec!["host", "ticket"])
        );
    }
}
