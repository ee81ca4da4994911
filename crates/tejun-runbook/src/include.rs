//! `include:`: steps shared between runbooks.
//!
//! A team's rule ("every session ends with the leave-cleanly checks") is
//! written once in a file of steps and included where it applies:
//!
//! ```yaml
//! exit:
//!   - include: shared/leave-cleanly.yaml
//! ```
//!
//! The included file is a YAML list of steps, read exactly as the steps
//! around it, with the including runbook's variables; errors point into
//! the included file. This crate does no I/O, so the caller says how a
//! path is read ([`Includes`]); the CLI reads it relative to the file
//! that names it.

/// How deep includes may nest: a limit that real sharing never meets but
/// that stops runaway chains a cycle check would not catch (`a/../a/...`).
pub const MAX_DEPTH: usize = 8;

/// One file brought in by `include:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedFile {
    /// The name used in messages (a path as the caller resolved it).
    pub name: String,
    pub text: String,
}

/// Reads the files `include:` names.
pub trait Includes {
    /// The file `path`, as written in the file named `from`: its name for
    /// messages (also how cycles are recognised, so make it canonical) and
    /// its text, or why it could not be read.
    fn read(&self, from: &str, path: &str) -> Result<IncludedFile, String>;
}

/// For callers with no files to read (fuzzers, tests of the format): every
/// `include:` is an error that says so.
pub struct NoIncludes;

impl Includes for NoIncludes {
    fn read(&self, _from: &str, _path: &str) -> Result<IncludedFile, String> {
        Err("includes are not read here".to_string())
    }
}

/// Reads an included file relative to the directory of the file that
/// names it, as a shell would.
#[cfg(feature = "fs")]
pub struct FileIncludes;

#[cfg(feature = "fs")]
impl Includes for FileIncludes {
    fn read(&self, from: &str, path: &str) -> Result<IncludedFile, String> {
        let base = std::path::Path::new(from)
            .parent()
            .unwrap_or(std::path::Path::new(""));
        let name = normalize(&base.join(path));
        let meta = std::fs::metadata(&name).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".to_string());
        }
        let bytes = std::fs::read(&name).map_err(|e| e.to_string())?;
        let text = String::from_utf8(bytes)
            .map_err(|e| format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))?;
        Ok(IncludedFile {
            name: name.display().to_string(),
            text,
        })
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system: one name per
/// file for messages and cycle checks.
#[cfg(feature = "fs")]
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
