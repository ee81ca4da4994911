//! Reading an access log's lines into [`Stats`]: line by line in place in
//! a block, a malformed line counted and located, never fatal.

use std::io::Read;

use serde::Serialize;

use super::format::LineFormat;
use super::json::JsonFormat;
use super::request::{Expected, LineError, Request};
use super::stats::Stats;

/// Any format a log can be read with.
#[derive(Debug, Clone)]
pub enum AccessFormat {
    Line(LineFormat),
    Json(JsonFormat),
}

impl AccessFormat {
    pub fn parse<'a>(&self, line: &'a str) -> Result<Request<'a>, LineError> {
        match self {
            AccessFormat::Line(f) => f.parse(line),
            AccessFormat::Json(f) => f.parse(line),
        }
    }
}

/// Lines over this are counted as malformed and skipped.
pub const MAX_LINE: usize = 1 << 20;
const BLOCK: usize = 2 * MAX_LINE;
/// Malformed lines remembered with their place, per file.
pub const MALFORMED_SAMPLES: usize = 5;

/// A line that could not be read: where, and what was expected there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Malformed {
    pub line: u64,
    pub column: usize,
    pub expected: Expected,
}

/// What one input contributed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileStats {
    pub path: String,
    pub lines: u64,
    pub requests: u64,
    pub malformed: u64,
    /// The first few malformed lines.
    pub malformed_lines: Vec<Malformed>,
    /// Set when reading stopped early.
    pub error: Option<String>,
}

impl FileStats {
    /// Adds the next part of the same input (file order): its line
    /// numbers continue this one's.
    pub fn merge(&mut self, part: FileStats) {
        for mut m in part.malformed_lines {
            if self.malformed_lines.len() < MALFORMED_SAMPLES {
                m.line += self.lines;
                self.malformed_lines.push(m);
            }
        }
        self.lines += part.lines;
        self.requests += part.requests;
        self.malformed += part.malformed;
        if self.error.is_none() {
            self.error = part.error;
        }
    }

    fn malformed(&mut self, column: usize, expected: Expected) {
        self.malformed += 1;
        if self.malformed_lines.len() < MALFORMED_SAMPLES {
            self.malformed_lines.push(Malformed {
                line: self.lines,
                column,
                expected,
            });
        }
    }
}

/// Reads every line of `reader` into `stats`; blank lines are skipped.
/// A read error ends this input (noted in `file.error`); what was read
/// still counts.
pub fn read_log<R: Read>(
    mut reader: R,
    format: &AccessFormat,
    stats: &mut Stats,
    file: &mut FileStats,
) {
    let mut buf = vec![0u8; BLOCK];
    let mut held = 0;
    let mut skipping = false;
    loop {
        let read = match reader.read(&mut buf[held..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                file.error = Some(e.to_string());
                break;
            }
        };
        let filled = held + read;
        let at_end = read == 0;
        let mut block = &buf[..filled];
        if skipping {
            match memchr::memchr(b'\n', block) {
                Some(nl) => {
                    block = &block[nl + 1..];
                    skipping = false;
                }
                None => block = &[],
            }
        }
        let whole = if at_end {
            block.len()
        } else {
            memchr::memrchr(b'\n', block).map_or(0, |nl| nl + 1)
        };
        read_block(&block[..whole], format, stats, file);
        let rest = &block[whole..];
        if at_end {
            break;
        }
        if rest.len() == BLOCK {
            file.lines += 1;
            file.malformed(MAX_LINE + 1, Expected::ShortLine);
            skipping = true;
            held = 0;
        } else {
            held = rest.len();
            buf.copy_within(filled - held..filled, 0);
        }
    }
}

fn read_block(block: &[u8], format: &AccessFormat, stats: &mut Stats, file: &mut FileStats) {
    // A block valid as a whole is valid line by line (a newline never
    // falls inside a character): one check per block, not per line.
    let clean = std::str::from_utf8(block)
        .ok()
        .filter(|_| memchr::memchr(0, block).is_none());
    let unended = !block.is_empty() && !block.ends_with(b"\n");
    let ends = memchr::memchr_iter(b'\n', block).chain(unended.then_some(block.len()));
    let mut start = 0;
    for end in ends {
        let raw = &block[start..end];
        start = end + 1;
        file.lines += 1;
        let text = match clean {
            Some(text) => &text[end - raw.len()..end],
            None => match std::str::from_utf8(raw) {
                Ok(t) if memchr::memchr(0, raw).is_none() => t,
                _ => {
                    file.malformed(1, Expected::Text);
                    continue;
                }
            },
        };
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.len() > MAX_LINE {
            file.malformed(MAX_LINE + 1, Expected::ShortLine);
            continue;
        }
        if text.trim().is_empty() {
            continue;
        }
        match format.parse(text) {
            Ok(r) => {
                file.requests += 1;
                stats.add(&r);
            }
            Err(e) => file.malformed(e.column, e.expected),
        }
    }
}
