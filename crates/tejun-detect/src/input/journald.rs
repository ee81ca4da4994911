//! The systemd journal as an input, read through `journalctl -o json`.
//!
//! `journalctl` is the reader systemd keeps compatible across versions
//! and journal file formats (compact mode, compression); spawning it costs
//! one process per scan or per followed source. Entries become lines the
//! way fail2ban's `backend = systemd` makes them (`HOST IDENT[PID]:
//! MESSAGE`, newlines in the message as `\n`), with the entry's own time,
//! so fail2ban filters written for the journal match unchanged. Every
//! entry carries its cursor: `tejun watch` resumes after the last one it
//! counted.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};

use jiff::Timestamp;
use serde_json::Value;

/// Which entries to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Match terms in fail2ban's `journalmatch` syntax, each a string such
    /// as `_SYSTEMD_UNIT=sshd.service + _COMM=sshd` (`+` is OR, terms
    /// within a string AND). Several strings are ORed.
    pub matches: Vec<String>,
    /// Units (`journalctl --unit`).
    pub units: Vec<String>,
    /// Journal directory (`--directory`); `None` with no `files` reads the
    /// system journal.
    pub directory: Option<PathBuf>,
    /// Journal files (`--file`).
    pub files: Vec<PathBuf>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// Where a followed journal starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Every entry that matches.
    Beginning,
    /// Only entries written from now on.
    End,
    /// Right after this entry (a saved cursor).
    AfterCursor(String),
}

/// One journal entry as a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub cursor: String,
    pub time: Timestamp,
    /// `HOST IDENT[PID]: MESSAGE`, as fail2ban formats it.
    pub line: String,
}

impl Query {
    /// A short name for reports (`journal`, `journal:sshd.service`).
    pub fn name(&self) -> String {
        let mut parts: Vec<String> = self.units.clone();
        parts.extend(self.matches.iter().cloned());
        if let Some(dir) = &self.directory {
            parts.push(dir.display().to_string());
        }
        parts.extend(self.files.iter().map(|f| f.display().to_string()));
        if parts.is_empty() {
            "journal".to_string()
        } else {
            format!("journal:{}", parts.join(","))
        }
    }

    /// The `journalctl` command for this query; `follow` keeps it running
    /// for new entries from `start`.
    pub fn command(&self, follow: Option<&Start>) -> Command {
        let mut cmd = Command::new("journalctl");
        cmd.args(["--output=json", "--all", "--no-pager", "--quiet"]);
        if let Some(dir) = &self.directory {
            cmd.arg("--directory").arg(dir);
        }
        for file in &self.files {
            cmd.arg("--file").arg(file);
        }
        for unit in &self.units {
            cmd.arg("--unit").arg(unit);
        }
        if let Some(t) = self.since {
            cmd.arg(format!("--since=@{}", t.as_second()));
        }
        if let Some(t) = self.until {
            // --until is inclusive to the second.
            cmd.arg(format!("--until=@{}", t.as_second()));
        }
        match follow {
            None => {}
            Some(start) => {
                cmd.arg("--follow");
                match start {
                    Start::Beginning => {
                        cmd.arg("--lines=all");
                    }
                    Start::End => {
                        cmd.arg("--lines=0");
                    }
                    Start::AfterCursor(cursor) => {
                        cmd.arg("--lines=all");
                        cmd.arg(format!("--after-cursor={cursor}"));
                    }
                }
            }
        }
        for (i, term) in self.matches.iter().enumerate() {
            if i > 0 {
                cmd.arg("+");
            }
            cmd.args(term.split_whitespace());
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Starts `journalctl`; entries are read from the returned [`Entries`].
    pub fn spawn(&self, follow: Option<&Start>) -> std::io::Result<Entries> {
        let mut child = self
            .command(follow)
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run journalctl: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        Ok(Entries {
            lines: BufReader::with_capacity(64 << 10, stdout),
            child,
            buf: String::new(),
            done: false,
        })
    }
}

/// Entries as `journalctl` writes them; ends with an error carrying its
/// message when it fails (no such directory, a bad match).
pub struct Entries {
    child: Child,
    lines: BufReader<ChildStdout>,
    buf: String,
    done: bool,
}

impl Entries {
    /// The `journalctl` process id (to stop a follow).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    fn finish(&mut self) -> Option<std::io::Result<Entry>> {
        self.done = true;
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        match self.child.wait() {
            Ok(status) if status.success() => None,
            Ok(status) => Some(Err(std::io::Error::other(format!(
                "journalctl {}: {}",
                status,
                stderr.trim()
            )))),
            Err(e) => Some(Err(e)),
        }
    }
}

impl Iterator for Entries {
    type Item = std::io::Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        // Bounded: each turn consumes one line of journalctl's output, or
        // ends.
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            match self.lines.read_line(&mut self.buf) {
                Ok(0) => return self.finish(),
                Ok(_) => {
                    if let Some(entry) = parse_entry(self.buf.trim_end()) {
                        return Some(Ok(entry));
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

impl Drop for Entries {
    fn drop(&mut self) {
        // Our own child: a follow never ends by itself.
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A field's text: journalctl writes non-UTF-8 values as arrays of bytes,
/// and a repeated field as an array of values (the first is taken).
fn field(entry: &Value, name: &str) -> Option<String> {
    match entry.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => items.first().and_then(|first| match first {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// One `journalctl -o json` line as an entry (`None` for a line that is
/// not an entry).
pub fn parse_entry(json: &str) -> Option<Entry> {
    let entry: Value = serde_json::from_str(json).ok()?;
    let cursor = field(&entry, "__CURSOR")?;
    // The time the program logged, when it said so; else when journald
    // received it (fail2ban's choice).
    let micros: i64 = field(&entry, "_SOURCE_REALTIME_TIMESTAMP")
        .or_else(|| field(&entry, "__REALTIME_TIMESTAMP"))?
        .parse()
        .ok()?;
    let time = Timestamp::from_microsecond(micros).ok()?;
    let mut parts: Vec<String> = Vec::with_capacity(3);
    if let Some(host) = field(&entry, "_HOSTNAME").filter(|h| !h.is_empty()) {
        parts.push(host);
    }
    if let Some(ident) = field(&entry, "SYSLOG_IDENTIFIER").or_else(|| field(&entry, "_COMM")) {
        let pid = field(&entry, "SYSLOG_PID").or_else(|| field(&entry, "_PID"));
        parts.push(match pid {
            Some(pid) => format!("{ident}[{pid}]:"),
            None => format!("{ident}:"),
        });
    }
    let message = field(&entry, "MESSAGE").unwrap_or_default();
    parts.push(message.replace('\n', "\\n"));
    Some(Entry {
        cursor,
        time,
        line: parts.join(" "),
    })
}

/// Entries as text lines, each starting with its time (RFC 3339, UTC), for
/// commands that read lines and find their dates themselves.
pub struct EntryLines {
    entries: Entries,
    pending: Vec<u8>,
    at: usize,
}

impl EntryLines {
    pub fn new(entries: Entries) -> EntryLines {
        EntryLines {
            entries,
            pending: Vec::new(),
            at: 0,
        }
    }
}

impl Read for EntryLines {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.pending.len() {
            self.pending.clear();
            self.at = 0;
            match self.entries.next() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(entry)) => {
                    self.pending
                        .extend_from_slice(format!("{} {}\n", entry.time, entry.line).as_bytes());
                }
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_as_fail2ban_formats_it() {
        let json = r#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795000000000000","_HOSTNAME":"web1","SYSLOG_IDENTIFIER":"sshd","_PID":"123","MESSAGE":"Failed password for root from 203.0.113.5 port 22 ssh2"}"#;
        let entry = parse_entry(json).unwrap();
        assert_eq!(
            entry.line,
            "web1 sshd[123]: Failed password for root from 203.0.113.5 port 22 ssh2"
        );
        assert_eq!(entry.cursor, "s=1;i=2");
        assert_eq!(entry.time.as_second(), 1_795_000_000);
    }

    #[test]
    fn binary_and_multi_line_messages_are_one_line() {
        let json = r#"{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","_SOURCE_REALTIME_TIMESTAMP":"2000000","_COMM":"app","MESSAGE":[97,10,98,255]}"#;
        let entry = parse_entry(json).unwrap();
        assert_eq!(entry.line, "app: a\\nb\u{fffd}");
        assert_eq!(entry.time.as_second(), 2);
    }

    #[test]
    fn matches_are_passed_in_journalmatch_syntax_and_ored() {
        let query = Query {
            matches: vec![
                "_SYSTEMD_UNIT=sshd.service + _COMM=sshd".into(),
                "_COMM=dropbear".into(),
            ],
            units: vec!["ssh.service".into()],
            ..Query::default()
        };
        let cmd = query.command(Some(&Start::AfterCursor("c1".into())));
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.ends_with(&[
            "_SYSTEMD_UNIT=sshd.service".to_string(),
            "+".into(),
            "_COMM=sshd".into(),
            "+".into(),
            "_COMM=dropbear".into()
        ]));
        assert!(args.contains(&"--after-cursor=c1".to_string()));
        assert!(args.contains(&"--follow".to_string()));
    }
}
