//! Following the systemd journal: `journalctl --follow -o json` as a child,
//! read on its own thread, resumed after the last entry counted.
//!
//! The watch loop takes entries from a channel and, once an entry is
//! counted, its cursor becomes the source's checkpoint: saved with the
//! windows in one transaction (see [`crate::state`]). Entries read but not
//! yet counted when the watcher stops are read again after the cursor at
//! the next start, so none is lost and none counted twice.

use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, sync_channel};
use std::thread::JoinHandle;

use tejun_detect::input::journald::{Entry, Query, Start, parse_entry};

/// One followed journal query.
pub struct JournalFollow {
    child: Child,
    /// Bounded, so a long backlog waits in journalctl, not in memory.
    entries: Option<Receiver<Entry>>,
    reader: Option<JoinHandle<()>>,
    /// The cursor of the last entry handed out and counted.
    cursor: Option<String>,
    /// Set once `journalctl` ended (it never does by itself when well).
    ended: bool,
    behind: bool,
}

/// Entries taken per poll: a long backlog is counted in batches, each
/// saved, so a restart in the middle loses little work.
const BATCH: usize = 10_000;

impl JournalFollow {
    /// Starts `journalctl --follow` for `query` from `start`; `wake` is told
    /// when entries arrive (the watch loop sleeps on it).
    pub fn start(query: &Query, start: Start, wake: Sender<()>) -> std::io::Result<JournalFollow> {
        let cursor = match &start {
            Start::AfterCursor(c) => Some(c.clone()),
            _ => None,
        };
        let mut child = query
            .command(Some(&start))
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run journalctl: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, entries) = sync_channel(2 * BATCH);
        let reader = std::thread::Builder::new()
            .name("journalctl".into())
            .spawn(move || {
                let mut lines = BufReader::new(stdout);
                let mut line = String::new();
                // Bounded by journalctl's output: ends when it closes it.
                loop {
                    line.clear();
                    match lines.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if let Some(entry) = parse_entry(line.trim_end()) {
                                if tx.send(entry).is_err() {
                                    break;
                                }
                                let _ = wake.send(());
                            }
                        }
                    }
                }
                let _ = wake.send(());
            })?;
        Ok(JournalFollow {
            child,
            entries: Some(entries),
            reader: Some(reader),
            cursor,
            ended: false,
            behind: false,
        })
    }

    /// Entries that arrived, at most a batch. When `journalctl` has ended,
    /// its message is given back once as `Err`.
    pub fn poll(&mut self) -> Result<Vec<Entry>, String> {
        let mut out = Vec::new();
        self.behind = false;
        let Some(entries) = &self.entries else {
            return Ok(out);
        };
        while out.len() < BATCH {
            match entries.try_recv() {
                Ok(entry) => out.push(entry),
                Err(TryRecvError::Empty) => return Ok(out),
                Err(TryRecvError::Disconnected) => {
                    if self.ended || !out.is_empty() {
                        return Ok(out);
                    }
                    self.ended = true;
                    return Err(self.exit_message());
                }
            }
        }
        self.behind = true;
        Ok(out)
    }

    fn exit_message(&mut self) -> String {
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        format!("journalctl {status}: {}", stderr.trim())
    }

    /// Records that `entry` was counted: the next start resumes after it.
    pub fn counted(&mut self, entry: &Entry) {
        self.cursor = Some(entry.cursor.clone());
    }

    /// The cursor to save: after the last counted entry.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// True when more entries were waiting than one poll takes.
    pub fn is_behind(&self) -> bool {
        self.behind
    }

    pub fn has_ended(&self) -> bool {
        self.ended
    }
}

impl Drop for JournalFollow {
    fn drop(&mut self) {
        // Our own child, which follows until told to stop.
        if !self.ended {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // The reader may wait to send: let it fail, then end.
        self.entries = None;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
