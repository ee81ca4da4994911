//! The environment guard: everything that must hold before the first step
//! runs. Fail-closed: no inventory, an environment the inventory does not
//! know, or a path or host it pins elsewhere, and nothing runs.
//!
//! `tejun check`, `tejun plan` and `tejun run` (and `resume`) call this one
//! function, so they cannot disagree. Commands are read as the shell will
//! act on them, with variable values substituted (values reach the shell
//! as data, but a path built from a value still names that path): see
//! [`touch`] for what is read and [`resolve`] for how a word becomes the
//! files it names. What text cannot see (a path assembled at run time, a
//! symlink made by an earlier step) is left to the kernel layer
//! ([`kernel`]) where the platform allows it.

pub mod kernel;
pub mod resolve;
pub mod shell;
pub mod touch;

use std::collections::HashMap;

use indexmap::IndexMap;
use tejun_runbook::Inventory;
use tejun_runbook::model::{Runbook, Span, StepKind};
use tejun_runbook::plan::{Plan, PlannedStep};
use tejun_runbook::template::{Quoting, render_str};

use crate::refusal::Refusal;

/// A refusal, and where in the runbook the step (or path) that caused it
/// is written, for `tejun check`'s file:line:col.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub span: Span,
    /// The included file `span` is in; `None` for the runbook itself.
    pub file: Option<String>,
    pub refusal: Refusal,
}

/// Static checks: runbook environment, inventory, path and host pins. The
/// first refusal, as `run` and `plan` report it.
pub fn check(
    runbook: &Runbook,
    inventory: Option<&Inventory>,
    env: &str,
    plan: &Plan,
    values: &IndexMap<String, String>,
) -> Result<(), Refusal> {
    match violations(runbook, inventory, env, plan, values)
        .into_iter()
        .next()
    {
        Some(v) => Err(v.refusal),
        None => Ok(()),
    }
}

/// Every refusal the guard finds for running `plan` in `env`, in step
/// order (`tejun check` lists them all).
pub fn violations(
    runbook: &Runbook,
    inventory: Option<&Inventory>,
    env: &str,
    plan: &Plan,
    values: &IndexMap<String, String>,
) -> Vec<Violation> {
    let whole = Span::default();
    let one = |refusal| {
        vec![Violation {
            span: whole,
            file: None,
            refusal,
        }]
    };
    if runbook.environments.is_empty() {
        return one(Refusal::RunbookWithoutEnvironment);
    }
    if !runbook.environments.iter().any(|e| e == env) {
        return one(Refusal::WrongEnvironment {
            env: env.to_string(),
            written_for: runbook.environments.clone(),
        });
    }
    let Some(inventory) = inventory else {
        return one(Refusal::NoInventory);
    };
    // Every environment the runbook names, not only `env`: a misspelt one
    // (`stg`) means the author's idea of where it may run is wrong, and
    // `plan` and `check` have always refused it.
    let unknown = std::iter::once(env)
        .chain(runbook.environments.iter().map(String::as_str))
        .find(|name| inventory.environment(name).is_none());
    if let Some(name) = unknown {
        return one(Refusal::UnknownEnvironment {
            env: name.to_string(),
            known: inventory.environments.keys().cloned().collect(),
        });
    }
    let mut judge = Judge {
        inventory,
        env,
        linked: None,
    };
    let cwd = std::env::current_dir().ok();
    let mut found = Vec::new();
    for step in plan.main.iter().chain(&plan.rollback) {
        let mut refuse = |span: Span, refusal: Refusal| {
            let v = Violation {
                span,
                file: step.step.file.clone(),
                refusal,
            };
            if !found.contains(&v) {
                found.push(v);
            }
        };
        if let Some((command, span)) = effective_command(step, values) {
            let touched = touch::touches(&command, cwd.as_deref());
            for host in &touched.hosts {
                if let Some(pinned) = inventory.host_environment(host)
                    && pinned != env
                {
                    refuse(
                        span,
                        Refusal::HostPinned {
                            step_id: step.step.id.clone(),
                            host: host.clone(),
                            pinned_to: pinned.to_string(),
                            env: env.to_string(),
                        },
                    );
                }
            }
            for word in &touched.paths {
                if let Some(pinned) = judge.pinned_elsewhere(word) {
                    refuse(span, judge.refusal(step, &word.written, pinned));
                }
            }
        }
        for (path, span) in declared_paths(step, plan) {
            let word = touch::PathWord {
                written: path.clone(),
                resolved: touch::join(cwd.as_deref(), &path).display().to_string(),
                glob: path.contains(['*', '?', '[']),
            };
            if let Some(pinned) = judge.pinned_elsewhere(&word) {
                refuse(span, judge.refusal(step, &path, pinned));
            }
        }
    }
    found
}

/// The command a run or check step executes, with every variable's value
/// substituted as is: what the shell will effectively act on.
pub(crate) fn effective_command(
    step: &PlannedStep,
    values: &IndexMap<String, String>,
) -> Option<(String, Span)> {
    match &step.step.kind {
        StepKind::Run(c) | StepKind::Check(c) => Some((
            render_str(&c.command.source, values, Quoting::Raw),
            c.command.span,
        )),
        _ => None,
    }
}

/// Declared paths (with where they are written), and the files of the
/// backup a restore step restores.
fn declared_paths(step: &PlannedStep, plan: &Plan) -> Vec<(String, Span)> {
    let mut paths: Vec<(String, Span)> = step
        .paths
        .iter()
        .cloned()
        .zip(step.step.paths.iter().map(|t| t.span))
        .collect();
    if let StepKind::Restore(restore) = &step.step.kind
        && let Some(backup) = plan
            .main
            .iter()
            .chain(&plan.rollback)
            .find(|s| s.step.id == restore.from)
    {
        paths.extend(backup.paths.iter().map(|p| (p.clone(), step.step.span)));
    }
    paths
}

/// Judges words against one inventory for one environment; the hardlink
/// table is built only when a file with several names is met.
struct Judge<'a> {
    inventory: &'a Inventory,
    env: &'a str,
    linked: Option<HashMap<(u64, u64), String>>,
}

impl Judge<'_> {
    /// The other environment `word` belongs to, if any.
    fn pinned_elsewhere(&mut self, word: &touch::PathWord) -> Option<String> {
        let mut forms = resolve::forms(&word.written, &word.resolved);
        if word.glob {
            forms.extend(resolve::expand(&word.resolved).into_iter().flat_map(|p| {
                let shown = p.display().to_string();
                resolve::forms(&shown, &shown)
            }));
        }
        for form in &forms {
            if let Some(env) = self.pinned(form) {
                return Some(env);
            }
        }
        if word.glob {
            for env in self.inventory.environments.values() {
                if env.name == self.env {
                    continue;
                }
                if env
                    .paths
                    .iter()
                    .any(|pin| resolve::glob_overlaps(&word.resolved, pin))
                {
                    return Some(env.name.clone());
                }
            }
        }
        for form in &forms {
            if let Some(id) = resolve::multiply_linked(form) {
                let linked = self
                    .linked
                    .get_or_insert_with(|| resolve::linked_pinned_files(self.inventory));
                if let Some(env) = linked.get(&id)
                    && env != self.env
                {
                    return Some(env.clone());
                }
            }
        }
        None
    }

    /// A path or the directory a pin covers the contents of
    /// (`/srv/production` for `/srv/production/**`).
    fn pinned(&self, path: &str) -> Option<String> {
        let inside = format!("{}/_", path.trim_end_matches('/'));
        [path, inside.as_str()]
            .iter()
            .find_map(|p| self.inventory.pinned_environment(p))
            .filter(|pinned| *pinned != self.env)
            .map(str::to_string)
    }

    fn refusal(&self, step: &PlannedStep, path: &str, pinned_to: String) -> Refusal {
        Refusal::PathPinned {
            step_id: step.step.id.clone(),
            path: path.to_string(),
            pinned_to,
            env: self.env.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_directory_itself_is_pinned() {
        let inv = tejun_runbook::parse_inventory(
            "environments:\n  staging: {}\n  production: {paths: ['/srv/production/**']}\n",
            "t.yaml",
        )
        .unwrap();
        let judge = Judge {
            inventory: &inv,
            env: "staging",
            linked: None,
        };
        assert_eq!(
            judge.pinned("/srv/production").as_deref(),
            Some("production")
        );
        assert_eq!(
            judge.pinned("/srv/production/").as_deref(),
            Some("production")
        );
        assert_eq!(judge.pinned("/srv"), None);
    }
}
