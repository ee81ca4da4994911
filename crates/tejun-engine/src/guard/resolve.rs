//! From a word to the files it names: lexical forms, `/proc/*/root`,
//! symlinks and `..` through the file system (canonicalised), globs
//! expanded the way the shell will, and hardlinks by device and inode.
//! Read-only file system access, bounded so a guard never walks a disk.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use tejun_runbook::Inventory;

/// At most this many entries are read when expanding one glob or one pin
/// (and, by the kernel guard, when looking for pinned files under a root).
pub(super) const WALK_LIMIT: usize = 20_000;

/// Every form under which `resolved` may be judged: as written, without a
/// `/proc/<pid>/root` prefix, and canonical (symlinks and `..` resolved as
/// far as the path exists).
pub fn forms(written: &str, resolved: &str) -> Vec<String> {
    let mut forms = vec![written.to_string(), resolved.to_string()];
    if let Some(stripped) = strip_proc_root(resolved) {
        forms.push(stripped);
    }
    if Path::new(resolved).is_absolute() {
        forms.push(canonical(Path::new(resolved)).display().to_string());
    }
    forms.dedup();
    forms
}

/// `/proc/self/root/x`, `/proc/thread-self/root/x`, `/proc/123/root/x` → `/x`.
fn strip_proc_root(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/proc/")?;
    let (pid, rest) = rest.split_once('/')?;
    let known = pid == "self"
        || pid == "thread-self"
        || (!pid.is_empty() && pid.chars().all(|c| c.is_ascii_digit()));
    let rest = rest.strip_prefix("root")?;
    (known && (rest.is_empty() || rest.starts_with('/'))).then(|| {
        if rest.is_empty() {
            "/".to_string()
        } else {
            rest.to_string()
        }
    })
}

/// The path with symlinks and `..` resolved through its longest existing
/// ancestor; the part that does not exist yet is appended as written.
pub fn canonical(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut tail: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for part in tail.iter().rev() {
                if part == ".." {
                    out.pop();
                } else if part != "." {
                    out.push(part);
                }
            }
            return out;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => {
                // `..` or the root: nothing more to resolve.
                if existing.ends_with("..") {
                    tail.push("..".into());
                    existing.pop();
                    continue;
                }
                return path.to_path_buf();
            }
        }
    }
}

fn component_glob(pattern: &str) -> Option<GlobMatcher> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The files an absolute glob names now, as the shell would expand it
/// (component by component; `**` behaves as `*` without `globstar`).
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    if !pattern.starts_with('/') {
        return Vec::new();
    }
    let mut found = vec![PathBuf::from("/")];
    let mut budget = WALK_LIMIT;
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        let meta = part.contains(['*', '?', '[']);
        let matcher = if meta {
            component_glob(&part.replace("**", "*"))
        } else {
            None
        };
        for dir in &found {
            match &matcher {
                None => {
                    let candidate = dir.join(part);
                    if candidate.symlink_metadata().is_ok() {
                        next.push(candidate);
                    }
                }
                Some(m) => {
                    let Ok(entries) = std::fs::read_dir(dir) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        if budget == 0 {
                            break;
                        }
                        budget -= 1;
                        let name = entry.file_name();
                        let hidden = name.to_string_lossy().starts_with('.');
                        if m.is_match(&name) && (!hidden || part.starts_with('.')) {
                            next.push(entry.path());
                        }
                    }
                }
            }
        }
        found = next;
        if found.is_empty() {
            break;
        }
    }
    found
}

/// The pattern a pin compiles to, cut at its first component with a glob
/// character: `/srv/production/**` → `/srv/production`. `None` for pins
/// that start with `**` (they can be anywhere).
pub fn literal_prefix(pin: &str) -> Option<PathBuf> {
    if !pin.starts_with('/') {
        return None;
    }
    let mut prefix = PathBuf::from("/");
    for part in pin.split('/').filter(|p| !p.is_empty()) {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        prefix.push(part);
    }
    (prefix != Path::new("/")).then_some(prefix)
}

/// Whether the glob `word` (absolute) can name something a pin covers: the
/// word cut to as many components as the pin's literal prefix matches that
/// prefix (`/srv/prod*` and `/srv/production/**`), or, for a pin that can
/// be anywhere (`**/production-*.conf`), the word's last component matches
/// a name the pin covers.
pub fn glob_overlaps(word: &str, pin: &str) -> bool {
    if let Some(prefix) = literal_prefix(pin) {
        let depth = prefix.components().count() - 1;
        let parts: Vec<&str> = word.split('/').filter(|p| !p.is_empty()).collect();
        if parts.len() < depth {
            // `/sr*` against `/srv/production`: the word is an ancestor.
            let cut: Vec<String> = prefix
                .components()
                .skip(1)
                .take(parts.len())
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let cut = format!("/{}", cut.join("/"));
            return component_glob(word).is_some_and(|m| m.is_match(&cut));
        }
        let cut = format!("/{}", parts[..depth].join("/"));
        return component_glob(&cut).is_some_and(|m| m.is_match(&prefix));
    }
    let last_pin = pin.rsplit('/').next().unwrap_or(pin);
    let last_word = word.rsplit('/').next().unwrap_or(word);
    let sample = last_pin.replace("**", "x").replace(['*', '?'], "x");
    component_glob(last_word).is_some_and(|m| m.is_match(&sample))
}

/// Device and inode of every existing file a pin with a literal prefix
/// covers that has more than one name, with the pin's environment: a
/// hardlink elsewhere to one of these is the same file.
pub fn linked_pinned_files(inventory: &Inventory) -> HashMap<(u64, u64), String> {
    let mut files = HashMap::new();
    for env in inventory.environments.values() {
        for pin in &env.paths {
            let Some(prefix) = literal_prefix(pin) else {
                continue;
            };
            let mut budget = WALK_LIMIT;
            let mut stack = vec![prefix];
            while let Some(path) = stack.pop() {
                let Ok(meta) = path.symlink_metadata() else {
                    continue;
                };
                if meta.is_dir() {
                    let Ok(entries) = std::fs::read_dir(&path) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        if budget == 0 {
                            break;
                        }
                        budget -= 1;
                        stack.push(entry.path());
                    }
                } else if meta.is_file()
                    && meta.nlink() > 1
                    && inventory.pinned_environment(&path.display().to_string()) == Some(&env.name)
                {
                    files.insert((meta.dev(), meta.ino()), env.name.clone());
                }
            }
        }
    }
    files
}

/// Device and inode of `path` when it is an existing file with more than
/// one name.
pub fn multiply_linked(path: &str) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_file() && meta.nlink() > 1).then(|| (meta.dev(), meta.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_root_is_the_root() {
        assert_eq!(
            strip_proc_root("/proc/self/root/srv/x").as_deref(),
            Some("/srv/x")
        );
        assert_eq!(strip_proc_root("/proc/1/root").as_deref(), Some("/"));
        assert_eq!(strip_proc_root("/proc/self/cwd/x"), None);
    }

    #[test]
    fn glob_words_overlap_pins() {
        assert!(glob_overlaps("/srv/prod*", "/srv/production/**"));
        assert!(glob_overlaps(
            "/srv/prod?ction/app.conf",
            "/srv/production/**"
        ));
        assert!(glob_overlaps("/s*", "/srv/production/**"));
        assert!(!glob_overlaps("/srv/stag*", "/srv/production/**"));
        assert!(glob_overlaps("/tmp/*.conf", "**/production-*.conf"));
        assert!(!glob_overlaps("/tmp/*.txt", "**/production-*.conf"));
    }

    #[test]
    fn canonical_keeps_the_missing_tail() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let got = canonical(&dir.path().join("link/new/file"));
        assert_eq!(got, std::fs::canonicalize(&real).unwrap().join("new/file"));
    }
}
