//! The kernel-enforced layer: what the text analysis misses still cannot
//! write. At the start of a run (once, not per step) tejun moves the thread
//! that runs steps into a private mount namespace, makes `/` private there
//! (nothing propagates back to the host), and bind-mounts every existing
//! path pinned to *another* environment read-only onto itself. Every step
//! is a child of that thread and inherits the namespace, so a write to a
//! locked path fails with EROFS however its name was assembled (a path
//! printed at run time, a symlink an earlier step made, a hardlink).
//!
//! What is locked, per pin of another environment:
//! - a pin with a literal directory prefix (`/srv/production/**`, or an
//!   exact file): the prefix, or the existing files and directories under
//!   it that the pin covers (`/etc/nginx/sites-*/prod.conf`);
//! - a pin that can be anywhere (`**/production-*.conf`): the matching
//!   files in the directories the run's commands name (not the whole disk);
//! - never a directory holding tejun's own journal and run folders, nor one
//!   holding a path pinned to the run's own environment (reported as not
//!   locked).
//!
//! Only on Linux, only as root (mounting needs `CAP_SYS_ADMIN`). Anywhere
//! else the text guard alone applies, and the run says so once; an
//! environment with `enforce: kernel` in the inventory is then refused.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use tejun_locale::Lang;
use tejun_runbook::Inventory;
use tejun_runbook::plan::Plan;

use super::{resolve, touch};
use crate::refusal::Refusal;

/// What the kernel enforces for one run: journaled in `run.started`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelGuard {
    /// Paths of other environments mounted read-only for this run.
    pub locked: Vec<String>,
    /// Why nothing is locked (`not-linux`, `not-root`, `unshare: EPERM`...),
    /// or `None` when the layer is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// Pins (or paths) the kernel does not enforce, each with why; the
    /// text guard alone covers them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_only: Vec<TextOnly>,
}

/// A pin or path the kernel layer leaves to the text check, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextOnly {
    pub path: String,
    pub why: TextOnlyWhy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextOnlyWhy {
    /// `**/name`: can be anywhere; locked only where the commands point.
    Anywhere,
    /// Holds tejun's journal and run folders.
    HoldsJournal,
    /// Holds paths pinned to the run's own environment.
    HoldsOwnPaths,
}

impl TextOnly {
    pub fn describe(&self, lang: Lang) -> String {
        let why = match self.why {
            TextOnlyWhy::Anywhere => lang.pick(
                "can be anywhere: locked only in the directories the commands name",
                "どこにでも一致するため、コマンドが指すディレクトリ内でのみロック",
            ),
            TextOnlyWhy::HoldsJournal => lang.pick(
                "holds tejun's journal, which must stay writable",
                "tejun のジャーナルを含むため書き込み可能のまま",
            ),
            TextOnlyWhy::HoldsOwnPaths => lang.pick(
                "holds paths of the run's own environment",
                "実行する環境自身のパスを含む",
            ),
        };
        format!("{} ({why})", self.path)
    }
}

impl KernelGuard {
    /// One line for the operator, in `lang`; `None` when there was
    /// nothing of another environment to lock.
    pub fn describe(&self, lang: Lang) -> Option<String> {
        match &self.unavailable {
            Some(reason) => Some(match lang {
                Lang::En => format!(
                    "kernel guard unavailable ({reason}): paths of other environments are protected by the text check only"
                ),
                Lang::Ja => format!(
                    "カーネルによる保護は使えません ({reason})。他の環境のパスはテキスト検査だけで守られます"
                ),
            }),
            None if self.locked.is_empty() => None,
            None => Some(match lang {
                Lang::En => format!(
                    "kernel-enforced read-only for this run: {}",
                    self.locked.join(", ")
                ),
                Lang::Ja => format!(
                    "この実行中はカーネルが読み取り専用にします: {}",
                    self.locked.join(", ")
                ),
            }),
        }
    }
}

/// The paths a run in `env` would lock, and the pins it cannot.
pub fn targets(
    inventory: &Inventory,
    env: &str,
    plan: &Plan,
    values: &IndexMap<String, String>,
    keep_writable: &[PathBuf],
) -> (Vec<PathBuf>, Vec<TextOnly>) {
    let roots = command_dirs(plan, values);
    let keep_writable: Vec<PathBuf> = keep_writable
        .iter()
        .map(|k| std::fs::canonicalize(k).unwrap_or_else(|_| k.clone()))
        .collect();
    let own: Vec<PathBuf> = inventory
        .environment(env)
        .map(|e| {
            e.paths
                .iter()
                .filter_map(|p| resolve::literal_prefix(p))
                .collect()
        })
        .unwrap_or_default();
    let mut lock: Vec<PathBuf> = Vec::new();
    let mut text_only = Vec::new();
    for other in inventory.environments.values().filter(|e| e.name != env) {
        for pin in &other.paths {
            let found = match resolve::literal_prefix(pin) {
                Some(prefix) if pin_is_subtree(pin, &prefix) => {
                    if prefix.exists() {
                        vec![prefix]
                    } else {
                        Vec::new()
                    }
                }
                Some(prefix) => covered_under(inventory, &other.name, &prefix),
                None => {
                    text_only.push(TextOnly {
                        path: pin.clone(),
                        why: TextOnlyWhy::Anywhere,
                    });
                    roots
                        .iter()
                        .flat_map(|root| covered_under(inventory, &other.name, root))
                        .collect()
                }
            };
            for path in found {
                let path = std::fs::canonicalize(&path).unwrap_or(path);
                if keep_writable.iter().any(|k| k.starts_with(&path)) {
                    text_only.push(TextOnly {
                        path: path.display().to_string(),
                        why: TextOnlyWhy::HoldsJournal,
                    });
                } else if own.iter().any(|o| o.starts_with(&path) && *o != path) {
                    text_only.push(TextOnly {
                        path: path.display().to_string(),
                        why: TextOnlyWhy::HoldsOwnPaths,
                    });
                } else if path != Path::new("/") && !lock.contains(&path) {
                    lock.push(path);
                }
            }
        }
    }
    // A path inside another locked one is locked with it.
    lock.sort();
    let mut top: Vec<PathBuf> = Vec::new();
    for path in lock {
        if !top.iter().any(|t| path.starts_with(t)) {
            top.push(path);
        }
    }
    (top, text_only)
}

/// `prefix/**` or the prefix itself: the whole subtree is the pin.
fn pin_is_subtree(pin: &str, prefix: &Path) -> bool {
    let rest = pin
        .strip_prefix(&*prefix.to_string_lossy())
        .unwrap_or(pin)
        .trim_start_matches('/');
    rest.is_empty() || rest == "**"
}

/// Existing paths under `root` that `env`'s pins cover: the top-most ones
/// (a covered directory is not descended).
fn covered_under(inventory: &Inventory, env: &str, root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut budget = resolve::WALK_LIMIT;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let shown = path.display().to_string();
        if inventory.pinned_environment(&shown) == Some(env) {
            found.push(path);
            continue;
        }
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if !meta.is_dir() {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&path) else {
            continue;
        };
        for entry in entries.flatten() {
            if budget == 0 {
                return found;
            }
            budget -= 1;
            stack.push(entry.path());
        }
    }
    found
}

/// Existing directories the run's commands name (and the process's own),
/// where pins that can be anywhere are looked for.
fn command_dirs(plan: &Plan, values: &IndexMap<String, String>) -> Vec<PathBuf> {
    let cwd = std::env::current_dir().ok();
    let mut dirs: Vec<PathBuf> = cwd.iter().cloned().collect();
    for step in plan.main.iter().chain(&plan.rollback) {
        let Some((command, _)) = super::effective_command(step, values) else {
            continue;
        };
        for word in touch::touches(&command, cwd.as_deref()).paths {
            let path = PathBuf::from(&word.resolved);
            let dir = if path.is_dir() {
                Some(path)
            } else {
                path.parent().filter(|p| p.is_dir()).map(Path::to_path_buf)
            };
            if let Some(dir) = dir
                && dir != Path::new("/")
                && !dirs.contains(&dir)
            {
                dirs.push(dir);
            }
        }
    }
    dirs
}

/// Locks the paths of every other environment for the rest of this
/// thread's life (and its children's). Refuses when an environment asks
/// for `enforce: kernel` and the kernel cannot.
pub fn enforce(
    inventory: &Inventory,
    env: &str,
    plan: &Plan,
    values: &IndexMap<String, String>,
    keep_writable: &[PathBuf],
) -> Result<KernelGuard, Refusal> {
    let (lock, text_only) = targets(inventory, env, plan, values, keep_writable);
    let result = if lock.is_empty() {
        Ok(Vec::new())
    } else {
        mount_read_only(&lock)
    };
    let guard = match result {
        Ok(locked) => KernelGuard {
            locked: locked.iter().map(|p| p.display().to_string()).collect(),
            unavailable: None,
            text_only,
        },
        Err(reason) => KernelGuard {
            locked: Vec::new(),
            unavailable: Some(reason),
            text_only,
        },
    };
    // Strict environments need the layer itself, even when nothing of
    // theirs exists yet to lock.
    let missing = guard
        .unavailable
        .clone()
        .or_else(|| unavailable().map(str::to_string));
    if let Some(reason) = &missing
        && let Some(strict) = inventory
            .environments
            .values()
            .find(|e| e.name != env && e.enforce_kernel)
    {
        return Err(Refusal::KernelGuardUnavailable {
            protected: strict.name.clone(),
            reason: reason.clone(),
        });
    }
    Ok(guard)
}

/// Why the kernel layer cannot apply in this process, or `None` when it
/// can (Linux, root). Mounting may still fail; [`enforce`] says so.
pub fn unavailable() -> Option<&'static str> {
    if !cfg!(target_os = "linux") {
        Some("not-linux")
    } else if !nix::unistd::geteuid().is_root() {
        Some("not-root")
    } else {
        None
    }
}

#[cfg(target_os = "linux")]
fn mount_read_only(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};

    if let Some(reason) = unavailable() {
        return Err(reason.to_string());
    }
    // Per thread: the calling thread (the one that spawns every step) gets
    // its own namespace even when other threads exist.
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare: {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("mount --make-rprivate /: {e}"))?;
    let mut locked = Vec::new();
    for path in paths {
        mount(
            Some(path.as_path()),
            path.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("bind {}: {e}", path.display()))?;
        // The recursive bind copied any mounts below; each is made
        // read-only too, the top one first.
        let mut points = vec![path.clone()];
        points.extend(mounts_below(path));
        for point in points {
            mount(
                None::<&str>,
                point.as_path(),
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| format!("remount read-only {}: {e}", point.display()))?;
        }
        locked.push(path.clone());
    }
    Ok(locked)
}

#[cfg(not(target_os = "linux"))]
fn mount_read_only(_paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    Err("not-linux".to_string())
}

/// Mount points strictly below `path` in this namespace.
#[cfg(target_os = "linux")]
fn mounts_below(path: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| PathBuf::from(unescape_mountinfo(point)))
        .filter(|point| point.starts_with(path) && point != path)
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
#[cfg(target_os = "linux")]
fn unescape_mountinfo(text: &str) -> String {
    text.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The test harness runs this on one of several threads: unsharing the
    /// mount namespace works there, binds only that thread's children, and
    /// leaves the other threads' view (and the host's) writable.
    #[test]
    fn locks_per_thread_in_a_multithreaded_process() {
        if unavailable().is_some() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let pinned = dir.path().join("pinned");
        std::fs::create_dir(&pinned).unwrap();
        std::fs::write(pinned.join("f"), "x").unwrap();
        let pinned = std::fs::canonicalize(&pinned).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let other_path = pinned.join("f");
        let other = std::thread::spawn(move || {
            rx.recv().unwrap();
            done_tx
                .send(std::fs::write(&other_path, "other").is_ok())
                .unwrap();
        });
        let locked = std::thread::spawn(move || {
            mount_read_only(std::slice::from_ref(&pinned)).unwrap();
            let child = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("echo y >> {}/f", pinned.display()))
                .status()
                .unwrap();
            (child.success(), pinned)
        })
        .join()
        .unwrap();
        assert!(!locked.0, "the child of the locked thread could write");
        tx.send(()).unwrap();
        assert!(done_rx.recv().unwrap(), "another thread was locked too");
        other.join().unwrap();
        assert_eq!(
            std::fs::read_to_string(locked.1.join("f")).unwrap(),
            "other"
        );
    }
}
