//! The environment guard: everything that must hold before the first step
//! runs. Fail-closed: no inventory, an environment the inventory does not
//! know, or a path it pins elsewhere, and nothing runs.
//!
//! Paths are taken from what steps declare (`paths:`, backup files) and from
//! the rendered command lines themselves: every shell word that looks like a
//! path is checked. The seed case is a staging runbook that edits
//! `production-site.conf` in a `sed -i` line, with no `paths:` at all; the
//! guard must see it in the command.

use std::path::Path;

use tejun_runbook::Inventory;
use tejun_runbook::model::{Runbook, StepKind};
use tejun_runbook::plan::{Plan, PlannedStep};

use crate::refusal::Refusal;

/// Static checks: runbook environment, inventory, path pins.
pub fn check(
    runbook: &Runbook,
    inventory: Option<&Inventory>,
    env: &str,
    plan: &Plan,
) -> Result<(), Refusal> {
    if runbook.environments.is_empty() {
        return Err(Refusal::RunbookWithoutEnvironment);
    }
    if !runbook.environments.iter().any(|e| e == env) {
        return Err(Refusal::WrongEnvironment {
            env: env.to_string(),
            written_for: runbook.environments.clone(),
        });
    }
    let inventory = inventory.ok_or(Refusal::NoInventory)?;
    if inventory.environment(env).is_none() {
        return Err(Refusal::UnknownEnvironment {
            env: env.to_string(),
            known: inventory.environments.keys().cloned().collect(),
        });
    }
    let cwd = std::env::current_dir().ok();
    for step in plan.main.iter().chain(&plan.rollback) {
        if let Some(command) = &step.command {
            for host in host_words(command) {
                if let Some(pinned) = inventory.host_environment(&host)
                    && pinned != env
                {
                    return Err(Refusal::HostPinned {
                        step_id: step.step.id.clone(),
                        host,
                        pinned_to: pinned.to_string(),
                        env: env.to_string(),
                    });
                }
            }
        }
        for path in touched_paths(step, plan) {
            let mut candidates = vec![path.clone()];
            if !path.starts_with('/')
                && let Some(cwd) = &cwd
            {
                candidates.push(cwd.join(&path).display().to_string());
            }
            for candidate in candidates {
                if let Some(pinned) = inventory.pinned_environment(&candidate)
                    && pinned != env
                {
                    return Err(Refusal::PathPinned {
                        step_id: step.step.id.clone(),
                        path,
                        pinned_to: pinned.to_string(),
                        env: env.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Declared paths, the files of the backup a restore step restores, and
/// path-like words of the command.
fn touched_paths(step: &PlannedStep, plan: &Plan) -> Vec<String> {
    let mut paths = step.paths.clone();
    if let StepKind::Restore(restore) = &step.step.kind
        && let Some(backup) = plan
            .main
            .iter()
            .chain(&plan.rollback)
            .find(|s| s.step.id == restore.from)
    {
        paths.extend(backup.paths.iter().cloned());
    }
    if let Some(command) = &step.command {
        paths.extend(path_words(command));
    }
    paths
}

/// Shell words of `command` that look like paths: containing `/`, or a
/// `name.ext`. Words are split the way the shell would (shlex), then again
/// at operators glued to them (`>/etc/x`, `a;b`, `--file=x`).
pub fn path_words(command: &str) -> Vec<String> {
    let words = shlex::split(command)
        .unwrap_or_else(|| command.split_whitespace().map(str::to_string).collect());
    words
        .iter()
        .flat_map(|word| {
            word.split(|c: char| ";|&()<>=`".contains(c))
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|piece| looks_like_path(piece))
        .collect()
}

/// Shell words of `command` that may name a host: the word itself, and
/// the host part of `user@host`, `host:port` and `user@host:path`. Only exact
/// (case-insensitive) matches with an inventory's `hosts` count, so ordinary
/// words never match by accident.
pub fn host_words(command: &str) -> Vec<String> {
    let words = shlex::split(command)
        .unwrap_or_else(|| command.split_whitespace().map(str::to_string).collect());
    let mut hosts = Vec::new();
    for word in &words {
        for piece in word.split(|c: char| ";|&()<>=`".contains(c)) {
            let after_user = piece.rsplit('@').next().unwrap_or(piece);
            let host = after_user.split(':').next().unwrap_or(after_user);
            if !host.is_empty() && !host.starts_with('-') {
                hosts.push(host.to_string());
            }
        }
    }
    hosts
}

fn looks_like_path(piece: &str) -> bool {
    if piece.is_empty() || piece.starts_with('-') || piece.contains("://") {
        return false;
    }
    if piece.contains('/') {
        return true;
    }
    let has_extension = Path::new(piece).extension().is_some_and(|ext| {
        ext.to_string_lossy()
            .chars()
            .any(|c| c.is_ascii_alphabetic())
    });
    has_extension && piece.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_paths_glued_to_shell_operators() {
        let words = path_words(
            "sed -i 's/a/b/' production-site.conf && cat >/etc/x;echo --file=/srv/y 1.5",
        );
        assert!(
            words.contains(&"production-site.conf".to_string()),
            "{words:?}"
        );
        assert!(words.contains(&"/etc/x".to_string()), "{words:?}");
        assert!(words.contains(&"/srv/y".to_string()), "{words:?}");
        assert!(!words.contains(&"1.5".to_string()));
    }

    #[test]
    fn host_words_find_ssh_and_scp_targets() {
        let words = host_words("ssh deploy@web-1 uptime && scp f web-2:/tmp/ && curl db-1:5432");
        for host in ["web-1", "web-2", "db-1"] {
            assert!(words.contains(&host.to_string()), "{host} in {words:?}");
        }
    }

    #[test]
    fn quoted_paths_are_one_word() {
        let words = path_words("cp '/tmp/a b/site.conf' /tmp/c");
        assert_eq!(words, ["/tmp/a b/site.conf", "/tmp/c"]);
    }
}
