//! PostgreSQL logs written with `log_min_duration_statement`:
//! `… LOG:  duration: 12.345 ms  statement: SELECT …` (or
//! `execute <name>: …` for prepared statements), a multi-line statement
//! continuing on lines that start with a tab (the server indents them so).
//! The line prefix is read for a leading `YYYY-MM-DD HH:MM:SS[.fff] [zone]`
//! and for `user=`/`db=` when `log_line_prefix` writes them; other lines
//! (`duration:` alone, `bind`, `parse`, errors) are skipped.

use std::io::BufRead;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{LineFeed, LineParser, Malformed, Problem, Query};

pub struct PostgresReader<R> {
    feed: LineFeed<R>,
    zone: TimeZone,
    current: Option<Query>,
}

impl<R: BufRead> PostgresReader<R> {
    /// `zone` reads prefixes whose zone is an abbreviation other than UTC.
    pub fn new(input: R, zone: TimeZone) -> PostgresReader<R> {
        PostgresReader {
            feed: LineFeed::new(input),
            zone,
            current: None,
        }
    }

    /// No statement is in progress.
    pub(crate) fn between_entries(&self) -> bool {
        self.current.is_none()
    }

    fn finish(&mut self) {
        if let Some(mut q) = self.current.take() {
            let trimmed = q.text.trim_end().trim_end_matches(';').len();
            q.text.truncate(trimmed);
            self.feed.ready.push_back(Ok(q));
        }
    }

    fn take_line(&mut self, text: &str) {
        if let Some(rest) = text.strip_prefix('\t')
            && let Some(q) = &mut self.current
        {
            q.text.push('\n');
            q.text.push_str(rest);
            return;
        }
        self.finish();
        let Some(at) = text.find("duration: ") else {
            return;
        };
        let after = &text[at + "duration: ".len()..];
        let (value, rest) = after.split_once(' ').unwrap_or((after, ""));
        let Some(rest) = rest.strip_prefix("ms") else {
            return;
        };
        let ms = match value.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => v,
            _ => {
                self.feed.ready.push_back(Err(Malformed {
                    line: self.feed.line,
                    problem: Problem::BadDuration {
                        value: value.to_string(),
                    },
                }));
                return;
            }
        };
        let rest = rest.trim_start();
        let statement = if let Some(s) = rest.strip_prefix("statement: ") {
            s
        } else if let Some(s) = rest.strip_prefix("execute ") {
            match s.split_once(": ") {
                Some((_, s)) => s,
                None => return,
            }
        } else {
            return;
        };
        let prefix = &text[..at];
        self.current = Some(Query {
            line: self.feed.line,
            time: prefix_time(prefix, &self.zone),
            query_time: ms / 1000.0,
            lock_time: None,
            rows_sent: None,
            rows_examined: None,
            db: prefix_field(prefix, "db="),
            user: prefix_field(prefix, "user="),
            host: prefix_field(prefix, "host=").or_else(|| prefix_field(prefix, "client=")),
            text: statement.to_string(),
        });
    }
}

fn prefix_field(prefix: &str, key: &str) -> Option<String> {
    let at = prefix.find(key)?;
    let value = prefix[at + key.len()..]
        .split([',', ' ', ']'])
        .next()
        .unwrap_or("");
    (!value.is_empty() && value != "[unknown]").then(|| value.to_string())
}

/// `2024-12-04 20:10:11.123 UTC` / `+09` / `JST` at the start of the line.
fn prefix_time(prefix: &str, zone: &TimeZone) -> Option<Timestamp> {
    let bytes = prefix.as_bytes();
    if bytes.len() < 19 || !bytes[0].is_ascii_digit() || bytes[10] != b' ' {
        return None;
    }
    let mut end = 19;
    if bytes.get(19) == Some(&b'.') {
        end = 20;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
    }
    let civil: jiff::civil::DateTime = prefix[..end].replacen(' ', "T", 1).parse().ok()?;
    let zone_word = prefix[end..].split_whitespace().next().unwrap_or("");
    let zone = match zone_word {
        "UTC" | "GMT" | "Z" => TimeZone::UTC,
        w if w.starts_with(['+', '-']) => {
            let digits: String = w[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i32 = digits.get(..2.min(digits.len()))?.parse().ok()?;
            let minutes: i32 = digits.get(2..4).and_then(|m| m.parse().ok()).unwrap_or(0);
            let seconds = (hours * 3600 + minutes * 60) * if w.starts_with('-') { -1 } else { 1 };
            TimeZone::fixed(jiff::tz::Offset::from_seconds(seconds).ok()?)
        }
        _ => zone.clone(),
    };
    zone.to_ambiguous_timestamp(civil).compatible().ok()
}

impl<R: BufRead> LineParser<R> for PostgresReader<R> {
    fn feed(&mut self) -> &mut LineFeed<R> {
        &mut self.feed
    }
    fn take_line(&mut self, text: &str) {
        PostgresReader::take_line(self, text);
    }
    fn finish(&mut self) {
        PostgresReader::finish(self);
    }
}

impl<R> PostgresReader<R> {
    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.feed.line
    }
}

impl<R: BufRead> Iterator for PostgresReader<R> {
    type Item = std::io::Result<Result<Query, Malformed>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_with_continuations_and_execute() {
        let log = "2026-12-01 10:00:00.123 UTC [41] user=app,db=shop LOG:  duration: 1520.250 ms  statement: SELECT *
\tFROM orders
\tWHERE email = 'a@b.c';
2026-12-01 10:00:01 +09 [41] LOG:  duration: 0.5 ms
2026-12-01 10:00:02.5 UTC [42] LOG:  duration: 3.000 ms  execute S_1: SELECT 1
2026-12-01 10:00:03 UTC [42] LOG:  duration: x ms  statement: SELECT 2
2026-12-01 10:00:04 UTC [43] ERROR:  relation \"t\" does not exist
";
        let got: Vec<_> = PostgresReader::new(log.as_bytes(), TimeZone::UTC)
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        let q = got[0].as_ref().unwrap();
        assert_eq!(q.text, "SELECT *\nFROM orders\nWHERE email = 'a@b.c'");
        assert_eq!(q.db.as_deref(), Some("shop"));
        assert_eq!(q.user.as_deref(), Some("app"));
        assert!((q.query_time - 1.52025).abs() < 1e-9);
        assert_eq!(q.time.unwrap().to_string(), "2026-12-01T10:00:00.123Z");
        assert_eq!(got[1].as_ref().unwrap().text, "SELECT 1");
        assert_eq!(got[2].as_ref().unwrap_err().line, 6);
    }
}
