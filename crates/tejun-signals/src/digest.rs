//! Slow-query logs and query fingerprints (`tejun digest`).
//!
//! The pipeline is reader → aggregate → sorted report:
//!
//! ```
//! use tejun_signals::digest::{Aggregate, Format, Options};
//! let log = "# Time: 2026-12-01T10:00:00Z\n# Query_time: 2.5  Lock_time: 0.1  Rows_sent: 1  Rows_examined: 90000\nSELECT * FROM orders WHERE email = 'a@b.c';\n";
//! let mut digest = Aggregate::new(Options::default());
//! digest.read_log("slow.log", log.as_bytes(), Format::Auto).unwrap();
//! let report = digest.report(Some(10));
//! assert_eq!(report.classes[0].fingerprint, "select * from orders where email = ?");
//! assert!(report.classes[0].missing_index);
//! ```
//!
//! - [`mysql`] and [`postgres`] read a log into [`Query`] values (or
//!   [`Malformed`] entries with their line), never panicking on input;
//! - [`fingerprint`] makes pt-query-digest's fingerprints;
//! - [`aggregate`] folds queries per fingerprint into a [`Report`] sorted
//!   by total query time, with the [`missing_index`] flag.

pub mod aggregate;
pub mod baseline;
pub mod fingerprint;
pub mod follow;
pub mod missing_index;
pub mod mysql;
pub mod postgres;
pub mod redact;

use jiff::Timestamp;
use tejun_locale::Lang;

pub use aggregate::{Aggregate, ClassReport, FileSummary, Options, Report};
pub use baseline::{BaselineOptions, BaselineReport, FingerprintRegression, Measure};
pub use fingerprint::{EmbeddedNumbers, Fingerprinter, fingerprint};
pub use follow::FollowedSlowLog;
pub use missing_index::IndexRule;

/// One statement from a slow log, with what the server measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// 1-based line where the entry starts.
    pub line: u64,
    /// When it ran (`SET timestamp`, else the last `# Time`, else the
    /// PostgreSQL line prefix).
    pub time: Option<Timestamp>,
    /// Seconds.
    pub query_time: f64,
    /// Seconds (MySQL/MariaDB only).
    pub lock_time: Option<f64>,
    pub rows_sent: Option<u64>,
    pub rows_examined: Option<u64>,
    pub db: Option<String>,
    pub user: Option<String>,
    pub host: Option<String>,
    /// The statement as logged, without its final `;`.
    pub text: String,
}

/// An entry that could not be read, and where.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Malformed {
    pub line: u64,
    pub problem: Problem,
}

/// What is wrong with a malformed entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A MySQL entry without `# Query_time: …`.
    NoQueryTime,
    /// A header field whose value is not a number.
    BadNumber { field: String, value: String },
    /// Header lines with no statement after them.
    NoStatement,
    /// Text before the first entry header.
    OutsideEntry,
    /// A PostgreSQL `duration:` that is not a number of ms.
    BadDuration { value: String },
}

impl Problem {
    /// The problem in the operator's language.
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Problem::NoQueryTime => lang
                .pick(
                    "entry without a `# Query_time:` line",
                    "`# Query_time:` 行のないエントリ",
                )
                .into(),
            Problem::BadNumber { field, value } => format!(
                "{field}: {value:?} {}",
                lang.pick("is not a number", "は数値ではありません")
            ),
            Problem::NoStatement => lang
                .pick(
                    "entry header without a statement",
                    "文のないエントリヘッダー",
                )
                .into(),
            Problem::OutsideEntry => lang
                .pick(
                    "text outside any entry (before its header)",
                    "エントリ外のテキスト (ヘッダーより前)",
                )
                .into(),
            Problem::BadDuration { value } => format!(
                "duration: {value:?} {}",
                lang.pick("is not a number of ms", "は ms の数値ではありません")
            ),
        }
    }
}

/// Which slow-log dialect a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// MySQL/MariaDB slow log or PostgreSQL log, told apart by the first
    /// lines.
    Auto,
    Mysql,
    Postgres,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "auto" => Some(Format::Auto),
            "mysql" | "mariadb" => Some(Format::Mysql),
            "postgres" | "postgresql" | "pg" => Some(Format::Postgres),
            _ => None,
        }
    }

    /// Whether a log in this dialect can be cut before `line` (whose
    /// previous line ended with the byte `before`, line ending aside) and
    /// its two sides read apart with the result of one read: MySQL at a
    /// `# Time:` line after a `;` (an entry starts there and sets the time
    /// later entries inherit), PostgreSQL at any line that does not
    /// continue a statement (a tab).
    pub fn starts_entry(self, before: u8, line: &[u8]) -> bool {
        match self {
            Format::Postgres => !line.is_empty() && !line.starts_with(b"\t"),
            Format::Mysql => before == b';' && line.starts_with(b"# Time: "),
            Format::Auto => false,
        }
    }

    /// The dialect of a log that starts with `head`: PostgreSQL when a
    /// `duration: … ms` line comes before any `# Query_time`.
    pub fn detect(head: &[u8]) -> Format {
        let text = String::from_utf8_lossy(head);
        for line in text.lines() {
            if line.starts_with("# Query_time:") || line.starts_with("# User@Host:") {
                return Format::Mysql;
            }
            if line.contains("duration: ") && line.contains(" ms") {
                return Format::Postgres;
            }
        }
        Format::Mysql
    }
}

/// What both slow-log readers keep while reading: their input, one line's
/// bytes, the number of the line being read, and the entries finished.
pub(crate) struct LineFeed<R> {
    input: R,
    raw: Vec<u8>,
    /// The number of the line last read (1-based).
    pub line: u64,
    done: bool,
    pub ready: std::collections::VecDeque<Result<Query, Malformed>>,
}

impl<R> LineFeed<R> {
    pub fn new(input: R) -> LineFeed<R> {
        LineFeed {
            input,
            raw: Vec::with_capacity(4096),
            line: 0,
            done: false,
            ready: Default::default(),
        }
    }
}

/// A slow-log dialect read line by line: the read loop is shared, the
/// meaning of a line is the dialect's.
pub(crate) trait LineParser<R: std::io::BufRead> {
    fn feed(&mut self) -> &mut LineFeed<R>;
    /// One line, without its line ending; finished entries go to `ready`.
    fn take_line(&mut self, text: &str);
    /// The end of input: the entry still open is finished.
    fn finish(&mut self);

    /// The next finished entry, or a read error (after which nothing more
    /// is read), or `None` at the end.
    fn next_entry(&mut self) -> Option<std::io::Result<Result<Query, Malformed>>> {
        // Bounded: each turn reads a line or ends at the end of input.
        loop {
            let feed = self.feed();
            if let Some(item) = feed.ready.pop_front() {
                return Some(Ok(item));
            }
            if feed.done {
                return None;
            }
            feed.raw.clear();
            match feed.input.read_until(b'\n', &mut feed.raw) {
                Ok(0) => {
                    feed.done = true;
                    self.finish();
                }
                Ok(_) => {
                    feed.line += 1;
                    let raw = std::mem::take(&mut feed.raw);
                    self.take_line(&line_text(&raw));
                    self.feed().raw = raw;
                }
                Err(e) => {
                    feed.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// A line's bytes as text without its line ending.
pub(crate) fn line_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    String::from_utf8_lossy(raw)
}
