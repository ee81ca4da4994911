//! Following one path like `tail -F`.
//!
//! A path is not a file: logrotate renames the file away and creates a new
//! one, `copytruncate` empties it in place, an operator deletes it and a
//! daemon recreates it later. A [`Tail`] keeps the open descriptor of the
//! file it is reading and compares it, on every poll, with what the path
//! names now:
//!
//! * **renamed away** (the path names another inode, or nothing): the old
//!   descriptor is read to its end first, so the lines written just before
//!   the rotation are not lost, then the new file is read from byte 0;
//! * **truncated** (the file is shorter than what was read, or its first
//!   bytes changed): reading restarts at byte 0;
//! * **gone**: said once; the path is picked up again if it comes back.
//!
//! Only complete lines are handed out. A last line without its newline waits
//! until the newline arrives (or the file is rotated away, when it can no
//! longer grow), and the checkpoint offset always points at the start of the
//! first line not yet handed out: a restart neither re-reads nor skips.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// How many leading bytes identify a file's content.
const HEAD_MAX: usize = 1024;
/// Longer lines are cut here (and said once): an attacker must not be able
/// to make tejun buffer without bound by writing a line with no newline.
pub const MAX_LINE: usize = 1 << 20;
/// Bytes read from one file per poll, so one busy file cannot starve the others.
const READ_BUDGET: usize = 16 << 20;

/// The identity of a file, independent of its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// A hash of a file's first bytes: tells a file reused under the same inode
/// (deleted and recreated, or truncated and rewritten) from the one we read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub len: u64,
    pub sha256: String,
}

impl Head {
    fn read(file: &File, size: u64) -> io::Result<Head> {
        let len = size.min(HEAD_MAX as u64);
        Head::read_len(file, len)
    }

    fn read_len(file: &File, len: u64) -> io::Result<Head> {
        let mut buf = vec![0u8; len as usize];
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read_at(&mut buf[filled..], filled as u64)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(Head {
            len: filled as u64,
            sha256: hex::encode(Sha256::digest(&buf)),
        })
    }

    /// True when `file` still starts with the bytes this head was taken from.
    fn matches(&self, file: &File) -> io::Result<bool> {
        Ok(&Head::read_len(file, self.len)? == self)
    }
}

/// Where a restart resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub id: FileId,
    /// Start of the first line not yet handed out.
    pub offset: u64,
    pub head: Head,
}

/// Where a file seen for the first time (no checkpoint) is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Only what is appended from now on (like `tail -F -n0`).
    #[default]
    End,
    /// The whole file.
    Beginning,
}

/// Something the operator should know about a followed path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    Appeared,
    Disappeared,
    Rotated,
    Truncated,
    LongLine { len: usize },
    Unreadable { error: String },
    ResumedRotated { from: PathBuf },
}

/// What a poll produces, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Line(String),
    Notice(Notice),
}

struct Open {
    file: File,
    id: FileId,
    /// Start of the first line not yet handed out.
    offset: u64,
    /// Bytes after `offset` already read: an incomplete last line.
    pending: Vec<u8>,
    /// Discarding the rest of an over-long line.
    skipping: bool,
    head: Head,
    /// Size at the last poll; the head is re-checked when it changes.
    seen_size: u64,
}

/// One followed path.
pub struct Tail {
    path: PathBuf,
    display: Arc<str>,
    open: Option<Open>,
    /// The path is missing and that was said.
    missing: bool,
    /// The last read stopped at its budget: more is waiting.
    behind: bool,
    unreadable: Option<String>,
}

impl Tail {
    /// Starts following `path`: from `checkpoint` if there is one, else
    /// from `start_at`. Lines a previous process had not read yet (also from
    /// a file rotated away while no one was watching) come out through `sink`.
    pub fn start(
        path: PathBuf,
        checkpoint: Option<Checkpoint>,
        start_at: StartAt,
        sink: &mut dyn FnMut(Event),
    ) -> Tail {
        let display: Arc<str> = path.display().to_string().into();
        let mut tail = Tail {
            path,
            display,
            open: None,
            missing: false,
            behind: false,
            unreadable: None,
        };
        let current = tail.open_path();
        match (checkpoint, current) {
            (Some(cp), Some((file, meta))) if FileId::of(&meta) == cp.id => {
                let same = meta.len() >= cp.offset && cp.head.matches(&file).unwrap_or(false);
                if same {
                    tail.adopt(file, &meta, cp.offset);
                } else {
                    sink(Event::Notice(Notice::Truncated));
                    tail.adopt(file, &meta, 0);
                }
            }
            (Some(cp), current) => {
                tail.finish_rotated(&cp, sink);
                match current {
                    Some((file, meta)) => tail.adopt(file, &meta, 0),
                    None => tail.missing = true,
                }
            }
            (None, Some((file, meta))) => {
                let offset = match start_at {
                    StartAt::Beginning => 0,
                    StartAt::End => end_of_last_line(&file, meta.len()).unwrap_or(meta.len()),
                };
                tail.adopt(file, &meta, offset);
            }
            (None, None) => tail.missing = true,
        }
        if tail.open.is_none()
            && let Some(error) = tail.unreadable.clone()
        {
            sink(Event::Notice(Notice::Unreadable { error }));
        }
        tail.read(sink, false);
        tail
    }

    /// Starts following a path that appeared while watching: all of it is new.
    pub fn appeared(path: PathBuf, sink: &mut dyn FnMut(Event)) -> Tail {
        sink(Event::Notice(Notice::Appeared));
        Tail::start(path, None, StartAt::Beginning, sink)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn display(&self) -> &Arc<str> {
        &self.display
    }

    /// True while the path does not exist (and the old file is drained).
    pub fn is_missing(&self) -> bool {
        self.open.is_none()
    }

    /// Reads whatever changed since the last poll.
    pub fn poll(&mut self, sink: &mut dyn FnMut(Event)) {
        let now = match std::fs::metadata(&self.path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                self.say_unreadable(e.to_string(), sink);
                None
            }
        };
        let Some(open) = &self.open else {
            if now.is_some() {
                let before = self.unreadable.clone();
                if let Some((file, meta)) = self.open_path() {
                    if self.missing {
                        sink(Event::Notice(Notice::Appeared));
                    }
                    self.missing = false;
                    self.adopt(file, &meta, 0);
                    self.read(sink, false);
                } else if let Some(error) = self.unreadable.clone()
                    && before.as_deref() != Some(error.as_str())
                {
                    // Permission denied, a directory, ...: said once per
                    // distinct problem; retried on every poll.
                    sink(Event::Notice(Notice::Unreadable { error }));
                }
            } else if !self.missing {
                self.missing = true;
                sink(Event::Notice(Notice::Disappeared));
            }
            return;
        };
        let replaced = match &now {
            Some(meta) => FileId::of(meta) != open.id,
            None => true,
        };
        if replaced {
            // Rotated away or deleted: whatever was written to the old file
            // before that is still ours to read, to its very end.
            self.read(sink, true);
            self.open = None;
            match now {
                Some(_) => {
                    sink(Event::Notice(Notice::Rotated));
                    self.poll(sink);
                }
                None => {
                    self.missing = true;
                    sink(Event::Notice(Notice::Disappeared));
                }
            }
            return;
        }
        self.check_truncation(sink);
        self.read(sink, false);
    }

    /// True when the last poll left unread data (a large backlog): the
    /// caller should poll again without waiting for a change.
    pub fn is_behind(&self) -> bool {
        self.behind
    }

    /// Where a restart should resume, if a file is open.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.open.as_ref().map(|o| Checkpoint {
            id: o.id,
            offset: o.offset,
            head: o.head.clone(),
        })
    }

    fn open_path(&mut self) -> Option<(File, Metadata)> {
        let opened = File::open(&self.path).and_then(|file| {
            let meta = file.metadata()?;
            Ok((file, meta))
        });
        match opened {
            Ok((file, meta)) if meta.is_file() => {
                self.unreadable = None;
                Some((file, meta))
            }
            Ok(_) => {
                self.unreadable = Some("not a regular file".into());
                None
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                self.unreadable = Some(e.to_string());
                None
            }
        }
    }

    fn say_unreadable(&mut self, error: String, sink: &mut dyn FnMut(Event)) {
        if self.unreadable.as_deref() != Some(error.as_str()) {
            self.unreadable = Some(error.clone());
            sink(Event::Notice(Notice::Unreadable { error }));
        }
    }

    fn adopt(&mut self, mut file: File, meta: &Metadata, offset: u64) {
        let head = Head::read(&file, meta.len()).unwrap_or(Head {
            len: 0,
            sha256: String::new(),
        });
        let offset = if file.seek(SeekFrom::Start(offset)).is_ok() {
            offset
        } else {
            0
        };
        self.missing = false;
        self.open = Some(Open {
            file,
            id: FileId::of(meta),
            offset,
            pending: Vec::new(),
            skipping: false,
            head,
            seen_size: meta.len(),
        });
    }

    /// The file named by the checkpoint may have been rotated away while no
    /// one watched: find it next to the path by its inode and read the rest.
    fn finish_rotated(&mut self, cp: &Checkpoint, sink: &mut dyn FnMut(Event)) {
        let Some(dir) = self.path.parent() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) else {
            return;
        };
        for entry in entries.flatten().take(10_000) {
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() || FileId::of(&meta) != cp.id || meta.len() < cp.offset {
                continue;
            }
            let Ok(file) = File::open(entry.path()) else {
                continue;
            };
            if !cp.head.matches(&file).unwrap_or(false) {
                continue;
            }
            sink(Event::Notice(Notice::ResumedRotated { from: entry.path() }));
            self.adopt(file, &meta, cp.offset);
            self.read(sink, true);
            self.open = None;
            return;
        }
    }

    fn check_truncation(&mut self, sink: &mut dyn FnMut(Event)) {
        let Some(open) = &mut self.open else { return };
        let Ok(meta) = open.file.metadata() else {
            return;
        };
        let size = meta.len();
        if size == open.seen_size {
            return;
        }
        let read_to = open.offset + open.pending.len() as u64;
        let head_changed = !open.head.matches(&open.file).unwrap_or(true);
        if size < read_to || head_changed {
            sink(Event::Notice(Notice::Truncated));
            open.offset = 0;
            open.pending.clear();
            open.skipping = false;
            let _ = open.file.seek(SeekFrom::Start(0));
            open.head = Head::read(&open.file, size).unwrap_or(Head {
                len: 0,
                sha256: String::new(),
            });
        } else if open.head.len < HEAD_MAX as u64
            && let Ok(head) = Head::read(&open.file, size)
        {
            open.head = head;
        }
        open.seen_size = size;
    }

    /// Reads to the end of the open file. `last` means the file can no
    /// longer grow (rotated away), so an unterminated last line is complete.
    fn read(&mut self, sink: &mut dyn FnMut(Event), last: bool) {
        let Some(open) = &mut self.open else { return };
        let mut buf = vec![0u8; 64 * 1024];
        // A file rotated away is read to its end at once: it is closed next.
        let mut budget = if last { usize::MAX } else { READ_BUDGET };
        let mut error = None;
        while budget > 0 {
            let n = match open.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            };
            budget = budget.saturating_sub(n);
            split_lines(open, &buf[..n], sink);
        }
        self.behind = budget == 0;
        if last && !open.pending.is_empty() {
            let line = std::mem::take(&mut open.pending);
            open.offset += line.len() as u64;
            sink(Event::Line(decode(&line)));
        }
        if let Ok(meta) = open.file.metadata() {
            open.seen_size = open.seen_size.min(meta.len());
        }
        if let Some(error) = error {
            self.say_unreadable(error, sink);
        }
    }
}

fn split_lines(open: &mut Open, mut bytes: &[u8], sink: &mut dyn FnMut(Event)) {
    while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
        let (chunk, rest) = (&bytes[..nl], &bytes[nl + 1..]);
        if open.skipping {
            open.offset += chunk.len() as u64 + 1;
            open.skipping = false;
        } else if open.pending.is_empty() {
            open.offset += chunk.len() as u64 + 1;
            sink(Event::Line(decode(chunk)));
        } else {
            open.pending.extend_from_slice(chunk);
            let line = std::mem::take(&mut open.pending);
            open.offset += line.len() as u64 + 1;
            sink(Event::Line(decode(&line)));
        }
        bytes = rest;
    }
    if open.skipping {
        open.offset += bytes.len() as u64;
        return;
    }
    open.pending.extend_from_slice(bytes);
    if open.pending.len() > MAX_LINE {
        let len = open.pending.len();
        let line = std::mem::take(&mut open.pending);
        open.offset += line.len() as u64;
        open.skipping = true;
        sink(Event::Notice(Notice::LongLine { len }));
        sink(Event::Line(decode(&line[..MAX_LINE])));
    }
}

/// Lines are text for matching; invalid UTF-8 becomes U+FFFD rather than an error.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// The offset just after the last newline, so starting "at the end" of a
/// file whose last line is still being written does not hand out half a line.
fn end_of_last_line(file: &File, size: u64) -> Option<u64> {
    let window = size.min(64 * 1024);
    let mut buf = vec![0u8; window as usize];
    file.read_exact_at(&mut buf, size - window).ok()?;
    match buf.iter().rposition(|b| *b == b'\n') {
        Some(i) => Some(size - window + i as u64 + 1),
        None if size == window => Some(0),
        None => Some(size),
    }
}
