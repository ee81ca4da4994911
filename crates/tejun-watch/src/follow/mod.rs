//! Following the files a source names, as `tail -F` would.
//!
//! A source names paths or globs (`/var/log/nginx/*.log`). Wildcards are
//! allowed in the file name only, so every pattern has one directory to
//! watch: inotify on that directory reports appends, creations, renames
//! and deletions at once, and a slow poll of the same directories backs it
//! up (inotify can overflow, and some file systems do not support it).
//! Either way a wake-up leads to the same thing: every [`Tail`] checks its
//! path, so the two mechanisms cannot disagree.

pub mod journal;
pub mod tail;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};

pub use tail::{Checkpoint, Event, FileId, Head, Notice, StartAt, Tail};

/// One path or glob of a source.
#[derive(Debug, Clone)]
pub struct Pattern {
    dir: PathBuf,
    name: NamePattern,
}

#[derive(Debug, Clone)]
enum NamePattern {
    Literal(PathBuf),
    Glob(GlobMatcher),
}

/// Why a pattern is not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    WildcardInDirectory,
    NoFileName,
    Glob(String),
}

impl Pattern {
    pub fn parse(text: &str, base: &Path) -> Result<Pattern, PatternError> {
        let path = base.join(text);
        let name = path
            .file_name()
            .ok_or(PatternError::NoFileName)?
            .to_string_lossy()
            .into_owned();
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        if has_wildcard(&dir.to_string_lossy()) {
            return Err(PatternError::WildcardInDirectory);
        }
        let name = if has_wildcard(&name) {
            let glob = Glob::new(&name).map_err(|e| PatternError::Glob(e.kind().to_string()))?;
            NamePattern::Glob(glob.compile_matcher())
        } else {
            NamePattern::Literal(path.clone())
        };
        Ok(Pattern { dir, name })
    }

    /// The directory to watch for changes.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The paths this pattern names now. A literal path is named even while
    /// it does not exist, so its absence can be reported and its arrival seen.
    pub fn expand(&self) -> Vec<PathBuf> {
        match &self.name {
            NamePattern::Literal(path) => vec![path.clone()],
            NamePattern::Glob(glob) => {
                let Ok(entries) = std::fs::read_dir(&self.dir) else {
                    return Vec::new();
                };
                let mut paths: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
                    .filter(|e| glob.is_match(Path::new(&e.file_name())))
                    .map(|e| e.path())
                    .collect();
                paths.sort();
                paths
            }
        }
    }
}

fn has_wildcard(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// A followed path's output, tagged with the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged<'a> {
    pub path: &'a str,
    pub event: Event,
}

/// All the tails of one source.
pub struct Follower {
    patterns: Vec<Pattern>,
    tails: BTreeMap<PathBuf, Tail>,
}

impl Follower {
    /// Starts every path the patterns name now, resuming from `checkpoints`.
    pub fn start(
        patterns: Vec<Pattern>,
        mut checkpoints: BTreeMap<PathBuf, Checkpoint>,
        start_at: StartAt,
        sink: &mut dyn FnMut(&str, Event),
    ) -> Follower {
        let mut tails = BTreeMap::new();
        for pattern in &patterns {
            for path in pattern.expand() {
                if tails.contains_key(&path) {
                    continue;
                }
                let display = path.display().to_string();
                let cp = checkpoints.remove(&path);
                let tail = Tail::start(path.clone(), cp, start_at, &mut |e| sink(&display, e));
                tails.insert(path, tail);
            }
        }
        // Checkpoints of paths no pattern names any more (the config
        // changed) are dropped: those files are no longer ours to read. A
        // file rotated away while no one watched is found through the path
        // that replaced it (see `Tail::start`).
        drop(checkpoints);
        Follower { patterns, tails }
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Checks every path and the patterns for new ones.
    pub fn poll(&mut self, sink: &mut dyn FnMut(&str, Event)) {
        for tail in self.tails.values_mut() {
            let display = tail.display().clone();
            tail.poll(&mut |e| sink(&display, e));
        }
        for pattern in &self.patterns {
            for path in pattern.expand() {
                if self.tails.contains_key(&path) {
                    continue;
                }
                let display = path.display().to_string();
                let tail = Tail::appeared(path.clone(), &mut |e| sink(&display, e));
                self.tails.insert(path, tail);
            }
        }
        // A glob match that is gone and drained is forgotten; it is found
        // again by the glob if it comes back. Literal paths are kept so
        // their return is reported.
        let patterns = &self.patterns;
        self.tails.retain(|path, tail| {
            !tail.is_missing()
                || patterns
                    .iter()
                    .any(|p| matches!(&p.name, NamePattern::Literal(l) if l == path))
        });
    }

    /// True when some file has more to read than one poll takes.
    pub fn is_behind(&self) -> bool {
        self.tails.values().any(Tail::is_behind)
    }

    /// Checkpoints of every open file.
    pub fn checkpoints(&self) -> impl Iterator<Item = (&Path, Checkpoint)> {
        self.tails
            .iter()
            .filter_map(|(path, tail)| tail.checkpoint().map(|cp| (path.as_path(), cp)))
    }

    /// How many paths are followed, and how many of them exist.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.tails.len(),
            self.tails.values().filter(|t| !t.is_missing()).count(),
        )
    }
}
